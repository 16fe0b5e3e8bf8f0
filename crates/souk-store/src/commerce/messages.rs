//! What sellers and buyers read about provisioning: the call attempts (production interface
//! messages) and the message centre.

use super::*;

// ---------------------------------------------------------------------------------------------
// Records

/// One attempt of a call, as recorded for the seller and the operator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub id: AttemptId,
    pub job_id: JobId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub instance_id: InstanceId,
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

// ---------------------------------------------------------------------------------------------
// Row mapping and helpers used inside transactions

pub(super) fn attempt_from_row(row: &AnyRow) -> StoreResult<AttemptRecord> {
    Ok(AttemptRecord {
        id: AttemptId::from_trusted(row.try_get("id")?),
        job_id: JobId::from_trusted(row.try_get("job_id")?),
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        product_id: row.try_get("product_id")?,
        instance_id: InstanceId::from_trusted(row.try_get("instance_id")?),
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

pub(super) fn message_from_row(row: &AnyRow) -> StoreResult<MessageRecord> {
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

/// Records a notice in a party's message centre (its wording comes from `souk_core::notice`)
/// and queues its e-mail to the party's people (`console_mail`).
pub(crate) async fn insert_notice(
    conn: &mut impl Exec,
    party: &PartyId,
    notice: &souk_core::notice::Notice,
    ref_id: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let id = souk_core::id::generate("msg", now);
    conn.exec(
        sqlx::query(
            "INSERT INTO messages (id, party_id, kind, subject, body, ref_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.clone())
        .bind(party.as_str())
        .bind(notice.kind)
        .bind(&notice.subject)
        .bind(&notice.body)
        .bind(ref_id.map(str::to_owned))
        .bind(to_unix_ms(now)),
    )
    .await?;
    // The same notice by e-mail, in the same transaction: never lost, never sent twice.
    crate::console_mail::enqueue_notice(conn, party, &id, notice, now).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The implementation

pub(super) async fn list_attempts(
    s: &SqlStore,
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
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(attempt_from_row).collect()
}

pub(super) async fn list_messages(
    s: &SqlStore,
    scope: &Scope,
    page: &Page,
) -> StoreResult<Vec<MessageRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM messages WHERE ($1 IS NULL OR party_id = $1) AND ($2 IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(scope.tenant().map(str::to_owned))
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(message_from_row).collect()
}
