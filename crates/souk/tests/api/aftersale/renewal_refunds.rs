//! Renewal-period refunds 退续费 (§4.4): a paid renewal whose period has not started is refunded
//! in full, self-service; the instance's expiry moves back and the seller hears it as the
//! protocol says (V1 refreshInstance with a negative orderAmount, V2 refreshInstance scene
//! `UNSUBSCRIBE_RENEWAL_PERIOD`, License 2.0 refreshLicenseCode with that scene), through the
//! durable call path, at the real example seller.

use super::*;
use crate::licenses::{code_of, codes_market};

async fn refund(app: &TestApp, key: &str, order: &str, body: Value) -> Reply {
    app.post(&format!("/v1/orders/{order}/refunds"), key, body)
        .await
}

async fn attempts(app: &TestApp, m: &Market, activity: &str) -> Vec<Value> {
    let r = app
        .get("/v1/interface-messages?limit=200", &m.seller_key)
        .await;
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["activity"] == activity)
        .cloned()
        .collect()
}

async fn saas_renewal_refund(app: TestApp, proto: Proto) {
    let m = market(&app, proto, example_seller(&app, |_| {}).await).await;
    let order = m
        .buy(
            &app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 1}),
        )
        .await;
    let instance = order["instance_id"].as_str().unwrap();
    let opened = m.wait_instance(&app, instance, "active").await;
    let sid = opened["seller_instance_id"].as_str().unwrap().to_owned();
    let expiry = opened["expire_at"].clone();
    let renewal = m.act(&app, instance, "renew", json!({"periods": 1})).await;
    let rid = renewal["id"].as_str().unwrap().to_owned();
    m.wait_order(&app, &rid, "completed").await;
    assert_ne!(m.instance(&app, instance).await["expire_at"], expiry);
    let before = balance(&app, &m).await;

    // The purchase itself is not a renewal; an amount is refused; a stranger sees nothing.
    let wrong = refund(
        &app,
        &m.buyer_key,
        order["id"].as_str().unwrap(),
        json!({"kind": "renewal_period"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::CONFLICT, "{}", wrong.text);
    let with_amount = refund(
        &app,
        &m.buyer_key,
        &rid,
        json!({"kind": "renewal_period", "amount": {"amount_minor": 1, "currency": "CNY"}}),
    )
    .await;
    assert_eq!(
        with_amount.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        with_amount.text
    );
    let (_, stranger) = app.party("buyers", "Stranger").await;
    let hidden = refund(&app, &stranger, &rid, json!({"kind": "renewal_period"})).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);

    let r = refund(&app, &m.buyer_key, &rid, json!({"kind": "renewal_period"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["kind"], "renewal_period");
    assert_eq!(r.body["state"], "refunded");
    assert_eq!(r.body["settlement"], "to_deduct");
    assert_eq!(
        r.body["amount"], renewal["amount"],
        "the full renewal price"
    );
    assert_eq!(m.order(&app, &rid).await["state"], "refunded");
    let inst = m.instance(&app, instance).await;
    assert_eq!(inst["expire_at"], expiry, "the expiry is back: {inst}");
    assert_eq!(inst["state"], "active", "the paid period is untouched");
    assert_ne!(balance(&app, &m).await, before, "the money is back");
    let twice = refund(&app, &m.buyer_key, &rid, json!({"kind": "renewal_period"})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);

    eventually(&app, "the seller moved the expiry back", || async {
        m.example
            .state()
            .instance(&sid)
            .is_some_and(|i| i.renewals_refunded == vec![rid.clone()])
    })
    .await;
    let calls = attempts(&app, &m, "refreshInstance").await;
    // V2 names the scene; V1 says it with a negative amount.
    let is_refund = |c: &&Value| {
        let t = c["request"].to_string();
        match proto {
            Proto::V2 => t.contains("UNSUBSCRIBE_RENEWAL_PERIOD"),
            Proto::V1 => t.contains("orderAmount=-") || t.contains("\"orderAmount\":\"-"),
        }
    };
    let call = calls
        .iter()
        .find(is_refund)
        .unwrap_or_else(|| panic!("no refund refresh: {calls:?}"));
    assert_eq!(call["outcome"], "success", "{call}");
    let text = call["request"].to_string();
    assert!(text.contains(&rid), "the refunded renewal order: {text}");
}

backend_test!(
    a_v2_renewal_refund_sends_the_unsubscribe_renewal_period_scene,
    |app: TestApp| async move { saas_renewal_refund(app, Proto::V2).await }
);

backend_test!(
    a_v1_renewal_refund_sends_a_negative_order_amount,
    |app: TestApp| async move { saas_renewal_refund(app, Proto::V1).await }
);

backend_test!(
    a_renewal_in_effect_is_not_refunded_and_codes_hear_the_refund,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (_, instance, codes) = super::licenses::buy(&app, &m, "general").await;
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020000"
        );
        let first = m.act(&app, &instance, "renew", json!({"periods": 1})).await;
        let second = m.act(&app, &instance, "renew", json!({"periods": 1})).await;
        let first = first["id"].as_str().unwrap();
        let second = second["id"].as_str().unwrap();
        // The earlier renewal is not the latest one: refund the later first.
        let r = refund(&app, &m.buyer_key, first, json!({"kind": "renewal_period"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "refund_not_allowed");
        let r = refund(
            &app,
            &m.buyer_key,
            second,
            json!({"kind": "renewal_period"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        app.drain().await;
        let calls = attempts(&app, &m, "refreshLicenseCode").await;
        assert!(
            calls.iter().any(
                |c| c["request"]["body"]["scene"] == "UNSUBSCRIBE_RENEWAL_PERIOD"
                    && c["request"]["body"]["orderId"] == second
                    && c["outcome"] == "success"
            ),
            "{calls:?}"
        );
        // The first renewal's period starts after a month: by then it is in effect.
        app.advance(Duration::days(32)).await;
        let r = refund(&app, &m.buyer_key, first, json!({"kind": "renewal_period"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.text.contains("started"), "{}", r.text);
    }
);
