//! Real `souk` processes: killed with SIGKILL mid-call and restarted, and two processes sharing
//! one PostgreSQL queue.

use crate::fixture::{product_body, Proto, SELLER_KEY};
use crate::harness::{postgres_skipped, Backend, TestDb};
use crate::ops_support::Client;
use reqwest::StatusCode;
use serde_json::json;
use souk_isv::example::{ExampleConfig, ExampleHandle, ExampleSeller, FailureMode};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `souk serve` child process; killed when dropped.
pub(crate) struct Souk {
    child: Child,
    pub(crate) base: String,
}

impl Souk {
    fn start(db: &TestDb, data: &Path, operator_key: &str, extra_env: &[(&str, &str)]) -> Souk {
        Self::start_at(&db.url, data, operator_key, extra_env)
    }

    /// [`Souk::start`] on the database at `url` (a test's own, shared with its server).
    pub(crate) fn start_at(
        url: &str,
        data: &Path,
        operator_key: &str,
        extra_env: &[(&str, &str)],
    ) -> Souk {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
        for (k, _) in std::env::vars() {
            if k.starts_with("SOUK_") && !k.starts_with("SOUK_TEST") {
                cmd.env_remove(k);
            }
        }
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-private-endpoints",
            "--data-dir",
        ])
        .arg(data)
        .args(["--database-url", url])
        .env("SOUK_BOOTSTRAP_OPERATOR_KEY", operator_key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start souk");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("souk printed its address")
                .expect("readable stdout");
            if let Some(rest) = line.split("http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Souk {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix: no chance to finish anything
        let _ = self.child.wait();
    }
}

impl Drop for Souk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seller with a listed product at `example`, buyer with money: `(buyer_key, sku_id)`.
async fn set_up_market(c: &Client, op: &str, example: &ExampleHandle) -> (String, String) {
    let party = |collection: &'static str| async move {
        let p = c
            .call(
                "POST",
                &format!("/v1/{collection}"),
                op,
                Some(json!({"name": collection})),
            )
            .await;
        let id = p.body["id"].as_str().unwrap().to_owned();
        let k = c
            .call(
                "POST",
                &format!("/v1/{collection}/{id}/api-keys"),
                op,
                Some(json!({})),
            )
            .await;
        (id, k.body["secret"].as_str().unwrap().to_owned())
    };
    let (_, seller_key) = party("sellers").await;
    let (buyer_id, buyer_key) = party("buyers").await;
    let url = format!("{}/produce", example.url().trim_end_matches('/'));
    let p = c
        .call(
            "POST",
            "/v1/products",
            &seller_key,
            Some(product_body("Crashproof", Proto::V1, &url)),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.text);
    let pid = p.body["id"].as_str().unwrap().to_owned();
    c.call(
        "POST",
        &format!("/v1/products/{pid}/submit"),
        &seller_key,
        Some(json!({})),
    )
    .await;
    let approved = c
        .call(
            "POST",
            &format!("/v1/products/{pid}/approve"),
            op,
            Some(json!({})),
        )
        .await;
    let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
    let t = c
        .call(
            "POST",
            &format!("/v1/buyers/{buyer_id}/balance/top-ups"),
            op,
            Some(json!({"amount": {"amount_minor": 10_000_000, "currency": "CNY"}})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    (buyer_key, sku)
}

async fn buy(c: &Client, buyer_key: &str, sku: &str) -> String {
    let o = c
        .call(
            "POST",
            "/v1/orders",
            buyer_key,
            Some(json!({"sku_id": sku, "billing_mode": "monthly"})),
        )
        .await;
    assert_eq!(o.status, StatusCode::CREATED, "{}", o.text);
    let id = o.body["id"].as_str().unwrap();
    let paid = c
        .call("POST", &format!("/v1/orders/{id}/pay"), buyer_key, None)
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    paid.body["instance_id"].as_str().unwrap().to_owned()
}

async fn killed_mid_call_loses_nothing_and_duplicates_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let data = db.dir.path().join("data");
    let op = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
    let example = ExampleSeller::spawn(ExampleConfig::new(SELLER_KEY))
        .await
        .unwrap();
    // A short lease so that, on PostgreSQL, the restarted process takes the call over quickly.
    let env = [
        ("SOUK_PROVISIONING__LEASE", "2s"),
        ("SOUK_PROVISIONING__SELLER_TIMEOUT", "1s"),
    ];
    let souk = Souk::start(&db, &data, &op, &env);
    let c = Client {
        http: reqwest::Client::new(),
        base: souk.base.clone(),
    };
    let (buyer_key, sku) = set_up_market(&c, &op, &example).await;

    // The seller takes the call in and does not answer: Souk is mid-dispatch.
    example.set_failing(Some(FailureMode::Hang));
    let instance = buy(&c, &buyer_key, &sku).await;
    // The separate souk's worker makes the call on its own clock; the seller says when it
    // arrived.
    tokio::time::timeout(Duration::from_secs(10), example.injected_failures_reach(1))
        .await
        .expect("the call never arrived");
    souk.kill9();

    example.set_failing(None);
    let souk = Souk::start(&db, &data, &op, &env);
    let c = Client {
        http: reqwest::Client::new(),
        base: souk.base.clone(),
    };
    c.wait_active(&buyer_key, &instance).await;
    let s = example.state();
    assert_eq!(
        s.new_instance_created, 1,
        "exactly one instance at the seller"
    );
    // Every call the seller received has its line in the interface messages: the one in
    // flight at the kill is recorded as interrupted.
    let attempts = c
        .call(
            "GET",
            &format!("/v1/interface-messages?instance_id={instance}"),
            &op,
            None,
        )
        .await;
    let attempts = attempts.body["data"].as_array().unwrap().clone();
    let interrupted = attempts
        .iter()
        .filter(|a| a["outcome"] == "interrupted")
        .count();
    assert!(interrupted >= 1, "{attempts:?}");
    assert!(
        attempts.len() >= s.calls.len(),
        "the seller received {} calls, {} attempts recorded: {attempts:?}",
        s.calls.len(),
        attempts.len()
    );
    drop(souk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_souk_killed_mid_call_resends_it_after_restart_sqlite() {
    killed_mid_call_loses_nothing_and_duplicates_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_souk_killed_mid_call_resends_it_after_restart_postgres() {
    if postgres_skipped() {
        return;
    }
    killed_mid_call_loses_nothing_and_duplicates_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_share_the_queue_without_double_delivery() {
    if postgres_skipped() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let op = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
    let example = ExampleSeller::spawn(ExampleConfig::new(SELLER_KEY))
        .await
        .unwrap();
    let a = Souk::start(&db, &db.dir.path().join("a"), &op, &[]);
    // Same master key for both, or B could not open the seller key A sealed.
    std::fs::create_dir_all(db.dir.path().join("b")).unwrap();
    std::fs::copy(
        db.dir.path().join("a/master.key"),
        db.dir.path().join("b/master.key"),
    )
    .unwrap();
    let b = Souk::start(&db, &db.dir.path().join("b"), &op, &[]);
    let ca = Client {
        http: reqwest::Client::new(),
        base: a.base.clone(),
    };
    let cb = Client {
        http: reqwest::Client::new(),
        base: b.base.clone(),
    };
    let (buyer_key, sku) = set_up_market(&ca, &op, &example).await;
    let mut instances = Vec::new();
    for i in 0..40 {
        let c = if i % 2 == 0 { &ca } else { &cb };
        instances.push(buy(c, &buyer_key, &sku).await);
    }
    for i in &instances {
        ca.wait_active(&buyer_key, i).await;
    }
    let s = example.state();
    assert_eq!(s.new_instance_created, 40);
    assert_eq!(
        s.calls_of("newInstance").count(),
        40,
        "each call delivered exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_starts_with_a_buyable_product_and_a_movable_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SOUK_") && !k.starts_with("SOUK_TEST") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = std::collections::HashMap::new();
    let mut base = String::new();
    let mut buyer_login = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let ["buyer", email, "password", password] =
            line.split_whitespace().collect::<Vec<_>>()[..]
        {
            buyer_login = Some((email.to_owned(), password.to_owned()));
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            base = format!("http://{}", rest.split_whitespace().next().unwrap());
        }
        if let Some((k, v)) = line.split_once(": ") {
            out.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        if line.starts_with("walkthrough") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(!base.is_empty(), "no address in {out:?}");
    let word = |k: &str| out[k].split_whitespace().next().unwrap().to_owned();
    let (op, buyer, sku) = (word("operator key"), word("buyer key"), word("sku basic"));
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };
    let instance = buy(&c, &buyer, &sku).await;
    c.wait_active(&buyer, &instance).await;
    let moved = c
        .call(
            "POST",
            "/v1/sandbox/clock/advance",
            &op,
            Some(json!({"by": "32d"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let inst = c
        .call("GET", &format!("/v1/instances/{instance}"), &buyer, None)
        .await;
    assert_eq!(inst.body["state"], "grace", "{}", inst.text);
    // The printed console login works.
    let (email, password) = buyer_login.expect("a console login for the demo buyer");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http.get(format!("{}/login", c.base)).send().await.unwrap();
    let cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = form.text().await.unwrap();
    let csrf = crate::console_support::csrf_of(&html);
    let r = http
        .post(format!("{}/login", c.base))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", &email),
            ("password", &password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let _ = child.kill();
    let _ = child.wait();
}
