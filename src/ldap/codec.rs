//! The wire codec: `ldap3_proto`'s, behind a check of each message's announced length, so a
//! message larger than the limit closes its connection as soon as its header arrives (instead
//! of after the client has sent it all), and indefinite lengths (not allowed by RFC 4511 §5.1)
//! are refused.

use bytes::BytesMut;
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

impl Decoder for Codec {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, std::io::Error> {
        if let Some(size) = announced(buf)? {
            if size > self.max_message_bytes {
                return Err(refused("message too large"));
            }
        }
        self.inner.decode(buf)
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
