//! Which wire activity each call kind is, and its fields: every request Souk sends a seller is
//! one of `souk-protocol`'s typed activities (V1, V2, License 2.0), built here from the job,
//! its instance and its order. No field name is spelled outside `souk-protocol`.

use crate::seller_client::CallRequest;
use crate::usecase::buyer_wire::WireContact;
use anyhow::Context;
use souk_core::catalog::Protocol;
use souk_core::order::{PeriodUnit, Term};
use souk_core::provisioning::CallKind;
use souk_protocol::activity::values::{
    ChargingMode, Decimal, FreezeStatus, InstanceState, PeriodType, RefreshScene,
};
use souk_protocol::activity::{v1, v2};
use souk_protocol::extend_params::{encode_extend_params, ExtendParam};
use souk_protocol::timestamp::WireTime;
use souk_protocol::Params;
use souk_store::{InstanceRecord, JobRecord, OrderRecord};
use time::OffsetDateTime;

/// A request ready to sign, and whether it carries a fresh businessId.
pub struct BuiltRequest {
    pub activity: &'static str,
    pub request: CallRequest,
    pub uses_business_id: bool,
}

/// What a call is about.
pub struct CallContext<'a> {
    pub job: &'a JobRecord,
    pub instance: &'a InstanceRecord,
    pub order: Option<&'a OrderRecord>,
    pub buyer_name: &'a str,
    pub buyer: &'a WireContact,
    pub business_id: &'a str,
}

/// `12.34` from 1234 minor units: KooGallery's `orderAmount` is a decimal in major units.
fn decimal(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale as u64,
        abs % scale as u64,
        width = exponent as usize
    )
}

/// The placeholder `timeStamp` of a V1 activity: the seller client replaces it with the real
/// time when it signs (protocol time is never the sandbox clock).
fn unsigned_time() -> WireTime {
    WireTime::millis(OffsetDateTime::UNIX_EPOCH)
}

fn v1(a: impl Into<v1::V1Activity>, uses_business_id: bool) -> anyhow::Result<BuiltRequest> {
    let a: v1::V1Activity = a.into();
    Ok(BuiltRequest {
        activity: a.activity(),
        request: CallRequest::V1(Box::new(a)),
        uses_business_id,
    })
}

fn v2(a: impl Into<v2::V2Activity>, uses_business_id: bool) -> anyhow::Result<BuiltRequest> {
    let a: v2::V2Activity = a.into();
    Ok(BuiltRequest {
        activity: a.activity(),
        request: CallRequest::V2(a),
        uses_business_id,
    })
}

/// Builds the request for a job in the product's protocol (License 2.0 calls are always V2).
pub fn build_request(protocol: Protocol, c: &CallContext<'_>) -> anyhow::Result<BuiltRequest> {
    let job = c.job;
    let instance = c.instance;
    let order = c.order;
    let payload = job
        .call_payload()
        .with_context(|| format!("the stored payload of this {} call", job.kind))?;
    let seller_instance = || {
        instance
            .seller_instance_id
            .clone()
            // A release after giving up on the opening: the seller never answered, so it knows
            // the instance (if it made one) by the first businessId, as the protocol advises.
            .or_else(|| payload.first_business_id().map(str::to_owned))
            .context("the seller has not returned an instanceId for this instance yet")
    };
    let order_line = format!("{}-000001", job.order_id);
    let term = order.map(|o| o.term).unwrap_or(instance.term);
    let (period_type, period_number) = match term {
        Term::Period { unit, count } => (
            Some(match unit {
                PeriodUnit::Month => PeriodType::Month,
                PeriodUnit::Year => PeriodType::Year,
            }),
            Some(u64::from(count)),
        ),
        _ => (None, None),
    };
    let charging_mode = match term {
        Term::OneTime => ChargingMode::OneTime,
        Term::OnDemand => ChargingMode::OnDemand,
        _ => ChargingMode::Period,
    };
    // A renewal sends the term it bought (a term without an expiry: the instance's current
    // one), a renewal refund the expiry it moves back to; every other call the instance's
    // current expiry.
    let expire = payload
        .expire_at_ms()
        .map(souk_core::clock::from_unix_ms)
        .or(instance.expire_at);
    let trial_to_formal = payload.renewal().is_some_and(|r| r.trial_to_formal);
    let expire_text = || expire.map(|t| WireTime::seconds(t).to_wire());
    let order_amount = || {
        order.and_then(|o| {
            Decimal::parse(&decimal(
                o.amount.amount_minor,
                o.amount.currency.exponent(),
            ))
            .ok()
        })
    };
    let wire_product_id = || order.map(|o| o.snapshot.wire_product_id.clone());
    let sku_code = || order.map(|o| o.snapshot.sku_code.clone());
    // The quantity goes in the linear field the product declared.
    let linear = |quantity: u32| {
        let field = order.and_then(|o| o.snapshot.quantity_field.as_deref());
        let q = Some(u64::from(quantity));
        match field {
            Some("amount") => (q, None, None),
            Some("diskSize") => (None, q, None),
            Some("bandWidth") => (None, None, q),
            _ => (None, None, None),
        }
    };
    // The buyer's order fields, Base64 JSON [{name, value}] (spec §3.1).
    let extend_params = || {
        order
            .filter(|o| !o.snapshot.extend_params.is_empty())
            .map(|o| {
                let params: Vec<ExtendParam> = o
                    .snapshot
                    .extend_params
                    .iter()
                    .map(|p| ExtendParam {
                        name: p.name.clone(),
                        value: p.value.clone(),
                    })
                    .collect();
                encode_extend_params(&params)
            })
    };
    let license = || {
        payload
            .license()
            .map(str::to_owned)
            .context("the call has no license code")
    };
    match (job.kind, protocol, job.phase.as_str()) {
        (CallKind::RefreshLicenseCode, _, _) => v2(
            v2::RefreshLicenseCode {
                scene: RefreshScene::Renewal,
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                license: license()?,
                product_id: wire_product_id(),
                expire_time: expire_text().unwrap_or_default(),
                test_flag: None,
            },
            false,
        ),
        // 退续费 (spec §9.4): the refunded renewal order, the expiry moved back.
        (CallKind::RefundRenewalLicenseCode, _, _) => v2(
            v2::RefreshLicenseCode {
                scene: RefreshScene::UnsubscribeRenewalPeriod,
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                license: license()?,
                product_id: wire_product_id(),
                expire_time: expire_text().unwrap_or_default(),
                test_flag: None,
            },
            false,
        ),
        (CallKind::FreezeLicenseCode | CallKind::UnfreezeLicenseCode, _, _) => v2(
            v2::UpdateLicenseCodeStatus {
                license: license()?,
                status: if job.kind == CallKind::FreezeLicenseCode {
                    FreezeStatus::Freeze
                } else {
                    FreezeStatus::Unfreeze
                },
                test_flag: None,
            },
            false,
        ),
        (CallKind::ReleaseLicenseCode, _, _) => v2(
            v2::ReleaseLicenseCode {
                license: license()?,
                order_id: None,
                order_line_id: None,
                test_flag: None,
            },
            false,
        ),
        (CallKind::NewInstance, Protocol::V1, "poll") => v1(
            v1::QueryInstance {
                instance_id: seller_instance()?,
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::NewInstance, Protocol::V2, "poll") => v2(
            v2::QueryInstance {
                instance_id: seller_instance()?,
                test_flag: None,
            },
            false,
        ),
        (CallKind::NewInstance, Protocol::V1, _) => {
            let (amount, disk_size, band_width) = linear(instance.quantity);
            v1(
                v1::NewInstance {
                    customer_id: instance.buyer_id.to_string(),
                    customer_name: Some(c.buyer_name.to_owned()),
                    // The buyer details the product chose, phone and e-mail encrypted (§2.4).
                    user_id: c.buyer.user_id.clone(),
                    user_name: c.buyer.user_name.clone(),
                    mobile_phone: c.buyer.mobile_phone.clone(),
                    email: c.buyer.email.clone(),
                    business_id: c.business_id.to_owned(),
                    order_id: job.order_id.to_string(),
                    sku_code: sku_code(),
                    product_id: wire_product_id().unwrap_or_default(),
                    trial_flag: instance.trial.then(|| "1".to_owned()),
                    expire_time: expire.map(WireTime::seconds),
                    charging_mode: Some(charging_mode),
                    saas_extend_params: extend_params(),
                    amount,
                    disk_size,
                    band_width,
                    period_type,
                    period_number,
                    order_amount: order_amount(),
                    provision_type: None,
                    time_stamp: unsigned_time(),
                    test_flag: None,
                    extra: Params::new(),
                },
                true,
            )
        }
        (CallKind::GetLicense, Protocol::V1, _) => {
            let (amount, _, _) = linear(instance.quantity);
            v1(
                v1::GetLicense {
                    customer_id: instance.buyer_id.to_string(),
                    customer_name: Some(c.buyer_name.to_owned()),
                    user_id: c.buyer.user_id.clone(),
                    user_name: c.buyer.user_name.clone(),
                    business_id: c.business_id.to_owned(),
                    order_id: job.order_id.to_string(),
                    sku_code: sku_code(),
                    product_id: wire_product_id().unwrap_or_default(),
                    expire_time: expire.map(WireTime::seconds),
                    charging_mode: Some(charging_mode),
                    period_type,
                    period_number,
                    amount,
                    provision_type: None,
                    saas_extend_params: extend_params(),
                    time_stamp: unsigned_time(),
                    test_flag: None,
                    extra: Params::new(),
                },
                true,
            )
        }
        (CallKind::NewInstance, Protocol::V2, _) => v2(
            v2::NewInstance {
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                business_id: c.business_id.to_owned(),
                test_flag: None,
            },
            true,
        ),
        (CallKind::GetLicense, Protocol::V2, _) => v2(
            v2::GetLicenseAsync {
                instance_id: instance.id.to_string(),
                effective_time: WireTime::seconds(
                    instance.period_start.unwrap_or(instance.created_at),
                )
                .to_wire(),
                expire_time: expire_text(),
                event_id: job.order_id.to_string(),
                device_fingerprint: None,
                test_flag: None,
            },
            false,
        ),
        (CallKind::RefreshInstance, Protocol::V1, _) => v1(
            v1::RefreshInstance {
                order_id: job.order_id.to_string(),
                instance_id: seller_instance()?,
                product_id: wire_product_id(),
                expire_time: WireTime::seconds(
                    expire.context("a renewal without an expiry to send")?,
                ),
                trial_to_formal: trial_to_formal.then(|| "1".to_owned()),
                period_type,
                period_number,
                order_amount: order_amount(),
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::RefreshInstance, Protocol::V2, _) => v2(
            v2::RefreshInstance {
                scene: if trial_to_formal {
                    RefreshScene::TrialToFormal
                } else {
                    RefreshScene::Renewal
                },
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                instance_id: seller_instance()?,
                product_id: wire_product_id(),
                expire_time: expire_text().unwrap_or_default(),
                test_flag: None,
            },
            false,
        ),
        // 退续费 (spec §3.2): V1 tells it by a negative orderAmount on the refunded renewal
        // order, with the expiry moved back.
        (CallKind::RefundRenewalPeriod, Protocol::V1, _) => v1(
            v1::RefreshInstance {
                order_id: job.order_id.to_string(),
                instance_id: seller_instance()?,
                product_id: wire_product_id(),
                expire_time: WireTime::seconds(
                    expire.context("a renewal refund without the expiry to move back to")?,
                ),
                trial_to_formal: None,
                period_type,
                period_number,
                order_amount: order.and_then(|o| {
                    Decimal::parse(&decimal(
                        -o.amount.amount_minor,
                        o.amount.currency.exponent(),
                    ))
                    .ok()
                }),
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::RefundRenewalPeriod, Protocol::V2, _) => v2(
            v2::RefreshInstance {
                scene: RefreshScene::UnsubscribeRenewalPeriod,
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                instance_id: seller_instance()?,
                product_id: wire_product_id(),
                expire_time: expire_text().unwrap_or_default(),
                test_flag: None,
            },
            false,
        ),
        (CallKind::UpgradeInstance, Protocol::V1, _) => {
            let (amount, disk_size, band_width) =
                order.map(|o| linear(o.quantity)).unwrap_or_default();
            v1(
                v1::Upgrade {
                    instance_id: seller_instance()?,
                    order_id: job.order_id.to_string(),
                    sku_code: sku_code().unwrap_or_default(),
                    product_id: wire_product_id().unwrap_or_default(),
                    amount,
                    disk_size,
                    band_width,
                    saas_extend_params: None,
                    time_stamp: unsigned_time(),
                    test_flag: None,
                    extra: Params::new(),
                },
                false,
            )
        }
        (CallKind::UpgradeInstance, Protocol::V2, _) => v2(
            v2::UpgradeInstance {
                instance_id: seller_instance()?,
                order_id: job.order_id.to_string(),
                order_line_id: order_line,
                test_flag: None,
            },
            false,
        ),
        // An on-demand instance is frozen for arrears (spec §3.6), not for expiry; a
        // stop-when-exhausted package when its quota is used up (Souk default: the same call).
        (CallKind::FreezeInstance, Protocol::V1, _)
            if matches!(instance.term, Term::OnDemand | Term::Package { .. }) =>
        {
            v1(
                v1::InstanceStatus {
                    instance_id: seller_instance()?,
                    instance_status: InstanceState::Freeze,
                    time_stamp: unsigned_time(),
                    test_flag: None,
                    extra: Params::new(),
                },
                false,
            )
        }
        (CallKind::FreezeInstance, Protocol::V1, _) => v1(
            v1::ExpireInstance {
                instance_id: seller_instance()?,
                order_id: job.order_id.to_string(),
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::FreezeInstance | CallKind::UnfreezeInstance, Protocol::V2, _) => v2(
            v2::UpdateInstanceStatus {
                instance_id: seller_instance()?,
                status: if job.kind == CallKind::FreezeInstance {
                    FreezeStatus::Freeze
                } else {
                    FreezeStatus::Unfreeze
                },
                test_flag: None,
            },
            false,
        ),
        // V1 has no unfreeze; the renewal's refreshInstance reactivates. Should a V1 unfreeze
        // job exist, it is instanceStatus NORMAL.
        (CallKind::UnfreezeInstance, Protocol::V1, _) => v1(
            v1::InstanceStatus {
                instance_id: seller_instance()?,
                instance_status: InstanceState::Normal,
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::ReleaseInstance, Protocol::V1, _) => v1(
            v1::ReleaseInstance {
                instance_id: seller_instance()?,
                order_id: job.order_id.to_string(),
                order_amount: None,
                time_stamp: unsigned_time(),
                test_flag: None,
                extra: Params::new(),
            },
            false,
        ),
        (CallKind::ReleaseInstance, Protocol::V2, _) => v2(
            v2::ReleaseInstance {
                instance_id: seller_instance()?,
                order_id: None,
                order_line_id: None,
                test_flag: None,
            },
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn amounts_are_sent_in_major_units() {
        assert_eq!(decimal(1234, 2), "12.34");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(-1500, 2), "-15.00");
        assert_eq!(decimal(700, 0), "700");
    }
}
