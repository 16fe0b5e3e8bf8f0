//! APIG `SDK-HMAC-SHA256` AK/SK signing and verification (spec §9.1).
//!
//! The marketplace's open APIs (order query, license activate/heartbeat, old usage push) are
//! called by sellers with Huawei's API-gateway signature:
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HashedPayload
//! StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
//! Signature        = hex(HMAC-SHA256(SK, StringToSign))
//! Authorization    = SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<hex>
//! ```
//!
//! Verification is two-step so the caller can look the SK up by AK in between:
//! [`ParsedAuth::parse`] (no secret needed; computes the string-to-sign) → look up the SK for
//! [`ParsedAuth::access_key`] → [`ParsedAuth::verify`] (signature + `X-Sdk-Date` skew).
//!
//! Choices: the path is taken as it appears on the wire, percent-decoded per segment and
//! re-encoded (so `/a%20b` and `/a b` canonicalise alike; a literal `%` in a decoded path is
//! therefore ambiguous); query values decode `+` as a space (as Go's `url.Query` does);
//! multi-valued headers contribute one sorted line per value; `host` and `x-sdk-date` must be
//! among the signed headers, otherwise the date (and thus replay protection) is unsigned.

use std::time::Duration;

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use thiserror::Error;
use time::OffsetDateTime;

use crate::auth::{ct_eq, hmac_sha256};
use crate::query::{decode_component, encode_component};
use crate::secret::SecretKey;
use crate::timestamp::TimestampFormat;

/// The algorithm name (first token of `Authorization`).
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Header carrying the signing time, `yyyyMMdd'T'HHmmss'Z'` UTC.
pub const HEADER_DATE: &str = "X-Sdk-Date";
/// Header that replaces the payload hash when present (value used verbatim).
pub const HEADER_CONTENT_SHA256: &str = "X-Sdk-Content-Sha256";
/// The usual value of [`HEADER_CONTENT_SHA256`].
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Default accepted distance between `X-Sdk-Date` and now. APIG's real value is not
/// documented (\[U\]); 15 minutes is the common choice of AK/SK gateways.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The parts of an HTTP request that take part in the signature.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method, e.g. `POST` (used as given; methods are case-sensitive).
    pub method: &'a str,
    /// Path as on the wire (percent-encoded or not), without query.
    pub path: &'a str,
    /// Raw query string without `?` (empty if none).
    pub query: &'a str,
    /// All request headers (name, value); names are matched case-insensitively. Must include
    /// `Host` (for HTTP/2 pass the `:authority` as `host`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes (ignored when `X-Sdk-Content-Sha256` is present).
    pub body: &'a [u8],
}

/// Why an APIG-signed request was rejected. APIG answers these with 401.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApigError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// The scheme is not `SDK-HMAC-SHA256`.
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `Authorization` lacks `Access`, `SignedHeaders` or `Signature`, or is malformed.
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(&'static str),
    /// No `X-Sdk-Date` header.
    #[error("missing X-Sdk-Date header")]
    MissingDate,
    /// `X-Sdk-Date` is not `yyyyMMdd'T'HHmmss'Z'`.
    #[error("invalid X-Sdk-Date {0:?}")]
    InvalidDate(String),
    /// A header that must be signed is not in `SignedHeaders`.
    #[error("header {0} must be signed")]
    UnsignedRequiredHeader(&'static str),
    /// A header listed in `SignedHeaders` is absent from the request.
    #[error("signed header {0:?} is missing from the request")]
    SignedHeaderMissing(String),
    /// `X-Sdk-Date` is too far from now.
    #[error("X-Sdk-Date is {skew_secs} s away from now")]
    ClockSkew {
        /// `date - now` in seconds.
        skew_secs: i64,
    },
    /// The signature does not match.
    #[error("signature mismatch")]
    SignatureMismatch,
}

/// The three attributes of an `Authorization: SDK-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// `Access`: the AK.
    pub access_key: String,
    /// `SignedHeaders`, lowercased, in the order given.
    pub signed_headers: Vec<String>,
    /// `Signature`: hex.
    pub signature: String,
}

/// Parses an `Authorization` value leniently: scheme case-insensitive, attribute names
/// case-insensitive, optional whitespace and quotes around values, unknown attributes ignored.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, ApigError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case(ALGORITHM) {
        return Err(ApigError::UnsupportedAlgorithm(crate::lenient::excerpt(
            scheme,
        )));
    }
    let (mut access, mut signed, mut signature) = (None, None, None);
    for attr in rest.split(',') {
        let attr = attr.trim();
        if attr.is_empty() {
            continue;
        }
        let (name, v) = attr
            .split_once('=')
            .ok_or(ApigError::MalformedAuthorization("expected name=value"))?;
        let v = v.trim().trim_matches('"').trim();
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "access" => &mut access,
            "signedheaders" => &mut signed,
            "signature" => &mut signature,
            _ => continue,
        };
        slot.get_or_insert_with(|| v.to_owned());
    }
    let access_key = access
        .filter(|a| !a.is_empty())
        .ok_or(ApigError::MalformedAuthorization("missing Access"))?;
    let signed_headers: Vec<String> = signed
        .ok_or(ApigError::MalformedAuthorization("missing SignedHeaders"))?
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if signed_headers.is_empty() {
        return Err(ApigError::MalformedAuthorization("empty SignedHeaders"));
    }
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(ApigError::MalformedAuthorization("missing Signature"))?;
    Ok(AuthorizationHeader {
        access_key,
        signed_headers,
        signature,
    })
}

/// `CanonicalURI`: each segment decoded then RFC 3986-encoded, always ending with `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut uri = path
        .split('/')
        .map(|seg| encode_component(&percent_decode_str(seg).decode_utf8_lossy()))
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// `CanonicalQueryString`: pairs decoded, sorted by key then value, re-encoded, `&`-joined.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(s), String::new()),
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn header_values<'a>(req: &RequestParts<'a>, name: &str) -> Vec<&'a str> {
    req.headers
        .iter()
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .collect()
}

/// The full canonical request for the given signed header names (lowercase, sorted).
pub fn canonical_request(
    req: &RequestParts<'_>,
    signed_headers: &[String],
) -> Result<String, ApigError> {
    let payload_hash = match header_values(req, HEADER_CONTENT_SHA256).first() {
        Some(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => hex::encode(Sha256::digest(req.body)),
    };
    canonical_request_over(req, signed_headers, &payload_hash)
}

/// [`canonical_request`] with the payload hash given.
fn canonical_request_over(
    req: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, ApigError> {
    let mut headers = String::new();
    for name in signed_headers {
        let mut values = header_values(req, name);
        if values.is_empty() {
            return Err(ApigError::SignedHeaderMissing(crate::lenient::excerpt(
                name,
            )));
        }
        values.sort_unstable();
        for v in values {
            headers.push_str(name);
            headers.push(':');
            headers.push_str(v.trim());
            headers.push('\n');
        }
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed_headers.join(";"),
        payload_hash
    ))
}

fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The `X-Sdk-Date` value for `now`.
pub fn sdk_date(now: OffsetDateTime) -> String {
    TimestampFormat::Basic.format(now)
}

/// Signs a request: every header in `req.headers` is signed (it must already contain `Host`
/// and `X-Sdk-Date`, see [`sdk_date`]). Returns the `Authorization` header value.
pub fn sign(ak: &str, sk: &SecretKey, req: &RequestParts<'_>) -> Result<String, ApigError> {
    let date = header_values(req, HEADER_DATE)
        .first()
        .map(|d| d.trim().to_owned())
        .ok_or(ApigError::MissingDate)?;
    let mut signed: Vec<String> = req
        .headers
        .iter()
        .map(|(k, _)| k.trim().to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let canonical = canonical_request(req, &signed)?;
    let signature = hex::encode(hmac_sha256(
        sk.as_bytes(),
        string_to_sign(&date, &canonical).as_bytes(),
    ));
    Ok(format!(
        "{ALGORITHM} Access={ak}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    ))
}

/// A parsed, not yet verified, APIG request signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    /// The AK: look up its SK, then call [`ParsedAuth::verify`].
    pub access_key: String,
    /// Lowercased signed header names.
    pub signed_headers: Vec<String>,
    /// The parsed `X-Sdk-Date`.
    pub sdk_date: OffsetDateTime,
    signature: String,
    string_to_sign: String,
    /// For a bodyless request that carries `X-Sdk-Content-Sha256`: the string to sign over the
    /// empty body's hash instead. Huawei's official Python SDK sends the header but signs the
    /// empty-body hash; both are accepted.
    empty_body_string_to_sign: Option<String>,
}

impl ParsedAuth {
    /// Reads `Authorization` and `X-Sdk-Date` and canonicalises the request. Needs no secret.
    pub fn parse(req: &RequestParts<'_>) -> Result<Self, ApigError> {
        let authorization = header_values(req, "authorization")
            .first()
            .copied()
            .ok_or(ApigError::MissingAuthorization)?;
        let auth = parse_authorization(authorization)?;
        let date_text = header_values(req, HEADER_DATE)
            .first()
            .map(|d| d.trim().to_owned())
            .ok_or(ApigError::MissingDate)?;
        let sdk_date = TimestampFormat::Basic
            .parse(&date_text)
            .map_err(|e| ApigError::InvalidDate(e.value))?;
        for (required, name) in [("x-sdk-date", "X-Sdk-Date"), ("host", "Host")] {
            if !auth.signed_headers.iter().any(|h| h == required) {
                return Err(ApigError::UnsignedRequiredHeader(name));
            }
        }
        let canonical = canonical_request(req, &auth.signed_headers)?;
        let header_names_payload = header_values(req, HEADER_CONTENT_SHA256)
            .first()
            .is_some_and(|v| !v.trim().is_empty());
        let empty_body_string_to_sign = (req.body.is_empty() && header_names_payload)
            .then(|| {
                let empty = hex::encode(Sha256::digest(b""));
                canonical_request_over(req, &auth.signed_headers, &empty)
                    .ok()
                    .map(|c| string_to_sign(&date_text, &c))
            })
            .flatten();
        Ok(ParsedAuth {
            access_key: auth.access_key,
            signed_headers: auth.signed_headers,
            sdk_date,
            signature: auth.signature,
            string_to_sign: string_to_sign(&date_text, &canonical),
            empty_body_string_to_sign,
        })
    }

    /// Checks the date against `now` (±`max_skew`) and the signature with `sk`.
    pub fn verify(
        &self,
        sk: &SecretKey,
        now: OffsetDateTime,
        max_skew: Duration,
    ) -> Result<(), ApigError> {
        let skew = self.sdk_date - now;
        if skew.unsigned_abs() > max_skew {
            return Err(ApigError::ClockSkew {
                skew_secs: skew.whole_seconds(),
            });
        }
        let given = self.signature.to_ascii_lowercase();
        let matches = |to_sign: &str| {
            let expected = hex::encode(hmac_sha256(sk.as_bytes(), to_sign.as_bytes()));
            ct_eq(expected.as_bytes(), given.as_bytes())
        };
        let alternative = self
            .empty_body_string_to_sign
            .as_deref()
            .is_some_and(matches);
        // Both are computed, so the time taken does not tell which form matched.
        if matches(&self.string_to_sign) | alternative {
            Ok(())
        } else {
            Err(ApigError::SignatureMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const HEADERS: [(&str, &str); 4] = [
        ("x-stage", "RELEASE"),
        ("X-Sdk-Date", "20240317T144237Z"),
        ("Content-Type", "application/json"),
        ("Host", "mkt.myhuaweicloud.com"),
    ];
    const PATH: &str = "/api/mkp-openapi-public/global/v1/license/activate";
    const SIGNATURE: &str = "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d";

    fn vector_request<'a>(headers: &'a [(&'a str, &'a str)]) -> RequestParts<'a> {
        RequestParts {
            method: "POST",
            path: PATH,
            query: "",
            headers,
            body: b"",
        }
    }

    /// Spec §9.1 / §10.6.
    #[test]
    fn vector_9_1_apig_signature() {
        let req = vector_request(&HEADERS);
        let signed: Vec<String> = ["content-type", "host", "x-sdk-date", "x-stage"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            canonical_request(&req, &signed).unwrap(),
            "POST\n/api/mkp-openapi-public/global/v1/license/activate/\n\n\
             content-type:application/json\nhost:mkt.myhuaweicloud.com\n\
             x-sdk-date:20240317T144237Z\nx-stage:RELEASE\n\n\
             content-type;host;x-sdk-date;x-stage\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let authorization = sign("test", &SecretKey::new("123"), &req).unwrap();
        assert_eq!(
            authorization,
            format!(
                "SDK-HMAC-SHA256 Access=test, SignedHeaders=content-type;host;x-sdk-date;x-stage, Signature={SIGNATURE}"
            )
        );

        let mut headers = HEADERS.to_vec();
        headers.push(("Authorization", &authorization));
        let parsed = ParsedAuth::parse(&vector_request(&headers)).unwrap();
        assert_eq!(parsed.access_key, "test");
        let now = datetime!(2024-03-17 14:50:00 UTC);
        assert_eq!(
            parsed.verify(&SecretKey::new("123"), now, DEFAULT_MAX_SKEW),
            Ok(())
        );
        assert_eq!(
            parsed.verify(&SecretKey::new("124"), now, DEFAULT_MAX_SKEW),
            Err(ApigError::SignatureMismatch)
        );
        assert!(matches!(
            parsed.verify(
                &SecretKey::new("123"),
                now + time::Duration::hours(1),
                DEFAULT_MAX_SKEW
            ),
            Err(ApigError::ClockSkew { .. })
        ));
    }

    #[test]
    fn authorization_parsing_is_lenient() {
        let a = parse_authorization(
            "sdk-hmac-sha256  access=\"AK\" ,signedheaders = host;X-Sdk-Date,  SIGNATURE=ABCD, extra=1",
        )
        .unwrap();
        assert_eq!(a.access_key, "AK");
        assert_eq!(a.signed_headers, ["host", "x-sdk-date"]);
        assert_eq!(a.signature, "ABCD");
        assert!(matches!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=x"),
            Err(ApigError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            parse_authorization("SDK-HMAC-SHA256 Access=a, Signature=b"),
            Err(ApigError::MalformedAuthorization(_))
        ));
        assert!(matches!(
            parse_authorization(""),
            Err(ApigError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a b/c%2Fd/"), "/a%20b/c%2Fd/");
        assert_eq!(canonical_uri("/v1/x~y"), "/v1/x~y/");
        assert_eq!(
            canonical_query("orderLineId=L%201&orderId=O+1&b=2&b=1&flag"),
            "b=1&b=2&flag=&orderId=O%201&orderLineId=L%201"
        );
    }

    #[test]
    fn a_bodyless_request_signed_over_the_empty_body_hash_is_accepted() {
        // Huawei's Python SDK: sends X-Sdk-Content-Sha256 (and signs that header) but computes
        // the canonical request over the empty body's hash.
        let sk = SecretKey::new("sk");
        let date = sdk_date(datetime!(2024-01-01 00:00:00 UTC));
        let now = datetime!(2024-01-01 00:01:00 UTC);
        let headers = [
            ("Host", "mkt.example"),
            ("X-Sdk-Date", date.as_str()),
            ("X-Sdk-Content-Sha256", UNSIGNED_PAYLOAD),
        ];
        let req = RequestParts {
            method: "GET",
            path: "/api/mkp-openapi-public/global/v1/order/query",
            query: "orderId=CS1",
            headers: &headers,
            body: b"",
        };
        let signed: Vec<String> = ["host", "x-sdk-content-sha256", "x-sdk-date"]
            .map(str::to_owned)
            .to_vec();
        let empty = hex::encode(Sha256::digest(b""));
        let canonical = canonical_request_over(&req, &signed, &empty).unwrap();
        let python = hex::encode(hmac_sha256(
            sk.as_bytes(),
            string_to_sign(&date, &canonical).as_bytes(),
        ));
        let auth = format!(
            "{ALGORITHM} Access=AK, SignedHeaders={}, Signature={python}",
            signed.join(";")
        );
        let with_auth = |auth: &str| {
            let mut h = headers.to_vec();
            h.push(("Authorization", auth));
            ParsedAuth::parse(&RequestParts { headers: &h, ..req }).unwrap()
        };
        assert_eq!(with_auth(&auth).verify(&sk, now, DEFAULT_MAX_SKEW), Ok(()));
        // The header-value form is still accepted…
        let java = sign("AK", &sk, &req).unwrap();
        assert_eq!(with_auth(&java).verify(&sk, now, DEFAULT_MAX_SKEW), Ok(()));
        // …a wrong key is not, in either form…
        let other = SecretKey::new("other");
        assert_eq!(
            with_auth(&auth).verify(&other, now, DEFAULT_MAX_SKEW),
            Err(ApigError::SignatureMismatch)
        );
        // …and with a body, the empty-body form does not apply.
        let mut h = headers.to_vec();
        h.push(("Authorization", &auth));
        let parsed = ParsedAuth::parse(&RequestParts {
            headers: &h,
            body: b"{}",
            ..req
        })
        .unwrap();
        assert_eq!(
            parsed.verify(&sk, now, DEFAULT_MAX_SKEW),
            Err(ApigError::SignatureMismatch)
        );
    }

    #[test]
    fn round_trip_with_query_body_and_unsigned_payload() {
        let sk = SecretKey::new("sk");
        let date = sdk_date(datetime!(2024-01-01 00:00:00 UTC));
        let body = br#"{"license":"ABC"}"#;
        let base = [("Host", "mkt.example"), ("X-Sdk-Date", date.as_str())];
        let req = RequestParts {
            method: "GET",
            path: "/api/mkp-openapi-public/global/v1/order/query",
            query: "orderId=CS1&orderLineId=CS1-000001",
            headers: &base,
            body,
        };
        let auth = sign("AK", &sk, &req).unwrap();
        let mut headers = base.to_vec();
        headers.push(("authorization", &auth));
        let parsed = ParsedAuth::parse(&RequestParts {
            headers: &headers,
            ..req
        })
        .unwrap();
        let now = datetime!(2024-01-01 00:10:00 UTC);
        assert_eq!(parsed.verify(&sk, now, DEFAULT_MAX_SKEW), Ok(()));
        // Tampered body.
        let tampered = ParsedAuth::parse(&RequestParts {
            headers: &headers,
            body: b"{}",
            ..req
        })
        .unwrap();
        assert_eq!(
            tampered.verify(&sk, now, DEFAULT_MAX_SKEW),
            Err(ApigError::SignatureMismatch)
        );

        // UNSIGNED-PAYLOAD: the body is not covered.
        let unsigned = [
            ("Host", "mkt.example"),
            ("X-Sdk-Date", date.as_str()),
            ("X-Sdk-Content-Sha256", UNSIGNED_PAYLOAD),
        ];
        let req = RequestParts {
            headers: &unsigned,
            ..req
        };
        let auth = sign("AK", &sk, &req).unwrap();
        let mut headers = unsigned.to_vec();
        headers.push(("Authorization", &auth));
        let parsed = ParsedAuth::parse(&RequestParts {
            headers: &headers,
            body: b"other",
            ..req
        })
        .unwrap();
        assert_eq!(parsed.verify(&sk, now, DEFAULT_MAX_SKEW), Ok(()));
    }

    #[test]
    fn required_headers_must_be_signed_and_present() {
        let date = "20240101T000000Z";
        let headers = [
            ("Host", "h"),
            ("X-Sdk-Date", date),
            (
                "Authorization",
                "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=00",
            ),
        ];
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            ParsedAuth::parse(&req),
            Err(ApigError::UnsignedRequiredHeader("X-Sdk-Date"))
        );
        let headers = [
            ("Host", "h"),
            ("X-Sdk-Date", date),
            (
                "Authorization",
                "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;x-sdk-date;x-stage, Signature=00",
            ),
        ];
        let req = RequestParts {
            headers: &headers,
            ..req
        };
        assert_eq!(
            ParsedAuth::parse(&req),
            Err(ApigError::SignedHeaderMissing("x-stage".into()))
        );
        let headers = [
            ("Host", "h"),
            ("X-Sdk-Date", "yesterday"),
            (
                "Authorization",
                "SDK-HMAC-SHA256 Access=a, SignedHeaders=host;x-sdk-date, Signature=00",
            ),
        ];
        let req = RequestParts {
            headers: &headers,
            ..req
        };
        assert!(matches!(
            ParsedAuth::parse(&req),
            Err(ApigError::InvalidDate(_))
        ));
        let req = RequestParts {
            headers: &[],
            ..req
        };
        assert_eq!(
            ParsedAuth::parse(&req),
            Err(ApigError::MissingAuthorization)
        );
    }
}
