//! Usage-record (话单) push, new flavour (spec §9.5): the seller → marketplace signature and
//! the body types.
//!
//! ```text
//! headers:   signature, ts (Unix ms), nonce (≤ 64 chars)
//! signature = Base64(HMAC-SHA256(Key, "ts={ts}&nonce={nonce}&body={body}"))
//! ```
//! The docs say the body is "sorted naturally" but not how exactly (\[U\]). Senders here sign
//! the exact bytes they send and send keys sorted ([`UsagePush::to_body`]); the verifier first
//! checks the raw body, then falls back to the recursively key-sorted compact re-serialisation
//! (spec recommendation), so senders that sign a sorted form but send another still pass.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

use crate::auth::{check_window, ct_eq, hmac_sha256, millis, AuthError};
use crate::secret::SellerKey;
use crate::v2::sorted_compact_json;

/// Header carrying the signature.
pub const HEADER_SIGNATURE: &str = "signature";
/// Header carrying the Unix-millisecond timestamp.
pub const HEADER_TS: &str = "ts";
/// Header carrying the nonce.
pub const HEADER_NONCE: &str = "nonce";
/// Request path of the new push API.
pub const PATH: &str = "/api/mkp-openapi-public/global/v1/isv/usage-data";
/// Request path of the old push API (AK/SK-signed; records carry `product_id` instead of
/// `metering_sn`).
pub const PATH_OLD: &str = "/rest/marketplace/v1/isv/usage-data";
/// Request path of the oldest push API, camelCase fields (AK/SK-signed; [`CamelPush`]), as
/// an axum route: `{partnerId}` is the seller's partner id, which Souk does not check (the
/// signature says who pushes).
pub const PATH_CAMEL: &str = "/v1.0/{partnerId}/billing/bill-mgr/push-usage-data";
/// `error_code` of an answer that stored every valid record (abnormal ones are listed).
pub const CODE_OK: &str = "MKT.0000";
/// `error_code` of a body that is not a usage push (not JSON, no `usage_records` list).
pub const CODE_INVALID_BODY: &str = "MKT.0100";
/// `error_code` of a push with more than [`MAX_RECORDS`] records (nothing is stored).
pub const CODE_TOO_MANY: &str = "MKT.0101";
/// `error_code` of a push with no records.
pub const CODE_EMPTY: &str = "MKT.0102";
/// At most this many records per push.
pub const MAX_RECORDS: usize = 1000;

/// The usage-push signature over `body` as given.
pub fn usage_signature(key: &SellerKey, ts: &str, nonce: &str, body: &[u8]) -> String {
    let mut msg = format!("ts={ts}&nonce={nonce}&body=").into_bytes();
    msg.extend_from_slice(body);
    STANDARD.encode(hmac_sha256(key.as_bytes(), &msg))
}

/// Verifies a usage push: `ts` within `window` of `now_ms` (the docs give no window; \[U\]),
/// then the signature over the raw body or, failing that, over its sorted compact form.
pub fn verify_usage_signature(
    key: &SellerKey,
    body: &[u8],
    signature: &str,
    ts: &str,
    nonce: &str,
    now_ms: i64,
    window: Duration,
) -> Result<(), AuthError> {
    if signature.trim().is_empty() {
        return Err(AuthError::MissingCredential(HEADER_SIGNATURE));
    }
    let ts_ms: i64 = ts.trim().parse().map_err(|_| AuthError::InvalidTimestamp {
        name: HEADER_TS,
        value: crate::lenient::excerpt(ts),
    })?;
    check_window(ts_ms, now_ms, millis(window))?;
    // Headers are not form-decoded, but a proxy may still have turned `+` into a space.
    let presented = signature.trim().replace(' ', "+");
    let ts = ts.trim();
    let matches = |signed: &[u8]| {
        ct_eq(
            usage_signature(key, ts, nonce, signed).as_bytes(),
            presented.as_bytes(),
        )
    };
    // The sorted form only when the raw body does not verify: re-serialising a 1,000-record
    // body costs more than the rest of its signature check. Which form matched is no secret
    // (both are computed from what the sender sent), so the short circuit leaks nothing.
    let ok = matches(body)
        || serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| matches(&sorted_compact_json(&v)));
    if ok {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

/// One usage record (all times `yyyyMMdd'T'HHmmss'Z'` UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// On-demand instance id.
    pub instance_id: String,
    /// When the record was produced.
    pub record_time: String,
    /// Start of the metered interval.
    pub begin_time: String,
    /// End of the metered interval.
    pub end_time: String,
    /// Amount used, > 0, at most 4 decimals (decimal text; numbers accepted on input).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub usage_value: String,
    /// The seller's unique record id (the marketplace's deduplication key).
    pub metering_sn: String,
    /// The package instance to deduct from ("用完即停" packages).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub relate_pkg_instance: Option<String>,
}

/// The push body `{"usage_records":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePush {
    /// At most [`MAX_RECORDS`] records.
    pub usage_records: Vec<UsageRecord>,
}

impl UsagePush {
    /// Compact JSON with keys sorted (the form the docs ask sellers to sign).
    pub fn to_body(&self) -> Vec<u8> {
        // Serialising plain structs of strings into a Value cannot fail.
        let value = serde_json::to_value(self).expect("usage push serialises");
        sorted_compact_json(&value)
    }
}

/// One record as received, every field optional so that a bad record is reported in the
/// abnormal list instead of failing the batch. Numbers are accepted where text is documented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ReceivedRecord {
    /// The on-demand instance.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub instance_id: Option<String>,
    /// When the record was produced.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub record_time: Option<String>,
    /// Start of the metered interval.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub begin_time: Option<String>,
    /// End of the metered interval.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub end_time: Option<String>,
    /// Amount used.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub usage_value: Option<String>,
    /// The seller's record id.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub metering_sn: Option<String>,
    /// The package to deduct from.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub relate_pkg_instance: Option<String>,
    /// Old API: the product the usage belongs to (in place of `metering_sn`).
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub product_id: Option<String>,
}

/// A push body as received, `{"usage_records": [ … ]}`: one pass over the body that keeps each
/// record as its raw JSON text (borrowed, no `serde_json::Value` tree). Each record is then
/// parsed on its own ([`ReceivedRecord`]), so a malformed one is reported in the abnormal list
/// instead of failing the batch.
#[derive(Debug, Deserialize)]
pub struct ReceivedPush<'a> {
    /// The records, unparsed.
    #[serde(borrow)]
    pub usage_records: Vec<&'a RawValue>,
}

/// The oldest push body (`PATH_CAMEL`), camelCase: `{"usageRecords": [ … ]}`, each record a
/// [`CamelRecord`]. Kept as raw records like [`ReceivedPush`].
#[derive(Debug, Deserialize)]
pub struct ReceivedCamelPush<'a> {
    /// The records, unparsed.
    #[serde(borrow, rename = "usageRecords")]
    pub usage_records: Vec<&'a RawValue>,
}

/// A push to the oldest API, as sellers' code built it:
/// `{"usageRecords": [{"instanceId", "recordTime", "beginTime", "endTime",
/// "usageEntity": {"times": "3524"}}]}` — no `metering_sn` (deduplicated by window), the
/// usage under its billing unit's name in `usageEntity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CamelPush {
    /// At most [`MAX_RECORDS`] records.
    #[serde(rename = "usageRecords")]
    pub usage_records: Vec<CamelRecord>,
}

/// One record of the oldest push API (times `yyyyMMdd'T'HHmmss'Z'` UTC). Every field is
/// optional on input so that a bad record is reported alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CamelRecord {
    /// On-demand instance id.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub instance_id: Option<String>,
    /// When the record was produced.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub record_time: Option<String>,
    /// Start of the metered interval.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub begin_time: Option<String>,
    /// End of the metered interval.
    #[serde(default, deserialize_with = "crate::lenient::opt_string")]
    pub end_time: Option<String>,
    /// The usage by billing unit (`{"times": "3524"}`): an on-demand instance meters one
    /// billing item, so exactly one entry (Souk rule; the unit's name is not checked).
    #[serde(default)]
    pub usage_entity: BTreeMap<String, ScalarText>,
}

/// A JSON string, number or boolean, kept as its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScalarText(#[serde(deserialize_with = "crate::lenient::string")] pub String);

impl CamelRecord {
    /// The record in the current API's terms (no `metering_sn`), and what is wrong with its
    /// `usageEntity` if it does not hold exactly one value (its `usage_value` is then `None`).
    pub fn into_received(self) -> (ReceivedRecord, Option<&'static str>) {
        let mut entity = self.usage_entity.into_values();
        let (usage_value, problem) = match (entity.next(), entity.next()) {
            (Some(v), None) => (Some(v.0), None),
            (None, _) => (None, None),
            (Some(_), Some(_)) => (
                None,
                Some("usageEntity holds one billing unit, e.g. {\"times\": \"3524\"}"),
            ),
        };
        let record = ReceivedRecord {
            instance_id: self.instance_id,
            record_time: self.record_time,
            begin_time: self.begin_time,
            end_time: self.end_time,
            usage_value,
            ..ReceivedRecord::default()
        };
        (record, problem)
    }
}

/// A record that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbnormalRecord {
    /// Its position in `usage_records` (from 0).
    pub index: usize,
    /// The record's `metering_sn`, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering_sn: Option<String>,
    /// The record's `instance_id`, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Stable, snake_case.
    pub error_code: String,
    /// What to fix.
    pub error_msg: String,
}

/// The answer to a push. The docs give no body (\[U\]); Souk answers like its other open APIs
/// (`error_code`, `error_msg`) and adds the counts and the abnormal-record list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePushAnswer {
    /// [`CODE_OK`] or why the whole push was refused.
    pub error_code: String,
    /// In words.
    pub error_msg: String,
    /// Records stored now.
    #[serde(default)]
    pub accepted: usize,
    /// Valid records already stored by an earlier push (same `metering_sn` or same window):
    /// not stored again, not an error.
    #[serde(default)]
    pub duplicates: usize,
    /// Records refused, each with its reason.
    #[serde(default)]
    pub abnormal_usage_records: Vec<AbnormalRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"usage_records":[{"begin_time":"20220809T080000Z","end_time":"20220809T090000Z","instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","metering_sn":"sn-1","record_time":"20220809T091000Z","usage_value":"99"}]}"#;
    const TS: &str = "1709690865879";
    const NONCE: &str = "6c63c221-1f6b-4141-8ff4-22f5dfe82b65";
    const SIG: &str = "NhBkxrLqzQ7lJxaSiqkFjhpAHH6kSdum4l2SHTR3eng=";

    /// Spec §10.5.
    #[test]
    fn vector_10_5_usage_push() {
        let key = SellerKey::new("test-key-0123");
        assert_eq!(usage_signature(&key, TS, NONCE, BODY.as_bytes()), SIG);
        let now = 1_709_690_865_879;
        let window = Duration::from_secs(300);
        assert_eq!(
            verify_usage_signature(&key, BODY.as_bytes(), SIG, TS, NONCE, now, window),
            Ok(())
        );
        // The typed body reproduces the vector bytes.
        let push: UsagePush = serde_json::from_str(BODY).unwrap();
        assert_eq!(push.to_body(), BODY.as_bytes());
    }

    #[test]
    fn unsorted_body_signed_in_sorted_form_is_accepted() {
        let key = SellerKey::new("test-key-0123");
        let pretty = r#"{"usage_records": [{"usage_value": "99", "metering_sn": "sn-1", "record_time": "20220809T091000Z", "instance_id": "7f141bf1-aec8-4859-8323-fb3a8ad50721", "end_time": "20220809T090000Z", "begin_time": "20220809T080000Z"}]}"#;
        let now = 1_709_690_865_879;
        let window = Duration::from_secs(300);
        assert_eq!(
            verify_usage_signature(&key, pretty.as_bytes(), SIG, TS, NONCE, now, window),
            Ok(())
        );
        assert_eq!(
            verify_usage_signature(&key, b"{}", SIG, TS, NONCE, now, window),
            Err(AuthError::SignatureMismatch)
        );
        assert!(matches!(
            verify_usage_signature(&key, BODY.as_bytes(), SIG, TS, NONCE, now + 400_000, window),
            Err(AuthError::StaleTimestamp { .. })
        ));
    }
}
