//! Records of the metering store.

use crate::*;
use serde::Serialize;
use souk_core::clock::from_unix_ms;
use souk_core::id::InstanceId;
use souk_core::metering::UsageValue;
use souk_core::money::Money;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A usage record that passed its checks, to store unless it is a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsageRecord {
    pub instance_id: InstanceId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    /// `None` on the old push API, which has no `metering_sn` (deduplicated by window only).
    pub metering_sn: Option<String>,
    pub begin: OffsetDateTime,
    pub end: OffsetDateTime,
    pub record_time: OffsetDateTime,
    pub usage: UsageValue,
    pub relate_pkg_instance: Option<String>,
    pub received_at: OffsetDateTime,
}

/// Unrated usage of one instance up to a collection's cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUsage {
    pub instance_id: InstanceId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    /// The usage to rate now.
    pub added: UsageValue,
    /// How many records it is.
    pub records: i64,
    /// The highest record sequence among them (records stored later wait for the next
    /// collection).
    pub max_seq: i64,
    /// Usage of the instance already rated on demand in the accumulation period.
    pub before: UsageValue,
    /// The stop-when-exhausted package these records name (`relate_pkg_instance`), if any:
    /// records naming different packages are rated apart.
    pub package: Option<String>,
}

/// A charge to book.
#[derive(Debug, Clone)]
pub struct NewUsageCharge {
    pub id: String,
    pub pending: PendingUsage,
    pub period: String,
    pub cutoff: OffsetDateTime,
    /// What the buyer owes for it (positive), or a credit (negative: volume price).
    pub amount: Money,
    /// The ledger line's memo (wording from `souk_core`).
    pub memo: String,
    pub now: OffsetDateTime,
    /// The instance's billing item (its SKU), whose package quotas the draws take from.
    pub item: String,
    /// Usage taken from packages.
    pub draws: Vec<souk_core::metering::package::Draw>,
    /// The usage rated on demand (what no package covered).
    pub rated: UsageValue,
    /// Usage past a stop-when-exhausted package's quota: not billed.
    pub excess: UsageValue,
    /// Quota alerts to the buyer, with the package they are about.
    pub notices: Vec<(souk_core::notice::Notice, String)>,
    /// A stop-when-exhausted package used up by this charge, and the call telling its seller.
    pub exhaust: Option<(InstanceId, crate::NewJob)>,
}

impl NewUsageCharge {
    /// Usage the packages covered.
    pub fn package_usage(&self) -> UsageValue {
        UsageValue::from_ten_thousandths(
            self.draws.iter().map(|d| d.amount.ten_thousandths()).sum(),
        )
    }
}

/// A stored usage record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRecordRow {
    pub seq: i64,
    pub instance_id: InstanceId,
    pub metering_sn: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub begin_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub record_time: OffsetDateTime,
    pub usage_value: String,
    pub relate_pkg_instance: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The charge that rated it; `None` while it waits for a collection.
    pub charge_id: Option<String>,
}

/// A stored usage charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageChargeRow {
    pub id: String,
    pub instance_id: InstanceId,
    /// The accumulation period it counts toward (`YYYY-MM`).
    pub period: String,
    /// It rated the records that ended at or before this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub cutoff: OffsetDateTime,
    /// Decimal text with 4 decimals, like the records' `usage_value`.
    pub usage: String,
    pub records: i64,
    /// Of the records' usage: what packages covered, and what went past a stop-when-exhausted
    /// package (not billed). `usage` is what was rated on demand.
    pub package_usage: String,
    pub excess_usage: String,
    pub amount: Money,
    /// An operator adjustment's reason (`None` for rated usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An operator's correction of an instance's usage charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsageAdjustment {
    pub id: String,
    pub instance_id: InstanceId,
    pub period: String,
    /// Owed by the buyer (positive) or credited (negative).
    pub amount: Money,
    pub reason: String,
    pub actor: PartyId,
    pub now: OffsetDateTime,
}

pub(super) fn record_from_row(r: &AnyRow) -> StoreResult<UsageRecordRow> {
    let opt_ms = |c: &str| -> StoreResult<OffsetDateTime> { Ok(from_unix_ms(r.try_get(c)?)) };
    Ok(UsageRecordRow {
        seq: r.try_get("seq")?,
        instance_id: InstanceId::from_trusted(r.try_get("instance_id")?),
        metering_sn: r.try_get("metering_sn")?,
        begin_time: opt_ms("begin_at")?,
        end_time: opt_ms("end_at")?,
        record_time: opt_ms("record_at")?,
        usage_value: UsageValue::from_ten_thousandths(r.try_get("usage")?).to_string(),
        relate_pkg_instance: r.try_get("relate_pkg_instance")?,
        received_at: opt_ms("received_at")?,
        charge_id: r.try_get("charge_id")?,
    })
}

/// Usage of an instance in one hour or day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageBucket {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub records: i64,
    /// Decimal text with 4 decimals.
    pub usage: String,
    /// Of `records`, those a collection has rated.
    pub rated_records: i64,
}
