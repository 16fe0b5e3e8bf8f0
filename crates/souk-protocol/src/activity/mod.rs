//! Typed activities (requests the marketplace sends to sellers) and the seller response.
//!
//! | module | transport | authentication |
//! |---|---|---|
//! | [`v1`] | GET, query string | [`crate::v1`] `authToken` |
//! | [`v2`] | POST JSON tagged by `activity` (incl. License 2.0) | [`crate::v2`] signature |
//! | [`kit`] | POST JSON to `/produceAPI/…` | [`crate::kit`] (v1 header token / v2 `x-sign`) |
//! | [`response`] | JSON answer of all of them | [`crate::body_sign`] `Body-Sign` |
//!
//! Parsing never panics on untrusted input: unknown enum values become `Other(..)`, unknown
//! parameters/fields are kept or ignored, an unknown activity is a typed error.

mod param;

pub mod kit;
pub mod response;
pub mod v1;
pub mod v2;
pub mod values;

pub use param::{ParamError, ParamValue};
pub use response::{AppInfo, InstanceInfo, SellerResponse, UsageInfo};
pub use v1::V1Activity;
pub use v2::{V2Activity, V2ParseError};
pub use values::{
    ChargingMode, Decimal, FreezeStatus, InstanceState, PeriodType, RefreshScene, TestFlag,
};
