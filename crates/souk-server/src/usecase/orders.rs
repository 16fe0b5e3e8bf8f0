//! Buying: placing, paying and cancelling orders for new instances, renewals, upgrades and
//! trial conversions.
//!
//! Pricing and every rule come from `souk-core`; paying is one store transaction that debits
//! the balance, opens or changes the instance and enqueues the seller calls.

use crate::error::{AppError, AppResult};
use crate::usecase::{licenses, supervision};
use crate::AppState;
use axum::http::StatusCode;
use serde::Deserialize;
use souk_core::call_payload::{CallPayload, CodeChange, RenewalTerm};
use souk_core::catalog::{BillingMode, BuyerField, DeliveryType, LicenseMode, Protocol};
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::{renewable, renewed_expiry, InstanceEvent, InstanceState};
use souk_core::order::{price, upgrade_charge, OrderKind, PeriodUnit, Term};
use souk_core::party::PartyId;
use souk_core::provisioning::CallKind;
use souk_core::snapshot::{BuyerContact, OrderSnapshot};
use souk_core::transition::StateMachine;
use souk_store::{
    InstanceChange, InstanceRecord, NewInstanceRow, NewJob, NewOrder, OrderRecord, PayError,
    PurchasableSku, Scope,
};

/// A new purchase or trial.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    pub sku_id: String,
    /// monthly, yearly, one_time, trial or on_demand (no prepaid term: usage is rated hourly
    /// and charged to the balance).
    pub billing_mode: BillingMode,
    /// Months or years for monthly/yearly (1–36; default 1).
    #[schema(minimum = 1, maximum = 36)]
    pub periods: Option<u32>,
    /// Units of the SKU's quantity attribute (default: its minimum, or 1).
    pub quantity: Option<u32>,
    /// Renew automatically at expiry when the balance allows.
    #[serde(default)]
    pub auto_renew: bool,
    /// Values of the product's order fields, by field name (sent to the seller).
    #[serde(default)]
    pub extend_params: std::collections::BTreeMap<String, String>,
    /// Hardware only, and required there: where the goods go.
    #[serde(default)]
    pub recipient: Option<souk_core::snapshot::Recipient>,
    /// The sales scenario of the order (from the buyer's track or the voucher paid with):
    /// `general` (default), `empowerment` or `base`. Decides platform review (§3.1).
    #[serde(default)]
    pub sales_scenario: souk_core::supervision::SalesScenario,
    /// A reseller's exclusive offer link token (专属优惠, §11): the order is sold at the
    /// offer's price and records the reseller.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub offer: Option<String>,
    /// A seller voucher of the buyer's (`vch_…`, §8.2): it pays what it can of the order's
    /// price when the order is paid; the rest is debited from the balance. New prepaid
    /// purchases only (never trials or on-demand usage).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub voucher: Option<String>,
}

/// A renewal or trial conversion of an instance.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewInstance {
    /// monthly or yearly (default: the instance's current unit).
    pub billing_mode: Option<BillingMode>,
    /// Months or years (1–36; default 1).
    #[schema(minimum = 1, maximum = 36)]
    pub periods: Option<u32>,
}

/// A change of SKU and/or quantity.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeInstance {
    /// The new SKU (same product); default: the current one.
    pub sku_id: Option<String>,
    pub quantity: Option<u32>,
}

fn term_for(mode: BillingMode, periods: Option<u32>, trial_days: Option<u32>) -> AppResult<Term> {
    let count = periods.unwrap_or(1);
    let period = |unit| {
        if !(1..=36).contains(&count) {
            return Err(AppError::invalid_field(
                "periods",
                "periods must be between 1 and 36",
            ));
        }
        Ok(Term::Period { unit, count })
    };
    match mode {
        BillingMode::Monthly => period(PeriodUnit::Month),
        BillingMode::Yearly => period(PeriodUnit::Year),
        BillingMode::OneTime => Ok(Term::OneTime),
        BillingMode::Trial => Ok(Term::Trial {
            days: trial_days.unwrap_or(7),
        }),
        BillingMode::OnDemand => Ok(Term::OnDemand),
        // The package's term comes from its definition (`package_term`).
        BillingMode::Package => Err(AppError::invalid_field(
            "billing_mode",
            "a package is bought through its package SKU",
        )),
    }
}

fn mode_of(term: &Term) -> BillingMode {
    match term {
        Term::Period {
            unit: PeriodUnit::Month,
            ..
        } => BillingMode::Monthly,
        Term::Period {
            unit: PeriodUnit::Year,
            ..
        } => BillingMode::Yearly,
        Term::OneTime => BillingMode::OneTime,
        Term::Trial { .. } => BillingMode::Trial,
        Term::OnDemand => BillingMode::OnDemand,
        Term::Package { .. } => BillingMode::Package,
    }
}

/// What a package SKU gives (its seller's definition, `PUT /v1/products/{id}/usage-packages`).
async fn package_def(
    state: &AppState,
    sku_id: &str,
) -> AppResult<souk_core::metering::package::PackageDef> {
    state.store.package_def(sku_id).await?.ok_or_else(|| {
        AppError::invalid_field(
            "sku_id",
            "the seller has not said what this package holds yet; it cannot be bought",
        )
    })
}

async fn sku(state: &AppState, sku_id: &str) -> AppResult<PurchasableSku> {
    state
        .store
        .purchasable_sku(sku_id)
        .await?
        .ok_or_else(|| AppError::not_found("SKU on sale"))
}

fn quantity_for(sku: &PurchasableSku, requested: Option<u32>) -> AppResult<u32> {
    match &sku.quantity {
        Some(q) => {
            let n = requested.unwrap_or(q.min);
            if n < q.min || n > q.max {
                return Err(AppError::invalid_field(
                    "quantity",
                    format!("{} must be between {} and {}", q.name, q.min, q.max),
                ));
            }
            Ok(n)
        }
        None => match requested {
            None | Some(1) => Ok(1),
            Some(_) => Err(AppError::invalid_field(
                "quantity",
                "this SKU has no quantity attribute; leave quantity out",
            )),
        },
    }
}

fn price_of(sku: &PurchasableSku, mode: BillingMode) -> AppResult<&souk_store::SkuPrice> {
    sku.prices
        .iter()
        .find(|p| p.billing_mode == mode)
        .ok_or_else(|| {
            AppError::invalid_field("billing_mode", format!("this SKU is not sold as {mode}"))
        })
}

fn snapshot(sku: &PurchasableSku, p: &souk_store::SkuPrice) -> OrderSnapshot {
    OrderSnapshot {
        product_name: sku.product_name.clone(),
        delivery_type: sku.delivery_type,
        sku_code: sku.sku_code.clone(),
        wire_product_id: p.wire_product_id.clone(),
        attributes: serde_json::from_value(sku.attributes.clone()).unwrap_or_default(),
        billing_mode: p.billing_mode,
        unit_price: p.unit_price,
        quantity_field: sku
            .quantity
            .as_ref()
            .map(|q| q.wire_field.as_str().to_owned()),
        license_mode: sku.license_mode,
        auto_renew: false,
        previous_sku_id: None,
        previous_quantity: None,
        buyer: BuyerContact::default(),
        extend_params: Vec::new(),
        usage_price: None,
        package: None,
        recipient: None,
        supervised: sku.supervised,
        open_after_acceptance: sku.supervised && sku.open_after_acceptance,
        sales_scenario: Default::default(),
    }
}

/// The buyer details the product sends its seller (its integration profile's `buyer_fields`),
/// as they are now: the order keeps them, so every retry of the call sends the same.
async fn buyer_contact(
    state: &AppState,
    buyer: &PartyId,
    fields: &[BuyerField],
) -> AppResult<BuyerContact> {
    if fields.is_empty() {
        return Ok(BuyerContact::default());
    }
    let party = state
        .store
        .find_party(&Scope::Everything, buyer)
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    let mut contact = BuyerContact::default();
    for field in fields {
        match field {
            BuyerField::CustomerName => contact.customer_name = Some(party.name.clone()),
            // Souk has no IAM sub-users: the buyer's account is the user.
            BuyerField::UserId => contact.user_id = Some(party.id.to_string()),
            BuyerField::UserName => contact.user_name = Some(party.name.clone()),
            BuyerField::Email => contact.email = party.email.clone(),
            BuyerField::MobilePhone => contact.mobile_phone = party.mobile_phone.clone(),
        }
    }
    Ok(contact)
}

fn term_too_long(e: souk_core::order::TermTooLong) -> AppError {
    AppError::invalid_field("periods", e.to_string())
}

/// The business zone, in which terms count their months (business rules §0).
fn zone(state: &AppState) -> AppResult<time::UtcOffset> {
    state.config.settlement.zone().map_err(AppError::internal)
}

/// When a term starting at `start` ends; a term past year 9999 is a 422 before anything is
/// charged.
fn term_end(
    state: &AppState,
    term: &Term,
    start: time::OffsetDateTime,
) -> AppResult<Option<time::OffsetDateTime>> {
    term.end(start, zone(state)?).map_err(term_too_long)
}

/// The entitlement with the floor-discount formula's floor for what the order buys.
fn with_floor(
    entitled: Option<(souk_store::OrderReseller, i64)>,
    term: &Term,
    quantity: u32,
    currency: souk_core::money::Currency,
) -> AppResult<Option<souk_store::OrderReseller>> {
    let Some((mut r, floor_unit)) = entitled else {
        return Ok(None);
    };
    let floor = price(
        souk_core::money::Money::new(floor_unit, currency),
        term,
        quantity,
    )
    .map_err(money_error)?;
    r.terms.floor_minor = floor.amount_minor;
    Ok(Some(r))
}

fn money_error(e: souk_core::money::MoneyError) -> AppError {
    AppError::invalid_field("quantity", format!("the price cannot be computed: {e}"))
}

/// Places a new purchase or trial; the order waits for payment.
pub async fn place(state: &AppState, buyer: &PartyId, input: PlaceOrder) -> AppResult<OrderRecord> {
    let sku = sku(state, &input.sku_id).await?;
    if sku.delivery_type == DeliveryType::Api {
        return Err(AppError::invalid_field(
            "sku_id",
            "API products are sold as call packages, which cannot be bought yet",
        ));
    }
    let recipient = supervision::recipient_for(sku.delivery_type, input.recipient)?;
    let p = price_of(&sku, input.billing_mode)?;
    let package = if input.billing_mode == BillingMode::Package {
        Some(package_def(state, &sku.sku_id).await?)
    } else {
        None
    };
    let term = match &package {
        Some(def) => {
            let (months, periods) = def
                .term(input.periods)
                .map_err(|e| AppError::invalid_field("periods", e.to_string()))?;
            Term::Package { months, periods }
        }
        None => term_for(input.billing_mode, input.periods, p.trial_days)?,
    };
    let quantity = quantity_for(&sku, input.quantity)?;
    if package.is_some() {
        souk_core::metering::package::check_purchase_quantity(quantity)
            .map_err(|e| AppError::invalid_field("quantity", e.to_string()))?;
    }
    let entitled = super::resellers::entitlement(
        state,
        buyer,
        &sku,
        input.billing_mode,
        input.offer.as_deref(),
    )
    .await?;
    let unit_price = entitled.as_ref().map_or(p.unit_price, |(r, _)| {
        souk_core::money::Money::new(r.unit_price_minor, p.unit_price.currency)
    });
    let amount = price(unit_price, &term, quantity).map_err(money_error)?;
    let reseller = with_floor(entitled, &term, quantity, p.unit_price.currency)?;
    let voucher = match &input.voucher {
        Some(id) => {
            let purchase = souk_core::voucher::Purchase {
                buyer_id: buyer.as_str(),
                seller_id: sku.seller_id.as_str(),
                product_id: &sku.product_id,
                sku_id: &sku.sku_id,
                kind: if input.billing_mode == BillingMode::Trial {
                    OrderKind::Trial
                } else {
                    OrderKind::New
                },
                billing_mode: input.billing_mode,
                amount,
                via_offer: input.offer.is_some(),
            };
            Some(super::vouchers::part_for(state, id, &purchase).await?)
        }
        None => None,
    };
    let now = state.clock.now();
    term_end(state, &term, now)?;
    let extend_params =
        souk_core::catalog::check_order_values(&sku.order_fields, &input.extend_params)
            .map_err(|(field, message)| AppError::invalid_field(&field, message))?
            .into_iter()
            .map(|(name, value)| souk_core::snapshot::ExtendValue { name, value })
            .collect();
    // Business rules §6.3, Souk default `trial.per_account_per_sku = 1`: enforced by the unique
    // index `orders_one_trial_per_buyer_sku` when the order is created (a cancelled trial order
    // does not count, a refunded one does), so two racing requests cannot both get a trial; its
    // violation is `409 trial_used` (crate::error).
    // On demand: the product's Step/Tier rating as it is now goes with the order.
    let usage_price = if input.billing_mode == BillingMode::OnDemand {
        state.store.usage_price(&sku.product_id).await?
    } else {
        None
    };
    let kind = if input.billing_mode == BillingMode::Trial {
        OrderKind::Trial
    } else {
        OrderKind::New
    };
    let order = NewOrder {
        id: OrderId::generate(now),
        kind,
        buyer_id: buyer.clone(),
        seller_id: sku.seller_id.clone(),
        product_id: sku.product_id.clone(),
        sku_id: sku.sku_id.clone(),
        instance_id: InstanceId::generate(now),
        term,
        quantity,
        amount,
        snapshot: OrderSnapshot {
            auto_renew: input.auto_renew,
            buyer: buyer_contact(state, buyer, &sku.buyer_fields).await?,
            extend_params,
            usage_price,
            package,
            recipient,
            sales_scenario: input.sales_scenario,
            unit_price,
            ..snapshot(&sku, p)
        },
        pay_deadline: now + state.config.lifecycle.unpaid_order_timeout.0,
        now,
        reseller,
        voucher,
    };
    Ok(state.store.create_order(order).await?)
}

/// A path's order id; a malformed one names no order (the same 404 as an unknown one).
pub fn order_id(id: &str) -> AppResult<OrderId> {
    OrderId::parse(id).ok_or_else(|| AppError::not_found("order"))
}

/// A path's instance id; a malformed one names no instance (the same 404 as an unknown one).
pub fn instance_id(id: &str) -> AppResult<InstanceId> {
    InstanceId::parse(id).ok_or_else(|| AppError::not_found("instance"))
}

async fn own_instance(
    state: &AppState,
    buyer: &PartyId,
    id: &InstanceId,
) -> AppResult<InstanceRecord> {
    state
        .store
        .find_instance(&Scope::Party(buyer.clone()), id)
        .await?
        .filter(|i| &i.buyer_id == buyer)
        .ok_or_else(|| AppError::not_found("instance"))
}

/// Turns auto-renew of one of `scope`'s instances on or off (`PUT
/// /v1/instances/{id}/auto-renew` and the buyer center's switch).
pub async fn set_auto_renew(
    state: &AppState,
    scope: &souk_store::Scope,
    id: &InstanceId,
    on: bool,
) -> AppResult<InstanceRecord> {
    state
        .store
        .set_auto_renew(scope, id, on, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("instance"))
}

/// Places a renewal (or, for a trial instance, a conversion to paid).
pub async fn renew(
    state: &AppState,
    buyer: &PartyId,
    instance_id: &InstanceId,
    input: RenewInstance,
) -> AppResult<OrderRecord> {
    let instance = own_instance(state, buyer, instance_id).await?;
    if !renewable(instance.state) {
        return Err(AppError::conflict(
            "not_renewable",
            format!("an instance that is {} cannot be renewed", instance.state),
        ));
    }
    let sku = sku(state, &instance.sku_id).await?;
    let mode = match input.billing_mode {
        Some(m) => m,
        None if instance.trial => {
            return Err(AppError::invalid_field(
                "billing_mode",
                "choose monthly or yearly to convert this trial",
            ))
        }
        None => mode_of(&instance.term),
    };
    if !mode.is_period() {
        return Err(AppError::invalid_field(
            "billing_mode",
            "renewals are monthly or yearly",
        ));
    }
    let p = price_of(&sku, mode)?;
    let term = term_for(mode, input.periods, None)?;
    let amount = price(p.unit_price, &term, instance.quantity).map_err(money_error)?;
    let entitled = super::resellers::entitlement(state, buyer, &sku, mode, None).await?;
    let reseller = with_floor(entitled, &term, instance.quantity, p.unit_price.currency)?;
    let now = state.clock.now();
    let kind = if instance.trial {
        OrderKind::TrialToFormal
    } else {
        OrderKind::Renewal
    };
    // Refuse now, not at payment, a renewal whose term could not be recorded.
    if kind == OrderKind::TrialToFormal {
        term_end(state, &term, now)?;
    } else {
        renewed_expiry(instance.expire_at.unwrap_or(now), &term, zone(state)?)
            .map_err(term_too_long)?;
    }
    let order = NewOrder {
        id: OrderId::generate(now),
        kind,
        buyer_id: buyer.clone(),
        seller_id: instance.seller_id.clone(),
        product_id: instance.product_id.clone(),
        sku_id: instance.sku_id.clone(),
        instance_id: instance.id.clone(),
        term,
        quantity: instance.quantity,
        amount,
        snapshot: snapshot(&sku, p),
        pay_deadline: now + state.config.lifecycle.unpaid_order_timeout.0,
        now,
        reseller,
        voucher: None,
    };
    Ok(state.store.create_order(order).await?)
}

/// Places an upgrade: a new SKU and/or quantity, charged pro rata for the time left.
pub async fn upgrade(
    state: &AppState,
    buyer: &PartyId,
    instance_id: &InstanceId,
    input: UpgradeInstance,
) -> AppResult<OrderRecord> {
    let instance = own_instance(state, buyer, instance_id).await?;
    if instance.term == Term::OnDemand {
        return Err(AppError::conflict(
            "not_upgradable",
            "an on-demand instance is not upgraded: its usage is rated as it comes",
        ));
    }
    if matches!(instance.term, Term::Package { .. }) {
        return Err(AppError::conflict(
            "not_upgradable",
            "a usage package is not upgraded: buy another package",
        ));
    }
    if !seller_opened(state, &instance).await? {
        return Err(AppError::conflict(
            "not_upgradable",
            "only SaaS and License instances a seller opened can change specification; buy \
             the new one instead",
        ));
    }
    if instance.state.apply(InstanceEvent::Upgrade).is_err() || instance.trial {
        return Err(AppError::conflict(
            "not_upgradable",
            "only an active, paid instance can be upgraded",
        ));
    }
    if !state
        .store
        .license_codes_of_instance(&Scope::Everything, &instance.id)
        .await?
        .is_empty()
    {
        return Err(AppError::conflict(
            "not_upgradable",
            "an instance with Souk-issued license codes cannot be upgraded; buy more codes instead",
        ));
    }
    let old_sku = sku(state, &instance.sku_id).await?;
    let new_sku = sku(state, input.sku_id.as_deref().unwrap_or(&instance.sku_id)).await?;
    if new_sku.product_id != old_sku.product_id {
        return Err(AppError::invalid_field(
            "sku_id",
            "an upgrade stays within the same product",
        ));
    }
    let quantity = quantity_for(&new_sku, input.quantity.or(Some(instance.quantity)))?;
    if new_sku.sku_id == old_sku.sku_id && quantity == instance.quantity {
        return Err(AppError::invalid_field(
            "sku_id",
            "this is the instance's current specification",
        ));
    }
    let mode = mode_of(&instance.term);
    let old_p = price_of(&old_sku, mode)?;
    let new_p = price_of(&new_sku, mode)?;
    let per =
        |p: &souk_store::SkuPrice, q: u32| p.unit_price.checked_mul(q as i64).map_err(money_error);
    let now = state.clock.now();
    let amount = match (instance.term, instance.expire_at) {
        (Term::Period { unit, .. }, Some(expire)) => upgrade_charge(
            per(old_p, instance.quantity)?,
            per(new_p, quantity)?,
            now,
            expire,
            unit,
        )
        .map_err(money_error)?,
        _ => {
            let diff = per(new_p, quantity)?
                .checked_sub(per(old_p, instance.quantity)?)
                .map_err(money_error)?;
            souk_core::money::Money::new(diff.amount_minor.max(0), diff.currency)
        }
    };
    // An upgrade's commission is on the difference paid; no floor (the price is the catalogue's).
    let reseller = super::resellers::entitlement(state, buyer, &new_sku, mode, None)
        .await?
        .map(|(r, _)| r);
    let order = NewOrder {
        id: OrderId::generate(now),
        kind: OrderKind::Upgrade,
        buyer_id: buyer.clone(),
        seller_id: instance.seller_id.clone(),
        product_id: instance.product_id.clone(),
        sku_id: new_sku.sku_id.clone(),
        instance_id: instance.id.clone(),
        term: instance.term,
        quantity,
        amount,
        snapshot: OrderSnapshot {
            previous_sku_id: Some(instance.sku_id.clone()),
            previous_quantity: Some(instance.quantity),
            ..snapshot(&new_sku, new_p)
        },
        pay_deadline: now + state.config.lifecycle.unpaid_order_timeout.0,
        now,
        reseller,
        voucher: None,
    };
    Ok(state.store.create_order(order).await?)
}

fn pay_error(e: PayError) -> AppError {
    match e {
        PayError::NotFound => AppError::not_found("order"),
        PayError::NotPending(s) => AppError::conflict(
            "order_not_payable",
            format!("the order is {s}; only pending orders can be paid"),
        ),
        PayError::Expired => AppError::conflict(
            "order_expired",
            "the payment deadline has passed; place the order again",
        ),
        PayError::Funds(e) => AppError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_funds",
            e.to_string(),
        ),
        PayError::InstanceChanged(s) => AppError::conflict(
            "instance_changed",
            format!("the instance is now {s}; look at it and try again"),
        ),
        PayError::Voucher(id) => AppError::conflict(
            "voucher_exhausted",
            format!("voucher {id} can no longer pay this order's voucher part"),
        ),
        PayError::Store(e) => e.into(),
    }
}

/// Pays an order from the buyer's balance; provisioning starts at once.
pub async fn pay(state: &AppState, buyer: &PartyId, order_id: &OrderId) -> AppResult<OrderRecord> {
    let order = state
        .store
        .find_order(&Scope::Party(buyer.clone()), order_id)
        .await?
        .filter(|o| &o.buyer_id == buyer)
        .ok_or_else(|| AppError::not_found("order"))?;
    let now = state.clock.now();
    let job = |kind: CallKind, payload: CallPayload| NewJob {
        kind,
        instance_id: order.instance_id.clone(),
        order_id: order.id.clone(),
        seller_id: order.seller_id.clone(),
        product_id: order.product_id.clone(),
        payload,
    };
    let (new_instance, change, jobs) = match order.kind {
        OrderKind::New | OrderKind::Trial => {
            let delivery = order.snapshot.delivery_type;
            let expire_at = term_end(state, &order.term, now)?;
            let souk_codes = delivery == DeliveryType::License
                && order.snapshot.license_mode == Some(LicenseMode::SoukCodes);
            let license_codes = if souk_codes {
                licenses::new_codes(state, &order.product_id, order.quantity).await?
            } else {
                Vec::new()
            };
            let supervision = supervision::start_for(state, &order, now).await?;
            // Supervised SaaS opened after acceptance: newInstance waits for the buyer.
            let later = order.snapshot.open_after_acceptance && supervision.is_some();
            // Souk issues the codes, or no seller call exists for the type (Image): the
            // instance opens now. Supervised types without a call (and Licenses delivered by
            // hand) open when supervision ends.
            let no_call = !order.snapshot.seller_opens();
            let open_now = souk_codes || (no_call && supervision.is_none());
            let row = NewInstanceRow {
                id: order.instance_id.clone(),
                buyer_id: order.buyer_id.clone(),
                seller_id: order.seller_id.clone(),
                product_id: order.product_id.clone(),
                sku_id: order.sku_id.clone(),
                origin_order_id: order.id.clone(),
                delivery_type: delivery.as_str().to_owned(),
                term: order.term,
                quantity: order.quantity,
                trial: order.kind == OrderKind::Trial,
                auto_renew: order.snapshot.auto_renew,
                period_start: Some(now),
                expire_at,
                open_now,
                license_codes,
                supervision,
            };
            let kind = if delivery == DeliveryType::License {
                CallKind::GetLicense
            } else {
                CallKind::NewInstance
            };
            let jobs = if souk_codes || no_call || later {
                vec![]
            } else {
                vec![job(kind, CallPayload::Nothing)]
            };
            (Some(row), None, jobs)
        }
        OrderKind::Renewal | OrderKind::TrialToFormal => {
            let instance = state
                .store
                .find_instance(&Scope::Everything, &order.instance_id)
                .await?
                .ok_or_else(|| AppError::not_found("instance"))?;
            let renewal = instance
                .state
                .transition(InstanceEvent::Renew)
                .map_err(|_| {
                    AppError::conflict(
                        "not_renewable",
                        format!(
                            "the instance is {} and can no longer be renewed",
                            instance.state
                        ),
                    )
                })?;
            let conversion = order.kind == OrderKind::TrialToFormal;
            // Renewals continue from the old expiry (grace days are not free); a conversion
            // starts the paid term now.
            let start = if conversion {
                now
            } else {
                instance.expire_at.unwrap_or(now)
            };
            let expire_at = if conversion {
                term_end(state, &order.term, now)?
            } else {
                renewed_expiry(start, &order.term, zone(state)?).map_err(term_too_long)?
            };
            let new_term = RenewalTerm {
                expire_at_ms: expire_at.map(souk_core::clock::to_unix_ms),
                trial_to_formal: conversion,
            };
            // Souk-issued codes: the seller's License 2.0 interfaces hear of each activated
            // code, and the order completes now (nothing waits for the seller).
            let code_jobs = licenses::code_jobs(
                state,
                &instance,
                CallKind::RefreshLicenseCode,
                &order.id,
                Some(CodeChange::Renewal(new_term)),
            )
            .await?;
            let souk_codes = code_jobs.is_some();
            let mut jobs = match code_jobs {
                Some(mut jobs) => {
                    if instance.state == InstanceState::Frozen {
                        jobs.extend(
                            licenses::code_jobs(
                                state,
                                &instance,
                                CallKind::UnfreezeLicenseCode,
                                &instance.origin_order_id,
                                None,
                            )
                            .await?
                            .unwrap_or_default(),
                        );
                    }
                    jobs
                }
                None => vec![job(
                    CallKind::RefreshInstance,
                    CallPayload::Renewal(new_term),
                )],
            };
            if instance.state == InstanceState::Frozen && !souk_codes {
                let profile = state.store.integration_profile(&order.product_id).await?;
                if profile.is_some_and(|p| p.protocol == Protocol::V2) {
                    jobs.push(status_job(&instance, CallKind::UnfreezeInstance));
                }
            }
            // Image, manual service, hardware, data file, Licenses delivered by hand: no
            // seller endpoint hears of the renewal, so it completes now.
            let no_call = !order.snapshot.seller_opens();
            if no_call {
                jobs.clear();
            }
            let change = InstanceChange {
                transition: renewal,
                expire_at,
                period_start: conversion.then_some(now),
                term: Some(order.term),
                trial: conversion.then_some(false),
                complete_order: souk_codes || no_call,
            };
            (None, Some(change), jobs)
        }
        OrderKind::Upgrade => {
            // Paid only while the instance is still active (as when the order was placed).
            let change = InstanceChange {
                transition: InstanceState::Active
                    .transition(InstanceEvent::Upgrade)
                    .map_err(|e| AppError::conflict("not_upgradable", e.to_string()))?,
                expire_at: None,
                period_start: None,
                term: None,
                trial: None,
                complete_order: false,
            };
            (
                None,
                Some(change),
                vec![job(CallKind::UpgradeInstance, CallPayload::Nothing)],
            )
        }
    };
    let paid = match state
        .store
        .pay_order(buyer, order_id, new_instance, change, jobs, now)
        .await
    {
        Ok(paid) => paid,
        Err(PayError::Voucher(id)) => {
            return Err(super::vouchers::payment_refused(state, &id).await)
        }
        Err(e) => return Err(pay_error(e)),
    };
    // The instance's expiry or state may have changed: heartbeats must see it at once.
    state.licenses.invalidate_instance(&order.instance_id);
    state.wake.notify_one();
    Ok(paid)
}

/// Cancels an unpaid order.
pub async fn cancel(
    state: &AppState,
    buyer: &PartyId,
    order_id: &OrderId,
) -> AppResult<OrderRecord> {
    match state
        .store
        .cancel_order(
            &Scope::Party(buyer.clone()),
            order_id,
            Some(buyer),
            state.clock.now(),
        )
        .await?
    {
        None => Err(AppError::not_found("order")),
        Some(Err(s)) => Err(AppError::conflict(
            "order_not_cancellable",
            format!("the order is {s}; only unpaid orders can be cancelled"),
        )),
        Some(Ok(o)) => Ok(o),
    }
}

/// Renews an instance for its current term, paying from the balance; used by the timer.
pub async fn auto_renew(state: &AppState, instance: &InstanceRecord) -> AppResult<OrderRecord> {
    // A package is not renewed: with auto re-purchase on, another one is bought.
    if matches!(instance.term, Term::Package { .. }) {
        return super::packages::repurchase(state, instance).await;
    }
    let mode = mode_of(&instance.term);
    let periods = match instance.term {
        Term::Period { count, .. } => Some(count),
        _ => return Err(AppError::invalid_field("term", "only subscriptions renew")),
    };
    let order = renew(
        state,
        &instance.buyer_id,
        &instance.id,
        RenewInstance {
            billing_mode: Some(mode),
            periods,
        },
    )
    .await?;
    match pay(state, &instance.buyer_id, &order.id).await {
        Ok(o) => Ok(o),
        Err(e) => {
            let _ = cancel(state, &instance.buyer_id, &order.id).await;
            Err(e)
        }
    }
}

/// A freeze/unfreeze/release call: keyed by the instance's original purchase order, as the
/// spec's expireInstance and releaseInstance expect.
/// Whether a seller opened this instance through the protocol, so that it hears of its
/// lifecycle: not Image, manual service, hardware, data file, nor a License delivered by hand
/// under supervision (its mode is on the order that opened it).
pub async fn seller_opened(
    state: &AppState,
    instance: &InstanceRecord,
) -> souk_store::StoreResult<bool> {
    let delivery: Option<DeliveryType> = instance.delivery_type.parse().ok();
    if delivery.is_some_and(|d| !d.needs_integration()) {
        return Ok(false);
    }
    if delivery != Some(DeliveryType::License) {
        return Ok(true);
    }
    let origin = state
        .store
        .find_order(&Scope::Everything, &instance.origin_order_id)
        .await?;
    Ok(origin.is_none_or(|o| o.snapshot.seller_opens()))
}

pub fn status_job(instance: &InstanceRecord, kind: CallKind) -> NewJob {
    NewJob {
        kind,
        instance_id: instance.id.clone(),
        order_id: instance.origin_order_id.clone(),
        seller_id: instance.seller_id.clone(),
        product_id: instance.product_id.clone(),
        payload: CallPayload::Nothing,
    }
}
