//! Liveness, readiness, metrics, the OpenAPI document and its reference UI: the endpoints
//! operators and their tooling read, all unauthenticated.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::OpenApi;

use super::openapi::ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/docs", get(docs))
        .route(REDOC_PATH, get(redoc_script))
}

/// The reference UI's script, served by Souk itself: `/docs` loads nothing from other hosts.
const REDOC_PATH: &str = "/docs/redoc.standalone.js";
const REDOC_JS: &str = include_str!("../../assets/redoc/redoc.standalone.js");
const DOCS_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Souk API reference</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="/v1/openapi.json" hide-download-button="false"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::health)]
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
#[schema(example = crate::http::examples::ready)]
pub struct Ready {
    pub status: &'static str,
    pub database: &'static str,
}

/// The process can serve requests: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Ready), (status = 503, body = crate::error::ErrorEnvelope, description = "`unavailable`: the database does not answer.")))]
pub async fn readyz(State(state): State<AppState>) -> AppResult<Json<Ready>> {
    state.store.ping().await.map_err(AppError::unavailable)?;
    Ok(Json(Ready {
        status: "ready",
        database: state.store.backend().as_str(),
    }))
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String, content_type = "text/plain",
    example = json!("# TYPE souk_http_requests_total counter\nsouk_http_requests_total{method=\"GET\",path=\"/v1/me\",status=\"200\"} 3\n# TYPE souk_seller_calls_total counter\nsouk_seller_calls_total{kind=\"new_instance\",outcome=\"success\"} 1\n"))))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(&state).await,
    )
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object,
    example = json!({"openapi": "3.1.0", "info": {"title": "Souk API", "version": "0.1.0"}, "paths": {"/healthz": {"get": {"operationId": "healthz"}}}}))))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A reference UI for this API (Redoc, served from the binary), reading `/v1/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "An HTML page", content_type = "text/html", body = String,
    example = json!("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Souk API reference</title>\n</head>\n<body>\n<redoc spec-url=\"/v1/openapi.json\" hide-download-button=\"false\"></redoc>\n<script src=\"/docs/redoc.standalone.js\"></script>\n</body>\n</html>\n"))))]
pub async fn docs() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:"),
        ],
        DOCS_HTML,
    )
}

async fn redoc_script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC_JS,
    )
}
