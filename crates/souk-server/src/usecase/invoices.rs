//! Invoices a seller issues its buyer (business rules §10 row 1): the buyer requests one for a
//! paid order, the seller issues it (the invoice file is an attachment of the order, uploaded
//! with `POST /v1/orders/{id}/attachments`) or rejects it with a reason, and may void an issued
//! one; requests past `invoice.seller_to_buyer` are flagged overdue by a timer pass. The rules
//! are `souk_core::invoice`; the API and the consoles both call these functions.

use crate::error::{AppError, AppResult};
use crate::AppState;
use bytes::Bytes;
use futures_util::Stream;
use souk_core::id::ProductId;
use souk_core::invoice::{self, InvoiceAction, InvoiceError, InvoiceState, InvoiceType};
use souk_core::party::PartyId;
use souk_core::refund;
use souk_core::transition::StateMachine;
use souk_store::{
    AttachmentRecord, CatalogScope, InvoiceFilter, InvoiceMove, InvoiceRecord, Page, Scope,
    StoreError,
};
use time::OffsetDateTime;

fn refused(e: InvoiceError) -> AppError {
    match e {
        InvoiceError::Field { field, message } => AppError::invalid_field(field, message),
        InvoiceError::NotInvoiceable(m) => AppError::conflict("not_invoiceable", m),
    }
}

fn wrong_state(e: impl std::fmt::Display) -> AppError {
    AppError::conflict("invoice_state", e.to_string())
}

/// What the buyer fills in.
#[derive(Debug, Clone)]
pub struct InvoiceRequest {
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
}

/// The invoice types a product offers (what its seller declared).
pub async fn declared_types(state: &AppState, product_id: &str) -> AppResult<Vec<InvoiceType>> {
    let id = ProductId::parse(product_id).ok_or_else(|| AppError::not_found("product"))?;
    let product = state
        .store
        .find_product(&CatalogScope::Everything, &id)
        .await?
        .ok_or_else(|| AppError::not_found("product"))?;
    Ok(product.spec.invoice_types)
}

/// The buyer asks for an invoice for one of its paid orders.
pub async fn request(
    state: &AppState,
    buyer: &PartyId,
    order_id: &str,
    input: InvoiceRequest,
) -> AppResult<InvoiceRecord> {
    let order = state
        .store
        .find_order(
            &Scope::Party(buyer.clone()),
            &crate::usecase::orders::order_id(order_id)?,
        )
        .await?
        .filter(|o| &o.buyer_id == buyer)
        .ok_or_else(|| AppError::not_found("order"))?;
    invoice::check_order(order.state).map_err(refused)?;
    let declared = declared_types(state, &order.product_id).await?;
    let details = invoice::parse_details(
        input.invoice_type,
        &declared,
        &input.title,
        input.tax_id.as_deref(),
        &input.email,
    )
    .map_err(refused)?;
    let refunds = state
        .store
        .refunds_of_order(&Scope::Everything, &order.id)
        .await?;
    // §4.1: an invoice request while a refund waits for the seller would make that refund
    // fail; Souk refuses the request instead, so nothing the buyer started is lost.
    if refunds.iter().any(|r| refund::is_open(r.state)) {
        return Err(AppError::conflict(
            "refund_pending",
            "a refund of this order is waiting for a decision: ask for the invoice once it is \
             decided or withdrawn",
        ));
    }
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.state == refund::RefundState::Refunded)
        .map(|r| r.amount.amount_minor)
        .sum();
    // Refunds are of cash (the voucher part goes back to the voucher), so the invoice is the
    // price less the voucher part less the cash refunded.
    let amount =
        invoice::invoice_amount(order.amount, order.voucher_minor, refunded).map_err(refused)?;
    let now = state.clock.now();
    let due_at = invoice::due_at(now, state.config.invoice.seller_to_buyer.0);
    let record = InvoiceRecord {
        id: souk_core::id::generate("ivc", now),
        order_id: order.id.clone(),
        buyer_id: order.buyer_id.clone(),
        seller_id: order.seller_id.clone(),
        invoice_type: details.invoice_type,
        title: details.title,
        tax_id: details.tax_id,
        email: details.email,
        amount,
        state: InvoiceState::START,
        reason: None,
        invoice_number: None,
        attachment_id: None,
        requested_at: now,
        due_at,
        overdue_at: None,
        issued_at: None,
        updated_at: now,
    };
    let notice = invoice::requested_notice(order.id.as_str(), amount, due_at);
    match state.store.create_invoice(&record, &notice).await {
        Err(StoreError::Conflict { .. }) => Err(AppError::conflict(
            "invoice_exists",
            "this order already has an invoice requested or issued; the seller voids an issued \
             one before a new one can be asked for",
        )),
        other => other.map(|_| record).map_err(Into::into),
    }
}

/// What the seller sends with its action.
#[derive(Debug, Clone, Default)]
pub struct SellerInput {
    pub invoice_number: Option<String>,
    pub attachment_id: Option<String>,
    pub reason: Option<String>,
}

/// One invoice the caller may see (its buyer, its seller, the operator); anyone else: 404.
pub async fn visible(state: &AppState, scope: &Scope, id: &str) -> AppResult<InvoiceRecord> {
    state
        .store
        .invoice(scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("invoice"))
}

/// The seller issues (with the uploaded file and its number), rejects (with a reason) or voids
/// an issued invoice.
pub async fn act(
    state: &AppState,
    seller: &PartyId,
    id: &str,
    action: InvoiceAction,
    input: SellerInput,
) -> AppResult<InvoiceRecord> {
    let current = visible(state, &Scope::Party(seller.clone()), id).await?;
    if &current.seller_id != seller {
        return Err(AppError::forbidden(
            "only the order's seller issues, rejects or voids its invoices",
        ));
    }
    let transition = current.state.transition(action).map_err(wrong_state)?;
    let (mut number, mut attachment, mut reason) = (None, None, None);
    match action {
        InvoiceAction::Issue => {
            number = Some(
                invoice::parse_number(input.invoice_number.as_deref().unwrap_or(""))
                    .map_err(refused)?,
            );
            let att = input.attachment_id.unwrap_or_default();
            let file = state
                .store
                .find_attachment(&Scope::Everything, &current.order_id, &att)
                .await?;
            if file.is_none() {
                return Err(AppError::invalid_field(
                    "attachment_id",
                    "upload the invoice file to the order first (POST /v1/orders/{id}/attachments) \
                     and give its id",
                ));
            }
            attachment = Some(att);
        }
        InvoiceAction::Reject => {
            reason = invoice::parse_reason(input.reason.as_deref(), true).map_err(refused)?
        }
        InvoiceAction::Void => {
            reason = invoice::parse_reason(input.reason.as_deref(), false).map_err(refused)?
        }
    }
    let notice = invoice::moved_notice(current.order_id.as_str(), transition.to, reason.as_deref());
    let m = InvoiceMove {
        id: current.id.clone(),
        transition,
        reason,
        invoice_number: number,
        attachment_id: attachment,
        notices: vec![(current.buyer_id.clone(), notice)],
    };
    match state
        .store
        .move_invoice(&m, seller, state.clock.now())
        .await
    {
        Err(StoreError::LostRace { .. }) => Err(AppError::conflict(
            "invoice_state",
            "the invoice changed while this request was handled; read it again",
        )),
        other => other.map_err(Into::into),
    }
}

/// The issued invoice's file and a stream of its bytes (its buyer, its seller, the operator).
pub async fn file(
    state: &AppState,
    scope: &Scope,
    id: &str,
) -> AppResult<(
    InvoiceRecord,
    AttachmentRecord,
    impl Stream<Item = object_store::Result<Bytes>>,
)> {
    let inv = visible(state, scope, id).await?;
    let att = inv
        .attachment_id
        .clone()
        .filter(|_| inv.state == InvoiceState::Issued)
        .ok_or_else(|| {
            AppError::conflict(
                "invoice_state",
                format!(
                    "an invoice that is {} has no file to download; only issued ones do",
                    inv.state
                ),
            )
        })?;
    let record = state
        .store
        .find_attachment(&Scope::Everything, &inv.order_id, &att)
        .await?
        .ok_or_else(|| AppError::not_found("invoice file"))?;
    let stream = crate::usecase::attachments::open_blob(state, &record.storage_key).await?;
    Ok((inv, record, stream))
}

/// The caller's invoices: a buyer's requests, a seller's incoming ones, all (operator).
pub async fn list(
    state: &AppState,
    scope: &Scope,
    filter: &InvoiceFilter,
    page: &Page,
) -> AppResult<Vec<InvoiceRecord>> {
    Ok(state.store.invoices(scope, filter, page).await?)
}

/// §4.1 interlock, asked by every refund path: an issued invoice must be voided first.
pub async fn refund_allowed(state: &AppState, order_id: &souk_core::id::OrderId) -> AppResult<()> {
    let states = state.store.invoice_states_of_order(order_id).await?;
    if invoice::blocks_refund(states) {
        return Err(AppError::conflict(
            "invoice_issued",
            "this order has an issued invoice: the seller voids it (invoice returned) before the \
             order can be refunded",
        ));
    }
    Ok(())
}

/// Timer pass `invoice_overdue`: requests past their deadline are flagged once; the seller is
/// told (message and e-mail).
pub async fn overdue_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut flagged = 0;
    for inv in state.store.due_invoices(now, 200).await? {
        let notice = invoice::overdue_notice(inv.order_id.as_str(), &inv.id);
        if state
            .store
            .flag_overdue(&inv.id, &[(inv.seller_id.clone(), notice)], now)
            .await?
        {
            flagged += 1;
        }
    }
    Ok(flagged)
}
