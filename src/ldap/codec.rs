//! The wire codec: `ldap3_proto`'s, behind a check of each message's announced length, so a
//! message larger than the limit closes its connection as soon as its header arrives (instead
//! of after the client has sent it all), and indefinite lengths (not allowed by RFC 4511 §5.1)
//! are refused. It also reports which controls a message marks critical, which
//! `ldap3_proto` does not keep for every control (the sort control loses it).

use bytes::BytesMut;
use ldap3_lber::common::TagClass;
use ldap3_lber::parse::Parser;
use ldap3_lber::structure::{StructureTag, PL};
use ldap3_proto::proto::LdapMsg;
use ldap3_proto::LdapCodec;
use tokio_util::codec::{Decoder, Encoder};

/// LDAP's codec with an up-front size check.
pub struct Codec {
    inner: LdapCodec,
    max_message_bytes: usize,
}

impl Codec {
    /// A codec refusing messages over `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> Codec {
        Codec {
            inner: LdapCodec::new(Some(max_message_bytes), None),
            max_message_bytes,
        }
    }
}

fn refused(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string())
}

/// The total size (header included) a message announces, once enough of it has arrived.
fn announced(buf: &[u8]) -> Result<Option<usize>, std::io::Error> {
    let (Some(&tag), Some(&first)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if tag != 0x30 {
        return Err(refused("an LDAP message is a SEQUENCE"));
    }
    if first < 0x80 {
        return Ok(Some(2 + usize::from(first)));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return Err(refused("unsupported BER length"));
    }
    let Some(bytes) = buf.get(2..2 + count) else {
        return Ok(None);
    };
    let len = bytes
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Ok(Some(2 + count + len))
}

/// A decoded message and the OIDs of the controls it marks critical.
#[derive(Debug)]
pub struct Request {
    /// The message.
    pub msg: LdapMsg,
    /// OIDs of its critical controls.
    pub critical: Vec<String>,
}

/// The critical controls' OIDs of an encoded message (`[msgid, op, [0] controls]`).
fn critical_controls(message: &StructureTag) -> Vec<String> {
    let PL::C(parts) = &message.payload else {
        return Vec::new();
    };
    let Some(controls) = parts
        .iter()
        .find(|t| t.class == TagClass::Context && t.id == 0)
    else {
        return Vec::new();
    };
    let PL::C(controls) = &controls.payload else {
        return Vec::new();
    };
    controls
        .iter()
        .filter_map(|control| {
            let PL::C(fields) = &control.payload else {
                return None;
            };
            let PL::P(oid) = &fields.first()?.payload else {
                return None;
            };
            // criticality is the BOOLEAN (universal 1) after the OID, FALSE when absent.
            let critical = fields.get(1).is_some_and(|f| {
                f.class == TagClass::Universal
                    && f.id == 1
                    && matches!(&f.payload, PL::P(v) if v.first().is_some_and(|b| *b != 0))
            });
            critical.then(|| String::from_utf8_lossy(oid).into_owned())
        })
        .collect()
}

impl Decoder for Codec {
    type Item = Request;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request>, std::io::Error> {
        let mut critical = Vec::new();
        if let Some(size) = announced(buf)? {
            if size > self.max_message_bytes {
                return Err(refused("message too large"));
            }
            if let Some(whole) = buf.get(..size) {
                if let Ok((_, tag)) = Parser::default().parse(whole) {
                    critical = critical_controls(&tag);
                }
            }
        }
        Ok(self.inner.decode(buf)?.map(|msg| Request { msg, critical }))
    }
}

impl Encoder<LdapMsg> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), std::io::Error> {
        self.inner.encode(msg, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_lengths() {
        assert_eq!(announced(&[0x30]).ok().flatten(), None);
        assert_eq!(announced(&[0x30, 0x05]).ok().flatten(), Some(7));
        assert_eq!(announced(&[0x30, 0x82, 0x01]).ok().flatten(), None);
        assert_eq!(
            announced(&[0x30, 0x82, 0x01, 0x00]).ok().flatten(),
            Some(260)
        );
        assert!(announced(&[0x30, 0x80]).is_err(), "indefinite");
        assert!(announced(&[0x47, 0x45]).is_err(), "not BER");
        assert!(announced(&[0x30, 0x89]).is_err(), "absurd length of length");
    }
}
