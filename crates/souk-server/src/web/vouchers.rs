//! Voucher pages (business rules §8.2): the seller issues a voucher to a buyer and sees its
//! vouchers (state, remaining, used), revoking an unused one; the buyer sees the vouchers it
//! holds (and picks one on the shop's buy form); the operator sees all. Every action goes
//! through the same use cases as the JSON API; every form carries the CSRF token.

use super::session::{Member, Submitted};
use super::{page, when, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::vouchers;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::money::{Currency, Money};
use souk_core::party::Role;
use souk_store::{CatalogScope, Page, Scope};

pub const TEMPLATES: [(&str, &str); 1] = [(
    "vouchers.html",
    include_str!("../../templates/vouchers.html"),
)];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vouchers", get(list).post(issue))
        .route("/vouchers/{id}/revoke", post(revoke))
}

fn scope_of(m: &Member) -> Scope {
    let p = m.principal();
    match p.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(p.party_id),
    }
}

async fn list(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let now = state.clock.now();
    let data = vouchers::list(&state, &scope_of(&m), &Page::first(Page::MAX_LIMIT)).await?;
    let items: Vec<_> = data
        .into_iter()
        .rev()
        .map(|v| {
            let currency = v.face.currency.as_str().to_owned();
            minijinja::context! {
                id => &v.id, seller_id => v.seller_id.as_str(), buyer_id => v.buyer_id.as_str(),
                face => v.face.amount_minor, remaining => v.remaining_minor,
                used => v.face.amount_minor - v.remaining_minor, currency => currency,
                status => v.rules().status(now).as_str(),
                revocable => v.rules().status(now) != souk_core::voucher::VoucherStatus::Revoked
                    && v.remaining_minor == v.face.amount_minor,
                scope => v.product_ids.iter().chain(&v.sku_ids).cloned().collect::<Vec<_>>().join(", "),
                valid_from => when(v.valid_from), valid_until => when(v.valid_until),
                not_for_packages => v.not_for_packages, not_with_promotions => v.not_with_promotions,
                note => &v.note,
            }
        })
        .collect();
    let role = m.principal().role;
    let products: Vec<_> = if role == Role::Seller {
        state
            .store
            .list_products(
                &CatalogScope::Seller(m.principal().party_id),
                &Page::first(Page::MAX_LIMIT),
            )
            .await?
            .into_iter()
            .map(|p| minijinja::context! { id => p.id.as_str(), name => p.spec.name })
            .collect()
    } else {
        Vec::new()
    };
    page(
        &m.visitor,
        "vouchers.html",
        minijinja::context! { items => items, role => role.as_str(), products => products },
    )
}

#[derive(serde::Deserialize)]
struct IssueForm {
    buyer_id: String,
    /// Major units, e.g. `100.00`.
    face_value: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    product_id: String,
    /// SKU ids, separated by commas or spaces.
    #[serde(default)]
    sku_ids: String,
    valid_days: String,
    #[serde(default)]
    not_for_special_price_packages: Option<String>,
    #[serde(default)]
    not_with_promotions: Option<String>,
    #[serde(default)]
    note: String,
}

async fn issue(State(state): State<AppState>, m: Member, f: Submitted<IssueForm>) -> PageResult {
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&f.visitor);
    let form = &f.form;
    let currency: Currency = form.currency.trim().parse().map_err(|_| {
        err()(AppError::invalid_field(
            "currency",
            "a currency such as CNY",
        ))
    })?;
    let face = currency
        .parse_major(form.face_value.trim())
        .ok_or_else(|| {
            err()(AppError::invalid_field(
                "face_value",
                "an amount such as 100.00",
            ))
        })?;
    let days: i64 = form
        .valid_days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| err()(AppError::invalid_field("valid_days", "1 to 3650 days")))?;
    let now = state.clock.now();
    let input = vouchers::IssueVoucher {
        buyer_id: form.buyer_id.trim().to_owned(),
        face_value: Money::new(face, currency),
        product_ids: Some(form.product_id.trim().to_owned())
            .filter(|p| !p.is_empty())
            .into_iter()
            .collect(),
        sku_ids: form
            .sku_ids
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        valid_from: Some(now),
        valid_until: now + time::Duration::days(days),
        not_for_special_price_packages: form.not_for_special_price_packages.is_some(),
        not_with_promotions: form.not_with_promotions.is_some(),
        note: Some(form.note.clone()),
    };
    vouchers::issue(&state, &m.principal().party_id, input)
        .await
        .map_err(err())?;
    Ok(Redirect::to("/vouchers").into_response())
}

#[derive(serde::Deserialize)]
struct RevokeForm {}

async fn revoke(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<RevokeForm>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    vouchers::revoke(&state, &m.principal().party_id, &id)
        .await
        .map_err(WebError::with(&f.visitor))?;
    Ok(Redirect::to("/vouchers").into_response())
}
