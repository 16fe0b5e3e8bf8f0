//! The provisioning outbox: `jobs` rows (one per seller call), claimed with a lease, moved by
//! the core's job state machine ([`transition_job`]), retried on the seller's request, and
//! reclaimed after a crash. Recording an attempt's outcome is `completion.rs`.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

/// A call to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: CallKind,
    pub instance_id: InstanceId,
    /// The orderId sent to the seller: stable for every attempt of this call.
    pub order_id: OrderId,
    pub seller_id: PartyId,
    pub product_id: String,
    /// What the call needs beyond the instance and order (its kind's shape).
    pub payload: CallPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub seq: i64,
    pub id: JobId,
    pub kind: CallKind,
    pub state: JobState,
    /// `send`, or `poll` after the seller answered 000004.
    pub phase: String,
    pub instance_id: InstanceId,
    pub order_id: OrderId,
    pub seller_id: PartyId,
    pub product_id: String,
    /// The stored payload as it is (what `GET /v1/calls/{id}` shows); read it with
    /// [`JobRecord::call_payload`].
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

impl JobRecord {
    /// The payload read with this call kind's shape: a missing or unknown field is an error.
    pub fn call_payload(&self) -> Result<CallPayload, serde_json::Error> {
        CallPayload::deserialize_for(self.kind, &self.payload)
    }
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

pub use souk_core::call_payload::{CallPayload, CodeChange, RenewalTerm};
pub use souk_core::outbox::JobResolution;

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

/// The line recorded for a call that was in flight when its process stopped.
pub(super) fn interrupted_attempt(job: &JobRecord, now: OffsetDateTime) -> AttemptRecord {
    AttemptRecord {
        id: AttemptId::generate(now),
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
        id: JobId::from_trusted(row.try_get("id")?),
        kind: parse(row, "kind")?,
        state: parse(row, "state")?,
        phase: row.try_get("phase")?,
        instance_id: InstanceId::from_trusted(row.try_get("instance_id")?),
        order_id: OrderId::from_trusted(row.try_get("order_id")?),
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
    conn: &mut impl Exec,
    job: &NewJob,
    now: OffsetDateTime,
) -> StoreResult<()> {
    conn.exec(job_query(job, now)).await?;
    Ok(())
}

/// The statement [`insert_job`] runs, for a [`Batch`].
pub(super) fn job_query<'q>(job: &'q NewJob, now: OffsetDateTime) -> BatchQuery<'q> {
    debug_assert!(
        job.payload.fits(job.kind),
        "{:?} for {}",
        job.payload,
        job.kind
    );
    sqlx::query(
        "INSERT INTO jobs (id, kind, state, phase, instance_id, order_id, seller_id, product_id, \
         payload, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $9, 'send', $3, $4, $5, $6, $7, 0, $8, $8)",
    )
    .bind(JobId::generate(now).as_str().to_owned())
    .bind(job.kind.as_str())
    .bind(job.instance_id.as_str())
    .bind(job.order_id.as_str())
    .bind(job.seller_id.as_str())
    .bind(&job.product_id)
    .bind(serde_json::to_string(&job.payload).unwrap_or_else(|_| "{}".into()))
    .bind(to_unix_ms(now))
    .bind(JobState::START.as_str())
}

/// What a job transition sets besides its state (absent: unchanged).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct JobPatch<'a> {
    pub phase: Option<&'a str>,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub first_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<&'a str>,
    /// Only if this worker still holds the job's lease.
    pub lease_owner: Option<&'a str>,
}

/// Persists a job transition the core decided: compare-and-set on `t.from` (and on the lease,
/// when `patch.lease_owner` is given); the lease is released, and a finished job records when.
/// A row that moved on meanwhile is [`StoreError::LostRace`] and nothing changes.
pub(super) async fn transition_job(
    conn: &mut impl Exec,
    id: &JobId,
    t: Transition<JobState>,
    patch: JobPatch<'_>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let finished = matches!(t.to, JobState::Succeeded | JobState::Failed);
    let query = sqlx::query(
        "UPDATE jobs SET state = $1, phase = COALESCE($2, phase), \
         next_attempt_at = COALESCE($3, next_attempt_at), \
         first_attempt_at = COALESCE($4, first_attempt_at), \
         last_error = COALESCE($5, last_error), finished_at = $6, \
         lease_owner = NULL, lease_until = NULL \
         WHERE id = $7 AND state = $8 AND ($9 IS NULL OR lease_owner = $9)",
    )
    .bind(t.to.as_str())
    .bind(patch.phase)
    .bind(patch.next_attempt_at.map(to_unix_ms))
    .bind(patch.first_attempt_at.map(to_unix_ms))
    .bind(patch.last_error)
    .bind(finished.then(|| to_unix_ms(now)))
    .bind(id.as_str())
    .bind(t.from.as_str())
    .bind(patch.lease_owner);
    if conn.exec(query).await? == 0 {
        return Err(lost_race("job", id.as_str(), t));
    }
    Ok(())
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
    let claim = Claim {
        backend: s.backend,
        owner,
        now,
        lease_until,
        limit,
        room,
    };
    let mut jobs = match &s.writer {
        Some(writer) => {
            writer
                .unit(&s.write, |u| run_now(claim_in(u, &claim))?)
                .await?
        }
        None => {
            let mut tx = s.write.begin().await?;
            let jobs = claim_in(&mut *tx, &claim).await?;
            tx.commit().await?;
            jobs
        }
    };
    jobs.sort_by_key(|j| j.seq);
    Ok(jobs)
}

/// What [`claim_in`] claims.
struct Claim<'a> {
    backend: Backend,
    owner: &'a str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
    room: &'a SellerRoom,
}

/// Claims due jobs inside the caller's transaction.
async fn claim_in(tx: &mut impl Exec, c: &Claim<'_>) -> StoreResult<Vec<JobRecord>> {
    let Claim {
        backend,
        owner,
        now,
        lease_until,
        limit,
        room,
    } = *c;
    let lock = match backend {
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
    let due_sql = format!(
        "SELECT j.seq, j.seller_id FROM jobs j \
         WHERE ((j.state = 'pending' AND j.next_attempt_at <= $1) \
             OR (j.state = 'running' AND j.lease_until < $1)) \
           {skip_full}\
           AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.instance_id = j.instance_id \
                           AND e.seq < j.seq AND e.state IN ('pending', 'running')) \
         ORDER BY j.next_attempt_at, j.seq LIMIT $2 {lock}"
    );
    let due: Vec<(i64, String)> = tx
        .all(
            sqlx::query(&due_sql)
                .bind(to_unix_ms(now))
                .bind(limit as i64 * over),
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get("seq")?, r.try_get("seller_id")?)))
        .collect::<StoreResult<_>>()?;
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
    let orphans_sql = format!("SELECT * FROM jobs WHERE seq IN ({list}) AND state = 'running'");
    let orphans = tx.all(sqlx::query(&orphans_sql)).await?;
    for row in &orphans {
        let job = job_from_row(row)?;
        insert_attempt(tx, &interrupted_attempt(&job, now)).await?;
    }
    // Pending and lease-expired running jobs alike become running (the core's Claim).
    let claimed = JobState::Pending
        .apply(JobEvent::Claim)
        .map_err(|e| corrupt("job", e))?;
    let claim_sql = format!(
        "UPDATE jobs SET state = $4, lease_owner = $1, lease_until = $2, \
         attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, $3) \
         WHERE seq IN ({list}) RETURNING *"
    );
    let rows = tx
        .all(
            sqlx::query(&claim_sql)
                .bind(owner)
                .bind(to_unix_ms(lease_until))
                .bind(to_unix_ms(now))
                .bind(claimed.as_str()),
        )
        .await?;
    rows.iter().map(job_from_row).collect()
}

pub(super) async fn retry_job(
    s: &SqlStore,
    scope: &Scope,
    job_id: &JobId,
    actor: &PartyId,
    now: OffsetDateTime,
) -> StoreResult<Option<JobRecord>> {
    let mut tx = s.write.begin().await?;
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
        .bind(job_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(job) = row.as_ref().map(job_from_row).transpose()? else {
        return Ok(None);
    };
    if let Ok(retry) = job.state.transition(JobEvent::RetryNow) {
        // The window restarts: one attempt now, then the usual schedule.
        let restart = JobPatch {
            next_attempt_at: Some(now),
            first_attempt_at: Some(now),
            ..JobPatch::default()
        };
        transition_job(&mut tx, job_id, retry, restart, now).await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "job.retry_requested",
            job_id.as_str(),
            serde_json::json!({ "previous_state": job.state }),
        )
        .await?;
    }
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(job_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let job = job_from_row(&row)?;
    tx.commit().await?;
    Ok(Some(job))
}

pub(super) async fn find_job(
    s: &SqlStore,
    scope: &Scope,
    job_id: &JobId,
) -> StoreResult<Option<JobRecord>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
        .bind(job_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&s.read)
        .await?;
    row.as_ref().map(job_from_row).transpose()
}

pub(super) async fn jobs_of_instance(
    s: &SqlStore,
    scope: &Scope,
    instance_id: &InstanceId,
) -> StoreResult<Vec<JobRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM jobs WHERE instance_id = $1 AND ($2 IS NULL OR seller_id = $2) ORDER BY seq",
    )
    .bind(instance_id.as_str())
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
    pub instances: std::collections::HashMap<InstanceId, InstanceRecord>,
    pub orders: std::collections::HashMap<OrderId, OrderRecord>,
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
    let instance_ids = jobs.iter().map(|j| j.instance_id.to_string()).collect();
    for row in rows_by_ids(&mut conn, "instances", "id", &instance_ids).await? {
        let i = instance_from_row(&row)?;
        out.instances.insert(i.id.clone(), i);
    }
    let order_ids = jobs.iter().map(|j| j.order_id.to_string()).collect();
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
