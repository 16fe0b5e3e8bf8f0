//! Database facts as client errors: both migrations folders build the same schema, every
//! constraint violation is sorted the same way on both backends, and the one-trial rule holds
//! under concurrent requests because the database enforces it.

use crate::fixture::*;
use crate::harness::{postgres_skipped, Backend, Reply, TestApp, TestDb};
use crate::{backend_db_test, backend_test};
use reqwest::StatusCode;
use serde_json::json;
use souk_core::money::{Currency, Money};
use souk_core::order::{OrderKind, Term};
use souk_core::party::PartyId;
use souk_store::prelude::*;
use souk_store::{constraint_names, ConstraintKind, NewOrder, Scope, SqlStore, StoreError};
use std::collections::BTreeSet;

async fn shape(backend: Backend) -> (TestDb, Vec<String>) {
    let db = TestDb::new(backend).await;
    let store = SqlStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let shape = store.schema_shape().await.unwrap();
    store.close().await;
    (db, shape)
}

#[tokio::test]
async fn both_migrations_folders_build_the_same_schema() {
    let (_lite_db, lite) = shape(Backend::Sqlite).await;
    // The SQLite side alone still proves the shape is read (and names the rules as PostgreSQL
    // does); the comparison needs both.
    for expected in [
        "column orders.buyer_id text not null",
        "column orders.paid_at integer null",
        "index orders.orders_one_trial_per_buyer_sku (buyer_id,sku_id) unique partial",
        "index orders.orders_pkey (id) unique",
        "index jobs.jobs_pkey (seq) unique",
        "index jobs.jobs_id_key (id) unique",
        "index skus.skus_code_unique (sku_code) unique",
        "index accounts.accounts_pkey (buyer_id,currency) unique",
        "index orders.orders_by_buyer (buyer_id,id) plain",
    ] {
        assert!(
            lite.iter().any(|l| l == expected),
            "missing `{expected}` in {lite:#?}"
        );
    }
    if postgres_skipped() {
        eprintln!("SOUK_TEST_POSTGRES=skip: not comparing with PostgreSQL");
        return;
    }
    let (_pg_db, pg) = shape(Backend::Postgres).await;
    let lite: BTreeSet<_> = lite.into_iter().collect();
    let pg: BTreeSet<_> = pg.into_iter().collect();
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "the migrations folders disagree\nonly in SQLite: {only_lite:#?}\nonly in PostgreSQL: \
         {only_pg:#?}"
    );
}

fn conflict(e: StoreError) -> (String, ConstraintKind) {
    match e {
        StoreError::Conflict { constraint, kind } => (constraint, kind),
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

backend_db_test!(
    every_kind_of_violation_is_a_conflict_named_alike,
    |db: TestDb| async move {
        let store = SqlStore::connect(&db.url).await.unwrap();
        store.migrate().await.unwrap();
        // Raw statements, to reach constraints the store's own methods never break.
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let party = |id: &str, role: &str| {
            format!(
                "INSERT INTO parties (id, role, name, status, created_at, updated_at) \
                 VALUES ('{id}', '{role}', 'P', 'active', 0, 0)"
            )
        };
        sqlx::query(&party("byr_1", "buyer"))
            .execute(&pool)
            .await
            .unwrap();
        let e = sqlx::query(&party("byr_1", "buyer"))
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(
            conflict(e.into()),
            ("parties_pkey".to_owned(), ConstraintKind::Unique)
        );
        let e = sqlx::query(&party("byr_2", "wizard"))
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(conflict(e.into()).1, ConstraintKind::Check);
        let job = |id: &str, seq: i64| {
            format!(
                "INSERT INTO jobs (seq, id, kind, state, instance_id, order_id, seller_id, \
                 product_id, payload, next_attempt_at, created_at) \
                 VALUES ({seq}, '{id}', 'new_instance', 'pending', 'i', 'o', 's', 'p', '{{}}', 0, 0)"
            )
        };
        sqlx::query(&job("job_1", 1)).execute(&pool).await.unwrap();
        let e = sqlx::query(&job("job_1", 2))
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(
            conflict(e.into()),
            ("jobs_id_key".to_owned(), ConstraintKind::Unique)
        );
        pool.close().await;

        // Through the store: a foreign key (the store's SQLite connections enforce them).
        let now = time::OffsetDateTime::now_utc();
        let order = |id: &str, buyer: &str, kind: OrderKind| NewOrder {
            id: souk_core::id::OrderId::from_trusted(id.to_owned()),
            kind,
            buyer_id: PartyId::from_trusted(buyer.to_owned()),
            seller_id: PartyId::from_trusted("byr_1".to_owned()),
            product_id: "prd_1".into(),
            sku_id: "sku_1".into(),
            instance_id: souk_core::id::InstanceId::from_trusted(format!("ins_{id}")),
            term: Term::Trial { days: 7 },
            quantity: 1,
            amount: Money::new(0, Currency::CNY),
            snapshot: souk_core::snapshot::OrderSnapshot {
                product_name: "Acme".into(),
                delivery_type: souk_core::catalog::DeliveryType::Saas,
                sku_code: "S1".into(),
                wire_product_id: "P1".into(),
                attributes: Default::default(),
                billing_mode: souk_core::catalog::BillingMode::Trial,
                unit_price: Money::new(0, Currency::CNY),
                quantity_field: None,
                license_mode: None,
                auto_renew: false,
                previous_sku_id: None,
                previous_quantity: None,
                buyer: Default::default(),
                extend_params: vec![],
                usage_price: None,
                package: None,
                recipient: None,
                supervised: false,
                open_after_acceptance: false,
                sales_scenario: Default::default(),
            },
            pay_deadline: now + time::Duration::hours(1),
            now,
            reseller: None,
            voucher: None,
        };
        let e = store
            .create_order(order("ord_x", "byr_nobody", OrderKind::Trial))
            .await
            .unwrap_err();
        assert_eq!(conflict(e).1, ConstraintKind::ForeignKey);

        // The trial rule: a second trial of the SKU is refused by the index, a purchase is not,
        // and cancelling the unpaid trial frees it.
        store
            .create_order(order("ord_1", "byr_1", OrderKind::Trial))
            .await
            .unwrap();
        let e = store
            .create_order(order("ord_2", "byr_1", OrderKind::Trial))
            .await
            .unwrap_err();
        assert_eq!(
            conflict(e),
            (
                constraint_names::ONE_TRIAL_PER_BUYER_SKU.to_owned(),
                ConstraintKind::Unique
            )
        );
        store
            .create_order(order("ord_3", "byr_1", OrderKind::New))
            .await
            .unwrap();
        store
            .cancel_order(
                &Scope::Everything,
                &souk_core::id::OrderId::from_trusted("ord_1".into()),
                None,
                now,
            )
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        store
            .create_order(order("ord_4", "byr_1", OrderKind::Trial))
            .await
            .unwrap();
        store.close().await;
    }
);

/// Places a trial order and, if that worked, pays it: what one impatient client does.
async fn place_and_pay(http: reqwest::Client, base: String, key: String, sku: String) -> Reply {
    let placed = Reply::read(
        http.post(format!("{base}/v1/orders"))
            .bearer_auth(&key)
            .json(&json!({"sku_id": sku, "billing_mode": "trial"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    if placed.status != StatusCode::CREATED {
        return placed;
    }
    let id = placed.body["id"].as_str().unwrap();
    Reply::read(
        http.post(format!("{base}/v1/orders/{id}/pay"))
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

backend_test!(
    concurrent_trial_orders_get_exactly_one_trial,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        // A trial order cancelled unpaid does not use the trial up.
        let placed = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": m.basic, "billing_mode": "trial"}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let oid = placed.body["id"].as_str().unwrap();
        let cancelled = app
            .post(&format!("/v1/orders/{oid}/cancel"), &m.buyer_key, json!({}))
            .await;
        assert_eq!(cancelled.body["state"], "cancelled", "{}", cancelled.text);

        const N: usize = 8;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..N {
            set.spawn(place_and_pay(
                app.http.clone(),
                app.base.clone(),
                m.buyer_key.clone(),
                m.basic.clone(),
            ));
        }
        let mut paid = Vec::new();
        let mut refused = 0;
        while let Some(r) = set.join_next().await {
            let r = r.unwrap();
            if r.status == StatusCode::OK {
                assert_eq!(r.body["state"], "processing", "{}", r.text);
                paid.push(r.body);
            } else {
                r.assert_error(StatusCode::CONFLICT, "trial_used");
                assert!(
                    !r.text.contains("orders_one_trial"),
                    "a constraint name reached the client: {}",
                    r.text
                );
                refused += 1;
            }
        }
        assert_eq!(paid.len(), 1, "exactly one trial: {paid:?}");
        assert_eq!(refused, N - 1);
        let id = paid[0]["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        assert_eq!(inst["trial"], true);
        // One trial instance, one live trial order.
        let instances = app.get("/v1/instances", &m.buyer_key).await;
        let trials = instances.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", instances.text))
            .iter()
            .filter(|i| i["trial"] == true)
            .count();
        assert_eq!(trials, 1, "{}", instances.text);
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        let live_trials = orders.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", orders.text))
            .iter()
            .filter(|o| o["kind"] == "trial" && o["state"] != "cancelled")
            .count();
        assert_eq!(live_trials, 1, "{}", orders.text);
    }
);
