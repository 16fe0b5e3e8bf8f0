//! The injectable clock. Every timer in Souk (expiry, grace, retention, unpaid-order deadlines,
//! job leases) reads the time from a [`Clock`], so tests and the sandbox can move time instead of
//! sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// A source of the current UTC time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that follows real time plus an offset that can only move forward.
///
/// Used by tests and by sandbox mode (`souk clock advance 30d`): advancing it moves every timer
/// forward at once, while time keeps flowing normally in between so that leases and latencies
/// still make sense.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset_ms: Arc<AtomicI64>,
}

/// The last instant Souk records: the end of year 9999 (what RFC 3339 and both databases'
/// calendars can hold). Terms ending later are refused, never charged.
pub fn horizon() -> OffsetDateTime {
    time::macros::datetime!(9999-12-31 23:59:59.999 UTC)
}

/// How far the sandbox clock may go: a century short of the horizon, so that every timer and
/// term computed from "now" still fits.
pub fn sandbox_limit() -> OffsetDateTime {
    time::macros::datetime!(9899-12-31 23:59:59.999 UTC)
}

/// The sandbox clock cannot go that far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sandbox clock cannot pass {limit}; advance by less", limit = sandbox_limit().date())]
pub struct PastSandboxLimit;

impl OffsetClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`; negative durations are ignored because timers must never
    /// run backwards. Refuses (and moves nothing) when the clock would pass [`sandbox_limit`].
    pub fn advance(&self, by: time::Duration) -> Result<(), PastSandboxLimit> {
        let ms = by.whole_milliseconds().clamp(0, i64::MAX as i128) as i64;
        let limit_ms = to_unix_ms(sandbox_limit());
        self.offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                let offset = old.checked_add(ms)?;
                let now = to_unix_ms(OffsetDateTime::now_utc()).checked_add(offset)?;
                (now <= limit_ms).then_some(offset)
            })
            .map(|_| ())
            .map_err(|_| PastSandboxLimit)
    }

    pub fn offset(&self) -> time::Duration {
        time::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        // `advance` keeps the sum within the calendar; saturate rather than panic regardless.
        OffsetDateTime::now_utc()
            .checked_add(self.offset())
            .unwrap_or_else(horizon)
    }
}

/// A clock that stands still until told otherwise; for unit tests of pure rules.
#[derive(Debug, Clone)]
pub struct FixedClock {
    at_ms: Arc<AtomicI64>,
}

impl FixedClock {
    pub fn at(t: OffsetDateTime) -> Self {
        Self {
            at_ms: Arc::new(AtomicI64::new(to_unix_ms(t))),
        }
    }

    pub fn set(&self, t: OffsetDateTime) {
        self.at_ms.store(to_unix_ms(t), Ordering::SeqCst);
    }

    pub fn advance(&self, by: time::Duration) {
        self.at_ms
            .fetch_add(by.whole_milliseconds() as i64, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        from_unix_ms(self.at_ms.load(Ordering::SeqCst))
    }
}

/// Milliseconds since the Unix epoch: how instants are stored in the database (an integer sorts,
/// compares and indexes the same way on SQLite and PostgreSQL).
pub fn to_unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`to_unix_ms`]; out-of-range values clamp to the epoch rather than panic.
pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Parses a human duration such as `30d`, `12h`, `15m`, `45s` or `1d12h`.
pub fn parse_duration(s: &str) -> Result<time::Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = time::Duration::ZERO;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("`{s}` is not a duration like 30d, 12h, 15m or 45s"))?;
        digits.clear();
        let unit_seconds: i64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("unknown unit `{c}` in `{s}`: use d, h, m or s")),
        };
        // Checked: a duration too large to hold is an error, not a panic.
        total = n
            .checked_mul(unit_seconds)
            .map(time::Duration::seconds)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(|| format!("`{s}` is too long a duration"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{s}` lacks a unit: write e.g. {digits}s or {digits}d"
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::at(datetime!(2026-01-01 0:00 UTC));
        assert_eq!(c.now(), datetime!(2026-01-01 0:00 UTC));
        c.advance(time::Duration::days(30));
        assert_eq!(c.now(), datetime!(2026-01-31 0:00 UTC));
    }

    #[test]
    fn offset_clock_never_goes_back() {
        let c = OffsetClock::new();
        c.advance(time::Duration::hours(2)).unwrap();
        c.advance(time::Duration::hours(-5)).unwrap();
        assert_eq!(c.offset(), time::Duration::hours(2));
    }

    #[test]
    fn unix_ms_round_trips() {
        let t = datetime!(2026-11-22 10:11:12.345 UTC);
        assert_eq!(from_unix_ms(to_unix_ms(t)), t);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d").unwrap(), time::Duration::days(30));
        assert_eq!(parse_duration("1d12h").unwrap(), time::Duration::hours(36));
        assert!(parse_duration("12").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("999999999999999999d").is_err());
        assert!(parse_duration("9223372036854775807s1s").is_err());
    }
}
