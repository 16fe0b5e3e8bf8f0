//! Issuing, reading and moving statements.

use super::{accounts, StatementMove};
use crate::commerce::{insert_notice, lost_race};
use crate::sql::{audit, corrupt};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::money::Currency;
use souk_core::settlement::{Exact, FeePolicy, Line, LineKind, StatementState, Totals};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A stored statement (its lines are read separately: there can be many).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRecord {
    pub id: String,
    pub seller_id: PartyId,
    pub period: String,
    pub currency: Currency,
    pub state: StatementState,
    pub period_start: OffsetDateTime,
    pub totals: Totals,
    /// The fee policies the statement was computed with (product id → policy).
    pub policies: BTreeMap<String, FeePolicy>,
    pub default_policy: FeePolicy,
    pub invoice_number: Option<String>,
    pub issued_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When the statement is due to leave its state (§9 deadlines), if anyone is on the clock.
    pub due_at: Option<OffsetDateTime>,
}

/// A statement to issue, with its lines and the seller's notice.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub record: StatementRecord,
    pub lines: Vec<Line>,
    /// The usage charges its on-demand lines sum: (charge id, line source id).
    pub usage_charges: Vec<(String, String)>,
    pub notice: souk_core::notice::Notice,
}

#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    pub period: Option<String>,
    pub seller_id: Option<String>,
    pub state: Option<StatementState>,
    /// Only statements whose deadline is at or before this instant.
    pub due_by: Option<OffsetDateTime>,
}

const LINE_COLUMNS: usize = 13;
/// Lines per INSERT: 13 binds each stays far below both engines' parameter limits.
const LINES_PER_INSERT: usize = 400;

/// Issues each statement of `batch` in one transaction, each in its own savepoint: one that
/// the database refuses (`Conflict`: another run issued it, or settled one of its sources,
/// first) is rolled back alone and reported `false`; the others commit together. A crash
/// leaves whole statements or none, and one commit per batch instead of one per seller spares
/// SQLite a WAL checkpoint (with its fsyncs) per statement — which was most of a large run.
pub(super) async fn issue_batch(
    s: &SqlStore,
    batch: &[NewStatement],
    now: OffsetDateTime,
) -> StoreResult<Vec<bool>> {
    let mut tx = s.write.begin().await?;
    let mut issued = Vec::with_capacity(batch.len());
    for n in batch {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match write(&mut savepoint, s.backend, n, now).await {
            Ok(()) => {
                savepoint.commit().await?;
                issued.push(true);
            }
            Err(StoreError::Conflict { .. }) => {
                savepoint.rollback().await?;
                issued.push(false);
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(issued)
}

/// Writes one statement: its row, lines, usage charges, the refunds it deducts, its ledger
/// movements, the seller's notice and the audit record.
async fn write(
    tx: &mut AnyConnection,
    backend: Backend,
    n: &NewStatement,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let r = &n.record;
    let t = &r.totals;
    let policies = serde_json::to_string(&r.policies).map_err(|e| corrupt("policies", e))?;
    let default = serde_json::to_string(&r.default_policy).map_err(|e| corrupt("policy", e))?;
    sqlx::query(
        "INSERT INTO statements (id, seller_id, period, currency, state, period_start, \
         gross_minor, refunds_minor, adjustments_minor, platform_fee_minor, rebate_minor, \
         commission_minor, carried_in_minor, net_minor, payable_minor, carried_forward_minor, \
         policies, default_policy, issued_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)",
    )
    .bind(&r.id)
    .bind(r.seller_id.as_str())
    .bind(&r.period)
    .bind(r.currency.as_str())
    .bind(r.state.as_str())
    .bind(to_unix_ms(r.period_start))
    .bind(t.gross_minor)
    .bind(t.refunds_minor)
    .bind(t.adjustments_minor)
    .bind(t.platform_fee_minor)
    .bind(t.rebate_minor)
    .bind(t.commission_minor)
    .bind(t.carried_in_minor)
    .bind(t.net_minor)
    .bind(t.payable_minor)
    .bind(t.carried_forward_minor)
    .bind(policies)
    .bind(default)
    .bind(to_unix_ms(now))
    .execute(&mut *tx)
    .await?;
    for (chunk_no, chunk) in n.lines.chunks(LINES_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO statement_lines (statement_id, seq, kind, source_id, order_id, \
             product_id, occurred_at, carried, amount_minor, platform_fee, rebate, commission, \
             net) VALUES {}",
            super::values_list(backend, chunk.len(), LINE_COLUMNS)
        );
        let mut q = sqlx::query(&sql);
        for (i, l) in chunk.iter().enumerate() {
            q = q
                .bind(r.id.clone())
                .bind((chunk_no * LINES_PER_INSERT + i) as i64)
                .bind(l.kind.as_str())
                .bind(l.source_id.clone())
                .bind(l.order_id.as_ref().map(|o| o.as_str().to_owned()))
                .bind(l.product_id.clone())
                .bind(l.occurred_at.map(to_unix_ms))
                .bind(l.carried as i64)
                .bind(l.amount_minor)
                .bind(l.platform_fee.to_decimal())
                .bind(l.rebate.to_decimal())
                .bind(l.commission.to_decimal())
                .bind(l.net.to_decimal());
        }
        q.execute(&mut *tx).await?;
    }
    for (charge, source) in &n.usage_charges {
        sqlx::query(
            "INSERT INTO statement_usage_charges (charge_id, statement_id, source_id) \
             VALUES ($1, $2, $3)",
        )
        .bind(charge)
        .bind(&r.id)
        .bind(source)
        .execute(&mut *tx)
        .await?;
    }
    // The after-sale refunds on it are deducted now (the refund shows it to its parties).
    sqlx::query(
        "UPDATE refunds SET settlement = 'deducted' WHERE settlement = 'to_deduct' AND id IN \
         (SELECT source_id FROM statement_lines WHERE statement_id = $1 AND kind = 'refund')",
    )
    .bind(&r.id)
    .execute(&mut *tx)
    .await?;
    // The ledger: what the buyers paid (net of refunds and corrections) becomes the seller's,
    // the fee goes to the platform, the rebate back to the seller, commission to resellers.
    let seller = Some(r.seller_id.as_str());
    let sales = t.gross_minor + t.refunds_minor + t.adjustments_minor;
    let movements = [
        (
            accounts::BUYER_RECEIPTS,
            None,
            accounts::SELLER_PAYABLE,
            seller,
            sales,
            "sales",
        ),
        (
            accounts::SELLER_PAYABLE,
            seller,
            accounts::PLATFORM_FEE_INCOME,
            None,
            t.platform_fee_minor,
            "platform fee",
        ),
        (
            accounts::PLATFORM_FEE_INCOME,
            None,
            accounts::SELLER_PAYABLE,
            seller,
            t.rebate_minor,
            "fee rebate",
        ),
        (
            accounts::SELLER_PAYABLE,
            seller,
            accounts::RESELLER_PAYABLE,
            None,
            t.commission_minor,
            "reseller commission",
        ),
    ];
    for (from, from_party, to, to_party, amount, memo) in movements {
        if amount != 0 {
            let m = Movement {
                from,
                from_party,
                to,
                to_party,
                amount,
                memo,
            };
            post(tx, &r.id, r.currency, &m, now).await?;
        }
    }
    insert_notice(tx, &r.seller_id, &n.notice, Some(&r.id), now).await?;
    let detail = serde_json::json!({
        "period": r.period, "currency": r.currency.as_str(), "lines": n.lines.len(),
        "net_minor": t.net_minor,
    });
    audit(tx, now, None, "statement.issued", &r.id, detail).await?;
    Ok(())
}

pub(crate) struct Movement<'a> {
    pub(crate) from: &'a str,
    pub(crate) from_party: Option<&'a str>,
    pub(crate) to: &'a str,
    pub(crate) to_party: Option<&'a str>,
    pub(crate) amount: i64,
    pub(crate) memo: &'a str,
}

/// Two entries that sum to zero.
pub(crate) async fn post(
    conn: &mut AnyConnection,
    statement: &str,
    currency: Currency,
    m: &Movement<'_>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let movement = souk_core::id::generate("mov", now);
    for (account, party, amount) in [
        (m.from, m.from_party, -m.amount),
        (m.to, m.to_party, m.amount),
    ] {
        sqlx::query(
            "INSERT INTO settlement_entries (id, movement_id, statement_id, account, party_id, \
             currency, amount_minor, memo, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(souk_core::id::generate("sen", now))
        .bind(&movement)
        .bind(statement)
        .bind(account)
        .bind(party.map(str::to_owned))
        .bind(currency.as_str())
        .bind(amount)
        .bind(m.memo)
        .bind(to_unix_ms(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn list(
    s: &SqlStore,
    scope: &Scope,
    f: &StatementFilter,
    page: &Page,
) -> StoreResult<Vec<StatementRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM statements WHERE ($1 IS NULL OR seller_id = $1) \
         AND ($2 IS NULL OR period = $2) AND ($3 IS NULL OR seller_id = $3) \
         AND ($4 IS NULL OR state = $4) AND ($5 IS NULL OR id > $5) \
         AND ($7 IS NULL OR due_at <= $7) ORDER BY id LIMIT $6",
    )
    .bind(scope.tenant().map(str::to_owned))
    .bind(f.period.clone())
    .bind(f.seller_id.clone())
    .bind(f.state.map(|s| s.as_str().to_owned()))
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .bind(f.due_by.map(to_unix_ms))
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(from_row).collect()
}

pub(super) async fn find(
    s: &SqlStore,
    scope: &Scope,
    id: &str,
) -> StoreResult<Option<StatementRecord>> {
    let row =
        sqlx::query("SELECT * FROM statements WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)")
            .bind(id)
            .bind(scope.tenant().map(str::to_owned))
            .fetch_optional(&s.read)
            .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn lines(s: &SqlStore, id: &str) -> StoreResult<Vec<Line>> {
    let rows = sqlx::query("SELECT * FROM statement_lines WHERE statement_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&s.read)
        .await?;
    let exact = |r: &AnyRow, col: &str| -> StoreResult<Exact> {
        let text: String = r.try_get(col)?;
        Exact::from_decimal(&text).ok_or_else(|| corrupt(col, text))
    };
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(Line {
                kind: LineKind::from_str(&kind).map_err(|e| corrupt("line kind", e))?,
                source_id: r.try_get("source_id")?,
                order_id: r
                    .try_get::<Option<String>, _>("order_id")?
                    .map(OrderId::from_trusted),
                product_id: r.try_get("product_id")?,
                occurred_at: r
                    .try_get::<Option<i64>, _>("occurred_at")?
                    .map(from_unix_ms),
                carried: r.try_get::<i64, _>("carried")? != 0,
                amount_minor: r.try_get("amount_minor")?,
                platform_fee: exact(r, "platform_fee")?,
                rebate: exact(r, "rebate")?,
                commission: exact(r, "commission")?,
                net: exact(r, "net")?,
            })
        })
        .collect()
}

pub(super) async fn move_statement(
    s: &SqlStore,
    scope: &Scope,
    m: &StatementMove,
    actor: Option<&PartyId>,
    now: OffsetDateTime,
) -> StoreResult<StatementRecord> {
    let t = m.transition;
    let mut tx = s.write.begin().await?;
    // The statements' one compare-and-set: the state the move was decided from must still be
    // the row's state (0 rows = a lost race, never an overwrite).
    let row = sqlx::query(
        "UPDATE statements SET state = $1, updated_at = $2, \
         invoice_number = COALESCE($3, invoice_number), due_at = $7 \
         WHERE id = $4 AND state = $5 AND ($6 IS NULL OR seller_id = $6) RETURNING *",
    )
    .bind(t.to.as_str())
    .bind(to_unix_ms(now))
    .bind(m.invoice_number.clone())
    .bind(&m.id)
    .bind(t.from.as_str())
    .bind(scope.tenant().map(str::to_owned))
    .bind(m.due_at.map(to_unix_ms))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(lost_race("statement", &m.id, t));
    };
    let record = from_row(&row)?;
    if let Some(file) = &m.invoice_file {
        super::invoices::insert(&mut tx, file).await?;
    }
    if t.to == StatementState::Paid && record.totals.payable_minor != 0 {
        let seller = Some(record.seller_id.as_str());
        let payout = Movement {
            from: accounts::SELLER_PAYABLE,
            from_party: seller,
            to: accounts::PAYOUTS,
            to_party: seller,
            amount: record.totals.payable_minor,
            memo: "payout",
        };
        post(&mut tx, &record.id, record.currency, &payout, now).await?;
    }
    insert_notice(&mut tx, &record.seller_id, &m.notice, Some(&record.id), now).await?;
    let detail = serde_json::json!({
        "from": t.from.as_str(), "to": t.to.as_str(), "reason": m.reason,
        "invoice_number": m.invoice_number,
        "invoice_file": m.invoice_file.as_ref().map(|f| serde_json::json!({
            "id": f.id, "amount_minor": f.amount.amount_minor, "tax_rate_bp": f.tax_rate_bp,
            "sha256": f.sha256,
        })),
    });
    let action = format!("statement.{}", m.action.as_str());
    audit(&mut tx, now, actor, &action, &record.id, detail).await?;
    tx.commit().await?;
    Ok(record)
}

fn from_row(r: &AnyRow) -> StoreResult<StatementRecord> {
    let state: String = r.try_get("state")?;
    let policies: String = r.try_get("policies")?;
    let default: String = r.try_get("default_policy")?;
    Ok(StatementRecord {
        id: r.try_get("id")?,
        seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
        period: r.try_get("period")?,
        currency: super::currency(r)?,
        state: StatementState::from_str(&state).map_err(|e| corrupt("statement state", e))?,
        period_start: from_unix_ms(r.try_get("period_start")?),
        totals: Totals {
            gross_minor: r.try_get("gross_minor")?,
            refunds_minor: r.try_get("refunds_minor")?,
            adjustments_minor: r.try_get("adjustments_minor")?,
            platform_fee_minor: r.try_get("platform_fee_minor")?,
            rebate_minor: r.try_get("rebate_minor")?,
            commission_minor: r.try_get("commission_minor")?,
            carried_in_minor: r.try_get("carried_in_minor")?,
            net_minor: r.try_get("net_minor")?,
            payable_minor: r.try_get("payable_minor")?,
            carried_forward_minor: r.try_get("carried_forward_minor")?,
        },
        policies: serde_json::from_str(&policies).map_err(|e| corrupt("policies", e))?,
        default_policy: serde_json::from_str(&default).map_err(|e| corrupt("policy", e))?,
        invoice_number: r.try_get("invoice_number")?,
        issued_at: from_unix_ms(r.try_get("issued_at")?),
        updated_at: from_unix_ms(r.try_get("updated_at")?),
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_unix_ms),
    })
}
