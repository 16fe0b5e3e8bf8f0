//! The platform's invoice to a seller for its platform fee (business rules §10 row 4): the
//! seller requests one over one or more of its paid statements (all periods together, refunds
//! netted), the operator issues it (number + file into the blob store) or rejects it with a
//! reason, and may void an issued one; the seller and the operator download the file. The rules
//! are `souk_core::fee_invoice`; the API and the consoles both call these functions.

use crate::error::{AppError, AppResult};
use crate::usecase::attachments::{check_filename, open_blob, store_blob};
use crate::AppState;
use bytes::Bytes;
use futures_util::Stream;
use object_store::path::Path;
use souk_core::fee_invoice::{
    self, Covered, FeeInvoiceAction, FeeInvoiceError, FeeInvoiceState, FeeInvoiceType,
};
use souk_core::invoice;
use souk_core::party::PartyId;
use souk_core::transition::StateMachine;
use souk_store::{
    FeeInvoiceFile, FeeInvoiceFilter, FeeInvoiceMove, FeeInvoiceRecord, Page, Scope, StoreError,
    FEE_INVOICE_ONE_OPEN,
};

fn refused(e: FeeInvoiceError) -> AppError {
    match e {
        FeeInvoiceError::Field { field, message } => AppError::invalid_field(field, message),
        FeeInvoiceError::NotPaid(m) => AppError::conflict("statement_state", m),
        FeeInvoiceError::NotInvoiceable(m) => AppError::conflict("not_invoiceable", m),
    }
}

fn wrong_state(e: impl std::fmt::Display) -> AppError {
    AppError::conflict("fee_invoice_state", e.to_string())
}

fn lost_race() -> AppError {
    wrong_state("the fee invoice changed while this request was handled; read it again")
}

/// What the seller fills in.
#[derive(Debug, Clone)]
pub struct FeeInvoiceRequest {
    pub statement_ids: Vec<String>,
    pub invoice_type: FeeInvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
}

/// The seller asks for the platform-fee invoice of some of its paid statements.
pub async fn request(
    state: &AppState,
    seller: &PartyId,
    input: FeeInvoiceRequest,
) -> AppResult<FeeInvoiceRecord> {
    let ids = fee_invoice::parse_statement_ids(&input.statement_ids).map_err(refused)?;
    // The statements first: someone else's is a 404 whatever else the request says.
    let scope = Scope::Party(seller.clone());
    let mut statements = Vec::with_capacity(ids.len());
    for id in &ids {
        let st = state
            .store
            .statement(&scope, id)
            .await?
            .ok_or_else(|| AppError::not_found("statement"))?;
        let lines = state.store.statement_lines(id).await?;
        statements.push((st, lines));
    }
    let details = fee_invoice::parse_details(
        input.invoice_type,
        &input.title,
        input.tax_id.as_deref(),
        &input.email,
    )
    .map_err(refused)?;
    let covered: Vec<Covered<'_>> = statements
        .iter()
        .map(|(st, lines)| Covered {
            id: &st.id,
            currency: st.currency,
            state: st.state,
            lines,
        })
        .collect();
    let amount = fee_invoice::amount(&covered).map_err(refused)?;
    let now = state.clock.now();
    let record = FeeInvoiceRecord {
        id: souk_core::id::generate("fiv", now),
        seller_id: seller.clone(),
        invoice_type: details.invoice_type,
        title: details.title,
        tax_id: details.tax_id,
        email: details.email,
        amount,
        statement_ids: ids,
        state: FeeInvoiceState::START,
        reason: None,
        invoice_number: None,
        file: None,
        requested_at: now,
        issued_at: None,
        updated_at: now,
    };
    match state.store.create_fee_invoice(&record).await {
        Err(StoreError::Conflict { constraint, .. }) if constraint == FEE_INVOICE_ONE_OPEN => {
            Err(AppError::conflict(
                "fee_invoice_exists",
                "a chosen statement is already on a fee invoice that is requested or issued; \
                 it can be requested again once that one is rejected or voided",
            ))
        }
        other => other.map(|_| record).map_err(Into::into),
    }
}

/// One fee invoice the caller may see (its seller, the operator); anyone else: 404.
pub async fn visible(state: &AppState, scope: &Scope, id: &str) -> AppResult<FeeInvoiceRecord> {
    state
        .store
        .fee_invoice(scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("fee invoice"))
}

/// The seller's fee invoices, or all of them (operator).
pub async fn list(
    state: &AppState,
    scope: &Scope,
    filter: &FeeInvoiceFilter,
    page: &Page,
) -> AppResult<Vec<FeeInvoiceRecord>> {
    Ok(state.store.fee_invoices(scope, filter, page).await?)
}

/// What the operator says of the invoice it uploads.
pub struct Issued<'a> {
    /// As printed on the invoice.
    pub invoice_number: &'a str,
    pub filename: &'a str,
}

/// The operator issues a requested fee invoice: its number and the file (PDF or OFD), which
/// streams into the blob store; the seller is told. The file is not kept if the move fails.
pub async fn issue<S, E>(
    state: &AppState,
    operator: &PartyId,
    id: &str,
    what: Issued<'_>,
    content_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> AppResult<FeeInvoiceRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let current = visible(state, &Scope::Everything, id).await?;
    let transition = current
        .state
        .transition(FeeInvoiceAction::Issue)
        .map_err(wrong_state)?;
    let number = invoice::parse_number(what.invoice_number)
        .map_err(|e| refused(FeeInvoiceError::from(e)))?;
    let filename = check_filename(what.filename)?;
    let now = state.clock.now();
    let key = format!(
        "fee-invoices/{}/{}",
        current.id,
        souk_core::id::generate("fif", now)
    );
    let blob = store_blob(state, &key, content_type, content_length, body).await?;
    let m = FeeInvoiceMove {
        id: current.id.clone(),
        transition,
        reason: None,
        invoice_number: Some(number),
        file: Some(FeeInvoiceFile {
            filename,
            content_type: blob.content_type,
            size_bytes: blob.size_bytes,
            sha256: blob.sha256,
            storage_key: key.clone(),
        }),
        notice: fee_invoice::moved_notice(&current.id, transition.to, None),
    };
    let moved = state.store.move_fee_invoice(&m, operator, now).await;
    if moved.is_err() {
        let _ = state.blobs.delete(&Path::from(key.as_str())).await;
    }
    match moved {
        Err(StoreError::LostRace { .. }) => Err(lost_race()),
        other => other.map_err(Into::into),
    }
}

/// The operator rejects a request or voids an issued invoice, with a reason either way; the
/// seller is told and its statements may be requested again.
pub async fn act(
    state: &AppState,
    operator: &PartyId,
    id: &str,
    action: FeeInvoiceAction,
    reason: Option<&str>,
) -> AppResult<FeeInvoiceRecord> {
    let current = visible(state, &Scope::Everything, id).await?;
    if action == FeeInvoiceAction::Issue {
        return Err(AppError::invalid_field(
            "action",
            "issue with the file: POST /v1/fee-invoices/{id}/issue?invoice_number&filename",
        ));
    }
    let transition = current.state.transition(action).map_err(wrong_state)?;
    let reason = invoice::parse_reason(reason, false)
        .map_err(|e| refused(FeeInvoiceError::from(e)))?
        .ok_or_else(|| {
            AppError::invalid_field(
                "reason",
                "say why, so that the seller knows what to do next",
            )
        })?;
    let m = FeeInvoiceMove {
        id: current.id.clone(),
        transition,
        notice: fee_invoice::moved_notice(&current.id, transition.to, Some(&reason)),
        reason: Some(reason),
        invoice_number: None,
        file: None,
    };
    match state
        .store
        .move_fee_invoice(&m, operator, state.clock.now())
        .await
    {
        Err(StoreError::LostRace { .. }) => Err(lost_race()),
        other => other.map_err(Into::into),
    }
}

/// The issued invoice's file and a stream of its bytes (its seller, the operator).
pub async fn file(
    state: &AppState,
    scope: &Scope,
    id: &str,
) -> AppResult<(
    FeeInvoiceFile,
    impl Stream<Item = object_store::Result<Bytes>>,
)> {
    let inv = visible(state, scope, id).await?;
    let file = inv
        .file
        .filter(|_| inv.state == FeeInvoiceState::Issued)
        .ok_or_else(|| {
            wrong_state(format!(
                "a fee invoice that is {} has no file to download; only issued ones do",
                inv.state
            ))
        })?;
    let stream = open_blob(state, &file.storage_key).await?;
    Ok((file, stream))
}

/// The seller's paid statements that no open fee invoice covers yet (what it may request).
pub async fn requestable_statements(
    state: &AppState,
    seller: &PartyId,
) -> AppResult<Vec<souk_store::StatementRecord>> {
    let scope = Scope::Party(seller.clone());
    let paid = state
        .store
        .list_statements(
            &scope,
            &souk_store::StatementFilter {
                state: Some(souk_core::settlement::StatementState::Paid),
                ..Default::default()
            },
            &Page::first(Page::MAX_LIMIT),
        )
        .await?;
    let open = state
        .store
        .fee_invoices(
            &scope,
            &FeeInvoiceFilter::default(),
            &Page::first(Page::MAX_LIMIT),
        )
        .await?;
    let covered: Vec<&String> = open
        .iter()
        .filter(|f| f.state.is_open())
        .flat_map(|f| &f.statement_ids)
        .collect();
    Ok(paid
        .into_iter()
        .filter(|s| !covered.contains(&&s.id))
        .collect())
}

/// The reproducibility check's part: every open (requested or issued) fee invoice's amount must
/// be what its statements' lines say (the lines themselves are checked against the order
/// history by the statement check).
pub async fn check_amounts(
    state: &AppState,
    out: &mut Vec<super::settlement_check::Discrepancy>,
) -> AppResult<usize> {
    let mut checked = 0;
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let batch = list(
            state,
            &Scope::Everything,
            &FeeInvoiceFilter::default(),
            &page,
        )
        .await?;
        for f in batch.iter().filter(|f| f.state.is_open()) {
            checked += 1;
            let mut fee = souk_core::settlement::Exact::ZERO;
            for id in &f.statement_ids {
                fee = fee + fee_invoice::fee_of_lines(&state.store.statement_lines(id).await?);
            }
            if fee.round() != f.amount.amount_minor {
                out.push(super::settlement_check::Discrepancy {
                    subject: f.id.clone(),
                    what: "fee invoice amount (platform fee − rebate of its statements)".to_owned(),
                    stored: f.amount.amount_minor.to_string(),
                    recomputed: fee.round().to_string(),
                });
            }
        }
        match batch.last() {
            Some(last) if batch.len() as u32 == page.limit => page.after = Some(last.id.clone()),
            _ => return Ok(checked),
        }
    }
}
