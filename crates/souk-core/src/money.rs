//! Money: integer minor units plus an ISO 4217 currency. Never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A three-letter upper-case ISO 4217 code, e.g. `CNY`, `USD`, `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Documented as what it is: one of the ISO 4217 codes in circulation, the same list
/// `Currency::from_str` accepts.
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An ISO 4217 currency in circulation, e.g. CNY."))
            .enum_values(Some(ISO_4217.split_ascii_whitespace()))
            .examples(["CNY"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn as_str(&self) -> &str {
        // The bytes are checked to be ASCII upper-case letters on construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Number of minor-unit digits (ISO 4217): 2 for most, 0 for JPY, KRW…, 3 for BHD, KWD….
    /// The figure a person types for `minor` units (`9990` → `"99.90"`): what
    /// [`Currency::parse_major`] reads back.
    pub fn format_major(&self, minor: i64) -> String {
        let shown = Money::new(minor, *self).to_string();
        shown
            .split_once(' ')
            .map_or(shown.clone(), |(figure, _)| figure.to_owned())
    }

    /// Minor units from a decimal amount written by a person in this currency's major units
    /// (`"99"`, `"99.9"`, `"99.90"` yuan → 9990); `None` for anything else (signs, more decimals
    /// than the currency has, amounts beyond 10^15 minor units).
    pub fn parse_major(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let exp = self.exponent() as usize;
        if whole.is_empty()
            || whole.len() > 13
            || frac.len() > exp
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac_minor: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<exp$}").parse().ok()?
        };
        whole
            .checked_mul(10_i64.checked_pow(exp as u32)?)?
            .checked_add(frac_minor)
    }

    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            _ => 2,
        }
    }
}

/// The currencies in circulation (ISO 4217, 2025). Codes for testing (XTS), "no currency"
/// (XXX), precious metals (XAU…) and funds are not money a marketplace can take.
const ISO_4217: &str =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
    BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB \
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD \
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP \
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON \
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP \
    TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a currency in circulation: use an ISO 4217 code such as CNY or USD")]
    BadCurrency(String),
    #[error("cannot combine {0} and {1}: amounts must be in the same currency")]
    CurrencyMismatch(Currency, Currency),
    #[error("the amount is larger than Souk accepts ({MAX_AMOUNT_MINOR} minor units)")]
    Overflow,
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let known = ISO_4217.split_ascii_whitespace().any(|code| code == s);
        if b.len() == 3 && known {
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(MoneyError::BadCurrency(s.to_owned()))
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest amount Souk accepts or computes in one figure: 10^15 minor units (ten trillion
/// yuan). Bounding every amount that comes in, every order total and every balance keeps all
/// the sums Souk makes (balance + credit, ledger totals, settlement lines) far from `i64`
/// overflow, so arithmetic cannot fail half-way through a change.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// An amount of money. `amount_minor` is in the currency's minor unit (fen, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(n)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// `self × numerator / denominator`, rounded half away from zero; used for pro-rating.
    pub fn prorate(self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let p = self.amount_minor as i128 * numerator as i128;
        let d = denominator as i128;
        let q = (2 * p + d.signum() * p.signum() * d.abs()) / (2 * d);
        i64::try_from(q)
            .map(|a| Money::new(a, self.currency))
            .map_err(|_| MoneyError::Overflow)
    }

    /// `Err(Overflow)` when the amount is past [`MAX_AMOUNT_MINOR`] either way.
    pub fn bounded(self) -> Result<Money, MoneyError> {
        if self.amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR as u64 {
            return Err(MoneyError::Overflow);
        }
        Ok(self)
    }

    pub fn is_negative(&self) -> bool {
        self.amount_minor < 0
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    /// `12.34 CNY`: the major-unit decimal form, for people (never parsed back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        if exp == 0 {
            return write!(f, "{} {}", self.amount_minor, self.currency);
        }
        let scale = 10i64.pow(exp);
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale as u64,
            abs % scale as u64,
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_amounts_written_by_people_parse_exactly() {
        let c = Currency::CNY;
        assert_eq!(c.parse_major("99"), Some(9900));
        assert_eq!(c.parse_major(" 99.9 "), Some(9990));
        assert_eq!(c.parse_major("0.05"), Some(5));
        assert_eq!(c.parse_major("1.005"), None);
        assert_eq!(c.parse_major("-1"), None);
        assert_eq!(c.parse_major("1e3"), None);
        assert_eq!(c.parse_major(""), None);
        assert_eq!(c.format_major(9990), "99.90");
        assert_eq!(c.parse_major(&c.format_major(123_456)), Some(123_456));
    }

    #[test]
    fn currency_parses_only_iso_shape() {
        assert_eq!("CNY".parse::<Currency>().unwrap(), Currency::CNY);
        assert!("cny".parse::<Currency>().is_err());
        assert!("CN".parse::<Currency>().is_err());
        assert!("YUAN".parse::<Currency>().is_err());
        for not_money in ["XXX", "XTS", "XAU", "ABC", "QQQ"] {
            assert!(not_money.parse::<Currency>().is_err(), "{not_money}");
        }
        assert_eq!("KWD".parse::<Currency>().unwrap().exponent(), 3);
        assert_eq!("JPY".parse::<Currency>().unwrap().exponent(), 0);
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let a = Money::new(100, Currency::CNY);
        let b = Money::new(1, Currency::USD);
        assert!(matches!(
            a.checked_add(b),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
        assert_eq!(
            Money::new(i64::MAX, Currency::CNY).checked_add(Money::new(1, Currency::CNY)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            a.checked_sub(Money::new(150, Currency::CNY))
                .unwrap()
                .amount_minor,
            -50
        );
    }

    #[test]
    fn prorate_rounds_half_away_from_zero() {
        let m = Money::new(1000, Currency::CNY);
        assert_eq!(m.prorate(1, 3).unwrap().amount_minor, 333);
        assert_eq!(m.prorate(2, 3).unwrap().amount_minor, 667);
        assert_eq!(
            Money::new(-1000, Currency::CNY)
                .prorate(2, 3)
                .unwrap()
                .amount_minor,
            -667
        );
        assert!(m.prorate(1, 0).is_err());
    }

    #[test]
    fn displays_major_units() {
        assert_eq!(Money::new(1234, Currency::CNY).to_string(), "12.34 CNY");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "-0.05 USD");
        assert_eq!(
            Money::new(500, "JPY".parse().unwrap()).to_string(),
            "500 JPY"
        );
    }

    #[test]
    fn serde_uses_the_code_and_refuses_bad_ones() {
        let json = serde_json::to_string(&Money::new(990, Currency::CNY)).unwrap();
        assert_eq!(json, r#"{"amount_minor":990,"currency":"CNY"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1,"currency":"yuan"}"#).is_err());
    }
}
