//! Supervised SaaS with the opening mode "open after buyer acceptance" (§3.2): nothing reaches
//! the seller at payment; the buyer's acceptance sends newInstance (through the durable call
//! path, to the real example seller) with the expiry that starts at acceptance, and the order
//! completes when the seller answers. A refund before acceptance tells the seller nothing.

use super::*;

async fn accepting_saas(app: &TestApp, m: &Market) -> String {
    let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
    // V1: newInstance carries the expiry itself (V2 sellers read it from the order query).
    let mut body = product_body("Acme Managed Later", Proto::V1, &url);
    body["supervised"] = json!(true);
    body["open_after_acceptance"] = json!(true);
    publish(app, m, body).await["skus"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

backend_test!(
    a_saas_opened_after_acceptance_reaches_the_seller_only_when_the_buyer_accepts,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        // Only supervised SaaS may open after acceptance.
        let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
        let mut plain = product_body("Acme Plain", Proto::V2, &url);
        plain["open_after_acceptance"] = json!(true);
        let r = app.post("/v1/products", &m.seller_key, plain).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

        let sku = accepting_saas(&app, &m).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let instance = order["instance_id"].as_str().unwrap();
        app.drain().await;
        assert_eq!(m.example.state().calls_of("newInstance").count(), 0);
        assert_eq!(m.instance(&app, instance).await["state"], "opening");

        to_acceptance(&app, &m, id).await;
        app.advance(Duration::days(2)).await;
        let before = app.clock.now();
        act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        let after = app.clock.now();
        let opened = m.wait_instance(&app, instance, "active").await;
        assert_eq!(m.example.state().calls_of("newInstance").count(), 1);
        m.wait_order(&app, id, "completed").await;
        // The month starts at acceptance, and that is the expiry the seller received.
        let expires = at(&opened["expire_at"]);
        assert!(
            expires >= before + Duration::days(28) && expires <= after + Duration::days(31),
            "{opened}"
        );
        let sid = opened["seller_instance_id"].as_str().unwrap();
        let seen = m.example.state().instance(sid).unwrap().expire_time.clone();
        let wire = expires
            .format(&time::macros::format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .unwrap();
        assert_eq!(
            seen.as_deref(),
            Some(wire.as_str()),
            "the seller got this expiry"
        );

        // Refunded before acceptance: released at Souk, nothing to release at the seller.
        let order2 = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id2 = order2["id"].as_str().unwrap();
        let r = app
            .post(
                &format!("/v1/orders/{id2}/refunds"),
                &m.buyer_key,
                json!({"kind": "negotiated", "amount": {"amount_minor": 1000, "currency": "CNY"}, "reason": "no longer needed"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let d = app
            .post(
                &format!("/v1/orders/{id2}/refunds/decision"),
                &m.seller_key,
                json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(d.body["state"], "refunded", "{}", d.text);
        app.drain().await;
        m.wait_instance(&app, order2["instance_id"].as_str().unwrap(), "released")
            .await;
        assert_eq!(m.example.state().calls_of("releaseInstance").count(), 0);
        assert_eq!(m.example.state().calls_of("newInstance").count(), 1);
    }
);
