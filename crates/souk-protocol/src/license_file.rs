//! Signed offline license files (a Souk extension; no KooGallery counterpart).
//!
//! A license file lets the seller's software check a license with no network: Souk signs a
//! small JSON document with Ed25519 and the software verifies it with Souk's public key. The
//! format is written down in `docs/licenses.md` so that it can be verified in any language:
//!
//! ```text
//! file      = {"format":"souk-license/1","key_id":K,"payload":B64URL(P),"signature":B64URL(S)}
//! P         = UTF-8 JSON bytes of the payload (LicensePayload below), exactly as signed
//! S         = Ed25519(signing key K, P)               -- 64 bytes
//! key set   = a JWKS: {"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":K,"x":B64URL(pub)}]}
//! ```
//!
//! Verification: parse the file, find the key by `key_id`, decode `payload` and `signature`
//! (base64url, padding optional), verify the signature over the decoded payload bytes, parse
//! the payload, check that its `key_id` and `format` equal the file's, then compare the times:
//! `license_expires_at` (the license ends) and `file_expires_at` (this file must be refreshed).
//! Changing any byte of the payload or the signature fails the signature; changing `key_id`
//! finds another key (fails) or none (fails).

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use ed25519_dalek::SigningKey;

/// The `format` value of files and payloads this module reads and writes.
pub const FORMAT: &str = "souk-license/1";

/// What a license file asserts. Times are RFC 3339 UTC strings (`2026-01-31T00:00:00Z`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePayload {
    /// Always [`FORMAT`].
    pub format: String,
    /// The signing key's id (equal to the file's `key_id`).
    pub key_id: String,
    /// Who issued it (e.g. the marketplace's public URL or name).
    pub issuer: String,
    /// The license code (授权码).
    pub license_code: String,
    /// Souk's product id.
    pub product_id: String,
    /// Souk's SKU id.
    pub sku_id: String,
    /// KooGallery `skuCode` of the SKU.
    pub sku_code: Option<String>,
    /// The buyer (customer) the license belongs to.
    pub buyer_id: String,
    /// The instance the code belongs to.
    pub instance_id: String,
    /// The machine the file is bound to; `None`: any machine.
    pub machine_fingerprint: Option<String>,
    /// What the license allows (seats, quantity, SKU attributes…): an open JSON object.
    pub entitlements: serde_json::Value,
    /// When the file was signed.
    pub issued_at: String,
    /// When the license itself ends; `None`: never (one-time purchase).
    pub license_expires_at: Option<String>,
    /// After this the file is stale: fetch a fresh one (the file TTL).
    pub file_expires_at: String,
}

/// The file as stored and shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Which key signed it.
    pub key_id: String,
    /// base64url of the payload bytes.
    pub payload: String,
    /// base64url of the 64-byte Ed25519 signature over the payload bytes.
    pub signature: String,
}

/// One public key, as a JWK (RFC 8037 `OKP` / `Ed25519`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The key id files name.
    pub kid: String,
    /// base64url of the 32-byte public key.
    pub x: String,
}

impl PublicJwk {
    /// The JWK of a verifying key.
    pub fn new(kid: &str, key: &VerifyingKey) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
            kid: kid.to_owned(),
            x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
        }
    }

    fn verifying_key(&self) -> Result<VerifyingKey, LicenseFileError> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(LicenseFileError::BadKey(self.kid.clone()));
        }
        let raw = decode_b64(&self.x).ok_or_else(|| LicenseFileError::BadKey(self.kid.clone()))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| LicenseFileError::BadKey(self.kid.clone()))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| LicenseFileError::BadKey(self.kid.clone()))
    }
}

/// The public keys, as a JWKS (`GET /.well-known/souk-license-keys.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeySet {
    /// Every key that may have signed a file still in use (rotated keys stay listed).
    pub keys: Vec<PublicJwk>,
}

/// Why a file is not a valid Souk license file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LicenseFileError {
    /// Not JSON of the file shape.
    #[error("not a license file: {0}")]
    Malformed(String),
    /// A `format` this version does not read.
    #[error("unknown license file format {0:?}")]
    UnknownFormat(String),
    /// No key with the file's `key_id` in the key set.
    #[error("no public key with id {0:?}: wrong key set, or the file was altered")]
    UnknownKey(String),
    /// A key in the key set is not an Ed25519 JWK.
    #[error("public key {0:?} is not a valid Ed25519 JWK")]
    BadKey(String),
    /// The signature does not verify: the file was altered or signed by another key.
    #[error("the signature does not match: the file was altered or signed with another key")]
    BadSignature,
    /// The signed payload is not a payload (cannot happen for files Souk signed).
    #[error("the signed payload is unreadable: {0}")]
    BadPayload(String),
}

/// Whether a correctly signed file is still good at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    /// Signature good, license and file current.
    Valid,
    /// The license ended at this time.
    LicenseExpired(String),
    /// The file is older than its TTL: fetch a fresh one.
    FileExpired(String),
}

/// A file whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What it says.
    pub payload: LicensePayload,
    /// Whether it is current.
    pub validity: Validity,
}

impl Verified {
    /// Signature good and nothing expired.
    pub fn is_valid(&self) -> bool {
        self.validity == Validity::Valid
    }
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .or_else(|| URL_SAFE.decode(s).ok())
}

/// RFC 3339, UTC, whole seconds: the time form of payloads.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_time(field: &str, s: &str) -> Result<OffsetDateTime, LicenseFileError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| LicenseFileError::BadPayload(format!("{field} is not an RFC 3339 time")))
}

/// Signs a payload. `payload.key_id` must be `key_id` (it is set here to be sure).
pub fn sign(mut payload: LicensePayload, key_id: &str, key: &SigningKey) -> LicenseFile {
    payload.format = FORMAT.into();
    payload.key_id = key_id.to_owned();
    // A struct of strings and a JSON value always serialises.
    let bytes = serde_json::to_vec(&payload).expect("license payload serialises");
    let signature = key.sign(&bytes);
    LicenseFile {
        format: FORMAT.into(),
        key_id: key_id.to_owned(),
        payload: URL_SAFE_NO_PAD.encode(&bytes),
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    }
}

impl LicenseFile {
    /// The file's text (pretty JSON, what buyers download).
    pub fn to_text(&self) -> String {
        // Plain strings: always serialises.
        serde_json::to_string_pretty(self).expect("license file serialises")
    }
}

/// Verifies a file's text against a key set, and judges its times at `now`.
pub fn verify(
    text: &[u8],
    keys: &KeySet,
    now: OffsetDateTime,
) -> Result<Verified, LicenseFileError> {
    let file: LicenseFile =
        serde_json::from_slice(text).map_err(|e| LicenseFileError::Malformed(e.to_string()))?;
    if file.format != FORMAT {
        return Err(LicenseFileError::UnknownFormat(file.format));
    }
    let jwk = keys
        .keys
        .iter()
        .find(|k| k.kid == file.key_id)
        .ok_or_else(|| LicenseFileError::UnknownKey(file.key_id.clone()))?;
    let key = jwk.verifying_key()?;
    let payload_bytes = decode_b64(&file.payload)
        .ok_or_else(|| LicenseFileError::Malformed("payload is not base64url".into()))?;
    let sig_bytes: [u8; 64] = decode_b64(&file.signature)
        .and_then(|s| s.try_into().ok())
        .ok_or(LicenseFileError::BadSignature)?;
    key.verify(&payload_bytes, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| LicenseFileError::BadSignature)?;
    let payload: LicensePayload = serde_json::from_slice(&payload_bytes)
        .map_err(|e| LicenseFileError::BadPayload(e.to_string()))?;
    if payload.key_id != file.key_id || payload.format != file.format {
        return Err(LicenseFileError::BadPayload(
            "the signed key_id or format differs from the file's".into(),
        ));
    }
    let validity = match &payload.license_expires_at {
        Some(end) if now >= parse_time("license_expires_at", end)? => {
            Validity::LicenseExpired(end.clone())
        }
        _ if now >= parse_time("file_expires_at", &payload.file_expires_at)? => {
            Validity::FileExpired(payload.file_expires_at.clone())
        }
        _ => Validity::Valid,
    };
    Ok(Verified { payload, validity })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn payload() -> LicensePayload {
        LicensePayload {
            format: String::new(),
            key_id: String::new(),
            issuer: "souk-test".into(),
            license_code: "SOUK-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE".into(),
            product_id: "prd_1".into(),
            sku_id: "sku_1".into(),
            sku_code: None,
            buyer_id: "buy_1".into(),
            instance_id: "ins_1".into(),
            machine_fingerprint: Some("machine-1".into()),
            entitlements: serde_json::json!({"seats": 2}),
            issued_at: "2026-01-01T00:00:00Z".into(),
            license_expires_at: Some("2026-02-01T00:00:00Z".into()),
            file_expires_at: "2026-01-08T00:00:00Z".into(),
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn keys(seed: u8) -> KeySet {
        KeySet {
            keys: vec![PublicJwk::new("k1", &key(seed).verifying_key())],
        }
    }

    #[test]
    fn signed_files_verify_and_report_expiry() {
        let file = sign(payload(), "k1", &key(1)).to_text();
        let ok = verify(file.as_bytes(), &keys(1), datetime!(2026-01-02 0:00 UTC)).unwrap();
        assert!(ok.is_valid());
        assert_eq!(
            ok.payload.license_code,
            "SOUK-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"
        );
        let stale = verify(file.as_bytes(), &keys(1), datetime!(2026-01-09 0:00 UTC)).unwrap();
        assert!(matches!(stale.validity, Validity::FileExpired(_)));
        let over = verify(file.as_bytes(), &keys(1), datetime!(2026-03-01 0:00 UTC)).unwrap();
        assert_eq!(
            over.validity,
            Validity::LicenseExpired("2026-02-01T00:00:00Z".into())
        );
    }

    #[test]
    fn any_altered_byte_or_another_key_fails() {
        let now = datetime!(2026-01-02 0:00 UTC);
        let file = sign(payload(), "k1", &key(1));
        assert_eq!(
            verify(file.to_text().as_bytes(), &keys(2), now),
            Err(LicenseFileError::BadSignature)
        );
        let raw = URL_SAFE_NO_PAD.decode(&file.payload).unwrap();
        for i in 0..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 0x01;
            let f = LicenseFile {
                payload: URL_SAFE_NO_PAD.encode(&changed),
                ..file.clone()
            };
            assert!(
                verify(f.to_text().as_bytes(), &keys(1), now).is_err(),
                "byte {i}"
            );
        }
        let mut sig = URL_SAFE_NO_PAD.decode(&file.signature).unwrap();
        sig[10] ^= 0x80;
        let f = LicenseFile {
            signature: URL_SAFE_NO_PAD.encode(&sig),
            ..file.clone()
        };
        assert_eq!(
            verify(f.to_text().as_bytes(), &keys(1), now),
            Err(LicenseFileError::BadSignature)
        );
        let f = LicenseFile {
            key_id: "k9".into(),
            ..file
        };
        assert!(matches!(
            verify(f.to_text().as_bytes(), &keys(1), now),
            Err(LicenseFileError::UnknownKey(_))
        ));
        assert!(matches!(
            verify(b"{}", &keys(1), now),
            Err(LicenseFileError::Malformed(_))
        ));
    }
}
