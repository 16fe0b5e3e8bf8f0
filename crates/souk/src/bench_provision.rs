//! `souk bench provision`: how fast paid orders become open instances.
//!
//! A real Souk (HTTP API, workers, the chosen database) and the example seller run in this
//! process on loopback. N orders are placed for M buyers, then paid over HTTP — all at once
//! (throughput) or at a fixed rate (latency at a given load). Latency is from the payment
//! (`paid_at`) to the instance being open (`opened_at`), both stamped by Souk's clock; the rate
//! is orders opened per second between the first payment and the last opening.
//!
//! Slow-seller mode (`--sellers 11 --slow-sellers 1`): the orders are spread over several
//! sellers, each with its own example server and listed product, and the last K of them hang
//! every call until Souk's seller timeout. Only the other sellers' orders are waited for and
//! measured; `--control` marks the same sellers but keeps them healthy, which gives the
//! all-healthy figure for exactly the same orders to compare with.

use crate::bench_support::BenchSouk;
use crate::demo::{product_body, Api, DEMO_SELLER_KEY};
use anyhow::Context;
use serde_json::json;
use souk_store::{Page, Scope};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ProvisionBench {
    pub orders: usize,
    pub buyers: usize,
    /// Payments per second; `None` pays everything as fast as the client can.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub database_url: Option<String>,
    /// Sellers the orders are spread over (each its own example server and product).
    pub sellers: usize,
    /// The last this many sellers hang every call until Souk's seller timeout.
    pub slow_sellers: usize,
    /// Keep the slow sellers healthy (the baseline to compare the slow-seller run with).
    pub control: bool,
    /// PostgreSQL: outcome rounds recorded at once (default: the configuration's).
    pub recorders: Option<u32>,
}

pub async fn run(b: ProvisionBench) -> anyhow::Result<()> {
    // One seller may hold at most a quarter of the slots: a seller hanging to the timeout then
    // leaves three quarters to the others (the rule docs/provisioning.md recommends).
    let recorders = b.recorders;
    let souk = BenchSouk::start(b.database_url.clone(), |c| {
        c.provisioning.concurrency = 256;
        c.provisioning.per_seller_concurrency = 64;
        if let Some(n) = recorders {
            c.provisioning.recorders = n;
        }
    })
    .await?;
    let backend = souk.backend;
    let state = souk.state.clone();
    anyhow::ensure!(
        b.slow_sellers < b.sellers.max(1),
        "--slow-sellers must leave at least one healthy seller"
    );

    // Sellers, each with its own example server and a listed product; the last
    // `slow_sellers` of them hang (unless this is the control run).
    let n_sellers = b.sellers.max(1);
    let mut examples = Vec::new();
    let mut skus = Vec::new();
    for i in 0..n_sellers {
        let example = souk_isv::example::ExampleSeller::spawn(
            souk_isv::example::ExampleConfig::new(DEMO_SELLER_KEY),
        )
        .await?;
        let (_, seller_key) = souk.party("sellers", &format!("Bench Seller {i}")).await?;
        let url = format!("{}produce", example.url());
        let approved = souk.list_product(&seller_key, product_body(&url)).await?;
        skus.push(
            approved["skus"][0]["id"]
                .as_str()
                .context("sku")?
                .to_owned(),
        );
        examples.push(example);
    }
    let slow = |seller: usize| seller >= n_sellers - b.slow_sellers;
    if !b.control {
        for (i, example) in examples.iter().enumerate() {
            if slow(i) {
                example.set_failing(Some(souk_isv::example::FailureMode::Hang));
            }
        }
    }
    let slow_skus: std::collections::HashSet<String> = skus
        .iter()
        .enumerate()
        .filter(|(i, _)| slow(*i))
        .map(|(_, s)| s.clone())
        .collect();

    // Buyers with money, and the orders to pay (not timed).
    eprintln!("placing {} orders for {} buyers…", b.orders, b.buyers);
    let mut buyers = Vec::new();
    for i in 0..b.buyers.max(1) {
        let (_, key) = souk
            .buyer(&format!("Bench Buyer {i}"), 1_000_000_000)
            .await?;
        buyers.push(key);
    }
    let api = &souk.api;
    let mut orders = Vec::with_capacity(b.orders);
    for i in 0..b.orders {
        let key = &buyers[i % buyers.len()];
        let sku = &skus[i % skus.len()];
        let o = api
            .call(
                "POST",
                "/v1/orders",
                key,
                Some(json!({"sku_id": sku, "billing_mode": "monthly"})),
            )
            .await?;
        orders.push((
            key.clone(),
            o["id"].as_str().context("order id")?.to_owned(),
        ));
    }

    // Pay.
    eprintln!("paying…");
    let started = Instant::now();
    let api = Arc::new(Api {
        http: souk.api.http.clone(),
        base: souk.api.base.clone(),
    });
    let queue = Arc::new(tokio::sync::Mutex::new(orders.into_iter().enumerate()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..b.concurrency.max(1) {
        let (api, queue) = (api.clone(), queue.clone());
        let rate = b.rate;
        tasks.spawn(async move {
            loop {
                let next = queue.lock().await.next();
                let Some((i, (key, id))) = next else { break };
                if let Some(r) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / r);
                    tokio::time::sleep_until(due.into()).await;
                }
                api.call("POST", &format!("/v1/orders/{id}/pay"), &key, None)
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let paying = started.elapsed().as_secs_f64();
    eprintln!(
        "paid {} orders in {:.2} s ({:.0} payments/s)",
        b.orders,
        paying,
        b.orders as f64 / paying.max(1e-3)
    );

    // Wait until every instance of an answering seller is open, then read the timestamps
    // Souk recorded (the slow sellers' instances stay opening).
    let measured = b.orders - (0..b.orders).filter(|i| slow(i % n_sellers)).count();
    let deadline = Instant::now() + Duration::from_secs(600);
    // First wait on the healthy sellers' own counters (memory, no database reads: the client
    // shares the machine with the Souk it measures), then read what Souk recorded.
    while examples
        .iter()
        .enumerate()
        .filter(|(i, _)| !slow(*i))
        .map(|(_, e)| e.new_instances_created() as usize)
        .sum::<usize>()
        < measured
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (paid, opened) = loop {
        let (orders, instances) = everything(&state).await?;
        let open = instances
            .iter()
            .filter(|i| i.opened_at.is_some() && !slow_skus.contains(&i.sku_id))
            .count();
        if open >= measured {
            let paid: std::collections::HashMap<souk_core::id::InstanceId, time::OffsetDateTime> =
                orders
                    .iter()
                    .filter_map(|o| Some((o.instance_id.clone(), o.paid_at?)))
                    .collect();
            let pairs: Vec<(time::OffsetDateTime, time::OffsetDateTime)> = instances
                .iter()
                .filter(|i| !slow_skus.contains(&i.sku_id))
                .filter_map(|i| Some((*paid.get(&i.id)?, i.opened_at?)))
                .collect();
            break (paid.values().copied().collect::<Vec<_>>(), pairs);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "instances did not open in time ({} of {})",
            open,
            measured
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let first = paid.iter().min().copied().context("no orders")?;
    let last = opened.iter().map(|p| p.1).max().context("no instances")?;
    let mut lat: Vec<f64> = opened
        .iter()
        .map(|(p, o)| (*o - *p).as_seconds_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    let secs = (last - first).as_seconds_f64().max(1e-3);
    let rate = lat.len() as f64 / secs;
    let created: u64 = examples
        .iter()
        .map(|e| e.state().new_instance_created as u64)
        .sum();
    let calls: usize = examples.iter().map(|e| e.state().calls.len()).sum();
    println!(
        "orders {} | buyers {} | sellers {} ({} slow{}) | payment rate {} | seller instances created {} | seller calls {}",
        b.orders,
        b.buyers,
        n_sellers,
        b.slow_sellers,
        if b.control { ", control: kept healthy" } else { "" },
        b.rate
            .map(|r| format!("{r:.0}/s"))
            .unwrap_or_else(|| "unlimited".into()),
        created,
        calls
    );
    let whose = if b.slow_sellers > 0 {
        format!(
            " of sellers 1-{} ({} orders)",
            n_sellers - b.slow_sellers,
            lat.len()
        )
    } else {
        String::new()
    };
    println!(
        "provision: {:.0} orders/s{whose}, p50 {:.1} ms, p99 {:.1} ms ({backend})",
        rate,
        pct(0.50),
        pct(0.99)
    );
    souk.stop().await?;
    for (i, example) in examples.into_iter().enumerate() {
        if slow(i) && !b.control {
            // A hanging call would hold a graceful shutdown; dropping aborts the server.
            drop(example);
        } else {
            example.shutdown().await;
        }
    }
    Ok(())
}

/// Every order and instance, page by page.
async fn everything(
    state: &souk_server::AppState,
) -> anyhow::Result<(
    Vec<souk_store::OrderRecord>,
    Vec<souk_store::InstanceRecord>,
)> {
    let mut orders = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let items = state.store.list_orders(&Scope::Everything, &page).await?;
        let full = items.len() == Page::MAX_LIMIT as usize;
        page.after = items.last().map(|o| o.id.to_string());
        orders.extend(items);
        if !full {
            break;
        }
    }
    let mut instances = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let items = state
            .store
            .list_instances(&Scope::Everything, &page)
            .await?;
        let full = items.len() == Page::MAX_LIMIT as usize;
        page.after = items.last().map(|i| i.id.to_string());
        instances.extend(items);
        if !full {
            break;
        }
    }
    Ok((orders, instances))
}
