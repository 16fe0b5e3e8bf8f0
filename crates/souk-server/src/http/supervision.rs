//! `/v1/orders/{id}/supervision`: the supervision of an order (current node, who acts, the
//! deadline, the whole log) and the actions of the buyer, the seller and operators.

use super::extract::{ApiJson, ApiPath};
use crate::error::{AppResult, ErrorEnvelope};
use crate::http::auth::Caller;
use crate::usecase::supervision;
use crate::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use souk_core::party::PartyId;
use souk_core::supervision::{Action, Actor, Evidence, Node};
use souk_store::SupervisionRecord;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/orders/{id}/supervision", get(get_supervision))
        .route("/v1/orders/{id}/supervision/actions", post(act))
}

fn ser_opt<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(t, s)
}

/// An open appeal.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppealView {
    pub by: Actor,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub opened_at: OffsetDateTime,
    pub reason: String,
    pub demand: String,
    /// When operators should have resolved it (`supervision.appeal_sla_working_days`).
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub sla_due: Option<OffsetDateTime>,
    /// The SLA passed and operators were told (tracked; nothing is decided by it).
    pub sla_breached: bool,
}

/// One entry of the append-only log.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogEntryView {
    pub seq: u32,
    pub actor: Actor,
    pub actor_id: Option<PartyId>,
    pub action: String,
    pub from_node: Node,
    pub to_node: Node,
    pub reason: Option<String>,
    /// What the actor sent (requirement, evidence, tracking number, resolution…).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub at: OffsetDateTime,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "order_id": "ord_01m88tm50qk26gs1s1rxec5w1j",
    "flow": ["submit_requirement", "confirm_requirement", "implement", "deliver_proof", "buyer_accept", "completed"],
    "node": "confirm_requirement",
    "waiting_for": "seller",
    "deadline": null,
    "rejections": 0,
    "appeal": null,
    "requirement": "A five-page shop site in English and Chinese.",
    "carrier": null,
    "tracking_number": null,
    "identifier": null,
    "identifier_generated": false,
    "evidence": [],
    "actual_start": null,
    "accepted_at": null,
    "accepted_by": null,
    "log": [
        {"seq": 1, "actor": "system", "actor_id": null, "action": "start", "from_node": "submit_requirement", "to_node": "submit_requirement", "reason": null, "payload": {"flow": ["submit_requirement", "confirm_requirement", "implement", "deliver_proof", "buyer_accept", "completed"]}, "at": "2026-11-25T07:44:49.083Z"},
        {"seq": 2, "actor": "buyer", "actor_id": "buy_01m88tkgb24ndca06sfrq4yghf", "action": "submit_requirement", "from_node": "submit_requirement", "to_node": "confirm_requirement", "reason": null, "payload": {"action": "submit_requirement", "requirement": "A five-page shop site in English and Chinese."}, "at": "2026-11-25T08:00:00Z"}
    ]
}))]
pub struct SupervisionView {
    pub order_id: String,
    /// The node sequence of this order.
    pub flow: Vec<Node>,
    pub node: Node,
    /// Who must act now (the operator while an appeal is open); null once completed.
    pub waiting_for: Option<Actor>,
    /// When the system accepts if the buyer stays silent (paused while an appeal is open).
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub deadline: Option<OffsetDateTime>,
    pub rejections: u32,
    pub appeal: Option<AppealView>,
    pub requirement: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// License 识别码: the identifier the license binds to (typed by the buyer, or a system
    /// identifier Souk generated: `identifier_generated`).
    pub identifier: Option<String>,
    pub identifier_generated: bool,
    pub evidence: Vec<Evidence>,
    /// The seller's declared actual start; the period's validity starts here (§3.6).
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub actual_start: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt")]
    #[schema(value_type = Option<String>)]
    pub accepted_at: Option<OffsetDateTime>,
    pub accepted_by: Option<Actor>,
    /// Every step, oldest first.
    pub log: Vec<LogEntryView>,
}

impl From<SupervisionRecord> for SupervisionView {
    fn from(r: SupervisionRecord) -> Self {
        let s = r.state;
        SupervisionView {
            order_id: r.order_id.to_string(),
            waiting_for: s.waiting_for(),
            flow: s.flow,
            node: s.node,
            deadline: s.deadline,
            rejections: s.rejections,
            appeal: s.appeal.map(|a| AppealView {
                by: a.by,
                opened_at: a.opened_at,
                reason: a.reason,
                demand: a.demand,
                sla_due: a.sla_due,
                sla_breached: a.sla_breached,
            }),
            requirement: s.requirement,
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            identifier: s.identifier,
            identifier_generated: s.identifier_generated,
            evidence: s.evidence,
            actual_start: s.actual_start,
            accepted_at: s.accepted_at,
            accepted_by: s.accepted_by,
            log: r
                .log
                .into_iter()
                .map(|e| LogEntryView {
                    seq: e.seq,
                    actor: e.actor,
                    actor_id: e.actor_id,
                    action: e.action,
                    from_node: e.from_node,
                    to_node: e.to_node,
                    reason: e.reason,
                    payload: e.payload,
                    at: e.at,
                })
                .collect(),
        }
    }
}

/// The supervision of an order (its buyer, its seller, operators).
#[utoipa::path(get, path = "/v1/orders/{id}/supervision", tag = "supervision", params(("id" = String, Path)),
    responses((status = 200, body = SupervisionView),
        (status = 404, description = "`not_found`: no such order visible to you; `not_supervised`: the order is not under supervision", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_supervision(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<SupervisionView>> {
    let record = supervision::find(&state, &caller.scope(), &id).await?;
    Ok(Json(record.into()))
}

/// Act on an order's supervision: the buyer submits requirements and accepts or rejects; the
/// seller confirms, implements and delivers proof; operators review and resolve appeals; either
/// party appeals.
#[utoipa::path(post, path = "/v1/orders/{id}/supervision/actions", tag = "supervision", params(("id" = String, Path)),
    request_body(content = Action, example = json!({"action": "reject_delivery", "reason": "The checkout page does not load."})),
    responses((status = 200, body = SupervisionView),
        (status = 403, description = "`forbidden`: only the order's buyer and seller, and operators, act", body = ErrorEnvelope),
        (status = 404, description = "`not_found`, `not_supervised`", body = ErrorEnvelope),
        (status = 409, description = "`out_of_turn` (`details.node` and `details.waiting_for` say who acts now), `appeal_open`, `appeal_locked`, `no_appeal`, `supervision_completed`, `supervision_changed`, `license_not_delivered` (online License: no getLicense answer yet; deliver by hand in `license`)", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a value breaks a rule; `details.field` names it", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(action): ApiJson<Action>,
) -> AppResult<Json<SupervisionView>> {
    let record = supervision::act(
        &state,
        caller.role(),
        caller.party_id(),
        &caller.scope(),
        &id,
        action,
    )
    .await?;
    Ok(Json(record.into()))
}
