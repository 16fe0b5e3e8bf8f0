//! After-sale: every delivery type purchasable, service supervision per delivery type (§3.2),
//! platform review, appeals and their resolutions, the acceptance timers with their pause
//! around an appeal (§3.3, §3.4), and the validity start (§3.6). Real HTTP on both backends;
//! the flagged SaaS flow opens its instance at the real example seller.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A listed product of `delivery_type` from `m`'s seller; returns its only SKU.
pub async fn listed(app: &TestApp, m: &Market, delivery_type: &str, extra: Value) -> String {
    let mut body = json!({
        "name": format!("Acme {delivery_type}"),
        "delivery_type": delivery_type,
        "category": "services/it",
        "description": "Delivered by people, supervised by the marketplace.",
        "service_agreement": {
            "content": "Delivery within 10 working days.",
            "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
            "phone": "+86 10 1234 5678",
            "email": "support@acme.example"
        },
        "currency": "CNY",
        "prices": [{"billing_mode": if delivery_type == "hardware" { "one_time" } else { "monthly" }, "amount_minor": 20000}]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let created = app.post("/v1/products", &m.seller_key, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let submitted = app
        .post(
            &format!("/v1/products/{id}/submit"),
            &m.seller_key,
            json!({}),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.text);
    let approved = app
        .post(
            &format!("/v1/products/{id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    approved.body["skus"][0]["id"].as_str().unwrap().to_owned()
}

impl Market {
    /// Places and pays an order that completes at payment (Image).
    pub async fn buy_completed(&self, app: &TestApp, body: Value) -> Value {
        let placed = app.post("/v1/orders", &self.buyer_key, body).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &self.buyer_key, json!({}))
            .await;
        assert_eq!(paid.body["state"], "completed", "{}", paid.text);
        paid.body
    }
}

pub async fn supervision(app: &TestApp, key: &str, order: &str) -> Reply {
    app.get(&format!("/v1/orders/{order}/supervision"), key)
        .await
}

/// Acts and expects success; returns the supervision after the step.
pub async fn act(app: &TestApp, key: &str, order: &str, action: Value) -> Value {
    let r = try_act(app, key, order, action.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    r.body
}

pub async fn try_act(app: &TestApp, key: &str, order: &str, action: Value) -> Reply {
    app.post(
        &format!("/v1/orders/{order}/supervision/actions"),
        key,
        action,
    )
    .await
}

fn evidence() -> Value {
    json!([{"kind": "acceptance_report", "description": "Signed acceptance report", "signed_by": ["seller", "buyer"], "remote": true}])
}

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("no time: {v}")),
        &Rfc3339,
    )
    .unwrap()
}

async fn messages_of(app: &TestApp, key: &str) -> Vec<Value> {
    let r = app.get("/v1/messages", key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

/// Through the requirement loop to `buyer_accept` for a standard flow (no review).
async fn to_acceptance(app: &TestApp, m: &Market, order: &str) {
    act(
        app,
        &m.buyer_key,
        order,
        json!({"action": "submit_requirement", "requirement": "A shop site"}),
    )
    .await;
    act(
        app,
        &m.seller_key,
        order,
        json!({"action": "confirm_requirement"}),
    )
    .await;
    act(app, &m.seller_key, order, json!({"action": "implement"})).await;
    let s = act(
        app,
        &m.seller_key,
        order,
        json!({"action": "deliver_proof", "evidence": evidence()}),
    )
    .await;
    assert_eq!(s["node"], "buyer_accept", "{s}");
}

backend_test!(
    manual_service_runs_the_standard_flow_and_starts_validity_at_the_declared_start,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let paid_at = at(&order["paid_at"]);
        let s = supervision(&app, &m.buyer_key, id).await;
        assert_eq!(s.status, StatusCode::OK, "{}", s.text);
        assert_eq!(
            s.body["flow"],
            json!([
                "submit_requirement",
                "confirm_requirement",
                "implement",
                "deliver_proof",
                "buyer_accept",
                "completed"
            ])
        );
        assert_eq!(s.body["waiting_for"], "buyer");
        let seller_msgs = messages_of(&app, &m.buyer_key).await;
        assert!(
            seller_msgs
                .iter()
                .any(|n| n["kind"] == "supervision_waiting"),
            "{seller_msgs:?}"
        );

        // Out of turn: 409 naming the node that waits and who acts there.
        let early = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "confirm_requirement"}),
        )
        .await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
        assert_eq!(early.body["error"]["code"], "out_of_turn");
        assert_eq!(early.body["error"]["details"]["node"], "submit_requirement");
        assert_eq!(early.body["error"]["details"]["waiting_for"], "buyer");

        act(
            &app,
            &m.buyer_key,
            id,
            json!({"action": "submit_requirement", "requirement": "A shop"}),
        )
        .await;
        let no_reason = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "reject_requirement", "reason": "  "}),
        )
        .await;
        assert_eq!(
            no_reason.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            no_reason.text
        );
        let back = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "reject_requirement", "reason": "Which languages?"}),
        )
        .await;
        assert_eq!(back["node"], "submit_requirement");
        act(
            &app,
            &m.buyer_key,
            id,
            json!({"action": "submit_requirement", "requirement": "A shop in English and Chinese"}),
        )
        .await;
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "confirm_requirement"}),
        )
        .await;
        act(&app, &m.seller_key, id, json!({"action": "implement"})).await;

        app.advance(Duration::days(3)).await;
        let start = paid_at + Duration::days(1);
        let start = start.replace_millisecond(start.millisecond()).unwrap();
        let too_early = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence(),
            "actual_start": (paid_at - Duration::hours(1)).format(&Rfc3339).unwrap()}),
        )
        .await;
        assert_eq!(
            too_early.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            too_early.text
        );
        assert_eq!(too_early.body["error"]["details"]["field"], "actual_start");
        let s = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence(),
            "actual_start": start.format(&Rfc3339).unwrap()}),
        )
        .await;
        assert_eq!(s["node"], "buyer_accept");
        assert_eq!(
            at(&s["actual_start"]),
            start,
            "shown to the buyer before acceptance"
        );
        assert_eq!(m.order(&app, id).await["state"], "processing");

        let done = act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(done["node"], "completed");
        assert_eq!(done["accepted_by"], "buyer");
        assert_eq!(done["waiting_for"], Value::Null);
        let o = m.order(&app, id).await;
        assert_eq!(o["state"], "completed", "{o}");
        let instance = m.instance(&app, o["instance_id"].as_str().unwrap()).await;
        assert_eq!(instance["state"], "active");
        // One month from the declared actual start, not from payment or acceptance.
        assert_eq!(
            Some(at(&instance["expire_at"])),
            souk_core::order::add_months(start, 1),
            "{instance}"
        );

        // The whole log, in order, with actors and reasons.
        let log = done["log"].as_array().unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(
            actions,
            [
                "start",
                "submit_requirement",
                "reject_requirement",
                "submit_requirement",
                "confirm_requirement",
                "implement",
                "deliver_proof",
                "accept"
            ]
        );
        assert_eq!(log[2]["actor"], "seller");
        assert_eq!(log[2]["reason"], "Which languages?");
        assert_eq!(log[2]["actor_id"], m.seller_id.as_str());
        assert_eq!(
            log[6]["payload"]["evidence"][0]["kind"],
            "acceptance_report"
        );
        let again = try_act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(
            again.body["error"]["code"], "supervision_completed",
            "{}",
            again.text
        );

        // A stranger sees nothing: 404, as for an order that does not exist.
        let (_, other_key) = app.party("buyers", "Other Buyer").await;
        let hidden = supervision(&app, &other_key, id).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
        let hidden = try_act(&app, &other_key, id, json!({"action": "accept"})).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    }
);

backend_test!(
    the_supervision_log_is_append_only_in_the_database,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        assert_eq!(
            supervision(&app, &m.seller_key, id).await.body["log"][0]["action"],
            "start"
        );
        let db = app.stop().await;
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let update =
            sqlx::query("UPDATE supervision_log SET reason = 'rewritten' WHERE order_id = $1")
                .bind(id)
                .execute(&pool)
                .await;
        assert!(update.is_err(), "UPDATE on supervision_log must be refused");
        let delete = sqlx::query("DELETE FROM supervision_log WHERE order_id = $1")
            .bind(id)
            .execute(&pool)
            .await;
        assert!(delete.is_err(), "DELETE on supervision_log must be refused");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM supervision_log WHERE order_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
);

backend_test!(
    hardware_needs_a_recipient_ships_with_tracking_and_auto_accepts_after_a_paused_appeal,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "hardware", json!({})).await;
        let r = app
            .post(
                "/v1/buyers",
                &app.operator_key,
                json!({"name": "Phone Buyer", "mobile_phone": "+8613800000000"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let buyer_id = r.body["id"].as_str().unwrap().to_owned();
        let k = app
            .post(
                &format!("/v1/buyers/{buyer_id}/api-keys"),
                &app.operator_key,
                json!({}),
            )
            .await;
        let buyer_key = k.body["secret"].as_str().unwrap().to_owned();
        top_up(&app, &buyer_id, 100_000).await;

        let missing = app
            .post(
                "/v1/orders",
                &buyer_key,
                json!({"sku_id": sku, "billing_mode": "one_time"}),
            )
            .await;
        assert_eq!(
            missing.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            missing.text
        );
        assert_eq!(missing.body["error"]["details"]["field"], "recipient");
        let placed = app.post("/v1/orders", &buyer_key, json!({"sku_id": sku, "billing_mode": "one_time",
            "recipient": {"name": "Li Lei", "phone": "+8613800000000", "address": "1 Example Road, Shenzhen"}})).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        assert_eq!(placed.body["snapshot"]["recipient"]["name"], "Li Lei");
        let id = placed.body["id"].as_str().unwrap().to_owned();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &buyer_key, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);

        let s = supervision(&app, &buyer_key, &id).await.body;
        assert_eq!(s["flow"], json!(["implement", "buyer_accept", "completed"]));
        let untracked = try_act(&app, &m.seller_key, &id, json!({"action": "implement"})).await;
        assert_eq!(
            untracked.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            untracked.text
        );
        let shipped = act(&app, &m.seller_key, &id, json!({"action": "implement", "carrier": "SF Express", "tracking_number": "SF1234567890"})).await;
        assert_eq!(shipped["tracking_number"], "SF1234567890");
        let left = at(&shipped["deadline"]) - app.clock.now();
        assert!(
            left <= Duration::days(10) && left > Duration::days(10) - Duration::minutes(1),
            "{left}"
        );

        // Day 4: the buyer appeals; the timer pauses with 6 days left.
        app.advance(Duration::days(4)).await;
        let frozen = act(
            &app,
            &buyer_key,
            &id,
            json!({"action": "appeal", "reason": "Box arrived damaged", "demand": "Replace it"}),
        )
        .await;
        assert_eq!(frozen["deadline"], Value::Null);
        assert_eq!(frozen["waiting_for"], "operator");
        let blocked = try_act(&app, &buyer_key, &id, json!({"action": "accept"})).await;
        assert_eq!(
            blocked.body["error"]["code"], "appeal_open",
            "{}",
            blocked.text
        );
        let ops = messages_of(&app, &app.operator_key).await;
        assert!(ops.iter().any(|n| n["kind"] == "appeal_opened"), "{ops:?}");
        app.advance(Duration::days(30)).await;
        assert_eq!(
            supervision(&app, &buyer_key, &id).await.body["node"],
            "buyer_accept",
            "frozen: no auto-accept"
        );

        let resumed = act(&app, &app.operator_key, &id, json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "Carrier claim filed; goods usable"})).await;
        let left = at(&resumed["deadline"]) - app.clock.now();
        assert!(
            left <= Duration::days(6) && left > Duration::days(6) - Duration::minutes(1),
            "resumes with the time left: {left}"
        );
        app.advance(Duration::days(5)).await;
        assert_eq!(
            supervision(&app, &buyer_key, &id).await.body["node"],
            "buyer_accept"
        );
        app.advance(Duration::days(1)).await;
        let done = supervision(&app, &buyer_key, &id).await.body;
        assert_eq!(done["node"], "completed", "{done}");
        assert_eq!(done["accepted_by"], "system");
        let o = app.get(&format!("/v1/orders/{id}"), &buyer_key).await.body;
        assert_eq!(o["state"], "completed");
        let log = done["log"].as_array().unwrap();
        let resolution = log
            .iter()
            .find(|e| e["action"] == "resolve_appeal")
            .unwrap();
        assert_eq!(resolution["actor"], "operator");
        assert_eq!(resolution["payload"]["outcome"], "dismiss");
        assert_eq!(log.last().unwrap()["actor"], "system");
    }
);

backend_test!(
    an_empowerment_order_passes_platform_review_before_acceptance,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": sku, "billing_mode": "monthly", "sales_scenario": "empowerment"}),
            )
            .await;
        let id = order["id"].as_str().unwrap();
        act(
            &app,
            &m.buyer_key,
            id,
            json!({"action": "submit_requirement", "requirement": "Daily CSV export"}),
        )
        .await;
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "confirm_requirement"}),
        )
        .await;
        act(&app, &m.seller_key, id, json!({"action": "implement"})).await;
        let s = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        assert_eq!(s["node"], "platform_review");
        assert_eq!(s["waiting_for"], "operator");
        let buyer_try = try_act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        assert_eq!(
            buyer_try.body["error"]["details"]["node"], "platform_review",
            "{}",
            buyer_try.text
        );
        let returned = act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "return_review", "reason": "Needs the signed acceptance form"}),
        )
        .await;
        assert_eq!(returned["node"], "deliver_proof");
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        let passed = act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "pass_review"}),
        )
        .await;
        assert_eq!(passed["node"], "buyer_accept");
        act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        m.wait_order(&app, id, "completed").await;

        // A general-scenario order of the same product skips review.
        let plain = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let flow = supervision(&app, &m.buyer_key, plain["id"].as_str().unwrap())
            .await
            .body["flow"]
            .clone();
        assert!(
            !flow.as_array().unwrap().contains(&json!("platform_review")),
            "{flow}"
        );
    }
);

backend_test!(
    buyer_rejections_unlock_the_sellers_appeal_and_operators_resolve_it,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let appeal = json!({"action": "appeal", "reason": "The buyer rejects working deliveries", "demand": "Accept the delivery"});
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        to_acceptance(&app, &m, id).await;
        for round in 1..=3 {
            let locked = try_act(&app, &m.seller_key, id, appeal.clone()).await;
            assert_eq!(
                locked.body["error"]["code"], "appeal_locked",
                "round {round}: {}",
                locked.text
            );
            act(
                &app,
                &m.buyer_key,
                id,
                json!({"action": "reject_delivery", "reason": format!("Not right, round {round}")}),
            )
            .await;
            act(&app, &m.seller_key, id, json!({"action": "implement"})).await;
            act(
                &app,
                &m.seller_key,
                id,
                json!({"action": "deliver_proof", "evidence": evidence()}),
            )
            .await;
        }
        let s = act(&app, &m.seller_key, id, appeal.clone()).await;
        assert_eq!(s["rejections"], 3);
        assert_eq!(s["appeal"]["by"], "seller");
        let not_operator = try_act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "resolve_appeal", "outcome": "force_accept", "reason": "mine"}),
        )
        .await;
        assert_eq!(
            not_operator.status,
            StatusCode::CONFLICT,
            "{}",
            not_operator.text
        );
        let forced = act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "force_accept", "reason": "Evidence shows a working delivery"})).await;
        assert_eq!(forced["node"], "completed");
        assert_eq!(forced["accepted_by"], "operator");
        m.wait_order(&app, id, "completed").await;

        // Return-to-node: the flow goes back to the node the operator names.
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        to_acceptance(&app, &m, id).await;
        act(&app, &m.buyer_key, id, json!({"action": "appeal", "reason": "Half the pages are missing", "demand": "Finish the site"})).await;
        let bad = try_act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "return_to", "node": "platform_review", "reason": "x"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let back = act(&app, &app.operator_key, id, json!({"action": "resolve_appeal", "outcome": "return_to", "node": "implement", "reason": "Finish the missing pages"})).await;
        assert_eq!(back["node"], "implement");
        assert_eq!(back["appeal"], Value::Null);
        let none = try_act(
            &app,
            &app.operator_key,
            id,
            json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "x"}),
        )
        .await;
        assert_eq!(none.body["error"]["code"], "no_appeal", "{}", none.text);
        act(&app, &m.seller_key, id, json!({"action": "implement"})).await;
        act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "deliver_proof", "evidence": evidence()}),
        )
        .await;
        // The buyer stays silent: the system accepts after the configured 7 days.
        app.advance(Duration::days(7)).await;
        let done = supervision(&app, &m.buyer_key, id).await.body;
        assert_eq!(done["accepted_by"], "system", "{done}");
    }
);

backend_test!(
    flagged_saas_opens_at_the_seller_but_completes_only_on_acceptance,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
        let mut body = product_body("Acme Managed", Proto::V2, &url);
        body["supervised"] = json!(true);
        let created = app.post("/v1/products", &m.seller_key, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let pid = created.body["id"].as_str().unwrap();
        app.post(
            &format!("/v1/products/{pid}/submit"),
            &m.seller_key,
            json!({}),
        )
        .await;
        let approved = app
            .post(
                &format!("/v1/products/{pid}/approve"),
                &app.operator_key,
                json!({}),
            )
            .await;
        let sku = approved.body["skus"][0]["id"].as_str().unwrap();
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let instance = order["instance_id"].as_str().unwrap();
        m.wait_instance(&app, instance, "active").await;
        assert_eq!(
            m.order(&app, id).await["state"],
            "processing",
            "the seller opened it; supervision goes on"
        );
        to_acceptance(&app, &m, id).await;
        act(&app, &m.buyer_key, id, json!({"action": "accept"})).await;
        m.wait_order(&app, id, "completed").await;
    }
);

backend_test!(
    image_products_are_bought_and_open_at_once_without_supervision,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "image", json!({})).await;
        let placed = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": sku, "billing_mode": "monthly"}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
            .await;
        assert_eq!(paid.body["state"], "completed", "{}", paid.text);
        let s = supervision(&app, &m.buyer_key, id).await;
        assert_eq!(s.status, StatusCode::NOT_FOUND);
        assert_eq!(s.body["error"]["code"], "not_supervised");
        let i = m
            .instance(&app, paid.body["instance_id"].as_str().unwrap())
            .await;
        assert_eq!(i["state"], "active");
        let manual = listed(&app, &m, "manual_service", json!({})).await;
        let with_recipient = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": manual, "billing_mode": "monthly",
            "recipient": {"name": "x", "phone": "1234", "address": "y"}}),
            )
            .await;
        assert_eq!(
            with_recipient.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            with_recipient.text
        );
    }
);

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
        let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
        let mut body = product_body("Acme Managed", Proto::V2, &url);
        body["supervised"] = json!(true);
        let created = app.post("/v1/products", &m.seller_key, body).await;
        let pid = created.body["id"].as_str().unwrap();
        app.post(
            &format!("/v1/products/{pid}/submit"),
            &m.seller_key,
            json!({}),
        )
        .await;
        let approved = app
            .post(
                &format!("/v1/products/{pid}/approve"),
                &app.operator_key,
                json!({}),
            )
            .await;
        let sku = approved.body["skus"][0]["id"].as_str().unwrap();
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

async fn upload(
    app: &TestApp,
    key: &str,
    order: &str,
    name: &str,
    ctype: &str,
    body: Vec<u8>,
) -> Reply {
    app.send(
        app.http
            .post(app.url(&format!("/v1/orders/{order}/attachments?filename={name}")))
            .bearer_auth(key)
            .header("content-type", ctype)
            .body(body),
    )
    .await
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Upload, list, download with sha256, access control, evidence referring to an attachment.
async fn attachments_round_trip(app: &TestApp) {
    let m = market(app, Proto::V2, example_seller(app, |_| {}).await).await;
    let sku = listed(app, &m, "manual_service", json!({})).await;
    let order = m
        .buy(app, json!({"sku_id": sku, "billing_mode": "monthly"}))
        .await;
    let id = order["id"].as_str().unwrap();
    // Larger than the JSON body limit (64 KiB in tests): uploads stream past it.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let up = upload(
        app,
        &m.seller_key,
        id,
        "report.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    assert_eq!(up.body["sha256"], sha256_hex(&bytes));
    assert_eq!(up.body["size_bytes"], 200_000);
    let att = up.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/attachments/{att}");
    for key in [&m.buyer_key, &m.seller_key, &app.operator_key] {
        let got = app
            .http
            .get(app.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["x-souk-sha256"], sha256_hex(&bytes).as_str());
        assert_eq!(got.headers()["content-type"], "application/pdf");
        let body = got.bytes().await.unwrap();
        assert_eq!(
            sha256_hex(&body),
            sha256_hex(&bytes),
            "the same bytes come back"
        );
    }
    let (_, stranger) = app.party("buyers", "Stranger").await;
    assert_eq!(
        app.get(&path, &stranger).await.status,
        StatusCode::NOT_FOUND
    );
    let (_, other_seller) = app.party("sellers", "Other Seller").await;
    assert_eq!(
        app.get(&path, &other_seller).await.status,
        StatusCode::NOT_FOUND
    );
    let sneaky = upload(app, &stranger, id, "x.txt", "text/plain", b"hi".to_vec()).await;
    assert_eq!(sneaky.status, StatusCode::NOT_FOUND, "{}", sneaky.text);
    let exe = upload(
        app,
        &m.buyer_key,
        id,
        "x.exe",
        "application/x-msdownload",
        b"MZ".to_vec(),
    )
    .await;
    assert_eq!(
        exe.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        exe.text
    );
    let slash = upload(
        app,
        &m.buyer_key,
        id,
        "a%2Fb.txt",
        "text/plain",
        b"hi".to_vec(),
    )
    .await;
    assert_eq!(
        slash.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        slash.text
    );
    let list = app
        .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
        .await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );

    // Evidence points at the uploaded file; an id of another order is refused.
    act(
        app,
        &m.buyer_key,
        id,
        json!({"action": "submit_requirement", "requirement": "A shop"}),
    )
    .await;
    act(
        app,
        &m.seller_key,
        id,
        json!({"action": "confirm_requirement"}),
    )
    .await;
    act(app, &m.seller_key, id, json!({"action": "implement"})).await;
    let bad = try_act(
        app,
        &m.seller_key,
        id,
        json!({"action": "deliver_proof", "evidence": [
        {"kind": "acceptance_report", "description": "Signed", "attachments": ["att_nope"]}]}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let s = act(
        app,
        &m.seller_key,
        id,
        json!({"action": "deliver_proof", "evidence": [
        {"kind": "acceptance_report", "description": "Signed", "attachments": [att]}]}),
    )
    .await;
    assert_eq!(s["evidence"][0]["attachments"][0], att.as_str());
}

backend_test!(
    attachments_stream_to_the_local_store_with_sha256_and_stay_with_the_orders_parties,
    |app: TestApp| async move {
        attachments_round_trip(&app).await;
    }
);

/// Uploads `chunks` × `size` bytes with chunked transfer encoding (no Content-Length), over a
/// raw connection; returns the status line.
async fn chunked_upload(
    app: &TestApp,
    key: &str,
    order: &str,
    chunks: usize,
    size: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/orders/{order}/attachments?filename=big.csv HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {key}\r\nContent-Type: text/csv\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let mut c = format!("{size:x}\r\n").into_bytes();
        c.extend(std::iter::repeat_n(b'a', size));
        c.extend(b"\r\n");
        // The server may answer and close before the last chunk: that is the point.
        if s.write_all(&c).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn blob_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                blob_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

backend_test!(
    an_attachment_over_the_limit_is_refused_and_nothing_is_stored,
    |app: TestApp| async move {
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, |c| c.attachments.max_bytes = 100_000).await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let blobs = app.state.config.data_dir.join("blobs");
        let over = upload(
            &app,
            &m.buyer_key,
            id,
            "big.csv",
            "text/csv",
            vec![b'a'; 100_001],
        )
        .await;
        assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
        assert_eq!(over.body["error"]["code"], "attachment_too_large");
        // Without a declared length the limit holds while streaming.
        let status = chunked_upload(&app, &m.buyer_key, id, 11, 10_000).await;
        assert!(status.starts_with("HTTP/1.1 413"), "{status}");
        assert_eq!(blob_files(&blobs), 0, "nothing stored");
        let list = app
            .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
            .await;
        assert_eq!(list.body["data"], json!([]));
        let fits = upload(
            &app,
            &m.buyer_key,
            id,
            "ok.csv",
            "text/csv",
            vec![b'a'; 100_000],
        )
        .await;
        assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.text);
        assert_eq!(blob_files(&blobs), 1);
    }
);

/// A real S3-compatible server (moto, from PyPI) on a loopback port, stopped with the test.
struct S3Server {
    child: tokio::process::Child,
    endpoint: String,
}

impl S3Server {
    async fn start() -> Option<S3Server> {
        if std::env::var("SOUK_TEST_S3").as_deref() == Ok("skip") {
            eprintln!("SOUK_TEST_S3=skip: not running the S3 mode");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; scripts/ensure-s3.sh does it)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // Waits for the process to listen (start-up, not background work of Souk's).
        for _ in 0..200 {
            if http.get(&endpoint).send().await.is_ok() {
                let made = http
                    .put(format!("{endpoint}/souk-test"))
                    .send()
                    .await
                    .unwrap();
                assert!(made.status().is_success(), "bucket: {}", made.status());
                return Some(S3Server { child, endpoint });
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("moto_server did not start on {endpoint}");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

backend_test!(
    attachments_work_the_same_on_an_s3_compatible_store,
    |app: TestApp| async move {
        let Some(s3) = S3Server::start().await else {
            return;
        };
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let endpoint = s3.endpoint.clone();
        let app = TestApp::spawn_with(db, move |c| {
            c.attachments.store = souk_server::config::BlobStoreKind::S3;
            c.attachments.s3_endpoint = endpoint;
            c.attachments.s3_bucket = "souk-test".into();
            c.attachments.s3_access_key_id = "test".into();
            c.attachments.s3_secret_access_key = Some(souk_server::config::Secret::new("test"));
        })
        .await;
        attachments_round_trip(&app).await;
        assert_eq!(
            blob_files(&app.state.config.data_dir.join("blobs")),
            0,
            "nothing on local disk"
        );
        // The bytes are in the bucket, under the order.
        let listing = reqwest::get(format!("{}/souk-test?list-type=2", s3.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(listing.contains("attachments/ord_"), "{listing}");
    }
);
