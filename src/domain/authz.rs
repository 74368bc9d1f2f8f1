//! Who may do what: the one authorization function every dialect asks
//! (docs/compatibility.md#rbac-and-permissions). Pure: it sees the caller (with the grants of
//! every role it holds, directly or through groups and their ancestors) and the action, never
//! HTTP or SQL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::permissions::id_of;

/// Permissions a caller holds through its effective roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Permission ids held globally.
    pub global: HashSet<i64>,
    /// Permission id → object pks it is held on.
    pub object: HashMap<i64, HashSet<String>>,
}

impl Grants {
    /// Whether `perm` is held globally or on `object`.
    pub fn has(&self, perm: i64, object: Option<&str>) -> bool {
        self.global.contains(&perm)
            || object.is_some_and(|o| self.object.get(&perm).is_some_and(|set| set.contains(o)))
    }
}

/// How much of its owner's rights a credential carries. Passwords and sessions carry `Write`;
/// a token carries the scope it was created with. Ordered: `Read` < `Write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Safe reads only: no write, and no read that reveals a secret (a token's key).
    Read,
    /// Everything the owner may do.
    Write,
}

impl Scope {
    /// Wire name (AWX's OAuth2 scope, the `scope` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's integer id.
    pub user_id: i64,
    /// The user's username.
    pub username: String,
    /// The user's e-mail (audit events name it).
    pub email: String,
    /// Member of a superuser group, directly or through an ancestor.
    pub is_superuser: bool,
    /// Grants of the user's effective roles.
    pub grants: Arc<Grants>,
    /// Scope of the credential the request came with: a `Read` credential may only read.
    pub scope: Scope,
    /// The lookup hash of the login session it came from (AWX cookie login), if any.
    pub session: Option<String>,
}

impl Principal {
    /// Whether the credential may change anything at all.
    pub fn may_write(&self) -> bool {
        self.scope == Scope::Write
    }
}

/// Something a caller wants to do. Objects are named by the pk their grants use: a user's id,
/// a group's, role's or token's uuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Read the caller's own account (`me`).
    ViewSelf,
    /// Read a user.
    ViewUser(i64),
    /// Create a user (global permission only).
    AddUser,
    /// Change a user.
    ChangeUser(i64),
    /// Delete a user.
    DeleteUser(i64),
    /// Set a user's password (also: create a recovery link for them).
    ResetUserPassword(i64),
    /// Impersonate a user.
    Impersonate(i64),
    /// Export the users list (authentik's enterprise data export).
    ExportUsers,
    /// Read a group.
    ViewGroup(String),
    /// Create a group (global permission only).
    AddGroup,
    /// Change a group.
    ChangeGroup(String),
    /// Delete a group.
    DeleteGroup(String),
    /// Add a user to a group.
    AddUserToGroup(String),
    /// Remove a user from a group.
    RemoveUserFromGroup(String),
    /// Set a group's superuser flag to true (`None` = a new group).
    EnableGroupSuperuser(Option<String>),
    /// Set a group's superuser flag to false.
    DisableGroupSuperuser(Option<String>),
    /// List every token (not just one's own).
    ViewAllTokens,
    /// Create a token at all (for oneself unless superuser); see `GrantToken` for the token.
    AddToken,
    /// Create a token owned by `owner` carrying `scope`: never more than the creating
    /// credential holds (its scope, and its own account unless it is a superuser's).
    GrantToken {
        /// The new token's owner.
        owner: i64,
        /// The new token's scope.
        scope: Scope,
    },
    /// Create a service account: a user and its token (global add_user and add_token).
    CreateServiceAccount,
    /// Read a token.
    ViewToken(TokenRef),
    /// Change a token.
    ChangeToken(TokenRef),
    /// Delete a token.
    DeleteToken(TokenRef),
    /// Read a token's key.
    ViewTokenKey(TokenRef),
    /// Replace a token's key.
    SetTokenKey(TokenRef),
    /// Read a role.
    ViewRole(String),
    /// Create a role (global permission only).
    AddRole,
    /// Change a role (also: add or remove its users).
    ChangeRole(String),
    /// Delete a role.
    DeleteRole(String),
    /// Assign permissions to a role.
    AssignRolePermissions(String),
    /// Remove permissions from a role.
    UnassignRolePermissions(String),
    /// Edit a user's own profile fields (names, e-mail, password): oneself, or with change_user.
    EditUserProfile(i64),
    /// Rename a user: change_user only (not oneself without it).
    RenameUser(i64),
    /// Change a user's superuser or auditor status: superusers only.
    ChangePrivileges(i64),
    /// Drop one's own system-auditor status (AWX lets users do that).
    DropOwnAuditor(i64),
    /// Read users and groups through SCIM (`gatehouse_scim.provision`, global only).
    ScimRead,
    /// Create, change and delete users and groups through SCIM (`gatehouse_scim.provision`,
    /// global only).
    ScimWrite,
    /// Delete an account with AWX's protections: never oneself, never the last superuser.
    RemoveAccount {
        /// The account.
        id: i64,
        /// It is the only superuser left.
        last_superuser: bool,
    },
}

impl Action {
    /// Whether the action only reads and reveals no secret: all a `Read` credential may do.
    /// Reading a token's key is not safe: the key carries its owner's full rights.
    pub fn is_safe(&self) -> bool {
        matches!(
            self,
            Action::ViewSelf
                | Action::ViewUser(_)
                | Action::ViewGroup(_)
                | Action::ViewAllTokens
                | Action::ViewToken(_)
                | Action::ViewRole(_)
                | Action::ScimRead
        )
    }
}

/// Whether a request method only reads (HTTP's safe methods). Every dialect asks
/// `authorize_request` with it before its handlers run, so a `Read` credential is refused every
/// other method even on a route that forgets to ask `authorize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// GET, HEAD, OPTIONS (and TRACE): reads.
    Safe,
    /// Anything else: may write.
    Unsafe,
}

/// Decides whether a credential may make a request of this kind at all, before any action
/// is known: a `Read` credential may only make safe requests.
pub fn authorize_request(principal: &Principal, kind: RequestKind) -> Result<(), Denied> {
    match kind {
        RequestKind::Unsafe if !principal.may_write() => Err(Denied::Forbidden),
        _ => Ok(()),
    }
}

/// A token as authorization sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    /// Owner's user id.
    pub owner: i64,
    /// The token's uuid.
    pub uuid: String,
}

/// Why an action is refused: `Forbidden` reads as 403; `Hidden` (the caller can see some
/// objects of the kind, but not this one) reads as 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller may not do this.
    Forbidden,
    /// The object is invisible to the caller.
    Hidden,
    /// A rule protects the object from this action, whoever asks (e.g. deleting oneself).
    Protected,
}

/// Which objects of a kind a caller may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every object (global view permission or superuser).
    All,
    /// Only these object pks (per-object view grants).
    Only(Vec<String>),
    /// None at all: authentik answers such a list with 403.
    Nothing,
}

/// Which objects the caller may see, by view permission (`authentik_core.view_user`, …).
pub fn visibility(principal: &Principal, view_permission: &str) -> Visibility {
    let perm = id_of(view_permission);
    if principal.is_superuser || principal.grants.global.contains(&perm) {
        return Visibility::All;
    }
    match principal.grants.object.get(&perm) {
        Some(set) if !set.is_empty() => {
            let mut pks: Vec<String> = set.iter().cloned().collect();
            pks.sort();
            Visibility::Only(pks)
        }
        _ => Visibility::Nothing,
    }
}

/// Whether the caller may see one object: 403 when it can see nothing of the kind, 404 when it
/// can see others but not this one (authentik's ObjectFilter).
pub fn may_see(principal: &Principal, view_permission: &str, object: &str) -> Result<(), Denied> {
    match visibility(principal, view_permission) {
        Visibility::All => Ok(()),
        Visibility::Only(pks) if pks.iter().any(|p| p == object) => Ok(()),
        Visibility::Only(_) => Err(Denied::Hidden),
        Visibility::Nothing => Err(Denied::Forbidden),
    }
}

/// Decides whether `principal` may perform `action`. A `Read` credential may only do safe
/// actions; a new token never carries more than the creating credential (its scope, and its
/// own account unless a superuser's). Beyond that, superusers pass everything; any caller may
/// read itself and create tokens for itself; token owners manage their own tokens (and read
/// their keys, as authentik grants through the creator's managed role); everything else needs
/// the permission, globally or on the object.
pub fn authorize(principal: &Principal, action: Action) -> Result<(), Denied> {
    if !principal.may_write() && !action.is_safe() {
        return Err(Denied::Forbidden);
    }
    if let Action::GrantToken { owner, scope } = action {
        return if scope > principal.scope || (owner != principal.user_id && !principal.is_superuser)
        {
            Err(Denied::Forbidden)
        } else {
            Ok(())
        };
    }
    // Protections that hold for superusers too.
    if let Action::RemoveAccount { id, last_superuser } = action {
        if id == principal.user_id || last_superuser {
            return Err(Denied::Protected);
        }
    }
    if principal.is_superuser {
        return Ok(());
    }
    let (permission, object): (&str, Option<String>) = match action {
        Action::ViewSelf | Action::AddToken => return Ok(()),
        // Decided above, before the superuser shortcut.
        Action::GrantToken { .. } => return Err(Denied::Forbidden),
        Action::EditUserProfile(id) | Action::DropOwnAuditor(id) if id == principal.user_id => {
            return Ok(())
        }
        Action::DropOwnAuditor(_) | Action::ChangePrivileges(_) => return Err(Denied::Forbidden),
        Action::RenameUser(id) if id == principal.user_id => {
            return if principal
                .grants
                .has(id_of("authentik_core.change_user"), Some(&id.to_string()))
            {
                Ok(())
            } else {
                Err(Denied::Protected)
            };
        }
        Action::EditUserProfile(id) | Action::RenameUser(id) => {
            ("authentik_core.change_user", Some(id.to_string()))
        }
        Action::RemoveAccount { id, .. } => ("authentik_core.delete_user", Some(id.to_string())),
        Action::CreateServiceAccount => {
            let global = &principal.grants.global;
            return if global.contains(&id_of("authentik_core.add_user"))
                && global.contains(&id_of("authentik_core.add_token"))
            {
                Ok(())
            } else {
                Err(Denied::Forbidden)
            };
        }
        Action::ViewToken(ref t)
        | Action::ChangeToken(ref t)
        | Action::DeleteToken(ref t)
        | Action::ViewTokenKey(ref t)
            if t.owner == principal.user_id =>
        {
            return Ok(())
        }
        Action::ViewUser(id) => ("authentik_core.view_user", Some(id.to_string())),
        Action::AddUser => ("authentik_core.add_user", None),
        Action::ChangeUser(id) => ("authentik_core.change_user", Some(id.to_string())),
        Action::DeleteUser(id) => ("authentik_core.delete_user", Some(id.to_string())),
        Action::ResetUserPassword(id) => {
            ("authentik_core.reset_user_password", Some(id.to_string()))
        }
        Action::Impersonate(id) => ("authentik_core.impersonate", Some(id.to_string())),
        // authentik also requires view_user; add_dataexport is not in the catalogue, so only
        // superusers get past this.
        Action::ExportUsers => ("authentik_reports.add_dataexport", None),
        Action::ViewGroup(g) => ("authentik_core.view_group", Some(g)),
        Action::AddGroup => ("authentik_core.add_group", None),
        Action::ChangeGroup(g) => ("authentik_core.change_group", Some(g)),
        Action::DeleteGroup(g) => ("authentik_core.delete_group", Some(g)),
        Action::AddUserToGroup(g) => ("authentik_core.add_user_to_group", Some(g)),
        Action::RemoveUserFromGroup(g) => ("authentik_core.remove_user_from_group", Some(g)),
        Action::EnableGroupSuperuser(g) => ("authentik_core.enable_group_superuser", g),
        Action::DisableGroupSuperuser(g) => ("authentik_core.disable_group_superuser", g),
        Action::ViewAllTokens => ("authentik_core.view_token", None),
        Action::ViewToken(t) => ("authentik_core.view_token", Some(t.uuid)),
        Action::ChangeToken(t) => ("authentik_core.change_token", Some(t.uuid)),
        Action::DeleteToken(t) => ("authentik_core.delete_token", Some(t.uuid)),
        Action::ViewTokenKey(t) => ("authentik_core.view_token_key", Some(t.uuid)),
        Action::SetTokenKey(t) => ("authentik_core.set_token_key", Some(t.uuid)),
        Action::ViewRole(r) => ("authentik_rbac.view_role", Some(r)),
        Action::AddRole => ("authentik_rbac.add_role", None),
        Action::ScimRead | Action::ScimWrite => ("gatehouse_scim.provision", None),
        Action::ChangeRole(r) => ("authentik_rbac.change_role", Some(r)),
        Action::DeleteRole(r) => ("authentik_rbac.delete_role", Some(r)),
        Action::AssignRolePermissions(r) => ("authentik_rbac.assign_role_permissions", Some(r)),
        Action::UnassignRolePermissions(r) => ("authentik_rbac.unassign_role_permissions", Some(r)),
    };
    if principal.grants.has(id_of(permission), object.as_deref()) {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(is_superuser: bool, grants: Grants) -> Principal {
        Principal {
            user_id: 7,
            username: "u".into(),
            email: String::new(),
            is_superuser,
            grants: Arc::new(grants),
            scope: Scope::Write,
            session: None,
        }
    }

    #[test]
    fn superuser_passes_everything() {
        let p = principal(true, Grants::default());
        for action in [
            Action::AddUser,
            Action::DeleteUser(1),
            Action::ViewUser(3),
            Action::AddRole,
        ] {
            assert_eq!(authorize(&p, action), Ok(()));
        }
        assert_eq!(visibility(&p, "authentik_core.view_user"), Visibility::All);
    }

    #[test]
    fn plain_user_may_only_read_self_and_own_tokens() {
        let p = principal(false, Grants::default());
        assert_eq!(authorize(&p, Action::ViewSelf), Ok(()));
        assert_eq!(authorize(&p, Action::ViewUser(7)), Err(Denied::Forbidden));
        let own = TokenRef {
            owner: 7,
            uuid: "t".into(),
        };
        assert_eq!(authorize(&p, Action::ChangeToken(own.clone())), Ok(()));
        assert_eq!(
            authorize(&p, Action::SetTokenKey(own)),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            visibility(&p, "authentik_core.view_user"),
            Visibility::Nothing
        );
    }

    #[test]
    fn read_scope_only_reads_and_sees_no_key() {
        let mut p = principal(true, Grants::default());
        p.scope = Scope::Read;
        let own = TokenRef {
            owner: 7,
            uuid: "t".into(),
        };
        assert_eq!(authorize(&p, Action::ViewUser(3)), Ok(()));
        assert_eq!(authorize(&p, Action::ViewToken(own.clone())), Ok(()));
        for action in [
            Action::ViewTokenKey(own.clone()),
            Action::SetTokenKey(own),
            Action::AddToken,
            Action::CreateServiceAccount,
            Action::DeleteUser(3),
        ] {
            assert_eq!(authorize(&p, action), Err(Denied::Forbidden));
        }
        assert_eq!(
            authorize_request(&p, RequestKind::Unsafe),
            Err(Denied::Forbidden)
        );
        assert_eq!(authorize_request(&p, RequestKind::Safe), Ok(()));
    }

    #[test]
    fn a_new_token_never_exceeds_its_creator() {
        let grant = |owner, scope| Action::GrantToken { owner, scope };
        let plain = principal(false, Grants::default());
        assert_eq!(authorize(&plain, grant(7, Scope::Write)), Ok(()));
        assert_eq!(authorize(&plain, grant(7, Scope::Read)), Ok(()));
        assert_eq!(
            authorize(&plain, grant(8, Scope::Read)),
            Err(Denied::Forbidden)
        );
        let admin = principal(true, Grants::default());
        assert_eq!(authorize(&admin, grant(8, Scope::Write)), Ok(()));
        let mut admin_read = admin.clone();
        admin_read.scope = Scope::Read;
        for owner in [7, 8] {
            for scope in [Scope::Read, Scope::Write] {
                assert_eq!(
                    authorize(&admin_read, grant(owner, scope)),
                    Err(Denied::Forbidden)
                );
            }
        }
        assert!(Scope::Read < Scope::Write);
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("admin"), None);
    }

    #[test]
    fn account_protections_hold_for_superusers_too() {
        let admin = principal(true, Grants::default());
        assert_eq!(
            authorize(
                &admin,
                Action::RemoveAccount {
                    id: 7,
                    last_superuser: false
                }
            ),
            Err(Denied::Protected)
        );
        assert_eq!(
            authorize(
                &admin,
                Action::RemoveAccount {
                    id: 8,
                    last_superuser: true
                }
            ),
            Err(Denied::Protected)
        );
        assert_eq!(
            authorize(
                &admin,
                Action::RemoveAccount {
                    id: 8,
                    last_superuser: false
                }
            ),
            Ok(())
        );
        let user = principal(false, Grants::default());
        assert_eq!(authorize(&user, Action::EditUserProfile(7)), Ok(()));
        assert_eq!(
            authorize(&user, Action::RenameUser(7)),
            Err(Denied::Protected)
        );
        assert_eq!(
            authorize(&user, Action::ChangePrivileges(7)),
            Err(Denied::Forbidden)
        );
        assert_eq!(authorize(&user, Action::DropOwnAuditor(7)), Ok(()));
        assert_eq!(
            authorize(&user, Action::EditUserProfile(8)),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn global_and_object_grants() {
        let mut g = Grants::default();
        g.global.insert(id_of("authentik_core.view_user"));
        g.object
            .entry(id_of("authentik_core.change_user"))
            .or_default()
            .insert("5".into());
        let p = principal(false, g);
        assert_eq!(authorize(&p, Action::ViewUser(99)), Ok(()));
        assert_eq!(authorize(&p, Action::ChangeUser(5)), Ok(()));
        assert_eq!(authorize(&p, Action::ChangeUser(6)), Err(Denied::Forbidden));
        assert_eq!(authorize(&p, Action::AddUser), Err(Denied::Forbidden));
        assert_eq!(
            may_see(&p, "authentik_core.change_user", "6"),
            Err(Denied::Hidden)
        );
        assert_eq!(
            may_see(&p, "authentik_core.view_group", "x"),
            Err(Denied::Forbidden)
        );
    }
}
