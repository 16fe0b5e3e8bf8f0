//! What other parts of Souk feed into settlement (issue 12, §9): after-sale refunds (no-reason
//! and partial negotiated ones) deducted on the current or the next statement, supervised orders
//! settled when their supervision completes (in the next month when it completes then), and
//! on-demand consumption settled by the month's usage charges. Every figure is computed by
//! hand; the reproducibility check covers all of them.

use crate::aftersale::{listed, to_acceptance};
use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::metering::{on_demand, push_signed, record, UNIT};
use crate::settlement::{advance_to, detail, statements, ZONE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use souk_protocol::usage::PATH;
use time::Duration;

fn cny(n: i64) -> Value {
    json!({"amount_minor": n, "currency": "CNY"})
}

/// (kind, amount, platform fee) of every line of a statement.
pub(crate) fn kinds(st: &Value) -> Vec<(String, i64, String)> {
    st["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["amount_minor"].as_i64().unwrap(),
                l["platform_fee"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

backend_test!(
    after_sale_refunds_supervision_and_on_demand_usage_reach_the_statements,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;

        // On demand: 10 units in M, rated by the hourly collection.
        let start = app.clock.now() + Duration::seconds(1);
        app.advance(Duration::hours(1)).await;
        let pushed = push_signed(&app, PATH, &[record(&instance, "sn-1", start, "10")]).await;
        assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.text);
        app.advance(Duration::hours(2)).await;
        let usage = 10 * UNIT;

        // A monthly purchase refunded without reason in M: sale and refund on M's statement.
        let a = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let a_id = a["id"].as_str().unwrap().to_owned();
        m.wait_order(&app, &a_id, "completed").await;
        let r = app
            .post(
                &format!("/v1/orders/{a_id}/refunds"),
                &m.buyer_key,
                json!({"kind": "no_reason"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let a_refund = r.body["id"].as_str().unwrap().to_owned();

        // A supervised manual service with a negotiated refund of 80.00 of 200.00 in its
        // guarantee period: the seller keeps 120.00, settled at the refund.
        let manual = listed(&app, &m, "manual_service", json!({})).await;
        let b = m
            .buy(&app, json!({"sku_id": manual, "billing_mode": "monthly"}))
            .await;
        let b_id = b["id"].as_str().unwrap().to_owned();
        to_acceptance(&app, &m, &b_id).await;
        let asked = app
            .post(
                &format!("/v1/orders/{b_id}/refunds"),
                &m.buyer_key,
                json!({"kind": "negotiated", "amount": cny(8_000), "reason": "half done"}),
            )
            .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        let decided = app
            .post(
                &format!("/v1/orders/{b_id}/refunds/decision"),
                &m.seller_key,
                json!({"decision": "approve", "opinion": "agreed"}),
            )
            .await;
        assert_eq!(decided.status, StatusCode::OK, "{}", decided.text);

        // Two days before M ends: a supervised order accepted only in M+1, and a purchase
        // completed in M and refunded (no reason) in M+1.
        advance_to(&app, month.end(ZONE) - Duration::days(2)).await;
        let c = m
            .buy(&app, json!({"sku_id": manual, "billing_mode": "monthly"}))
            .await;
        let c_id = c["id"].as_str().unwrap().to_owned();
        to_acceptance(&app, &m, &c_id).await;
        let d = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let d_id = d["id"].as_str().unwrap().to_owned();
        m.wait_order(&app, &d_id, "completed").await;

        advance_to(&app, month.end(ZONE) + Duration::hours(12)).await;
        let accepted = app
            .post(
                &format!("/v1/orders/{c_id}/supervision/actions"),
                &m.buyer_key,
                json!({"action": "accept"}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        m.wait_order(&app, &c_id, "completed").await;

        // D refunded without reason in M+1, before M's run: M settles D's sale, M+1 deducts.
        let r = app
            .post(
                &format!("/v1/orders/{d_id}/refunds"),
                &m.buyer_key,
                json!({"kind": "no_reason"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &month).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        // Lines in attribution order: usage (its collection), A, A's refund, B's partial
        // sale and refund (both at the refund), D.
        let mut got = kinds(&st);
        got.sort();
        let mut want = vec![
            (
                "on_demand_consumption".to_owned(),
                usage,
                "125.0000".to_owned(),
            ),
            ("opening".to_owned(), 1_000, "50.0000".to_owned()),
            ("refund".to_owned(), -1_000, "-50.0000".to_owned()),
            (
                "supervision_completion".to_owned(),
                20_000,
                "1000.0000".to_owned(),
            ),
            ("refund".to_owned(), -8_000, "-400.0000".to_owned()),
            ("opening".to_owned(), 1_000, "50.0000".to_owned()),
        ];
        want.sort();
        assert_eq!(got, want, "{st}");
        let t = &st["totals"];
        let gross = usage + 1_000 + 20_000 + 1_000;
        assert_eq!(t["gross_minor"], gross, "{st}");
        assert_eq!(t["refunds_minor"], -9_000);
        assert_eq!(t["platform_fee_minor"], (gross - 9_000) * 5 / 100);
        assert_eq!(t["net_minor"], (gross - 9_000) * 95 / 100);
        let on = |id: &str| {
            st["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["order_id"] == id && l["kind"] != "refund")
        };
        assert!(on(&a_id) && on(&b_id) && on(&d_id) && !on(&c_id));
        let refunds = app
            .get(&format!("/v1/orders/{a_id}/refunds"), &m.seller_key)
            .await;
        assert_eq!(refunds.body["data"][0]["id"], a_refund.as_str());
        assert_eq!(refunds.body["data"][0]["settlement"], "deducted");

        let next = month.next();
        advance_to(&app, next.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &next).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st2 = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        let mut got = kinds(&st2);
        got.sort();
        let mut want = vec![
            (
                "supervision_completion".to_owned(),
                20_000,
                "1000.0000".to_owned(),
            ),
            ("refund".to_owned(), -1_000, "-50.0000".to_owned()),
        ];
        want.sort();
        assert_eq!(got, want, "{st2}");
        assert_eq!(st2["totals"]["net_minor"], 19_000 - 950, "{st2}");

        // Everything reproduces from the order history, the refunds and the usage charges.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.body["statements_checked"], 2, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);

        // A usage charge edited behind the system's back is found.
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&app.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE usage_charges SET amount_minor = amount_minor + 1")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        let found = check.body["discrepancies"].as_array().unwrap();
        assert!(
            found
                .iter()
                .any(|d| d["subject"] == list[0]["id"] || d["subject"] == st["id"]),
            "{}",
            check.text
        );
    }
);
