//! The checks on one pushed usage record (business rules §7 "time validity"), and the
//! collection schedule (`usage.collect_hourly = :15`).

use super::usage::{UsageError, UsageValue};
use time::{Duration, OffsetDateTime};

/// What Souk knows of the instance a record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeteredInstance {
    /// When the resource opened (records may not begin before it).
    pub opened_at: OffsetDateTime,
    /// When it was frozen, if it is frozen now (Souk default: records overlapping a frozen
    /// interval are refused; the resource was not usable).
    pub frozen_at: Option<OffsetDateTime>,
    /// When it was released (closed resource: records must end by then).
    pub released_at: Option<OffsetDateTime>,
}

/// The times and value of a record, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTimes {
    pub begin: OffsetDateTime,
    pub end: OffsetDateTime,
    pub value: UsageValue,
}

/// Why one record was refused; `code` is stable, the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("{0}")]
    Value(#[from] UsageError),
    #[error("begin_time must not be after end_time")]
    EndBeforeBegin,
    #[error("end_time is in the future; push usage after it happened")]
    EndInFuture,
    #[error("begin_time is before the instance opened ({0})")]
    BeforeOpen(OffsetDateTime),
    #[error("end_time is after the instance was released ({0})")]
    AfterRelease(OffsetDateTime),
    #[error("the instance is frozen since {0}; usage while frozen is not billed")]
    WhileFrozen(OffsetDateTime),
}

impl RecordError {
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::Value(_) => "invalid_usage_value",
            RecordError::EndBeforeBegin => "invalid_time_range",
            RecordError::EndInFuture => "time_in_future",
            RecordError::BeforeOpen(_) => "before_instance_open",
            RecordError::AfterRelease(_) => "after_instance_release",
            RecordError::WhileFrozen(_) => "instance_frozen",
        }
    }
}

/// Checks a record's times against the instance and the push time `now` (§7: begin ≥ resource
/// start, begin ≤ end ≤ push time; closed resource: end ≤ close time).
pub fn check_times(
    times: &RecordTimes,
    instance: &MeteredInstance,
    now: OffsetDateTime,
) -> Result<(), RecordError> {
    if times.begin > times.end {
        return Err(RecordError::EndBeforeBegin);
    }
    if times.end > now {
        return Err(RecordError::EndInFuture);
    }
    if times.begin < instance.opened_at {
        return Err(RecordError::BeforeOpen(instance.opened_at));
    }
    if let Some(released) = instance.released_at {
        if times.end > released {
            return Err(RecordError::AfterRelease(released));
        }
    }
    if let Some(frozen) = instance.frozen_at {
        if times.end > frozen {
            return Err(RecordError::WhileFrozen(frozen));
        }
    }
    Ok(())
}

/// The hour boundary a collection at `now` rates up to: the latest whole hour `H` with
/// `H + at_minute ≤ now`. Every record ending at or before `H` and not yet rated is rated then,
/// including late ones whose own hour was collected before they arrived.
pub fn collection_cutoff(now: OffsetDateTime, at_minute: Duration) -> OffsetDateTime {
    let shifted = now - at_minute;
    shifted
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        // Minute 0, second 0 and nanosecond 0 are always valid.
        .unwrap_or(shifted)
}

/// The accumulation period (Souk default `pricing.accumulation_period = calendar month`, in
/// the business zone `zone`, `calendar.zone`) a collection up to `cutoff` counts toward: the
/// month of the hour it closes. An offset of whole hours keeps every hour in one month.
pub fn accumulation_period(cutoff: OffsetDateTime, zone: time::UtcOffset) -> String {
    let last_hour = (cutoff - Duration::HOUR).to_offset(zone);
    format!("{:04}-{:02}", last_hour.year(), last_hour.month() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn inst() -> MeteredInstance {
        MeteredInstance {
            opened_at: datetime!(2026-01-01 10:00 UTC),
            frozen_at: None,
            released_at: None,
        }
    }

    fn rec(begin: OffsetDateTime, end: OffsetDateTime) -> RecordTimes {
        RecordTimes {
            begin,
            end,
            value: UsageValue::units(1),
        }
    }

    #[test]
    fn time_rules_of_section_7() {
        let now = datetime!(2026-01-01 14:10 UTC);
        let ok = rec(
            datetime!(2026-01-01 13:00 UTC),
            datetime!(2026-01-01 14:00 UTC),
        );
        assert_eq!(check_times(&ok, &inst(), now), Ok(()));
        // An instant record (begin = end) is fine.
        let instant = rec(
            datetime!(2026-01-01 13:00 UTC),
            datetime!(2026-01-01 13:00 UTC),
        );
        assert_eq!(check_times(&instant, &inst(), now), Ok(()));
        let back = rec(
            datetime!(2026-01-01 14:00 UTC),
            datetime!(2026-01-01 13:00 UTC),
        );
        assert_eq!(
            check_times(&back, &inst(), now),
            Err(RecordError::EndBeforeBegin)
        );
        let future = rec(
            datetime!(2026-01-01 14:00 UTC),
            datetime!(2026-01-01 15:00 UTC),
        );
        assert_eq!(
            check_times(&future, &inst(), now),
            Err(RecordError::EndInFuture)
        );
        let early = rec(
            datetime!(2026-01-01 09:00 UTC),
            datetime!(2026-01-01 11:00 UTC),
        );
        assert_eq!(
            check_times(&early, &inst(), now).unwrap_err().code(),
            "before_instance_open"
        );
        let mut closed = inst();
        closed.released_at = Some(datetime!(2026-01-01 12:00 UTC));
        assert_eq!(
            check_times(&ok, &closed, now).unwrap_err().code(),
            "after_instance_release"
        );
        let mut frozen = inst();
        frozen.frozen_at = Some(datetime!(2026-01-01 13:30 UTC));
        assert_eq!(
            check_times(&ok, &frozen, now).unwrap_err().code(),
            "instance_frozen"
        );
    }

    #[test]
    fn collection_rates_up_to_the_last_hour_fifteen_minutes_in() {
        let m15 = Duration::minutes(15);
        assert_eq!(
            collection_cutoff(datetime!(2026-01-01 14:15 UTC), m15),
            datetime!(2026-01-01 14:00 UTC)
        );
        assert_eq!(
            collection_cutoff(datetime!(2026-01-01 14:14:59 UTC), m15),
            datetime!(2026-01-01 13:00 UTC)
        );
        assert_eq!(
            collection_cutoff(datetime!(2026-01-01 00:10 UTC), m15),
            datetime!(2025-12-31 23:00 UTC)
        );
    }

    #[test]
    fn the_period_is_the_month_of_the_hour_collected() {
        let utc = time::UtcOffset::UTC;
        assert_eq!(
            accumulation_period(datetime!(2026-02-01 00:00 UTC), utc),
            "2026-01"
        );
        assert_eq!(
            accumulation_period(datetime!(2026-02-01 01:00 UTC), utc),
            "2026-02"
        );
    }

    #[test]
    fn the_period_is_the_business_zone_month_across_16_00_utc() {
        let shanghai = time::macros::offset!(+8);
        // 15:00–16:00 UTC on 31 January is 23:00–24:00 in Shanghai: still January.
        assert_eq!(
            accumulation_period(datetime!(2026-01-31 16:00 UTC), shanghai),
            "2026-01"
        );
        // 16:00–17:00 UTC is 00:00–01:00 on 1 February in Shanghai: February already.
        assert_eq!(
            accumulation_period(datetime!(2026-01-31 17:00 UTC), shanghai),
            "2026-02"
        );
        assert_eq!(
            accumulation_period(datetime!(2026-01-31 17:00 UTC), time::UtcOffset::UTC),
            "2026-01"
        );
        // The year turns in the zone too.
        assert_eq!(
            accumulation_period(datetime!(2026-12-31 17:00 UTC), shanghai),
            "2027-01"
        );
    }
}
