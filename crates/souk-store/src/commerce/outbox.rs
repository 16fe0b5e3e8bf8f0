//! The provisioning outbox: `jobs` rows (one per seller call), claimed with a lease, completed
//! with an attempt row and its effects (instance opened, order completed, retry, give up and
//! refund), retried on the seller's request, and reclaimed after a crash.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

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

/// How many calls each seller may still start in this process: a claim takes no more of a
/// seller's jobs than its room, so one seller that hangs to the timeout cannot hold every slot.
#[derive(Debug, Clone, Default)]
pub struct SellerRoom {
    /// Calls in flight to one seller at most (0: no per-seller limit).
    pub per_seller: u32,
    /// Calls in flight now, by seller id.
    pub in_flight: std::collections::HashMap<String, u32>,
}

impl SellerRoom {
    fn left(&self, seller: &str) -> u32 {
        if self.per_seller == 0 {
            return u32::MAX;
        }
        self.per_seller
            .saturating_sub(self.in_flight.get(seller).copied().unwrap_or(0))
    }
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

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

/// The line recorded for a call that was in flight when its process stopped.
pub(super) fn interrupted_attempt(job: &JobRecord, now: OffsetDateTime) -> AttemptRecord {
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

pub(super) fn job_from_row(row: &AnyRow) -> StoreResult<JobRecord> {
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

pub(crate) async fn insert_job(
    conn: &mut AnyConnection,
    job: &NewJob,
    now: OffsetDateTime,
) -> StoreResult<()> {
    job_query(job, now).execute(&mut *conn).await?;
    Ok(())
}

/// The statement [`insert_job`] runs, for a [`Batch`].
pub(super) fn job_query<'q>(job: &'q NewJob, now: OffsetDateTime) -> BatchQuery<'q> {
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
}

/// Marks an order failed and returns its money, once (the unique index on ledger entries
/// makes a second refund of the same order impossible).
pub(super) async fn fail_and_refund(
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
    let notice = souk_core::notice::order_refunded(&order.id, order.amount, reason);
    insert_notice(conn, &order.buyer_id, &notice, Some(&order.id), now).await?;
    Ok(())
}

/// Records one attempt and applies its resolution inside the caller's transaction; false when
/// the lease was lost (the attempt is recorded, nothing else changes).
pub(super) async fn complete_in(
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

pub(super) async fn insert_attempt(tx: &mut AnyConnection, a: &AttemptRecord) -> StoreResult<()> {
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
    .await?;
    Ok(())
}

/// Applies an attempt's resolution (the attempt itself is already recorded).
pub(super) async fn complete_recorded(
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
            if let Some(kind) = job.kind.after_giving_up() {
                // The seller never told us its instanceId; the protocol recommends the first
                // businessId, which is what a seller following it will know the instance by.
                let first_business_id: Option<String> = sqlx::query_scalar(
                    "SELECT business_id FROM call_attempts WHERE job_id = $1 \
                     AND business_id IS NOT NULL ORDER BY id LIMIT 1",
                )
                .bind(job_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                let follow_up = NewJob {
                    kind,
                    instance_id: job.instance_id.clone(),
                    order_id: job.order_id.clone(),
                    seller_id: job.seller_id.clone(),
                    product_id: job.product_id.clone(),
                    payload: serde_json::json!({
                        "after_giving_up": job.kind,
                        "first_business_id": first_business_id,
                    }),
                };
                insert_job(&mut *tx, &follow_up, now).await?;
            }
            let notice = souk_core::notice::call_gave_up(job.kind, &job.instance_id, error);
            insert_notice(&mut *tx, &job.seller_id, &notice, Some(job_id), now).await?;
        }
    }
    if first_failure {
        let notice = souk_core::notice::call_failed(job.kind, &job.instance_id, a.error.as_deref());
        insert_notice(&mut *tx, &job.seller_id, &notice, Some(job_id), now).await?;
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn claim_jobs(
    s: &SqlStore,
    owner: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
    room: &SellerRoom,
) -> StoreResult<Vec<JobRecord>> {
    let mut tx = s.write.begin().await?;
    let lock = match s.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    // Sellers without room are left out; the others are read a few times over the limit so
    // that one seller's backlog does not hide the next seller's due jobs.
    let full: Vec<String> = room
        .in_flight
        .keys()
        .filter(|s| room.left(s) == 0)
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    let skip_full = if full.is_empty() {
        String::new()
    } else {
        format!("AND j.seller_id NOT IN ({}) ", full.join(","))
    };
    let over = if room.per_seller == 0 { 1 } else { 4 };
    let due: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT j.seq, j.seller_id FROM jobs j \
         WHERE ((j.state = 'pending' AND j.next_attempt_at <= $1) \
             OR (j.state = 'running' AND j.lease_until < $1)) \
           {skip_full}\
           AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.instance_id = j.instance_id \
                           AND e.seq < j.seq AND e.state IN ('pending', 'running')) \
         ORDER BY j.next_attempt_at, j.seq LIMIT $2 {lock}"
    ))
    .bind(to_unix_ms(now))
    .bind(limit as i64 * over)
    .fetch_all(&mut *tx)
    .await?;
    let mut taken: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let mut seqs = Vec::new();
    for (seq, seller) in &due {
        if seqs.len() >= limit as usize {
            break;
        }
        let n = taken.entry(seller.as_str()).or_insert(0);
        if *n < room.left(seller) {
            *n += 1;
            seqs.push(*seq);
        }
    }
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

pub(super) async fn complete_jobs(
    s: &SqlStore,
    owner: &str,
    outcomes: Vec<(JobRecord, AttemptRecord, JobResolution)>,
    now: OffsetDateTime,
) -> StoreResult<Vec<StoreResult<bool>>> {
    // Optimistically the whole round in one transaction: one commit instead of one per call.
    let mut tx = s.write.begin().await?;
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
        let mut tx = s.write.begin().await?;
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

pub(super) async fn retry_job(
    s: &SqlStore,
    scope: &Scope,
    job_id: &str,
    actor: &PartyId,
    now: OffsetDateTime,
) -> StoreResult<Option<JobRecord>> {
    let mut tx = s.write.begin().await?;
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
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

pub(super) async fn find_job(
    s: &SqlStore,
    scope: &Scope,
    job_id: &str,
) -> StoreResult<Option<JobRecord>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
        .bind(job_id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&s.read)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

pub(super) async fn jobs_of_instance(
    s: &SqlStore,
    scope: &Scope,
    instance_id: &str,
) -> StoreResult<Vec<JobRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM jobs WHERE instance_id = $1 AND ($2 IS NULL OR seller_id = $2) ORDER BY seq",
    )
    .bind(instance_id)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn reclaim_orphaned_jobs(s: &SqlStore) -> StoreResult<u64> {
    Ok(
        sqlx::query("UPDATE jobs SET lease_until = 0 WHERE state = 'running'")
            .execute(&s.write)
            .await?
            .rows_affected(),
    )
}

pub(super) async fn next_job_due(s: &SqlStore) -> StoreResult<Option<OffsetDateTime>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END) \
         FROM jobs WHERE state IN ('pending', 'running')",
    )
    .fetch_one(&s.read)
    .await?;
    Ok(at.map(from_unix_ms))
}

/// What [`call_contexts`] loads for a batch of claimed calls, by id.
#[derive(Debug, Clone, Default)]
pub struct CallContexts {
    pub instances: std::collections::HashMap<String, InstanceRecord>,
    pub orders: std::collections::HashMap<String, OrderRecord>,
    pub parties: std::collections::HashMap<String, crate::PartyRecord>,
}

/// `SELECT * FROM table WHERE column IN ($1, …)` over the distinct `ids`, on one connection.
async fn rows_by_ids(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    ids: &std::collections::BTreeSet<String>,
) -> StoreResult<Vec<AnyRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT * FROM {table} WHERE {column} IN ({marks})");
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(&mut *conn).await?)
}

pub(super) async fn call_contexts(s: &SqlStore, jobs: &[JobRecord]) -> StoreResult<CallContexts> {
    let mut out = CallContexts::default();
    if jobs.is_empty() {
        return Ok(out);
    }
    // One connection for the three reads: one acquire instead of one per call and table.
    let mut conn = s.read.acquire().await?;
    let instance_ids = jobs.iter().map(|j| j.instance_id.clone()).collect();
    for row in rows_by_ids(&mut conn, "instances", "id", &instance_ids).await? {
        let i = instance_from_row(&row)?;
        out.instances.insert(i.id.clone(), i);
    }
    let order_ids = jobs.iter().map(|j| j.order_id.clone()).collect();
    for row in rows_by_ids(&mut conn, "orders", "id", &order_ids).await? {
        let o = order_from_row(&row)?;
        out.orders.insert(o.id.clone(), o);
    }
    let party_ids = out
        .instances
        .values()
        .map(|i| i.buyer_id.as_str().to_owned())
        .collect();
    for row in rows_by_ids(&mut conn, "parties", "id", &party_ids).await? {
        let p = crate::sql::party_from_row(&row)?;
        out.parties.insert(p.id.as_str().to_owned(), p);
    }
    Ok(out)
}
