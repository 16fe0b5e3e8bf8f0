//! V1 activities: HTTP GET, every parameter in the query string (spec §3).
//!
//! Each struct converts to and from a [`Params`] map. `to_params` yields exactly the present
//! parameters (including `activity`, `timeStamp` and any `extra`) but never `authToken`; sign
//! with [`crate::v1::sign_v1_params`]. `from_params` ignores `authToken`, treats an empty value
//! like an absent one, names the offending parameter in its error, and keeps parameters it
//! does not know in `extra` (sellers sign "all parameters", so the marketplace may add some).

use crate::activity::values::{ChargingMode, Decimal, InstanceState, PeriodType, TestFlag};
use crate::activity::{ParamError, ParamValue};
use crate::extend_params::{decode_extend_params, ExtendParam, ExtendParamsError};
use crate::query::Params;
use crate::timestamp::WireTime;
use crate::v1::{AUTH_TOKEN, TIME_STAMP};

/// The `activity` parameter name.
pub const ACTIVITY: &str = "activity";
const TEST_FLAG: &str = "testFlag";

fn present<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn parse_value<T: ParamValue>(name: &'static str, raw: &str) -> Result<T, ParamError> {
    T::from_param(raw).map_err(|reason| ParamError::Invalid {
        name,
        value: crate::lenient::excerpt(raw),
        reason,
    })
}

fn required<T: ParamValue>(params: &Params, name: &'static str) -> Result<T, ParamError> {
    let raw = present(params, name).ok_or(ParamError::Missing(name))?;
    parse_value(name, raw)
}

fn optional<T: ParamValue>(params: &Params, name: &'static str) -> Result<Option<T>, ParamError> {
    present(params, name)
        .map(|raw| parse_value(name, raw))
        .transpose()
}

fn check_activity(params: &Params, expected: &'static str) -> Result<(), ParamError> {
    match present(params, ACTIVITY) {
        None => Err(ParamError::Missing(ACTIVITY)),
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(ParamError::WrongActivity {
            expected,
            found: crate::lenient::excerpt(found),
        }),
    }
}

macro_rules! field_ty {
    (req $ty:ty) => { $ty };
    (opt $ty:ty) => { Option<$ty> };
}

macro_rules! put {
    (req $params:ident, $wire:literal, $value:expr) => {
        $params.insert($wire.to_owned(), ParamValue::to_param($value));
    };
    (opt $params:ident, $wire:literal, $value:expr) => {
        if let Some(v) = $value {
            $params.insert($wire.to_owned(), ParamValue::to_param(v));
        }
    };
}

macro_rules! take {
    (req $params:ident, $wire:literal) => {
        required($params, $wire)?
    };
    (opt $params:ident, $wire:literal) => {
        optional($params, $wire)?
    };
}

macro_rules! v1_activity {
    (
        $(#[$meta:meta])*
        $name:ident = $activity:literal {
            $( $(#[$fmeta:meta])* $field:ident : $kind:ident $ty:ty = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* #[doc = concat!("\n\nWire name `", $wire, "`.")] pub $field: field_ty!($kind $ty), )*
            /// `timeStamp`: request time, UTC `yyyyMMddHHmmssSSS` (part of the authToken key).
            pub time_stamp: WireTime,
            /// `testFlag`: `1` for debugging-tool calls.
            pub test_flag: Option<TestFlag>,
            /// Parameters this crate does not know (never `activity` or `authToken`).
            pub extra: Params,
        }

        impl $name {
            /// The `activity` value.
            pub const ACTIVITY: &'static str = $activity;
            const KNOWN: &'static [&'static str] =
                &[ACTIVITY, AUTH_TOKEN, TIME_STAMP, TEST_FLAG, $($wire),*];

            /// The present parameters, including `activity` and `timeStamp`, without `authToken`.
            pub fn to_params(&self) -> Params {
                let mut params = self.extra.clone();
                params.retain(|k, _| !Self::KNOWN.contains(&k.as_str()));
                params.insert(ACTIVITY.to_owned(), $activity.to_owned());
                put!(req params, "timeStamp", &self.time_stamp);
                put!(opt params, "testFlag", &self.test_flag);
                $( put!($kind params, $wire, &self.$field); )*
                params
            }

            /// Reads decoded parameters (authentication is checked separately).
            pub fn from_params(params: &Params) -> Result<Self, ParamError> {
                check_activity(params, $activity)?;
                Ok($name {
                    $( $field: take!($kind params, $wire), )*
                    time_stamp: required(params, TIME_STAMP)?,
                    test_flag: optional(params, TEST_FLAG)?,
                    extra: params
                        .iter()
                        .filter(|(k, _)| !Self::KNOWN.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                })
            }
        }

        impl From<$name> for V1Activity {
            fn from(a: $name) -> Self {
                V1Activity::$name(a)
            }
        }
    };
}

v1_activity! {
    /// `newInstance` — a purchase: create the instance (spec §3.1). Idempotent per `orderId`
    /// (per `orderId` + `productId` for on-demand); `businessId` changes on every retry.
    NewInstance = "newInstance" {
        /// Buyer account (domain) id.
        customer_id: req String = "customerId",
        /// Buyer account name (mandatory on the CN site, optional elsewhere).
        customer_name: opt String = "customerName",
        /// IAM sub-user id (only for products that create accounts per IAM user).
        user_id: opt String = "userId",
        /// IAM sub-user name.
        user_name: opt String = "userName",
        /// AES-encrypted mobile number (see [`crate::credentials`]).
        mobile_phone: opt String = "mobilePhone",
        /// AES-encrypted e-mail address.
        email: opt String = "email",
        /// Marketplace business id; different on every call and retry.
        business_id: req String = "businessId",
        /// Order id; stable across retries.
        order_id: req String = "orderId",
        /// Specification id.
        sku_code: opt String = "skuCode",
        /// Product id (per sku and period type).
        product_id: req String = "productId",
        /// `1` = trial instance.
        trial_flag: opt String = "trialFlag",
        /// Estimated expiry, `yyyyMMddHHmmss` UTC.
        expire_time: opt WireTime = "expireTime",
        /// Charging mode.
        charging_mode: opt ChargingMode = "chargingMode",
        /// Base64 JSON of buyer-filled fields; see [`NewInstance::extend_params`].
        saas_extend_params: opt String = "saasExtendParams",
        /// Linear attribute "quantity".
        amount: opt u64 = "amount",
        /// Linear attribute disk size (GB).
        disk_size: opt u64 = "diskSize",
        /// Linear attribute bandwidth (Mbps).
        band_width: opt u64 = "bandWidth",
        /// `year` / `month`.
        period_type: opt PeriodType = "periodType",
        /// Number of periods.
        period_number: opt u64 = "periodNumber",
        /// Amount actually paid.
        order_amount: opt Decimal = "orderAmount",
        /// Provisioning mode (\[U\] semantics).
        provision_type: opt String = "provisionType",
    }
}

v1_activity! {
    /// `refreshInstance` — renewal, trial→paid conversion or renewal refund (spec §3.2).
    RefreshInstance = "refreshInstance" {
        /// The renewal / conversion order id (not the purchase order).
        order_id: req String = "orderId",
        /// The instance.
        instance_id: req String = "instanceId",
        /// New product id if the period type changed.
        product_id: opt String = "productId",
        /// New expiry.
        expire_time: req WireTime = "expireTime",
        /// `1` = trial→paid conversion.
        trial_to_formal: opt String = "trialToFormal",
        /// `year` / `month`.
        period_type: opt PeriodType = "periodType",
        /// Number of periods.
        period_number: opt u64 = "periodNumber",
        /// Amount; negative for a renewal refund.
        order_amount: opt Decimal = "orderAmount",
    }
}

v1_activity! {
    /// `expireInstance` — freeze at expiry (spec §3.3). Idempotent per instance.
    ExpireInstance = "expireInstance" {
        /// The instance.
        instance_id: req String = "instanceId",
        /// The order.
        order_id: req String = "orderId",
    }
}

v1_activity! {
    /// `releaseInstance` — delete the instance (spec §3.4). Idempotent per instance.
    ReleaseInstance = "releaseInstance" {
        /// The instance.
        instance_id: req String = "instanceId",
        /// The original purchase order.
        order_id: req String = "orderId",
        /// Amount paid (CNY on the CN site, USD internationally).
        order_amount: opt Decimal = "orderAmount",
    }
}

v1_activity! {
    /// `upgrade` — specification change (spec §3.5).
    Upgrade = "upgrade" {
        /// The instance (unchanged by the upgrade).
        instance_id: req String = "instanceId",
        /// The upgrade order.
        order_id: req String = "orderId",
        /// Specification after the upgrade.
        sku_code: req String = "skuCode",
        /// Product after the upgrade.
        product_id: req String = "productId",
        /// New quantity.
        amount: opt u64 = "amount",
        /// New disk size.
        disk_size: opt u64 = "diskSize",
        /// New bandwidth.
        band_width: opt u64 = "bandWidth",
        /// Base64 JSON of buyer-filled fields.
        saas_extend_params: opt String = "saasExtendParams",
    }
}

v1_activity! {
    /// `instanceStatus` — arrears freeze / unfreeze of an on-demand instance (spec §3.6).
    InstanceStatus = "instanceStatus" {
        /// The instance.
        instance_id: req String = "instanceId",
        /// `FREEZE` or `NORMAL`.
        instance_status: req InstanceState = "instanceStatus",
    }
}

v1_activity! {
    /// `queryInstance` — instance information and usage (spec §3.7).
    QueryInstance = "queryInstance" {
        /// Comma-separated instance ids (≤ 100); see [`QueryInstance::instance_ids`].
        instance_id: req String = "instanceId",
    }
}

v1_activity! {
    /// `getLicense` — License products: return a license code (spec §3.8). Idempotent per order.
    GetLicense = "getLicense" {
        /// Buyer account id.
        customer_id: req String = "customerId",
        /// Buyer account name.
        customer_name: opt String = "customerName",
        /// IAM sub-user id.
        user_id: opt String = "userId",
        /// IAM sub-user name.
        user_name: opt String = "userName",
        /// Marketplace business id.
        business_id: req String = "businessId",
        /// Order id.
        order_id: req String = "orderId",
        /// Specification id.
        sku_code: opt String = "skuCode",
        /// Product id.
        product_id: req String = "productId",
        /// Estimated expiry.
        expire_time: opt WireTime = "expireTime",
        /// Charging mode.
        charging_mode: opt ChargingMode = "chargingMode",
        /// `year` / `month`.
        period_type: opt PeriodType = "periodType",
        /// Number of periods.
        period_number: opt u64 = "periodNumber",
        /// Quantity.
        amount: opt u64 = "amount",
        /// Provisioning mode.
        provision_type: opt String = "provisionType",
        /// Base64 JSON of buyer-filled fields (e.g. a machine code).
        saas_extend_params: opt String = "saasExtendParams",
    }
}

fn decode_opt(raw: &Option<String>) -> Result<Vec<ExtendParam>, ExtendParamsError> {
    raw.as_deref().map_or(Ok(Vec::new()), decode_extend_params)
}

impl NewInstance {
    /// The decoded `saasExtendParams` (empty when absent).
    pub fn extend_params(&self) -> Result<Vec<ExtendParam>, ExtendParamsError> {
        decode_opt(&self.saas_extend_params)
    }
}

impl Upgrade {
    /// The decoded `saasExtendParams` (empty when absent).
    pub fn extend_params(&self) -> Result<Vec<ExtendParam>, ExtendParamsError> {
        decode_opt(&self.saas_extend_params)
    }
}

impl GetLicense {
    /// The decoded `saasExtendParams` (empty when absent).
    pub fn extend_params(&self) -> Result<Vec<ExtendParam>, ExtendParamsError> {
        decode_opt(&self.saas_extend_params)
    }
}

impl QueryInstance {
    /// The individual instance ids (split on `,`, trimmed, empties dropped).
    pub fn instance_ids(&self) -> Vec<&str> {
        self.instance_id
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Any V1 activity, dispatched on the `activity` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V1Activity {
    /// `newInstance`.
    NewInstance(NewInstance),
    /// `refreshInstance`.
    RefreshInstance(RefreshInstance),
    /// `expireInstance`.
    ExpireInstance(ExpireInstance),
    /// `releaseInstance`.
    ReleaseInstance(ReleaseInstance),
    /// `upgrade`.
    Upgrade(Upgrade),
    /// `instanceStatus`.
    InstanceStatus(InstanceStatus),
    /// `queryInstance`.
    QueryInstance(QueryInstance),
    /// `getLicense`.
    GetLicense(GetLicense),
}

impl V1Activity {
    /// Every `activity` value this crate knows.
    pub const ACTIVITIES: [&'static str; 8] = [
        NewInstance::ACTIVITY,
        RefreshInstance::ACTIVITY,
        ExpireInstance::ACTIVITY,
        ReleaseInstance::ACTIVITY,
        Upgrade::ACTIVITY,
        InstanceStatus::ACTIVITY,
        QueryInstance::ACTIVITY,
        GetLicense::ACTIVITY,
    ];

    /// Reads decoded parameters; an unknown `activity` is [`ParamError::UnknownActivity`].
    pub fn from_params(params: &Params) -> Result<Self, ParamError> {
        let activity = present(params, ACTIVITY).ok_or(ParamError::Missing(ACTIVITY))?;
        Ok(match activity {
            NewInstance::ACTIVITY => NewInstance::from_params(params)?.into(),
            RefreshInstance::ACTIVITY => RefreshInstance::from_params(params)?.into(),
            ExpireInstance::ACTIVITY => ExpireInstance::from_params(params)?.into(),
            ReleaseInstance::ACTIVITY => ReleaseInstance::from_params(params)?.into(),
            Upgrade::ACTIVITY => Upgrade::from_params(params)?.into(),
            InstanceStatus::ACTIVITY => InstanceStatus::from_params(params)?.into(),
            QueryInstance::ACTIVITY => QueryInstance::from_params(params)?.into(),
            GetLicense::ACTIVITY => GetLicense::from_params(params)?.into(),
            other => return Err(ParamError::UnknownActivity(crate::lenient::excerpt(other))),
        })
    }

    /// The parameters to sign and send.
    pub fn to_params(&self) -> Params {
        match self {
            V1Activity::NewInstance(a) => a.to_params(),
            V1Activity::RefreshInstance(a) => a.to_params(),
            V1Activity::ExpireInstance(a) => a.to_params(),
            V1Activity::ReleaseInstance(a) => a.to_params(),
            V1Activity::Upgrade(a) => a.to_params(),
            V1Activity::InstanceStatus(a) => a.to_params(),
            V1Activity::QueryInstance(a) => a.to_params(),
            V1Activity::GetLicense(a) => a.to_params(),
        }
    }

    /// The `activity` value.
    pub fn activity(&self) -> &'static str {
        match self {
            V1Activity::NewInstance(_) => NewInstance::ACTIVITY,
            V1Activity::RefreshInstance(_) => RefreshInstance::ACTIVITY,
            V1Activity::ExpireInstance(_) => ExpireInstance::ACTIVITY,
            V1Activity::ReleaseInstance(_) => ReleaseInstance::ACTIVITY,
            V1Activity::Upgrade(_) => Upgrade::ACTIVITY,
            V1Activity::InstanceStatus(_) => InstanceStatus::ACTIVITY,
            V1Activity::QueryInstance(_) => QueryInstance::ACTIVITY,
            V1Activity::GetLicense(_) => GetLicense::ACTIVITY,
        }
    }

    /// The request time.
    pub fn time_stamp(&self) -> WireTime {
        match self {
            V1Activity::NewInstance(a) => a.time_stamp,
            V1Activity::RefreshInstance(a) => a.time_stamp,
            V1Activity::ExpireInstance(a) => a.time_stamp,
            V1Activity::ReleaseInstance(a) => a.time_stamp,
            V1Activity::Upgrade(a) => a.time_stamp,
            V1Activity::InstanceStatus(a) => a.time_stamp,
            V1Activity::QueryInstance(a) => a.time_stamp,
            V1Activity::GetLicense(a) => a.time_stamp,
        }
    }

    /// Whether `testFlag=1`.
    pub fn is_test(&self) -> bool {
        let flag = match self {
            V1Activity::NewInstance(a) => &a.test_flag,
            V1Activity::RefreshInstance(a) => &a.test_flag,
            V1Activity::ExpireInstance(a) => &a.test_flag,
            V1Activity::ReleaseInstance(a) => &a.test_flag,
            V1Activity::Upgrade(a) => &a.test_flag,
            V1Activity::InstanceStatus(a) => &a.test_flag,
            V1Activity::QueryInstance(a) => &a.test_flag,
            V1Activity::GetLicense(a) => &a.test_flag,
        };
        flag.as_ref().is_some_and(TestFlag::is_debug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{encode_params, parse_params};
    use crate::secret::SellerKey;
    use crate::v1::{sign_v1_params, verify_v1};

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_10_1_request_parses_as_new_instance() {
        let p = params(&[
            ("activity", "newInstance"),
            ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
            ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
            ("customerName", "Test User+1"),
            ("orderId", "CS1906666666ABCDE"),
            ("productId", "00301-666666-0--0"),
            ("testFlag", "1"),
            ("timeStamp", "20240101000000000"),
            ("authToken", "kETuf+H8Gxz3FjPdVC94ZfpzvfoPKcXN5krhHtiAa3M="),
        ]);
        let V1Activity::NewInstance(a) = V1Activity::from_params(&p).unwrap() else {
            panic!("wrong activity");
        };
        assert_eq!(a.customer_name.as_deref(), Some("Test User+1"));
        assert_eq!(a.test_flag, Some(TestFlag::Debug));
        assert!(a.extra.is_empty());
        let mut back = a.to_params();
        assert!(!back.contains_key("authToken"));
        back.insert("authToken".into(), p["authToken"].clone());
        assert_eq!(back, p);
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut p = params(&[
            ("activity", "refreshInstance"),
            ("orderId", "O"),
            ("instanceId", "I"),
            ("timeStamp", "20240101000000000"),
        ]);
        assert_eq!(
            RefreshInstance::from_params(&p),
            Err(ParamError::Missing("expireTime"))
        );
        p.insert("expireTime".into(), "2024".into());
        assert!(matches!(
            RefreshInstance::from_params(&p),
            Err(ParamError::Invalid {
                name: "expireTime",
                ..
            })
        ));
        p.insert("expireTime".into(), "20250101000000".into());
        p.insert("periodNumber".into(), "-1".into());
        assert!(matches!(
            V1Activity::from_params(&p),
            Err(ParamError::Invalid {
                name: "periodNumber",
                ..
            })
        ));
        p.insert("periodNumber".into(), "".into());
        let a = RefreshInstance::from_params(&p).unwrap();
        assert_eq!(a.period_number, None);
        assert_eq!(
            ExpireInstance::from_params(&p),
            Err(ParamError::WrongActivity {
                expected: "expireInstance",
                found: "refreshInstance".into()
            })
        );
        p.insert("activity".into(), "deleteEverything".into());
        assert_eq!(
            V1Activity::from_params(&p),
            Err(ParamError::UnknownActivity("deleteEverything".into()))
        );
        p.remove("activity");
        assert_eq!(
            V1Activity::from_params(&p),
            Err(ParamError::Missing("activity"))
        );
    }

    #[test]
    fn unknown_params_and_values_are_kept() {
        let p = params(&[
            ("activity", "instanceStatus"),
            ("instanceId", "I"),
            ("instanceStatus", "SUSPENDED"),
            ("timeStamp", "20240101000000000"),
            ("newParam", "x"),
        ]);
        let a = InstanceStatus::from_params(&p).unwrap();
        assert_eq!(a.instance_status, InstanceState::Other("SUSPENDED".into()));
        assert_eq!(a.extra["newParam"], "x");
        assert_eq!(a.to_params(), p);
    }

    #[test]
    fn signed_round_trip_through_the_query_string() {
        let key = SellerKey::new("k");
        let at = time::macros::datetime!(2024-05-06 07:08:09.010 UTC);
        let activity = V1Activity::Upgrade(Upgrade {
            instance_id: "ins 1".into(),
            order_id: "CS+1/2=3".into(),
            sku_code: "sku".into(),
            product_id: "p".into(),
            amount: Some(20),
            disk_size: None,
            band_width: None,
            saas_extend_params: Some(crate::extend_params::encode_extend_params(&[ExtendParam {
                name: "n".into(),
                value: "中文".into(),
            }])),
            time_stamp: WireTime::millis(at),
            test_flag: None,
            extra: Params::new(),
        });
        let mut p = activity.to_params();
        sign_v1_params(&key, &mut p);
        let received = parse_params(&encode_params(&p));
        assert_eq!(verify_v1(&key, &received), Ok(()));
        let parsed = V1Activity::from_params(&received).unwrap();
        assert_eq!(parsed, activity);
        let V1Activity::Upgrade(u) = parsed else {
            panic!()
        };
        assert_eq!(u.extend_params().unwrap()[0].value, "中文");
    }

    #[test]
    fn query_instance_splits_ids() {
        let p = params(&[
            ("activity", "queryInstance"),
            ("instanceId", "a, b,,c"),
            ("timeStamp", "20240101000000000"),
        ]);
        assert_eq!(
            QueryInstance::from_params(&p).unwrap().instance_ids(),
            ["a", "b", "c"]
        );
    }
}
