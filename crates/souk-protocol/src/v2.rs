//! V2 request signature (spec §4.1), the Kit-v2 header variant (§4.3), a nonce replay cache
//! and the canonical V2 body serialisation (§17).
//!
//! ```text
//! inner     = lowercase hex(HMAC-SHA256(Key, raw body))
//! signature = UPPERCASE hex(HMAC-SHA256(Key, Key ‖ nonce ‖ timestamp ‖ inner))
//! ```
//! carried as query parameters `signature`, `timestamp` (Unix ms), `nonce` — or, for the
//! joint-operation Kit v2, as headers `x-sign`, `x-timestamp`, `x-nonce`.
//!
//! Interpretation choices (\[I\] in the spec; no public seller implementation exists):
//! - both HMACs are keyed with the Key (the 2024-12 doc page writes it explicitly);
//! - the inner digest is lowercase hex, the emitted signature uppercase; verification
//!   compares case-insensitively;
//! - the timestamp is signed as the exact decimal text received; for the window check a value
//!   of at most 11 digits is read as *seconds* (one doc version says seconds), otherwise ms;
//! - bodies we send are compact JSON, keys sorted, scalars as strings ([`canonical_body`]), so
//!   sellers that verify raw bytes and sellers that re-serialise agree.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::auth::{check_window, ct_eq, hmac_sha256, millis, AuthError};
use crate::query::Params;
use crate::secret::SellerKey;

/// The documented default acceptance window (±60 s).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Query parameter names of the V2 production interface.
pub const PARAM_SIGNATURE: &str = "signature";
/// See [`PARAM_SIGNATURE`].
pub const PARAM_TIMESTAMP: &str = "timestamp";
/// See [`PARAM_SIGNATURE`].
pub const PARAM_NONCE: &str = "nonce";
/// Header names of the Kit v2 interfaces (HTTP header names are case-insensitive).
pub const HEADER_SIGN: &str = "x-sign";
/// See [`HEADER_SIGN`].
pub const HEADER_TIMESTAMP: &str = "x-timestamp";
/// See [`HEADER_SIGN`].
pub const HEADER_NONCE: &str = "x-nonce";

/// `lowercase hex(HMAC-SHA256(Key, body))`.
pub fn inner_digest(key: &SellerKey, body: &[u8]) -> String {
    hex::encode(hmac_sha256(key.as_bytes(), body))
}

fn sign_text(key: &SellerKey, body: &[u8], nonce: &str, timestamp: &str) -> String {
    let canonical = format!(
        "{}{nonce}{timestamp}{}",
        key.expose(),
        inner_digest(key, body)
    );
    hex::encode_upper(hmac_sha256(key.as_bytes(), canonical.as_bytes()))
}

/// The V2 signature (64 uppercase hex characters).
pub fn sign_v2(key: &SellerKey, body: &[u8], nonce: &str, timestamp_ms: i64) -> String {
    sign_text(key, body, nonce, &timestamp_ms.to_string())
}

/// Verifies a V2 signature: timestamp within `window` of `now_ms`, then the signature
/// (constant time, case-insensitive hex). Does not consult a nonce cache; see
/// [`V2Credentials::verify`] for that.
pub fn verify_v2(
    key: &SellerKey,
    body: &[u8],
    signature: &str,
    nonce: &str,
    timestamp_ms: i64,
    now_ms: i64,
    window: Duration,
) -> Result<(), AuthError> {
    check_window(timestamp_ms, now_ms, millis(window))?;
    check_signature(key, body, signature, nonce, &timestamp_ms.to_string())
}

fn check_signature(
    key: &SellerKey,
    body: &[u8],
    signature: &str,
    nonce: &str,
    timestamp: &str,
) -> Result<(), AuthError> {
    let expected = sign_text(key, body, nonce, timestamp);
    let presented = signature.trim().to_ascii_uppercase();
    if ct_eq(expected.as_bytes(), presented.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

/// Reads a wire timestamp: ≤ 11 digits are seconds, more are milliseconds.
fn timestamp_millis(name: &'static str, raw: &str) -> Result<i64, AuthError> {
    let invalid = || AuthError::InvalidTimestamp {
        name,
        value: crate::lenient::excerpt(raw),
    };
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let n: i64 = raw.parse().map_err(|_| invalid())?;
    Ok(if raw.len() <= 11 {
        n.saturating_mul(1000)
    } else {
        n
    })
}

/// The three V2 credentials as received (query parameters or Kit headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Credentials {
    /// Hex signature.
    pub signature: String,
    /// The timestamp text exactly as received (it is signed as text).
    pub timestamp: String,
    /// The nonce.
    pub nonce: String,
}

impl V2Credentials {
    /// Signs `body` for sending.
    pub fn sign(key: &SellerKey, body: &[u8], nonce: &str, timestamp_ms: i64) -> Self {
        V2Credentials {
            signature: sign_v2(key, body, nonce, timestamp_ms),
            timestamp: timestamp_ms.to_string(),
            nonce: nonce.to_owned(),
        }
    }

    /// Extracts `signature`, `timestamp`, `nonce` from decoded query parameters.
    pub fn from_params(params: &Params) -> Result<Self, AuthError> {
        Self::from_lookup(
            |name| params.get(name).cloned(),
            [PARAM_SIGNATURE, PARAM_TIMESTAMP, PARAM_NONCE],
        )
    }

    /// Extracts `x-sign`, `x-timestamp`, `x-nonce` via a header lookup. The lookup should be
    /// case-insensitive, as HTTP header lookups normally are.
    pub fn from_kit_headers(header: impl Fn(&str) -> Option<String>) -> Result<Self, AuthError> {
        Self::from_lookup(header, [HEADER_SIGN, HEADER_TIMESTAMP, HEADER_NONCE])
    }

    fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        [sig, ts, nonce]: [&'static str; 3],
    ) -> Result<Self, AuthError> {
        let take = |name: &'static str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or(AuthError::MissingCredential(name))
        };
        Ok(V2Credentials {
            signature: take(sig)?,
            timestamp: take(ts)?,
            nonce: take(nonce)?,
        })
    }

    /// The query-string pairs, in the order the docs show them.
    pub fn query_pairs(&self) -> [(&'static str, &str); 3] {
        [
            (PARAM_SIGNATURE, &self.signature),
            (PARAM_TIMESTAMP, &self.timestamp),
            (PARAM_NONCE, &self.nonce),
        ]
    }

    /// The Kit v2 header pairs.
    pub fn kit_headers(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_SIGN, &self.signature),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_NONCE, &self.nonce),
        ]
    }

    /// Full check: timestamp window, signature over the raw `body`, and — only once the
    /// signature is valid, so unauthenticated traffic cannot fill it — the nonce cache.
    pub fn verify(
        &self,
        key: &SellerKey,
        body: &[u8],
        now_ms: i64,
        window: Duration,
        nonces: Option<&NonceCache>,
    ) -> Result<(), AuthError> {
        let ts = timestamp_millis(PARAM_TIMESTAMP, &self.timestamp)?;
        check_window(ts, now_ms, millis(window))?;
        check_signature(key, body, &self.signature, &self.nonce, &self.timestamp)?;
        if let Some(cache) = nonces {
            cache.check_and_insert(&self.nonce, ts, now_ms)?;
        }
        Ok(())
    }
}

/// A bounded memory of recently seen nonces.
///
/// A nonce is remembered until `max(timestamp, now) + window`, by which time the window check
/// alone rejects a replay. (Using the later of the two also covers a timestamp given in
/// seconds, or an insert that skipped the window check.) When `capacity` is reached
/// the entry closest to expiry is evicted — insertion happens only after signature
/// verification, so only the marketplace itself could fill the cache. Pure: `now` is passed in.
#[derive(Debug)]
pub struct NonceCache {
    window_ms: i64,
    capacity: usize,
    inner: Mutex<NonceInner>,
}

#[derive(Debug, Default)]
struct NonceInner {
    expiry_by_nonce: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl NonceCache {
    /// A cache for `window` (use the same window as the timestamp check) holding at most
    /// `capacity` nonces (at least 1).
    pub fn new(window: Duration, capacity: usize) -> Self {
        NonceCache {
            window_ms: millis(window),
            capacity: capacity.max(1),
            inner: Mutex::new(NonceInner::default()),
        }
    }

    /// Records `nonce`; fails with [`AuthError::ReplayedNonce`] if it is still remembered.
    pub fn check_and_insert(
        &self,
        nonce: &str,
        timestamp_ms: i64,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        // A poisoned lock only means another thread panicked mid-update; the maps are still
        // structurally valid, so keep going rather than failing every request.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.purge(now_ms);
        if inner.expiry_by_nonce.contains_key(nonce) {
            return Err(AuthError::ReplayedNonce);
        }
        while inner.expiry_by_nonce.len() >= self.capacity {
            let Some(oldest) = inner.by_expiry.pop_first() else {
                break;
            };
            inner.expiry_by_nonce.remove(&oldest.1);
        }
        let expiry = timestamp_ms.max(now_ms).saturating_add(self.window_ms);
        inner.expiry_by_nonce.insert(nonce.to_owned(), expiry);
        inner.by_expiry.insert((expiry, nonce.to_owned()));
        Ok(())
    }

    /// Number of remembered nonces (expired ones may linger until the next insert).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expiry_by_nonce
            .len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NonceInner {
    fn purge(&mut self, now_ms: i64) {
        while let Some((expiry, _)) = self.by_expiry.first() {
            if *expiry > now_ms {
                break;
            }
            if let Some((_, nonce)) = self.by_expiry.pop_first() {
                self.expiry_by_nonce.remove(&nonce);
            }
        }
    }
}

/// Serialises a JSON value the way V2 bodies are sent: compact, object keys sorted
/// lexicographically (recursively), every scalar as a string (`1` → `"1"`, `true` →
/// `"true"`), `null` members omitted (absent optional fields).
pub fn canonical_body(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_json(&mut out, value, true);
    out.into_bytes()
}

/// Compact JSON with object keys sorted recursively, scalar types kept. Used as the fallback
/// canonical form of usage-push bodies (spec §9.5).
pub fn sorted_compact_json(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_json(&mut out, value, false);
    out.into_bytes()
}

fn write_json(out: &mut String, value: &Value, stringify: bool) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(_, v)| !(stringify && v.is_null()))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_json(out, v, stringify);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, v, stringify);
            }
            out.push(']');
        }
        Value::String(s) => write_str(out, s),
        Value::Null => out.push_str("null"),
        scalar if stringify => write_str(out, &scalar.to_string()),
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn write_str(out: &mut String, s: &str) {
    // serde_json's string escaping is the standard one (", \, control characters).
    out.push_str(&Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
    const NONCE: &str = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
    const TS: i64 = 1_680_508_066_618;
    const SIG: &str = "67F83ADD41A15F30E50764FB6C07A7BAAD3D4DC44FAFA7CB83A5671622F0D84E";

    fn key() -> SellerKey {
        SellerKey::new("test-key-0123")
    }

    /// Spec §10.4 (inner and outer).
    #[test]
    fn vector_10_4_v2_signature() {
        assert_eq!(
            inner_digest(&key(), BODY),
            "4e719cb45b37ad758db21b85cb475c1db8af10543ea35fe4c3e4d171ad0258f4"
        );
        assert_eq!(sign_v2(&key(), BODY, NONCE, TS), SIG);
        assert_eq!(
            verify_v2(&key(), BODY, SIG, NONCE, TS, TS, DEFAULT_WINDOW),
            Ok(())
        );
        // Lowercase hex is accepted too.
        assert_eq!(
            verify_v2(
                &key(),
                BODY,
                &SIG.to_lowercase(),
                NONCE,
                TS,
                TS + 59_000,
                DEFAULT_WINDOW
            ),
            Ok(())
        );
    }

    #[test]
    fn the_canonical_body_reproduces_the_vector_bytes() {
        let value: Value = serde_json::from_str(
            r#"{"testFlag":1,"orderLineId":"CS2211181819B4LVS-000001","orderId":"CS2211181819B4LVS",
                "businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","activity":"newInstance","x":null}"#,
        )
        .unwrap();
        assert_eq!(canonical_body(&value), BODY);
        let nested: Value =
            serde_json::from_str(r#"{"b":[{"d":true,"c":1.5}],"a":"é\""}"#).unwrap();
        assert_eq!(
            String::from_utf8(canonical_body(&nested)).unwrap(),
            r#"{"a":"é\"","b":[{"c":"1.5","d":"true"}]}"#
        );
        assert_eq!(
            String::from_utf8(sorted_compact_json(&nested)).unwrap(),
            r#"{"a":"é\"","b":[{"c":1.5,"d":true}]}"#
        );
    }

    #[test]
    fn window_is_enforced() {
        assert!(matches!(
            verify_v2(&key(), BODY, SIG, NONCE, TS, TS + 60_001, DEFAULT_WINDOW),
            Err(AuthError::StaleTimestamp { .. })
        ));
        assert!(matches!(
            verify_v2(&key(), BODY, SIG, NONCE, TS, TS - 60_001, DEFAULT_WINDOW),
            Err(AuthError::StaleTimestamp { .. })
        ));
        assert!(verify_v2(&key(), BODY, SIG, NONCE, i64::MIN, i64::MAX, DEFAULT_WINDOW).is_err());
    }

    #[test]
    fn credentials_from_query_and_kit_headers() {
        let creds = V2Credentials::sign(&key(), BODY, NONCE, TS);
        let params: Params = creds
            .query_pairs()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let parsed = V2Credentials::from_params(&params).unwrap();
        assert_eq!(parsed, creds);
        assert_eq!(
            parsed.verify(&key(), BODY, TS, DEFAULT_WINDOW, None),
            Ok(())
        );

        let headers = creds.kit_headers();
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        };
        let kit = V2Credentials::from_kit_headers(lookup).unwrap();
        assert_eq!(kit.verify(&key(), BODY, TS, DEFAULT_WINDOW, None), Ok(()));

        assert_eq!(
            V2Credentials::from_params(&Params::new()),
            Err(AuthError::MissingCredential(PARAM_SIGNATURE))
        );
        let bad_ts = V2Credentials {
            timestamp: "12a".into(),
            ..creds
        };
        assert!(matches!(
            bad_ts.verify(&key(), BODY, TS, DEFAULT_WINDOW, None),
            Err(AuthError::InvalidTimestamp { .. })
        ));
    }

    #[test]
    fn second_resolution_timestamps_are_windowed_as_seconds() {
        let ts_s = TS / 1000;
        let creds = V2Credentials {
            signature: sign_text(&key(), BODY, NONCE, &ts_s.to_string()),
            timestamp: ts_s.to_string(),
            nonce: NONCE.into(),
        };
        assert_eq!(creds.verify(&key(), BODY, TS, DEFAULT_WINDOW, None), Ok(()));
    }

    #[test]
    fn nonce_cache_rejects_replays_until_expiry() {
        let cache = NonceCache::new(DEFAULT_WINDOW, 10);
        let creds = V2Credentials::sign(&key(), BODY, NONCE, TS);
        assert_eq!(
            creds.verify(&key(), BODY, TS, DEFAULT_WINDOW, Some(&cache)),
            Ok(())
        );
        assert_eq!(
            creds.verify(&key(), BODY, TS + 1000, DEFAULT_WINDOW, Some(&cache)),
            Err(AuthError::ReplayedNonce)
        );
        // A forged request with the same nonce does not touch the cache.
        let forged = V2Credentials {
            nonce: "fresh".into(),
            ..creds.clone()
        };
        assert_eq!(
            forged.verify(&key(), BODY, TS, DEFAULT_WINDOW, Some(&cache)),
            Err(AuthError::SignatureMismatch)
        );
        assert_eq!(cache.len(), 1);
        // After the window the entry is purged, and the window check rejects the replay.
        assert_eq!(cache.check_and_insert("other", TS, TS + 60_001), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn nonce_cache_is_bounded() {
        let cache = NonceCache::new(DEFAULT_WINDOW, 3);
        for i in 0..10 {
            cache
                .check_and_insert(&format!("n{i}"), TS + i, TS)
                .unwrap();
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(
            cache.check_and_insert("n9", TS, TS),
            Err(AuthError::ReplayedNonce)
        );
    }
}
