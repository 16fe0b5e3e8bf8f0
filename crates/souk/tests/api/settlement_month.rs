//! The whole month the issue demands (issue 12, "Tests that must exist"): ONE seller's month M
//! with a purchase, its renewal and upgrade, a no-reason refund inside M, a purchase refunded in
//! M+1 (deducted next month), a supervised order paid in M and accepted in M+1, on-demand
//! consumption, and an order through a reseller's exclusive offer link — then the reseller
//! statement (day 3), the seller statements of M and M+1 (day 7), every line and every total
//! checked against figures computed here by hand, and the reproducibility check clean.
//!
//! The only figure taken from the system is the upgrade's pro-rata price (an input of
//! settlement, computed by commerce); every fee, rebate, commission and total is derived here.

use crate::aftersale::{listed, publish, to_acceptance};
use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::metering::{push_signed, record, UNIT};
use crate::settlement::{advance_to, detail, statements, ZONE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use souk_protocol::usage::PATH;
use time::Duration;

/// Ten-thousandths of a minor unit as the lines show them (`"-50.0000"`).
fn dec(e4: i64) -> String {
    let sign = if e4 < 0 { "-" } else { "" };
    format!("{sign}{}.{:04}", e4.abs() / 10_000, e4.abs() % 10_000)
}

/// Half away from zero, written out again so the test does not trust the code under test.
fn round4(e4: i64) -> i64 {
    if e4 >= 0 {
        (e4 + 5_000) / 10_000
    } else {
        -((-e4 + 5_000) / 10_000)
    }
}

/// (kind, order or product, amount, fee, rebate, commission, net) of a line.
type Row = (String, String, i64, String, String, String, String);

fn rows(st: &Value) -> Vec<Row> {
    let mut v: Vec<Row> = st["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let of = l["order_id"].as_str().or(l["product_id"].as_str());
            (
                l["kind"].as_str().unwrap().to_owned(),
                of.unwrap_or("-").to_owned(),
                l["amount_minor"].as_i64().unwrap(),
                l["platform_fee"].as_str().unwrap().to_owned(),
                l["rebate"].as_str().unwrap().to_owned(),
                l["commission"].as_str().unwrap().to_owned(),
                l["net"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A sale or refund line at the 5 % fee with `commission_e4` to a reseller.
fn sale(kind: &str, of: &str, amount: i64, commission_e4: i64) -> Row {
    let fee = amount * 500;
    (
        kind.to_owned(),
        of.to_owned(),
        amount,
        dec(fee),
        dec(0),
        dec(commission_e4),
        dec(amount * 10_000 - fee - commission_e4),
    )
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

backend_test!(
    one_month_of_every_kind_of_sale_settles_to_hand_computed_statements,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        top_up(&app, &m.buyer_id, 1_000_000).await;
        let (reseller_id, reseller) = app.party("resellers", "Channel Partner Co").await;
        let (other_id, other) = app.party("buyers", "Offer Buyer Ltd").await;
        top_up(&app, &other_id, 100_000).await;

        // The same seller sells on demand (2.50 a unit) and a supervised manual service (200.00).
        let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
        let mut body = product_body("Acme SMS", Proto::V1, &url);
        body["enum_attributes"] = json!([]);
        body["quantity"] = Value::Null;
        body["prices"] = json!([{"billing_mode": "on_demand", "amount_minor": UNIT}]);
        let sms = publish(&app, &m, body).await;
        let sms_product = id(&sms);
        let sms_sku = sms["skus"][0]["id"].as_str().unwrap().to_owned();
        let manual = listed(&app, &m, "manual_service", json!({})).await;

        // Monitor's rebate: 5 % up to 50.00 paid in the month, 3 % above (2 % back).
        let set = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/products/{}/fee-policy", m.product_id)))
                    .bearer_auth(&app.operator_key)
                    .json(&json!({"rate_bp": 500, "tiers": [
                        {"from_minor": 0, "rate_bp": 500}, {"from_minor": 5_000, "rate_bp": 300}]})),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
        // The reseller: 10 % (the standard share, in effect at once), up to 25 % off.
        let auth = crate::resellers::authorise(&app, &m, &reseller_id, 1_000).await;
        assert_eq!(auth["state"], "active");

        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;

        // On demand: an instance, then 10 units in M rated by the hourly collection.
        let od = m
            .buy(
                &app,
                json!({"sku_id": sms_sku, "billing_mode": "on_demand"}),
            )
            .await;
        let od_instance = od["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &od_instance, "active").await;
        let start = app.clock.now() + Duration::seconds(1);
        app.advance(Duration::hours(1)).await;
        let pushed = push_signed(&app, PATH, &[record(&od_instance, "sn-1", start, "10")]).await;
        assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.text);
        app.advance(Duration::hours(2)).await;

        // A: 3 users of basic (30.00), renewed one month (30.00), upgraded to pro (pro rata).
        let a = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 3}),
            )
            .await;
        m.wait_order(&app, &id(&a), "completed").await;
        let instance = a["instance_id"].as_str().unwrap().to_owned();
        let renewal = m.act(&app, &instance, "renew", json!({"periods": 1})).await;
        m.wait_order(&app, &id(&renewal), "completed").await;
        let upgrade = m
            .act(&app, &instance, "upgrade", json!({"sku_id": m.pro}))
            .await;
        let up = m.wait_order(&app, &id(&upgrade), "completed").await;
        let c = up["amount"]["amount_minor"].as_i64().unwrap();
        // Two months of (30.00 − 10.00) × 3 at most: the rest of the renewed term, pro rata.
        assert!(c > 0 && c <= 12_000, "{up}");

        // E: bought and refunded without reason inside M.
        let e = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        m.wait_order(&app, &id(&e), "completed").await;
        let r = app
            .post(
                &format!("/v1/orders/{}/refunds", id(&e)),
                &m.buyer_key,
                json!({"kind": "no_reason"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // R: another buyer orders through the reseller's exclusive offer link at 8.00.
        let link =
            crate::resellers::offer_link(&app, &reseller, &m.basic, 800, month.end(ZONE)).await;
        let placed = app
            .post(
                "/v1/orders",
                &other,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "offer": link}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let rs = id(&placed.body);
        let paid = app
            .post(&format!("/v1/orders/{rs}/pay"), &other, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        app.drain().await;

        // Two days before M ends: S, a supervised service, waits for acceptance; D is bought.
        advance_to(&app, month.end(ZONE) - Duration::days(2)).await;
        let s = m
            .buy(&app, json!({"sku_id": manual, "billing_mode": "monthly"}))
            .await;
        to_acceptance(&app, &m, &id(&s)).await;
        let d = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        m.wait_order(&app, &id(&d), "completed").await;

        // M+1: S accepted (settles in M+1), D refunded without reason (deducted in M+1).
        advance_to(&app, month.end(ZONE) + Duration::hours(12)).await;
        let accepted = app
            .post(
                &format!("/v1/orders/{}/supervision/actions", id(&s)),
                &m.buyer_key,
                json!({"action": "accept"}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
        m.wait_order(&app, &id(&s), "completed").await;
        let r = app
            .post(
                &format!("/v1/orders/{}/refunds", id(&d)),
                &m.buyer_key,
                json!({"kind": "no_reason"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // Day 3 of M+1: the reseller's statement. 8.00 × 10 % × 1.06 / 1.06 = 0.80.
        advance_to(&app, month.run_at(3, ZONE) + Duration::minutes(1)).await;
        let list = app
            .get(
                &format!("/v1/reseller-statements?period={}", month.id()),
                &reseller,
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(
            list.body["data"].as_array().unwrap().len(),
            1,
            "{}",
            list.text
        );
        let rst = app
            .get(
                &format!(
                    "/v1/reseller-statements/{}",
                    list.body["data"][0]["id"].as_str().unwrap()
                ),
                &reseller,
            )
            .await
            .body;
        let t = &rst["totals"];
        assert_eq!(t["sales_minor"], 800, "{rst}");
        assert_eq!(t["refunds_minor"], 0, "{rst}");
        assert_eq!(t["commission_minor"], 80, "{rst}");
        assert_eq!(t["payable_minor"], 80, "{rst}");
        let lines = rst["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{rst}");
        assert_eq!(lines[0]["order_id"], rs.as_str());
        assert_eq!(lines[0]["kind"], "opening");
        assert_eq!(lines[0]["commission"], "80.0000");

        // Day 7 of M+1: the seller's statement for M.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &month).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        let usage = 10 * UNIT;
        // Monitor's paid amount in M, net of refunds: A + renewal + upgrade + E − E + R + D.
        let monitor_paid = 3_000 + 3_000 + c + 1_000 - 1_000 + 800 + 1_000;
        let rebate_e4 = (monitor_paid - 5_000) * 200;
        let commission_e4 = 800 * 1_000;
        let mut want = vec![
            // One line per instance and metering period, under the product (no order).
            sale("on_demand_consumption", &sms_product, usage, 0),
            sale("opening", &id(&a), 3_000, 0),
            sale("renewal_effect", &id(&renewal), 3_000, 0),
            sale("upgrade", &id(&upgrade), c, 0),
            sale("opening", &id(&e), 1_000, 0),
            sale("refund", &id(&e), -1_000, 0),
            sale("opening", &rs, 800, commission_e4),
            sale("opening", &id(&d), 1_000, 0),
            (
                "rebate".to_owned(),
                m.product_id.clone(),
                0,
                dec(0),
                dec(rebate_e4),
                dec(0),
                dec(rebate_e4),
            ),
        ];
        want.sort();
        assert_eq!(rows(&st), want, "{st}");
        let gross = usage + 3_000 + 3_000 + c + 1_000 + 800 + 1_000;
        let fee_e4 = (gross - 1_000) * 500;
        let t = &st["totals"];
        assert_eq!(t["gross_minor"], gross, "{st}");
        assert_eq!(t["refunds_minor"], -1_000, "{st}");
        assert_eq!(t["adjustments_minor"], 0, "{st}");
        assert_eq!(t["platform_fee_minor"], round4(fee_e4), "{st}");
        assert_eq!(t["rebate_minor"], round4(rebate_e4), "{st}");
        assert_eq!(t["commission_minor"], 80, "{st}");
        assert_eq!(t["carried_in_minor"], 0, "{st}");
        let net = round4((gross - 1_000) * 10_000 - fee_e4 + rebate_e4 - commission_e4);
        assert_eq!(t["net_minor"], net, "{st}");
        assert_eq!(t["payable_minor"], net, "{st}");
        assert_eq!(t["carried_forward_minor"], 0, "{st}");
        // S is not on M's statement: it completed in M+1.
        assert!(!st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["order_id"] == id(&s).as_str()));

        // Day 7 of M+2: M+1 settles S's acceptance and deducts D's refund; Monitor's paid
        // amount is negative, so no rebate.
        let next = month.next();
        advance_to(&app, next.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &next).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st2 = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        let mut want = vec![
            sale("supervision_completion", &id(&s), 20_000, 0),
            sale("refund", &id(&d), -1_000, 0),
        ];
        want.sort();
        assert_eq!(rows(&st2), want, "{st2}");
        let t = &st2["totals"];
        assert_eq!(t["gross_minor"], 20_000, "{st2}");
        assert_eq!(t["refunds_minor"], -1_000);
        assert_eq!(t["platform_fee_minor"], 950);
        assert_eq!(t["rebate_minor"], 0);
        assert_eq!(t["commission_minor"], 0);
        assert_eq!(t["net_minor"], 19_000 - 950);
        assert_eq!(t["payable_minor"], 19_000 - 950);

        // Both seller statements and the reseller's reproduce from the ledgers and the orders.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["statements_checked"], 3, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
