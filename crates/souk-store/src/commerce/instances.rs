//! Instances: finding and listing them, auto-renew, and the clock-driven timers (expiry,
//! grace, retention).

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

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
    /// Service supervision to start with it (supervised delivery types), in the same
    /// transaction.
    pub supervision: Option<crate::NewSupervision>,
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

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

pub(super) fn instance_from_row(row: &AnyRow) -> StoreResult<InstanceRecord> {
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

pub(super) async fn instance_in(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<InstanceRecord>> {
    let row = sqlx::query("SELECT * FROM instances WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(instance_from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn find_instance(
    s: &SqlStore,
    scope: &Scope,
    id: &str,
) -> StoreResult<Option<InstanceRecord>> {
    let row = sqlx::query(&format!(
        "SELECT * FROM instances WHERE id = $1 {}",
        tenant_clause(2)
    ))
    .bind(id)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(instance_from_row).transpose()
}

pub(super) async fn list_instances(
    s: &SqlStore,
    scope: &Scope,
    page: &Page,
) -> StoreResult<Vec<InstanceRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT * FROM instances WHERE ($2 IS NULL OR id > $2) {} ORDER BY id LIMIT $3",
        tenant_clause(1)
    ))
    .bind(scope.tenant().map(str::to_owned))
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(instance_from_row).collect()
}

pub(super) async fn set_auto_renew(
    s: &SqlStore,
    scope: &Scope,
    id: &str,
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
    instance_id: &str,
    from: InstanceState,
    to: InstanceState,
    jobs: Vec<NewJob>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
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

pub(super) async fn mark_auto_renew_tried(
    s: &SqlStore,
    instance_id: &str,
    expire_at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query("UPDATE instances SET auto_renew_tried_for = $1 WHERE id = $2")
        .bind(to_unix_ms(expire_at))
        .bind(instance_id)
        .execute(&s.write)
        .await?;
    Ok(())
}
