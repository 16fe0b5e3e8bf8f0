//! License orders under supervision (§3.2 License code flow): Souk issues the codes at payment,
//! the first activation through the real License open API passes `activate_code`, sets the
//! actual start and completes the order; refunds revoke the codes (§4.6) and the seller's
//! License 2.0 interface hears `releaseLicenseCode` for each activated code.

use super::*;
use crate::licenses::{code_of, codes_market};

/// Places and pays a Souk-issued-codes order; returns (order id, instance id, codes).
pub(super) async fn buy(
    app: &TestApp,
    m: &Market,
    scenario: &str,
) -> (String, String, Vec<String>) {
    let placed = app
        .post(
            "/v1/orders",
            &m.buyer_key,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 1, "sales_scenario": scenario}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_owned();
    let paid = app
        .post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
        .await;
    assert_eq!(paid.body["state"], "processing", "{}", paid.text);
    let instance = paid.body["instance_id"].as_str().unwrap().to_owned();
    let codes = app
        .get(
            &format!("/v1/instances/{instance}/license-codes"),
            &m.buyer_key,
        )
        .await;
    let codes = codes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    (id, instance, codes)
}

backend_test!(
    a_license_code_activation_passes_supervision_and_starts_the_period,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (order, instance, codes) = buy(&app, &m, "general").await;
        let s = supervision(&app, &m.buyer_key, &order).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(s.body["node"], "activate_code", "{}", s.text);
        assert_eq!(s.body["waiting_for"], "system");
        // Nobody passes the node by hand.
        for key in [&m.buyer_key, &m.seller_key] {
            let r = try_act(
                &app,
                key,
                &order,
                json!({"action": "activate_code", "license": codes[0], "activated_at": "2026-01-01T00:00:00Z"}),
            )
            .await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
            assert_eq!(r.body["error"]["code"], "out_of_turn");
            assert_eq!(r.body["error"]["details"]["node"], "activate_code");
        }

        // Activated three days after payment: the month starts then (§3.6 code flow).
        app.advance(Duration::days(3)).await;
        let before = app.clock.now();
        let r = sw.activate(&app, &codes[0], Some("machine-1")).await;
        let after = app.clock.now();
        assert_eq!(code_of(&r), "92020000", "{}", r.text);
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        assert_eq!(s["node"], "completed", "{s}");
        assert_eq!(s["accepted_by"], "system");
        let activated_at = at(&s["actual_start"]);
        assert!(before <= activated_at && activated_at <= after, "{s}");
        let log = s["log"].as_array().unwrap();
        assert_eq!(log.last().unwrap()["action"], "activate_code", "{s}");
        assert_eq!(m.order(&app, &order).await["state"], "completed");
        let inst = m.instance(&app, &instance).await;
        let expected = activated_at + Duration::days(31);
        let expires = at(&inst["expire_at"]);
        assert!(
            expires >= activated_at + Duration::days(28) && expires <= expected,
            "{inst}"
        );
        // The License open API answers with the moved expiry at once.
        let hb = sw.heartbeat(&app, &codes[0], Some("machine-1")).await;
        assert_eq!(code_of(&hb), "92020000", "{}", hb.text);
        let wire = expires
            .format(&time::macros::format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .unwrap();
        assert_eq!(hb.body["data"]["expire_time"], wire.as_str(), "{}", hb.text);
        // Taken and activated: no negotiated refund any more.
        let refund = app
            .post(
                &format!("/v1/orders/{order}/refunds"),
                &m.buyer_key,
                json!({"kind": "negotiated", "amount": {"amount_minor": 500, "currency": "CNY"}, "reason": "changed my mind"}),
            )
            .await;
        assert_eq!(refund.status, StatusCode::CONFLICT, "{}", refund.text);
    }
);

backend_test!(
    a_refunded_license_order_revokes_its_codes,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        // Negotiated before activation: approved, the code is dead before it was ever used.
        let (order, _, codes) = buy(&app, &m, "general").await;
        let r = app
            .post(
                &format!("/v1/orders/{order}/refunds"),
                &m.buyer_key,
                json!({"kind": "negotiated", "amount": {"amount_minor": 1000, "currency": "CNY"}, "reason": "bought the wrong edition"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let d = app
            .post(
                &format!("/v1/orders/{order}/refunds/decision"),
                &m.seller_key,
                json!({"decision": "approve"}),
            )
            .await;
        assert_eq!(d.body["state"], "refunded", "{}", d.text);
        let refused = sw.activate(&app, &codes[0], None).await;
        assert_eq!(code_of(&refused), "92020003", "{}", refused.text);

        // Empowerment order: activation → proof → appeal → forced refund. The activated code
        // answers RELEASED at once and the seller's License 2.0 interface is told.
        let (order, instance, codes) = buy(&app, &m, "empowerment").await;
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020000"
        );
        let s = supervision(&app, &m.seller_key, &order).await.body;
        assert_eq!(s["node"], "deliver_proof", "{s}");
        act(&app, &m.buyer_key, &order, json!({"action": "appeal", "reason": "the key does not unlock the pro features", "demand": "refund"})).await;
        act(&app, &app.operator_key, &order, json!({"action": "resolve_appeal", "outcome": "force_refund", "amount": {"amount_minor": 1000, "currency": "CNY"}, "reason": "the seller could not fix it"})).await;
        let hb = sw.heartbeat(&app, &codes[0], None).await;
        assert_eq!(hb.body["data"]["status"], "RELEASED", "{}", hb.text);
        assert_eq!(m.order(&app, &order).await["state"], "refunded");
        m.wait_instance(&app, &instance, "released").await;
        eventually(&app, "the seller released the code", || async {
            m.example
                .state()
                .license_codes
                .get(codes[0].as_str())
                .is_some_and(|x| x.status == souk_isv::example::InstanceStatus::Released)
        })
        .await;
    }
);

backend_test!(
    an_activation_during_an_appeal_passes_the_node_once_the_appeal_is_dismissed,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (order, _, codes) = buy(&app, &m, "general").await;
        act(
            &app,
            &m.buyer_key,
            &order,
            json!({"action": "appeal", "reason": "Codes do not show", "demand": "Help"}),
        )
        .await;
        // Frozen: the activation is answered but passes nothing yet.
        let r = sw.activate(&app, &codes[0], Some("machine-1")).await;
        assert_eq!(code_of(&r), "92020000", "{}", r.text);
        app.drain().await;
        assert_eq!(
            supervision(&app, &m.buyer_key, &order).await.body["node"],
            "activate_code"
        );
        act(
            &app,
            &app.operator_key,
            &order,
            json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "Works now"}),
        )
        .await;
        // The sweep passes the node with the activation's time.
        app.drain().await;
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        assert_eq!(s["node"], "completed", "{s}");
        assert_eq!(s["accepted_by"], "system");
        assert_eq!(m.order(&app, &order).await["state"], "completed");
    }
);
