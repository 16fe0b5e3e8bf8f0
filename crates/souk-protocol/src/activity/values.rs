//! Enumerated parameter values and small value types shared by the activities.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::activity::ParamValue;
use crate::wire_enum::wire_enum;

wire_enum! {
    /// `testFlag`: a debugging-tool / probe call versus a real one. Real calls usually omit it.
    pub enum TestFlag {
        Debug = "1" => "debugging request (seller's test cases, marketplace probes)",
        Production = "0" => "real request",
    }
}

impl TestFlag {
    /// Whether the flag marks a debugging call.
    pub fn is_debug(&self) -> bool {
        *self == TestFlag::Debug
    }
}

wire_enum! {
    /// V1 `instanceStatus` values (on-demand arrears freeze / unfreeze, spec §3.6).
    pub enum InstanceState {
        Freeze = "FREEZE" => "freeze the instance (arrears)",
        Normal = "NORMAL" => "back to normal (arrears settled)",
    }
}

wire_enum! {
    /// V2 `status` of updateInstanceStatus and updateLicenseCodeStatus.
    pub enum FreezeStatus {
        Freeze = "FREEZE" => "freeze",
        Unfreeze = "UNFREEZE" => "unfreeze",
    }
}

wire_enum! {
    /// V2 `scene` of refreshInstance / refreshLicenseCode.
    pub enum RefreshScene {
        TrialToFormal = "TRIAL_TO_FORMAL" => "trial converted to a paid subscription",
        Renewal = "RENEWAL" => "renewal",
        UnsubscribeRenewalPeriod = "UNSUBSCRIBE_RENEWAL_PERIOD" => "renewal period refunded (expiry moves back)",
        RenewalChange = "RENEWAL_CHANGE" => "renewal with a changed period",
    }
}

wire_enum! {
    /// `periodType` (period products only). Other values (e.g. for trials) are \[U\].
    pub enum PeriodType {
        Year = "year" => "yearly period",
        Month = "month" => "monthly period",
    }
}

wire_enum! {
    /// V1 `chargingMode`. Values besides 1 and 3 are \[U\] and kept as `Other`.
    pub enum ChargingMode {
        Period = "1" => "period (包周期)",
        // [U] in the spec (§3.1); Souk default: 2, between period and one-time as in the
        // platform's other interfaces. See docs/metering.md.
        OnDemand = "2" => "on-demand (按需)",
        OneTime = "3" => "one-time (按次)",
    }
}

/// A decimal amount kept as its exact text (`orderAmount`: ≥ 0, ≤ 3 decimals, negative for a
/// renewal refund). Text, not a float, so no value is ever rounded on the way through.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// Accepts `-?digits(.digits)?`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let unsigned = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match unsigned.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (unsigned, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if digits(int) && frac.is_none_or(digits) {
            Ok(Decimal(s.to_owned()))
        } else {
            Err("expected a decimal number".into())
        }
    }

    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the amount is negative (a refund).
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-') && self.0.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.0)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ParamValue for Decimal {
    fn from_param(raw: &str) -> Result<Self, String> {
        Decimal::parse(raw)
    }
    fn to_param(&self) -> String {
        self.0.clone()
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = crate::lenient::string_from_scalar(d)?;
        Decimal::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for ok in ["0", "12.345", "-0.5", "100"] {
            assert_eq!(Decimal::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "-", "1.", ".5", "1e3", "1,5", " 1"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
        assert!(Decimal::parse("-0.5").unwrap().is_negative());
        assert!(!Decimal::parse("-0.000").unwrap().is_negative());
    }

    #[test]
    fn enums_keep_unknown_values() {
        assert_eq!(PeriodType::parse("day"), PeriodType::Other("day".into()));
        assert_eq!(RefreshScene::parse("RENEWAL"), RefreshScene::Renewal);
        assert!(TestFlag::parse("1").is_debug());
    }
}
