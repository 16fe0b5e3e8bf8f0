//! `souk serve --demo`: a marketplace you can click through at once.
//!
//! Sandbox mode (movable clock, private endpoints allowed), an example seller started in this
//! process on a free loopback port, and — created through the public API, as a real operator,
//! seller and buyer would — a seller with a listed SaaS product (basic/pro editions, monthly and
//! yearly prices, a 14-day trial) pointing at that example seller, and a buyer with
//! 10,000.00 CNY. Fresh API keys for all three are printed at every start; on later starts the
//! existing demo parties are reused and the product's endpoint follows the new port.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use souk_core::party::Role;
use souk_server::usecase::parties;
use souk_server::App;
use souk_store::{Page, Scope};

pub const DEMO_SELLER_KEY: &str = "demo-seller-key-0123456789";
const SELLER_NAME: &str = "Demo Seller";
const BUYER_NAME: &str = "Demo Buyer";
const PRODUCT_NAME: &str = "Demo Monitor";

/// The keys and ids a newcomer needs, printed once the demo is ready.
pub struct DemoKeys {
    pub operator: String,
    pub seller: String,
    pub buyer: String,
    pub buyer_id: String,
    pub product_id: String,
    pub skus: Vec<(String, String)>,
}

pub(crate) struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path}: {status} {body}");
        }
        Ok(body)
    }
}

/// Finds or creates a demo party, and issues it a fresh key.
async fn party(
    app: &App,
    operator: &souk_core::party::PartyId,
    role: Role,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let state = &app.state;
    let existing = state
        .store
        .list_parties(&Scope::Everything, role, &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .find(|p| p.name == name);
    let party = match existing {
        Some(p) => p,
        None => parties::create(
            state,
            operator,
            role,
            parties::CreateParty {
                name: name.into(),
                email: Some(format!("{}@demo.example", role.as_str())),
                mobile_phone: Some("+8613800000000".into()),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?,
    };
    let key = parties::issue_key(
        state,
        &Scope::Everything,
        operator,
        &party.id,
        Some("demo".into()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    Ok((party.id.to_string(), key.secret))
}

/// Seeds (or refreshes) the demo through the running server at `base`.
pub async fn seed(app: &App, base: &str, example_url: &str) -> anyhow::Result<DemoKeys> {
    let operator_id = app.operator_id().await?;
    let (_, operator) = party_key(app, &operator_id).await?;
    let (_, seller) = party(app, &operator_id, Role::Seller, SELLER_NAME).await?;
    let (buyer_id, buyer) = party(app, &operator_id, Role::Buyer, BUYER_NAME).await?;
    let api = Api {
        http: reqwest::Client::new(),
        base: base.to_owned(),
    };
    let production_url = format!("{}produce", example_url);
    let products = api
        .call("GET", "/v1/products?limit=200", &seller, None)
        .await?;
    let existing = products["data"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == PRODUCT_NAME).cloned());
    let product = match existing {
        Some(p) => {
            let id = p["id"].as_str().unwrap_or_default();
            api.call(
                "PUT",
                &format!("/v1/products/{id}/integration"),
                &seller,
                Some(json!({"protocol": "v2", "production_url": production_url, "key": DEMO_SELLER_KEY})),
            )
            .await?;
            api.call("GET", &format!("/v1/products/{id}"), &seller, None)
                .await?
        }
        None => {
            let created = api
                .call(
                    "POST",
                    "/v1/products",
                    &seller,
                    Some(product_body(&production_url)),
                )
                .await?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            api.call(
                "POST",
                &format!("/v1/products/{id}/submit"),
                &seller,
                Some(json!({})),
            )
            .await?;
            api.call(
                "POST",
                &format!("/v1/products/{id}/approve"),
                &operator,
                Some(json!({})),
            )
            .await?;
            api.call(
                "POST",
                &format!("/v1/buyers/{buyer_id}/balance/top-ups"),
                &operator,
                Some(json!({"amount": {"amount_minor": 1_000_000, "currency": "CNY"}, "memo": "demo money"})),
            )
            .await?;
            api.call("GET", &format!("/v1/products/{id}"), &seller, None)
                .await?
        }
    };
    let skus = product["skus"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|k| {
                    (
                        k["attributes"]["edition"]
                            .as_str()
                            .unwrap_or("-")
                            .to_owned(),
                        k["id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(DemoKeys {
        operator,
        seller,
        buyer,
        buyer_id,
        product_id: product["id"].as_str().unwrap_or_default().to_owned(),
        skus,
    })
}

async fn party_key(app: &App, id: &souk_core::party::PartyId) -> anyhow::Result<(String, String)> {
    let key = parties::issue_key(&app.state, &Scope::Everything, id, id, Some("demo".into()))
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    Ok((id.to_string(), key.secret))
}

pub(crate) fn product_body(url: &str) -> Value {
    json!({
        "name": PRODUCT_NAME,
        "delivery_type": "saas",
        "category": "devops/monitoring",
        "description": "Hosted monitoring for small teams, sold through Souk's demo marketplace.",
        "usage_guide": "Sign in at the frontEndUrl with the credentials shown on your instance.",
        "service_agreement": {
            "content": "Hosted monitoring with 99.9% monthly availability and e-mail support.",
            "hours": "Mon-Fri 09:00-18:00 (UTC+8)",
            "phone": "+86 10 1234 5678",
            "email": "support@demo.example"
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
        "integration": {"protocol": "v2", "production_url": url, "key": DEMO_SELLER_KEY}
    })
}
