//! After-sale pages (docs/after-sale.md): the supervised orders waiting for each party and the
//! operator's appeal and review queues; one order's supervision timeline (node, who acts,
//! deadline, requirement, shipment, evidence with downloads, the log) with the forms of the
//! caller's next step; its refunds with the request and decision forms. Every form calls the
//! same use case as the JSON API (`usecase::supervision::act`, `usecase::refunds`), so the
//! rules, the errors and the log are the API's.

use super::aftersale_texts::texts;
use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::http::orders::OrderView;
use crate::http::refunds::RefundView;
use crate::http::supervision::SupervisionView;
use crate::usecase::refunds::{RefundDecisionInput, RefundRequest};
use crate::usecase::{attachments, orders::order_id, refunds, supervision};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use souk_core::money::{Currency, Money};
use souk_core::party::Role;
use souk_core::supervision::{Action, Actor, Node};
use souk_store::Scope;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/aftersale", get(tasks))
        .route("/aftersale/orders/{id}", get(order_page))
        .route("/aftersale/orders/{id}/act", post(act))
        .route("/aftersale/orders/{id}/refunds", post(request_refund))
        .route(
            "/aftersale/orders/{id}/refunds/decision",
            post(decide_refund),
        )
        .route(
            "/aftersale/orders/{id}/attachments/{attachment_id}",
            get(download),
        )
        .merge(super::aftersale_upload::router())
}

pub(super) const ALL: &[Role] = &[Role::Buyer, Role::Seller, Role::Operator];

pub(super) fn scope_of(m: &Member) -> Scope {
    let me = m.principal();
    match me.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(me.party_id),
    }
}

fn actor_of(m: &Member) -> Actor {
    match m.principal().role {
        Role::Buyer => Actor::Buyer,
        Role::Seller => Actor::Seller,
        _ => Actor::Operator,
    }
}

/// One row of a task list.
fn row(r: &souk_store::SupervisionRecord) -> Value {
    json!({
        "order_id": r.order_id.as_str(),
        "node": r.state.node,
        "waiting_for": r.state.waiting_for(),
        "deadline": r.state.deadline.map(|d| d.to_string()),
        "appeal": r.state.appeal.is_some(),
        "refund_pending": r.state.refund_pending,
    })
}

/// The supervised orders of the caller: buyers and sellers see theirs, the ones waiting for
/// them first; operators see the open appeals and the platform reviews.
async fn tasks(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(ALL)?;
    let open = state.store.open_supervisions(&scope_of(&m), 500).await?;
    let me = actor_of(&m);
    let (mine, others): (Vec<_>, Vec<_>) = open.iter().partition(|r| {
        r.state.waiting_for() == Some(me) || (me == Actor::Seller && r.state.refund_pending)
    });
    let appeals: Vec<Value> = open
        .iter()
        .filter(|r| r.state.appeal.is_some())
        .map(row)
        .collect();
    let reviews: Vec<Value> = open
        .iter()
        .filter(|r| r.state.appeal.is_none() && r.state.node == Node::PlatformReview)
        .map(row)
        .collect();
    page(
        &m.visitor,
        "aftersale_tasks.html",
        minijinja::context! {
            at => texts(m.visitor.lang),
            operator => me == Actor::Operator,
            mine => mine.into_iter().map(row).collect::<Vec<_>>(),
            others => others.into_iter().map(row).collect::<Vec<_>>(),
            appeals => appeals,
            reviews => reviews,
        },
    )
}

async fn order_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult {
    m.require(ALL)?;
    let err = WebError::with(&m.visitor);
    let scope = scope_of(&m);
    let oid = order_id(&id).map_err(WebError::with(&m.visitor))?;
    let order = state
        .store
        .find_order(&scope, &oid)
        .await?
        .ok_or_else(|| err(AppError::not_found("order")))?;
    let sv: Option<SupervisionView> = match supervision::find(&state, &scope, &id).await {
        Ok(r) => Some(r.into()),
        Err(e) if e.code == "not_supervised" => None,
        Err(e) => return Err(WebError::with(&m.visitor)(e)),
    };
    let refunds: Vec<RefundView> = state
        .store
        .refunds_of_order(&scope, &oid)
        .await?
        .into_iter()
        .map(RefundView::from)
        .collect();
    let files: Vec<Value> = state
        .store
        .list_attachments(&scope, &oid)
        .await?
        .into_iter()
        .map(|a| {
            let by = if a.uploader_id == order.buyer_id {
                "buyer"
            } else if a.uploader_id == order.seller_id {
                "seller"
            } else {
                "operator"
            };
            json!({"id": a.id, "filename": a.filename, "size": a.size_bytes, "sha256": a.sha256,
                   "by": by, "at": super::when(a.created_at),
                   "image": a.content_type.starts_with("image/")})
        })
        .collect();
    let me = actor_of(&m);
    use souk_core::refund::RefundState;
    let open_state = refunds
        .iter()
        .find(|r| souk_core::refund::is_open(r.state))
        .map(|r| r.state);
    let pending = open_state == Some(RefundState::PendingSellerReview);
    let return_approved = open_state == Some(RefundState::ReturnApproved);
    let return_shipped = open_state == Some(RefundState::ReturnShipped);
    let hardware = order.snapshot.delivery_type == souk_core::catalog::DeliveryType::Hardware;
    let online_license =
        order.snapshot.license_mode == Some(souk_core::catalog::LicenseMode::Online);
    let awaiting_operator = refunds
        .iter()
        .any(|r| souk_core::refund::is_open(r.state) && r.awaiting_operator);
    let node = sv.as_ref().map(|s| s.node);
    let open = sv.as_ref().is_some_and(|s| {
        s.node != Node::Completed && !s.log.iter().any(|e| e.action == "refunded")
    });
    page(
        &m.visitor,
        "aftersale_order.html",
        minijinja::context! {
            at => texts(m.visitor.lang),
            order => OrderView::from(order),
            sv => sv,
            node => node,
            open => open,
            appeal_open => sv.as_ref().is_some_and(|s| s.appeal.is_some()),
            refunds => refunds,
            pending => pending,
            open_request => open_state.is_some(),
            return_approved => return_approved,
            return_shipped => return_shipped,
            hardware => hardware,
            online_license => online_license,
            awaiting_operator => awaiting_operator,
            accept_types => state.config.attachments.allowed_types.join(","),
            files => files,
            me => me,
            flow => sv.as_ref().map(|s| s.flow.iter().filter(|n| **n != Node::Completed).copied().collect::<Vec<_>>()),
        },
    )
}

/// Every field any step's form may carry; empty ones are left out. The repeated fields
/// (`attachments`, `screenshots`: checkboxes of the order's attachments) are gathered by
/// [`step_form`].
#[derive(Deserialize, Default)]
struct StepForm {
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    demand: String,
    #[serde(default)]
    requirement: String,
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
    #[serde(default)]
    evidence_kind: String,
    #[serde(default)]
    evidence_description: String,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` field), UTC.
    #[serde(default)]
    actual_start: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    node: String,
    /// In major units (`12.34`), in the order's currency.
    #[serde(default)]
    amount: String,
    /// License identifier flow: the buyer's hardware identifier (empty: Souk generates one).
    #[serde(default)]
    hardware_id: String,
    /// Online License: the license delivered by hand at `implement`.
    #[serde(default)]
    license: String,
    /// `deliver_proof`: a checked box marks the evidence item remote.
    #[serde(default)]
    remote: String,
    #[serde(skip)]
    attachments: Vec<String>,
    #[serde(skip)]
    screenshots: Vec<String>,
}

/// The posted pairs as a [`StepForm`]: the first value of each single field, every value of
/// the repeated ones.
fn step_form(pairs: Vec<(String, String)>) -> Result<StepForm, AppError> {
    let mut single = Map::new();
    let (mut attachments, mut screenshots) = (Vec::new(), Vec::new());
    for (k, v) in pairs {
        match k.as_str() {
            "attachments" => attachments.push(v),
            "screenshots" => screenshots.push(v),
            _ => {
                single.entry(k).or_insert(Value::String(v));
            }
        }
    }
    let mut form: StepForm = serde_json::from_value(Value::Object(single))
        .map_err(|e| AppError::invalid_field("action", format!("choose a step: {e}")))?;
    form.attachments = attachments;
    form.screenshots = screenshots;
    Ok(form)
}

/// `12.34` in `currency` → minor units; refuses more decimals than the currency has.
fn major_amount(text: &str, currency: Currency) -> Result<Money, AppError> {
    let bad = || {
        AppError::invalid_field(
            "amount",
            format!(
                "write the amount like 12.34 (at most {} decimals)",
                currency.exponent()
            ),
        )
    };
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let exp = currency.exponent() as usize;
    if int.is_empty()
        || frac.len() > exp
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let digits = format!("{int}{frac:0<exp$}");
    let minor: i64 = digits.parse().map_err(|_| bad())?;
    Ok(Money::new(minor, currency))
}

/// The form as the API's `Action` JSON, so the same deserialisation and rules apply.
fn action_of(f: &StepForm, currency: Currency) -> Result<Action, AppError> {
    let mut o = Map::new();
    o.insert("action".into(), json!(f.action));
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            o.insert(k.into(), json!(v.trim()));
        }
    };
    match f.action.as_str() {
        "submit_requirement" => put("requirement", &f.requirement),
        "submit_identifier" => put("hardware_id", &f.hardware_id),
        "reject_requirement" | "return_review" | "reject_delivery" => put("reason", &f.reason),
        "implement" => {
            put("carrier", &f.carrier);
            put("tracking_number", &f.tracking_number);
            put("license", &f.license);
        }
        "appeal" => {
            put("reason", &f.reason);
            put("demand", &f.demand);
        }
        "resolve_appeal" => {
            put("outcome", &f.outcome);
            put("node", &f.node);
            put("reason", &f.reason);
        }
        _ => {}
    }
    match f.action.as_str() {
        "submit_requirement" => {
            o.entry("requirement").or_insert(json!(""));
            o.insert("attachments".into(), json!(f.attachments));
        }
        "reject_requirement" | "return_review" | "reject_delivery" | "appeal"
        | "resolve_appeal" => {
            o.entry("reason").or_insert(json!(""));
            if f.action == "appeal" {
                o.entry("demand").or_insert(json!(""));
            }
        }
        "deliver_proof" => {
            let mut evidence = vec![json!({
                "kind": f.evidence_kind.trim(),
                "description": f.evidence_description.trim(),
                "remote": !f.remote.is_empty(),
                "attachments": f.attachments,
            })];
            // Screenshots checked on the form become one `screenshot` item (§3.5).
            if !f.screenshots.is_empty() {
                evidence.push(json!({
                    "kind": "screenshot",
                    "description": "Screenshots",
                    "attachments": f.screenshots,
                }));
            }
            o.insert("evidence".into(), json!(evidence));
            if !f.actual_start.trim().is_empty() {
                let t = f.actual_start.trim();
                let t = if t.len() == 16 {
                    format!("{t}:00Z")
                } else {
                    format!("{t}Z")
                };
                o.insert("actual_start".into(), json!(t));
            }
        }
        _ => {}
    }
    if f.action == "resolve_appeal" && !f.amount.trim().is_empty() {
        o.insert("amount".into(), json!(major_amount(&f.amount, currency)?));
    }
    serde_json::from_value(Value::Object(o)).map_err(|e| {
        AppError::invalid_field(
            "action",
            format!("this step cannot be taken with these fields: {e}"),
        )
    })
}

async fn currency_of(state: &AppState, scope: &Scope, id: &str) -> Result<Currency, AppError> {
    Ok(state
        .store
        .find_order(scope, &order_id(id)?)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?
        .amount
        .currency)
}

fn back(id: &str) -> Response {
    Redirect::to(&format!("/aftersale/orders/{id}")).into_response()
}

async fn act(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Vec<(String, String)>>,
) -> PageResult {
    m.require(ALL)?;
    let err = || WebError::with(&s.visitor);
    let me = m.principal();
    let scope = scope_of(&m);
    let currency = currency_of(&state, &scope, &id).await.map_err(err())?;
    let form = step_form(s.form.clone()).map_err(err())?;
    let action = action_of(&form, currency).map_err(err())?;
    supervision::act(&state, me.role, &me.party_id, &scope, &id, action)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(back(&id))
}

#[derive(Deserialize)]
struct RefundForm {
    kind: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    /// Hardware: `not_received` or `received` (empty: not said).
    #[serde(default)]
    goods_state: String,
}

async fn request_refund(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<RefundForm>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    let err = || WebError::with(&s.visitor);
    let me = m.principal();
    let scope = scope_of(&m);
    let currency = currency_of(&state, &scope, &id).await.map_err(err())?;
    let kind = s.form.kind.parse().map_err(|_| {
        err()(AppError::invalid_field(
            "kind",
            "choose no_reason, negotiated or renewal_period",
        ))
    })?;
    let amount = match s.form.amount.trim() {
        "" => None,
        a => Some(major_amount(a, currency).map_err(err())?),
    };
    let reason = Some(s.form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let goods_state = match s.form.goods_state.trim() {
        "" => None,
        g => Some(g.parse().map_err(|_| {
            err()(AppError::invalid_field(
                "goods_state",
                "choose not_received or received",
            ))
        })?),
    };
    let input = RefundRequest {
        kind,
        amount,
        reason,
        goods_state,
    };
    refunds::request(&state, &me.party_id, &id, input)
        .await
        .map_err(err())?;
    Ok(back(&id))
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    opinion: String,
    #[serde(default)]
    carrier: String,
    #[serde(default)]
    tracking_number: String,
}

async fn decide_refund(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<DecisionForm>,
) -> PageResult {
    m.require(ALL)?;
    let err = || WebError::with(&s.visitor);
    let me = m.principal();
    let decision = s.form.decision.parse().map_err(|_| {
        err()(AppError::invalid_field(
            "decision",
            "choose approve, reject or withdraw",
        ))
    })?;
    let given = |v: &str| Some(v.trim().to_owned()).filter(|o| !o.is_empty());
    let input = RefundDecisionInput {
        decision,
        opinion: given(&s.form.opinion),
        carrier: given(&s.form.carrier),
        tracking_number: given(&s.form.tracking_number),
    };
    refunds::decide(&state, me.role, &me.party_id, &scope_of(&m), &id, input)
        .await
        .map_err(err())?;
    Ok(back(&id))
}

/// The same bytes and headers as `GET /v1/orders/{id}/attachments/{attachment_id}`, for the
/// order's parties and operators (anyone else: the not-found page).
async fn download(
    State(state): State<AppState>,
    m: Member,
    Path((id, attachment_id)): Path<(String, String)>,
) -> PageResult {
    m.require(ALL)?;
    let (record, stream) = attachments::open(&state, &scope_of(&m), &id, &attachment_id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    Ok(crate::http::attachments::attachment_response(
        record, stream,
    ))
}
