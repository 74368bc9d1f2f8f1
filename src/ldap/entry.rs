//! The tree as authentik's outpost lays it out (docs/compatibility.md#ldap): the base entry,
//! the `ou=users`, `ou=groups` and `ou=virtual-groups` containers, one entry per user, group and
//! user-private ("virtual") group, with every attribute the outpost emits, built from the
//! domain's `User` and `Group` values. DNs are escaped (RFC 4514); empty values are omitted.

use std::borrow::Cow;

use serde_json::Value;

use super::dn::{escape_value_into, Dn};
use crate::domain::groups::Group;
use crate::domain::users::User;
use crate::domain::Timestamp;

/// authentik's default `uid_start_number`.
pub const UID_START: i64 = 2000;
/// authentik's default `gid_start_number`.
pub const GID_START: i64 = 4000;

const USER_CLASSES: [&str; 7] = [
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "user",
    "posixAccount",
    "goauthentik.io/ldap/user",
];
const GROUP_CLASSES: [&str; 5] = [
    "group",
    "groupOfUniqueNames",
    "groupOfNames",
    "goauthentik.io/ldap/group",
    "posixGroup",
];

/// An attribute's name or value: a constant of the tree's, or text of the entry's own (most
/// names and many values are constants, and an entry is built for every one sent).
pub type Text = Cow<'static, str>;

/// One attribute of an entry: canonical name and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    /// Name as the outpost spells it.
    pub name: Text,
    /// Values (never empty strings; an attribute has at least one).
    pub values: Vec<Text>,
    /// Returned only on request (`+` or by name).
    pub operational: bool,
}

/// An entry: its DN and attributes in a stable order (objectClass first).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The DN as emitted.
    pub dn: String,
    /// Attributes.
    pub attrs: Vec<Attr>,
}

impl Entry {
    fn new(dn: String) -> Entry {
        Entry {
            dn,
            // A user's entry has 21 attributes without custom ones.
            attrs: Vec::with_capacity(24),
        }
    }

    /// Adds an attribute unless it has no values or one of that name is already present.
    fn add(&mut self, name: impl Into<Text>, values: Vec<Text>) {
        self.push(name.into(), values, false);
    }

    fn add_operational(&mut self, name: &'static str, values: Vec<Text>) {
        self.push(Cow::Borrowed(name), values, true);
    }

    fn push(&mut self, name: Text, mut values: Vec<Text>, operational: bool) {
        values.retain(|v| !v.is_empty());
        if values.is_empty() || self.get(&name).is_some() {
            return;
        }
        self.attrs.push(Attr {
            name,
            values,
            operational,
        });
    }

    /// The attribute of this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// Where the tree hangs: the configured base and the DNs derived from it.
#[derive(Debug, Clone)]
pub struct Tree {
    /// The base DN as configured (the base entry's DN).
    pub base: String,
    /// The base DN lower-cased (the suffix of every other DN, and `namingContexts`).
    pub base_lc: String,
    /// The base, parsed.
    pub base_dn: Dn,
    /// The install id (users' `uid` is derived from it).
    pub install_id: String,
    /// Whether StartTLS is offered (advertised in the rootDSE).
    pub starttls: bool,
}

/// A place in the tree a DN can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// The base entry.
    Base,
    /// `ou=users`.
    Users,
    /// `ou=groups`.
    Groups,
    /// `ou=virtual-groups`.
    VirtualGroups,
    /// A user by `cn`.
    User(String),
    /// A group by `cn`.
    Group(String),
    /// A user's private group by `cn`.
    VirtualGroup(String),
    /// Below the base but not a place this tree has; `matched` is the deepest existing entry.
    Missing {
        /// DN of the deepest existing ancestor.
        matched: String,
    },
    /// Outside the base.
    Outside,
}

/// The three containers: (rdn value, node).
const CONTAINERS: [(&str, Node); 3] = [
    ("users", Node::Users),
    ("groups", Node::Groups),
    ("virtual-groups", Node::VirtualGroups),
];

impl Tree {
    /// The tree of a configured base DN (`InvalidDn` when it does not parse).
    pub fn new(base: &str, install_id: &str) -> Result<Tree, super::dn::InvalidDn> {
        let base_dn = Dn::parse(base)?;
        Ok(Tree {
            base: base.to_string(),
            base_lc: base.to_lowercase(),
            base_dn,
            install_id: install_id.to_string(),
            starttls: false,
        })
    }

    /// DN of a container (`users`, `groups`, `virtual-groups`).
    pub fn container_dn(&self, ou: &str) -> String {
        format!("ou={ou},{}", self.base_lc)
    }

    /// DN of a user.
    pub fn user_dn(&self, username: &str) -> String {
        self.leaf_dn(username, "users")
    }

    /// DN of a group.
    pub fn group_dn(&self, name: &str) -> String {
        self.leaf_dn(name, "groups")
    }

    /// DN of a user's private group.
    pub fn virtual_group_dn(&self, username: &str) -> String {
        self.leaf_dn(username, "virtual-groups")
    }

    /// `cn=<value escaped>,ou=<ou>,<base>`, written into one allocation (every entry has a few).
    fn leaf_dn(&self, value: &str, ou: &str) -> String {
        let mut dn = String::with_capacity(value.len() + ou.len() + self.base_lc.len() + 12);
        dn.push_str("cn=");
        escape_value_into(value, &mut dn);
        dn.push_str(",ou=");
        dn.push_str(ou);
        dn.push(',');
        dn.push_str(&self.base_lc);
        dn
    }

    /// What a parsed DN names in this tree.
    pub fn locate(&self, dn: &Dn) -> Node {
        if !dn.is_within(&self.base_dn) {
            return Node::Outside;
        }
        let depth = dn.rdns.len() - self.base_dn.rdns.len();
        if depth == 0 {
            return Node::Base;
        }
        let top = &dn.rdns[depth - 1];
        let container = CONTAINERS
            .iter()
            .find(|(ou, _)| top.kind == "ou" && top.value.eq_ignore_ascii_case(ou));
        let Some((ou, node)) = container else {
            return Node::Missing {
                matched: self.base.clone(),
            };
        };
        match depth {
            1 => node.clone(),
            2 if dn.rdns[0].kind == "cn" => {
                let cn = dn.rdns[0].value.clone();
                match node {
                    Node::Users => Node::User(cn),
                    Node::Groups => Node::Group(cn),
                    _ => Node::VirtualGroup(cn),
                }
            }
            _ => Node::Missing {
                matched: self.container_dn(ou),
            },
        }
    }

    /// The base entry (the rootDSE's attributes under the configured base DN).
    pub fn base_entry(&self, root_attrs: Vec<Attr>) -> Entry {
        let mut entry = Entry::new(self.base.clone());
        entry.attrs = root_attrs;
        entry
    }

    /// A container entry.
    pub fn container_entry(&self, ou: &str) -> Entry {
        let dn = self.container_dn(ou);
        let mut entry = Entry::new(dn.clone());
        entry.add("objectClass", constants(&["top", "nsContainer"]));
        entry.add("distinguishedName", vec![dn.into()]);
        entry.add("commonName", vec![owned(ou)]);
        entry.add_operational("hasSubordinates", vec!["TRUE".into()]);
        entry
    }

    /// A user's uidNumber: `attributes.uidNumber` when it is a string, else 2000 + pk.
    pub fn uid_number(user: &User) -> String {
        match user.attributes.get("uidNumber") {
            Some(Value::String(s)) => s.clone(),
            _ => (UID_START + user.id).to_string(),
        }
    }

    /// A user's gidNumber: `attributes.gidNumber` when it is a string, else its uidNumber.
    pub fn user_gid_number(user: &User) -> String {
        match user.attributes.get("gidNumber") {
            Some(Value::String(s)) => s.clone(),
            _ => Tree::uid_number(user),
        }
    }

    /// A user's entry.
    pub fn user_entry(&self, user: &User) -> Entry {
        let dn = self.user_dn(&user.username);
        let mut entry = Entry::new(dn.clone());
        let custom = custom_attributes(&user.attributes, Some(&user.username));
        let builtin: Vec<(&'static str, Vec<Text>)> = vec![
            ("objectClass", constants(&USER_CLASSES)),
            ("cn", vec![owned(&user.username)]),
            ("uid", vec![user.uid(&self.install_id).into()]),
            ("sAMAccountName", vec![owned(&user.username)]),
            ("name", vec![owned(&user.name)]),
            ("displayName", vec![owned(&user.name)]),
            ("sn", vec![owned(&user.name)]),
            ("mail", vec![owned(&user.email)]),
            ("uidNumber", vec![Tree::uid_number(user).into()]),
            ("gidNumber", vec![Tree::user_gid_number(user).into()]),
            (
                "homeDirectory",
                vec![["/home/", &user.username].concat().into()],
            ),
            (
                "memberOf",
                user.groups
                    .iter()
                    .map(|g| self.group_dn(&g.name).into())
                    .collect(),
            ),
            ("ak-active", vec![upper_bool(user.is_active)]),
            ("ak-superuser", vec![upper_bool(user.is_superuser)]),
            (
                "pwdChangedTime",
                vec![generalized(user.password_change_date).into()],
            ),
            (
                "createTimestamp",
                vec![generalized(user.date_joined).into()],
            ),
            (
                "modifyTimestamp",
                vec![generalized(user.last_updated).into()],
            ),
        ];
        merge(&mut entry, builtin, custom);
        entry.add_operational("entryUUID", vec![owned(&user.uuid)]);
        entry.add_operational("entryDN", vec![dn.into()]);
        entry.add_operational("subschemaSubentry", vec!["cn=subschema".into()]);
        entry.add_operational("hasSubordinates", vec!["FALSE".into()]);
        entry
    }

    /// A group's gidNumber: `attributes.gidNumber` when a string, else 4000 + num_pk.
    pub fn group_gid_number(group: &Group) -> String {
        match group.attributes.get("gidNumber") {
            Some(Value::String(s)) => s.clone(),
            _ => (GID_START + group.num_pk()).to_string(),
        }
    }

    /// A group's entry; `only_member` restricts `member` to one DN (what a caller without
    /// `view_user` may see of its own groups).
    pub fn group_entry(&self, group: &Group, only_member: Option<&str>) -> Entry {
        let dn = self.group_dn(&group.name);
        let mut entry = Entry::new(dn.clone());
        let custom = custom_attributes(&group.attributes, None);
        let members: Vec<Text> = match only_member {
            Some(m) => vec![owned(m)],
            None => group
                .members
                .iter()
                .map(|m| self.user_dn(&m.username).into())
                .chain(group.children.iter().map(|c| self.group_dn(&c.name).into()))
                .collect(),
        };
        let builtin: Vec<(&'static str, Vec<Text>)> = vec![
            ("objectClass", constants(&GROUP_CLASSES)),
            ("cn", vec![owned(&group.name)]),
            ("uid", vec![owned(&group.uuid)]),
            ("sAMAccountName", vec![owned(&group.name)]),
            ("gidNumber", vec![Tree::group_gid_number(group).into()]),
            ("member", members),
            (
                "memberOf",
                group
                    .parents
                    .iter()
                    .map(|p| self.group_dn(&p.name).into())
                    .collect(),
            ),
            (
                "ak-superuser",
                vec![if group.is_superuser { "true" } else { "false" }.into()],
            ),
        ];
        merge(&mut entry, builtin, custom);
        entry.add_operational("entryUUID", vec![owned(&group.uuid)]);
        entry.add_operational("entryDN", vec![dn.into()]);
        entry.add_operational("subschemaSubentry", vec!["cn=subschema".into()]);
        entry.add_operational("hasSubordinates", vec!["FALSE".into()]);
        entry
    }

    /// A user's private group entry.
    pub fn virtual_group_entry(&self, user: &User) -> Entry {
        let dn = self.virtual_group_dn(&user.username);
        let mut entry = Entry::new(dn.clone());
        let mut classes = constants(&GROUP_CLASSES);
        classes.push("goauthentik.io/ldap/virtual-group".into());
        entry.add("objectClass", classes);
        entry.add("cn", vec![owned(&user.username)]);
        entry.add("uid", vec![user.uid(&self.install_id).into()]);
        entry.add("sAMAccountName", vec![owned(&user.username)]);
        entry.add("gidNumber", vec![Tree::user_gid_number(user).into()]);
        entry.add("member", vec![self.user_dn(&user.username).into()]);
        entry.add("ak-superuser", vec!["false".into()]);
        entry.add_operational("entryDN", vec![dn.into()]);
        entry.add_operational("subschemaSubentry", vec!["cn=subschema".into()]);
        entry.add_operational("hasSubordinates", vec!["FALSE".into()]);
        entry
    }
}

/// Built-ins in order, each replaced by a custom attribute of the same name (case-insensitive)
/// where there is one; the remaining custom attributes follow.
fn merge(
    entry: &mut Entry,
    builtin: Vec<(&'static str, Vec<Text>)>,
    custom: Vec<(String, Vec<Text>)>,
) {
    let mut custom = custom;
    for (name, values) in builtin {
        match custom
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                let (n, v) = custom.remove(i);
                entry.add(n, v);
            }
            None => entry.add(name, values),
        }
    }
    for (name, values) in custom {
        entry.add(name, values);
    }
}

/// Constant values.
fn constants(items: &[&'static str]) -> Vec<Text> {
    items.iter().map(|s| Cow::Borrowed(*s)).collect()
}

/// A copy of the entry's own text.
fn owned(text: &str) -> Text {
    Cow::Owned(text.to_string())
}

fn upper_bool(b: bool) -> Text {
    Cow::Borrowed(if b { "TRUE" } else { "FALSE" })
}

/// `YYYYMMDDHHMMSSZ` in UTC (chrono's `%Y%m%d%H%M%SZ`, written digit by digit for the years
/// 0–9999 as every entry carries three of them).
pub fn generalized(t: Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    let Some(d) = chrono::DateTime::from_timestamp_micros(t.0) else {
        return String::new();
    };
    let Ok(year @ 0..=9999) = u32::try_from(d.year()) else {
        return d.format("%Y%m%d%H%M%SZ").to_string();
    };
    let mut out = String::with_capacity(15);
    let mut digits = |n: u32, width: u32| {
        for place in (0..width).rev() {
            let digit = (n / 10u32.pow(place)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
    };
    digits(year, 4);
    digits(d.month(), 2);
    digits(d.day(), 2);
    digits(d.hour(), 2);
    digits(d.minute(), 2);
    digits(d.second(), 2);
    out.push('Z');
    out
}

/// The outpost's attribute-name sanitising: `/` → `-`, then every `.` removed.
pub fn sanitize_key(key: &str) -> String {
    key.replace('/', "-").replace('.', "")
}

/// Custom attributes as the outpost maps them (ldap.md §1.6); `%s` in a user's string values
/// becomes the username.
pub fn custom_attributes(attributes: &Value, username: Option<&str>) -> Vec<(String, Vec<Text>)> {
    let Some(map) = attributes.as_object() else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<Text>)> = Vec::new();
    for (key, value) in map {
        let name = sanitize_key(key);
        if name.is_empty() || out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            continue;
        }
        let values: Vec<Text> = match value {
            Value::Null => Vec::new(),
            Value::String(s) => vec![match username {
                Some(u) if s.contains("%s") => s.replace("%s", u).into(),
                _ => owned(s),
            }],
            Value::Array(items) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::String(s) => owned(s),
                    other => go_text(other).into(),
                })
                .collect(),
            other => vec![go_text(other).into()],
        };
        out.push((name, values));
    }
    out
}

/// A JSON value as Go's `fmt` prints the decoded value (`map[k:v]`, `[a b]`, `<nil>`).
fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_text).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_text(&map[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_attributes_are_mapped_the_outposts_way() {
        let attrs = json!({
            "goauthentik.io/user/sources": ["a", null, 3],
            "homeDirectory": "/srv/%s",
            "flag": true,
            "n": 1.5,
            "nested": {"foo": "bar", "a": [1, 2]},
            "gone": null
        });
        let out = custom_attributes(&attrs, Some("alice"));
        let get = |n: &str| out.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("goauthentikio-user-sources"),
            Some(vec!["a".into(), "3".into()])
        );
        assert_eq!(get("homeDirectory"), Some(vec!["/srv/alice".into()]));
        assert_eq!(get("flag"), Some(vec!["true".into()]));
        assert_eq!(get("n"), Some(vec!["1.5".into()]));
        assert_eq!(get("nested"), Some(vec!["map[a:[1 2] foo:bar]".into()]));
        assert_eq!(get("gone"), Some(vec![]));
    }

    #[test]
    fn locates_dns() {
        let tree = Tree::new("DC=ldap,DC=goauthentik,DC=io", "x").expect("tree");
        let at = |s: &str| tree.locate(&Dn::parse(s).expect("dn"));
        assert_eq!(at("dc=ldap,dc=goauthentik,dc=io"), Node::Base);
        assert_eq!(at("OU=Users, dc=ldap,dc=goauthentik,dc=io"), Node::Users);
        assert_eq!(
            at("cn=Alice,ou=users,dc=ldap,dc=goauthentik,dc=io"),
            Node::User("Alice".into())
        );
        assert_eq!(at("dc=example,dc=com"), Node::Outside);
        assert!(matches!(
            at("ou=nope,dc=ldap,dc=goauthentik,dc=io"),
            Node::Missing { .. }
        ));
        assert_eq!(generalized(Timestamp(0)), "19700101000000Z");
    }

    #[test]
    fn generalized_times_are_chronos() {
        for micros in [
            0,
            -1,
            1_733_500_000_123_456,
            -62_135_596_800_000_000,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            -62_135_596_800_000_001,
        ] {
            let chrono = chrono::DateTime::from_timestamp_micros(micros)
                .map(|d| d.format("%Y%m%d%H%M%SZ").to_string())
                .unwrap_or_default();
            assert_eq!(generalized(Timestamp(micros)), chrono, "{micros}");
        }
    }
}
