//! `gatehouse export --output FILE.jsonl`: the whole directory in gatehouse's JSON-lines format
//! (docs/export-format.md), password hashes included, token keys only with
//! `--include-token-keys`. The file is written beside its final name and renamed into place
//! when complete, readable by its owner only (it holds password hashes).

use std::io::Write;
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

/// Exports; returns a one-line summary (also what the command prints).
pub async fn run(config: Config, options: &ExportOptions) -> Result<String, ExportError> {
    let opened = app::open(&config).await?;
    let result = import::export(&opened.store, &opened.sealer, options.include_token_keys).await;
    opened.store.close().await;
    let source = result?;
    let write_error = |source: JsonlError| ExportError::Write {
        path: options.output.display().to_string(),
        source,
    };
    let lines = write_file(&options.output, &source).map_err(write_error)?;
    Ok(format!(
        "exported {} users, {} groups, {} memberships, {} roles, {} tokens ({}) in {lines} lines to {}",
        source.users.len(),
        source.groups.len(),
        source.memberships.len(),
        source.roles.len(),
        source.tokens.len(),
        if options.include_token_keys {
            "with their keys"
        } else {
            "without keys"
        },
        options.output.display()
    ))
}

fn write_file(path: &Path, source: &import::Source) -> Result<u64, JsonlError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export.jsonl".into());
    let partial = path.with_file_name(format!(".{name}.partial"));
    let file = create_private(&partial)?;
    let mut out = std::io::BufWriter::new(file);
    let lines = jsonl::write(source, &mut out)?;
    out.flush()?;
    out.get_ref().sync_all()?;
    std::fs::rename(&partial, path)?;
    Ok(lines)
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
