//! Liveness, readiness, metrics and the OpenAPI document: the endpoints operators and their
//! tooling read, all unauthenticated.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    pub status: &'static str,
    pub database: &'static str,
}

/// The process can serve requests: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Ready), (status = 503, body = crate::error::ErrorEnvelope)))]
pub async fn readyz(State(state): State<AppState>) -> AppResult<Json<Ready>> {
    state.store.ping().await.map_err(AppError::unavailable)?;
    Ok(Json(Ready {
        status: "ready",
        database: state.store.backend().as_str(),
    }))
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(&state).await,
    )
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", responses((status = 200)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: sk_op_…, sk_sel_…, sk_buy_… or sk_rsl_…"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Souk API", description = "The marketplace API. Conventions: docs/API.md."),
    paths(
        healthz, readyz, metrics, openapi,
        crate::http::parties::me,
        crate::http::parties::create_party,
        crate::http::parties::list_parties,
        crate::http::parties::get_party,
        crate::http::parties::update_party,
        crate::http::parties::create_key,
        crate::http::parties::list_keys,
        crate::http::parties::revoke_key,
        crate::http::parties::audit_trail,
        crate::http::order_query::query_order,
        crate::http::orders::place_order,
        crate::http::orders::list_orders,
        crate::http::orders::get_order,
        crate::http::orders::pay_order,
        crate::http::orders::cancel_order,
        crate::http::orders::list_instances,
        crate::http::orders::get_instance,
        crate::http::orders::renew_instance,
        crate::http::orders::upgrade_instance,
        crate::http::orders::set_auto_renew,
        crate::http::orders::get_balance,
        crate::http::orders::top_up,
        crate::http::orders::set_credit_limit,
        crate::http::orders::get_ledger,
        crate::http::orders::get_clock,
        crate::http::orders::advance_clock,
        crate::http::messages::list_attempts,
        crate::http::messages::get_call,
        crate::http::messages::retry_call,
        crate::http::messages::instance_calls,
        crate::http::messages::list_messages,
        crate::http::catalog::create_product,
        crate::http::catalog::list_products,
        crate::http::catalog::get_product,
        crate::http::catalog::edit_product,
        crate::http::catalog::submit_product,
        crate::http::catalog::approve_product,
        crate::http::catalog::reject_product,
        crate::http::catalog::delist_product,
        crate::http::catalog::set_integration,
        crate::http::catalog::delist_sku,
        crate::http::catalog::product_audit,
        crate::http::catalog::list_reviews,
        crate::http::catalog::get_revision,
        crate::http::catalog::approve_revision,
        crate::http::catalog::reject_revision,
        crate::http::licenses::activate_v1,
        crate::http::licenses::heartbeat_v1,
        crate::http::licenses::activate_v2,
        crate::http::licenses::heartbeat_v2,
        crate::http::licenses::public_keys,
        crate::http::licenses::license_keys,
        crate::http::licenses::rotate_keys,
        crate::http::licenses::create_access_key,
        crate::http::licenses::list_access_keys,
        crate::http::licenses::revoke_access_key,
        crate::http::licenses::set_policy,
        crate::http::licenses::get_policy,
        crate::http::licenses::instance_codes,
        crate::http::licenses::get_code,
        crate::http::licenses::deactivate_machine,
        crate::http::licenses::license_file,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;
