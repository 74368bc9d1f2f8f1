//! `gatehouse import`: reads a source directory (an authentik database, a gatehouse
//! JSON-lines file, see docs/export-format.md, or an LDIF export) and hands it to
//! `domain::import`, which writes it through the domain; prints the report, and a progress
//! line on stderr while it writes when stderr is a terminal.

pub mod authentik;
pub mod ldif;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use crate::app;
use crate::config::Config;
use crate::domain::import::{
    self, ImportFailure, ImportSource, InMemory, InstallId, Progress, Report, Skip, Source, Tally,
};

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `postgres://…` of an authentik database.
    pub from_authentik_db: Option<String>,
    /// A JSON-lines file (`gatehouse export`'s format) or an LDIF file (`.ldif`).
    pub file: Option<std::path::PathBuf>,
    /// Only report what would change.
    pub dry_run: bool,
    /// Print the report as JSON instead of text.
    pub json: bool,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Nothing (or too much) to import from was named.
    #[error("name one source: --from-authentik-db postgres://…, FILE.jsonl or FILE.ldif")]
    NoSource,
    /// An LDIF file could not be read.
    #[error("{path}: {source}")]
    Ldif {
        /// The file.
        path: String,
        /// Why.
        source: super::ldif::LdifError,
    },
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: super::jsonl::JsonlError,
    },
    /// The source could not be read.
    #[error(transparent)]
    Authentik(#[from] authentik::ReadError),
    /// Gatehouse's own database could not be opened.
    #[error("{0}")]
    Open(#[from] app::StartError),
    /// Writing failed.
    #[error("import failed: {0}")]
    Domain(#[from] crate::domain::DomainError),
}

/// Runs the import and prints its report on stdout.
pub async fn run(config: Config, options: &ImportOptions) -> Result<Report, ImportError> {
    match (&options.from_authentik_db, &options.file) {
        (Some(url), None) => {
            let source = authentik::read(url).await?;
            import_from(config, options, &mut InMemory::new(source), |e| match e {}).await
        }
        (None, Some(path)) if is_ldif(path) => {
            let source = read_ldif(path)?;
            import_from(config, options, &mut InMemory::new(source), |e| match e {}).await
        }
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let mut file = super::jsonl::JsonlFile::new(path, &format!("file {shown}"));
            import_from(config, options, &mut file, |source| ImportError::File {
                path: shown.clone(),
                source,
            })
            .await
        }
        _ => Err(ImportError::NoSource),
    }
}

/// Imports from `source` into the configured directory and prints the report.
async fn import_from<S: ImportSource>(
    config: Config,
    options: &ImportOptions,
    source: &mut S,
    source_error: impl Fn(S::Error) -> ImportError,
) -> Result<Report, ImportError> {
    let opened = app::open(&config).await?;
    let show = std::io::stderr().is_terminal() && !options.dry_run;
    let progress = move |p: Progress| {
        if show {
            draw_progress(p);
        }
    };
    let result = import::run(
        &opened.store,
        &opened.sealer,
        source,
        options.dry_run,
        &progress,
    )
    .await;
    if show {
        eprintln!();
    }
    opened.store.close().await;
    let (report, origin) = match result {
        Ok(done) => done,
        Err(ImportFailure::Source(e)) => return Err(source_error(e)),
        Err(ImportFailure::Domain(e)) => return Err(ImportError::Domain(e)),
    };
    let mut out = std::io::stdout().lock();
    let text = if options.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        render(&report, &origin)
    };
    let _ = out.write_all(text.as_bytes());
    Ok(report)
}

fn is_ldif(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ldif"))
}

/// An LDIF file as a source (read whole: LDIF entries may refer to each other anywhere).
fn read_ldif(path: &std::path::Path) -> Result<Source, ImportError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: shown.clone(),
        source,
    })?;
    let parsed = super::ldif::parse(&text).map_err(|source| ImportError::Ldif {
        path: shown.clone(),
        source,
    })?;
    Ok(ldif::source_of(&parsed, &format!("LDIF file {shown}")))
}

/// One progress line, redrawn in place.
fn draw_progress(p: Progress) {
    const WIDTH: u64 = 30;
    let filled = (p.done.min(p.total) * WIDTH)
        .checked_div(p.total)
        .unwrap_or(WIDTH);
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '-' })
        .collect();
    eprint!("\rimporting [{bar}] {}/{} rows", p.done, p.total);
    let _ = std::io::stderr().flush();
}

fn tally_line(kind: &str, t: &Tally) -> String {
    format!(
        "  {kind:<13} {:>7} created {:>7} updated {:>7} unchanged {:>7} skipped\n",
        t.created, t.updated, t.unchanged, t.skipped
    )
}

/// The report as text: counts per kind, replacements, hash schemes, then skipped rows grouped
/// by kind and reason (a few names each).
pub fn render(report: &Report, origin: &str) -> String {
    let mut out = String::new();
    if report.dry_run {
        out.push_str(&format!(
            "gatehouse import from {origin}: DRY RUN, nothing was written\n"
        ));
    } else {
        out.push_str(&format!("gatehouse import from {origin}: done\n"));
    }
    for (kind, tally) in [
        ("users", &report.users),
        ("groups", &report.groups),
        ("parents", &report.parents),
        ("memberships", &report.memberships),
        ("roles", &report.roles),
        ("permissions", &report.permissions),
        ("group roles", &report.group_roles),
        ("user roles", &report.user_roles),
        ("tokens", &report.tokens),
    ] {
        out.push_str(&tally_line(kind, tally));
    }
    if !report.replaced.is_empty() {
        out.push_str(&format!(
            "replaced gatehouse's bootstrap objects: {}\n",
            report.replaced.join(", ")
        ));
    }
    if !report.hash_schemes.is_empty() {
        let schemes: Vec<String> = report
            .hash_schemes
            .iter()
            .map(|(scheme, n)| format!("{scheme} {n}"))
            .collect();
        out.push_str(&format!(
            "password hashes (kept as they are): {}\n",
            schemes.join(", ")
        ));
    }
    match &report.install_id {
        InstallId::Adopted(id) => out.push_str(&format!(
            "install id: {id} adopted (users' uid stay the source's; first start creates nothing)\n"
        )),
        InstallId::Kept(id) => out.push_str(&format!(
            "install id: {id} kept (this directory had one; users' uid are gatehouse's)\n"
        )),
        InstallId::Pending => out.push_str(
            "install id: none yet (the first start creates it, and akadmin, authentik Admins and the bootstrap token)\n",
        ),
    }
    if report.skipped.is_empty() {
        out.push_str("skipped: nothing\n");
        return out;
    }
    out.push_str(&format!("skipped ({}):\n", report.skipped.len()));
    let mut groups: BTreeMap<(&str, &str), Vec<&Skip>> = BTreeMap::new();
    for skip in &report.skipped {
        groups
            .entry((skip.kind.as_str(), skip.reason.as_str()))
            .or_default()
            .push(skip);
    }
    for ((kind, reason), skips) in groups {
        let names: Vec<&str> = skips.iter().take(5).map(|s| s.name.as_str()).collect();
        let more = if skips.len() > 5 {
            format!(", and {} more", skips.len() - 5)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {kind} ×{}: {reason}: {}{more}\n",
            skips.len(),
            names.join(", ")
        ));
    }
    out
}
