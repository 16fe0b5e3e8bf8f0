//! Shared request-authentication error and small HMAC helpers.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Why a signed marketplace request (V1 authToken, V2 signature, Kit, usage push) was rejected.
///
/// Sellers should answer every variant with result code `000001` (authentication failed); the
/// variants exist for logs and tests. No variant carries a secret or an expected signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// A parameter or header that carries a credential is absent or empty.
    #[error("missing {0}")]
    MissingCredential(&'static str),
    /// A timestamp credential is not in the expected format.
    #[error("invalid {name}: {value:?}")]
    InvalidTimestamp {
        /// Parameter or header name.
        name: &'static str,
        /// The offending value (truncated).
        value: String,
    },
    /// The timestamp is outside the accepted window.
    #[error("timestamp is {skew_ms} ms away from now; the window is ±{window_ms} ms")]
    StaleTimestamp {
        /// `timestamp - now` in milliseconds.
        skew_ms: i64,
        /// The accepted distance.
        window_ms: i64,
    },
    /// The nonce was already used inside the window.
    #[error("nonce already used")]
    ReplayedNonce,
    /// The signed body could not be interpreted (Kit v1 signs JSON fields).
    #[error("unreadable signed body: {0}")]
    InvalidBody(String),
    /// The signature does not match.
    #[error("signature mismatch")]
    SignatureMismatch,
}

pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality (the length itself is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Checks `|timestamp - now| <= window`.
pub(crate) fn check_window(
    timestamp_ms: i64,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), AuthError> {
    let skew_ms = timestamp_ms.saturating_sub(now_ms);
    if skew_ms.checked_abs().is_none_or(|d| d > window_ms) {
        return Err(AuthError::StaleTimestamp { skew_ms, window_ms });
    }
    Ok(())
}

pub(crate) fn millis(window: std::time::Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}
