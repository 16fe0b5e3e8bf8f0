//! State machines: how an order, an instance or a call (job) moves, decided here and nowhere
//! else.
//!
//! Each aggregate's state enum implements [`StateMachine`]: one `next(event)` match lists every
//! allowed move. Whoever wants a state to change asks [`StateMachine::transition`] for a
//! [`Transition`] (`from` → `to`); the store persists exactly that with a compare-and-set on
//! the old state (`UPDATE … SET state = $to WHERE id = $id AND state = $from`), so a row that
//! moved on meanwhile is a lost race (a typed error), never a silent overwrite.
//!
//! Adding a state or an event is one enum variant plus one arm in that aggregate's `next`.

use std::fmt;

/// A change of state the core decided; valid only while the row is still in `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition<S> {
    pub from: S,
    pub to: S,
}

/// An event that the state machine does not allow in the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} that is {from} cannot be {event}")]
pub struct IllegalTransition {
    /// The aggregate, as a sentence names it ("an order").
    pub what: &'static str,
    pub from: &'static str,
    pub event: &'static str,
}

/// A value's fixed name: a state's stored name, an event's wording ("paid"). The enum macros
/// (`string_enum!`, `event_enum!`) implement it.
pub trait Label: Copy {
    fn label(self) -> &'static str;
}

/// A state enum with its events and the moves they allow.
pub trait StateMachine: Label + Eq + fmt::Debug + Sized + 'static {
    type Event: Label + fmt::Debug;

    /// How an error message names the aggregate ("an order").
    const WHAT: &'static str;

    /// Every state, so that callers can ask which states an event applies in.
    const STATES: &'static [Self];

    /// The state a new row starts in.
    const START: Self;

    /// The state after `event`, or `None` when the event is not allowed in this state. The
    /// one place an aggregate's moves are listed.
    fn next(self, event: Self::Event) -> Option<Self>;

    /// The state after `event`, or why not.
    fn apply(self, event: Self::Event) -> Result<Self, IllegalTransition> {
        self.next(event).ok_or(IllegalTransition {
            what: Self::WHAT,
            from: self.label(),
            event: event.label(),
        })
    }

    /// The change `event` makes from this state, for the store to persist.
    fn transition(self, event: Self::Event) -> Result<Transition<Self>, IllegalTransition> {
        Ok(Transition {
            from: self,
            to: self.apply(event)?,
        })
    }

    /// Every move `event` can make, one per state it is allowed in (for a bulk
    /// compare-and-set over rows in several states).
    fn moves(event: Self::Event) -> Vec<Transition<Self>> {
        Self::STATES
            .iter()
            .filter_map(|s| s.transition(event).ok())
            .collect()
    }
}

/// Declares an event enum whose variants carry the wording an error message uses.
macro_rules! event_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every event, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// What the event does to its aggregate, as a past participle ("paid").
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl $crate::transition::Label for $name {
            fn label(self) -> &'static str {
                self.as_str()
            }
        }
    };
}
pub(crate) use event_enum;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderEvent, OrderState};

    #[test]
    fn a_transition_names_both_states_and_moves_lists_every_source() {
        assert_eq!(
            OrderState::PendingPayment.transition(OrderEvent::Pay),
            Ok(Transition {
                from: OrderState::PendingPayment,
                to: OrderState::Processing
            })
        );
        assert_eq!(
            OrderState::moves(OrderEvent::Deliver),
            vec![Transition {
                from: OrderState::Processing,
                to: OrderState::Completed
            }]
        );
        let e = OrderState::Cancelled
            .transition(OrderEvent::Pay)
            .unwrap_err();
        assert_eq!(e.to_string(), "an order that is cancelled cannot be paid");
    }
}
