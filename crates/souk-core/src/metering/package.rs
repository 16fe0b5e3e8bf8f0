//! Usage packages (套餐包, business rules §6.4): prepaid quota of one or more billing items that
//! usage draws from before anything is rated on demand.
//!
//! - A **billing item** is an on-demand SKU: an on-demand instance meters exactly one item (the
//!   SKU it was bought on), so a package bundling "100 SMS + 50 MMS" holds quota for the SMS
//!   SKU and for the MMS SKU of the same product.
//! - **Non-reset** packages hold their quota for their whole validity (≤ 36 months,
//!   `package.max_validity = 3 years`). **Monthly / yearly reset** packages hold the quota per
//!   period; unused quota is cleared when the next period starts. Periods are counted from the
//!   moment the package took effect (calendar months, as subscription terms are).
//! - **Stop-when-exhausted** (用完即停) packages are drawn only by records naming them in
//!   `relate_pkg_instance`; what goes past their quota is not rated on demand (the seller was
//!   told to stop), and at zero the seller is told to stop (`instanceStatus FREEZE`).
//! - Other packages are drawn in the §6.4 platform order — earliest expiry, then earliest
//!   effective, then earliest created — and what they cannot cover is rated on demand.
//! - Alerts: once when the remaining share of an item's quota in a period falls to
//!   `package.alert_remaining` (default 20 %) or below, once when it reaches zero.

use super::usage::UsageValue;
use crate::order::add_months_in;
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

/// The longest a package lasts (`package.max_validity = 3 years`).
pub const MAX_VALIDITY_MONTHS: u32 = 36;
/// The most billing items one package bundles.
pub const MAX_ITEMS: usize = 10;
/// The most packages one purchase buys (`package.max_per_purchase = 30`): an order's quantity.
pub const MAX_PER_PURCHASE: u32 = 30;

/// When a package's quota is refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageReset {
    /// One quota for the whole validity.
    None,
    /// The quota per calendar month from the effective time; unused quota is cleared.
    Monthly,
    /// The quota per year from the effective time; unused quota is cleared.
    Yearly,
}

impl PackageReset {
    /// Months per quota period (`None`: the whole validity).
    pub fn months(self) -> Option<u32> {
        match self {
            PackageReset::None => None,
            PackageReset::Monthly => Some(1),
            PackageReset::Yearly => Some(12),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PackageReset::None => "none",
            PackageReset::Monthly => "monthly",
            PackageReset::Yearly => "yearly",
        }
    }
}

/// The quota of one billing item (an on-demand SKU of the same product) per period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    pub sku_id: String,
    pub quota: UsageValue,
}

/// What a package SKU gives its buyer (set by the seller, copied into each order's snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDef {
    pub items: Vec<PackageItem>,
    pub reset: PackageReset,
    /// How long a non-reset package lasts. Reset packages last the periods bought.
    pub validity_months: Option<u32>,
    pub stop_when_exhausted: bool,
}

/// Why a package definition or purchase cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("a package holds quota of 1 to {MAX_ITEMS} billing items")]
    Items,
    #[error("each billing item appears once in a package")]
    DuplicateItem,
    #[error("a quota must be greater than 0")]
    Quota,
    #[error("a non-reset package needs validity_months between 1 and {MAX_VALIDITY_MONTHS}")]
    Validity,
    #[error(
        "validity_months is set only on non-reset packages (reset ones last the periods bought)"
    )]
    ValidityOnReset,
    #[error("a stop-when-exhausted package does not reset (Souk default)")]
    StopWithReset,
    #[error("a package lasts at most {MAX_VALIDITY_MONTHS} months: buy fewer periods")]
    TooLong,
    #[error("a non-reset package is bought once: leave periods out")]
    PeriodsOnNonReset,
    #[error("at most {MAX_PER_PURCHASE} packages are bought at once (package.max_per_purchase): place another order for more")]
    TooMany,
}

/// Checks how many packages one purchase buys (the order's quantity).
pub fn check_purchase_quantity(quantity: u32) -> Result<(), PackageError> {
    if quantity > MAX_PER_PURCHASE {
        return Err(PackageError::TooMany);
    }
    Ok(())
}

impl PackageDef {
    pub fn check(&self) -> Result<(), PackageError> {
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(PackageError::Items);
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.quota <= UsageValue::ZERO {
                return Err(PackageError::Quota);
            }
            if self.items[..i].iter().any(|o| o.sku_id == item.sku_id) {
                return Err(PackageError::DuplicateItem);
            }
        }
        match (self.reset, self.validity_months) {
            (PackageReset::None, Some(m)) if (1..=MAX_VALIDITY_MONTHS).contains(&m) => {}
            (PackageReset::None, _) => return Err(PackageError::Validity),
            (_, Some(_)) => return Err(PackageError::ValidityOnReset),
            (_, None) => {}
        }
        if self.stop_when_exhausted && self.reset != PackageReset::None {
            return Err(PackageError::StopWithReset);
        }
        Ok(())
    }

    /// `(months it lasts, periods priced)` for a purchase of `periods` (reset packages: the
    /// number of reset periods bought, default 1; non-reset: none).
    pub fn term(&self, periods: Option<u32>) -> Result<(u32, u32), PackageError> {
        match (self.reset.months(), self.validity_months) {
            (None, Some(m)) => match periods {
                None | Some(1) => Ok((m, 1)),
                Some(_) => Err(PackageError::PeriodsOnNonReset),
            },
            (None, None) => Err(PackageError::Validity),
            (Some(per), _) => {
                let n = periods.unwrap_or(1);
                match per.checked_mul(n) {
                    Some(m) if n >= 1 && m <= MAX_VALIDITY_MONTHS => Ok((m, n)),
                    _ => Err(PackageError::TooLong),
                }
            }
        }
    }
}

/// The quota period of a package that took effect at `effective` and expires at `expire`,
/// containing the instant `at`: `[start, end)`, `end` never past `expire`. Months are the
/// business zone's (`calendar.zone`).
pub fn period_at(
    effective: OffsetDateTime,
    expire: OffsetDateTime,
    reset: PackageReset,
    at: OffsetDateTime,
    zone: UtcOffset,
) -> (OffsetDateTime, OffsetDateTime) {
    let Some(per) = reset.months() else {
        return (effective, expire);
    };
    // Whole periods between effective and at; a 36-month bound keeps this loop short.
    // Periods are counted from `effective` (31 Jan + 1 month = 28 Feb, + 2 months = 31 Mar).
    let mut start = effective;
    let mut k = 0;
    while k < MAX_VALIDITY_MONTHS / per {
        match add_months_in(effective, (k + 1) * per, zone) {
            Some(next) if next <= at && next < expire => {
                start = next;
                k += 1;
            }
            _ => break,
        }
    }
    let end = add_months_in(effective, (k + 1) * per, zone).map_or(expire, |e| e.min(expire));
    (start, end)
}

/// One package's quota of the billing item being rated, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaBalance {
    pub package_id: String,
    pub effective_at: OffsetDateTime,
    pub expire_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub reset: PackageReset,
    /// Quota per period.
    pub quota: UsageValue,
    /// The period the stored `used` belongs to.
    pub period_start: OffsetDateTime,
    pub used: UsageValue,
}

impl QuotaBalance {
    /// `(period start, period end, used in it)` for usage at `at`: a stored period that has
    /// ended is reset (its unused quota cleared) to the one containing `at`.
    pub fn current(
        &self,
        at: OffsetDateTime,
        zone: UtcOffset,
    ) -> (OffsetDateTime, OffsetDateTime, UsageValue) {
        let (start, end) = period_at(self.effective_at, self.expire_at, self.reset, at, zone);
        let used = if start == self.period_start {
            self.used
        } else {
            UsageValue::ZERO
        };
        (start, end, used)
    }
}

/// Usage taken from one package's quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub package_id: String,
    pub period_start: OffsetDateTime,
    pub period_end: OffsetDateTime,
    /// What the stored row held (compare-and-set: the store books the draw only if the row
    /// still has this period and this `used`).
    pub stored_period_start: OffsetDateTime,
    pub stored_used: UsageValue,
    pub quota: UsageValue,
    /// Used in the period before and after this draw.
    pub used_before: UsageValue,
    pub used_after: UsageValue,
    pub amount: UsageValue,
    /// The alert this draw crosses, if any.
    pub alert: Option<QuotaAlert>,
}

/// How a quantity of usage is covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    pub draws: Vec<Draw>,
    /// What no package covered: rated on demand, or (stop-when-exhausted) not billed.
    pub leftover: UsageValue,
}

/// A quota alert to the buyer (message centre).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaAlert {
    /// The remaining share fell to the configured threshold or below.
    Low,
    /// Nothing remains in this period.
    Exhausted,
}

/// The alert crossed when `used` goes from `before` to `after` of `quota`, with alerts at
/// `alert_percent` % remaining and at zero. Each fires once per period: the used amount only
/// grows within a period and starts from zero at a reset.
pub fn alert_crossed(
    quota: UsageValue,
    before: UsageValue,
    after: UsageValue,
    alert_percent: u8,
) -> Option<QuotaAlert> {
    let q = quota.ten_thousandths() as i128;
    let (b, a) = (
        before.ten_thousandths() as i128,
        after.ten_thousandths() as i128,
    );
    if a >= q && b < q {
        return Some(QuotaAlert::Exhausted);
    }
    let low = |used: i128| (q - used) * 100 <= q * alert_percent as i128;
    (a < q && low(a) && !low(b)).then_some(QuotaAlert::Low)
}

/// Covers `usage` at `at` (the end of the hour being rated) from `balances` in the §6.4 order
/// (earliest expiry, then earliest effective, then earliest created), each up to what remains
/// of its quota in the period containing `at` (months of the business zone `zone`). Packages
/// not in effect at `at` are skipped.
pub fn consume(
    mut balances: Vec<QuotaBalance>,
    usage: UsageValue,
    at: OffsetDateTime,
    alert_percent: u8,
    zone: UtcOffset,
) -> Consumption {
    balances.sort_by(|a, b| {
        (a.expire_at, a.effective_at, a.created_at, &a.package_id).cmp(&(
            b.expire_at,
            b.effective_at,
            b.created_at,
            &b.package_id,
        ))
    });
    let mut left = usage.ten_thousandths();
    let mut draws = Vec::new();
    for b in balances {
        if left <= 0 {
            break;
        }
        // Usage of the hour ending at `at` belongs to a package in effect during it.
        if !(b.effective_at < at && at <= b.expire_at) {
            continue;
        }
        let (start, end, used) = b.current(at - time::Duration::MILLISECOND, zone);
        let remaining = (b.quota.ten_thousandths() - used.ten_thousandths()).max(0);
        let take = remaining.min(left);
        if take == 0 {
            continue;
        }
        left -= take;
        let after = UsageValue::from_ten_thousandths(used.ten_thousandths() + take);
        draws.push(Draw {
            package_id: b.package_id,
            period_start: start,
            period_end: end,
            stored_period_start: b.period_start,
            stored_used: b.used,
            quota: b.quota,
            used_before: used,
            used_after: after,
            amount: UsageValue::from_ten_thousandths(take),
            alert: alert_crossed(b.quota, used, after, alert_percent),
        });
    }
    Consumption {
        draws,
        leftover: UsageValue::from_ten_thousandths(left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    const UTC: UtcOffset = UtcOffset::UTC;

    #[test]
    fn one_purchase_buys_at_most_thirty_packages() {
        assert_eq!(check_purchase_quantity(1), Ok(()));
        assert_eq!(check_purchase_quantity(MAX_PER_PURCHASE), Ok(()));
        assert_eq!(check_purchase_quantity(31), Err(PackageError::TooMany));
        assert!(PackageError::TooMany.to_string().contains("30"));
    }

    fn u(n: i64) -> UsageValue {
        UsageValue::units(n)
    }

    fn bal(id: &str, expire: OffsetDateTime, quota: i64, used: i64) -> QuotaBalance {
        QuotaBalance {
            package_id: id.into(),
            effective_at: datetime!(2026-01-01 0:00 UTC),
            expire_at: expire,
            created_at: datetime!(2026-01-01 0:00 UTC),
            reset: PackageReset::None,
            quota: u(quota),
            period_start: datetime!(2026-01-01 0:00 UTC),
            used: u(used),
        }
    }

    #[test]
    fn earliest_expiry_first_then_the_rest_on_demand() {
        let at = datetime!(2026-02-01 10:00 UTC);
        let late = bal("late", datetime!(2026-12-01 0:00 UTC), 100, 0);
        let early = bal("early", datetime!(2026-06-01 0:00 UTC), 50, 20);
        let c = consume(vec![late, early], u(200), at, 20, UTC);
        assert_eq!(c.draws[0].package_id, "early");
        assert_eq!(c.draws[0].amount, u(30));
        assert_eq!(c.draws[0].alert, Some(QuotaAlert::Exhausted));
        assert_eq!(c.draws[1].package_id, "late");
        assert_eq!(c.draws[1].amount, u(100));
        assert_eq!(c.leftover, u(70));
    }

    #[test]
    fn ties_go_to_the_earliest_effective_then_created() {
        let at = datetime!(2026-02-01 10:00 UTC);
        let exp = datetime!(2026-12-01 0:00 UTC);
        let mut a = bal("a", exp, 10, 0);
        a.effective_at = datetime!(2026-01-05 0:00 UTC);
        let b = bal("b", exp, 10, 0);
        let c = consume(vec![a, b], u(5), at, 20, UTC);
        assert_eq!(c.draws[0].package_id, "b");
        assert_eq!(c.leftover, UsageValue::ZERO);
    }

    #[test]
    fn packages_outside_their_validity_are_skipped() {
        let exp = datetime!(2026-03-01 0:00 UTC);
        let c = consume(
            vec![bal("p", exp, 10, 0)],
            u(4),
            datetime!(2026-03-01 1:00 UTC),
            20,
            UTC,
        );
        assert!(c.draws.is_empty());
        assert_eq!(c.leftover, u(4));
        // The last hour of its validity still counts.
        let c = consume(vec![bal("p", exp, 10, 0)], u(4), exp, 20, UTC);
        assert_eq!(c.leftover, UsageValue::ZERO);
    }

    #[test]
    fn monthly_reset_clears_unused_quota() {
        let mut b = bal("m", datetime!(2026-04-15 0:00 UTC), 100, 90);
        b.reset = PackageReset::Monthly;
        b.effective_at = datetime!(2026-01-15 0:00 UTC);
        b.period_start = datetime!(2026-01-15 0:00 UTC);
        // Still in the first period: 10 left.
        let c = consume(
            vec![b.clone()],
            u(30),
            datetime!(2026-02-14 23:00 UTC),
            20,
            UTC,
        );
        assert_eq!(c.leftover, u(20));
        // In the second period: the stored 90 used belong to the past; 100 again.
        let c = consume(vec![b], u(30), datetime!(2026-02-15 2:00 UTC), 20, UTC);
        assert_eq!(c.leftover, UsageValue::ZERO);
        assert_eq!(c.draws[0].period_start, datetime!(2026-02-15 0:00 UTC));
        assert_eq!(c.draws[0].period_end, datetime!(2026-03-15 0:00 UTC));
        assert_eq!(c.draws[0].used_before, UsageValue::ZERO);
        assert_eq!(c.draws[0].stored_used, u(90));
    }

    #[test]
    fn periods_end_at_expiry() {
        let eff = datetime!(2026-01-31 12:00 UTC);
        let exp = datetime!(2027-01-31 12:00 UTC);
        let (s, e) = period_at(
            eff,
            exp,
            PackageReset::Monthly,
            datetime!(2026-03-01 0:00 UTC),
            UTC,
        );
        assert_eq!(s, datetime!(2026-02-28 12:00 UTC));
        assert_eq!(e, datetime!(2026-03-31 12:00 UTC));
        let (s, e) = period_at(
            eff,
            exp,
            PackageReset::Yearly,
            datetime!(2026-12-01 0:00 UTC),
            UTC,
        );
        assert_eq!((s, e), (eff, exp));
        let (s, e) = period_at(
            eff,
            exp,
            PackageReset::None,
            datetime!(2026-12-01 0:00 UTC),
            UTC,
        );
        assert_eq!((s, e), (eff, exp));
    }

    #[test]
    fn months_are_counted_in_the_business_zone() {
        let shanghai = offset!(+8);
        // 16:00 UTC on 30 January is 00:00 on 31 January in Shanghai: the next period starts
        // on the 28th of February there (00:00 +08:00 = 27 Feb 16:00 UTC), a day before the
        // UTC count (30 Jan + 1 month = 28 Feb 16:00 UTC).
        let eff = datetime!(2026-01-30 16:00 UTC);
        let exp = datetime!(2027-01-30 16:00 UTC);
        let at = datetime!(2026-02-28 00:00 UTC);
        let (s, e) = period_at(eff, exp, PackageReset::Monthly, at, shanghai);
        assert_eq!(s, datetime!(2026-02-27 16:00 UTC));
        assert_eq!(e, datetime!(2026-03-30 16:00 UTC));
        let (s, e) = period_at(eff, exp, PackageReset::Monthly, at, UTC);
        assert_eq!((s, e), (eff, datetime!(2026-02-28 16:00 UTC)));
        // The hour before the business-zone boundary still draws from the first period; the
        // hour after it from a fresh quota.
        let mut b = bal("m", exp, 100, 90);
        b.reset = PackageReset::Monthly;
        b.effective_at = eff;
        b.period_start = eff;
        let c = consume(
            vec![b.clone()],
            u(30),
            datetime!(2026-02-27 16:00 UTC),
            20,
            shanghai,
        );
        assert_eq!(c.leftover, u(20));
        let c = consume(
            vec![b.clone()],
            u(30),
            datetime!(2026-02-27 17:00 UTC),
            20,
            shanghai,
        );
        assert_eq!(c.leftover, UsageValue::ZERO);
        assert_eq!(c.draws[0].period_start, datetime!(2026-02-27 16:00 UTC));
        // Counted in UTC the same hour is still the first period.
        let c = consume(vec![b], u(30), datetime!(2026-02-27 17:00 UTC), 20, UTC);
        assert_eq!(c.leftover, u(20));
    }

    #[test]
    fn alerts_fire_once_when_crossed() {
        let q = u(100);
        assert_eq!(alert_crossed(q, u(70), u(79), 20), None);
        assert_eq!(alert_crossed(q, u(70), u(80), 20), Some(QuotaAlert::Low));
        assert_eq!(alert_crossed(q, u(80), u(90), 20), None);
        assert_eq!(
            alert_crossed(q, u(90), u(100), 20),
            Some(QuotaAlert::Exhausted)
        );
        assert_eq!(
            alert_crossed(q, u(10), u(100), 20),
            Some(QuotaAlert::Exhausted)
        );
        assert_eq!(alert_crossed(q, u(100), u(100), 20), None);
    }

    #[test]
    fn definitions_are_checked() {
        let item = |s: &str, q| PackageItem {
            sku_id: s.into(),
            quota: u(q),
        };
        let mut d = PackageDef {
            items: vec![item("sms", 100), item("mms", 50)],
            reset: PackageReset::None,
            validity_months: Some(12),
            stop_when_exhausted: false,
        };
        assert_eq!(d.check(), Ok(()));
        assert_eq!(d.term(None), Ok((12, 1)));
        assert_eq!(d.term(Some(2)), Err(PackageError::PeriodsOnNonReset));
        d.validity_months = Some(37);
        assert_eq!(d.check(), Err(PackageError::Validity));
        d.validity_months = None;
        d.reset = PackageReset::Yearly;
        assert_eq!(d.check(), Ok(()));
        assert_eq!(d.term(Some(3)), Ok((36, 3)));
        assert_eq!(d.term(Some(4)), Err(PackageError::TooLong));
        d.stop_when_exhausted = true;
        assert_eq!(d.check(), Err(PackageError::StopWithReset));
        d.stop_when_exhausted = false;
        d.items.push(item("sms", 1));
        assert_eq!(d.check(), Err(PackageError::DuplicateItem));
        d.items = vec![item("sms", 0)];
        assert_eq!(d.check(), Err(PackageError::Quota));
    }
}
