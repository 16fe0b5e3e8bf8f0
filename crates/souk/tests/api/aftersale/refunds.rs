//! No-reason, negotiated and operator-forced refunds.

use super::*;

async fn refund(app: &TestApp, key: &str, order: &str, body: Value) -> Reply {
    app.post(&format!("/v1/orders/{order}/refunds"), key, body)
        .await
}

async fn decide(app: &TestApp, key: &str, order: &str, body: Value) -> Reply {
    app.post(&format!("/v1/orders/{order}/refunds/decision"), key, body)
        .await
}

backend_test!(
    no_reason_refunds_release_at_the_seller_inside_the_window_only,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let before = balance(&app, &m).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 2}),
            )
            .await;
        let id = order["id"].as_str().unwrap();
        let instance = order["instance_id"].as_str().unwrap();
        let sid = m.wait_instance(&app, instance, "active").await["seller_instance_id"]
            .as_str()
            .unwrap()
            .to_owned();
        m.wait_order(&app, id, "completed").await;
        app.advance(Duration::hours(119)).await;
        let over = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "no_reason", "amount": {"amount_minor": 1, "currency": "CNY"}}),
        )
        .await;
        assert_eq!(
            over.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            over.text
        );
        let (_, stranger) = app.party("buyers", "Stranger").await;
        let hidden = refund(&app, &stranger, id, json!({"kind": "no_reason"})).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
        let r = refund(&app, &m.buyer_key, id, json!({"kind": "no_reason"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["state"], "refunded");
        assert_eq!(r.body["amount"]["amount_minor"], 2000);
        assert_eq!(r.body["settlement"], "to_deduct");
        assert_eq!(balance(&app, &m).await, before, "the full price is back");
        assert_eq!(m.order(&app, id).await["state"], "refunded");
        m.wait_instance(&app, instance, "released").await;
        let calls = app
            .get(&format!("/v1/instances/{instance}/calls"), &m.seller_key)
            .await;
        let release = calls.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "release_instance")
            .cloned();
        assert_eq!(release.unwrap()["state"], "succeeded", "{}", calls.text);
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            souk_isv::example::InstanceStatus::Released
        );
        let twice = refund(&app, &m.buyer_key, id, json!({"kind": "no_reason"})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        let ledger = app
            .get(&format!("/v1/buyers/{}/ledger", m.buyer_id), &m.buyer_key)
            .await;
        let refunds = ledger.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "refund")
            .count();
        assert_eq!(refunds, 1, "{}", ledger.text);

        // Past 120 hours from opening: refused with its own code, nothing changes.
        let late = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let late_id = late["id"].as_str().unwrap();
        m.wait_order(&app, late_id, "completed").await;
        app.advance(Duration::hours(121)).await;
        let closed = refund(&app, &m.buyer_key, late_id, json!({"kind": "no_reason"})).await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.text);
        assert_eq!(closed.body["error"]["code"], "refund_window_closed");
        assert_eq!(m.order(&app, late_id).await["state"], "completed");
    }
);

backend_test!(
    the_eleventh_no_reason_refund_in_a_rolling_year_is_refused,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "image", json!({})).await;
        let buy = || async {
            let o = m
                .buy_completed(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
                .await;
            o["id"].as_str().unwrap().to_owned()
        };
        for i in 0..10 {
            let id = buy().await;
            let r = refund(&app, &m.buyer_key, &id, json!({"kind": "no_reason"})).await;
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "refund {}: {}",
                i + 1,
                r.text
            );
        }
        let eleventh = buy().await;
        let r = refund(&app, &m.buyer_key, &eleventh, json!({"kind": "no_reason"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "refund_quota_exhausted");
        assert_eq!(
            m.order(&app, &eleventh).await["state"],
            "completed",
            "nothing changed"
        );
        // A year later the oldest have rolled out of the window.
        app.advance(Duration::days(366)).await;
        let later = buy().await;
        let r = refund(&app, &m.buyer_key, &later, json!({"kind": "no_reason"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // Supervised orders never take the no-reason route.
        let manual = listed(&app, &m, "manual_service", json!({})).await;
        let o = m
            .buy(&app, json!({"sku_id": manual, "billing_mode": "monthly"}))
            .await;
        let r = refund(
            &app,
            &m.buyer_key,
            o["id"].as_str().unwrap(),
            json!({"kind": "no_reason"}),
        )
        .await;
        assert_eq!(r.body["error"]["code"], "refund_not_allowed", "{}", r.text);
    }
);

backend_test!(
    negotiated_refunds_pause_supervision_and_are_rejected_or_approved_by_the_seller,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let before = balance(&app, &m).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        to_acceptance(&app, &m, id).await;
        app.advance(Duration::days(2)).await;

        let cny = |n: i64| json!({"amount_minor": n, "currency": "CNY"});
        let too_much = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "negotiated", "amount": cny(20001), "reason": "Too slow"}),
        )
        .await;
        assert_eq!(
            too_much.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            too_much.text
        );
        assert_eq!(too_much.body["error"]["details"]["field"], "amount");
        // A zero refund is only for an order a voucher paid in full (vouchers_refunds.rs).
        let nothing = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "negotiated", "amount": cny(0), "reason": "Too slow"}),
        )
        .await;
        assert_eq!(
            nothing.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            nothing.text
        );
        assert_eq!(nothing.body["error"]["details"]["field"], "amount");
        let asked = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "negotiated", "amount": cny(8000), "reason": "Half the pages missing"}),
        )
        .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        assert_eq!(asked.body["state"], "pending_seller_review");
        let again = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "negotiated", "amount": cny(1), "reason": "again"}),
        )
        .await;
        assert_eq!(
            again.body["error"]["code"], "refund_pending",
            "{}",
            again.text
        );
        let s = supervision(&app, &m.buyer_key, id).await.body;
        assert_eq!(
            s["deadline"],
            Value::Null,
            "paused while the request is pending"
        );
        let seller_msgs = messages_of(&app, &m.seller_key).await;
        assert!(seller_msgs.iter().any(|n| n["kind"] == "refund_requested"));
        // Ten days pass: no auto-acceptance while paused.
        app.advance(Duration::days(10)).await;
        assert_eq!(
            supervision(&app, &m.buyer_key, id).await.body["node"],
            "buyer_accept"
        );

        let buyer_cannot = decide(&app, &m.buyer_key, id, json!({"decision": "approve"})).await;
        assert_eq!(
            buyer_cannot.status,
            StatusCode::FORBIDDEN,
            "{}",
            buyer_cannot.text
        );
        let bare = decide(&app, &m.seller_key, id, json!({"decision": "reject"})).await;
        assert_eq!(
            bare.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            bare.text
        );
        let rejected = decide(
            &app,
            &m.seller_key,
            id,
            json!({"decision": "reject", "opinion": "All pages were delivered"}),
        )
        .await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
        assert_eq!(rejected.body["state"], "rejected");
        let s = supervision(&app, &m.buyer_key, id).await.body;
        let left = at(&s["deadline"]) - app.clock.now();
        assert!(
            left <= Duration::days(5) && left > Duration::days(5) - Duration::minutes(1),
            "resumed with 5 days left: {left}"
        );

        // A new request; this time the seller approves and the money goes back at once.
        let asked = refund(
            &app,
            &m.buyer_key,
            id,
            json!({"kind": "negotiated", "amount": cny(8000), "reason": "Agreed by phone"}),
        )
        .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        let approved = decide(
            &app,
            &m.seller_key,
            id,
            json!({"decision": "approve", "opinion": "Agreed"}),
        )
        .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["state"], "refunded");
        assert_eq!(balance(&app, &m).await, before - 20000 + 8000);
        assert_eq!(m.order(&app, id).await["state"], "refunded");
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "released")
            .await;
        let closed = try_act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(
            closed.body["error"]["code"], "supervision_closed",
            "{}",
            closed.text
        );
        let log = supervision(&app, &m.seller_key, id).await.body["log"].clone();
        let actions: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            &actions[actions.len() - 4..],
            [
                "refund_requested",
                "refund_rejected",
                "refund_requested",
                "refunded"
            ]
        );
        let list = app
            .get(&format!("/v1/orders/{id}/refunds"), &m.seller_key)
            .await;
        assert_eq!(
            list.body["data"].as_array().unwrap().len(),
            2,
            "{}",
            list.text
        );

        // Outside the guarantee period (supervision completed) there is no negotiated refund.
        let done = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let done_id = done["id"].as_str().unwrap();
        to_acceptance(&app, &m, done_id).await;
        act(&app, &m.buyer_key, done_id, json!({"action": "accept"})).await;
        let late = refund(
            &app,
            &m.buyer_key,
            done_id,
            json!({"kind": "negotiated", "amount": cny(100), "reason": "late"}),
        )
        .await;
        assert_eq!(
            late.body["error"]["code"], "refund_not_allowed",
            "{}",
            late.text
        );
    }
);

backend_test!(
    an_operator_force_refunds_a_flagged_saas_order_and_the_seller_releases_it,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = &flagged_saas(&app, &m).await;
        let before = balance(&app, &m).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let instance = order["instance_id"].as_str().unwrap();
        m.wait_instance(&app, instance, "active").await;
        act(&app, &m.buyer_key, id, json!({"action": "appeal", "reason": "The seller never answers", "demand": "Refund me"})).await;
        let resolve = |amount: i64| {
            json!({"action": "resolve_appeal", "outcome": "force_refund",
            "amount": {"amount_minor": amount, "currency": "CNY"}, "reason": "Seller unresponsive for 10 days"})
        };
        let over = try_act(&app, &app.operator_key, id, resolve(1001)).await;
        assert_eq!(
            over.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            over.text
        );
        let zero = try_act(&app, &app.operator_key, id, resolve(0)).await;
        assert_eq!(
            zero.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            zero.text
        );
        let s = act(&app, &app.operator_key, id, resolve(600)).await;
        assert_eq!(
            s["log"].as_array().unwrap().last().unwrap()["payload"]["outcome"],
            "force_refund"
        );
        assert_eq!(balance(&app, &m).await, before - 1000 + 600);
        assert_eq!(m.order(&app, id).await["state"], "refunded");
        m.wait_instance(&app, instance, "released").await;
        let calls = app
            .get(&format!("/v1/instances/{instance}/calls"), &m.seller_key)
            .await;
        assert!(
            calls.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "release_instance" && c["state"] == "succeeded"),
            "{}",
            calls.text
        );
        let list = app
            .get(&format!("/v1/orders/{id}/refunds"), &m.buyer_key)
            .await;
        assert_eq!(list.body["data"][0]["kind"], "operator_forced");
    }
);
