//! Attribute selection (`*`, `+`, `1.1`, names in any case, returned in canonical spelling)
//! and typesOnly: which of an entry's attributes go on the wire, and whether with values.

use ldap3_proto::proto::LdapSearchRequest;

use crate::ldap::entry::Attr;
#[cfg(test)]
use crate::ldap::entry::Entry;

/// Attribute selection of a request.
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    /// The names asked for, lower-cased (few: compared one by one, without allocating).
    named: Vec<String>,
    types_only: bool,
}

impl Selection {
    /// The selection a request asks for.
    pub fn of(req: &LdapSearchRequest) -> Selection {
        let mut attrs: Vec<String> = req
            .attrs
            .iter()
            .flat_map(|a| a.split(','))
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        let only_none = !attrs.is_empty() && attrs.iter().all(|a| a == "1.1");
        let all_user = !only_none && (attrs.is_empty() || attrs.iter().any(|a| a == "*"));
        let all_operational = attrs.iter().any(|a| a == "+");
        attrs.sort_unstable();
        attrs.dedup();
        Selection {
            all_user,
            all_operational,
            named: attrs,
            types_only: req.typesonly,
        }
    }

    /// Whether `attr` is returned.
    pub fn includes(&self, attr: &Attr) -> bool {
        (if attr.operational {
            self.all_operational
        } else {
            self.all_user
        }) || self
            .named
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&attr.name))
    }

    /// Whether only attribute names are returned (typesOnly).
    pub fn types_only(&self) -> bool {
        self.types_only
    }

    /// The entry as `ldap3_proto` models it: what `codec::EntryMessage` must encode.
    #[cfg(test)]
    pub fn render(&self, entry: &Entry) -> ldap3_proto::proto::LdapSearchResultEntry {
        use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};
        let attributes = entry
            .attrs
            .iter()
            .filter(|a| self.includes(a))
            .map(|a| LdapPartialAttribute {
                atype: a.name.to_string(),
                vals: if self.types_only {
                    Vec::new()
                } else {
                    a.values.iter().map(|v| v.as_bytes().to_vec()).collect()
                },
            })
            .collect();
        LdapSearchResultEntry {
            dn: entry.dn.clone(),
            attributes,
        }
    }
}
