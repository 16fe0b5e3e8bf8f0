//! Seller vouchers 代金券 (business rules §8.2): what a voucher may pay, how much of an order it
//! pays, and what a refund gives back to it. Pure: the store persists what is decided here (the
//! balance with a compare-and-set on `remaining_minor`).
//!
//! A voucher is issued by a seller to one buyer, for the seller's own products (optionally only
//! some products or SKUs of them), with a face value in one currency and a validity window. It
//! pays part or all of an order's **prepaid** amount when the order is paid; what is left stays
//! usable within validity. It never pays usage (on-demand charges, arrears): only an order's
//! payment takes from it, and on-demand orders have nothing prepaid to pay.

use crate::catalog::BillingMode;
use crate::money::{Currency, Money};
use crate::notice::Notice;
use crate::order::{string_enum, OrderKind};
use crate::transition::StateMachine;
use time::OffsetDateTime;

string_enum!(
    /// A voucher's stored state. Validity and balance are not states: they are read against the
    /// clock and `remaining_minor` ([`Voucher::status`]).
    VoucherState {
        /// Issued; usable within validity while something remains.
        Active = "active",
        /// Withdrawn by its seller before any of it was used.
        Revoked = "revoked",
    }
);

string_enum!(
    /// What a seller does with a voucher.
    VoucherAction {
        Revoke = "revoke",
    }
);

impl StateMachine for VoucherState {
    type Event = VoucherAction;
    const WHAT: &'static str = "a voucher";
    const STATES: &'static [Self] = Self::ALL;
    const START: Self = VoucherState::Active;

    fn next(self, action: VoucherAction) -> Option<Self> {
        match (self, action) {
            (VoucherState::Active, VoucherAction::Revoke) => Some(VoucherState::Revoked),
            _ => None,
        }
    }
}

string_enum!(
    /// What a person sees: the state with validity and balance read at a moment.
    VoucherStatus {
        NotYetValid = "not_yet_valid",
        Usable = "usable",
        Exhausted = "exhausted",
        Expired = "expired",
        Revoked = "revoked",
    }
);

/// The rules' view of a voucher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voucher {
    pub seller_id: String,
    pub buyer_id: String,
    pub face: Money,
    pub remaining_minor: i64,
    /// Empty with `sku_ids` empty: every product of the seller.
    pub product_ids: Vec<String>,
    pub sku_ids: Vec<String>,
    pub valid_from: OffsetDateTime,
    /// Exclusive: usable while `now < valid_until`.
    pub valid_until: OffsetDateTime,
    /// "Not for special-price packages": refused on usage packages (套餐包).
    pub not_for_packages: bool,
    /// "Not with promotions": refused on orders at an exclusive offer's price (§11 专属优惠).
    pub not_with_promotions: bool,
    pub state: VoucherState,
}

/// What the buyer is buying, as far as a voucher cares.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    pub buyer_id: &'a str,
    pub seller_id: &'a str,
    pub product_id: &'a str,
    pub sku_id: &'a str,
    pub kind: OrderKind,
    pub billing_mode: BillingMode,
    /// The order's price (before the voucher).
    pub amount: Money,
    /// Sold at an exclusive offer's price (a promotion).
    pub via_offer: bool,
}

/// Why a voucher cannot pay (the server maps each to a stable code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherRefusal {
    /// Another buyer's voucher: to this buyer it does not exist.
    #[error("no such voucher")]
    NotYours,
    #[error("the voucher was revoked by its seller")]
    Revoked,
    #[error("the voucher is valid only from {0}")]
    NotYetValid(String),
    #[error("the voucher expired at {0}")]
    Expired(String),
    #[error("nothing is left on the voucher")]
    Exhausted,
    #[error("the voucher is for {0}, the order is in {1}")]
    Currency(Currency, Currency),
    #[error("the voucher does not cover this product or SKU")]
    OutOfScope,
    #[error("the voucher is not for special-price packages (usage packages)")]
    NotForPackages,
    #[error("the voucher cannot be combined with a promotion (an exclusive offer's price)")]
    NotWithPromotions,
    #[error("{0}")]
    NotApplicable(&'static str),
}

impl VoucherRefusal {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            VoucherRefusal::NotYours => "not_found",
            VoucherRefusal::Revoked => "voucher_revoked",
            VoucherRefusal::NotYetValid(_) => "voucher_not_yet_valid",
            VoucherRefusal::Expired(_) => "voucher_expired",
            VoucherRefusal::Exhausted => "voucher_exhausted",
            VoucherRefusal::Currency(..) => "voucher_currency",
            VoucherRefusal::OutOfScope => "voucher_out_of_scope",
            VoucherRefusal::NotForPackages => "voucher_not_for_packages",
            VoucherRefusal::NotWithPromotions => "voucher_not_with_promotions",
            VoucherRefusal::NotApplicable(_) => "voucher_not_applicable",
        }
    }

    /// Refusals that depend on the moment or the balance (409), not on what is bought (422).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            VoucherRefusal::Revoked
                | VoucherRefusal::NotYetValid(_)
                | VoucherRefusal::Expired(_)
                | VoucherRefusal::Exhausted
        )
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

impl Voucher {
    /// The state, validity and balance at `now`.
    pub fn status(&self, now: OffsetDateTime) -> VoucherStatus {
        if self.state == VoucherState::Revoked {
            VoucherStatus::Revoked
        } else if now >= self.valid_until {
            VoucherStatus::Expired
        } else if now < self.valid_from {
            VoucherStatus::NotYetValid
        } else if self.remaining_minor <= 0 {
            VoucherStatus::Exhausted
        } else {
            VoucherStatus::Usable
        }
    }

    /// Whether it can pay anything at `now` (state, validity, balance), or why not.
    pub fn usable(&self, now: OffsetDateTime) -> Result<(), VoucherRefusal> {
        match self.status(now) {
            VoucherStatus::Usable => Ok(()),
            VoucherStatus::Revoked => Err(VoucherRefusal::Revoked),
            VoucherStatus::Expired => Err(VoucherRefusal::Expired(stamp(self.valid_until))),
            VoucherStatus::NotYetValid => Err(VoucherRefusal::NotYetValid(stamp(self.valid_from))),
            VoucherStatus::Exhausted => Err(VoucherRefusal::Exhausted),
        }
    }

    /// Whether the voucher covers this product and SKU (scope only).
    pub fn covers(&self, seller_id: &str, product_id: &str, sku_id: &str) -> bool {
        if self.seller_id != seller_id {
            return false;
        }
        if self.product_ids.is_empty() && self.sku_ids.is_empty() {
            return true;
        }
        self.product_ids.iter().any(|p| p == product_id) || self.sku_ids.iter().any(|s| s == sku_id)
    }

    /// How much of the purchase the voucher pays at `now`: all it has, up to the order's price.
    /// Only new prepaid purchases take a voucher: trials and on-demand orders have nothing
    /// prepaid (usage and arrears are never paid by vouchers, §8.2).
    pub fn applies(&self, p: &Purchase<'_>, now: OffsetDateTime) -> Result<i64, VoucherRefusal> {
        if self.buyer_id != p.buyer_id {
            return Err(VoucherRefusal::NotYours);
        }
        match (p.kind, p.billing_mode) {
            (_, BillingMode::OnDemand) => {
                return Err(VoucherRefusal::NotApplicable(
                    "an on-demand order has nothing prepaid: vouchers pay an order's prepaid \
                     amount, never usage charges or arrears",
                ))
            }
            (OrderKind::Trial, _) | (_, BillingMode::Trial) => {
                return Err(VoucherRefusal::NotApplicable(
                    "a trial costs nothing: there is nothing for a voucher to pay",
                ))
            }
            (OrderKind::New, _) => {}
            _ => {
                return Err(VoucherRefusal::NotApplicable(
                    "vouchers pay new purchases only",
                ))
            }
        }
        if !self.covers(p.seller_id, p.product_id, p.sku_id) {
            return Err(VoucherRefusal::OutOfScope);
        }
        if self.face.currency != p.amount.currency {
            return Err(VoucherRefusal::Currency(
                self.face.currency,
                p.amount.currency,
            ));
        }
        if self.not_for_packages && p.billing_mode == BillingMode::Package {
            return Err(VoucherRefusal::NotForPackages);
        }
        if self.not_with_promotions && p.via_offer {
            return Err(VoucherRefusal::NotWithPromotions);
        }
        self.usable(now)?;
        if p.amount.amount_minor <= 0 {
            return Err(VoucherRefusal::NotApplicable(
                "the order costs nothing: there is nothing for a voucher to pay",
            ));
        }
        Ok(self.remaining_minor.min(p.amount.amount_minor))
    }
}

/// What a refund of `refund_cash_minor` gives back to the voucher of an order paid
/// `voucher_minor` by voucher and `cash_minor` in cash, when `refunded_cash_before` cash and
/// `returned_before` voucher were refunded already: in proportion to the cash refunded,
/// rounded down, and the whole rest once all the cash is back (so a full refund returns the
/// whole voucher part, and an order paid by voucher alone gets it all back).
pub fn voucher_back(
    voucher_minor: i64,
    cash_minor: i64,
    refunded_cash_before: i64,
    returned_before: i64,
    refund_cash_minor: i64,
) -> i64 {
    if voucher_minor <= 0 {
        return 0;
    }
    let refunded = refunded_cash_before + refund_cash_minor;
    let due = if cash_minor <= 0 || refunded >= cash_minor {
        voucher_minor
    } else {
        (voucher_minor as i128 * refunded.max(0) as i128 / cash_minor as i128) as i64
    };
    (due - returned_before).clamp(0, voucher_minor - returned_before.min(voucher_minor))
}

/// Checks a seller's new voucher: a positive face value and a window that ends after it starts.
pub fn check_new(
    face: Money,
    valid_from: OffsetDateTime,
    valid_until: OffsetDateTime,
) -> Result<(), (&'static str, &'static str)> {
    if face.amount_minor <= 0 {
        return Err(("face_value", "the face value must be more than zero"));
    }
    if valid_until <= valid_from {
        return Err(("valid_until", "the voucher must end after it starts"));
    }
    Ok(())
}

/// To the buyer: a seller gave it a voucher.
pub fn issued_notice(id: &str, face: Money, seller: &str, valid_until: OffsetDateTime) -> Notice {
    Notice {
        kind: "voucher_issued",
        subject: format!("You received a voucher of {face} from {seller}"),
        body: format!(
            "Voucher {id} pays up to {face} of your purchases of {seller}'s products until {}. \
             Choose it when you buy; what you do not use stays on it until then.",
            stamp(valid_until)
        ),
    }
}

/// To the buyer: its seller withdrew an unused voucher.
pub fn revoked_notice(id: &str, face: Money) -> Notice {
    Notice {
        kind: "voucher_revoked",
        subject: format!("Voucher {id} of {face} was withdrawn"),
        body: format!("The seller withdrew voucher {id}; it can no longer pay for purchases."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cny(minor: i64) -> Money {
        Money::new(minor, "CNY".parse().unwrap())
    }

    fn voucher() -> Voucher {
        Voucher {
            seller_id: "sel_a".into(),
            buyer_id: "buy_a".into(),
            face: cny(10_000),
            remaining_minor: 10_000,
            product_ids: vec![],
            sku_ids: vec![],
            valid_from: datetime!(2026-01-01 0:00 UTC),
            valid_until: datetime!(2026-02-01 0:00 UTC),
            not_for_packages: false,
            not_with_promotions: false,
            state: VoucherState::Active,
        }
    }

    fn purchase(amount: i64) -> Purchase<'static> {
        Purchase {
            buyer_id: "buy_a",
            seller_id: "sel_a",
            product_id: "prd_a",
            sku_id: "sku_a",
            kind: OrderKind::New,
            billing_mode: BillingMode::Monthly,
            amount: cny(amount),
            via_offer: false,
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-01-10 0:00 UTC);

    #[test]
    fn pays_up_to_the_order_or_what_remains() {
        let v = voucher();
        assert_eq!(v.applies(&purchase(3_000), NOW), Ok(3_000));
        assert_eq!(v.applies(&purchase(30_000), NOW), Ok(10_000));
        let rest = Voucher {
            remaining_minor: 2_500,
            ..voucher()
        };
        assert_eq!(rest.applies(&purchase(3_000), NOW), Ok(2_500));
        let empty = Voucher {
            remaining_minor: 0,
            ..voucher()
        };
        assert_eq!(
            empty.applies(&purchase(3_000), NOW),
            Err(VoucherRefusal::Exhausted)
        );
    }

    #[test]
    fn validity_is_from_inclusive_until_exclusive() {
        let v = voucher();
        assert!(v.usable(datetime!(2026-01-01 0:00 UTC)).is_ok());
        assert_eq!(
            v.usable(datetime!(2025-12-31 23:59 UTC))
                .unwrap_err()
                .code(),
            "voucher_not_yet_valid"
        );
        assert_eq!(
            v.usable(datetime!(2026-02-01 0:00 UTC)).unwrap_err().code(),
            "voucher_expired"
        );
        assert_eq!(
            v.status(datetime!(2026-02-01 0:00 UTC)),
            VoucherStatus::Expired
        );
    }

    #[test]
    fn scope_currency_flags_and_buyer_are_checked() {
        let other_buyer = Purchase {
            buyer_id: "buy_b",
            ..purchase(100)
        };
        assert_eq!(
            voucher().applies(&other_buyer, NOW),
            Err(VoucherRefusal::NotYours)
        );
        let other_seller = Purchase {
            seller_id: "sel_b",
            ..purchase(100)
        };
        assert_eq!(
            voucher().applies(&other_seller, NOW),
            Err(VoucherRefusal::OutOfScope)
        );
        let narrowed = Voucher {
            sku_ids: vec!["sku_b".into()],
            ..voucher()
        };
        assert_eq!(
            narrowed.applies(&purchase(100), NOW),
            Err(VoucherRefusal::OutOfScope)
        );
        let by_product = Voucher {
            product_ids: vec!["prd_a".into()],
            ..narrowed
        };
        assert_eq!(by_product.applies(&purchase(100), NOW), Ok(100));
        let usd = Purchase {
            amount: Money::new(100, "USD".parse().unwrap()),
            ..purchase(100)
        };
        assert_eq!(
            voucher().applies(&usd, NOW).unwrap_err().code(),
            "voucher_currency"
        );
        let package = Purchase {
            billing_mode: BillingMode::Package,
            ..purchase(100)
        };
        assert_eq!(voucher().applies(&package, NOW), Ok(100));
        let flagged = Voucher {
            not_for_packages: true,
            not_with_promotions: true,
            ..voucher()
        };
        assert_eq!(
            flagged.applies(&package, NOW),
            Err(VoucherRefusal::NotForPackages)
        );
        let offer = Purchase {
            via_offer: true,
            ..purchase(100)
        };
        assert_eq!(
            flagged.applies(&offer, NOW),
            Err(VoucherRefusal::NotWithPromotions)
        );
        assert_eq!(voucher().applies(&offer, NOW), Ok(100));
    }

    #[test]
    fn never_pays_usage_trials_or_renewals() {
        for (kind, mode) in [
            (OrderKind::New, BillingMode::OnDemand),
            (OrderKind::Trial, BillingMode::Trial),
            (OrderKind::Renewal, BillingMode::Monthly),
            (OrderKind::Upgrade, BillingMode::Monthly),
        ] {
            let p = Purchase {
                kind,
                billing_mode: mode,
                ..purchase(100)
            };
            assert_eq!(
                voucher().applies(&p, NOW).unwrap_err().code(),
                "voucher_not_applicable"
            );
        }
    }

    #[test]
    fn revoking_is_the_only_move_and_only_once() {
        assert_eq!(
            VoucherState::Active.apply(VoucherAction::Revoke),
            Ok(VoucherState::Revoked)
        );
        assert!(VoucherState::Revoked.apply(VoucherAction::Revoke).is_err());
        let revoked = Voucher {
            state: VoucherState::Revoked,
            ..voucher()
        };
        assert_eq!(
            revoked.applies(&purchase(100), NOW),
            Err(VoucherRefusal::Revoked)
        );
    }

    #[test]
    fn refunds_return_the_voucher_part_in_proportion_and_all_at_the_end() {
        // 1000 paid as 300 voucher + 700 cash.
        assert_eq!(voucher_back(300, 700, 0, 0, 700), 300);
        // Half the cash back: 150 of the voucher; then the rest returns the rest.
        assert_eq!(voucher_back(300, 700, 0, 0, 350), 150);
        assert_eq!(voucher_back(300, 700, 350, 150, 350), 150);
        // Rounded down until the end, never more than the voucher part in total.
        assert_eq!(voucher_back(100, 300, 0, 0, 100), 33);
        assert_eq!(voucher_back(100, 300, 100, 33, 100), 33);
        assert_eq!(voucher_back(100, 300, 200, 66, 100), 34);
        // Paid by voucher alone: the refund (of no cash) returns it all.
        assert_eq!(voucher_back(500, 0, 0, 0, 0), 500);
        // No voucher: nothing.
        assert_eq!(voucher_back(0, 700, 0, 0, 700), 0);
    }

    #[test]
    fn a_new_voucher_needs_a_value_and_a_window() {
        let from = datetime!(2026-01-01 0:00 UTC);
        assert!(check_new(cny(1), from, from + time::Duration::DAY).is_ok());
        assert_eq!(
            check_new(cny(0), from, from + time::Duration::DAY)
                .unwrap_err()
                .0,
            "face_value"
        );
        assert_eq!(check_new(cny(1), from, from).unwrap_err().0, "valid_until");
    }
}
