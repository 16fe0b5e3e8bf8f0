//! The HTTP edge: one router per resource, merged here, and the middleware every request passes.
//!
//! Request flow: request id assigned (or taken from `x-request-id`) → tracing span carrying it →
//! panic guard → metrics → body limit → route → extractors (auth, JSON) → handler → use case →
//! store. Every error on the way out is the JSON envelope of [`crate::error`].

pub mod attachments;
pub mod auth;
pub mod catalog;
pub mod examples;
pub mod extract;
pub mod fee_invoices;
pub mod invoices;
mod keep_alive;
pub mod licenses;
pub mod messages;
pub mod metering;
pub mod openapi;
pub mod order_query;
pub mod orders;
pub mod parties;
pub mod refunds;
mod reseller_examples;
pub mod reseller_statement_invoices;
pub mod reseller_statements;
pub mod resellers;
pub mod settlement;
pub mod settlement_csv;
mod settlement_examples;
pub mod statement_invoices;
pub mod supervision;
pub mod system;
pub mod usage_packages;
pub mod usage_price;
pub mod usage_views;
pub mod vouchers;
pub mod wire_errors;

use crate::error::AppError;
use crate::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Instant;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(system::router())
        .merge(parties::router())
        .merge(orders::router())
        .merge(order_query::router())
        .merge(supervision::router())
        .merge(refunds::router())
        .merge(attachments::router())
        .merge(messages::router())
        .merge(catalog::router())
        .merge(licenses::router())
        .merge(metering::router())
        .merge(usage_price::router())
        .merge(usage_packages::router())
        .merge(usage_views::router())
        .merge(settlement::router())
        .merge(resellers::router())
        .merge(invoices::router())
        .merge(fee_invoices::router())
        .merge(statement_invoices::router())
        .merge(vouchers::router())
        .merge(reseller_statement_invoices::router())
        .merge(crate::web::router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(keep_alive::close_if_body_unread))
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(axum::middleware::from_fn(envelope_for_bare_errors))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request| {
                        let id = req
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    AppError::internal(anyhow::anyhow!("handler panicked")).into_response()
                })),
        )
        .with_state(state)
}

async fn route_not_found(req: Request) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!(
            "there is no {} {}; see /v1/openapi.json for the API",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not supported on {}", req.method(), req.uri().path()),
    )
}

/// Layers below the handlers (body limits) can answer with an empty or plain-text body; give
/// those the envelope too so that clients only ever parse one error shape.
async fn envelope_for_bare_errors(req: Request, next: Next) -> Response {
    // The KooGallery-compatible open API answers in its own shape (`error_code`, `error_msg`),
    // which sellers' software parses; everything else gets Souk's envelope.
    let open_api = req.uri().path().starts_with(OPEN_API_PREFIX);
    if req.uri().to_string().len() > MAX_URI_BYTES {
        let (status, message) = (
            StatusCode::URI_TOO_LONG,
            format!("the URL is longer than {MAX_URI_BYTES} bytes; send long values in the body"),
        );
        return if open_api {
            open_api_error(status, "95000001", &message)
        } else {
            AppError::new(status, "uri_too_long", message).into_response()
        };
    }
    let res = next.run(req).await;
    // JSON already is the envelope; HTML is a console error page (`crate::web`), which shows
    // the envelope's message to a person.
    let is_json_or_page = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json_or_page || res.status().is_success() || res.status().is_redirection() {
        return res;
    }
    if open_api {
        let message = match res.status() {
            StatusCode::PAYLOAD_TOO_LARGE => extract::payload_too_large().message,
            s => s
                .canonical_reason()
                .unwrap_or("the request was rejected")
                .to_owned(),
        };
        let code = if res.status() == StatusCode::METHOD_NOT_ALLOWED {
            "95000002"
        } else {
            "95000001"
        };
        let mut out = open_api_error(res.status(), code, &message);
        if let Some(allow) = res.headers().get(axum::http::header::ALLOW) {
            out.headers_mut()
                .insert(axum::http::header::ALLOW, allow.clone());
        }
        return out;
    }
    match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE => extract::payload_too_large().into_response(),
        s if s.is_client_error() => AppError::new(
            s,
            "request_rejected",
            s.canonical_reason().unwrap_or("the request was rejected"),
        )
        .into_response(),
        _ => res,
    }
}

/// Where the KooGallery-compatible open APIs live (license, order query, usage).
const OPEN_API_PREFIX: &str = "/api/mkp-openapi-public/";

/// The longest URL (path and query) Souk reads. Longer ones up to the HTTP library's own limit
/// (64 KiB) get a 414 with an explanation; past that the library answers 414 itself.
pub const MAX_URI_BYTES: usize = 8 * 1024;

fn open_api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(souk_protocol::license_api::LicenseAnswer::<()>::bare(
            souk_protocol::LicenseErrorCode::parse(code),
            message,
        )),
    )
        .into_response()
}

/// Metrics and the access log line of every request.
async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let uri_path = req.uri().path().to_owned();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let res = next.run(req).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    // The access log: one line per request (the path without its query string).
    tracing::info!(
        target: "souk::access",
        method = %method,
        path = %uri_path,
        status,
        duration_ms = elapsed.as_micros() as f64 / 1000.0,
        request_id = %request_id,
        "request"
    );
    let labels = [
        ("method", method),
        ("path", path),
        ("status", status.to_string()),
    ];
    metrics::counter!("souk_http_requests_total", &labels).increment(1);
    metrics::histogram!("souk_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    res
}
