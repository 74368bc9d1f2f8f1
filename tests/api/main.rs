//! Black-box HTTP tests: every test starts the real server on an ephemeral loopback port and
//! runs once per backend (SQLite always, PostgreSQL when `GATEHOUSE_TEST_DATABASE_URL` is set).

mod admin_cli;
mod awx;
mod awx_cache;
mod awx_cost;
mod backup;
mod clients;
mod common;
mod concurrency;
mod console;
mod console_groups;

mod events;
mod export;
mod foundation;
mod groups;
mod hashes;
mod import;
mod ldap;
mod ldap_apps;
mod ldap_ops;
mod ldap_tls;
mod ldap_tools;
mod ldif;
mod limits;
mod metrics;
mod openapi;
mod outage;
mod properties;
mod rbac;
mod routing;
mod schema;
mod scim;
mod scim_testers;
mod secrets;
mod sessions;
mod token_scope;
mod tokens;
mod users;
