//! "My licenses": the Souk-issued license codes of the buyer's instances with their seats and
//! status, and the signed offline license file of a code as a download — the same use cases as
//! `GET /v1/instances/{id}/license-codes` and `POST /v1/license-codes/{code}/file`.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::http::licenses::{code_view, CodeView};
use crate::usecase::licenses;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_store::{Page, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/buyer/licenses", get(list))
        .route("/buyer/licenses/{code}/file", post(file))
}

async fn list(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer])?;
    let scope = Scope::Party(m.principal().party_id);
    let mut codes: Vec<CodeView> = Vec::new();
    // Codes belong to License instances; the others have none to look up.
    for i in state
        .store
        .list_instances(&scope, &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .rev()
        .filter(|i| i.delivery_type == "license")
    {
        for c in state.store.license_codes_of_instance(&scope, &i.id).await? {
            codes.push(code_view(&state, c, None));
        }
    }
    page(
        &m.visitor,
        "licenses.html",
        minijinja::context! { codes => codes },
    )
}

#[derive(serde::Deserialize)]
struct FileForm {
    #[serde(default)]
    machine_fingerprint: Option<String>,
    #[serde(default)]
    ttl_days: Option<String>,
}

/// The signed offline license file of one of the buyer's codes, as a download.
async fn file(
    State(state): State<AppState>,
    m: Member,
    Path(code): Path<String>,
    s: Submitted<FileForm>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    let ttl_days = match s.form.ttl_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(t.parse::<u32>().map_err(|_| {
            WebError::with(&s.visitor)(AppError::invalid_field(
                "ttl_days",
                "ttl_days must be between 1 and 366",
            ))
        })?),
    };
    let fingerprint = s
        .form
        .machine_fingerprint
        .map(|f| f.trim().to_owned())
        .filter(|f| !f.is_empty());
    let scope = Scope::Party(m.principal().party_id);
    let f = licenses::license_file(&state, &scope, &code, fingerprint, ttl_days)
        .await
        .map_err(WebError::with(&s.visitor))?;
    let body = serde_json::to_vec(&f)
        .map_err(|e| WebError::with(&s.visitor)(AppError::internal(anyhow::Error::from(e))))?;
    // The code is a stored code here (the use case found it), safe in a header.
    let name = format!("attachment; filename=\"license-{code}.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}
