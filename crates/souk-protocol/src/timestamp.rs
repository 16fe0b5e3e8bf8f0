//! The protocol's timestamp formats (parse + format), all with injected time.
//!
//! | format | example | used by |
//! |---|---|---|
//! | [`TimestampFormat::Seconds`] `yyyyMMddHHmmss` | `20240101000000` | `expireTime`, order `createTime`, License times |
//! | [`TimestampFormat::Millis`] `yyyyMMddHHmmssSSS` | `20240101000000000` | V1 `timeStamp`, `statisticalTime`, Kit `timeStamp` |
//! | [`TimestampFormat::Basic`] `yyyyMMdd'T'HHmmss'Z'` | `20240317T144237Z` | APIG `X-Sdk-Date`, usage records |
//!
//! Everything is UTC except the Kit `timeStamp`, which the docs say is Beijing time (UTC+8); use
//! [`TimestampFormat::format_in`] / [`TimestampFormat::parse_in`] with [`BEIJING`] for it.
//! Nothing here reads the clock: callers pass `OffsetDateTime`s (or Unix milliseconds).
//! Years must be within 0000–9999 (four digits on the wire).

use std::fmt;

use thiserror::Error;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Beijing time (UTC+8), the documented zone of the Kit `timeStamp` body field.
pub const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// One of the fixed-width timestamp layouts of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimestampFormat {
    /// `yyyyMMddHHmmss` (14 digits).
    Seconds,
    /// `yyyyMMddHHmmssSSS` (17 digits).
    Millis,
    /// `yyyyMMdd'T'HHmmss'Z'` (ISO 8601 basic, as in APIG `X-Sdk-Date`).
    Basic,
}

/// A timestamp that does not match its format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid timestamp {value:?}: expected {expected}")]
pub struct TimestampError {
    /// The offending text (truncated).
    pub value: String,
    /// The expected layout.
    pub expected: &'static str,
}

impl TimestampFormat {
    /// The layout in Java `SimpleDateFormat` notation, as the docs write it.
    pub fn pattern(self) -> &'static str {
        match self {
            TimestampFormat::Seconds => "yyyyMMddHHmmss",
            TimestampFormat::Millis => "yyyyMMddHHmmssSSS",
            TimestampFormat::Basic => "yyyyMMdd'T'HHmmss'Z'",
        }
    }

    /// Formats `at` in UTC.
    pub fn format(self, at: OffsetDateTime) -> String {
        self.format_in(at, UtcOffset::UTC)
    }

    /// Formats `at` as wall-clock time at `offset` (e.g. [`BEIJING`] for the Kit `timeStamp`).
    pub fn format_in(self, at: OffsetDateTime, offset: UtcOffset) -> String {
        let t = at.to_offset(offset);
        let date = format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day());
        let clock = format!("{:02}{:02}{:02}", t.hour(), t.minute(), t.second());
        match self {
            TimestampFormat::Seconds => format!("{date}{clock}"),
            TimestampFormat::Millis => format!("{date}{clock}{:03}", t.millisecond()),
            TimestampFormat::Basic => format!("{date}T{clock}Z"),
        }
    }

    /// Parses text written in UTC.
    pub fn parse(self, s: &str) -> Result<OffsetDateTime, TimestampError> {
        self.parse_in(s, UtcOffset::UTC)
    }

    /// Parses wall-clock text that was written at `offset`.
    pub fn parse_in(self, s: &str, offset: UtcOffset) -> Result<OffsetDateTime, TimestampError> {
        let err = || TimestampError {
            value: crate::lenient::excerpt(s),
            expected: self.pattern(),
        };
        let b = s.as_bytes();
        let (date_part, clock_part, millis_part) = match self {
            TimestampFormat::Seconds if b.len() == 14 => (&b[..8], &b[8..14], None),
            TimestampFormat::Millis if b.len() == 17 => (&b[..8], &b[8..14], Some(&b[14..17])),
            TimestampFormat::Basic if b.len() == 16 && b[8] == b'T' && b[15] == b'Z' => {
                (&b[..8], &b[9..15], None)
            }
            _ => return Err(err()),
        };
        let year = digits(&date_part[..4]).ok_or_else(err)?;
        let month = digits(&date_part[4..6]).ok_or_else(err)?;
        let day = digits(&date_part[6..8]).ok_or_else(err)?;
        let hour = digits(&clock_part[..2]).ok_or_else(err)?;
        let minute = digits(&clock_part[2..4]).ok_or_else(err)?;
        let second = digits(&clock_part[4..6]).ok_or_else(err)?;
        let millis = match millis_part {
            Some(m) => digits(m).ok_or_else(err)?,
            None => 0,
        };
        // All values below fit their target types: at most 4 digits each.
        let month = Month::try_from(month as u8).map_err(|_| err())?;
        let date = Date::from_calendar_date(year as i32, month, day as u8).map_err(|_| err())?;
        let time = Time::from_hms_milli(hour as u8, minute as u8, second as u8, millis as u16)
            .map_err(|_| err())?;
        Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
    }
}

impl fmt::Display for TimestampFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pattern())
    }
}

/// Parses a run of ASCII digits (at most 4, so no overflow).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Parses an `expireTime`, which is documented as `yyyyMMddHHmmss` but appears with 17 digits
/// in a V2 example: accepts both and reports which one it was, so it can be re-emitted as is.
pub fn parse_expire_time(s: &str) -> Result<(OffsetDateTime, TimestampFormat), TimestampError> {
    match s.len() {
        17 => TimestampFormat::Millis
            .parse(s)
            .map(|t| (t, TimestampFormat::Millis)),
        _ => TimestampFormat::Seconds
            .parse(s)
            .map(|t| (t, TimestampFormat::Seconds)),
    }
}

/// Milliseconds since the Unix epoch (V2 `timestamp`, usage-push `ts`).
pub fn unix_millis(at: OffsetDateTime) -> i64 {
    // i128 → i64 cannot overflow for years 0000–9999.
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The inverse of [`unix_millis`]; `None` when out of range.
pub fn from_unix_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// A UTC timestamp parameter that remembers its wire width (14 or 17 digits), so a value
/// parsed from the wire is re-emitted byte for byte. Used for `timeStamp` and `expireTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WireTime {
    /// The instant.
    pub at: OffsetDateTime,
    /// [`TimestampFormat::Seconds`] or [`TimestampFormat::Millis`].
    pub format: TimestampFormat,
}

impl WireTime {
    /// A 17-digit `yyyyMMddHHmmssSSS` value (V1 `timeStamp`).
    pub fn millis(at: OffsetDateTime) -> Self {
        WireTime {
            at,
            format: TimestampFormat::Millis,
        }
    }

    /// A 14-digit `yyyyMMddHHmmss` value (`expireTime`).
    pub fn seconds(at: OffsetDateTime) -> Self {
        WireTime {
            at,
            format: TimestampFormat::Seconds,
        }
    }

    /// Parses 14 or 17 digits (UTC).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        parse_expire_time(s).map(|(at, format)| WireTime { at, format })
    }

    /// The wire text.
    pub fn to_wire(&self) -> String {
        self.format.format(self.at)
    }
}

impl fmt::Display for WireTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl crate::activity::ParamValue for WireTime {
    fn from_param(raw: &str) -> Result<Self, String> {
        WireTime::parse(raw)
            .map_err(|_| "expected yyyyMMddHHmmss or yyyyMMddHHmmssSSS (UTC)".into())
    }
    fn to_param(&self) -> String {
        self.to_wire()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_and_parses_each_layout() {
        let at = datetime!(2024-03-17 14:42:37.123 UTC);
        assert_eq!(TimestampFormat::Seconds.format(at), "20240317144237");
        assert_eq!(TimestampFormat::Millis.format(at), "20240317144237123");
        assert_eq!(TimestampFormat::Basic.format(at), "20240317T144237Z");
        assert_eq!(
            TimestampFormat::Millis.parse("20240317144237123").unwrap(),
            at
        );
        assert_eq!(
            TimestampFormat::Basic.parse("20240317T144237Z").unwrap(),
            datetime!(2024-03-17 14:42:37 UTC)
        );
    }

    #[test]
    fn formats_in_other_zones() {
        let at = datetime!(2022-04-20 03:41:17.642 UTC);
        assert_eq!(
            TimestampFormat::Millis.format_in(at, BEIJING),
            "20220420114117642"
        );
        assert_eq!(
            TimestampFormat::Millis
                .parse_in("20220420114117642", BEIJING)
                .unwrap(),
            at
        );
        // A non-UTC input is converted before formatting.
        let local = at.to_offset(BEIJING);
        assert_eq!(TimestampFormat::Seconds.format(local), "20220420034117");
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "2024031714423",
            "2024131714423700",
            "20240230000000",
            "2024031714426x",
            "20240317244237",
            "２０２４０３１７１４４２",
        ] {
            assert!(TimestampFormat::Seconds.parse(bad).is_err(), "{bad}");
        }
        assert!(TimestampFormat::Basic.parse("20240317 144237Z").is_err());
        assert!(TimestampFormat::Millis.parse("2024031714423712").is_err());
    }

    #[test]
    fn expire_time_accepts_both_widths() {
        let (t, f) = parse_expire_time("20221124023618256").unwrap();
        assert_eq!(f, TimestampFormat::Millis);
        assert_eq!(f.format(t), "20221124023618256");
        let (_, f) = parse_expire_time("20221124023618").unwrap();
        assert_eq!(f, TimestampFormat::Seconds);
    }

    #[test]
    fn unix_millis_round_trip() {
        let at = from_unix_millis(1_680_508_066_618).unwrap();
        assert_eq!(unix_millis(at), 1_680_508_066_618);
        assert_eq!(TimestampFormat::Millis.format(at), "20230403074746618");
    }
}
