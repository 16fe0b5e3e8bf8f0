//! `/v1/products/{id}/usage-price`: the Step/Tier rating of a product's on-demand price
//! (business rules §6.4), set by its seller; the rules are `usecase::usage_price`'s.

use super::extract::{ApiJson, ApiPath};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::usecase::usage_price;
pub use crate::usecase::usage_price::{BandView, UsagePriceView};
use crate::AppState;
use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};
use souk_core::party::Role;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/products/{id}/usage-price",
        put(set_usage_price).get(get_usage_price),
    )
}

/// Set how the product's on-demand usage is rated (its seller).
#[utoipa::path(put, path = "/v1/products/{id}/usage-price", tag = "metering", params(("id" = String, Path)),
    request_body(content = UsagePriceView, example = json!({"mode": "tier", "bands": [{"up_to": "1000", "unit_minor": 10}, {"up_to": null, "unit_minor": 8}]})),
    responses((status = 200, body = UsagePriceView, example = json!({"mode": "tier", "bands": [{"up_to": "1000.0000", "unit_minor": 10}, {"up_to": null, "unit_minor": 8}], "collection": "hourly"}))),
    security(("api_key" = [])))]
pub async fn set_usage_price(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UsagePriceView>,
) -> AppResult<Json<UsagePriceView>> {
    caller.require(&[Role::Seller])?;
    let view = usage_price::set(&state, &caller.scope(), caller.party_id(), &id, &input).await?;
    Ok(Json(view))
}

/// How the product's on-demand usage is rated (`fixed` when never set).
#[utoipa::path(get, path = "/v1/products/{id}/usage-price", tag = "metering", params(("id" = String, Path)),
    responses((status = 200, body = UsagePriceView, example = json!({"mode": "fixed", "bands": [], "collection": "hourly"}))),
    security(("api_key" = [])))]
pub async fn get_usage_price(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<UsagePriceView>> {
    let (_, view) = usage_price::get(&state, &caller.0, &id).await?;
    Ok(Json(view))
}
