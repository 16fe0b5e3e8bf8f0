//! What the seller's message centre says at each step of a statement (wording lives in the
//! domain, like `crate::notice`; the store only records it).

use super::workflow::StatementState;
use crate::money::Money;
use crate::notice::Notice;

/// To the seller: the month's statement was issued.
pub fn statement_issued(period: &str, statement_id: &str, net: Money) -> Notice {
    Notice {
        kind: "statement_issued",
        subject: format!("Your statement for {period} is issued ({statement_id})"),
        body: format!(
            "Net for the period: {net}. The platform countersigns it next; you will be asked for \
             your invoice after that. Download the lines as CSV from the statement."
        ),
    }
}

/// To the seller: the statement moved on.
pub fn statement_moved(statement_id: &str, to: StatementState, reason: Option<&str>) -> Notice {
    let what = match to {
        StatementState::Countersign => "is waiting for the platform's countersignature",
        StatementState::AwaitingInvoice => {
            "was countersigned: submit your invoice for the statement's net amount"
        }
        StatementState::InvoiceReview => "has your invoice; the platform is reviewing it",
        StatementState::InvoiceError => {
            "has an invoice the platform rejected: correct it and submit it again"
        }
        StatementState::PaymentReview => "is in payment review",
        StatementState::PaymentError => {
            "could not be paid with your payment data: correct it and resubmit"
        }
        StatementState::Paid => "was paid",
    };
    Notice {
        kind: "statement_state",
        subject: format!("Statement {statement_id} {what}"),
        body: match reason {
            Some(r) => format!("Reason given: {r}"),
            None => format!("The statement is now {to}."),
        },
    }
}

/// To the seller: its invoice did not come within the deadline (§9); it may still submit it.
pub fn statement_invoice_lapsed(statement_id: &str, days: i64) -> Notice {
    Notice {
        kind: "statement_state",
        subject: format!("Statement {statement_id}: no invoice within {days} days"),
        body: "The statement is now invoice_error because its invoice did not come in time. \
               Submit the invoice from the statement's page; it is paid once the invoice is \
               approved."
            .to_owned(),
    }
}

/// To the reseller: a customer accepted its invitation.
pub fn customer_associated(buyer_id: &str) -> Notice {
    Notice {
        kind: "reseller_customer",
        subject: format!("Customer {buyer_id} accepted your invitation"),
        body: "Their orders count toward your performance from the day after the association."
            .to_owned(),
    }
}

/// To the reseller: a seller authorised it on a product.
pub fn authorised(product_id: &str, state: super::reseller::AuthorisationState) -> Notice {
    use super::reseller::AuthorisationState as S;
    let what = match state {
        S::Active => "is in effect: you can create exclusive offers for it",
        S::PendingApproval => "is above the standard share and waits for the platform's approval",
        S::Rejected => "was rejected by the platform",
        S::Revoked => "was withdrawn",
    };
    Notice {
        kind: "reseller_authorisation",
        subject: format!("Your authorisation for product {product_id} {what}"),
        body: "See Authorisations in your console for the share and the maximum discount."
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn notices_say_what_to_do_next() {
        let n = statement_issued("202611", "stm_1", Money::new(12_345, Currency::CNY));
        assert!(n.body.contains("123.45"), "{}", n.body);
        let n = statement_moved("stm_1", StatementState::InvoiceError, Some("wrong rate"));
        assert!(n.subject.contains("submit it again") && n.body.contains("wrong rate"));
    }
}
