//! `Body-Sign`: the seller's signature over its raw response body (spec §2.3).
//!
//! ```text
//! Body-Sign: sign_type="HMAC-SHA256", signature="Base64(HMAC-SHA256(Key, raw body bytes))"
//! ```
//! The key is the bare Key (not Key ‖ timeStamp). Verification always runs over the exact
//! bytes received: sellers serialise JSON in many styles, so re-serialising would break it.
//!
//! The header parser is lenient because real sellers differ: whitespace around `,` and `=` is
//! optional (the doc example itself has `signature= "…"`), attribute names are
//! case-insensitive, values may be double-quoted or bare, unknown attributes are ignored and
//! for a repeated attribute the first one wins.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use thiserror::Error;

use crate::auth::{ct_eq, hmac_sha256};
use crate::secret::SellerKey;

/// The response header name.
pub const HEADER: &str = "Body-Sign";
/// The only `sign_type` defined.
pub const SIGN_TYPE: &str = "HMAC-SHA256";

/// Why a response's `Body-Sign` was not accepted. The marketplace treats all of them as a
/// failed call (and retries).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodySignError {
    /// No header, or an empty one.
    #[error("Body-Sign header is missing")]
    Missing,
    /// The header has no non-empty `signature` attribute or is not `name=value` pairs.
    #[error("Body-Sign header is unparsable: {0}")]
    Unparsable(String),
    /// `sign_type` is absent or not `HMAC-SHA256`.
    #[error("sign_type is not HMAC-SHA256 (found {0:?})")]
    WrongSignType(Option<String>),
    /// The signature does not match the body.
    #[error("Body-Sign signature does not match the body")]
    Mismatch,
}

/// The attributes of a parsed `Body-Sign` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySignHeader {
    /// `sign_type`, if present (verbatim).
    pub sign_type: Option<String>,
    /// `signature` (Base64), trimmed; never empty.
    pub signature: String,
}

/// `Base64(HMAC-SHA256(Key, raw))`.
pub fn body_signature(key: &SellerKey, raw: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key.as_bytes(), raw))
}

/// The full header value: `sign_type="HMAC-SHA256", signature="…"`.
pub fn body_sign(key: &SellerKey, raw: &[u8]) -> String {
    format!(
        "sign_type=\"{SIGN_TYPE}\", signature=\"{}\"",
        body_signature(key, raw)
    )
}

/// Parses a `Body-Sign` header value leniently (see the module docs). Never panics.
pub fn parse_body_sign(header: &str) -> Result<BodySignHeader, BodySignError> {
    let mut sign_type = None;
    let mut signature = None;
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| BodySignError::Unparsable("expected name=value".into()))?;
        let name = rest[..eq].trim();
        if name.is_empty() || name.contains([',', '"']) {
            return Err(BodySignError::Unparsable("bad attribute name".into()));
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| BodySignError::Unparsable("unterminated quote".into()))?;
            value = &quoted[..end];
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim();
            rest = &rest[end..];
        }
        if name.eq_ignore_ascii_case("sign_type") {
            sign_type.get_or_insert_with(|| value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("signature") {
            signature.get_or_insert_with(|| value.trim().to_owned());
        }
    }
    match signature {
        Some(signature) if !signature.is_empty() => Ok(BodySignHeader {
            sign_type,
            signature,
        }),
        _ => Err(BodySignError::Unparsable("signature is empty".into())),
    }
}

/// Verifies a response: `header` is the `Body-Sign` value if the response had one, `raw` the
/// exact body bytes.
pub fn verify_body_sign(
    key: &SellerKey,
    raw: &[u8],
    header: Option<&str>,
) -> Result<(), BodySignError> {
    let header = header
        .filter(|h| !h.trim().is_empty())
        .ok_or(BodySignError::Missing)?;
    let parsed = parse_body_sign(header)?;
    match parsed.sign_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(SIGN_TYPE) => {}
        other => return Err(BodySignError::WrongSignType(other.map(str::to_owned))),
    }
    let expected = body_signature(key, raw);
    if ct_eq(expected.as_bytes(), parsed.signature.as_bytes()) {
        Ok(())
    } else {
        Err(BodySignError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"resultCode":"000000","resultMsg":"success."}"#;
    const SIG: &str = "uwFlhKi4SK2oe+Bik4SNIg/kEWKv8EPKGp5PCLPyxqA=";

    /// Spec §10.2.
    #[test]
    fn vector_10_2_body_sign() {
        let key = SellerKey::new("test-key-0123");
        assert_eq!(body_signature(&key, BODY), SIG);
        let header = body_sign(&key, BODY);
        assert_eq!(
            header,
            format!("sign_type=\"HMAC-SHA256\", signature=\"{SIG}\"")
        );
        assert_eq!(verify_body_sign(&key, BODY, Some(&header)), Ok(()));
    }

    #[test]
    fn accepts_the_header_styles_seen_in_the_wild() {
        let key = SellerKey::new("test-key-0123");
        for header in [
            format!("sign_type=\"HMAC-SHA256\",signature=\"{SIG}\""),
            format!("sign_type=\"HMAC-SHA256\", signature= \"{SIG}\""),
            format!("  Sign_Type = \"hmac-sha256\" ,  Signature = \"{SIG}\"  "),
            format!("signature=\"{SIG}\",sign_type=\"HMAC-SHA256\""),
            format!("sign_type=HMAC-SHA256, signature={SIG}"),
            format!("sign_type=\"HMAC-SHA256\", foo=\"a,b\", signature=\"{SIG}\""),
        ] {
            assert_eq!(
                verify_body_sign(&key, BODY, Some(&header)),
                Ok(()),
                "{header}"
            );
        }
    }

    #[test]
    fn distinguishes_failures() {
        let key = SellerKey::new("test-key-0123");
        assert_eq!(
            verify_body_sign(&key, BODY, None),
            Err(BodySignError::Missing)
        );
        assert_eq!(
            verify_body_sign(&key, BODY, Some("  ")),
            Err(BodySignError::Missing)
        );
        assert!(matches!(
            verify_body_sign(&key, BODY, Some("garbage")),
            Err(BodySignError::Unparsable(_))
        ));
        assert!(matches!(
            verify_body_sign(
                &key,
                BODY,
                Some("sign_type=\"HMAC-SHA256\", signature=\"\"")
            ),
            Err(BodySignError::Unparsable(_))
        ));
        assert!(matches!(
            verify_body_sign(&key, BODY, Some("signature=\"abc")),
            Err(BodySignError::Unparsable(_))
        ));
        assert_eq!(
            verify_body_sign(
                &key,
                BODY,
                Some(&format!("sign_type=\"MD5\", signature=\"{SIG}\""))
            ),
            Err(BodySignError::WrongSignType(Some("MD5".into())))
        );
        assert_eq!(
            verify_body_sign(&key, BODY, Some(&format!("signature=\"{SIG}\""))),
            Err(BodySignError::WrongSignType(None))
        );
        let header = body_sign(&key, BODY);
        assert_eq!(
            verify_body_sign(
                &key,
                b"{\"resultCode\": \"000000\",\"resultMsg\":\"success.\"}",
                Some(&header)
            ),
            Err(BodySignError::Mismatch)
        );
    }
}
