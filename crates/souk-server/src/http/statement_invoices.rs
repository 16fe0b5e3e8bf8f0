//! A seller's invoice to the platform for its statement over HTTP (business rules §9, §10 row
//! 3): the seller uploads the file with its number, amount and tax rate (the workflow's
//! `submit_statement_invoice` step); the seller and the operator list the submissions and download the
//! latest file. The operator's review is the workflow's `approve_invoice` / `reject_invoice`.

use super::attachments::{file_response, upload_headers};
use super::extract::{ApiPath, ApiQuery};
use super::resellers::rfc3339;
use super::settlement::StatementView;
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::statement_invoices as uc;
use crate::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use souk_core::money::Money;
use souk_core::party::Role;
use souk_store::StatementInvoiceRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/statements/{id}/invoices",
            get(list_statement_invoices)
                // The file streams to the blob store with its own limit (`attachments.max_bytes`).
                .post(submit_statement_invoice)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/statements/{id}/invoices/latest",
            get(latest_statement_invoice),
        )
}

fn example() -> serde_json::Value {
    json!({"id": "sti_01m8a2h3k4m5n6p7q8r9s0t1v2", "statement_id": "stm_01m8a2h3k4m5n6p7q8r9s0t1v2",
        "invoice_number": "044002300111-20261208", "amount": {"amount_minor": 3800, "currency": "CNY"},
        "tax_rate_bp": 600, "filename": "invoice-202611.pdf", "content_type": "application/pdf",
        "size_bytes": 48213, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "created_at": "2026-12-08T02:10:00Z"})
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = example)]
pub struct StatementInvoiceView {
    pub id: String,
    pub statement_id: String,
    pub invoice_number: String,
    /// The statement's invoice total (its payable amount) when submitted.
    pub amount: Money,
    /// The one VAT rate on the invoice, basis points.
    pub tax_rate_bp: u32,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
}

impl From<StatementInvoiceRecord> for StatementInvoiceView {
    fn from(r: StatementInvoiceRecord) -> Self {
        StatementInvoiceView {
            id: r.id,
            statement_id: r.statement_id,
            invoice_number: r.invoice_number,
            amount: r.amount,
            tax_rate_bp: r.tax_rate_bp,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": [example()]}))]
pub struct StatementInvoiceList {
    /// Oldest first; the last one is the one under review (or accepted).
    pub data: Vec<StatementInvoiceView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubmitQuery {
    /// The number printed on the invoice.
    #[param(required = true, example = "044002300111-20261208")]
    pub invoice_number: Option<String>,
    /// Must be the statement's invoice total (`totals.payable_minor`).
    #[param(required = true, example = 3800)]
    pub amount_minor: Option<i64>,
    /// One rate per invoice: 1300, 600 or 300.
    #[param(required = true, example = 600)]
    pub tax_rate_bp: Option<u32>,
    /// The file's name, 1–200 characters, no slashes.
    #[param(required = true, example = "invoice-202611.pdf")]
    pub filename: Option<String>,
}

/// Submit the seller's invoice for its statement (its seller): the body is the file
/// (`Content-Type` one of `attachments.allowed_types`). Moves the statement from
/// `awaiting_invoice` or `invoice_error` to `invoice_review`.
#[utoipa::path(post, path = "/v1/statements/{id}/invoices", tag = "settlement",
    params(("id" = String, Path), SubmitQuery),
    request_body(content = String, content_type = "text/plain", description = "The invoice file's bytes (any of `attachments.allowed_types`, e.g. application/pdf)", example = "Invoice 044002300111-20261208"),
    responses((status = 200, body = StatementView),
        (status = 403, description = "`forbidden`: only the statement's seller", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: not awaiting an invoice, or nothing to invoice", body = ErrorEnvelope),
        (status = 413, description = "`attachment_too_large`: over `attachments.max_bytes`; nothing is stored", body = ErrorEnvelope),
        (status = 415, description = "`unsupported_media_type`", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: an amount other than the statement's invoice total, a rate not allowed, a bad number or filename, an empty file", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn submit_statement_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<StatementView>> {
    caller.require(&[Role::Seller])?;
    let (content_type, length) = upload_headers(&headers);
    let moved = uc::submit(
        &state,
        caller.party_id(),
        &id,
        uc::InvoiceUpload {
            invoice_number: q.invoice_number.unwrap_or_default(),
            amount_minor: q.amount_minor.unwrap_or_default(),
            tax_rate_bp: q.tax_rate_bp.unwrap_or_default(),
            filename: q.filename.unwrap_or_default(),
        },
        content_type,
        length,
        body.into_data_stream(),
    )
    .await?;
    Ok(Json(moved.into()))
}

/// The invoices submitted for a statement (its seller, the operator), oldest first.
#[utoipa::path(get, path = "/v1/statements/{id}/invoices", tag = "settlement", params(("id" = String, Path)),
    responses((status = 200, body = StatementInvoiceList), (status = 403, description = "`forbidden`: sellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_statement_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<StatementInvoiceList>> {
    caller.require(&[Role::Seller, Role::Operator])?;
    if state.store.statement(&caller.scope(), &id).await?.is_none() {
        return Err(crate::error::AppError::not_found("statement"));
    }
    let data = state.store.statement_invoices(&id).await?;
    Ok(Json(StatementInvoiceList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Download the latest invoice file of a statement (its seller, the operator).
/// `X-Souk-Sha256` carries the hash recorded at upload.
#[utoipa::path(get, path = "/v1/statements/{id}/invoices/latest", tag = "settlement", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String, example = "%PDF-1.7 …"),
        (status = 403, description = "`forbidden`: sellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn latest_statement_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    caller.require(&[Role::Seller, Role::Operator])?;
    let (f, stream) = uc::latest_file(&state, &caller.scope(), &id).await?;
    Ok(file_response(
        &f.content_type,
        f.size_bytes,
        &f.sha256,
        &f.filename,
        stream,
    ))
}
