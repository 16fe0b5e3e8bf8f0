//! The reseller statement's workflow after issuing (§10 row 5): the reseller's invoices (one
//! row per uploaded file, the file in the blob store) and the moves, each a compare-and-set on
//! the state it was decided from with the reseller's notice and an audit record in the same
//! transaction. Who may move what is `souk_core::settlement::reseller_workflow`.

use super::*;
use crate::commerce::insert_notice;
use crate::settlement::statements::{post, Movement};
use souk_core::settlement::StatementAction;

/// Where one of the reseller's invoices is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResellerInvoiceState {
    /// Uploaded, not submitted yet: the reseller may remove it.
    Uploaded,
    /// Submitted with the others of its statement; under review.
    Submitted,
    Accepted,
    Rejected,
}

impl ResellerInvoiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResellerInvoiceState::Uploaded => "uploaded",
            ResellerInvoiceState::Submitted => "submitted",
            ResellerInvoiceState::Accepted => "accepted",
            ResellerInvoiceState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "uploaded" => ResellerInvoiceState::Uploaded,
            "submitted" => ResellerInvoiceState::Submitted,
            "accepted" => ResellerInvoiceState::Accepted,
            "rejected" => ResellerInvoiceState::Rejected,
            other => return Err(corrupt("reseller invoice state", other)),
        })
    }
}

/// One VAT special invoice a reseller uploaded for one of its statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResellerInvoiceRecord {
    pub id: String,
    pub statement_id: String,
    pub reseller_id: PartyId,
    pub invoice_number: String,
    pub amount: Money,
    pub tax_rate_bp: u32,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes, taken while they streamed in.
    pub sha256: String,
    pub storage_key: String,
    pub state: ResellerInvoiceState,
    pub created_at: OffsetDateTime,
}

/// One move of a reseller statement through its workflow.
#[derive(Debug, Clone)]
pub struct ResellerStatementMove {
    pub id: String,
    /// Decided by the core from the state the caller read; persisted with a compare-and-set.
    pub transition: Transition<ResellerStatementState>,
    pub action: StatementAction,
    pub reason: Option<String>,
    pub notice: souk_core::notice::Notice,
}

/// The statement states in which the reseller adds or removes invoices.
const TAKES_INVOICES: &str = "state IN ('awaiting_invoice', 'invoice_error')";

/// Locks the reseller's statement while it takes invoices (a no-op update: a row lock on
/// PostgreSQL until the transaction ends); `false` when it does not take invoices now.
async fn hold_open_statement(
    conn: &mut AnyConnection,
    reseller: &PartyId,
    statement_id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(&format!(
        "UPDATE reseller_statements SET updated_at = $1 WHERE id = $2 AND reseller_id = $3 \
         AND {TAKES_INVOICES}"
    ))
    .bind(to_unix_ms(now))
    .bind(statement_id)
    .bind(reseller.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn invoice_detail(r: &ResellerInvoiceRecord) -> serde_json::Value {
    serde_json::json!({
        "invoice_id": r.id, "invoice_number": r.invoice_number,
        "amount_minor": r.amount.amount_minor, "tax_rate_bp": r.tax_rate_bp, "sha256": r.sha256,
    })
}

pub(super) async fn add_invoice(
    s: &SqlStore,
    r: &ResellerInvoiceRecord,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let mut tx = s.write.begin().await?;
    if !hold_open_statement(&mut tx, &r.reseller_id, &r.statement_id, now).await? {
        return Err(StoreError::LostRace {
            what: "reseller statement",
            id: r.statement_id.clone(),
            expected: "awaiting_invoice",
        });
    }
    sqlx::query(
        "INSERT INTO reseller_statement_invoices (id, statement_id, reseller_id, \
         invoice_number, invoice_type, amount_minor, currency, tax_rate_bp, filename, \
         content_type, size_bytes, sha256, storage_key, state, created_at) VALUES ($1, $2, $3, \
         $4, 'special', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&r.id)
    .bind(&r.statement_id)
    .bind(r.reseller_id.as_str())
    .bind(&r.invoice_number)
    .bind(r.amount.amount_minor)
    .bind(r.amount.currency.as_str())
    .bind(r.tax_rate_bp as i64)
    .bind(&r.filename)
    .bind(&r.content_type)
    .bind(r.size_bytes)
    .bind(&r.sha256)
    .bind(&r.storage_key)
    .bind(r.state.as_str())
    .bind(to_unix_ms(r.created_at))
    .execute(&mut *tx)
    .await?;
    let action = "reseller_statement.invoice_uploaded";
    audit(
        &mut tx,
        now,
        Some(&r.reseller_id),
        action,
        &r.statement_id,
        invoice_detail(r),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn remove_invoice(
    s: &SqlStore,
    reseller: &PartyId,
    statement_id: &str,
    invoice_id: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<ResellerInvoiceRecord>> {
    let mut tx = s.write.begin().await?;
    if !hold_open_statement(&mut tx, reseller, statement_id, now).await? {
        return Ok(None);
    }
    let row = sqlx::query(
        "DELETE FROM reseller_statement_invoices WHERE id = $1 AND statement_id = $2 \
         AND state = 'uploaded' RETURNING *",
    )
    .bind(invoice_id)
    .bind(statement_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let removed = invoice_from_row(&row)?;
    let action = "reseller_statement.invoice_removed";
    let detail = invoice_detail(&removed);
    audit(&mut tx, now, Some(reseller), action, statement_id, detail).await?;
    tx.commit().await?;
    Ok(Some(removed))
}

fn invoice_from_row(r: &AnyRow) -> StoreResult<ResellerInvoiceRecord> {
    let currency: String = r.try_get("currency")?;
    Ok(ResellerInvoiceRecord {
        id: r.try_get("id")?,
        statement_id: r.try_get("statement_id")?,
        reseller_id: PartyId::from_trusted(r.try_get("reseller_id")?),
        invoice_number: r.try_get("invoice_number")?,
        amount: Money::new(
            r.try_get("amount_minor")?,
            Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
        ),
        tax_rate_bp: r.try_get::<i64, _>("tax_rate_bp")? as u32,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        sha256: r.try_get("sha256")?,
        storage_key: r.try_get("storage_key")?,
        state: ResellerInvoiceState::parse(&r.try_get::<String, _>("state")?)?,
        created_at: from_unix_ms(r.try_get("created_at")?),
    })
}

pub(super) async fn invoices(
    s: &SqlStore,
    statement_id: &str,
) -> StoreResult<Vec<ResellerInvoiceRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM reseller_statement_invoices WHERE statement_id = $1 ORDER BY id",
    )
    .bind(statement_id)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(invoice_from_row).collect()
}

/// How a move changes the statement's invoices: (from, to).
fn invoices_move(action: StatementAction) -> Option<(ResellerInvoiceState, ResellerInvoiceState)> {
    use ResellerInvoiceState as I;
    match action {
        StatementAction::SubmitInvoice => Some((I::Uploaded, I::Submitted)),
        StatementAction::ApproveInvoice => Some((I::Submitted, I::Accepted)),
        StatementAction::RejectInvoice => Some((I::Submitted, I::Rejected)),
        _ => None,
    }
}

pub(super) async fn move_statement(
    s: &SqlStore,
    scope: &Scope,
    m: &ResellerStatementMove,
    actor: &PartyId,
    now: OffsetDateTime,
) -> StoreResult<ResellerStatementRecord> {
    let t = m.transition;
    let mut tx = s.write.begin().await?;
    // Submitting: the uploaded invoices must add up to the payable in this very transaction
    // (a removal or an upload racing the submit makes it a lost race, not a wrong total).
    let totals_match = if m.action == StatementAction::SubmitInvoice {
        " AND payable_minor = (SELECT COALESCE(SUM(i.amount_minor), 0) FROM \
         reseller_statement_invoices i WHERE i.statement_id = reseller_statements.id \
         AND i.state = 'uploaded')"
    } else {
        ""
    };
    let row = sqlx::query(&format!(
        "UPDATE reseller_statements SET state = $1, updated_at = $2, \
         reason = COALESCE($3, reason) WHERE id = $4 AND state = $5 \
         AND ($6 IS NULL OR reseller_id = $6){totals_match} RETURNING *"
    ))
    .bind(t.to.as_str())
    .bind(to_unix_ms(now))
    .bind(m.reason.clone())
    .bind(&m.id)
    .bind(t.from.as_str())
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(lost_race("reseller statement", &m.id, t));
    };
    let record = statement_from_row(&row)?;
    if let Some((from, to)) = invoices_move(m.action) {
        sqlx::query(
            "UPDATE reseller_statement_invoices SET state = $1 WHERE statement_id = $2 \
             AND state = $3",
        )
        .bind(to.as_str())
        .bind(&record.id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
    }
    if t.to == ResellerStatementState::Paid && record.totals.payable_minor != 0 {
        let reseller = Some(record.reseller_id.as_str());
        let payout = Movement {
            from: accounts::RESELLER_PAYABLE,
            from_party: reseller,
            to: accounts::PAYOUTS,
            to_party: reseller,
            amount: record.totals.payable_minor,
            memo: "reseller payout",
        };
        post(&mut tx, &record.id, record.currency, &payout, now).await?;
    }
    insert_notice(
        &mut tx,
        &record.reseller_id,
        &m.notice,
        Some(&record.id),
        now,
    )
    .await?;
    let detail = serde_json::json!({
        "from": t.from.as_str(), "to": t.to.as_str(), "reason": m.reason,
    });
    let action = format!("reseller_statement.{}", m.action.as_str());
    audit(&mut tx, now, Some(actor), &action, &record.id, detail).await?;
    tx.commit().await?;
    Ok(record)
}

pub(super) async fn due(
    s: &SqlStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<ResellerStatementRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM reseller_statements WHERE state = 'awaiting_invoice' \
         AND invoice_due_at <= $1 AND overdue_at IS NULL ORDER BY invoice_due_at, id LIMIT $2",
    )
    .bind(to_unix_ms(now))
    .bind(limit as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(statement_from_row).collect()
}

pub(super) async fn flag_overdue(
    s: &SqlStore,
    id: &str,
    notice: &souk_core::notice::Notice,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let mut tx = s.write.begin().await?;
    let reseller: Option<String> = sqlx::query_scalar(
        "UPDATE reseller_statements SET overdue_at = $1 WHERE id = $2 \
         AND state = 'awaiting_invoice' AND overdue_at IS NULL RETURNING reseller_id",
    )
    .bind(to_unix_ms(now))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(reseller) = reseller else {
        return Ok(false);
    };
    let reseller = PartyId::from_trusted(reseller);
    insert_notice(&mut tx, &reseller, notice, Some(id), now).await?;
    let action = "reseller_statement.invoice_overdue";
    audit(&mut tx, now, None, action, id, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(true)
}
