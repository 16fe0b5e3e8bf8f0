//! A seller's statement for one period, computed from what was attributed to it (§9).
//!
//! The store gathers the [`Item`]s (each a sale taking effect, a refund, an operator adjustment)
//! that are in scope for the period and not yet settled, plus the policies of their products;
//! [`compute`] turns them into lines and totals. The same function recomputes a stored
//! statement from the order history (the reproducibility check), so the two cannot disagree.

use super::fee::{Exact, FeePolicy};
use crate::id::OrderId;
use crate::money::MAX_AMOUNT_MINOR;
use crate::order::{string_enum, OrderKind};
use std::collections::BTreeMap;
use time::OffsetDateTime;

string_enum!(
    /// Why a line is on a statement: the attribution event of a sale (§9 table "Attribution
    /// event"), a refund, an operator adjustment, or a product's monthly rebate.
    LineKind {
        /// Image, unsupervised SaaS, API: the seller's opening call succeeded.
        Opening = "opening",
        /// License, manual service, flagged SaaS, hardware, orchestration: supervision completed.
        SupervisionCompletion = "supervision_completion",
        /// A renewal took effect (the seller's renew call succeeded).
        RenewalEffect = "renewal_effect",
        /// A specification change took effect.
        Upgrade = "upgrade",
        /// On-demand usage rated in the month (one line per instance and month).
        OnDemandConsumption = "on_demand_consumption",
        /// Money returned to a buyer for a settled (or settling) sale: a negative line.
        Refund = "refund",
        /// An operator correction (a verified dispute, §9 "corrected next cycle").
        Adjustment = "adjustment",
        /// The product's tiered incremental rebate for the month (§8.1), a positive line.
        Rebate = "rebate",
    }
);

/// What moment attributes a completed order to a period (§9): which event it is depends on the
/// order kind and whether the product is supervised. `None`: nothing to settle (a free trial).
pub fn attribution(kind: OrderKind, supervised: bool) -> Option<LineKind> {
    match kind {
        OrderKind::New | OrderKind::TrialToFormal if supervised => {
            Some(LineKind::SupervisionCompletion)
        }
        OrderKind::New | OrderKind::TrialToFormal => Some(LineKind::Opening),
        OrderKind::Renewal => Some(LineKind::RenewalEffect),
        OrderKind::Upgrade => Some(LineKind::Upgrade),
        OrderKind::Trial => None,
    }
}

/// One thing to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: LineKind,
    /// What it comes from (an order id, a refund id, an adjustment id): settled once.
    pub source_id: String,
    pub order_id: Option<OrderId>,
    pub product_id: Option<String>,
    /// Minor units: ≥ 0 for sales, ≤ 0 for refunds, either sign for adjustments and on-demand
    /// consumption (a usage adjustment can take it below zero).
    pub amount_minor: i64,
    /// When the attribution event happened.
    pub occurred_at: OffsetDateTime,
    /// The reseller's commission when the order went through a reseller (§11).
    pub commission: Option<OrderCommission>,
}

/// What a reseller earns on an order: its terms and the whole order's amount (a refund takes
/// the commission back in proportion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCommission {
    pub terms: super::reseller::CommissionTerms,
    pub order_minor: i64,
}

/// Everything [`compute`] needs.
#[derive(Debug, Clone)]
pub struct StatementInput {
    pub period_start: OffsetDateTime,
    pub items: Vec<Item>,
    /// Fee policy per product id; products not listed use `default_policy`.
    pub policies: BTreeMap<String, FeePolicy>,
    pub default_policy: FeePolicy,
    /// What the seller's previous statement left owing (≤ 0), carried into this one.
    pub carried_in_minor: i64,
}

/// One statement line. Rate-derived figures are exact (see the rounding rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub source_id: String,
    pub order_id: Option<OrderId>,
    pub product_id: Option<String>,
    pub occurred_at: Option<OffsetDateTime>,
    /// Attributed before the period began: carried forward from an earlier run.
    pub carried: bool,
    pub amount_minor: i64,
    pub platform_fee: Exact,
    pub rebate: Exact,
    pub commission: Exact,
    /// amount − fee + rebate − commission.
    pub net: Exact,
}

/// The statement's figures, each rounded once from its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub gross_minor: i64,
    pub refunds_minor: i64,
    pub adjustments_minor: i64,
    pub platform_fee_minor: i64,
    pub rebate_minor: i64,
    pub commission_minor: i64,
    pub carried_in_minor: i64,
    /// gross + refunds + adjustments − fee + rebate − commission + carried in.
    pub net_minor: i64,
    /// What the platform pays: the net when positive, else 0.
    pub payable_minor: i64,
    /// A negative net, carried into the next statement.
    pub carried_forward_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub lines: Vec<Line>,
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error("item {0}: the amount's sign does not fit its kind, or it exceeds 10^15")]
    BadAmount(String),
    #[error("item {0}: a rebate is computed, not supplied")]
    RebateSupplied(String),
}

/// Computes the statement. Lines come out in attribution order (time, then source id), rebate
/// lines last by product, so the result does not depend on the order of `items`.
pub fn compute(input: &StatementInput) -> Result<Statement, SettlementError> {
    let mut items: Vec<&Item> = input.items.iter().collect();
    items.sort_by(|a, b| {
        (a.occurred_at, &a.source_id, a.kind.as_str()).cmp(&(
            b.occurred_at,
            &b.source_id,
            b.kind.as_str(),
        ))
    });
    let policy_of = |product: &Option<String>| -> &FeePolicy {
        product
            .as_ref()
            .and_then(|p| input.policies.get(p))
            .unwrap_or(&input.default_policy)
    };
    let mut lines = Vec::with_capacity(items.len() + 4);
    // A product's monthly paid amount: its sales net of the month's refunds (§8.1 default).
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    for item in items {
        let ok = item.amount_minor.abs() <= MAX_AMOUNT_MINOR
            && match item.kind {
                LineKind::Refund => item.amount_minor <= 0,
                // Usage adjustments can take a month's consumption below zero.
                LineKind::Adjustment | LineKind::OnDemandConsumption => true,
                LineKind::Rebate => {
                    return Err(SettlementError::RebateSupplied(item.source_id.clone()))
                }
                _ => item.amount_minor >= 0,
            };
        if !ok {
            return Err(SettlementError::BadAmount(item.source_id.clone()));
        }
        // A correction is stated as its net effect: no fee or commission on top.
        let (fee, commission) = if item.kind == LineKind::Adjustment {
            (Exact::ZERO, Exact::ZERO)
        } else {
            let fee = Exact::of(item.amount_minor, policy_of(&item.product_id).line_rate());
            let commission = item.commission.as_ref().map_or(Exact::ZERO, |c| {
                c.terms.commission(item.amount_minor, c.order_minor)
            });
            if let Some(p) = &item.product_id {
                *paid.entry(p.clone()).or_default() += item.amount_minor;
            }
            (fee, commission)
        };
        lines.push(Line {
            kind: item.kind,
            source_id: item.source_id.clone(),
            order_id: item.order_id.clone(),
            product_id: item.product_id.clone(),
            occurred_at: Some(item.occurred_at),
            carried: item.occurred_at < input.period_start,
            amount_minor: item.amount_minor,
            platform_fee: fee,
            rebate: Exact::ZERO,
            commission,
            net: Exact::minor(item.amount_minor) - fee - commission,
        });
    }
    for (product, paid_minor) in &paid {
        let rebate = policy_of(&Some(product.clone())).rebate(*paid_minor);
        if rebate != Exact::ZERO {
            lines.push(Line {
                kind: LineKind::Rebate,
                source_id: product.clone(),
                order_id: None,
                product_id: Some(product.clone()),
                occurred_at: None,
                carried: false,
                amount_minor: 0,
                platform_fee: Exact::ZERO,
                rebate,
                commission: Exact::ZERO,
                net: rebate,
            });
        }
    }
    let totals = totals(&lines, input.carried_in_minor);
    Ok(Statement { lines, totals })
}

/// The totals of a set of lines: sums exact, rounded once each.
pub fn totals(lines: &[Line], carried_in_minor: i64) -> Totals {
    let sum_minor = |f: &dyn Fn(&Line) -> bool| -> i64 {
        lines.iter().filter(|l| f(l)).map(|l| l.amount_minor).sum()
    };
    let gross = sum_minor(&|l| !matches!(l.kind, LineKind::Refund | LineKind::Adjustment));
    let refunds = sum_minor(&|l| l.kind == LineKind::Refund);
    let adjustments = sum_minor(&|l| l.kind == LineKind::Adjustment);
    let fee = lines.iter().map(|l| l.platform_fee).sum::<Exact>().round();
    let rebate = lines.iter().map(|l| l.rebate).sum::<Exact>().round();
    let commission = lines.iter().map(|l| l.commission).sum::<Exact>().round();
    let net = gross + refunds + adjustments - fee + rebate - commission + carried_in_minor;
    Totals {
        gross_minor: gross,
        refunds_minor: refunds,
        adjustments_minor: adjustments,
        platform_fee_minor: fee,
        rebate_minor: rebate,
        commission_minor: commission,
        carried_in_minor,
        net_minor: net,
        payable_minor: net.max(0),
        carried_forward_minor: net.min(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::fee::{Rate, Tier};
    use proptest::prelude::*;
    use time::macros::datetime;

    fn r(bp: u32) -> Rate {
        Rate::from_bp(bp).unwrap()
    }

    fn item(kind: LineKind, id: &str, product: &str, amount: i64, day: u8) -> Item {
        Item {
            kind,
            source_id: id.to_owned(),
            order_id: Some(OrderId::from_trusted(id.to_owned())),
            product_id: Some(product.to_owned()),
            amount_minor: amount,
            occurred_at: datetime!(2026-11-01 00:00 UTC).replace_day(day).unwrap(),
            commission: None,
        }
    }

    fn input(items: Vec<Item>) -> StatementInput {
        let tiered = FeePolicy {
            rate_bp: r(500),
            tiers: vec![
                Tier {
                    from_minor: 0,
                    rate_bp: r(500),
                },
                Tier {
                    from_minor: 100_000,
                    rate_bp: r(300),
                },
            ],
            seller_share_bp: None,
        };
        let joint = FeePolicy {
            seller_share_bp: Some(r(7_000)),
            ..FeePolicy::flat(r(500))
        };
        StatementInput {
            period_start: datetime!(2026-11-02 00:00 UTC),
            items,
            policies: [("prd_t".to_owned(), tiered), ("prd_j".to_owned(), joint)]
                .into_iter()
                .collect(),
            default_policy: FeePolicy::flat(r(500)),
            carried_in_minor: 0,
        }
    }

    #[test]
    fn a_month_by_hand() {
        let mut items = vec![
            // 1,500.00 on the tiered product: 1,000.00 at 5 %, 500.00 at 3 % back 2 %.
            item(LineKind::Opening, "o1", "prd_t", 150_000, 3),
            // 20.01 on a default product: fee 1.0005.
            item(LineKind::RenewalEffect, "o2", "prd_d", 2_001, 4),
            item(LineKind::Upgrade, "o3", "prd_d", 2_001, 5),
            // A refund of 10.00 on the default product.
            item(LineKind::Refund, "r1", "prd_d", -1_000, 6),
            // Joint: 100.00 at a 70 % seller share.
            item(LineKind::SupervisionCompletion, "o4", "prd_j", 10_000, 7),
            // Carried from before the period.
            item(LineKind::Opening, "o5", "prd_d", 100, 1),
            item(LineKind::Adjustment, "a1", "prd_d", -50, 8),
        ];
        items[1].commission = Some(OrderCommission {
            terms: crate::settlement::reseller::CommissionTerms {
                formula: crate::settlement::reseller::CommissionFormula::JointSale,
                rate_bp: r(1_000),
                vat_product_bp: r(600),
                vat_service_bp: r(600),
                floor_minor: 0,
            },
            order_minor: 2_001,
        });
        let mut inp = input(items);
        inp.carried_in_minor = -30;
        let s = compute(&inp).unwrap();
        let t = s.totals;
        assert_eq!(t.gross_minor, 150_000 + 2_001 + 2_001 + 10_000 + 100);
        assert_eq!(t.refunds_minor, -1_000);
        assert_eq!(t.adjustments_minor, -50);
        // Fees: 7,500 + 100.05 + 100.05 − 50 + 3,000 + 5 = 10,655.10 → 10,655.
        assert_eq!(t.platform_fee_minor, 10_655);
        // Rebate on prd_t: 50,000 × 2 % = 1,000.
        assert_eq!(t.rebate_minor, 1_000);
        // Commission: 10 % of 20.01 = 2.001 → 2... in minor: 200.1 → 200.
        assert_eq!(t.commission_minor, 200);
        assert_eq!(
            t.net_minor,
            164_102 - 1_000 - 50 - 10_655 + 1_000 - 200 - 30
        );
        assert_eq!(t.payable_minor, t.net_minor);
        let carried: Vec<_> = s.lines.iter().filter(|l| l.carried).collect();
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].source_id, "o5");
        assert_eq!(s.lines.last().unwrap().kind, LineKind::Rebate);
    }

    #[test]
    fn a_negative_month_is_carried_forward() {
        let s = compute(&input(vec![item(
            LineKind::Refund,
            "r",
            "prd_d",
            -10_000,
            3,
        )]))
        .unwrap();
        assert_eq!(s.totals.net_minor, -9_500);
        assert_eq!(s.totals.payable_minor, 0);
        assert_eq!(s.totals.carried_forward_minor, -9_500);
    }

    #[test]
    fn wrong_signs_are_refused() {
        assert!(compute(&input(vec![item(LineKind::Refund, "r", "p", 5, 3)])).is_err());
        assert!(compute(&input(vec![item(LineKind::Opening, "o", "p", -5, 3)])).is_err());
        assert!(compute(&input(vec![item(LineKind::Rebate, "x", "p", 0, 3)])).is_err());
    }

    #[test]
    fn attribution_follows_the_delivery_rule() {
        assert_eq!(attribution(OrderKind::New, false), Some(LineKind::Opening));
        assert_eq!(
            attribution(OrderKind::New, true),
            Some(LineKind::SupervisionCompletion)
        );
        assert_eq!(
            attribution(OrderKind::Renewal, true),
            Some(LineKind::RenewalEffect)
        );
        assert_eq!(attribution(OrderKind::Trial, false), None);
    }

    proptest! {
        #[test]
        fn totals_do_not_depend_on_item_order_and_add_up(
            amounts in proptest::collection::vec((0u8..3, 0i64..10_000_000, 1u8..28), 0..40),
            seed in any::<u64>(),
        ) {
            let products = ["prd_t", "prd_j", "prd_d"];
            let items: Vec<Item> = amounts.iter().enumerate().map(|(i, (p, a, d))| {
                let kind = if i % 5 == 4 { LineKind::Refund } else { LineKind::Opening };
                let amount = if kind == LineKind::Refund { -(a / 3) } else { *a };
                item(kind, &format!("s{i:03}"), products[*p as usize], amount, *d)
            }).collect();
            let a = compute(&input(items.clone())).unwrap();
            let mut shuffled = items;
            let n = shuffled.len();
            if n > 1 {
                for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n); }
            }
            let b = compute(&input(shuffled)).unwrap();
            prop_assert_eq!(&a, &b);
            let t = a.totals;
            prop_assert_eq!(t.net_minor, t.gross_minor + t.refunds_minor + t.adjustments_minor
                - t.platform_fee_minor + t.rebate_minor - t.commission_minor);
            let exact_net: Exact = a.lines.iter().map(|l| l.net).sum();
            // Rounding three sums once each stays within 1.5 minor units of the exact net.
            prop_assert!((exact_net.0 - Exact::minor(t.net_minor).0).abs() <= 15_000);
        }
    }
}
