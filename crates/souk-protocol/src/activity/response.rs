//! The seller's JSON answer to every production-interface call (spec §3, §5, §8, §9.4).
//!
//! One struct covers all activities: each uses a subset (`instanceId` + `appInfo` for
//! newInstance, `license` for getLicense, `info` for queryInstance, just `resultCode` /
//! `resultMsg` for the rest). Absent fields are omitted when serialising; unknown fields are
//! ignored when parsing; only `resultCode` is required.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::body_sign::body_sign;
use crate::codes::ResultCode;
use crate::credentials::{decrypt, encrypt_random_iv, CryptoError, EncryptType};
use crate::secret::SellerKey;

/// Credentials and URLs of an instance. `user_name` / `password` are AES ciphertexts
/// ([`crate::credentials`]); at most 128 characters *including* the IV.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// Front-end URL (mandatory when `appInfo` is present; ≤ 512).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub front_end_url: Option<String>,
    /// Admin URL (≤ 512).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub admin_url: Option<String>,
    /// Encrypted user name.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub user_name: Option<String>,
    /// Encrypted password.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub password: Option<String>,
    /// Free text (≤ 1024); [`SellerResponse::to_body`] escapes non-ASCII as `\uXXXX`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub memo: Option<String>,
}

impl AppInfo {
    /// Sets `user_name` and `password`, encrypted with fresh random IVs.
    pub fn with_credentials<R: Rng + ?Sized>(
        mut self,
        key: &SellerKey,
        encrypt_type: EncryptType,
        user_name: &str,
        password: &str,
        rng: &mut R,
    ) -> Self {
        self.user_name = Some(encrypt_random_iv(key, encrypt_type, user_name, rng));
        self.password = Some(encrypt_random_iv(key, encrypt_type, password, rng));
        self
    }

    /// Decrypts `user_name` (if present).
    pub fn decrypt_user_name(
        &self,
        key: &SellerKey,
        encrypt_type: EncryptType,
    ) -> Result<Option<String>, CryptoError> {
        self.user_name
            .as_deref()
            .map(|c| decrypt(key, encrypt_type, c))
            .transpose()
    }

    /// Decrypts `password` (if present).
    pub fn decrypt_password(
        &self,
        key: &SellerKey,
        encrypt_type: EncryptType,
    ) -> Result<Option<String>, CryptoError> {
        self.password
            .as_deref()
            .map(|c| decrypt(key, encrypt_type, c))
            .transpose()
    }
}

/// Usage of an on-demand (package) instance, in a queryInstance answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageInfo {
    /// Related instance (≤ 64).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub related_instance_id: Option<String>,
    /// Cumulative (on-demand) or used (package) amount, Double(12,4). Kept as decimal text;
    /// accepted as a number or a string, emitted as a string (\[I\]).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub usage_value: String,
    /// `yyyyMMddHHmmssSSS` UTC.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub statistical_time: String,
    /// Dashboard URL (≤ 512).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub dashboard_url: Option<String>,
}

/// One instance in a queryInstance answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    /// The instance.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub instance_id: String,
    /// Its credentials / URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// Its usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_info: Option<Vec<UsageInfo>>,
}

/// The seller's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerResponse {
    /// `000000` = success.
    pub result_code: ResultCode,
    /// Human-readable message (≤ 255).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub result_msg: Option<String>,
    /// `"1"` AES-256 (default) / `"2"` AES-128, verbatim; read it with
    /// [`SellerResponse::encrypt_type`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub encrypt_type: Option<String>,
    /// The seller's instance id (newInstance, getLicense).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub instance_id: Option<String>,
    /// Credentials / URLs (newInstance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// License / activation code (getLicense, getLicenseAsync).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub license: Option<String>,
    /// Instances (queryInstance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Vec<InstanceInfo>>,
}

impl SellerResponse {
    /// A response with only `resultCode` and `resultMsg`.
    pub fn new(result_code: ResultCode, result_msg: impl Into<String>) -> Self {
        SellerResponse {
            result_code,
            result_msg: Some(result_msg.into()),
            encrypt_type: None,
            instance_id: None,
            app_info: None,
            license: None,
            info: None,
        }
    }

    /// `000000` / `success.` (the wording of the doc examples).
    pub fn success() -> Self {
        Self::new(ResultCode::Success, "success.")
    }

    /// An error response with the code's documented description as message.
    pub fn error(result_code: ResultCode) -> Self {
        let msg = result_code.description();
        Self::new(result_code, msg)
    }

    /// The effective `encryptType` (absent → AES-256).
    pub fn encrypt_type(&self) -> Result<EncryptType, CryptoError> {
        EncryptType::from_field(self.encrypt_type.as_deref())
    }

    /// Parses a received body.
    pub fn from_body(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// Compact JSON with non-ASCII characters escaped as `\uXXXX` (the docs ask for that in
    /// `memo`; escaping everywhere keeps the body plain ASCII for every client).
    pub fn to_body(&self) -> Vec<u8> {
        // Strings, enums-as-strings and vectors always serialise.
        let json = serde_json::to_string(self).expect("response serialises");
        escape_non_ascii(&json).into_bytes()
    }

    /// The body and its `Body-Sign` header value, signed over exactly those bytes.
    pub fn to_signed_body(&self, key: &SellerKey) -> (Vec<u8>, String) {
        let body = self.to_body();
        let header = body_sign(key, &body);
        (body, header)
    }
}

/// Escapes every non-ASCII character as `\uXXXX` (UTF-16 units). In serde_json output
/// non-ASCII characters only occur inside strings, so this is a valid JSON transformation.
fn escape_non_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body_sign::verify_body_sign;

    #[test]
    fn the_10_2_body_is_produced_exactly() {
        let key = SellerKey::new("test-key-0123");
        let (body, header) = SellerResponse::success().to_signed_body(&key);
        assert_eq!(body, br#"{"resultCode":"000000","resultMsg":"success."}"#);
        assert!(header.contains("uwFlhKi4SK2oe+Bik4SNIg/kEWKv8EPKGp5PCLPyxqA="));
        assert_eq!(verify_body_sign(&key, &body, Some(&header)), Ok(()));
    }

    #[test]
    fn new_instance_response_with_encrypted_credentials() {
        let key = SellerKey::new("k");
        let mut rng = rand::thread_rng();
        let mut response = SellerResponse::success();
        response.instance_id = Some("ins-1".into());
        response.encrypt_type = Some("2".into());
        response.app_info = Some(
            AppInfo {
                front_end_url: Some("https://app.example/".into()),
                memo: Some("欢迎 😀".into()),
                ..AppInfo::default()
            }
            .with_credentials(&key, EncryptType::Aes128, "admin", "s3cret", &mut rng),
        );
        let body = response.to_body();
        assert!(body.is_ascii());
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains(r#""memo":"\u6b22\u8fce \ud83d\ude00""#),
            "{text}"
        );
        assert!(text.contains(r#""frontEndUrl":"https://app.example/""#));
        let parsed = SellerResponse::from_body(&body).unwrap();
        assert_eq!(parsed, response);
        let enc = parsed.encrypt_type().unwrap();
        let app = parsed.app_info.unwrap();
        assert_eq!(
            app.decrypt_user_name(&key, enc).unwrap().as_deref(),
            Some("admin")
        );
        assert_eq!(
            app.decrypt_password(&key, enc).unwrap().as_deref(),
            Some("s3cret")
        );
    }

    #[test]
    fn parsing_tolerates_unknown_fields_codes_and_numbers() {
        let parsed = SellerResponse::from_body(
            br#"{"resultCode":"000999","resultMsg":null,"foo":[1,2],"encryptType":1,
                "info":[{"instanceId":"a","usageInfo":[{"usageValue":12.5,"statisticalTime":"20240101000000000"}]}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.result_code, ResultCode::Other("000999".into()));
        assert_eq!(parsed.result_msg, None);
        assert_eq!(parsed.encrypt_type().unwrap(), EncryptType::Aes256);
        let info = parsed.info.unwrap();
        assert_eq!(info[0].usage_info.as_ref().unwrap()[0].usage_value, "12.5");
        assert!(SellerResponse::from_body(br#"{"resultMsg":"x"}"#).is_err());
        assert_eq!(
            SellerResponse::from_body(br#"{"resultCode":"000000"}"#)
                .unwrap()
                .encrypt_type(),
            Ok(EncryptType::Aes256)
        );
    }

    #[test]
    fn license_and_error_responses() {
        let mut r = SellerResponse::error(ResultCode::InstanceNotFound);
        assert_eq!(r.result_msg.as_deref(), Some("instance id not found"));
        r.license = Some("LIC-1".into());
        let text = String::from_utf8(r.to_body()).unwrap();
        assert_eq!(
            text,
            r#"{"resultCode":"000003","resultMsg":"instance id not found","license":"LIC-1"}"#
        );
    }
}
