//! Evaluates a search filter (RFC 4511 §4.5.1) against an entry, straight from the BER filter:
//! and/or/not with three-valued logic, equality, substrings (every component), presence,
//! ordering, approx (as equality) and extensible match, including the in-chain rule
//! `1.2.840.113556.1.4.1941` over the group DAG (resolved beforehand into `InChain`). Attribute
//! names are case-insensitive; values match by the attribute's rule: DNs normalised for
//! `member`/`memberOf`, integers for `uidNumber`/`gidNumber`, case-insensitive text otherwise.

use std::collections::{HashMap, HashSet};

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};

use super::dn::{self, Dn};
use super::entry::{Entry, Text};

/// The in-chain matching rule (LDAP_MATCHING_RULE_IN_CHAIN).
pub const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";
const BIT_AND: &str = "1.2.840.113556.1.4.803";
const BIT_OR: &str = "1.2.840.113556.1.4.804";

/// A filter's truth value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Matches.
    True,
    /// Does not match.
    False,
    /// Cannot be decided (unknown matching rule): treated as no match, and `!` keeps it so.
    Undefined,
}

impl Truth {
    fn of(b: bool) -> Truth {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }
}

/// In-chain assertions resolved before evaluation: (attribute lower-cased, normalised DN
/// value) → normalised DNs of the entries that match.
#[derive(Debug, Default, Clone)]
pub struct InChain {
    /// The resolved sets.
    pub sets: HashMap<(String, String), HashSet<String>>,
}

/// Every in-chain assertion of a filter: (attribute lower-cased, normalised DN value).
pub fn in_chain_assertions(filter: &LdapFilter, out: &mut Vec<(String, String)>) {
    match filter {
        LdapFilter::And(parts) | LdapFilter::Or(parts) => {
            parts.iter().for_each(|p| in_chain_assertions(p, out))
        }
        LdapFilter::Not(inner) => in_chain_assertions(inner, out),
        LdapFilter::Extensible(m) if m.matching_rule.as_deref() == Some(IN_CHAIN) => {
            if let (Some(kind), Some(value)) = (&m.type_, dn::normalize(&m.match_value)) {
                out.push((kind.to_ascii_lowercase(), value));
            }
        }
        _ => {}
    }
}

/// How values of an attribute are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Text,
    Dn,
    Integer,
}

fn rule_of(attribute: &str) -> Rule {
    const DNS: [&str; 5] = [
        "member",
        "memberof",
        "distinguishedname",
        "entrydn",
        "uniquemember",
    ];
    const INTEGERS: [&str; 2] = ["uidnumber", "gidnumber"];
    let named = |names: &[&str]| names.iter().any(|n| attribute.eq_ignore_ascii_case(n));
    if named(&DNS) {
        Rule::Dn
    } else if named(&INTEGERS) {
        Rule::Integer
    } else {
        Rule::Text
    }
}

/// Whether two values are equal under case folding (`dn::fold`), without folding copies
/// when both are ASCII (as almost every value is).
fn text_equal(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        dn::fold(a) == dn::fold(b)
    }
}

fn normal(rule: Rule, value: &str) -> Option<String> {
    match rule {
        Rule::Text => Some(dn::fold(value)),
        Rule::Dn => dn::normalize(value),
        Rule::Integer => value.trim().parse::<i64>().ok().map(|n| n.to_string()),
    }
}

/// The values of `attribute` in `entry` (`objectClass` etc. by name, any case).
fn values<'a>(entry: &'a Entry, attribute: &str) -> &'a [Text] {
    entry.get(attribute).map_or(&[], |a| a.values.as_slice())
}

/// Evaluates `filter` against `entry`.
pub fn eval(filter: &LdapFilter, entry: &Entry, chains: &InChain) -> Truth {
    match filter {
        LdapFilter::And(parts) => {
            let mut out = Truth::True;
            for p in parts {
                match eval(p, entry, chains) {
                    Truth::False => return Truth::False,
                    Truth::Undefined => out = Truth::Undefined,
                    Truth::True => {}
                }
            }
            out
        }
        LdapFilter::Or(parts) => {
            let mut out = Truth::False;
            for p in parts {
                match eval(p, entry, chains) {
                    Truth::True => return Truth::True,
                    Truth::Undefined => out = Truth::Undefined,
                    Truth::False => {}
                }
            }
            out
        }
        LdapFilter::Not(inner) => match eval(inner, entry, chains) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Undefined => Truth::Undefined,
        },
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => equality(entry, a, v),
        LdapFilter::Present(a) => {
            Truth::of(a.eq_ignore_ascii_case("objectClass") || entry.get(a).is_some())
        }
        LdapFilter::Substring(a, s) => Truth::of(
            values(entry, a)
                .iter()
                .any(|v| substring_matches(&dn::fold(v), s)),
        ),
        LdapFilter::GreaterOrEqual(a, v) => order(entry, a, v, true),
        LdapFilter::LessOrEqual(a, v) => order(entry, a, v, false),
        LdapFilter::Extensible(m) => extensible(entry, m, chains),
    }
}

fn equality(entry: &Entry, attribute: &str, value: &str) -> Truth {
    let rule = rule_of(attribute);
    if rule == Rule::Text {
        return Truth::of(
            values(entry, attribute)
                .iter()
                .any(|v| text_equal(v, value)),
        );
    }
    let Some(wanted) = normal(rule, value) else {
        return Truth::False;
    };
    Truth::of(
        values(entry, attribute)
            .iter()
            .any(|v| normal(rule, v).as_deref() == Some(wanted.as_str())),
    )
}

fn order(entry: &Entry, attribute: &str, value: &str, greater: bool) -> Truth {
    let rule = rule_of(attribute);
    let test = |v: &Text| -> bool {
        if rule == Rule::Integer {
            match (v.trim().parse::<i64>(), value.trim().parse::<i64>()) {
                (Ok(have), Ok(want)) => {
                    if greater {
                        have >= want
                    } else {
                        have <= want
                    }
                }
                _ => false,
            }
        } else {
            let (have, want) = (dn::fold(v), dn::fold(value));
            if greater {
                have >= want
            } else {
                have <= want
            }
        }
    };
    Truth::of(values(entry, attribute).iter().any(test))
}

/// Whether a case-folded value matches every component of a substring assertion in order.
fn substring_matches(value: &str, s: &LdapSubstringFilter) -> bool {
    let mut rest = value;
    if let Some(initial) = &s.initial {
        let initial = dn::fold(initial);
        match rest.strip_prefix(initial.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for any in &s.any {
        let any = dn::fold(any);
        match rest.find(any.as_str()) {
            Some(at) => rest = &rest[at + any.len()..],
            None => return false,
        }
    }
    match &s.final_ {
        Some(f) => rest.ends_with(dn::fold(f).as_str()),
        None => true,
    }
}

fn extensible(entry: &Entry, m: &LdapMatchingRuleAssertion, chains: &InChain) -> Truth {
    let rule = m.matching_rule.as_deref();
    let matched = match (rule, m.type_.as_deref()) {
        (Some(IN_CHAIN), Some(kind)) => {
            let Some(value) = dn::normalize(&m.match_value) else {
                return Truth::False;
            };
            let Some(set) = chains.sets.get(&(kind.to_ascii_lowercase(), value)) else {
                return Truth::False;
            };
            let Some(own) = dn::normalize(&entry.dn) else {
                return Truth::False;
            };
            set.contains(&own)
        }
        (Some(BIT_AND) | Some(BIT_OR), Some(kind)) => {
            let Ok(mask) = m.match_value.trim().parse::<i64>() else {
                return Truth::Undefined;
            };
            values(entry, kind).iter().any(|v| {
                v.trim().parse::<i64>().is_ok_and(|n| {
                    if rule == Some(BIT_AND) {
                        n & mask == mask
                    } else {
                        n & mask != 0
                    }
                })
            })
        }
        // No rule, or a plain equality rule: the attribute's own equality.
        (
            None
            | Some("2.5.13.2")
            | Some("caseIgnoreMatch")
            | Some("2.5.13.1")
            | Some("distinguishedNameMatch")
            | Some("2.5.13.14")
            | Some("integerMatch"),
            kind,
        ) => {
            let by_attribute =
                kind.is_some_and(|k| equality(entry, k, &m.match_value) == Truth::True);
            by_attribute || (m.dn_attributes && dn_attribute_matches(entry, kind, &m.match_value))
        }
        (Some("2.5.13.5") | Some("caseExactMatch"), Some(kind)) => {
            values(entry, kind).iter().any(|v| v == &m.match_value)
        }
        _ => return Truth::Undefined,
    };
    Truth::of(matched)
}

/// `dnAttributes`: whether an RDN of the entry's DN carries the value (of `kind`, if given).
fn dn_attribute_matches(entry: &Entry, kind: Option<&str>, value: &str) -> bool {
    let Ok(parsed) = Dn::parse(&entry.dn) else {
        return false;
    };
    let wanted = dn::fold(value);
    parsed.rdns.iter().any(|ava| {
        kind.is_none_or(|k| ava.kind.eq_ignore_ascii_case(k)) && dn::fold(&ava.value) == wanted
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::entry::Tree;
    use ldap3_proto::parse_ldap_filter_str;

    fn alice() -> Entry {
        let tree = Tree::new("dc=x", "i").expect("tree");
        let mut user = crate::domain::users::User {
            id: 7,
            uuid: "u".into(),
            username: "alice".into(),
            name: "Alice Smith".into(),
            first_name: String::new(),
            last_name: String::new(),
            email: "alice@example.com".into(),
            has_password: true,
            is_active: true,
            user_type: crate::domain::users::UserType::Internal,
            path: "users".into(),
            attributes: serde_json::json!({}),
            last_login: None,
            date_joined: crate::domain::Timestamp(0),
            password_change_date: crate::domain::Timestamp(0),
            last_updated: crate::domain::Timestamp(0),
            is_superuser: false,
            is_system_auditor: false,
            groups: Vec::new(),
            roles: Vec::new(),
            avatar_uri: Default::default(),
        };
        user.groups.push(crate::domain::users::GroupSummary {
            uuid: "g".into(),
            name: "Team (A)".into(),
            is_superuser: false,
            attributes: serde_json::json!({}),
        });
        tree.user_entry(&user)
    }

    fn matches(text: &str) -> Truth {
        let f = parse_ldap_filter_str(text).expect("filter parses");
        eval(&f, &alice(), &InChain::default())
    }

    #[test]
    fn the_filter_language() {
        assert_eq!(matches("(cn=ALICE)"), Truth::True);
        assert_eq!(
            matches("(&(objectClass=user)(mail=alice@example.com))"),
            Truth::True
        );
        assert_eq!(matches("(|(cn=bob)(mail=ALICE@example.com))"), Truth::True);
        assert_eq!(matches("(!(cn=alice))"), Truth::False);
        assert_eq!(matches("(cn=a*e)"), Truth::True);
        assert_eq!(matches("(cn=a*x)"), Truth::False);
        assert_eq!(matches("(displayName=*ce*Sm*)"), Truth::True);
        assert_eq!(matches("(uidNumber>=2005)"), Truth::True);
        assert_eq!(matches("(uidNumber<=2006)"), Truth::False);
        assert_eq!(matches("(uidNumber=02007)"), Truth::True);
        assert_eq!(matches("(cn~=Alice)"), Truth::True);
        // A value with parentheses (escaped as \28 \29 in a filter string; here as decoded).
        let team = LdapFilter::Equality("memberOf".into(), "CN=Team (A), OU=Groups,DC=X".into());
        assert_eq!(eval(&team, &alice(), &InChain::default()), Truth::True);
        assert_eq!(matches("(nosuch=*)"), Truth::False);
        assert_eq!(matches("(!(nosuch=*))"), Truth::True);
        assert_eq!(matches("(cn:1.2.3.4:=alice)"), Truth::Undefined);
        assert_eq!(matches("(!(cn:1.2.3.4:=alice))"), Truth::Undefined);
        assert_eq!(matches("(cn:caseExactMatch:=Alice)"), Truth::False);
        assert_eq!(matches("(ou:dn:=users)"), Truth::True);
    }
}
