//! Prometheus metrics: the process-wide recorder, what each metric means, and the gauges that are
//! read from the database when `/metrics` is scraped.
//!
//! Histograms are real Prometheus histograms with fixed buckets, and a background thread runs
//! the recorder's upkeep every few seconds: raw samples are folded into the buckets whether or
//! not anyone scrapes, so memory stays flat (the exporter otherwise keeps every sample until the
//! next render).

use crate::AppState;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use souk_core::order::OrderState;
use souk_core::provisioning::CallKind;
use std::sync::OnceLock;
use std::time::Duration;

/// How often raw histogram samples are folded into buckets.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// HTTP request latency buckets, in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Seller call latency buckets, in seconds (sellers are slower and time out later).
const SELLER_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The Prometheus recorder is process-global (tests start many apps in one process): installed
/// once, with its upkeep thread, and shared by every [`AppState`].
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, in which case our handle
            // renders nothing but the server still works.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("souk-metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                });
            handle
        })
        .clone()
}

fn builder() -> PrometheusBuilder {
    const CONSTANT: &str = "bucket lists are constant and non-empty";
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("souk_http_request_duration_seconds".into()),
            HTTP_BUCKETS,
        )
        .expect(CONSTANT)
        .set_buckets_for_metric(
            Matcher::Full("souk_seller_call_seconds".into()),
            SELLER_BUCKETS,
        )
        .expect(CONSTANT)
        // Any other histogram too, so that none falls back to an unbounded summary.
        .set_buckets(HTTP_BUCKETS)
        .expect(CONSTANT)
}

/// The HELP text of every metric Souk exports (listed in docs/operations.md).
fn describe() {
    describe_counter!(
        "souk_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "souk_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method, route template and status"
    );
    describe_counter!(
        "souk_seller_calls_total",
        "Calls to sellers' production endpoints, by call kind and outcome (success, accepted, failure)"
    );
    describe_histogram!(
        "souk_seller_call_seconds",
        Unit::Seconds,
        "Time a seller took to answer a call, by call kind"
    );
    describe_gauge!(
        "souk_jobs_unfinished",
        "Calls to sellers waiting to be sent, waiting for a retry or in flight, by call kind"
    );
    describe_gauge!(
        "souk_jobs_oldest_due_seconds",
        Unit::Seconds,
        "How long the oldest call that is due has been waiting to be sent, by call kind (0: none due)"
    );
    describe_gauge!("souk_orders", "Orders in the database, by state");
}

/// Reads the backlog and order gauges from the database. Called on every scrape; every known
/// kind and state is set, so that a drained backlog shows 0 rather than its last value.
pub async fn refresh_gauges(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    let backlog = state.store.job_backlog(now).await?;
    for kind in CallKind::ALL {
        let row = backlog.iter().find(|b| b.kind == kind.as_str());
        let unfinished = row.map_or(0, |b| b.unfinished);
        let waited = row
            .and_then(|b| b.oldest_due_at)
            .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
        metrics::gauge!("souk_jobs_unfinished", "kind" => kind.as_str()).set(unfinished as f64);
        metrics::gauge!("souk_jobs_oldest_due_seconds", "kind" => kind.as_str()).set(waited);
    }
    let orders = state.store.order_counts().await?;
    for s in OrderState::ALL {
        let n = orders
            .iter()
            .find(|(state, _)| state == s.as_str())
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("souk_orders", "state" => s.as_str()).set(n as f64);
    }
    Ok(())
}

/// The `/metrics` body: gauges refreshed, then everything rendered. A database error leaves the
/// gauges at their last values (and is logged) rather than failing the scrape.
pub async fn render(state: &AppState) -> String {
    if let Err(e) = refresh_gauges(state).await {
        tracing::warn!(error = %e, "could not refresh the database gauges");
    }
    state.metrics.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_bucketed_and_described() {
        let h = handle();
        for i in 0..200_000u32 {
            metrics::histogram!("souk_http_request_duration_seconds", "method" => "GET", "path" => "/unit-test", "status" => "200")
                .record(f64::from(i % 1000) / 10_000.0);
        }
        // Upkeep alone (no render) folds the samples into buckets.
        h.run_upkeep();
        let text = h.render();
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle} in:\n{text}"))
                .to_owned()
        };
        assert!(text.contains("# TYPE souk_http_request_duration_seconds histogram"));
        assert!(text.contains("# HELP souk_http_request_duration_seconds Time to answer"));
        let inf = line(
            r#"souk_http_request_duration_seconds_bucket{method="GET",path="/unit-test",status="200",le="+Inf"}"#,
        );
        assert!(inf.ends_with(" 200000"), "{inf}");
        let le_10ms = line(r#"path="/unit-test",status="200",le="0.01"}"#);
        // Samples 0.0000 … 0.0999 in steps of 0.0001: those ≤ 0.01 are 0 … 100 of each 1000.
        assert!(le_10ms.ends_with(" 20200"), "{le_10ms}");
        assert!(!text.contains("quantile="), "no summaries: {text}");
    }
}
