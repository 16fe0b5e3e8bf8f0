//! What the reproducibility check reads: a statement's sources from the order history, the
//! settlement ledger's balances and movements, and the buyer ledger against the orders.

use crate::sql::corrupt;
use crate::*;
use souk_core::clock::from_unix_ms;
use souk_core::id::OrderId;
use souk_core::order::{OrderKind, OrderState};
use souk_core::settlement::{attribution, Item};
use sqlx::Row;
use std::str::FromStr;

/// One settlement-ledger account's balance in a currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalance {
    pub account: String,
    pub party_id: Option<String>,
    pub currency: String,
    pub balance_minor: i64,
}

/// An order whose buyer-ledger entries disagree with its amount and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerLedgerMismatch {
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub debited_minor: i64,
    pub refunded_minor: i64,
    pub state: OrderState,
}

pub(super) async fn sources(s: &SqlStore, id: &str) -> StoreResult<Vec<Item>> {
    // Sales: the orders themselves, as they are now in the order history.
    let rows = sqlx::query(
        "SELECT o.id, o.kind, o.product_id, o.amount_minor, o.completed_at FROM statement_lines l \
         JOIN orders o ON o.id = l.source_id WHERE l.statement_id = $1 \
         AND l.kind NOT IN ('refund', 'adjustment', 'rebate') ORDER BY l.seq",
    )
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        let kind = OrderKind::from_str(&kind).map_err(|e| corrupt("order kind", e))?;
        let order = OrderId::from_trusted(r.try_get("id")?);
        // An order that is no longer settleable (a trial) recomputes to no line: a mismatch.
        let Some(line) = attribution(kind, false) else {
            continue;
        };
        out.push(Item {
            kind: line,
            source_id: order.to_string(),
            order_id: Some(order),
            product_id: Some(r.try_get("product_id")?),
            amount_minor: r.try_get("amount_minor")?,
            occurred_at: r
                .try_get::<Option<i64>, _>("completed_at")?
                .map(from_unix_ms)
                .ok_or_else(|| corrupt("completed_at", "a settled order has none"))?,
            commission_rate: None,
        });
    }
    let rows = sqlx::query(
        "SELECT a.* FROM statement_lines l JOIN settlement_adjustments a ON a.id = l.source_id \
         WHERE l.statement_id = $1 AND l.kind IN ('refund', 'adjustment') ORDER BY l.seq",
    )
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        out.push(super::adjustment_item(r)?);
    }
    Ok(out)
}

pub(super) async fn account_balances(s: &SqlStore) -> StoreResult<Vec<AccountBalance>> {
    let rows = sqlx::query(
        "SELECT account, party_id, currency, CAST(SUM(amount_minor) AS BIGINT) AS balance \
         FROM settlement_entries GROUP BY account, party_id, currency \
         ORDER BY account, party_id, currency",
    )
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccountBalance {
                account: r.try_get("account")?,
                party_id: r.try_get("party_id")?,
                currency: r.try_get("currency")?,
                balance_minor: r.try_get("balance")?,
            })
        })
        .collect()
}

pub(super) async fn unbalanced_movements(s: &SqlStore) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT movement_id, CAST(SUM(amount_minor) AS BIGINT) AS total, COUNT(*) AS n \
         FROM settlement_entries GROUP BY movement_id \
         HAVING SUM(amount_minor) <> 0 OR COUNT(*) <> 2 ORDER BY movement_id",
    )
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("movement_id")?, r.try_get("total")?)))
        .collect()
}

pub(super) async fn buyer_ledger_mismatches(s: &SqlStore) -> StoreResult<Vec<BuyerLedgerMismatch>> {
    // A paid order is debited its amount once; a refunded one gets it back once (§2, §4.5).
    let rows = sqlx::query(
        "SELECT o.id, o.amount_minor, o.state, \
         CAST(COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
            WHERE e.order_id = o.id AND e.kind = 'order_debit'), 0) AS BIGINT) AS debited, \
         CAST(COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
            WHERE e.order_id = o.id AND e.kind = 'refund'), 0) AS BIGINT) AS refunded \
         FROM orders o WHERE o.paid_at IS NOT NULL ORDER BY o.id",
    )
    .fetch_all(&s.read)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let m = BuyerLedgerMismatch {
            order_id: OrderId::from_trusted(r.try_get("id")?),
            amount_minor: r.try_get("amount_minor")?,
            debited_minor: r.try_get("debited")?,
            refunded_minor: r.try_get("refunded")?,
            state: OrderState::from_str(&r.try_get::<String, _>("state")?)
                .map_err(|e| corrupt("order state", e))?,
        };
        let expect_refund = if m.state == OrderState::Refunded {
            m.amount_minor
        } else {
            0
        };
        if m.debited_minor != -m.amount_minor || m.refunded_minor != expect_refund {
            out.push(m);
        }
    }
    Ok(out)
}
