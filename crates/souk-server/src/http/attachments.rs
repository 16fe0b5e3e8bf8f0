//! `/v1/orders/{id}/attachments`: requirement files, delivery evidence and refund records.

use super::extract::{ApiPath, ApiQuery};
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::attachments;
use crate::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::party::PartyId;
use souk_store::AttachmentRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/orders/{id}/attachments",
            get(list_attachments)
                // Uploads stream to the blob store with their own limit (`attachments.max_bytes`).
                .post(upload_attachment)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/orders/{id}/attachments/{attachment_id}",
            get(download_attachment),
        )
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "att_01m88tm50qk26gs1s1rxec5w1j",
    "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
    "uploader_id": "sel_01m88tkgazscd4681cf497jnsf",
    "filename": "acceptance-report.pdf",
    "content_type": "application/pdf",
    "size_bytes": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "created_at": "2026-11-25T07:44:49.083Z"
}))]
pub struct AttachmentView {
    pub id: String,
    pub order_id: String,
    pub uploader_id: PartyId,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes as received.
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
}

impl From<AttachmentRecord> for AttachmentView {
    fn from(a: AttachmentRecord) -> Self {
        AttachmentView {
            id: a.id,
            order_id: a.order_id.to_string(),
            uploader_id: a.uploader_id,
            filename: a.filename,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": []}))]
pub struct AttachmentList {
    pub data: Vec<AttachmentView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name, 1–200 characters, no slashes.
    /// Required; checked after the order is found, so a stranger learns nothing.
    #[param(required = true, example = "acceptance-report.pdf")]
    pub filename: Option<String>,
}

/// Upload an attachment to an order (its buyer, its seller, operators). The body is the file;
/// `Content-Type` must be one of `attachments.allowed_types`.
#[utoipa::path(post, path = "/v1/orders/{id}/attachments", tag = "attachments",
    params(("id" = String, Path), UploadQuery),
    request_body(content = String, content_type = "text/plain", description = "The file's bytes", example = "Delivery checklist: all 5 pages live."),
    responses((status = 201, body = AttachmentView),
        (status = 404, description = "`not_found`: no such order visible to you", body = ErrorEnvelope),
        (status = 413, description = "`attachment_too_large`: over `attachments.max_bytes`; nothing is stored", body = ErrorEnvelope),
        (status = 415, description = "`unsupported_media_type`", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: bad filename or an empty file", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let (content_type, length) = upload_headers(&headers);
    let record = attachments::upload(
        &state,
        caller.party_id(),
        &caller.scope(),
        &id,
        q.filename.as_deref().unwrap_or_default(),
        content_type,
        length,
        body.into_data_stream(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// The attachments of an order.
#[utoipa::path(get, path = "/v1/orders/{id}/attachments", tag = "attachments", params(("id" = String, Path)),
    responses((status = 200, body = AttachmentList), (status = 404, description = "`not_found`", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_attachments(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<AttachmentList>> {
    let scope = caller.scope();
    let id = crate::usecase::orders::order_id(&id)?;
    if state.store.find_order(&scope, &id).await?.is_none() {
        return Err(crate::error::AppError::not_found("order"));
    }
    let data = state.store.list_attachments(&scope, &id).await?;
    Ok(Json(AttachmentList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Download an attachment (the order's parties and operators). `X-Souk-Sha256` carries the
/// hash recorded at upload.
#[utoipa::path(get, path = "/v1/orders/{id}/attachments/{attachment_id}", tag = "attachments",
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String, example = "Delivery checklist: all 5 pages live."),
        (status = 404, description = "`not_found`", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn download_attachment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, attachment_id)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    let (record, stream) = attachments::open(&state, &caller.scope(), &id, &attachment_id).await?;
    Ok(attachment_response(record, stream))
}

/// An upload's declared `Content-Type` and `Content-Length`.
pub fn upload_headers(headers: &HeaderMap) -> (Option<&str>, Option<u64>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (content_type, length)
}

/// An attachment's bytes with its type, length, sha256 and a safe download name (also the
/// console's download).
pub fn attachment_response<S>(record: AttachmentRecord, stream: S) -> Response
where
    S: futures_util::Stream<Item = object_store::Result<bytes::Bytes>> + Send + 'static,
{
    file_response(
        &record.content_type,
        record.size_bytes,
        &record.sha256,
        &record.filename,
        stream,
    )
}

/// A stored file's bytes with its type, length, sha256 (`X-Souk-Sha256`) and a safe download
/// name.
pub fn file_response<S>(
    content_type: &str,
    size_bytes: i64,
    sha256: &str,
    filename: &str,
    stream: S,
) -> Response
where
    S: futures_util::Stream<Item = object_store::Result<bytes::Bytes>> + Send + 'static,
{
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("invalid"));
    h.insert(header::CONTENT_TYPE, value(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size_bytes));
    h.insert("x-souk-sha256", value(sha256));
    // The filename is shown, never interpreted: quotes and non-ASCII are replaced.
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    h.insert(
        header::CONTENT_DISPOSITION,
        value(&format!("attachment; filename=\"{safe}\"")),
    );
    response
}
