//! The reseller statement workflow (§10 row 5, §11): a reseller invoices the platform for its
//! service fee before it is paid.
//!
//! The run issues a statement; when it pays something the invoice notice (message and e-mail)
//! goes out in the same transaction and the statement waits for the reseller's invoices
//! (`awaiting_invoice`, until `invoice.reseller_months` later it is flagged overdue). The
//! reseller uploads one or more VAT special invoices whose amounts add up to the payable and
//! submits them; the operator approves them (payment review) or rejects them with a reason
//! (the reseller uploads again); then pays or rejects the payment data (the reseller
//! resubmits). **[U] Souk:** a statement that pays nothing (its net is ≤ 0 and carried forward)
//! stays `issued` for good: there is nothing to invoice or pay.

use super::workflow::StatementAction;
use crate::invoice::{InvoiceError, InvoiceType, PLATFORM_INVOICE_RATES_BP};
use crate::money::Money;
use crate::notice::Notice;
use crate::order::string_enum;
use crate::party::Role;
use crate::transition::{IllegalTransition, StateMachine, Transition};
use time::OffsetDateTime;

string_enum!(
    ResellerStatementState {
        /// Issued; final when the statement pays nothing.
        Issued = "issued",
        /// 待开票: the reseller was told to invoice the payable.
        AwaitingInvoice = "awaiting_invoice",
        /// 发票审核: the operator checks the submitted invoices.
        InvoiceReview = "invoice_review",
        /// 发票信息错误: invoices rejected; the reseller uploads again.
        InvoiceError = "invoice_error",
        /// 申付审核: invoices accepted; the payment is under review.
        PaymentReview = "payment_review",
        /// 支付信息错误: the payment data was wrong; the reseller resubmits.
        PaymentError = "payment_error",
        /// 已支付.
        Paid = "paid",
    }
);

/// The workflow's events: the system's invoice notice, then the same actions as a seller's
/// statement (`StatementAction`; `countersign` has no place here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResellerEvent {
    /// System: the statement pays something; the reseller is asked for its invoices.
    InvoiceNotice,
    Act(StatementAction),
}

impl crate::transition::Label for ResellerEvent {
    fn label(self) -> &'static str {
        match self {
            ResellerEvent::InvoiceNotice => "invoice_notice",
            ResellerEvent::Act(a) => a.as_str(),
        }
    }
}

impl StateMachine for ResellerStatementState {
    type Event = ResellerEvent;
    const WHAT: &'static str = "a reseller statement";
    const STATES: &'static [Self] = Self::ALL;
    const START: Self = ResellerStatementState::Issued;

    fn next(self, event: ResellerEvent) -> Option<Self> {
        use ResellerStatementState as S;
        use StatementAction as A;
        Some(match (self, event) {
            (S::Issued, ResellerEvent::InvoiceNotice) => S::AwaitingInvoice,
            (S::AwaitingInvoice | S::InvoiceError, ResellerEvent::Act(A::SubmitInvoice)) => {
                S::InvoiceReview
            }
            (S::InvoiceReview, ResellerEvent::Act(A::ApproveInvoice)) => S::PaymentReview,
            (S::InvoiceReview, ResellerEvent::Act(A::RejectInvoice)) => S::InvoiceError,
            (S::PaymentReview, ResellerEvent::Act(A::Pay)) => S::Paid,
            (S::PaymentReview, ResellerEvent::Act(A::RejectPayment)) => S::PaymentError,
            (S::PaymentError, ResellerEvent::Act(A::ResubmitPayment)) => S::PaymentReview,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResellerWorkflowError {
    #[error("only {0} may {1} a reseller statement")]
    WrongActor(&'static str, StatementAction),
    #[error("a reseller statement in state {} cannot be moved by {}", .0.from, .0.event)]
    WrongState(#[from] IllegalTransition),
}

/// Who takes an action on a reseller statement: the reseller submits, the operator decides;
/// `None`: a timer's action, never a party's (and not one this workflow has: a late reseller
/// invoice is flagged, see `overdue_notice`).
pub fn actor(action: StatementAction) -> Option<Role> {
    match action {
        StatementAction::SubmitInvoice | StatementAction::ResubmitPayment => Some(Role::Reseller),
        StatementAction::InvoiceOverdue => None,
        _ => Some(Role::Operator),
    }
}

impl ResellerStatementState {
    /// The state a statement is issued in: awaiting the invoices when it pays something (the
    /// notice is part of the issue), `issued` for good otherwise.
    pub fn on_issue(payable_minor: i64) -> ResellerStatementState {
        let start = Self::START;
        if payable_minor > 0 {
            start.next(ResellerEvent::InvoiceNotice).unwrap_or(start)
        } else {
            start
        }
    }

    /// The move `action` by `role` makes from this state: the actor, then the machine.
    pub fn take(
        self,
        action: StatementAction,
        role: Role,
    ) -> Result<Transition<Self>, ResellerWorkflowError> {
        if Some(role) != actor(action) {
            let who = match actor(action) {
                Some(Role::Reseller) => "the statement's reseller",
                Some(_) => "the operator",
                None => "the system",
            };
            return Err(ResellerWorkflowError::WrongActor(who, action));
        }
        Ok(self.transition(ResellerEvent::Act(action))?)
    }

    /// Whether the reseller may add or remove invoices now.
    pub fn takes_invoices(self) -> bool {
        matches!(
            self,
            ResellerStatementState::AwaitingInvoice | ResellerStatementState::InvoiceError
        )
    }
}

/// One invoice the reseller uploads (§10 row 5): a VAT special invoice only, at a rate of
/// `tax.rates`, for a positive amount that keeps the statement's invoices within its payable
/// (`uploaded_minor`: what the invoices waiting to be submitted already add up to).
pub fn check_reseller_invoice(
    payable_minor: i64,
    uploaded_minor: i64,
    amount_minor: i64,
    invoice_type: InvoiceType,
    tax_rate_bp: u32,
) -> Result<(), InvoiceError> {
    let field = |field, message: String| InvoiceError::Field { field, message };
    if payable_minor <= 0 {
        return Err(InvoiceError::NotInvoiceable(
            "the statement pays nothing this month, so there is nothing to invoice".to_owned(),
        ));
    }
    if invoice_type != InvoiceType::Special {
        return Err(field(
            "invoice_type",
            "a reseller invoices the platform with VAT special invoices (增值税专用发票) only"
                .to_owned(),
        ));
    }
    if !PLATFORM_INVOICE_RATES_BP.contains(&tax_rate_bp) {
        return Err(field(
            "tax_rate_bp",
            "one tax rate per invoice: 1300 (13 %), 600 (6 %) or 300 (3 %, small-scale)".to_owned(),
        ));
    }
    if amount_minor <= 0 {
        return Err(field(
            "amount_minor",
            "an invoice is for a positive amount, in minor units".to_owned(),
        ));
    }
    if uploaded_minor.saturating_add(amount_minor) > payable_minor {
        return Err(field(
            "amount_minor",
            format!(
                "the statement's invoices would add up to {} minor units, more than its \
                 payable {payable_minor}; remove a wrong invoice or upload a smaller one",
                uploaded_minor.saturating_add(amount_minor)
            ),
        ));
    }
    Ok(())
}

/// Submitting: the uploaded invoices must add up to the payable exactly.
pub fn check_invoices_total(payable_minor: i64, uploaded_minor: i64) -> Result<(), String> {
    if uploaded_minor == payable_minor {
        return Ok(());
    }
    Err(format!(
        "the uploaded invoices add up to {uploaded_minor} minor units; the statement's payable \
         is {payable_minor}: upload the missing invoices or remove a wrong one, then submit"
    ))
}

/// When the invoices are due: `months` calendar months after the notice (the same day of the
/// month, the month's last day when it has fewer days).
pub fn invoice_due(notice_at: OffsetDateTime, months: u32) -> OffsetDateTime {
    let d = notice_at.date();
    let total = d.year() * 12 + (d.month() as i32 - 1) + months as i32;
    let (year, month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = time::Month::try_from(month).unwrap_or(time::Month::January);
    let day = d.day().min(month.length(year));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(date) => notice_at.replace_date(date),
        Err(_) => notice_at + time::Duration::days(30 * i64::from(months)),
    }
}

/// When the reseller is to be paid (§11 "cash-out after approval", `reseller.cashout_days`):
/// `working_days` after the statement entered `payment_review` (its invoices approved, or its
/// payment data resubmitted); `None` in any other state.
pub fn cashout_due(
    state: ResellerStatementState,
    entered_at: OffsetDateTime,
    working_days: u32,
    calendar: &crate::calendar::WorkCalendar,
) -> Option<OffsetDateTime> {
    (state == ResellerStatementState::PaymentReview)
        .then(|| calendar.add_working_days(entered_at, working_days))
}

/// To the reseller: the statement was issued and, when it pays something, the invoice notice.
pub fn issued_notice(
    period: &str,
    statement_id: &str,
    net: Money,
    due: Option<OffsetDateTime>,
) -> Notice {
    let body = match due {
        Some(due) => format!(
            "Commission for the period net of refunds: {net}. Invoice the platform for it: \
             upload one or more VAT special invoices adding up to {net} on the statement and \
             submit them by {}.",
            due.date()
        ),
        None => format!(
            "Commission for the period net of refunds: {net}. Nothing is payable: the amount is \
             carried into your next statement."
        ),
    };
    Notice {
        kind: "reseller_statement_issued",
        subject: format!("Your reseller statement for {period} is issued ({statement_id})"),
        body,
    }
}

/// To the reseller: the statement moved on.
pub fn moved_notice(
    statement_id: &str,
    to: ResellerStatementState,
    reason: Option<&str>,
    payable: Money,
) -> Notice {
    use ResellerStatementState as S;
    let what = match to {
        S::Issued => "is issued".to_owned(),
        S::AwaitingInvoice => "waits for your invoices".to_owned(),
        S::InvoiceReview => "has your invoices; the platform is reviewing them".to_owned(),
        S::InvoiceError => {
            "has invoices the platform rejected: upload correct ones and submit again".to_owned()
        }
        S::PaymentReview => "had its invoices accepted; the payment is under review".to_owned(),
        S::PaymentError => {
            "could not be paid with your payment data: correct it and resubmit".to_owned()
        }
        S::Paid => format!("was paid: {payable} was paid out"),
    };
    Notice {
        kind: if to == S::Paid {
            "reseller_statement_paid"
        } else {
            "reseller_statement_state"
        },
        subject: format!("Reseller statement {statement_id} {what}"),
        body: match reason {
            Some(r) => format!("Reason given: {r}"),
            None => format!("The statement is now {to}."),
        },
    }
}

/// To the reseller: its invoices are overdue.
pub fn overdue_notice(statement_id: &str, due: OffsetDateTime) -> Notice {
    Notice {
        kind: "reseller_invoice_overdue",
        subject: format!("The invoices for reseller statement {statement_id} are overdue"),
        body: format!(
            "They were due on {}. Upload and submit them so that the platform can pay you.",
            due.date()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use ResellerStatementState as S;
    use StatementAction as A;

    #[test]
    fn the_happy_path_the_error_loops_and_the_actors() {
        let mut s = S::on_issue(120);
        assert_eq!(s, S::AwaitingInvoice);
        assert_eq!(S::on_issue(0), S::Issued);
        for (a, role) in [
            (A::SubmitInvoice, Role::Reseller),
            (A::RejectInvoice, Role::Operator),
            (A::SubmitInvoice, Role::Reseller),
            (A::ApproveInvoice, Role::Operator),
            (A::RejectPayment, Role::Operator),
            (A::ResubmitPayment, Role::Reseller),
            (A::Pay, Role::Operator),
        ] {
            s = s.take(a, role).unwrap().to;
        }
        assert_eq!(s, S::Paid);
        assert!(matches!(
            S::InvoiceReview.take(A::ApproveInvoice, Role::Reseller),
            Err(ResellerWorkflowError::WrongActor(..))
        ));
        assert!(matches!(
            S::AwaitingInvoice.take(A::SubmitInvoice, Role::Seller),
            Err(ResellerWorkflowError::WrongActor(..))
        ));
        for from in [S::Issued, S::Paid] {
            for a in A::ALL {
                let role = actor(*a).unwrap_or(Role::Operator);
                assert!(from.take(*a, role).is_err(), "{from} {a}");
            }
        }
        assert!(S::AwaitingInvoice
            .take(A::Countersign, Role::Operator)
            .is_err());
        assert_eq!(
            S::Issued
                .take(A::Pay, Role::Operator)
                .unwrap_err()
                .to_string(),
            "a reseller statement in state issued cannot be moved by pay"
        );
    }

    #[test]
    fn invoices_are_special_at_a_legal_rate_and_add_up_to_the_payable() {
        let ok = check_reseller_invoice(120, 0, 70, InvoiceType::Special, 600);
        assert_eq!(ok, Ok(()));
        assert!(check_reseller_invoice(120, 70, 50, InvoiceType::Special, 300).is_ok());
        let e = |r: Result<(), InvoiceError>| match r {
            Err(InvoiceError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e(check_reseller_invoice(
                120,
                0,
                70,
                InvoiceType::General,
                600
            )),
            "invoice_type"
        );
        assert_eq!(
            e(check_reseller_invoice(
                120,
                0,
                70,
                InvoiceType::Special,
                500
            )),
            "tax_rate_bp"
        );
        assert_eq!(
            e(check_reseller_invoice(
                120,
                70,
                51,
                InvoiceType::Special,
                600
            )),
            "amount_minor"
        );
        assert!(matches!(
            check_reseller_invoice(0, 0, 1, InvoiceType::Special, 600),
            Err(InvoiceError::NotInvoiceable(_))
        ));
        assert!(check_invoices_total(120, 120).is_ok());
        assert!(check_invoices_total(120, 70).unwrap_err().contains("70"));
    }

    #[test]
    fn invoices_are_due_a_calendar_month_after_the_notice() {
        use time::macros::datetime;
        assert_eq!(
            invoice_due(datetime!(2026-12-03 01:00 UTC), 1),
            datetime!(2027-01-03 01:00 UTC)
        );
        assert_eq!(
            invoice_due(datetime!(2027-01-31 00:00 UTC), 1),
            datetime!(2027-02-28 00:00 UTC)
        );
        let n = moved_notice("rst_1", S::Paid, None, Money::new(120, Currency::CNY));
        assert!(n.subject.contains("1.20"), "{}", n.subject);
    }
}
