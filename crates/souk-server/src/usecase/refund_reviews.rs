//! The seller's review of negotiated refund requests on the clock (business rules §4.3, Souk
//! default; the rule is `souk_core::refund_review`): reminded after
//! `refund.seller_review_reminder_working_days`, and after
//! `refund.seller_review_timeout_working_days` the configured outcome — the operators are asked
//! to decide (`escalate`), or the system approves (`auto_approve`) with the usual effects.

use crate::error::{AppError, AppResult};
use crate::usecase::refunds::{apply_decision, RefundDecisionInput};
use crate::AppState;
use souk_core::notice;
use souk_core::party::PartyId;
use souk_core::refund::{self, RefundDecision};
use souk_core::refund_review::{ReviewPolicy, ReviewStep};
use souk_core::supervision::Actor;
use souk_store::{InTransitConfirmation, OrderRecord, RefundRecord, ReviewMark, Scope};
use time::OffsetDateTime;

/// The review policy of the configuration.
pub fn policy(state: &AppState) -> anyhow::Result<ReviewPolicy> {
    let r = &state.config.refund;
    Ok(ReviewPolicy {
        reminder_days: r.seller_review_reminder_working_days,
        timeout_days: r.seller_review_timeout_working_days,
        action: r.seller_review_timeout_action,
        calendar: state.config.after_sale_calendar()?,
    })
}

/// Timer pass: pending requests whose review deadline has come.
pub async fn reviews_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let policy = policy(state)?;
    let mut changed = 0;
    for r in state.store.due_reviews(now, 200).await? {
        let Some(deadline) = r.deadline else { continue };
        let oid = r.order_id.to_string();
        let step = policy.due(r.created_at, r.review_reminded_at.is_some());
        let mark = |notices, next_deadline, reminded, escalated| ReviewMark {
            refund_id: r.id.clone(),
            order_id: r.order_id.clone(),
            expect_deadline: deadline,
            reminded,
            escalated,
            next_deadline,
            notices,
            now,
        };
        let done = match step {
            ReviewStep::Remind { next_deadline } => {
                let n = notice::refund_review_reminder(&oid, next_deadline);
                let notices = vec![(r.seller_id.clone(), n)];
                state
                    .store
                    .mark_review(mark(notices, Some(next_deadline), true, false))
                    .await?
            }
            ReviewStep::Escalate => {
                let n = notice::refund_escalated(&oid);
                let mut notices = vec![(r.buyer_id.clone(), n.clone())];
                let ops = crate::usecase::supervision::operators(state)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                for op in ops {
                    notices.push((op, n.clone()));
                }
                state
                    .store
                    .mark_review(mark(notices, None, false, true))
                    .await?
            }
            ReviewStep::AutoApprove => {
                let Ok(decided) =
                    refund::decide_goods(r.state, RefundDecision::Approve, r.goods_state)
                else {
                    continue;
                };
                let input = RefundDecisionInput {
                    decision: RefundDecision::Approve,
                    opinion: Some(
                        "approved by the system: the seller did not review in time".into(),
                    ),
                    carrier: None,
                    tracking_number: None,
                };
                let scope = Scope::Everything;
                match apply_decision(state, &scope, &oid, r, decided, Actor::System, None, input)
                    .await
                {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::info!(order = %oid, code = e.code, "review timer: moved on");
                        false
                    }
                }
            }
        };
        if done {
            changed += 1;
        }
    }
    Ok(changed)
}

/// An operator confirms a hardware "not received" request filed while the goods were in transit
/// (§4.3): it goes to the seller, whose review clock starts now.
pub async fn confirm_in_transit(
    state: &AppState,
    order: &OrderRecord,
    open: RefundRecord,
    operator: &PartyId,
) -> AppResult<RefundRecord> {
    if !open.awaiting_operator {
        return Err(AppError::conflict(
            "not_awaiting_operator",
            "this refund request does not wait for an operator's confirmation",
        ));
    }
    let now = state.clock.now();
    let deadline = policy(state)
        .map_err(AppError::internal)?
        .first_deadline(now);
    let reason = open.reason.clone().unwrap_or_default();
    let n = notice::refund_requested(order.id.as_str(), open.amount, &reason);
    let confirmed = state
        .store
        .confirm_in_transit(InTransitConfirmation {
            refund_id: open.id.clone(),
            order_id: order.id.clone(),
            actor: operator.clone(),
            deadline,
            notices: vec![(order.seller_id.clone(), n)],
            now,
        })
        .await?;
    if !confirmed {
        return Err(AppError::conflict(
            "refund_changed",
            "the refund request changed meanwhile; reload it and try again",
        ));
    }
    state
        .store
        .refunds_of_order(&Scope::Everything, &order.id)
        .await?
        .into_iter()
        .find(|r| r.id == open.id)
        .ok_or_else(|| AppError::not_found("refund"))
}
