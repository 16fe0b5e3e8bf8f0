//! When usage is collected and how it is bucketed for people (business rules §6.4 "rating is
//! hourly or daily per product", §7 `usage.collect_daily = 01:00`, §0 "Calendar": natural
//! days are the business zone's, `calendar.zone = Asia/Shanghai`).

use time::{Duration, OffsetDateTime, Time, UtcOffset};

/// How often a product's usage is rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Collection {
    /// Every hour, `usage.collect_hourly` past it (`:15`).
    #[default]
    Hourly,
    /// Once a business day, `usage.collect_daily` past its midnight (`01:00`): the charge holds
    /// the whole day before it.
    Daily,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Hourly => "hourly",
            Collection::Daily => "daily",
        }
    }

    pub fn parse(text: &str) -> Option<Collection> {
        match text {
            "hourly" => Some(Collection::Hourly),
            "daily" => Some(Collection::Daily),
            _ => None,
        }
    }
}

/// The start (an instant) of the business-zone day that contains `t`.
pub fn business_day_start(t: OffsetDateTime, zone: UtcOffset) -> OffsetDateTime {
    t.to_offset(zone)
        .replace_time(Time::MIDNIGHT)
        .to_offset(UtcOffset::UTC)
}

/// The day boundary a daily collection at `now` rates up to: the latest business-zone midnight
/// `D` with `D + at ≤ now`. Every record ending at or before `D` and not yet rated is rated
/// then (a late one included, as for the hourly collection).
pub fn daily_cutoff(now: OffsetDateTime, at: Duration, zone: UtcOffset) -> OffsetDateTime {
    business_day_start(now - at, zone)
}

/// How the usage summary groups records (by their begin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn bucket_ms(self) -> i64 {
        match self {
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `t`: buckets are the business zone's whole hours or
    /// days (`(t + offset) / bucket * bucket − offset`, the arithmetic the store's query does).
    pub fn bucket_start(self, t: OffsetDateTime, zone: UtcOffset) -> OffsetDateTime {
        let shift = zone_shift_ms(zone);
        let ms = crate::clock::to_unix_ms(t);
        let size = self.bucket_ms();
        crate::clock::from_unix_ms((ms + shift).div_euclid(size) * size - shift)
    }
}

/// The zone's offset in milliseconds (the shift the store adds before bucketing).
pub fn zone_shift_ms(zone: UtcOffset) -> i64 {
    zone.whole_seconds() as i64 * 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    const SHANGHAI: UtcOffset = offset!(+08:00);

    #[test]
    fn the_daily_collection_rates_up_to_the_business_midnight_an_hour_in() {
        let h1 = Duration::HOUR;
        // 01:00 in Shanghai is 17:00 UTC the day before: the day that ended at 16:00 UTC.
        assert_eq!(
            daily_cutoff(datetime!(2026-03-01 17:00 UTC), h1, SHANGHAI),
            datetime!(2026-03-01 16:00 UTC)
        );
        // 00:59 in Shanghai: that day is not collected yet, the one before is.
        assert_eq!(
            daily_cutoff(datetime!(2026-03-01 16:59:59 UTC), h1, SHANGHAI),
            datetime!(2026-02-28 16:00 UTC)
        );
        // 08:00 UTC is 16:00 in Shanghai: still the midnight of that day.
        assert_eq!(
            daily_cutoff(datetime!(2026-03-02 08:00 UTC), h1, SHANGHAI),
            datetime!(2026-03-01 16:00 UTC)
        );
        // In UTC the same rule gives UTC midnights.
        assert_eq!(
            daily_cutoff(datetime!(2026-03-02 00:30 UTC), h1, UtcOffset::UTC),
            datetime!(2026-03-01 00:00 UTC)
        );
    }

    #[test]
    fn summary_days_are_business_days() {
        let day = Granularity::Day;
        // 23:30 UTC is 07:30 the next day in Shanghai: that day began at 16:00 UTC.
        assert_eq!(
            day.bucket_start(datetime!(2026-03-01 23:30 UTC), SHANGHAI),
            datetime!(2026-03-01 16:00 UTC)
        );
        assert_eq!(
            day.bucket_start(datetime!(2026-03-01 15:59:59 UTC), SHANGHAI),
            datetime!(2026-02-28 16:00 UTC)
        );
        assert_eq!(
            day.bucket_start(datetime!(2026-03-01 15:59:59 UTC), SHANGHAI),
            business_day_start(datetime!(2026-03-01 15:59:59 UTC), SHANGHAI)
        );
        // Hours of a whole-hour zone are the UTC hours; a half-hour zone's are its own.
        assert_eq!(
            Granularity::Hour.bucket_start(datetime!(2026-03-01 23:30 UTC), SHANGHAI),
            datetime!(2026-03-01 23:00 UTC)
        );
        assert_eq!(
            Granularity::Hour.bucket_start(datetime!(2026-03-01 23:20 UTC), offset!(+05:30)),
            datetime!(2026-03-01 22:30 UTC)
        );
        assert_eq!(zone_shift_ms(SHANGHAI), 28_800_000);
    }

    #[test]
    fn collections_have_stable_names() {
        for c in [Collection::Hourly, Collection::Daily] {
            assert_eq!(Collection::parse(c.as_str()), Some(c));
        }
        assert_eq!(Collection::parse("weekly"), None);
        assert_eq!(Collection::default(), Collection::Hourly);
    }
}
