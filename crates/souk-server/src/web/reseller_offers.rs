//! The reseller's exclusive-offer form (专属优惠, business rules §11): what a reseller may offer
//! is listed for it — each SKU and billing mode of the products it is authorised on, with the
//! catalogue price and the floor its authorisation allows — so it picks one, writes a price as
//! people write money (`9.00`) and a last day, instead of copying ids and timestamps.

use super::session::{Member, Submitted};
use super::{PageResult, WebError};
use crate::error::{AppError, AppResult};
use crate::usecase::resellers;
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use souk_core::catalog::BillingMode;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::reseller::{floor_price, AuthorisationState};
use souk_store::{CatalogScope, Page, Scope};
use time::{Date, OffsetDateTime};

/// One thing the reseller may offer: a SKU in a billing mode of an authorised product.
#[derive(serde::Serialize)]
pub(super) struct OfferChoice {
    /// The form value: `<sku id>|<billing mode>`.
    value: String,
    pub(super) product_id: String,
    pub(super) product: String,
    sku: String,
    mode: &'static str,
    catalogue_minor: i64,
    floor_minor: i64,
    currency: String,
}

/// Every SKU and purchasable billing mode of the listed products `reseller` has an active
/// authorisation on, with its catalogue and floor prices.
pub(super) async fn offer_choices(
    state: &AppState,
    reseller: &PartyId,
) -> AppResult<Vec<OfferChoice>> {
    let auths = state
        .store
        .authorisations(
            &Scope::Party(reseller.clone()),
            None,
            &Page::first(Page::MAX_LIMIT),
        )
        .await?;
    let mut out = Vec::new();
    for a in auths
        .iter()
        .filter(|a| a.state == AuthorisationState::Active)
    {
        let id = souk_core::id::ProductId::from_trusted(a.product_id.clone());
        let Some(p) = state.store.find_product(&CatalogScope::Public, &id).await? else {
            continue; // delisted since: nothing to offer
        };
        for sku in &p.skus {
            let label = super::shop::sku_label(sku);
            for price in sku
                .prices
                .iter()
                .filter(|p| p.billing_mode.is_purchasable())
            {
                out.push(OfferChoice {
                    value: format!("{}|{}", sku.id, price.billing_mode.as_str()),
                    product_id: p.id.to_string(),
                    product: p.spec.name.clone(),
                    sku: if label.is_empty() {
                        sku.sku_code.clone()
                    } else {
                        label.clone()
                    },
                    mode: price.billing_mode.as_str(),
                    catalogue_minor: price.amount_minor,
                    floor_minor: floor_price(price.amount_minor, a.max_discount_bp),
                    currency: p.spec.currency.as_str().to_owned(),
                });
            }
        }
    }
    Ok(out)
}

impl OfferChoice {
    pub(super) fn sku_id(&self) -> &str {
        self.value.split_once('|').map_or("", |(sku, _)| sku)
    }

    /// The product and SKU, as the offer list names them.
    pub(super) fn what(&self) -> String {
        format!("{} · {}", self.product, self.sku)
    }
}

/// The last day an offer valid until `until` (exclusive) can be used, in the business zone.
pub(super) fn last_day(until: OffsetDateTime, zone: time::UtcOffset) -> Date {
    (until - time::Duration::milliseconds(1))
        .to_offset(zone)
        .date()
}

#[derive(serde::Deserialize)]
pub(super) struct OfferForm {
    /// `<sku id>|<billing mode>`, one of [`offer_choices`].
    choice: String,
    /// In major units, as people write money: `9.00`.
    unit_price: String,
    /// The offer's last day (`YYYY-MM-DD`), in the business zone.
    valid_until: String,
}

/// The end of `day` in the business zone: an offer valid until 2026-12-31 can be used all that
/// day in Shanghai.
fn end_of(day: &str, zone: time::UtcOffset) -> AppResult<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(day.trim(), &format)
        .map_err(|_| AppError::invalid_field("valid_until", "choose the offer's last day"))?;
    let next = date
        .next_day()
        .ok_or_else(|| AppError::invalid_field("valid_until", "choose an earlier day"))?;
    Ok(next.midnight().assume_offset(zone))
}

pub(super) async fn new_offer(
    State(state): State<AppState>,
    m: Member,
    f: Submitted<OfferForm>,
) -> PageResult {
    m.require(&[Role::Reseller])?;
    let err = || WebError::with(&f.visitor);
    let form = &f.form;
    let (sku_id, mode) = form
        .choice
        .split_once('|')
        .ok_or_else(|| err()(AppError::invalid_field("choice", "choose what to offer")))?;
    let mode: BillingMode = mode
        .parse()
        .map_err(|e: String| err()(AppError::invalid_field("choice", e)))?;
    let sku = state
        .store
        .purchasable_sku(sku_id)
        .await?
        .ok_or_else(|| err()(AppError::not_found("SKU on sale")))?;
    let currency = sku
        .prices
        .first()
        .map(|p| p.unit_price.currency)
        .ok_or_else(|| err()(AppError::not_found("SKU on sale")))?;
    let minor = currency.parse_major(&form.unit_price).ok_or_else(|| {
        err()(AppError::invalid_field(
            "unit_price",
            format!(
                "write the price like 9.00 (at most {} decimals)",
                currency.exponent()
            ),
        ))
    })?;
    let zone = state
        .config
        .settlement
        .zone()
        .map_err(|e| err()(AppError::internal(e)))?;
    let until = end_of(&form.valid_until, zone).map_err(err())?;
    resellers::create_offer(
        &state,
        &m.principal().party_id,
        resellers::OfferRequest {
            sku_id: sku.sku_id.clone(),
            billing_mode: mode,
            unit_price: souk_core::money::Money::new(minor, currency),
            valid_from: None,
            valid_until: until,
        },
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/reseller").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn an_offer_lasts_to_the_end_of_its_last_day_in_the_business_zone() {
        assert_eq!(
            end_of("2026-12-31", offset!(+8)).unwrap(),
            datetime!(2026-12-31 16:00 UTC)
        );
        assert_eq!(
            last_day(end_of("2026-12-31", offset!(+8)).unwrap(), offset!(+8)).to_string(),
            "2026-12-31"
        );
        assert!(end_of("31/12/2026", offset!(+8)).is_err());
        assert!(end_of("", offset!(+8)).is_err());
    }
}
