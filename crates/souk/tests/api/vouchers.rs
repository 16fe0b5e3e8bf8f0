//! Seller vouchers (business rules §8.2) through real HTTP on both backends: a seller issues a
//! voucher, the buyer pays part of one order with it and the rest of it on a second order, a
//! third is refused as exhausted; a refund returns the cash to the balance and the voucher part
//! to the voucher, and an order the voucher paid alone is refunded back to it; every refusal
//! has its code; two orders racing for one voucher: one wins.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub(crate) fn at(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

pub(crate) fn cny(n: i64) -> Value {
    json!({"amount_minor": n, "currency": "CNY"})
}

/// A voucher of `face` CNY minor units from `m`'s seller to its buyer, valid 90 days, with
/// `extra` fields merged in; returns its id.
pub(crate) async fn issue(app: &TestApp, m: &Market, face: i64, extra: Value) -> String {
    let r = issue_reply(app, &m.seller_key, &m.buyer_id, face, extra).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn issue_reply(
    app: &TestApp,
    seller_key: &str,
    buyer_id: &str,
    face: i64,
    extra: Value,
) -> Reply {
    let mut body = json!({"buyer_id": buyer_id, "face_value": cny(face),
        "valid_until": at(app.clock.now() + Duration::days(90))});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/v1/vouchers", seller_key, body).await
}

pub(crate) async fn voucher(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app.get(&format!("/v1/vouchers/{id}"), key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// The buyer's no-reason refund of `order`.
pub(crate) async fn refund_no_reason(app: &TestApp, m: &Market, order: &str) -> Reply {
    app.post(
        &format!("/v1/orders/{order}/refunds"),
        &m.buyer_key,
        json!({"kind": "no_reason"}),
    )
    .await
}

async fn place(app: &TestApp, key: &str, body: Value) -> Reply {
    app.post("/v1/orders", key, body).await
}

async fn pay(app: &TestApp, key: &str, order: &str) -> Reply {
    app.post(&format!("/v1/orders/{order}/pay"), key, json!({}))
        .await
}

fn kinds(msgs: &Value) -> Vec<String> {
    msgs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect()
}

backend_test!(
    a_voucher_pays_two_orders_then_is_exhausted_and_a_refund_returns_both_parts,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let start = balance(&app, &m).await;
        let id = issue(&app, &m, 1_500, json!({"note": "Welcome"})).await;
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(v["status"], "usable", "{v}");
        assert_eq!(v["remaining"], cny(1_500));
        assert_eq!(v["buyer_id"], m.buyer_id.as_str());
        let msgs = app.get("/v1/messages", &m.buyer_key).await.body;
        assert!(
            kinds(&msgs).contains(&"voucher_issued".to_owned()),
            "{msgs}"
        );

        // 10.00: the voucher pays all of it (its 15.00 are more), nothing from the balance.
        let a = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": id}),
            )
            .await;
        assert_eq!(a["amount"], cny(1_000), "{a}");
        assert_eq!(a["voucher_id"], id.as_str());
        assert_eq!(a["voucher_minor"], 1_000);
        assert_eq!(a["cash"], cny(0));
        assert_eq!(balance(&app, &m).await, start);
        let v = voucher(&app, &m.seller_key, &id).await;
        assert_eq!((&v["remaining"], &v["used"]), (&cny(500), &cny(1_000)));

        // 20.00: the rest of the voucher (5.00) and 15.00 cash.
        let b = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 2, "voucher": id}),
            )
            .await;
        assert_eq!(
            (&b["voucher_minor"], &b["cash"]),
            (&json!(500), &cny(1_500))
        );
        assert_eq!(balance(&app, &m).await, start - 1_500);
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(
            (&v["status"], &v["remaining"]),
            (&json!("exhausted"), &cny(0))
        );

        // A third order: nothing is left.
        place(
            &app,
            &m.buyer_key,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": id}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "voucher_exhausted");

        // The no-reason refund of b: 15.00 back to the balance, 5.00 back to the voucher.
        let b_id = b["id"].as_str().unwrap();
        m.wait_order(&app, b_id, "completed").await;
        let r = refund_no_reason(&app, &m, b_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["amount"], cny(1_500), "{}", r.text);
        assert_eq!(r.body["voucher_minor"], 500, "{}", r.text);
        assert_eq!(balance(&app, &m).await, start);
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(
            (&v["status"], &v["remaining"]),
            (&json!("usable"), &cny(500))
        );
        assert_eq!(v["used"], cny(1_000));

        // a was paid by the voucher alone: its refund returns no cash and its 10.00 to the
        // voucher (vouchers_refunds.rs follows such an order to the statement).
        let a_id = a["id"].as_str().unwrap();
        m.wait_order(&app, a_id, "completed").await;
        let r = refund_no_reason(&app, &m, a_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            (&r.body["amount"], &r.body["voucher_minor"]),
            (&cny(0), &json!(1_000))
        );
        assert_eq!(balance(&app, &m).await, start);
        assert_eq!(
            voucher(&app, &m.buyer_key, &id).await["remaining"],
            cny(1_500)
        );

        // A refund after the voucher's validity: the part goes back to it, unusable.
        let short = issue(
            &app,
            &m,
            400,
            json!({"valid_until": at(app.clock.now() + Duration::days(2))}),
        )
        .await;
        let c = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": short}),
            )
            .await;
        let c_id = c["id"].as_str().unwrap();
        m.wait_order(&app, c_id, "completed").await;
        app.advance(Duration::days(3)).await;
        let before = balance(&app, &m).await;
        let r = refund_no_reason(&app, &m, c_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(balance(&app, &m).await, before + 600);
        let v = voucher(&app, &m.buyer_key, &short).await;
        assert_eq!(
            (&v["status"], &v["remaining"]),
            (&json!("expired"), &cny(400))
        );

        // After its validity the first voucher is refused too.
        app.advance(Duration::days(88)).await;
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(v["status"], "expired");
        place(
            &app,
            &m.buyer_key,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": id}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "voucher_expired");

        // Every balance and every order's voucher part reproduces.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);

backend_test!(
    voucher_refusals_have_clear_codes_and_only_unused_vouchers_are_revoked,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let other = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let buy = |v: &str, sku: &str, mode: &str| json!({"sku_id": sku, "billing_mode": mode, "voucher": v});

        // Issuing: another seller's product or SKU is not found; bad values are 422.
        let foreign = json!({"product_ids": [other.product_id]});
        issue_reply(&app, &m.seller_key, &m.buyer_id, 100, foreign)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let foreign = json!({"sku_ids": [other.basic]});
        issue_reply(&app, &m.seller_key, &m.buyer_id, 100, foreign)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        issue_reply(&app, &m.seller_key, &m.buyer_id, 0, json!({}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        issue_reply(&app, &m.seller_key, &m.seller_id, 100, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        issue_reply(&app, &m.buyer_key, &m.buyer_id, 100, json!({}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Another buyer's voucher does not exist for this buyer.
        let theirs = issue(&app, &other, 1_000, json!({})).await;
        place(&app, &m.buyer_key, buy(&theirs, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // Another seller's product is out of scope; so is a SKU outside the voucher's.
        let mine = issue(&app, &m, 1_000, json!({})).await;
        place(&app, &m.buyer_key, buy(&mine, &other.basic, "monthly"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "voucher_out_of_scope");
        let pro_only = issue(&app, &m, 1_000, json!({"sku_ids": [m.pro]})).await;
        place(&app, &m.buyer_key, buy(&pro_only, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "voucher_out_of_scope");
        let placed = place(&app, &m.buyer_key, buy(&pro_only, &m.pro, "monthly")).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!(placed.body["voucher_minor"], 1_000);
        // Currency.
        let usd = issue(
            &app,
            &m,
            0,
            json!({"face_value": {"amount_minor": 100, "currency": "USD"}}),
        )
        .await;
        place(&app, &m.buyer_key, buy(&usd, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "voucher_currency");
        // Nothing prepaid: a trial (and on-demand usage) never takes a voucher.
        place(&app, &m.buyer_key, buy(&mine, &m.basic, "trial"))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "voucher_not_applicable");
        // Not yet valid, then expired.
        let later = app.clock.now() + Duration::days(10);
        let future = issue(&app, &m, 1_000, json!({"valid_from": at(later)})).await;
        place(&app, &m.buyer_key, buy(&future, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::CONFLICT, "voucher_not_yet_valid");
        assert_eq!(
            voucher(&app, &m.buyer_key, &future).await["status"],
            "not_yet_valid"
        );

        // A placed order whose voucher expired before payment: 409, nothing charged.
        let pending = place(&app, &m.buyer_key, buy(&mine, &m.basic, "monthly")).await;
        assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.text);
        let before = balance(&app, &m).await;
        let short = issue(
            &app,
            &m,
            1_000,
            json!({"valid_until": at(app.clock.now() + Duration::minutes(10))}),
        )
        .await;
        let doomed = place(&app, &m.buyer_key, buy(&short, &m.basic, "monthly")).await;
        assert_eq!(doomed.status, StatusCode::CREATED, "{}", doomed.text);
        app.advance(Duration::minutes(11)).await;
        let d_id = doomed.body["id"].as_str().unwrap();
        pay(&app, &m.buyer_key, d_id)
            .await
            .assert_error(StatusCode::CONFLICT, "voucher_expired");
        assert_eq!(balance(&app, &m).await, before);
        assert_eq!(m.order(&app, d_id).await["state"], "pending_payment");
        place(&app, &m.buyer_key, buy(&short, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::CONFLICT, "voucher_expired");

        // Revoke: an unused voucher (the buyer is told); not one that paid something.
        let unused = issue(&app, &m, 300, json!({})).await;
        let r = app
            .post(
                &format!("/v1/vouchers/{unused}/revoke"),
                &m.seller_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "revoked");
        let msgs = app.get("/v1/messages", &m.buyer_key).await.body;
        assert!(kinds(&msgs).contains(&"voucher_revoked".to_owned()));
        place(&app, &m.buyer_key, buy(&unused, &m.basic, "monthly"))
            .await
            .assert_error(StatusCode::CONFLICT, "voucher_revoked");
        let p_id = pending.body["id"].as_str().unwrap();
        let paid = pay(&app, &m.buyer_key, p_id).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        app.post(
            &format!("/v1/vouchers/{mine}/revoke"),
            &m.seller_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "voucher_state");
        app.post(
            &format!("/v1/vouchers/{mine}/revoke"),
            &m.buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Who sees what: the seller its issued ones, the buyer its own, the operator all.
        let ids = |r: Reply| -> Vec<String> {
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_owned())
                .collect()
        };
        let seller_sees = ids(app.get("/v1/vouchers", &m.seller_key).await);
        let buyer_sees = ids(app.get("/v1/vouchers", &m.buyer_key).await);
        let all = ids(app.get("/v1/vouchers", &app.operator_key).await);
        assert!(!seller_sees.contains(&theirs) && !buyer_sees.contains(&theirs));
        assert!(seller_sees.contains(&mine) && buyer_sees.contains(&mine));
        assert!(all.contains(&theirs) && all.contains(&mine));
        app.get(&format!("/v1/vouchers/{mine}"), &other.seller_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/v1/vouchers/{mine}"), &other.buyer_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.drain().await;
    }
);

backend_test!(
    two_orders_racing_for_one_voucher_one_pays_the_other_is_refused,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let id = issue(&app, &m, 1_000, json!({})).await;
        let body = json!({"sku_id": m.basic, "billing_mode": "monthly", "voucher": id});
        let one = place(&app, &m.buyer_key, body.clone()).await;
        let two = place(&app, &m.buyer_key, body).await;
        assert_eq!(one.body["voucher_minor"], 1_000, "{}", one.text);
        assert_eq!(two.body["voucher_minor"], 1_000, "{}", two.text);
        let before = balance(&app, &m).await;
        let (a, b) = tokio::join!(
            pay(&app, &m.buyer_key, one.body["id"].as_str().unwrap()),
            pay(&app, &m.buyer_key, two.body["id"].as_str().unwrap()),
        );
        let (won, lost) = if a.status == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(won.status, StatusCode::OK, "{}", won.text);
        lost.assert_error(StatusCode::CONFLICT, "voucher_exhausted");
        assert!(lost.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("place it again"));
        assert_eq!(balance(&app, &m).await, before);
        let v = voucher(&app, &m.buyer_key, &id).await;
        assert_eq!(v["remaining"], cny(0));
        app.drain().await;
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
