//! The buyer center's forms on an instance: renew (choose a period), upgrade (choose a SKU),
//! the auto-renew switch, and pay or cancel an order that waits for payment. Each calls the same use cases as
//! `POST /v1/instances/{id}/renew|upgrade` and `POST /v1/orders/{id}/pay|cancel`, paying from
//! the balance; a refusal is the error page with the envelope's message. A renewal or upgrade
//! the balance cannot pay stays an unpaid order, listed on the instance page with its Pay and
//! Cancel buttons, exactly as the API leaves it.

use super::buyer::{own, Empty};
use super::session::{Member, Submitted, Visitor};
use super::{PageResult, WebError};
use crate::error::AppError;
use crate::usecase::orders::{self, order_id, RenewInstance, UpgradeInstance};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use axum::Router;
use souk_core::catalog::BillingMode;
use souk_core::id::OrderId;
use souk_core::party::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/buyer/instances/{id}/renew", post(renew))
        .route("/buyer/instances/{id}/upgrade", post(upgrade))
        .route("/buyer/instances/{id}/auto-renew", post(auto_renew))
        .route("/buyer/orders/{id}/pay", post(pay))
        .route("/buyer/orders/{id}/cancel", post(cancel))
}

/// An empty field of a form means "the default".
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A number field: empty is "the default", anything else must be a whole number.
fn number(field: &str, v: Option<String>) -> Result<Option<u32>, AppError> {
    given(v)
        .map(|s| {
            s.parse::<u32>().map_err(|_| {
                AppError::invalid_field(field, format!("{field} must be a whole number"))
            })
        })
        .transpose()
}

#[derive(serde::Deserialize)]
struct RenewForm {
    #[serde(default)]
    billing_mode: Option<String>,
    #[serde(default)]
    periods: Option<String>,
}

#[derive(serde::Deserialize)]
struct AutoRenewForm {
    /// `on` or `off`: the switch's button says which.
    auto_renew: String,
}

#[derive(serde::Deserialize)]
struct UpgradeForm {
    #[serde(default)]
    sku_id: Option<String>,
    #[serde(default)]
    quantity: Option<String>,
}

/// Pays order `id` from the balance and goes back to its instance's page.
async fn pay_and_show(state: &AppState, m: &Member, v: &Visitor, id: &OrderId) -> PageResult {
    let paid = orders::pay(state, &m.principal().party_id, id)
        .await
        .map_err(WebError::with(v))?;
    Ok(Redirect::to(&format!("/buyer/instances/{}", paid.instance_id)).into_response())
}

/// A buyer's order id from the path (a malformed one is the same 404 as an unknown one).
fn order_in_path(m: &Member, v: &Visitor, id: &str) -> Result<OrderId, WebError> {
    m.require(&[Role::Buyer])?;
    order_id(id).map_err(WebError::with(v))
}

async fn renew(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<RenewForm>,
) -> PageResult {
    let i = own(&state, &m, &id).await?;
    let billing_mode = given(s.form.billing_mode)
        .map(|b| {
            b.parse::<BillingMode>()
                .map_err(|e| AppError::invalid_field("billing_mode", e))
        })
        .transpose()
        .map_err(WebError::with(&s.visitor))?;
    let periods = number("periods", s.form.periods).map_err(WebError::with(&s.visitor))?;
    let buyer = m.principal().party_id;
    let order = orders::renew(
        &state,
        &buyer,
        &i.id,
        RenewInstance {
            billing_mode,
            periods,
        },
    )
    .await
    .map_err(WebError::with(&s.visitor))?;
    pay_and_show(&state, &m, &s.visitor, &order.id).await
}

/// The auto-renew switch: `usecase::orders::set_auto_renew`, as `PUT
/// /v1/instances/{id}/auto-renew`.
async fn auto_renew(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<AutoRenewForm>,
) -> PageResult {
    let i = own(&state, &m, &id).await?;
    let on = match s.form.auto_renew.trim() {
        "on" => true,
        "off" => false,
        _ => {
            let e = AppError::invalid_field("auto_renew", "auto_renew is on or off");
            return Err(WebError::with(&s.visitor)(e));
        }
    };
    let scope = souk_store::Scope::Party(m.principal().party_id);
    orders::set_auto_renew(&state, &scope, &i.id, on)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to(&format!("/buyer/instances/{}", i.id)).into_response())
}

async fn upgrade(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<UpgradeForm>,
) -> PageResult {
    let i = own(&state, &m, &id).await?;
    let quantity = number("quantity", s.form.quantity).map_err(WebError::with(&s.visitor))?;
    let buyer = m.principal().party_id;
    let order = orders::upgrade(
        &state,
        &buyer,
        &i.id,
        UpgradeInstance {
            sku_id: given(s.form.sku_id),
            quantity,
        },
    )
    .await
    .map_err(WebError::with(&s.visitor))?;
    pay_and_show(&state, &m, &s.visitor, &order.id).await
}

async fn pay(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    let id = order_in_path(&m, &s.visitor, &id)?;
    pay_and_show(&state, &m, &s.visitor, &id).await
}

async fn cancel(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    let id = order_in_path(&m, &s.visitor, &id)?;
    let buyer = m.principal().party_id;
    let cancelled = orders::cancel(&state, &buyer, &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    // A cancelled new purchase has no instance to go back to: the order list then.
    let back = match state
        .store
        .find_instance(&souk_store::Scope::Party(buyer), &cancelled.instance_id)
        .await?
    {
        Some(i) => format!("/buyer/instances/{}", i.id),
        None => "/buyer/orders".to_owned(),
    };
    Ok(Redirect::to(&back).into_response())
}
