//! `/v1/orders`, `/v1/instances`, balances, and the sandbox clock.

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::{Caller, OperatorCaller};
use crate::usecase::instance_wait::{instance_after_opening, WaitQuery};
use crate::usecase::orders::{self, PlaceOrder, RenewInstance, UpgradeInstance};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::{AppInfo, InstanceState};
use souk_core::money::{Currency, Money};
use souk_core::order::{OrderKind, OrderState, Term};
use souk_core::party::{PartyId, Role};
use souk_store::{Balance, InstanceRecord, LedgerEntry, OrderRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", get(list_orders).post(place_order))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/pay", post(pay_order))
        .route("/v1/orders/{id}/cancel", post(cancel_order))
        .route("/v1/instances", get(list_instances))
        .route("/v1/instances/{id}", get(get_instance))
        .route("/v1/instances/{id}/renew", post(renew_instance))
        .route("/v1/instances/{id}/upgrade", post(upgrade_instance))
        .route("/v1/instances/{id}/auto-renew", put(set_auto_renew))
        .route("/v1/buyers/{id}/balance", get(get_balance))
        .route("/v1/buyers/{id}/balance/top-ups", post(top_up))
        .route(
            "/v1/buyers/{id}/balance/credit-limit",
            put(set_credit_limit),
        )
        .route("/v1/buyers/{id}/ledger", get(get_ledger))
        .route("/v1/sandbox/clock", get(get_clock))
        .route("/v1/sandbox/clock/advance", post(advance_clock))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::order)]
pub struct OrderView {
    pub id: OrderId,
    pub kind: OrderKind,
    pub state: OrderState,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub instance_id: InstanceId,
    #[schema(value_type = Object)]
    pub term: Term,
    pub quantity: u32,
    /// The price.
    pub amount: Money,
    /// The seller voucher paying part of it (§8.2), if any.
    pub voucher_id: Option<String>,
    /// The part the voucher pays (minor units of `amount`'s currency; 0 without a voucher).
    pub voucher_minor: i64,
    /// What the buyer pays from its balance: `amount` less the voucher part.
    pub cash: Money,
    /// What was bought, and the buyer details sent to the seller, as at purchase time.
    pub snapshot: souk_core::snapshot::OrderSnapshot,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub pay_deadline: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub paid_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub refunded_at: Option<OffsetDateTime>,
    pub failure_reason: Option<String>,
}

fn ser_opt<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(t, s)
}

impl From<OrderRecord> for OrderView {
    fn from(o: OrderRecord) -> Self {
        let cash = o.cash();
        OrderView {
            id: o.id,
            kind: o.kind,
            state: o.state,
            buyer_id: o.buyer_id,
            seller_id: o.seller_id,
            product_id: o.product_id,
            sku_id: o.sku_id,
            instance_id: o.instance_id,
            term: o.term,
            quantity: o.quantity,
            cash,
            amount: o.amount,
            voucher_id: o.voucher_id,
            voucher_minor: o.voucher_minor,
            snapshot: o.snapshot,
            pay_deadline: o.pay_deadline,
            created_at: o.created_at,
            paid_at: o.paid_at,
            completed_at: o.completed_at,
            cancelled_at: o.cancelled_at,
            refunded_at: o.refunded_at,
            failure_reason: o.failure_reason,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::order_list)]
pub struct OrderList {
    pub data: Vec<OrderView>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::instance)]
pub struct InstanceView {
    pub id: InstanceId,
    pub state: InstanceState,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub origin_order_id: OrderId,
    pub delivery_type: String,
    #[schema(value_type = Object)]
    pub term: Term,
    pub quantity: u32,
    pub trial: bool,
    pub auto_renew: bool,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub expire_at: Option<OffsetDateTime>,
    /// The seller's id for this instance (its instanceId).
    pub seller_instance_id: Option<String>,
    /// Credentials from the seller; shown only to the buyer who owns the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_info: Option<AppInfo>,
    /// License string (License products); shown only to the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub opened_at: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub released_at: Option<OffsetDateTime>,
}

impl InstanceView {
    /// Secrets are opened only for the buyer who owns the instance.
    fn for_caller(state: &AppState, caller: &Caller, i: InstanceRecord) -> InstanceView {
        Self::for_party(state, caller.role(), caller.party_id(), i)
    }

    /// [`InstanceView::for_caller`] for a party acting through the web console.
    pub(crate) fn for_party(
        state: &AppState,
        role: Role,
        party: &PartyId,
        i: InstanceRecord,
    ) -> InstanceView {
        let owner = role == Role::Buyer && party == &i.buyer_id;
        let app_info = owner
            .then_some(i.app_info_sealed.as_deref())
            .flatten()
            .and_then(|s| state.master_key.open(&format!("app_info:{}", i.id), s).ok())
            .and_then(|s| serde_json::from_str(&s).ok());
        let license = owner
            .then_some(i.license_sealed.as_deref())
            .flatten()
            .and_then(|s| state.master_key.open(&format!("license:{}", i.id), s).ok());
        InstanceView {
            id: i.id,
            state: i.state,
            buyer_id: i.buyer_id,
            seller_id: i.seller_id,
            product_id: i.product_id,
            sku_id: i.sku_id,
            origin_order_id: i.origin_order_id,
            delivery_type: i.delivery_type,
            term: i.term,
            quantity: i.quantity,
            trial: i.trial,
            auto_renew: i.auto_renew,
            expire_at: i.expire_at,
            seller_instance_id: i.seller_instance_id,
            app_info,
            license,
            created_at: i.created_at,
            opened_at: i.opened_at,
            released_at: i.released_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::instance_list)]
pub struct InstanceList {
    pub data: Vec<InstanceView>,
    pub next_cursor: Option<String>,
}

fn cursor<T>(items: &[T], limit: u32, id: impl Fn(&T) -> String) -> Option<String> {
    (items.len() as u32 == limit)
        .then(|| items.last().map(id))
        .flatten()
}

/// Place an order (buyers): a new purchase or a trial of a listed SKU.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body(content = PlaceOrder, example = json!({"sku_id": "sku_01m88tkgbdtcjmb5jbgstjq0vk", "billing_mode": "monthly", "periods": 1, "quantity": 5, "auto_renew": false})),
    responses((status = 201, body = OrderView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope), (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope),
        (status = 409, description = "`trial_used`: this buyer already had a trial of this product", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<PlaceOrder>,
) -> AppResult<(StatusCode, Json<OrderView>)> {
    caller.require(&[Role::Buyer])?;
    let order = orders::place(&state, caller.party_id(), input).await?;
    Ok((StatusCode::CREATED, Json(order.into())))
}

/// Orders: a buyer's own, a seller's sales, or all for the operator.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(PageQuery),
    responses((status = 200, body = OrderList)), security(("api_key" = [])))]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<OrderList>> {
    let page = q.page()?;
    let items = state.store.list_orders(&caller.scope(), &page).await?;
    let next_cursor = cursor(&items, page.limit, |o| o.id.to_string());
    Ok(Json(OrderList {
        data: items.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<OrderView>> {
    let order = state
        .store
        .find_order(&caller.scope(), &orders::order_id(&id)?)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    Ok(Json(order.into()))
}

/// Pay an order from the buyer's balance. Provisioning starts at once.
#[utoipa::path(post, path = "/v1/orders/{id}/pay", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 402, description = "`insufficient_funds`: balance and credit limit do not cover the order", body = ErrorEnvelope), (status = 409, description = "`order_not_payable`, `order_expired`, `instance_changed`, `not_renewable`: the order cannot be paid now", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn pay_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<OrderView>> {
    caller.require(&[Role::Buyer])?;
    Ok(Json(
        orders::pay(&state, caller.party_id(), &orders::order_id(&id)?)
            .await?
            .into(),
    ))
}

/// Cancel an unpaid order.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderView), (status = 409, description = "`order_not_cancellable`: only an unpaid order can be cancelled", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<OrderView>> {
    caller.require(&[Role::Buyer])?;
    Ok(Json(
        orders::cancel(&state, caller.party_id(), &orders::order_id(&id)?)
            .await?
            .into(),
    ))
}

/// Instances: a buyer's own, a seller's, or all for the operator.
#[utoipa::path(get, path = "/v1/instances", tag = "instances", params(PageQuery),
    responses((status = 200, body = InstanceList)), security(("api_key" = [])))]
pub async fn list_instances(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<InstanceList>> {
    let page = q.page()?;
    let items = state.store.list_instances(&caller.scope(), &page).await?;
    let next_cursor = cursor(&items, page.limit, |i| i.id.to_string());
    Ok(Json(InstanceList {
        data: items
            .into_iter()
            .map(|i| InstanceView::for_caller(&state, &caller, i))
            .collect(),
        next_cursor,
    }))
}

/// One instance; its buyer also sees the decrypted credentials and license. With `?wait=N`, an
/// instance still `opening` is answered once it opened (or failed), at most N seconds later.
#[utoipa::path(get, path = "/v1/instances/{id}", tag = "instances", params(("id" = String, Path), WaitQuery),
    responses((status = 200, body = InstanceView), (status = 400, description = "`invalid_query`: wait outside 1–30 seconds", body = ErrorEnvelope), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn get_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(wait): ApiQuery<WaitQuery>,
) -> AppResult<Json<InstanceView>> {
    let id = orders::instance_id(&id)?;
    let i = instance_after_opening(&state, &caller.scope(), &id, &wait).await?;
    Ok(Json(InstanceView::for_caller(&state, &caller, i)))
}

/// Place a renewal order (or, for a trial, a conversion to paid). Pay it to apply it.
#[utoipa::path(post, path = "/v1/instances/{id}/renew", tag = "instances", params(("id" = String, Path)),
    request_body(content = RenewInstance, example = json!({"billing_mode": "yearly", "periods": 1})),
    responses((status = 201, body = OrderView), (status = 409, description = "`not_renewable`: the instance cannot be renewed in its state or term", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn renew_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RenewInstance>,
) -> AppResult<(StatusCode, Json<OrderView>)> {
    caller.require(&[Role::Buyer])?;
    let o = orders::renew(&state, caller.party_id(), &orders::instance_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(o.into())))
}

/// Place an upgrade order (new SKU and/or quantity, charged pro rata). Pay it to apply it.
#[utoipa::path(post, path = "/v1/instances/{id}/upgrade", tag = "instances", params(("id" = String, Path)),
    request_body(content = UpgradeInstance, example = json!({"sku_id": "sku_01m88tkgbdvm2zstrmv07t3gwa", "quantity": 10})),
    responses((status = 201, body = OrderView), (status = 409, description = "`not_upgradable`: the instance cannot be upgraded in its state or term", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn upgrade_instance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpgradeInstance>,
) -> AppResult<(StatusCode, Json<OrderView>)> {
    caller.require(&[Role::Buyer])?;
    let o = orders::upgrade(&state, caller.party_id(), &orders::instance_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(o.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoRenew {
    pub auto_renew: bool,
}

/// Turn auto-renew on or off.
#[utoipa::path(put, path = "/v1/instances/{id}/auto-renew", tag = "instances", params(("id" = String, Path)),
    request_body(content = AutoRenew, example = json!({"auto_renew": true})), responses((status = 200, body = InstanceView)), security(("api_key" = [])))]
pub async fn set_auto_renew(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AutoRenew>,
) -> AppResult<Json<InstanceView>> {
    caller.require(&[Role::Buyer])?;
    let id = orders::instance_id(&id)?;
    let i = orders::set_auto_renew(&state, &caller.scope(), &id, input.auto_renew).await?;
    Ok(Json(InstanceView::for_caller(&state, &caller, i)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::balance)]
pub struct BalanceView {
    pub buyer_id: PartyId,
    pub balance: Money,
    pub credit_limit: Money,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        BalanceView {
            buyer_id: b.buyer_id,
            balance: b.balance,
            credit_limit: b.credit_limit,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CurrencyQuery {
    /// ISO 4217 code in circulation (default CNY): documented as the same list the body's
    /// `Currency` accepts, so a well-formed but unknown code is invalid input, not a refusal.
    #[param(value_type = Option<souk_core::money::Currency>, example = "CNY")]
    pub currency: Option<String>,
}

fn buyer_id(id: &str) -> AppResult<PartyId> {
    PartyId::parse_as(id, Role::Buyer).ok_or_else(|| AppError::not_found("buyer"))
}

/// A buyer's balance (the buyer or the operator).
#[utoipa::path(get, path = "/v1/buyers/{id}/balance", tag = "balance", params(("id" = String, Path), CurrencyQuery),
    responses((status = 200, body = BalanceView)), security(("api_key" = [])))]
pub async fn get_balance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CurrencyQuery>,
) -> AppResult<Json<BalanceView>> {
    let currency: Currency = q.currency.as_deref().unwrap_or("CNY").parse().map_err(
        |e: souk_core::money::MoneyError| AppError::bad_request("invalid_query", e.to_string()),
    )?;
    let b = state
        .store
        .balance(&caller.scope(), &buyer_id(&id)?, currency)
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    Ok(Json(b.into()))
}

/// Money that must be more than zero (schema only: the body is read as [`Money`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PositiveMoney {
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64, example = 100000)]
    amount_minor: i64,
    currency: Currency,
}

/// Money that must not be negative (schema only: the body is read as [`Money`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NonNegativeMoney {
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64, example = 50000)]
    amount_minor: i64,
    currency: Currency,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": {"amount_minor": 100000, "currency": "CNY"}, "memo": "bank transfer 2026-11-25"}))]
pub struct TopUp {
    #[schema(value_type = PositiveMoney)]
    pub amount: Money,
    pub memo: Option<String>,
}

/// Credit a buyer's balance (operator).
#[utoipa::path(post, path = "/v1/buyers/{id}/balance/top-ups", tag = "balance", params(("id" = String, Path)),
    request_body = TopUp, responses((status = 201, body = BalanceView),
        (status = 409, description = "`balance_limit`: the balance would pass 10^15 minor units", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: the amount is not 1 to 10^15 minor units", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn top_up(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<TopUp>,
) -> AppResult<(StatusCode, Json<BalanceView>)> {
    let b = crate::usecase::balance::top_up(
        &state,
        caller.party_id(),
        &buyer_id(&id)?,
        input.amount,
        input.memo,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(b.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"limit": {"amount_minor": 50000, "currency": "CNY"}}))]
pub struct CreditLimit {
    #[schema(value_type = NonNegativeMoney)]
    pub limit: Money,
}

/// Grant a buyer credit: the balance may go this far below zero (operator).
#[utoipa::path(put, path = "/v1/buyers/{id}/balance/credit-limit", tag = "balance", params(("id" = String, Path)),
    request_body = CreditLimit, responses((status = 200, body = BalanceView),
        (status = 422, description = "`invalid_field`: the limit is not within 0–10^15 minor units", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn set_credit_limit(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CreditLimit>,
) -> AppResult<Json<BalanceView>> {
    let b = crate::usecase::balance::set_credit_limit(
        &state,
        caller.party_id(),
        &buyer_id(&id)?,
        input.limit,
    )
    .await?;
    Ok(Json(b.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::ledger_list)]
pub struct LedgerList {
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
}

/// A buyer's ledger: every top-up, debit and refund, oldest first.
#[utoipa::path(get, path = "/v1/buyers/{id}/ledger", tag = "balance", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = LedgerList)), security(("api_key" = [])))]
pub async fn get_ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<LedgerList>> {
    let page = q.page()?;
    let data = state
        .store
        .ledger(&caller.scope(), &buyer_id(&id)?, &page)
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    let next_cursor = cursor(&data, page.limit, |e| e.id.clone());
    Ok(Json(LedgerList { data, next_cursor }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = crate::http::examples::clock)]
pub struct ClockView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub now: OffsetDateTime,
    /// How far the sandbox clock is ahead of real time, in seconds.
    pub offset_seconds: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"by": "30d"}))]
pub struct AdvanceClock {
    /// A positive duration: numbers with units (d, h, m or s), e.g. "30d", "12h", "1d12h".
    /// The clock cannot be moved past 9899-12-31 (`invalid_field`).
    #[schema(pattern = "^([0-9]{1,12}[dhms])+$", max_length = 64, example = "30d")]
    pub by: String,
}

/// The sandbox clock.
#[utoipa::path(get, path = "/v1/sandbox/clock", tag = "sandbox",
    responses((status = 200, body = ClockView)), security(("api_key" = [])))]
pub async fn get_clock(
    State(state): State<AppState>,
    _op: OperatorCaller,
) -> AppResult<Json<ClockView>> {
    Ok(Json(crate::usecase::sandbox::read(&state)?.into()))
}

/// Move the sandbox clock forward (operator, sandbox mode only): every timer sees the new time.
#[utoipa::path(post, path = "/v1/sandbox/clock/advance", tag = "sandbox", request_body = AdvanceClock,
    responses((status = 200, body = ClockView), (status = 404, description = "`not_found`: no such resource visible to you", body = ErrorEnvelope)), security(("api_key" = [])))]
pub async fn advance_clock(
    State(state): State<AppState>,
    _op: OperatorCaller,
    ApiJson(input): ApiJson<AdvanceClock>,
) -> AppResult<Json<ClockView>> {
    Ok(Json(
        crate::usecase::sandbox::advance(&state, &input.by)
            .await?
            .into(),
    ))
}

impl From<crate::usecase::sandbox::ClockReading> for ClockView {
    fn from(r: crate::usecase::sandbox::ClockReading) -> Self {
        ClockView {
            now: r.now,
            offset_seconds: r.offset_seconds,
        }
    }
}
