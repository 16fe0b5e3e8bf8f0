//! The after-sale page's "Attach a file" form (docs/after-sale.md, Console pages): the order's
//! buyer, seller or an operator streams a file into the blob store through the same use case
//! as `POST /v1/orders/{id}/attachments` (`usecase::attachments::upload`: type and size limits,
//! sha256, nothing kept of a refused upload). The form's first part must be the page's CSRF
//! token; it is checked before the file is read, so a forged form stores nothing.

use super::aftersale::{scope_of, ALL};
use super::session::Member;
use super::stream_form::{boundary, csrf_refused, StreamForm};
use super::{PageResult, WebError};
use crate::error::AppError;
use crate::usecase::attachments;
use crate::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use axum::Router;

/// Room for the form's token, part headers and delimiters around the file.
const FORM_OVERHEAD: u64 = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/aftersale/orders/{id}/attachments",
        // The file streams to the blob store under `attachments.max_bytes`.
        post(upload).layer(DefaultBodyLimit::disable()),
    )
}

async fn upload(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    m.require(ALL)?;
    let err = || WebError::with(&m.visitor);
    let max = state.config.attachments.max_bytes;
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > max + FORM_OVERHEAD) {
        return Err(err()(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "attachment_too_large",
            format!("attachments are at most {max} bytes"),
        )));
    }
    let mut form = StreamForm::new(body, &boundary(&headers).map_err(err())?);
    let first = form.next_part().await.map_err(err())?;
    if !first.is_some_and(|h| h.name == "csrf" && h.filename.is_none()) {
        return Err(err()(csrf_refused()));
    }
    let token = form.text().await.map_err(err())?;
    if !m.visitor.csrf_matches(token.trim()) {
        return Err(err()(csrf_refused()));
    }
    let file = form
        .next_part()
        .await
        .map_err(err())?
        .filter(|h| h.filename.as_deref().is_some_and(|f| !f.is_empty()))
        .ok_or_else(|| err()(AppError::invalid_field("file", "choose a file to attach")))?;
    let me = m.principal();
    attachments::upload(
        &state,
        &me.party_id,
        &scope_of(&m),
        &id,
        file.filename.as_deref().unwrap_or_default(),
        file.content_type.as_deref(),
        None,
        form.file(),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/aftersale/orders/{id}#attachments")).into_response())
}
