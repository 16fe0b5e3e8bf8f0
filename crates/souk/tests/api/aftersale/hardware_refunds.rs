//! Hardware refunds by goods state (§4.3, Souk defaults): goods not received are refunded when
//! the seller approves; received goods go back first (return approved → shipped with carrier
//! and tracking number → receipt confirmed → refunded), an unshipped return lapses after
//! `refund.return_ship_window` (7 days) and an unconfirmed one is refunded by the system after
//! `refund.return_receipt_auto` (10 days).

use super::*;

const RECIPIENT: &str =
    r#"{"name": "Lan Ying", "phone": "+8613800000001", "address": "1 Road, Shenzhen"}"#;

async fn hardware_order(app: &TestApp, m: &Market, sku: &str) -> String {
    let recipient: Value = serde_json::from_str(RECIPIENT).unwrap();
    let order = m
        .buy(
            app,
            json!({"sku_id": sku, "billing_mode": "one_time", "recipient": recipient}),
        )
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    act(
        app,
        &m.seller_key,
        &id,
        json!({"action": "implement", "carrier": "SF Express", "tracking_number": "SF100"}),
    )
    .await;
    id
}

async fn ask(app: &TestApp, m: &Market, order: &str, goods: Option<&str>) -> Reply {
    let mut body = json!({"kind": "negotiated", "amount": {"amount_minor": 20000, "currency": "CNY"}, "reason": "faulty unit"});
    if let Some(g) = goods {
        body["goods_state"] = json!(g);
    }
    app.post(&format!("/v1/orders/{order}/refunds"), &m.buyer_key, body)
        .await
}

async fn decide(app: &TestApp, key: &str, order: &str, body: Value) -> Reply {
    app.post(&format!("/v1/orders/{order}/refunds/decision"), key, body)
        .await
}

backend_test!(
    hardware_refunds_follow_the_goods_received_or_not,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "hardware", json!({})).await;

        // Not received: the goods state is required, then the seller's approval refunds.
        let a = hardware_order(&app, &m, &sku).await;
        let r = ask(&app, &m, &a, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.body["error"]["details"]["field"], "goods_state");
        let r = ask(&app, &m, &a, Some("not_received")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["goods_state"], "not_received");
        // Shipped and not yet accepted: in transit, so an operator confirms first (§4.3).
        assert_eq!(r.body["awaiting_operator"], true, "{}", r.text);
        assert!(r.body["deadline"].is_null(), "{}", r.text);
        let ops = messages_of(&app, &app.operator_key).await;
        assert!(
            ops.iter().any(|n| n["kind"] == "refund_awaits_operator"),
            "{ops:?}"
        );
        let early = decide(&app, &m.seller_key, &a, json!({"decision": "approve"})).await;
        early.assert_error(StatusCode::CONFLICT, "operator_confirmation_required");
        let not_yours = decide(
            &app,
            &m.seller_key,
            &a,
            json!({"decision": "confirm_in_transit"}),
        )
        .await;
        assert_eq!(
            not_yours.status,
            StatusCode::FORBIDDEN,
            "{}",
            not_yours.text
        );
        let c = decide(
            &app,
            &app.operator_key,
            &a,
            json!({"decision": "confirm_in_transit"}),
        )
        .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text);
        assert_eq!(c.body["awaiting_operator"], false, "{}", c.text);
        assert_eq!(c.body["state"], "pending_seller_review");
        assert!(
            c.body["deadline"].is_string(),
            "the review clock starts: {}",
            c.text
        );
        decide(
            &app,
            &app.operator_key,
            &a,
            json!({"decision": "confirm_in_transit"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "not_awaiting_operator");
        let d = decide(&app, &m.seller_key, &a, json!({"decision": "approve"})).await;
        assert_eq!(d.body["state"], "refunded", "{}", d.text);
        assert_eq!(m.order(&app, &a).await["state"], "refunded");

        // Received: approval starts the return; the buyer ships, the seller confirms.
        let before = balance(&app, &m).await;
        let b = hardware_order(&app, &m, &sku).await;
        ask(&app, &m, &b, Some("received")).await;
        let d = decide(
            &app,
            &m.seller_key,
            &b,
            json!({"decision": "approve", "opinion": "send it back"}),
        )
        .await;
        assert_eq!(d.body["state"], "return_approved", "{}", d.text);
        assert!(d.body["deadline"].is_string(), "{}", d.text);
        assert_eq!(m.order(&app, &b).await["state"], "processing");
        let msgs = messages_of(&app, &m.buyer_key).await;
        assert!(
            msgs.iter().any(|n| n["kind"] == "refund_return_approved"),
            "{msgs:?}"
        );
        // Out of turn and incomplete shipments are refused.
        let early = decide(
            &app,
            &m.seller_key,
            &b,
            json!({"decision": "confirm_receipt"}),
        )
        .await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
        let bare = decide(
            &app,
            &m.buyer_key,
            &b,
            json!({"decision": "ship_return", "carrier": "SF Express"}),
        )
        .await;
        assert_eq!(
            bare.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            bare.text
        );
        let shipped = decide(
            &app,
            &m.buyer_key,
            &b,
            json!({"decision": "ship_return", "carrier": "SF Express", "tracking_number": "SF200"}),
        )
        .await;
        assert_eq!(shipped.body["state"], "return_shipped", "{}", shipped.text);
        assert_eq!(shipped.body["return_tracking"], "SF200");
        let done = decide(
            &app,
            &m.seller_key,
            &b,
            json!({"decision": "confirm_receipt"}),
        )
        .await;
        assert_eq!(done.body["state"], "refunded", "{}", done.text);
        assert_eq!(done.body["settlement"], "to_deduct");
        assert_eq!(m.order(&app, &b).await["state"], "refunded");
        assert_eq!(balance(&app, &m).await, before, "paid and refunded in full");

        // An approved return not shipped in 7 days lapses; supervision goes on; a new request
        // may be filed.
        let c = hardware_order(&app, &m, &sku).await;
        ask(&app, &m, &c, Some("received")).await;
        decide(&app, &m.seller_key, &c, json!({"decision": "approve"})).await;
        app.advance(Duration::days(7) + Duration::minutes(1)).await;
        let list = app
            .get(&format!("/v1/orders/{c}/refunds"), &m.buyer_key)
            .await;
        assert_eq!(list.body["data"][0]["state"], "lapsed", "{}", list.text);
        assert_eq!(m.order(&app, &c).await["state"], "processing");
        let s = supervision(&app, &m.buyer_key, &c).await.body;
        assert_eq!(
            s["log"].as_array().unwrap().last().unwrap()["action"],
            "refund_lapsed",
            "{s}"
        );
        let again = ask(&app, &m, &c, Some("not_received")).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);

        // A shipped return the seller never confirms is refunded by the system after 10 days.
        let d2 = hardware_order(&app, &m, &sku).await;
        ask(&app, &m, &d2, Some("received")).await;
        decide(&app, &m.seller_key, &d2, json!({"decision": "approve"})).await;
        decide(
            &app,
            &m.buyer_key,
            &d2,
            json!({"decision": "ship_return", "carrier": "EMS", "tracking_number": "E1"}),
        )
        .await;
        app.advance(Duration::days(9)).await;
        assert_eq!(m.order(&app, &d2).await["state"], "processing");
        app.advance(Duration::days(1) + Duration::minutes(1)).await;
        assert_eq!(m.order(&app, &d2).await["state"], "refunded");

        // Only hardware says what became of the goods.
        let manual = listed(&app, &m, "manual_service", json!({})).await;
        let o = m
            .buy(&app, json!({"sku_id": manual, "billing_mode": "monthly"}))
            .await;
        let r = ask(&app, &m, o["id"].as_str().unwrap(), Some("received")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    }
);
