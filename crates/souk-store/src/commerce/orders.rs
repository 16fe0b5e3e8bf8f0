//! Orders: creating, finding, paying (which opens or changes the instance and enqueues the
//! seller calls in the same transaction), cancelling, the unpaid-order timer, and trials.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

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
    pub snapshot: souk_core::snapshot::OrderSnapshot,
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
    pub snapshot: souk_core::snapshot::OrderSnapshot,
    pub pay_deadline: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub refunded_at: Option<OffsetDateTime>,
    pub failure_reason: Option<String>,
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
        PayError::Store(StoreError::from(e))
    }
}

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

pub(super) fn order_from_row(row: &AnyRow) -> StoreResult<OrderRecord> {
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
    })
}

pub(super) async fn order_in(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<OrderRecord>> {
    let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

pub(crate) async fn complete_order(
    conn: &mut AnyConnection,
    order_id: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    complete_order_query(order_id, now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The statement [`complete_order`] runs, for a [`Batch`].
pub(super) fn complete_order_query(order_id: &str, now: OffsetDateTime) -> BatchQuery<'_> {
    sqlx::query(
        // A supervised order completes when its supervision does (business rules §2), not when
        // the seller's open call succeeds.
        "UPDATE orders SET state = 'completed', completed_at = $1 WHERE id = $2 AND state = 'processing' \
         AND NOT EXISTS (SELECT 1 FROM supervisions s WHERE s.order_id = $2 AND s.node <> 'completed')",
    )
    .bind(to_unix_ms(now))
    .bind(order_id)
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn create_order(s: &SqlStore, o: NewOrder) -> StoreResult<OrderRecord> {
    let mut tx = s.write.begin().await?;
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
    .bind(serde_json::to_string(&o.snapshot).map_err(|e| corrupt("snapshot", e))?)
    .bind(to_unix_ms(o.pay_deadline))
    .bind(to_unix_ms(o.now))
    .execute(&mut *tx)
    .await?;
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

pub(super) async fn find_order(
    s: &SqlStore,
    scope: &Scope,
    id: &str,
) -> StoreResult<Option<OrderRecord>> {
    let row = sqlx::query(&format!(
        "SELECT * FROM orders WHERE id = $1 {}",
        tenant_clause(2)
    ))
    .bind(id)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(order_from_row).transpose()
}

pub(super) async fn list_orders(
    s: &SqlStore,
    scope: &Scope,
    page: &Page,
) -> StoreResult<Vec<OrderRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM orders WHERE ($2 IS NULL OR id > $2) {} ORDER BY id LIMIT $3",
        tenant_clause(1)
    ))
    .bind(scope.tenant().map(str::to_owned))
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(order_from_row).collect()
}

pub(super) async fn pay_order(
    s: &SqlStore,
    buyer: &PartyId,
    order_id: &str,
    new_instance: Option<NewInstanceRow>,
    change: Option<InstanceChange>,
    jobs: Vec<NewJob>,
    now: OffsetDateTime,
) -> Result<OrderRecord, PayError> {
    let mut tx = s.write.begin().await?;
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
    if s.backend == Backend::Postgres {
        lock_account(&mut tx, s.backend, buyer, order.amount.currency, now).await?;
    }
    // The reads come first; the writes then go to the database as one batch.
    if order.amount.amount_minor > 0 {
        let b = balance_in(&mut tx, buyer, order.amount.currency).await?;
        souk_core::ledger::check_debit(b.balance, b.credit_limit, order.amount)?;
    }
    let current = match &change {
        Some(_) => Some(
            instance_in(&mut tx, &order.instance_id)
                .await?
                .ok_or(PayError::NotFound)?,
        ),
        None => None,
    };
    if let (Some(c), Some(current)) = (&change, &current) {
        if let Some(expected) = c.expect_state {
            if current.state != expected {
                return Err(PayError::InstanceChanged(current.state));
            }
        }
    }
    let mut batch = Batch::default();
    if order.amount.amount_minor > 0 {
        let debit = Money::new(-order.amount.amount_minor, order.amount.currency);
        batch.push(entry_query(
            buyer,
            debit,
            EntryKind::OrderDebit,
            Some(order_id),
            None,
            Some(buyer),
            now,
        ));
    }
    let now_ms = to_unix_ms(now);
    batch.push(
        sqlx::query("UPDATE orders SET state = 'processing', paid_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(order_id),
    );
    let mut completed = false;
    if let Some(i) = &new_instance {
        batch.push(
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
            .bind(if i.open_now { "active" } else { "opening" }),
        );
        if i.open_now {
            batch.push(
                sqlx::query("UPDATE instances SET opened_at = $1 WHERE id = $2")
                    .bind(now_ms)
                    .bind(&i.id),
            );
            batch.push(complete_order_query(order_id, now));
            completed = true;
        }
    }
    if let Some(c) = &change {
        let term_json = c
            .term
            .map(|t| serde_json::to_string(&t))
            .transpose()
            .map_err(|e| corrupt("term", e))?;
        batch.push(
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
            .bind(&order.instance_id),
        );
        if c.complete_order {
            batch.push(complete_order_query(order_id, now));
            completed = true;
        }
    }
    for job in &jobs {
        batch.push(job_query(job, now));
    }
    let job_kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
    batch.push(audit_query(
        now,
        Some(buyer),
        "order.paid",
        order_id,
        serde_json::json!({ "amount": order.amount, "jobs": job_kinds }),
    ));
    batch.run(&mut tx, s.backend).await?;
    if let Some(i) = &new_instance {
        crate::licenses::insert_codes(&mut tx, i, &i.license_codes, now).await?;
        if let Some(sv) = &i.supervision {
            crate::aftersale::insert_supervision(&mut tx, sv, now).await?;
        }
    }
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

pub(super) async fn cancel_order(
    s: &SqlStore,
    scope: &Scope,
    order_id: &str,
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

pub(super) async fn overdue_orders(
    s: &SqlStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM orders WHERE state = 'pending_payment' AND pay_deadline < $1 ORDER BY pay_deadline LIMIT $2",
    )
    .bind(to_unix_ms(now))
    .bind(limit as i64)
    .fetch_all(&s.read)
    .await?)
}
