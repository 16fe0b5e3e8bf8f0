//! Balances, orders, instances, the provisioning job queue and its attempts, and the message
//! centre.
//!
//! The rule that makes provisioning durable lives here: a call to a seller is a `jobs` row
//! written in the same transaction as the change that needs it ([`CommerceStore::pay_order`],
//! [`CommerceStore::apply_timer`]); workers claim jobs with a lease in one short transaction
//! ([`CommerceStore::claim_jobs`]), call the seller with no transaction open, and record the
//! outcomes in a second short transaction ([`CommerceStore::complete_jobs`]).

use crate::sql::{audit, corrupt, db_err};
use crate::*;
use serde::Serialize;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::instance::InstanceState;
use souk_core::ledger::EntryKind;
use souk_core::money::{Currency, Money};
use souk_core::order::{OrderKind, OrderState, Term};
use souk_core::provisioning::{CallKind, JobState};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------
// Records

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balance {
    pub buyer_id: PartyId,
    pub balance: Money,
    pub credit_limit: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub id: String,
    pub buyer_id: PartyId,
    pub amount: Money,
    pub kind: EntryKind,
    pub order_id: Option<String>,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An order to create (state `pending_payment`).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: String,
    pub kind: OrderKind,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    /// For new purchases and trials: the id the instance will get when the order is paid.
    pub instance_id: String,
    pub term: Term,
    pub quantity: u32,
    pub amount: Money,
    /// What was bought, as it was at purchase time (sku code, wire product id, prices, names).
    pub snapshot: serde_json::Value,
    pub pay_deadline: OffsetDateTime,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub id: String,
    pub kind: OrderKind,
    pub state: OrderState,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub instance_id: String,
    pub term: Term,
    pub quantity: u32,
    pub amount: Money,
    pub snapshot: serde_json::Value,
    pub pay_deadline: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub refunded_at: Option<OffsetDateTime>,
    pub failure_reason: Option<String>,
}

/// An instance to create when a new purchase is paid.
#[derive(Debug, Clone)]
pub struct NewInstanceRow {
    pub id: String,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub origin_order_id: String,
    pub delivery_type: String,
    pub term: Term,
    pub quantity: u32,
    pub trial: bool,
    pub auto_renew: bool,
    pub period_start: Option<OffsetDateTime>,
    pub expire_at: Option<OffsetDateTime>,
    /// Open it at once and complete the order (no seller call opens it: Souk-issued license
    /// codes).
    pub open_now: bool,
    /// License codes Souk issues with it, in the same transaction.
    pub license_codes: Vec<crate::NewLicenseCode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: String,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub origin_order_id: String,
    pub delivery_type: String,
    pub state: InstanceState,
    pub term: Term,
    pub quantity: u32,
    pub trial: bool,
    pub auto_renew: bool,
    pub auto_renew_tried_for: Option<OffsetDateTime>,
    pub period_start: Option<OffsetDateTime>,
    pub expire_at: Option<OffsetDateTime>,
    pub seller_instance_id: Option<String>,
    pub app_info_sealed: Option<String>,
    pub license_sealed: Option<String>,
    pub created_at: OffsetDateTime,
    pub opened_at: Option<OffsetDateTime>,
    pub frozen_at: Option<OffsetDateTime>,
    pub released_at: Option<OffsetDateTime>,
}

/// How paying an order changes an existing instance (renewal, upgrade, conversion).
#[derive(Debug, Clone, Default)]
pub struct InstanceChange {
    /// The instance must still be in this state, or the payment is refused (someone else
    /// changed it in between).
    pub expect_state: Option<InstanceState>,
    pub state: Option<InstanceState>,
    pub expire_at: Option<OffsetDateTime>,
    pub period_start: Option<OffsetDateTime>,
    pub term: Option<Term>,
    pub trial: Option<bool>,
    /// Complete the order at once (no seller call confirms the change: Souk-issued codes).
    pub complete_order: bool,
}

/// A call to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: CallKind,
    pub instance_id: String,
    /// The orderId sent to the seller: stable for every attempt of this call.
    pub order_id: String,
    pub seller_id: PartyId,
    pub product_id: String,
    /// What the call needs beyond the instance and order (e.g. new expiry, scene).
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub seq: i64,
    pub id: String,
    pub kind: CallKind,
    pub state: JobState,
    /// `send`, or `poll` after the seller answered 000004.
    pub phase: String,
    pub instance_id: String,
    pub order_id: String,
    pub seller_id: PartyId,
    pub product_id: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// One attempt of a call, as recorded for the seller and the operator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub id: String,
    pub job_id: String,
    pub seller_id: PartyId,
    pub product_id: String,
    pub instance_id: String,
    pub activity: String,
    pub business_id: Option<String>,
    /// Method, URL and body, with secrets redacted.
    pub request: serde_json::Value,
    pub http_status: Option<u16>,
    pub response_body: Option<String>,
    /// `valid`, `missing`, `invalid` or `not_checked`.
    pub body_sign: String,
    pub result_code: Option<String>,
    /// `success`, `accepted` (000004), `failure`, or `interrupted` (Souk stopped while the call
    /// was in flight; it is sent again).
    pub outcome: String,
    pub error: Option<String>,
    pub latency_ms: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}

/// What a worker learned from one attempt, and what to do next.
#[derive(Debug, Clone)]
pub enum JobResolution {
    Succeeded {
        seller_instance_id: Option<String>,
        app_info_sealed: Option<String>,
        license_sealed: Option<String>,
    },
    /// The seller accepted (000004): poll from `at`.
    Poll {
        at: OffsetDateTime,
        seller_instance_id: Option<String>,
    },
    Retry {
        at: OffsetDateTime,
        error: String,
    },
    GiveUp {
        error: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub product_id: Option<String>,
    pub instance_id: Option<String>,
    pub job_id: Option<String>,
    /// `success`, `accepted`, `failure`.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRecord {
    pub id: String,
    pub party_id: PartyId,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub ref_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Why paying failed.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("order not found")]
    NotFound,
    #[error("the order is {0}, not pending payment")]
    NotPending(OrderState),
    #[error("the order's payment deadline has passed")]
    Expired,
    #[error(transparent)]
    Funds(#[from] souk_core::ledger::LedgerError),
    #[error("the instance changed while paying (now {0}); look at it and try again")]
    InstanceChanged(InstanceState),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PayError {
    fn from(e: sqlx::Error) -> Self {
        PayError::Store(db_err(e))
    }
}

// ---------------------------------------------------------------------------------------------
// The trait

#[async_trait]
pub trait CommerceStore: Send + Sync + 'static {
    /// Credits a buyer's balance (operator top-up). Returns the new balance.
    async fn top_up(
        &self,
        buyer: &PartyId,
        amount: Money,
        memo: Option<String>,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>>;

    async fn set_credit_limit(
        &self,
        buyer: &PartyId,
        limit: Money,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>>;

    /// The balance of a buyer visible in `scope`, in one currency.
    async fn balance(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        currency: Currency,
    ) -> StoreResult<Option<Balance>>;

    async fn ledger(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<LedgerEntry>>>;

    async fn create_order(&self, order: NewOrder) -> StoreResult<OrderRecord>;

    /// Trials a buyer has taken (paid or waiting for payment) of one SKU.
    async fn trials_taken(&self, buyer: &PartyId, sku_id: &str) -> StoreResult<i64>;

    /// Orders visible in `scope`: the buyer's own, the seller's own, or all.
    async fn find_order(&self, scope: &Scope, id: &str) -> StoreResult<Option<OrderRecord>>;

    async fn list_orders(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OrderRecord>>;

    /// Pays a pending order from the buyer's balance, and in the same transaction opens the
    /// instance (new purchases) or changes it (renewals…) and enqueues the seller calls.
    async fn pay_order(
        &self,
        buyer: &PartyId,
        order_id: &str,
        new_instance: Option<NewInstanceRow>,
        change: Option<InstanceChange>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<OrderRecord, PayError>;

    /// Cancels a pending order (buyer, or the system when unpaid past its deadline).
    async fn cancel_order(
        &self,
        scope: &Scope,
        order_id: &str,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Result<OrderRecord, OrderState>>>;

    /// Pending orders whose payment deadline has passed.
    async fn overdue_orders(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<String>>;

    async fn find_instance(&self, scope: &Scope, id: &str) -> StoreResult<Option<InstanceRecord>>;

    async fn list_instances(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<InstanceRecord>>;

    async fn set_auto_renew(
        &self,
        scope: &Scope,
        id: &str,
        on: bool,
        now: OffsetDateTime,
    ) -> StoreResult<Option<InstanceRecord>>;

    /// Instances whose timer is due: active past expiry, in grace past `grace`, frozen past
    /// `grace + retention`.
    async fn timer_candidates(
        &self,
        now: OffsetDateTime,
        grace: time::Duration,
        retention: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<InstanceRecord>>;

    /// Moves an instance to `to` if it is still in `from`, enqueueing `jobs`; false if it moved
    /// on meanwhile.
    async fn apply_timer(
        &self,
        instance_id: &str,
        from: InstanceState,
        to: InstanceState,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Records that auto-renew was tried for the instance's current expiry.
    async fn mark_auto_renew_tried(
        &self,
        instance_id: &str,
        expire_at: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Claims up to `limit` due jobs for `owner` until `lease_until`, respecting per-instance
    /// order: a job waits while an earlier job of its instance is unfinished.
    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>>;

    /// Records the attempts of a dispatch round and applies each resolution whose job's lease
    /// `owner` still holds (false for the others: attempt recorded, nothing applied). One
    /// transaction for the round; if anything in it fails, each call is recorded in its own, so
    /// one job's failure does not undo the others'.
    async fn complete_jobs(
        &self,
        owner: &str,
        outcomes: Vec<(JobRecord, AttemptRecord, JobResolution)>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<StoreResult<bool>>>;

    /// Seller's "retry now" on a failed or waiting call: one immediate attempt, then the normal
    /// schedule again.
    async fn retry_job(
        &self,
        scope: &Scope,
        job_id: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<JobRecord>>;

    async fn find_job(&self, scope: &Scope, job_id: &str) -> StoreResult<Option<JobRecord>>;

    async fn jobs_of_instance(
        &self,
        scope: &Scope,
        instance_id: &str,
    ) -> StoreResult<Vec<JobRecord>>;

    /// Makes every `running` job claimable now. Only for a backend where one process runs the
    /// workers (SQLite): at start-up, a running job can only be one the previous process was
    /// sending when it died.
    async fn reclaim_orphaned_jobs(&self) -> StoreResult<u64>;

    /// When the next job is due (to let workers sleep until then).
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;

    async fn list_attempts(
        &self,
        scope: &Scope,
        filter: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Vec<AttemptRecord>>;

    async fn list_messages(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<MessageRecord>>;
}

// ---------------------------------------------------------------------------------------------
// Row mapping

fn opt_time(row: &AnyRow, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
}

fn parse<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e| corrupt(col, e))
}

fn json(row: &AnyRow, col: &str) -> StoreResult<serde_json::Value> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| corrupt(col, e))
}

fn term(row: &AnyRow) -> StoreResult<Term> {
    let s: String = row.try_get("term")?;
    serde_json::from_str(&s).map_err(|e| corrupt("term", e))
}

fn money(row: &AnyRow, amount: &str) -> StoreResult<Money> {
    Ok(Money::new(row.try_get(amount)?, parse(row, "currency")?))
}

fn order_from_row(row: &AnyRow) -> StoreResult<OrderRecord> {
    Ok(OrderRecord {
        id: row.try_get("id")?,
        kind: parse(row, "kind")?,
        state: parse(row, "state")?,
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        sku_id: row.try_get("sku_id")?,
        instance_id: row.try_get("instance_id")?,
        term: term(row)?,
        quantity: row.try_get::<i64, _>("quantity")? as u32,
        amount: money(row, "amount_minor")?,
        snapshot: json(row, "snapshot")?,
        pay_deadline: from_unix_ms(row.try_get("pay_deadline")?),
        created_at: from_unix_ms(row.try_get("created_at")?),
        paid_at: opt_time(row, "paid_at")?,
        completed_at: opt_time(row, "completed_at")?,
        cancelled_at: opt_time(row, "cancelled_at")?,
        failed_at: opt_time(row, "failed_at")?,
        refunded_at: opt_time(row, "refunded_at")?,
        failure_reason: row.try_get("failure_reason")?,
    })
}

fn instance_from_row(row: &AnyRow) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        id: row.try_get("id")?,
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        sku_id: row.try_get("sku_id")?,
        origin_order_id: row.try_get("origin_order_id")?,
        delivery_type: row.try_get("delivery_type")?,
        state: parse(row, "state")?,
        term: term(row)?,
        quantity: row.try_get::<i64, _>("quantity")? as u32,
        trial: row.try_get::<i64, _>("trial")? != 0,
        auto_renew: row.try_get::<i64, _>("auto_renew")? != 0,
        auto_renew_tried_for: opt_time(row, "auto_renew_tried_for")?,
        period_start: opt_time(row, "period_start")?,
        expire_at: opt_time(row, "expire_at")?,
        seller_instance_id: row.try_get("seller_instance_id")?,
        app_info_sealed: row.try_get("app_info_sealed")?,
        license_sealed: row.try_get("license_sealed")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        opened_at: opt_time(row, "opened_at")?,
        frozen_at: opt_time(row, "frozen_at")?,
        released_at: opt_time(row, "released_at")?,
    })
}

/// The line recorded for a call that was in flight when its process stopped.
fn interrupted_attempt(job: &JobRecord, now: OffsetDateTime) -> AttemptRecord {
    AttemptRecord {
        id: souk_core::id::generate("att", now),
        job_id: job.id.clone(),
        seller_id: job.seller_id.clone(),
        product_id: job.product_id.clone(),
        instance_id: job.instance_id.clone(),
        activity: job.kind.as_str().to_owned(),
        business_id: None,
        request: serde_json::json!({}),
        http_status: None,
        response_body: None,
        body_sign: "not_checked".into(),
        result_code: None,
        outcome: souk_core::provisioning::OUTCOME_INTERRUPTED.into(),
        error: Some(souk_core::provisioning::INTERRUPTED_NOTE.into()),
        latency_ms: 0,
        started_at: now,
    }
}

fn job_from_row(row: &AnyRow) -> StoreResult<JobRecord> {
    Ok(JobRecord {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        kind: parse(row, "kind")?,
        state: parse(row, "state")?,
        phase: row.try_get("phase")?,
        instance_id: row.try_get("instance_id")?,
        order_id: row.try_get("order_id")?,
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        payload: json(row, "payload")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        first_attempt_at: opt_time(row, "first_attempt_at")?,
        next_attempt_at: from_unix_ms(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        finished_at: opt_time(row, "finished_at")?,
    })
}

fn attempt_from_row(row: &AnyRow) -> StoreResult<AttemptRecord> {
    Ok(AttemptRecord {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        instance_id: row.try_get("instance_id")?,
        activity: row.try_get("activity")?,
        business_id: row.try_get("business_id")?,
        request: json(row, "request")?,
        http_status: row
            .try_get::<Option<i64>, _>("http_status")?
            .map(|s| s as u16),
        response_body: row.try_get("response_body")?,
        body_sign: row.try_get("body_sign")?,
        result_code: row.try_get("result_code")?,
        outcome: row.try_get("outcome")?,
        error: row.try_get("error")?,
        latency_ms: row.try_get("latency_ms")?,
        started_at: from_unix_ms(row.try_get("started_at")?),
    })
}

fn message_from_row(row: &AnyRow) -> StoreResult<MessageRecord> {
    Ok(MessageRecord {
        id: row.try_get("id")?,
        party_id: PartyId::from_trusted(row.try_get("party_id")?),
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        ref_id: row.try_get("ref_id")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers used inside transactions

/// `AND (<tenant columns> = $n)`: a buyer sees rows where it is the buyer, a seller where it
/// is the seller, the operator everything.
/// The tenant is bound as `$param` (NULL for the operator).
fn tenant_clause(param: usize) -> String {
    format!("AND (${param} IS NULL OR buyer_id = ${param} OR seller_id = ${param})")
}

async fn balance_in(
    conn: &mut AnyConnection,
    buyer: &PartyId,
    currency: Currency,
) -> StoreResult<Balance> {
    // One round trip: the sum of the ledger and the credit limit (0 without an account row).
    let row = sqlx::query(
        "SELECT CAST(COALESCE((SELECT SUM(amount_minor) FROM ledger_entries \
                WHERE buyer_id = $1 AND currency = $2), 0) AS BIGINT) AS balance, \
                CAST(COALESCE((SELECT credit_limit_minor FROM accounts \
                WHERE buyer_id = $1 AND currency = $2), 0) AS BIGINT) AS credit",
    )
    .bind(buyer.as_str())
    .bind(currency.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Balance {
        buyer_id: buyer.clone(),
        balance: Money::new(row.try_get("balance")?, currency),
        credit_limit: Money::new(row.try_get("credit")?, currency),
    })
}

/// Serialises balance changes of one buyer: on PostgreSQL a row lock on the account (created if
/// missing); on SQLite the single writer connection already serialises them.
async fn lock_account(
    conn: &mut AnyConnection,
    backend: Backend,
    buyer: &PartyId,
    currency: Currency,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO accounts (buyer_id, currency, credit_limit_minor, updated_at) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (buyer_id, currency) DO NOTHING",
    )
    .bind(buyer.as_str())
    .bind(currency.as_str())
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    if backend == Backend::Postgres {
        sqlx::query(
            "SELECT buyer_id FROM accounts WHERE buyer_id = $1 AND currency = $2 FOR UPDATE",
        )
        .bind(buyer.as_str())
        .bind(currency.as_str())
        .fetch_one(&mut *conn)
        .await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_entry(
    conn: &mut AnyConnection,
    buyer: &PartyId,
    amount: Money,
    kind: EntryKind,
    order_id: Option<&str>,
    memo: Option<String>,
    actor: Option<&PartyId>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ledger_entries (id, buyer_id, currency, amount_minor, kind, order_id, memo, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(souk_core::id::generate("led", now))
    .bind(buyer.as_str())
    .bind(amount.currency.as_str())
    .bind(amount.amount_minor)
    .bind(kind.as_str())
    .bind(order_id.map(str::to_owned))
    .bind(memo)
    .bind(actor.map(|a| a.as_str().to_owned()))
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_job(
    conn: &mut AnyConnection,
    job: &NewJob,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, state, phase, instance_id, order_id, seller_id, product_id, \
         payload, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, 'pending', 'send', $3, $4, $5, $6, $7, 0, $8, $8)",
    )
    .bind(souk_core::id::generate("job", now))
    .bind(job.kind.as_str())
    .bind(&job.instance_id)
    .bind(&job.order_id)
    .bind(job.seller_id.as_str())
    .bind(&job.product_id)
    .bind(job.payload.to_string())
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_message(
    conn: &mut AnyConnection,
    party: &PartyId,
    kind: &str,
    subject: &str,
    body: &str,
    ref_id: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, party_id, kind, subject, body, ref_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(souk_core::id::generate("msg", now))
    .bind(party.as_str())
    .bind(kind)
    .bind(subject)
    .bind(body)
    .bind(ref_id.map(str::to_owned))
    .bind(to_unix_ms(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn order_in(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OrderRecord>> {
    let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

async fn instance_in(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<InstanceRecord>> {
    let row = sqlx::query("SELECT * FROM instances WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(instance_from_row).transpose()
}

/// Marks an order failed and returns its money, once (the unique index on ledger entries
/// makes a second refund of the same order impossible).
async fn fail_and_refund(
    conn: &mut AnyConnection,
    order: &OrderRecord,
    reason: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if order.state != OrderState::Processing {
        return Ok(());
    }
    let now_ms = to_unix_ms(now);
    if order.amount.amount_minor > 0 {
        insert_entry(
            conn,
            &order.buyer_id,
            order.amount,
            EntryKind::Refund,
            Some(&order.id),
            Some(format!("automatic refund: {reason}")),
            None,
            now,
        )
        .await?;
    }
    sqlx::query(
        "UPDATE orders SET state = 'refunded', failed_at = $1, refunded_at = $1, \
         failure_reason = $2 WHERE id = $3",
    )
    .bind(now_ms)
    .bind(reason)
    .bind(&order.id)
    .execute(&mut *conn)
    .await?;
    audit(
        conn,
        now,
        None,
        "order.failed_and_refunded",
        &order.id,
        serde_json::json!({ "reason": reason, "amount": order.amount }),
    )
    .await?;
    insert_message(
        conn,
        &order.buyer_id,
        "order_refunded",
        &format!("Order {} could not be delivered and was refunded", order.id),
        &format!("The seller's system did not open your purchase in time ({reason}). {} was returned to your balance.", order.amount),
        Some(&order.id),
        now,
    )
    .await?;
    Ok(())
}

async fn complete_order(
    conn: &mut AnyConnection,
    order_id: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE orders SET state = 'completed', completed_at = $1 WHERE id = $2 AND state = 'processing'",
    )
    .bind(to_unix_ms(now))
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records one attempt and applies its resolution inside the caller's transaction; false when
/// the lease was lost (the attempt is recorded, nothing else changes).
async fn complete_in(
    tx: &mut AnyConnection,
    job: &JobRecord,
    owner: &str,
    a: AttemptRecord,
    resolution: JobResolution,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    insert_attempt(tx, &a).await?;
    complete_recorded(tx, job, owner, &a, resolution, now).await
}

async fn insert_attempt(tx: &mut AnyConnection, a: &AttemptRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO call_attempts (id, job_id, seller_id, product_id, instance_id, activity, \
         business_id, request, http_status, response_body, body_sign, result_code, outcome, \
         error, latency_ms, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&a.id)
    .bind(&a.job_id)
    .bind(a.seller_id.as_str())
    .bind(&a.product_id)
    .bind(&a.instance_id)
    .bind(&a.activity)
    .bind(a.business_id.clone())
    .bind(a.request.to_string())
    .bind(a.http_status.map(|s| s as i64))
    .bind(a.response_body.clone())
    .bind(&a.body_sign)
    .bind(a.result_code.clone())
    .bind(&a.outcome)
    .bind(a.error.clone())
    .bind(a.latency_ms)
    .bind(to_unix_ms(a.started_at))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Applies an attempt's resolution (the attempt itself is already recorded).
async fn complete_recorded(
    tx: &mut AnyConnection,
    job: &JobRecord,
    owner: &str,
    a: &AttemptRecord,
    resolution: JobResolution,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let job_id = job.id.as_str();
    let now_ms = to_unix_ms(now);
    // The job row changes only if we still hold its lease. When it ran out and another
    // worker took the job over, keep the record of what we saw and change nothing else.
    let (state, phase, next_at, last_error, finished_at) = match &resolution {
        JobResolution::Succeeded { .. } => ("succeeded", None, None, None, Some(now_ms)),
        JobResolution::Poll { at, .. } => {
            ("pending", Some("poll"), Some(to_unix_ms(*at)), None, None)
        }
        JobResolution::Retry { at, error } => (
            "pending",
            None,
            Some(to_unix_ms(*at)),
            Some(error.as_str()),
            None,
        ),
        JobResolution::GiveUp { error } => {
            ("failed", None, None, Some(error.as_str()), Some(now_ms))
        }
    };
    let updated = sqlx::query(
        "UPDATE jobs SET state = $1, phase = COALESCE($2, phase), \
         next_attempt_at = COALESCE($3, next_attempt_at), last_error = COALESCE($4, last_error), \
         finished_at = $5, lease_owner = NULL, lease_until = NULL \
         WHERE id = $6 AND state = 'running' AND lease_owner = $7",
    )
    .bind(state)
    .bind(phase)
    .bind(next_at)
    .bind(last_error)
    .bind(finished_at)
    .bind(job_id)
    .bind(owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    let first_failure = a.outcome == "failure"
        && !matches!(resolution, JobResolution::Succeeded { .. })
        && job.last_error.is_none();
    match &resolution {
        JobResolution::Succeeded {
            seller_instance_id,
            app_info_sealed,
            license_sealed,
        } => match job.kind {
            CallKind::NewInstance | CallKind::GetLicense => {
                sqlx::query(
                    "UPDATE instances SET state = 'active', opened_at = $1, updated_at = $1, \
                         seller_instance_id = COALESCE($2, seller_instance_id), \
                         app_info_sealed = COALESCE($3, app_info_sealed), \
                         license_sealed = COALESCE($4, license_sealed) \
                         WHERE id = $5 AND state = 'opening'",
                )
                .bind(now_ms)
                .bind(seller_instance_id.clone())
                .bind(app_info_sealed.clone())
                .bind(license_sealed.clone())
                .bind(&job.instance_id)
                .execute(&mut *tx)
                .await?;
                complete_order(&mut *tx, &job.order_id, now).await?;
            }
            CallKind::UpgradeInstance => {
                if let Some(order) = order_in(&mut *tx, &job.order_id).await? {
                    sqlx::query(
                            "UPDATE instances SET sku_id = $1, quantity = $2, updated_at = $3 WHERE id = $4",
                        )
                        .bind(&order.sku_id)
                        .bind(order.quantity as i64)
                        .bind(now_ms)
                        .bind(&job.instance_id)
                        .execute(&mut *tx)
                        .await?;
                }
                complete_order(&mut *tx, &job.order_id, now).await?;
            }
            CallKind::RefreshInstance => complete_order(&mut *tx, &job.order_id, now).await?,
            CallKind::FreezeInstance
            | CallKind::UnfreezeInstance
            | CallKind::ReleaseInstance
            | CallKind::RefreshLicenseCode
            | CallKind::FreezeLicenseCode
            | CallKind::UnfreezeLicenseCode
            | CallKind::ReleaseLicenseCode => {}
        },
        JobResolution::Poll {
            seller_instance_id, ..
        } => {
            if let Some(sid) = seller_instance_id {
                sqlx::query("UPDATE instances SET seller_instance_id = $1 WHERE id = $2")
                    .bind(sid)
                    .bind(&job.instance_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        JobResolution::Retry { .. } => {}
        JobResolution::GiveUp { error } => {
            if job.kind.fails_order() {
                if let Some(order) = order_in(&mut *tx, &job.order_id).await? {
                    fail_and_refund(&mut *tx, &order, error, now).await?;
                }
                if matches!(job.kind, CallKind::NewInstance | CallKind::GetLicense) {
                    sqlx::query(
                        "UPDATE instances SET state = 'failed', updated_at = $1 WHERE id = $2 AND state = 'opening'",
                    )
                    .bind(now_ms)
                    .bind(&job.instance_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            insert_message(
                &mut *tx,
                &job.seller_id,
                "call_gave_up",
                &format!("Souk stopped retrying {} for instance {}", job.kind, job.instance_id),
                &format!("Last error: {error}. Fix your production endpoint, then press retry on this call in the production interface messages."),
                Some(job_id),
                now,
            )
            .await?;
        }
    }
    if first_failure {
        insert_message(
            &mut *tx,
            &job.seller_id,
            "call_failed",
            &format!("A call to your production endpoint failed: {} for instance {}", job.kind, job.instance_id),
            &format!(
                "{}. Souk keeps retrying; see the production interface messages for the request and your answer.",
                a.error.as_deref().unwrap_or("the call failed")
            ),
            Some(job_id),
            now,
        )
        .await?;
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// The implementation

#[async_trait]
impl CommerceStore for SqlStore {
    async fn top_up(
        &self,
        buyer: &PartyId,
        amount: Money,
        memo: Option<String>,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>> {
        let mut tx = self.write.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
                .bind(buyer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        lock_account(&mut tx, self.backend, buyer, amount.currency, now).await?;
        insert_entry(
            &mut tx,
            buyer,
            amount,
            EntryKind::TopUp,
            None,
            memo.clone(),
            Some(actor),
            now,
        )
        .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "balance.topped_up",
            buyer.as_str(),
            serde_json::json!({ "amount": amount, "memo": memo }),
        )
        .await?;
        let b = balance_in(&mut tx, buyer, amount.currency).await?;
        tx.commit().await?;
        Ok(Some(b))
    }

    async fn set_credit_limit(
        &self,
        buyer: &PartyId,
        limit: Money,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>> {
        let mut tx = self.write.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
                .bind(buyer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        lock_account(&mut tx, self.backend, buyer, limit.currency, now).await?;
        sqlx::query(
            "UPDATE accounts SET credit_limit_minor = $1, updated_at = $2 \
             WHERE buyer_id = $3 AND currency = $4",
        )
        .bind(limit.amount_minor)
        .bind(to_unix_ms(now))
        .bind(buyer.as_str())
        .bind(limit.currency.as_str())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "balance.credit_limit_set",
            buyer.as_str(),
            serde_json::json!({ "limit": limit }),
        )
        .await?;
        let b = balance_in(&mut tx, buyer, limit.currency).await?;
        tx.commit().await?;
        Ok(Some(b))
    }

    async fn balance(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        currency: Currency,
    ) -> StoreResult<Option<Balance>> {
        if scope.tenant().is_some_and(|t| t != buyer.as_str()) {
            return Ok(None);
        }
        let mut conn = self.read.acquire().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
                .bind(buyer.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        Ok(Some(balance_in(&mut conn, buyer, currency).await?))
    }

    async fn ledger(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<LedgerEntry>>> {
        if scope.tenant().is_some_and(|t| t != buyer.as_str()) {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT * FROM ledger_entries WHERE buyer_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(buyer.as_str())
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.try_get("id")?,
                    buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                    amount: money(r, "amount_minor")?,
                    kind: parse(r, "kind")?,
                    order_id: r.try_get("order_id")?,
                    memo: r.try_get("memo")?,
                    created_at: from_unix_ms(r.try_get("created_at")?),
                })
            })
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn create_order(&self, o: NewOrder) -> StoreResult<OrderRecord> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO orders (id, kind, state, buyer_id, seller_id, product_id, sku_id, \
             instance_id, term, quantity, amount_minor, currency, snapshot, pay_deadline, created_at) \
             VALUES ($1, $2, 'pending_payment', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&o.id)
        .bind(o.kind.as_str())
        .bind(o.buyer_id.as_str())
        .bind(o.seller_id.as_str())
        .bind(&o.product_id)
        .bind(&o.sku_id)
        .bind(&o.instance_id)
        .bind(serde_json::to_string(&o.term).map_err(|e| corrupt("term", e))?)
        .bind(o.quantity as i64)
        .bind(o.amount.amount_minor)
        .bind(o.amount.currency.as_str())
        .bind(o.snapshot.to_string())
        .bind(to_unix_ms(o.pay_deadline))
        .bind(to_unix_ms(o.now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit(
            &mut tx,
            o.now,
            Some(&o.buyer_id),
            "order.created",
            &o.id,
            serde_json::json!({ "kind": o.kind, "amount": o.amount, "sku_id": o.sku_id }),
        )
        .await?;
        let record = order_in(&mut tx, &o.id)
            .await?
            .ok_or_else(|| corrupt("order", "vanished after insert"))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn trials_taken(&self, buyer: &PartyId, sku_id: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE buyer_id = $1 AND sku_id = $2 AND kind = 'trial' \
             AND state <> 'cancelled'",
        )
        .bind(buyer.as_str())
        .bind(sku_id)
        .fetch_one(&self.read)
        .await?)
    }

    async fn find_order(&self, scope: &Scope, id: &str) -> StoreResult<Option<OrderRecord>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM orders WHERE id = $1 {}",
            tenant_clause(2)
        ))
        .bind(id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    async fn list_orders(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM orders WHERE ($2 IS NULL OR id > $2) {} ORDER BY id LIMIT $3",
            tenant_clause(1)
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    async fn pay_order(
        &self,
        buyer: &PartyId,
        order_id: &str,
        new_instance: Option<NewInstanceRow>,
        change: Option<InstanceChange>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<OrderRecord, PayError> {
        let mut tx = self.write.begin().await?;
        let order = order_in(&mut tx, order_id)
            .await?
            .filter(|o| &o.buyer_id == buyer)
            .ok_or(PayError::NotFound)?;
        if order.state != OrderState::PendingPayment {
            return Err(PayError::NotPending(order.state));
        }
        if now > order.pay_deadline {
            return Err(PayError::Expired);
        }
        // SQLite's single writer already serialises payments; no account row is needed to read
        // the balance (a missing one means no credit).
        if self.backend == Backend::Postgres {
            lock_account(&mut tx, self.backend, buyer, order.amount.currency, now).await?;
        }
        if order.amount.amount_minor > 0 {
            let b = balance_in(&mut tx, buyer, order.amount.currency).await?;
            souk_core::ledger::check_debit(b.balance, b.credit_limit, order.amount)?;
            let debit = Money::new(-order.amount.amount_minor, order.amount.currency);
            insert_entry(
                &mut tx,
                buyer,
                debit,
                EntryKind::OrderDebit,
                Some(order_id),
                None,
                Some(buyer),
                now,
            )
            .await?;
        }
        let now_ms = to_unix_ms(now);
        sqlx::query("UPDATE orders SET state = 'processing', paid_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        let mut completed = false;
        if let Some(i) = new_instance {
            sqlx::query(
                "INSERT INTO instances (id, buyer_id, seller_id, product_id, sku_id, origin_order_id, \
                 delivery_type, state, term, quantity, trial, auto_renew, period_start, expire_at, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $15, $8, $9, $10, $11, $12, $13, $14, $14)",
            )
            .bind(&i.id)
            .bind(i.buyer_id.as_str())
            .bind(i.seller_id.as_str())
            .bind(&i.product_id)
            .bind(&i.sku_id)
            .bind(&i.origin_order_id)
            .bind(&i.delivery_type)
            .bind(serde_json::to_string(&i.term).map_err(|e| corrupt("term", e))?)
            .bind(i.quantity as i64)
            .bind(i.trial as i64)
            .bind(i.auto_renew as i64)
            .bind(i.period_start.map(to_unix_ms))
            .bind(i.expire_at.map(to_unix_ms))
            .bind(now_ms)
            .bind(if i.open_now { "active" } else { "opening" })
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if i.open_now {
                sqlx::query("UPDATE instances SET opened_at = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(&i.id)
                    .execute(&mut *tx)
                    .await?;
                complete_order(&mut tx, order_id, now).await?;
                completed = true;
            }
            crate::licenses::insert_codes(&mut tx, &i, &i.license_codes, now).await?;
        }
        if let Some(c) = change {
            let current = instance_in(&mut tx, &order.instance_id)
                .await?
                .ok_or(PayError::NotFound)?;
            if let Some(expected) = c.expect_state {
                if current.state != expected {
                    return Err(PayError::InstanceChanged(current.state));
                }
            }
            let term_json = c
                .term
                .map(|t| serde_json::to_string(&t))
                .transpose()
                .map_err(|e| corrupt("term", e))?;
            sqlx::query(
                "UPDATE instances SET state = COALESCE($1, state), expire_at = COALESCE($2, expire_at), \
                 period_start = COALESCE($3, period_start), term = COALESCE($4, term), \
                 trial = COALESCE($5, trial), frozen_at = CASE WHEN $1 = 'active' THEN NULL ELSE frozen_at END, \
                 updated_at = $6 WHERE id = $7",
            )
            .bind(c.state.map(|s| s.as_str().to_owned()))
            .bind(c.expire_at.map(to_unix_ms))
            .bind(c.period_start.map(to_unix_ms))
            .bind(term_json)
            .bind(c.trial.map(|t| t as i64))
            .bind(now_ms)
            .bind(&order.instance_id)
            .execute(&mut *tx)
            .await?;
            if c.complete_order {
                complete_order(&mut tx, order_id, now).await?;
                completed = true;
            }
        }
        for job in &jobs {
            insert_job(&mut tx, job, now).await?;
        }
        audit(
            &mut tx,
            now,
            Some(buyer),
            "order.paid",
            order_id,
            serde_json::json!({ "amount": order.amount, "jobs": jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>() }),
        )
        .await?;
        tx.commit().await?;
        // The order as it now is, without reading it back.
        let mut record = order;
        record.state = if completed {
            OrderState::Completed
        } else {
            OrderState::Processing
        };
        record.paid_at = Some(now);
        record.completed_at = completed.then_some(now);
        Ok(record)
    }

    async fn cancel_order(
        &self,
        scope: &Scope,
        order_id: &str,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Result<OrderRecord, OrderState>>> {
        let mut tx = self.write.begin().await?;
        let Some(order) = order_in(&mut tx, order_id).await? else {
            return Ok(None);
        };
        if let Some(t) = scope.tenant() {
            if order.buyer_id.as_str() != t {
                return Ok(None);
            }
        }
        if order.state != OrderState::PendingPayment {
            return Ok(Some(Err(order.state)));
        }
        sqlx::query(
            "UPDATE orders SET state = 'cancelled', cancelled_at = $1 WHERE id = $2 AND state = 'pending_payment'",
        )
        .bind(to_unix_ms(now))
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            if actor.is_some() {
                "order.cancelled"
            } else {
                "order.cancelled_unpaid"
            },
            order_id,
            serde_json::json!({}),
        )
        .await?;
        let record = order_in(&mut tx, order_id).await?;
        tx.commit().await?;
        Ok(record.map(Ok))
    }

    async fn overdue_orders(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM orders WHERE state = 'pending_payment' AND pay_deadline < $1 ORDER BY pay_deadline LIMIT $2",
        )
        .bind(to_unix_ms(now))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?)
    }

    async fn find_instance(&self, scope: &Scope, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM instances WHERE id = $1 {}",
            tenant_clause(2)
        ))
        .bind(id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(instance_from_row).transpose()
    }

    async fn list_instances(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<InstanceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM instances WHERE ($2 IS NULL OR id > $2) {} ORDER BY id LIMIT $3",
            tenant_clause(1)
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn set_auto_renew(
        &self,
        scope: &Scope,
        id: &str,
        on: bool,
        now: OffsetDateTime,
    ) -> StoreResult<Option<InstanceRecord>> {
        let mut tx = self.write.begin().await?;
        let Some(instance) = instance_in(&mut tx, id).await? else {
            return Ok(None);
        };
        if scope
            .tenant()
            .is_some_and(|t| t != instance.buyer_id.as_str())
        {
            return Ok(None);
        }
        sqlx::query("UPDATE instances SET auto_renew = $1, updated_at = $2 WHERE id = $3")
            .bind(on as i64)
            .bind(to_unix_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            scope
                .tenant()
                .map(|t| PartyId::from_trusted(t.to_owned()))
                .as_ref(),
            "instance.auto_renew_set",
            id,
            serde_json::json!({ "auto_renew": on }),
        )
        .await?;
        let r = instance_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(r)
    }

    async fn timer_candidates(
        &self,
        now: OffsetDateTime,
        grace: time::Duration,
        retention: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<InstanceRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM instances WHERE expire_at IS NOT NULL AND ( \
               (state = 'active' AND expire_at <= $1) OR (state = 'grace' AND expire_at <= $2) \
               OR (state = 'frozen' AND expire_at <= $3)) ORDER BY expire_at LIMIT $4",
        )
        .bind(to_unix_ms(now))
        .bind(to_unix_ms(now - grace))
        .bind(to_unix_ms(now - grace - retention))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn apply_timer(
        &self,
        instance_id: &str,
        from: InstanceState,
        to: InstanceState,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let now_ms = to_unix_ms(now);
        let changed = sqlx::query(
            "UPDATE instances SET state = $1, updated_at = $2, \
             frozen_at = CASE WHEN $1 = 'frozen' THEN $2 ELSE frozen_at END, \
             released_at = CASE WHEN $1 = 'released' THEN $2 ELSE released_at END \
             WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(now_ms)
        .bind(instance_id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        for job in &jobs {
            insert_job(&mut tx, job, now).await?;
        }
        audit(
            &mut tx,
            now,
            None,
            &format!("instance.{to}"),
            instance_id,
            serde_json::json!({ "from": from }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn mark_auto_renew_tried(
        &self,
        instance_id: &str,
        expire_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE instances SET auto_renew_tried_for = $1 WHERE id = $2")
            .bind(to_unix_ms(expire_at))
            .bind(instance_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        let mut tx = self.write.begin().await?;
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let seqs: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT j.seq FROM jobs j \
             WHERE ((j.state = 'pending' AND j.next_attempt_at <= $1) \
                 OR (j.state = 'running' AND j.lease_until < $1)) \
               AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.instance_id = j.instance_id \
                               AND e.seq < j.seq AND e.state IN ('pending', 'running')) \
             ORDER BY j.next_attempt_at, j.seq LIMIT $2 {lock}"
        ))
        .bind(to_unix_ms(now))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        // Integers from our own query: safe to inline, and the Any driver cannot bind arrays.
        let list = seqs
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // A job still `running` was in flight when its process died or lost its lease: whether
        // the seller got that call is unknown. Say so in the interface messages before the call
        // is sent again, so that every call the seller received has its line.
        let orphans = sqlx::query(&format!(
            "SELECT * FROM jobs WHERE seq IN ({list}) AND state = 'running'"
        ))
        .fetch_all(&mut *tx)
        .await?;
        for row in &orphans {
            let job = job_from_row(row)?;
            insert_attempt(&mut tx, &interrupted_attempt(&job, now)).await?;
        }
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, $3) \
             WHERE seq IN ({list}) RETURNING *"
        ))
        .bind(owner)
        .bind(to_unix_ms(lease_until))
        .bind(to_unix_ms(now))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect::<StoreResult<_>>()?;
        jobs.sort_by_key(|j| j.seq);
        Ok(jobs)
    }

    async fn complete_jobs(
        &self,
        owner: &str,
        outcomes: Vec<(JobRecord, AttemptRecord, JobResolution)>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<StoreResult<bool>>> {
        // Optimistically the whole round in one transaction: one commit instead of one per call.
        let mut tx = self.write.begin().await?;
        let mut applied = Vec::with_capacity(outcomes.len());
        let mut failed = false;
        for (job, attempt, resolution) in &outcomes {
            match complete_in(
                &mut tx,
                job,
                owner,
                attempt.clone(),
                resolution.clone(),
                now,
            )
            .await
            {
                Ok(a) => applied.push(Ok(a)),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if !failed {
            tx.commit().await?;
            return Ok(applied);
        }
        // Something in the round failed: undo it and record each call on its own, so that one
        // bad outcome does not lose the others.
        tx.rollback().await?;
        let mut results = Vec::with_capacity(outcomes.len());
        for (job, attempt, resolution) in outcomes {
            let mut tx = self.write.begin().await?;
            match complete_in(&mut tx, &job, owner, attempt, resolution, now).await {
                Ok(a) => {
                    tx.commit().await?;
                    results.push(Ok(a));
                }
                Err(e) => {
                    tx.rollback().await?;
                    results.push(Err(e));
                }
            }
        }
        Ok(results)
    }

    async fn retry_job(
        &self,
        scope: &Scope,
        job_id: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<JobRecord>> {
        let mut tx = self.write.begin().await?;
        let row =
            sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
                .bind(job_id)
                .bind(scope.tenant().map(str::to_owned))
                .fetch_optional(&mut *tx)
                .await?;
        let Some(job) = row.as_ref().map(job_from_row).transpose()? else {
            return Ok(None);
        };
        if matches!(job.state, JobState::Failed | JobState::Pending) {
            let now_ms = to_unix_ms(now);
            // The window restarts: one attempt now, then the usual schedule.
            sqlx::query(
                "UPDATE jobs SET state = 'pending', next_attempt_at = $1, first_attempt_at = $1, \
                 finished_at = NULL WHERE id = $2",
            )
            .bind(now_ms)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
            audit(
                &mut tx,
                now,
                Some(actor),
                "job.retry_requested",
                job_id,
                serde_json::json!({ "previous_state": job.state }),
            )
            .await?;
        }
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(&mut *tx)
            .await?;
        let job = job_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(job))
    }

    async fn find_job(&self, scope: &Scope, job_id: &str) -> StoreResult<Option<JobRecord>> {
        let row =
            sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
                .bind(job_id)
                .bind(scope.tenant().map(str::to_owned))
                .fetch_optional(&self.read)
                .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn jobs_of_instance(
        &self,
        scope: &Scope,
        instance_id: &str,
    ) -> StoreResult<Vec<JobRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE instance_id = $1 AND ($2 IS NULL OR seller_id = $2) ORDER BY seq",
        )
        .bind(instance_id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn reclaim_orphaned_jobs(&self) -> StoreResult<u64> {
        Ok(
            sqlx::query("UPDATE jobs SET lease_until = 0 WHERE state = 'running'")
                .execute(&self.write)
                .await?
                .rows_affected(),
        )
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) \
             FROM jobs WHERE state IN ('pending', 'running')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(at.map(from_unix_ms))
    }

    async fn list_attempts(
        &self,
        scope: &Scope,
        f: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Vec<AttemptRecord>> {
        // Newest first: the seller wants to see what just happened.
        let rows = sqlx::query(
            "SELECT * FROM call_attempts WHERE ($1 IS NULL OR seller_id = $1) \
             AND ($2 IS NULL OR product_id = $2) AND ($3 IS NULL OR instance_id = $3) \
             AND ($4 IS NULL OR job_id = $4) AND ($5 IS NULL OR outcome = $5) \
             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7",
        )
        .bind(scope.tenant().map(str::to_owned))
        .bind(f.product_id.clone())
        .bind(f.instance_id.clone())
        .bind(f.job_id.clone())
        .bind(f.outcome.clone())
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(attempt_from_row).collect()
    }

    async fn list_messages(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<MessageRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE ($1 IS NULL OR party_id = $1) AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(message_from_row).collect()
    }
}
