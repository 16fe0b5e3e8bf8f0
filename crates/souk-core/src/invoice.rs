//! Invoices a seller issues its buyer (business rules §10 row 1, 卖家开票): the request, its
//! states, the amount, the deadline, the refund interlock (§4.1) and what the message centre
//! says at each step. Pure: the store persists what is decided here with a compare-and-set.

use crate::money::Money;
use crate::notice::Notice;
use crate::order::{string_enum, OrderState};
use crate::party::Email;
use crate::transition::StateMachine;
use time::OffsetDateTime;

string_enum!(
    /// What kind of invoice a seller declares it issues on a product (§10 tax invoices).
    InvoiceType {
        /// 增值税普通发票: any title, the tax id optional (an enterprise gives it).
        General = "general",
        /// 增值税专用发票: enterprise titles only, the tax id required.
        Special = "special",
    }
);

/// What a product offers when its seller declared nothing: the general invoice (**[U]** default).
pub fn default_invoice_types() -> Vec<InvoiceType> {
    vec![InvoiceType::General]
}

string_enum!(
    /// A buyer's invoice request.
    InvoiceState {
        /// Waiting for the seller, until the deadline (`invoice.seller_to_buyer`).
        Requested = "requested",
        /// The seller uploaded the invoice with its number; the buyer can download it.
        Issued = "issued",
        /// The seller refused it with a reason; the buyer may ask again.
        Rejected = "rejected",
        /// The seller voided (退票) an issued invoice; the buyer may ask again.
        Voided = "voided",
    }
);

string_enum!(
    /// What the seller does with a request.
    InvoiceAction {
        Issue = "issue",
        Reject = "reject",
        Void = "void",
    }
);

impl StateMachine for InvoiceState {
    type Event = InvoiceAction;
    const WHAT: &'static str = "an invoice";
    const STATES: &'static [Self] = Self::ALL;
    const START: Self = InvoiceState::Requested;

    fn next(self, action: InvoiceAction) -> Option<Self> {
        use InvoiceAction as A;
        use InvoiceState as S;
        Some(match (self, action) {
            (S::Requested, A::Issue) => S::Issued,
            (S::Requested, A::Reject) => S::Rejected,
            (S::Issued, A::Void) => S::Voided,
            _ => return None,
        })
    }
}

impl InvoiceState {
    /// Still counts as the order's invoice: at most one such per order.
    pub fn is_open(self) -> bool {
        matches!(self, InvoiceState::Requested | InvoiceState::Issued)
    }
}

/// Why a request or a step is refused (the server maps each to a stable code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotInvoiceable(String),
}

fn field(field: &'static str, message: impl Into<String>) -> InvoiceError {
    InvoiceError::Field {
        field,
        message: message.into(),
    }
}

/// A checked invoice request (title, tax id, e-mail, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceDetails {
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
}

/// Checks what the buyer filled in against what the seller declared on the product.
pub fn parse_details(
    invoice_type: InvoiceType,
    declared: &[InvoiceType],
    title: &str,
    tax_id: Option<&str>,
    email: &str,
) -> Result<InvoiceDetails, InvoiceError> {
    if !declared.contains(&invoice_type) {
        let offered: Vec<&str> = declared.iter().map(|t| t.as_str()).collect();
        return Err(field(
            "invoice_type",
            format!(
                "the seller issues {} invoices on this product",
                offered.join(" or ")
            ),
        ));
    }
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(field(
            "title",
            "the invoice title (company or person) is 1 to 200 characters on one line",
        ));
    }
    // The unified social credit code is 18 characters; older taxpayer numbers 15 or 20.
    let tax_id = tax_id
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty());
    if let Some(t) = &tax_id {
        if !(15..=20).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(field(
                "tax_id",
                "the taxpayer id is 15 to 20 letters and digits (the 18-character unified social \
                 credit code)",
            ));
        }
    }
    if invoice_type == InvoiceType::Special && tax_id.is_none() {
        return Err(field(
            "tax_id",
            "a special VAT invoice is for enterprises: give the taxpayer id",
        ));
    }
    let email = Email::parse(email).map_err(|m| field("email", m))?;
    Ok(InvoiceDetails {
        invoice_type,
        title: title.to_owned(),
        tax_id,
        email: email.as_str().to_owned(),
    })
}

/// What the invoice is for: the order's cash amount less the part vouchers paid (not the
/// seller's income to invoice) and less what was refunded.
pub fn invoice_amount(
    paid: Money,
    voucher_minor: i64,
    refunded_minor: i64,
) -> Result<Money, InvoiceError> {
    let minor = paid.amount_minor - voucher_minor - refunded_minor;
    if minor <= 0 {
        return Err(InvoiceError::NotInvoiceable(
            "nothing is left to invoice on this order: it was paid by vouchers or refunded"
                .to_owned(),
        ));
    }
    Ok(Money {
        amount_minor: minor,
        currency: paid.currency,
    })
}

/// Only paid orders that are being delivered or were delivered can be invoiced.
pub fn check_order(state: OrderState) -> Result<(), InvoiceError> {
    match state {
        OrderState::Processing | OrderState::Completed => Ok(()),
        other => Err(InvoiceError::NotInvoiceable(format!(
            "an order that is {other} cannot be invoiced; only paid orders can"
        ))),
    }
}

/// The seller's invoice number: what the tax system printed on it.
pub fn parse_number(number: &str) -> Result<String, InvoiceError> {
    let n = number.trim();
    let ok =
        !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(field(
            "invoice_number",
            "the invoice number is 1 to 64 letters, digits and dashes, as printed on the invoice",
        ));
    }
    Ok(n.to_owned())
}

/// A rejection's reason (required) or a void's (optional, recorded).
pub fn parse_reason(reason: Option<&str>, required: bool) -> Result<Option<String>, InvoiceError> {
    let r = reason.map(str::trim).filter(|r| !r.is_empty());
    match r {
        None if required => Err(field(
            "reason",
            "say why, so that the buyer can correct the request",
        )),
        Some(r) if r.chars().count() > 500 => {
            Err(field("reason", "the reason is at most 500 characters"))
        }
        r => Ok(r.map(str::to_owned)),
    }
}

/// The VAT rates a seller's invoice to the platform may carry (§10 `tax.rates`: 13 %, 6 %,
/// small-scale 3 %), in basis points.
pub const PLATFORM_INVOICE_RATES_BP: [u32; 3] = [1300, 600, 300];

/// A seller's invoice to the platform for a statement (§9, §10 row 3): its amount must be the
/// statement's invoice total (what the platform pays) and it carries one tax rate.
pub fn check_statement_invoice(
    invoice_total_minor: i64,
    amount_minor: i64,
    tax_rate_bp: u32,
) -> Result<(), InvoiceError> {
    if invoice_total_minor <= 0 {
        return Err(InvoiceError::NotInvoiceable(
            "the statement pays nothing this month, so there is nothing to invoice".to_owned(),
        ));
    }
    if amount_minor != invoice_total_minor {
        return Err(field(
            "amount_minor",
            format!(
                "the invoice must be for the statement's invoice total, {invoice_total_minor}                  minor units, not {amount_minor}"
            ),
        ));
    }
    if !PLATFORM_INVOICE_RATES_BP.contains(&tax_rate_bp) {
        return Err(field(
            "tax_rate_bp",
            "one tax rate per invoice: 1300 (13 %), 600 (6 %) or 300 (3 %, small-scale)",
        ));
    }
    Ok(())
}

/// §4.1: an issued invoice must be returned (voided) before any refund of its order.
pub fn blocks_refund(states: impl IntoIterator<Item = InvoiceState>) -> bool {
    states.into_iter().any(|s| s == InvoiceState::Issued)
}

/// When a request is overdue: `invoice.seller_to_buyer` after it was made.
pub fn due_at(requested_at: OffsetDateTime, deadline: time::Duration) -> OffsetDateTime {
    requested_at + deadline
}

/// To the seller: a buyer asked for an invoice.
pub fn requested_notice(order_id: &str, amount: Money, due: OffsetDateTime) -> Notice {
    Notice {
        kind: "invoice_requested",
        subject: format!("An invoice was requested for order {order_id}"),
        body: format!(
            "Issue an invoice for {amount} (upload the file with its number) or reject the \
             request with a reason before {due}."
        ),
    }
}

/// To the buyer: the seller acted on the request.
pub fn moved_notice(order_id: &str, to: InvoiceState, reason: Option<&str>) -> Notice {
    let (kind, what) = match to {
        InvoiceState::Issued => (
            "invoice_issued",
            "was issued: download it from the order's invoices",
        ),
        InvoiceState::Rejected => (
            "invoice_rejected",
            "was rejected: correct the request and ask again",
        ),
        InvoiceState::Voided => (
            "invoice_voided",
            "was voided by the seller: you may ask for a new one",
        ),
        InvoiceState::Requested => ("invoice_requested", "was requested"),
    };
    Notice {
        kind,
        subject: format!("Your invoice for order {order_id} {what}"),
        body: match reason {
            Some(r) => format!("Reason given: {r}"),
            None => format!("The invoice is now {to}."),
        },
    }
}

/// To the seller: the deadline passed without an invoice.
pub fn overdue_notice(order_id: &str, invoice_id: &str) -> Notice {
    Notice {
        kind: "invoice_overdue",
        subject: format!("The invoice for order {order_id} is overdue"),
        body: format!(
            "Request {invoice_id} passed its deadline. Issue the invoice or reject the request \
             with a reason now; the platform sees overdue requests."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use std::str::FromStr;

    fn cny(minor: i64) -> Money {
        Money {
            amount_minor: minor,
            currency: Currency::from_str("CNY").unwrap(),
        }
    }

    #[test]
    fn only_requested_invoices_are_issued_or_rejected_and_only_issued_ones_voided() {
        use InvoiceAction as A;
        use InvoiceState as S;
        assert_eq!(S::Requested.apply(A::Issue), Ok(S::Issued));
        assert_eq!(S::Requested.apply(A::Reject), Ok(S::Rejected));
        assert_eq!(S::Issued.apply(A::Void), Ok(S::Voided));
        for (s, a) in [
            (S::Requested, A::Void),
            (S::Issued, A::Issue),
            (S::Issued, A::Reject),
            (S::Rejected, A::Issue),
            (S::Voided, A::Issue),
            (S::Voided, A::Void),
        ] {
            let e = s.apply(a).unwrap_err();
            assert_eq!(e.what, "an invoice");
        }
        assert!(S::Requested.is_open() && S::Issued.is_open());
        assert!(!S::Rejected.is_open() && !S::Voided.is_open());
    }

    #[test]
    fn the_amount_excludes_vouchers_and_refunds() {
        assert_eq!(invoice_amount(cny(10_000), 1_500, 0), Ok(cny(8_500)));
        assert_eq!(invoice_amount(cny(10_000), 0, 4_000), Ok(cny(6_000)));
        assert!(invoice_amount(cny(10_000), 6_000, 4_000).is_err());
    }

    #[test]
    fn requests_are_checked_against_the_declared_types() {
        let general = [InvoiceType::General];
        let d = parse_details(
            InvoiceType::General,
            &general,
            " Acme Ltd ",
            Some("91330106ma2h2k3x4y"),
            "ap@acme.example",
        )
        .unwrap();
        assert_eq!(d.title, "Acme Ltd");
        assert_eq!(d.tax_id.as_deref(), Some("91330106MA2H2K3X4Y"));
        let not_declared = parse_details(InvoiceType::Special, &general, "A", None, "a@b.cn");
        assert!(matches!(
            not_declared,
            Err(InvoiceError::Field {
                field: "invoice_type",
                ..
            })
        ));
        let both = [InvoiceType::General, InvoiceType::Special];
        let no_tax_id = parse_details(InvoiceType::Special, &both, "A", None, "a@b.cn");
        assert!(matches!(
            no_tax_id,
            Err(InvoiceError::Field {
                field: "tax_id",
                ..
            })
        ));
        let bad_mail = parse_details(InvoiceType::General, &both, "A", None, "nobody");
        assert!(matches!(
            bad_mail,
            Err(InvoiceError::Field { field: "email", .. })
        ));
        let short = parse_details(InvoiceType::General, &both, "A", Some("123"), "a@b.cn");
        assert!(matches!(
            short,
            Err(InvoiceError::Field {
                field: "tax_id",
                ..
            })
        ));
    }

    #[test]
    fn only_paid_orders_are_invoiced_and_issued_invoices_block_refunds() {
        assert!(check_order(OrderState::Completed).is_ok());
        assert!(check_order(OrderState::Processing).is_ok());
        assert!(check_order(OrderState::PendingPayment).is_err());
        assert!(check_order(OrderState::Refunded).is_err());
        assert!(blocks_refund([InvoiceState::Voided, InvoiceState::Issued]));
        assert!(!blocks_refund([
            InvoiceState::Voided,
            InvoiceState::Requested
        ]));
        assert!(parse_number("044002300111-20261208").is_ok());
        assert!(parse_number("no spaces").is_err());
        assert!(parse_reason(None, true).is_err());
        assert!(check_statement_invoice(3800, 3800, 600).is_ok());
        assert!(check_statement_invoice(3800, 3700, 600).is_err());
        assert!(check_statement_invoice(3800, 3800, 700).is_err());
        assert!(check_statement_invoice(0, 0, 600).is_err());
        assert_eq!(parse_reason(Some("  "), false), Ok(None));
    }
}
