//! Working days (business rules §0 "Calendar"): natural days are counted in the business zone,
//! Saturdays, Sundays and the configured holidays are not working days, except the configured
//! make-up working weekends (补班: the Saturday or Sunday worked in exchange for a 调休 day off
//! around a public holiday). After-sale timers that the rules give in working days (seller
//! refund review, appeal SLA) end at the same time of day, that many working days later.

use time::{Date, Duration, OffsetDateTime, UtcOffset, Weekday};

/// The business calendar: the zone's offset (Asia/Shanghai has no DST, so a fixed offset), its
/// holidays and its make-up working weekend days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    pub offset: UtcOffset,
    pub holidays: Vec<Date>,
    /// Weekend dates that are working days (补班).
    pub workdays: Vec<Date>,
}

impl Default for WorkCalendar {
    /// UTC, no holidays, no make-up days.
    fn default() -> Self {
        WorkCalendar {
            offset: UtcOffset::UTC,
            holidays: Vec::new(),
            workdays: Vec::new(),
        }
    }
}

/// Why a calendar's lists do not fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// A make-up working day that is not a Saturday or Sunday (weekdays work anyway).
    WorkdayNotWeekend(Date),
    /// A date listed both as a holiday and as a make-up working day.
    Both(Date),
}

impl WorkCalendar {
    /// Checks that every make-up working day is a weekend day and no date is in both lists.
    pub fn check(&self) -> Result<(), CalendarError> {
        for d in &self.workdays {
            if !is_weekend(*d) {
                return Err(CalendarError::WorkdayNotWeekend(*d));
            }
            if self.holidays.contains(d) {
                return Err(CalendarError::Both(*d));
            }
        }
        Ok(())
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        if is_weekend(d) {
            self.workdays.contains(&d)
        } else {
            !self.holidays.contains(&d)
        }
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

    /// The latest working day on or before `d` (`d` itself on a working day). What happened
    /// before the start of it is "one working day old" on `d`: seen on Saturday, Friday's
    /// events are not, Thursday's are.
    pub fn working_day_on_or_before(&self, d: Date) -> Date {
        let mut day = d;
        // Bounded like `add_working_days`.
        for _ in 0..3660 {
            if self.is_working_day(day) {
                return day;
            }
            day = day.previous_day().unwrap_or(day);
        }
        d
    }
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    #[test]
    fn the_latest_working_day_skips_back_over_weekends_and_holidays() {
        let cal = WorkCalendar {
            offset: offset!(+8),
            holidays: vec![date!(2026 - 10 - 01), date!(2026 - 10 - 02)],
            workdays: vec![date!(2026 - 10 - 10)],
        };
        // Wednesday is itself; the holiday weekend goes back to Wednesday 30 September.
        assert_eq!(
            cal.working_day_on_or_before(date!(2026 - 09 - 30)),
            date!(2026 - 09 - 30)
        );
        assert_eq!(
            cal.working_day_on_or_before(date!(2026 - 10 - 04)),
            date!(2026 - 09 - 30)
        );
        // A make-up Saturday is a working day.
        assert_eq!(
            cal.working_day_on_or_before(date!(2026 - 10 - 10)),
            date!(2026 - 10 - 10)
        );
        assert_eq!(
            cal.working_day_on_or_before(date!(2026 - 10 - 11)),
            date!(2026 - 10 - 10)
        );
    }

    #[test]
    fn weekends_and_holidays_do_not_count() {
        let cal = WorkCalendar {
            offset: offset!(+8),
            holidays: vec![date!(2026 - 10 - 01), date!(2026 - 10 - 02)],
            workdays: vec![],
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

    /// The 2026 National Day and Mid-Autumn 调休 (State Council notice): Oct 1–8 off (Thu–Thu),
    /// with Sun Sep 27 and Sat Oct 10 worked in exchange.
    fn national_day_2026() -> WorkCalendar {
        WorkCalendar {
            offset: offset!(+8),
            holidays: (1..=8)
                .map(|d| Date::from_calendar_date(2026, time::Month::October, d).unwrap())
                .collect(),
            workdays: vec![date!(2026 - 09 - 27), date!(2026 - 10 - 10)],
        }
    }

    #[test]
    fn make_up_weekend_days_are_working_days() {
        let cal = national_day_2026();
        assert!(cal.check().is_ok());
        assert!(cal.is_working_day(date!(2026 - 09 - 27)), "make-up Sunday");
        assert!(
            cal.is_working_day(date!(2026 - 10 - 10)),
            "make-up Saturday"
        );
        assert!(
            !cal.is_working_day(date!(2026 - 10 - 03)),
            "an ordinary Saturday"
        );
        assert!(
            !cal.is_working_day(date!(2026 - 10 - 05)),
            "a holiday Monday"
        );
        assert!(
            !cal.is_working_day(date!(2026 - 10 - 11)),
            "the Sunday after"
        );
        assert!(cal.is_working_day(date!(2026 - 10 - 09)));
        // Fri Sep 25 10:00 in Shanghai: the make-up Sunday is day 1, Mon 28 day 2.
        let fri = datetime!(2026-09-25 02:00 UTC);
        assert_eq!(
            cal.add_working_days(fri, 1),
            datetime!(2026-09-27 02:00 UTC)
        );
        assert_eq!(
            cal.add_working_days(fri, 2),
            datetime!(2026-09-28 02:00 UTC)
        );
        // Tue Sep 29 10:00: Wed 30 is day 1; Oct 1–8 off; Fri 9 day 2, the make-up Saturday
        // Oct 10 day 3, Mon 12 day 4.
        let tue = datetime!(2026-09-29 02:00 UTC);
        assert_eq!(
            cal.add_working_days(tue, 1),
            datetime!(2026-09-30 02:00 UTC)
        );
        assert_eq!(
            cal.add_working_days(tue, 2),
            datetime!(2026-10-09 02:00 UTC)
        );
        assert_eq!(
            cal.add_working_days(tue, 3),
            datetime!(2026-10-10 02:00 UTC)
        );
        assert_eq!(
            cal.add_working_days(tue, 4),
            datetime!(2026-10-12 02:00 UTC)
        );
        // Filed on a holiday weekend (Sat Oct 3): Fri Oct 9 is day 1, the make-up Oct 10 day 2.
        let sat = datetime!(2026-10-03 02:00 UTC);
        assert_eq!(
            cal.add_working_days(sat, 2),
            datetime!(2026-10-10 02:00 UTC)
        );
        // Filed on the make-up Saturday itself: Monday is the next working day.
        let on = datetime!(2026-10-10 02:00 UTC);
        assert_eq!(cal.add_working_days(on, 1), datetime!(2026-10-12 02:00 UTC));
        // Without the make-up days the same request ends later.
        let plain = WorkCalendar {
            workdays: vec![],
            ..national_day_2026()
        };
        assert_eq!(
            plain.add_working_days(tue, 3),
            datetime!(2026-10-12 02:00 UTC)
        );
        assert_eq!(
            plain.add_working_days(fri, 1),
            datetime!(2026-09-28 02:00 UTC)
        );
    }

    #[test]
    fn a_make_up_day_must_be_a_weekend_day_and_not_a_holiday() {
        let mut cal = national_day_2026();
        cal.workdays.push(date!(2026 - 10 - 09));
        assert_eq!(
            cal.check(),
            Err(CalendarError::WorkdayNotWeekend(date!(2026 - 10 - 09)))
        );
        let mut cal = national_day_2026();
        cal.holidays.push(date!(2026 - 10 - 10));
        assert_eq!(cal.check(), Err(CalendarError::Both(date!(2026 - 10 - 10))));
    }
}
