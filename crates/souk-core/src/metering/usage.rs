//! Usage amounts: exact decimals with at most four fractional digits (business rules §7,
//! `usage_value` "Double(12,4)"), held as integer ten-thousandths. No floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Ten-thousandths per unit.
pub const SCALE: i64 = 10_000;

/// The largest usage one record may carry: 12 significant digits, 4 of them decimals
/// (99,999,999.9999 in ten-thousandths).
pub const MAX_RECORD: UsageValue = UsageValue(999_999_999_999);

/// An amount of usage in ten-thousandths of the billing item's unit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UsageValue(i64);

/// Why a `usage_value` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("usage_value must be a decimal number such as 12 or 0.5")]
    NotANumber,
    #[error("usage_value must be greater than 0")]
    NotPositive,
    #[error("usage_value may have at most 4 decimals")]
    TooPrecise,
    #[error("usage_value may be at most 99999999.9999")]
    TooLarge,
}

impl UsageValue {
    pub const ZERO: UsageValue = UsageValue(0);

    /// From a count of ten-thousandths.
    pub const fn from_ten_thousandths(n: i64) -> Self {
        UsageValue(n)
    }

    /// Whole units.
    pub const fn units(n: i64) -> Self {
        UsageValue(n * SCALE)
    }

    pub const fn ten_thousandths(self) -> i64 {
        self.0
    }

    /// Parses a record's `usage_value`: plain decimal text (`"99"`, `"12.5"`, `"0.0001"`),
    /// positive, at most 4 decimals (trailing zeros beyond them are fine: `"1.50000"`), at most
    /// [`MAX_RECORD`]. Exponents, signs and blanks inside are refused.
    pub fn parse_record(text: &str) -> Result<UsageValue, UsageError> {
        let t = text.trim();
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) {
            return Err(if t.starts_with('-') {
                UsageError::NotPositive
            } else {
                UsageError::NotANumber
            });
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 4 {
            return Err(UsageError::TooPrecise);
        }
        let int = int.trim_start_matches('0');
        if int.len() > 8 {
            return Err(UsageError::TooLarge);
        }
        // At most 8 + 4 digits: fits an i64 with room to spare.
        let whole: i64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| UsageError::NotANumber)?
        };
        let mut fraction: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| UsageError::NotANumber)?
        };
        for _ in frac.len()..4 {
            fraction *= 10;
        }
        let v = UsageValue(whole * SCALE + fraction);
        if v.0 <= 0 {
            return Err(UsageError::NotPositive);
        }
        Ok(v)
    }

    pub fn checked_add(self, other: UsageValue) -> Option<UsageValue> {
        self.0.checked_add(other.0).map(UsageValue)
    }
}

impl fmt::Display for UsageValue {
    /// Decimal text with exactly 4 decimals, e.g. `12.5000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:04}", a / SCALE as u64, a % SCALE as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        let p = |s| UsageValue::parse_record(s);
        assert_eq!(p("99"), Ok(UsageValue::units(99)));
        assert_eq!(p("12.5"), Ok(UsageValue(125_000)));
        assert_eq!(p("0.0001"), Ok(UsageValue(1)));
        assert_eq!(p(".5"), Ok(UsageValue(5_000)));
        assert_eq!(p("1.50000"), Ok(UsageValue(15_000)));
        assert_eq!(p("99999999.9999"), Ok(MAX_RECORD));
        assert_eq!(p("0"), Err(UsageError::NotPositive));
        assert_eq!(p("0.00000"), Err(UsageError::NotPositive));
        assert_eq!(p("-1"), Err(UsageError::NotPositive));
        assert_eq!(p("1.00001"), Err(UsageError::TooPrecise));
        assert_eq!(p("100000000"), Err(UsageError::TooLarge));
        for bad in ["", ".", "1e3", "1,5", "abc", "1.2.3", "+1", " 1 2"] {
            assert_eq!(p(bad), Err(UsageError::NotANumber), "{bad:?}");
        }
    }

    #[test]
    fn displays_four_decimals() {
        assert_eq!(UsageValue(125_000).to_string(), "12.5000");
        assert_eq!(UsageValue(1).to_string(), "0.0001");
        assert_eq!(UsageValue(-5).to_string(), "-0.0005");
    }
}
