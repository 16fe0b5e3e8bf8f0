//! Instances: what a paid order opens, and the timers that move it (business rules §5).
//!
//! ```text
//! opening ──seller answered──▶ active ──expiry──▶ grace ──grace ends──▶ frozen ──retention ends──▶ released
//!    │                          ▲   ▲               │                     │
//!    └─opening failed─▶ failed  │   └──renewal──────┘                     │
//!                               └────────renewal (unfreeze)───────────────┘
//! ```
//! In grace the buyer can still use the instance; the seller is told to freeze it when grace
//! ends (business rules §5, Souk default `lifecycle.freeze_at = grace_end`) and to release it
//! when retention ends. A renewal in grace or retention starts at the original expiry.
//!
//! An on-demand instance has no expiry: it enters grace when a usage charge leaves its buyer in
//! arrears (`FallIntoArrears`) and is active again when a top-up clears them (`SettleArrears`,
//! from grace or frozen); [`crate::metering::arrears_transition`] applies these to on-demand
//! instances only.

use crate::order::string_enum;
use crate::transition::{event_enum, StateMachine};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

string_enum!(
    InstanceState {
        /// Paid; the seller has not yet confirmed the instance.
        Opening = "opening",
        Active = "active",
        /// Past its expiry, still usable, waiting for a renewal.
        Grace = "grace",
        /// The seller was told to freeze it; data kept until retention ends.
        Frozen = "frozen",
        Released = "released",
        /// Could not be opened; the order was refunded.
        Failed = "failed",
    }
);

event_enum!(
    /// Something that happens to an instance.
    InstanceEvent {
        /// The seller confirmed it (or nothing waits for a seller: Souk-issued codes).
        Open = "opened",
        /// Souk gave up on opening it; its order is refunded.
        FailOpening = "failed",
        /// Its term ended.
        Expire = "expired",
        /// Its grace period ended; the seller is told to freeze it.
        Freeze = "frozen",
        /// Its retention period ended; the seller is told to release it.
        Release = "released",
        /// A renewal (or trial conversion) was paid: active again until the new expiry.
        Renew = "renewed",
        /// An upgrade was paid: the specification changes, the state does not.
        Upgrade = "upgraded",
        /// A usage charge left an on-demand instance's buyer below zero (past any credit): it
        /// enters grace, then the lifecycle timers freeze and release it (spec §3.6).
        FallIntoArrears = "put into arrears",
        /// A top-up or credit cleared the arrears: active again (a frozen one is unfrozen).
        SettleArrears = "cleared of arrears",
        /// Its order was refunded after sale (no-reason, negotiated, operator-forced): whatever
        /// was opened, or is still opening, is released at once.
        ReleaseOnRefund = "released on refund",
        /// A stop-when-exhausted usage package used up its quota: the seller is told to stop
        /// (`instanceStatus FREEZE`); the lifecycle timers release it after retention.
        Exhaust = "used up",
    }
);

impl StateMachine for InstanceState {
    type Event = InstanceEvent;
    const WHAT: &'static str = "an instance";
    const STATES: &'static [Self] = InstanceState::ALL;
    /// Paid, waiting for the seller ([`InstanceState::first`] opens it at once when no seller
    /// call does).
    const START: Self = InstanceState::Opening;

    /// The instance state machine (the diagram above). Anything not listed is refused.
    fn next(self, event: InstanceEvent) -> Option<InstanceState> {
        use InstanceEvent::*;
        use InstanceState::*;
        match (self, event) {
            (Opening, Open) => Some(Active),
            (Opening, FailOpening) => Some(Failed),
            (Active, Expire) => Some(Grace),
            (Grace, Freeze) => Some(Frozen),
            (Frozen, Release) => Some(Released),
            (Active | Grace | Frozen, Renew) => Some(Active),
            (Active, Upgrade) => Some(Active),
            (Active, FallIntoArrears) => Some(Grace),
            (Active | Grace, Exhaust) => Some(Frozen),
            (Grace | Frozen, SettleArrears) => Some(Active),
            (Opening | Active | Grace | Frozen, ReleaseOnRefund) => Some(Released),
            _ => None,
        }
    }
}

impl InstanceState {
    /// The state a paid order's new instance starts in: opening until its seller confirms it,
    /// or open at once when no seller call opens it (Souk-issued license codes).
    pub fn first(open_now: bool) -> InstanceState {
        if open_now {
            // Opening → Active is always allowed.
            Self::START.next(InstanceEvent::Open).unwrap_or(Self::START)
        } else {
            Self::START
        }
    }
}

/// The configurable lifecycle periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// From expiry to freeze.
    pub grace: Duration,
    /// From freeze to release.
    pub retention: Duration,
}

impl Default for LifecyclePolicy {
    /// Business rules §5, level V3 (Souk's default for customers without a level).
    fn default() -> Self {
        LifecyclePolicy {
            grace: Duration::days(7),
            retention: Duration::days(7),
        }
    }
}

/// What the timer should do to an instance now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    /// Expired with auto-renew on: try to renew before anything else.
    AutoRenew,
    EnterGrace,
    Freeze,
    Release,
}

impl TimerAction {
    /// The instance event the action is, if it moves the instance itself (an automatic renewal
    /// is an order, paid like any other).
    pub fn event(self) -> Option<InstanceEvent> {
        match self {
            TimerAction::AutoRenew => None,
            TimerAction::EnterGrace => Some(InstanceEvent::Expire),
            TimerAction::Freeze => Some(InstanceEvent::Freeze),
            TimerAction::Release => Some(InstanceEvent::Release),
        }
    }
}

/// Decides the timer action for an instance; pure, so every timer path is testable with a clock.
///
/// `auto_renew_tried` is true once an automatic renewal was attempted for the current expiry,
/// so a failed attempt (low balance) falls through to grace instead of looping.
pub fn due_action(
    state: InstanceState,
    expire_at: Option<OffsetDateTime>,
    auto_renew: bool,
    auto_renew_tried: bool,
    policy: LifecyclePolicy,
    now: OffsetDateTime,
) -> Option<TimerAction> {
    let expire_at = expire_at?;
    match state {
        InstanceState::Active if now >= expire_at => {
            if auto_renew && !auto_renew_tried {
                Some(TimerAction::AutoRenew)
            } else {
                Some(TimerAction::EnterGrace)
            }
        }
        InstanceState::Grace if now >= expire_at + policy.grace => Some(TimerAction::Freeze),
        InstanceState::Frozen if now >= expire_at + policy.grace + policy.retention => {
            Some(TimerAction::Release)
        }
        _ => None,
    }
}

/// Whether an instance in this state can be renewed.
pub fn renewable(state: InstanceState) -> bool {
    state.next(InstanceEvent::Renew).is_some()
}

/// The expiry after renewing: renewals start at the old expiry, even if it has passed (grace
/// days are not free), business rules §5.
pub fn renewed_expiry(
    old_expiry: OffsetDateTime,
    term: &crate::order::Term,
    zone: time::UtcOffset,
) -> Result<Option<OffsetDateTime>, crate::order::TermTooLong> {
    term.end(old_expiry, zone)
}

/// App credentials of an instance, decrypted from the seller's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppInfo {
    pub front_end_url: Option<String>,
    pub admin_url: Option<String>,
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub memo: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const P: LifecyclePolicy = LifecyclePolicy {
        grace: Duration::days(7),
        retention: Duration::days(7),
    };

    #[test]
    fn an_unrenewed_instance_goes_grace_frozen_released() {
        let exp = Some(datetime!(2026-02-01 0:00 UTC));
        let at = |t| due_action(InstanceState::Active, exp, false, false, P, t);
        assert_eq!(at(datetime!(2026-01-31 23:59 UTC)), None);
        assert_eq!(
            at(datetime!(2026-02-01 0:00 UTC)),
            Some(TimerAction::EnterGrace)
        );
        let g = |t| due_action(InstanceState::Grace, exp, false, false, P, t);
        assert_eq!(g(datetime!(2026-02-07 23:59 UTC)), None);
        assert_eq!(g(datetime!(2026-02-08 0:00 UTC)), Some(TimerAction::Freeze));
        let f = |t| due_action(InstanceState::Frozen, exp, false, false, P, t);
        assert_eq!(f(datetime!(2026-02-14 23:59 UTC)), None);
        assert_eq!(
            f(datetime!(2026-02-15 0:00 UTC)),
            Some(TimerAction::Release)
        );
    }

    #[test]
    fn auto_renew_is_tried_once_then_grace() {
        let exp = Some(datetime!(2026-02-01 0:00 UTC));
        let now = datetime!(2026-02-01 0:00 UTC);
        assert_eq!(
            due_action(InstanceState::Active, exp, true, false, P, now),
            Some(TimerAction::AutoRenew)
        );
        assert_eq!(
            due_action(InstanceState::Active, exp, true, true, P, now),
            Some(TimerAction::EnterGrace)
        );
    }

    #[test]
    fn one_time_and_settled_instances_have_no_timers() {
        let now = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(
            due_action(InstanceState::Active, None, false, false, P, now),
            None
        );
        for s in [
            InstanceState::Opening,
            InstanceState::Released,
            InstanceState::Failed,
        ] {
            assert_eq!(
                due_action(
                    s,
                    Some(datetime!(2026-01-01 0:00 UTC)),
                    false,
                    false,
                    P,
                    now
                ),
                None
            );
        }
    }

    #[test]
    fn the_instance_state_machine_allows_only_the_documented_paths() {
        use InstanceEvent::*;
        use InstanceState::*;
        assert_eq!(Opening.apply(Open), Ok(Active));
        assert_eq!(Opening.apply(FailOpening), Ok(Failed));
        assert_eq!(Active.apply(Expire), Ok(Grace));
        assert_eq!(Grace.apply(Freeze), Ok(Frozen));
        assert_eq!(Frozen.apply(Release), Ok(Released));
        for s in [Active, Grace, Frozen] {
            assert_eq!(s.apply(Renew), Ok(Active));
        }
        assert_eq!(Active.apply(Upgrade), Ok(Active));
        assert!(
            Grace.apply(Upgrade).is_err(),
            "only an active instance is upgraded"
        );
        assert!(Opening.apply(Renew).is_err());
        assert_eq!(Active.apply(FallIntoArrears), Ok(Grace));
        assert_eq!(Grace.apply(SettleArrears), Ok(Active));
        assert_eq!(Frozen.apply(SettleArrears), Ok(Active));
        assert!(Grace.apply(FallIntoArrears).is_err(), "arrears start once");
        assert!(
            Released.apply(SettleArrears).is_err(),
            "a released instance stays gone"
        );
        assert_eq!(
            Active.apply(SettleArrears).unwrap_err().to_string(),
            "an instance that is active cannot be cleared of arrears"
        );
        assert!(
            Active.apply(Open).is_err(),
            "a seller answer opens an instance once"
        );
        assert!(Released.apply(Renew).is_err());
        assert_eq!(
            Failed.apply(Release).unwrap_err().to_string(),
            "an instance that is failed cannot be released"
        );
        for s in [Opening, Active, Grace, Frozen] {
            assert_eq!(s.apply(ReleaseOnRefund), Ok(Released));
        }
        assert!(
            Released.apply(ReleaseOnRefund).is_err() && Failed.apply(ReleaseOnRefund).is_err(),
            "a refund releases only what is not already gone"
        );
        assert_eq!(InstanceState::first(false), Opening);
        assert_eq!(InstanceState::first(true), Active);
    }

    #[test]
    fn timer_actions_are_instance_events() {
        assert_eq!(TimerAction::AutoRenew.event(), None);
        let moved = |a: TimerAction, from: InstanceState| from.apply(a.event().unwrap());
        assert_eq!(
            moved(TimerAction::EnterGrace, InstanceState::Active),
            Ok(InstanceState::Grace)
        );
        assert_eq!(
            moved(TimerAction::Freeze, InstanceState::Grace),
            Ok(InstanceState::Frozen)
        );
        assert_eq!(
            moved(TimerAction::Release, InstanceState::Frozen),
            Ok(InstanceState::Released)
        );
    }

    #[test]
    fn renewal_starts_at_the_old_expiry() {
        let term = crate::order::Term::Period {
            unit: crate::order::PeriodUnit::Month,
            count: 1,
        };
        assert_eq!(
            renewed_expiry(datetime!(2026-02-01 0:00 UTC), &term, time::UtcOffset::UTC),
            Ok(Some(datetime!(2026-03-01 0:00 UTC)))
        );
        assert!(renewable(InstanceState::Frozen));
        assert!(!renewable(InstanceState::Released));
    }
}
