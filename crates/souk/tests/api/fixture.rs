//! A marketplace with one seller running the example seller on loopback, one listed SaaS
//! product (editions basic/pro × users 1–100, monthly/yearly/trial prices) and one buyer with
//! money, built through the HTTP API as a real operator, seller and buyer would.

#![allow(dead_code)]

use crate::harness::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_isv::example::{ExampleConfig, ExampleHandle, ExampleSeller};
use std::future::Future;

pub const SELLER_KEY: &str = "3c2b7b1e-0d4f-4f53-9a0e-seller-key";

pub struct Market {
    pub seller_id: String,
    pub seller_key: String,
    pub buyer_id: String,
    pub buyer_key: String,
    pub product_id: String,
    /// SKU ids by edition.
    pub basic: String,
    pub pro: String,
    pub example: ExampleHandle,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    V1,
    V2,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::V1 => "v1",
            Proto::V2 => "v2",
        }
    }
}

/// Starts the example seller. It checks V2 timestamps against the real clock, as a real seller
/// does: Souk signs with real time even when the test has moved the business clock.
pub async fn example_seller(
    _app: &TestApp,
    tweak: impl FnOnce(&mut ExampleConfig),
) -> ExampleHandle {
    let mut config = ExampleConfig::new(SELLER_KEY);
    tweak(&mut config);
    ExampleSeller::spawn(config)
        .await
        .expect("example seller starts")
}

pub fn product_body(name: &str, proto: Proto, url: &str) -> Value {
    json!({
        "name": name,
        "delivery_type": "saas",
        "category": "devops/monitoring",
        "description": "Hosted monitoring for small teams.",
        "service_agreement": {
            "content": "Hosted monitoring, 99.9% monthly availability.",
            "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
            "phone": "+86 10 1234 5678",
            "email": "support@acme.example"
        },
        "currency": "CNY",
        "enum_attributes": [{"name": "edition", "values": ["basic", "pro"]}],
        "quantity": {"name": "users", "unit": "user", "min": 1, "max": 100, "wire_field": "amount"},
        "prices": [
            {"sku": {"edition": "basic"}, "billing_mode": "monthly", "amount_minor": 1000},
            {"sku": {"edition": "basic"}, "billing_mode": "yearly", "amount_minor": 10000},
            {"sku": {"edition": "pro"}, "billing_mode": "monthly", "amount_minor": 3000},
            {"sku": {"edition": "pro"}, "billing_mode": "yearly", "amount_minor": 30000},
            {"billing_mode": "trial", "trial_days": 14}
        ],
        "integration": {
            "protocol": proto.as_str(),
            "production_url": url,
            "key": SELLER_KEY
        }
    })
}

/// Seller, listed product, buyer with 1,000.00 CNY.
pub async fn market(app: &TestApp, proto: Proto, example: ExampleHandle) -> Market {
    let (seller_id, seller_key) = app.party("sellers", "Acme Cloud").await;
    let (buyer_id, buyer_key) = app.party("buyers", "Buyer Ltd").await;
    let url = format!("{}/produce", example.url().trim_end_matches('/'));
    let created = app
        .post(
            "/v1/products",
            &seller_key,
            product_body("Acme Monitor", proto, &url),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let product_id = created.body["id"].as_str().unwrap().to_owned();
    let submitted = app
        .post(
            &format!("/v1/products/{product_id}/submit"),
            &seller_key,
            json!({}),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.text);
    let approved = app
        .post(
            &format!("/v1/products/{product_id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let sku = |edition: &str| {
        approved.body["skus"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["attributes"]["edition"] == edition)
            .unwrap_or_else(|| panic!("no {edition} SKU in {}", approved.text))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (basic, pro) = (sku("basic"), sku("pro"));
    top_up(app, &buyer_id, 100_000).await;
    Market {
        seller_id,
        seller_key,
        buyer_id,
        buyer_key,
        product_id,
        basic,
        pro,
        example,
    }
}

/// Creates, submits and approves a product as `seller_key`; returns it as approved.
pub async fn list_product(app: &TestApp, seller_key: &str, body: Value) -> Value {
    let created = app.post("/v1/products", seller_key, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let submitted = app
        .post(&format!("/v1/products/{id}/submit"), seller_key, json!({}))
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

pub async fn top_up(app: &TestApp, buyer_id: &str, amount_minor: i64) -> Reply {
    let r = app
        .post(
            &format!("/v1/buyers/{buyer_id}/balance/top-ups"),
            &app.operator_key,
            json!({"amount": {"amount_minor": amount_minor, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r
}

pub async fn balance(app: &TestApp, m: &Market) -> i64 {
    let r = app
        .get(&format!("/v1/buyers/{}/balance", m.buyer_id), &m.buyer_key)
        .await;
    r.body["balance"]["amount_minor"].as_i64().unwrap()
}

impl Market {
    /// Places and pays an order; returns the paid order.
    pub async fn buy(&self, app: &TestApp, body: Value) -> Value {
        let placed = app.post("/v1/orders", &self.buyer_key, body).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &self.buyer_key, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        assert_eq!(paid.body["state"], "processing");
        paid.body
    }

    pub async fn instance(&self, app: &TestApp, id: &str) -> Value {
        let r = app
            .get(&format!("/v1/instances/{id}"), &self.buyer_key)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
    }

    pub async fn order(&self, app: &TestApp, id: &str) -> Value {
        let r = app.get(&format!("/v1/orders/{id}"), &self.buyer_key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body
    }

    /// Runs the due background work, then expects the instance in `state`.
    pub async fn wait_instance(&self, app: &TestApp, id: &str, state: &str) -> Value {
        app.drain().await;
        let now = self.instance(app, id).await;
        assert_eq!(now["state"], state, "instance {id}: {now}");
        now
    }

    /// Runs the due background work, then expects the order in `state`.
    pub async fn wait_order(&self, app: &TestApp, id: &str, state: &str) -> Value {
        app.drain().await;
        let now = self.order(app, id).await;
        assert_eq!(now["state"], state, "order {id}: {now}");
        now
    }

    /// Places and pays a renewal or upgrade order of an instance.
    pub async fn act(&self, app: &TestApp, instance: &str, action: &str, body: Value) -> Value {
        let placed = app
            .post(
                &format!("/v1/instances/{instance}/{action}"),
                &self.buyer_key,
                body,
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap();
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &self.buyer_key, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        paid.body
    }
}

/// Runs the due background work, then expects `check` to hold.
pub async fn eventually<F, Fut>(app: &TestApp, what: &str, check: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = bool>,
{
    app.drain().await;
    assert!(check().await, "did not happen: {what}");
}

/// Moves the marketplace clock, then runs the timers and every call that became due.
pub async fn advance(app: &TestApp, by: time::Duration) {
    app.advance(by).await;
}
