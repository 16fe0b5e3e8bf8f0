//! `souk serve --demo`: a marketplace you can click through at once.
//!
//! Sandbox mode (movable clock, private endpoints allowed), an example seller started in this
//! process on a loopback port, and — created through the public API, as a real operator, seller
//! and buyer would — a seller with a listed SaaS product (basic/pro editions, monthly and yearly
//! prices, a 14-day trial) pointing at that example seller, and a buyer with 10,000.00 CNY.
//!
//! Restarting on the same data directory keeps all of it working: the demo's API keys and the
//! example seller's port are kept in `<data_dir>/demo.json` (mode 0600); the same keys are
//! printed again (new ones only if a kept key was revoked), the example seller listens on the
//! same port again (another one, with the product re-pointed, only if that port is taken).

use anyhow::{bail, Context};
use serde_json::{json, Value};
use souk_core::party::Role;
use souk_server::usecase::parties;
use souk_server::App;
use souk_store::{Page, Scope};
use std::path::{Path, PathBuf};

/// What a demo keeps between starts, in `<data_dir>/demo.json`.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoState {
    pub operator_key: Option<String>,
    pub seller_key: Option<String>,
    pub buyer_key: Option<String>,
    /// The example seller's port on the last start.
    pub example_port: Option<u16>,
    /// The password of the demo's console logins (one for all three), chosen on the first
    /// start.
    #[serde(default)]
    pub console_password: Option<String>,
}

impl DemoState {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("demo.json")
    }

    /// The kept state, or an empty one on a first start.
    pub fn load(data_dir: &Path) -> anyhow::Result<DemoState> {
        let path = Self::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DemoState::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the state (mode 0600: it holds API keys).
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = Self::path(data_dir);
        souk_server::datadir::create_private_file(&path)?;
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Binds the example seller's listener: the port of the last start if it is free, else any.
pub async fn example_listener(state: &DemoState) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(port) = state.example_port {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) => {
                tracing::warn!(port, error = %e, "the example seller's port is taken; using another and re-pointing the product")
            }
        }
    }
    Ok(tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?)
}

/// `kept` if it still authenticates as `party` (not revoked, party active).
async fn still_valid(app: &App, kept: Option<&str>, party: &str) -> anyhow::Result<Option<String>> {
    let Some(kept) = kept else { return Ok(None) };
    if souk_core::api_key::parse_shape(kept).is_err() {
        return Ok(None);
    }
    let hash = souk_core::api_key::from_plaintext(kept.to_owned()).hash;
    let principal = app
        .state
        .store
        .authenticate(&hash, app.state.clock.now())
        .await?;
    Ok(principal
        .filter(|p| p.party_id.as_str() == party)
        .map(|_| kept.to_owned()))
}

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
    /// Console logins: (role, e-mail address).
    pub logins: Vec<(&'static str, String)>,
    /// Their password, or `None` when the logins predate `demo.json` (then it is the one
    /// printed on that first start).
    pub console_password: Option<String>,
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
    kept: Option<&str>,
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
    if let Some(key) = still_valid(app, kept, party.id.as_str()).await? {
        return Ok((party.id.to_string(), key));
    }
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

/// Seeds (or refreshes) the demo through the running server at `base`, reusing the keys kept in
/// `kept` and recording the ones it uses there.
pub async fn seed(
    app: &App,
    base: &str,
    example_url: &str,
    kept: &mut DemoState,
) -> anyhow::Result<DemoKeys> {
    let operator_id = app.operator_id().await?;
    let operator =
        match still_valid(app, kept.operator_key.as_deref(), operator_id.as_str()).await? {
            Some(k) => k,
            None => party_key(app, &operator_id).await?.1,
        };
    let (seller_id, seller) = party(
        app,
        &operator_id,
        Role::Seller,
        SELLER_NAME,
        kept.seller_key.as_deref(),
    )
    .await?;
    let (buyer_id, buyer) = party(
        app,
        &operator_id,
        Role::Buyer,
        BUYER_NAME,
        kept.buyer_key.as_deref(),
    )
    .await?;
    kept.operator_key = Some(operator.clone());
    kept.seller_key = Some(seller.clone());
    kept.buyer_key = Some(buyer.clone());
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
            // The port is normally the same as last time; this only matters when it was taken.
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
    let (logins, console_password) = console_logins(
        app,
        &operator_id,
        [
            ("operator", operator_id.to_string()),
            ("seller", seller_id),
            ("buyer", buyer_id.clone()),
        ],
        kept,
    )
    .await?;
    Ok(DemoKeys {
        logins,
        console_password,
        operator,
        seller,
        buyer,
        buyer_id,
        product_id: product["id"].as_str().unwrap_or_default().to_owned(),
        skus,
    })
}

/// Gives each demo party a console login `<role>@demo.example` (once), all with one password
/// kept in `demo.json`.
async fn console_logins(
    app: &App,
    operator: &souk_core::party::PartyId,
    parties: [(&'static str, String); 3],
    kept: &mut DemoState,
) -> anyhow::Result<(Vec<(&'static str, String)>, Option<String>)> {
    let mut logins = Vec::new();
    let mut password = kept.console_password.clone();
    for (role, id) in parties {
        let id = souk_core::party::PartyId::from_trusted(id);
        let existing = app.state.store.console_users_of(&id).await?;
        let email = match existing.first() {
            Some(u) => u.email.clone(),
            None => {
                let pw = password
                    .get_or_insert_with(|| souk_core::console::new_token()[..16].to_owned())
                    .clone();
                let email = format!("{role}@demo.example");
                souk_server::usecase::console::create_user(&app.state, operator, &id, &email, &pw)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
                email
            }
        };
        logins.push((role, email));
    }
    kept.console_password = password.clone();
    Ok((logins, password))
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
