//! What the benchmarks share: a real Souk on a loopback port with a fresh data directory, and
//! the parties and listed product they need, created through the public API.

use crate::demo::Api;
use anyhow::Context;
use serde_json::{json, Value};
use souk_core::clock::SystemClock;
use souk_server::config::{Config, Overrides, Secret};
use souk_server::{App, AppState};
use std::net::SocketAddr;
use std::sync::Arc;

/// A running Souk for a benchmark; dropped or [`BenchSouk::stop`]ped at the end.
pub struct BenchSouk {
    pub api: Api,
    pub operator_key: String,
    pub state: AppState,
    pub addr: SocketAddr,
    pub backend: &'static str,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Holds the data directory until the benchmark ends.
    _dir: tempfile::TempDir,
}

impl BenchSouk {
    /// Starts Souk on `database_url` (default: SQLite in a temp dir); `tweak` adjusts the config.
    pub async fn start(
        database_url: Option<String>,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<BenchSouk> {
        Self::start_with_clock(database_url, tweak, None).await
    }

    /// [`BenchSouk::start`] on a movable clock (benchmarks that need time to have passed).
    pub async fn start_with_clock(
        database_url: Option<String>,
        tweak: impl FnOnce(&mut Config),
        clock: Option<souk_core::clock::OffsetClock>,
    ) -> anyhow::Result<BenchSouk> {
        let dir = tempfile::tempdir()?;
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse()?),
            data_dir: Some(dir.path().to_owned()),
            database_url,
            allow_private_endpoints: true,
        };
        let mut config = Config::load_from(None, &[], &overrides)?;
        let operator_key = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
        config.bootstrap_operator_key = Some(Secret::new(operator_key.clone()));
        tweak(&mut config);
        let app = match clock {
            Some(c) => App::prepare_with(config, Arc::new(c.clone()), Some(c)).await?,
            None => App::prepare(config, Arc::new(SystemClock)).await?,
        };
        let backend = app.state.store.backend().as_str();
        let state = app.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = stopped.await;
        }));
        let api = Api {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?,
            base: format!("http://{addr}"),
        };
        Ok(BenchSouk {
            api,
            operator_key,
            state,
            addr,
            backend,
            stop,
            server,
            _dir: dir,
        })
    }

    /// Creates a party of `collection` (sellers, buyers) and issues it a key: `(id, key)`.
    pub async fn party(&self, collection: &str, name: &str) -> anyhow::Result<(String, String)> {
        let op = self.operator_key.as_str();
        let party = self
            .api
            .call(
                "POST",
                &format!("/v1/{collection}"),
                op,
                Some(json!({ "name": name })),
            )
            .await?;
        let id = party["id"].as_str().context("party id")?.to_owned();
        let key = self
            .api
            .call(
                "POST",
                &format!("/v1/{collection}/{id}/api-keys"),
                op,
                Some(json!({})),
            )
            .await?["secret"]
            .as_str()
            .context("party key")?
            .to_owned();
        Ok((id, key))
    }

    /// A buyer with `amount_minor` CNY: `(id, key)`.
    pub async fn buyer(&self, name: &str, amount_minor: i64) -> anyhow::Result<(String, String)> {
        let (id, key) = self.party("buyers", name).await?;
        self.api
            .call(
                "POST",
                &format!("/v1/buyers/{id}/balance/top-ups"),
                &self.operator_key,
                Some(json!({"amount": {"amount_minor": amount_minor, "currency": "CNY"}})),
            )
            .await?;
        Ok((id, key))
    }

    /// Creates, submits and approves a product; returns it as listed.
    pub async fn list_product(&self, seller_key: &str, body: Value) -> anyhow::Result<Value> {
        let product = self
            .api
            .call("POST", "/v1/products", seller_key, Some(body))
            .await?;
        let id = product["id"].as_str().context("product id")?.to_owned();
        self.api
            .call(
                "POST",
                &format!("/v1/products/{id}/submit"),
                seller_key,
                Some(json!({})),
            )
            .await?;
        self.api
            .call(
                "POST",
                &format!("/v1/products/{id}/approve"),
                &self.operator_key,
                Some(json!({})),
            )
            .await
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}
