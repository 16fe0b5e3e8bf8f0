//! The statement workflow (§9): who moves a statement from which state to which.
//!
//! A statement is issued by the run straight into `countersign` (待会签: statements from
//! 2024-12-24 skip the seller's confirmation step), the operator countersigns it, the seller
//! submits its invoice, the operator reviews the invoice and then the payment. Rejections go to
//! the two error states, from which the seller resubmits. Statements are immutable: the
//! workflow changes only the state, never a figure.

use crate::order::string_enum;
use crate::party::Role;
use crate::transition::{IllegalTransition, StateMachine, Transition};

string_enum!(
    StatementState {
        /// 待会签: issued, waiting for the operator's countersignature.
        Countersign = "countersign",
        /// 待开票: the seller is to invoice (the platform, or request the fee invoice).
        AwaitingInvoice = "awaiting_invoice",
        /// 发票审核: the operator checks the seller's invoice.
        InvoiceReview = "invoice_review",
        /// 发票信息错误: the invoice was rejected; the seller submits a new one.
        InvoiceError = "invoice_error",
        /// 申付审核: the payment request is under review.
        PaymentReview = "payment_review",
        /// 支付信息错误: the payment data was wrong; the seller corrects it.
        PaymentError = "payment_error",
        /// 已支付.
        Paid = "paid",
    }
);

string_enum!(
    StatementAction {
        /// Operator: countersign the issued statement.
        Countersign = "countersign",
        /// Seller: submit the invoice (number and amount) for review.
        SubmitInvoice = "submit_invoice",
        /// Operator: the invoice is right; raise the payment request.
        ApproveInvoice = "approve_invoice",
        /// Operator: the invoice is wrong (reason required).
        RejectInvoice = "reject_invoice",
        /// Operator: the payment was made.
        Pay = "pay",
        /// Operator: the payment data is wrong (reason required).
        RejectPayment = "reject_payment",
        /// Seller: payment data corrected, review again.
        ResubmitPayment = "resubmit_payment",
        /// System: no invoice within `settlement.invoice_deadline` of the invoice notice (§9
        /// lists "no invoice after 30 days" among the 发票信息错误 causes).
        InvoiceOverdue = "invoice_overdue",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("only {0} may {1} a statement")]
    WrongActor(&'static str, StatementAction),
    /// The state machine does not allow the action in the statement's state.
    /// (Same wording as before the machine: the action's name is a verb, not a participle.)
    #[error("a statement in state {} cannot be moved by {}", .0.from, .0.event)]
    WrongState(#[from] IllegalTransition),
}

impl StatementAction {
    /// Who may take this action; `None`: only the system (a timer), never a party.
    pub fn actor(&self) -> Option<Role> {
        match self {
            StatementAction::SubmitInvoice | StatementAction::ResubmitPayment => Some(Role::Seller),
            StatementAction::InvoiceOverdue => None,
            _ => Some(Role::Operator),
        }
    }

    /// Whether the action must say why.
    pub fn needs_reason(&self) -> bool {
        matches!(
            self,
            StatementAction::RejectInvoice | StatementAction::RejectPayment
        )
    }
}

impl StateMachine for StatementState {
    type Event = StatementAction;
    const WHAT: &'static str = "a statement";
    const STATES: &'static [Self] = Self::ALL;
    /// Issued straight into countersign (statements from 2024-12-24 skip the seller's
    /// confirmation).
    const START: Self = StatementState::Countersign;

    /// The workflow. Anything not listed is refused.
    fn next(self, action: StatementAction) -> Option<Self> {
        use StatementAction as A;
        use StatementState as S;
        Some(match (self, action) {
            (S::Countersign, A::Countersign) => S::AwaitingInvoice,
            (S::AwaitingInvoice | S::InvoiceError, A::SubmitInvoice) => S::InvoiceReview,
            (S::InvoiceReview, A::ApproveInvoice) => S::PaymentReview,
            (S::InvoiceReview, A::RejectInvoice) => S::InvoiceError,
            (S::AwaitingInvoice, A::InvoiceOverdue) => S::InvoiceError,
            (S::PaymentReview, A::Pay) => S::Paid,
            (S::PaymentReview, A::RejectPayment) => S::PaymentError,
            (S::PaymentError, A::ResubmitPayment) => S::PaymentReview,
            _ => return None,
        })
    }
}

impl StatementState {
    /// The move `action` by `role` makes from this state: the actor check, then the machine.
    pub fn take(
        self,
        action: StatementAction,
        role: Role,
    ) -> Result<Transition<StatementState>, WorkflowError> {
        if Some(role) != action.actor() {
            let who = match action.actor() {
                Some(Role::Seller) => "the statement's seller",
                Some(_) => "the operator",
                None => "the system",
            };
            return Err(WorkflowError::WrongActor(who, action));
        }
        Ok(self.transition(action)?)
    }

    /// The system's move for a statement whose invoice deadline passed.
    pub fn lapse_invoice(self) -> Result<Transition<StatementState>, WorkflowError> {
        Ok(self.transition(StatementAction::InvoiceOverdue)?)
    }
}

/// How long each party has in the states that wait on someone (§9): the seller's invoice after
/// the invoice notice (`settlement.invoice_deadline`, natural days), the operator's invoice
/// check (`settlement.invoice_check_working_days`) and the payout after the payment request is
/// raised (`settlement.payout_working_days`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    pub invoice: time::Duration,
    pub invoice_check_working_days: u32,
    pub payout_working_days: u32,
}

impl Deadlines {
    /// When a statement entering `state` at `at` is due to leave it, if anyone is on the clock
    /// there. Only the seller's invoice deadline moves the statement by itself (to
    /// `invoice_error`); the operator's deadlines mark the statement overdue for the operator.
    pub fn due_at(
        &self,
        state: StatementState,
        at: time::OffsetDateTime,
        calendar: &crate::calendar::WorkCalendar,
    ) -> Option<time::OffsetDateTime> {
        match state {
            StatementState::AwaitingInvoice => Some(at + self.invoice),
            StatementState::InvoiceReview => {
                Some(calendar.add_working_days(at, self.invoice_check_working_days))
            }
            StatementState::PaymentReview => {
                Some(calendar.add_working_days(at, self.payout_working_days))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatementAction as A;
    use StatementState as S;

    #[test]
    fn the_happy_path_and_the_error_loops() {
        let mut s = S::Countersign;
        for (a, role) in [
            (A::Countersign, Role::Operator),
            (A::SubmitInvoice, Role::Seller),
            (A::RejectInvoice, Role::Operator),
            (A::SubmitInvoice, Role::Seller),
            (A::ApproveInvoice, Role::Operator),
            (A::RejectPayment, Role::Operator),
            (A::ResubmitPayment, Role::Seller),
            (A::Pay, Role::Operator),
        ] {
            s = s.take(a, role).unwrap().to;
        }
        assert_eq!(s, S::Paid);
    }

    #[test]
    fn every_other_move_is_refused() {
        for from in S::ALL {
            for action in A::ALL.iter().filter(|a| a.actor().is_some()) {
                let r = from.take(*action, action.actor().unwrap());
                let allowed = matches!(
                    (from, action),
                    (S::Countersign, A::Countersign)
                        | (S::AwaitingInvoice | S::InvoiceError, A::SubmitInvoice)
                        | (S::InvoiceReview, A::ApproveInvoice | A::RejectInvoice)
                        | (S::PaymentReview, A::Pay | A::RejectPayment)
                        | (S::PaymentError, A::ResubmitPayment)
                );
                assert_eq!(r.is_ok(), allowed, "{from} {action}");
            }
        }
        assert!(matches!(
            S::Countersign.take(A::Countersign, Role::Seller),
            Err(WorkflowError::WrongActor(..))
        ));
        assert!(S::Paid.take(A::Pay, Role::Operator).is_err());
        assert_eq!(
            S::Paid
                .take(A::Pay, Role::Operator)
                .unwrap_err()
                .to_string(),
            "a statement in state paid cannot be moved by pay"
        );
        assert_eq!(
            S::PaymentError.take(A::ResubmitPayment, Role::Seller),
            Ok(Transition {
                from: S::PaymentError,
                to: S::PaymentReview
            })
        );
        assert_eq!(S::START, S::Countersign);
        assert_eq!(S::moves(A::SubmitInvoice).len(), 2);
    }

    #[test]
    fn only_the_system_lapses_an_invoice_and_only_while_it_is_awaited() {
        for role in Role::ALL {
            assert!(matches!(
                S::AwaitingInvoice.take(A::InvoiceOverdue, role),
                Err(WorkflowError::WrongActor("the system", _))
            ));
        }
        assert_eq!(
            S::AwaitingInvoice.lapse_invoice().unwrap().to,
            S::InvoiceError
        );
        for from in S::ALL.iter().filter(|s| **s != S::AwaitingInvoice) {
            assert!(from.lapse_invoice().is_err(), "{from}");
        }
    }

    #[test]
    fn deadlines_count_natural_days_for_the_seller_and_working_days_for_the_operator() {
        use time::macros::datetime;
        let d = Deadlines {
            invoice: time::Duration::days(30),
            invoice_check_working_days: 2,
            payout_working_days: 10,
        };
        let cal = crate::calendar::WorkCalendar::default();
        // Friday 2026-12-04 10:00 UTC.
        let at = datetime!(2026-12-04 10:00 UTC);
        assert_eq!(
            d.due_at(S::AwaitingInvoice, at, &cal),
            Some(datetime!(2027-01-03 10:00 UTC))
        );
        // Two working days after a Friday: Tuesday.
        assert_eq!(
            d.due_at(S::InvoiceReview, at, &cal),
            Some(datetime!(2026-12-08 10:00 UTC))
        );
        // Ten working days: two whole weeks.
        assert_eq!(
            d.due_at(S::PaymentReview, at, &cal),
            Some(datetime!(2026-12-18 10:00 UTC))
        );
        for s in [S::Countersign, S::InvoiceError, S::PaymentError, S::Paid] {
            assert_eq!(d.due_at(s, at, &cal), None, "{s}");
        }
    }
}
