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
    /// Who may take this action.
    pub fn actor(&self) -> Role {
        match self {
            StatementAction::SubmitInvoice | StatementAction::ResubmitPayment => Role::Seller,
            _ => Role::Operator,
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
        if role != action.actor() {
            let who = match action.actor() {
                Role::Seller => "the statement's seller",
                _ => "the operator",
            };
            return Err(WorkflowError::WrongActor(who, action));
        }
        Ok(self.transition(action)?)
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
            for action in A::ALL {
                let r = from.take(*action, action.actor());
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
}
