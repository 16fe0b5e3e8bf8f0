//! V1 request authentication: the `authToken` query parameter (spec §2.1).
//!
//! ```text
//! msg       = "k1=v1&k2=v2…"  all params except authToken, sorted by key, values decoded
//! authToken = Base64(HMAC-SHA256(key = Key ‖ timeStamp, msg))
//! ```
//!
//! Interpretation choices (spec marks them \[I\]):
//! - **Empty values.** Some seller libraries skip empty values when signing, others include
//!   them. The *sender* side here ([`sign_v1`], [`sign_v1_params`]) therefore drops empty
//!   parameters entirely so both kinds agree. The *verifier* ([`verify_v1`]) first tries
//!   without empty values, then with them, so it accepts either kind of sender.
//! - **`+` that became a space.** Docs show raw `+` in `authToken`, and form decoding turns
//!   it into a space. Base64 never contains a space, so [`verify_v1`] maps `' '`→`'+'` in the
//!   presented `authToken` and in the Base64-valued `email` / `mobilePhone` ciphertexts (as the
//!   PHP seller library does) before checking. Other values are taken as decoded.
//! - **Freshness.** V1 documents no timestamp window and sellers do not check one;
//!   [`check_v1_timestamp`] is available for those who want to.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use time::OffsetDateTime;

use crate::auth::{check_window, ct_eq, hmac_sha256, millis, AuthError};
use crate::query::{encode_params, Params};
use crate::secret::SellerKey;
use crate::timestamp::TimestampFormat;

/// Query parameter carrying the token.
pub const AUTH_TOKEN: &str = "authToken";
/// Query parameter carrying the 17-digit UTC timestamp that is part of the HMAC key.
pub const TIME_STAMP: &str = "timeStamp";
/// Base64-valued parameters (AES ciphertexts) in which a space can only be a mangled `+`.
const BASE64_PARAMS: [&str; 2] = ["email", "mobilePhone"];

/// Whether empty-valued parameters take part in the string-to-sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyValues {
    /// Skip `k=` pairs (what this crate sends; PHP `!empty` libraries).
    Omit,
    /// Keep `k=` pairs (Java `getParameterMap` libraries).
    Include,
}

/// Builds `k1=v1&k2=v2…` over every parameter except `authToken`, in key order, values raw.
pub fn string_to_sign(params: &Params, empty: EmptyValues) -> String {
    let mut msg = String::new();
    for (k, v) in params {
        if k == AUTH_TOKEN || (empty == EmptyValues::Omit && v.is_empty()) {
            continue;
        }
        if !msg.is_empty() {
            msg.push('&');
        }
        msg.push_str(k);
        msg.push('=');
        msg.push_str(v);
    }
    msg
}

fn token(key: &SellerKey, params: &Params, empty: EmptyValues) -> String {
    let time_stamp = params.get(TIME_STAMP).map(String::as_str).unwrap_or("");
    token_with(key, time_stamp, params, empty)
}

/// `Base64(HMAC-SHA256(Key ‖ time_stamp, string_to_sign(params)))`; shared with the Kit v1
/// header token, whose timestamp comes from the body.
pub(crate) fn token_with(
    key: &SellerKey,
    time_stamp: &str,
    params: &Params,
    empty: EmptyValues,
) -> String {
    let hmac_key = [key.as_bytes(), time_stamp.as_bytes()].concat();
    STANDARD.encode(hmac_sha256(
        &hmac_key,
        string_to_sign(params, empty).as_bytes(),
    ))
}

/// Compares `presented` (already normalised) with the token under both empty-value
/// conventions. Every candidate is computed so timing does not reveal which one matched.
pub(crate) fn check_token(
    key: &SellerKey,
    time_stamp: &str,
    params: &Params,
    presented: &str,
) -> Result<(), AuthError> {
    let has_empty = params.iter().any(|(k, v)| k != AUTH_TOKEN && v.is_empty());
    let candidates: &[EmptyValues] = if has_empty {
        &[EmptyValues::Omit, EmptyValues::Include]
    } else {
        &[EmptyValues::Omit]
    };
    let mut ok = false;
    for &empty in candidates {
        ok |= ct_eq(
            token_with(key, time_stamp, params, empty).as_bytes(),
            presented.as_bytes(),
        );
    }
    if ok {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

/// Computes the `authToken` for `params` (empty values omitted; an existing `authToken` is
/// ignored). `params` should contain `timeStamp`; without it the key is the bare Key.
pub fn sign_v1(key: &SellerKey, params: &Params) -> String {
    token(key, params, EmptyValues::Omit)
}

/// Prepares params for sending: removes empty values and any stale `authToken`, then inserts a
/// fresh `authToken`. Encode the result with [`crate::query::encode_params`].
pub fn sign_v1_params(key: &SellerKey, params: &mut Params) {
    params.retain(|k, v| k != AUTH_TOKEN && !v.is_empty());
    let token = sign_v1(key, params);
    params.insert(AUTH_TOKEN.to_owned(), token);
}

/// Sets `timeStamp` to `at` (UTC, 17 digits), signs, and returns the encoded query string.
pub fn signed_query(key: &SellerKey, mut params: Params, at: OffsetDateTime) -> String {
    params.insert(TIME_STAMP.to_owned(), TimestampFormat::Millis.format(at));
    sign_v1_params(key, &mut params);
    encode_params(&params)
}

/// Checks the `authToken` of received (already decoded) parameters. See the module docs for
/// the `+`/space and empty-value leniency.
pub fn verify_v1(key: &SellerKey, params: &Params) -> Result<(), AuthError> {
    let presented = params
        .get(AUTH_TOKEN)
        .map(|t| t.trim().replace(' ', "+"))
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingCredential(AUTH_TOKEN))?;
    let time_stamp = params
        .get(TIME_STAMP)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingCredential(TIME_STAMP))?;
    let mut normalized = params.clone();
    for name in BASE64_PARAMS {
        if let Some(v) = normalized.get_mut(name) {
            *v = v.replace(' ', "+");
        }
    }
    check_token(key, time_stamp, &normalized, &presented)
}

/// Optional freshness check of `timeStamp` against `now` (V1 documents no window; sellers
/// who want one can call this after [`verify_v1`]).
pub fn check_v1_timestamp(
    params: &Params,
    now: OffsetDateTime,
    window: std::time::Duration,
) -> Result<(), AuthError> {
    let raw = params
        .get(TIME_STAMP)
        .ok_or(AuthError::MissingCredential(TIME_STAMP))?;
    let at = TimestampFormat::Millis
        .parse(raw)
        .map_err(|e| AuthError::InvalidTimestamp {
            name: TIME_STAMP,
            value: e.value,
        })?;
    check_window(
        crate::timestamp::unix_millis(at),
        crate::timestamp::unix_millis(now),
        millis(window),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_params;

    fn vector_params() -> Params {
        [
            ("activity", "newInstance"),
            ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
            ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
            ("customerName", "Test User+1"),
            ("orderId", "CS1906666666ABCDE"),
            ("productId", "00301-666666-0--0"),
            ("testFlag", "1"),
            ("timeStamp", "20240101000000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    const TOKEN: &str = "kETuf+H8Gxz3FjPdVC94ZfpzvfoPKcXN5krhHtiAa3M=";

    /// Spec §10.1.
    #[test]
    fn vector_10_1_auth_token() {
        let key = SellerKey::new("test-key-0123");
        let params = vector_params();
        assert_eq!(
            string_to_sign(&params, EmptyValues::Omit),
            "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c\
             &customerId=68cbc86abc2018ab880d92f36422fa0e&customerName=Test User+1\
             &orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1\
             &timeStamp=20240101000000000"
        );
        assert_eq!(sign_v1(&key, &params), TOKEN);
        let mut signed = params.clone();
        signed.insert(AUTH_TOKEN.into(), TOKEN.into());
        assert_eq!(verify_v1(&key, &signed), Ok(()));
    }

    #[test]
    fn encoded_query_round_trips_through_a_form_decoder() {
        let key = SellerKey::new("test-key-0123");
        let mut params = vector_params();
        sign_v1_params(&key, &mut params);
        let query = encode_params(&params);
        assert!(query.contains("customerName=Test%20User%2B1"), "{query}");
        assert!(query.contains("authToken=kETuf%2BH8Gxz3FjPdVC94ZfpzvfoPKcXN5krhHtiAa3M%3D"));
        assert_eq!(verify_v1(&key, &parse_params(&query)), Ok(()));
    }

    #[test]
    fn raw_plus_in_auth_token_is_accepted() {
        let key = SellerKey::new("test-key-0123");
        let mut params = vector_params();
        sign_v1_params(&key, &mut params);
        // A sender that does not encode the token: `+` arrives as a space.
        let mut query = encode_params(&params);
        query = query.replace("kETuf%2BH8", "kETuf+H8");
        assert_eq!(
            parse_params(&query)[AUTH_TOKEN],
            "kETuf H8Gxz3FjPdVC94ZfpzvfoPKcXN5krhHtiAa3M="
        );
        assert_eq!(verify_v1(&key, &parse_params(&query)), Ok(()));
    }

    #[test]
    fn raw_plus_in_encrypted_email_is_accepted() {
        let key = SellerKey::new("k");
        let mut params = vector_params();
        params.insert("email".into(), "0123456789abcdefFXa2+zeZ/jah==".into());
        sign_v1_params(&key, &mut params);
        params.insert("email".into(), "0123456789abcdefFXa2 zeZ/jah==".into());
        assert_eq!(verify_v1(&key, &params), Ok(()));
    }

    #[test]
    fn empty_values_are_accepted_either_way() {
        let key = SellerKey::new("k");
        let mut params = vector_params();
        params.insert("userId".into(), String::new());
        // A Java-style sender that signs `userId=`.
        let token = token(&key, &params, EmptyValues::Include);
        params.insert(AUTH_TOKEN.into(), token);
        assert_eq!(verify_v1(&key, &params), Ok(()));
        // Our own sender drops it altogether.
        let mut ours = vector_params();
        ours.insert("userId".into(), String::new());
        sign_v1_params(&key, &mut ours);
        assert!(!ours.contains_key("userId"));
        assert_eq!(verify_v1(&key, &ours), Ok(()));
    }

    #[test]
    fn rejects_missing_and_wrong_tokens() {
        let key = SellerKey::new("test-key-0123");
        let params = vector_params();
        assert_eq!(
            verify_v1(&key, &params),
            Err(AuthError::MissingCredential(AUTH_TOKEN))
        );
        let mut signed = params.clone();
        signed.insert(AUTH_TOKEN.into(), TOKEN.into());
        signed.insert("orderId".into(), "CS1906666666ABCDF".into());
        assert_eq!(verify_v1(&key, &signed), Err(AuthError::SignatureMismatch));
        let mut no_ts = params.clone();
        no_ts.remove(TIME_STAMP);
        no_ts.insert(AUTH_TOKEN.into(), TOKEN.into());
        assert_eq!(
            verify_v1(&key, &no_ts),
            Err(AuthError::MissingCredential(TIME_STAMP))
        );
        let mut signed = params;
        signed.insert(AUTH_TOKEN.into(), TOKEN.into());
        assert_eq!(
            verify_v1(&SellerKey::new("other"), &signed),
            Err(AuthError::SignatureMismatch)
        );
    }

    #[test]
    fn signed_query_sets_the_timestamp() {
        let key = SellerKey::new("k");
        let at = time::macros::datetime!(2024-01-01 00:00:00 UTC);
        let query = signed_query(
            &key,
            Params::from([("activity".into(), "expireInstance".into())]),
            at,
        );
        let params = parse_params(&query);
        assert_eq!(params[TIME_STAMP], "20240101000000000");
        assert_eq!(verify_v1(&key, &params), Ok(()));
        assert_eq!(
            check_v1_timestamp(&params, at, std::time::Duration::from_secs(60)),
            Ok(())
        );
        assert!(check_v1_timestamp(
            &params,
            at + time::Duration::minutes(2),
            std::time::Duration::from_secs(60)
        )
        .is_err());
    }
}
