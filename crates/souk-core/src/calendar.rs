//! Working days (business rules §0 "Calendar"): natural days are counted in the business zone,
//! Saturdays, Sundays and the configured holidays are not working days. After-sale timers that
//! the rules give in working days (seller refund review, appeal SLA) end at the same time of
//! day, that many working days later.

use time::{Date, Duration, OffsetDateTime, UtcOffset, Weekday};

/// The business calendar: the zone's offset (Asia/Shanghai has no DST, so a fixed offset) and
/// its holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    pub offset: UtcOffset,
    pub holidays: Vec<Date>,
}

impl Default for WorkCalendar {
    /// UTC, no holidays.
    fn default() -> Self {
        WorkCalendar {
            offset: UtcOffset::UTC,
            holidays: Vec::new(),
        }
    }
}

impl WorkCalendar {
    pub fn is_working_day(&self, d: Date) -> bool {
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.holidays.contains(&d)
    }

    /// `from` plus `days` working days: the same local time on the `days`-th working day after
    /// `from`'s local date (a request filed on a Saturday counts from Monday as day 1).
    pub fn add_working_days(&self, from: OffsetDateTime, days: u32) -> OffsetDateTime {
        let local = from.to_offset(self.offset);
        let mut d = local.date();
        let mut left = days;
        // Bounded: a calendar with every day a holiday would otherwise never end.
        let mut guard = 0;
        while left > 0 && guard < 3660 {
            d = d.next_day().unwrap_or(d);
            if self.is_working_day(d) {
                left -= 1;
            }
            guard += 1;
        }
        let whole_days = (d - local.date()).whole_days();
        from + Duration::days(whole_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    #[test]
    fn weekends_and_holidays_do_not_count() {
        let cal = WorkCalendar {
            offset: offset!(+8),
            holidays: vec![date!(2026 - 10 - 01), date!(2026 - 10 - 02)],
        };
        // Monday 2026-09-28 10:00 in Shanghai.
        let mon = datetime!(2026-09-28 02:00 UTC);
        // Tue 29, Wed 30, (Thu 1 and Fri 2 holidays, weekend), Mon 5, Tue 6, Wed 7, Thu 8, Fri 9.
        assert_eq!(
            cal.add_working_days(mon, 7),
            datetime!(2026-10-09 02:00 UTC)
        );
        assert_eq!(cal.add_working_days(mon, 0), mon);
        // Saturday late evening in Shanghai is still Saturday there, though Saturday in UTC too.
        let sat = datetime!(2026-10-03 15:00 UTC); // Sat 23:00 in Shanghai
        assert_eq!(
            cal.add_working_days(sat, 1),
            datetime!(2026-10-05 15:00 UTC)
        );
        // The date is the business zone's: Sunday 20:00 UTC is Monday 04:00 in Shanghai.
        let sun_utc = datetime!(2026-10-04 20:00 UTC);
        assert_eq!(
            cal.add_working_days(sun_utc, 1),
            datetime!(2026-10-05 20:00 UTC)
        );
    }
}
