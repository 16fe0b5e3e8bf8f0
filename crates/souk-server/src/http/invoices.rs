//! Invoices a seller issues its buyer over HTTP (business rules §10 row 1): the buyer requests
//! one for a paid order; the seller uploads the file as an order attachment and issues it with
//! its number, rejects the request with a reason, or voids an issued invoice; the buyer
//! downloads the file.

use super::attachments::attachment_response;
use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::resellers::rfc3339;
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::invoices as uc;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use souk_core::invoice::{InvoiceAction, InvoiceState, InvoiceType};
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_store::{InvoiceFilter, InvoiceRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders/{id}/invoices", post(request_invoice))
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/invoices/{id}", get(get_invoice))
        .route("/v1/invoices/{id}/actions", post(act_on_invoice))
        .route("/v1/invoices/{id}/file", get(download_invoice))
}

fn example() -> serde_json::Value {
    json!({
        "id": "ivc_01m8a2h3k4m5n6p7q8r9s0t1v2", "order_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2",
        "buyer_id": "buy_01m88tkhx5b7n9m2k4j6h8g0f3", "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
        "invoice_type": "special", "title": "Hangzhou Example Co., Ltd.",
        "tax_id": "91330106MA2H2K3X4Y", "email": "ap@example.cn",
        "amount": {"amount_minor": 9900, "currency": "CNY"}, "state": "issued", "reason": null,
        "invoice_number": "044002300111-20261208", "attachment_id": "att_01m88tm50qk26gs1s1rxec5w1j",
        "file": "/v1/invoices/ivc_01m8a2h3k4m5n6p7q8r9s0t1v2/file",
        "requested_at": "2026-12-01T09:00:00Z", "due_at": "2026-12-08T09:00:00Z",
        "overdue": false, "issued_at": "2026-12-02T10:30:00Z", "updated_at": "2026-12-02T10:30:00Z"
    })
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = example)]
pub struct InvoiceView {
    pub id: String,
    pub order_id: String,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    /// Where the buyer wants the invoice sent.
    pub email: String,
    /// The order's cash amount less vouchers and refunds, at the request.
    pub amount: Money,
    pub state: InvoiceState,
    /// The seller's reason for a rejection or a void.
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    pub attachment_id: Option<String>,
    /// Where to download the file, once issued.
    pub file: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub requested_at: OffsetDateTime,
    /// The seller issues or rejects it by then (`invoice.seller_to_buyer`).
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub due_at: OffsetDateTime,
    /// The deadline passed while it was still requested.
    pub overdue: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub issued_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

impl From<InvoiceRecord> for InvoiceView {
    fn from(r: InvoiceRecord) -> Self {
        InvoiceView {
            file: (r.state == InvoiceState::Issued).then(|| format!("/v1/invoices/{}/file", r.id)),
            id: r.id,
            order_id: r.order_id.to_string(),
            buyer_id: r.buyer_id,
            seller_id: r.seller_id,
            invoice_type: r.invoice_type,
            title: r.title,
            tax_id: r.tax_id,
            email: r.email,
            amount: r.amount,
            state: r.state,
            reason: r.reason,
            invoice_number: r.invoice_number,
            attachment_id: r.attachment_id,
            requested_at: r.requested_at,
            due_at: r.due_at,
            overdue: r.overdue_at.is_some(),
            issued_at: r.issued_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": [example()], "next_cursor": null}))]
pub struct InvoiceList {
    pub data: Vec<InvoiceView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_type": "special", "title": "Hangzhou Example Co., Ltd.", "tax_id": "91330106MA2H2K3X4Y", "email": "ap@example.cn"}))]
pub struct InvoiceRequestBody {
    /// One of the types the seller declared on the product (`invoice_types`).
    pub invoice_type: InvoiceType,
    /// The invoice title: the company or the person, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The taxpayer id (unified social credit code); required for `special`.
    #[schema(max_length = 20)]
    pub tax_id: Option<String>,
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
}

/// Ask the seller for an invoice for a paid order (its buyer). The amount is the order's cash
/// amount less vouchers and refunds; the seller has `invoice.seller_to_buyer` to act.
#[utoipa::path(post, path = "/v1/orders/{id}/invoices", tag = "invoices", params(("id" = String, Path)),
    request_body = InvoiceRequestBody,
    responses((status = 201, body = InvoiceView, example = json!({"id": "ivc_01m8a2h3k4m5n6p7q8r9s0t1v2", "order_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2",
        "buyer_id": "buy_01m88tkhx5b7n9m2k4j6h8g0f3", "seller_id": "sel_01m88tkgazscd4681cf497jnsf", "invoice_type": "general",
        "title": "Zhang San", "tax_id": null, "email": "zhang@example.cn", "amount": {"amount_minor": 9900, "currency": "CNY"},
        "state": "requested", "reason": null, "invoice_number": null, "attachment_id": null, "file": null,
        "requested_at": "2026-12-01T09:00:00Z", "due_at": "2026-12-08T09:00:00Z", "overdue": false, "issued_at": null,
        "updated_at": "2026-12-01T09:00:00Z"})),
        (status = 403, description = "`forbidden`: buyers only", body = ErrorEnvelope),
        (status = 409, description = "`not_invoiceable`: the order is not paid, or nothing is left after vouchers and refunds; `invoice_exists`: an invoice is requested or issued already; `refund_pending`: a refund waits for a decision", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a type the seller does not issue, a bad title, tax id or e-mail, a special invoice without a tax id", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn request_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<InvoiceRequestBody>,
) -> AppResult<(StatusCode, Json<InvoiceView>)> {
    caller.require(&[Role::Buyer])?;
    let r = uc::request(
        &state,
        caller.party_id(),
        &id,
        uc::InvoiceRequest {
            invoice_type: body.invoice_type,
            title: body.title,
            tax_id: body.tax_id,
            email: body.email,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub order_id: Option<String>,
    pub state: Option<InvoiceState>,
    /// Only requests past their deadline.
    pub overdue: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Invoices: a buyer's requests, a seller's incoming ones, all (operator); oldest first.
#[utoipa::path(get, path = "/v1/invoices", tag = "invoices", params(InvoiceQuery),
    responses((status = 200, body = InvoiceList), (status = 403, description = "`forbidden`: resellers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> AppResult<Json<InvoiceList>> {
    caller.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let filter = InvoiceFilter {
        // A malformed order id matches nothing.
        order_id: match q.order_id {
            Some(o) => match souk_core::id::OrderId::parse(&o) {
                Some(o) => Some(o),
                None => {
                    return Ok(Json(InvoiceList {
                        data: vec![],
                        next_cursor: None,
                    }))
                }
            },
            None => None,
        },
        state: q.state,
        overdue: q.overdue.unwrap_or(false),
    };
    let data = uc::list(&state, &caller.scope(), &filter, &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|i| i.id.clone()))
        .flatten();
    Ok(Json(InvoiceList {
        data: data.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One invoice (its buyer, its seller, the operator).
#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "invoices", params(("id" = String, Path)),
    responses((status = 200, body = InvoiceView), (status = 403, description = "`forbidden`: resellers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<InvoiceView>> {
    caller.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    Ok(Json(
        uc::visible(&state, &caller.scope(), &id).await?.into(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "issue", "invoice_number": "044002300111-20261208", "attachment_id": "att_01m88tm50qk26gs1s1rxec5w1j"}))]
pub struct InvoiceActionBody {
    /// `issue` (number and file), `reject` (reason) or `void` an issued one (reason optional).
    pub action: InvoiceAction,
    /// `issue`: the number printed on the invoice.
    #[schema(max_length = 64)]
    pub invoice_number: Option<String>,
    /// `issue`: the invoice file, uploaded first with `POST /v1/orders/{id}/attachments`.
    pub attachment_id: Option<String>,
    /// `reject` (required), `void` (optional): why, for the buyer.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Issue, reject or void an invoice (the order's seller).
#[utoipa::path(post, path = "/v1/invoices/{id}/actions", tag = "invoices", params(("id" = String, Path)),
    request_body = InvoiceActionBody,
    responses((status = 200, body = InvoiceView),
        (status = 403, description = "`forbidden`: only the order's seller", body = ErrorEnvelope),
        (status = 409, description = "`invoice_state`: not in a state the action applies to (issue and reject a requested one, void an issued one)", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: no or a malformed invoice number, no file uploaded to the order, a rejection without a reason", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn act_on_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<InvoiceActionBody>,
) -> AppResult<Json<InvoiceView>> {
    caller.require(&[Role::Seller])?;
    let r = uc::act(
        &state,
        caller.party_id(),
        &id,
        body.action,
        uc::SellerInput {
            invoice_number: body.invoice_number,
            attachment_id: body.attachment_id,
            reason: body.reason,
        },
    )
    .await?;
    Ok(Json(r.into()))
}

/// Download an issued invoice's file (its buyer, its seller, the operator). `X-Souk-Sha256`
/// carries the hash recorded at upload.
#[utoipa::path(get, path = "/v1/invoices/{id}/file", tag = "invoices", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String, example = "%PDF-1.7 …"),
        (status = 403, description = "`forbidden`: resellers", body = ErrorEnvelope),
        (status = 409, description = "`invoice_state`: the invoice is not issued", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn download_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    caller.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let (_, record, stream) = uc::file(&state, &caller.scope(), &id).await?;
    Ok(attachment_response(record, stream))
}
