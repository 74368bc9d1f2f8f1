//! Command-line front door: subcommands beyond `serve` and `migrate`, each a thin layer over
//! a domain operation (no store access here; tests/layering.rs checks it).

pub mod backup;
