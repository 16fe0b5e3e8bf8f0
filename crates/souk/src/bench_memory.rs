//! `souk bench memory`: does Souk's memory stay flat under load when nobody scrapes `/metrics`?
//!
//! Starts `souk serve` as a child process (SQLite in a temp dir, or `--database-url`), an example
//! seller in this process, a seller with a listed product and a buyer, then runs a mixed load for
//! `--minutes` — reads (`/v1/me`, `/v1/orders`, `/v1/products/{id}`, `/healthz`, unknown routes)
//! and every tenth request a paid order that Souk provisions at the seller — without ever
//! requesting `/metrics`. It prints the child's resident set size (VmRSS, Linux) at the start,
//! every `--report-every` seconds and at the end.

use crate::demo::{product_body, Api, DEMO_SELLER_KEY};
use anyhow::{bail, Context};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct MemoryBench {
    pub minutes: f64,
    pub concurrency: usize,
    pub report_every: u64,
    pub database_url: Option<String>,
}

/// The child `souk serve`; killed when dropped.
struct ServeChild {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident set size of a process in KiB (Linux: /proc/PID/status).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/PID/status (bench memory needs Linux)")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

fn start_souk(
    database_url: Option<&str>,
    operator_key: &str,
) -> anyhow::Result<(ServeChild, String)> {
    let dir = tempfile::tempdir()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--allow-private-endpoints",
        "--data-dir",
    ])
    .arg(dir.path())
    .env("SOUK_BOOTSTRAP_OPERATOR_KEY", operator_key)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().context("starting souk serve")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let child = ServeChild { child, _dir: dir };
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let Some(line) = lines.next() else {
            bail!("souk serve exited before listening");
        };
        if let Some(rest) = line?.split("http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, format!("http://{addr}")))
}

pub async fn run(b: MemoryBench) -> anyhow::Result<()> {
    let op = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
    let (souk, base) = start_souk(b.database_url.as_deref(), &op)?;
    let pid = souk.child.id();
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        base,
    });
    let example = souk_isv::example::ExampleSeller::spawn(souk_isv::example::ExampleConfig::new(
        DEMO_SELLER_KEY,
    ))
    .await?;
    let party = |collection: &'static str| {
        let (api, op) = (api.clone(), op.clone());
        async move {
            let p = api
                .call(
                    "POST",
                    &format!("/v1/{collection}"),
                    &op,
                    Some(json!({"name": collection})),
                )
                .await?;
            let id = p["id"].as_str().context("party id")?.to_owned();
            let k = api
                .call(
                    "POST",
                    &format!("/v1/{collection}/{id}/api-keys"),
                    &op,
                    Some(json!({})),
                )
                .await?;
            anyhow::Ok((id, k["secret"].as_str().context("key")?.to_owned()))
        }
    };
    let (_, seller) = party("sellers").await?;
    let (buyer_id, buyer) = party("buyers").await?;
    api.call(
        "POST",
        &format!("/v1/buyers/{buyer_id}/balance/top-ups"),
        &op,
        Some(json!({"amount": {"amount_minor": 1_000_000_000_000i64, "currency": "CNY"}})),
    )
    .await?;
    let url = format!("{}produce", example.url());
    let product = api
        .call("POST", "/v1/products", &seller, Some(product_body(&url)))
        .await?;
    let product_id = product["id"].as_str().context("product id")?.to_owned();
    api.call(
        "POST",
        &format!("/v1/products/{product_id}/submit"),
        &seller,
        Some(json!({})),
    )
    .await?;
    let listed = api
        .call(
            "POST",
            &format!("/v1/products/{product_id}/approve"),
            &op,
            Some(json!({})),
        )
        .await?;
    let sku = listed["skus"][0]["id"].as_str().context("sku")?.to_owned();

    let rss_start = rss_kib(pid)?;
    println!(
        "souk serve pid {pid}: RSS at start {} (load: {} clients for {} min, /metrics never scraped)",
        mib(rss_start),
        b.concurrency,
        b.minutes
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(b.minutes * 60.0);
    let requests = Arc::new(AtomicU64::new(0));
    let orders = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..b.concurrency.max(1) {
        let (api, buyer, sku, product_id) =
            (api.clone(), buyer.clone(), sku.clone(), product_id.clone());
        let (requests, orders) = (requests.clone(), orders.clone());
        tasks.spawn(async move {
            let mut i = worker as u64;
            while Instant::now() < deadline {
                i += 1;
                match i % 10 {
                    0 => {
                        let o = api
                            .call(
                                "POST",
                                "/v1/orders",
                                &buyer,
                                Some(json!({"sku_id": sku, "billing_mode": "monthly"})),
                            )
                            .await?;
                        let id = o["id"].as_str().context("order id")?;
                        api.call("POST", &format!("/v1/orders/{id}/pay"), &buyer, None)
                            .await?;
                        orders.fetch_add(1, Ordering::Relaxed);
                        requests.fetch_add(2, Ordering::Relaxed);
                        continue;
                    }
                    1..=3 => api.call("GET", "/v1/me", &buyer, None).await.map(drop),
                    4 | 5 => api
                        .call("GET", "/v1/orders?limit=20", &buyer, None)
                        .await
                        .map(drop),
                    6 | 7 => api
                        .call("GET", &format!("/v1/products/{product_id}"), &buyer, None)
                        .await
                        .map(drop),
                    8 => api.call("GET", "/healthz", &buyer, None).await.map(drop),
                    // An unknown route answers 404: errors are requests too.
                    _ => {
                        let _ = api
                            .call("GET", &format!("/v1/nowhere/{i}"), &buyer, None)
                            .await;
                        Ok(())
                    }
                }?;
                requests.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    let mut peak = rss_start;
    let every = Duration::from_secs(b.report_every.max(1));
    loop {
        let wait = every.min(deadline.saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            break;
        }
        tokio::time::sleep(wait).await;
        let rss = rss_kib(pid)?;
        peak = peak.max(rss);
        println!(
            "  {:>6.1} min: RSS {} | {} requests, {} paid orders",
            started.elapsed().as_secs_f64() / 60.0,
            mib(rss),
            requests.load(Ordering::Relaxed),
            orders.load(Ordering::Relaxed)
        );
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let rss_end = rss_kib(pid)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "memory: RSS {} at start, {} after {:.1} min (peak {}) | {} requests ({:.0}/s), {} paid orders",
        mib(rss_start),
        mib(rss_end),
        secs / 60.0,
        mib(peak.max(rss_end)),
        requests.load(Ordering::Relaxed),
        requests.load(Ordering::Relaxed) as f64 / secs,
        orders.load(Ordering::Relaxed)
    );
    drop(souk);
    example.shutdown().await;
    Ok(())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
