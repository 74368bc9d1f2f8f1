//! `gatehouse export --output FILE.jsonl`: the whole directory in gatehouse's JSON-lines format
//! (docs/export-format.md), password hashes included, token keys only with
//! `--include-token-keys`. The file is written beside its final name and renamed into place
//! when complete, readable by its owner only (it holds password hashes).

use std::path::{Path, PathBuf};

use super::jsonl::{self, JsonlError};
use crate::app;
use crate::config::Config;
use crate::domain::import;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Where to write.
    pub output: PathBuf,
    /// Include every token's key in clear (recorded in the audit log).
    pub include_token_keys: bool,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Gatehouse's database could not be opened.
    #[error("{0}")]
    Open(#[from] app::StartError),
    /// Reading the directory failed.
    #[error("export failed: {0}")]
    Domain(#[from] crate::domain::DomainError),
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: JsonlError,
    },
}

/// Exports; returns a one-line summary (also what the command prints). Lines are written as
/// the directory is read (one consistent snapshot, in batches), so memory stays small whatever
/// its size.
pub async fn run(config: Config, options: &ExportOptions) -> Result<String, ExportError> {
    let opened = app::open(&config).await?;
    let result = write_file(&opened, options).await;
    opened.store.close().await;
    let (counts, lines) = result?;
    Ok(format!(
        "exported {} users, {} groups, {} memberships, {} roles, {} tokens ({}) in {lines} lines to {}",
        counts.users,
        counts.groups,
        counts.memberships,
        counts.roles,
        counts.tokens,
        if options.include_token_keys {
            "with their keys"
        } else {
            "without keys"
        },
        options.output.display()
    ))
}

/// Writes the file beside its final name and renames it into place once complete.
async fn write_file(
    opened: &app::Opened,
    options: &ExportOptions,
) -> Result<(import::ExportCounts, u64), ExportError> {
    let path = &options.output;
    let write_error = |source: JsonlError| ExportError::Write {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export.jsonl".into());
    let partial = path.with_file_name(format!(".{name}.partial"));
    let file = create_private(&partial).map_err(|e| write_error(e.into()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut lines = 0u64;
    let mut sink = |piece: import::Exported<'_>| -> Result<(), JsonlError> {
        jsonl::write_line(&mut out, piece)?;
        lines += 1;
        Ok(())
    };
    let exported = import::export(
        &opened.store,
        &opened.sealer,
        options.include_token_keys,
        &mut sink,
    )
    .await;
    let counts = match exported {
        Ok(counts) => counts,
        Err(err) => {
            drop(out);
            let _ = std::fs::remove_file(&partial);
            return Err(match err {
                import::ExportFailure::Domain(e) => ExportError::Domain(e),
                import::ExportFailure::Sink(e) => write_error(e),
            });
        }
    };
    let finish = |out: std::io::BufWriter<std::fs::File>| -> Result<(), JsonlError> {
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        Ok(())
    };
    finish(out).map_err(write_error)?;
    Ok((counts, lines))
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}
