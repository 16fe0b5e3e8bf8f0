//! The License open API's answers (spec §6 and §9.3): what a seller's license server reads back
//! from `…/license/activate` and `…/license/heartbeat` (v1: one code; v2: a batch), and the API
//! gateway's refusal of a request whose AK/SK signature does not verify.
//!
//! KooGallery's LicenseInfo fields are snake_case on this API (unlike the saascenter calls);
//! Souk adds `seats`, `machines_in_use` and `souk_state`.

use crate::codes::LicenseErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One license of an activate or heartbeat request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseRequest {
    /// The license code.
    pub license: String,
    /// `real_effect_time`, `yyyyMMddHHmmss` UTC (activate only).
    pub real_effect_time: Option<String>,
    /// Souk extension: the machine (floating seats); `fingerprint` is accepted too.
    pub machine_fingerprint: Option<String>,
}

impl LicenseRequest {
    /// Reads `{"license": …, "real_effect_time": …, "machine_fingerprint": …}` (a bare string
    /// in a batch is a license alone). `None`: not an object with a string `license`.
    pub fn from_json(v: &Value) -> Option<LicenseRequest> {
        if let Value::String(s) = v {
            return Some(LicenseRequest {
                license: s.clone(),
                ..Default::default()
            });
        }
        let obj = v.as_object()?;
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(LicenseRequest {
            license: text("license")?,
            real_effect_time: text("real_effect_time"),
            machine_fingerprint: text("machine_fingerprint").or_else(|| text("fingerprint")),
        })
    }

    /// The items of a v2 (batch) request body's `licenses`; `None` when it is not an array.
    pub fn batch_items(body: &Value) -> Option<&[Value]> {
        body.get("licenses")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }
}

/// `error_code` of the gateway's refusal of a bad AK/SK signature (HTTP 401).
pub const APIG_AUTH_FAILED: &str = "APIG.0301";

/// Every answer of the License open API (and the open APIs' refusals of malformed requests,
/// whose `error_code` is a gateway code such as `95000001`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseAnswer<D> {
    /// `92020000` on success; otherwise the license error code.
    pub error_code: LicenseErrorCode,
    /// A message for people.
    pub error_msg: String,
    /// v1: the license; v2: [`BatchResults`]. Absent when there is nothing to tell.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<D>,
}

fn none<D>() -> Option<D> {
    None
}

impl<D> LicenseAnswer<D> {
    /// An answer without data.
    pub fn bare(error_code: LicenseErrorCode, error_msg: impl Into<String>) -> Self {
        LicenseAnswer {
            error_code,
            error_msg: error_msg.into(),
            data: None,
        }
    }
}

/// KooGallery's LicenseInfo, plus Souk's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseInfo {
    /// The license code.
    pub license_code: String,
    /// `ALIVE`, `EXPIRED` or `RELEASED`.
    pub status: String,
    /// `yyyyMMddHHmmss` UTC; empty when not activated.
    pub activate_time: String,
    /// When the license takes effect (`yyyyMMddHHmmss` UTC).
    pub effective_time: String,
    /// Empty for a code that never expires.
    pub expire_time: String,
    /// The product.
    pub product_id: String,
    /// The SKU bought.
    pub sku_id: String,
    /// The order that bought the code.
    pub order_id: String,
    /// The instance the code belongs to.
    pub instance_id: String,
    /// The instance's quantity, as text.
    pub amount: String,
    /// Souk: machines that may hold the code at once.
    pub seats: u32,
    /// Souk: live machines now.
    pub machines_in_use: u64,
    /// Souk: the instance's state (`active`, `grace`, `frozen`, …).
    pub souk_state: String,
    /// Activation only: [`LicenseCodeInfo`] as JSON text, as KooGallery sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_code_info: Option<String>,
}

/// What an activation answer carries as text in `license_code_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseCodeInfo {
    /// `ALIVE`, `EXPIRED` or `RELEASED`.
    pub status: String,
    /// `yyyyMMddHHmmss` UTC; empty for a code that never expires.
    pub expire_time: String,
    /// The product.
    pub product_id: String,
    /// The order that bought the code.
    pub order_id: String,
    /// The instance's quantity, as text.
    pub amount: String,
}

impl LicenseCodeInfo {
    /// The JSON text of `license_code_info`.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The `data` of a v2 (batch) answer: one result per code asked, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResults {
    /// One per code asked.
    pub results: Vec<BatchResult>,
}

/// One code's answer within a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The code asked about.
    pub license: String,
    /// Its answer's code.
    pub error_code: LicenseErrorCode,
    /// Its answer's message.
    pub error_msg: String,
    /// The license, when the code was answered with success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<LicenseInfo>,
}

/// The gateway's refusal of a request whose AK/SK signature does not verify (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRefusal {
    /// Always [`APIG_AUTH_FAILED`].
    pub error_code: String,
    /// A message for people.
    pub error_msg: String,
    /// Souk: why, for the seller's logs (`unknown_access_key`, `bad_signature`, …).
    pub souk_reason: String,
}

impl GatewayRefusal {
    /// The refusal of a signature that failed for `reason` (`message` says it for people).
    pub fn auth_failed(message: &str, reason: &str) -> Self {
        GatewayRefusal {
            error_code: APIG_AUTH_FAILED.to_owned(),
            error_msg: format!("AK/SK authentication failed: {message}"),
            souk_reason: reason.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_keep_koogallerys_field_names_and_omit_absent_data() {
        let bare: LicenseAnswer<LicenseInfo> =
            LicenseAnswer::bare(LicenseErrorCode::BadParameter, "bad parameter");
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"error_code": LicenseErrorCode::BadParameter.as_str(), "error_msg": "bad parameter"})
        );
        let batch = LicenseAnswer {
            error_code: LicenseErrorCode::Success,
            error_msg: "success".into(),
            data: Some(BatchResults {
                results: vec![BatchResult {
                    license: "SOUK-1".into(),
                    error_code: LicenseErrorCode::Success,
                    error_msg: "success".into(),
                    data: None,
                }],
            }),
        };
        let v = serde_json::to_value(&batch).unwrap();
        assert_eq!(v["error_code"], "92020000");
        assert_eq!(v["data"]["results"][0]["license"], "SOUK-1");
        assert!(v["data"]["results"][0].get("data").is_none());
        let back: LicenseAnswer<BatchResults> = serde_json::from_value(v).unwrap();
        assert_eq!(back, batch);
    }

    #[test]
    fn requests_are_read_leniently() {
        let r = LicenseRequest::from_json(&json!({"license": "A", "fingerprint": "m1"})).unwrap();
        assert_eq!(r.machine_fingerprint.as_deref(), Some("m1"));
        assert_eq!(
            LicenseRequest::from_json(&json!("B")).unwrap().license,
            "B",
            "a bare string in a batch"
        );
        assert!(LicenseRequest::from_json(&json!({"license": 7})).is_none());
        let body = json!({"licenses": ["A", {"license": "B"}]});
        assert_eq!(LicenseRequest::batch_items(&body).unwrap().len(), 2);
        assert!(LicenseRequest::batch_items(&json!({"licenses": "A"})).is_none());
    }

    #[test]
    fn the_gateway_refusal_says_why() {
        let r = GatewayRefusal::auth_failed("unknown access key", "unknown_access_key");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "error_code": "APIG.0301",
                "error_msg": "AK/SK authentication failed: unknown access key",
                "souk_reason": "unknown_access_key",
            })
        );
        let info = LicenseCodeInfo {
            status: "ALIVE".into(),
            expire_time: String::new(),
            product_id: "prd_1".into(),
            order_id: "ord_1".into(),
            amount: "1".into(),
        };
        let text: serde_json::Value = serde_json::from_str(&info.to_text()).unwrap();
        assert_eq!(text["order_id"], "ord_1");
    }
}
