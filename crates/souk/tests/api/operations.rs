//! Operations: the dashboard metrics, the access log, a private data directory, and what
//! `souk backup` says about PostgreSQL.

use crate::backend_test;
use crate::fixture::{example_seller, market, Proto};
use crate::harness::TestApp;
use crate::ops_support::{mode, souk, Client, Proc};
use serde_json::json;

/// The value of the first exposition line that starts with `series` (labels included).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

backend_test!(
    metrics_have_help_buckets_backlog_and_orders_by_state,
    |mut app: TestApp| async move {
        // The point is a call left waiting for its retry.
        app.allow_pending_work();
        // A seller that fails every call: the new_instance call stays unfinished.
        let example = example_seller(&app, |c| c.fail_first_n = 1_000).await;
        let m = market(&app, Proto::V2, example).await;
        let paid = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let unpaid = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": m.pro, "billing_mode": "monthly"}),
            )
            .await;
        assert_eq!(unpaid.status, 201, "{}", unpaid.text);
        // The first attempt fails: the call is pending again, retried later.
        app.drain().await;
        let instance =
            souk_core::id::InstanceId::parse(paid["instance_id"].as_str().unwrap()).unwrap();
        let jobs = app
            .state
            .store
            .jobs_of_instance(&souk_store::Scope::Everything, &instance)
            .await
            .unwrap();
        assert!(
            jobs[0].attempts >= 1 && jobs[0].state.as_str() == "pending",
            "the seller was called and failed: {jobs:?}"
        );
        let job = jobs[0].clone();

        // The store queries behind the gauges: unfinished now, but not due before its retry.
        let now = app.state.clock.now();
        assert!(job.next_attempt_at > now, "{job:?}");
        let backlog = app.state.store.job_backlog(now).await.unwrap();
        assert_eq!(backlog.len(), 1, "{backlog:?}");
        assert_eq!(backlog[0].kind, "new_instance");
        assert_eq!(backlog[0].unfinished, 1);
        assert_eq!(backlog[0].oldest_due_at, None);
        let later = now + time::Duration::hours(1);
        let backlog = app.state.store.job_backlog(later).await.unwrap();
        assert_eq!(backlog[0].oldest_due_at, Some(job.next_attempt_at));
        let mut orders = app.state.store.order_counts().await.unwrap();
        orders.sort();
        assert_eq!(
            orders,
            vec![("pending_payment".into(), 1), ("processing".into(), 1)]
        );

        // The exposition: HELP and TYPE lines, real histograms, the gauges read on scrape. The
        // recorder is shared by every app of this test process, so the gauge values are
        // checked until a scrape of this app was not overwritten by another app's scrape.
        let mut text = String::new();
        for _ in 0..100 {
            text = app.send(app.http.get(app.url("/metrics"))).await.text;
            if sample(&text, r#"souk_orders{state="pending_payment"}"#) == Some(1.0)
                && sample(&text, r#"souk_jobs_unfinished{kind="new_instance"}"#) == Some(1.0)
                && text
                    .contains(r#"souk_seller_calls_total{kind="new_instance",outcome="failure"}"#)
            {
                break;
            }
        }
        for needle in [
            "# HELP souk_http_requests_total ",
            "# HELP souk_http_request_duration_seconds ",
            "# TYPE souk_http_request_duration_seconds histogram",
            "# HELP souk_seller_calls_total ",
            "# TYPE souk_seller_call_seconds histogram",
            "# HELP souk_jobs_unfinished ",
            "# HELP souk_jobs_oldest_due_seconds ",
            "# HELP souk_orders ",
            r#"souk_http_request_duration_seconds_bucket{method="POST",path="/v1/orders/{id}/pay",status="200",le="0.005"}"#,
            r#"souk_seller_call_seconds_bucket{kind="new_instance",le="+Inf"}"#,
            r#"souk_seller_calls_total{kind="new_instance",outcome="failure"}"#,
        ] {
            assert!(text.contains(needle), "no `{needle}` in:\n{text}");
        }
        assert!(!text.contains("quantile="), "histograms, not summaries");
        assert_eq!(
            sample(&text, r#"souk_orders{state="pending_payment"}"#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, r#"souk_jobs_unfinished{kind="new_instance"}"#),
            Some(1.0)
        );
        // Kinds and states with nothing are there too, at 0.
        assert_eq!(
            sample(&text, r#"souk_jobs_unfinished{kind="release_instance"}"#),
            Some(0.0)
        );
        assert_eq!(sample(&text, r#"souk_orders{state="refunded"}"#), Some(0.0));
    }
);

#[tokio::test]
async fn data_directory_is_private_and_requests_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let op = souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext;
    let start = || {
        let mut cmd = souk();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env("SOUK_BOOTSTRAP_OPERATOR_KEY", &op)
            .env("RUST_LOG", "info");
        Proc::start(cmd, &dir.path().join("stderr.log"), None)
    };
    let souk = start();
    let c = Client::new(&souk.base);
    let me = c.call("GET", "/v1/me", &op, None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let r = c
        .http
        .get(format!("{}/healthz?probe=1", souk.base))
        .header("x-request-id", "req-ops-test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Private while running, -wal and -shm included.
    assert_eq!(mode(&data), 0o700);
    for f in ["souk.db", "souk.db-wal", "souk.db-shm", "master.key"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let stdout = souk.stdout.lock().unwrap().join("\n");
    assert!(
        !stdout.contains(&op),
        "the supplied key is not echoed: {stdout}"
    );
    assert!(
        stdout.contains("SOUK_BOOTSTRAP_OPERATOR_KEY accepted") && stdout.contains(&op[..10]),
        "{stdout}"
    );
    let log_path = souk.stderr_file.clone();
    souk.stop();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains(&op), "the key never reaches the log");
    let line = log
        .lines()
        .find(|l| l.contains("souk::access") && l.contains("request_id=req-ops-test-42"))
        .unwrap_or_else(|| panic!("no access log line in:\n{log}"));
    for part in [
        " INFO ",
        "method=GET",
        "path=/healthz",
        "status=200",
        "duration_ms=",
    ] {
        assert!(line.contains(part), "`{part}` missing: {line}");
    }
    assert!(!line.contains("probe=1"), "no query string: {line}");

    // A data directory made readable by others is narrowed again on the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("souk.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let souk = start();
    let me = Client::new(&souk.base)
        .call("GET", "/v1/me", &op, None)
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("souk.db")), 0o600);
    let stdout = souk.stdout.lock().unwrap().join("\n");
    assert!(
        !stdout.contains("operator API key"),
        "operator existed already"
    );
    souk.stop();
}

#[test]
fn backup_of_postgres_explains_the_procedure() {
    let dir = tempfile::tempdir().unwrap();
    let out = souk()
        .args(["backup"])
        .arg(dir.path().join("b.souk"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--database-url", "postgres://postgres@127.0.0.1:5432/souk"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PostgreSQL") && err.contains("pg_dump") && err.contains("master key"),
        "{err}"
    );
    assert!(!dir.path().join("b.souk").exists());
}
