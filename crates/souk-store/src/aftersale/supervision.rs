//! Supervision rows and their append-only log.

use super::{notify, AftersaleStore};
use crate::sql::corrupt;
use crate::{Scope, SqlStore, StoreResult};
use async_trait::async_trait;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::InstanceState;
use souk_core::notice::Notice;
use souk_core::order::OrderState;
use souk_core::party::PartyId;
use souk_core::supervision::{Actor, Node, Supervision};
use souk_core::transition::Transition;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;
use time::OffsetDateTime;

/// A supervision to start when a supervised order is paid (inside the payment's transaction).
#[derive(Debug, Clone)]
pub struct NewSupervision {
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub instance_id: InstanceId,
    pub state: Supervision,
    /// To the party the first node waits for.
    pub notices: Vec<(PartyId, Notice)>,
}

/// One entry of the log: who did what, when, why, with what.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: u32,
    pub actor: Actor,
    pub actor_id: Option<PartyId>,
    pub action: String,
    pub from_node: Node,
    pub to_node: Node,
    pub reason: Option<String>,
    pub payload: serde_json::Value,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SupervisionRecord {
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub instance_id: InstanceId,
    /// The compare-and-set token (and the seq of the last log entry).
    pub version: i64,
    pub state: Supervision,
    /// Oldest first; empty where only the state was read.
    pub log: Vec<LogEntry>,
}

/// What completing supervision does to the instance (business rules §3.6).
#[derive(Debug, Clone)]
pub struct Completion {
    /// The order's delivery (`OrderEvent::Deliver`), decided from the state the caller read;
    /// none when it already left `processing` (compare-and-set on `from`).
    pub order: Option<Transition<OrderState>>,
    pub instance_id: InstanceId,
    pub period_start: OffsetDateTime,
    pub expire_at: Option<OffsetDateTime>,
    /// No seller call opens this instance (manual service, hardware, data file): it opens now
    /// (`InstanceEvent::Open`, compare-and-set on `from`).
    pub open: Option<Transition<InstanceState>>,
    /// Supervised SaaS opened after acceptance (§3.2): the seller's newInstance, through the
    /// outbox; the order is delivered when the seller answers.
    pub jobs: Vec<crate::NewJob>,
}

/// One supervision step to save.
#[derive(Debug, Clone)]
pub struct SupervisionWrite {
    pub order_id: OrderId,
    pub expect_version: i64,
    pub state: Supervision,
    pub actor: Actor,
    pub actor_id: Option<PartyId>,
    pub action: &'static str,
    pub from_node: Node,
    pub reason: Option<String>,
    pub payload: serde_json::Value,
    pub completion: Option<Completion>,
    pub notices: Vec<(PartyId, Notice)>,
    /// Online License delivered by hand (§3.2).
    pub manual_license: Option<ManualLicense>,
    pub now: OffsetDateTime,
}

/// An online License the seller delivered by hand from the supervision page.
#[derive(Debug, Clone)]
pub struct ManualLicense {
    /// The license, sealed under the master key, onto the instance.
    pub sealed: String,
    /// The instance opens now if getLicense has not opened it (compare-and-set on `from`).
    pub open: Option<Transition<InstanceState>>,
}

fn state_json(s: &Supervision) -> StoreResult<String> {
    serde_json::to_string(s).map_err(|e| corrupt("supervision", e))
}

fn parse<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e| corrupt(col, e))
}

fn record_from_row(row: &AnyRow) -> StoreResult<SupervisionRecord> {
    let state: String = row.try_get("state")?;
    Ok(SupervisionRecord {
        order_id: OrderId::from_trusted(row.try_get("order_id")?),
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        instance_id: InstanceId::from_trusted(row.try_get("instance_id")?),
        version: row.try_get("version")?,
        state: serde_json::from_str(&state).map_err(|e| corrupt("supervision", e))?,
        log: Vec::new(),
    })
}

fn log_from_row(row: &AnyRow) -> StoreResult<LogEntry> {
    let payload: String = row.try_get("payload")?;
    Ok(LogEntry {
        seq: row.try_get::<i64, _>("seq")? as u32,
        actor: parse(row, "actor")?,
        actor_id: row
            .try_get::<Option<String>, _>("actor_id")?
            .map(PartyId::from_trusted),
        action: row.try_get("action")?,
        from_node: parse(row, "from_node")?,
        to_node: parse(row, "to_node")?,
        reason: row.try_get("reason")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", e))?,
        at: from_unix_ms(row.try_get("at")?),
    })
}

#[allow(clippy::too_many_arguments)]
async fn append_log(
    conn: &mut AnyConnection,
    order_id: &OrderId,
    seq: i64,
    actor: Actor,
    actor_id: Option<&PartyId>,
    action: &str,
    from: Node,
    to: Node,
    reason: Option<&str>,
    payload: &serde_json::Value,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO supervision_log (id, order_id, seq, actor, actor_id, action, from_node, \
         to_node, reason, payload, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(souk_core::id::generate("svl", now))
    .bind(order_id.as_str())
    .bind(seq)
    .bind(actor.as_str())
    .bind(actor_id.map(|p| p.as_str().to_owned()))
    .bind(action)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(reason.map(str::to_owned))
    .bind(payload.to_string())
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Starts a supervision inside the payment's transaction: version 1, log entry 1.
pub(crate) async fn insert_supervision(
    conn: &mut AnyConnection,
    s: &NewSupervision,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO supervisions (order_id, buyer_id, seller_id, instance_id, node, deadline, \
         frozen, state, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 1, $8, $8)",
    )
    .bind(s.order_id.as_str())
    .bind(s.buyer_id.as_str())
    .bind(s.seller_id.as_str())
    .bind(s.instance_id.as_str())
    .bind(s.state.node.as_str())
    .bind(s.state.deadline.map(to_unix_ms))
    .bind(state_json(&s.state)?)
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await?;
    let flow: Vec<&str> = s.state.flow.iter().map(Node::as_str).collect();
    append_log(
        conn,
        &s.order_id,
        1,
        Actor::System,
        None,
        "start",
        s.state.node,
        s.state.node,
        None,
        &serde_json::json!({ "flow": flow }),
        now,
    )
    .await?;
    notify(conn, &s.notices, &s.order_id, now).await
}

/// Saves one supervision step inside the caller's transaction; false when the version moved.
pub(crate) async fn supervision_in(
    tx: &mut AnyConnection,
    w: &SupervisionWrite,
) -> StoreResult<bool> {
    let now_ms = to_unix_ms(w.now);
    let updated = sqlx::query(
        "UPDATE supervisions SET node = $1, deadline = $2, frozen = $3, state = $4, \
         version = version + 1, updated_at = $5 WHERE order_id = $6 AND version = $7",
    )
    .bind(w.state.node.as_str())
    .bind(w.state.deadline.map(to_unix_ms))
    .bind(w.state.frozen() as i64)
    .bind(state_json(&w.state)?)
    .bind(now_ms)
    .bind(w.order_id.as_str())
    .bind(w.expect_version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    append_log(
        tx,
        &w.order_id,
        w.expect_version + 1,
        w.actor,
        w.actor_id.as_ref(),
        w.action,
        w.from_node,
        w.state.node,
        w.reason.as_deref(),
        &w.payload,
        w.now,
    )
    .await?;
    if let Some(m) = &w.manual_license {
        let instance_id: String =
            sqlx::query_scalar("SELECT instance_id FROM supervisions WHERE order_id = $1")
                .bind(w.order_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        let instance_id = InstanceId::from_trusted(instance_id);
        if let Some(t) = m.open {
            crate::commerce::transition_instance(tx, &instance_id, t, w.now).await?;
        }
        sqlx::query("UPDATE instances SET license_sealed = $1, updated_at = $2 WHERE id = $3")
            .bind(&m.sealed)
            .bind(now_ms)
            .bind(instance_id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(c) = &w.completion {
        if let Some(t) = c.order {
            crate::commerce::transition_order(tx, &w.order_id, t, w.now).await?;
        }
        if let Some(t) = c.open {
            crate::commerce::transition_instance(tx, &c.instance_id, t, w.now).await?;
        }
        sqlx::query(
            "UPDATE instances SET period_start = $1, expire_at = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(to_unix_ms(c.period_start))
        .bind(c.expire_at.map(to_unix_ms))
        .bind(now_ms)
        .bind(c.instance_id.as_str())
        .execute(&mut *tx)
        .await?;
        for job in &c.jobs {
            crate::commerce::insert_outbox_job(tx, job, w.now).await?;
        }
    }
    notify(tx, &w.notices, &w.order_id, w.now).await?;
    Ok(true)
}

#[async_trait]
impl AftersaleStore for SqlStore {
    async fn find_supervision(
        &self,
        scope: &Scope,
        order_id: &OrderId,
    ) -> StoreResult<Option<SupervisionRecord>> {
        let row = sqlx::query(
            "SELECT * FROM supervisions WHERE order_id = $1 \
             AND ($2 IS NULL OR buyer_id = $2 OR seller_id = $2)",
        )
        .bind(order_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut record = record_from_row(&row)?;
        let rows = sqlx::query("SELECT * FROM supervision_log WHERE order_id = $1 ORDER BY seq")
            .bind(order_id.as_str())
            .fetch_all(&self.read)
            .await?;
        record.log = rows.iter().map(log_from_row).collect::<StoreResult<_>>()?;
        Ok(Some(record))
    }

    async fn open_supervisions(
        &self,
        scope: &Scope,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM supervisions WHERE node <> 'completed' \
             AND ($1 IS NULL OR buyer_id = $1 OR seller_id = $1) \
             ORDER BY updated_at DESC, order_id LIMIT $2",
        )
        .bind(scope.tenant().map(str::to_owned))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        let records: Vec<SupervisionRecord> = rows
            .iter()
            .map(record_from_row)
            .collect::<StoreResult<_>>()?;
        // A refunded order's supervision is closed, not completed.
        Ok(records.into_iter().filter(|r| !r.state.closed).collect())
    }

    async fn open_supervisions_after(
        &self,
        after: Option<&OrderId>,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM supervisions WHERE node <> 'completed' AND order_id > $1 \
             ORDER BY order_id LIMIT $2",
        )
        .bind(after.map(|o| o.as_str()).unwrap_or(""))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn due_reviews(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<super::RefundRecord>> {
        super::refunds::due_reviews(self, now, limit).await
    }

    async fn confirm_in_transit(&self, c: super::InTransitConfirmation) -> StoreResult<bool> {
        super::refunds::confirm_in_transit(self, c).await
    }

    async fn mark_review(&self, mark: super::ReviewMark) -> StoreResult<bool> {
        super::refunds::mark_review(self, mark).await
    }

    async fn apply_supervision(&self, w: SupervisionWrite) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        if !supervision_in(&mut tx, &w).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn due_supervisions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM supervisions WHERE node = 'buyer_accept' AND frozen = 0 \
             AND deadline IS NOT NULL AND deadline <= $1 ORDER BY deadline LIMIT $2",
        )
        .bind(to_unix_ms(now))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn create_attachment(&self, a: &super::AttachmentRecord) -> StoreResult<()> {
        super::attachments::create(self, a).await
    }

    async fn find_attachment(
        &self,
        scope: &Scope,
        order_id: &OrderId,
        id: &str,
    ) -> StoreResult<Option<super::AttachmentRecord>> {
        super::attachments::find(self, scope, order_id, id).await
    }

    async fn list_attachments(
        &self,
        scope: &Scope,
        order_id: &OrderId,
    ) -> StoreResult<Vec<super::AttachmentRecord>> {
        super::attachments::list(self, scope, order_id).await
    }

    async fn no_reason_refunds_since(
        &self,
        buyer: &PartyId,
        since: OffsetDateTime,
    ) -> StoreResult<u32> {
        super::refunds::refunds_since(self, buyer, since).await
    }

    async fn refunds_of_order(
        &self,
        scope: &Scope,
        order_id: &OrderId,
    ) -> StoreResult<Vec<super::RefundRecord>> {
        super::refunds::refunds_of_order(self, scope, order_id).await
    }

    async fn record_refund(
        &self,
        write: super::RefundWrite,
    ) -> Result<super::RefundRecord, super::RefundWriteError> {
        super::refunds::record_refund(self, write).await
    }

    async fn due_returns(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<super::RefundRecord>> {
        super::refunds::due_returns(self, now, limit).await
    }

    async fn renewal_window(
        &self,
        order_id: &OrderId,
    ) -> StoreResult<Option<(OffsetDateTime, OffsetDateTime)>> {
        let row = sqlx::query("SELECT renewal_from, renewal_to FROM orders WHERE id = $1")
            .bind(order_id.as_str())
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let from: Option<i64> = row.try_get("renewal_from")?;
        let to: Option<i64> = row.try_get("renewal_to")?;
        Ok(from
            .zip(to)
            .map(|(f, t)| (from_unix_ms(f), from_unix_ms(t))))
    }

    async fn decide_refund(
        &self,
        write: super::RefundDecisionWrite,
    ) -> Result<super::RefundRecord, super::RefundWriteError> {
        super::refunds::decide_refund(self, write).await
    }
}
