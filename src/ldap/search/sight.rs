//! What a caller may see, from `domain::authz`: every user and group with the view
//! permissions, else the listed objects plus itself and its own groups (whose `member` then
//! shows only the caller).

use crate::domain::authz::Visibility;
use crate::domain::filter::{Cmp, Filter, Literal};
use crate::domain::groups::{GroupField, GroupFilter, GroupRel};
use crate::domain::users::{UserField, UserFilter};

/// What the caller may see.
pub(super) struct Sight {
    pub(super) me: i64,
    pub(super) my_dn: String,
    pub(super) users: Visibility,
    pub(super) groups: Visibility,
}

impl Sight {
    pub(super) fn user_visible(&self, id: i64) -> bool {
        id == self.me
            || match &self.users {
                Visibility::All => true,
                Visibility::Only(pks) => pks.iter().any(|p| p == &id.to_string()),
                Visibility::Nothing => false,
            }
    }

    pub(super) fn user_filter(&self) -> UserFilter {
        match &self.users {
            Visibility::All => Filter::All,
            Visibility::Only(pks) => {
                let mut ids: Vec<Literal> = pks
                    .iter()
                    .filter_map(|p| p.parse::<i64>().ok())
                    .map(Literal::Int)
                    .collect();
                ids.push(Literal::Int(self.me));
                Filter::In(UserField::Id, ids)
            }
            Visibility::Nothing => Filter::Compare(UserField::Id, Cmp::Eq, Literal::Int(self.me)),
        }
    }

    pub(super) fn group_filter(&self) -> GroupFilter {
        let mine = Filter::Rel(GroupRel::MemberIds(vec![self.me]));
        match &self.groups {
            Visibility::All => Filter::All,
            Visibility::Only(uuids) => Filter::Or(vec![
                mine,
                Filter::In(
                    GroupField::Uuid,
                    uuids.iter().map(|u| Literal::Text(u.clone())).collect(),
                ),
            ]),
            Visibility::Nothing => mine,
        }
    }

    /// Whom a group's `member` may show: everyone, or only the caller.
    pub(super) fn member_restriction(&self) -> Option<&str> {
        (!matches!(self.users, Visibility::All)).then_some(self.my_dn.as_str())
    }
}
