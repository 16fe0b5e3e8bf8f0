//! Joint-operation Kit (联营Kit) bodies (spec §8). The operation is chosen by the URL path
//! (see [`crate::kit`] for paths and signing), not by an `activity` field.
//!
//! Integers (`flag`, `testFlag`, `employeeType`) are documented as ints and serialised as JSON
//! numbers; parsing also accepts them as numeric strings. Unknown fields are ignored, except
//! on [`KitUser`], which keeps them in `extra` (the user schema is the most likely to grow).

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};

/// Shared helpers of the Kit bodies.
pub trait KitBody: Serialize + DeserializeOwned {
    /// The body as sent (compact JSON, fields in declaration order). Sign exactly these bytes.
    fn to_body(&self) -> Vec<u8> {
        // Plain structs of strings, integers and maps always serialise.
        serde_json::to_vec(self).expect("Kit body serialises")
    }

    /// Parses a received body.
    fn from_body(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// `tenantSync` — a tenant (enterprise) was added (`flag` 1) or deleted (`flag` 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSync {
    /// Instance id (empty when the seller applies for an app credential).
    #[serde(default, deserialize_with = "crate::lenient::string")]
    pub instance_id: String,
    /// Order id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub order_id: String,
    /// Tenant id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub tenant_id: String,
    /// Tenant code.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub tenant_code: String,
    /// Tenant name.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub name: String,
    /// OneAccess domain of the tenant (used for SSO).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub domain_name: String,
    /// 0 = delete, 1 = add.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub flag: i64,
    /// 0 = production, 1 = debugging.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub test_flag: i64,
    /// `yyyyMMddHHmmssSSS`, Beijing time (part of the v1 token key).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub time_stamp: String,
}

impl KitBody for TenantSync {}

/// One user of an authSync v2 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KitUser {
    /// Login name.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub user_name: String,
    /// Display name.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub name: String,
    /// Organisation code.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub org_code: String,
    /// Position.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub position: Option<String>,
    /// Employee number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub employee_code: Option<String>,
    /// Employee type.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_int"
    )]
    pub employee_type: Option<i64>,
    /// `user` or `admin`.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub role: String,
    /// `"true"` / `"false"`.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub enable: String,
    /// Mobile number.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub mobile: Option<String>,
    /// E-mail.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub email: Option<String>,
    /// Work place.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::lenient::opt_string"
    )]
    pub work_place: Option<String>,
    /// Fields this crate does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `authSync` v1 — user authorisation changes; `userList` is a JSON *string*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSyncV1 {
    /// Instance id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub instance_id: String,
    /// Tenant id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub tenant_id: String,
    /// Application id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub app_id: String,
    /// JSON text of the user list; see [`AuthSyncV1::users`].
    #[serde(deserialize_with = "crate::lenient::string")]
    pub user_list: String,
    /// Time of this sync (format \[U\]; kept as text).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub current_sync_time: String,
    /// 0 delete, 1 add, 2 modify.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub flag: i64,
    /// 0 = production, 1 = debugging.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub test_flag: i64,
    /// `yyyyMMddHHmmssSSS`, Beijing time.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub time_stamp: String,
}

impl KitBody for AuthSyncV1 {}

impl AuthSyncV1 {
    /// The users encoded in `userList`.
    pub fn users(&self) -> Result<Vec<KitUser>, serde_json::Error> {
        serde_json::from_str(&self.user_list)
    }
}

/// `authSync` v2 — as v1 but `userList` is a real array (≤ 500 users); `flag` 3 = cancel
/// authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSyncV2 {
    /// Instance id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub instance_id: String,
    /// Tenant id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub tenant_id: String,
    /// Application id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub app_id: String,
    /// The users.
    pub user_list: Vec<KitUser>,
    /// Time of this sync (format \[U\]; kept as text).
    #[serde(deserialize_with = "crate::lenient::string")]
    pub current_sync_time: String,
    /// 0 delete, 1 add, 2 modify, 3 cancel authorisation.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub flag: i64,
    /// 0 = production, 1 = debugging.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub test_flag: i64,
    /// `yyyyMMddHHmmssSSS`, Beijing time.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub time_stamp: String,
}

impl KitBody for AuthSyncV2 {}

/// One organisation of an allOrgSync body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgInfo {
    /// Organisation code.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub org_code: String,
    /// Organisation name.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub org_name: String,
    /// Parent organisation code.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub parent_code: String,
}

/// `allOrgSync` (v2 only) — the full organisation tree of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllOrgSync {
    /// Instance id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub instance_id: String,
    /// Tenant id.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub tenant_id: String,
    /// The organisations.
    pub org_info_list: Vec<OrgInfo>,
    /// 0 = production, 1 = debugging.
    #[serde(deserialize_with = "crate::lenient::int")]
    pub test_flag: i64,
    /// `yyyyMMddHHmmssSSS`, Beijing time.
    #[serde(deserialize_with = "crate::lenient::string")]
    pub time_stamp: String,
}

impl KitBody for AllOrgSync {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SellerKey;

    #[test]
    fn tenant_sync_signs_and_parses() {
        let body = TenantSync {
            instance_id: String::new(),
            order_id: "CS1".into(),
            tenant_id: "t".into(),
            tenant_code: "c".into(),
            name: "n".into(),
            domain_name: "d.example".into(),
            flag: 1,
            test_flag: 0,
            time_stamp: "20220420114117642".into(),
        };
        let bytes = body.to_body();
        assert!(String::from_utf8_lossy(&bytes).contains("\"flag\":1"));
        let key = SellerKey::new("k");
        let token = crate::kit::sign_kit_v1(&key, &bytes).unwrap();
        assert_eq!(
            crate::kit::verify_kit_v1(&key, &bytes, Some(&token)),
            Ok(())
        );
        assert_eq!(TenantSync::from_body(&bytes).unwrap(), body);
        // Numbers as strings are accepted.
        let lenient = String::from_utf8(bytes)
            .unwrap()
            .replace("\"flag\":1", "\"flag\":\"1\"");
        assert_eq!(TenantSync::from_body(lenient.as_bytes()).unwrap().flag, 1);
    }

    #[test]
    fn auth_sync_users_keep_unknown_fields() {
        let v2 = br#"{"instanceId":"i","tenantId":"t","appId":"a","currentSyncTime":1650426077642,
            "flag":3,"testFlag":1,"timeStamp":"20220420114117642",
            "userList":[{"userName":"u","name":"U","orgCode":"o","role":"admin","enable":true,
                         "employeeType":"2","newField":{"x":1}}]}"#;
        let parsed = AuthSyncV2::from_body(v2).unwrap();
        let user = &parsed.user_list[0];
        assert_eq!(user.enable, "true");
        assert_eq!(user.employee_type, Some(2));
        assert_eq!(user.extra["newField"]["x"], 1);
        assert_eq!(parsed.current_sync_time, "1650426077642");
        let again = AuthSyncV2::from_body(&parsed.to_body()).unwrap();
        assert_eq!(again, parsed);

        let v1 = AuthSyncV1 {
            instance_id: "i".into(),
            tenant_id: "t".into(),
            app_id: "a".into(),
            user_list: serde_json::to_string(&parsed.user_list).unwrap(),
            current_sync_time: "x".into(),
            flag: 1,
            test_flag: 0,
            time_stamp: "20220420114117642".into(),
        };
        assert_eq!(v1.users().unwrap(), parsed.user_list);
    }

    #[test]
    fn all_org_sync_round_trips() {
        let body = AllOrgSync {
            instance_id: "i".into(),
            tenant_id: "t".into(),
            org_info_list: vec![OrgInfo {
                org_code: "root".into(),
                org_name: "总部".into(),
                parent_code: String::new(),
            }],
            test_flag: 0,
            time_stamp: "20220420114117642".into(),
        };
        assert_eq!(AllOrgSync::from_body(&body.to_body()).unwrap(), body);
    }
}
