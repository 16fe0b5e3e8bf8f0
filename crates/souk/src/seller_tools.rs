//! The seller toolkit on the command line: `souk example-seller`, `souk isv-test`,
//! `souk bench signatures`. Thin wrappers: the work lives in `souk-isv`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use souk_isv::example::{serve_example, ExampleConfig};
use souk_isv::tester::{self, TesterConfig};
use souk_isv::{EncryptType, Generation, Profile};

#[derive(Subcommand)]
pub enum SellerCommand {
    /// Run the example seller: a complete in-memory production interface built on the SDK.
    ExampleSeller {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// The seller Key (shared secret with the marketplace).
        #[arg(long, env = "SOUK_SELLER_KEY", hide_env_values = true)]
        key: String,
        /// Protocol generation: v1 (GET), v2 (POST) or auto (GET = V1, POST = V2).
        #[arg(long, value_enum, default_value_t = ProfileArg::Auto)]
        profile: ProfileArg,
        /// AES size of the credentials in appInfo (256 → encryptType "1", 128 → "2").
        #[arg(long, default_value_t = 256, value_parser = parse_bits)]
        encrypt: u32,
        /// V2 newInstance answers 000004 and the instance opens on the next queryInstance.
        #[arg(long)]
        async_open: bool,
    },
    /// Test a seller's production interface the way the marketplace calls it (testFlag=1).
    IsvTest {
        /// The production URL.
        url: String,
        /// The seller Key.
        #[arg(long, env = "SOUK_SELLER_KEY", hide_env_values = true)]
        key: String,
        /// Protocol generation to speak.
        #[arg(long, value_enum, default_value_t = GenerationArg::V2)]
        profile: GenerationArg,
        /// Activities to test (comma-separated; `all` adds the License activities).
        #[arg(long, value_delimiter = ',')]
        activities: Option<Vec<String>>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Write the passing requests as replayable JSON cases into this directory.
        #[arg(long)]
        save_cases: Option<PathBuf>,
        /// A call slower than this fails (the latency warning is at half of it).
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Your product creates the buyer's account from the e-mail and phone, encrypted at
        /// this key size (128 or 256): V1 newInstance carries both, and the test checks that
        /// you decrypt them.
        #[arg(long, value_parser = ["128", "256"])]
        buyer_pii: Option<String>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

/// `souk bench …`. Other benchmarks (provisioning, heartbeat) belong here too.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Signatures verified per second on one core: V1 authToken, V2 signature, Body-Sign,
    /// beside raw HMAC-SHA256 over the same input sizes.
    Signatures {
        /// Measuring time per case, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        millis: u64,
    },
    /// Paid orders to open instances: a real Souk and the example seller on loopback; orders/s
    /// and p50/p99 from payment to open instance.
    Provision {
        /// Orders to pay.
        #[arg(long, default_value_t = 2000)]
        orders: usize,
        /// Buyers the orders are spread over.
        #[arg(long, default_value_t = 50)]
        buyers: usize,
        /// Payments per second (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// Concurrent paying clients.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
        /// Sellers the orders are spread over, each with its own example server and product.
        #[arg(long, default_value_t = 1)]
        sellers: usize,
        /// The last this many sellers hang every call until Souk's seller timeout; only the
        /// others' orders are measured.
        #[arg(long, default_value_t = 0)]
        slow_sellers: usize,
        /// Keep the slow sellers healthy: the all-healthy figure for the same orders.
        #[arg(long)]
        control: bool,
        /// SQLite: run the provisioning transactions through sqlx's writer connection, one
        /// thread hop per statement, as before the dedicated writer (to compare the two).
        #[arg(long)]
        sqlx_writer: bool,
        /// PostgreSQL: outcome rounds recorded at once (default: `provisioning.recorders`).
        #[arg(long)]
        recorders: Option<u32>,
    },
    /// Storefront search over many listed products (Chinese and English names): seeds them,
    /// then times `GET /shop?…` pages for a mix of queries, filters and sorts; p50/p99.
    Search {
        /// Listed products to seed.
        #[arg(long, default_value_t = 100_000)]
        products: usize,
        /// Storefront pages to time.
        #[arg(long, default_value_t = 2000)]
        queries: usize,
        /// Concurrent browsers.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Signed License heartbeats per second over loopback, from a client on its own runtime,
    /// beside a bare axum handler; p50/p99.
    Heartbeat {
        /// License codes to spread the heartbeats over (each activated on one machine).
        #[arg(long, default_value_t = 200)]
        codes: u32,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Measuring time for each of the two servers, in seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Memory of `souk serve` under a mixed load with /metrics never scraped: RSS at the start,
    /// every --report-every seconds and at the end (Linux).
    Memory {
        /// How long to run the load.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds between RSS reports.
        #[arg(long, default_value_t = 60)]
        report_every: u64,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Usage records per second through the push API (signed batches of 1,000 with a share
    /// of duplicates, from a second process), then the time to rate them all.
    Usage {
        /// On-demand instances the records are spread over.
        #[arg(long, default_value_t = 10)]
        instances: usize,
        /// Pushes of 1,000 records.
        #[arg(long, default_value_t = 300)]
        batches: usize,
        /// Pushes in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Percent of each push that repeats records of an earlier push.
        #[arg(long, default_value_t = 10)]
        duplicate_percent: u32,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The load generator of `bench usage`, run by it as a second process.
    #[command(hide = true)]
    UsageClient {
        #[arg(long)]
        souk: String,
        #[arg(long)]
        batches: usize,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        duplicate_percent: u32,
    },
    /// A month's settlement run over N completed orders of M sellers (seeded in bulk), and
    /// the reproducibility check over the result.
    Settlement {
        #[arg(long, default_value_t = 1_000_000)]
        orders: usize,
        #[arg(long, default_value_t = 1_000)]
        sellers: usize,
        /// Database to run on (default: SQLite in a temp dir). It is migrated and filled,
        /// unless it already lists `--products` products: then it is reused as it is.
        #[arg(long)]
        database_url: Option<String>,
        /// Skip timing the reproducibility check.
        #[arg(long)]
        no_check: bool,
    },
    /// The load generator of `bench heartbeat`, run by it as a second process.
    #[command(hide = true)]
    HeartbeatClient {
        #[arg(long)]
        souk: String,
        #[arg(long)]
        bare: String,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        seconds: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Auto,
    V1,
    V2,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GenerationArg {
    V1,
    V2,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn parse_bits(s: &str) -> Result<u32, String> {
    match s {
        "128" => Ok(128),
        "256" => Ok(256),
        _ => Err("expected 128 or 256".into()),
    }
}

pub async fn run(command: SellerCommand) -> anyhow::Result<()> {
    match command {
        SellerCommand::ExampleSeller {
            listen,
            key,
            profile,
            encrypt,
            async_open,
        } => {
            let mut config = ExampleConfig::new(key);
            config.profile = match profile {
                ProfileArg::Auto => Profile::Auto,
                ProfileArg::V1 => Profile::V1,
                ProfileArg::V2 => Profile::V2,
            };
            config.encrypt_type = EncryptType::from_bits(encrypt).unwrap_or_default();
            config.async_open = async_open;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            println!(
                "example seller listening on http://{addr}/ (profile {}, AES-{}, encryptType \"{}\")",
                config.profile,
                config.encrypt_type.bits(),
                config.encrypt_type.as_str()
            );
            serve_example(listener, config, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving the example seller")?;
            Ok(())
        }
        SellerCommand::IsvTest {
            url,
            key,
            profile,
            activities,
            format,
            save_cases,
            timeout_ms,
            buyer_pii,
        } => {
            let generation = match profile {
                GenerationArg::V1 => Generation::V1,
                GenerationArg::V2 => Generation::V2,
            };
            let mut config = TesterConfig::new(url, key, generation);
            config.activities = activities;
            config.save_cases = save_cases;
            config.buyer_pii = buyer_pii
                .and_then(|b| b.parse().ok())
                .and_then(EncryptType::from_bits);
            config.timeout = Duration::from_millis(timeout_ms.max(1));
            config.warn_after = (config.timeout / 2).min(tester::DEFAULT_WARN);
            let report = tester::run(config).await?;
            match format {
                Format::Text => println!("{}", report.to_text()),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report.to_json())?),
            }
            if !report.is_success() {
                // The report is the output; the exit code only says "not conformant".
                std::process::exit(1);
            }
            Ok(())
        }
        SellerCommand::Bench {
            command: BenchCommand::Signatures { millis },
        } => {
            let report = tokio::task::spawn_blocking(move || {
                souk_isv::bench::signatures(Duration::from_millis(millis.max(1)))
            })
            .await?;
            println!("{report}");
            Ok(())
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Memory {
                    minutes,
                    concurrency,
                    report_every,
                    database_url,
                },
        } => {
            crate::bench_memory::run(crate::bench_memory::MemoryBench {
                minutes,
                concurrency,
                report_every,
                database_url,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Search {
                    products,
                    queries,
                    concurrency,
                    database_url,
                },
        } => {
            crate::bench_search::run(crate::bench_search::SearchBench {
                products,
                queries,
                concurrency,
                database_url,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Provision {
                    orders,
                    buyers,
                    rate,
                    concurrency,
                    database_url,
                    sellers,
                    slow_sellers,
                    control,
                    sqlx_writer,
                    recorders,
                },
        } => {
            souk_store::SqlStore::use_dedicated_sqlite_writer(!sqlx_writer);
            crate::bench_provision::run(crate::bench_provision::ProvisionBench {
                orders,
                buyers,
                rate,
                concurrency,
                database_url,
                sellers,
                slow_sellers,
                control,
                recorders,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Settlement {
                    orders,
                    sellers,
                    database_url,
                    no_check,
                },
        } => {
            crate::bench_settlement::run(crate::bench_settlement::SettlementBench {
                orders,
                sellers,
                database_url,
                check: !no_check,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Heartbeat {
                    codes,
                    concurrency,
                    seconds,
                    database_url,
                },
        } => {
            crate::bench_heartbeat::run(crate::bench_heartbeat::HeartbeatBench {
                codes,
                concurrency,
                seconds,
                database_url,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::Usage {
                    instances,
                    batches,
                    concurrency,
                    duplicate_percent,
                    database_url,
                },
        } => {
            crate::bench_usage::run(crate::bench_usage::UsageBench {
                instances,
                batches,
                concurrency,
                duplicate_percent,
                database_url,
            })
            .await
        }
        SellerCommand::Bench {
            command:
                BenchCommand::UsageClient {
                    souk,
                    batches,
                    concurrency,
                    duplicate_percent,
                },
        } => crate::bench_usage::client(souk, batches, concurrency, duplicate_percent).await,
        SellerCommand::Bench {
            command:
                BenchCommand::HeartbeatClient {
                    souk,
                    bare,
                    concurrency,
                    seconds,
                },
        } => crate::bench_heartbeat::client(souk, bare, concurrency, seconds).await,
    }
}
