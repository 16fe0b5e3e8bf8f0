//! Balances, orders, instances, the provisioning job queue and its attempts, and the message
//! centre.
//!
//! The rule that makes provisioning durable lives here: a call to a seller is a `jobs` row
//! written in the same transaction as the change that needs it ([`CommerceStore::pay_order`],
//! [`CommerceStore::apply_timer`]); workers claim jobs with a lease in one short transaction
//! ([`CommerceStore::claim_jobs`]), call the seller with no transaction open, and record the
//! outcomes in a second short transaction ([`CommerceStore::complete_jobs`]).
//!
//! One file per aggregate: `ledger` (balances and entries), `orders` (orders, payment,
//! trials), `instances` (instances and their timers), `outbox` (the job queue), `completion`
//! (recording a call's outcome and applying the effects the core plans for it), `messages`
//! (call attempts and the message centre). Every state change is decided by `souk-core` and
//! persisted with the aggregate's compare-and-set helper (`transition_order`,
//! `transition_instance`, `transition_job`); zero rows is [`StoreError::LostRace`].
//!
//! This file holds the [`CommerceStore`] trait and its implementation for [`SqlStore`], which
//! hands each method to its aggregate's module.

mod completion;
mod instances;
mod ledger;
mod messages;
mod orders;
mod outbox;

pub use instances::{InstanceChange, InstanceRecord, NewInstanceRow};
pub use ledger::{Balance, LedgerEntry};
pub use messages::{AttemptFilter, AttemptRecord, MessageRecord};
pub use orders::{NewOrder, OrderRecord, PayError};
pub use outbox::{
    CallContexts, CallPayload, CodeChange, JobRecord, JobResolution, NewJob, RenewalTerm,
    SellerRoom,
};

pub(crate) use instances::transition_instance;
pub(crate) use ledger::insert_entry as insert_ledger_entry;
pub(crate) use messages::insert_notice;
pub(crate) use orders::{order_from_row, transition_order};
pub(crate) use outbox::insert_job as insert_outbox_job;

use completion::*;
use instances::*;
use ledger::*;

// The metering store books usage charges and arrears with the same helpers.
pub(crate) use instances::{instance_from_row, instance_in};
pub(crate) use ledger::{balance_in, lock_account};
pub(crate) use outbox::insert_job;
use outbox::*;

use crate::exec::{run_now, Exec};
use crate::sql::{audit, audit_query, corrupt, Batch, BatchQuery};
use crate::*;
use serde::Serialize;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::{AttemptId, InstanceId, JobId, OrderId};
use souk_core::instance::InstanceState;
use souk_core::ledger::EntryKind;
use souk_core::money::{Currency, Money};
use souk_core::order::{OrderEvent, OrderKind, OrderState, Term};
use souk_core::outbox::{Effect, Facts, OrderFacts, SellerNotice};
use souk_core::provisioning::{CallKind, JobEvent, JobState};
use souk_core::transition::{Label, StateMachine, Transition};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

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

    /// Creates an order waiting for payment. A trial order is refused with
    /// `Conflict { constraint: constraint_names::ONE_TRIAL_PER_BUYER_SKU, .. }` when the buyer
    /// already has a trial order of the SKU that is not cancelled: the unique index decides, so
    /// concurrent requests cannot both get one.
    async fn create_order(&self, order: NewOrder) -> StoreResult<OrderRecord>;

    /// Orders visible in `scope`: the buyer's own, the seller's own, or all.
    async fn find_order(&self, scope: &Scope, id: &OrderId) -> StoreResult<Option<OrderRecord>>;

    async fn list_orders(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OrderRecord>>;

    /// Pays a pending order from the buyer's balance, and in the same transaction opens the
    /// instance (new purchases) or changes it (renewals…) and enqueues the seller calls.
    async fn pay_order(
        &self,
        buyer: &PartyId,
        order_id: &OrderId,
        new_instance: Option<NewInstanceRow>,
        change: Option<InstanceChange>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<OrderRecord, PayError>;

    /// Cancels a pending order (buyer, or the system when unpaid past its deadline).
    async fn cancel_order(
        &self,
        scope: &Scope,
        order_id: &OrderId,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Result<OrderRecord, OrderState>>>;

    /// Pending orders whose payment deadline has passed.
    async fn overdue_orders(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<OrderId>>;

    async fn find_instance(
        &self,
        scope: &Scope,
        id: &InstanceId,
    ) -> StoreResult<Option<InstanceRecord>>;

    async fn list_instances(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<InstanceRecord>>;

    async fn set_auto_renew(
        &self,
        scope: &Scope,
        id: &InstanceId,
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

    /// Persists a timer's instance transition (compare-and-set on `change.from`), enqueueing
    /// `jobs`; false if the instance moved on meanwhile (nothing changes then).
    async fn apply_timer(
        &self,
        instance_id: &InstanceId,
        change: Transition<InstanceState>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Records that auto-renew was tried for the instance's current expiry.
    async fn mark_auto_renew_tried(
        &self,
        instance_id: &InstanceId,
        expire_at: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Claims up to `limit` due jobs for `owner` until `lease_until`, respecting per-instance
    /// order (a job waits while an earlier job of its instance is unfinished) and the room each
    /// seller has left in `room` (a seller at its limit keeps its jobs pending).
    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
        room: &SellerRoom,
    ) -> StoreResult<Vec<JobRecord>>;

    /// The instances, orders and buyers that claimed calls need to build their requests, in one
    /// read per table for the whole batch (whatever the tenant: the dispatcher's view).
    async fn call_contexts(&self, jobs: &[JobRecord]) -> StoreResult<CallContexts>;

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
        job_id: &JobId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<JobRecord>>;

    async fn find_job(&self, scope: &Scope, job_id: &JobId) -> StoreResult<Option<JobRecord>>;

    async fn jobs_of_instance(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
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
// Row mapping shared by the aggregates

pub(super) fn opt_time(row: &AnyRow, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
}

pub(super) fn parse<T: FromStr>(row: &AnyRow, col: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e| corrupt(col, e))
}

pub(super) fn json(row: &AnyRow, col: &str) -> StoreResult<serde_json::Value> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| corrupt(col, e))
}

pub(super) fn term(row: &AnyRow) -> StoreResult<Term> {
    let s: String = row.try_get("term")?;
    serde_json::from_str(&s).map_err(|e| corrupt("term", e))
}

pub(super) fn money(row: &AnyRow, amount: &str) -> StoreResult<Money> {
    Ok(Money::new(row.try_get(amount)?, parse(row, "currency")?))
}

/// The row of `table` with this id if `scope` may see it (its buyer, its seller, the operator).
pub(super) async fn find_scoped<T>(
    s: &SqlStore,
    table: &str,
    scope: &Scope,
    id: &str,
    map: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let row = sqlx::query(&format!(
        "SELECT * FROM {table} WHERE id = $1 {}",
        tenant_clause(2)
    ))
    .bind(id)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(map).transpose()
}

/// A page of the rows of `table` that `scope` may see, in id order (ids sort by creation).
pub(super) async fn list_scoped<T>(
    s: &SqlStore,
    table: &str,
    scope: &Scope,
    page: &Page,
    map: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM {table} WHERE ($2 IS NULL OR id > $2) {} ORDER BY id LIMIT $3",
        tenant_clause(1)
    ))
    .bind(scope.tenant().map(str::to_owned))
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(map).collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers used inside transactions

/// `AND (<tenant columns> = $n)`: a buyer sees rows where it is the buyer, a seller where it
/// is the seller, the operator everything.
/// The tenant is bound as `$param` (NULL for the operator).
pub(crate) fn tenant_clause(param: usize) -> String {
    format!("AND (${param} IS NULL OR buyer_id = ${param} OR seller_id = ${param})")
}

/// The error of a transition whose `what` row `id` was no longer in `t.from`.
pub(crate) fn lost_race<S: Label>(what: &'static str, id: &str, t: Transition<S>) -> StoreError {
    StoreError::LostRace {
        what,
        id: id.to_owned(),
        expected: t.from.label(),
    }
}

/// Runs a compare-and-set statement: it must change one row; zero rows is `lost` (the row moved
/// on since the change was decided).
pub(super) async fn compare_and_set(
    conn: &mut impl Exec,
    query: BatchQuery<'_>,
    lost: StoreError,
) -> StoreResult<()> {
    if conn.exec(query).await? == 0 {
        return Err(lost);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The implementation: each method lives in its aggregate's module

#[async_trait]
impl CommerceStore for SqlStore {
    // ledger.rs

    async fn top_up(
        &self,
        buyer: &PartyId,
        amount: Money,
        memo: Option<String>,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>> {
        ledger::top_up(self, buyer, amount, memo, actor, now).await
    }

    async fn set_credit_limit(
        &self,
        buyer: &PartyId,
        limit: Money,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Balance>> {
        ledger::set_credit_limit(self, buyer, limit, actor, now).await
    }

    async fn balance(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        currency: Currency,
    ) -> StoreResult<Option<Balance>> {
        ledger::balance(self, scope, buyer, currency).await
    }

    async fn ledger(
        &self,
        scope: &Scope,
        buyer: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<LedgerEntry>>> {
        ledger::ledger(self, scope, buyer, page).await
    }

    // orders.rs

    async fn create_order(&self, o: NewOrder) -> StoreResult<OrderRecord> {
        orders::create_order(self, o).await
    }

    async fn find_order(&self, scope: &Scope, id: &OrderId) -> StoreResult<Option<OrderRecord>> {
        orders::find_order(self, scope, id).await
    }

    async fn list_orders(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OrderRecord>> {
        orders::list_orders(self, scope, page).await
    }

    async fn pay_order(
        &self,
        buyer: &PartyId,
        order_id: &OrderId,
        new_instance: Option<NewInstanceRow>,
        change: Option<InstanceChange>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<OrderRecord, PayError> {
        orders::pay_order(self, buyer, order_id, new_instance, change, jobs, now).await
    }

    async fn cancel_order(
        &self,
        scope: &Scope,
        order_id: &OrderId,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Result<OrderRecord, OrderState>>> {
        orders::cancel_order(self, scope, order_id, actor, now).await
    }

    async fn overdue_orders(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<OrderId>> {
        orders::overdue_orders(self, now, limit).await
    }

    // instances.rs

    async fn find_instance(
        &self,
        scope: &Scope,
        id: &InstanceId,
    ) -> StoreResult<Option<InstanceRecord>> {
        instances::find_instance(self, scope, id).await
    }

    async fn list_instances(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<InstanceRecord>> {
        instances::list_instances(self, scope, page).await
    }

    async fn set_auto_renew(
        &self,
        scope: &Scope,
        id: &InstanceId,
        on: bool,
        now: OffsetDateTime,
    ) -> StoreResult<Option<InstanceRecord>> {
        instances::set_auto_renew(self, scope, id, on, now).await
    }

    async fn timer_candidates(
        &self,
        now: OffsetDateTime,
        grace: time::Duration,
        retention: time::Duration,
        limit: u32,
    ) -> StoreResult<Vec<InstanceRecord>> {
        instances::timer_candidates(self, now, grace, retention, limit).await
    }

    async fn apply_timer(
        &self,
        instance_id: &InstanceId,
        change: Transition<InstanceState>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        instances::apply_timer(self, instance_id, change, jobs, now).await
    }

    async fn mark_auto_renew_tried(
        &self,
        instance_id: &InstanceId,
        expire_at: OffsetDateTime,
    ) -> StoreResult<()> {
        instances::mark_auto_renew_tried(self, instance_id, expire_at).await
    }

    // outbox.rs

    async fn claim_jobs(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
        room: &SellerRoom,
    ) -> StoreResult<Vec<JobRecord>> {
        outbox::claim_jobs(self, owner, now, lease_until, limit, room).await
    }

    async fn call_contexts(&self, jobs: &[JobRecord]) -> StoreResult<CallContexts> {
        outbox::call_contexts(self, jobs).await
    }

    async fn complete_jobs(
        &self,
        owner: &str,
        outcomes: Vec<(JobRecord, AttemptRecord, JobResolution)>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<StoreResult<bool>>> {
        completion::complete_jobs(self, owner, outcomes, now).await
    }

    async fn retry_job(
        &self,
        scope: &Scope,
        job_id: &JobId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<JobRecord>> {
        outbox::retry_job(self, scope, job_id, actor, now).await
    }

    async fn find_job(&self, scope: &Scope, job_id: &JobId) -> StoreResult<Option<JobRecord>> {
        outbox::find_job(self, scope, job_id).await
    }

    async fn jobs_of_instance(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
    ) -> StoreResult<Vec<JobRecord>> {
        outbox::jobs_of_instance(self, scope, instance_id).await
    }

    async fn reclaim_orphaned_jobs(&self) -> StoreResult<u64> {
        outbox::reclaim_orphaned_jobs(self).await
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        outbox::next_job_due(self).await
    }

    // messages.rs

    async fn list_attempts(
        &self,
        scope: &Scope,
        f: &AttemptFilter,
        page: &Page,
    ) -> StoreResult<Vec<AttemptRecord>> {
        messages::list_attempts(self, scope, f, page).await
    }

    async fn list_messages(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<MessageRecord>> {
        messages::list_messages(self, scope, page).await
    }
}
