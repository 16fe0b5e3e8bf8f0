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
    publish(app, m, body).await["skus"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
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

/// A listed SaaS product flagged for supervision, sold by `m`'s seller at the example seller.
pub async fn flagged_saas(app: &TestApp, m: &Market) -> String {
    let url = format!("{}/produce", m.example.url().trim_end_matches('/'));
    let mut body = product_body("Acme Managed", Proto::V2, &url);
    body["supervised"] = json!(true);
    publish(app, m, body).await["skus"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates, submits and approves a product; returns the approved product.
pub async fn publish(app: &TestApp, m: &Market, body: Value) -> Value {
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
    approved.body
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

pub(crate) fn evidence() -> Value {
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

/// Through the requirement loop to `deliver_proof` for a standard flow.
pub(crate) async fn to_implementation(app: &TestApp, m: &Market, order: &str, requirement: &str) {
    let submit = json!({"action": "submit_requirement", "requirement": requirement});
    act(app, &m.buyer_key, order, submit).await;
    act(
        app,
        &m.seller_key,
        order,
        json!({"action": "confirm_requirement"}),
    )
    .await;
    act(app, &m.seller_key, order, json!({"action": "implement"})).await;
}

/// Through the requirement loop to `buyer_accept` for a standard flow (no review).
pub(crate) async fn to_acceptance(app: &TestApp, m: &Market, order: &str) {
    to_implementation(app, m, order, "A shop site").await;
    let proof = json!({"action": "deliver_proof", "evidence": evidence()});
    let s = act(app, &m.seller_key, order, proof).await;
    assert_eq!(s["node"], "buyer_accept", "{s}");
}

mod attachments;
mod browser;
mod console;
mod console_files;
mod console_flows;
mod hardware_refunds;
mod license_flows;
mod licenses;
mod mail;
mod opening;
mod refunds;
mod renewal_refunds;
mod supervision;
mod timers;
