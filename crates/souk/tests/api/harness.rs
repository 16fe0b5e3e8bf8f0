//! Test harness: a real Souk on port 0 with its own database, and a small HTTP client.
//!
//! PostgreSQL tests use `SOUK_TEST_DATABASE_URL` (default: the local server as `postgres`) and a
//! fresh schema per test, dropped afterwards. Set `SOUK_TEST_POSTGRES=skip` to run the SQLite
//! half only (the CI never does).

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use souk_core::clock::OffsetClock;
use souk_core::party::Role;
use souk_server::config::{Config, Overrides, Secret};
use souk_server::workers::Engine;
use souk_server::App;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_base_url() -> String {
    std::env::var("SOUK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn postgres_skipped() -> bool {
    std::env::var("SOUK_TEST_POSTGRES").is_ok_and(|v| v == "skip")
}

/// A database of its own: a SQLite file in a temp dir, or a PostgreSQL schema.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg_schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.path().join("souk.db").display()),
                backend,
                dir,
                pg_schema: None,
            },
            Backend::Postgres => {
                let schema = format!("souk_test_{}", uuid::Uuid::new_v4().simple());
                let base = postgres_base_url();
                let mut conn = connect_pg(&base).await;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                TestDb {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    backend,
                    dir,
                    pg_schema: Some(schema),
                }
            }
        }
    }
}

async fn connect_pg(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url}: {e}. Start it (scripts/test.sh does) or set \
             SOUK_TEST_POSTGRES=skip to run the SQLite half only."
        )
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.pg_schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on itself: clean up on a
        // thread with a runtime of its own.
        let base = postgres_base_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async {
                let mut conn = connect_pg(&base).await;
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}

/// A running Souk whose background work runs only when the test says so: the worker loops are
/// off, and [`TestApp::drain`] / [`TestApp::advance`] run the due calls and timer passes on the
/// test's clock. A test that ends with calls still waiting fails (see `Drop`), so nothing a test
/// set in motion is left unexamined; [`TestApp::allow_pending_work`] says it is on purpose.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub operator_key: String,
    pub clock: OffsetClock,
    pub state: souk_server::AppState,
    pub engine: Engine,
    db: Option<TestDb>,
    allow_pending: bool,
    /// Dropping the sender (with the app) also stops the server.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let db = TestDb::new(backend).await;
        Self::spawn_on(db).await
    }

    pub fn config_for(db: &TestDb, operator_key: &str) -> Config {
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some(db.dir.path().join("data")),
            database_url: Some(db.url.clone()),
            // Test sellers run on loopback.
            allow_private_endpoints: true,
        };
        let mut config = Config::load_from(None, &[], &overrides).expect("test config");
        config.bootstrap_operator_key = Some(Secret::new(operator_key));
        config.max_body_bytes = 64 * 1024;
        config
    }

    pub async fn spawn_on(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// [`TestApp::spawn_on`] with a change to the configuration (blob store, limits).
    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let operator_key = souk_core::api_key::generate(Role::Operator).plaintext;
        let mut config = Self::config_for(&db, &operator_key);
        tweak(&mut config);
        // Sandbox mode: the test clock is also the one `POST /v1/sandbox/clock/advance` moves.
        config.sandbox = true;
        // No background loops: the test drives the engine.
        config.provisioning.workers = false;
        let clock = OffsetClock::new();
        let app = App::prepare_with(config, Arc::new(clock.clone()), Some(clock.clone()))
            .await
            .expect("prepare app");
        assert_eq!(app.new_operator_key.as_deref(), Some(operator_key.as_str()));
        let state = app.state.clone();
        let engine = Engine::new(state.clone()).expect("engine");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            base,
            http: reqwest::Client::new(),
            operator_key,
            clock,
            state,
            engine,
            db: Some(db),
            allow_pending: false,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.as_ref().expect("database").backend
    }

    /// The test database's URL, for tests that must reach past the API (to tamper with a
    /// row and show that a check notices).
    pub fn database_url(&self) -> String {
        self.db.as_ref().expect("database").url.clone()
    }

    /// Sends every call due now, runs every timer pass, and repeats until nothing is due.
    pub async fn drain(&self) -> usize {
        self.engine.drain().await.expect("background work")
    }

    /// Moves the clock forward, then drains: everything that became due has happened.
    pub async fn advance(&self, by: time::Duration) -> usize {
        self.clock.advance(by).expect("clock within the calendar");
        self.drain().await
    }

    /// This test ends with calls still waiting (a retry scheduled later), on purpose.
    pub fn allow_pending_work(&mut self) {
        self.allow_pending = true;
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) -> TestDb {
        self.assert_settled().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.expect("server task").expect("server result");
        }
        self.allow_pending = true;
        self.db.take().expect("database")
    }

    async fn assert_settled(&self) {
        if self.allow_pending || std::thread::panicking() {
            return;
        }
        let next = self.state.store.next_job_due().await.expect("job query");
        assert!(
            next.is_none(),
            "the test ended with seller calls still waiting (next due at {next:?}): drain or \
             advance until they finish, or call allow_pending_work() if that is the point"
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request sent");
        Reply::read(res).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(key))
            .await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(key).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.send(self.http.delete(self.url(path)).bearer_auth(key))
            .await
    }

    /// Creates a party as the operator and issues it a key: `(id, key)`.
    pub async fn party(&self, collection: &str, name: &str) -> (String, String) {
        let r = self
            .post(
                &format!("/v1/{collection}"),
                &self.operator_key,
                serde_json::json!({ "name": name }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let k = self
            .post(
                &format!("/v1/{collection}/{id}/api-keys"),
                &self.operator_key,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(k.status, StatusCode::CREATED, "{:?}", k.body);
        (id, k.body["secret"].as_str().unwrap().to_owned())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.allow_pending || std::thread::panicking() || self.db.is_none() {
            return;
        }
        // The check needs the database, which goes with the app: run it now, on this runtime
        // (tests run on the multi-thread runtime, where blocking a worker is allowed).
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| handle.block_on(self.assert_settled()));
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn read(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    /// Asserts the error envelope with this status and code.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "an error needs a message: {}",
            self.text
        );
        assert!(self.headers.contains_key("x-request-id"));
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL:
/// `backend_test!(name, |app| async move { … });` gives `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Sqlite).await;
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::harness::postgres_skipped() {
                    eprintln!("SOUK_TEST_POSTGRES=skip: not running on PostgreSQL");
                    return;
                }
                let app = $crate::harness::TestApp::spawn($crate::harness::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// Like [`backend_test!`] for tests that need only a database, not a server.
#[macro_export]
macro_rules! backend_db_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = $crate::harness::TestDb::new($crate::harness::Backend::Sqlite).await;
                ($body)(db).await;
            }

            #[tokio::test]
            async fn postgres() {
                if $crate::harness::postgres_skipped() {
                    return;
                }
                let db = $crate::harness::TestDb::new($crate::harness::Backend::Postgres).await;
                ($body)(db).await;
            }
        }
    };
}
