//! An operator's refund adjustment of a reseller order (issue 12, §9 "verified differences
//! corrected next cycle", §11 "refunds deducted from the current or next month's reseller
//! statement"): a sale through a reseller's offer link settled in M, a refund recorded by the
//! operator in M+1 → the seller's M+1 statement takes the commission back in proportion (like
//! an after-sale refund), the reseller's M+1 statement deducts the same, a correction carries
//! no commission, and the reproducibility check (the clearing account included) passes.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::resellers::{buy_as, offer_link};
use crate::settlement::{advance_to, detail, statements, ZONE};
use crate::settlement_feeds::kinds;
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use time::Duration;

/// The reseller's statement of `period` (exactly one).
async fn reseller_statement(app: &TestApp, key: &str, period: &Period) -> Value {
    let list = app
        .get(
            &format!("/v1/reseller-statements?period={}", period.id()),
            key,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{}", list.text);
    let id = data[0]["id"].as_str().unwrap();
    let st = app.get(&format!("/v1/reseller-statements/{id}"), key).await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.text);
    st.body
}

backend_test!(
    operator_refund_adjustment_of_a_reseller_order_takes_the_commission_back,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let (reseller_id, reseller) = app.party("resellers", "Channel Partner Co").await;
        let (buyer_id, buyer) = app.party("buyers", "Offer Buyer Ltd").await;
        top_up(&app, &buyer_id, 100_000).await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;

        // 10 % (the standard share: in effect at once), deal-price formula, VAT 6 % / 6 %.
        let auth = crate::resellers::authorise(&app, &m, &reseller_id, 1_000).await;
        assert_eq!(auth["state"], "active", "{auth}");
        let link = offer_link(&app, &reseller, &m.basic, 800, month.end(ZONE)).await;
        let order = buy_as(
            &app,
            &buyer,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "offer": link}),
        )
        .await;
        app.drain().await;
        let o = app.get(&format!("/v1/orders/{order}"), &m.seller_key).await;
        assert_eq!(o.body["state"], "completed", "{}", o.text);

        // M settles the sale: 800, fee 5 % = 40, commission 800 × 10 % × 1.06 / 1.06 = 80.
        advance_to(&app, month.run_at(3, ZONE) + Duration::minutes(1)).await;
        let rst = reseller_statement(&app, &reseller, &month).await;
        assert_eq!(rst["totals"]["commission_minor"], 80, "{rst}");
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &month).await;
        let st = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        assert_eq!(st["totals"]["commission_minor"], 80, "{st}");

        // In M+1 the operator records a refund of 3.33 of it and a correction of +0.50.
        for (kind, amount) in [("refund", -333), ("adjustment", 50)] {
            let r = app
                .post(
                    "/v1/settlement/adjustments",
                    &app.operator_key,
                    json!({"seller_id": m.seller_id, "kind": kind, "order_id": order,
                           "amount": {"amount_minor": amount, "currency": "CNY"},
                           "reason": "verified difference"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }

        // Day 3 of M+2: the reseller's M+1 statement deducts 80 × 333 / 800 = 33.3, rounded
        // once to 33; nothing payable, −33 carried forward. The correction is not on it.
        let next = month.next();
        advance_to(&app, next.run_at(3, ZONE) + Duration::minutes(1)).await;
        let rst = reseller_statement(&app, &reseller, &next).await;
        let lines = rst["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{rst}");
        assert_eq!(lines[0]["kind"], "refund", "{rst}");
        assert_eq!(lines[0]["order_id"], order.as_str(), "{rst}");
        assert_eq!(lines[0]["amount_minor"], -333, "{rst}");
        assert_eq!(lines[0]["commission"], "-33.3000", "{rst}");
        let t = &rst["totals"];
        assert_eq!(t["sales_minor"], 0, "{rst}");
        assert_eq!(t["refunds_minor"], -333, "{rst}");
        assert_eq!(t["commission_minor"], -33, "{rst}");
        assert_eq!(t["payable_minor"], 0, "{rst}");
        assert_eq!(t["carried_forward_minor"], -33, "{rst}");
        // Nothing payable: no invoice is asked for, the statement stays issued (§10 row 5).
        assert_eq!(rst["state"], "issued", "{rst}");
        assert_eq!(rst["invoice_due_at"], Value::Null, "{rst}");

        // Day 7 of M+2: the seller's M+1 statement. The refund returns the fee (333 × 5 % =
        // 16.65) and takes back the commission (33.3); the correction is its net effect.
        advance_to(&app, next.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &next).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        let mut lines = kinds(&st);
        lines.sort();
        let row = |k: &str, a: i64, f: &str| (k.to_owned(), a, f.to_owned());
        assert_eq!(
            lines,
            [
                row("adjustment", 50, "0.0000"),
                row("refund", -333, "-16.6500")
            ],
            "{st}"
        );
        let commission = |kind: &str| {
            let lines = st["lines"].as_array().unwrap();
            let line = lines.iter().find(|l| l["kind"] == kind).unwrap();
            line["commission"].as_str().unwrap().to_owned()
        };
        assert_eq!(commission("refund"), "-33.3000", "{st}");
        assert_eq!(commission("adjustment"), "0.0000", "{st}");
        let t = &st["totals"];
        assert_eq!(t["refunds_minor"], -333, "{st}");
        assert_eq!(t["adjustments_minor"], 50, "{st}");
        assert_eq!(t["platform_fee_minor"], -17, "{st}");
        assert_eq!(t["commission_minor"], -33, "{st}");
        // −333 + 50 − (−17) − (−33)
        assert_eq!(t["net_minor"], -233, "{st}");
        assert_eq!(t["payable_minor"], 0, "{st}");
        assert_eq!(t["carried_forward_minor"], -233, "{st}");

        // Everything reproduces, the resellers' clearing account included (80 − 33 moved in by
        // the sellers' statements, 80 − 33 taken by the reseller's).
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
        assert_eq!(check.body["statements_checked"], 4, "{}", check.text);
    }
);
