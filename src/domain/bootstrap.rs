//! First-start state (docs/compatibility.md#bootstrap-and-a-fresh-install): the install id,
//! group `authentik Admins`, user `akadmin` in it, and the bootstrap API token. Runs in one
//! transaction, once: a later start changes nothing, and two PostgreSQL instances starting
//! together create it exactly once.

use super::{DomainError, Timestamp};
use crate::auth::keys::{self, Sealer};
use crate::auth::password;
use crate::store::{groups, install, tokens, users, Store};

/// Name of the superuser group created at bootstrap.
pub const ADMIN_GROUP: &str = "authentik Admins";
/// Username of the bootstrap administrator.
pub const ADMIN_USERNAME: &str = "akadmin";
/// Identifier of the bootstrap token.
pub const BOOTSTRAP_TOKEN_IDENTIFIER: &str = "authentik-bootstrap-token";

/// Values taken from the configuration.
#[derive(Clone, Default)]
pub struct BootstrapValues {
    /// akadmin's e-mail.
    pub email: String,
    /// akadmin's password; `None` leaves it unusable.
    pub password: Option<String>,
    /// The bootstrap token key; `None` generates one.
    pub token: Option<String>,
    /// Lifetime of new api tokens, in seconds (fills the ignored `expires`).
    pub token_duration_seconds: i64,
}

impl std::fmt::Debug for BootstrapValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapValues")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What bootstrap did.
#[derive(Debug)]
pub enum Outcome {
    /// The directory existed already; nothing changed.
    AlreadyDone {
        /// The install id.
        install_id: String,
    },
    /// The directory was created now.
    Created {
        /// The install id.
        install_id: String,
        /// The generated bootstrap key, when none was configured (to show once).
        generated_token: Option<String>,
    },
}

/// Creates the first-start state unless it exists.
pub async fn run(
    store: &Store,
    sealer: &Sealer,
    values: &BootstrapValues,
) -> Result<Outcome, DomainError> {
    let mut db = store;
    if let Some(install_id) = install::install_id(&mut db).await? {
        return Ok(Outcome::AlreadyDone { install_id });
    }
    let password_hash = match &values.password {
        Some(p) if !p.is_empty() => Some(password::hash_at_start(p.clone()).await?),
        _ => None,
    };
    let mut tx = store.begin().await?;
    install::lock_bootstrap(&mut tx).await?;
    if let Some(install_id) = install::install_id(&mut tx).await? {
        return Ok(Outcome::AlreadyDone { install_id });
    }
    let now = Timestamp::now();
    let install_id = uuid::Uuid::new_v4().to_string();
    install::create_install_id(&mut tx, &install_id, now.0).await?;

    let group_id = match groups::group_by_name(&mut tx, ADMIN_GROUP).await? {
        Some(g) => g.id,
        None => {
            groups::insert_group(
                &mut tx,
                &uuid::Uuid::new_v4().to_string(),
                ADMIN_GROUP,
                true,
            )
            .await?
        }
    };
    let user_id = match users::by_username(&mut tx, ADMIN_USERNAME).await? {
        Some(u) => u.id,
        None => {
            let new = users::NewUser {
                uuid: uuid::Uuid::new_v4().to_string(),
                username: ADMIN_USERNAME.into(),
                name: "authentik Default Admin".into(),
                first_name: String::new(),
                last_name: String::new(),
                email: values.email.clone(),
                password_hash,
                is_active: true,
                user_type: "internal".into(),
                path: "users".into(),
                attributes: "{}".into(),
                last_login: None,
                now: now.0,
            };
            users::insert(&mut tx, &new).await?
        }
    };
    groups::add_member(&mut tx, group_id, user_id).await?;

    let (key, generated) = match &values.token {
        Some(k) if !k.is_empty() => (k.clone(), None),
        _ => {
            let k = keys::generate_key();
            (k.clone(), Some(k))
        }
    };
    if !tokens::identifier_exists(&mut tx, BOOTSTRAP_TOKEN_IDENTIFIER).await? {
        let token = tokens::NewToken {
            uuid: uuid::Uuid::new_v4().to_string(),
            identifier: BOOTSTRAP_TOKEN_IDENTIFIER.into(),
            key_hash: keys::lookup_hash(&key),
            key_sealed: sealer
                .seal(&key)
                .map_err(|e| DomainError::Internal(e.to_string()))?,
            intent: "api".into(),
            user_id,
            description: String::new(),
            expires: Some(now.plus_seconds(values.token_duration_seconds).0),
            expiring: false,
            managed: None,
            created: now.0,
            scope: "write".into(),
        };
        tokens::insert(&mut tx, &token).await?;
    }
    tx.commit().await?;
    Ok(Outcome::Created {
        install_id,
        generated_token: generated,
    })
}
