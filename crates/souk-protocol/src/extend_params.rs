//! `saasExtendParams`: Base64 of a JSON array `[{"name":…,"value":…}]` carrying the extra
//! fields a buyer filled in (spec §3.1, §10.7).
//!
//! Encoding is compact JSON + standard padded Base64. Decoding is lenient: surrounding
//! whitespace is ignored, a space is read as `+` (form-decoding damage), URL-safe Base64 and
//! missing padding are accepted, and non-string `value`s keep their JSON text.

use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One buyer-supplied field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendParam {
    /// Field name as configured on the product.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub name: String,
    /// The buyer's value.
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub value: String,
}

/// A `saasExtendParams` value that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtendParamsError {
    /// Not Base64.
    #[error("saasExtendParams is not Base64")]
    Base64,
    /// Base64 of something other than a JSON array of `{name, value}`.
    #[error("saasExtendParams is not a JSON array of name/value objects: {0}")]
    Json(String),
}

const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes fields as the marketplace sends them.
pub fn encode_extend_params(params: &[ExtendParam]) -> String {
    // A slice of plain string structs always serialises.
    let json = serde_json::to_vec(params).expect("extend params serialise");
    STANDARD.encode(json)
}

/// Decodes a `saasExtendParams` value.
pub fn decode_extend_params(encoded: &str) -> Result<Vec<ExtendParam>, ExtendParamsError> {
    let text = encoded.trim().replace(' ', "+");
    let bytes = LENIENT_STANDARD
        .decode(text.as_bytes())
        .or_else(|_| LENIENT_URL_SAFE.decode(text.as_bytes()))
        .map_err(|_| ExtendParamsError::Base64)?;
    serde_json::from_slice(&bytes).map_err(|e| ExtendParamsError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECODED: &str = r#"[{"name":"idNum","value":"352255555555656"},{"name":"userName","value":"huawei123"},{"name":"custEmail","value":"123@huawei.com"}]"#;

    /// Spec §10.7: the spec gives only the decoded array, so round-trip it.
    #[test]
    fn vector_10_7_saas_extend_params() {
        let fields: Vec<ExtendParam> = serde_json::from_str(DECODED).unwrap();
        let encoded = encode_extend_params(&fields);
        assert_eq!(STANDARD.decode(&encoded).unwrap(), DECODED.as_bytes());
        assert_eq!(decode_extend_params(&encoded).unwrap(), fields);
        assert_eq!(fields[1].name, "userName");
        assert_eq!(fields[2].value, "123@huawei.com");
    }

    #[test]
    fn decoding_is_lenient() {
        let encoded = STANDARD.encode(r#"[{"name":"n","value":12}, {"name":"m"}]"#);
        let fields = decode_extend_params(&format!(" {} ", encoded.trim_end_matches('='))).unwrap();
        assert_eq!(fields[0].value, "12");
        assert_eq!(fields[1].value, "");
        assert_eq!(decode_extend_params("!!"), Err(ExtendParamsError::Base64));
        assert!(matches!(
            decode_extend_params(&STANDARD.encode("{}")),
            Err(ExtendParamsError::Json(_))
        ));
    }
}
