//! A seller's invoice to the platform for its statement (business rules §9, §10 row 3): the
//! file (blob store), its number, its amount (the statement's invoice total) and its one tax
//! rate. Submitting it is the statement workflow's own `submit_invoice` step (awaiting_invoice
//! or invoice_error → invoice_review); the operator then approves it (→ payment_review) or
//! rejects it with a reason (→ invoice_error) with `POST /v1/statements/{id}/transitions`.

use crate::error::{AppError, AppResult};
use crate::usecase::attachments::{check_filename, open_blob, store_blob};
use crate::AppState;
use bytes::Bytes;
use futures_util::Stream;
use object_store::path::Path;
use souk_core::invoice;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::notice::statement_moved;
use souk_core::settlement::StatementAction;
use souk_store::{Scope, StatementInvoiceRecord, StatementMove, StatementRecord, StoreError};

/// What the seller says of its invoice.
#[derive(Debug, Clone)]
pub struct InvoiceUpload {
    pub invoice_number: String,
    pub amount_minor: i64,
    pub tax_rate_bp: u32,
    pub filename: String,
}

/// The statement's invoice total: what the platform pays the seller for the period.
pub fn invoice_total(s: &StatementRecord) -> i64 {
    s.totals.payable_minor
}

/// Uploads the seller's invoice for its statement and moves the statement to invoice review.
pub async fn submit<S, E>(
    state: &AppState,
    seller: &PartyId,
    id: &str,
    input: InvoiceUpload,
    content_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> AppResult<StatementRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let scope = Scope::Party(seller.clone());
    let current = state
        .store
        .statement(&scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("statement"))?;
    let action = StatementAction::SubmitInvoice;
    let transition = current
        .state
        .take(action, Role::Seller)
        .map_err(|e| AppError::conflict("statement_state", e.to_string()))?;
    let refused = |e: invoice::InvoiceError| match e {
        invoice::InvoiceError::Field { field, message } => AppError::invalid_field(field, message),
        invoice::InvoiceError::NotInvoiceable(m) => AppError::conflict("statement_state", m),
    };
    invoice::check_statement_invoice(
        invoice_total(&current),
        input.amount_minor,
        input.tax_rate_bp,
    )
    .map_err(refused)?;
    let number = invoice::parse_number(&input.invoice_number).map_err(refused)?;
    let filename = check_filename(&input.filename)?;
    let now = state.clock.now();
    let file_id = souk_core::id::generate("sti", now);
    let key = format!("statement-invoices/{}/{file_id}", current.id);
    let blob = store_blob(state, &key, content_type, content_length, body).await?;
    let file = StatementInvoiceRecord {
        id: file_id,
        statement_id: current.id.clone(),
        seller_id: seller.clone(),
        invoice_number: number.clone(),
        amount: Money {
            amount_minor: input.amount_minor,
            currency: current.currency,
        },
        tax_rate_bp: input.tax_rate_bp,
        filename,
        content_type: blob.content_type,
        size_bytes: blob.size_bytes,
        sha256: blob.sha256,
        storage_key: key,
        created_at: now,
    };
    let m = StatementMove {
        id: current.id.clone(),
        transition,
        action,
        reason: None,
        invoice_number: Some(number),
        invoice_file: Some(file.clone()),
        notice: statement_moved(&current.id, transition.to, None),
        due_at: super::statement_deadlines::due_at(state, transition.to, now)?,
    };
    let moved = state
        .store
        .move_statement(&scope, &m, Some(seller), now)
        .await;
    if moved.is_err() {
        // The statement did not move: its file is not kept.
        let _ = state
            .blobs
            .delete(&Path::from(file.storage_key.as_str()))
            .await;
    }
    match moved {
        Err(StoreError::LostRace { .. }) => Err(AppError::conflict(
            "statement_state",
            "the statement changed meanwhile; read it again and retry",
        )),
        r => Ok(r?),
    }
}

/// The statement's latest invoice and a stream of its file (its seller, the operator).
pub async fn latest_file(
    state: &AppState,
    scope: &Scope,
    id: &str,
) -> AppResult<(
    StatementInvoiceRecord,
    impl Stream<Item = object_store::Result<Bytes>>,
)> {
    state
        .store
        .statement(scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("statement"))?;
    let file = state
        .store
        .statement_invoices(id)
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("statement invoice"))?;
    let stream = open_blob(state, &file.storage_key).await?;
    Ok((file, stream))
}
