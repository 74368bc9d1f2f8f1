//! The directory itself: users, groups, roles, tokens, their validation rules and who may do
//! what. No HTTP and no SQL here: dialects call these operations, these operations call `store`.
//! This is the only door front ends have to the directory (they never name `store`); it owns
//! the caches of what it reads (`cache`) and turns `StoreError` into `DomainError`. The query
//! vocabulary it takes is `crate::query`'s (re-exported here where that keeps callers short).

pub mod audit;
pub mod authz;
pub mod avatar;
pub mod backup;
pub mod bootstrap;
pub mod cache;
pub mod directory;
pub mod error;
pub mod events;
pub mod existence;
pub mod groups;
pub mod health;
pub mod import;
pub mod permissions;
pub mod principals;
pub mod roles;
pub mod scim;
pub mod service_accounts;
pub mod sessions;
pub mod time;
pub mod tokens;
pub mod users;

pub use crate::query::filter;
pub use directory::Directory;
pub use error::{DomainError, FieldErrors};
pub use time::Timestamp;
