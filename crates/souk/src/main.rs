//! `souk`: the marketplace server and its tools in one binary.
//!
//! `main` only parses the command line and dispatches; everything else lives in the library
//! crates so that the tests drive the same code.

mod admin;
mod backup;
mod bench_heartbeat;
mod bench_memory;
mod bench_provision;
mod bench_search;
mod bench_settlement;
mod bench_support;
mod bench_usage;
mod demo;
mod license_tool;
mod seller_tools;
mod settle;

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
        /// Sandbox with demo data: an in-process example seller, a listed product, a buyer
        /// with money, a movable clock (`souk clock advance 30d`).
        #[arg(long)]
        demo: bool,
    },
    /// Move or show the sandbox clock of a running `souk serve --demo` (operator key needed).
    Clock {
        #[command(subcommand)]
        command: ClockCommand,
        /// The running Souk.
        #[arg(
            long,
            env = "SOUK_URL",
            default_value = "http://127.0.0.1:8080",
            global = true
        )]
        url: String,
        /// An operator API key.
        #[arg(long, env = "SOUK_OPERATOR_KEY", hide_env_values = true, global = true)]
        key: Option<String>,
    },
    /// Offline license files: `souk license verify FILE --keys URL|FILE`.
    License {
        #[command(subcommand)]
        command: license_tool::LicenseCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Write a consistent snapshot of the SQLite database, with the master key, into FILE
    /// (works while Souk is serving). For PostgreSQL it prints the pg_dump procedure.
    Backup {
        /// The backup file to create (must not exist).
        file: PathBuf,
    },
    /// Restore a `souk backup` FILE into a new data directory (--data-dir NEW).
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Operator tasks run directly against the database.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Settle a closed month by hand (`--period YYYYMM`; idempotent), or `--check` that every
    /// statement recomputes from the order history and every ledger balances (exit 1 if not).
    Settle {
        /// The month, YYYYMM.
        #[arg(long)]
        period: Option<String>,
        /// Check instead of run (all statements, or those of --period).
        #[arg(long)]
        check: bool,
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
enum ClockCommand {
    /// Move the clock forward, e.g. `souk clock advance 30d` (d, h, m, s).
    Advance { by: String },
    /// Show the sandbox time.
    Show,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment, flags) with secrets
    /// redacted.
    Print,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The seller tools and the sandbox clock client do not read Souk's own configuration: a
    // seller running isv-test has no souk.toml, and a broken one must not stop them.
    let command = match cli.command {
        Command::Seller(command) => {
            init_tracing(LogFormat::Text);
            return runtime.block_on(seller_tools::run(command));
        }
        Command::Clock { command, url, key } => {
            init_tracing(LogFormat::Text);
            return runtime.block_on(clock(command, &url, key));
        }
        Command::License { command } => {
            let code = runtime.block_on(license_tool::run(command))?;
            std::process::exit(code);
        }
        other => other,
    };
    let (listen, allow_private_endpoints, demo) = match &command {
        Command::Serve {
            listen,
            allow_private_endpoints,
            demo,
        } => (*listen, *allow_private_endpoints || *demo, *demo),
        _ => (None, false, false),
    };
    let overrides = Overrides {
        listen,
        allow_private_endpoints,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let mut config = Config::load(cli.config.as_deref(), &overrides)?;
    if demo {
        config.sandbox = true;
    }
    init_tracing(config.log_format);
    runtime.block_on(run(command, config))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo, .. } => serve(config, demo).await,
        Command::Seller(_) | Command::Clock { .. } | Command::License { .. } => {
            anyhow::bail!("internal: this command runs without the configuration")
        }
        Command::Migrate => {
            let app = App::prepare(config, Arc::new(SystemClock)).await?;
            print_new_operator_key(&app);
            println!("migrations applied");
            Ok(())
        }
        Command::Backup { file } => backup::backup(&config, &file).await,
        Command::Restore { file } => backup::restore(&config, &file).await,
        Command::Admin { command } => {
            let app = App::prepare(config, Arc::new(SystemClock)).await?;
            print_new_operator_key(&app);
            admin::run(&app, command).await
        }
        Command::Settle { period, check } => {
            let app = App::prepare(config, Arc::new(SystemClock)).await?;
            print_new_operator_key(&app);
            let code = settle::run(&app, period, check).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Print,
        } => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let listen = config.listen;
    let sandbox = config.sandbox;
    // In sandbox mode the clock can be moved forward (souk clock advance); otherwise it is
    // the system clock, untouchable.
    let offset_clock = souk_core::clock::OffsetClock::new();
    let app = if sandbox {
        App::prepare_with(
            config,
            Arc::new(offset_clock.clone()),
            Some(offset_clock.clone()),
        )
        .await?
    } else {
        App::prepare(config, Arc::new(SystemClock)).await?
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    print_new_operator_key(&app);
    let backend = app.state.store.backend().as_str();
    if !demo {
        println!(
            "souk {} listening on http://{addr} ({backend})",
            env!("CARGO_PKG_VERSION")
        );
        tracing::info!(%addr, "listening");
        app.serve(listener, shutdown_signal()).await?;
        println!("souk stopped");
        return Ok(());
    }

    // The example seller shares the sandbox clock, so V2 timestamps stay in its window when
    // the clock moves.
    let mut seller_config = souk_isv::example::ExampleConfig::new(demo::DEMO_SELLER_KEY);
    let c = offset_clock.clone();
    seller_config.clock = Arc::new(move || souk_core::clock::Clock::now(&c));
    let data_dir = app.state.config.data_dir.clone();
    let mut kept = demo::DemoState::load(&data_dir)?;
    let example = souk_isv::example::ExampleSeller::spawn_on(
        demo::example_listener(&kept).await?,
        seller_config,
    )?;
    kept.example_port = Some(example.addr().port());
    let (seed_app, base) = (
        App {
            state: app.state.clone(),
            new_operator_key: None,
        },
        format!("http://{addr}"),
    );
    let server = tokio::spawn(app.serve(listener, shutdown_signal()));
    let keys = demo::seed(&seed_app, &base, &example.url(), &mut kept).await?;
    kept.save(&data_dir)?;
    println!(
        "souk {} demo (sandbox) listening on {base} ({backend})",
        env!("CARGO_PKG_VERSION")
    );
    println!("example seller (in-process) at {}", example.url());
    println!("operator key: {}", keys.operator);
    println!("seller key:   {}", keys.seller);
    println!(
        "buyer key:    {}   (buyer {}, 10,000.00 CNY)",
        keys.buyer, keys.buyer_id
    );
    println!("product:      {}", keys.product_id);
    for (edition, sku) in &keys.skus {
        println!("  sku {edition}: {sku}");
    }
    println!("console:      {base}/login");
    let password = keys
        .console_password
        .as_deref()
        .unwrap_or("(the one printed on the first start)");
    for (role, email) in &keys.logins {
        println!("  {role:<8} {email}  password {password}");
    }
    println!("walkthrough: docs/walkthrough.md; move time with: SOUK_OPERATOR_KEY=<operator key> souk clock advance 30d");
    server.await??;
    example.shutdown().await;
    println!("souk stopped");
    Ok(())
}

async fn clock(command: ClockCommand, url: &str, key: Option<String>) -> anyhow::Result<()> {
    let key = key.context("an operator key is needed: --key or SOUK_OPERATOR_KEY")?;
    let http = reqwest::Client::new();
    let base = url.trim_end_matches('/');
    let req = match command {
        ClockCommand::Advance { by } => http
            .post(format!("{base}/v1/sandbox/clock/advance"))
            .json(&serde_json::json!({ "by": by })),
        ClockCommand::Show => http.get(format!("{base}/v1/sandbox/clock")),
    };
    let res = req
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("calling {base}"))?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!("{}: {}", body["error"]["code"], body["error"]["message"]);
    }
    println!(
        "sandbox time: {} (ahead by {} s)",
        body["now"].as_str().unwrap_or("?"),
        body["offset_seconds"]
    );
    Ok(())
}

/// The operator key is printed to stdout, not logged: log lines are collected and kept, and a
/// key must exist in exactly one place, the operator's hands.
/// A key supplied through SOUK_BOOTSTRAP_OPERATOR_KEY is already in the operator's hands: only
/// its prefix is echoed, to say which one was accepted.
fn print_new_operator_key(app: &App) {
    let Some(key) = &app.new_operator_key else {
        return;
    };
    if app.state.config.bootstrap_operator_key.is_some() {
        let prefix: String = key.chars().take(10).collect();
        println!("operator API key from SOUK_BOOTSTRAP_OPERATOR_KEY accepted ({prefix}…)");
    } else {
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
