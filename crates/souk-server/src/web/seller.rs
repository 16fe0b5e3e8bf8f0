//! The seller center: my products with their review state, and "test my endpoint".

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::usecase::{catalog, endpoint_test};
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_store::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seller/products", get(products))
        .route("/seller/products/{id}/test-endpoint", post(test_endpoint))
}

async fn products(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Seller])?;
    let items: Vec<_> = catalog::list(&state, &m.principal(), &Page::first(Page::MAX_LIMIT))
        .await
        .map_err(WebError::with(&m.visitor))?
        .into_iter()
        .rev()
        .map(|p| {
            minijinja::context! {
                id => p.id.as_str(),
                name => p.spec.name,
                status => p.status.as_str(),
                rejection_reason => p.rejection_reason,
                revision => p.pending_revision.map(|r| r.status.as_str()),
                integration => p.integration.map(|i| i.record.production_url),
                packages => p.skus.iter().any(|s| s.prices.iter().any(|pr| pr.billing_mode == souk_core::catalog::BillingMode::Package)),
                on_demand => p.skus.iter().any(|s| s.prices.iter().any(|pr| pr.billing_mode == souk_core::catalog::BillingMode::OnDemand)),
            }
        })
        .collect();
    page(
        &m.visitor,
        "seller_products.html",
        minijinja::context! { items => items },
    )
}

#[derive(serde::Deserialize)]
struct Empty {}

/// Runs the conformance tester against the product's production URL and shows each check.
async fn test_endpoint(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let report = endpoint_test::run(&state, &m.principal(), &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    page(
        &s.visitor,
        "endpoint_test.html",
        minijinja::context! {
            product_id => id,
            report => report.to_json(),
            passed => report.passed(),
            failed => report.failed(),
            warnings => report.warnings(),
            success => report.is_success(),
        },
    )
}
