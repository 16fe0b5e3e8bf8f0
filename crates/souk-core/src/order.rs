//! Orders: kinds, states, terms and prices (business rules §2, §6.1).
//!
//! Every action on a resource is its own order (new purchase, renewal, upgrade, trial, trial →
//! formal conversion); the instance keeps one stable id across all of them.

use crate::money::{Money, MoneyError};
use crate::transition::{event_enum, StateMachine};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime, UtcOffset};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl $crate::transition::Label for $name {
            fn label(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(concat!("unknown ", stringify!($name), " `{}`"), other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Why an order exists.
    OrderKind {
        /// A first purchase, opening a new instance.
        New = "new",
        /// More periods for an existing instance.
        Renewal = "renewal",
        /// A specification or quantity change of an existing instance.
        Upgrade = "upgrade",
        /// A free trial, opening a new instance flagged as trial.
        Trial = "trial",
        /// Turning a trial instance into a paid one.
        TrialToFormal = "trial_to_formal",
    }
);

string_enum!(
    /// Where an order is (business rules §2). `Failed` and `Refunded` are Souk's names for an
    /// order whose resource could not be opened and whose money went back.
    OrderState {
        PendingPayment = "pending_payment",
        /// Paid, not yet delivered (the seller's call has not yet succeeded).
        Processing = "processing",
        Completed = "completed",
        Cancelled = "cancelled",
        /// Delivery failed for good; a refund follows at once.
        Failed = "failed",
        Refunded = "refunded",
    }
);

event_enum!(
    /// Something that happens to an order.
    OrderEvent {
        Pay = "paid",
        Cancel = "cancelled",
        /// The seller's call that delivers the order succeeded (or nothing waits for one).
        Deliver = "delivered",
        FailDelivery = "failed",
        Refund = "refunded",
        /// An after-sale refund (no-reason, negotiated, operator-forced) of a paid order.
        AfterSaleRefund = "refunded",
    }
);

impl StateMachine for OrderState {
    type Event = OrderEvent;
    const WHAT: &'static str = "an order";
    const STATES: &'static [Self] = OrderState::ALL;
    const START: Self = OrderState::PendingPayment;

    /// The order state machine. Anything not listed is refused.
    fn next(self, event: OrderEvent) -> Option<OrderState> {
        use OrderEvent::*;
        use OrderState::*;
        match (self, event) {
            (PendingPayment, Pay) => Some(Processing),
            (PendingPayment, Cancel) => Some(Cancelled),
            (Processing, Deliver) => Some(Completed),
            (Processing, FailDelivery) => Some(Failed),
            (Failed, Refund) => Some(Refunded),
            (Processing | Completed, AfterSaleRefund) => Some(Refunded),
            _ => None,
        }
    }
}

impl OrderState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Completed | OrderState::Cancelled | OrderState::Refunded
        )
    }
}

string_enum!(
    /// The unit a subscription is sold in.
    PeriodUnit {
        Month = "month",
        Year = "year",
    }
);

/// What a buyer is buying, time-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Term {
    /// `count` months or years, prepaid.
    Period { unit: PeriodUnit, count: u32 },
    /// Paid once, never expires.
    OneTime,
    /// Free for `days` days.
    Trial { days: u32 },
    /// Post-paid usage (按需): no prepaid term, never expires; usage is rated and charged as it
    /// is reported.
    OnDemand,
    /// A prepaid usage package (套餐包): its quota lasts `months` months; `periods` reset
    /// periods were paid for (1 for a non-reset package).
    Package { months: u32, periods: u32 },
}

impl Term {
    /// When a term that starts at `start` ends (`Ok(None)`: never), its months counted in the
    /// business zone `zone` (business rules §0: a month bought at 00:30 on 31 January in
    /// Shanghai ends at 00:30 on 28 February there). An end past the calendar's last year (9999)
    /// is refused, so nothing is ever charged for a term that cannot be kept.
    pub fn end(
        &self,
        start: OffsetDateTime,
        zone: UtcOffset,
    ) -> Result<Option<OffsetDateTime>, TermTooLong> {
        let end = match *self {
            Term::Period { unit, count } => add_months_in(
                start,
                match unit {
                    PeriodUnit::Month => count,
                    PeriodUnit::Year => count.saturating_mul(12),
                },
                zone,
            ),
            Term::OneTime | Term::OnDemand => return Ok(None),
            Term::Trial { days } => start.checked_add(Duration::days(days as i64)),
            Term::Package { months, .. } => add_months_in(start, months, zone),
        };
        match end {
            Some(t) if t <= crate::clock::horizon() => Ok(Some(t)),
            _ => Err(TermTooLong),
        }
    }

    /// How many billable periods the term has (1 for one-time, 0 for a trial).
    pub fn periods(&self) -> u32 {
        match *self {
            Term::Period { count, .. } => count,
            Term::OneTime => 1,
            Term::Package { periods, .. } => periods,
            Term::Trial { .. } | Term::OnDemand => 0,
        }
    }
}

/// Calendar months, keeping the day of month where it exists and clamping otherwise
/// (31 Jan + 1 month = 28/29 Feb), as billing systems do. `None` past the calendar's end.
pub fn add_months(t: OffsetDateTime, months: u32) -> Option<OffsetDateTime> {
    let total = t.year() as i64 * 12 + (t.month() as i64 - 1) + months as i64;
    let year = i32::try_from(total / 12).ok()?;
    let month = time::Month::try_from((total % 12 + 1) as u8).ok()?;
    let last_day = month.length(year);
    let day = t.day().min(last_day);
    time::Date::from_calendar_date(year, month, day)
        .ok()
        .map(|d| t.replace_date(d))
        .filter(|end| *end <= crate::clock::horizon())
}

/// A term whose end would fall after Souk's time horizon (the end of year 9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the term would end after 9999-12-31, which Souk cannot record; choose fewer periods")]
pub struct TermTooLong;

/// `t` plus `months` calendar months counted in the business zone `zone` (the day of month is
/// clamped there: 31 Jan 01:00 +08:00 → 28 Feb 01:00 +08:00), in UTC.
pub fn add_months_in(t: OffsetDateTime, months: u32, zone: UtcOffset) -> Option<OffsetDateTime> {
    add_months(t.checked_to_offset(zone)?, months)?.checked_to_offset(UtcOffset::UTC)
}

/// The list price of a purchase: unit price × periods × quantity.
pub fn price(unit_price: Money, term: &Term, quantity: u32) -> Result<Money, MoneyError> {
    unit_price
        .checked_mul(term.periods() as i64)?
        .checked_mul(quantity.max(1) as i64)?
        .bounded()
}

/// The charge for changing an instance's specification part-way through its term (business
/// rules §6.1): the new per-period price minus the old one, pro-rated on the time left, where a
/// period is one `unit` (a month or a year) counted from now. Never negative: a downgrade costs
/// nothing now and refunds nothing.
pub fn upgrade_charge(
    old_per_period: Money,
    new_per_period: Money,
    now: OffsetDateTime,
    expire_at: OffsetDateTime,
    unit: PeriodUnit,
) -> Result<Money, MoneyError> {
    let diff = new_per_period.checked_sub(old_per_period)?;
    if diff.amount_minor <= 0 || expire_at <= now {
        return Ok(Money::zero(new_per_period.currency));
    }
    let months = match unit {
        PeriodUnit::Month => 1,
        PeriodUnit::Year => 12,
    };
    let remaining = (expire_at - now).whole_seconds();
    let Some(period_end) = add_months(now, months) else {
        return Err(MoneyError::Overflow);
    };
    let period_len = (period_end - now).whole_seconds().max(1);
    diff.prorate(remaining, period_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use time::macros::datetime;

    #[test]
    fn the_order_state_machine_allows_only_the_documented_paths() {
        use OrderEvent::*;
        use OrderState::*;
        assert_eq!(PendingPayment.apply(Pay), Ok(Processing));
        assert_eq!(PendingPayment.apply(Cancel), Ok(Cancelled));
        assert_eq!(Processing.apply(Deliver), Ok(Completed));
        assert_eq!(Processing.apply(FailDelivery), Ok(Failed));
        assert_eq!(Failed.apply(Refund), Ok(Refunded));
        assert!(
            Processing.apply(Cancel).is_err(),
            "a paid order is not cancellable"
        );
        assert!(Completed.apply(Pay).is_err());
        // After sale: a paid order is refunded whether or not it was delivered yet.
        assert_eq!(Processing.apply(AfterSaleRefund), Ok(Refunded));
        assert_eq!(Completed.apply(AfterSaleRefund), Ok(Refunded));
        for s in [PendingPayment, Cancelled, Failed, Refunded] {
            assert!(
                s.apply(AfterSaleRefund).is_err(),
                "{s} is not refundable after sale"
            );
        }
        assert!(Cancelled.apply(Pay).is_err());
        assert_eq!(
            Completed.apply(Refund).unwrap_err().to_string(),
            "an order that is completed cannot be refunded"
        );
    }

    #[test]
    fn months_clamp_to_the_end_of_short_months() {
        assert_eq!(
            add_months(datetime!(2026-01-31 10:00 UTC), 1),
            Some(datetime!(2026-02-28 10:00 UTC))
        );
        assert_eq!(
            add_months(datetime!(2026-11-22 0:00 UTC), 2),
            Some(datetime!(2027-01-22 0:00 UTC))
        );
        let yearly = Term::Period {
            unit: PeriodUnit::Year,
            count: 1,
        };
        assert_eq!(
            yearly.end(datetime!(2028-02-29 0:00 UTC), UtcOffset::UTC),
            Ok(Some(datetime!(2029-02-28 0:00 UTC)))
        );
        assert_eq!(
            Term::OneTime.end(datetime!(2026-01-01 0:00 UTC), UtcOffset::UTC),
            Ok(None)
        );
        assert_eq!(
            Term::Trial { days: 7 }.end(datetime!(2026-01-01 0:00 UTC), UtcOffset::UTC),
            Ok(Some(datetime!(2026-01-08 0:00 UTC)))
        );
    }

    #[test]
    fn months_are_counted_in_the_business_zone() {
        let shanghai = UtcOffset::from_hms(8, 0, 0).unwrap();
        let month = Term::Period {
            unit: PeriodUnit::Month,
            count: 1,
        };
        // 16:30 UTC on 30 January is 00:30 on 31 January in Shanghai: a month ends at 00:30 on
        // 28 February there (16:30 UTC on the 27th), not on 28 February UTC.
        assert_eq!(
            month.end(datetime!(2026-01-30 16:30 UTC), shanghai),
            Ok(Some(datetime!(2026-02-27 16:30 UTC)))
        );
        assert_eq!(
            month.end(datetime!(2026-01-30 16:30 UTC), UtcOffset::UTC),
            Ok(Some(datetime!(2026-02-28 16:30 UTC)))
        );
        // A package's term and its reset periods count the same months.
        let package = Term::Package {
            months: 11,
            periods: 11,
        };
        assert_eq!(
            package.end(datetime!(2026-03-30 16:00 UTC), shanghai),
            Ok(Some(datetime!(2027-02-27 16:00 UTC)))
        );
        // Near the calendar's end the zone's date may be past year 9999: refused, no panic.
        assert!(month
            .end(datetime!(9999-12-31 20:00 UTC), shanghai)
            .is_err());
    }

    #[test]
    fn terms_past_year_9999_are_refused() {
        let years = |count| Term::Period {
            unit: PeriodUnit::Year,
            count,
        };
        let utc = UtcOffset::UTC;
        assert!(years(36).end(datetime!(9970-01-01 0:00 UTC), utc).is_err());
        assert!(years(1).end(datetime!(9999-06-01 0:00 UTC), utc).is_err());
        assert!(years(1).end(datetime!(9998-06-01 0:00 UTC), utc).is_ok());
        assert!(Term::Trial { days: 30 }
            .end(datetime!(9999-12-15 0:00 UTC), utc)
            .is_err());
        assert_eq!(add_months(datetime!(9999-12-01 0:00 UTC), 1), None);
        assert_eq!(add_months(datetime!(2026-01-01 0:00 UTC), u32::MAX), None);
    }

    #[test]
    fn price_is_unit_times_periods_times_quantity() {
        let unit = Money::new(1000, Currency::CNY);
        let term = Term::Period {
            unit: PeriodUnit::Month,
            count: 3,
        };
        assert_eq!(price(unit, &term, 5).unwrap().amount_minor, 15_000);
        assert_eq!(
            price(unit, &Term::Trial { days: 30 }, 5)
                .unwrap()
                .amount_minor,
            0
        );
        assert_eq!(price(unit, &Term::OneTime, 0).unwrap().amount_minor, 1000);
    }

    #[test]
    fn upgrades_are_prorated_on_the_remaining_time() {
        let now = datetime!(2026-04-01 0:00 UTC);
        let old = Money::new(3000, Currency::CNY);
        let new = Money::new(6000, Currency::CNY);
        let m = PeriodUnit::Month;
        // Half a 30-day month left: half the monthly difference.
        let c = upgrade_charge(old, new, now, datetime!(2026-04-16 0:00 UTC), m).unwrap();
        assert_eq!(c.amount_minor, 1500);
        // Three months left: three times the difference.
        let c = upgrade_charge(old, new, now, datetime!(2026-07-01 0:00 UTC), m).unwrap();
        assert_eq!(c.amount_minor, 9100, "91 days / 30 days × 3000");
        // Downgrades and expired instances cost nothing.
        let end = datetime!(2026-05-01 0:00 UTC);
        assert_eq!(
            upgrade_charge(new, old, now, end, m).unwrap().amount_minor,
            0
        );
        assert_eq!(
            upgrade_charge(old, new, end, end, m).unwrap().amount_minor,
            0
        );
        // Yearly: half a year left of a 12 000.00 difference.
        let y = upgrade_charge(
            Money::new(0, Currency::CNY),
            Money::new(1_200_000, Currency::CNY),
            datetime!(2026-01-01 0:00 UTC),
            datetime!(2026-07-02 12:00 UTC),
            PeriodUnit::Year,
        )
        .unwrap();
        assert_eq!(y.amount_minor, 600_000);
    }
}
