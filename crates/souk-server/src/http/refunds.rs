//! `/v1/orders/{id}/refunds`: a buyer's refund requests, and the decision on a pending one.

use super::extract::{ApiJson, ApiPath};
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::refunds::{self, RefundDecisionInput, RefundRequest};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::refund::{RefundKind, RefundState};
use souk_store::RefundRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/orders/{id}/refunds",
            get(list_refunds).post(request_refund),
        )
        .route("/v1/orders/{id}/refunds/decision", post(decide_refund))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "rfd_01m88tm50qk26gs1s1rxec5w1j",
    "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
    "buyer_id": "buy_01m88tkgb24ndca06sfrq4yghf",
    "seller_id": "sel_01m88tkgazscd4681cf497jnsf",
    "kind": "negotiated",
    "state": "pending_seller_review",
    "amount": {"amount_minor": 10000, "currency": "CNY"},
    "voucher_minor": 0,
    "reason": "Unhappy with the service",
    "opinion": null,
    "settlement": "none",
    "created_at": "2026-11-25T07:44:49.083Z",
    "decided_at": null,
    "goods_state": null,
    "return_carrier": null,
    "return_tracking": null,
    "deadline": "2026-12-02T07:44:49.083Z",
    "awaiting_operator": false,
    "escalated_at": null
}))]
pub struct RefundView {
    pub id: String,
    pub order_id: String,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub kind: RefundKind,
    pub state: RefundState,
    /// The cash returned to the buyer's balance (0 when a seller voucher paid the whole order).
    pub amount: Money,
    /// The voucher part given back to the order's seller voucher, in `amount`'s currency's
    /// minor units: in proportion to the cash refunded, all of it once the cash is all back
    /// (business rules §8.2). Set when the refund takes effect.
    pub voucher_minor: i64,
    pub reason: Option<String>,
    /// The seller's review opinion.
    pub opinion: Option<String>,
    /// `to_deduct` once refunded: the coming settlement run deducts it from the seller.
    pub settlement: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub decided_at: Option<OffsetDateTime>,
    /// Hardware: `not_received` or `received`.
    pub goods_state: Option<souk_core::refund::GoodsState>,
    /// Hardware return: the buyer's shipment back.
    pub return_carrier: Option<String>,
    pub return_tracking: Option<String>,
    /// When the request's timer acts next: a pending request's review reminder, then its
    /// review timeout; a return's lapse (not shipped) or automatic receipt (shipped).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub deadline: Option<OffsetDateTime>,
    /// Hardware "not received" filed while the goods were in transit: waits for an operator's
    /// `confirm_in_transit` before the seller decides (business rules §4.3).
    pub awaiting_operator: bool,
    /// The seller's review timed out and operators were asked to decide.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub escalated_at: Option<OffsetDateTime>,
}

impl From<RefundRecord> for RefundView {
    fn from(r: RefundRecord) -> Self {
        RefundView {
            id: r.id,
            order_id: r.order_id.to_string(),
            buyer_id: r.buyer_id,
            seller_id: r.seller_id,
            kind: r.kind,
            state: r.state,
            amount: r.amount,
            voucher_minor: r.voucher_minor,
            reason: r.reason,
            opinion: r.opinion,
            settlement: r.settlement,
            created_at: r.created_at,
            decided_at: r.decided_at,
            goods_state: r.goods_state,
            return_carrier: r.return_carrier,
            return_tracking: r.return_tracking,
            deadline: r.deadline,
            escalated_at: r.escalated_at,
            awaiting_operator: r.awaiting_operator,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"data": []}))]
pub struct RefundList {
    pub data: Vec<RefundView>,
}

/// Ask for a refund (buyers): `no_reason` (full, within the window, quota per rolling year) or
/// `negotiated` (a supervised order in its guarantee period; the seller decides).
#[utoipa::path(post, path = "/v1/orders/{id}/refunds", tag = "refunds", params(("id" = String, Path)),
    request_body(content = RefundRequest, example = json!({"kind": "negotiated", "amount": {"amount_minor": 10000, "currency": "CNY"}, "reason": "Unhappy with the service"})),
    responses((status = 201, body = RefundView),
        (status = 403, description = "`forbidden`: only buyers ask for refunds", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such order visible to you", body = ErrorEnvelope),
        (status = 409, description = "`refund_not_allowed`, `refund_window_closed`, `refund_quota_exhausted` (the 11th no-reason refund in 12 months), `refund_pending`, `refund_changed`", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: e.g. an amount over the paid amount", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn request_refund(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RefundRequest>,
) -> AppResult<(StatusCode, Json<RefundView>)> {
    // Checked before the lookup, so another party learns nothing about the order.
    caller.require(&[Role::Buyer])?;
    let r = refunds::request(&state, caller.party_id(), &id, input).await?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

/// The refunds of an order (its buyer, its seller, operators).
#[utoipa::path(get, path = "/v1/orders/{id}/refunds", tag = "refunds", params(("id" = String, Path)),
    responses((status = 200, body = RefundList), (status = 404, description = "`not_found`", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_refunds(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<RefundList>> {
    let scope = caller.scope();
    let id = crate::usecase::orders::order_id(&id)?;
    if state.store.find_order(&scope, &id).await?.is_none() {
        return Err(crate::error::AppError::not_found("order"));
    }
    let data = state.store.refunds_of_order(&scope, &id).await?;
    Ok(Json(RefundList {
        data: data.into_iter().map(Into::into).collect(),
    }))
}

/// Decide the order's pending refund request: the seller approves (money back at once) or
/// rejects with an opinion; the buyer withdraws.
#[utoipa::path(post, path = "/v1/orders/{id}/refunds/decision", tag = "refunds", params(("id" = String, Path)),
    request_body(content = RefundDecisionInput, example = json!({"decision": "approve", "opinion": "Agreed by phone on 25 Nov"})),
    responses((status = 200, body = RefundView),
        (status = 403, description = "`forbidden`: the seller (or an operator) approves or rejects, the buyer withdraws, an operator confirms goods in transit", body = ErrorEnvelope),
        (status = 404, description = "`not_found`", body = ErrorEnvelope),
        (status = 409, description = "`no_pending_refund`, `refund_changed`, `operator_confirmation_required` (goods in transit: an operator's `confirm_in_transit` comes first), `not_awaiting_operator`", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn decide_refund(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<RefundDecisionInput>,
) -> AppResult<Json<RefundView>> {
    let r = refunds::decide(
        &state,
        caller.role(),
        caller.party_id(),
        &caller.scope(),
        &id,
        input,
    )
    .await?;
    Ok(Json(r.into()))
}
