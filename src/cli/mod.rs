//! Command-line front doors beyond `serve`: each parses its input into domain values and calls
//! domain operations (never the store; tests/layering.rs checks it), like the HTTP dialects.

pub mod admin;
pub mod backup;
pub mod export;
pub mod flags;
pub mod import;
pub mod jsonl;
pub mod ldif;
