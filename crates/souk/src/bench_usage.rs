//! `souk bench usage`: how fast Souk ingests usage records, and how long rating them takes.
//!
//! A real Souk (HTTP API, the chosen database) runs in this process with the example seller; a
//! buyer opens `instances` on-demand instances through the ordinary purchase path, then the
//! marketplace clock moves 60 days on (so months of distinct usage windows are valid). A client
//! in a second process (`souk bench usage-client`) pushes `batches` signed pushes of 1,000
//! records (signature/ts/nonce, exactly as KooGallery sellers sign) over loopback keep-alive
//! connections, `concurrency` at once; a `duplicate_share` of every batch repeats records of an
//! earlier batch. The client checks that Souk reported every duplicate and stored every new
//! record, and reports records/s and the p99 per batch. Then one collection rates everything in
//! this process, timed.

use crate::bench_support::BenchSouk;
use crate::demo::{product_body, DEMO_SELLER_KEY};
use anyhow::{bail, Context};
use serde_json::json;
use souk_isv::souk_protocol::timestamp::TimestampFormat;
use souk_isv::souk_protocol::usage::{usage_signature, PATH};
use souk_isv::souk_protocol::SellerKey;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct UsageBench {
    pub instances: usize,
    pub batches: usize,
    pub concurrency: usize,
    /// Percent of each batch that repeats records already pushed.
    pub duplicate_percent: u32,
    pub database_url: Option<String>,
}

/// What the client process reports.
#[derive(serde::Serialize, serde::Deserialize)]
struct Report {
    batches: usize,
    records_sent: usize,
    accepted: usize,
    duplicates_reported: usize,
    duplicates_sent: usize,
    errors: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub async fn run(b: UsageBench) -> anyhow::Result<()> {
    let clock = souk_core::clock::OffsetClock::new();
    let server = BenchSouk::start_with_clock(
        b.database_url.clone(),
        // No background loops: the instances are opened by draining the engine here, and
        // the only collection is the timed one at the end.
        |c| c.provisioning.workers = false,
        Some(clock.clone()),
    )
    .await?;
    let engine = souk_server::workers::Engine::new(server.state.clone())?;
    let (backend, addr, api) = (server.backend, server.addr, &server.api);
    let seller = souk_isv::example::ExampleSeller::spawn(souk_isv::example::ExampleConfig::new(
        DEMO_SELLER_KEY,
    ))
    .await?;
    let (_, skey) = server.party("sellers", "Bench Metered Seller").await?;
    let mut body = product_body(&format!("{}produce", seller.url()));
    body["enum_attributes"] = json!([]);
    body["quantity"] = serde_json::Value::Null;
    body["prices"] = json!([{"billing_mode": "on_demand", "amount_minor": 1}]);
    let approved = server.list_product(&skey, body).await?;
    let sku = approved["skus"][0]["id"]
        .as_str()
        .context("sku")?
        .to_owned();
    let (_, bkey) = server.buyer("Bench Buyer", 1_000_000_000_000).await?;
    let mut instances = Vec::new();
    for _ in 0..b.instances.max(1) {
        let order = api
            .call(
                "POST",
                "/v1/orders",
                &bkey,
                Some(json!({"sku_id": sku, "billing_mode": "on_demand"})),
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
        instances.push(
            paid["instance_id"]
                .as_str()
                .context("instance id")?
                .to_owned(),
        );
    }
    // The engine opens the instances at the example seller.
    engine.drain().await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &instances {
        loop {
            let i = api
                .call("GET", &format!("/v1/instances/{id}"), &bkey, None)
                .await?;
            if i["state"] == "active" {
                break;
            }
            if Instant::now() > deadline {
                bail!("instance {id} did not open: {i}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let opened = server.state.clock.now() + time::Duration::seconds(1);
    clock
        .advance(time::Duration::days(60))
        .map_err(|e| anyhow::anyhow!("moving the clock: {e}"))?;

    let exe = std::env::current_exe().context("locating the souk binary")?;
    let out = tokio::process::Command::new(exe)
        .args(["bench", "usage-client", "--souk"])
        .arg(addr.to_string())
        .arg("--batches")
        .arg(b.batches.to_string())
        .arg("--concurrency")
        .arg(b.concurrency.max(1).to_string())
        .arg("--duplicate-percent")
        .arg(b.duplicate_percent.min(90).to_string())
        .env("SOUK_BENCH_INSTANCES", instances.join(","))
        .env(
            "SOUK_BENCH_FROM_MS",
            souk_core::clock::to_unix_ms(opened).to_string(),
        )
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running the usage client process")?;
    anyhow::ensure!(out.status.success(), "the usage client process failed");
    let r: Report = serde_json::from_slice(&out.stdout).context("reading the client's report")?;
    println!(
        "{} instances, {} batches of 1000 records ({}% repeated), {} concurrent connections, client in a second process; {backend}",
        instances.len(), r.batches, b.duplicate_percent, b.concurrency
    );
    println!(
        "ingest: {} records sent, {} stored, {} duplicates reported of {} sent, {} failed batches, {:.1} s",
        r.records_sent, r.accepted, r.duplicates_reported, r.duplicates_sent, r.errors, r.seconds
    );
    if r.errors > 0
        || r.duplicates_reported != r.duplicates_sent
        || r.accepted + r.duplicates_sent != r.records_sent
    {
        bail!("ingestion was not exact: see the line above");
    }
    println!(
        "usage ingest: {:.0} records/s accepted with exact dedupe, p50 {:.1} ms, p99 {:.1} ms per batch ({backend})",
        r.accepted as f64 / r.seconds, r.p50_ms, r.p99_ms
    );
    let started = Instant::now();
    let booked =
        souk_server::usecase::metering::collect(&server.state, server.state.clock.now()).await?;
    let took = started.elapsed();
    let charges = api
        .call(
            "GET",
            &format!("/v1/instances/{}/usage-charges", instances[0]),
            &bkey,
            None,
        )
        .await?;
    anyhow::ensure!(
        charges["data"].as_array().is_some_and(|c| c.len() == 1),
        "rating did not produce one charge per instance: {charges}"
    );
    println!(
        "rating: {} records into {booked} charges in {:.2} s ({backend})",
        r.accepted,
        took.as_secs_f64()
    );
    server.stop().await?;
    Ok(())
}

/// A record's JSON text: instance `i`, sequence `n` (one second of usage each).
fn record(instance: &str, n: u64, from_ms: i64) -> String {
    let begin = souk_core::clock::from_unix_ms(from_ms) + time::Duration::seconds(n as i64);
    let end = begin + time::Duration::seconds(1);
    let t = |x| TimestampFormat::Basic.format(x);
    format!(
        r#"{{"begin_time":"{}","end_time":"{}","instance_id":"{instance}","metering_sn":"sn-{n}","record_time":"{}","usage_value":"1.5"}}"#,
        t(begin),
        t(end),
        t(end)
    )
}

/// `souk bench usage-client`: the load generator, run as a second process by `souk bench
/// usage`. Prints one JSON report on stdout.
pub async fn client(
    souk: String,
    batches: usize,
    concurrency: usize,
    dup_percent: u32,
) -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let instances: Arc<Vec<String>> = Arc::new(
        var("SOUK_BENCH_INSTANCES")?
            .split(',')
            .map(str::to_owned)
            .collect(),
    );
    let from_ms: i64 = var("SOUK_BENCH_FROM_MS")?.parse()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let dup = (1000 * dup_percent as usize / 100).min(900);
    let fresh = 1000 - dup;
    // The batches are built before the clock starts: the seller's records exist before it
    // pushes them, and building 1,000 JSON records here would take CPU from the server under
    // test on a 2-core machine. Signing stays in the timed loop (a fresh `ts` per push).
    // Batch k: instance k % n; fresh records get sequence numbers of their own, the repeated
    // ones are the first records of the previous batch of the same instance (none for an
    // instance's first batch).
    let n_inst = instances.len();
    let bodies: Arc<Vec<(axum::body::Bytes, usize)>> = Arc::new(
        (0..batches)
            .map(|k| {
                let inst = &instances[k % n_inst];
                let round = (k / n_inst) as u64;
                let mut recs: Vec<String> = (0..fresh as u64)
                    .map(|j| record(inst, round * fresh as u64 + j, from_ms))
                    .collect();
                let dups_sent = if round > 0 {
                    recs.extend(
                        (0..dup as u64)
                            .map(|j| record(inst, (round - 1) * fresh as u64 + j, from_ms)),
                    );
                    dup
                } else {
                    recs.extend((0..dup as u64).map(|j| record(inst, 4_000_000 + j, from_ms)));
                    0
                };
                let body = format!(r#"{{"usage_records":[{}]}}"#, recs.join(","));
                (axum::body::Bytes::from(body), dups_sent)
            })
            .collect(),
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..concurrency {
        let (http, souk, bodies, next) = (http.clone(), souk.clone(), bodies.clone(), next.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let (mut accepted, mut dups, mut dups_sent, mut errors) =
                (0usize, 0usize, 0usize, 0usize);
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= batches {
                    break;
                }
                let (body, repeated) = &bodies[k];
                dups_sent += repeated;
                let ts = souk_core::clock::to_unix_ms(time::OffsetDateTime::now_utc()).to_string();
                let nonce = format!("bench-{k}-{ts}");
                let sig = usage_signature(&SellerKey::new(DEMO_SELLER_KEY), &ts, &nonce, body);
                let t = Instant::now();
                let res = http
                    .post(format!("http://{souk}{PATH}"))
                    .header("Content-Type", "application/json")
                    .header("signature", sig)
                    .header("ts", ts)
                    .header("nonce", nonce)
                    .body(body.clone())
                    .send()
                    .await;
                let answer: Option<serde_json::Value> = match res {
                    Ok(r) if r.status().is_success() => r.json().await.ok(),
                    _ => None,
                };
                lat.push(t.elapsed().as_micros() as u64);
                match answer {
                    Some(a)
                        if a["abnormal_usage_records"]
                            .as_array()
                            .is_some_and(Vec::is_empty) =>
                    {
                        accepted += a["accepted"].as_u64().unwrap_or(0) as usize;
                        dups += a["duplicates"].as_u64().unwrap_or(0) as usize;
                    }
                    _ => errors += 1,
                }
            }
            (lat, accepted, dups, dups_sent, errors)
        });
    }
    let mut lat = Vec::new();
    let mut r = Report {
        batches,
        records_sent: batches * 1000,
        accepted: 0,
        duplicates_reported: 0,
        duplicates_sent: 0,
        errors: 0,
        seconds: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
    };
    while let Some(t) = tasks.join_next().await {
        let (l, a, d, ds, e) = t?;
        lat.extend(l);
        r.accepted += a;
        r.duplicates_reported += d;
        r.duplicates_sent += ds;
        r.errors += e;
    }
    r.seconds = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize)
            .map_or(0.0, |v| *v as f64 / 1000.0)
    };
    r.p50_ms = pct(0.5);
    r.p99_ms = pct(0.99);
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}
