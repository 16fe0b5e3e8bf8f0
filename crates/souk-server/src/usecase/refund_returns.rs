//! The timer of hardware returns (business rules §4.3, Souk defaults): an approved return the
//! buyer does not ship within `refund.return_ship_window` lapses (supervision resumes); a
//! shipped return the seller does not confirm within `refund.return_receipt_auto` is refunded
//! by the system. Souk has no carrier feed, so the receipt clock starts at the buyer's
//! shipment record.

use crate::usecase::refunds::{apply_decision, RefundDecisionInput};
use crate::AppState;
use souk_core::refund::{self, RefundDecision, RefundEvent, RefundState};
use souk_core::supervision::Actor;
use souk_core::transition::StateMachine;
use souk_store::Scope;
use time::OffsetDateTime;

pub async fn returns_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    for r in state.store.due_returns(now, 200).await? {
        let decided = match r.state {
            RefundState::ReturnApproved => r.state.transition(RefundEvent::Lapse).ok(),
            RefundState::ReturnShipped => {
                refund::decide_goods(r.state, RefundDecision::ConfirmReceipt, r.goods_state).ok()
            }
            _ => None,
        };
        let Some(decided) = decided else { continue };
        let order_id = r.order_id.to_string();
        let input = RefundDecisionInput {
            decision: RefundDecision::ConfirmReceipt,
            opinion: None,
            carrier: None,
            tracking_number: None,
        };
        match apply_decision(
            state,
            &Scope::Everything,
            &order_id,
            r,
            decided,
            Actor::System,
            None,
            input,
        )
        .await
        {
            Ok(_) => changed += 1,
            // Someone acted meanwhile: nothing left to do.
            Err(e) => tracing::info!(order = %order_id, code = e.code, "return timer: moved on"),
        }
    }
    Ok(changed)
}
