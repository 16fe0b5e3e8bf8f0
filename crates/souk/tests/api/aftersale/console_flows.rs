//! The after-sale steps that were API-only, now console forms, on both backends: the buyer's
//! hardware identifier (License 识别码 flow), the seller's license delivered by hand (online
//! License whose getLicense fails), and the operator's confirmation that hardware goods are in
//! transit before the seller reviews a "not received" refund (§4.3).

use super::console::{logged_in, step};
use super::*;
use crate::console_support::operator_id;
use crate::licenses::license_market;
use souk_isv::example::FailureMode;

async fn license_order(app: &TestApp, m: &Market) -> (String, String) {
    let order = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 1}),
        )
        .await;
    (
        order["id"].as_str().unwrap().to_owned(),
        order["instance_id"].as_str().unwrap().to_owned(),
    )
}

backend_test!(
    a_buyer_submits_the_hardware_identifier_from_the_console,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = license_market(&app, Proto::V2, "identifier", ex).await;
        let (id, instance) = license_order(&app, &m).await;
        let page = format!("/aftersale/orders/{id}");
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        assert!(!seller
            .get(&page)
            .await
            .text
            .contains("form-submit-identifier"));
        let p = buyer.get(&page).await.text;
        assert!(p.contains("id=\"form-submit-identifier\""), "{p}");
        // Too long: the API's rule on a readable page.
        let long = "H".repeat(201);
        let r = buyer
            .submit(
                &page,
                &format!("{page}/act"),
                &[("action", "submit_identifier"), ("hardware_id", &long)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("<html"), "{}", r.text);
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "submit_identifier"),
                ("hardware_id", "HW-7F3A-0042"),
            ],
        )
        .await;
        let s = supervision(&app, &m.seller_key, &id).await.body;
        assert_eq!(s["identifier"], "HW-7F3A-0042", "{s}");
        assert_eq!(s["identifier_generated"], false);
        assert_eq!(s["node"], "implement");
        let p = seller.get(&page).await.text;
        assert!(p.contains("id=\"sv-identifier\">HW-7F3A-0042<"), "{p}");
        step(&seller, &id, "/act", &[("action", "implement")]).await;
        step(&buyer, &id, "/act", &[("action", "accept")]).await;
        assert_eq!(m.order(&app, &id).await["state"], "completed");
        assert_eq!(m.instance(&app, &instance).await["state"], "active");

        // Left empty, Souk generates the identifier.
        let (id2, _) = license_order(&app, &m).await;
        step(
            &buyer,
            &id2,
            "/act",
            &[("action", "submit_identifier"), ("hardware_id", "")],
        )
        .await;
        let s = supervision(&app, &m.buyer_key, &id2).await.body;
        assert!(s["identifier"].as_str().unwrap().starts_with("SYS-"), "{s}");
    }
);

backend_test!(
    a_seller_delivers_an_online_license_by_hand_from_the_console,
    |app: TestApp| async move {
        let broken = example_seller(&app, |c| {
            c.fail_first_n = 1_000_000;
            c.failure = FailureMode::Http500;
        })
        .await;
        let m = license_market(&app, Proto::V2, "online", broken).await;
        let (id, instance) = license_order(&app, &m).await;
        app.drain().await;
        let page = format!("/aftersale/orders/{id}");
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let p = seller.get(&page).await.text;
        assert!(p.contains("id=\"license\""), "{p}");
        // Without the license, the API's 409 on a readable page.
        let r = seller
            .submit(
                &page,
                &format!("{page}/act"),
                &[("action", "implement"), ("license", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(
            r.text.contains("<html") && r.text.contains("getLicense"),
            "{}",
            r.text
        );
        step(
            &seller,
            &id,
            "/act",
            &[("action", "implement"), ("license", "LIC-BY-HAND-7")],
        )
        .await;
        let s = supervision(&app, &m.buyer_key, &id).await.body;
        assert_eq!(s["node"], "buyer_accept", "{s}");
        assert!(!s.to_string().contains("LIC-BY-HAND-7"), "{s}");
        let inst = m.instance(&app, &instance).await;
        assert_eq!(inst["state"], "active", "{inst}");
        assert_eq!(inst["license"], "LIC-BY-HAND-7");
        // The failing getLicense giving up later fails nothing: the license was delivered.
        for _ in 0..8 {
            app.advance(Duration::hours(1)).await;
        }
        assert_eq!(m.instance(&app, &instance).await["state"], "active");
        // Only online Licenses get the field.
        let ex = example_seller(&app, |_| {}).await;
        let m2 = license_market(&app, Proto::V2, "package_deployment", ex).await;
        let (id2, _) = license_order(&app, &m2).await;
        let seller2 = logged_in(&app, &m2.seller_id, "seller2@example.com").await;
        let p = seller2.get(&format!("/aftersale/orders/{id2}")).await.text;
        assert!(
            p.contains("id=\"form-implement\"") && !p.contains("id=\"license\""),
            "{p}"
        );
    }
);

backend_test!(
    an_operator_confirms_hardware_in_transit_from_the_console,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "hardware", json!({})).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": sku, "billing_mode": "one_time", "recipient": {"name": "Lan Ying", "phone": "+8613800000001", "address": "1 Road, Shenzhen"}}),
            )
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        let page = format!("/aftersale/orders/{id}");
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let op = logged_in(&app, &operator_id(&app).await, "ops@example.com").await;
        step(
            &seller,
            &id,
            "/act",
            &[
                ("action", "implement"),
                ("carrier", "SF Express"),
                ("tracking_number", "SF100"),
            ],
        )
        .await;
        step(
            &buyer,
            &id,
            "/refunds",
            &[
                ("kind", "negotiated"),
                ("amount", "200.00"),
                ("reason", "Never arrived"),
                ("goods_state", "not_received"),
            ],
        )
        .await;
        // Shipped: an operator confirms first; the seller sees no decision form yet.
        let p = seller.get(&page).await.text;
        assert!(p.contains("id=\"refund-awaits-operator\""), "{p}");
        assert!(!p.contains("id=\"approve-refund\""), "{p}");
        let r = seller
            .submit(
                &page,
                &format!("{page}/refunds/decision"),
                &[("decision", "approve")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.text.contains("<html"), "{}", r.text);
        let p = op.get(&page).await.text;
        assert!(p.contains("id=\"form-confirm-in-transit\""), "{p}");
        step(
            &op,
            &id,
            "/refunds/decision",
            &[("decision", "confirm_in_transit")],
        )
        .await;
        let refunds = app
            .get(&format!("/v1/orders/{id}/refunds"), &m.buyer_key)
            .await;
        let r0 = &refunds.body["data"][0];
        assert_eq!(r0["awaiting_operator"], false, "{r0}");
        assert_eq!(r0["state"], "pending_seller_review");
        assert!(r0["deadline"].is_string(), "{r0}");
        let p = op.get(&page).await.text;
        assert!(!p.contains("id=\"form-confirm-in-transit\""), "{p}");
        // Now the seller decides from the console.
        step(
            &seller,
            &id,
            "/refunds/decision",
            &[("decision", "approve"), ("opinion", "Lost in transit")],
        )
        .await;
        assert_eq!(m.order(&app, &id).await["state"], "refunded");
    }
);
