//! `souk`: the marketplace server and its tools in one binary.
//!
//! `main` only parses the command line and dispatches; everything else lives in the library
//! crates so that the tests drive the same code.

mod admin;
mod seller_tools;

use anyhow::Context;
use clap::{Parser, Subcommand};
use souk_core::clock::SystemClock;
use souk_server::config::{Config, LogFormat, Overrides};
use souk_server::App;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "souk", version, about = "An open-source cloud marketplace")]
struct Cli {
    /// Configuration file (default: ./souk.toml if it exists).
    #[arg(long, global = true, env = "SOUK_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, master key). Overrides SOUK_DATA_DIR.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB. Overrides SOUK_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the marketplace: HTTP API and background workers.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080). Overrides SOUK_LISTEN.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Let sellers use loopback/private endpoint URLs (SSRF guard off; for on-premises use).
        #[arg(long)]
        allow_private_endpoints: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks run directly against the database.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    #[command(flatten)]
    Seller(seller_tools::SellerCommand),
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment, flags) with secrets
    /// redacted.
    Print,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (listen, allow_private_endpoints) = match &cli.command {
        Command::Serve {
            listen,
            allow_private_endpoints,
        } => (*listen, *allow_private_endpoints),
        _ => (None, false),
    };
    let overrides = Overrides {
        listen,
        allow_private_endpoints,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    init_tracing(config.log_format);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli.command, config))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let app = App::prepare(config, Arc::new(SystemClock)).await?;
            print_new_operator_key(&app);
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command } => {
            let app = App::prepare(config, Arc::new(SystemClock)).await?;
            print_new_operator_key(&app);
            admin::run(&app, command).await
        }
        Command::Seller(command) => seller_tools::run(command).await,
        Command::Config {
            command: ConfigCommand::Print,
        } => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let app = App::prepare(config, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    print_new_operator_key(&app);
    println!(
        "souk {} listening on http://{addr} ({})",
        env!("CARGO_PKG_VERSION"),
        app.state.store.backend().as_str()
    );
    tracing::info!(%addr, "listening");
    app.serve(listener, shutdown_signal()).await?;
    println!("souk stopped");
    Ok(())
}

/// The operator key is printed to stdout, not logged: log lines are collected and kept, and a
/// key must exist in exactly one place, the operator's hands.
fn print_new_operator_key(app: &App) {
    if let Some(key) = &app.new_operator_key {
        println!("operator API key (shown once, store it now): {key}");
    }
}

/// Completes on Ctrl-C or SIGTERM.
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

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
