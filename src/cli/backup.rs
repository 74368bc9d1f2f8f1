//! `gatehouse backup --output FILE [--force]`: prints a one-line summary; exit code 2 on
//! PostgreSQL (use `pg_dump`), 1 on any other failure.

use std::path::Path;
use std::process::ExitCode;

use crate::domain::backup::{backup, BackupError};

/// Exit code when the database is PostgreSQL.
pub const EXIT_POSTGRES: u8 = 2;

/// Runs the backup of the directory at `database_url` into `output`.
pub async fn run(database_url: &str, output: &Path, force: bool) -> ExitCode {
    match backup(database_url, output, force).await {
        Ok(summary) => {
            println!(
                "gatehouse: backup written to {} ({} bytes, {} users)",
                summary.path.display(),
                summary.bytes,
                summary.users
            );
            ExitCode::SUCCESS
        }
        Err(e @ BackupError::Postgres(_)) => {
            eprintln!("gatehouse backup: {e}");
            ExitCode::from(EXIT_POSTGRES)
        }
        Err(e) => {
            eprintln!("gatehouse backup: {e}");
            ExitCode::FAILURE
        }
    }
}
