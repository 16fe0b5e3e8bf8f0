//! The buyer center: my orders, my instances, credentials on request.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::http::orders::{InstanceView, OrderView};
use crate::usecase::orders::instance_id;
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_store::{Page, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/buyer/orders", get(orders))
        .route("/buyer/instances/{id}", get(instance))
        .route("/buyer/instances/{id}/credentials", post(credentials))
}

async fn orders(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer])?;
    let me = m.principal();
    let scope = Scope::Party(me.party_id.clone());
    let page_of = Page::first(Page::MAX_LIMIT);
    let orders: Vec<OrderView> = state
        .store
        .list_orders(&scope, &page_of)
        .await?
        .into_iter()
        .rev()
        .map(OrderView::from)
        .collect();
    let instances: Vec<InstanceView> = state
        .store
        .list_instances(&scope, &page_of)
        .await?
        .into_iter()
        .rev()
        .map(|i| {
            // Credentials are opened only on request (`credentials` below).
            let mut i = i;
            i.app_info_sealed = None;
            i.license_sealed = None;
            InstanceView::for_party(&state, me.role, &me.party_id, i)
        })
        .collect();
    let currency = "CNY".parse().expect("CNY is a currency");
    let balance = state
        .store
        .balance(&scope, &me.party_id, currency)
        .await?
        .map(|b| b.balance.to_string());
    page(
        &m.visitor,
        "orders.html",
        minijinja::context! { orders => orders, instances => instances, balance => balance },
    )
}

/// The path id is parsed once, after the role check, like the API does: a malformed id is the
/// same 404 as an unknown or another party's instance.
async fn load(
    state: &AppState,
    m: &Member,
    id: &str,
    open: bool,
) -> Result<InstanceView, WebError> {
    m.require(&[Role::Buyer])?;
    let id = instance_id(id).map_err(WebError::with(&m.visitor))?;
    let me = m.principal();
    let mut i = state
        .store
        .find_instance(&Scope::Party(me.party_id.clone()), &id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("instance")))?;
    if !open {
        i.app_info_sealed = None;
        i.license_sealed = None;
    }
    Ok(InstanceView::for_party(state, me.role, &me.party_id, i))
}

async fn instance(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    let i = load(&state, &m, &id, false).await?;
    page(
        &m.visitor,
        "instance.html",
        minijinja::context! { i => i, opened => false },
    )
}

#[derive(serde::Deserialize)]
struct Empty {}

/// Credentials are shown only after a deliberate, CSRF-checked request, never in a list.
async fn credentials(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    let i = load(&state, &m, &id, true).await?;
    page(
        &s.visitor,
        "instance.html",
        minijinja::context! { i => i, opened => true },
    )
}
