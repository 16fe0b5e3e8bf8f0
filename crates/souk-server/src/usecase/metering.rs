//! Metering: the usage-record push (KooGallery §9.5), the hourly collection that rates usage
//! into ledger charges, and on-demand arrears (business rules §5, §6.4, §7).
//!
//! Push: the whole request is refused only for what concerns it as a whole (signature, body
//! shape, more than 1,000 records); each record is then checked on its own, the valid ones are
//! stored (duplicates by `metering_sn` or by window are dropped by the database's unique
//! indexes) and the invalid ones come back in the abnormal list.

use crate::error::{AppError, AppResult};
use crate::usecase::orders::status_job;
use crate::AppState;
use serde_json::value::RawValue;
use souk_core::id::InstanceId;
use souk_core::instance::InstanceState;
use souk_core::metering::{
    accumulation_period, charge_memo, check_times, collection_cutoff, daily_cutoff, Collection,
    MeteredInstance, PriceMode, RecordTimes, UsageValue,
};
use souk_core::order::Term;
use souk_core::party::PartyId;
use souk_core::provisioning::CallKind;
use souk_protocol::timestamp::TimestampFormat;
use souk_protocol::usage::{AbnormalRecord, CamelRecord, ReceivedRecord, UsagePushAnswer, CODE_OK};
use souk_store::{InstanceRecord, NewUsageCharge, NewUsageRecord, PackageRecord, Scope};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Which push API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `/api/mkp-openapi-public/global/v1/isv/usage-data`: records carry `metering_sn`.
    Current,
    /// `/rest/marketplace/v1/isv/usage-data`: records carry `product_id`; deduplicated by
    /// window only.
    Old,
    /// `/v1.0/{partnerId}/billing/bill-mgr/push-usage-data`: camelCase records with the usage
    /// in `usageEntity`; deduplicated by window only.
    Camel,
}

/// How a flavour's records name their fields (error messages use the seller's own names).
struct Names {
    instance_id: &'static str,
    record_time: &'static str,
    begin_time: &'static str,
    end_time: &'static str,
    usage_value: &'static str,
}

impl Flavour {
    fn names(self) -> &'static Names {
        const SNAKE: Names = Names {
            instance_id: "instance_id",
            record_time: "record_time",
            begin_time: "begin_time",
            end_time: "end_time",
            usage_value: "usage_value",
        };
        const CAMEL: Names = Names {
            instance_id: "instanceId",
            record_time: "recordTime",
            begin_time: "beginTime",
            end_time: "endTime",
            usage_value: "usageEntity",
        };
        match self {
            Flavour::Camel => &CAMEL,
            Flavour::Current | Flavour::Old => &SNAKE,
        }
    }
}

/// One record of a push as parsed from its raw JSON text.
#[derive(Debug)]
pub enum Received {
    /// A record, to check.
    Record(ReceivedRecord),
    /// A record refused as it stands (`error_code`, `error_msg`); its fields still name it in
    /// the abnormal list.
    Refused(ReceivedRecord, &'static str, String),
    /// Not a record object (why).
    NotARecord(String),
}

impl Received {
    /// The record's `instance_id`, if it has one.
    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Received::Record(r) | Received::Refused(r, ..) => r.instance_id.as_deref(),
            Received::NotARecord(_) => None,
        }
    }
}

/// Parses one record of a `flavour` push (each on its own: a bad one does not fail the batch).
pub fn receive(flavour: Flavour, raw: &RawValue) -> Received {
    let not_a_record = |e: serde_json::Error| {
        Received::NotARecord(format!("the record is not a usage record object: {e}"))
    };
    // serde would read an array positionally into the record's fields.
    if !raw.get().starts_with('{') {
        return Received::NotARecord("the record is not a usage record object".into());
    }
    match flavour {
        Flavour::Current | Flavour::Old => serde_json::from_str::<ReceivedRecord>(raw.get())
            .map_or_else(not_a_record, Received::Record),
        Flavour::Camel => match serde_json::from_str::<CamelRecord>(raw.get()) {
            Err(e) => not_a_record(e),
            Ok(c) => match c.into_received() {
                (r, None) => Received::Record(r),
                (r, Some(problem)) => Received::Refused(r, "invalid_usage_value", problem.into()),
            },
        },
    }
}

/// Longest id the wire allows (`instance_id`, `metering_sn`, `relate_pkg_instance`: M64).
const MAX_ID: usize = 64;

fn abnormal(
    index: usize,
    r: &ReceivedRecord,
    code: &str,
    msg: impl Into<String>,
) -> AbnormalRecord {
    AbnormalRecord {
        index,
        metering_sn: r.metering_sn.clone(),
        instance_id: r.instance_id.clone(),
        error_code: code.to_owned(),
        error_msg: msg.into(),
    }
}

fn id_field<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, (String, String)> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() && v.len() <= MAX_ID => Ok(v),
        Some(v) if !v.is_empty() => Err((
            "invalid_field".into(),
            format!("{name} is at most {MAX_ID} characters"),
        )),
        _ => Err(("missing_field".into(), format!("{name} is required"))),
    }
}

fn time_field(value: &Option<String>, name: &str) -> Result<OffsetDateTime, (String, String)> {
    let text = value
        .as_deref()
        .ok_or_else(|| ("missing_field".to_owned(), format!("{name} is required")))?;
    TimestampFormat::Basic.parse(text.trim()).map_err(|_| {
        (
            "invalid_time".to_owned(),
            format!("{name} must be UTC yyyyMMdd'T'HHmmss'Z', e.g. 20240317T140000Z"),
        )
    })
}

/// Checks one record against the instance it names; the record to store, or why not.
fn check_record(
    flavour: Flavour,
    r: &ReceivedRecord,
    seller: &PartyId,
    instances: &HashMap<InstanceId, InstanceRecord>,
    packages: &HashMap<String, PackageRecord>,
    now: OffsetDateTime,
) -> Result<NewUsageRecord, (String, String)> {
    let names = flavour.names();
    let instance_id = id_field(&r.instance_id, names.instance_id)?;
    // Another seller's instance is reported exactly like a missing one.
    let instance = instances
        .get(instance_id)
        .filter(|i| &i.seller_id == seller)
        .ok_or_else(|| {
            (
                "instance_not_found".to_owned(),
                format!("there is no on-demand instance {instance_id} of yours"),
            )
        })?;
    if instance.term != Term::OnDemand {
        return Err((
            "not_on_demand".into(),
            "usage is pushed only for on-demand instances".into(),
        ));
    }
    let Some(opened_at) = instance.opened_at else {
        return Err((
            "instance_not_open".into(),
            "the instance has not opened yet; push usage once newInstance succeeded".into(),
        ));
    };
    let metering_sn = match flavour {
        Flavour::Current => Some(id_field(&r.metering_sn, "metering_sn")?.to_owned()),
        Flavour::Old => {
            id_field(&r.product_id, "product_id")?;
            None
        }
        Flavour::Camel => None,
    };
    let record_time = time_field(&r.record_time, names.record_time)?;
    let begin = time_field(&r.begin_time, names.begin_time)?;
    let end = time_field(&r.end_time, names.end_time)?;
    let text = r.usage_value.as_deref().ok_or_else(|| {
        (
            "missing_field".to_owned(),
            format!("{} is required", names.usage_value),
        )
    })?;
    let value = UsageValue::parse_record(text)
        .map_err(|e| ("invalid_usage_value".to_owned(), e.to_string()))?;
    let facts = MeteredInstance {
        opened_at,
        frozen_at: (instance.state == InstanceState::Frozen)
            .then_some(instance.frozen_at)
            .flatten(),
        released_at: instance.released_at,
    };
    check_times(&RecordTimes { begin, end, value }, &facts, now)
        .map_err(|e| (e.code().to_owned(), e.to_string()))?;
    let relate_pkg_instance = match r
        .relate_pkg_instance
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(name) if name.len() > MAX_ID => {
            return Err((
                "invalid_field".into(),
                format!("relate_pkg_instance is at most {MAX_ID} characters"),
            ))
        }
        Some(name) => crate::usecase::packages::check_named(
            packages.get(name),
            name,
            instance,
            seller,
            begin,
            end,
        )?,
    };
    Ok(NewUsageRecord {
        instance_id: instance.id.clone(),
        buyer_id: instance.buyer_id.clone(),
        seller_id: instance.seller_id.clone(),
        metering_sn,
        begin,
        end,
        record_time,
        usage: value,
        relate_pkg_instance,
        received_at: now,
    })
}

/// Stores the valid records of a push authenticated as `seller`; answers with the counts and
/// the abnormal list.
pub async fn push(
    state: &AppState,
    flavour: Flavour,
    seller: &PartyId,
    received: &[Received],
) -> AppResult<UsagePushAnswer> {
    let now = state.clock.now();
    fn record(r: &Received) -> Option<&ReceivedRecord> {
        match r {
            Received::Record(r) => Some(r),
            Received::Refused(..) | Received::NotARecord(_) => None,
        }
    }
    // A malformed id is no instance of ours: its record comes back `instance_not_found`.
    let mut ids: Vec<InstanceId> = received
        .iter()
        .filter_map(|r| record(r)?.instance_id.as_deref())
        .map(str::trim)
        .filter(|s| s.len() <= MAX_ID)
        .filter_map(InstanceId::parse)
        .collect();
    ids.sort();
    ids.dedup();
    let instances: HashMap<InstanceId, InstanceRecord> = state
        .store
        .instances_by_ids(&ids)
        .await?
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect();
    // The packages records name (stop-when-exhausted packages), looked up once per push.
    let mut names: Vec<String> = received
        .iter()
        .filter_map(|r| record(r)?.relate_pkg_instance.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID)
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    let packages: HashMap<String, PackageRecord> = state
        .store
        .packages_by_ids(&names)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let mut valid = Vec::with_capacity(received.len());
    let mut abnormal_list = Vec::new();
    for (index, r) in received.iter().enumerate() {
        match r {
            Received::NotARecord(e) => abnormal_list.push(abnormal(
                index,
                &ReceivedRecord::default(),
                "invalid_record",
                e.as_str(),
            )),
            Received::Refused(r, code, msg) => {
                abnormal_list.push(abnormal(index, r, code, msg.as_str()))
            }
            Received::Record(r) => {
                match check_record(flavour, r, seller, &instances, &packages, now) {
                    Ok(rec) => valid.push(rec),
                    Err((code, msg)) => abnormal_list.push(abnormal(index, r, &code, msg)),
                }
            }
        }
    }
    let accepted = if valid.is_empty() {
        0
    } else {
        state.store.insert_usage(&valid).await? as usize
    };
    metrics::counter!("souk_usage_records_accepted_total").increment(accepted as u64);
    Ok(UsagePushAnswer {
        error_code: CODE_OK.into(),
        error_msg: "success".into(),
        accepted,
        duplicates: valid.len() - accepted,
        abnormal_usage_records: abnormal_list,
    })
}

/// The seller Key of the product an instance belongs to (the usage push's signature key).
pub async fn push_key(state: &AppState, instance_id: &str) -> AppResult<Option<(PartyId, String)>> {
    let Some(instance_id) = InstanceId::parse(instance_id.trim()) else {
        return Ok(None);
    };
    let Some(instance) = state
        .store
        .instances_by_ids(&[instance_id])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(profile) = state
        .store
        .integration_profile(&instance.product_id)
        .await?
    else {
        return Ok(None);
    };
    let key = state
        .master_key
        .open(
            &souk_core::catalog::seller_key_context(&instance.product_id),
            &profile.seller_key_sealed,
        )
        .map_err(|e| AppError::internal(anyhow::anyhow!("opening the seller Key: {e}")))?;
    Ok(Some((instance.seller_id, key)))
}

// ---------------------------------------------------------------------------------------------
// Collection (rating) and arrears

/// How an instance's usage is priced: the Step/Tier rating its order was placed with, else the
/// on-demand unit price it was placed at.
async fn price_of(
    state: &AppState,
    instance_id: &InstanceId,
) -> anyhow::Result<(PriceMode, souk_core::money::Currency, InstanceRecord)> {
    let instance = state
        .store
        .find_instance(&Scope::Everything, instance_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("usage of unknown instance {instance_id}"))?;
    let order = state
        .store
        .find_order(&Scope::Everything, &instance.origin_order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("instance {instance_id} has no origin order"))?;
    let unit = order.snapshot.unit_price;
    let mode = order.snapshot.usage_price.unwrap_or(PriceMode::Fixed {
        unit_minor: unit.amount_minor,
    });
    Ok((mode, unit.currency, instance))
}

/// The collection at `now`: rates every unrated record of an hourly product that ended by the
/// last whole hour at least `metering.collect_after` ago, and of a daily product that ended by
/// the last business-zone midnight at least `metering.collect_daily_after` ago; one charge
/// (and ledger line) per instance. A charge that leaves the buyer below zero (past any credit)
/// puts the instance in arrears.
pub async fn collect(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let m = &state.config.metering;
    let zone = state.config.settlement.zone()?;
    let hourly = collection_cutoff(now, m.collect_after.0);
    let daily = daily_cutoff(now, m.collect_daily_after.0, zone);
    Ok(collect_up_to(state, now, Collection::Hourly, hourly).await?
        + collect_up_to(state, now, Collection::Daily, daily).await?)
}

async fn collect_up_to(
    state: &AppState,
    now: OffsetDateTime,
    collection: Collection,
    cutoff: OffsetDateTime,
) -> anyhow::Result<usize> {
    const BATCH: u32 = 200;
    let period = accumulation_period(cutoff, state.config.settlement.zone()?);
    let mut changed = 0;
    // Each round books or skips (stale) every instance it read; a bounded number of rounds
    // keeps a pass finite even if a writer keeps adding late records.
    for _ in 0..50 {
        let pending = state
            .store
            .pending_usage(collection, cutoff, &period, BATCH)
            .await?;
        if pending.is_empty() {
            break;
        }
        let mut booked = 0;
        for p in pending.iter() {
            let (mode, currency, instance) = price_of(state, &p.instance_id).await?;
            // Packages first (business rules §6.4); what they leave is rated on demand.
            let cover = crate::usecase::packages::cover(state, p, &instance, cutoff).await?;
            let amount = mode
                .charge(p.before, cover.rated)
                .map_err(|e| anyhow::anyhow!("rating {}: {e}", p.instance_id))?;
            let charge = NewUsageCharge {
                id: souk_core::id::generate("uch", now),
                pending: p.clone(),
                period: period.clone(),
                cutoff,
                amount: souk_core::money::Money::new(amount, currency),
                memo: charge_memo(p.instance_id.as_str(), p.records, p.added, &period),
                now,
                item: instance.sku_id.clone(),
                draws: cover.draws,
                rated: cover.rated,
                excess: cover.excess,
                notices: cover.notices,
                exhaust: cover.exhaust,
            };
            let used_up = crate::usecase::packages::used_up(&charge.draws);
            let Some(balance) = state.store.apply_usage_charge(&charge).await? else {
                continue;
            };
            booked += 1;
            crate::usecase::packages::repurchase_used_up(state, &used_up).await?;
            let available = balance.balance.amount_minor + balance.credit_limit.amount_minor;
            if available < 0 && enter_arrears(state, &p.instance_id, now).await? {
                changed += 1;
            }
        }
        changed += booked;
        if pending.len() < BATCH as usize && booked == pending.len() {
            break;
        }
    }
    Ok(changed)
}

/// Arrears start now; the instance is frozen `metering.on_demand_grace` later. The lifecycle
/// timers count the freeze from `expire_at + lifecycle.grace`, so `expire_at` is set to make
/// that sum the on-demand grace end.
async fn enter_arrears(
    state: &AppState,
    instance_id: &InstanceId,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    let grace_end = now + state.config.metering.on_demand_grace.0;
    let entered = state
        .store
        .enter_arrears(instance_id, grace_end - state.config.lifecycle.grace.0, now)
        .await?;
    if entered {
        tracing::info!(instance = %instance_id, "on-demand instance in arrears: grace");
    }
    Ok(entered)
}

/// After a top-up: if the buyer's balance (with credit) is no longer negative, every on-demand
/// instance of theirs in arrears is active again, and frozen ones are unfrozen at the seller
/// (`instanceStatus NORMAL` / `updateInstanceStatus UNFREEZE`).
pub async fn settle_arrears(
    state: &AppState,
    buyer: &PartyId,
    balance: &souk_store::Balance,
) -> AppResult<usize> {
    if balance.balance.amount_minor + balance.credit_limit.amount_minor < 0 {
        return Ok(0);
    }
    fn unfreeze(i: &InstanceRecord) -> Vec<souk_store::NewJob> {
        if i.state == InstanceState::Frozen {
            vec![status_job(i, CallKind::UnfreezeInstance)]
        } else {
            Vec::new()
        }
    }
    let cleared = state
        .store
        .clear_arrears(buyer, unfreeze, state.clock.now())
        .await?;
    if !cleared.is_empty() {
        state.wake.notify_one();
    }
    Ok(cleared.len())
}

/// The currency an instance's usage is billed in (what an adjustment must be written in).
pub async fn billing_currency(
    state: &AppState,
    instance_id: &InstanceId,
) -> AppResult<souk_core::money::Currency> {
    let (_, currency, _) = price_of(state, instance_id)
        .await
        .map_err(|_| AppError::not_found("instance"))?;
    Ok(currency)
}

/// An operator's correction of an instance's usage charges: `amount` owed (positive) or
/// credited (negative), with the reason the buyer sees on the ledger line. Arrears follow the
/// balance as after a rated charge.
pub async fn adjust(
    state: &AppState,
    actor: &PartyId,
    instance_id: &InstanceId,
    amount: souk_core::money::Money,
    reason: &str,
) -> AppResult<souk_store::UsageChargeRow> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid_field(
            "reason",
            "give a reason of 1 to 500 characters",
        ));
    }
    if amount.amount_minor == 0 || amount.bounded().is_err() {
        return Err(AppError::invalid_field(
            "amount",
            "an adjustment is a non-zero amount within ±10^15 minor units",
        ));
    }
    let currency = billing_currency(state, instance_id).await?;
    if currency != amount.currency {
        return Err(AppError::invalid_field(
            "amount",
            format!("the instance is billed in {}", currency.as_str()),
        ));
    }
    let now = state.clock.now();
    let adjustment = souk_store::NewUsageAdjustment {
        // The charges' prefix: adjustments list in time order among them.
        id: souk_core::id::generate("uch", now),
        instance_id: instance_id.clone(),
        period: accumulation_period(
            collection_cutoff(now, time::Duration::ZERO) + time::Duration::HOUR,
            state.config.settlement.zone().map_err(AppError::internal)?,
        ),
        amount,
        reason: reason.to_owned(),
        actor: actor.clone(),
        now,
    };
    let (buyer, balance) = state
        .store
        .adjust_usage(&adjustment)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    if balance.balance.amount_minor + balance.credit_limit.amount_minor < 0 {
        enter_arrears(state, instance_id, now)
            .await
            .map_err(AppError::internal)?;
    } else {
        settle_arrears(state, &buyer, &balance).await?;
    }
    Ok(souk_store::UsageChargeRow {
        id: adjustment.id,
        instance_id: adjustment.instance_id,
        period: adjustment.period,
        cutoff: now,
        usage: UsageValue::ZERO.to_string(),
        records: 0,
        package_usage: UsageValue::ZERO.to_string(),
        excess_usage: UsageValue::ZERO.to_string(),
        amount,
        reason: Some(adjustment.reason),
        created_at: now,
    })
}
