//! `souk bench search`: the storefront's search over many listed products, on SQLite or
//! PostgreSQL. Seeds products named and described in Chinese and English (through the
//! catalog use cases: create, submit, approve), then times storefront pages (`GET /shop?…`,
//! search plus rendering, over loopback HTTP) for a mix of queries, filters and sorts.

use crate::bench_support::BenchSouk;
use anyhow::Context;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use souk_core::catalog::ProductAction;
use souk_core::id::ApiKeyId;
use souk_core::party::{PartyId, Role};
use souk_server::usecase::catalog;
use souk_store::Principal;
use std::time::{Duration, Instant};

pub struct SearchBench {
    pub products: usize,
    pub queries: usize,
    pub concurrency: usize,
    pub database_url: Option<String>,
}

const ZH: &[&str] = &[
    "云",
    "监控",
    "数据库",
    "备份",
    "安全",
    "存储",
    "网络",
    "日志",
    "分析",
    "容器",
    "人工智能",
    "客服",
    "财务",
    "办公",
    "协同",
    "视频",
    "会议",
    "邮件",
    "营销",
    "电商",
    "物联网",
    "大数据",
];
const EN: &[&str] = &[
    "cloud",
    "monitor",
    "database",
    "backup",
    "security",
    "storage",
    "network",
    "logging",
    "analytics",
    "container",
    "assistant",
    "helpdesk",
    "finance",
    "office",
    "workflow",
    "video",
    "meeting",
    "mail",
    "marketing",
    "commerce",
    "iot",
    "pipeline",
];
const CATEGORIES: &[&str] = &[
    "devops/monitoring",
    "devops/ci",
    "data/databases",
    "data/analytics",
    "security/waf",
    "office/collaboration",
    "marketing/crm",
    "ai/assistants",
];
const TYPES: &[&str] = &["manual_service", "image", "data_file"];

fn pick<'a>(rng: &mut impl Rng, from: &[&'a str], n: usize) -> Vec<&'a str> {
    from.choose_multiple(rng, n).copied().collect()
}

fn product(rng: &mut impl Rng, i: usize) -> serde_json::Value {
    let zh = pick(rng, ZH, 2).concat();
    let en = pick(rng, EN, 2).join(" ");
    let delivery = *TYPES.choose(rng).unwrap();
    let monthly = rng.gen_range(1..2000) * 100;
    let prices = if delivery == "manual_service" || delivery == "data_file" {
        json!([{"billing_mode": "monthly", "amount_minor": monthly}, {"billing_mode": "one_time", "amount_minor": monthly * 5}])
    } else {
        json!([{"billing_mode": "monthly", "amount_minor": monthly}, {"billing_mode": "yearly", "amount_minor": monthly * 10}])
    };
    json!({
        "name": format!("{zh} {en} {i}"),
        "delivery_type": delivery,
        "category": CATEGORIES.choose(rng).unwrap(),
        "description": format!("{}，{}。 {} for teams of every size.", pick(rng, ZH, 3).concat(), pick(rng, ZH, 2).concat(), pick(rng, EN, 3).join(", ")),
        "service_agreement": {
            "content": "Service as described, 99.9% availability.",
            "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
            "phone": "+86 10 1234 5678",
            "email": "support@bench.example"
        },
        "currency": "CNY",
        "prices": prices,
    })
}

/// The kinds of query timed, in the order `queries` cycles through them.
const KINDS: [&str; 8] = [
    "chinese word",
    "english word",
    "chinese + english word",
    "english prefix (3 letters)",
    "chinese word, price ascending",
    "english word, category + max price",
    "yearly, price descending, page 1-9",
    "delivery + price range, page 1-4",
];

/// The storefront queries timed: words alone, pairs, prefixes, filters, sorts, browsing; the
/// `i`th is of kind `i % 8`.
fn queries(rng: &mut impl Rng, n: usize) -> Vec<String> {
    let enc = |s: &str| serde_urlencoded::to_string([("q", s)]).unwrap();
    (0..n)
        .map(|i| match i % KINDS.len() {
            0 => enc(ZH.choose(rng).unwrap()),
            1 => enc(EN.choose(rng).unwrap()),
            2 => enc(&format!(
                "{} {}",
                ZH.choose(rng).unwrap(),
                EN.choose(rng).unwrap()
            )),
            3 => enc(&EN.choose(rng).unwrap()[..3]),
            4 => format!("{}&sort=price_asc", enc(ZH.choose(rng).unwrap())),
            5 => format!("{}&category=devops&max=500", enc(EN.choose(rng).unwrap())),
            6 => format!(
                "billing=yearly&sort=price_desc&page={}",
                rng.gen_range(1..10)
            ),
            _ => format!(
                "delivery=image&min=100&max=1000&page={}",
                rng.gen_range(1..5)
            ),
        })
        .collect()
}

pub async fn run(b: SearchBench) -> anyhow::Result<()> {
    let souk = BenchSouk::start(b.database_url.clone(), |_| {}).await?;
    let backend = souk.backend;
    if already_seeded(&souk, b.products).await? {
        println!(
            "search: reusing the {} listed products already in the database ({backend})",
            b.products
        );
    } else {
        seed(&souk, b.products).await?;
    }
    time_pages(&souk, &b).await?;
    souk.stop().await
}

/// Whether the database (a reused `--database-url`) already lists `products` products: the
/// seeding takes minutes, so a tuning session seeds once and times many times.
async fn already_seeded(souk: &BenchSouk, products: usize) -> anyhow::Result<bool> {
    let last = souk_store::ProductSearch {
        limit: 1,
        offset: u32::try_from(products.saturating_sub(1))?,
        ..Default::default()
    };
    Ok(!souk.state.store.search_listed(&last).await?.0.is_empty())
}

/// Seeds `products` listed products through the catalog use cases.
async fn seed(souk: &BenchSouk, products: usize) -> anyhow::Result<()> {
    let backend = souk.backend;
    let (seller_id, _) = souk.party("sellers", "Bench Seller").await?;
    let state = souk.state.clone();
    let operator = state
        .store
        .list_parties(
            &souk_store::Scope::Everything,
            Role::Operator,
            &souk_store::Page::first(1),
        )
        .await?;
    let principal = |party: &PartyId, role| Principal {
        party_id: party.clone(),
        role,
        key_id: ApiKeyId::from_trusted("key_bench".to_owned()),
    };
    let seller = principal(&PartyId::from_trusted(seller_id), Role::Seller);
    let op = principal(&operator.first().context("operator")?.id, Role::Operator);
    let started = Instant::now();
    // SQLite takes one writer at a time, but the use cases' own work (validation, JSON,
    // pricing) overlaps with the writes of the others.
    let workers = if backend == "sqlite" { 4 } else { 8 };
    let per = products.div_ceil(workers);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (state, seller, op) = (state.clone(), seller.clone(), op.clone());
        let range = (w * per)..((w + 1) * per).min(products);
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            for i in range {
                let body = serde_json::from_value(product(&mut rng, i))?;
                let p = catalog::create(&state, &seller, body)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let id = p.id.to_string();
                catalog::act(&state, &seller, &id, ProductAction::Submit, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                catalog::act(&state, &op, &id, ProductAction::Approve, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "search: seeded {products} listed products in {:.0} s ({backend})",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Times `b.queries` storefront pages and prints p50/p99 per kind of query.
async fn time_pages(souk: &BenchSouk, b: &SearchBench) -> anyhow::Result<()> {
    let backend = souk.backend;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let qs = queries(&mut rng, b.queries);
    // Warm the caches once, as a running storefront's are.
    for q in qs.iter().take(50) {
        souk.api
            .http
            .get(format!("{}/shop?{q}", souk.api.base))
            .send()
            .await?
            .error_for_status()?;
    }
    let qs: Vec<(usize, String)> = qs.into_iter().enumerate().collect();
    let per = qs.len().div_ceil(b.concurrency.max(1));
    let mut tasks = Vec::new();
    let wall = Instant::now();
    for chunk in qs.chunks(per.max(1)) {
        let (http, base, chunk) = (souk.api.http.clone(), souk.api.base.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(chunk.len());
            let mut hits = 0usize;
            for (i, q) in chunk {
                let t = Instant::now();
                let page = http
                    .get(format!("{base}/shop?{q}"))
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?;
                lat.push((i % KINDS.len(), t.elapsed()));
                hits += page.matches("class=\"card result\"").count();
            }
            anyhow::Ok((lat, hits))
        }));
    }
    let mut by_kind: Vec<(usize, Duration)> = Vec::new();
    let mut hits = 0;
    for t in tasks {
        let (l, h) = t.await??;
        by_kind.extend(l);
        hits += h;
    }
    let secs = wall.elapsed().as_secs_f64();
    let pct = |lat: &[Duration], p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64() * 1000.0
    };
    for (k, name) in KINDS.iter().enumerate() {
        let mut lat: Vec<Duration> = by_kind.iter().filter(|l| l.0 == k).map(|l| l.1).collect();
        if lat.is_empty() {
            continue;
        }
        lat.sort();
        println!(
            "search:   {name:<38} {:>5} pages  p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
            lat.len(),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            pct(&lat, 1.0)
        );
    }
    let mut lat: Vec<Duration> = by_kind.into_iter().map(|l| l.1).collect();
    lat.sort();
    let pct = |p: f64| pct(&lat, p);
    println!(
        "search: {} storefront pages, {} concurrent, {:.0} pages/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.1} results/page ({backend}, {} products)",
        lat.len(),
        b.concurrency,
        lat.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        hits as f64 / lat.len() as f64,
        b.products
    );
    Ok(())
}
