//! One request type per seller operation, covering both protocol generations.
//!
//! V1 and V2 name and shape the same operation differently (V1 `upgrade` with SKU details,
//! V2 `upgradeInstance` with only ids; V1 `expireInstance` and `instanceStatus`, V2
//! `updateInstanceStatus`). Each type here is an enum over the generations with accessors
//! for what both share, so a seller writes one method per operation and can still reach
//! every wire field through the variant.

use souk_protocol::activity::values::{FreezeStatus, InstanceState, RefreshScene};
use souk_protocol::activity::{v1, v2};

/// Buy (新购): create an instance, or return the one already created for this order.
// One value per request, moved a couple of times: boxing the V1 variant would only make
// matching on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewInstance {
    /// V1 `newInstance`: everything about the order is in the parameters.
    V1(v1::NewInstance),
    /// V2 `newInstance`: ids only; details come from the order-query open API.
    V2(v2::NewInstance),
}

impl NewInstance {
    /// The purchase order.
    pub fn order_id(&self) -> &str {
        match self {
            NewInstance::V1(a) => &a.order_id,
            NewInstance::V2(a) => &a.order_id,
        }
    }

    /// Different on every call and retry. Use the *first* one you see as the instance id.
    pub fn business_id(&self) -> &str {
        match self {
            NewInstance::V1(a) => &a.business_id,
            NewInstance::V2(a) => &a.business_id,
        }
    }

    /// V2 order line.
    pub fn order_line_id(&self) -> Option<&str> {
        match self {
            NewInstance::V1(_) => None,
            NewInstance::V2(a) => Some(&a.order_line_id),
        }
    }

    /// V1 product (one order of an on-demand product opens one instance per product).
    pub fn product_id(&self) -> Option<&str> {
        match self {
            NewInstance::V1(a) => Some(&a.product_id),
            NewInstance::V2(_) => None,
        }
    }

    /// The documented idempotency key: `orderId` plus `orderLineId` (V2) or `productId` (V1,
    /// which distinguishes the instances of one on-demand order). The same key must always
    /// yield the same instance id, whatever the `businessId`.
    pub fn idempotency_key(&self) -> String {
        match self {
            NewInstance::V1(a) => format!("v1:{}:{}", a.order_id, a.product_id),
            NewInstance::V2(a) => format!("v2:{}:{}", a.order_id, a.order_line_id),
        }
    }

    /// V1 trial order (`trialFlag=1`).
    pub fn is_trial(&self) -> bool {
        match self {
            NewInstance::V1(a) => a.trial_flag.as_deref() == Some("1"),
            NewInstance::V2(_) => false,
        }
    }

    /// `testFlag=1`.
    pub fn is_test(&self) -> bool {
        match self {
            NewInstance::V1(a) => a.test_flag.as_ref().is_some_and(|f| f.is_debug()),
            NewInstance::V2(a) => a.test_flag.as_ref().is_some_and(|f| f.is_debug()),
        }
    }
}

/// What a refresh means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshKind {
    /// Renewal (also the V1 default).
    Renewal,
    /// A trial became a paid subscription.
    TrialToFormal,
    /// A renewal was refunded: the expiry moves back.
    UnsubscribeRenewal,
    /// Renewal with a changed period.
    RenewalChange,
    /// A scene this crate does not know (kept verbatim).
    Other(String),
}

/// Renewal, trial→formal or refunded renewal (续费 / 转正 / 退续费): a new `expireTime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshInstance {
    /// V1 `refreshInstance`.
    V1(v1::RefreshInstance),
    /// V2 `refreshInstance` with a `scene`.
    V2(v2::RefreshInstance),
}

impl RefreshInstance {
    /// The instance.
    pub fn instance_id(&self) -> &str {
        match self {
            RefreshInstance::V1(a) => &a.instance_id,
            RefreshInstance::V2(a) => &a.instance_id,
        }
    }

    /// The renewal / conversion / refund order (not the purchase order).
    pub fn order_id(&self) -> &str {
        match self {
            RefreshInstance::V1(a) => &a.order_id,
            RefreshInstance::V2(a) => &a.order_id,
        }
    }

    /// The new expiry as sent (`yyyyMMddHHmmss`, sometimes 17 digits in V2).
    pub fn expire_time(&self) -> String {
        match self {
            RefreshInstance::V1(a) => a.expire_time.to_wire(),
            RefreshInstance::V2(a) => a.expire_time.clone(),
        }
    }

    /// What the refresh means.
    pub fn kind(&self) -> RefreshKind {
        match self {
            RefreshInstance::V1(a) if a.trial_to_formal.as_deref() == Some("1") => {
                RefreshKind::TrialToFormal
            }
            RefreshInstance::V1(a) if a.order_amount.as_ref().is_some_and(|m| m.is_negative()) => {
                RefreshKind::UnsubscribeRenewal
            }
            RefreshInstance::V1(_) => RefreshKind::Renewal,
            RefreshInstance::V2(a) => match &a.scene {
                RefreshScene::TrialToFormal => RefreshKind::TrialToFormal,
                RefreshScene::Renewal => RefreshKind::Renewal,
                RefreshScene::UnsubscribeRenewalPeriod => RefreshKind::UnsubscribeRenewal,
                RefreshScene::RenewalChange => RefreshKind::RenewalChange,
                RefreshScene::Other(s) => RefreshKind::Other(s.clone()),
            },
        }
    }
}

/// Where a freeze / unfreeze came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSource {
    /// V1 `expireInstance` (always a freeze).
    V1Expire(v1::ExpireInstance),
    /// V1 `instanceStatus` (`FREEZE` / `NORMAL`, arrears of on-demand products).
    V1InstanceStatus(v1::InstanceStatus),
    /// V2 `updateInstanceStatus` (`FREEZE` / `UNFREEZE`).
    V2(v2::UpdateInstanceStatus),
}

/// Freeze (过期 / 冻结) or unfreeze (解冻) an instance. Idempotent: a repeat succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The instance.
    pub instance_id: String,
    /// `true` = freeze, `false` = back to normal.
    pub freeze: bool,
    /// The wire request.
    pub source: StatusSource,
}

impl StatusChange {
    pub(crate) fn from_v1_expire(a: v1::ExpireInstance) -> Self {
        StatusChange {
            instance_id: a.instance_id.clone(),
            freeze: true,
            source: StatusSource::V1Expire(a),
        }
    }

    pub(crate) fn from_v1_status(a: v1::InstanceStatus) -> Self {
        StatusChange {
            instance_id: a.instance_id.clone(),
            // An unknown status value is treated as "not a freeze"; sellers that care can
            // look at `source`.
            freeze: a.instance_status == InstanceState::Freeze,
            source: StatusSource::V1InstanceStatus(a),
        }
    }

    pub(crate) fn from_v2(a: v2::UpdateInstanceStatus) -> Self {
        StatusChange {
            instance_id: a.instance_id.clone(),
            freeze: a.status == FreezeStatus::Freeze,
            source: StatusSource::V2(a),
        }
    }
}

/// Release (释放): delete the instance's resources. Idempotent: a repeat succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseInstance {
    /// V1 `releaseInstance`.
    V1(v1::ReleaseInstance),
    /// V2 `releaseInstance`.
    V2(v2::ReleaseInstance),
}

impl ReleaseInstance {
    /// The instance.
    pub fn instance_id(&self) -> &str {
        match self {
            ReleaseInstance::V1(a) => &a.instance_id,
            ReleaseInstance::V2(a) => &a.instance_id,
        }
    }
}

/// Upgrade (升级): a new SKU or linear values for an existing instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// V1 `upgrade` (carries the new `skuCode` / `productId` / amounts).
    V1(v1::Upgrade),
    /// V2 `upgradeInstance` (ids only; details via the order-query open API).
    V2(v2::UpgradeInstance),
}

impl Upgrade {
    /// The instance (unchanged by the upgrade).
    pub fn instance_id(&self) -> &str {
        match self {
            Upgrade::V1(a) => &a.instance_id,
            Upgrade::V2(a) => &a.instance_id,
        }
    }

    /// The upgrade order.
    pub fn order_id(&self) -> &str {
        match self {
            Upgrade::V1(a) => &a.order_id,
            Upgrade::V2(a) => &a.order_id,
        }
    }
}

/// Query instances (查询实例): `info` with credentials and usage, up to 100 ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryInstance {
    /// V1 `queryInstance`.
    V1(v1::QueryInstance),
    /// V2 `queryInstance`.
    V2(v2::QueryInstance),
}

impl QueryInstance {
    /// The requested ids (the wire value is comma-separated).
    pub fn instance_ids(&self) -> Vec<&str> {
        match self {
            QueryInstance::V1(a) => a.instance_ids(),
            QueryInstance::V2(a) => a.instance_ids(),
        }
    }
}
