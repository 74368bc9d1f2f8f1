//! An LDIF export (OpenLDAP `slapcat`/`ldapsearch -L`, lldap) as an import [`Source`]:
//! `inetOrgPerson` / `posixAccount` / `person` entries become users, `groupOfNames` /
//! `groupOfUniqueNames` / `posixGroup` entries groups. Members are named by DN (`member`,
//! `uniqueMember`) or, in a `posixGroup`, by uid (`memberUid`); a member that is a group makes
//! this group its parent. `userPassword` is kept as it is when gatehouse verifies its format
//! (`{SSHA}`, `{CRYPT}`, …); any other value (cleartext too) is reported and the account is left
//! without a usable password. Users carry no id of their own (the import gives them one);
//! uuids are the entries' `entryUUID` or derived from the username / group name, so running
//! the same import again updates instead of duplicating.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::super::jsonl::derived_uuid;
use super::super::ldif::{first_rdn_value, normalize_dn, Entry, Ldif};
use crate::auth::password;
use crate::domain::import::{hash_scheme, ImportGroup, ImportUser, Skip, Source};
use crate::domain::Timestamp;

const USER_CLASSES: [&str; 4] = [
    "inetorgperson",
    "posixaccount",
    "person",
    "organizationalperson",
];
const GROUP_CLASSES: [&str; 3] = ["groupofnames", "groupofuniquenames", "posixgroup"];

/// What kind of object an entry is.
enum Kind {
    User,
    Group,
    Other,
}

fn kind_of(entry: &Entry) -> Kind {
    let classes: Vec<String> = entry
        .all("objectclass")
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    if classes.iter().any(|c| GROUP_CLASSES.contains(&c.as_str())) {
        Kind::Group
    } else if classes.iter().any(|c| USER_CLASSES.contains(&c.as_str())) {
        Kind::User
    } else {
        Kind::Other
    }
}

/// LDAP GeneralizedTime (`20240131120000Z`, fractions and offsets ignored) as µs.
fn generalized_time(text: &str) -> Option<i64> {
    let digits = text.get(..14)?;
    let parsed = chrono::NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok()?;
    Some(parsed.and_utc().timestamp_micros())
}

fn uuid_of(entry: &Entry, kind: &str, name: &str) -> String {
    entry
        .first("entryuuid")
        .and_then(|u| uuid::Uuid::parse_str(u.trim()).ok())
        .map(|u| u.to_string())
        .unwrap_or_else(|| derived_uuid(&format!("ldif-{kind}"), name))
}

/// The name an entry goes by: `attribute`'s first value, else its DN's first RDN value.
fn name_of(entry: &Entry, attribute: &str) -> Option<String> {
    entry
        .first(attribute)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| first_rdn_value(&entry.dn).map(|(_, v)| v))
        .filter(|v| !v.is_empty())
}

/// The attributes kept on a user or group: its DN and its POSIX numbers and settings.
fn kept_attributes(entry: &Entry) -> Value {
    let mut attributes = Map::new();
    attributes.insert("distinguishedName".into(), Value::from(entry.dn.clone()));
    for (ldap, key) in [
        ("uidnumber", "uidNumber"),
        ("gidnumber", "gidNumber"),
        ("homedirectory", "homeDirectory"),
        ("loginshell", "loginShell"),
    ] {
        if let Some(v) = entry.first(ldap) {
            attributes.insert(key.into(), Value::from(v.trim()));
        }
    }
    Value::Object(attributes)
}

fn user_of(entry: &Entry, stand_in: i64, now: i64, skipped: &mut Vec<Skip>) -> Option<ImportUser> {
    let Some(username) = name_of(entry, "uid") else {
        skipped.push(Skip::new(
            "user",
            entry.dn.clone(),
            "no uid and no RDN value to name it by",
        ));
        return None;
    };
    let first_name = entry.first("givenname").unwrap_or("").trim().to_string();
    let last_name = entry.first("sn").unwrap_or("").trim().to_string();
    let name = entry
        .first("displayname")
        .or_else(|| entry.first("cn"))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| format!("{first_name} {last_name}").trim().to_string());
    let password_hash = match entry.first("userpassword") {
        None => None,
        Some(hash) if password::is_recognised(hash) => Some(hash.to_string()),
        Some(hash) => {
            let scheme = match hash_scheme(Some(hash)).as_str() {
                "unknown" => "cleartext or an unknown format".to_string(),
                scheme => scheme.to_string(),
            };
            skipped.push(Skip::new(
                "password",
                username.clone(),
                format!(
                    "userPassword in a format gatehouse does not verify ({scheme}): left unusable"
                ),
            ));
            None
        }
    };
    let date_joined = entry
        .first("createtimestamp")
        .and_then(generalized_time)
        .unwrap_or(now);
    let last_updated = entry
        .first("modifytimestamp")
        .and_then(generalized_time)
        .unwrap_or(date_joined);
    Some(ImportUser {
        pk: stand_in,
        uuid: uuid_of(entry, "user", &username),
        email: entry.first("mail").unwrap_or("").trim().to_string(),
        password_hash,
        // OpenLDAP's password policy locks an account with pwdAccountLockedTime.
        is_active: entry.first("pwdaccountlockedtime").is_none(),
        user_type: "internal".into(),
        path: "users".into(),
        attributes: kept_attributes(entry),
        last_login: None,
        date_joined,
        password_change_date: entry
            .first("pwdchangedtime")
            .and_then(generalized_time)
            .unwrap_or(date_joined),
        last_updated,
        name,
        first_name,
        last_name,
        username,
    })
}

/// Turns the entries of an LDIF file into a source (`origin` names the file).
pub fn source_of(ldif: &Ldif, origin: &str) -> Source {
    let now = Timestamp::now().0;
    let mut source = Source {
        origin: origin.to_string(),
        ..Source::default()
    };
    for unread in &ldif.unread {
        source
            .skipped
            .push(Skip::new("entry", unread.dn.clone(), unread.reason.clone()));
    }
    // Users first (members name them), by normalized DN and by uid.
    let mut user_by_dn: HashMap<String, i64> = HashMap::new();
    let mut user_by_uid: HashMap<String, i64> = HashMap::new();
    let mut group_entries = Vec::new();
    for entry in &ldif.entries {
        match kind_of(entry) {
            Kind::User => {
                let stand_in = -(source.users.len() as i64) - 1;
                if let Some(user) = user_of(entry, stand_in, now, &mut source.skipped) {
                    user_by_dn.insert(normalize_dn(&entry.dn), stand_in);
                    user_by_uid.insert(user.username.clone(), stand_in);
                    source.users.push(user);
                }
            }
            Kind::Group => group_entries.push(entry),
            Kind::Other => source.skipped.push(Skip::new(
                "entry",
                entry.dn.clone(),
                "not a user or group entry (no inetOrgPerson, posixAccount, groupOfNames, groupOfUniqueNames or posixGroup class)",
            )),
        }
    }
    let mut group_by_dn: HashMap<String, usize> = HashMap::new();
    for entry in group_entries.iter() {
        let Some(name) = name_of(entry, "cn") else {
            source.skipped.push(Skip::new(
                "group",
                entry.dn.clone(),
                "no cn and no RDN value to name it by",
            ));
            continue;
        };
        group_by_dn.insert(normalize_dn(&entry.dn), source.groups.len());
        source.groups.push(ImportGroup {
            uuid: uuid_of(entry, "group", &name),
            name,
            is_superuser: false,
            attributes: kept_attributes(entry),
            parents: Vec::new(),
        });
    }
    // Members: users become memberships, groups get this group as a parent.
    let mut parents: Vec<(usize, String)> = Vec::new();
    for entry in group_entries.iter() {
        let Some(&index) = group_by_dn.get(&normalize_dn(&entry.dn)) else {
            continue;
        };
        let group = source.groups[index].clone();
        let dns = entry.all("member").chain(entry.all("uniquemember"));
        for dn in dns {
            // groupOfUniqueNames may append an optional `#'0101'B` unique identifier.
            let dn = match dn.rsplit_once('#') {
                Some((dn, tail)) if tail.starts_with('\'') && tail.ends_with("'B") => dn,
                _ => dn,
            };
            let key = normalize_dn(dn);
            if let Some(&user) = user_by_dn.get(&key) {
                source.memberships.push((user, group.uuid.clone()));
            } else if let Some(&child) = group_by_dn.get(&key) {
                if child == index {
                    continue;
                }
                parents.push((child, group.uuid.clone()));
            } else if !dn.trim().is_empty() {
                source.skipped.push(Skip::new(
                    "membership",
                    format!("{} → {}", group.name, dn.trim()),
                    "the member is not a user or group in this file",
                ));
            }
        }
        for uid in entry.all("memberuid") {
            match user_by_uid.get(uid.trim()) {
                Some(&user) => source.memberships.push((user, group.uuid.clone())),
                None => source.skipped.push(Skip::new(
                    "membership",
                    format!("{} → {}", group.name, uid.trim()),
                    "no user with this uid in this file",
                )),
            }
        }
    }
    for (child, parent) in parents {
        if !source.groups[child].parents.contains(&parent) {
            source.groups[child].parents.push(parent);
        }
    }
    source
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::ldif::parse;

    const LDIF: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example

dn: uid=ann,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
objectClass: posixAccount
uid: ann
cn: Ann Example
givenName: Ann
sn: Example
mail: ann@example.org
uidNumber: 1001
userPassword:: e1NTSEF9bWViQ0hkTDlCRkI5ZEZxbGx4N2FLM2crVS9zeE1qTTBOVFkzT0E9PQ==
entryUUID: 5f3a1c2e-1111-4a4a-8b8b-0123456789ab
createTimestamp: 20240131120000Z

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
userPassword: plain-secret

dn: cn=devs,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: devs
member: UID=Ann, ou=people,dc=example,dc=org
member: uid=ghost,ou=people,dc=example,dc=org

dn: cn=staff,ou=groups,dc=example,dc=org
objectClass: groupOfUniqueNames
cn: staff
uniqueMember: cn=devs,ou=groups,dc=example,dc=org
uniqueMember: uid=bob,ou=people,dc=example,dc=org#'0101'B

dn: cn=posix,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: posix
memberUid: bob
";

    #[test]
    fn users_groups_members_and_parents() {
        let source = source_of(&parse(LDIF).expect("parses"), "test");
        let names: Vec<&str> = source.users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, vec!["ann", "bob"]);
        let ann = &source.users[0];
        assert_eq!(ann.uuid, "5f3a1c2e-1111-4a4a-8b8b-0123456789ab");
        assert_eq!(
            (ann.first_name.as_str(), ann.last_name.as_str()),
            ("Ann", "Example")
        );
        assert_eq!(ann.name, "Ann Example");
        assert_eq!(ann.email, "ann@example.org");
        assert!(ann
            .password_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("{SSHA}")));
        assert_eq!(ann.attributes["uidNumber"], "1001");
        assert_eq!(ann.date_joined, 1_706_702_400_000_000);
        assert!(ann.pk < 0 && source.users[1].pk < 0 && ann.pk != source.users[1].pk);
        // bob's cleartext password is reported and not kept.
        assert!(source.users[1].password_hash.is_none());
        assert!(source
            .skipped
            .iter()
            .any(|s| s.kind == "password" && s.name == "bob"));
        // devs ⊂ staff; ann in devs; bob in staff and posix; the ghost reported.
        let devs = source
            .groups
            .iter()
            .find(|g| g.name == "devs")
            .expect("devs");
        let staff = source
            .groups
            .iter()
            .find(|g| g.name == "staff")
            .expect("staff");
        assert_eq!(devs.parents, vec![staff.uuid.clone()]);
        assert!(source.memberships.contains(&(ann.pk, devs.uuid.clone())));
        assert!(source
            .memberships
            .contains(&(source.users[1].pk, staff.uuid.clone())));
        assert_eq!(source.memberships.len(), 3);
        assert!(source
            .skipped
            .iter()
            .any(|s| s.kind == "membership" && s.name.contains("ghost")));
        assert!(source
            .skipped
            .iter()
            .any(|s| s.kind == "entry" && s.name == "dc=example,dc=org"));
        // Stable uuids: the same file gives the same ones.
        let again = source_of(&parse(LDIF).expect("parses"), "test");
        assert_eq!(again.users[1].uuid, source.users[1].uuid);
        assert_eq!(again.groups[0].uuid, source.groups[0].uuid);
    }
}
