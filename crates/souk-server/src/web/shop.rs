//! The storefront: search, product page, buying with the balance.

use super::session::{Member, Submitted, Visitor};
use super::{page, PageResult, WebError};
use crate::usecase::{orders, storefront};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::catalog::{BillingMode, DeliveryType, SkuStatus};
use souk_core::party::Role;
use souk_store::Scope;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/shop", get(search))
        .route("/shop/products/{id}", get(product))
        .route("/shop/products/{id}/buy", post(buy))
}

/// The query string of `input` with `page` replaced, for the pager links.
fn page_link(input: &storefront::SearchInput, page: u32) -> String {
    let mut i = input.clone();
    i.page = Some(page);
    format!(
        "/shop?{}",
        serde_urlencoded::to_string(&i).unwrap_or_default()
    )
}

async fn search(
    State(state): State<AppState>,
    v: Visitor,
    Query(input): Query<storefront::SearchInput>,
) -> PageResult {
    let (hits, more) = storefront::search(&state, &input)
        .await
        .map_err(WebError::with(&v))?;
    let page_no = input.page.unwrap_or(1).max(1);
    let hits: Vec<_> = hits
        .into_iter()
        .map(|h| {
            minijinja::context! {
                id => h.product_id, name => h.name, category => h.category,
                delivery_type => h.delivery_type, billing_modes => h.billing_modes,
                currency => h.currency, min_price_minor => h.min_price_minor,
            }
        })
        .collect();
    page(
        &v,
        "shop.html",
        minijinja::context! {
            input => &input,
            hits => hits,
            next => more.then(|| page_link(&input, page_no + 1)),
            prev => (page_no > 1).then(|| page_link(&input, page_no - 1)),
            delivery_types => DeliveryType::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            billing_modes => BillingMode::ALL.iter().filter(|b| b.is_purchasable()).map(|b| b.as_str()).collect::<Vec<_>>(),
        },
    )
}

/// The buyer's vouchers that can pay `purchase` (§8.2), as the buy forms offer them.
pub(super) fn applicable_vouchers(
    vouchers: &[souk_store::VoucherRecord],
    purchase: &souk_core::voucher::Purchase<'_>,
    now: time::OffsetDateTime,
) -> Vec<minijinja::Value> {
    vouchers
        .iter()
        .filter(|v| v.rules().applies(purchase, now).is_ok())
        .map(|v| minijinja::context! { id => &v.id, remaining => v.remaining_minor })
        .collect()
}

/// A SKU as pages name it: its attributes (`edition: pro, region: cn`), empty without any.
pub(super) fn sku_label(s: &souk_store::SkuRecord) -> String {
    s.attributes
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn product(State(state): State<AppState>, v: Visitor, Path(id): Path<String>) -> PageResult {
    let p = storefront::product(&state, &id)
        .await
        .map_err(WebError::with(&v))?;
    let seller = state
        .store
        .find_party(&Scope::Everything, &p.seller_id)
        .await?
        .map(|s| s.name)
        .unwrap_or_default();
    // A buyer's vouchers, to offer on each price the ones that apply (§8.2).
    let buyer = v
        .session
        .as_ref()
        .filter(|s| s.user.role == Role::Buyer)
        .map(|s| s.user.party_id.clone());
    let vouchers = match &buyer {
        Some(b) => {
            crate::usecase::vouchers::list(
                &state,
                &Scope::Party(b.clone()),
                &souk_store::Page::first(souk_store::Page::MAX_LIMIT),
            )
            .await?
        }
        None => Vec::new(),
    };
    let now = state.clock.now();
    let skus: Vec<_> = p
        .skus
        .iter()
        .filter(|s| s.status == SkuStatus::Active)
        .map(|s| {
            let label = sku_label(s);
            let prices: Vec<_> = s
                .prices
                .iter()
                .map(|pr| {
                    let offered: Vec<_> = buyer
                        .as_ref()
                        .map(|b| {
                            let purchase = souk_core::voucher::Purchase {
                                buyer_id: b.as_str(),
                                seller_id: p.seller_id.as_str(),
                                product_id: p.id.as_str(),
                                sku_id: s.id.as_str(),
                                kind: souk_core::order::OrderKind::New,
                                billing_mode: pr.billing_mode,
                                amount: souk_core::money::Money::new(
                                    pr.amount_minor,
                                    p.spec.currency,
                                ),
                                via_offer: false,
                            };
                            applicable_vouchers(&vouchers, &purchase, now)
                        })
                        .unwrap_or_default();
                    minijinja::context! {
                        vouchers => offered,
                        mode => pr.billing_mode.as_str(),
                        amount_minor => pr.amount_minor,
                        trial_days => pr.trial_days,
                        purchasable => pr.billing_mode.is_purchasable(),
                    }
                })
                .collect();
            minijinja::context! { id => s.id.as_str(), code => &s.sku_code, label => label, prices => prices }
        })
        .collect();
    let spec = &p.spec;
    let can_buy = v
        .session
        .as_ref()
        .is_some_and(|s| s.user.role == Role::Buyer);
    page(
        &v,
        "product.html",
        minijinja::context! {
            id => p.id.as_str(),
            name => &spec.name,
            category => &spec.category,
            delivery_type => spec.delivery_type.as_str(),
            description => &spec.description,
            usage_guide => &spec.usage_guide,
            agreement => minijinja::context! {
                content => &spec.service_agreement.content,
                hours => &spec.service_agreement.hours,
                phone => &spec.service_agreement.phone,
                email => &spec.service_agreement.email,
            },
            currency => spec.currency.as_str(),
            quantity => spec.quantity.as_ref().map(|q| minijinja::context! { name => &q.name, unit => &q.unit, min => q.min, max => q.max }),
            seller => seller,
            skus => skus,
            can_buy => can_buy,
        },
    )
}

#[derive(serde::Deserialize)]
struct BuyForm {
    sku_id: String,
    billing_mode: String,
    #[serde(default)]
    periods: Option<u32>,
    #[serde(default)]
    quantity: Option<u32>,
    /// A reseller's exclusive offer link token, when the buyer came through one.
    #[serde(default)]
    offer: Option<String>,
    /// One of the buyer's vouchers (empty: none).
    #[serde(default)]
    voucher: Option<String>,
}

/// Places the order and pays it with the balance, through the same use cases as
/// `POST /v1/orders` and `POST /v1/orders/{id}/pay`. If paying fails (not enough balance),
/// the order stays pending payment and the page says why.
async fn buy(
    State(state): State<AppState>,
    m: Member,
    Path(_id): Path<String>,
    s: Submitted<BuyForm>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    let on_error = WebError::with(&s.visitor);
    let billing_mode: BillingMode =
        s.form.billing_mode.parse().map_err(|e: String| {
            on_error(crate::error::AppError::invalid_field("billing_mode", e))
        })?;
    let buyer = m.principal().party_id;
    let order = orders::place(
        &state,
        &buyer,
        orders::PlaceOrder {
            sku_id: s.form.sku_id,
            billing_mode,
            periods: s.form.periods,
            quantity: s.form.quantity,
            auto_renew: false,
            extend_params: Default::default(),
            // The console's buy form has no recipient fields: hardware is bought through the
            // API (a missing recipient is refused with its field error).
            recipient: None,
            sales_scenario: Default::default(),
            offer: s.form.offer.filter(|o| !o.is_empty()),
            voucher: s.form.voucher.filter(|v| !v.is_empty()),
        },
    )
    .await
    .map_err(WebError::with(&s.visitor))?;
    let paid = orders::pay(&state, &buyer, &order.id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to(&format!("/buyer/instances/{}", paid.instance_id)).into_response())
}
