//! Rating: what a quantity of usage costs under a price mode (business rules §6.4).
//!
//! - `Fixed`: every unit at one unit price.
//! - `Tier` (graduated; Souk default for the \[U\] semantics): each band's units at that band's
//!   price.
//! - `Step` (volume; Souk default): every unit at the price of the band the total reached.
//!
//! Tiers and steps count the usage accumulated over the accumulation period (Souk default: the
//! calendar month). Each collection is charged the *difference* between the cost of the
//! period's usage after it and before it, each truncated to the minor unit (`money.rounding =
//! truncate`): the charges of a period therefore always add up to exactly the cost of its total,
//! however the usage was split into collections, and a charge, once made, is never revised.

use super::usage::{UsageValue, SCALE};
use serde::{Deserialize, Serialize};

/// One band of a Step or Tier price: units up to and including `up_to` (the last band has
/// none: unbounded) at `unit_minor` minor units per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub up_to: Option<UsageValue>,
    pub unit_minor: i64,
}

/// How usage is priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PriceMode {
    Fixed { unit_minor: i64 },
    Step { bands: Vec<Band> },
    Tier { bands: Vec<Band> },
}

/// The largest unit price a band may have (the catalog's price bound).
pub const MAX_UNIT_MINOR: i64 = 1_000_000_000_000;

/// Why a price mode cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("a price needs at least one band")]
    NoBands,
    #[error("band limits must rise strictly and only the last band may be unbounded")]
    BandOrder,
    #[error("the last band must be unbounded (no up_to)")]
    LastBandBounded,
    #[error("unit prices are 0 to 10^12 minor units")]
    UnitPrice,
    #[error("the charge is larger than Souk can hold")]
    Overflow,
}

impl PriceMode {
    /// Checks the bands: at least one, limits strictly rising, the last unbounded, prices in range.
    pub fn check(&self) -> Result<(), PriceError> {
        let in_range = |p: i64| (0..=MAX_UNIT_MINOR).contains(&p);
        match self {
            PriceMode::Fixed { unit_minor } => in_range(*unit_minor)
                .then_some(())
                .ok_or(PriceError::UnitPrice),
            PriceMode::Step { bands } | PriceMode::Tier { bands } => {
                let Some(last) = bands.last() else {
                    return Err(PriceError::NoBands);
                };
                if last.up_to.is_some() {
                    return Err(PriceError::LastBandBounded);
                }
                let mut floor = UsageValue::ZERO;
                for b in &bands[..bands.len() - 1] {
                    match b.up_to {
                        Some(u) if u > floor => floor = u,
                        _ => return Err(PriceError::BandOrder),
                    }
                }
                if bands.iter().all(|b| in_range(b.unit_minor)) {
                    Ok(())
                } else {
                    Err(PriceError::UnitPrice)
                }
            }
        }
    }

    /// The cost of `total` usage in the period, in minor units × [`SCALE`] (not yet truncated).
    fn scaled_cost(&self, total: UsageValue) -> i128 {
        let t = total.ten_thousandths().max(0) as i128;
        match self {
            PriceMode::Fixed { unit_minor } => t * *unit_minor as i128,
            PriceMode::Step { bands } => {
                let band = bands
                    .iter()
                    .find(|b| b.up_to.is_none_or(|u| total <= u))
                    .or(bands.last());
                band.map_or(0, |b| t * b.unit_minor as i128)
            }
            PriceMode::Tier { bands } => {
                let mut cost = 0i128;
                let mut floor = 0i128;
                for b in bands {
                    let top = b.up_to.map_or(t, |u| (u.ten_thousandths() as i128).min(t));
                    if top > floor {
                        cost += (top - floor) * b.unit_minor as i128;
                        floor = top;
                    }
                    if floor >= t {
                        break;
                    }
                }
                cost
            }
        }
    }

    /// The cost of `total` usage in the period, truncated to minor units.
    pub fn cost(&self, total: UsageValue) -> i128 {
        self.scaled_cost(total) / SCALE as i128
    }

    /// The charge of a collection that adds `added` to `before` already rated in the period.
    pub fn charge(&self, before: UsageValue, added: UsageValue) -> Result<i64, PriceError> {
        let after = before.checked_add(added).ok_or(PriceError::Overflow)?;
        let diff = self.cost(after) - self.cost(before);
        i64::try_from(diff)
            .ok()
            .filter(|d| d.unsigned_abs() <= crate::money::MAX_AMOUNT_MINOR as u64)
            .ok_or(PriceError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: i64) -> UsageValue {
        UsageValue::units(n)
    }

    fn bands() -> Vec<Band> {
        // 0–100 at 10, 100–1000 at 8, above at 5.
        vec![
            Band {
                up_to: Some(u(100)),
                unit_minor: 10,
            },
            Band {
                up_to: Some(u(1000)),
                unit_minor: 8,
            },
            Band {
                up_to: None,
                unit_minor: 5,
            },
        ]
    }

    #[test]
    fn fixed_is_quantity_times_unit_price_truncated() {
        let p = PriceMode::Fixed { unit_minor: 3 };
        assert_eq!(p.cost(u(10)), 30);
        // 0.5 × 3 = 1.5 → 1 (truncate); the next 0.5 brings the total to 3.
        let half = UsageValue::from_ten_thousandths(5_000);
        assert_eq!(p.charge(UsageValue::ZERO, half), Ok(1));
        assert_eq!(p.charge(half, half), Ok(2));
    }

    #[test]
    fn tier_is_graduated_across_band_edges() {
        let p = PriceMode::Tier { bands: bands() };
        assert_eq!(p.cost(u(100)), 1000);
        assert_eq!(p.cost(u(101)), 1008);
        assert_eq!(p.cost(u(1000)), 1000 + 900 * 8);
        assert_eq!(p.cost(u(1001)), 1000 + 900 * 8 + 5);
        // A collection crossing an edge pays each side at its own price.
        assert_eq!(p.charge(u(90), u(20)), Ok(10 * 10 + 10 * 8));
    }

    #[test]
    fn step_prices_every_unit_at_the_band_reached() {
        let p = PriceMode::Step { bands: bands() };
        assert_eq!(p.cost(u(100)), 1000, "the edge belongs to the lower band");
        assert_eq!(p.cost(u(101)), 808);
        assert_eq!(p.cost(u(1000)), 8000);
        assert_eq!(p.cost(u(1001)), 5005);
        // Crossing into a cheaper band gives a negative charge: a credit for units charged at
        // the higher price earlier in the period.
        assert_eq!(p.charge(u(100), u(1)), Ok(808 - 1000));
    }

    #[test]
    fn bands_are_checked() {
        assert_eq!(
            PriceMode::Tier { bands: vec![] }.check(),
            Err(PriceError::NoBands)
        );
        let bounded = vec![Band {
            up_to: Some(u(1)),
            unit_minor: 1,
        }];
        assert_eq!(
            PriceMode::Step { bands: bounded }.check(),
            Err(PriceError::LastBandBounded)
        );
        let mut b = bands();
        b[1].up_to = Some(u(100));
        assert_eq!(
            PriceMode::Tier { bands: b }.check(),
            Err(PriceError::BandOrder)
        );
        let mut b = bands();
        b[0].unit_minor = -1;
        assert_eq!(
            PriceMode::Tier { bands: b }.check(),
            Err(PriceError::UnitPrice)
        );
        assert_eq!(PriceMode::Tier { bands: bands() }.check(), Ok(()));
        assert_eq!(
            PriceMode::Fixed { unit_minor: -1 }.check(),
            Err(PriceError::UnitPrice)
        );
    }
}
