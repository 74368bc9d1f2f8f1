//! The wire codec: `ldap3_proto`'s, behind a check of each message's announced length, so a
//! message larger than the limit closes its connection as soon as its header arrives (instead
//! of after the client has sent it all), and indefinite lengths (not allowed by RFC 4511 §5.1)
//! are refused. It also reports which controls a message marks critical, which
//! `ldap3_proto` does not keep for every control (the sort control loses it).
//!
//! Search result entries, most of what a server sends, are encoded straight from the tree's
//! `Entry` (`EntryMessage`): sizes first, then one pass of writes into the output buffer,
//! instead of a message model, a tree of tags and a copy per nesting level.

use bytes::BytesMut;
use ldap3_lber::common::TagClass;
use ldap3_lber::parse::Parser;
use ldap3_lber::structure::{StructureTag, PL};
use ldap3_proto::proto::LdapMsg;
use ldap3_proto::LdapCodec;
use tokio_util::codec::{Decoder, Encoder};

use super::entry::{Attr, Entry};
use super::search::Selection;

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

/// A SearchResultEntry to send: `entry` with the attributes `selection` keeps.
pub struct EntryMessage<'a> {
    /// The search's message id.
    pub msgid: i32,
    /// The entry.
    pub entry: &'a Entry,
    /// The request's attribute selection.
    pub selection: &'a Selection,
}

/// BER tags (RFC 4511 §4.1, §4.5.2).
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// The size of a definite BER length.
fn length_size(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 1 + std::mem::size_of::<usize>(),
    }
}

/// The size of a tag-length-value whose value is `len` bytes.
fn tlv_size(len: usize) -> usize {
    1 + length_size(len) + len
}

/// Writes a tag and a definite length.
fn put_header(buf: &mut BytesMut, tag: u8, len: usize) {
    buf.extend_from_slice(&[tag]);
    let size = length_size(len);
    if size == 1 {
        // `len` < 0x80 here.
        buf.extend_from_slice(&[len as u8]);
        return;
    }
    let bytes = len.to_be_bytes();
    let count = size - 1;
    buf.extend_from_slice(&[0x80 | count as u8]);
    buf.extend_from_slice(&bytes[bytes.len() - count..]);
}

/// The minimal two's-complement bytes of an INTEGER: the slice of `bytes` from the returned
/// start.
fn integer_bytes(value: i32) -> ([u8; 4], usize) {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 3 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    (bytes, start)
}

/// The size of a PartialAttribute's `vals` SET content.
fn values_size(attr: &Attr, types_only: bool) -> usize {
    if types_only {
        return 0;
    }
    attr.values.iter().map(|v| tlv_size(v.len())).sum()
}

/// The size of a PartialAttribute's SEQUENCE content.
fn attribute_size(attr: &Attr, types_only: bool) -> usize {
    tlv_size(attr.name.len()) + tlv_size(values_size(attr, types_only))
}

impl Encoder<EntryMessage<'_>> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: EntryMessage<'_>, buf: &mut BytesMut) -> Result<(), std::io::Error> {
        let EntryMessage {
            msgid,
            entry,
            selection,
        } = msg;
        let types_only = selection.types_only();
        let selected = || entry.attrs.iter().filter(|a| selection.includes(a));
        let list_size: usize = selected()
            .map(|a| tlv_size(attribute_size(a, types_only)))
            .sum();
        let op_size = tlv_size(entry.dn.len()) + tlv_size(list_size);
        let (id, id_start) = integer_bytes(msgid);
        let id = &id[id_start..];
        let message_size = tlv_size(id.len()) + tlv_size(op_size);
        buf.reserve(tlv_size(message_size));
        put_header(buf, SEQUENCE, message_size);
        put_header(buf, INTEGER, id.len());
        buf.extend_from_slice(id);
        put_header(buf, SEARCH_RESULT_ENTRY, op_size);
        put_header(buf, OCTET_STRING, entry.dn.len());
        buf.extend_from_slice(entry.dn.as_bytes());
        put_header(buf, SEQUENCE, list_size);
        for attr in selected() {
            put_header(buf, SEQUENCE, attribute_size(attr, types_only));
            put_header(buf, OCTET_STRING, attr.name.len());
            buf.extend_from_slice(attr.name.as_bytes());
            put_header(buf, SET, values_size(attr, types_only));
            if !types_only {
                for value in &attr.values {
                    put_header(buf, OCTET_STRING, value.len());
                    buf.extend_from_slice(value.as_bytes());
                }
            }
        }
        Ok(())
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

    #[test]
    fn entries_encode_as_ldap3_proto_encodes_them() {
        use ldap3_proto::proto::{LdapOp, LdapSearchScope};
        let long = "x".repeat(300);
        let entry = Entry {
            dn: "cn=alice,ou=users,dc=example".into(),
            attrs: vec![
                Attr {
                    name: "objectClass".into(),
                    values: vec!["top".into(), "person".into()],
                    operational: false,
                },
                Attr {
                    name: "description".into(),
                    values: vec![long.clone().into(), "é".into()],
                    operational: false,
                },
                Attr {
                    name: "entryUUID".into(),
                    values: vec!["1234".into()],
                    operational: true,
                },
            ],
        };
        let request = |attrs: &[&str], typesonly| ldap3_proto::proto::LdapSearchRequest {
            base: String::new(),
            scope: LdapSearchScope::Base,
            aliases: ldap3_proto::proto::LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly,
            filter: ldap3_proto::proto::LdapFilter::Present("objectClass".into()),
            attrs: attrs.iter().map(|a| a.to_string()).collect(),
        };
        for (attrs, types_only) in [
            (&[][..], false),
            (&["*", "+"][..], false),
            (&["CN", "entryuuid", "DESCRIPTION"][..], true),
            (&["1.1"][..], false),
        ] {
            let selection = Selection::of(&request(attrs, types_only));
            for msgid in [0, 1, 127, 128, 255, 256, 65_535, 8_388_608, i32::MAX] {
                let mut ours = BytesMut::new();
                let mut codec = Codec::new(1 << 20);
                codec
                    .encode(
                        EntryMessage {
                            msgid,
                            entry: &entry,
                            selection: &selection,
                        },
                        &mut ours,
                    )
                    .expect("encodes");
                let mut theirs = BytesMut::new();
                let model = LdapMsg {
                    msgid,
                    op: LdapOp::SearchResultEntry(selection.render(&entry)),
                    ctrl: vec![],
                };
                codec.encode(model.clone(), &mut theirs).expect("encodes");
                assert_eq!(ours, theirs, "{attrs:?} {msgid}");
                let decoded = codec.decode(&mut ours).expect("decodes").expect("whole");
                assert_eq!(decoded.msg, model);
            }
        }
    }
}
