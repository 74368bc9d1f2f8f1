//! A small LDIF reader (RFC 2849) for directory exports (`slapcat`, `ldapsearch -L`, lldap):
//! content records only. It unfolds continued lines (a line starting with one space), skips
//! comments (also folded ones), decodes base64 values (`attr:: …`), keeps attribute options
//! off the type (`userPassword;binary` → `userpassword`), and tolerates CRLF line ends and a
//! `version: 1` line. Change records (`changetype: modify|delete|modrdn|moddn`) and values
//! given by URL (`attr:< file://…`) are not read: they are reported, never guessed at.
//! No maintained LDIF crate exists for Rust (checked 2026-12), hence this one.

use base64::Engine;

/// One entry: its DN and its attribute values in file order (types lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The distinguished name as written.
    pub dn: String,
    /// (attribute type in lower case, value).
    pub attributes: Vec<(String, String)>,
    /// The line the entry starts on (1-based).
    pub line: usize,
}

impl Entry {
    /// The first value of `attribute` (lower-case name).
    pub fn first(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(a, _)| a == attribute)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `attribute` (lower-case name).
    pub fn all<'a>(&'a self, attribute: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |(a, _)| a == attribute)
            .map(|(_, v)| v.as_str())
    }
}

/// A record the reader did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    /// The record's DN (or its first line, when it has none).
    pub dn: String,
    /// Why.
    pub reason: String,
}

/// What a file holds.
#[derive(Debug, Default)]
pub struct Ldif {
    /// Content records.
    pub entries: Vec<Entry>,
    /// Records and values not read.
    pub unread: Vec<Unread>,
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LdifError {
    /// A line is malformed.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Unfolded logical lines, each with the number of its first physical line; `None` marks a
/// record separator (one or more blank lines).
fn logical_lines(text: &str) -> Vec<(usize, Option<String>)> {
    let mut out: Vec<(usize, Option<String>)> = Vec::new();
    let mut in_comment = false;
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            if let Some((_, Some(last))) = out.last_mut() {
                last.push_str(rest);
                continue;
            }
            // A continuation with nothing to continue: kept as a line of its own (malformed).
        }
        if line.starts_with('#') {
            in_comment = true;
            continue;
        }
        in_comment = false;
        if line.is_empty() {
            if !matches!(out.last(), Some((_, None)) | None) {
                out.push((index + 1, None));
            }
            continue;
        }
        out.push((index + 1, Some(line.to_string())));
    }
    out
}

/// One `type[;options]: value` / `type:: base64` / `type:< url` line.
enum Value {
    Text(String),
    Url,
}

fn split_line(line: usize, text: &str) -> Result<(String, Value), LdifError> {
    let bad = |message: &str| LdifError::Line {
        line,
        message: message.to_string(),
    };
    let (name, rest) = text
        .split_once(':')
        .ok_or_else(|| bad("not an \"attribute: value\" line"))?;
    let kind = name.split(';').next().unwrap_or(name).trim();
    if kind.is_empty() {
        return Err(bad("an empty attribute type"));
    }
    let kind = kind.to_ascii_lowercase();
    if let Some(encoded) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| bad(&format!("{kind}: invalid base64 ({e})")))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| bad(&format!("{kind}: a base64 value that is not UTF-8 text")))?;
        return Ok((kind, Value::Text(value)));
    }
    if rest.starts_with('<') {
        return Ok((kind, Value::Url));
    }
    Ok((kind, Value::Text(rest.trim_start_matches(' ').to_string())))
}

/// Reads an LDIF text. A malformed line is an error naming it; a change record or a value by
/// URL is listed in `unread`.
pub fn parse(text: &str) -> Result<Ldif, LdifError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ldif = Ldif::default();
    let mut record: Vec<(usize, String)> = Vec::new();
    let lines = logical_lines(text);
    for (line, content) in lines.into_iter().chain(std::iter::once((0, None))) {
        match content {
            Some(text) => record.push((line, text)),
            None => {
                if !record.is_empty() {
                    read_record(std::mem::take(&mut record), &mut ldif)?;
                }
            }
        }
    }
    Ok(ldif)
}

fn read_record(record: Vec<(usize, String)>, ldif: &mut Ldif) -> Result<(), LdifError> {
    let mut lines = record.into_iter().peekable();
    // `version: 1` may stand before the first record, in the same block.
    if let Some((line, text)) = lines.peek() {
        if let (name, Value::Text(v)) = split_line(*line, text)? {
            if name == "version" {
                if v.trim() != "1" {
                    return Err(LdifError::Line {
                        line: *line,
                        message: format!("LDIF version {v} (this reader knows version 1)"),
                    });
                }
                lines.next();
            }
        }
    }
    let Some((first_line, first)) = lines.next() else {
        return Ok(());
    };
    let dn = match split_line(first_line, &first)? {
        (name, Value::Text(dn)) if name == "dn" => dn,
        _ => {
            return Err(LdifError::Line {
                line: first_line,
                message: "a record must start with \"dn:\"".into(),
            })
        }
    };
    let mut entry = Entry {
        dn,
        attributes: Vec::new(),
        line: first_line,
    };
    for (line, text) in lines {
        if text == "-" {
            continue;
        }
        match split_line(line, &text)? {
            (name, Value::Text(value)) if name == "changetype" => {
                if value.trim() != "add" {
                    ldif.unread.push(Unread {
                        dn: entry.dn.clone(),
                        reason: format!(
                            "a change record (changetype: {}), not an entry",
                            value.trim()
                        ),
                    });
                    return Ok(());
                }
            }
            (name, Value::Text(value)) => entry.attributes.push((name, value)),
            (name, Value::Url) => ldif.unread.push(Unread {
                dn: entry.dn.clone(),
                reason: format!("{name}: a value given by URL is not read"),
            }),
        }
    }
    ldif.entries.push(entry);
    Ok(())
}

/// A DN in a form two spellings of the same name share: attribute types and values in lower
/// case, the spaces around `,`, `+` and `=` dropped (escapes kept as written).
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut escaped = false;
    let mut pending_space = false;
    // Right after an unescaped separator (or at the start): spaces here are dropped.
    let mut after_separator = true;
    for c in dn.trim().chars() {
        if escaped {
            out.extend(c.to_lowercase());
            escaped = false;
            continue;
        }
        match c {
            ' ' => pending_space = true,
            ',' | '+' | '=' => {
                pending_space = false;
                after_separator = true;
                out.push(c);
            }
            _ => {
                if pending_space && !after_separator {
                    out.push(' ');
                }
                pending_space = false;
                after_separator = false;
                if c == '\\' {
                    out.push(c);
                    escaped = true;
                } else {
                    out.extend(c.to_lowercase());
                }
            }
        }
    }
    out
}

/// The value of a DN's first RDN (`uid=ann,ou=people,…` → `ann`), unescaped simply.
pub fn first_rdn_value(dn: &str) -> Option<(String, String)> {
    let mut rdn = String::new();
    let mut escaped = false;
    for c in dn.chars() {
        if escaped {
            rdn.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '+' {
            break;
        } else {
            rdn.push(c);
        }
    }
    let (kind, value) = rdn.split_once('=')?;
    Some((kind.trim().to_ascii_lowercase(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_base64_comments_and_options() {
        let text = "version: 1\r\n\
                    # a comment\r\n \
                    that is folded\r\n\
                    dn: uid=ann,ou=people,dc=example,dc=org\r\n\
                    objectClass: inetOrgPerson\r\n\
                    cn: Ann\r\n  Example\r\n\
                    userPassword;binary:: e1NTSEF9YWJj\r\n\
                    description:: w6nDqQ==\r\n\
                    \r\n\
                    \r\n\
                    dn: cn=ops,ou=groups,dc=example,dc=org\n\
                    member: uid=ann,ou=people,dc=example,dc=org\n";
        let ldif = parse(text).expect("parses");
        assert_eq!(ldif.entries.len(), 2);
        let ann = &ldif.entries[0];
        assert_eq!(ann.dn, "uid=ann,ou=people,dc=example,dc=org");
        assert_eq!(ann.first("cn"), Some("Ann Example"));
        assert_eq!(ann.first("userpassword"), Some("{SSHA}abc"));
        assert_eq!(ann.first("description"), Some("éé"));
        assert_eq!(ann.first("objectclass"), Some("inetOrgPerson"));
        assert_eq!(ldif.entries[1].all("member").count(), 1);
        assert!(ldif.unread.is_empty());
    }

    #[test]
    fn change_records_and_urls_are_reported_not_read() {
        let text = "dn: cn=a,dc=x\nchangetype: modify\nreplace: cn\ncn: b\n-\n\n\
                    dn: cn=b,dc=x\nchangetype: add\ncn: b\njpegPhoto:< file:///tmp/p.jpg\n";
        let ldif = parse(text).expect("parses");
        assert_eq!(ldif.entries.len(), 1);
        assert_eq!(ldif.entries[0].dn, "cn=b,dc=x");
        assert_eq!(ldif.unread.len(), 2);
        assert!(ldif.unread[0].reason.contains("changetype: modify"));
        assert!(ldif.unread[1].reason.contains("jpegphoto"));
    }

    #[test]
    fn malformed_lines_name_their_number() {
        let err = parse("dn: a=b\nno colon here\n").expect_err("fails");
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        let err = parse("cn: x\n").expect_err("fails");
        assert!(err.to_string().contains("dn:"), "{err}");
        let err = parse("dn: a=b\ncn:: !!!\n").expect_err("fails");
        assert!(err.to_string().contains("base64"), "{err}");
        let err = parse("version: 2\ndn: a=b\n").expect_err("fails");
        assert!(err.to_string().contains("version 2"), "{err}");
    }

    #[test]
    fn dns_normalize_and_name_their_first_value() {
        assert_eq!(
            normalize_dn(" UID=Ann , OU=People,dc=Example, dc=org "),
            "uid=ann,ou=people,dc=example,dc=org"
        );
        assert_eq!(normalize_dn("cn=A  B,dc=x"), "cn=a b,dc=x");
        assert_eq!(normalize_dn("cn=a\\, b,dc=x"), "cn=a\\, b,dc=x");
        assert_eq!(
            first_rdn_value("cn=Smith\\, Ann,dc=x"),
            Some(("cn".into(), "Smith, Ann".into()))
        );
    }
}
