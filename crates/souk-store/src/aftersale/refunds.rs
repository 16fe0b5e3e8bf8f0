//! Refund requests and the effects of a completed refund (business rules §4.6): the money back
//! on the buyer's ledger, the order refunded, the instance released (with the seller's release
//! call through the outbox where the seller opened it), and the row the coming settlement run
//! deducts from the seller.

use super::supervision::supervision_in;
use super::{notify, SupervisionWrite};
use crate::sql::{audit, corrupt};
use crate::{NewJob, Scope, SqlStore, StoreError, StoreResult};
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::InstanceState;
use souk_core::ledger::EntryKind;
use souk_core::money::{Currency, Money};
use souk_core::notice::Notice;
use souk_core::order::OrderState;
use souk_core::party::PartyId;
use souk_core::refund::{GoodsState, RefundEvent, RefundKind, RefundState};
use souk_core::transition::{StateMachine, Transition};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct RefundRecord {
    pub id: String,
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub kind: RefundKind,
    pub state: RefundState,
    pub amount: Money,
    pub reason: Option<String>,
    pub opinion: Option<String>,
    /// `to_deduct` once refunded: the coming settlement run deducts it from the seller.
    pub settlement: String,
    pub created_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
    /// Hardware: what the buyer said of the goods.
    pub goods_state: Option<GoodsState>,
    /// Hardware return: the buyer's shipment back.
    pub return_carrier: Option<String>,
    pub return_tracking: Option<String>,
    /// When the current step's timer acts: a pending request's review reminder or timeout, a
    /// return's lapse (not shipped) or automatic receipt.
    pub deadline: Option<OffsetDateTime>,
    /// The seller was reminded of its review.
    pub review_reminded_at: Option<OffsetDateTime>,
    /// The review timed out and was escalated to the operators.
    pub escalated_at: Option<OffsetDateTime>,
    /// Hardware "not received" in transit: waits for an operator's confirmation (§4.3).
    pub awaiting_operator: bool,
}

/// An operator confirmed a hardware "not received" request filed in transit: it goes to the
/// seller, whose review clock starts now.
#[derive(Debug, Clone)]
pub struct InTransitConfirmation {
    pub refund_id: String,
    pub order_id: OrderId,
    pub actor: PartyId,
    pub deadline: OffsetDateTime,
    pub notices: Vec<(PartyId, Notice)>,
    pub now: OffsetDateTime,
}

/// The review timer's reminder or escalation of a pending request (business rules §4.3).
#[derive(Debug, Clone)]
pub struct ReviewMark {
    pub refund_id: String,
    pub order_id: OrderId,
    /// Compare-and-set: the deadline the timer read (a decision meanwhile clears it).
    pub expect_deadline: OffsetDateTime,
    pub reminded: bool,
    pub escalated: bool,
    pub next_deadline: Option<OffsetDateTime>,
    pub notices: Vec<(PartyId, Notice)>,
    pub now: OffsetDateTime,
}

/// What a completed refund does besides the money (§4.6).
#[derive(Debug, Clone)]
pub struct RefundEffects {
    /// The order's move (`OrderEvent::AfterSaleRefund`), decided from the state the caller
    /// read; persisted with a compare-and-set on `from`.
    pub order: Transition<OrderState>,
    pub instance_id: InstanceId,
    /// The instance's release (`InstanceEvent::ReleaseOnRefund`) where it is not already gone,
    /// decided from the state the caller read; compare-and-set on `from`.
    pub release: Option<Transition<InstanceState>>,
    /// The seller calls the refund makes (outbox): releaseInstance where a seller opened the
    /// instance, releaseLicenseCode per activated code, the renewal-period refresh.
    pub jobs: Vec<NewJob>,
    /// A renewal-period refund (§4.4): the instance's expiry moves back `(from, to)`, a
    /// compare-and-set on `from` so a renewal paid meanwhile is not undone.
    pub expiry_back: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// A new refund request, refunded at once when `effects` is set.
#[derive(Debug, Clone)]
pub struct RefundWrite {
    pub id: String,
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub kind: RefundKind,
    pub amount: Money,
    pub reason: Option<String>,
    /// Hardware: what the buyer says of the goods.
    pub goods_state: Option<GoodsState>,
    /// A pending request's first review deadline (the seller's reminder).
    pub deadline: Option<OffsetDateTime>,
    /// Hardware "not received" in transit: an operator confirms first (no deadline until then).
    pub awaiting_operator: bool,
    pub effects: Option<RefundEffects>,
    /// No-reason refunds: count the buyer's since `.0` under lock and refuse at `.1`.
    pub quota: Option<(OffsetDateTime, u32)>,
    /// The supervision step that goes with it (pause, or close by refund).
    pub supervision: Option<SupervisionWrite>,
    pub notices: Vec<(PartyId, Notice)>,
    pub now: OffsetDateTime,
}

/// A decision on a pending request.
#[derive(Debug, Clone)]
pub struct RefundDecisionWrite {
    pub refund_id: String,
    /// Decided by the core (`souk_core::refund::decide`); compare-and-set on `from`.
    pub transition: Transition<RefundState>,
    pub opinion: Option<String>,
    /// `None`: the system (a return's timer).
    pub actor: Option<PartyId>,
    /// Hardware return shipped: (carrier, tracking number).
    pub return_shipment: Option<(String, String)>,
    /// The next step's deadline (`None` clears it).
    pub deadline: Option<OffsetDateTime>,
    pub effects: Option<RefundEffects>,
    pub supervision: Option<SupervisionWrite>,
    pub notices: Vec<(PartyId, Notice)>,
    pub now: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundWriteError {
    #[error("the order changed meanwhile")]
    OrderChanged,
    #[error("the refund request or the supervision changed meanwhile")]
    RefundChanged,
    #[error("the no-reason refund quota is used up")]
    QuotaExhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RefundWriteError {
    fn from(e: sqlx::Error) -> Self {
        RefundWriteError::Store(StoreError::from(e))
    }
}

fn refund_from_row(row: &AnyRow) -> StoreResult<RefundRecord> {
    let text = |c: &str| -> StoreResult<String> { Ok(row.try_get::<String, _>(c)?) };
    let currency: Currency = text("currency")?
        .parse()
        .map_err(|e| corrupt("currency", e))?;
    Ok(RefundRecord {
        id: text("id")?,
        order_id: OrderId::from_trusted(text("order_id")?),
        buyer_id: PartyId::from_trusted(text("buyer_id")?),
        seller_id: PartyId::from_trusted(text("seller_id")?),
        kind: text("kind")?.parse().map_err(|e| corrupt("kind", e))?,
        state: text("state")?.parse().map_err(|e| corrupt("state", e))?,
        amount: Money::new(row.try_get("amount_minor")?, currency),
        reason: row.try_get("reason")?,
        opinion: row.try_get("opinion")?,
        settlement: text("settlement")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        decided_at: row
            .try_get::<Option<i64>, _>("decided_at")?
            .map(from_unix_ms),
        goods_state: row
            .try_get::<Option<String>, _>("goods_state")?
            .map(|g| g.parse().map_err(|e| corrupt("goods_state", e)))
            .transpose()?,
        return_carrier: row.try_get("return_carrier")?,
        return_tracking: row.try_get("return_tracking")?,
        deadline: row.try_get::<Option<i64>, _>("deadline")?.map(from_unix_ms),
        review_reminded_at: row
            .try_get::<Option<i64>, _>("review_reminded_at")?
            .map(from_unix_ms),
        escalated_at: row
            .try_get::<Option<i64>, _>("escalated_at")?
            .map(from_unix_ms),
        awaiting_operator: row.try_get::<i64, _>("awaiting_operator")? != 0,
    })
}

async fn refund_in(conn: &mut AnyConnection, id: &str) -> StoreResult<RefundRecord> {
    let row = sqlx::query("SELECT * FROM refunds WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    refund_from_row(&row)
}

/// The money back, the order refunded, the instance released: all or nothing.
async fn effects_in(
    conn: &mut AnyConnection,
    r: &RefundRecord,
    e: &RefundEffects,
    now: OffsetDateTime,
) -> Result<(), RefundWriteError> {
    changed(crate::commerce::transition_order(conn, &r.order_id, e.order, now).await)?;
    // The voucher part goes back to the voucher (before the cash credit: it is proportional
    // to the cash refunded before this one).
    crate::vouchers::return_voucher_part(
        conn,
        r.order_id.as_str(),
        Some(&r.id),
        r.amount.amount_minor,
        now,
    )
    .await?;
    crate::commerce::insert_ledger_entry(
        conn,
        &r.buyer_id,
        r.amount,
        EntryKind::Refund,
        Some(r.order_id.as_str()),
        Some(format!("{} refund {}", r.kind, r.id)),
        None,
        now,
    )
    .await?;
    if let Some(release) = e.release {
        changed(crate::commerce::transition_instance(conn, &e.instance_id, release, now).await)?;
    }
    if let Some((from, to)) = e.expiry_back {
        let moved =
            sqlx::query("UPDATE instances SET expire_at = $1 WHERE id = $2 AND expire_at = $3")
                .bind(souk_core::clock::to_unix_ms(to))
                .bind(e.instance_id.as_str())
                .bind(souk_core::clock::to_unix_ms(from))
                .execute(&mut *conn)
                .await?;
        if moved.rows_affected() != 1 {
            return Err(RefundWriteError::OrderChanged);
        }
    }
    for job in &e.jobs {
        crate::commerce::insert_outbox_job(conn, job, now).await?;
    }
    sqlx::query("UPDATE refunds SET settlement = 'to_deduct' WHERE id = $1")
        .bind(&r.id)
        .execute(&mut *conn)
        .await?;
    audit(
        conn,
        now,
        None,
        "order.refunded",
        r.order_id.as_str(),
        serde_json::json!({ "refund_id": r.id, "kind": r.kind, "amount": r.amount }),
    )
    .await?;
    Ok(())
}

/// A compare-and-set that lost: the order or its instance moved since the caller read them.
fn changed(r: StoreResult<()>) -> Result<(), RefundWriteError> {
    match r {
        Err(StoreError::LostRace { .. }) => Err(RefundWriteError::OrderChanged),
        other => Ok(other?),
    }
}

async fn supervision_step(
    conn: &mut AnyConnection,
    w: &Option<SupervisionWrite>,
) -> Result<(), RefundWriteError> {
    if let Some(w) = w {
        if !supervision_in(conn, w).await? {
            return Err(RefundWriteError::RefundChanged);
        }
    }
    Ok(())
}

pub(super) async fn refunds_since(
    s: &SqlStore,
    buyer: &PartyId,
    since: OffsetDateTime,
) -> StoreResult<u32> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refunds WHERE buyer_id = $1 AND kind = 'no_reason' \
         AND state = 'refunded' AND created_at >= $2",
    )
    .bind(buyer.as_str())
    .bind(to_unix_ms(since))
    .fetch_one(&s.read)
    .await?;
    Ok(n as u32)
}

/// Hardware returns whose step deadline has passed.
pub(super) async fn due_returns(
    s: &SqlStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<RefundRecord>> {
    due_in(
        s,
        &[RefundState::ReturnApproved, RefundState::ReturnShipped],
        now,
        limit,
    )
    .await
}

/// Pending requests whose review reminder or timeout has come.
pub(super) async fn due_reviews(
    s: &SqlStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<RefundRecord>> {
    due_in(s, &[RefundState::PendingSellerReview], now, limit).await
}

/// Requests in one of `states` whose timer's deadline has come, earliest first.
async fn due_in(
    s: &SqlStore,
    states: &[RefundState],
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<RefundRecord>> {
    // The states are the core's own spellings, never input.
    let list: Vec<String> = states
        .iter()
        .map(|st| format!("'{}'", st.as_str()))
        .collect();
    let sql = format!(
        "SELECT * FROM refunds WHERE state IN ({}) \
         AND deadline IS NOT NULL AND deadline <= $1 ORDER BY deadline LIMIT $2",
        list.join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(to_unix_ms(now))
        .bind(limit as i64)
        .fetch_all(&s.read)
        .await?;
    rows.iter().map(refund_from_row).collect()
}

/// Saves an operator's in-transit confirmation; false when the request moved or was confirmed.
pub(super) async fn confirm_in_transit(
    s: &SqlStore,
    w: InTransitConfirmation,
) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
    let moved = sqlx::query(
        "UPDATE refunds SET awaiting_operator = 0, deadline = $1 \
         WHERE id = $2 AND state = 'pending_seller_review' AND awaiting_operator = 1",
    )
    .bind(to_unix_ms(w.deadline))
    .bind(&w.refund_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    audit(
        &mut tx,
        w.now,
        Some(&w.actor),
        "refund.in_transit_confirmed",
        w.order_id.as_str(),
        serde_json::json!({ "refund_id": w.refund_id }),
    )
    .await?;
    notify(&mut tx, &w.notices, &w.order_id, w.now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Saves a reminder or an escalation with its notices; false when the request moved.
pub(super) async fn mark_review(s: &SqlStore, w: ReviewMark) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
    let now_ms = to_unix_ms(w.now);
    let moved = sqlx::query(
        "UPDATE refunds SET deadline = $1, \
         review_reminded_at = CASE WHEN $2 = 1 THEN $3 ELSE review_reminded_at END, \
         escalated_at = CASE WHEN $4 = 1 THEN $3 ELSE escalated_at END \
         WHERE id = $5 AND state = 'pending_seller_review' AND deadline = $6",
    )
    .bind(w.next_deadline.map(to_unix_ms))
    .bind(w.reminded as i64)
    .bind(now_ms)
    .bind(w.escalated as i64)
    .bind(&w.refund_id)
    .bind(to_unix_ms(w.expect_deadline))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    notify(&mut tx, &w.notices, &w.order_id, w.now).await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn refunds_of_order(
    s: &SqlStore,
    scope: &Scope,
    order_id: &OrderId,
) -> StoreResult<Vec<RefundRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM refunds WHERE order_id = $1 \
         AND ($2 IS NULL OR buyer_id = $2 OR seller_id = $2) ORDER BY id",
    )
    .bind(order_id.as_str())
    .bind(scope.tenant().map(str::to_owned))
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(refund_from_row).collect()
}

pub(super) async fn record_refund(
    s: &SqlStore,
    w: RefundWrite,
) -> Result<RefundRecord, RefundWriteError> {
    let mut tx = s.write.begin().await?;
    if let Some((since, limit)) = w.quota {
        // Serialises a buyer's refunds on PostgreSQL (SQLite has one writer), so two racing
        // requests cannot both take the last unit of the quota.
        if s.backend == crate::Backend::Postgres {
            sqlx::query("SELECT id FROM parties WHERE id = $1 FOR UPDATE")
                .bind(w.buyer_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        }
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM refunds WHERE buyer_id = $1 AND kind = 'no_reason' \
             AND state = 'refunded' AND created_at >= $2",
        )
        .bind(w.buyer_id.as_str())
        .bind(to_unix_ms(since))
        .fetch_one(&mut *tx)
        .await?;
        if used >= limit as i64 {
            return Err(RefundWriteError::QuotaExhausted);
        }
    }
    // A refund that takes effect at once (no-reason, operator-forced) is approved as filed.
    let state = if w.effects.is_some() {
        RefundState::START
            .apply(RefundEvent::Approve)
            .map_err(|e| corrupt("refund", e))?
    } else {
        RefundState::START
    };
    let now_ms = to_unix_ms(w.now);
    sqlx::query(
        "INSERT INTO refunds (id, order_id, buyer_id, seller_id, kind, state, amount_minor, \
         currency, reason, created_at, decided_at, goods_state, deadline, awaiting_operator) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&w.id)
    .bind(w.order_id.as_str())
    .bind(w.buyer_id.as_str())
    .bind(w.seller_id.as_str())
    .bind(w.kind.as_str())
    .bind(state.as_str())
    .bind(w.amount.amount_minor)
    .bind(w.amount.currency.as_str())
    .bind(w.reason.clone())
    .bind(now_ms)
    .bind((state == RefundState::Refunded).then_some(now_ms))
    .bind(w.goods_state.map(|g| g.as_str().to_owned()))
    .bind(
        w.deadline
            .filter(|_| state == RefundState::PendingSellerReview && !w.awaiting_operator)
            .map(to_unix_ms),
    )
    .bind(w.awaiting_operator as i64)
    .execute(&mut *tx)
    .await?;
    let record = refund_in(&mut tx, &w.id).await?;
    if let Some(e) = &w.effects {
        effects_in(&mut tx, &record, e, w.now).await?;
    }
    supervision_step(&mut tx, &w.supervision).await?;
    notify(&mut tx, &w.notices, &w.order_id, w.now).await?;
    let record = refund_in(&mut tx, &w.id).await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn decide_refund(
    s: &SqlStore,
    w: RefundDecisionWrite,
) -> Result<RefundRecord, RefundWriteError> {
    let mut tx = s.write.begin().await?;
    let now_ms = to_unix_ms(w.now);
    let moved = sqlx::query(
        "UPDATE refunds SET state = $1, opinion = COALESCE($2, opinion), decided_at = $3, \
         return_carrier = COALESCE($6, return_carrier), \
         return_tracking = COALESCE($7, return_tracking), deadline = $8 \
         WHERE id = $4 AND state = $5",
    )
    .bind(w.transition.to.as_str())
    .bind(w.opinion.clone())
    .bind(now_ms)
    .bind(&w.refund_id)
    .bind(w.transition.from.as_str())
    .bind(w.return_shipment.as_ref().map(|s| s.0.clone()))
    .bind(w.return_shipment.as_ref().map(|s| s.1.clone()))
    .bind(w.deadline.map(to_unix_ms))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(RefundWriteError::RefundChanged);
    }
    let record = refund_in(&mut tx, &w.refund_id).await?;
    if let Some(e) = &w.effects {
        effects_in(&mut tx, &record, e, w.now).await?;
    }
    supervision_step(&mut tx, &w.supervision).await?;
    audit(
        &mut tx,
        w.now,
        w.actor.as_ref(),
        "refund.decided",
        record.order_id.as_str(),
        serde_json::json!({ "refund_id": record.id, "state": w.transition.to }),
    )
    .await?;
    notify(&mut tx, &w.notices, &record.order_id, w.now).await?;
    let record = refund_in(&mut tx, &w.refund_id).await?;
    tx.commit().await?;
    Ok(record)
}
