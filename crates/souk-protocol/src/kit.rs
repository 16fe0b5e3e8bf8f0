//! Joint-operation Kit (联营Kit) request authentication (spec §2.2, §4.3).
//!
//! Kit calls are POSTs to `production URL + /produceAPI/<op>` (v1) or `/produceAPI/v2/<op>`
//! (v2); bodies are in [`crate::activity::kit`].
//!
//! - **v1**: header `authToken` = the V1 algorithm over the body's **top-level fields**,
//!   stringified and sorted, keyed with `Key ‖ body.timeStamp` (Beijing time text).
//!   Stringification (\[I\], the Java sample uses `BeanUtils.describe`): strings as is, numbers
//!   as their JSON text, booleans `true`/`false`, `null` fields omitted, nested arrays/objects
//!   as compact JSON (v1 bodies carry `userList` as a JSON *string*, so this is rare). The
//!   signer includes empty strings (Java does); the verifier accepts both conventions and a
//!   `+` that arrived as a space.
//! - **v2**: headers `x-sign`, `x-timestamp`, `x-nonce` with exactly the V2 algorithm over the
//!   raw body ([`crate::v2::V2Credentials::from_kit_headers`]).

use std::time::Duration;

use serde_json::Value;

use crate::auth::AuthError;
use crate::query::Params;
use crate::secret::SellerKey;
use crate::v1::{check_token, token_with, EmptyValues};
use crate::v2::{NonceCache, V2Credentials};

/// Header carrying the Kit v1 token.
pub const HEADER_AUTH_TOKEN: &str = "authToken";
/// Body field whose value is appended to the Key.
pub const TIME_STAMP_FIELD: &str = "timeStamp";

/// Kit v1 path of tenantSync.
pub const PATH_TENANT_SYNC_V1: &str = "/produceAPI/tenantSync";
/// Kit v1 path of authSync.
pub const PATH_AUTH_SYNC_V1: &str = "/produceAPI/authSync";
/// Kit v2 path of tenantSync.
pub const PATH_TENANT_SYNC_V2: &str = "/produceAPI/v2/tenantSync";
/// Kit v2 path of authSync.
pub const PATH_AUTH_SYNC_V2: &str = "/produceAPI/v2/authSync";
/// Kit v2 path of allOrgSync.
pub const PATH_ALL_ORG_SYNC_V2: &str = "/produceAPI/v2/allOrgSync";

/// The stringified top-level fields of a Kit v1 body.
pub fn kit_v1_params(body: &[u8]) -> Result<Params, AuthError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| AuthError::InvalidBody(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(AuthError::InvalidBody("not a JSON object".into()));
    };
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Null => return None,
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                nested => nested.to_string(),
            };
            Some((k, text))
        })
        .collect())
}

/// The Kit v1 `authToken` header value for `body`.
pub fn sign_kit_v1(key: &SellerKey, body: &[u8]) -> Result<String, AuthError> {
    let params = kit_v1_params(body)?;
    let time_stamp = params.get(TIME_STAMP_FIELD).cloned().unwrap_or_default();
    Ok(token_with(key, &time_stamp, &params, EmptyValues::Include))
}

/// Verifies a Kit v1 request: `token` is the `authToken` header, if present.
pub fn verify_kit_v1(key: &SellerKey, body: &[u8], token: Option<&str>) -> Result<(), AuthError> {
    let presented = token
        .map(|t| t.trim().replace(' ', "+"))
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingCredential(HEADER_AUTH_TOKEN))?;
    let params = kit_v1_params(body)?;
    let time_stamp = params
        .get(TIME_STAMP_FIELD)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::MissingCredential(TIME_STAMP_FIELD))?;
    check_token(key, time_stamp, &params, &presented)
}

/// Kit v2 credentials for `body` (send with [`V2Credentials::kit_headers`]).
pub fn sign_kit_v2(key: &SellerKey, body: &[u8], nonce: &str, timestamp_ms: i64) -> V2Credentials {
    V2Credentials::sign(key, body, nonce, timestamp_ms)
}

/// Verifies a Kit v2 request given a (case-insensitive) header lookup.
pub fn verify_kit_v2(
    key: &SellerKey,
    body: &[u8],
    header: impl Fn(&str) -> Option<String>,
    now_ms: i64,
    window: Duration,
    nonces: Option<&NonceCache>,
) -> Result<(), AuthError> {
    V2Credentials::from_kit_headers(header)?.verify(key, body, now_ms, window, nonces)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"instanceId":"ins-1","orderId":"CS1","tenantId":"t1","tenantCode":"code","name":"ACME Co+Ltd","domainName":"acme.example","flag":1,"testFlag":0,"timeStamp":"20220420114117642","missing":null}"#;

    #[test]
    fn v1_token_signs_stringified_sorted_fields_with_the_body_timestamp() {
        let key = SellerKey::new("test-key-0123");
        let params = kit_v1_params(BODY.as_bytes()).unwrap();
        assert_eq!(
            crate::v1::string_to_sign(&params, EmptyValues::Include),
            "domainName=acme.example&flag=1&instanceId=ins-1&name=ACME Co+Ltd&orderId=CS1\
             &tenantCode=code&tenantId=t1&testFlag=0&timeStamp=20220420114117642"
        );
        let token = sign_kit_v1(&key, BODY.as_bytes()).unwrap();
        // Same as a V1 token over the same parameters.
        assert_eq!(token, crate::v1::sign_v1(&key, &params));
        assert_eq!(verify_kit_v1(&key, BODY.as_bytes(), Some(&token)), Ok(()));
        assert_eq!(
            verify_kit_v1(&key, BODY.as_bytes(), Some(&token.replace('+', " "))),
            Ok(())
        );
        assert_eq!(
            verify_kit_v1(
                &key,
                BODY.replace("ins-1", "ins-2").as_bytes(),
                Some(&token)
            ),
            Err(AuthError::SignatureMismatch)
        );
        assert_eq!(
            verify_kit_v1(&key, BODY.as_bytes(), None),
            Err(AuthError::MissingCredential(HEADER_AUTH_TOKEN))
        );
        assert!(matches!(
            verify_kit_v1(&key, b"[1]", Some(&token)),
            Err(AuthError::InvalidBody(_))
        ));
    }

    #[test]
    fn empty_instance_id_is_signed_java_style_but_either_style_verifies() {
        let key = SellerKey::new("k");
        let body = BODY.replace("ins-1", "");
        let token = sign_kit_v1(&key, body.as_bytes()).unwrap();
        assert_eq!(verify_kit_v1(&key, body.as_bytes(), Some(&token)), Ok(()));
        let params = kit_v1_params(body.as_bytes()).unwrap();
        let php_style = crate::v1::sign_v1(&key, &params);
        assert_ne!(php_style, token);
        assert_eq!(
            verify_kit_v1(&key, body.as_bytes(), Some(&php_style)),
            Ok(())
        );
    }

    #[test]
    fn v2_headers_use_the_v2_algorithm() {
        let key = SellerKey::new("k");
        let creds = sign_kit_v2(&key, BODY.as_bytes(), "nonce-1", 1_700_000_000_000);
        let headers = creds.kit_headers();
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(
            verify_kit_v2(
                &key,
                BODY.as_bytes(),
                lookup,
                1_700_000_030_000,
                crate::v2::DEFAULT_WINDOW,
                None
            ),
            Ok(())
        );
    }
}
