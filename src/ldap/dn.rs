//! Distinguished names (RFC 4514): escaping values when entries are emitted, and parsing and
//! normalising DNs a client sends (attribute types case-insensitive, values unescaped and
//! compared case-insensitively, spaces around separators ignored), so `CN=Devs, OU=Groups,…`
//! names the same entry as `cn=devs,ou=groups,…`.

/// One attribute-value assertion of an RDN, normalised: lower-case type, unescaped value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ava {
    /// Attribute type, lower-cased.
    pub kind: String,
    /// Unescaped value as sent (case kept).
    pub value: String,
}

/// A parsed DN: its RDNs from the leaf to the root (multi-valued RDNs keep their first AVA
/// only after sorting, which is enough for a tree of single-valued RDNs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn {
    /// RDNs, leaf first.
    pub rdns: Vec<Ava>,
}

/// Why a DN could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid DN syntax")]
pub struct InvalidDn;

impl Dn {
    /// Parses a DN string; the empty string is the root (no RDNs).
    pub fn parse(text: &str) -> Result<Dn, InvalidDn> {
        let mut rdns = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        if chars.iter().all(|c| c.is_whitespace()) {
            return Ok(Dn::default());
        }
        loop {
            // attribute type
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let start = i;
            while i < chars.len() && chars[i] != '=' {
                if matches!(chars[i], ',' | ';' | '+' | '\\' | '"') {
                    return Err(InvalidDn);
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err(InvalidDn);
            }
            let kind: String = chars[start..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_lowercase();
            if kind.is_empty() {
                return Err(InvalidDn);
            }
            i += 1; // '='
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut value = String::new();
            // Trailing unescaped spaces are not part of the value.
            let mut kept = 0usize;
            let mut bytes: Vec<u8> = Vec::new();
            let flush = |bytes: &mut Vec<u8>, value: &mut String| -> Result<(), InvalidDn> {
                if !bytes.is_empty() {
                    value.push_str(std::str::from_utf8(bytes).map_err(|_| InvalidDn)?);
                    bytes.clear();
                }
                Ok(())
            };
            while i < chars.len() && !matches!(chars[i], ',' | ';' | '+') {
                let c = chars[i];
                if c == '\\' {
                    let next = *chars.get(i + 1).ok_or(InvalidDn)?;
                    if next.is_ascii_hexdigit() {
                        let low = *chars.get(i + 2).ok_or(InvalidDn)?;
                        let pair: String = [next, low].iter().collect();
                        let byte = u8::from_str_radix(&pair, 16).map_err(|_| InvalidDn)?;
                        bytes.push(byte);
                        i += 3;
                    } else {
                        flush(&mut bytes, &mut value)?;
                        value.push(next);
                        i += 2;
                    }
                    kept = value.len() + bytes.len();
                    continue;
                }
                flush(&mut bytes, &mut value)?;
                if c == '"' {
                    return Err(InvalidDn);
                }
                value.push(c);
                if c != ' ' {
                    kept = value.len();
                }
                i += 1;
            }
            flush(&mut bytes, &mut value)?;
            value.truncate(kept.min(value.len()));
            if value.is_empty() {
                return Err(InvalidDn);
            }
            rdns.push(Ava { kind, value });
            if i >= chars.len() {
                break;
            }
            // A multi-valued RDN ('+') keeps only its first AVA: this tree has none.
            let plus = chars[i] == '+';
            i += 1;
            if plus {
                while i < chars.len() && !matches!(chars[i], ',' | ';') {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    break;
                }
                i += 1;
            }
        }
        Ok(Dn { rdns })
    }

    /// The normalised form used for comparisons: `type=lowercased value` joined by commas.
    pub fn normalized(&self) -> String {
        self.rdns
            .iter()
            .map(|a| format!("{}={}", a.kind, escape_value(&a.value.to_lowercase())))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether `self` is `ancestor` or below it.
    pub fn is_within(&self, ancestor: &Dn) -> bool {
        self.rdns.len() >= ancestor.rdns.len()
            && self.rdns[self.rdns.len() - ancestor.rdns.len()..]
                .iter()
                .zip(&ancestor.rdns)
                .all(|(a, b)| same_ava(a, b))
    }

    /// The parent DN (the root's parent is the root).
    pub fn parent(&self) -> Dn {
        Dn {
            rdns: self.rdns.iter().skip(1).cloned().collect(),
        }
    }

    /// The leaf RDN.
    pub fn leaf(&self) -> Option<&Ava> {
        self.rdns.first()
    }
}

/// Whether two AVAs are equal under case-insensitive matching.
pub fn same_ava(a: &Ava, b: &Ava) -> bool {
    a.kind == b.kind && fold(&a.value) == fold(&b.value)
}

/// Case folding for case-insensitive matching (Unicode lower case).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Normalises a DN string for comparison; `None` when it is not a DN.
pub fn normalize(text: &str) -> Option<String> {
    Dn::parse(text).ok().map(|d| d.normalized())
}

/// Escapes an attribute value for a DN string (RFC 4514 §2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_value_into(value, &mut out);
    out
}

/// Appends `value` escaped for a DN string to `out` (most values need no escape and are
/// copied whole).
pub fn escape_value_into(value: &str, out: &mut String) {
    let special = |b: u8| {
        matches!(
            b,
            b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b'=' | 0
        )
    };
    let bytes = value.as_bytes();
    let plain = !bytes.iter().copied().any(special)
        && !matches!(bytes.first(), Some(b'#' | b' '))
        && bytes.last() != Some(&b' ');
    if plain {
        out.push_str(value);
        return;
    }
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let a = Dn::parse("CN=Devs, OU=Groups,DC=ldap,dc=goauthentik,dc=io").expect("dn");
        let b = Dn::parse("cn=devs,ou=groups,dc=ldap,dc=goauthentik,dc=io").expect("dn");
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.rdns[0].value, "Devs");
        assert!(a.is_within(&Dn::parse("dc=LDAP,dc=goauthentik,dc=io").expect("dn")));
        assert_eq!(Dn::parse("").expect("root").rdns.len(), 0);
    }

    #[test]
    fn escapes_round_trip() {
        for name in [
            "a,b",
            "Team (A)",
            "#lead",
            " pad ",
            "x+y=z",
            "back\\slash",
            "quo\"te",
        ] {
            let text = format!("cn={},ou=users,dc=x", escape_value(name));
            let dn = Dn::parse(&text).expect("parses");
            assert_eq!(dn.rdns[0].value, name, "{text}");
            assert_eq!(dn.rdns.len(), 3);
        }
        for (value, escaped) in [
            ("", ""),
            (" ", "\\ "),
            ("a b", "a b"),
            ("é#", "é#"),
            ("#", "\\#"),
            ("nul\0", "nul\\00"),
            ("plain.user@x", "plain.user@x"),
            ("trail ", "trail\\ "),
        ] {
            assert_eq!(escape_value(value), escaped, "{value:?}");
        }
        let hex = Dn::parse("cn=caf\\C3\\A9,dc=x").expect("hex escapes");
        assert_eq!(hex.rdns[0].value, "café");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["cn", "=x", "cn=", "cn=a,", "cn=a\\"] {
            assert!(Dn::parse(bad).is_err(), "{bad}");
        }
    }
}
