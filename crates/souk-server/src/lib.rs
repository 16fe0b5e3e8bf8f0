//! Souk's server: the HTTP API ([`http`]), the web consoles ([`web`]), the use cases behind
//! them ([`usecase`]), configuration
//! ([`config`]) and start-up ([`App`]).
//!
//! `main` stays thin: it loads a [`config::Config`], calls [`App::prepare`] (data directory,
//! master key, database, migrations, first operator) and then [`App::serve`] with a listener and
//! a shutdown future, which is also how the tests start Souk on port 0.

pub mod blobs;
pub mod config;
pub mod datadir;
pub mod error;
pub mod http;
pub mod license_cache;
pub mod secrets;
pub mod seller_client;
pub mod telemetry;
pub mod usecase;
pub mod web;
pub mod workers;

use anyhow::Context;
use config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use souk_core::clock::Clock;
use souk_core::id::ApiKeyId;
use souk_core::party::{PartyId, Role};
use souk_store::prelude::*;
use souk_store::{NewKey, NewParty, SqlStore, Store};
use std::future::Future;
use std::sync::Arc;

/// What every handler and worker shares.
#[derive(Clone)]
pub struct AppState {
    /// All persistence, behind the use-case trait.
    pub store: Arc<dyn Store>,
    /// The only source of "now" (see `souk_core::clock`).
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Encrypts secrets at rest.
    pub master_key: secrets::MasterKey,
    /// Wakes this process's dispatcher when a use case enqueued a call.
    pub wake: Arc<tokio::sync::Notify>,
    /// The movable clock behind `clock` in sandbox mode.
    pub sandbox_clock: Option<souk_core::clock::OffsetClock>,
    /// What license heartbeats are answered from (and their write-behind queue).
    pub licenses: Arc<license_cache::LicenseCache>,
    /// Where attachment bytes live (local filesystem or S3-compatible).
    pub blobs: Arc<dyn object_store::ObjectStore>,
    /// The last order the supervision reminder pass read (it reads a batch per run and goes
    /// round all open supervisions).
    pub reminder_cursor: Arc<std::sync::Mutex<Option<souk_core::id::OrderId>>>,
    /// Every seller-call outcome this process records (what `GET /v1/instances/{id}?wait=`
    /// waits on).
    pub calls_recorded: tokio::sync::broadcast::Sender<workers::Recorded>,
    /// Turns true when [`App::serve`] starts shutting down (long waits give up at once); `None`
    /// outside `serve`.
    pub stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

/// A prepared Souk: database migrated, first operator present.
pub struct App {
    pub state: AppState,
    /// The operator key generated or accepted on this start, if this start created the operator.
    /// Shown once by the caller, never logged.
    pub new_operator_key: Option<String>,
}

impl App {
    /// Creates the data directory, loads the master key, connects, migrates and bootstraps.
    pub async fn prepare(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        Self::prepare_with(config, clock, None).await
    }

    /// [`App::prepare`] with a sandbox clock that `POST /v1/sandbox/clock/advance` can move
    /// (it must be the same clock as `clock`).
    pub async fn prepare_with(
        config: Config,
        clock: Arc<dyn Clock>,
        sandbox_clock: Option<souk_core::clock::OffsetClock>,
    ) -> anyhow::Result<App> {
        datadir::prepare(&config)?;
        let master_key = secrets::MasterKey::load_or_create(&config)?;
        let url = config.effective_database_url();
        let store = SqlStore::connect(&url)
            .await
            .with_context(|| format!("connecting to {}", souk_store::sql_redact_url(&url)))?;
        store.migrate().await.context("running migrations")?;
        let store: Arc<dyn Store> = Arc::new(store);
        let new_operator_key = bootstrap_operator(&*store, &config, &*clock).await?;
        let blobs = blobs::open(&config)?;
        Ok(App {
            state: AppState {
                store,
                clock,
                config: Arc::new(config),
                metrics: telemetry::handle(),
                master_key,
                wake: Arc::new(tokio::sync::Notify::new()),
                sandbox_clock,
                licenses: Arc::new(license_cache::LicenseCache::new()),
                blobs,
                reminder_cursor: Arc::default(),
                calls_recorded: tokio::sync::broadcast::channel(1024).0,
                stopping: None,
            },
            new_operator_key,
        })
    }

    /// Serves HTTP on `listener` and runs the workers until `shutdown` completes; then lets
    /// in-flight requests finish and in-flight seller calls be recorded.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut state = self.state;
        state.stopping = Some(stop_rx.clone());
        let workers = if state.config.provisioning.workers {
            if state.store.backend() == souk_store::Backend::Sqlite {
                // One process per SQLite file: calls left `running` were in flight when the
                // previous process died. Send them again now rather than after their lease.
                let n = state.store.reclaim_orphaned_jobs().await?;
                if n > 0 {
                    tracing::warn!(
                        calls = n,
                        "resending calls interrupted by the last shutdown"
                    );
                }
            }
            workers::spawn(workers::Engine::new(state.clone())?, stop_rx)
        } else {
            Vec::new()
        };
        let flusher = spawn_heartbeat_flusher(state.clone(), stop_tx.subscribe());
        let router = http::router(state);
        let served = axum::serve(http::wire_errors::EnvelopedErrors(listener), router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await
            .context("serving HTTP");
        for w in workers {
            let _ = w.await;
        }
        let _ = flusher.await;
        served
    }

    /// The first operator's id (every database has one after `prepare`).
    pub async fn operator_id(&self) -> anyhow::Result<PartyId> {
        let ops = self
            .state
            .store
            .list_parties(
                &souk_store::Scope::Everything,
                Role::Operator,
                &souk_store::Page::first(1),
            )
            .await?;
        ops.into_iter()
            .next()
            .map(|p| p.id)
            .context("no operator exists")
    }
}

/// Writes license heartbeats' last-seen times behind, in batches, until shutdown (then once
/// more, so that nothing seen is lost).
fn spawn_heartbeat_flusher(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(license_cache::FLUSH_INTERVAL) => false,
                _ = stop.changed() => true,
            };
            if let Err(e) = state.licenses.flush(&*state.store).await {
                tracing::warn!(error = %e, "could not write license heartbeats; will retry");
            }
            if stopping || *stop.borrow() {
                break;
            }
        }
    })
}

/// Creates the first operator if there is none. Returns the key to show, if one was created.
async fn bootstrap_operator(
    store: &dyn Store,
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<Option<String>> {
    let key = match &config.bootstrap_operator_key {
        Some(k) => {
            let role = souk_core::api_key::parse_shape(k.expose())
                .context("SOUK_BOOTSTRAP_OPERATOR_KEY is not a valid API key")?;
            anyhow::ensure!(
                role == Role::Operator,
                "SOUK_BOOTSTRAP_OPERATOR_KEY must start with sk_op_"
            );
            souk_core::api_key::from_plaintext(k.expose().to_owned())
        }
        None => souk_core::api_key::generate(Role::Operator),
    };
    let now = clock.now();
    let party = NewParty {
        id: PartyId::generate(Role::Operator, now),
        role: Role::Operator,
        name: "Operator".into(),
        email: None,
        mobile_phone: None,
        now,
    };
    let new_key = NewKey {
        id: ApiKeyId::generate(now),
        party_id: party.id.clone(),
        label: Some("bootstrap".into()),
        display_prefix: key.display_prefix.clone(),
        hash: key.hash.clone(),
        created_by: None,
        now,
    };
    let created = store.bootstrap_operator(party, new_key).await?;
    Ok(created.then_some(key.plaintext))
}
