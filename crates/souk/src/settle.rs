//! `souk settle`: run (or re-run) a month's settlement by hand, or check that every statement
//! and ledger reproduces, directly against the database through the same use cases as the HTTP
//! API (`POST /v1/settlement/runs`, `GET /v1/settlement/check`).

use souk_server::usecase::{settlement, settlement_check};
use souk_server::App;

/// `AppError` carries the message meant for people.
fn human(e: souk_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

/// Runs the settlement of `period`, or with `check` recomputes the statements (of `period`,
/// or all) and the ledgers. Returns the process exit code: 1 when the check finds a
/// discrepancy.
pub async fn run(app: &App, period: Option<String>, check: bool) -> anyhow::Result<i32> {
    let state = &app.state;
    if check {
        let period = period
            .map(|p| settlement::parse_period(&p).map(|p| p.id()))
            .transpose()
            .map_err(human)?;
        let started = std::time::Instant::now();
        let report = settlement_check::check(state, period.as_deref())
            .await
            .map_err(human)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        eprintln!(
            "checked {} statements and {} ledger accounts in {:.2?}",
            report.statements_checked,
            report.accounts_checked,
            started.elapsed()
        );
        return Ok(if report.discrepancies.is_empty() {
            0
        } else {
            1
        });
    }
    let Some(period) = period else {
        anyhow::bail!("say which month: souk settle --period YYYYMM (or --check)");
    };
    let period = settlement::parse_period(&period).map_err(human)?;
    let started = std::time::Instant::now();
    let report = settlement::run_period(state, period, state.clock.now())
        .await
        .map_err(human)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("settled {period} in {:.2?}", started.elapsed());
    Ok(0)
}
