//! gatehouse: a fast, lean identity directory server speaking authentik's core API and AWX's
//! user API over one directory, on SQLite or PostgreSQL.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod ldap;
pub mod metrics;
pub mod query;
pub mod scim;
pub mod server;
pub mod store;
