//! Metering (business rules §6.4, §7): usage amounts, the checks on pushed usage records, the
//! collection schedule and rating. Pure functions; the store applies their results with the
//! ledger, the server's timer pass runs the collection.

pub mod package;
pub mod rating;
pub mod record;
pub mod schedule;
pub mod usage;

pub use rating::{Band, PriceError, PriceMode};
pub use record::{
    accumulation_period, check_times, collection_cutoff, MeteredInstance, RecordError, RecordTimes,
};
pub use schedule::{business_day_start, daily_cutoff, Collection, Granularity};
pub use usage::{UsageError, UsageValue};

use crate::instance::{InstanceEvent, InstanceState};
use crate::order::Term;
use crate::transition::{StateMachine, Transition};

/// The move arrears make of an instance on `term` in `state` (`FallIntoArrears` or
/// `SettleArrears`): only on-demand instances are moved by their buyer's balance (a
/// subscription is paid up front), and only where the instance state machine allows it.
pub fn arrears_transition(
    term: &Term,
    state: InstanceState,
    event: InstanceEvent,
) -> Option<Transition<InstanceState>> {
    if *term != Term::OnDemand {
        return None;
    }
    state.transition(event).ok()
}

/// The memo of a usage charge's ledger line (the buyer reads it in the ledger).
pub fn charge_memo(instance_id: &str, records: i64, usage: UsageValue, period: &str) -> String {
    format!("Usage of {instance_id}: {records} record(s), {usage} units, rated toward {period}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstanceEvent::*;
    use InstanceState::*;

    #[test]
    fn arrears_move_only_on_demand_instances_along_the_state_machine() {
        let od = Term::OnDemand;
        let t = |from, to| Some(Transition { from, to });
        assert_eq!(
            arrears_transition(&od, Active, FallIntoArrears),
            t(Active, Grace)
        );
        assert_eq!(
            arrears_transition(&od, Grace, SettleArrears),
            t(Grace, Active)
        );
        assert_eq!(
            arrears_transition(&od, Frozen, SettleArrears),
            t(Frozen, Active)
        );
        // Already in arrears, not yet open, or gone: nothing moves.
        for s in [Grace, Frozen, Opening, Released, Failed] {
            assert_eq!(arrears_transition(&od, s, FallIntoArrears), None, "{s:?}");
        }
        for s in [Active, Opening, Released, Failed] {
            assert_eq!(arrears_transition(&od, s, SettleArrears), None, "{s:?}");
        }
        // A subscription in grace is waiting for a renewal, not for a top-up.
        let monthly = Term::Period {
            unit: crate::order::PeriodUnit::Month,
            count: 1,
        };
        assert_eq!(arrears_transition(&monthly, Grace, SettleArrears), None);
        assert_eq!(arrears_transition(&monthly, Active, FallIntoArrears), None);
    }
}
