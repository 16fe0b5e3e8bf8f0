//! Resellers (客户服务商, business rules §11): the commission formulas, the rules for an
//! authorisation and an exclusive offer, and the reseller's monthly statement.
//!
//! Commissions are exact in ten-thousandths of a minor unit like every rate-derived figure
//! (see the module docs of `settlement`); the VAT factor of the deal-price and floor-discount
//! formulas is a division, taken to the nearest ten-thousandth of a minor unit (half away from
//! zero). Only a statement's total is rounded to the minor unit ("round only the monthly total").

use super::fee::{Exact, Rate, WHOLE_BP};
use crate::order::string_enum;
use crate::party::Role;
use crate::transition::{IllegalTransition, StateMachine, Transition};
use serde::{Deserialize, Serialize};

string_enum!(
    /// A seller's authorisation of a reseller on one product (§8.2, §11).
    AuthorisationState {
        /// In effect: the reseller may create offers and earns commission.
        Active = "active",
        /// The share is above the standard share: the operator decides first.
        PendingApproval = "pending_approval",
        /// The operator refused it (reason kept).
        Rejected = "rejected",
        /// The seller (or the operator) withdrew it: no new offers or orders under it.
        Revoked = "revoked",
    }
);

string_enum!(
    AuthorisationAction {
        /// Operator: approve a share above the standard share.
        Approve = "approve",
        /// Operator: refuse it (reason required).
        Reject = "reject",
        /// Seller or operator: withdraw it.
        Revoke = "revoke",
    }
);

impl StateMachine for AuthorisationState {
    type Event = AuthorisationAction;
    const WHAT: &'static str = "an authorisation";
    const STATES: &'static [Self] = Self::ALL;
    const START: Self = AuthorisationState::Active;

    fn next(self, action: AuthorisationAction) -> Option<Self> {
        use AuthorisationAction as A;
        use AuthorisationState as S;
        Some(match (self, action) {
            (S::PendingApproval, A::Approve) => S::Active,
            (S::PendingApproval, A::Reject) => S::Rejected,
            (S::PendingApproval | S::Active, A::Revoke) => S::Revoked,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorisationError {
    #[error("only the operator may {0} an authorisation")]
    OperatorOnly(AuthorisationAction),
    #[error("a reason is required to reject an authorisation")]
    NoReason,
    #[error("{} that is {} cannot be {}", .0.what, .0.from, .0.event)]
    WrongState(#[from] IllegalTransition),
}

impl AuthorisationState {
    /// The state a new authorisation starts in (§8.2: at once up to the standard share).
    pub fn initial(share: Rate, standard: Rate) -> AuthorisationState {
        if needs_approval(share, standard) {
            AuthorisationState::PendingApproval
        } else {
            AuthorisationState::Active
        }
    }

    /// The move `action` by `role` makes (the seller's ownership is the caller's check).
    pub fn take(
        self,
        action: AuthorisationAction,
        role: Role,
        reason: Option<&str>,
    ) -> Result<Transition<AuthorisationState>, AuthorisationError> {
        if action != AuthorisationAction::Revoke && role != Role::Operator {
            return Err(AuthorisationError::OperatorOnly(action));
        }
        if action == AuthorisationAction::Reject && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(AuthorisationError::NoReason);
        }
        Ok(self.transition(action)?)
    }
}

/// The lowest unit price a reseller may offer: the catalogue price less the seller's maximum
/// discount, rounded up to the minor unit (the seller never gets less than it authorised).
pub fn floor_price(catalogue_minor: i64, max_discount: Rate) -> i64 {
    let w = WHOLE_BP as i128;
    let keep = catalogue_minor as i128 * (w - max_discount.bp() as i128);
    ((keep + w - 1).div_euclid(w)) as i64
}

string_enum!(
    /// Which §11 formula a reseller's commission on a product follows.
    CommissionFormula {
        /// `base × r / (1 + vat_product) × (1 + vat_service)`, base = the order's cash amount.
        DealPrice = "deal_price",
        /// `(deal price − floor price) × r / (1 + vat_product) × (1 + vat_service)`.
        FloorDiscount = "floor_discount",
        /// `order cash consumption × r`.
        JointSale = "joint_sale",
        /// `customer consumption × resale discount` (r is the discount).
        ResaleDiscount = "resale_discount",
    }
);

/// The terms an order's commission is computed with: fixed on the order when it is placed (the
/// authorisation may change later; the order keeps what it was sold under).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionTerms {
    pub formula: CommissionFormula,
    /// The reseller's share `r` (or the resale discount), basis points.
    pub rate_bp: Rate,
    /// VAT rate of the product, basis points (e.g. 600 = 6 %).
    pub vat_product_bp: Rate,
    /// VAT rate of the reseller's service invoice, basis points (6 % general, 3 % small-scale).
    pub vat_service_bp: Rate,
    /// Floor-discount formula: the floor price of what the order bought, minor units.
    pub floor_minor: i64,
}

impl CommissionTerms {
    /// The commission on `amount_minor` of an order of `order_minor` (a sale: the whole order;
    /// a refund: a negative part of it, whose commission is taken back in proportion).
    pub fn commission(&self, amount_minor: i64, order_minor: i64) -> Exact {
        if order_minor <= 0 || amount_minor == 0 {
            return Exact::ZERO;
        }
        let w = WHOLE_BP as i128;
        let base_full = match self.formula {
            CommissionFormula::FloorDiscount => (order_minor - self.floor_minor).max(0),
            _ => order_minor,
        } as i128;
        // Exact units are minor × bp: base × r is already one; the VAT factor and the share of
        // the order are the divisions.
        let (num_vat, den_vat) = match self.formula {
            CommissionFormula::DealPrice | CommissionFormula::FloorDiscount => (
                w + self.vat_service_bp.bp() as i128,
                w + self.vat_product_bp.bp() as i128,
            ),
            _ => (1, 1),
        };
        let num = base_full * amount_minor as i128 * self.rate_bp.bp() as i128 * num_vat;
        let den = order_minor as i128 * den_vat;
        Exact(div_round(num, den))
    }
}

/// `num / den` rounded half away from zero (`den > 0`).
fn div_round(num: i128, den: i128) -> i128 {
    let q = (num.abs() * 2 + den) / (den * 2);
    if num < 0 {
        -q
    } else {
        q
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResellerError {
    #[error("the offer price {price} is outside the catalogue price {catalogue} and the floor price {floor}")]
    PriceOutOfRange {
        price: i64,
        floor: i64,
        catalogue: i64,
    },
    #[error("the floor price {floor} is above the catalogue price {catalogue}")]
    FloorAboveCatalogue { floor: i64, catalogue: i64 },
    #[error("an offer must be valid for some time: it ends before it starts")]
    EmptyValidity,
}

/// §11 严选: "resellers price only between catalogue and floor price".
pub fn check_offer_price(price: i64, floor: i64, catalogue: i64) -> Result<(), ResellerError> {
    if floor > catalogue {
        return Err(ResellerError::FloorAboveCatalogue { floor, catalogue });
    }
    if price < floor || price > catalogue {
        return Err(ResellerError::PriceOutOfRange {
            price,
            floor,
            catalogue,
        });
    }
    Ok(())
}

/// §8.2: an authorisation takes effect at once when the reseller's share is at most the
/// standard share; above it the operator approves it first.
pub fn needs_approval(share: Rate, standard: Rate) -> bool {
    share > standard
}

/// One sale or refund of a reseller's order on the reseller's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResellerItem {
    /// The order (sales) or the refund / adjustment (deductions): settled once.
    pub source_id: String,
    pub kind: super::LineKind,
    pub order_id: String,
    /// Cash amount: ≥ 0 for a sale, < 0 for a refund.
    pub amount_minor: i64,
    /// The whole order's amount (a refund's commission is taken back in proportion).
    pub order_minor: i64,
    pub terms: CommissionTerms,
}

/// A reseller statement's totals: commission rounded once; refunds' commissions deducted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct ResellerTotals {
    /// Cash amounts of the sales (performance).
    pub sales_minor: i64,
    /// Cash amounts refunded (negative).
    pub refunds_minor: i64,
    /// Σ commissions, rounded once.
    pub commission_minor: i64,
    /// What the previous statement left owing (≤ 0).
    pub carried_in_minor: i64,
    pub net_minor: i64,
    pub payable_minor: i64,
    pub carried_forward_minor: i64,
}

/// Each item's exact commission and the totals.
pub fn reseller_statement(
    items: &[ResellerItem],
    carried_in_minor: i64,
) -> (Vec<Exact>, ResellerTotals) {
    let commissions: Vec<Exact> = items
        .iter()
        .map(|i| i.terms.commission(i.amount_minor, i.order_minor))
        .collect();
    let commission = commissions.iter().copied().sum::<Exact>().round();
    let sales = items.iter().map(|i| i.amount_minor.max(0)).sum();
    let refunds = items.iter().map(|i| i.amount_minor.min(0)).sum();
    let net = commission + carried_in_minor;
    let totals = ResellerTotals {
        sales_minor: sales,
        refunds_minor: refunds,
        commission_minor: commission,
        carried_in_minor,
        net_minor: net,
        payable_minor: net.max(0),
        carried_forward_minor: net.min(0),
    };
    (commissions, totals)
}

string_enum!(
    /// Why a customer may not be associated with a reseller (§11), flagged by the operator.
    AssociationExclusion {
        /// An internal account of the marketplace's operator.
        Internal = "internal",
        /// A consumer-cloud user.
        ConsumerCloud = "consumer_cloud",
        /// A customer already reported (报备) by a partner, or in the referral programme.
        Reported = "reported",
    }
);

impl AssociationExclusion {
    /// What the refused buyer reads.
    pub fn describe(self) -> &'static str {
        match self {
            AssociationExclusion::Internal => "an internal account",
            AssociationExclusion::ConsumerCloud => "a consumer-cloud user",
            AssociationExclusion::Reported => "a customer already reported by a partner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(bp: u32) -> Rate {
        Rate::from_bp(bp).unwrap()
    }

    fn terms(
        formula: CommissionFormula,
        rate: u32,
        vp: u32,
        vs: u32,
        floor: i64,
    ) -> CommissionTerms {
        CommissionTerms {
            formula,
            rate_bp: r(rate),
            vat_product_bp: r(vp),
            vat_service_bp: r(vs),
            floor_minor: floor,
        }
    }

    #[test]
    fn the_published_example_by_taxpayer_kind() {
        // 1060 yuan incl. 6 % VAT, r = 10 %: general taxpayer 106.00, small-scale 103.00.
        let general = terms(CommissionFormula::DealPrice, 1_000, 600, 600, 0);
        assert_eq!(general.commission(106_000, 106_000).round(), 10_600);
        let small = terms(CommissionFormula::DealPrice, 1_000, 600, 300, 0);
        assert_eq!(small.commission(106_000, 106_000), Exact::minor(10_300));
    }

    #[test]
    fn floor_discount_joint_and_resale_formulas() {
        // Sold at 900.00 with a floor of 700.00, r = 50 %, no VAT difference: 100.00.
        let floor = terms(CommissionFormula::FloorDiscount, 5_000, 600, 600, 70_000);
        assert_eq!(floor.commission(90_000, 90_000), Exact::minor(10_000));
        // A half refund takes half back.
        assert_eq!(floor.commission(-45_000, 90_000), Exact::minor(-5_000));
        let joint = terms(CommissionFormula::JointSale, 1_500, 600, 300, 0);
        assert_eq!(joint.commission(10_001, 10_001), Exact(10_001 * 1_500));
        let resale = terms(CommissionFormula::ResaleDiscount, 7_500, 0, 0, 0);
        assert_eq!(resale.commission(400, 400), Exact::minor(300));
    }

    #[test]
    fn a_statement_rounds_its_total_once_and_deducts_refunds() {
        let t = terms(CommissionFormula::DealPrice, 1_000, 600, 300, 0);
        // 10.01 × 10 % × 1.03 / 1.06 = 97.26698… fen: 97.2670 each.
        let sale = |id: &str, amount: i64| ResellerItem {
            source_id: id.to_owned(),
            kind: super::super::LineKind::Opening,
            order_id: id.to_owned(),
            amount_minor: amount,
            order_minor: 1_001,
            terms: t.clone(),
        };
        let items = vec![sale("a", 1_001), sale("b", 1_001), sale("c", 1_001)];
        let (lines, totals) = reseller_statement(&items, 0);
        assert_eq!(lines[0], Exact(972_670));
        // Three lines rounded once: 291.8010 → 292 (rounding each would give 291).
        assert_eq!(totals.commission_minor, 292);
        let mut with_refund = items.clone();
        with_refund.push(ResellerItem {
            kind: super::super::LineKind::Refund,
            source_id: "r".to_owned(),
            amount_minor: -1_001,
            ..sale("a", 0)
        });
        let (_, totals) = reseller_statement(&with_refund, -10);
        assert_eq!(totals.refunds_minor, -1_001);
        assert_eq!(totals.commission_minor, 195);
        assert_eq!(totals.net_minor, 185);
    }

    #[test]
    fn authorisations_above_the_standard_share_wait_for_the_operator() {
        use AuthorisationAction as A;
        use AuthorisationState as S;
        assert_eq!(S::initial(r(1_000), r(1_000)), S::Active);
        let s = S::initial(r(1_500), r(1_000));
        assert_eq!(s, S::PendingApproval);
        assert!(s.take(A::Approve, Role::Seller, None).is_err());
        assert!(s.take(A::Reject, Role::Operator, Some(" ")).is_err());
        assert_eq!(
            s.take(A::Approve, Role::Operator, None).unwrap().to,
            S::Active
        );
        assert_eq!(
            S::Active.take(A::Revoke, Role::Seller, None).unwrap().to,
            S::Revoked
        );
        assert!(S::Revoked.take(A::Revoke, Role::Seller, None).is_err());
        assert_eq!(floor_price(1_000, r(2_500)), 750);
        assert_eq!(floor_price(999, r(3_333)), 667);
    }

    #[test]
    fn offers_stay_between_floor_and_catalogue() {
        assert!(check_offer_price(800, 700, 1_000).is_ok());
        assert!(check_offer_price(700, 700, 1_000).is_ok());
        assert!(check_offer_price(699, 700, 1_000).is_err());
        assert!(check_offer_price(1_001, 700, 1_000).is_err());
        assert!(check_offer_price(800, 1_100, 1_000).is_err());
        assert!(needs_approval(r(1_001), r(1_000)));
        assert!(!needs_approval(r(1_000), r(1_000)));
    }
}
