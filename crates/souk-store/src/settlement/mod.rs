//! Settlement storage: fee policies, the run log, statements with their lines, refunds and
//! adjustments waiting to be settled, and the double-entry settlement ledger.
//!
//! The store decides nothing: the use case computes a statement with
//! `souk_core::settlement::compute` and hands it here whole; [`SettlementStore::issue_statement`]
//! writes it, its lines, its ledger movements, the seller's notice and the audit record in one
//! transaction. Two rules are the database's: one statement per seller, period and currency
//! (`statements_one_per_seller_period`), and every source settled once
//! (`statement_lines_settled_once`), so a run that races another cannot settle anything twice.
//!
//! `statements.rs` holds issuing, reading and moving statements; `check.rs` what the
//! reproducibility check reads (the sources of a statement, ledger balances, buyer-ledger
//! agreement with the orders).

mod check;
mod invoices;
pub(crate) mod statements;

pub use check::{AccountBalance, BuyerLedgerMismatch};
pub use invoices::StatementInvoiceRecord;
pub use statements::{NewStatement, StatementFilter, StatementRecord};

use crate::sql::{audit, corrupt};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::money::Currency;
use souk_core::settlement::{FeePolicy, Item, Line, LineKind, StatementAction, StatementState};
use souk_core::transition::Transition;
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Accounts of the settlement ledger. Each movement moves an amount from one to another.
pub mod accounts {
    /// Money collected from buyers for sales, waiting to be settled (the platform's clearing).
    pub const BUYER_RECEIPTS: &str = "buyer_receipts";
    /// What the platform owes a seller (party = the seller).
    pub const SELLER_PAYABLE: &str = "seller_payable";
    /// The platform's fee income (net of rebates).
    pub const PLATFORM_FEE_INCOME: &str = "platform_fee_income";
    /// What the platform owes a reseller (party = the reseller).
    pub const RESELLER_PAYABLE: &str = "reseller_payable";
    /// Money paid out of the platform.
    pub const PAYOUTS: &str = "payouts";
}

/// One thing to settle and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementSource {
    pub seller_id: PartyId,
    pub currency: Currency,
    pub item: Item,
    /// The usage charges an on-demand consumption item sums (each settled once).
    pub usage_charges: Vec<String>,
}

/// A refund or correction for the next statement.
#[derive(Debug, Clone)]
pub struct NewAdjustment {
    pub id: String,
    pub seller_id: PartyId,
    pub kind: LineKind,
    pub order_id: Option<OrderId>,
    pub product_id: Option<String>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub reason: String,
    pub occurred_at: OffsetDateTime,
}

/// One move of a statement through its workflow.
#[derive(Debug, Clone)]
pub struct StatementMove {
    pub id: String,
    /// Decided by the core's workflow (`StatementState::take`) from the state the caller read;
    /// persisted with a compare-and-set on `transition.from`.
    pub transition: Transition<StatementState>,
    pub action: StatementAction,
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    /// `submit_invoice` with the file: the invoice row, written in the move's transaction.
    pub invoice_file: Option<StatementInvoiceRecord>,
    pub notice: souk_core::notice::Notice,
    /// The deadline of the state entered (`souk_core::settlement::Deadlines`), or none.
    pub due_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait SettlementStore: Send + Sync + 'static {
    /// Sets a product's fee policy (operator). `false`: no such product.
    async fn set_fee_policy(
        &self,
        product_id: &str,
        policy: &FeePolicy,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// A product's own policy: `None` when the product is not visible in `scope`,
    /// `Some(None)` when it uses the marketplace default.
    async fn fee_policy(
        &self,
        scope: &Scope,
        product_id: &str,
    ) -> StoreResult<Option<Option<FeePolicy>>>;

    /// The policies of these products that have one.
    async fn fee_policies(
        &self,
        product_ids: &[String],
    ) -> StoreResult<BTreeMap<String, FeePolicy>>;

    /// Records that a period's run started; `false` when it had already run.
    async fn start_run(&self, period: &str, now: OffsetDateTime) -> StoreResult<bool>;

    async fn finish_run(
        &self,
        period: &str,
        statements: usize,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    async fn run_done(&self, period: &str) -> StoreResult<bool>;

    /// Everything attributed before `before` that no statement has settled yet: completed
    /// orders (by completion time) and recorded refunds and adjustments.
    async fn unsettled(&self, before: OffsetDateTime) -> StoreResult<Vec<SettlementSource>>;

    /// What a seller's latest statement in `currency` carried forward (≤ 0), and that
    /// statement's id.
    async fn carried_in(
        &self,
        seller: &PartyId,
        currency: Currency,
    ) -> StoreResult<(i64, Option<String>)>;

    /// Records a refund or correction to settle on the seller's next statement.
    async fn record_adjustment(
        &self,
        a: &NewAdjustment,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// Issues statements in one transaction, each on its own: one the database refuses
    /// (another run issued it or settled one of its sources first) is left out, the others are
    /// issued. Whether each was issued, in order.
    async fn issue_statements(
        &self,
        batch: &[NewStatement],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<bool>>;

    async fn list_statements(
        &self,
        scope: &Scope,
        filter: &StatementFilter,
        page: &Page,
    ) -> StoreResult<Vec<StatementRecord>>;

    async fn statement(&self, scope: &Scope, id: &str) -> StoreResult<Option<StatementRecord>>;

    async fn statement_lines(&self, id: &str) -> StoreResult<Vec<Line>>;

    /// The seller's invoices submitted for a statement, oldest first.
    async fn statement_invoices(&self, id: &str) -> StoreResult<Vec<StatementInvoiceRecord>>;

    /// Moves a statement if it is still in `m.transition.from` (compare-and-set), with its
    /// audit record, the seller's notice and, on payment, the payout movement.
    /// `StoreError::LostRace`: it moved meanwhile.
    async fn move_statement(
        &self,
        scope: &Scope,
        m: &StatementMove,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<StatementRecord>;

    /// The sources of a stored statement, read again from the order history and the recorded
    /// refunds and adjustments (not from the statement's lines).
    async fn statement_sources(&self, id: &str) -> StoreResult<Vec<Item>>;

    /// Every settlement-ledger account's balance (the sum of its entries).
    async fn account_balances(&self) -> StoreResult<Vec<AccountBalance>>;

    /// Movements whose entries do not sum to zero, with their sum.
    async fn unbalanced_movements(&self) -> StoreResult<Vec<(String, i64)>>;

    /// Paid or refunded orders whose buyer-ledger entries disagree with the order amount.
    async fn buyer_ledger_mismatches(&self) -> StoreResult<Vec<BuyerLedgerMismatch>>;

    /// Every statement id of a period (operator), for the check.
    async fn statement_ids(&self, period: Option<&str>) -> StoreResult<Vec<String>>;
}

#[async_trait]
impl SettlementStore for SqlStore {
    async fn set_fee_policy(
        &self,
        product_id: &str,
        policy: &FeePolicy,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        let json = serde_json::to_string(policy).map_err(|e| corrupt("fee policy", e))?;
        sqlx::query(
            "INSERT INTO fee_policies (product_id, policy, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) DO UPDATE SET \
             policy = excluded.policy, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(product_id)
        .bind(&json)
        .bind(actor.as_str())
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::to_value(policy).map_err(|e| corrupt("fee policy", e))?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "fee_policy.set",
            product_id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fee_policy(
        &self,
        scope: &Scope,
        product_id: &str,
    ) -> StoreResult<Option<Option<FeePolicy>>> {
        let row = sqlx::query(
            "SELECT f.policy FROM products p LEFT JOIN fee_policies f ON f.product_id = p.id \
             WHERE p.id = $1 AND ($2 IS NULL OR p.seller_id = $2)",
        )
        .bind(product_id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let policy: Option<String> = row.try_get("policy")?;
        Ok(Some(policy.map(|p| parse_policy(&p)).transpose()?))
    }

    async fn fee_policies(
        &self,
        product_ids: &[String],
    ) -> StoreResult<BTreeMap<String, FeePolicy>> {
        let mut out = BTreeMap::new();
        // Products per seller are few; one indexed read each keeps the SQL the same on both.
        for chunk in product_ids.chunks(200) {
            let sql = format!(
                "SELECT product_id, policy FROM fee_policies WHERE product_id IN ({})",
                crate::sql::params(self.backend, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for row in q.fetch_all(&self.read).await? {
                let policy: String = row.try_get("policy")?;
                out.insert(row.try_get("product_id")?, parse_policy(&policy)?);
            }
        }
        Ok(out)
    }

    async fn start_run(&self, period: &str, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO settlement_runs (period, started_at) VALUES ($1, $2) \
             ON CONFLICT (period) DO NOTHING",
        )
        .bind(period)
        .bind(to_unix_ms(now))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_run(
        &self,
        period: &str,
        statements: usize,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE settlement_runs SET finished_at = $2, statements = statements + $3 \
             WHERE period = $1",
        )
        .bind(period)
        .bind(to_unix_ms(now))
        .bind(statements as i64)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn run_done(&self, period: &str) -> StoreResult<bool> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT finished_at FROM settlement_runs WHERE period = $1")
                .bind(period)
                .fetch_optional(&self.read)
                .await?;
        Ok(matches!(at, Some(Some(_))))
    }

    async fn unsettled(&self, before: OffsetDateTime) -> StoreResult<Vec<SettlementSource>> {
        let before_ms = to_unix_ms(before);
        let rows = sqlx::query(&format!(
            "{SALES_SELECT} WHERE o.kind <> 'trial' AND o.amount_minor - o.voucher_minor > 0 \
             AND (o.state = 'completed' OR o.state = 'refunded') \
             AND {SETTLEABLE} AND COALESCE(o.completed_at, o.refunded_at) < $1 \
             AND NOT EXISTS (SELECT 1 FROM statement_lines l \
             WHERE l.source_id = o.id AND {SETTLED_ONCE} \
             AND l.kind NOT IN ('refund', 'adjustment'))"
        ))
        .bind(before_ms)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(item) = sale_item(r)? {
                out.push(SettlementSource {
                    seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                    currency: currency(r)?,
                    item,
                    usage_charges: Vec::new(),
                });
            }
        }
        let rows = sqlx::query(&format!(
            "{ADJUSTMENTS_SELECT} WHERE a.occurred_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM statement_lines l WHERE l.source_id = a.id \
             AND {SETTLED_ONCE} AND l.kind IN ('refund', 'adjustment'))"
        ))
        .bind(before_ms)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            out.push(SettlementSource {
                seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                currency: currency(r)?,
                item: adjustment_item(r)?,
                usage_charges: Vec::new(),
            });
        }
        // After-sale refunds (§9: deducted on the current or the next statement) of orders that
        // settle at all.
        let rows = sqlx::query(&format!(
            "{REFUNDS_SELECT} WHERE f.settlement = 'to_deduct' AND f.decided_at < $1 \
             AND {SETTLEABLE}"
        ))
        .bind(before_ms)
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            out.push(SettlementSource {
                seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                currency: currency(r)?,
                item: refund_item(r)?,
                usage_charges: Vec::new(),
            });
        }
        // On-demand consumption (§9: by monthly consumption): one line per instance and
        // metering period, summing the usage charges rated before the period's end.
        let rows = sqlx::query(
            "SELECT c.id, c.instance_id, c.seller_id, c.period, c.cutoff_at, c.amount_minor, \
             c.currency, i.product_id FROM usage_charges c \
             JOIN instances i ON i.id = c.instance_id WHERE c.cutoff_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM statement_usage_charges s WHERE s.charge_id = c.id) \
             ORDER BY c.instance_id, c.period, c.id",
        )
        .bind(before_ms)
        .fetch_all(&self.read)
        .await?;
        let mut usage: BTreeMap<(String, String), SettlementSource> = BTreeMap::new();
        for r in &rows {
            let charge = usage_charge(r)?;
            let key = (
                charge.item.source_id.clone(),
                charge.currency.as_str().to_owned(),
            );
            match usage.get_mut(&key) {
                Some(s) => {
                    s.item.amount_minor += charge.item.amount_minor;
                    s.item.occurred_at = s.item.occurred_at.max(charge.item.occurred_at);
                    s.usage_charges.extend(charge.usage_charges);
                }
                None => {
                    usage.insert(key, charge);
                }
            }
        }
        out.extend(usage.into_values());
        Ok(out)
    }

    async fn carried_in(
        &self,
        seller: &PartyId,
        currency: Currency,
    ) -> StoreResult<(i64, Option<String>)> {
        let row = sqlx::query(
            "SELECT id, carried_forward_minor FROM statements WHERE seller_id = $1 \
             AND currency = $2 ORDER BY period DESC, id DESC LIMIT 1",
        )
        .bind(seller.as_str())
        .bind(currency.as_str())
        .fetch_optional(&self.read)
        .await?;
        match row {
            Some(r) => Ok((r.try_get("carried_forward_minor")?, Some(r.try_get("id")?))),
            None => Ok((0, None)),
        }
    }

    async fn record_adjustment(
        &self,
        a: &NewAdjustment,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let seller: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'seller'")
                .bind(a.seller_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if seller.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO settlement_adjustments (id, seller_id, kind, order_id, product_id, \
             amount_minor, currency, reason, occurred_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&a.id)
        .bind(a.seller_id.as_str())
        .bind(a.kind.as_str())
        .bind(a.order_id.as_ref().map(|o| o.as_str().to_owned()))
        .bind(a.product_id.clone())
        .bind(a.amount_minor)
        .bind(a.currency.as_str())
        .bind(&a.reason)
        .bind(to_unix_ms(a.occurred_at))
        .bind(actor.as_str())
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "seller_id": a.seller_id.as_str(), "kind": a.kind.as_str(), "order_id": a.order_id,
            "amount_minor": a.amount_minor, "currency": a.currency.as_str(), "reason": a.reason,
        });
        audit(
            &mut tx,
            now,
            Some(actor),
            "settlement.adjustment",
            &a.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn issue_statements(
        &self,
        batch: &[NewStatement],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<bool>> {
        statements::issue_batch(self, batch, now).await
    }

    async fn list_statements(
        &self,
        scope: &Scope,
        filter: &StatementFilter,
        page: &Page,
    ) -> StoreResult<Vec<StatementRecord>> {
        statements::list(self, scope, filter, page).await
    }

    async fn statement(&self, scope: &Scope, id: &str) -> StoreResult<Option<StatementRecord>> {
        statements::find(self, scope, id).await
    }

    async fn statement_lines(&self, id: &str) -> StoreResult<Vec<Line>> {
        statements::lines(self, id).await
    }

    async fn statement_invoices(&self, id: &str) -> StoreResult<Vec<StatementInvoiceRecord>> {
        invoices::list(self, id).await
    }

    async fn move_statement(
        &self,
        scope: &Scope,
        m: &StatementMove,
        actor: Option<&PartyId>,
        now: OffsetDateTime,
    ) -> StoreResult<StatementRecord> {
        statements::move_statement(self, scope, m, actor, now).await
    }

    async fn statement_sources(&self, id: &str) -> StoreResult<Vec<Item>> {
        check::sources(self, id).await
    }

    async fn account_balances(&self) -> StoreResult<Vec<AccountBalance>> {
        check::account_balances(self).await
    }

    async fn unbalanced_movements(&self) -> StoreResult<Vec<(String, i64)>> {
        check::unbalanced_movements(self).await
    }

    async fn buyer_ledger_mismatches(&self) -> StoreResult<Vec<BuyerLedgerMismatch>> {
        check::buyer_ledger_mismatches(self).await
    }

    async fn statement_ids(&self, period: Option<&str>) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM statements WHERE ($1 IS NULL OR period = $1) ORDER BY id",
        )
        .bind(period.map(str::to_owned))
        .fetch_all(&self.read)
        .await?)
    }
}

/// The `VALUES` list of a multi-row INSERT of `rows` rows of `columns` parameters each:
/// anonymous `?` on SQLite, `$n` on PostgreSQL. SQLite finds a numbered parameter's name by
/// walking the names of all the statement's parameters, once per parameter bound: quadratic in
/// their number, and with the 5,200 of a 400-line insert that was most of a settlement run's
/// time. An anonymous `?` has no name to look up.
pub fn values_list(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => out.push_str(&format!("${}", row * columns + col + 1)),
            }
        }
        out.push(')');
    }
    out
}

fn parse_policy(text: &str) -> StoreResult<FeePolicy> {
    serde_json::from_str(text).map_err(|e| corrupt("fee policy", e))
}

fn currency(r: &sqlx::any::AnyRow) -> StoreResult<Currency> {
    Currency::from_str(&r.try_get::<String, _>("currency")?).map_err(|e| corrupt("currency", e))
}

/// A recorded adjustment with, for a refund of a reseller order, the order's cash amount (its
/// voucher part aside) and its reseller (`x`, §11): the refund takes the commission back in
/// proportion, as an after-sale refund does. A correction (`adjustment`) is stated as its net
/// effect and carries none.
pub(crate) const ADJUSTMENTS_SELECT: &str = "SELECT a.id, a.seller_id, a.kind, a.order_id, \
     a.product_id, a.amount_minor, a.currency, a.occurred_at, \
     o.amount_minor - o.voucher_minor AS order_minor, \
     x.reseller_id, x.terms AS reseller_terms FROM settlement_adjustments a \
     LEFT JOIN orders o ON o.id = a.order_id \
     LEFT JOIN order_resellers x ON x.order_id = a.order_id AND a.kind = 'refund'";

pub(crate) fn adjustment_item(r: &sqlx::any::AnyRow) -> StoreResult<Item> {
    let kind: String = r.try_get("kind")?;
    let kind = LineKind::from_str(&kind).map_err(|e| corrupt("adjustment kind", e))?;
    let commission = match kind {
        LineKind::Refund => crate::resellers::order_commission(r)?,
        _ => None,
    };
    Ok(Item {
        kind,
        source_id: r.try_get("id")?,
        order_id: r
            .try_get::<Option<String>, _>("order_id")?
            .map(OrderId::from_trusted),
        product_id: r.try_get("product_id")?,
        amount_minor: r.try_get("amount_minor")?,
        occurred_at: from_unix_ms(r.try_get("occurred_at")?),
        commission,
    })
}

/// The predicate of the partial index `statement_lines_settled_once`, word for word: SQLite
/// uses a partial index only when the query repeats its WHERE terms (it does not prove that
/// `kind NOT IN (a, b, c, d)` implies `kind NOT IN (a, d)`), and without it every "not settled
/// yet" probe scans all statement lines ever issued — the run became quadratic in history.
pub(crate) const SETTLED_ONCE: &str = "l.kind NOT IN ('rebate', 'on_demand_consumption')";

/// A sale: the order as it is in the order history, with whether its product is supervised and
/// the reseller it went through (`x`, §11). Its amount is the cash paid: the part a seller
/// voucher paid is paid to nobody (the seller funds its vouchers, §8.2).
pub(crate) const SALES_SELECT: &str = "SELECT o.id, o.kind, o.seller_id, o.product_id, \
     o.amount_minor - o.voucher_minor AS amount_minor, \
     o.amount_minor - o.voucher_minor AS order_minor, o.currency, o.completed_at, o.refunded_at, \
     (SELECT COUNT(*) FROM supervisions v WHERE v.order_id = o.id) AS supervised, \
     x.reseller_id, x.terms AS reseller_terms \
     FROM orders o LEFT JOIN order_resellers x ON x.order_id = o.id";

/// An order settles when it completed (its attribution event happened), or when an after-sale
/// refund returned only part of it before it completed (a negotiated refund in a supervised
/// order's guarantee period: the seller keeps the rest, attributed at the refund). An order
/// refunded in full before completing never settles, nor does its refund. (`|| ''` keeps
/// SQLite, which has no statistics, from looking the refund up by state — every refunded
/// refund ever — instead of by its order.)
pub(crate) const SETTLEABLE: &str =
    "(o.completed_at IS NOT NULL OR EXISTS (SELECT 1 FROM refunds p \
     WHERE p.order_id = o.id AND p.state || '' = 'refunded' \
     AND p.amount_minor < o.amount_minor - o.voucher_minor))";

/// An after-sale refund with its order (`o`), the order's product and its reseller (`x`). A
/// refund's amount is the cash returned; the order's is its cash part (vouchers aside).
pub(crate) const REFUNDS_SELECT: &str = "SELECT f.id, f.order_id, f.seller_id, f.amount_minor, \
     f.currency, f.decided_at, o.product_id, o.amount_minor - o.voucher_minor AS order_minor, x.reseller_id, \
     x.terms AS reseller_terms FROM refunds f JOIN orders o ON o.id = f.order_id \
     LEFT JOIN order_resellers x ON x.order_id = f.order_id";

pub(crate) fn sale_item(r: &sqlx::any::AnyRow) -> StoreResult<Option<Item>> {
    let kind: String = r.try_get("kind")?;
    let kind = souk_core::order::OrderKind::from_str(&kind).map_err(|e| corrupt("kind", e))?;
    let supervised = r.try_get::<i64, _>("supervised")? > 0;
    let Some(line) = souk_core::settlement::attribution(kind, supervised) else {
        return Ok(None);
    };
    let at: Option<i64> = match r.try_get::<Option<i64>, _>("completed_at")? {
        Some(t) => Some(t),
        None => r.try_get("refunded_at")?,
    };
    let at = at.ok_or_else(|| corrupt("completed_at", "a settled order has none"))?;
    let id: String = r.try_get("id")?;
    Ok(Some(Item {
        kind: line,
        source_id: id.clone(),
        order_id: Some(OrderId::from_trusted(id)),
        product_id: Some(r.try_get("product_id")?),
        amount_minor: r.try_get("amount_minor")?,
        occurred_at: from_unix_ms(at),
        commission: crate::resellers::order_commission(r)?,
    }))
}

pub(crate) fn refund_item(r: &sqlx::any::AnyRow) -> StoreResult<Item> {
    let decided: Option<i64> = r.try_get("decided_at")?;
    Ok(Item {
        kind: LineKind::Refund,
        source_id: r.try_get("id")?,
        order_id: Some(OrderId::from_trusted(r.try_get("order_id")?)),
        product_id: Some(r.try_get("product_id")?),
        amount_minor: -r.try_get::<i64, _>("amount_minor")?,
        occurred_at: from_unix_ms(
            decided.ok_or_else(|| corrupt("decided_at", "a refunded request has none"))?,
        ),
        commission: crate::resellers::order_commission(r)?,
    })
}

/// One usage charge as an on-demand item of its instance and metering period.
fn usage_charge(r: &sqlx::any::AnyRow) -> StoreResult<SettlementSource> {
    let instance: String = r.try_get("instance_id")?;
    let period: String = r.try_get("period")?;
    Ok(SettlementSource {
        seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
        currency: currency(r)?,
        item: Item {
            kind: LineKind::OnDemandConsumption,
            source_id: format!("{instance}/{period}"),
            order_id: None,
            product_id: Some(r.try_get("product_id")?),
            amount_minor: r.try_get("amount_minor")?,
            occurred_at: from_unix_ms(r.try_get("cutoff_at")?),
            commission: None,
        },
        usage_charges: vec![r.try_get("id")?],
    })
}
