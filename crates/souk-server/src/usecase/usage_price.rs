//! The Step/Tier rating of a product's on-demand price (business rules §6.4), set by its
//! seller: read and written here for the API (`/v1/products/{id}/usage-price`) and the seller
//! console alike. Without one, usage is rated at the on-demand price's `amount_minor` per unit.
//! Orders copy the rating when they are placed, so a change applies to later purchases only.

use crate::error::{AppError, AppResult};
use crate::AppState;
use serde::{Deserialize, Serialize};
use souk_core::metering::{Band, Collection, PriceMode, UsageValue};
use souk_store::{Principal, ProductRecord, Scope};

/// One band: usage up to and including `up_to` units (decimal text; absent on the last band)
/// at `unit_minor` minor units per unit.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BandView {
    #[schema(example = "1000")]
    pub up_to: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64, example = 8)]
    pub unit_minor: i64,
}

/// `fixed`: the on-demand `amount_minor` per unit (no bands); `step`: every unit at the price
/// of the band the period's total reached (volume); `tier`: each band's units at its own price
/// (graduated). Tiers and steps count usage over the calendar month.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePriceView {
    #[schema(example = "tier")]
    pub mode: String,
    #[serde(default)]
    pub bands: Vec<BandView>,
    /// `hourly` (default): usage is rated every hour, 15 minutes past it; `daily`: once a
    /// day, at 01:00 in the business zone (+08:00), the whole day before in one charge.
    #[schema(example = "hourly")]
    #[serde(default)]
    pub collection: Option<String>,
}

fn to_collection(v: &UsagePriceView) -> AppResult<Collection> {
    match v.collection.as_deref() {
        None => Ok(Collection::Hourly),
        Some(c) => Collection::parse(c)
            .ok_or_else(|| AppError::invalid_field("collection", "collection is hourly or daily")),
    }
}

pub fn to_mode(v: &UsagePriceView) -> AppResult<Option<PriceMode>> {
    let bands = || -> AppResult<Vec<Band>> {
        v.bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let up_to = match b.up_to.as_deref() {
                    None => None,
                    Some(t) => Some(UsageValue::parse_record(t).map_err(|e| {
                        AppError::invalid_field(&format!("bands[{i}].up_to"), e.to_string())
                    })?),
                };
                Ok(Band {
                    up_to,
                    unit_minor: b.unit_minor,
                })
            })
            .collect()
    };
    let mode = match v.mode.as_str() {
        "fixed" if v.bands.is_empty() => return Ok(None),
        "fixed" => {
            return Err(AppError::invalid_field(
                "bands",
                "a fixed price has no bands: it is the on-demand amount_minor per unit",
            ))
        }
        "step" => PriceMode::Step { bands: bands()? },
        "tier" => PriceMode::Tier { bands: bands()? },
        _ => {
            return Err(AppError::invalid_field(
                "mode",
                "mode is fixed, step or tier",
            ))
        }
    };
    mode.check()
        .map_err(|e| AppError::invalid_field("bands", e.to_string()))?;
    Ok(Some(mode))
}

fn to_view(mode: Option<PriceMode>, collection: Collection) -> UsagePriceView {
    let collection = Some(collection.as_str().to_owned());
    let bands = |b: Vec<Band>| {
        b.into_iter()
            .map(|b| BandView {
                up_to: b.up_to.map(|u| u.to_string()),
                unit_minor: b.unit_minor,
            })
            .collect()
    };
    match mode {
        None | Some(PriceMode::Fixed { .. }) => UsagePriceView {
            mode: "fixed".into(),
            bands: Vec::new(),
            collection,
        },
        Some(PriceMode::Step { bands: b }) => UsagePriceView {
            mode: "step".into(),
            bands: bands(b),
            collection,
        },
        Some(PriceMode::Tier { bands: b }) => UsagePriceView {
            mode: "tier".into(),
            bands: bands(b),
            collection,
        },
    }
}

/// Replaces how the product's on-demand usage is rated (`scope` must see the product as its
/// seller); answers what is now stored.
pub async fn set(
    state: &AppState,
    scope: &Scope,
    actor: &souk_core::party::PartyId,
    product_id: &str,
    input: &UsagePriceView,
) -> AppResult<UsagePriceView> {
    let mode = to_mode(input)?;
    let collection = to_collection(input)?;
    let found = state
        .store
        .set_usage_price(
            scope,
            product_id,
            mode.as_ref(),
            collection,
            actor,
            state.clock.now(),
        )
        .await?;
    if !found {
        return Err(AppError::not_found("product"));
    }
    Ok(to_view(mode, collection))
}

/// The product (as `caller` may see it) and how its usage is rated (`fixed` when never set).
pub async fn get(
    state: &AppState,
    caller: &Principal,
    product_id: &str,
) -> AppResult<(ProductRecord, UsagePriceView)> {
    let product = crate::usecase::catalog::get(state, caller, product_id).await?;
    let view = to_view(
        state.store.usage_price(product.id.as_str()).await?,
        state.store.usage_collection(product.id.as_str()).await?,
    );
    Ok((product, view))
}
