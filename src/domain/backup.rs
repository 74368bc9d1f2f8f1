//! `gatehouse backup`: a consistent copy of a SQLite directory taken while servers keep
//! running on it (README, "Backup and restore"). PostgreSQL is backed up with `pg_dump`.

use std::path::{Path, PathBuf};

use crate::config::redact_url;
use crate::store::{Store, StoreError};

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The directory is on PostgreSQL (holds the redacted URL).
    #[error("{0} is a PostgreSQL database: back it up with pg_dump (e.g. `pg_dump --format=custom --file=gatehouse.dump <URL>`) and restore it with pg_restore")]
    Postgres(String),
    /// The output exists and `force` was not given.
    #[error("{0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    /// There is no SQLite database where the URL points.
    #[error("no SQLite database at {0}")]
    NoDatabase(String),
    /// The database URL is not a SQLite or PostgreSQL one.
    #[error("not a sqlite:// or postgres:// database URL: {0}")]
    BadUrl(String),
    /// Reading the database or writing the copy failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The file system refused.
    #[error("{0}")]
    Io(String),
}

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The file written.
    pub path: PathBuf,
    /// Its size, bytes.
    pub bytes: u64,
    /// Users in the copy.
    pub users: i64,
}

/// The file a `sqlite://PATH[?options]` URL names.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    Some(rest.split('?').next().unwrap_or(rest))
}

/// Copies the SQLite database `database_url` names into `output` (a new file; an existing one
/// only with `force`), consistently while other processes read and write it: the copy is
/// written beside `output` and renamed into place, then opened to count its users.
pub async fn backup(
    database_url: &str,
    output: &Path,
    force: bool,
) -> Result<BackupSummary, BackupError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Err(BackupError::Postgres(redact_url(database_url)));
    }
    let source =
        sqlite_path(database_url).ok_or_else(|| BackupError::BadUrl(redact_url(database_url)))?;
    // Connecting would create a missing file: a backup of nothing is a mistake.
    if !Path::new(source).is_file() {
        return Err(BackupError::NoDatabase(source.to_string()));
    }
    if output.exists() && !force {
        return Err(BackupError::Exists(output.to_path_buf()));
    }
    let name = output
        .file_name()
        .ok_or_else(|| BackupError::Io(format!("{} is not a file name", output.display())))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(format!(".partial-{}", uuid::Uuid::new_v4().simple()));
    let partial = output.with_file_name(partial_name);
    let partial_text = partial
        .to_str()
        .ok_or_else(|| BackupError::Io(format!("{} is not UTF-8", partial.display())))?
        .to_string();
    let store = Store::connect(database_url, 2).await?;
    let copied = store.vacuum_into(&partial_text).await;
    store.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    let counted = count_users(&partial_text).await;
    let users = match counted {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, output).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        BackupError::Io(format!("cannot move the copy to {}: {e}", output.display()))
    })?;
    let bytes = std::fs::metadata(output)
        .map(|m| m.len())
        .map_err(|e| BackupError::Io(e.to_string()))?;
    Ok(BackupSummary {
        path: output.to_path_buf(),
        bytes,
        users,
    })
}

/// The users in a copy (reading it proves it is a readable database).
async fn count_users(path: &str) -> Result<i64, BackupError> {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || crate::store::users_in_sqlite_file(&path))
        .await
        .map_err(|e| BackupError::Io(e.to_string()))?
        .map_err(BackupError::Store)
}
