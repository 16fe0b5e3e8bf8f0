//! The buyer center: my orders, my instances (renew, upgrade, pay or cancel a waiting order,
//! credentials on request). The forms' handlers are in `buyer_actions`; licenses in
//! `buyer_licenses`; usage in `usage`.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::http::licenses::{code_view, CodeView};
use crate::http::orders::{InstanceView, OrderView};
use crate::usecase::orders::instance_id;
use crate::usecase::storefront;
use crate::AppState;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use souk_core::catalog::SkuStatus;
use souk_core::money::Currency;
use souk_core::order::{OrderState, Term};
use souk_core::party::{PartyId, Role};
use souk_store::{InstanceRecord, OrderRecord, Page, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/buyer/orders", get(orders))
        .route("/buyer/instances", get(instances))
        .route("/buyer/instances/{id}", get(instance))
        .route("/buyer/instances/{id}/credentials", post(credentials))
}

/// The buyer's balance in `currency`, as pages show it (`None`: never topped up).
pub(super) async fn balance_of(
    state: &AppState,
    buyer: &PartyId,
    currency: Currency,
) -> Result<Option<String>, WebError> {
    Ok(state
        .store
        .balance(&Scope::Party(buyer.clone()), buyer, currency)
        .await?
        .map(|b| b.balance.to_string()))
}

fn cny() -> Currency {
    "CNY".parse().expect("CNY is a currency")
}

/// The buyer's instances, newest first, without their secrets (opened only on request).
async fn my_instances(state: &AppState, m: &Member) -> Result<Vec<InstanceView>, WebError> {
    let me = m.principal();
    Ok(state
        .store
        .list_instances(
            &Scope::Party(me.party_id.clone()),
            &Page::first(Page::MAX_LIMIT),
        )
        .await?
        .into_iter()
        .rev()
        .map(|mut i| {
            i.app_info_sealed = None;
            i.license_sealed = None;
            InstanceView::for_party(state, me.role, &me.party_id, i)
        })
        .collect())
}

/// The buyer's orders, newest first.
async fn my_orders(state: &AppState, buyer: &PartyId) -> Result<Vec<OrderRecord>, WebError> {
    Ok(state
        .store
        .list_orders(&Scope::Party(buyer.clone()), &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .rev()
        .collect())
}

async fn orders(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer])?;
    let me = m.principal().party_id;
    let orders: Vec<OrderView> = my_orders(&state, &me)
        .await?
        .into_iter()
        .map(OrderView::from)
        .collect();
    let instances = my_instances(&state, &m).await?;
    let balance = balance_of(&state, &me, cny()).await?;
    page(
        &m.visitor,
        "orders.html",
        minijinja::context! { orders => orders, instances => instances, balance => balance },
    )
}

/// "My instances": each with its product, term, state and expiry, and the balance that pays
/// renewals and upgrades.
async fn instances(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer])?;
    let me = m.principal().party_id;
    let instances = my_instances(&state, &m).await?;
    let balance = balance_of(&state, &me, cny()).await?;
    page(
        &m.visitor,
        "instances.html",
        minijinja::context! { instances => instances, balance => balance },
    )
}

/// The path id is parsed once, after the role check, like the API does: a malformed id is the
/// same 404 as an unknown or another party's instance.
pub(super) async fn own(
    state: &AppState,
    m: &Member,
    id: &str,
) -> Result<InstanceRecord, WebError> {
    m.require(&[Role::Buyer])?;
    let id = instance_id(id).map_err(WebError::with(&m.visitor))?;
    let me = m.principal();
    state
        .store
        .find_instance(&Scope::Party(me.party_id.clone()), &id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("instance")))
}

/// Everything the instance page shows: the instance, the balance, what it can be renewed or
/// upgraded to (from the listed product's active SKUs), its orders waiting for payment and its
/// license codes. What may actually be done is decided by the use cases when a form is sent.
async fn instance_page(
    state: &AppState,
    m: &Member,
    v: &super::session::Visitor,
    mut i: InstanceRecord,
    opened: bool,
) -> PageResult {
    let me = m.principal();
    if !opened {
        i.app_info_sealed = None;
        i.license_sealed = None;
    }
    let product = storefront::product(state, &i.product_id).await.ok();
    let currency = product.as_ref().map_or_else(cny, |p| p.spec.currency);
    let mut renew_modes = Vec::new();
    let mut skus = Vec::new();
    if let Some(p) = &product {
        for s in p.skus.iter().filter(|s| s.status == SkuStatus::Active) {
            let label = super::shop::sku_label(s);
            let label = if label.is_empty() {
                s.sku_code.clone()
            } else {
                label
            };
            if s.id.as_str() == i.sku_id {
                for pr in s.prices.iter().filter(|pr| pr.billing_mode.is_period()) {
                    renew_modes.push(minijinja::context! {
                        mode => pr.billing_mode.as_str(), amount_minor => pr.amount_minor,
                    });
                }
            }
            // Upgrades stay within the instance's kind of term (a period SKU for a period).
            if s.prices.iter().any(|pr| pr.billing_mode.is_period()) {
                skus.push(minijinja::context! {
                    id => s.id.as_str(), label => label, current => s.id.as_str() == i.sku_id,
                });
            }
        }
    }
    let periodic = matches!(i.term, Term::Period { .. }) || i.trial;
    let waiting: Vec<OrderView> = my_orders(state, &me.party_id)
        .await?
        .into_iter()
        .filter(|o| o.instance_id == i.id && o.state == OrderState::PendingPayment)
        .map(OrderView::from)
        .collect();
    let codes: Vec<CodeView> = state
        .store
        .license_codes_of_instance(&Scope::Party(me.party_id.clone()), &i.id)
        .await?
        .into_iter()
        .map(|c| code_view(state, c, None))
        .collect();
    let on_demand = matches!(i.term, Term::OnDemand | Term::Package { .. });
    let balance = balance_of(state, &me.party_id, currency).await?;
    let view = InstanceView::for_party(state, me.role, &me.party_id, i);
    page(
        v,
        "instance.html",
        minijinja::context! {
            i => view, opened => opened, balance => balance, currency => currency.as_str(),
            renew_modes => renew_modes, skus => skus, periodic => periodic,
            waiting => waiting, codes => codes, on_demand => on_demand,
        },
    )
}

async fn instance(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    let i = own(&state, &m, &id).await?;
    instance_page(&state, &m, &m.visitor, i, false).await
}

#[derive(serde::Deserialize)]
pub(super) struct Empty {}

/// Credentials are shown only after a deliberate, CSRF-checked request, never in a list.
async fn credentials(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    let i = own(&state, &m, &id).await?;
    instance_page(&state, &m, &s.visitor, i, true).await
}
