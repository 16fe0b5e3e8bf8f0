//! Conversion between typed fields and V1 query parameters.

use thiserror::Error;

/// A value that travels as one query parameter.
pub trait ParamValue: Sized {
    /// Parses the decoded parameter text; the error is a short reason (no value echo needed).
    fn from_param(raw: &str) -> Result<Self, String>;
    /// The parameter text.
    fn to_param(&self) -> String;
}

/// Why parameters could not be read as an activity.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// A mandatory parameter is absent or empty.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter has a value of the wrong shape.
    #[error("invalid parameter {name}={value:?}: {reason}")]
    Invalid {
        /// Parameter name.
        name: &'static str,
        /// The value (truncated).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// The `activity` parameter names an activity this crate does not know.
    #[error("unknown activity {0:?}")]
    UnknownActivity(String),
    /// The `activity` parameter names a different activity than the one being parsed.
    #[error("activity is {found:?}, expected {expected:?}")]
    WrongActivity {
        /// The activity being parsed.
        expected: &'static str,
        /// The activity received.
        found: String,
    },
}

impl ParamValue for String {
    fn from_param(raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }
    fn to_param(&self) -> String {
        self.clone()
    }
}

impl ParamValue for u64 {
    fn from_param(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err("expected a non-negative integer".into());
        }
        raw.parse().map_err(|_| "integer out of range".into())
    }
    fn to_param(&self) -> String {
        self.to_string()
    }
}
