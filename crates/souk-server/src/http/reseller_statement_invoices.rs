//! A reseller's invoices to the platform for its statement over HTTP (business rules §10 row 5,
//! §11): the reseller uploads VAT special invoices (one file each, with number, amount and
//! rate), removes a wrong one before submitting, and moves the statement through its workflow
//! (`submit_invoice`, `resubmit_payment`); the operator downloads the files and approves or
//! rejects them, then pays or rejects the payment.

use super::attachments::{file_response, upload_headers};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::reseller_examples as ex;
use super::reseller_statements::ResellerStatementView;
use super::resellers::rfc3339;
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::reseller_statements as uc;
use crate::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::money::Money;
use souk_core::party::Role;
use souk_core::settlement::StatementAction;
use souk_store::ResellerInvoiceRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/reseller-statements/{id}/invoices",
            get(list_reseller_invoices)
                // The file streams to the blob store with its own limit (`attachments.max_bytes`).
                .post(upload_reseller_invoice)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/reseller-statements/{id}/invoices/{invoice_id}",
            axum::routing::delete(remove_reseller_invoice),
        )
        .route(
            "/v1/reseller-statements/{id}/invoices/{invoice_id}/file",
            get(reseller_invoice_file),
        )
        .route(
            "/v1/reseller-statements/{id}/transitions",
            post(move_reseller_statement),
        )
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::invoice)]
pub struct ResellerInvoiceView {
    pub id: String,
    pub statement_id: String,
    pub invoice_number: String,
    /// Always `special` (增值税专用发票).
    pub invoice_type: String,
    pub amount: Money,
    /// The one VAT rate on the invoice, basis points.
    pub tax_rate_bp: u32,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `uploaded` (not submitted; removable), `submitted`, `accepted` or `rejected`.
    pub state: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
}

impl From<ResellerInvoiceRecord> for ResellerInvoiceView {
    fn from(r: ResellerInvoiceRecord) -> Self {
        ResellerInvoiceView {
            id: r.id,
            statement_id: r.statement_id,
            invoice_number: r.invoice_number,
            invoice_type: "special".to_owned(),
            amount: r.amount,
            tax_rate_bp: r.tax_rate_bp,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            state: r.state.as_str().to_owned(),
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::invoice_list)]
pub struct ResellerInvoiceList {
    /// Oldest first, rejected ones included.
    pub data: Vec<ResellerInvoiceView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The number printed on the invoice; once per statement.
    #[param(required = true, example = "044002300111-20261208")]
    pub invoice_number: Option<String>,
    /// This invoice's amount; the statement's invoices add up to its `totals.payable_minor`.
    #[param(required = true, example = 85)]
    pub amount_minor: Option<i64>,
    /// One rate per invoice: 1300, 600 or 300.
    #[param(required = true, example = 600)]
    pub tax_rate_bp: Option<u32>,
    /// `special` (the default and the only type accepted).
    #[param(example = "special")]
    pub invoice_type: Option<String>,
    /// The file's name, 1–200 characters, no slashes.
    #[param(required = true, example = "invoice-202611.pdf")]
    pub filename: Option<String>,
}

/// Upload one VAT special invoice for the reseller's statement (its reseller) while it awaits
/// invoices (`awaiting_invoice`, `invoice_error`): the body is the file (`Content-Type` one of
/// `attachments.allowed_types`). Then submit with the `submit_invoice` transition.
#[utoipa::path(post, path = "/v1/reseller-statements/{id}/invoices", tag = "resellers",
    params(("id" = String, Path), UploadQuery),
    request_body(content = String, content_type = "text/plain", description = "The invoice file's bytes (any of `attachments.allowed_types`, e.g. application/pdf)", example = "Invoice 044002300111-20261208"),
    responses((status = 201, body = ResellerInvoiceView),
        (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: the statement takes no invoices now, or pays nothing; `invoice_exists`: the number is on the statement already", body = ErrorEnvelope),
        (status = 413, description = "`attachment_too_large`: over `attachments.max_bytes`; nothing is stored", body = ErrorEnvelope),
        (status = 415, description = "`unsupported_media_type`", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a type other than special, a rate not allowed, an amount that is not positive or takes the invoices past the payable, a bad number or filename, an empty file", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn upload_reseller_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<ResellerInvoiceView>)> {
    caller.require(&[Role::Reseller])?;
    let (content_type, length) = upload_headers(&headers);
    let added = uc::upload_invoice(
        &state,
        caller.party_id(),
        &id,
        uc::InvoiceUpload {
            invoice_number: q.invoice_number.unwrap_or_default(),
            amount_minor: q.amount_minor.unwrap_or_default(),
            tax_rate_bp: q.tax_rate_bp.unwrap_or_default(),
            invoice_type: q.invoice_type,
            filename: q.filename.unwrap_or_default(),
        },
        content_type,
        length,
        body.into_data_stream(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(added.into())))
}

/// The invoices of a reseller statement (its reseller, the operator), oldest first.
#[utoipa::path(get, path = "/v1/reseller-statements/{id}/invoices", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = ResellerInvoiceList), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_reseller_invoices(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ResellerInvoiceList>> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    uc::visible(&state, &caller.scope(), &id).await?;
    let data = state.store.reseller_invoices(&id).await?;
    Ok(Json(ResellerInvoiceList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Remove an uploaded invoice before submitting (its reseller); its file is deleted. Answers
/// the statement's invoices that remain.
#[utoipa::path(delete, path = "/v1/reseller-statements/{id}/invoices/{invoice_id}", tag = "resellers",
    params(("id" = String, Path), ("invoice_id" = String, Path)),
    responses((status = 200, body = ResellerInvoiceList), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: submitted invoices stay with the statement", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn remove_reseller_invoice(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, invoice_id)): ApiPath<(String, String)>,
) -> AppResult<Json<ResellerInvoiceList>> {
    caller.require(&[Role::Reseller])?;
    uc::remove_invoice(&state, caller.party_id(), &id, &invoice_id).await?;
    let data = state.store.reseller_invoices(&id).await?;
    Ok(Json(ResellerInvoiceList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Download one invoice's file (its reseller, the operator). `X-Souk-Sha256` carries the hash
/// recorded at upload.
#[utoipa::path(get, path = "/v1/reseller-statements/{id}/invoices/{invoice_id}/file", tag = "resellers",
    params(("id" = String, Path), ("invoice_id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String, example = "%PDF-1.7 …"),
        (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reseller_invoice_file(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, invoice_id)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    let (f, stream) = uc::invoice_file(&state, &caller.scope(), &id, &invoice_id).await?;
    Ok(file_response(
        &f.content_type,
        f.size_bytes,
        &f.sha256,
        &f.filename,
        stream,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "reject_invoice", "reason": "the invoice has no stamp"}))]
pub struct ResellerTransitionBody {
    /// `submit_invoice`, `resubmit_payment` (the reseller); `approve_invoice`,
    /// `reject_invoice`, `pay`, `reject_payment` (the operator).
    pub action: StatementAction,
    /// Required to reject the invoices or the payment.
    pub reason: Option<String>,
}

/// Move a reseller statement one step. The reseller submits its uploaded invoices (they must
/// add up to the payable) or resubmits its payment data; the operator approves or rejects the
/// invoices, pays or rejects the payment.
#[utoipa::path(post, path = "/v1/reseller-statements/{id}/transitions", tag = "resellers", params(("id" = String, Path)),
    request_body = ResellerTransitionBody,
    responses((status = 200, body = ResellerStatementView), (status = 403, description = "`forbidden`: the action belongs to the other party, or sellers and buyers", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: the statement is not in a state this action applies to; `invoice_total`: the uploaded invoices do not add up to the payable", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a rejection without a reason, an unknown action", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn move_reseller_statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResellerTransitionBody>,
) -> AppResult<Json<ResellerStatementView>> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    let moved = uc::move_statement(
        &state,
        &caller.scope(),
        caller.role(),
        caller.party_id(),
        &id,
        body.action,
        body.reason,
    )
    .await?;
    Ok(Json(super::reseller_statements::view(&state, moved)?))
}
