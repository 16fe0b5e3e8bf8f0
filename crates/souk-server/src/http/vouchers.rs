//! Seller vouchers over HTTP (business rules §8.2): the seller issues one to a buyer, lists
//! and revokes its own; the buyer lists the ones it holds (and pays with one through
//! `POST /v1/orders` `"voucher"`); the operator sees all.

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::resellers::rfc3339;
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::vouchers as uc;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::voucher::{VoucherState, VoucherStatus};
use souk_store::VoucherRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/vouchers", post(issue_voucher).get(list_vouchers))
        .route("/v1/vouchers/{id}", get(get_voucher))
        .route("/v1/vouchers/{id}/revoke", post(revoke_voucher))
}

fn example() -> serde_json::Value {
    json!({
        "id": "vch_01m8a2h3k4m5n6p7q8r9s0t1v3", "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
        "buyer_id": "buy_01m88tkhx5b7n9m2k4j6h8g0f3",
        "face_value": {"amount_minor": 10000, "currency": "CNY"},
        "remaining": {"amount_minor": 4000, "currency": "CNY"},
        "used": {"amount_minor": 6000, "currency": "CNY"},
        "product_ids": ["prd_01m88tkp2x4c6v8b0n2m4k6j8h"], "sku_ids": [],
        "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2027-03-01T00:00:00Z",
        "not_for_special_price_packages": true, "not_with_promotions": false,
        "state": "active", "status": "usable", "note": "Thank you for renewing",
        "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-03T10:30:00Z"
    })
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = example)]
pub struct VoucherView {
    pub id: String,
    pub seller_id: PartyId,
    pub buyer_id: PartyId,
    pub face_value: Money,
    /// What it can still pay (within validity).
    pub remaining: Money,
    /// What orders took from it, net of what refunds gave back.
    pub used: Money,
    /// Empty with `sku_ids` empty: every product of the seller.
    pub product_ids: Vec<String>,
    pub sku_ids: Vec<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub valid_from: OffsetDateTime,
    /// Exclusive.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub valid_until: OffsetDateTime,
    pub not_for_special_price_packages: bool,
    pub not_with_promotions: bool,
    /// Stored state: `active` or `revoked`.
    pub state: VoucherState,
    /// Read now: `not_yet_valid`, `usable`, `exhausted`, `expired` or `revoked`.
    pub status: VoucherStatus,
    pub note: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
}

impl VoucherView {
    pub fn new(r: VoucherRecord, now: OffsetDateTime) -> Self {
        let currency = r.face.currency;
        VoucherView {
            status: r.rules().status(now),
            remaining: Money::new(r.remaining_minor, currency),
            used: Money::new(r.face.amount_minor - r.remaining_minor, currency),
            id: r.id,
            seller_id: r.seller_id,
            buyer_id: r.buyer_id,
            face_value: r.face,
            product_ids: r.product_ids,
            sku_ids: r.sku_ids,
            valid_from: r.valid_from,
            valid_until: r.valid_until,
            not_for_special_price_packages: r.not_for_packages,
            not_with_promotions: r.not_with_promotions,
            state: r.state,
            note: r.note,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": [example()], "next_cursor": null}))]
pub struct VoucherList {
    pub data: Vec<VoucherView>,
    pub next_cursor: Option<String>,
}

/// Issue a voucher to a buyer (sellers). Its scope is the seller's own products, or some
/// products or SKUs of them; the buyer is told in its message centre.
#[utoipa::path(post, path = "/v1/vouchers", tag = "vouchers",
    request_body(content = uc::IssueVoucher, example = json!({"buyer_id": "buy_01m88tkhx5b7n9m2k4j6h8g0f3",
        "face_value": {"amount_minor": 10000, "currency": "CNY"}, "product_ids": ["prd_01m88tkp2x4c6v8b0n2m4k6j8h"],
        "valid_until": "2027-03-01T00:00:00Z", "not_for_special_price_packages": true})),
    responses((status = 201, body = VoucherView),
        (status = 403, description = "`forbidden`: sellers only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such buyer, or a product or SKU that is not the seller's", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a face value of zero or less, a window that ends before it starts", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn issue_voucher(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<uc::IssueVoucher>,
) -> AppResult<(StatusCode, Json<VoucherView>)> {
    caller.require(&[Role::Seller])?;
    let r = uc::issue(&state, caller.party_id(), body).await?;
    Ok((
        StatusCode::CREATED,
        Json(VoucherView::new(r, state.clock.now())),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VoucherQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Vouchers: a seller's issued ones, a buyer's held ones, all (operator); oldest first.
#[utoipa::path(get, path = "/v1/vouchers", tag = "vouchers", params(VoucherQuery),
    responses((status = 200, body = VoucherList), (status = 403, description = "`forbidden`: resellers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_vouchers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VoucherQuery>,
) -> AppResult<Json<VoucherList>> {
    caller.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let data = uc::list(&state, &caller.scope(), &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|v| v.id.clone()))
        .flatten();
    let now = state.clock.now();
    Ok(Json(VoucherList {
        data: data.into_iter().map(|v| VoucherView::new(v, now)).collect(),
        next_cursor,
    }))
}

/// One voucher (its seller, its buyer, the operator).
#[utoipa::path(get, path = "/v1/vouchers/{id}", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, body = VoucherView), (status = 403, description = "`forbidden`: resellers", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_voucher(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<VoucherView>> {
    caller.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let r = uc::visible(&state, &caller.scope(), &id).await?;
    Ok(Json(VoucherView::new(r, state.clock.now())))
}

/// Withdraw a voucher nothing was used of (its seller); the buyer is told.
#[utoipa::path(post, path = "/v1/vouchers/{id}/revoke", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, body = VoucherView),
        (status = 403, description = "`forbidden`: sellers only", body = ErrorEnvelope),
        (status = 409, description = "`voucher_state`: revoked already, or part of it was used", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn revoke_voucher(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<VoucherView>> {
    caller.require(&[Role::Seller])?;
    let r = uc::revoke(&state, caller.party_id(), &id).await?;
    Ok(Json(VoucherView::new(r, state.clock.now())))
}
