//! The `gatehouse` command line: `serve`, `migrate`, `import`, `export`, `backup`, the
//! administration commands (`users`, `tokens`, `groups`), `completions` (and the hidden
//! `seed-users` benchmark helper).

use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use gatehouse::app;
use gatehouse::cli::admin;
use gatehouse::cli::flags::Common;
use gatehouse::config::{redact_url, Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// A fast, lean identity directory server (authentik core API + AWX user API).
#[derive(Parser)]
#[command(name = "gatehouse", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, bootstrap on first start, and serve HTTP.
    Serve(Common),
    /// Apply the embedded migrations and exit.
    Migrate(Common),
    /// Import a directory: users (ids, uuids and password hashes kept), groups with parents,
    /// memberships, roles with their global permissions, and tokens (their keys keep working).
    /// Re-running updates what changed; the report lists every row not taken and why.
    Import(ImportArgs),
    /// Export the whole directory as JSON lines (docs/export-format.md): users with their
    /// password hashes, groups, memberships, roles, tokens (keys only with --include-token-keys).
    Export(ExportArgs),
    /// Benchmark/import helper: migrate, bootstrap, then bulk-insert users
    /// `bench-user-NNNNNNN` (batched multi-row INSERTs); prints a JSON summary.
    #[command(name = "seed-users", hide = true)]
    SeedUsers(SeedArgs),
    /// Write a consistent copy of a SQLite directory while servers run on it (PostgreSQL: use
    /// pg_dump; exit code 2).
    Backup(BackupArgs),
    /// Users: create, list, set-password, deactivate, activate (exit codes: 0 ok, 1 failure,
    /// 2 usage, 3 not found, 4 invalid input, 5 conflict).
    #[command(subcommand)]
    Users(admin::users::UsersCommand),
    /// API tokens: create, list, revoke (exit codes as for `users`).
    #[command(subcommand)]
    Tokens(admin::tokens::TokensCommand),
    /// Group memberships: add-user, remove-user (exit codes as for `users`).
    #[command(subcommand)]
    Groups(admin::groups::GroupsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Clone)]
struct BackupArgs {
    #[command(flatten)]
    common: Common,
    /// File to write the copy to.
    #[arg(long, value_name = "FILE")]
    output: std::path::PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Clone)]
struct SeedArgs {
    #[command(flatten)]
    common: Common,
    /// How many users to insert.
    #[arg(long)]
    count: u64,
    /// Index of the first user (bench-user-<start>).
    #[arg(long, default_value_t = 1)]
    start: u64,
}

#[derive(Args, Clone)]
struct ImportArgs {
    #[command(flatten)]
    common: Common,
    /// Read an authentik (2025.12) PostgreSQL database, e.g. postgres://authentik@db/authentik.
    #[arg(long, value_name = "POSTGRES_URL", conflicts_with = "file")]
    from_authentik_db: Option<String>,
    /// Read a JSON-lines file in gatehouse's export format (docs/export-format.md), or an
    /// LDIF export (a name ending in .ldif: OpenLDAP, lldap).
    #[arg(
        value_name = "FILE.jsonl|FILE.ldif",
        required_unless_present = "from_authentik_db"
    )]
    file: Option<std::path::PathBuf>,
    /// Print what would be done; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct ExportArgs {
    #[command(flatten)]
    common: Common,
    /// The file to write (created readable by its owner only).
    #[arg(long, short, value_name = "FILE.jsonl")]
    output: std::path::PathBuf,
    /// Include every token's key in clear (recorded in the audit log).
    #[arg(long)]
    include_token_keys: bool,
}

/// `export`: a one-line summary on stderr.
async fn export(args: &ExportArgs) -> Result<(), String> {
    let config = Config::load(&args.common.flags()).map_err(|e| e.to_string())?;
    init_logging(&config);
    let options = gatehouse::cli::export::ExportOptions {
        output: args.output.clone(),
        include_token_keys: args.include_token_keys,
    };
    let summary = gatehouse::cli::export::run(config, &options)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("{summary}");
    Ok(())
}

/// `import`: the report on stdout, progress on stderr (on a terminal).
async fn import(args: &ImportArgs) -> Result<(), String> {
    let config = Config::load(&args.common.flags()).map_err(|e| e.to_string())?;
    init_logging(&config);
    let options = gatehouse::cli::import::ImportOptions {
        from_authentik_db: args.from_authentik_db.clone(),
        file: args.file.clone(),
        dry_run: args.dry_run,
        json: args.json,
    };
    gatehouse::cli::import::run(config, &options)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// `seed-users`: the bulk path of the benchmark harness (bench/run).
async fn seed_users(args: &SeedArgs) -> Result<(), String> {
    let config = Config::load(&args.common.flags()).map_err(|e| e.to_string())?;
    init_logging(&config);
    let started = std::time::Instant::now();
    let prepared = app::prepare(config).await.map_err(|e| e.to_string())?;
    let store = &prepared.state.store;
    let inserted = gatehouse::store::bulk::insert_users(store, args.start, args.count)
        .await
        .map_err(|e| e.to_string())?;
    let range = gatehouse::store::bulk::id_range(store)
        .await
        .map_err(|e| e.to_string())?;
    // Statistics and the search index must describe the table as it now is.
    store.after_bulk_load().await.map_err(|e| e.to_string())?;
    store.close().await;
    let (first, last) = range.unwrap_or((0, -1));
    println!(
        "{{\"inserted\": {inserted}, \"first_id\": {first}, \"last_id\": {last}, \"seconds\": {:.3}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    let (common, serve) = match &cli.command {
        Command::Serve(c) => (c.clone(), true),
        Command::Migrate(c) => (c.clone(), false),
        Command::SeedUsers(args) => return seed_users(args).await,
        Command::Import(args) => return import(args).await,
        Command::Export(args) => return export(args).await,
        Command::Backup(_)
        | Command::Users(_)
        | Command::Tokens(_)
        | Command::Groups(_)
        | Command::Completions { .. } => return Err("this command runs before this".into()),
    };
    let config = Config::load(&common.flags()).map_err(|e| e.to_string())?;
    init_logging(&config);
    if !serve {
        let store = gatehouse::store::Store::connect(&config.database_url, 2)
            .await
            .map_err(|e| e.to_string())?;
        store.migrate().await.map_err(|e| e.to_string())?;
        store.close().await;
        tracing::info!(database = %redact_url(&config.database_url), "migrations applied");
        return Ok(());
    }
    let listen = config.listen;
    let database = redact_url(&config.database_url);
    let prepared = app::prepare(config).await.map_err(|e| e.to_string())?;
    let listener = app::bind(listen).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let ldap = app::bind_ldap(&prepared.state.config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(key) = &prepared.generated_token {
        // Shown once, on the first start only; never logged.
        eprintln!();
        eprintln!(
            "gatehouse: first start — created user akadmin with an API token (shown only now):"
        );
        eprintln!();
        eprintln!("    {key}");
        eprintln!();
        eprintln!("Try it:");
        eprintln!("    curl -H 'Authorization: Bearer {key}' http://{addr}/api/v3/core/users/");
        eprintln!();
        eprintln!(
            "Set GATEHOUSE_BOOTSTRAP_TOKEN before the first start to choose the key yourself."
        );
        eprintln!();
    }
    tracing::info!(%addr, database = %database, "gatehouse listening");
    if let Some(l) = &ldap {
        let base_dn = &prepared.state.config.ldap_base_dn;
        let starttls = l.tls.is_some();
        if let Some(plain) = &l.plain {
            let ldap_addr = plain.local_addr().map_err(|e| e.to_string())?;
            tracing::info!(%ldap_addr, %base_dn, starttls, "LDAP listening");
        }
        if let Some(ldaps) = &l.ldaps {
            let ldaps_addr = ldaps.local_addr().map_err(|e| e.to_string())?;
            tracing::info!(%ldaps_addr, %base_dn, "LDAPS listening");
        }
    }
    app::serve(listener, ldap, prepared.state, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    // Before any thread or connection exists.
    gatehouse::store::writer::disable_memory_statistics();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatehouse: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Users(command) => return runtime.block_on(admin::users::run(command)),
        Command::Tokens(command) => return runtime.block_on(admin::tokens::run(command)),
        Command::Groups(command) => return runtime.block_on(admin::groups::run(command)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "gatehouse",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    if let Command::Backup(args) = &cli.command {
        let config = match Config::load(&args.common.flags()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                return ExitCode::FAILURE;
            }
        };
        return runtime.block_on(gatehouse::cli::backup::run(
            &config.database_url,
            &args.output,
            args.force,
        ));
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}
