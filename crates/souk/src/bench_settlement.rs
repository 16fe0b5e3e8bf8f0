//! `souk bench settlement`: a month's settlement run over N completed orders of M sellers.
//!
//! The orders (and the buyers' ledger debits that paid them) are written straight into the
//! database in bulk — placing a million orders through the API would measure the API — for a
//! closed month (January 2026), each on one of the seller's 5 products at 1.00–100.00 CNY,
//! with rebate bands on every product. Then the same use case as the timer pass
//! and `souk settle` runs the month and is timed; then the reproducibility check is timed and
//! must find nothing.

use crate::bench_support::BenchSouk;
use souk_core::settlement::{Period, Rate, Tier};
use souk_server::usecase::{settlement, settlement_check};
use souk_store::{values_list, Backend};
use sqlx::Connection;
use std::time::Instant;

pub struct SettlementBench {
    pub orders: usize,
    pub sellers: usize,
    pub database_url: Option<String>,
    /// Also time the reproducibility check.
    pub check: bool,
}

const ROWS_PER_INSERT: usize = 500;
const ROWS_PER_TX: usize = 20_000;

async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    head: &str,
    columns: usize,
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "{head} VALUES {}",
            values_list(backend, chunk.len(), columns)
        );
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                // Integers are written as integers so both engines store their own types.
                q = match v.parse::<i64>() {
                    Ok(n) if !v.starts_with('+') => q.bind(n),
                    _ => q.bind(v.clone()),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn run(b: SettlementBench) -> anyhow::Result<()> {
    // Rebate bands on every product: 5 % up to 1,000.00 a month, 3 % above.
    let souk = BenchSouk::start(b.database_url.clone(), |c| {
        c.settlement.run = false;
        c.settlement.fee_tiers = vec![
            Tier {
                from_minor: 0,
                rate_bp: Rate::from_bp(500).expect("a rate"),
            },
            Tier {
                from_minor: 100_000,
                rate_bp: Rate::from_bp(300).expect("a rate"),
            },
        ];
    })
    .await?;
    let state = souk.state.clone();
    let backend = souk.backend;
    let engine = Backend::from_url(&state.config.effective_database_url())
        .ok_or_else(|| anyhow::anyhow!("an unknown database"))?;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&state.config.effective_database_url()).await?;
    let zone = state.config.settlement.zone()?;
    let period = Period::parse("202601")?;
    let start = souk_core::clock::to_unix_ms(period.start(zone));
    let month_ms = souk_core::clock::to_unix_ms(period.end(zone)) - start;

    let seeding = Instant::now();
    let sellers: Vec<String> = (0..b.sellers.max(1))
        .map(|_| souk_core::id::generate("sel", period.start(zone)))
        .collect();
    let buyers: Vec<String> = (0..100)
        .map(|_| souk_core::id::generate("buy", period.start(zone)))
        .collect();
    let parties: Vec<Vec<String>> = sellers
        .iter()
        .map(|id| (id, "seller"))
        .chain(buyers.iter().map(|id| (id, "buyer")))
        .map(|(id, role)| {
            vec![
                id.clone(),
                role.to_owned(),
                format!("Bench {id}"),
                "active".to_owned(),
                start.to_string(),
                start.to_string(),
            ]
        })
        .collect();
    insert_rows(
        &mut conn,
        engine,
        "INSERT INTO parties (id, role, name, status, created_at, updated_at)",
        6,
        &parties,
    )
    .await?;
    let term = r#"{"kind":"period","unit":"month","count":1}"#;
    let mut done = 0;
    while done < b.orders {
        let n = ROWS_PER_TX.min(b.orders - done);
        let mut orders = Vec::with_capacity(n);
        let mut debits = Vec::with_capacity(n);
        for i in done..done + n {
            let seller = &sellers[i % sellers.len()];
            let buyer = &buyers[i % buyers.len()];
            let at = start + (i as i64 * 7919) % month_ms;
            let amount = 100 + (i as i64 * 7) % 9_901;
            let id = souk_core::id::generate("ord", souk_core::clock::from_unix_ms(at));
            let product = format!("prd_bench{}x{}", &seller[4..14], i % 5);
            let kind = ["new", "renewal", "upgrade"][i % 3];
            orders.push(vec![
                id.clone(),
                kind.to_owned(),
                "completed".to_owned(),
                buyer.clone(),
                seller.clone(),
                product,
                "sku_bench".to_owned(),
                format!("ins_{i}"),
                term.to_owned(),
                "1".to_owned(),
                amount.to_string(),
                "CNY".to_owned(),
                "{}".to_owned(),
                at.to_string(),
                at.to_string(),
                at.to_string(),
                at.to_string(),
            ]);
            debits.push(vec![
                souk_core::id::generate("led", souk_core::clock::from_unix_ms(at)),
                buyer.clone(),
                "CNY".to_owned(),
                (-amount).to_string(),
                "order_debit".to_owned(),
                id,
                at.to_string(),
            ]);
        }
        let mut tx = conn.begin().await?;
        insert_rows(
            &mut tx,
            engine,
            "INSERT INTO orders (id, kind, state, buyer_id, seller_id, product_id, sku_id, \
             instance_id, term, quantity, amount_minor, currency, snapshot, pay_deadline, \
             created_at, paid_at, completed_at)",
            17,
            &orders,
        )
        .await?;
        insert_rows(
            &mut tx,
            engine,
            "INSERT INTO ledger_entries (id, buyer_id, currency, amount_minor, kind, order_id, \
             created_at)",
            7,
            &debits,
        )
        .await?;
        tx.commit().await?;
        done += n;
    }
    conn.close().await?;
    println!(
        "seeded {} orders for {} sellers on {backend} in {:.1?}",
        b.orders,
        sellers.len(),
        seeding.elapsed()
    );

    let run = Instant::now();
    let report = settlement::run_period(&state, period, state.clock.now())
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let took = run.elapsed();
    println!(
        "settlement run {}: {} statements, {} lines, {:.2?} on {backend} ({:.0} orders/s)",
        report.period,
        report.statements_issued,
        report.items_settled,
        took,
        report.items_settled as f64 / took.as_secs_f64()
    );
    anyhow::ensure!(
        report.items_settled == b.orders,
        "not every order was settled"
    );
    if b.check {
        let t = Instant::now();
        let check = settlement_check::check(&state, None)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
        println!(
            "reproducibility check: {} statements, {} accounts, {} discrepancies, {:.2?}",
            check.statements_checked,
            check.accounts_checked,
            check.discrepancies.len(),
            t.elapsed()
        );
        anyhow::ensure!(
            check.discrepancies.is_empty(),
            "the check found discrepancies"
        );
    }
    souk.stop().await
}
