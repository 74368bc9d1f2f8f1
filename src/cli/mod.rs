//! Command-line front doors beyond `serve`: each parses its input into domain values and calls
//! domain operations (never the store), like the HTTP dialects.

pub mod import;
