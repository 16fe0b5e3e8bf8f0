//! Timers: unpaid orders are cancelled; expired instances are auto-renewed, or go to grace,
//! then frozen (seller told to freeze), then released (seller told to release). Every decision
//! is `souk_core::instance::due_action` at the `now` it is given, so a test (or the sandbox
//! clock) runs a month of lifecycle in a second.
//!
//! Every timed pass of the marketplace is registered in [`passes`], and only there: the engine
//! runs them in that order at every tick, and tests run them with `run_due(now)`.

use crate::usecase::orders::{self, status_job};
use crate::AppState;
use souk_core::instance::{due_action, LifecyclePolicy, TimerAction};
use souk_core::provisioning::CallKind;
use souk_core::transition::StateMachine;
use souk_store::{InstanceRecord, NewJob, Scope};
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;

/// What one pass returns: how many things it changed.
pub type PassResult<'a> = Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send + 'a>>;

/// A timed pass: finds what is due at `now` and acts on it.
pub struct TimerPass {
    /// For logs and metrics.
    pub name: &'static str,
    pub run: for<'a> fn(&'a AppState, OffsetDateTime) -> PassResult<'a>,
}

/// Every timer pass, in the order they run. Later capabilities (supervision, metering,
/// settlement) add theirs here.
pub fn passes() -> &'static [TimerPass] {
    &[
        TimerPass {
            name: "unpaid_orders",
            run: |state, now| Box::pin(cancel_unpaid_orders(state, now)),
        },
        // Before the collection: packages that took effect are recorded and quota periods that
        // ended before the collection's cutoff are reset, so the collection draws from them.
        TimerPass {
            name: "usage_packages",
            run: |state, now| Box::pin(crate::usecase::packages::packages_due(state, now)),
        },
        // Before the lifecycle pass: a charge that puts an instance in arrears is seen by it.
        TimerPass {
            name: "usage_collection",
            run: |state, now| Box::pin(crate::usecase::metering::collect(state, now)),
        },
        TimerPass {
            name: "instance_lifecycle",
            run: |state, now| Box::pin(instance_lifecycle(state, now)),
        },
        TimerPass {
            name: "settlement_run",
            run: |state, now| Box::pin(crate::usecase::settlement::due_run(state, now)),
        },
        TimerPass {
            name: "reseller_settlement_run",
            run: |state, now| Box::pin(crate::usecase::resellers::due_run(state, now)),
        },
        TimerPass {
            name: "supervision_auto_accept",
            run: |state, now| Box::pin(crate::usecase::supervision::auto_accept_due(state, now)),
        },
        TimerPass {
            name: "supervision_reminders",
            run: |state, now| Box::pin(crate::usecase::supervision::reminders_due(state, now)),
        },
        TimerPass {
            name: "refund_reviews",
            run: |state, now| Box::pin(crate::usecase::refund_reviews::reviews_due(state, now)),
        },
        TimerPass {
            name: "invoice_overdue",
            run: |state, now| Box::pin(crate::usecase::invoices::overdue_due(state, now)),
        },
        TimerPass {
            name: "reseller_invoice_overdue",
            run: |state, now| {
                Box::pin(crate::usecase::reseller_statements::overdue_due(state, now))
            },
        },
        TimerPass {
            name: "statement_invoice_deadline",
            run: |state, now| Box::pin(crate::usecase::statement_deadlines::lapse_due(state, now)),
        },
        TimerPass {
            name: "refund_returns",
            run: |state, now| Box::pin(crate::usecase::refund_returns::returns_due(state, now)),
        },
        // Last: mails for the notices the passes above just recorded go out in the same tick.
        TimerPass {
            name: "mail_outbox",
            run: |state, now| Box::pin(crate::usecase::mail::deliver_due(state, now)),
        },
    ]
}

/// Runs every pass at `now`; returns how many things they changed. A failing pass is logged and
/// does not stop the others.
pub async fn run_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    let mut first_error = None;
    for pass in passes() {
        match (pass.run)(state, now).await {
            Ok(n) => changed += n,
            Err(e) => {
                tracing::error!(pass = pass.name, error = ?e, "timer pass failed");
                first_error.get_or_insert(e);
            }
        }
    }
    if changed > 0 {
        state.wake.notify_one();
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(changed),
    }
}

/// Unpaid orders past their deadline are cancelled.
async fn cancel_unpaid_orders(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    for id in state.store.overdue_orders(now, 500).await? {
        if let Some(Ok(_)) = state
            .store
            .cancel_order(&Scope::Everything, &id, None, now)
            .await?
        {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Expiry (auto-renew or grace), grace end (freeze), retention end (release).
async fn instance_lifecycle(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut changed = 0;
    let policy = LifecyclePolicy {
        grace: state.config.lifecycle.grace.0,
        retention: state.config.lifecycle.retention.0,
    };
    let due = state
        .store
        .timer_candidates(now, policy.grace, policy.retention, 500)
        .await?;
    for instance in due {
        let tried = instance.auto_renew_tried_for.is_some()
            && instance.auto_renew_tried_for == instance.expire_at;
        let action = due_action(
            instance.state,
            instance.expire_at,
            instance.auto_renew,
            tried,
            policy,
            now,
        );
        let done = match action {
            Some(TimerAction::AutoRenew) => {
                if let Some(exp) = instance.expire_at {
                    state.store.mark_auto_renew_tried(&instance.id, exp).await?;
                }
                match orders::auto_renew(state, &instance).await {
                    Ok(order) => {
                        tracing::info!(instance = %instance.id, order = %order.id, "auto-renewed");
                        true
                    }
                    Err(e) => {
                        tracing::info!(instance = %instance.id, error = %e.message, "auto-renew not possible");
                        false
                    }
                }
            }
            Some(action) => {
                let Some(event) = action.event() else {
                    continue;
                };
                // The core decides the move; a state it refuses is a candidate that moved on.
                let Ok(change) = instance.state.transition(event) else {
                    continue;
                };
                let jobs = match action {
                    TimerAction::Freeze => {
                        lifecycle_jobs(
                            state,
                            &instance,
                            CallKind::FreezeInstance,
                            CallKind::FreezeLicenseCode,
                        )
                        .await?
                    }
                    TimerAction::Release => {
                        lifecycle_jobs(
                            state,
                            &instance,
                            CallKind::ReleaseInstance,
                            CallKind::ReleaseLicenseCode,
                        )
                        .await?
                    }
                    TimerAction::EnterGrace | TimerAction::AutoRenew => vec![],
                };
                state
                    .store
                    .apply_timer(&instance.id, change, jobs, now)
                    .await?
            }
            None => false,
        };
        if done {
            // License heartbeats answer from memory: drop what they knew of this instance.
            state.licenses.invalidate_instance(&instance.id);
            changed += 1;
        }
    }
    Ok(changed)
}

/// The seller calls for a freeze or release: the License 2.0 code calls (one per activated
/// code) for an instance with Souk-issued codes, the instance call otherwise.
async fn lifecycle_jobs(
    state: &AppState,
    instance: &InstanceRecord,
    instance_call: CallKind,
    code_call: CallKind,
) -> anyhow::Result<Vec<NewJob>> {
    // Image, manual service, hardware, data file and Licenses delivered by hand have no
    // seller endpoint to tell.
    if !orders::seller_opened(state, instance).await? {
        return Ok(Vec::new());
    }
    let codes = crate::usecase::licenses::code_jobs(
        state,
        instance,
        code_call,
        &instance.origin_order_id,
        None,
    )
    .await?;
    Ok(codes.unwrap_or_else(|| vec![status_job(instance, instance_call)]))
}
