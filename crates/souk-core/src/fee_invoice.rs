//! The platform's invoice to a seller for its platform fee (business rules §10 row 4): once the
//! payment request of a general bill succeeded (**[U] Souk:** the statement is `paid`), the
//! seller asks for one fully digital invoice (数电专票 or 数电普票, sent by e-mail) over one or
//! more of its paid statements — "all periods of one request together; negative orders
//! auto-netted". The operator issues it (number + file) or rejects it with a reason, and may
//! void an issued one. Pure: the store persists what is decided here with a compare-and-set.

use crate::invoice::{self, InvoiceError, InvoiceType};
use crate::money::{Currency, Money};
use crate::notice::Notice;
use crate::order::string_enum;
use crate::settlement::{Exact, Line, StatementState};
use crate::transition::StateMachine;

string_enum!(
    /// The two fully digital invoices (全电发票) the platform issues for its fee.
    FeeInvoiceType {
        /// 数电专票: a special VAT invoice, for enterprises; the tax id is required.
        DigitalSpecial = "digital_special",
        /// 数电普票: a general VAT invoice; the tax id is optional.
        DigitalGeneral = "digital_general",
    }
);

string_enum!(
    /// A seller's fee-invoice request.
    FeeInvoiceState {
        /// Waiting for the operator.
        Requested = "requested",
        /// The operator uploaded the invoice with its number; the seller downloads it.
        Issued = "issued",
        /// The operator refused it with a reason; its statements may be requested again.
        Rejected = "rejected",
        /// The operator voided an issued invoice; its statements may be requested again.
        Voided = "voided",
    }
);

string_enum!(
    /// What the operator does with a request.
    FeeInvoiceAction {
        Issue = "issue",
        Reject = "reject",
        Void = "void",
    }
);

impl StateMachine for FeeInvoiceState {
    type Event = FeeInvoiceAction;
    const WHAT: &'static str = "a fee invoice";
    const STATES: &'static [Self] = Self::ALL;
    const START: Self = FeeInvoiceState::Requested;

    fn next(self, action: FeeInvoiceAction) -> Option<Self> {
        use FeeInvoiceAction as A;
        use FeeInvoiceState as S;
        Some(match (self, action) {
            (S::Requested, A::Issue) => S::Issued,
            (S::Requested, A::Reject) => S::Rejected,
            (S::Issued, A::Void) => S::Voided,
            _ => return None,
        })
    }
}

impl FeeInvoiceState {
    /// Still covers its statements: a statement is on at most one such invoice.
    pub fn is_open(self) -> bool {
        matches!(self, FeeInvoiceState::Requested | FeeInvoiceState::Issued)
    }
}

/// At most this many statements on one request (**[U] Souk:** two years of months).
pub const MAX_STATEMENTS: usize = 24;

/// Why a request is refused (the server maps each to a stable code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeInvoiceError {
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// A statement whose payment request has not succeeded yet.
    #[error("{0}")]
    NotPaid(String),
    /// The fee over the chosen statements is nothing (or the platform owes it back).
    #[error("{0}")]
    NotInvoiceable(String),
}

impl From<InvoiceError> for FeeInvoiceError {
    fn from(e: InvoiceError) -> Self {
        match e {
            InvoiceError::Field { field, message } => FeeInvoiceError::Field { field, message },
            InvoiceError::NotInvoiceable(m) => FeeInvoiceError::NotInvoiceable(m),
        }
    }
}

fn field(field: &'static str, message: impl Into<String>) -> FeeInvoiceError {
    FeeInvoiceError::Field {
        field,
        message: message.into(),
    }
}

/// What the seller fills in, checked: the same title, tax id and e-mail rules as a buyer's
/// invoice (`invoice::parse_details`), the special one needing the tax id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeInvoiceDetails {
    pub invoice_type: FeeInvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
}

pub fn parse_details(
    invoice_type: FeeInvoiceType,
    title: &str,
    tax_id: Option<&str>,
    email: &str,
) -> Result<FeeInvoiceDetails, FeeInvoiceError> {
    let as_vat = match invoice_type {
        FeeInvoiceType::DigitalSpecial => InvoiceType::Special,
        FeeInvoiceType::DigitalGeneral => InvoiceType::General,
    };
    let both = [InvoiceType::General, InvoiceType::Special];
    let d = invoice::parse_details(as_vat, &both, title, tax_id, email)?;
    Ok(FeeInvoiceDetails {
        invoice_type,
        title: d.title,
        tax_id: d.tax_id,
        email: d.email,
    })
}

/// The chosen statement ids: one to [`MAX_STATEMENTS`], each once.
pub fn parse_statement_ids(ids: &[String]) -> Result<Vec<String>, FeeInvoiceError> {
    let refused = || {
        field(
            "statement_ids",
            format!("choose 1 to {MAX_STATEMENTS} of your paid statements"),
        )
    };
    // Checked before the duplicates are dropped, so a huge list costs nothing.
    if ids.len() > MAX_STATEMENTS {
        return Err(refused());
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids.iter().map(|i| i.trim()) {
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    if out.is_empty() {
        return Err(refused());
    }
    Ok(out)
}

/// One chosen statement as the request sees it.
pub struct Covered<'a> {
    pub id: &'a str,
    pub currency: Currency,
    pub state: StatementState,
    pub lines: &'a [Line],
}

/// The platform's fee on a set of lines, exact: fee minus rebate, refunds carrying their
/// negative fee.
pub fn fee_of_lines(lines: &[Line]) -> Exact {
    lines.iter().map(|l| l.platform_fee - l.rebate).sum()
}

/// The invoice amount over the chosen statements: one currency, every statement paid, the
/// exact fee of all their lines (refund lines netted) rounded **once**, half away from zero
/// (the settlement rounding rule), and more than nothing.
pub fn amount(statements: &[Covered<'_>]) -> Result<Money, FeeInvoiceError> {
    let Some(first) = statements.first() else {
        return Err(field("statement_ids", "choose at least one paid statement"));
    };
    if let Some(other) = statements.iter().find(|s| s.currency != first.currency) {
        return Err(field(
            "statement_ids",
            format!(
                "one currency per request: {} is in {}, {} in {}; request them separately",
                first.id, first.currency, other.id, other.currency
            ),
        ));
    }
    if let Some(s) = statements.iter().find(|s| s.state != StatementState::Paid) {
        return Err(FeeInvoiceError::NotPaid(format!(
            "statement {} is {}; a fee invoice is for statements whose payment succeeded (paid)",
            s.id, s.state
        )));
    }
    let minor = statements
        .iter()
        .map(|s| fee_of_lines(s.lines))
        .sum::<Exact>()
        .round();
    if minor <= 0 {
        return Err(FeeInvoiceError::NotInvoiceable(
            "these statements carry no platform fee once refunds are netted: nothing to invoice"
                .to_owned(),
        ));
    }
    Ok(Money {
        amount_minor: minor,
        currency: first.currency,
    })
}

/// To the seller: the operator acted on its request.
pub fn moved_notice(id: &str, to: FeeInvoiceState, reason: Option<&str>) -> Notice {
    let (kind, what) = match to {
        FeeInvoiceState::Issued => (
            "fee_invoice_issued",
            "was issued: download it from your fee invoices",
        ),
        FeeInvoiceState::Rejected => (
            "fee_invoice_rejected",
            "was rejected: correct the request and ask again",
        ),
        FeeInvoiceState::Voided => (
            "fee_invoice_voided",
            "was voided: you may request the fee invoice again",
        ),
        FeeInvoiceState::Requested => ("fee_invoice_requested", "was requested"),
    };
    Notice {
        kind,
        subject: format!("Your platform-fee invoice {id} {what}"),
        body: match reason {
            Some(r) => format!("Reason given: {r}"),
            None => format!("The platform-fee invoice is now {to}."),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::LineKind;
    use std::str::FromStr;

    fn line(kind: LineKind, fee: i128, rebate: i128) -> Line {
        Line {
            kind,
            source_id: "src".into(),
            order_id: None,
            product_id: None,
            occurred_at: None,
            carried: false,
            amount_minor: 0,
            platform_fee: Exact(fee),
            rebate: Exact(rebate),
            commission: Exact::ZERO,
            net: Exact::ZERO,
        }
    }

    fn cny() -> Currency {
        Currency::from_str("CNY").unwrap()
    }

    #[test]
    fn only_requested_fee_invoices_are_issued_or_rejected_and_only_issued_ones_voided() {
        use FeeInvoiceAction as A;
        use FeeInvoiceState as S;
        assert_eq!(S::Requested.apply(A::Issue), Ok(S::Issued));
        assert_eq!(S::Requested.apply(A::Reject), Ok(S::Rejected));
        assert_eq!(S::Issued.apply(A::Void), Ok(S::Voided));
        for (s, a) in [
            (S::Requested, A::Void),
            (S::Issued, A::Reject),
            (S::Rejected, A::Issue),
            (S::Voided, A::Void),
        ] {
            assert_eq!(s.apply(a).unwrap_err().what, "a fee invoice");
        }
        assert!(S::Issued.is_open() && !S::Rejected.is_open() && !S::Voided.is_open());
    }

    #[test]
    fn the_amount_nets_refunds_and_rebates_over_all_periods_and_rounds_once() {
        // Two periods: fees 0.5 + 0.5 minor units would round to 1 + 1 = 2 one by one; summed
        // exactly first they are 1. A refund's negative fee and a rebate are netted.
        let m1 = [line(LineKind::Opening, 5_000, 0)];
        let m2 = [
            line(LineKind::Opening, 25_000, 0),
            line(LineKind::Refund, -20_000, 0),
            line(LineKind::Rebate, 0, 0),
        ];
        let paid = |id, lines| Covered {
            id,
            currency: cny(),
            state: StatementState::Paid,
            lines,
        };
        let got = amount(&[paid("a", &m1), paid("b", &m2)]).unwrap();
        assert_eq!(got.amount_minor, 1); // (5,000 + 25,000 − 20,000) / 10,000 = 1.0
        let rebated = [line(LineKind::Opening, 30_000, 20_000)];
        assert_eq!(amount(&[paid("c", &rebated)]).unwrap().amount_minor, 1);
        let nothing = [line(LineKind::Refund, -10_000, 0)];
        assert!(matches!(
            amount(&[paid("d", &nothing)]),
            Err(FeeInvoiceError::NotInvoiceable(_))
        ));
        let unpaid = Covered {
            state: StatementState::PaymentReview,
            ..paid("e", &m1)
        };
        assert!(matches!(
            amount(&[paid("a", &m1), unpaid]),
            Err(FeeInvoiceError::NotPaid(_))
        ));
        let usd = Covered {
            currency: Currency::from_str("USD").unwrap(),
            ..paid("f", &m1)
        };
        assert!(matches!(
            amount(&[paid("a", &m1), usd]),
            Err(FeeInvoiceError::Field {
                field: "statement_ids",
                ..
            })
        ));
    }

    #[test]
    fn requests_need_a_tax_id_for_the_special_invoice_and_distinct_statements() {
        let special = parse_details(FeeInvoiceType::DigitalSpecial, "Acme", None, "a@b.cn");
        assert!(matches!(
            special,
            Err(FeeInvoiceError::Field {
                field: "tax_id",
                ..
            })
        ));
        let general = parse_details(FeeInvoiceType::DigitalGeneral, "Acme", None, "a@b.cn");
        assert_eq!(
            general.unwrap().invoice_type,
            FeeInvoiceType::DigitalGeneral
        );
        let ids = vec!["a".to_owned(), " a ".to_owned(), "b".to_owned()];
        assert_eq!(parse_statement_ids(&ids).unwrap(), ["a", "b"]);
        assert!(parse_statement_ids(&[]).is_err());
    }
}
