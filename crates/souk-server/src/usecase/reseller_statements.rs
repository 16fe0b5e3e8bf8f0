//! The reseller statement's invoice and payment steps (business rules §10 row 5, §11): the
//! reseller uploads one or more VAT special invoices (files in the blob store) adding up to the
//! statement's payable and submits them; the operator approves or rejects them (with a reason),
//! then pays or rejects the payment data (with a reason, the reseller resubmits). A timer pass
//! flags statements whose invoices are late. The moves are
//! `souk_core::settlement::reseller_workflow`'s; the store persists each with a compare-and-set.

use crate::error::{AppError, AppResult};
use crate::usecase::attachments::{check_filename, open_blob, store_blob};
use crate::AppState;
use bytes::Bytes;
use futures_util::Stream;
use object_store::path::Path;
use souk_core::invoice::{self, InvoiceType};
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::reseller_workflow::{
    cashout_due as cashout_due_at, check_invoices_total, check_reseller_invoice, moved_notice,
    overdue_notice, ResellerWorkflowError,
};
use souk_core::settlement::StatementAction;
use souk_store::{
    ResellerInvoiceRecord, ResellerInvoiceState, ResellerStatementMove, ResellerStatementRecord,
    Scope, StoreError,
};
use std::str::FromStr;
use time::OffsetDateTime;

/// What the reseller says of one invoice.
#[derive(Debug, Clone, Default)]
pub struct InvoiceUpload {
    pub invoice_number: String,
    pub amount_minor: i64,
    pub tax_rate_bp: u32,
    /// `special` (the default); anything else is refused.
    pub invoice_type: Option<String>,
    pub filename: String,
}

fn refused(e: invoice::InvoiceError) -> AppError {
    match e {
        invoice::InvoiceError::Field { field, message } => AppError::invalid_field(field, message),
        invoice::InvoiceError::NotInvoiceable(m) => AppError::conflict("statement_state", m),
    }
}

fn changed_meanwhile() -> AppError {
    AppError::conflict(
        "statement_state",
        "the reseller statement changed meanwhile; read it again and retry",
    )
}

/// A statement the caller may see (its reseller, the operator), or `404`.
pub async fn visible(
    state: &AppState,
    scope: &Scope,
    id: &str,
) -> AppResult<ResellerStatementRecord> {
    state
        .store
        .reseller_statement(scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("reseller statement"))
}

fn uploaded_total(invoices: &[ResellerInvoiceRecord]) -> i64 {
    invoices
        .iter()
        .filter(|i| i.state == ResellerInvoiceState::Uploaded)
        .map(|i| i.amount.amount_minor)
        .sum()
}

/// Uploads one of the reseller's invoices for its statement (not submitted yet).
pub async fn upload_invoice<S, E>(
    state: &AppState,
    reseller: &PartyId,
    id: &str,
    input: InvoiceUpload,
    content_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> AppResult<ResellerInvoiceRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let current = visible(state, &Scope::Party(reseller.clone()), id).await?;
    if !current.state.takes_invoices() {
        return Err(AppError::conflict(
            "statement_state",
            format!(
                "a reseller statement in state {} takes no invoices: they are uploaded while it \
                 awaits them (awaiting_invoice, invoice_error)",
                current.state
            ),
        ));
    }
    let invoice_type = match input.invoice_type.as_deref().map(str::trim) {
        None | Some("") => InvoiceType::Special,
        Some(t) => InvoiceType::from_str(t).map_err(|_| {
            AppError::invalid_field("invoice_type", "special (增值税专用发票) is the one type")
        })?,
    };
    let existing = state.store.reseller_invoices(id).await?;
    check_reseller_invoice(
        current.totals.payable_minor,
        uploaded_total(&existing),
        input.amount_minor,
        invoice_type,
        input.tax_rate_bp,
    )
    .map_err(refused)?;
    let number = invoice::parse_number(&input.invoice_number).map_err(refused)?;
    let taken = |i: &ResellerInvoiceRecord| {
        i.invoice_number == number && i.state != ResellerInvoiceState::Rejected
    };
    if existing.iter().any(taken) {
        return Err(AppError::conflict(
            "invoice_exists",
            format!("invoice {number} is on this statement already"),
        ));
    }
    let filename = check_filename(&input.filename)?;
    let now = state.clock.now();
    let invoice_id = souk_core::id::generate("rsi", now);
    let key = format!("reseller-invoices/{}/{invoice_id}", current.id);
    let blob = store_blob(state, &key, content_type, content_length, body).await?;
    let record = ResellerInvoiceRecord {
        id: invoice_id,
        statement_id: current.id.clone(),
        reseller_id: reseller.clone(),
        invoice_number: number,
        amount: Money::new(input.amount_minor, current.currency),
        tax_rate_bp: input.tax_rate_bp,
        filename,
        content_type: blob.content_type,
        size_bytes: blob.size_bytes,
        sha256: blob.sha256,
        storage_key: key,
        state: ResellerInvoiceState::Uploaded,
        created_at: now,
    };
    let added = state.store.add_reseller_invoice(&record, now).await;
    if added.is_err() {
        // Not recorded: its file is not kept.
        let _ = state
            .blobs
            .delete(&Path::from(record.storage_key.as_str()))
            .await;
    }
    match added {
        Ok(()) => Ok(record),
        Err(StoreError::LostRace { .. }) => Err(changed_meanwhile()),
        Err(StoreError::Conflict { .. }) => Err(AppError::conflict(
            "invoice_exists",
            "an invoice with this number is on this statement already",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes an uploaded, not yet submitted invoice (its reseller).
pub async fn remove_invoice(
    state: &AppState,
    reseller: &PartyId,
    id: &str,
    invoice_id: &str,
) -> AppResult<()> {
    let current = visible(state, &Scope::Party(reseller.clone()), id).await?;
    let now = state.clock.now();
    match state
        .store
        .remove_reseller_invoice(reseller, id, invoice_id, now)
        .await?
    {
        Some(removed) => {
            let _ = state
                .blobs
                .delete(&Path::from(removed.storage_key.as_str()))
                .await;
            Ok(())
        }
        None if !current.state.takes_invoices() => Err(AppError::conflict(
            "statement_state",
            "submitted invoices stay with the statement; only uploaded ones can be removed",
        )),
        None => Err(AppError::not_found("reseller invoice")),
    }
}

/// One workflow action on a reseller statement: submit the uploaded invoices or resubmit the
/// payment data (its reseller); approve or reject the invoices, pay or reject the payment (the
/// operator).
pub async fn move_statement(
    state: &AppState,
    scope: &Scope,
    role: Role,
    actor: &PartyId,
    id: &str,
    action: StatementAction,
    reason: Option<String>,
) -> AppResult<ResellerStatementRecord> {
    let current = visible(state, scope, id).await?;
    let transition = current.state.take(action, role).map_err(|e| match e {
        ResellerWorkflowError::WrongActor(..) => AppError::forbidden(e.to_string()),
        e => AppError::conflict("statement_state", e.to_string()),
    })?;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if action.needs_reason() && reason.is_none() {
        return Err(AppError::invalid_field(
            "reason",
            "say what is wrong (amount, rate, stamp, payment data)",
        ));
    }
    if action == StatementAction::SubmitInvoice {
        let invoices = state.store.reseller_invoices(id).await?;
        check_invoices_total(current.totals.payable_minor, uploaded_total(&invoices))
            .map_err(|m| AppError::conflict("invoice_total", m))?;
    }
    let payable = Money::new(current.totals.payable_minor, current.currency);
    let m = ResellerStatementMove {
        id: current.id.clone(),
        transition,
        action,
        notice: moved_notice(&current.id, transition.to, reason.as_deref(), payable),
        reason,
    };
    match state
        .store
        .move_reseller_statement(scope, &m, actor, state.clock.now())
        .await
    {
        Err(StoreError::LostRace { .. }) => Err(changed_meanwhile()),
        r => Ok(r?),
    }
}

/// When a statement in payment review is to be paid (`None` in other states): the reseller's
/// cash-out days after it entered payment review (its last move, `updated_at`: uploads only
/// touch statements that await invoices).
pub fn cashout_due(
    state: &AppState,
    s: &ResellerStatementRecord,
) -> AppResult<Option<OffsetDateTime>> {
    let calendar = state
        .config
        .after_sale_calendar()
        .map_err(AppError::internal)?;
    let days = state.config.settlement.reseller_cashout_working_days;
    Ok(cashout_due_at(s.state, s.updated_at, days, &calendar))
}

/// One invoice's record and a stream of its file (its reseller, the operator).
pub async fn invoice_file(
    state: &AppState,
    scope: &Scope,
    id: &str,
    invoice_id: &str,
) -> AppResult<(
    ResellerInvoiceRecord,
    impl Stream<Item = object_store::Result<Bytes>>,
)> {
    visible(state, scope, id).await?;
    let file = state
        .store
        .reseller_invoices(id)
        .await?
        .into_iter()
        .find(|i| i.id == invoice_id)
        .ok_or_else(|| AppError::not_found("reseller invoice"))?;
    let stream = open_blob(state, &file.storage_key).await?;
    Ok((file, stream))
}

/// Timer pass `reseller_invoice_overdue`: statements still awaiting invoices past their due
/// time are flagged once and the reseller is told (message and e-mail).
pub async fn overdue_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut flagged = 0;
    for s in state.store.due_reseller_invoices(now, 200).await? {
        let due = s.invoice_due_at.unwrap_or(now);
        if state
            .store
            .flag_reseller_overdue(&s.id, &overdue_notice(&s.id, due), now)
            .await?
        {
            flagged += 1;
        }
    }
    Ok(flagged)
}
