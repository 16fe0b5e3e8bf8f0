//! The License supervision flows other than the code flow (§3.2): identifier (识别码), offline
//! (线下, acceptance report and ≥ 3 screenshots, §3.5), package deployment (with platform review)
//! and online (在线开通: the seller's getLicense at the real example seller, or the license by
//! hand from the supervision page). One full flow each, on both backends.

use super::*;
use crate::licenses::license_market;
use souk_isv::example::FailureMode;

async fn upload(app: &TestApp, key: &str, order: &str, name: &str, ctype: &str) -> String {
    let r = app
        .send(
            app.http
                .post(app.url(&format!("/v1/orders/{order}/attachments?filename={name}")))
                .bearer_auth(key)
                .header("content-type", ctype)
                .body(format!("{name}: evidence bytes").into_bytes()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn buy(app: &TestApp, m: &Market, scenario: &str) -> (String, String) {
    let order = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 1, "sales_scenario": scenario}),
        )
        .await;
    (
        order["id"].as_str().unwrap().to_owned(),
        order["instance_id"].as_str().unwrap().to_owned(),
    )
}

/// Accepts as the buyer; the order completes and the instance is active from acceptance.
async fn accept_and_complete(app: &TestApp, m: &Market, order: &str, instance: &str) -> Value {
    let s = act(app, &m.buyer_key, order, json!({"action": "accept"})).await;
    assert_eq!(s["node"], "completed", "{s}");
    assert_eq!(s["accepted_by"], "buyer");
    assert_eq!(m.order(app, order).await["state"], "completed");
    let inst = m.instance(app, instance).await;
    assert_eq!(inst["state"], "active", "{inst}");
    s
}

backend_test!(
    an_identifier_license_binds_to_a_system_identifier_and_the_buyer_accepts,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = license_market(&app, Proto::V2, "identifier", ex).await;
        let (order, instance) = buy(&app, &m, "general").await;
        app.drain().await;
        let s = supervision(&app, &m.seller_key, &order).await.body;
        assert_eq!(
            s["flow"],
            json!([
                "submit_identifier",
                "implement",
                "buyer_accept",
                "completed"
            ]),
            "{s}"
        );
        assert_eq!(s["waiting_for"], "buyer");
        // Delivered by hand: nothing is opened at the seller, the instance waits.
        assert_eq!(m.instance(&app, &instance).await["state"], "opening");
        let r = try_act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.body["error"]["details"]["node"], "submit_identifier");
        let s = act(
            &app,
            &m.buyer_key,
            &order,
            json!({"action": "submit_identifier"}),
        )
        .await;
        let id = s["identifier"].as_str().unwrap();
        assert!(id.starts_with("SYS-") && id.len() == 24, "{s}");
        assert_eq!(s["identifier_generated"], true);
        assert_eq!(s["node"], "implement");
        let log = s["log"].as_array().unwrap();
        assert_eq!(log.last().unwrap()["payload"]["system_id"], id, "{s}");
        // A license by hand is for online Licenses only.
        let r = try_act(
            &app,
            &m.seller_key,
            &order,
            json!({"action": "implement", "license": "LIC-1"}),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        // The seller sees the identifier and delivers.
        let seller_view = supervision(&app, &m.seller_key, &order).await.body;
        assert_eq!(seller_view["identifier"], id);
        act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        accept_and_complete(&app, &m, &order, &instance).await;
        app.drain().await;
        let state = m.example.state();
        assert_eq!(state.calls_of("getLicenseAsync").count(), 0);
        assert_eq!(state.calls_of("newInstance").count(), 0);
    }
);

backend_test!(
    an_offline_license_needs_an_acceptance_report_and_three_screenshots,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = license_market(&app, Proto::V2, "offline", ex).await;
        let (order, instance) = buy(&app, &m, "general").await;
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        assert_eq!(
            s["flow"],
            json!(["implement", "deliver_proof", "buyer_accept", "completed"]),
            "{s}"
        );
        act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        let report = upload(&app, &m.seller_key, &order, "report.pdf", "application/pdf").await;
        let mut shots = Vec::new();
        for n in 1..=3 {
            shots.push(
                upload(
                    &app,
                    &m.seller_key,
                    &order,
                    &format!("s{n}.png"),
                    "image/png",
                )
                .await,
            );
        }
        let notes = upload(&app, &m.seller_key, &order, "notes.txt", "text/plain").await;
        let report_item = json!({"kind": "acceptance_report", "description": "Acceptance report signed by the buyer", "signed_by": ["seller", "buyer"], "attachments": [report]});
        let proof = |items: Value| json!({"action": "deliver_proof", "evidence": items});
        // Two screenshots are not enough; a text file is not a screenshot.
        for items in [
            json!([report_item, {"kind": "screenshot", "description": "Main page", "attachments": [shots[0], shots[1]]}]),
            json!([report_item, {"kind": "screenshot", "description": "Pages", "attachments": [shots[0], shots[1], notes]}]),
            json!([{"kind": "screenshot", "description": "Pages", "attachments": shots}]),
        ] {
            let r = try_act(&app, &m.seller_key, &order, proof(items)).await;
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert!(r.text.contains("evidence"), "{}", r.text);
        }
        let s = act(
            &app,
            &m.seller_key,
            &order,
            proof(json!([report_item, {"kind": "screenshot", "description": "Main page with the customer's name, settings, report", "attachments": shots}])),
        )
        .await;
        assert_eq!(s["node"], "buyer_accept", "{s}");
        assert_eq!(s["evidence"].as_array().unwrap().len(), 2);
        accept_and_complete(&app, &m, &order, &instance).await;
    }
);

backend_test!(
    a_package_deployment_license_passes_platform_review_then_the_buyer_accepts,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = license_market(&app, Proto::V2, "package_deployment", ex).await;
        let (order, instance) = buy(&app, &m, "empowerment").await;
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        assert_eq!(
            s["flow"],
            json!(["implement", "platform_review", "buyer_accept", "completed"]),
            "{s}"
        );
        let s = act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        assert_eq!(s["waiting_for"], "operator", "{s}");
        let r = try_act(&app, &m.buyer_key, &order, json!({"action": "accept"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.body["error"]["details"]["node"], "platform_review");
        // Returned: back to the seller's deployment.
        let s = act(
            &app,
            &app.operator_key,
            &order,
            json!({"action": "return_review", "reason": "Attach the deployment record"}),
        )
        .await;
        assert_eq!(s["node"], "implement", "{s}");
        act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        act(
            &app,
            &app.operator_key,
            &order,
            json!({"action": "pass_review"}),
        )
        .await;
        accept_and_complete(&app, &m, &order, &instance).await;
    }
);

backend_test!(
    an_online_license_comes_from_get_license_or_by_hand_and_the_buyer_accepts,
    |app: TestApp| async move {
        // The seller's getLicenseAsync answers: the seller confirms and the buyer accepts.
        let ex = example_seller(&app, |_| {}).await;
        let m = license_market(&app, Proto::V2, "online", ex).await;
        let (order, instance) = buy(&app, &m, "general").await;
        let inst = m.wait_instance(&app, &instance, "active").await;
        assert!(
            inst["license"].as_str().is_some_and(|l| !l.is_empty()),
            "{inst}"
        );
        // Delivered but not accepted: the order waits for supervision.
        assert_eq!(m.order(&app, &order).await["state"], "processing");
        let s = supervision(&app, &m.seller_key, &order).await.body;
        assert_eq!(
            s["flow"],
            json!(["implement", "buyer_accept", "completed"]),
            "{s}"
        );
        act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        accept_and_complete(&app, &m, &order, &instance).await;
        assert!(m.example.state().calls_of("getLicenseAsync").count() >= 1);

        // A seller whose getLicense keeps failing delivers by hand from the supervision page.
        let broken = example_seller(&app, |c| {
            c.fail_first_n = 1_000_000;
            c.failure = FailureMode::Http500;
        })
        .await;
        let m = license_market(&app, Proto::V2, "online", broken).await;
        let (order, instance) = buy(&app, &m, "general").await;
        app.drain().await;
        let r = try_act(&app, &m.seller_key, &order, json!({"action": "implement"})).await;
        r.assert_error(StatusCode::CONFLICT, "license_not_delivered");
        let s = act(
            &app,
            &m.seller_key,
            &order,
            json!({"action": "implement", "license": "LIC-BY-HAND-42"}),
        )
        .await;
        assert_eq!(s["node"], "buyer_accept", "{s}");
        // The log never holds the license; only the buyer sees it, on the instance.
        assert!(!s.to_string().contains("LIC-BY-HAND-42"), "{s}");
        let inst = m.instance(&app, &instance).await;
        assert_eq!(inst["state"], "active", "{inst}");
        assert_eq!(inst["license"], "LIC-BY-HAND-42");
        accept_and_complete(&app, &m, &order, &instance).await;
        // The failing call giving up later fails nothing: the license was delivered.
        for _ in 0..8 {
            app.advance(Duration::hours(1)).await;
        }
        assert_eq!(m.order(&app, &order).await["state"], "completed");
        assert_eq!(m.instance(&app, &instance).await["state"], "active");
    }
);
