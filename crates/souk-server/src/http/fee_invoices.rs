//! The platform's invoice to a seller for its platform fee over HTTP (business rules §10 row 4):
//! the seller requests one over some of its paid statements; the operator issues it (the body
//! is the file), rejects it or voids an issued one; the seller and the operator download the
//! file.

use super::attachments::{file_response, upload_headers};
use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::resellers::rfc3339;
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::fee_invoices as uc;
use crate::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use souk_core::fee_invoice::{FeeInvoiceAction, FeeInvoiceState, FeeInvoiceType};
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_store::{FeeInvoiceFilter, FeeInvoiceRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/fee-invoices",
            post(request_fee_invoice).get(list_fee_invoices),
        )
        .route("/v1/fee-invoices/{id}", get(get_fee_invoice))
        .route(
            "/v1/fee-invoices/{id}/issue",
            // The file streams to the blob store with its own limit (`attachments.max_bytes`).
            post(issue_fee_invoice).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/fee-invoices/{id}/actions", post(act_on_fee_invoice))
        .route("/v1/fee-invoices/{id}/file", get(download_fee_invoice))
}

fn example() -> serde_json::Value {
    json!({
        "id": "fiv_01m8a2h3k4m5n6p7q8r9s0t1v2", "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
        "statement_ids": ["stm_01m8a2h3k4m5n6p7q8r9s0t1v2", "stm_01m9b3j4k5m6n7p8q9r0s1t2v3"],
        "invoice_type": "digital_special", "title": "Hangzhou Example Co., Ltd.",
        "tax_id": "91330106MA2H2K3X4Y", "email": "ap@example.cn",
        "amount": {"amount_minor": 200, "currency": "CNY"}, "state": "issued", "reason": null,
        "invoice_number": "26332000000123456789", "filename": "fee-invoice.pdf",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "file": "/v1/fee-invoices/fiv_01m8a2h3k4m5n6p7q8r9s0t1v2/file",
        "requested_at": "2027-02-08T09:00:00Z", "issued_at": "2027-02-09T10:30:00Z",
        "updated_at": "2027-02-09T10:30:00Z"
    })
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = example)]
pub struct FeeInvoiceView {
    pub id: String,
    pub seller_id: PartyId,
    /// The paid statements it covers: all their periods on one invoice.
    pub statement_ids: Vec<String>,
    pub invoice_type: FeeInvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    /// Where the invoice is sent.
    pub email: String,
    /// Σ over the statements' lines of platform fee − rebate (refunds' negative fees netted),
    /// rounded once.
    pub amount: Money,
    pub state: FeeInvoiceState,
    /// The operator's reason for a rejection or a void.
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    pub filename: Option<String>,
    /// The issued file's sha256 (hex), as `X-Souk-Sha256` on the download.
    pub sha256: Option<String>,
    /// Where to download the file, while issued.
    pub file: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub requested_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub issued_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

impl From<FeeInvoiceRecord> for FeeInvoiceView {
    fn from(r: FeeInvoiceRecord) -> Self {
        FeeInvoiceView {
            file: (r.state == FeeInvoiceState::Issued)
                .then(|| format!("/v1/fee-invoices/{}/file", r.id)),
            filename: r.file.as_ref().map(|f| f.filename.clone()),
            sha256: r.file.map(|f| f.sha256),
            id: r.id,
            seller_id: r.seller_id,
            statement_ids: r.statement_ids,
            invoice_type: r.invoice_type,
            title: r.title,
            tax_id: r.tax_id,
            email: r.email,
            amount: r.amount,
            state: r.state,
            reason: r.reason,
            invoice_number: r.invoice_number,
            requested_at: r.requested_at,
            issued_at: r.issued_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": [example()], "next_cursor": null}))]
pub struct FeeInvoiceList {
    pub data: Vec<FeeInvoiceView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"statement_ids": ["stm_01m8a2h3k4m5n6p7q8r9s0t1v2", "stm_01m9b3j4k5m6n7p8q9r0s1t2v3"],
    "invoice_type": "digital_special", "title": "Hangzhou Example Co., Ltd.", "tax_id": "91330106MA2H2K3X4Y",
    "email": "ap@example.cn"}))]
pub struct FeeInvoiceRequestBody {
    /// 1–24 of the seller's paid statements, one currency, none on an open fee invoice.
    #[schema(min_items = 1, max_items = 24)]
    pub statement_ids: Vec<String>,
    /// `digital_special` (数电专票, needs the tax id) or `digital_general` (数电普票).
    pub invoice_type: FeeInvoiceType,
    /// The invoice title: the company, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The taxpayer id (unified social credit code); required for `digital_special`.
    #[schema(max_length = 20)]
    pub tax_id: Option<String>,
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
}

/// Request the platform-fee invoice for some of the seller's paid statements (the seller). All
/// their periods go on one invoice; its amount is their lines' platform fee less rebates, refunds
/// netted, rounded once.
#[utoipa::path(post, path = "/v1/fee-invoices", tag = "invoices",
    request_body = FeeInvoiceRequestBody,
    responses((status = 201, body = FeeInvoiceView, example = json!({"id": "fiv_01m8a2h3k4m5n6p7q8r9s0t1v2",
        "seller_id": "sel_01m88tkgazscd4681cf497jnsf", "statement_ids": ["stm_01m8a2h3k4m5n6p7q8r9s0t1v2"],
        "invoice_type": "digital_general", "title": "Hangzhou Example Co., Ltd.", "tax_id": null,
        "email": "ap@example.cn", "amount": {"amount_minor": 150, "currency": "CNY"}, "state": "requested",
        "reason": null, "invoice_number": null, "filename": null, "sha256": null, "file": null,
        "requested_at": "2027-02-08T09:00:00Z", "issued_at": null, "updated_at": "2027-02-08T09:00:00Z"})),
        (status = 403, description = "`forbidden`: sellers only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: a statement that is not the seller's", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: a statement is not paid yet; `not_invoiceable`: no fee left once refunds are netted; `fee_invoice_exists`: a statement is on a requested or issued fee invoice already", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: no or too many statements, two currencies, a bad title, tax id or e-mail, a special invoice without a tax id", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn request_fee_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<FeeInvoiceRequestBody>,
) -> AppResult<(StatusCode, Json<FeeInvoiceView>)> {
    caller.require(&[Role::Seller])?;
    let r = uc::request(
        &state,
        caller.party_id(),
        uc::FeeInvoiceRequest {
            statement_ids: body.statement_ids,
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
pub struct FeeInvoiceQuery {
    pub state: Option<FeeInvoiceState>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Fee invoices: the seller's own, all of them (operator); oldest first.
#[utoipa::path(get, path = "/v1/fee-invoices", tag = "invoices", params(FeeInvoiceQuery),
    responses((status = 200, body = FeeInvoiceList), (status = 403, description = "`forbidden`: sellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_fee_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FeeInvoiceQuery>,
) -> AppResult<Json<FeeInvoiceList>> {
    caller.require(&[Role::Seller, Role::Operator])?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let filter = FeeInvoiceFilter { state: q.state };
    let data = uc::list(&state, &caller.scope(), &filter, &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|i| i.id.clone()))
        .flatten();
    Ok(Json(FeeInvoiceList {
        data: data.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// One fee invoice (its seller, the operator).
#[utoipa::path(get, path = "/v1/fee-invoices/{id}", tag = "invoices", params(("id" = String, Path)),
    responses((status = 200, body = FeeInvoiceView), (status = 403, description = "`forbidden`: sellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_fee_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<FeeInvoiceView>> {
    caller.require(&[Role::Seller, Role::Operator])?;
    Ok(Json(
        uc::visible(&state, &caller.scope(), &id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IssueQuery {
    /// The number printed on the invoice.
    #[param(required = true, example = "26332000000123456789")]
    pub invoice_number: Option<String>,
    /// The file's name, 1–200 characters, no slashes.
    #[param(required = true, example = "fee-invoice.pdf")]
    pub filename: Option<String>,
}

/// Issue a requested fee invoice (the operator): the body is the invoice file (PDF or OFD,
/// `Content-Type` one of `attachments.allowed_types`); the seller is told by message and e-mail.
#[utoipa::path(post, path = "/v1/fee-invoices/{id}/issue", tag = "invoices",
    params(("id" = String, Path), IssueQuery),
    request_body(content = String, content_type = "text/plain", description = "The invoice file's bytes (any of `attachments.allowed_types`, e.g. application/pdf)", example = "%PDF-1.7 fee invoice"),
    responses((status = 200, body = FeeInvoiceView),
        (status = 403, description = "`forbidden`: the operator only", body = ErrorEnvelope),
        (status = 409, description = "`fee_invoice_state`: not requested (issued, rejected or voided)", body = ErrorEnvelope),
        (status = 413, description = "`attachment_too_large`: over `attachments.max_bytes`; nothing is stored", body = ErrorEnvelope),
        (status = 415, description = "`unsupported_media_type`", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a bad invoice number or filename, an empty file", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn issue_fee_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<IssueQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<FeeInvoiceView>> {
    caller.require(&[Role::Operator])?;
    let (content_type, length) = upload_headers(&headers);
    let r = uc::issue(
        &state,
        caller.party_id(),
        &id,
        uc::Issued {
            invoice_number: q.invoice_number.as_deref().unwrap_or_default(),
            filename: q.filename.as_deref().unwrap_or_default(),
        },
        content_type,
        length,
        body.into_data_stream(),
    )
    .await?;
    Ok(Json(r.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "reject", "reason": "the tax id does not match the title"}))]
pub struct FeeInvoiceActionBody {
    /// `reject` a requested one or `void` an issued one (issuing takes the file: `…/issue`).
    pub action: FeeInvoiceAction,
    /// Why, for the seller (required).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// Reject a requested fee invoice or void an issued one, with a reason (the operator); its
/// statements may be requested again.
#[utoipa::path(post, path = "/v1/fee-invoices/{id}/actions", tag = "invoices", params(("id" = String, Path)),
    request_body = FeeInvoiceActionBody,
    responses((status = 200, body = FeeInvoiceView),
        (status = 403, description = "`forbidden`: the operator only", body = ErrorEnvelope),
        (status = 409, description = "`fee_invoice_state`: reject a requested one, void an issued one", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: no reason, or `issue` (which takes the file)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn act_on_fee_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FeeInvoiceActionBody>,
) -> AppResult<Json<FeeInvoiceView>> {
    caller.require(&[Role::Operator])?;
    let r = uc::act(
        &state,
        caller.party_id(),
        &id,
        body.action,
        body.reason.as_deref(),
    )
    .await?;
    Ok(Json(r.into()))
}

/// Download an issued fee invoice's file (its seller, the operator). `X-Souk-Sha256` carries
/// the hash recorded at upload.
#[utoipa::path(get, path = "/v1/fee-invoices/{id}/file", tag = "invoices", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String, example = "%PDF-1.7 …"),
        (status = 403, description = "`forbidden`: sellers and the operator", body = ErrorEnvelope),
        (status = 409, description = "`fee_invoice_state`: not issued", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn download_fee_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    caller.require(&[Role::Seller, Role::Operator])?;
    let (f, stream) = uc::file(&state, &caller.scope(), &id).await?;
    Ok(file_response(
        &f.content_type,
        f.size_bytes,
        &f.sha256,
        &f.filename,
        stream,
    ))
}
