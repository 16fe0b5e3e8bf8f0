//! Refunds (business rules §4): the buyer's no-reason and negotiated requests, the seller's
//! decision, and the operator's forced refund. Eligibility and amounts are `souk_core::refund`;
//! each change is one store transaction with its effects (§4.6) and its supervision step.

use crate::error::{AppError, AppResult};
use crate::usecase::licenses;
use crate::usecase::orders::status_job;
use crate::AppState;
use serde::Deserialize;
use souk_core::call_payload::{CallPayload, CodeChange};
use souk_core::instance::InstanceEvent;
use souk_core::money::Money;
use souk_core::notice;
use souk_core::order::{OrderEvent, OrderState};
use souk_core::party::{PartyId, Role};
use souk_core::provisioning::CallKind;
use souk_core::refund::{
    self, OrderFacts, RefundDecision, RefundKind, RefundPolicy, RefundRefusal, RefundState,
};
use souk_core::supervision::{Actor, Node, Supervision};
use souk_core::transition::StateMachine;
use souk_store::{
    InstanceRecord, NewJob, OrderRecord, RefundDecisionWrite, RefundEffects, RefundRecord,
    RefundWrite, RefundWriteError, Scope, SupervisionRecord, SupervisionWrite,
};
use time::OffsetDateTime;

/// Request body of `POST /v1/orders/{id}/refunds`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// `no_reason` (full, self-service) or `negotiated` (amount and reason, the seller decides).
    pub kind: RefundKind,
    /// Negotiated: 0 < amount ≤ paid.
    pub amount: Option<Money>,
    /// Negotiated: why (product hard to use, features insufficient, unhappy with service…).
    pub reason: Option<String>,
}

/// Request body of `POST /v1/orders/{id}/refunds/decision`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundDecisionInput {
    /// Seller: `approve` or `reject`; buyer: `withdraw`.
    pub decision: RefundDecision,
    /// The seller's review opinion (required to reject).
    pub opinion: Option<String>,
}

pub fn policy(state: &AppState) -> RefundPolicy {
    RefundPolicy {
        no_reason_window: state.config.refund.no_reason_window.0,
        no_reason_yearly_quota: state.config.refund.no_reason_yearly_quota,
    }
}

pub fn refused(e: RefundRefusal) -> AppError {
    let message = e.to_string();
    match e {
        RefundRefusal::NotEligible(_) => AppError::conflict("refund_not_allowed", message),
        RefundRefusal::WindowClosed { .. } => AppError::conflict("refund_window_closed", message),
        RefundRefusal::QuotaExhausted { .. } => {
            AppError::conflict("refund_quota_exhausted", message)
        }
        RefundRefusal::Amount { .. } => AppError::invalid_field("amount", message),
        RefundRefusal::NotPending(_) => AppError::conflict("no_pending_refund", message),
    }
}

fn write_error(e: RefundWriteError, policy: &RefundPolicy) -> AppError {
    match e {
        RefundWriteError::OrderChanged | RefundWriteError::RefundChanged => AppError::conflict(
            "refund_changed",
            "the order or its refund changed at the same time; reload it and try again",
        ),
        RefundWriteError::QuotaExhausted => refused(RefundRefusal::QuotaExhausted {
            quota: policy.no_reason_yearly_quota,
        }),
        RefundWriteError::Store(e) => e.into(),
    }
}

fn text(field: &str, value: Option<String>) -> AppResult<String> {
    let v = value.unwrap_or_default().trim().to_owned();
    if v.is_empty() || v.chars().count() > 2000 {
        return Err(AppError::invalid_field(
            field,
            format!("{field} must be 1 to 2000 characters"),
        ));
    }
    Ok(v)
}

/// The effects of refunding `order` now: the seller is told to release what it opened, and
/// Souk-issued license codes die with the instance (heartbeats answer `RELEASED`, activations
/// are refused) while the seller's License 2.0 interface hears `releaseLicenseCode` for each
/// activated code.
async fn effects(
    state: &AppState,
    order: &OrderRecord,
    instance: &InstanceRecord,
) -> AppResult<RefundEffects> {
    let refunded = order
        .state
        .transition(OrderEvent::AfterSaleRefund)
        .map_err(|e| AppError::conflict("refund_not_allowed", e.to_string()))?;
    // Whatever is not already gone is released; the seller hears of what it opened.
    let release = instance
        .state
        .transition(InstanceEvent::ReleaseOnRefund)
        .ok();
    // A SaaS opened after acceptance that was refunded before it: the seller never heard of it.
    let never_sent = order.snapshot.open_after_acceptance && instance.seller_instance_id.is_none();
    let seller_opened =
        order.snapshot.delivery_type.needs_integration() && release.is_some() && !never_sent;
    let jobs = if !seller_opened {
        Vec::new()
    } else {
        match licenses::code_jobs(
            state,
            instance,
            CallKind::ReleaseLicenseCode,
            &order.id,
            None,
        )
        .await?
        {
            Some(code_jobs) => code_jobs,
            None => vec![status_job(instance, CallKind::ReleaseInstance)],
        }
    };
    Ok(RefundEffects {
        order: refunded,
        instance_id: instance.id.clone(),
        release,
        jobs,
        expiry_back: None,
    })
}

/// The effects of a renewal-period refund (§4.4): the renewal order refunded, the instance's
/// expiry back to where the renewal found it, and the seller told as the protocol says — V1
/// refreshInstance with a negative orderAmount, V2 refreshInstance scene
/// `UNSUBSCRIBE_RENEWAL_PERIOD`, Souk-issued codes refreshLicenseCode with that scene.
async fn renewal_effects(
    state: &AppState,
    order: &OrderRecord,
    instance: &InstanceRecord,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> AppResult<RefundEffects> {
    let refunded = order
        .state
        .transition(OrderEvent::AfterSaleRefund)
        .map_err(|e| AppError::conflict("refund_not_allowed", e.to_string()))?;
    let expire_at_ms = souk_core::clock::to_unix_ms(from);
    let jobs = if !order.snapshot.delivery_type.needs_integration() {
        Vec::new()
    } else {
        match licenses::code_jobs(
            state,
            instance,
            CallKind::RefundRenewalLicenseCode,
            &order.id,
            Some(CodeChange::RenewalRefund { expire_at_ms }),
        )
        .await?
        {
            Some(code_jobs) => code_jobs,
            None => vec![NewJob {
                order_id: order.id.clone(),
                payload: CallPayload::RenewalRefund { expire_at_ms },
                ..status_job(instance, CallKind::RefundRenewalPeriod)
            }],
        }
    };
    Ok(RefundEffects {
        order: refunded,
        instance_id: instance.id.clone(),
        release: None,
        jobs,
        expiry_back: Some((to, from)),
    })
}

/// A supervision step that is not a party's node action (refund pause, resume, close).
pub fn side_step(
    record: &SupervisionRecord,
    next: Supervision,
    actor: Actor,
    actor_id: Option<PartyId>,
    action: &'static str,
    now: OffsetDateTime,
) -> SupervisionWrite {
    SupervisionWrite {
        order_id: record.order_id.clone(),
        expect_version: record.version,
        from_node: record.state.node,
        state: next,
        actor,
        actor_id,
        action,
        reason: None,
        payload: serde_json::Value::Null,
        completion: None,
        notices: Vec::new(),
        now,
    }
}

async fn context(
    state: &AppState,
    scope: &Scope,
    order_id: &str,
) -> AppResult<(OrderRecord, InstanceRecord, Option<SupervisionRecord>)> {
    let order = state
        .store
        .find_order(scope, &crate::usecase::orders::order_id(order_id)?)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    let instance = state
        .store
        .find_instance(&Scope::Everything, &order.instance_id)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    let sv = state
        .store
        .find_supervision(
            &Scope::Everything,
            &crate::usecase::orders::order_id(order_id)?,
        )
        .await?;
    Ok((order, instance, sv))
}

fn facts(
    order: &OrderRecord,
    instance: &InstanceRecord,
    sv: &Option<SupervisionRecord>,
) -> OrderFacts {
    OrderFacts {
        kind: order.kind,
        state: order.state,
        delivery: order.snapshot.delivery_type,
        billing_mode: order.snapshot.billing_mode,
        paid: order.amount,
        opened_at: instance.opened_at,
        supervision_completed: sv.as_ref().map(|s| s.state.node == Node::Completed),
    }
}

/// The buyer asks for a refund.
pub async fn request(
    state: &AppState,
    buyer: &PartyId,
    order_id: &str,
    input: RefundRequest,
) -> AppResult<RefundRecord> {
    let scope = Scope::Party(buyer.clone());
    let (order, instance, sv) = context(state, &scope, order_id).await?;
    if &order.buyer_id != buyer {
        return Err(AppError::not_found("order"));
    }
    let now = state.clock.now();
    let policy = policy(state);
    let f = facts(&order, &instance, &sv);
    let id = souk_core::id::generate("rfd", now);
    let write = match input.kind {
        RefundKind::NoReason => {
            if input.amount.is_some() {
                return Err(AppError::invalid_field(
                    "amount",
                    "a no-reason refund is always the full paid amount; leave amount out",
                ));
            }
            if order.amount.amount_minor <= 0 {
                return Err(refused(RefundRefusal::NotEligible(
                    "nothing was paid for this order".to_owned(),
                )));
            }
            let since = refund::quota_since(now);
            let used = state.store.no_reason_refunds_since(buyer, since).await?;
            let amount = refund::no_reason(&f, used, &policy, now).map_err(refused)?;
            RefundWrite {
                id,
                order_id: order.id.clone(),
                buyer_id: order.buyer_id.clone(),
                seller_id: order.seller_id.clone(),
                kind: RefundKind::NoReason,
                amount,
                reason: input
                    .reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
                effects: Some(effects(state, &order, &instance).await?),
                quota: Some((since, policy.no_reason_yearly_quota)),
                supervision: None,
                notices: [&order.buyer_id, &order.seller_id]
                    .into_iter()
                    .map(|p| {
                        (
                            p.clone(),
                            notice::refund_completed(order.id.as_str(), amount),
                        )
                    })
                    .collect(),
                now,
            }
        }
        RefundKind::Negotiated => {
            let amount = input
                .amount
                .ok_or_else(|| AppError::invalid_field("amount", "say how much to refund"))?;
            let reason = text("reason", input.reason)?;
            let amount = refund::negotiated(&f, amount).map_err(refused)?;
            let sv = sv.expect("negotiated refunds are only allowed on supervised orders");
            if sv.state.code_taken() {
                return Err(refused(RefundRefusal::NotEligible(
                    "a license code of this order was activated, so the buyer has taken it and \
                     a negotiated refund is closed (an appeal can still end in a forced refund)"
                        .to_owned(),
                )));
            }
            let paused = sv.state.refund_requested(now);
            let step = SupervisionWrite {
                reason: Some(reason.clone()),
                payload: serde_json::json!({ "refund_id": id, "amount": amount }),
                ..side_step(
                    &sv,
                    paused,
                    Actor::Buyer,
                    Some(buyer.clone()),
                    "refund_requested",
                    now,
                )
            };
            RefundWrite {
                id,
                order_id: order.id.clone(),
                buyer_id: order.buyer_id.clone(),
                seller_id: order.seller_id.clone(),
                kind: RefundKind::Negotiated,
                amount,
                reason: Some(reason.clone()),
                effects: None,
                quota: None,
                supervision: Some(step),
                notices: vec![(
                    order.seller_id.clone(),
                    notice::refund_requested(order.id.as_str(), amount, &reason),
                )],
                now,
            }
        }
        RefundKind::RenewalPeriod => {
            if input.amount.is_some() {
                return Err(AppError::invalid_field(
                    "amount",
                    "a renewal-period refund is always the renewal's full paid amount; leave \
                     amount out",
                ));
            }
            let window = state.store.renewal_window(&order.id).await?;
            let amount =
                refund::renewal_period(&f, window, instance.expire_at, now).map_err(refused)?;
            let (from, to) = window.expect("renewal_period checked the window");
            let amount_text = notice::refund_completed(order.id.as_str(), amount);
            RefundWrite {
                id,
                order_id: order.id.clone(),
                buyer_id: order.buyer_id.clone(),
                seller_id: order.seller_id.clone(),
                kind: RefundKind::RenewalPeriod,
                amount,
                reason: input
                    .reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty()),
                effects: Some(renewal_effects(state, &order, &instance, from, to).await?),
                quota: None,
                supervision: None,
                notices: [&order.buyer_id, &order.seller_id]
                    .into_iter()
                    .map(|p| (p.clone(), amount_text.clone()))
                    .collect(),
                now,
            }
        }
        RefundKind::OperatorForced => {
            return Err(AppError::invalid_field(
                "kind",
                "operators refund through an appeal resolution (force_refund)",
            ))
        }
    };
    let record = state
        .store
        .record_refund(write)
        .await
        .map_err(|e| write_error(e, &policy))?;
    // Souk-issued codes follow the instance: the next heartbeat must see the release.
    state.licenses.invalidate_instance(&order.instance_id);
    state.wake.notify_one();
    Ok(record)
}

/// The seller (or an operator, on escalation) decides, or the buyer withdraws.
pub async fn decide(
    state: &AppState,
    role: Role,
    party: &PartyId,
    scope: &Scope,
    order_id: &str,
    input: RefundDecisionInput,
) -> AppResult<RefundRecord> {
    let (order, instance, sv) = context(state, scope, order_id).await?;
    let pending = state
        .store
        .refunds_of_order(scope, &crate::usecase::orders::order_id(order_id)?)
        .await?
        .into_iter()
        .find(|r| r.state == RefundState::PendingSellerReview)
        .ok_or_else(|| {
            AppError::conflict(
                "no_pending_refund",
                "this order has no refund request waiting",
            )
        })?;
    let (actor, allowed) = match (role, input.decision) {
        (Role::Buyer, RefundDecision::Withdraw) => (Actor::Buyer, party == &order.buyer_id),
        (Role::Seller, RefundDecision::Approve | RefundDecision::Reject) => {
            (Actor::Seller, party == &order.seller_id)
        }
        (Role::Operator, RefundDecision::Approve | RefundDecision::Reject) => {
            (Actor::Operator, true)
        }
        _ => (Actor::System, false),
    };
    if !allowed {
        return Err(AppError::forbidden(
            "the seller (or an operator) approves or rejects a refund; the buyer withdraws it",
        ));
    }
    let decided = refund::decide(pending.state, input.decision).map_err(refused)?;
    let next = decided.to;
    let opinion = match input.decision {
        RefundDecision::Reject => Some(text("opinion", input.opinion)?),
        _ => input
            .opinion
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty()),
    };
    let now = state.clock.now();
    let (action, sv_next) = match next {
        RefundState::Refunded => ("refunded", sv.as_ref().map(|s| s.state.refunded())),
        RefundState::Rejected => (
            "refund_rejected",
            sv.as_ref().map(|s| s.state.refund_closed(now)),
        ),
        _ => (
            "refund_withdrawn",
            sv.as_ref().map(|s| s.state.refund_closed(now)),
        ),
    };
    let supervision = match (&sv, sv_next) {
        (Some(rec), Some(n)) => Some(SupervisionWrite {
            reason: opinion.clone(),
            payload: serde_json::json!({ "refund_id": pending.id }),
            ..side_step(rec, n, actor, Some(party.clone()), action, now)
        }),
        _ => None,
    };
    let notices = match next {
        RefundState::Refunded => [&order.buyer_id, &order.seller_id]
            .into_iter()
            .map(|p| {
                (
                    p.clone(),
                    notice::refund_completed(order.id.as_str(), pending.amount),
                )
            })
            .collect(),
        RefundState::Rejected => vec![(
            order.buyer_id.clone(),
            notice::refund_rejected(order.id.as_str(), opinion.as_deref().unwrap_or_default()),
        )],
        _ => Vec::new(),
    };
    let write = RefundDecisionWrite {
        refund_id: pending.id,
        transition: decided,
        opinion,
        actor: party.clone(),
        effects: if next == RefundState::Refunded {
            Some(effects(state, &order, &instance).await?)
        } else {
            None
        },
        supervision,
        notices,
        now,
    };
    let record = state
        .store
        .decide_refund(write)
        .await
        .map_err(|e| write_error(e, &policy(state)))?;
    state.licenses.invalidate_instance(&order.instance_id);
    state.wake.notify_one();
    Ok(record)
}

/// The operator's `force_refund` resolution: the appeal's supervision step and the refund in one
/// transaction.
pub async fn force(
    state: &AppState,
    order: &OrderRecord,
    amount: Option<Money>,
    step: SupervisionWrite,
) -> AppResult<()> {
    let amount = amount.ok_or_else(|| {
        AppError::invalid_field("amount", "force_refund needs the amount to refund")
    })?;
    if order.state != OrderState::Processing {
        return Err(refused(RefundRefusal::NotEligible(format!(
            "the order is {}; only an order under supervision can be force-refunded",
            order.state
        ))));
    }
    let amount = refund::forced(order.amount, amount).map_err(refused)?;
    let instance = state
        .store
        .find_instance(&Scope::Everything, &order.instance_id)
        .await?
        .ok_or_else(|| AppError::not_found("instance"))?;
    let now = step.now;
    let write = RefundWrite {
        id: souk_core::id::generate("rfd", now),
        order_id: order.id.clone(),
        buyer_id: order.buyer_id.clone(),
        seller_id: order.seller_id.clone(),
        kind: RefundKind::OperatorForced,
        amount,
        reason: step.reason.clone(),
        effects: Some(effects(state, order, &instance).await?),
        quota: None,
        supervision: Some(step),
        notices: Vec::new(),
        now,
    };
    state
        .store
        .record_refund(write)
        .await
        .map_err(|e| write_error(e, &policy(state)))?;
    state.licenses.invalidate_instance(&order.instance_id);
    state.wake.notify_one();
    Ok(())
}
