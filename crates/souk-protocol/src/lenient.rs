//! Lenient serde helpers for bodies produced by many independent implementations.
//!
//! The docs say "String" for nearly every field, but Kit examples carry `"flag": 1` and some
//! sellers emit numbers where strings are documented. Accepting a JSON scalar and keeping its
//! text loses nothing and avoids rejecting otherwise valid traffic.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

struct ScalarText;

impl Visitor<'_> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Deserialises a string, number or boolean as its text.
pub(crate) fn string_from_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(ScalarText)
}

/// `deserialize_with` adapter for `String` fields.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string_from_scalar(d)
}

/// `deserialize_with` adapter for `Option<String>` fields (`null` → `None`).
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct OptText;
    impl<'de> Visitor<'de> for OptText {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("null or a scalar")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            string_from_scalar(d).map(Some)
        }
    }
    d.deserialize_option(OptText)
}

/// `deserialize_with` adapter for integer fields that may arrive as numeric strings.
pub(crate) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = string_from_scalar(d)?;
    text.trim()
        .parse::<i64>()
        .map_err(|_| de::Error::custom(format_args!("expected an integer, got {text:?}")))
}

/// Truncates untrusted text for inclusion in an error message (char-boundary safe).
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `deserialize_with` adapter for optional integer fields (`null` → `None`).
pub(crate) fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    opt_string(d)?
        .map(|text| {
            text.trim()
                .parse::<i64>()
                .map_err(|_| de::Error::custom(format_args!("expected an integer, got {text:?}")))
        })
        .transpose()
}
