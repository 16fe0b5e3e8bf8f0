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
    #[error(transparent)]
    Money(#[from] MoneyError),
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
}
