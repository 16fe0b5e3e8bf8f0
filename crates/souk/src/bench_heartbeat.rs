//! `souk bench heartbeat`: how fast Souk answers signed License heartbeats, next to a bare
//! axum handler on the same machine.
//!
//! A real Souk (HTTP API, workers, the chosen database) runs in this process; a seller with a
//! License product whose codes Souk issues, a buyer who bought `codes` of them, an AK/SK pair,
//! and every code activated on one machine are set up through the HTTP API. Then a client in a
//! second process (`souk bench heartbeat-client`) sends real `SDK-HMAC-SHA256`-signed heartbeats over
//! loopback keep-alive connections (`concurrency` at once, for `seconds`), and afterwards the
//! same requests to a bare axum handler that answers a constant JSON body. The last line is the
//! comparison.

use crate::bench_support::BenchSouk;
use crate::demo::product_body;
use anyhow::{bail, Context};
use serde_json::json;
use souk_isv::souk_protocol::apig::{self, RequestParts};
use souk_isv::souk_protocol::SecretKey;
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEARTBEAT: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";

pub struct HeartbeatBench {
    pub codes: u32,
    pub concurrency: usize,
    pub seconds: u64,
    pub database_url: Option<String>,
}

/// One measured load, as the client process reports it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Summary {
    requests: usize,
    errors: usize,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Load {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Load {
    /// What the client process reports to the parent.
    fn summary(&self) -> Summary {
        Summary {
            requests: self.requests,
            errors: self.errors,
            rate: self.rate(),
            p50_ms: self.percentile_ms(0.50),
            p99_ms: self.percentile_ms(0.99),
        }
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }

        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

pub async fn run(b: HeartbeatBench) -> anyhow::Result<()> {
    let server = BenchSouk::start(b.database_url.clone(), |_| {}).await?;
    let (backend, addr, api) = (server.backend, server.addr, &server.api);

    // Seller, License product with Souk-issued codes, AK/SK.
    let (sid, skey) = server.party("sellers", "Bench Seller").await?;
    let mut body = product_body("http://127.0.0.1:9/produce");
    body["delivery_type"] = json!("license");
    body["quantity"] = json!({"name": "licenses", "unit": "license", "min": 1, "max": 10000, "wire_field": "amount"});
    body["prices"] = json!([{"billing_mode": "yearly", "amount_minor": 100}]);
    body["integration"]["license_mode"] = json!("souk_codes");
    let approved = server.list_product(&skey, body).await?;
    let sku = approved["skus"][0]["id"]
        .as_str()
        .context("sku")?
        .to_owned();
    let aks = api
        .call(
            "POST",
            &format!("/v1/sellers/{sid}/access-keys"),
            &skey,
            Some(json!({})),
        )
        .await?;
    let ak = aks["access_key"].as_str().context("ak")?.to_owned();
    let sk = aks["secret_key"].as_str().context("sk")?.to_owned();

    // A buyer buys the codes.
    let (_, bkey) = server.buyer("Bench Buyer", 100_000_000).await?;
    let order = api
        .call(
            "POST",
            "/v1/orders",
            &bkey,
            Some(json!({"sku_id": sku, "billing_mode": "yearly", "quantity": b.codes.clamp(1, 10_000)})),
        )
        .await?;
    let oid = order["id"].as_str().context("order id")?;
    let paid = api
        .call(
            "POST",
            &format!("/v1/orders/{oid}/pay"),
            &bkey,
            Some(json!({})),
        )
        .await?;
    let iid = paid["instance_id"].as_str().context("instance id")?;
    let codes: Vec<String> = api
        .call(
            "GET",
            &format!("/v1/instances/{iid}/license-codes"),
            &bkey,
            None,
        )
        .await?["data"]
        .as_array()
        .context("codes")?
        .iter()
        .filter_map(|c| c["code"].as_str().map(str::to_owned))
        .collect();

    // The bare handler: same machine, same kind of server, a constant answer.
    let bare = axum::Router::new().route(
        HEARTBEAT,
        axum::routing::post(|| async {
            axum::Json(json!({"error_code": "92020000", "error_msg": "success", "data": {"status": "ALIVE"}}))
        }),
    );
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare_listener.local_addr()?;
    let bare_server = tokio::spawn(async move { axum::serve(bare_listener, bare).await });

    // The client is a second process (this binary, `souk bench heartbeat-client`), so that
    // its CPU use is accounted to it and it shares nothing with the servers but the machine.
    let (concurrency, seconds) = (b.concurrency.max(1), b.seconds.max(1));
    let exe = std::env::current_exe().context("locating the souk binary")?;
    let out = tokio::process::Command::new(exe)
        .args(["bench", "heartbeat-client", "--souk"])
        .arg(addr.to_string())
        .arg("--bare")
        .arg(bare_addr.to_string())
        .arg("--concurrency")
        .arg(concurrency.to_string())
        .arg("--seconds")
        .arg(seconds.to_string())
        .env("SOUK_BENCH_AK", &ak)
        .env("SOUK_BENCH_SK", &sk)
        .env("SOUK_BENCH_CODES", codes.join(","))
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running the heartbeat client process")?;
    anyhow::ensure!(out.status.success(), "the heartbeat client process failed");
    let (souk, bare): (Summary, Summary) =
        serde_json::from_slice(&out.stdout).context("reading the heartbeat client's report")?;

    let line = |name: &str, l: &Summary| {
        println!(
            "{name}: {} requests, {} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            l.requests, l.errors, l.rate, l.p50_ms, l.p99_ms
        )
    };
    println!(
        "{} codes, {concurrency} concurrent keep-alive connections, {seconds} s each, client in a second process; {backend}",
        b.codes
    );
    line("bare axum handler", &bare);
    line("souk heartbeat", &souk);
    if souk.errors > 0 {
        bail!("{} heartbeats failed", souk.errors);
    }
    println!(
        "heartbeat: {:.0} req/s = {:.0}% of bare handler {:.0} req/s, p99 {:.2} ms ({backend})",
        souk.rate,
        100.0 * souk.rate / bare.rate.max(1.0),
        bare.rate,
        souk.p99_ms
    );
    bare_server.abort();
    server.stop().await?;
    Ok(())
}

/// Signs a heartbeat POST exactly as KooGallery seller software does.
fn signed(ak: &str, sk: &str, host: &str, path: &str, body: &[u8]) -> (String, String) {
    let date = apig::sdk_date(time::OffsetDateTime::now_utc());
    let headers = [
        ("Host", host),
        ("X-Sdk-Date", date.as_str()),
        ("Content-Type", "application/json"),
    ];
    let auth = apig::sign(
        ak,
        &SecretKey::new(sk),
        &RequestParts {
            method: "POST",
            path,
            query: "",
            headers: &headers,
            body,
        },
    )
    .unwrap_or_default();
    (date, auth)
}

async fn activate_all(host: &str, creds: &(String, String, Vec<String>)) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let path = "/api/mkp-openapi-public/global/v1/license/activate";
    for (i, code) in creds.2.iter().enumerate() {
        let body = serde_json::to_vec(
            &json!({"license": code, "machine_fingerprint": format!("bench-machine-{i}")}),
        )?;
        let (date, auth) = signed(&creds.0, &creds.1, host, path, &body);
        let r: serde_json::Value = http
            .post(format!("http://{host}{path}"))
            .header("X-Sdk-Date", date)
            .header("Content-Type", "application/json")
            .header("Authorization", auth)
            .body(body)
            .send()
            .await?
            .json()
            .await?;
        if r["error_code"] != "92020000" {
            bail!("activating {code}: {r}");
        }
    }
    Ok(())
}

async fn load(
    host: String,
    creds: Arc<(String, String, Vec<String>)>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let (http, host, creds) = (http.clone(), host.clone(), creds.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = w;
            while Instant::now() < deadline {
                let n = i % creds.2.len().max(1);
                i += concurrency;
                let body = format!(
                    r#"{{"license":"{}","machine_fingerprint":"bench-machine-{n}"}}"#,
                    creds.2.get(n).map(String::as_str).unwrap_or("none")
                );
                let (date, auth) = signed(&creds.0, &creds.1, &host, HEARTBEAT, body.as_bytes());
                let t = Instant::now();
                let res = http
                    .post(format!("http://{host}{HEARTBEAT}"))
                    .header("X-Sdk-Date", date)
                    .header("Content-Type", "application/json")
                    .header("Authorization", auth)
                    .body(body)
                    .send()
                    .await;
                let ok = match res {
                    Ok(r) => {
                        let status = r.status();
                        let bytes = r.bytes().await.unwrap_or_default();
                        status.is_success() && bytes.windows(8).any(|w| w == b"92020000")
                    }
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r?;
        latencies_us.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Load {
        requests: latencies_us.len(),
        errors,
        elapsed,
        latencies_us,
    })
}

/// `souk bench heartbeat-client`: the load generator, run as a second process by
/// `souk bench heartbeat`. Activates the codes, warms up, measures Souk then the bare handler,
/// and prints one JSON report on stdout.
pub async fn client(
    souk: String,
    bare: String,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let codes: Vec<String> = var("SOUK_BENCH_CODES")?
        .split(',')
        .map(str::to_owned)
        .collect();
    let creds = Arc::new((var("SOUK_BENCH_AK")?, var("SOUK_BENCH_SK")?, codes));
    activate_all(&souk, &creds).await?;
    let secs = Duration::from_secs(seconds.max(1));
    let warm = Duration::from_millis(500);
    load(souk.clone(), creds.clone(), concurrency, warm).await?;
    let s = load(souk, creds.clone(), concurrency, secs).await?;
    load(bare.clone(), creds.clone(), concurrency, warm).await?;
    let b = load(bare, creds, concurrency, secs).await?;
    println!("{}", serde_json::to_string(&(s.summary(), b.summary()))?);
    Ok(())
}
