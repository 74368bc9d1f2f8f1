//! Attribute selection (`*`, `+`, `1.1`, names in any case, returned in canonical spelling)
//! and typesOnly: an entry as it goes on the wire.

use std::collections::HashSet;

use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchRequest, LdapSearchResultEntry};

use crate::ldap::entry::Entry;

/// Attribute selection of a request.
pub(super) struct Selection {
    pub(super) all_user: bool,
    pub(super) all_operational: bool,
    pub(super) named: HashSet<String>,
    pub(super) types_only: bool,
}

impl Selection {
    pub(super) fn of(req: &LdapSearchRequest) -> Selection {
        let attrs: Vec<String> = req
            .attrs
            .iter()
            .flat_map(|a| a.split(','))
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
            .collect();
        let only_none = !attrs.is_empty() && attrs.iter().all(|a| a == "1.1");
        Selection {
            all_user: !only_none && (attrs.is_empty() || attrs.iter().any(|a| a == "*")),
            all_operational: attrs.iter().any(|a| a == "+"),
            named: attrs.into_iter().collect(),
            types_only: req.typesonly,
        }
    }

    pub(super) fn render(&self, entry: &Entry) -> LdapSearchResultEntry {
        let attributes = entry
            .attrs
            .iter()
            .filter(|a| {
                (if a.operational {
                    self.all_operational
                } else {
                    self.all_user
                }) || self.named.contains(&a.name.to_ascii_lowercase())
            })
            .map(|a| LdapPartialAttribute {
                atype: a.name.clone(),
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
