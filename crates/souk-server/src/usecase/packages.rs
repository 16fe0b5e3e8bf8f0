//! Usage packages (套餐包, business rules §6.4): what a package SKU holds (set by its seller),
//! the timer pass that records packages as they take effect and resets their quota per period,
//! and the part of a collection that draws usage from packages before rating the rest on
//! demand. The decisions are `souk_core::metering::package`'s; the store books them.

use crate::error::{AppError, AppResult};
use crate::usecase::orders::status_job;
use crate::AppState;
use souk_core::catalog::BillingMode;
use souk_core::metering::collection_cutoff;
use souk_core::metering::package::{
    consume, period_at, Draw, PackageDef, PackageItem, PackageReset, QuotaAlert,
};
use souk_core::metering::UsageValue;
use souk_core::order::Term;
use souk_core::party::PartyId;
use souk_core::provisioning::CallKind;
use souk_core::transition::StateMachine;
use souk_store::{InstanceRecord, NewJob, NewPackage, PendingUsage, Scope};
use time::OffsetDateTime;

/// A package SKU's definition as the seller writes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageInput {
    /// The package SKU (a SKU of the product with a `package` price).
    pub sku_id: String,
    /// Quota per billing item per period: each item is an on-demand SKU of the same product.
    pub items: Vec<PackageItemInput>,
    /// `none` (default), `monthly` or `yearly`.
    #[serde(default = "no_reset")]
    #[schema(example = "monthly")]
    pub reset: String,
    /// Non-reset packages: how long the quota lasts, 1–36 months.
    pub validity_months: Option<u32>,
    /// Drawn only by records naming it in `relate_pkg_instance`; at zero the seller is told to
    /// stop and nothing is rated on demand.
    #[serde(default)]
    pub stop_when_exhausted: bool,
}

fn no_reset() -> String {
    "none".into()
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageItemInput {
    pub sku_id: String,
    /// Decimal text, > 0, at most 4 decimals.
    #[schema(example = "1000")]
    pub quota: String,
}

pub fn to_input(sku_id: &str, d: &PackageDef) -> PackageInput {
    PackageInput {
        sku_id: sku_id.to_owned(),
        items: d
            .items
            .iter()
            .map(|i| PackageItemInput {
                sku_id: i.sku_id.clone(),
                quota: i.quota.to_string(),
            })
            .collect(),
        reset: d.reset.as_str().to_owned(),
        validity_months: d.validity_months,
        stop_when_exhausted: d.stop_when_exhausted,
    }
}

/// A product (as the caller may see it) with what its package SKUs hold.
pub async fn defs(
    state: &AppState,
    caller: &crate::http::auth::Caller,
    product_id: &str,
) -> AppResult<(souk_store::ProductRecord, Vec<(String, PackageDef)>)> {
    let product = crate::usecase::catalog::get(state, &caller.0, product_id).await?;
    let defs = state.store.package_defs(product.id.as_str()).await?;
    Ok((product, defs))
}

/// Sets the package definitions of a product (its seller): every package SKU named must have a
/// `package` price and every item must be an on-demand SKU of the product.
pub async fn set_defs(
    state: &AppState,
    caller: &crate::http::auth::Caller,
    product_id: &str,
    input: &[PackageInput],
) -> AppResult<()> {
    let product = crate::usecase::catalog::get(state, &caller.0, product_id).await?;
    let sold_as = |sku: &str, mode: BillingMode| {
        product
            .skus
            .iter()
            .any(|s| s.id.as_str() == sku && s.prices.iter().any(|p| p.billing_mode == mode))
    };
    let mut defs = Vec::with_capacity(input.len());
    for (n, p) in input.iter().enumerate() {
        let field = |f: &str| format!("packages[{n}].{f}");
        if !sold_as(&p.sku_id, BillingMode::Package) {
            return Err(AppError::invalid_field(
                &field("sku_id"),
                "name a SKU of this product that has a package price",
            ));
        }
        if defs.iter().any(|(s, _)| s == &p.sku_id) {
            return Err(AppError::invalid_field(
                &field("sku_id"),
                "each package SKU is defined once",
            ));
        }
        let mut items = Vec::with_capacity(p.items.len());
        for (k, i) in p.items.iter().enumerate() {
            if !sold_as(&i.sku_id, BillingMode::OnDemand) {
                return Err(AppError::invalid_field(
                    &field(&format!("items[{k}].sku_id")),
                    "a billing item is an on-demand SKU of this product",
                ));
            }
            let quota = UsageValue::parse_record(&i.quota).map_err(|e| {
                AppError::invalid_field(&field(&format!("items[{k}].quota")), e.to_string())
            })?;
            items.push(PackageItem {
                sku_id: i.sku_id.clone(),
                quota,
            });
        }
        let reset = match p.reset.as_str() {
            "none" => PackageReset::None,
            "monthly" => PackageReset::Monthly,
            "yearly" => PackageReset::Yearly,
            _ => {
                return Err(AppError::invalid_field(
                    &field("reset"),
                    "reset is none, monthly or yearly",
                ))
            }
        };
        let def = PackageDef {
            items,
            reset,
            validity_months: p.validity_months,
            stop_when_exhausted: p.stop_when_exhausted,
        };
        def.check()
            .map_err(|e| AppError::invalid_field(&field("items"), e.to_string()))?;
        defs.push((p.sku_id.clone(), def));
    }
    let found = state
        .store
        .set_package_defs(
            &caller.scope(),
            product.id.as_str(),
            &defs,
            caller.party_id(),
            state.clock.now(),
        )
        .await?;
    if !found {
        return Err(AppError::not_found("product"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The timer pass

/// Records the packages that took effect (their quota starts when the instance opens) and
/// resets the quotas whose period ended before the collection cutoff (the collection that
/// closes a period still draws from it; unused quota is then cleared).
pub async fn packages_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    for instance in state.store.unrecorded_packages(200).await? {
        if record(state, &instance).await? {
            changed += 1;
        }
    }
    let cutoff = collection_cutoff(now, state.config.metering.collect_after.0);
    let at = cutoff - time::Duration::MILLISECOND;
    let zone = state.config.settlement.zone()?;
    for due in state.store.due_resets(cutoff, 500).await? {
        let b = &due.balance;
        let to = period_at(b.effective_at, b.expire_at, b.reset, at, zone);
        if to.0 != b.period_start
            && state
                .store
                .reset_quota(&due.package_id, &due.sku_id, b.period_start, to)
                .await?
        {
            changed += 1;
        }
    }
    Ok(changed)
}

async fn record(state: &AppState, instance: &InstanceRecord) -> anyhow::Result<bool> {
    let (Some(effective), Some(expire)) = (instance.opened_at, instance.expire_at) else {
        return Ok(false);
    };
    let order = state
        .store
        .find_order(&Scope::Everything, &instance.origin_order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("package {} has no origin order", instance.id))?;
    let Some(def) = order.snapshot.package else {
        anyhow::bail!("package {} was bought without a definition", instance.id);
    };
    let zone = state.config.settlement.zone()?;
    let (_, period_end) = period_at(effective, expire, def.reset, effective, zone);
    let quotas = def
        .items
        .iter()
        .map(|i| {
            let q = i.quota.ten_thousandths() * i64::from(instance.quantity.max(1));
            (i.sku_id.clone(), UsageValue::from_ten_thousandths(q))
        })
        .collect();
    Ok(state
        .store
        .record_package(&NewPackage {
            instance: instance.clone(),
            def,
            effective_at: effective,
            expire_at: expire,
            period_end,
            quotas,
        })
        .await?)
}

// ---------------------------------------------------------------------------------------------
// Drawing usage from packages in a collection

/// How a collection's usage of one instance is covered.
pub struct Cover {
    pub draws: Vec<Draw>,
    /// Rated on demand.
    pub rated: UsageValue,
    /// Past a stop-when-exhausted package: not billed.
    pub excess: UsageValue,
    pub notices: Vec<(souk_core::notice::Notice, String)>,
    pub exhaust: Option<(souk_core::id::InstanceId, NewJob)>,
}

/// Draws `p`'s usage (of `instance`'s billing item, rated at `cutoff`) from the buyer's
/// packages in the §6.4 order — or, for records naming a stop-when-exhausted package, from
/// that one only.
pub async fn cover(
    state: &AppState,
    p: &PendingUsage,
    instance: &InstanceRecord,
    cutoff: OffsetDateTime,
) -> anyhow::Result<Cover> {
    let balances = state
        .store
        .quota_balances(&p.buyer_id, &instance.sku_id, p.package.as_deref())
        .await?;
    let percent = state.config.metering.package_alert_percent;
    let zone = state.config.settlement.zone()?;
    let c = consume(balances, p.added, cutoff, percent, zone);
    let stops = p.package.is_some();
    let (rated, excess) = if stops {
        (UsageValue::ZERO, c.leftover)
    } else {
        (c.leftover, UsageValue::ZERO)
    };
    let mut notices = Vec::new();
    let mut exhaust = None;
    for d in &c.draws {
        let Some(alert) = d.alert else { continue };
        let remaining = UsageValue::from_ten_thousandths(
            d.quota.ten_thousandths() - d.used_after.ten_thousandths(),
        );
        notices.push((
            souk_core::notice::package_quota(
                &d.package_id,
                &instance.sku_id,
                alert,
                remaining,
                d.quota,
                stops,
            ),
            d.package_id.clone(),
        ));
        if stops && alert == QuotaAlert::Exhausted {
            exhaust = stop_job(state, &d.package_id).await?;
        }
    }
    Ok(Cover {
        draws: c.draws,
        rated,
        excess,
        notices,
        exhaust,
    })
}

/// The call telling the seller a used-up package stops (`instanceStatus FREEZE` /
/// `updateInstanceStatus FREEZE`), if the package instance can still be frozen.
async fn stop_job(
    state: &AppState,
    package_id: &str,
) -> anyhow::Result<Option<(souk_core::id::InstanceId, NewJob)>> {
    let Some(id) = souk_core::id::InstanceId::parse(package_id) else {
        return Ok(None);
    };
    let Some(pkg) = state.store.find_instance(&Scope::Everything, &id).await? else {
        return Ok(None);
    };
    if pkg
        .state
        .transition(souk_core::instance::InstanceEvent::Exhaust)
        .is_err()
    {
        return Ok(None);
    }
    Ok(Some((id, status_job(&pkg, CallKind::FreezeInstance))))
}

/// Whether a record pushed by `seller` for `instance` may name `package` (a stop-when-exhausted
/// package of the same buyer holding quota of the instance's item, in effect over the record,
/// not used up). `Ok(None)`: the record names a package that is not stop-when-exhausted, which
/// is drawn in the platform order like any other usage.
pub fn check_named(
    package: Option<&souk_store::PackageRecord>,
    name: &str,
    instance: &InstanceRecord,
    seller: &PartyId,
    begin: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Option<String>, (String, String)> {
    let Some(p) = package.filter(|p| p.buyer_id == instance.buyer_id && &p.seller_id == seller)
    else {
        return Err((
            "package_not_found".into(),
            format!("the instance's buyer holds no usage package {name}"),
        ));
    };
    if !p.stop_when_exhausted {
        return Ok(None);
    }
    if !p.items.contains(&instance.sku_id) {
        return Err((
            "package_item_mismatch".into(),
            format!("package {name} holds no quota of this instance's billing item"),
        ));
    }
    if let Some(at) = p.exhausted_at {
        return Err((
            "quota_exhausted".into(),
            format!("package {name} was used up at {at}; the service must stop"),
        ));
    }
    if begin < p.effective_at || end > p.expire_at {
        return Err((
            "package_not_in_effect".into(),
            format!(
                "package {name} is in effect from {} to {}",
                p.effective_at, p.expire_at
            ),
        ));
    }
    Ok(Some(p.id.clone()))
}

// ---------------------------------------------------------------------------------------------
// Auto re-purchase (business rules §6.4: off unless the buyer turns it on)

/// The packages a booked charge used up: an item's quota reached zero in its period (the
/// exhaustion alert, raised once per period and item).
pub fn used_up(draws: &[Draw]) -> Vec<String> {
    let mut ids: Vec<String> = draws
        .iter()
        .filter(|d| d.alert == Some(QuotaAlert::Exhausted))
        .map(|d| d.package_id.clone())
        .collect();
    ids.dedup();
    ids
}

/// Buys a package again for its buyer — same SKU, quantity and periods, auto re-purchase on
/// for the new one — paid from the balance (a failed payment cancels the order). The buyer
/// turns it on with the package instance's `auto_renew` (at order time or with
/// `PUT /v1/instances/{id}/auto-renew`); it is then turned off on the old package, so a
/// package is bought again once: when used up, or at expiry, whichever comes first.
pub async fn repurchase(
    state: &AppState,
    package: &InstanceRecord,
) -> AppResult<souk_store::OrderRecord> {
    let Term::Package { periods, .. } = package.term else {
        return Err(AppError::invalid_field(
            "term",
            "only packages are bought again",
        ));
    };
    if !package.auto_renew {
        return Err(AppError::invalid_field(
            "auto_renew",
            "auto re-purchase is off",
        ));
    }
    let order = crate::usecase::orders::place(
        state,
        &package.buyer_id,
        crate::usecase::orders::PlaceOrder {
            sku_id: package.sku_id.as_str().to_owned(),
            billing_mode: BillingMode::Package,
            // A non-reset package is bought as one period.
            periods: Some(periods.max(1)),
            quantity: Some(package.quantity),
            auto_renew: true,
            extend_params: Default::default(),
            recipient: None,
            sales_scenario: Default::default(),
            offer: None,
            // An automatic re-purchase never spends the buyer's vouchers.
            voucher: None,
        },
    )
    .await?;
    let paid = match crate::usecase::orders::pay(state, &package.buyer_id, &order.id).await {
        Ok(o) => o,
        Err(e) => {
            let _ = crate::usecase::orders::cancel(state, &package.buyer_id, &order.id).await;
            return Err(e);
        }
    };
    state
        .store
        .set_auto_renew(&Scope::Everything, &package.id, false, state.clock.now())
        .await?;
    tracing::info!(package = %package.id, order = %paid.id, "package bought again");
    Ok(paid)
}

/// After a charge: the used-up packages whose buyer turned auto re-purchase on are bought
/// again. Best effort: a refused purchase (balance, product withdrawn) is logged, the charge
/// stands.
pub async fn repurchase_used_up(state: &AppState, package_ids: &[String]) -> anyhow::Result<()> {
    for id in package_ids {
        let Some(id) = souk_core::id::InstanceId::parse(id) else {
            continue;
        };
        let Some(pkg) = state.store.find_instance(&Scope::Everything, &id).await? else {
            continue;
        };
        if !pkg.auto_renew {
            continue;
        }
        if let Err(e) = repurchase(state, &pkg).await {
            tracing::info!(package = %pkg.id, error = %e.message, "auto re-purchase not possible");
        }
    }
    Ok(())
}
