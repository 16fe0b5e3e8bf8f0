//! Vouchers and money out (§8.1 fee base, §10 row 1 invoice amount, §11 commission and
//! performance), through real HTTP on both backends: a month with two voucher-paid orders of a
//! reseller's customer, one refunded in the month. Every figure is on the cash part, computed
//! here by hand; the reproducibility check passes.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::settlement::{advance_to, detail, statements, ZONE};
use crate::vouchers::{cny, issue, refund_no_reason};
use reqwest::StatusCode;
use serde_json::json;
use time::Duration;

backend_test!(
    a_voucher_order_settles_invoices_and_counts_for_its_reseller_on_the_cash_part,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let month = crate::settlement::month_of_weekdays(&app);
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        // The buyer is a reseller's customer; the reseller is authorised at 10 % (deal price,
        // 6 % VAT both ways: the commission is 10 % of the cash base).
        let (reseller_id, reseller) = app.party("resellers", "Channel Partner Co").await;
        let inv = app
            .post("/v1/reseller-invitations", &reseller, json!({}))
            .await;
        let token = inv.body["token"].as_str().unwrap();
        let ok = app
            .post(
                "/v1/reseller-invitations/accept",
                &m.buyer_key,
                json!({"token": token}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let auth = app
            .post(
                "/v1/reseller-authorisations",
                &m.seller_key,
                json!({"reseller_id": reseller_id, "product_id": m.product_id,
                       "share_bp": 1_000, "max_discount_bp": 1_000}),
            )
            .await;
        assert_eq!(auth.body["state"], "active", "{}", auth.text);
        advance_to(&app, month.start(ZONE) + Duration::days(2)).await;

        // P: 30.00 with a 10.00 voucher → 20.00 cash. Q: 10.00 with a 3.00 voucher → 7.00
        // cash, refunded without reason in the month.
        let v1 = issue(&app, &m, 1_000, json!({})).await;
        let v2 = issue(&app, &m, 300, json!({})).await;
        let p = m
            .buy(
                &app,
                json!({"sku_id": m.pro, "billing_mode": "monthly", "voucher": v1}),
            )
            .await;
        assert_eq!(p["cash"], cny(2_000), "{p}");
        let q = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": v2}),
            )
            .await;
        assert_eq!(q["cash"], cny(700), "{q}");
        let (p_id, q_id) = (p["id"].as_str().unwrap(), q["id"].as_str().unwrap());
        m.wait_order(&app, p_id, "completed").await;
        m.wait_order(&app, q_id, "completed").await;
        let r = refund_no_reason(&app, &m, q_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["amount"], cny(700), "{}", r.text);
        // Z: 10.00 paid by a voucher alone, refunded without reason: no cash either way, so it
        // is on no statement (seller's or reseller's) and earns no commission.
        let v3 = issue(&app, &m, 1_000, json!({})).await;
        let z = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": v3}),
            )
            .await;
        let z_id = z["id"].as_str().unwrap();
        m.wait_order(&app, z_id, "completed").await;
        let r = refund_no_reason(&app, &m, z_id).await;
        assert_eq!(
            (&r.body["amount"], &r.body["voucher_minor"]),
            (&cny(0), &json!(1_000)),
            "{}",
            r.text
        );

        // The invoice is for the cash part: 30.00 − 10.00.
        let invoice = app
            .post(
                &format!("/v1/orders/{p_id}/invoices"),
                &m.buyer_key,
                json!({"invoice_type": "general", "title": "Buyer Ltd", "email": "ap@buyer.example"}),
            )
            .await;
        assert_eq!(invoice.status, StatusCode::CREATED, "{}", invoice.text);
        assert_eq!(invoice.body["amount"], cny(2_000));

        // Performance (T+1) counts cash only.
        advance_to(&app, month.start(ZONE) + Duration::days(3)).await;
        let perf = app.get("/v1/reseller-performance", &reseller).await;
        assert_eq!(perf.status, StatusCode::OK, "{}", perf.text);
        let rows: Vec<(&str, i64, i64, &str)> = perf.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["order_id"].as_str().unwrap(),
                    o["amount_minor"].as_i64().unwrap(),
                    o["refunded_minor"].as_i64().unwrap(),
                    o["commission"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (p_id, 2_000, 0, "200.0000"),
                (q_id, 700, 700, "0.0000"),
                (z_id, 0, 0, "0.0000")
            ],
            "{}",
            perf.text
        );

        // Day 3 of M+1: the reseller statement; day 7: the seller's. Gross 27.00 cash, the
        // refund −7.00, fee 5 % of the net 20.00 = 1.00, commission 10 % of 20.00 = 2.00.
        advance_to(&app, month.run_at(3, ZONE) + Duration::minutes(1)).await;
        let list = app
            .get(
                &format!("/v1/reseller-statements?period={}", month.id()),
                &reseller,
            )
            .await;
        let rst = list.body["data"][0]["id"].as_str().unwrap().to_owned();
        let rs = app
            .get(&format!("/v1/reseller-statements/{rst}"), &reseller)
            .await
            .body;
        assert_eq!(rs["totals"]["sales_minor"], 2_700, "{rs}");
        assert_eq!(rs["totals"]["refunds_minor"], -700);
        assert_eq!(rs["totals"]["commission_minor"], 200);
        let lines = rs["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 3, "{rs}");
        assert!(lines.iter().all(|l| l["order_id"] != z_id), "{rs}");
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let sel = statements(&app, &m.seller_key, &month).await;
        let st = detail(&app, &m.seller_key, sel[0]["id"].as_str().unwrap()).await;
        let t = &st["totals"];
        assert_eq!(t["gross_minor"], 2_700, "{st}");
        assert_eq!(t["refunds_minor"], -700);
        assert_eq!(t["platform_fee_minor"], 100);
        assert_eq!(t["commission_minor"], 200);
        assert_eq!(t["net_minor"], 2_700 - 700 - 100 - 200);
        let mut lines: Vec<(&str, i64, &str, &str)> = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap(),
                    l["amount_minor"].as_i64().unwrap(),
                    l["platform_fee"].as_str().unwrap(),
                    l["commission"].as_str().unwrap(),
                )
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            [
                ("opening", 700, "35.0000", "70.0000"),
                ("opening", 2_000, "100.0000", "200.0000"),
                ("refund", -700, "-35.0000", "-70.0000"),
            ],
            "{st}"
        );

        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
