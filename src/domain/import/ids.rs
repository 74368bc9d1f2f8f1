//! Users without an id of their own (a source such as LDIF has none): each gets the id of the
//! user with its uuid here, or the next free one, before the plan matches the source. Their
//! stand-in ids (zero or negative) are replaced everywhere the source names them
//! (memberships, user roles, token owners). A user matched this way keeps the dates stored
//! here (the source knows only its own view of them), and its password change date unless
//! its hash changes, so running the same import again finds it unchanged.

use std::borrow::Cow;
use std::collections::HashMap;

use super::plan::Existing;
use super::Source;

/// The source with every stand-in id replaced (borrowed as it is when it has none).
pub(super) fn assign<'a>(source: &'a Source, existing: &Existing) -> Cow<'a, Source> {
    if source.users.iter().all(|u| u.pk > 0) {
        return Cow::Borrowed(source);
    }
    let here: HashMap<&str, usize> = existing
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.uuid.as_str(), i))
        .collect();
    let mut next = existing
        .users
        .iter()
        .map(|u| u.id)
        .chain(source.users.iter().map(|u| u.pk))
        .max()
        .unwrap_or(0)
        .max(0)
        + 1;
    let mut source = source.clone();
    let mut ids: HashMap<i64, i64> = HashMap::new();
    for user in source.users.iter_mut().filter(|u| u.pk <= 0) {
        let id = match here.get(user.uuid.as_str()).map(|&i| &existing.users[i]) {
            Some(current) => {
                user.date_joined = current.date_joined;
                user.last_login = current.last_login;
                user.last_updated = current.last_updated;
                if current.password_hash == user.password_hash {
                    user.password_change_date = current.password_change_date;
                }
                current.id
            }
            None => {
                let id = next;
                next += 1;
                id
            }
        };
        // The first user with a stand-in keeps it; a repeated stand-in is the source's
        // mistake and is reported by the plan as a repeated id.
        ids.entry(user.pk).or_insert(id);
        user.pk = id;
    }
    let real = |pk: i64| {
        if pk <= 0 {
            ids.get(&pk).copied().unwrap_or(pk)
        } else {
            pk
        }
    };
    for (user, _) in &mut source.memberships {
        *user = real(*user);
    }
    for (user, _) in &mut source.user_roles {
        *user = real(*user);
    }
    for token in &mut source.tokens {
        token.user_pk = real(token.user_pk);
    }
    Cow::Owned(source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::ImportUser;
    use crate::store::users::UserRow;

    fn user(pk: i64, uuid: &str, name: &str) -> ImportUser {
        ImportUser {
            pk,
            uuid: uuid.into(),
            username: name.into(),
            name: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            password_hash: None,
            is_active: true,
            user_type: "internal".into(),
            path: "users".into(),
            attributes: serde_json::json!({}),
            last_login: None,
            date_joined: 5,
            password_change_date: 5,
            last_updated: 5,
        }
    }

    fn row(id: i64, uuid: &str) -> UserRow {
        UserRow {
            id,
            uuid: uuid.into(),
            username: format!("u{id}"),
            name: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            password_hash: None,
            is_active: true,
            user_type: "internal".into(),
            path: "users".into(),
            attributes: "{}".into(),
            last_login: Some(1),
            date_joined: 2,
            password_change_date: 3,
            last_updated: 4,
        }
    }

    fn existing(users: Vec<UserRow>) -> Existing {
        Existing {
            users,
            groups: vec![],
            roles: vec![],
            tokens: vec![],
            parents: vec![],
            members: vec![],
            group_roles: vec![],
            user_roles: vec![],
            grants: vec![],
            install_id: None,
        }
    }

    #[test]
    fn stand_ins_take_the_matching_id_or_the_next_free_one() {
        let source = Source {
            users: vec![
                user(-1, "a", "ann"),
                user(-2, "b", "bob"),
                user(9, "c", "cy"),
            ],
            memberships: vec![(-1, "g".into()), (-2, "g".into()), (9, "g".into())],
            ..Source::default()
        };
        let here = existing(vec![row(4, "b"), row(7, "x")]);
        let assigned = assign(&source, &here);
        let pks: Vec<i64> = assigned.users.iter().map(|u| u.pk).collect();
        // ann is new: after the largest id here or in the source (9); bob keeps 4.
        assert_eq!(pks, vec![10, 4, 9]);
        let members: Vec<i64> = assigned.memberships.iter().map(|m| m.0).collect();
        assert_eq!(members, vec![10, 4, 9]);
        // bob keeps the dates stored here.
        assert_eq!(assigned.users[1].date_joined, 2);
        assert_eq!(assigned.users[1].last_login, Some(1));
        assert_eq!(assigned.users[1].password_change_date, 3);
        assert_eq!(assigned.users[0].date_joined, 5);
    }

    #[test]
    fn sources_with_ids_are_not_copied() {
        let source = Source {
            users: vec![user(3, "a", "ann")],
            ..Source::default()
        };
        assert!(matches!(
            assign(&source, &existing(vec![])),
            Cow::Borrowed(_)
        ));
    }
}
