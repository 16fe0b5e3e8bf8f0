//! The buyer's prepaid balance: an append-only ledger (business rules §9, PRODUCT.md §2).
//!
//! A balance is never stored on its own; it is the sum of the buyer's entries in a currency,
//! so it can always be reproduced and audited. It may go below zero only down to the credit
//! the operator granted.

use crate::money::{Money, MoneyError};
use crate::order::string_enum;

string_enum!(
    EntryKind {
        /// Money the operator credited (a top-up paid elsewhere, a goodwill credit).
        TopUp = "top_up",
        /// Payment of an order.
        OrderDebit = "order_debit",
        /// Money returned for an order.
        Refund = "refund",
        /// Rated on-demand usage (negative), or a volume-price credit (positive); points at the
        /// usage charge and, through it, at the records it rated.
        UsageCharge = "usage_charge",
        /// An operator's correction of usage charges, with its reason (audited).
        UsageAdjustment = "usage_adjustment",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the balance is {balance}, the credit limit {credit}, and this needs {needed}: top up the balance first")]
    InsufficientFunds {
        balance: Money,
        credit: Money,
        needed: Money,
    },
    #[error("a top-up must be a positive amount")]
    NotPositive,
    #[error(
        "the balance would be {would_be}, more than Souk holds for one buyer ({max} minor units)"
    )]
    BalanceTooLarge { would_be: i128, max: i64 },
    #[error("a credit limit is 0 to {max} minor units")]
    CreditLimitOutOfRange { max: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The largest balance a buyer may hold in one currency.
pub const MAX_BALANCE_MINOR: i64 = crate::money::MAX_AMOUNT_MINOR;

/// Checks a top-up of `amount` onto `balance`: positive, and the balance stays within
/// [`MAX_BALANCE_MINOR`] (so the ledger's sum can never overflow).
pub fn check_top_up(balance: Money, amount: Money) -> Result<(), LedgerError> {
    if amount.amount_minor <= 0 {
        return Err(LedgerError::NotPositive);
    }
    amount.bounded()?;
    let would_be = balance.amount_minor as i128 + amount.amount_minor as i128;
    if would_be > MAX_BALANCE_MINOR as i128 {
        return Err(LedgerError::BalanceTooLarge {
            would_be,
            max: MAX_BALANCE_MINOR,
        });
    }
    Ok(())
}

/// Checks a credit limit the operator sets.
pub fn check_credit_limit(limit: Money) -> Result<(), LedgerError> {
    if !(0..=MAX_BALANCE_MINOR).contains(&limit.amount_minor) {
        return Err(LedgerError::CreditLimitOutOfRange {
            max: MAX_BALANCE_MINOR,
        });
    }
    Ok(())
}

/// Checks that `amount` can be debited from `balance` with `credit_limit` of credit.
pub fn check_debit(balance: Money, credit_limit: Money, amount: Money) -> Result<(), LedgerError> {
    let floor = balance.checked_sub(amount)?.checked_add(credit_limit)?;
    if floor.is_negative() {
        return Err(LedgerError::InsufficientFunds {
            balance,
            credit: credit_limit,
            needed: amount,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn debits_stop_at_the_credit_limit() {
        let m = |a| Money::new(a, Currency::CNY);
        assert!(check_debit(m(1000), m(0), m(1000)).is_ok());
        assert!(check_debit(m(1000), m(0), m(1001)).is_err());
        assert!(check_debit(m(1000), m(500), m(1500)).is_ok());
        assert!(check_debit(m(1000), m(500), m(1501)).is_err());
        assert!(matches!(
            check_debit(m(0), Money::new(0, Currency::USD), m(1)),
            Err(LedgerError::Money(_))
        ));
    }

    #[test]
    fn balances_and_credit_stay_bounded_so_sums_cannot_overflow() {
        let m = |a| Money::new(a, Currency::CNY);
        assert!(check_top_up(m(0), m(MAX_BALANCE_MINOR)).is_ok());
        assert!(matches!(
            check_top_up(m(1), m(MAX_BALANCE_MINOR)),
            Err(LedgerError::BalanceTooLarge { .. })
        ));
        assert!(matches!(
            check_top_up(m(0), m(i64::MAX)),
            Err(LedgerError::Money(_))
        ));
        assert!(matches!(
            check_top_up(m(0), m(0)),
            Err(LedgerError::NotPositive)
        ));
        assert!(check_credit_limit(m(MAX_BALANCE_MINOR)).is_ok());
        assert!(check_credit_limit(m(MAX_BALANCE_MINOR + 1)).is_err());
        assert!(check_credit_limit(m(-1)).is_err());
        // The largest balance, the largest credit and the largest order never overflow.
        assert!(check_debit(
            m(-MAX_BALANCE_MINOR),
            m(MAX_BALANCE_MINOR),
            m(crate::money::MAX_AMOUNT_MINOR)
        )
        .is_err());
        assert!(check_debit(m(MAX_BALANCE_MINOR), m(MAX_BALANCE_MINOR), m(1)).is_ok());
    }
}
