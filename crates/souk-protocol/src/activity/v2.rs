//! V2 activities: HTTP POST, JSON body tagged by `activity` (spec §5), plus the License 2.0
//! seller interfaces (spec §9.4), which use the same transport and signature.
//!
//! Parse received bodies with [`V2Activity::from_body`]: it accepts numbers/booleans where
//! strings are documented, ignores unknown fields and reports an unknown `activity` as
//! [`V2ParseError::UnknownActivity`]. Produce bodies with [`V2Activity::to_body`]: compact,
//! keys sorted, every value a string — sign exactly those bytes with
//! [`crate::v2::V2Credentials::sign`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::activity::values::{FreezeStatus, RefreshScene, TestFlag};
use crate::v2::canonical_body;

/// Why a V2 body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum V2ParseError {
    /// Not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("body is not a JSON object")]
    NotAnObject,
    /// No (string) `activity` field.
    #[error("body has no activity")]
    MissingActivity,
    /// An `activity` this crate does not know.
    #[error("unknown activity {0:?}")]
    UnknownActivity(String),
    /// A known activity with missing or malformed fields.
    #[error("invalid {activity} body: {reason}")]
    Invalid {
        /// The activity.
        activity: String,
        /// What serde reported (names the field).
        reason: String,
    },
}

/// `newInstance` — create the instance; the seller fetches order details via the order-query
/// API. Answer `000000` (done) or `000004` (accepted; the marketplace then polls queryInstance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewInstance {
    /// Order id (stable across retries).
    pub order_id: String,
    /// Order line id.
    pub order_line_id: String,
    /// Business id (different on every call).
    pub business_id: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `queryInstance` — instance information (comma-separated batch of ≤ 100 ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryInstance {
    /// Comma-separated instance ids.
    pub instance_id: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

impl QueryInstance {
    /// The individual instance ids.
    pub fn instance_ids(&self) -> Vec<&str> {
        self.instance_id
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// `refreshInstance` — trial→paid, renewal, renewal refund or renewal change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshInstance {
    /// Why the expiry changes.
    pub scene: RefreshScene,
    /// The conversion / renewal / refunded order.
    pub order_id: String,
    /// Its order line.
    pub order_line_id: String,
    /// The instance.
    pub instance_id: String,
    /// New product id if the period type changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// New expiry; documented `yyyyMMddHHmmss` UTC but seen with 17 digits, so kept as text
    /// (see [`crate::timestamp::parse_expire_time`]).
    pub expire_time: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `updateInstanceStatus` — freeze / unfreeze.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInstanceStatus {
    /// The instance.
    pub instance_id: String,
    /// `FREEZE` / `UNFREEZE`.
    pub status: FreezeStatus,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `releaseInstance` — delete the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseInstance {
    /// The instance.
    pub instance_id: String,
    /// The unsubscribe order, only when the release follows an unsubscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Its order line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_line_id: Option<String>,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `upgradeInstance` — specification change; details via the order-query API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeInstance {
    /// The instance (unchanged).
    pub instance_id: String,
    /// The upgrade order.
    pub order_id: String,
    /// Its order line.
    pub order_line_id: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `getLicenseAsync` — online-License products: issue a license (`000000`) or accept (`000004`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLicenseAsync {
    /// The instance.
    pub instance_id: String,
    /// Start of validity, e.g. `2023-10-27 10:30:15 z` (format as documented, kept as text).
    pub effective_time: String,
    /// End of validity (mandatory for period products).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Idempotency key (together with the device fingerprint).
    pub event_id: String,
    /// Device fingerprint (≤ 1024 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_fingerprint: Option<String>,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// `orderNotify` — newest flavour: "an order changed, query it".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNotify {
    /// The order.
    pub order_id: String,
    /// Its order line.
    pub order_line_id: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// License 2.0 `refreshLicenseCode` — new expiry of a license code (scene `RENEWAL` or
/// `UNSUBSCRIBE_RENEWAL_PERIOD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshLicenseCode {
    /// Why the expiry changes.
    pub scene: RefreshScene,
    /// The renewal / refunded order.
    pub order_id: String,
    /// Its order line.
    pub order_line_id: String,
    /// The license code.
    pub license: String,
    /// New product id, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// New expiry `yyyyMMddHHmmss` UTC.
    pub expire_time: String,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// License 2.0 `updateLicenseCodeStatus` — freeze / unfreeze a license code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateLicenseCodeStatus {
    /// The license code.
    pub license: String,
    /// `FREEZE` / `UNFREEZE`.
    pub status: FreezeStatus,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// License 2.0 `releaseLicenseCode` — release a license code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseLicenseCode {
    /// The license code.
    pub license: String,
    /// The unsubscribe order, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Its order line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_line_id: Option<String>,
    /// `1` for debugging calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_flag: Option<TestFlag>,
}

/// Any V2 / License 2.0 activity; serde form `{"activity":"newInstance",…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "activity", rename_all = "camelCase")]
pub enum V2Activity {
    /// `newInstance`.
    NewInstance(NewInstance),
    /// `queryInstance`.
    QueryInstance(QueryInstance),
    /// `refreshInstance`.
    RefreshInstance(RefreshInstance),
    /// `updateInstanceStatus`.
    UpdateInstanceStatus(UpdateInstanceStatus),
    /// `releaseInstance`.
    ReleaseInstance(ReleaseInstance),
    /// `upgradeInstance`.
    UpgradeInstance(UpgradeInstance),
    /// `getLicenseAsync`.
    GetLicenseAsync(GetLicenseAsync),
    /// `orderNotify`.
    OrderNotify(OrderNotify),
    /// `refreshLicenseCode` (License 2.0).
    RefreshLicenseCode(RefreshLicenseCode),
    /// `updateLicenseCodeStatus` (License 2.0).
    UpdateLicenseCodeStatus(UpdateLicenseCodeStatus),
    /// `releaseLicenseCode` (License 2.0).
    ReleaseLicenseCode(ReleaseLicenseCode),
}

macro_rules! from_variant {
    ($($name:ident = $activity:literal),*) => {
        $(impl $name {
            /// The `activity` value.
            pub const ACTIVITY: &'static str = $activity;
        }

        impl From<$name> for V2Activity {
            fn from(a: $name) -> Self {
                V2Activity::$name(a)
            }
        })*
    };
}

from_variant!(
    NewInstance = "newInstance",
    QueryInstance = "queryInstance",
    RefreshInstance = "refreshInstance",
    UpdateInstanceStatus = "updateInstanceStatus",
    ReleaseInstance = "releaseInstance",
    UpgradeInstance = "upgradeInstance",
    GetLicenseAsync = "getLicenseAsync",
    OrderNotify = "orderNotify",
    RefreshLicenseCode = "refreshLicenseCode",
    UpdateLicenseCodeStatus = "updateLicenseCodeStatus",
    ReleaseLicenseCode = "releaseLicenseCode"
);

/// Replaces numbers and booleans by their text, recursively (nulls stay null = absent).
fn stringify_scalars(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(stringify_scalars),
        Value::Array(items) => items.iter_mut().for_each(stringify_scalars),
        Value::Number(n) => *value = Value::String(n.to_string()),
        Value::Bool(b) => *value = Value::String(b.to_string()),
        Value::String(_) | Value::Null => {}
    }
}

impl V2Activity {
    /// Every `activity` value this crate knows.
    pub const ACTIVITIES: [&'static str; 11] = [
        NewInstance::ACTIVITY,
        QueryInstance::ACTIVITY,
        RefreshInstance::ACTIVITY,
        UpdateInstanceStatus::ACTIVITY,
        ReleaseInstance::ACTIVITY,
        UpgradeInstance::ACTIVITY,
        GetLicenseAsync::ACTIVITY,
        OrderNotify::ACTIVITY,
        RefreshLicenseCode::ACTIVITY,
        UpdateLicenseCodeStatus::ACTIVITY,
        ReleaseLicenseCode::ACTIVITY,
    ];

    /// Parses a received body leniently (see the module docs). Never panics.
    pub fn from_body(body: &[u8]) -> Result<Self, V2ParseError> {
        let mut value: Value =
            serde_json::from_slice(body).map_err(|e| V2ParseError::NotJson(e.to_string()))?;
        let Value::Object(map) = &value else {
            return Err(V2ParseError::NotAnObject);
        };
        let activity = match map.get("activity") {
            Some(Value::String(a)) => a.clone(),
            _ => return Err(V2ParseError::MissingActivity),
        };
        if !Self::ACTIVITIES.contains(&activity.as_str()) {
            return Err(V2ParseError::UnknownActivity(crate::lenient::excerpt(
                &activity,
            )));
        }
        stringify_scalars(&mut value);
        serde_json::from_value(value).map_err(|e| V2ParseError::Invalid {
            activity,
            reason: e.to_string(),
        })
    }

    /// The body to send: compact JSON, keys sorted, every value a string.
    pub fn to_body(&self) -> Vec<u8> {
        // Plain structs of strings always serialise.
        let value = serde_json::to_value(self).expect("V2 activity serialises");
        canonical_body(&value)
    }

    /// The `activity` value.
    pub fn activity(&self) -> &'static str {
        let index = match self {
            V2Activity::NewInstance(_) => 0,
            V2Activity::QueryInstance(_) => 1,
            V2Activity::RefreshInstance(_) => 2,
            V2Activity::UpdateInstanceStatus(_) => 3,
            V2Activity::ReleaseInstance(_) => 4,
            V2Activity::UpgradeInstance(_) => 5,
            V2Activity::GetLicenseAsync(_) => 6,
            V2Activity::OrderNotify(_) => 7,
            V2Activity::RefreshLicenseCode(_) => 8,
            V2Activity::UpdateLicenseCodeStatus(_) => 9,
            V2Activity::ReleaseLicenseCode(_) => 10,
        };
        Self::ACTIVITIES[index]
    }

    /// Whether `testFlag=1`.
    pub fn is_test(&self) -> bool {
        let flag = match self {
            V2Activity::NewInstance(a) => &a.test_flag,
            V2Activity::QueryInstance(a) => &a.test_flag,
            V2Activity::RefreshInstance(a) => &a.test_flag,
            V2Activity::UpdateInstanceStatus(a) => &a.test_flag,
            V2Activity::ReleaseInstance(a) => &a.test_flag,
            V2Activity::UpgradeInstance(a) => &a.test_flag,
            V2Activity::GetLicenseAsync(a) => &a.test_flag,
            V2Activity::OrderNotify(a) => &a.test_flag,
            V2Activity::RefreshLicenseCode(a) => &a.test_flag,
            V2Activity::UpdateLicenseCodeStatus(a) => &a.test_flag,
            V2Activity::ReleaseLicenseCode(a) => &a.test_flag,
        };
        flag.as_ref().is_some_and(TestFlag::is_debug)
    }

    /// Whether this is one of the License 2.0 seller interfaces.
    pub fn is_license_code(&self) -> bool {
        matches!(
            self,
            V2Activity::RefreshLicenseCode(_)
                | V2Activity::UpdateLicenseCodeStatus(_)
                | V2Activity::ReleaseLicenseCode(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SellerKey;
    use crate::v2::{V2Credentials, DEFAULT_WINDOW};

    const VECTOR_BODY: &str = r#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;

    #[test]
    fn the_10_4_body_round_trips_byte_for_byte() {
        let activity = V2Activity::from_body(VECTOR_BODY.as_bytes()).unwrap();
        let V2Activity::NewInstance(n) = &activity else {
            panic!()
        };
        assert_eq!(n.order_line_id, "CS2211181819B4LVS-000001");
        assert!(activity.is_test());
        assert_eq!(activity.to_body(), VECTOR_BODY.as_bytes());
        let creds = V2Credentials::sign(
            &SellerKey::new("test-key-0123"),
            &activity.to_body(),
            "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA",
            1_680_508_066_618,
        );
        assert_eq!(
            creds.signature,
            "67F83ADD41A15F30E50764FB6C07A7BAAD3D4DC44FAFA7CB83A5671622F0D84E"
        );
        assert_eq!(
            creds.verify(
                &SellerKey::new("test-key-0123"),
                VECTOR_BODY.as_bytes(),
                1_680_508_066_618,
                DEFAULT_WINDOW,
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn parsing_is_lenient_but_reports_clear_errors() {
        let a = V2Activity::from_body(
            br#"{"testFlag":0,"status":"UNFREEZE","instanceId":123,"activity":"updateInstanceStatus","extra":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(
            a,
            V2Activity::UpdateInstanceStatus(UpdateInstanceStatus {
                instance_id: "123".into(),
                status: FreezeStatus::Unfreeze,
                test_flag: Some(TestFlag::Production),
            })
        );
        assert_eq!(
            V2Activity::from_body(br#"{"activity":"explode"}"#),
            Err(V2ParseError::UnknownActivity("explode".into()))
        );
        assert_eq!(V2Activity::from_body(b"[]"), Err(V2ParseError::NotAnObject));
        assert_eq!(
            V2Activity::from_body(b"{}"),
            Err(V2ParseError::MissingActivity)
        );
        assert!(matches!(
            V2Activity::from_body(b"{"),
            Err(V2ParseError::NotJson(_))
        ));
        let err = V2Activity::from_body(br#"{"activity":"refreshInstance","scene":"RENEWAL"}"#)
            .unwrap_err();
        let V2ParseError::Invalid { reason, .. } = err else {
            panic!("{err:?}")
        };
        assert!(reason.contains("orderId"), "{reason}");
    }

    #[test]
    fn every_activity_serialises_with_its_tag_sorted() {
        let samples: Vec<V2Activity> = vec![
            QueryInstance {
                instance_id: "a,b".into(),
                test_flag: None,
            }
            .into(),
            RefreshInstance {
                scene: RefreshScene::Other("NEW_SCENE".into()),
                order_id: "o".into(),
                order_line_id: "l".into(),
                instance_id: "i".into(),
                product_id: None,
                expire_time: "20221124023618256".into(),
                test_flag: None,
            }
            .into(),
            ReleaseInstance {
                instance_id: "i".into(),
                order_id: None,
                order_line_id: None,
                test_flag: None,
            }
            .into(),
            UpgradeInstance {
                instance_id: "i".into(),
                order_id: "o".into(),
                order_line_id: "l".into(),
                test_flag: None,
            }
            .into(),
            GetLicenseAsync {
                instance_id: "i".into(),
                effective_time: "2023-10-27 10:30:15 z".into(),
                expire_time: None,
                event_id: "e".into(),
                device_fingerprint: Some("fp".into()),
                test_flag: None,
            }
            .into(),
            OrderNotify {
                order_id: "o".into(),
                order_line_id: "l".into(),
                test_flag: None,
            }
            .into(),
            RefreshLicenseCode {
                scene: RefreshScene::Renewal,
                order_id: "o".into(),
                order_line_id: "l".into(),
                license: "LIC".into(),
                product_id: Some("p".into()),
                expire_time: "20250101000000".into(),
                test_flag: None,
            }
            .into(),
            UpdateLicenseCodeStatus {
                license: "LIC".into(),
                status: FreezeStatus::Freeze,
                test_flag: None,
            }
            .into(),
            ReleaseLicenseCode {
                license: "LIC".into(),
                order_id: None,
                order_line_id: None,
                test_flag: Some(TestFlag::Debug),
            }
            .into(),
        ];
        for a in samples {
            let body = a.to_body();
            let text = String::from_utf8(body.clone()).unwrap();
            assert!(
                text.starts_with(&format!("{{\"activity\":\"{}\"", a.activity())),
                "{text}"
            );
            assert_eq!(V2Activity::from_body(&body).unwrap(), a);
        }
    }

    #[test]
    fn activity_constants_are_the_serde_tags() {
        let new_instance = V2Activity::from(NewInstance {
            order_id: "o".into(),
            order_line_id: "l".into(),
            business_id: "b".into(),
            test_flag: None,
        });
        assert_eq!(new_instance.activity(), NewInstance::ACTIVITY);
        let status = V2Activity::from(UpdateInstanceStatus {
            instance_id: "i".into(),
            status: FreezeStatus::Freeze,
            test_flag: None,
        });
        assert_eq!(status.activity(), UpdateInstanceStatus::ACTIVITY);
        for a in [new_instance, status] {
            let body: Value = serde_json::from_slice(&a.to_body()).unwrap();
            assert_eq!(body["activity"], a.activity());
        }
        let unique: std::collections::BTreeSet<_> = V2Activity::ACTIVITIES.iter().collect();
        assert_eq!(unique.len(), V2Activity::ACTIVITIES.len());
    }
}
