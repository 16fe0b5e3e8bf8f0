//! What the reproducibility check reads: a statement's sources from the order history, the
//! settlement ledger's balances and movements, and the buyer ledger against the orders.

use crate::sql::corrupt;
use crate::*;
use souk_core::id::OrderId;
use souk_core::order::OrderState;
use souk_core::settlement::Item;
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
    let rows = sqlx::query(&format!(
        "{} JOIN statement_lines l ON l.source_id = o.id WHERE l.statement_id = $1 \
         AND l.kind NOT IN ('refund', 'adjustment', 'rebate', 'on_demand_consumption') \
         ORDER BY l.seq",
        super::SALES_SELECT
    ))
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        // An order that is no longer settleable (a trial) recomputes to no line: a mismatch.
        out.extend(super::sale_item(r)?);
    }
    let rows = sqlx::query(&format!(
        "{} JOIN statement_lines l ON l.source_id = a.id \
         WHERE l.statement_id = $1 AND l.kind IN ('refund', 'adjustment') ORDER BY l.seq",
        super::ADJUSTMENTS_SELECT
    ))
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        out.push(super::adjustment_item(r)?);
    }
    let rows = sqlx::query(&format!(
        "{} JOIN statement_lines l ON l.source_id = f.id WHERE l.statement_id = $1 \
         AND l.kind = 'refund' ORDER BY l.seq",
        super::REFUNDS_SELECT
    ))
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        out.push(super::refund_item(r)?);
    }
    // On-demand: the usage charges as they are now, summed per line again.
    let rows = sqlx::query(
        "SELECT c.id, c.instance_id, c.seller_id, c.period, c.cutoff_at, c.amount_minor, \
         c.currency, i.product_id FROM statement_usage_charges u \
         JOIN usage_charges c ON c.id = u.charge_id JOIN instances i ON i.id = c.instance_id \
         WHERE u.statement_id = $1 ORDER BY c.instance_id, c.period, c.id",
    )
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    let mut usage: std::collections::BTreeMap<String, Item> = Default::default();
    for r in &rows {
        let c = super::usage_charge(r)?.item;
        match usage.get_mut(&c.source_id) {
            Some(i) => {
                i.amount_minor += c.amount_minor;
                i.occurred_at = i.occurred_at.max(c.occurred_at);
            }
            None => {
                usage.insert(c.source_id.clone(), c);
            }
        }
    }
    out.extend(usage.into_values());
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
    // A paid order is debited its cash part (the amount less its voucher part) once; a refunded one gets its refund back once (§2,
    // §4.5, §4.6). (`|| ''`: the refunds by order, not all refunded ones per order, on SQLite.)
    let rows = sqlx::query(
        "SELECT o.id, o.amount_minor - o.voucher_minor AS amount_minor, o.state, \
         CAST(COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
            WHERE e.order_id = o.id AND e.kind = 'order_debit'), 0) AS BIGINT) AS debited, \
         CAST(COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
            WHERE e.order_id = o.id AND e.kind = 'refund'), 0) AS BIGINT) AS refunded, \
         CAST((SELECT SUM(f.amount_minor) FROM refunds f WHERE f.order_id = o.id \
            AND f.state || '' = 'refunded') AS BIGINT) AS after_sale \
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
        // An after-sale refund returns what was agreed (a negotiated one can be part of the
        // price); a failed opening returns the whole amount.
        let after_sale: Option<i64> = r.try_get("after_sale")?;
        let expect_refund = if m.state == OrderState::Refunded {
            after_sale.unwrap_or(m.amount_minor)
        } else {
            0
        };
        if m.debited_minor != -m.amount_minor || m.refunded_minor != expect_refund {
            out.push(m);
        }
    }
    Ok(out)
}
