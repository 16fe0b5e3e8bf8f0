//! The operator's running-the-marketplace pages: the audit log with filters, health (job
//! backlog, failing sellers, calls per minute, mail outbox) read from the store, and the sandbox
//! clock (sandbox mode only, through `usecase::sandbox` like `souk clock`).

use super::session::{Member, Submitted};
use super::{page, when, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::sandbox;
use crate::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_store::{AuditFilter, Page};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/audit", get(audit))
        .route("/operator/health", get(health))
        .route("/operator/clock", get(clock))
        .route("/operator/clock/advance", post(advance))
        .route("/operator/clock/run-due", post(run_due))
}

const AUDIT_PAGE: u32 = 50;

#[derive(serde::Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    after: String,
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// A time bound from the form: a date (`2026-12-06`, midnight UTC) or a `datetime-local`
/// value (`2026-12-06T09:30`), read as UTC.
fn time_bound(field: &str, value: &str) -> Result<Option<OffsetDateTime>, AppError> {
    let Some(v) = non_empty(value) else {
        return Ok(None);
    };
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    let dt_fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let parsed = if v.len() == 10 {
        Date::parse(&v, date_fmt).map(|d| d.with_time(Time::MIDNIGHT))
    } else {
        PrimitiveDateTime::parse(&v, dt_fmt)
    };
    parsed.map(|t| Some(t.assume_utc())).map_err(|_| {
        AppError::invalid_field(
            field,
            format!(
                "{field} must be a date (2026-12-06) or a date and time (2026-12-06T09:30), in UTC"
            ),
        )
    })
}

async fn audit(State(state): State<AppState>, m: Member, q: Query<AuditQuery>) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&m.visitor);
    let filter = AuditFilter {
        actor: non_empty(&q.actor),
        action: non_empty(&q.action),
        subject: non_empty(&q.subject),
        from: time_bound("from", &q.from).map_err(err())?,
        until: time_bound("until", &q.until).map_err(err())?,
    };
    let events = state
        .store
        .audit_log(
            &filter,
            &Page {
                limit: AUDIT_PAGE,
                after: non_empty(&q.after),
            },
        )
        .await?;
    let next = (events.len() as u32 == AUDIT_PAGE)
        .then(|| events.last().map(|e| e.id.as_str().to_owned()))
        .flatten()
        .map(|after| {
            serde_urlencoded::to_string([
                ("actor", q.actor.as_str()),
                ("action", q.action.as_str()),
                ("subject", q.subject.as_str()),
                ("from", q.from.as_str()),
                ("until", q.until.as_str()),
                ("after", after.as_str()),
            ])
            .unwrap_or_default()
        });
    let items: Vec<_> = events
        .into_iter()
        .map(|e| {
            minijinja::context! {
                id => e.id.as_str(), at => when(e.at), actor => e.actor_id, action => e.action,
                subject => e.subject_id, detail => e.detail.to_string(),
            }
        })
        .collect();
    page(
        &m.visitor,
        "audit.html",
        minijinja::context! {
            items => items, next => next, actor => q.actor, action => q.action,
            subject => q.subject, from => q.from, until => q.until,
        },
    )
}

/// How far back "calls per minute" looks.
const CALLS_WINDOW_MINUTES: i64 = 60;

async fn health(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Operator])?;
    let now = state.clock.now();
    let backlog: Vec<_> = state
        .store
        .job_backlog(now)
        .await?
        .into_iter()
        .map(|b| {
            minijinja::context! {
                kind => b.kind, unfinished => b.unfinished,
                oldest_due => b.oldest_due_at.map(when),
                waiting_minutes => b.oldest_due_at.map(|t| (now - t).whole_minutes()),
            }
        })
        .collect();
    let failing: Vec<_> = state
        .store
        .failing_sellers(20)
        .await?
        .into_iter()
        .map(|f| {
            minijinja::context! {
                id => f.seller_id, name => f.name, failures => f.consecutive_failures,
                last_error => f.last_error, at => when(f.last_failure_at),
            }
        })
        .collect();
    let minutes = state
        .store
        .calls_per_minute(now - time::Duration::minutes(CALLS_WINDOW_MINUTES))
        .await?;
    let total: i64 = minutes.iter().map(|m| m.calls).sum();
    let failures: i64 = minutes.iter().map(|m| m.failures).sum();
    let per_minute: Vec<_> = minutes
        .into_iter()
        .rev()
        .map(|m| minijinja::context! { minute => when(m.minute), calls => m.calls, failures => m.failures })
        .collect();
    let mail = state.store.mail_backlog().await?;
    page(
        &m.visitor,
        "health.html",
        minijinja::context! {
            now => when(now), backlog => backlog, failing => failing,
            per_minute => per_minute, window => CALLS_WINDOW_MINUTES,
            calls_total => total, calls_failed => failures,
            // Whole calls per minute over the window, rounded down: a gauge, not money.
            calls_rate => total / CALLS_WINDOW_MINUTES,
            mail => minijinja::context! {
                pending => mail.pending, sent => mail.sent, failed => mail.failed,
                skipped => mail.skipped,
            },
        },
    )
}

async fn clock(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Operator])?;
    let r = sandbox::read(&state).map_err(WebError::with(&m.visitor))?;
    let offset = time::Duration::seconds(r.offset_seconds);
    page(
        &m.visitor,
        "clock.html",
        minijinja::context! {
            now => when(r.now), offset_seconds => r.offset_seconds,
            offset_days => offset.whole_days(), offset_hours => offset.whole_hours() % 24,
        },
    )
}

#[derive(serde::Deserialize)]
struct AdvanceForm {
    by: String,
}

async fn advance(
    State(state): State<AppState>,
    m: Member,
    s: Submitted<AdvanceForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    sandbox::advance(&state, s.form.by.trim())
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to("/operator/clock").into_response())
}

#[derive(serde::Deserialize)]
struct Nothing {}

async fn run_due(State(state): State<AppState>, m: Member, s: Submitted<Nothing>) -> PageResult {
    m.require(&[Role::Operator])?;
    sandbox::run_due(&state)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to("/operator/clock").into_response())
}
