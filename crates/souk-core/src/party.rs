//! Parties: who acts in the marketplace, and with which role.
//!
//! Every request is made by one party with one role. A seller's and a buyer's own party id is
//! their tenant: everything they own carries it, and every query they cause is scoped by it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The four roles of PRODUCT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The platform: approves, reviews, decides appeals, sees everything.
    Operator,
    /// An ISV: publishes products and runs a production endpoint.
    Seller,
    /// A customer.
    Buyer,
    /// A customer service provider (客户服务商) selling on a seller's behalf.
    Reseller,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Operator, Role::Seller, Role::Buyer, Role::Reseller];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Seller => "seller",
            Role::Buyer => "buyer",
            Role::Reseller => "reseller",
        }
    }

    /// Prefix of this role's party ids.
    pub fn id_prefix(&self) -> &'static str {
        match self {
            Role::Operator => "op",
            Role::Seller => "sel",
            Role::Buyer => "buy",
            Role::Reseller => "rsl",
        }
    }

    /// Prefix of this role's API keys: a key says whose it is before any lookup.
    pub fn key_prefix(&self) -> &'static str {
        match self {
            Role::Operator => "sk_op_",
            Role::Seller => "sk_sel_",
            Role::Buyer => "sk_buy_",
            Role::Reseller => "sk_rsl_",
        }
    }

    /// The role whose party ids start with this id's prefix.
    pub fn of_party_id(id: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| crate::id::has_valid_shape(id, r.id_prefix()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role `{s}`: expected operator, seller, buyer or reseller")
            })
    }
}

/// Whether a party may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyStatus {
    Active,
    /// Suspended parties keep their data but every key stops working.
    Suspended,
}

impl PartyStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PartyStatus::Active => "active",
            PartyStatus::Suspended => "suspended",
        }
    }
}

impl FromStr for PartyStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(PartyStatus::Active),
            "suspended" => Ok(PartyStatus::Suspended),
            other => Err(format!("unknown party status `{other}`")),
        }
    }
}

/// A validated display name: 1–200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyName(String);

impl PartyName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("name must not be empty".into());
        }
        if t.chars().count() > 200 {
            return Err("name must be at most 200 characters".into());
        }
        if t.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        if let Some(problem) = crate::text::display_problem(t) {
            return Err(format!("name {problem}"));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A mobile phone number: digits with an optional leading `+`, spaces and dashes dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = t.strip_prefix('+').unwrap_or(&t);
        if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(t))
        } else {
            Err(format!(
                "`{}` is not a phone number: use digits, optionally starting with + (e.g. +8613800000000)",
                s.trim()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A syntactically plausible e-mail address (the only real check is sending mail to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let ok = t.len() <= 254
            && !t.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(t.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                    && !domain.ends_with('.') && !domain.contains('@'));
        if ok {
            Ok(Self(t.to_owned()))
        } else {
            Err(format!("`{t}` is not an e-mail address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trips_and_prefixes_are_distinct() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            for o in Role::ALL {
                if o != r {
                    assert!(!r.key_prefix().starts_with(o.key_prefix()));
                }
            }
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn party_id_tells_its_role() {
        let id = crate::id::generate("sel", time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(Role::of_party_id(&id), Some(Role::Seller));
        assert_eq!(Role::of_party_id("key_x"), None);
    }

    #[test]
    fn names_and_emails_are_checked() {
        assert!(PartyName::parse("  Acme Cloud  ").is_ok());
        assert!(PartyName::parse("   ").is_err());
        assert!(PartyName::parse(&"x".repeat(201)).is_err());
        assert!(PartyName::parse("a\u{0}b").is_err());
        assert!(Email::parse("ops@acme.example").is_ok());
        assert!(Email::parse("ops@acme").is_err());
        assert!(Email::parse("@acme.example").is_err());
        assert!(Email::parse("a b@acme.example").is_err());
    }
}

/// A party's id: `op_…`, `sel_…`, `buy_…` or `rsl_…`; the prefix tells the role.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String, example = "sel_01jd3k9m8q4x7v2c5b6n0p1r2s")]
pub struct PartyId(String);

impl PartyId {
    pub fn generate(role: Role, now: time::OffsetDateTime) -> Self {
        Self(crate::id::generate(role.id_prefix(), now))
    }

    /// Accepts a well-formed id of any role.
    pub fn parse(s: &str) -> Option<Self> {
        Role::of_party_id(s).map(|_| Self(s.to_owned()))
    }

    /// Accepts a well-formed id of one role only.
    pub fn parse_as(s: &str, role: Role) -> Option<Self> {
        crate::id::has_valid_shape(s, role.id_prefix()).then(|| Self(s.to_owned()))
    }

    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn role(&self) -> Option<Role> {
        Role::of_party_id(&self.0)
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
