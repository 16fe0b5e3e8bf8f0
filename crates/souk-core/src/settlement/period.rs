//! The settlement period 账期: a natural month in the business zone, named `YYYYMM` (§9).

use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// One natural month, e.g. `202611`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: Month,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("`{0}` is not a period: write the month as YYYYMM, e.g. 202611")]
    Malformed(String),
}

impl Period {
    /// Parses `YYYYMM` (years 2000–9998, so the month after is always representable).
    pub fn parse(s: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::Malformed(s.to_owned());
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = s[..4].parse().map_err(|_| bad())?;
        let month: u8 = s[4..].parse().map_err(|_| bad())?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        if !(2000..=9998).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }

    /// The period that contains `t` in the business zone.
    pub fn containing(t: OffsetDateTime, zone: UtcOffset) -> Period {
        let local = t.to_offset(zone);
        Period {
            year: local.year(),
            month: local.month(),
        }
    }

    pub fn id(&self) -> String {
        format!("{:04}{:02}", self.year, self.month as u8)
    }

    pub fn next(&self) -> Period {
        match self.month {
            Month::December => Period {
                year: self.year + 1,
                month: Month::January,
            },
            m => Period {
                year: self.year,
                month: m.next(),
            },
        }
    }

    pub fn previous(&self) -> Period {
        match self.month {
            Month::January => Period {
                year: self.year - 1,
                month: Month::December,
            },
            m => Period {
                year: self.year,
                month: m.previous(),
            },
        }
    }

    /// The first instant of the month in the business zone, in UTC.
    pub fn start(&self, zone: UtcOffset) -> OffsetDateTime {
        // Day 1 exists in every month.
        let date = Date::from_calendar_date(self.year, self.month, 1).unwrap_or(Date::MIN);
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_offset(zone)
            .to_offset(UtcOffset::UTC)
    }

    /// The first instant after the month (exclusive end).
    pub fn end(&self, zone: UtcOffset) -> OffsetDateTime {
        self.next().start(zone)
    }

    /// When the run for this period is due: `run_day` of the next month (clamped to its last
    /// day), at midnight in the business zone.
    pub fn run_at(&self, run_day: u8, zone: UtcOffset) -> OffsetDateTime {
        let next = self.next();
        let day = run_day.clamp(1, next.month.length(next.year));
        let date = Date::from_calendar_date(next.year, next.month, day).unwrap_or(Date::MIN);
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_offset(zone)
            .to_offset(UtcOffset::UTC)
    }

    /// The latest period whose run is due at `now` (run day `run_day` of month M+1).
    pub fn due(now: OffsetDateTime, run_day: u8, zone: UtcOffset) -> Period {
        let last = Period::containing(now, zone).previous();
        if last.run_at(run_day, zone) <= now {
            last
        } else {
            last.previous()
        }
    }

    /// Whether the month is over at `now` (only a closed month can be settled).
    pub fn is_closed(&self, now: OffsetDateTime, zone: UtcOffset) -> bool {
        self.end(zone) <= now
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    const CN: UtcOffset = offset!(+8);

    #[test]
    fn periods_parse_only_real_months() {
        assert_eq!(Period::parse("202611").unwrap().id(), "202611");
        for bad in [
            "2026-11", "202613", "202600", "20261", "abcdef", "199912", "999901",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn months_are_taken_in_the_business_zone() {
        // 2026-11-30 17:00 UTC is already 1 December in Shanghai.
        let p = Period::containing(datetime!(2026-11-30 17:00 UTC), CN);
        assert_eq!(p.id(), "202612");
        let nov = Period::parse("202611").unwrap();
        assert_eq!(nov.start(CN), datetime!(2026-10-31 16:00 UTC));
        assert_eq!(nov.end(CN), datetime!(2026-11-30 16:00 UTC));
        assert_eq!(Period::parse("202612").unwrap().next().id(), "202701");
        assert_eq!(Period::parse("202701").unwrap().previous().id(), "202612");
    }

    #[test]
    fn the_documented_run_examples_hold() {
        // run 2019-02-07 → 201901 (seller run day 7); 2020-02-03 → 202001 (reseller day 3).
        let p = Period::due(datetime!(2019-02-07 00:00 +8), 7, CN);
        assert_eq!(p.id(), "201901");
        let p = Period::due(datetime!(2019-02-06 23:59 +8), 7, CN);
        assert_eq!(p.id(), "201812");
        let p = Period::due(datetime!(2020-02-03 00:00 +8), 3, CN);
        assert_eq!(p.id(), "202001");
        // A run day past the month's end is clamped to its last day.
        let feb = Period::parse("202601").unwrap().run_at(31, CN);
        assert_eq!(feb, datetime!(2026-02-28 00:00 +8));
    }
}
