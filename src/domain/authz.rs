//! Who may do what: the one authorization function every dialect asks. Pure: it sees the caller
//! and the action, never HTTP or SQL.

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's integer id.
    pub user_id: i64,
    /// The user's username.
    pub username: String,
    /// Member of a superuser group, directly or through an ancestor.
    pub is_superuser: bool,
}

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the caller's own account (`me`).
    ViewSelf,
    /// List users or read one (`Some(id)`).
    ViewUser(Option<i64>),
    /// Create a user.
    AddUser,
    /// Change a user.
    ChangeUser(i64),
    /// Delete a user.
    DeleteUser(i64),
    /// Set a user's password.
    ResetUserPassword(i64),
    /// List groups or read one (`Some(id)`).
    ViewGroup(Option<i64>),
    /// Create a group.
    AddGroup,
    /// Change a group.
    ChangeGroup(i64),
    /// Delete a group.
    DeleteGroup(i64),
    /// Add a user to a group.
    AddUserToGroup(i64),
    /// Remove a user from a group.
    RemoveUserFromGroup(i64),
    /// Set a group's superuser flag to true (`None` = a new group).
    EnableGroupSuperuser(Option<i64>),
    /// Set a group's superuser flag to false.
    DisableGroupSuperuser(Option<i64>),
    /// List every token (not just one's own).
    ViewAllTokens,
    /// Create a token (for oneself unless superuser).
    AddToken,
    /// Read a token owned by `owner`.
    ViewToken {
        /// Owner's user id.
        owner: i64,
    },
    /// Change a token owned by `owner`.
    ChangeToken {
        /// Owner's user id.
        owner: i64,
    },
    /// Delete a token owned by `owner`.
    DeleteToken {
        /// Owner's user id.
        owner: i64,
    },
    /// Read the key of a token owned by `owner`.
    ViewTokenKey {
        /// Owner's user id.
        owner: i64,
    },
    /// Replace the key of a token owned by `owner`.
    SetTokenKey {
        /// Owner's user id.
        owner: i64,
    },
}

/// Outcome of a refused action: the dialect decides whether it reads as 403 or 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller may not do this.
    Forbidden,
}

/// Decides whether `principal` may perform `action`. Superusers pass everything; any
/// authenticated user may read themselves; everything else needs a permission that the roles
/// issue grants (until then: refused).
pub fn authorize(principal: &Principal, action: Action) -> Result<(), Denied> {
    if principal.is_superuser {
        return Ok(());
    }
    match action {
        Action::ViewSelf | Action::AddToken => Ok(()),
        // Owners manage their own tokens and may read the keys of tokens they hold (authentik
        // grants this through the creator's managed role); replacing a key needs set_token_key.
        Action::ViewToken { owner }
        | Action::ChangeToken { owner }
        | Action::DeleteToken { owner }
        | Action::ViewTokenKey { owner }
            if owner == principal.user_id =>
        {
            Ok(())
        }
        Action::ViewUser(_)
        | Action::AddUser
        | Action::ChangeUser(_)
        | Action::DeleteUser(_)
        | Action::ResetUserPassword(_)
        | Action::ViewGroup(_)
        | Action::AddGroup
        | Action::ChangeGroup(_)
        | Action::DeleteGroup(_)
        | Action::AddUserToGroup(_)
        | Action::RemoveUserFromGroup(_)
        | Action::EnableGroupSuperuser(_)
        | Action::DisableGroupSuperuser(_)
        | Action::ViewAllTokens
        | Action::ViewToken { .. }
        | Action::ChangeToken { .. }
        | Action::DeleteToken { .. }
        | Action::ViewTokenKey { .. }
        | Action::SetTokenKey { .. } => Err(Denied::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(is_superuser: bool) -> Principal {
        Principal {
            user_id: 7,
            username: "u".into(),
            is_superuser,
        }
    }

    #[test]
    fn superuser_passes_everything() {
        for action in [
            Action::AddUser,
            Action::DeleteUser(1),
            Action::ViewUser(None),
        ] {
            assert_eq!(authorize(&principal(true), action), Ok(()));
        }
    }

    #[test]
    fn plain_user_may_only_read_self() {
        assert_eq!(authorize(&principal(false), Action::ViewSelf), Ok(()));
        assert_eq!(
            authorize(&principal(false), Action::ViewUser(Some(7))),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            authorize(&principal(false), Action::ChangeUser(7)),
            Err(Denied::Forbidden)
        );
    }
}
