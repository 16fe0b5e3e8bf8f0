//! Instances: finding and listing them, auto-renew, and the clock-driven timers (expiry,
//! grace, retention).

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

/// An instance to create when a new purchase is paid.
#[derive(Debug, Clone)]
pub struct NewInstanceRow {
    pub id: InstanceId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub origin_order_id: OrderId,
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
    /// Service supervision to start with it (supervised delivery types), in the same
    /// transaction.
    pub supervision: Option<crate::NewSupervision>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: InstanceId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub origin_order_id: OrderId,
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
#[derive(Debug, Clone)]
pub struct InstanceChange {
    /// The move the core decided from the state the use case saw (renewal or upgrade); the
    /// payment is refused if the instance is no longer in `transition.from`.
    pub transition: Transition<InstanceState>,
    pub expire_at: Option<OffsetDateTime>,
    pub period_start: Option<OffsetDateTime>,
    pub term: Option<Term>,
    pub trial: Option<bool>,
    /// Complete the order at once (no seller call confirms the change: Souk-issued codes).
    pub complete_order: bool,
}

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

pub(crate) fn instance_from_row(row: &AnyRow) -> StoreResult<InstanceRecord> {
    Ok(InstanceRecord {
        id: InstanceId::from_trusted(row.try_get("id")?),
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        sku_id: row.try_get("sku_id")?,
        origin_order_id: OrderId::from_trusted(row.try_get("origin_order_id")?),
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

pub(crate) async fn instance_in(
    conn: &mut impl Exec,
    id: &InstanceId,
) -> StoreResult<Option<InstanceRecord>> {
    let row = conn
        .optional(sqlx::query("SELECT * FROM instances WHERE id = $1").bind(id.as_str()))
        .await?;
    row.as_ref().map(instance_from_row).transpose()
}

/// The statement that inserts a new instance in `state` (the core's
/// [`InstanceState::first`]), for a [`Batch`].
pub(super) fn insert_instance_query(
    i: &NewInstanceRow,
    state: InstanceState,
    now: OffsetDateTime,
) -> StoreResult<BatchQuery<'_>> {
    let now_ms = to_unix_ms(now);
    Ok(sqlx::query(
        "INSERT INTO instances (id, buyer_id, seller_id, product_id, sku_id, origin_order_id, \
         delivery_type, state, term, quantity, trial, auto_renew, period_start, expire_at, \
         created_at, updated_at, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $15, $8, $9, $10, $11, $12, $13, $14, $14, $16)",
    )
    .bind(i.id.as_str())
    .bind(i.buyer_id.as_str())
    .bind(i.seller_id.as_str())
    .bind(&i.product_id)
    .bind(&i.sku_id)
    .bind(i.origin_order_id.as_str())
    .bind(&i.delivery_type)
    .bind(serde_json::to_string(&i.term).map_err(|e| corrupt("term", e))?)
    .bind(i.quantity as i64)
    .bind(i.trial as i64)
    .bind(i.auto_renew as i64)
    .bind(i.period_start.map(to_unix_ms))
    .bind(i.expire_at.map(to_unix_ms))
    .bind(now_ms)
    .bind(state.as_str())
    .bind((state == InstanceState::Active).then_some(now_ms)))
}

/// The compare-and-set that moves an instance into `to`, stamping what entering `to` records.
/// `$1` new state, `$2` id, `$3` old state, `$4` now. A new state without a column of its own
/// needs no arm here.
fn instance_cas_sql(to: InstanceState) -> &'static str {
    match to {
        // Opened the first time; a renewal that unfreezes clears the freeze.
        InstanceState::Active => {
            "UPDATE instances SET state = $1, updated_at = $4, \
             opened_at = COALESCE(opened_at, $4), frozen_at = NULL \
             WHERE id = $2 AND state = $3"
        }
        InstanceState::Frozen => {
            "UPDATE instances SET state = $1, updated_at = $4, frozen_at = $4 \
             WHERE id = $2 AND state = $3"
        }
        InstanceState::Released => {
            "UPDATE instances SET state = $1, updated_at = $4, released_at = $4 \
             WHERE id = $2 AND state = $3"
        }
        _ => "UPDATE instances SET state = $1, updated_at = $4 WHERE id = $2 AND state = $3",
    }
}

/// [`instance_cas_sql`] that also keeps what the seller delivered (`$5` its instance id, `$6`
/// the sealed credentials, `$7` the sealed license; absent values leave what is stored): the
/// opening's state change and its delivery in one statement instead of two.
pub(super) fn instance_cas_delivering_sql(to: InstanceState) -> String {
    instance_cas_sql(to).replacen(
        "UPDATE instances SET ",
        "UPDATE instances SET seller_instance_id = COALESCE($5, seller_instance_id), \
         app_info_sealed = COALESCE($6, app_info_sealed), \
         license_sealed = COALESCE($7, license_sealed), ",
        1,
    )
}

/// The statement that persists an instance transition the core decided, for a [`Batch`]
/// (push it with [`Batch::push_checked`] and [`instance_lost`]).
pub(super) fn instance_transition_query(
    id: &InstanceId,
    t: Transition<InstanceState>,
    now: OffsetDateTime,
) -> BatchQuery<'_> {
    sqlx::query(instance_cas_sql(t.to))
        .bind(t.to.as_str())
        .bind(id.as_str())
        .bind(t.from.as_str())
        .bind(to_unix_ms(now))
}

/// The error of an instance transition whose row was no longer in `t.from`.
pub(super) fn instance_lost(id: &InstanceId, t: Transition<InstanceState>) -> StoreError {
    lost_race("instance", id.as_str(), t)
}

/// Persists an instance transition the core decided: compare-and-set on `t.from`; a row that
/// moved on meanwhile is [`StoreError::LostRace`] and nothing changes.
pub(crate) async fn transition_instance(
    conn: &mut impl Exec,
    id: &InstanceId,
    t: Transition<InstanceState>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    compare_and_set(
        conn,
        instance_transition_query(id, t, now),
        instance_lost(id, t),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn find_instance(
    s: &SqlStore,
    scope: &Scope,
    id: &InstanceId,
) -> StoreResult<Option<InstanceRecord>> {
    find_scoped(s, "instances", scope, id.as_str(), instance_from_row).await
}

pub(super) async fn list_instances(
    s: &SqlStore,
    scope: &Scope,
    page: &Page,
) -> StoreResult<Vec<InstanceRecord>> {
    list_scoped(s, "instances", scope, page, instance_from_row).await
}

pub(super) async fn set_auto_renew(
    s: &SqlStore,
    scope: &Scope,
    id: &InstanceId,
    on: bool,
    now: OffsetDateTime,
) -> StoreResult<Option<InstanceRecord>> {
    let mut tx = s.write.begin().await?;
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
        .bind(id.as_str())
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
        id.as_str(),
        serde_json::json!({ "auto_renew": on }),
    )
    .await?;
    let r = instance_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(r)
}

pub(super) async fn timer_candidates(
    s: &SqlStore,
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
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(instance_from_row).collect()
}

pub(super) async fn apply_timer(
    s: &SqlStore,
    instance_id: &InstanceId,
    change: Transition<InstanceState>,
    jobs: Vec<NewJob>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
    match transition_instance(&mut tx, instance_id, change, now).await {
        Ok(()) => {}
        // Renewed (or moved by another process) since the timer looked: nothing to do.
        Err(StoreError::LostRace { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    for job in &jobs {
        insert_job(&mut tx, job, now).await?;
    }
    audit(
        &mut tx,
        now,
        None,
        &format!("instance.{}", change.to),
        instance_id.as_str(),
        serde_json::json!({ "from": change.from }),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn mark_auto_renew_tried(
    s: &SqlStore,
    instance_id: &InstanceId,
    expire_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE instances SET auto_renew_tried_for = $1 WHERE id = $2")
        .bind(to_unix_ms(expire_at))
        .bind(instance_id.as_str())
        .execute(&s.write)
        .await?;
    Ok(())
}
