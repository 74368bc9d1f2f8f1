//! The directory itself: users, groups, roles, tokens, their validation rules and who may do
//! what. No HTTP and no SQL here: dialects call these operations, these operations call `store`.

pub mod audit;
pub mod authz;
pub mod avatar;
pub mod bootstrap;
pub mod error;
pub mod filter;
pub mod groups;
pub mod permissions;
pub mod roles;
pub mod service_accounts;
pub mod sessions;
pub mod time;
pub mod tokens;
pub mod users;

pub use error::{DomainError, FieldErrors};
pub use time::Timestamp;
