//! What the outcome of a seller call does: a pure function from (call kind, resolution, the
//! current states of its order and instance) to the list of effects the store applies in the
//! transaction that records the attempt.
//!
//! The worker judges the seller's answer ([`JobResolution`]); [`plan`] decides what follows
//! (instance opened, order delivered, upgrade applied, refund, the release after giving up, the
//! seller's notices); the store persists each [`Effect`], every state change as a
//! compare-and-set on the state this plan was made from. Adding a call kind that changes
//! something is one arm in [`plan`].

use crate::instance::{InstanceEvent, InstanceState};
use crate::money::Money;
use crate::order::{OrderEvent, OrderState};
use crate::provisioning::{CallKind, JobEvent};
use crate::transition::{StateMachine, Transition};
use time::OffsetDateTime;

/// What a worker learned from one attempt, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobResolution {
    /// The call is done; for an opening call, what the seller delivered (sealed under the
    /// master key by the worker).
    Succeeded {
        seller_instance_id: Option<String>,
        app_info_sealed: Option<String>,
        license_sealed: Option<String>,
    },
    /// The seller accepted (000004): poll from `at`.
    Poll {
        at: OffsetDateTime,
        seller_instance_id: Option<String>,
    },
    Retry {
        at: OffsetDateTime,
        error: String,
    },
    GiveUp {
        error: String,
    },
}

impl JobResolution {
    /// What the resolution does to the job itself.
    pub fn event(&self) -> JobEvent {
        match self {
            JobResolution::Succeeded { .. } => JobEvent::Succeed,
            JobResolution::Poll { .. } | JobResolution::Retry { .. } => JobEvent::Wait,
            JobResolution::GiveUp { .. } => JobEvent::GiveUp,
        }
    }

    /// Whether [`plan`] needs the order's and instance's current states (only a finished call
    /// can move them; a retry or a poll cannot).
    pub fn needs_states(&self) -> bool {
        matches!(
            self,
            JobResolution::Succeeded { .. } | JobResolution::GiveUp { .. }
        )
    }
}

/// The order a call was made for, as it is in the completing transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts {
    pub state: OrderState,
    pub amount: Money,
    /// The order's service supervision is still open: it is delivered when the buyer accepts
    /// (business rules §2, §3.6), not when the seller's call succeeds.
    pub supervision_open: bool,
}

/// What [`plan`] decides on, read by the store in the completing transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    pub order: Option<OrderFacts>,
    pub instance: Option<InstanceState>,
    /// This attempt failed and the call had not failed before: the seller hears of it once.
    pub first_failure: bool,
}

/// The seller's message-centre notices about its calls (wording: [`crate::notice`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SellerNotice {
    /// The call failed for the first time (the attempt's error says why).
    FirstFailure,
    /// Souk stopped retrying the call.
    GaveUp(String),
}

/// One thing the store does when it records a call's outcome, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Move the call's instance (compare-and-set on `from`).
    Instance(Transition<InstanceState>),
    /// Keep what the seller said about the instance: its id, the sealed credentials or
    /// license (absent values leave what is stored).
    RecordDelivery {
        seller_instance_id: Option<String>,
        app_info_sealed: Option<String>,
        license_sealed: Option<String>,
    },
    /// The instance takes the SKU and quantity its upgrade order bought.
    TakeOrderSpec,
    /// Move the call's order (compare-and-set on `from`).
    Order(Transition<OrderState>),
    /// The order could not be delivered: record why, move it through `steps` (failed, then
    /// refunded), credit `refund` back to the buyer (none for a free order) and tell the buyer.
    FailAndRefund {
        steps: Vec<Transition<OrderState>>,
        refund: Option<Money>,
        amount: Money,
        reason: String,
    },
    /// Enqueue this call for the same instance with the same orderId.
    FollowUp(CallKind),
    NotifySeller(SellerNotice),
    /// Tell the buyer the purchase is open (and whether credentials wait to be shown).
    NotifyBuyerOpened {
        has_credentials: bool,
    },
}

/// Decides what recording `resolution` for a `kind` call does, given the current states.
/// Moves the state machines refuse are left out: the call's order or instance moved on
/// (e.g. a seller's late success after Souk gave up and refunded changes nothing).
pub fn plan(kind: CallKind, resolution: &JobResolution, facts: Facts) -> Vec<Effect> {
    let mut effects = Vec::new();
    let order_move = |event: OrderEvent| {
        facts
            .order
            .filter(|o| !(event == OrderEvent::Deliver && o.supervision_open))
            .and_then(|o| o.state.transition(event).ok())
            .map(Effect::Order)
    };
    let instance_move = |event: InstanceEvent| {
        facts
            .instance
            .and_then(|s| s.transition(event).ok())
            .map(Effect::Instance)
    };
    match resolution {
        JobResolution::Succeeded {
            seller_instance_id,
            app_info_sealed,
            license_sealed,
        } => match kind {
            CallKind::NewInstance | CallKind::GetLicense => {
                // What the seller delivered belongs to the instance it opened, once.
                if let Some(open) = instance_move(InstanceEvent::Open) {
                    effects.push(open);
                    effects.push(Effect::RecordDelivery {
                        seller_instance_id: seller_instance_id.clone(),
                        app_info_sealed: app_info_sealed.clone(),
                        license_sealed: license_sealed.clone(),
                    });
                    effects.push(Effect::NotifyBuyerOpened {
                        has_credentials: app_info_sealed.is_some() || license_sealed.is_some(),
                    });
                }
                effects.extend(order_move(OrderEvent::Deliver));
            }
            CallKind::UpgradeInstance => {
                if facts.order.is_some() {
                    effects.push(Effect::TakeOrderSpec);
                }
                effects.extend(order_move(OrderEvent::Deliver));
            }
            CallKind::RefreshInstance => effects.extend(order_move(OrderEvent::Deliver)),
            CallKind::FreezeInstance
            | CallKind::UnfreezeInstance
            | CallKind::ReleaseInstance
            | CallKind::RefreshLicenseCode
            | CallKind::FreezeLicenseCode
            | CallKind::UnfreezeLicenseCode
            | CallKind::ReleaseLicenseCode
            // The refund is complete already; the seller only hears of it.
            | CallKind::RefundRenewalPeriod
            | CallKind::RefundRenewalLicenseCode => {}
        },
        JobResolution::Poll {
            seller_instance_id: Some(sid),
            ..
        } => effects.push(Effect::RecordDelivery {
            seller_instance_id: Some(sid.clone()),
            app_info_sealed: None,
            license_sealed: None,
        }),
        JobResolution::Poll { .. } | JobResolution::Retry { .. } => {}
        JobResolution::GiveUp { error } => {
            // An online License the seller delivered by hand from supervision (§3.2) is open
            // already: its getLicense giving up fails nothing.
            let delivered_by_hand =
                kind == CallKind::GetLicense && facts.instance == Some(InstanceState::Active);
            if kind.fails_order() && !delivered_by_hand {
                if let Some(order) = facts.order {
                    let failed = order.state.transition(OrderEvent::FailDelivery).ok();
                    let refunded = failed.and_then(|f| f.to.transition(OrderEvent::Refund).ok());
                    if let (Some(failed), Some(refunded)) = (failed, refunded) {
                        effects.push(Effect::FailAndRefund {
                            steps: vec![failed, refunded],
                            refund: (order.amount.amount_minor > 0).then_some(order.amount),
                            amount: order.amount,
                            reason: error.clone(),
                        });
                    }
                }
                if kind.opens_instance() {
                    effects.extend(instance_move(InstanceEvent::FailOpening));
                }
            }
            effects.extend(kind.after_giving_up().map(Effect::FollowUp));
            effects.push(Effect::NotifySeller(SellerNotice::GaveUp(error.clone())));
        }
    }
    if facts.first_failure && !matches!(resolution, JobResolution::Succeeded { .. }) {
        effects.push(Effect::NotifySeller(SellerNotice::FirstFailure));
    }
    effects
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn facts(order: OrderState, instance: InstanceState, amount: i64) -> Facts {
        Facts {
            order: Some(OrderFacts {
                state: order,
                amount: Money::new(amount, Currency::CNY),
                supervision_open: false,
            }),
            instance: Some(instance),
            first_failure: false,
        }
    }

    fn delivered(sid: &str) -> JobResolution {
        JobResolution::Succeeded {
            seller_instance_id: Some(sid.into()),
            app_info_sealed: Some("sealed".into()),
            license_sealed: None,
        }
    }

    #[test]
    fn an_opening_success_opens_the_instance_and_delivers_the_order() {
        let f = facts(OrderState::Processing, InstanceState::Opening, 100);
        assert_eq!(
            plan(CallKind::NewInstance, &delivered("i-1"), f),
            vec![
                Effect::Instance(Transition {
                    from: InstanceState::Opening,
                    to: InstanceState::Active
                }),
                Effect::RecordDelivery {
                    seller_instance_id: Some("i-1".into()),
                    app_info_sealed: Some("sealed".into()),
                    license_sealed: None,
                },
                Effect::NotifyBuyerOpened {
                    has_credentials: true
                },
                Effect::Order(Transition {
                    from: OrderState::Processing,
                    to: OrderState::Completed
                }),
            ]
        );
    }

    #[test]
    fn a_supervised_opening_opens_the_instance_but_leaves_the_order_to_acceptance() {
        let mut f = facts(OrderState::Processing, InstanceState::Opening, 100);
        if let Some(o) = f.order.as_mut() {
            o.supervision_open = true;
        }
        let effects = plan(CallKind::NewInstance, &delivered("i-1"), f);
        assert_eq!(
            effects[0],
            Effect::Instance(Transition {
                from: InstanceState::Opening,
                to: InstanceState::Active
            })
        );
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Order(_))),
            "a supervised order completes on the buyer's acceptance: {effects:?}"
        );
    }

    #[test]
    fn a_late_success_after_giving_up_changes_nothing() {
        let f = facts(OrderState::Refunded, InstanceState::Failed, 100);
        assert_eq!(plan(CallKind::NewInstance, &delivered("i-1"), f), vec![]);
    }

    #[test]
    fn an_upgrade_success_applies_the_new_spec_and_delivers() {
        let f = facts(OrderState::Processing, InstanceState::Active, 100);
        let plan = plan(CallKind::UpgradeInstance, &delivered("x"), f);
        assert_eq!(plan[0], Effect::TakeOrderSpec);
        assert!(matches!(plan[1], Effect::Order(t) if t.to == OrderState::Completed));
        assert_eq!(plan.len(), 2);
    }

    #[test]
    fn giving_up_an_opening_refunds_fails_the_instance_and_releases_at_the_seller() {
        let f = facts(OrderState::Processing, InstanceState::Opening, 2500);
        let gave_up = JobResolution::GiveUp {
            error: "timeout".into(),
        };
        let effects = plan(CallKind::NewInstance, &gave_up, f);
        assert_eq!(
            effects,
            vec![
                Effect::FailAndRefund {
                    steps: vec![
                        Transition {
                            from: OrderState::Processing,
                            to: OrderState::Failed
                        },
                        Transition {
                            from: OrderState::Failed,
                            to: OrderState::Refunded
                        },
                    ],
                    refund: Some(Money::new(2500, Currency::CNY)),
                    amount: Money::new(2500, Currency::CNY),
                    reason: "timeout".into(),
                },
                Effect::Instance(Transition {
                    from: InstanceState::Opening,
                    to: InstanceState::Failed
                }),
                Effect::FollowUp(CallKind::ReleaseInstance),
                Effect::NotifySeller(SellerNotice::GaveUp("timeout".into())),
            ]
        );
        // A free trial is failed and "refunded" without a ledger credit.
        let free = plan(
            CallKind::NewInstance,
            &gave_up,
            facts(OrderState::Processing, InstanceState::Opening, 0),
        );
        assert!(matches!(
            &free[0],
            Effect::FailAndRefund { refund: None, .. }
        ));
    }

    #[test]
    fn giving_up_a_status_call_only_tells_the_seller() {
        let f = Facts {
            first_failure: true,
            ..facts(OrderState::Completed, InstanceState::Frozen, 100)
        };
        let gave_up = JobResolution::GiveUp {
            error: "down".into(),
        };
        assert_eq!(
            plan(CallKind::FreezeInstance, &gave_up, f),
            vec![
                Effect::NotifySeller(SellerNotice::GaveUp("down".into())),
                Effect::NotifySeller(SellerNotice::FirstFailure),
            ]
        );
    }

    #[test]
    fn retries_and_polls_move_nothing() {
        let at = time::macros::datetime!(2026-01-01 0:00 UTC);
        let retry = JobResolution::Retry {
            at,
            error: "503".into(),
        };
        let first = Facts {
            first_failure: true,
            ..Facts::default()
        };
        assert_eq!(
            plan(CallKind::NewInstance, &retry, first),
            vec![Effect::NotifySeller(SellerNotice::FirstFailure)]
        );
        assert!(!retry.needs_states());
        assert_eq!(retry.event(), JobEvent::Wait);
        let poll = JobResolution::Poll {
            at,
            seller_instance_id: Some("i-9".into()),
        };
        assert_eq!(
            plan(CallKind::NewInstance, &poll, Facts::default()),
            vec![Effect::RecordDelivery {
                seller_instance_id: Some("i-9".into()),
                app_info_sealed: None,
                license_sealed: None,
            }]
        );
    }
}
