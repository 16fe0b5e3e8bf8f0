//! The seller's review of a negotiated refund request on the clock (business rules §4.3, Souk
//! default): the seller is reminded after `refund.seller_review_reminder` working days, and
//! after `refund.seller_review_timeout` working days without a decision the request gets the
//! configured outcome — `escalate` (operators are asked to decide; the request stays pending)
//! or `auto_approve` (the system approves it as the seller would).
//!
//! A pending request carries one deadline: first the reminder's, then the timeout's; once the
//! timeout has acted there is none.

use crate::calendar::WorkCalendar;
use crate::order::string_enum;
use time::OffsetDateTime;

string_enum!(
    /// What happens when the seller has not reviewed in time.
    ReviewTimeoutAction {
        /// Operators are told to decide; the request stays pending (Souk default).
        Escalate = "escalate",
        /// The system approves the request.
        AutoApprove = "auto_approve",
    }
);

/// The configurable numbers of the seller's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewPolicy {
    /// `refund.seller_review_reminder`: working days before the seller is reminded.
    pub reminder_days: u32,
    /// `refund.seller_review_timeout`: working days before the timeout's outcome.
    pub timeout_days: u32,
    /// `refund.seller_review_timeout_action`.
    pub action: ReviewTimeoutAction,
    pub calendar: WorkCalendar,
}

impl Default for ReviewPolicy {
    fn default() -> Self {
        ReviewPolicy {
            reminder_days: 5,
            timeout_days: 7,
            action: ReviewTimeoutAction::Escalate,
            calendar: WorkCalendar::default(),
        }
    }
}

/// What the review timer does to a pending request whose deadline has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    /// Remind the seller; the next deadline is the timeout.
    Remind { next_deadline: OffsetDateTime },
    /// Ask the operators to decide; no deadline any more.
    Escalate,
    /// Approve as the system.
    AutoApprove,
}

impl ReviewPolicy {
    /// The first deadline of a request filed at `filed_at`: the reminder (or, when the reminder
    /// would not come before it, the timeout).
    pub fn first_deadline(&self, filed_at: OffsetDateTime) -> OffsetDateTime {
        let reminder = self.calendar.add_working_days(filed_at, self.reminder_days);
        reminder.min(self.timeout(filed_at))
    }

    fn timeout(&self, filed_at: OffsetDateTime) -> OffsetDateTime {
        self.calendar.add_working_days(filed_at, self.timeout_days)
    }

    /// What is due for a request filed at `filed_at`, `reminded` or not, at its deadline.
    pub fn due(&self, filed_at: OffsetDateTime, reminded: bool) -> ReviewStep {
        let timeout = self.timeout(filed_at);
        if !reminded && self.first_deadline(filed_at) < timeout {
            return ReviewStep::Remind {
                next_deadline: timeout,
            };
        }
        match self.action {
            ReviewTimeoutAction::Escalate => ReviewStep::Escalate,
            ReviewTimeoutAction::AutoApprove => ReviewStep::AutoApprove,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn reminded_on_working_day_five_then_escalated_on_day_seven() {
        let p = ReviewPolicy {
            calendar: WorkCalendar {
                offset: offset!(+8),
                ..WorkCalendar::default()
            },
            ..ReviewPolicy::default()
        };
        // Monday 10:00 in Shanghai.
        let filed = datetime!(2026-09-28 02:00 UTC);
        assert_eq!(p.first_deadline(filed), datetime!(2026-10-05 02:00 UTC));
        assert_eq!(
            p.due(filed, false),
            ReviewStep::Remind {
                next_deadline: datetime!(2026-10-07 02:00 UTC)
            }
        );
        assert_eq!(p.due(filed, true), ReviewStep::Escalate);
        let auto = ReviewPolicy {
            action: ReviewTimeoutAction::AutoApprove,
            ..p.clone()
        };
        assert_eq!(auto.due(filed, true), ReviewStep::AutoApprove);
        // No reminder configured before the timeout: straight to the outcome.
        let late = ReviewPolicy {
            reminder_days: 9,
            ..p
        };
        assert_eq!(late.first_deadline(filed), datetime!(2026-10-07 02:00 UTC));
        assert_eq!(late.due(filed, false), ReviewStep::Escalate);
    }
}
