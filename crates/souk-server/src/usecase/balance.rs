//! A buyer's balance: top-ups and credit limits set by the operator.
//!
//! The bounds live in `souk_core::ledger`: a balance and a credit limit stay within 10^15 minor
//! units, so no sum the ledger makes can overflow and a client's mistake is a 422, not a 500.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::ledger::{check_credit_limit, check_top_up, LedgerError};
use souk_core::money::Money;
use souk_core::party::PartyId;
use souk_store::{Balance, Scope};

fn ledger_error(field: &str, e: LedgerError) -> AppError {
    match e {
        // A valid amount that the current balance cannot take: a conflict with state.
        LedgerError::BalanceTooLarge { .. } => AppError::conflict("balance_limit", e.to_string()),
        e => AppError::invalid_field(field, e.to_string()),
    }
}

/// Credits `amount` to a buyer's balance (operator).
pub async fn top_up(
    state: &AppState,
    actor: &PartyId,
    buyer: &PartyId,
    amount: Money,
    memo: Option<String>,
) -> AppResult<Balance> {
    let current = state
        .store
        .balance(&Scope::Everything, buyer, amount.currency)
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    // Checked against the balance read just now; two racing top-ups can pass 10^15 by at most
    // one top-up, still far from what i64 holds.
    check_top_up(current.balance, amount).map_err(|e| ledger_error("amount", e))?;
    let balance = state
        .store
        .top_up(buyer, amount, memo, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))?;
    // A top-up that clears on-demand arrears reopens the instances it froze.
    crate::usecase::metering::settle_arrears(state, buyer, &balance).await?;
    Ok(balance)
}

/// Sets how far below zero a buyer's balance may go (operator).
pub async fn set_credit_limit(
    state: &AppState,
    actor: &PartyId,
    buyer: &PartyId,
    limit: Money,
) -> AppResult<Balance> {
    check_credit_limit(limit).map_err(|e| ledger_error("limit", e))?;
    state
        .store
        .set_credit_limit(buyer, limit, actor, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("buyer"))
}
