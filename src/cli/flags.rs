//! The flags every command shares (configuration file, listen address, database, log format),
//! layered over the configuration like the server's own.

use clap::Args;

use crate::config::Flags;

/// Flags shared by every subcommand.
#[derive(Args, Clone, Debug, Default)]
pub struct Common {
    /// Configuration file (default: ./gatehouse.toml if present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on (default 127.0.0.1:9000).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// sqlite://PATH or postgres://… (default sqlite://data/gatehouse.db).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// text or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

impl Common {
    /// The flags as the configuration loader takes them.
    pub fn flags(&self) -> Flags {
        Flags {
            config: self.config.clone(),
            listen: self.listen.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_format.clone(),
        }
    }
}
