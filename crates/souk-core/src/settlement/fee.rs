//! Rates, the platform fee, the joint seller share and the tiered incremental rebate (§8).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Basis points in one whole (100 %).
pub const WHOLE_BP: u32 = 10_000;

/// A rate in basis points (1 bp = 0.01 %), 0 to 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Rate(u32);

impl Rate {
    pub const ZERO: Rate = Rate(0);

    pub fn from_bp(bp: u32) -> Result<Rate, FeePolicyError> {
        if bp > WHOLE_BP {
            return Err(FeePolicyError::RateOutOfRange(bp));
        }
        Ok(Rate(bp))
    }

    pub fn bp(&self) -> u32 {
        self.0
    }

    /// 100 % minus this rate.
    pub fn complement(&self) -> Rate {
        Rate(WHOLE_BP - self.0)
    }
}

impl TryFrom<u32> for Rate {
    type Error = FeePolicyError;
    fn try_from(bp: u32) -> Result<Rate, FeePolicyError> {
        Rate::from_bp(bp)
    }
}

impl From<Rate> for u32 {
    fn from(r: Rate) -> u32 {
        r.0
    }
}

/// An amount in ten-thousandths of a minor unit: what `minor × basis points` is exactly. The
/// one place rounding happens is [`Exact::round`] (see the module docs of `settlement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Exact(pub i128);

impl Exact {
    pub const ZERO: Exact = Exact(0);

    /// `amount_minor × rate`, exactly.
    pub fn of(amount_minor: i64, rate: Rate) -> Exact {
        Exact(amount_minor as i128 * rate.0 as i128)
    }

    /// A whole number of minor units.
    pub fn minor(amount_minor: i64) -> Exact {
        Exact(amount_minor as i128 * WHOLE_BP as i128)
    }

    /// Rounds to the minor unit, half away from zero (四舍五入; symmetric, so a refund rounds
    /// exactly as the sale it reverses).
    pub fn round(&self) -> i64 {
        let whole = WHOLE_BP as i128;
        let half = whole / 2;
        let q = if self.0 >= 0 {
            (self.0 + half) / whole
        } else {
            -((-self.0 + half) / whole)
        };
        // Statement figures are bounded far below i64 by MAX_AMOUNT_MINOR on each input.
        q.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// As a decimal number of minor units with four places, e.g. `"1234.5000"`.
    pub fn to_decimal(&self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}.{:04}", a / WHOLE_BP as u128, a % WHOLE_BP as u128)
    }

    /// Parses what [`Exact::to_decimal`] writes.
    pub fn from_decimal(s: &str) -> Option<Exact> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.')?;
        if frac.len() != 4 || int.is_empty() {
            return None;
        }
        let v = int.parse::<i128>().ok()? * WHOLE_BP as i128 + frac.parse::<i128>().ok()?;
        Some(Exact(if neg { -v } else { v }))
    }
}

impl std::ops::Add for Exact {
    type Output = Exact;
    fn add(self, o: Exact) -> Exact {
        Exact(self.0 + o.0)
    }
}

impl std::ops::Sub for Exact {
    type Output = Exact;
    fn sub(self, o: Exact) -> Exact {
        Exact(self.0 - o.0)
    }
}

impl std::iter::Sum for Exact {
    fn sum<I: Iterator<Item = Exact>>(iter: I) -> Exact {
        iter.fold(Exact::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

/// One band of the incremental rebate: from `from_minor` of the product's monthly paid amount
/// upwards (to the next band's threshold), the platform keeps `rate` instead of the fee rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tier {
    /// Threshold in minor units (the first band starts at 0).
    pub from_minor: i64,
    /// Rate the platform keeps in this band, basis points (≤ the fee rate).
    #[schema(value_type = u32)]
    pub rate_bp: Rate,
}

/// How the platform takes its share of a product's sales (§8.1, §8.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeePolicy {
    /// The platform fee rate on general products, basis points (default 500 = 5 %).
    #[schema(value_type = u32)]
    pub rate_bp: Rate,
    /// The rebate bands; a single band at the fee rate means no rebate.
    pub tiers: Vec<Tier>,
    /// Joint products only: the seller's share set at listing, basis points. When present the
    /// platform keeps the rest and no fee or rebate applies.
    #[schema(value_type = Option<u32>)]
    pub seller_share_bp: Option<Rate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeePolicyError {
    #[error("a rate is 0 to 10000 basis points (0–100 %), not {0}")]
    RateOutOfRange(u32),
    #[error("the first rebate band must start at 0")]
    FirstBandNotZero,
    #[error("rebate bands must have strictly increasing thresholds within 0..=10^15 minor units")]
    BandsNotIncreasing,
    #[error("a rebate band's rate ({band} bp) cannot exceed the fee rate ({fee} bp)")]
    BandAboveFee { band: u32, fee: u32 },
    #[error("at most 20 rebate bands")]
    TooManyBands,
}

impl FeePolicy {
    /// A general product at `rate` with no rebate.
    pub fn flat(rate: Rate) -> FeePolicy {
        FeePolicy {
            rate_bp: rate,
            tiers: vec![Tier {
                from_minor: 0,
                rate_bp: rate,
            }],
            seller_share_bp: None,
        }
    }

    /// Checks the bands: start at 0, increase, never above the fee rate.
    pub fn validate(&self) -> Result<(), FeePolicyError> {
        if self.tiers.len() > 20 {
            return Err(FeePolicyError::TooManyBands);
        }
        match self.tiers.first() {
            Some(t) if t.from_minor == 0 => {}
            _ => return Err(FeePolicyError::FirstBandNotZero),
        }
        for w in self.tiers.windows(2) {
            if w[1].from_minor <= w[0].from_minor {
                return Err(FeePolicyError::BandsNotIncreasing);
            }
        }
        if self
            .tiers
            .iter()
            .any(|t| t.from_minor > crate::money::MAX_AMOUNT_MINOR)
        {
            return Err(FeePolicyError::BandsNotIncreasing);
        }
        if let Some(t) = self.tiers.iter().find(|t| t.rate_bp > self.rate_bp) {
            return Err(FeePolicyError::BandAboveFee {
                band: t.rate_bp.bp(),
                fee: self.rate_bp.bp(),
            });
        }
        Ok(())
    }

    /// The rate the platform keeps on each sale line: the fee rate, or for a joint product
    /// what the seller's share leaves.
    pub fn line_rate(&self) -> Rate {
        match self.seller_share_bp {
            Some(share) => share.complement(),
            None => self.rate_bp,
        }
    }

    /// The incremental rebate for a product's monthly paid amount (§8.1, Souk default):
    /// `Σ_band amount_in_band(paid) × (fee.rate − band_rate)`, exact. Joint products get none;
    /// neither does a month whose refunds exceed its sales.
    pub fn rebate(&self, paid_minor: i64) -> Exact {
        if self.seller_share_bp.is_some() || paid_minor <= 0 {
            return Exact::ZERO;
        }
        let mut total = Exact::ZERO;
        for (i, band) in self.tiers.iter().enumerate() {
            if paid_minor <= band.from_minor {
                break;
            }
            let upper = self
                .tiers
                .get(i + 1)
                .map_or(paid_minor, |next| next.from_minor.min(paid_minor));
            let in_band = upper - band.from_minor;
            let kept_less = self.rate_bp.bp().saturating_sub(band.rate_bp.bp());
            total = total + Exact(in_band as i128 * kept_less as i128);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(bp: u32) -> Rate {
        Rate::from_bp(bp).unwrap()
    }

    /// 5 % up to 10,000.00; 4 % from 10,000.00; 3 % from 50,000.00.
    fn tiered() -> FeePolicy {
        FeePolicy {
            rate_bp: r(500),
            tiers: vec![
                Tier {
                    from_minor: 0,
                    rate_bp: r(500),
                },
                Tier {
                    from_minor: 1_000_000,
                    rate_bp: r(400),
                },
                Tier {
                    from_minor: 5_000_000,
                    rate_bp: r(300),
                },
            ],
            seller_share_bp: None,
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_symmetric() {
        assert_eq!(Exact(5_000).round(), 1);
        assert_eq!(Exact(4_999).round(), 0);
        assert_eq!(Exact(-5_000).round(), -1);
        assert_eq!(Exact(-4_999).round(), 0);
        assert_eq!(Exact(15_000).round(), 2);
        assert_eq!(Exact::of(1999, r(500)).round(), 100); // 99.95 → 100
        assert_eq!(Exact(-12_345_678).to_decimal(), "-1234.5678");
        assert_eq!(Exact::from_decimal("-1234.5678"), Some(Exact(-12_345_678)));
        assert_eq!(Exact::from_decimal("0.0500"), Some(Exact(500)));
        assert_eq!(Exact::from_decimal("1.5"), None);
    }

    #[test]
    fn rebate_band_edges() {
        let p = tiered();
        p.validate().unwrap();
        // Inside the first band: nothing back.
        assert_eq!(p.rebate(1_000_000), Exact::ZERO);
        // One minor unit over the first edge: 1 × (5 % − 4 %) = 0.01 minor.
        assert_eq!(p.rebate(1_000_001), Exact(100));
        // At the second edge: 40,000.00 × 1 % = 400.00.
        assert_eq!(p.rebate(5_000_000).round(), 40_000);
        // Above: + 10,000.00 × 2 % = 200.00 → 600.00.
        assert_eq!(p.rebate(6_000_000).round(), 60_000);
        assert_eq!(p.rebate(0), Exact::ZERO);
        assert_eq!(p.rebate(-5), Exact::ZERO);
        // The default single band gives nothing back.
        assert_eq!(FeePolicy::flat(r(500)).rebate(9_999_999_999), Exact::ZERO);
    }

    #[test]
    fn joint_products_settle_by_the_seller_share() {
        let joint = FeePolicy {
            seller_share_bp: Some(r(7_000)),
            ..FeePolicy::flat(r(500))
        };
        assert_eq!(joint.line_rate(), r(3_000));
        assert_eq!(joint.rebate(10_000_000), Exact::ZERO);
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(Rate::from_bp(10_001).is_err());
        let mut p = tiered();
        p.tiers[0].from_minor = 5;
        assert_eq!(p.validate(), Err(FeePolicyError::FirstBandNotZero));
        let mut p = tiered();
        p.tiers[2].from_minor = 1_000_000;
        assert_eq!(p.validate(), Err(FeePolicyError::BandsNotIncreasing));
        let mut p = tiered();
        p.tiers[1].rate_bp = r(600);
        assert!(matches!(
            p.validate(),
            Err(FeePolicyError::BandAboveFee { .. })
        ));
    }

    proptest! {
        #[test]
        fn rebate_is_monotonic_and_bounded(a in 0i64..100_000_000, b in 0i64..100_000_000) {
            let p = tiered();
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(p.rebate(lo) <= p.rebate(hi));
            // Never more than the whole fee.
            prop_assert!(p.rebate(hi) <= Exact::of(hi, p.rate_bp));
        }

        #[test]
        fn rounding_is_within_half_a_unit(v in -1_000_000_000_000i128..1_000_000_000_000i128) {
            let rounded = Exact(v).round() as i128 * 10_000;
            prop_assert!((rounded - v).abs() <= 5_000);
            prop_assert_eq!(Exact(-v).round(), -Exact(v).round());
            prop_assert_eq!(Exact::from_decimal(&Exact(v).to_decimal()), Some(Exact(v)));
        }
    }
}
