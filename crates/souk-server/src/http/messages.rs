//! Production interface messages (every call to a seller and its attempts), manual retry, and
//! the message centre.

use super::extract::{ApiPath, ApiQuery, PageQuery};
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::calls;
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::party::Role;
use souk_store::{AttemptFilter, AttemptRecord, JobRecord, MessageRecord};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/interface-messages", get(list_attempts))
        .route("/v1/calls/{id}", get(get_call))
        .route("/v1/calls/{id}/retry", post(retry_call))
        .route("/v1/instances/{id}/calls", get(instance_calls))
        .route("/v1/messages", get(list_messages))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttemptQuery {
    /// Only calls about this product (`prd_…`).
    pub product_id: Option<String>,
    /// Only calls about this instance (`ins_…`).
    pub instance_id: Option<String>,
    /// Only the attempts of this call.
    pub call_id: Option<String>,
    /// success, accepted, failure or interrupted.
    #[param(pattern = "^(success|accepted|failure|interrupted)$")]
    pub outcome: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::attempt_list)]
pub struct AttemptList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<AttemptRecord>,
    pub next_cursor: Option<String>,
}

fn seller_or_operator(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Seller, Role::Operator])
}

/// Every attempt of every call to the caller's production endpoints, newest first: request
/// (secrets redacted), HTTP status, answer, Body-Sign verdict, resultCode, latency, error.
#[utoipa::path(get, path = "/v1/interface-messages", tag = "provisioning", params(AttemptQuery),
    responses((status = 200, body = AttemptList)), security(("api_key" = [])))]
pub async fn list_attempts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AttemptQuery>,
) -> AppResult<Json<AttemptList>> {
    let page = PageQuery {
        limit: q.limit,
        after: q.after.clone(),
    }
    .page()?;
    let filter = AttemptFilter {
        product_id: q.product_id,
        instance_id: q.instance_id,
        job_id: q.call_id,
        outcome: q.outcome,
    };
    let data = calls::attempts(&state, &caller.0, &filter, &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(AttemptList { data, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::call)]
pub struct CallView {
    #[schema(value_type = Object)]
    pub call: JobRecord,
    #[schema(value_type = Vec<Object>)]
    pub attempts: Vec<AttemptRecord>,
}

/// One call (a logical call to the seller, retried until it succeeds or its window ends).
#[utoipa::path(get, path = "/v1/calls/{id}", tag = "provisioning", params(("id" = String, Path)),
    responses((status = 200, body = CallView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn get_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<CallView>> {
    let (call, attempts) = calls::call(&state, &caller.0, &id).await?;
    Ok(Json(CallView { call, attempts }))
}

/// Retry a failed or waiting call now (one immediate attempt, then the normal schedule).
#[utoipa::path(post, path = "/v1/calls/{id}/retry", tag = "provisioning", params(("id" = String, Path)),
    responses((status = 200, body = Object, example = crate::http::examples::retried_call), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn retry_call(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<JobRecord>> {
    let job = calls::retry(&state, &caller.0, &id).await?;
    Ok(Json(job))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::call_list)]
pub struct CallList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<JobRecord>,
}

/// The calls made for one instance, in order.
#[utoipa::path(get, path = "/v1/instances/{id}/calls", tag = "provisioning", params(("id" = String, Path)),
    responses((status = 200, body = CallList)), security(("api_key" = [])))]
pub async fn instance_calls(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<CallList>> {
    seller_or_operator(&caller)?;
    // A missing instance and another tenant's are the same 404, not an empty list.
    let id = crate::usecase::orders::instance_id(&id)?;
    state
        .store
        .find_instance(&caller.scope(), &id)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    let data = state.store.jobs_of_instance(&caller.scope(), &id).await?;
    Ok(Json(CallList { data }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::message_list)]
pub struct MessageList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<MessageRecord>,
    pub next_cursor: Option<String>,
}

/// The caller's own message centre, newest first (an operator's too: only its own notices).
#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(PageQuery),
    responses((status = 200, body = MessageList)), security(("api_key" = [])))]
pub async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<MessageList>> {
    let page = q.page()?;
    let data = calls::messages(&state, &caller.0, &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|m| m.id.clone()))
        .flatten();
    Ok(Json(MessageList { data, next_cursor }))
}
