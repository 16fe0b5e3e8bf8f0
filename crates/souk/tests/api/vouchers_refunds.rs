//! An order a seller voucher paid in full (business rules §8.2) is refunded, through real HTTP on
//! both backends: the refund returns no cash and gives the voucher part back; the refund shows
//! its voucher part in the API and on the after-sale page; the seller's dashboard counts the
//! cash paid; the month's statement has neither the sale nor the refund; the check passes.

use crate::backend_test;
use crate::console_support::logged_in;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::settlement::{advance_to, detail, statements, ZONE};
use crate::vouchers::{cny, issue, refund_no_reason, voucher};
use reqwest::StatusCode;
use serde_json::json;
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use time::Duration;

/// The text of the first element whose opening tag ends with `attr` (`id="x"`, `class="y"`).
fn cell<'a>(html: &'a str, attr: &str) -> &'a str {
    let marker = format!("{attr}>");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {attr} in {html}"))
        + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    &html[start..end]
}

backend_test!(
    an_order_paid_by_a_voucher_alone_is_refunded_without_reason_back_to_the_voucher,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        let start = balance(&app, &m).await;

        // A voucher of 15.00. A: basic 10.00, all of it by the voucher (5.00 left). B: pro
        // 30.00, 5.00 by the voucher and 25.00 cash.
        let id = issue(&app, &m, 1_500, json!({})).await;
        let a = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": id}),
            )
            .await;
        assert_eq!((&a["voucher_minor"], &a["cash"]), (&json!(1_000), &cny(0)));
        let b = m
            .buy(
                &app,
                json!({"sku_id": m.pro, "billing_mode": "monthly", "voucher": id}),
            )
            .await;
        assert_eq!(
            (&b["voucher_minor"], &b["cash"]),
            (&json!(500), &cny(2_500))
        );
        let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
        m.wait_order(&app, a_id, "completed").await;
        m.wait_order(&app, b_id, "completed").await;
        assert_eq!(balance(&app, &m).await, start - 2_500);

        // The seller's dashboard: two paid orders, 25.00 in cash (not their 40.00 price).
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let page = seller.get("/seller/dashboard").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert_eq!(
            cell(&page.text, r#"id="total-orders""#).trim(),
            "2",
            "{}",
            page.text
        );
        assert!(
            page.text.contains("id=\"total-revenue\">25.00 CNY<"),
            "{}",
            page.text
        );
        let orders = seller.get("/seller/orders").await;
        assert_eq!(
            cell(&orders.text, r#"class="voucher-part""#),
            "5.00 CNY",
            "{}",
            orders.text
        );

        // A's no-reason refund: no cash moves, its 10.00 go back to the voucher.
        let r = refund_no_reason(&app, &m, a_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["state"], "refunded", "{}", r.text);
        assert_eq!(r.body["amount"], cny(0));
        assert_eq!(r.body["voucher_minor"], 1_000);
        // Nothing for a statement: the sale had no line either.
        assert_eq!(r.body["settlement"], "none");
        assert_eq!(balance(&app, &m).await, start - 2_500);
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(
            (&v["remaining"], &v["used"]),
            (&cny(1_000), &cny(500)),
            "{v}"
        );
        assert_eq!(m.order(&app, a_id).await["state"], "refunded");
        let seen = app
            .get(&format!("/v1/orders/{a_id}/refunds"), &m.seller_key)
            .await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        assert_eq!(
            seen.body["data"][0]["voucher_minor"], 1_000,
            "{}",
            seen.text
        );
        assert_eq!(seen.body["data"][0]["amount"], cny(0));

        // The after-sale page shows both parts, to the buyer and to the seller.
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        for web in [&buyer, &seller] {
            let page = web.get(&format!("/aftersale/orders/{a_id}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            assert_eq!(
                cell(&page.text, r#"class="refund-cash""#),
                "0.00 CNY",
                "{}",
                page.text
            );
            assert_eq!(cell(&page.text, r#"class="refund-voucher""#), "10.00 CNY");
            assert!(page.text.contains("Voucher part back"), "{}", page.text);
        }
        // The dashboard leaves the refunded order out: one order, 25.00.
        let page = seller.get("/seller/dashboard").await;
        assert!(
            page.text.contains("id=\"total-revenue\">25.00 CNY<"),
            "{}",
            page.text
        );
        assert_eq!(cell(&page.text, r#"id="total-orders""#).trim(), "1");

        // The month's statement (day 7 of M+1): B's 25.00 cash only, fee 5 % = 1.25; A has no
        // sale line and no refund line.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let sel = statements(&app, &m.seller_key, &month).await;
        let st = detail(&app, &m.seller_key, sel[0]["id"].as_str().unwrap()).await;
        let t = &st["totals"];
        assert_eq!(t["gross_minor"], 2_500, "{st}");
        assert_eq!(t["refunds_minor"], 0);
        assert_eq!(t["platform_fee_minor"], 125);
        assert_eq!(t["net_minor"], 2_500 - 125);
        let lines: Vec<(&str, &str, i64)> = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap(),
                    l["order_id"].as_str().unwrap_or(""),
                    l["amount_minor"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(lines, [("opening", b_id, 2_500)], "{st}");
        let r = app
            .get(&format!("/v1/orders/{a_id}/refunds"), &m.buyer_key)
            .await;
        assert_eq!(r.body["data"][0]["settlement"], "none", "{}", r.text);

        // Every balance, voucher and statement reproduces.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
