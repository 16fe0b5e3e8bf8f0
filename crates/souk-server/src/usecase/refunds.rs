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
    self, GoodsState, OrderFacts, RefundDecision, RefundKind, RefundPolicy, RefundRefusal,
    RefundState,
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
    /// Hardware (negotiated, required): `not_received` (refunded when the seller approves) or
    /// `received` (the goods are shipped back first).
    #[serde(default)]
    pub goods_state: Option<GoodsState>,
}

/// Request body of `POST /v1/orders/{id}/refunds/decision`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundDecisionInput {
    /// Seller: `approve`, `reject` or (hardware return shipped) `confirm_receipt`; buyer:
    /// `withdraw` or (hardware return approved) `ship_return`.
    pub decision: RefundDecision,
    /// The seller's review opinion (required to reject).
    pub opinion: Option<String>,
    /// `ship_return`: the return's carrier.
    #[serde(default)]
    pub carrier: Option<String>,
    /// `ship_return`: the return's tracking number.
    #[serde(default)]
    pub tracking_number: Option<String>,
}

pub fn policy(state: &AppState) -> RefundPolicy {
    RefundPolicy {
        no_reason_window: state.config.refund.no_reason_window.0,
        no_reason_yearly_quota: state.config.refund.no_reason_yearly_quota,
        return_ship_window: state.config.refund.return_ship_window.0,
        return_receipt_auto: state.config.refund.return_receipt_auto.0,
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
    let seller_opened = order.snapshot.seller_opens() && release.is_some() && !never_sent;
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
    let jobs = if !order.snapshot.seller_opens() {
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
        manual_license: None,
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
        // Refunds return cash: the voucher part goes back to the voucher in proportion
        // (`souk_core::voucher::voucher_back`, in the refund's transaction).
        paid: order.cash(),
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
    // §4.1: no refund while an issued invoice stands (the seller voids it first).
    crate::usecase::invoices::refund_allowed(state, &order.id).await?;
    // **[U] Souk:** refunds return cash (and the voucher part with it, in proportion); an order
    // a voucher paid in full has no cash to return, so it has no after-sale refund.
    if order.voucher_minor > 0 && order.cash().amount_minor <= 0 {
        return Err(refused(RefundRefusal::NotEligible(
            "this order was paid by a voucher alone: there is no cash to refund".to_owned(),
        )));
    }
    let now = state.clock.now();
    let policy = policy(state);
    let f = facts(&order, &instance, &sv);
    let id = souk_core::id::generate("rfd", now);
    // Hardware's negotiated refunds say what became of the goods (§4.3); nothing else does.
    let hardware = order.snapshot.delivery_type == souk_core::catalog::DeliveryType::Hardware;
    let goods_state = input.goods_state;
    match (
        hardware && input.kind == RefundKind::Negotiated,
        goods_state,
    ) {
        (true, None) => {
            return Err(AppError::invalid_field(
                "goods_state",
                "say whether the goods were received: not_received or received",
            ))
        }
        (false, Some(_)) => {
            return Err(AppError::invalid_field(
                "goods_state",
                "goods_state is for negotiated refunds of hardware orders only; leave it out",
            ))
        }
        _ => {}
    }
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
                goods_state: None,
                deadline: None,
                awaiting_operator: false,
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
            // §4.3: "not received" while the goods are in transit goes to an operator first.
            let awaiting_operator = refund::needs_operator_confirmation(
                goods_state,
                sv.state.tracking_number.is_some(),
                sv.state.node == souk_core::supervision::Node::Completed,
            );
            let notices = if awaiting_operator {
                let n = notice::refund_awaits_operator(order.id.as_str(), amount, &reason);
                crate::usecase::supervision::operators(state)
                    .await?
                    .into_iter()
                    .map(|op| (op, n.clone()))
                    .collect()
            } else {
                vec![(
                    order.seller_id.clone(),
                    notice::refund_requested(order.id.as_str(), amount, &reason),
                )]
            };
            RefundWrite {
                id,
                order_id: order.id.clone(),
                buyer_id: order.buyer_id.clone(),
                seller_id: order.seller_id.clone(),
                kind: RefundKind::Negotiated,
                goods_state,
                // §4.3 Souk default: the seller's review is on the clock (from the operator's
                // confirmation when one is needed).
                deadline: Some(
                    crate::usecase::refund_reviews::policy(state)
                        .map_err(AppError::internal)?
                        .first_deadline(now),
                ),
                awaiting_operator,
                amount,
                reason: Some(reason.clone()),
                effects: None,
                quota: None,
                supervision: Some(step),
                notices,
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
                goods_state: None,
                deadline: None,
                awaiting_operator: false,
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

/// The seller (or an operator, on escalation) decides, the buyer withdraws, and for received
/// hardware goods the buyer ships the return and the seller confirms its receipt.
pub async fn decide(
    state: &AppState,
    role: Role,
    party: &PartyId,
    scope: &Scope,
    order_id: &str,
    input: RefundDecisionInput,
) -> AppResult<RefundRecord> {
    let (order, _, _) = context(state, scope, order_id).await?;
    let open = open_request(state, scope, &order).await?;
    use RefundDecision::*;
    let (actor, allowed) = match (role, input.decision) {
        (Role::Buyer, Withdraw | ShipReturn) => (Actor::Buyer, party == &order.buyer_id),
        (Role::Seller, Approve | Reject | ConfirmReceipt) => {
            (Actor::Seller, party == &order.seller_id)
        }
        (Role::Operator, Approve | Reject | ConfirmReceipt | ConfirmInTransit) => {
            (Actor::Operator, true)
        }
        _ => (Actor::System, false),
    };
    if !allowed {
        return Err(AppError::forbidden(
            "the seller (or an operator) approves or rejects a refund and confirms a returned \
             shipment; the buyer withdraws it and ships a return; an operator confirms a \
             request for goods in transit",
        ));
    }
    if input.decision == ConfirmInTransit {
        return crate::usecase::refund_reviews::confirm_in_transit(state, &order, open, party)
            .await;
    }
    if open.awaiting_operator && actor == Actor::Seller {
        return Err(AppError::conflict(
            "operator_confirmation_required",
            "the buyer reports goods in transit as not received: an operator confirms the \
             request before you decide it (business rules 4.3)",
        ));
    }
    let decided =
        refund::decide_goods(open.state, input.decision, open.goods_state).map_err(refused)?;
    if decided.to == RefundState::Refunded {
        crate::usecase::invoices::refund_allowed(state, &order.id).await?;
    }
    apply_decision(
        state,
        scope,
        order_id,
        open,
        decided,
        actor,
        Some(party.clone()),
        input,
    )
    .await
}

/// The order's open request (pending, or a hardware return under way).
async fn open_request(
    state: &AppState,
    scope: &Scope,
    order: &OrderRecord,
) -> AppResult<RefundRecord> {
    state
        .store
        .refunds_of_order(scope, &order.id)
        .await?
        .into_iter()
        .find(|r| refund::is_open(r.state))
        .ok_or_else(|| {
            AppError::conflict(
                "no_pending_refund",
                "this order has no refund request waiting",
            )
        })
}

/// Saves the move `decided` of `open` (both read by the caller) by `actor` with its effects:
/// the refund at `refunded`, the supervision resumed when the request ends without one, the
/// return's deadline and the parties' notices.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_decision(
    state: &AppState,
    scope: &Scope,
    order_id: &str,
    open: RefundRecord,
    decided: souk_core::transition::Transition<RefundState>,
    actor: Actor,
    actor_id: Option<PartyId>,
    input: RefundDecisionInput,
) -> AppResult<RefundRecord> {
    let (order, instance, sv) = context(state, scope, order_id).await?;
    let next = decided.to;
    let opinion = match input.decision {
        RefundDecision::Reject => Some(text("opinion", input.opinion)?),
        _ => input
            .opinion
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty()),
    };
    let shipment = if next == RefundState::ReturnShipped {
        Some((
            text("carrier", input.carrier)?,
            text("tracking_number", input.tracking_number)?,
        ))
    } else {
        None
    };
    let now = state.clock.now();
    let p = policy(state);
    let deadline = match next {
        RefundState::ReturnApproved => Some(now + p.return_ship_window),
        RefundState::ReturnShipped => Some(now + p.return_receipt_auto),
        _ => None,
    };
    let (action, sv_next) = match next {
        RefundState::Refunded => ("refunded", sv.as_ref().map(|s| s.state.refunded())),
        RefundState::Rejected => (
            "refund_rejected",
            sv.as_ref().map(|s| s.state.refund_closed(now)),
        ),
        RefundState::Lapsed => (
            "refund_lapsed",
            sv.as_ref().map(|s| s.state.refund_closed(now)),
        ),
        RefundState::Withdrawn => (
            "refund_withdrawn",
            sv.as_ref().map(|s| s.state.refund_closed(now)),
        ),
        // A return under way keeps supervision paused.
        _ => ("", None),
    };
    let supervision = match (&sv, sv_next) {
        (Some(rec), Some(n)) => Some(SupervisionWrite {
            reason: opinion.clone(),
            payload: serde_json::json!({ "refund_id": open.id }),
            ..side_step(rec, n, actor, actor_id.clone(), action, now)
        }),
        _ => None,
    };
    let oid = order.id.as_str();
    let notices = match next {
        RefundState::Refunded => [&order.buyer_id, &order.seller_id]
            .into_iter()
            .map(|p| (p.clone(), notice::refund_completed(oid, open.amount)))
            .collect(),
        RefundState::Rejected => vec![(
            order.buyer_id.clone(),
            notice::refund_rejected(oid, opinion.as_deref().unwrap_or_default()),
        )],
        RefundState::ReturnApproved => vec![(
            order.buyer_id.clone(),
            notice::return_approved(oid, deadline.unwrap_or(now)),
        )],
        RefundState::ReturnShipped => {
            let (c, t) = shipment.clone().unwrap_or_default();
            vec![(order.seller_id.clone(), notice::return_shipped(oid, &c, &t))]
        }
        RefundState::Lapsed => vec![(order.buyer_id.clone(), notice::return_lapsed(oid))],
        _ => Vec::new(),
    };
    let write = RefundDecisionWrite {
        refund_id: open.id,
        transition: decided,
        opinion,
        actor: actor_id,
        return_shipment: shipment,
        deadline,
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
        .map_err(|e| write_error(e, &p))?;
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
    let amount = refund::forced(order.cash(), amount).map_err(refused)?;
    // §4.1 "an issued invoice must be returned before any refund": the operator's forced
    // refund too. The appeal stays open; the seller voids the invoice, then the operator
    // resolves (docs/invoices.md).
    crate::usecase::invoices::refund_allowed(state, &order.id).await?;
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
        goods_state: None,
        deadline: None,
        awaiting_operator: false,
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
