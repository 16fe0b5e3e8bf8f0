//! Orders: creating, finding, paying (which opens or changes the instance and enqueues the
//! seller calls in the same transaction), cancelling, the unpaid-order timer, and trials.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

/// An order to create (state `pending_payment`).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: OrderId,
    pub kind: OrderKind,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    /// For new purchases and trials: the id the instance will get when the order is paid.
    pub instance_id: InstanceId,
    pub term: Term,
    pub quantity: u32,
    pub amount: Money,
    /// What was bought, as it was at purchase time (sku code, wire product id, prices, names).
    pub snapshot: souk_core::snapshot::OrderSnapshot,
    pub pay_deadline: OffsetDateTime,
    pub now: OffsetDateTime,
    /// The reseller the order goes through and its entitlement (§11), written with the order.
    pub reseller: Option<crate::OrderReseller>,
    /// The seller voucher that pays part of the order and how much (§8.2); taken off the
    /// voucher when the order is paid.
    pub voucher: Option<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub id: OrderId,
    pub kind: OrderKind,
    pub state: OrderState,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub instance_id: InstanceId,
    pub term: Term,
    pub quantity: u32,
    pub amount: Money,
    pub snapshot: souk_core::snapshot::OrderSnapshot,
    pub pay_deadline: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub refunded_at: Option<OffsetDateTime>,
    pub failure_reason: Option<String>,
    /// The seller voucher paying `voucher_minor` of `amount` (§8.2); the rest is cash.
    pub voucher_id: Option<String>,
    pub voucher_minor: i64,
}

impl OrderRecord {
    /// What the buyer pays (or paid) from its balance: the amount less the voucher part. Fee
    /// base, invoices, commission and performance all count this (§8.1, §10, §11).
    pub fn cash(&self) -> Money {
        Money::new(
            self.amount.amount_minor - self.voucher_minor,
            self.amount.currency,
        )
    }
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
    /// The voucher no longer has the order's voucher part (used by another order meanwhile),
    /// or it expired or was revoked since the order was placed.
    #[error("the order's voucher can no longer pay its part")]
    Voucher(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PayError {
    fn from(e: sqlx::Error) -> Self {
        PayError::Store(StoreError::from(e))
    }
}

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

pub(crate) fn order_from_row(row: &AnyRow) -> StoreResult<OrderRecord> {
    Ok(OrderRecord {
        id: OrderId::from_trusted(row.try_get("id")?),
        kind: parse(row, "kind")?,
        state: parse(row, "state")?,
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        sku_id: row.try_get("sku_id")?,
        instance_id: InstanceId::from_trusted(row.try_get("instance_id")?),
        term: term(row)?,
        quantity: row.try_get::<i64, _>("quantity")? as u32,
        amount: money(row, "amount_minor")?,
        snapshot: {
            let text: String = row.try_get("snapshot")?;
            serde_json::from_str(&text).map_err(|e| corrupt("snapshot", e))?
        },
        pay_deadline: from_unix_ms(row.try_get("pay_deadline")?),
        created_at: from_unix_ms(row.try_get("created_at")?),
        paid_at: opt_time(row, "paid_at")?,
        completed_at: opt_time(row, "completed_at")?,
        cancelled_at: opt_time(row, "cancelled_at")?,
        failed_at: opt_time(row, "failed_at")?,
        refunded_at: opt_time(row, "refunded_at")?,
        failure_reason: row.try_get("failure_reason")?,
        voucher_id: row.try_get("voucher_id")?,
        voucher_minor: row.try_get("voucher_minor")?,
    })
}

pub(super) async fn order_in(
    conn: &mut impl Exec,
    id: &OrderId,
) -> StoreResult<Option<OrderRecord>> {
    let row = conn
        .optional(sqlx::query("SELECT * FROM orders WHERE id = $1").bind(id.as_str()))
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

/// The compare-and-set that moves an order into `to`, stamping the column that records when
/// it got there (if `to` has one). `$1` new state, `$2` id, `$3` old state, `$4` now. A new
/// state without a time column of its own needs no arm here.
fn order_cas_sql(to: OrderState) -> (&'static str, bool) {
    let sql = match to {
        OrderState::Processing => {
            "UPDATE orders SET state = $1, paid_at = $4 WHERE id = $2 AND state = $3"
        }
        OrderState::Completed => {
            "UPDATE orders SET state = $1, completed_at = $4 WHERE id = $2 AND state = $3"
        }
        OrderState::Cancelled => {
            "UPDATE orders SET state = $1, cancelled_at = $4 WHERE id = $2 AND state = $3"
        }
        OrderState::Failed => {
            "UPDATE orders SET state = $1, failed_at = $4 WHERE id = $2 AND state = $3"
        }
        OrderState::Refunded => {
            "UPDATE orders SET state = $1, refunded_at = $4 WHERE id = $2 AND state = $3"
        }
        _ => {
            return (
                "UPDATE orders SET state = $1 WHERE id = $2 AND state = $3",
                false,
            )
        }
    };
    (sql, true)
}

/// The statement that persists an order transition the core decided, for a [`Batch`] (push it
/// with [`Batch::push_checked`] and [`order_lost`]).
pub(super) fn order_transition_query(
    id: &OrderId,
    t: Transition<OrderState>,
    now: OffsetDateTime,
) -> BatchQuery<'_> {
    let (sql, stamped) = order_cas_sql(t.to);
    let q = sqlx::query(sql)
        .bind(t.to.as_str())
        .bind(id.as_str())
        .bind(t.from.as_str());
    if stamped {
        q.bind(to_unix_ms(now))
    } else {
        q
    }
}

/// The error of an order transition whose row was no longer in `t.from`.
pub(super) fn order_lost(id: &OrderId, t: Transition<OrderState>) -> StoreError {
    lost_race("order", id.as_str(), t)
}

/// Persists an order transition the core decided: compare-and-set on `t.from`; a row that
/// moved on meanwhile is [`StoreError::LostRace`] and nothing changes.
pub(crate) async fn transition_order(
    conn: &mut impl Exec,
    id: &OrderId,
    t: Transition<OrderState>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    compare_and_set(conn, order_transition_query(id, t, now), order_lost(id, t)).await
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn create_order(s: &SqlStore, o: NewOrder) -> StoreResult<OrderRecord> {
    let mut tx = s.write.begin().await?;
    sqlx::query(
        "INSERT INTO orders (id, kind, state, buyer_id, seller_id, product_id, sku_id, \
         instance_id, term, quantity, amount_minor, currency, snapshot, pay_deadline, created_at, \
         voucher_id, voucher_minor) \
         VALUES ($1, $2, $15, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, $17)",
    )
    .bind(o.id.as_str())
    .bind(o.kind.as_str())
    .bind(o.buyer_id.as_str())
    .bind(o.seller_id.as_str())
    .bind(&o.product_id)
    .bind(&o.sku_id)
    .bind(o.instance_id.as_str())
    .bind(serde_json::to_string(&o.term).map_err(|e| corrupt("term", e))?)
    .bind(o.quantity as i64)
    .bind(o.amount.amount_minor)
    .bind(o.amount.currency.as_str())
    .bind(serde_json::to_string(&o.snapshot).map_err(|e| corrupt("snapshot", e))?)
    .bind(to_unix_ms(o.pay_deadline))
    .bind(to_unix_ms(o.now))
    .bind(OrderState::START.as_str())
    .bind(o.voucher.as_ref().map(|v| v.0.clone()))
    .bind(o.voucher.as_ref().map_or(0, |v| v.1))
    .execute(&mut *tx)
    .await?;
    if let Some(r) = &o.reseller {
        crate::resellers::insert_order_reseller(&mut tx, &o.id, r, o.now).await?;
    }
    audit(
        &mut tx,
        o.now,
        Some(&o.buyer_id),
        "order.created",
        o.id.as_str(),
        serde_json::json!({
            "kind": o.kind, "amount": o.amount, "sku_id": o.sku_id,
            "voucher_id": o.voucher.as_ref().map(|v| &v.0),
            "voucher_minor": o.voucher.as_ref().map_or(0, |v| v.1),
        }),
    )
    .await?;
    let record = order_in(&mut tx, &o.id)
        .await?
        .ok_or_else(|| corrupt("order", "vanished after insert"))?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn find_order(
    s: &SqlStore,
    scope: &Scope,
    id: &OrderId,
) -> StoreResult<Option<OrderRecord>> {
    find_scoped(s, "orders", scope, id.as_str(), order_from_row).await
}

pub(super) async fn list_orders(
    s: &SqlStore,
    scope: &Scope,
    page: &Page,
) -> StoreResult<Vec<OrderRecord>> {
    list_scoped(s, "orders", scope, page, order_from_row).await
}

pub(super) async fn pay_order(
    s: &SqlStore,
    buyer: &PartyId,
    order_id: &OrderId,
    new_instance: Option<NewInstanceRow>,
    change: Option<InstanceChange>,
    jobs: Vec<NewJob>,
    now: OffsetDateTime,
) -> Result<OrderRecord, PayError> {
    // License codes and supervisions are written by their own modules through sqlx.
    let extras = new_instance
        .as_ref()
        .is_some_and(|i| !i.license_codes.is_empty() || i.supervision.is_some());
    if let (Some(writer), false) = (&s.writer, extras) {
        // Concurrent payments share one commit (see `SqliteWriter::grouped`).
        let (backend, buyer, order_id) = (s.backend, buyer.clone(), order_id.clone());
        return writer
            .grouped(&s.write, move |u| {
                let p = Payment {
                    backend,
                    buyer: &buyer,
                    order_id: &order_id,
                    new_instance: new_instance.as_ref(),
                    change: change.as_ref(),
                    jobs: &jobs,
                    now,
                };
                run_now(pay_in(u, &p))?
            })
            .await;
    }
    let p = Payment {
        backend: s.backend,
        buyer,
        order_id,
        new_instance: new_instance.as_ref(),
        change: change.as_ref(),
        jobs: &jobs,
        now,
    };
    let mut tx = s.write.begin().await?;
    let record = pay_in(&mut *tx, &p).await?;
    if let Some(i) = &new_instance {
        crate::licenses::insert_codes(&mut tx, i, &i.license_codes, now).await?;
        if let Some(sv) = &i.supervision {
            crate::aftersale::insert_supervision(&mut tx, sv, now).await?;
        }
    }
    tx.commit().await?;
    Ok(record)
}

/// What [`pay_in`] pays.
struct Payment<'a> {
    backend: Backend,
    buyer: &'a PartyId,
    order_id: &'a OrderId,
    new_instance: Option<&'a NewInstanceRow>,
    change: Option<&'a InstanceChange>,
    jobs: &'a [NewJob],
    now: OffsetDateTime,
}

/// A payment inside the caller's transaction (everything but license codes and supervision):
/// the order as it now is.
async fn pay_in(tx: &mut impl Exec, p: &Payment<'_>) -> Result<OrderRecord, PayError> {
    let Payment {
        backend,
        buyer,
        order_id,
        new_instance,
        change,
        jobs,
        now,
    } = *p;
    let order = order_in(tx, order_id)
        .await?
        .filter(|o| &o.buyer_id == buyer)
        .ok_or(PayError::NotFound)?;
    let pay = order
        .state
        .transition(OrderEvent::Pay)
        .map_err(|_| PayError::NotPending(order.state))?;
    if now > order.pay_deadline {
        return Err(PayError::Expired);
    }
    // SQLite's single writer already serialises payments; no account row is needed to read
    // the balance (a missing one means no credit).
    if backend == Backend::Postgres {
        lock_account(tx, backend, buyer, order.amount.currency, now).await?;
    }
    // The reads come first; the writes then go to the database as one batch.
    let cash = order.cash();
    if cash.amount_minor > 0 {
        let b = balance_in(tx, buyer, cash.currency).await?;
        souk_core::ledger::check_debit(b.balance, b.credit_limit, cash)?;
    }
    // The voucher part: refused here when the voucher cannot pay it any more (on SQLite the
    // single writer serialises payments, so this read decides; on PostgreSQL the batch's
    // compare-and-set on the balance does).
    if let (Some(voucher), true) = (&order.voucher_id, order.voucher_minor > 0) {
        let v = crate::vouchers::voucher_in(tx, voucher)
            .await?
            .ok_or_else(|| PayError::Voucher(voucher.clone()))?;
        let usable = v.rules().usable(now).is_ok() && v.remaining_minor >= order.voucher_minor;
        if !usable {
            return Err(PayError::Voucher(voucher.clone()));
        }
    }
    // A renewal remembers the expiry it extends, so a refund of its period can move it back.
    let mut extended_from = None;
    if let Some(c) = change {
        let current = instance_in(tx, &order.instance_id)
            .await?
            .ok_or(PayError::NotFound)?;
        if current.state != c.transition.from {
            return Err(PayError::InstanceChanged(current.state));
        }
        extended_from = Some(current.expire_at.unwrap_or(now));
    }
    // Delivered at once when no seller call confirms it (Souk-issued license codes), unless
    // supervision holds the order until acceptance (the License code flow).
    let deliver_now = new_instance.is_some_and(|i| i.open_now && i.supervision.is_none())
        || change.is_some_and(|c| c.complete_order);
    let mut steps = vec![pay];
    if deliver_now {
        steps.push(
            pay.to
                .transition(OrderEvent::Deliver)
                .map_err(|_| PayError::NotPending(order.state))?,
        );
    }
    let mut batch = Batch::default();
    if let (Some(voucher), true) = (&order.voucher_id, order.voucher_minor > 0) {
        for q in crate::vouchers::use_queries(voucher, &order, now) {
            batch.push_checked(q, crate::vouchers::voucher_lost(voucher));
        }
    }
    if cash.amount_minor > 0 {
        let debit = Money::new(-cash.amount_minor, cash.currency);
        batch.push(entry_query(
            buyer,
            debit,
            EntryKind::OrderDebit,
            Some(order_id.as_str()),
            None,
            Some(buyer),
            now,
        ));
    }
    for step in &steps {
        batch.push_checked(
            order_transition_query(order_id, *step, now),
            order_lost(order_id, *step),
        );
    }
    if let Some(i) = new_instance {
        batch.push(insert_instance_query(
            i,
            InstanceState::first(i.open_now),
            now,
        )?);
    }
    if let Some(c) = change {
        batch.push_checked(
            instance_transition_query(&order.instance_id, c.transition, now),
            instance_lost(&order.instance_id, c.transition),
        );
        let term_json = c
            .term
            .map(|t| serde_json::to_string(&t))
            .transpose()
            .map_err(|e| corrupt("term", e))?;
        batch.push(
            sqlx::query(
                "UPDATE instances SET expire_at = COALESCE($1, expire_at), \
                 period_start = COALESCE($2, period_start), term = COALESCE($3, term), \
                 trial = COALESCE($4, trial) WHERE id = $5",
            )
            .bind(c.expire_at.map(to_unix_ms))
            .bind(c.period_start.map(to_unix_ms))
            .bind(term_json)
            .bind(c.trial.map(|t| t as i64))
            .bind(order.instance_id.as_str()),
        );
        if let (OrderKind::Renewal, Some(to), Some(from)) = (order.kind, c.expire_at, extended_from)
        {
            batch.push(
                sqlx::query("UPDATE orders SET renewal_from = $1, renewal_to = $2 WHERE id = $3")
                    .bind(to_unix_ms(from))
                    .bind(to_unix_ms(to))
                    .bind(order_id.as_str()),
            );
        }
    }
    for job in jobs {
        batch.push(job_query(job, now));
    }
    let job_kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    batch.push(audit_query(
        now,
        Some(buyer),
        "order.paid",
        order_id.as_str(),
        serde_json::json!({
            "amount": order.amount, "cash": cash, "voucher_minor": order.voucher_minor,
            "jobs": job_kinds,
        }),
    ));
    match batch.run(tx, backend).await {
        Ok(()) => {}
        // Another transaction moved a row between our read and our write (PostgreSQL): refused
        // as if it had been seen in its new state, and nothing of this payment stays.
        Err(StoreError::LostRace {
            what: "voucher",
            id,
            ..
        }) => return Err(PayError::Voucher(id)),
        Err(StoreError::LostRace {
            what: "instance", ..
        }) => {
            let now_state = instance_in(tx, &order.instance_id).await?;
            return Err(PayError::InstanceChanged(
                now_state.map_or(InstanceState::Failed, |i| i.state),
            ));
        }
        Err(StoreError::LostRace { .. }) => {
            let now_state = order_in(tx, order_id).await?;
            return Err(PayError::NotPending(
                now_state.map_or(order.state, |o| o.state),
            ));
        }
        Err(e) => return Err(PayError::Store(e)),
    }
    // The order as it now is, without reading it back.
    let mut record = order;
    record.state = steps.last().map_or(pay.to, |t| t.to);
    record.paid_at = Some(now);
    record.completed_at = (record.state == OrderState::Completed).then_some(now);
    Ok(record)
}

pub(super) async fn cancel_order(
    s: &SqlStore,
    scope: &Scope,
    order_id: &OrderId,
    actor: Option<&PartyId>,
    now: OffsetDateTime,
) -> StoreResult<Option<Result<OrderRecord, OrderState>>> {
    let mut tx = s.write.begin().await?;
    let Some(order) = order_in(&mut tx, order_id).await? else {
        return Ok(None);
    };
    if let Some(t) = scope.tenant() {
        if order.buyer_id.as_str() != t {
            return Ok(None);
        }
    }
    let Ok(cancel) = order.state.transition(OrderEvent::Cancel) else {
        return Ok(Some(Err(order.state)));
    };
    match transition_order(&mut tx, order_id, cancel, now).await {
        Ok(()) => {}
        // Paid (or cancelled by the timer) meanwhile: refused as if it had been seen so.
        Err(StoreError::LostRace { .. }) => {
            let state = order_in(&mut tx, order_id)
                .await?
                .map_or(order.state, |o| o.state);
            return Ok(Some(Err(state)));
        }
        Err(e) => return Err(e),
    }
    audit(
        &mut tx,
        now,
        actor,
        if actor.is_some() {
            "order.cancelled"
        } else {
            "order.cancelled_unpaid"
        },
        order_id.as_str(),
        serde_json::json!({}),
    )
    .await?;
    let record = order_in(&mut tx, order_id).await?;
    tx.commit().await?;
    Ok(record.map(Ok))
}

pub(super) async fn overdue_orders(
    s: &SqlStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<OrderId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE state = $3 AND pay_deadline < $1 ORDER BY pay_deadline LIMIT $2",
    )
    .bind(to_unix_ms(now))
    .bind(limit as i64)
    .bind(OrderState::PendingPayment.as_str())
    .fetch_all(&s.read)
    .await?;
    Ok(ids.into_iter().map(OrderId::from_trusted).collect())
}
