//! Properties of rating that must hold for any usage and any bands.

use proptest::prelude::*;
use souk_core::metering::{Band, PriceMode, UsageValue};

fn usage() -> impl Strategy<Value = UsageValue> {
    (1i64..=5_000_000_000).prop_map(UsageValue::from_ten_thousandths)
}

fn bands() -> impl Strategy<Value = Vec<Band>> {
    (
        prop::collection::vec((1i64..=1_000_000, 0i64..=10_000), 0..4),
        0i64..=10_000,
    )
        .prop_map(|(steps, last)| {
            let mut up = 0i64;
            let mut out: Vec<Band> = steps
                .into_iter()
                .map(|(width, price)| {
                    up += width;
                    Band {
                        up_to: Some(UsageValue::from_ten_thousandths(up)),
                        unit_minor: price,
                    }
                })
                .collect();
            out.push(Band {
                up_to: None,
                unit_minor: last,
            });
            out
        })
}

fn mode() -> impl Strategy<Value = PriceMode> {
    prop_oneof![
        (0i64..=10_000).prop_map(|unit_minor| PriceMode::Fixed { unit_minor }),
        bands().prop_map(|bands| PriceMode::Step { bands }),
        bands().prop_map(|bands| PriceMode::Tier { bands }),
    ]
}

proptest! {
    /// However a period's usage is split into collections, the charges add up to the cost of
    /// the total: nothing is lost or charged twice by truncation.
    #[test]
    fn charges_of_a_period_add_up_to_the_cost_of_its_total(
        mode in mode(),
        parts in prop::collection::vec(usage(), 1..20),
    ) {
        prop_assert_eq!(mode.check(), Ok(()));
        let mut before = UsageValue::ZERO;
        let mut charged: i128 = 0;
        for p in parts {
            charged += mode.charge(before, p).unwrap() as i128;
            before = before.checked_add(p).unwrap();
        }
        prop_assert_eq!(charged, mode.cost(before));
    }

    /// Graduated tiers never charge less for more usage.
    #[test]
    fn tier_cost_never_falls(bands in bands(), a in usage(), b in usage()) {
        let mode = PriceMode::Tier { bands };
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(mode.cost(lo) <= mode.cost(hi));
    }

    /// A single unbounded band is the fixed price, in all three modes.
    #[test]
    fn one_band_is_the_fixed_price(price in 0i64..=1_000_000, total in usage()) {
        let band = vec![Band { up_to: None, unit_minor: price }];
        let fixed = PriceMode::Fixed { unit_minor: price }.cost(total);
        prop_assert_eq!(PriceMode::Tier { bands: band.clone() }.cost(total), fixed);
        prop_assert_eq!(PriceMode::Step { bands: band }.cost(total), fixed);
    }

    /// Step cost is the total times the price of one band; tier cost lies between the
    /// cheapest and dearest band prices applied to the total.
    #[test]
    fn tier_cost_is_bounded_by_its_band_prices(bands in bands(), total in usage()) {
        let t = total.ten_thousandths() as i128;
        let min = bands.iter().map(|b| b.unit_minor).min().unwrap() as i128;
        let max = bands.iter().map(|b| b.unit_minor).max().unwrap() as i128;
        let c = PriceMode::Tier { bands }.cost(total);
        prop_assert!(c >= t * min / 10_000 && c <= t * max / 10_000);
    }

    /// Usage text round-trips exactly through the 4-decimal display.
    #[test]
    fn usage_text_round_trips(v in usage()) {
        let text = v.to_string();
        prop_assert_eq!(UsageValue::parse_record(&text), Ok(v));
    }
}
