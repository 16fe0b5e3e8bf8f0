//! What the operator console reads beyond the API's own queries: parties filtered by status and
//! name, the whole audit log with filters, and the health figures (failing sellers, calls per
//! minute). Operator-only by construction: the web handlers check the role before calling.

use crate::sql::{corrupt, party_from_row, SqlStore};
use crate::{AuditEvent, Page, PartyRecord, StoreResult};
use async_trait::async_trait;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::AuditId;
use souk_core::party::{PartyStatus, Role};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

/// Which parties the list shows.
#[derive(Debug, Clone, Default)]
pub struct PartyFilter {
    pub role: Option<Role>,
    pub status: Option<PartyStatus>,
    /// Part of the name or e-mail address, any case.
    pub text: Option<String>,
}

/// Which audit records the log shows; every bound is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An exact action (`party.suspended`) or a prefix ending in `.` (`party.`).
    pub action: Option<String>,
    pub subject: Option<String>,
    pub from: Option<OffsetDateTime>,
    /// Exclusive.
    pub until: Option<OffsetDateTime>,
}

/// A seller whose latest calls failed, newest failure first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingSeller {
    pub seller_id: String,
    pub name: String,
    /// Failed attempts since the seller's last successful one.
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub last_failure_at: OffsetDateTime,
}

/// Calls to sellers started in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCalls {
    pub minute: OffsetDateTime,
    pub calls: i64,
    pub failures: i64,
}

#[async_trait]
pub trait ConsoleOpsStore: Send + Sync + 'static {
    /// Parties matching `filter`, by id, after `page.after`.
    async fn search_parties(
        &self,
        filter: &PartyFilter,
        page: &Page,
    ) -> StoreResult<Vec<PartyRecord>>;

    /// Audit records matching `filter`, newest first, older than `page.after` (an audit id).
    async fn audit_log(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditEvent>>;

    /// Sellers whose latest call attempts failed (at most `limit`, most failures first).
    async fn failing_sellers(&self, limit: u32) -> StoreResult<Vec<FailingSeller>>;

    /// Calls started at or after `since`, per minute (minutes without calls are absent).
    async fn calls_per_minute(&self, since: OffsetDateTime) -> StoreResult<Vec<MinuteCalls>>;

    /// Sets when a session was last used, whatever its last use (real time, like every
    /// session time): for tests that need an idle session without waiting twelve hours.
    async fn set_session_seen(&self, token_hash: &str, at: OffsetDateTime) -> StoreResult<()>;
}

/// `%` and `_` in a person's search text are letters, not wildcards.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn audit_from_row(r: &AnyRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: AuditId::from_trusted(r.try_get("id")?),
        at: from_unix_ms(r.try_get("at")?),
        actor_id: r.try_get("actor_id")?,
        action: r.try_get("action")?,
        subject_id: r.try_get("subject_id")?,
        detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
            .map_err(|e| corrupt("audit detail", e))?,
    })
}

#[async_trait]
impl ConsoleOpsStore for SqlStore {
    async fn search_parties(
        &self,
        filter: &PartyFilter,
        page: &Page,
    ) -> StoreResult<Vec<PartyRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM parties WHERE ($1 IS NULL OR role = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\' \
                  OR LOWER(COALESCE(email, '')) LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR id > $4) ORDER BY id LIMIT $5",
        )
        .bind(filter.role.map(|r| r.as_str().to_owned()))
        .bind(filter.status.map(|s| s.as_str().to_owned()))
        .bind(
            filter
                .text
                .as_deref()
                .map(|t| format!("%{}%", escape_like(&t.to_lowercase()))),
        )
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(party_from_row).collect()
    }

    async fn audit_log(&self, filter: &AuditFilter, page: &Page) -> StoreResult<Vec<AuditEvent>> {
        // An action ending in `.` is a family (`party.`): matched as a prefix.
        let (exact, prefix) = match filter.action.as_deref() {
            Some(a) if a.ends_with('.') => (None, Some(format!("{}%", escape_like(a)))),
            Some(a) => (Some(a.to_owned()), None),
            None => (None, None),
        };
        let rows = sqlx::query(
            "SELECT id, at, actor_id, action, subject_id, detail FROM audit_events \
             WHERE ($1 IS NULL OR actor_id = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR action LIKE $3 ESCAPE '\\') AND ($4 IS NULL OR subject_id = $4) \
             AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
             AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
        )
        .bind(filter.actor.clone())
        .bind(exact)
        .bind(prefix)
        .bind(filter.subject.clone())
        .bind(filter.from.map(to_unix_ms))
        .bind(filter.until.map(to_unix_ms))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn failing_sellers(&self, limit: u32) -> StoreResult<Vec<FailingSeller>> {
        // Attempt ids grow with time, so "since the last success" is "id above its id".
        let rows = sqlx::query(
            "SELECT f.seller_id, f.n, p.name, a.error, a.started_at FROM ( \
               SELECT c.seller_id, COUNT(*) AS n, MAX(c.id) AS last_id FROM call_attempts c \
               WHERE c.outcome = 'failure' AND c.id > COALESCE((SELECT MAX(s.id) \
                 FROM call_attempts s WHERE s.seller_id = c.seller_id AND s.outcome = 'success'), '') \
               GROUP BY c.seller_id) f \
             JOIN call_attempts a ON a.id = f.last_id \
             JOIN parties p ON p.id = f.seller_id \
             ORDER BY f.n DESC, f.last_id DESC LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FailingSeller {
                    seller_id: r.try_get("seller_id")?,
                    name: r.try_get("name")?,
                    consecutive_failures: r.try_get("n")?,
                    last_error: r.try_get("error")?,
                    last_failure_at: from_unix_ms(r.try_get("started_at")?),
                })
            })
            .collect()
    }

    async fn calls_per_minute(&self, since: OffsetDateTime) -> StoreResult<Vec<MinuteCalls>> {
        let rows = sqlx::query(
            "SELECT (started_at / 60000) * 60000 AS minute, COUNT(*) AS n, \
             SUM(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures \
             FROM call_attempts WHERE started_at >= $1 GROUP BY minute ORDER BY minute",
        )
        .bind(to_unix_ms(since))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MinuteCalls {
                    minute: from_unix_ms(r.try_get("minute")?),
                    calls: r.try_get("n")?,
                    failures: r.try_get("failures")?,
                })
            })
            .collect()
    }

    async fn set_session_seen(&self, token_hash: &str, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(to_unix_ms(at))
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
