//! Reseller statements: the run's sources, issuing with the ledger movement (and the invoice
//! notice), reading, and the sources again for the reproducibility check. The workflow's moves
//! after issuing are in `workflow.rs`.

use super::*;
use crate::commerce::insert_notice;
use crate::settlement::statements::{post, Movement};
use crate::settlement::{
    adjustment_item, refund_item, sale_item, ADJUSTMENTS_SELECT, REFUNDS_SELECT, SALES_SELECT,
    SETTLEABLE,
};

const LINES_PER_INSERT: usize = 500;
const LINE_COLUMNS: usize = 8;

/// A reseller's sale or refund from a settlement item that carries a commission.
fn reseller_source(
    r: &AnyRow,
    item: souk_core::settlement::Item,
) -> StoreResult<Option<ResellerSource>> {
    let (Some(c), Some(order)) = (item.commission, item.order_id) else {
        return Ok(None);
    };
    let currency: String = r.try_get("currency")?;
    Ok(Some(ResellerSource {
        reseller_id: PartyId::from_trusted(r.try_get("reseller_id")?),
        currency: Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
        occurred_at: item.occurred_at,
        item: ResellerItem {
            source_id: item.source_id,
            kind: item.kind,
            order_id: order.to_string(),
            amount_minor: item.amount_minor,
            order_minor: c.order_minor,
            terms: c.terms,
        },
    }))
}

pub(super) async fn reseller_unsettled(
    s: &SqlStore,
    before: OffsetDateTime,
) -> StoreResult<Vec<ResellerSource>> {
    let before_ms = to_unix_ms(before);
    let rows = sqlx::query(&format!(
        "{SALES_SELECT} WHERE x.reseller_id IS NOT NULL AND o.kind <> 'trial' \
         AND o.amount_minor - o.voucher_minor > 0 AND (o.state = 'completed' OR o.state = 'refunded') \
         AND {SETTLEABLE} AND COALESCE(o.completed_at, o.refunded_at) < $1 \
         AND NOT EXISTS (SELECT 1 FROM reseller_statement_lines l \
         WHERE l.source_id = o.id AND l.kind <> 'refund')"
    ))
    .bind(before_ms)
    .fetch_all(&s.read)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(item) = sale_item(r)? {
            out.extend(reseller_source(r, item)?);
        }
    }
    let rows = sqlx::query(&format!(
        "{REFUNDS_SELECT} WHERE x.reseller_id IS NOT NULL AND f.state = 'refunded' \
         AND f.decided_at < $1 AND {SETTLEABLE} AND NOT EXISTS (SELECT 1 FROM \
         reseller_statement_lines l WHERE l.source_id = f.id AND l.kind = 'refund')"
    ))
    .bind(before_ms)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        out.extend(reseller_source(r, refund_item(r)?)?);
    }
    // The operator's refund adjustments of its orders (a refund after settlement), deducted
    // like after-sale refunds; the join on `order_resellers` keeps only refunds.
    let rows = sqlx::query(&format!(
        "{ADJUSTMENTS_SELECT} WHERE x.reseller_id IS NOT NULL AND a.occurred_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM reseller_statement_lines l \
         WHERE l.source_id = a.id AND l.kind = 'refund')"
    ))
    .bind(before_ms)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        out.extend(reseller_source(r, adjustment_item(r)?)?);
    }
    Ok(out)
}

pub(super) async fn start_reseller_run(
    s: &SqlStore,
    period: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO reseller_runs (period, started_at) VALUES ($1, $2) \
         ON CONFLICT (period) DO NOTHING",
    )
    .bind(period)
    .bind(to_unix_ms(now))
    .execute(&s.write)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn finish_reseller_run(
    s: &SqlStore,
    period: &str,
    statements: usize,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE reseller_runs SET finished_at = $2, statements = statements + $3 \
         WHERE period = $1",
    )
    .bind(period)
    .bind(to_unix_ms(now))
    .bind(statements as i64)
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn reseller_run_done(s: &SqlStore, period: &str) -> StoreResult<bool> {
    let at: Option<Option<i64>> =
        sqlx::query_scalar("SELECT finished_at FROM reseller_runs WHERE period = $1")
            .bind(period)
            .fetch_optional(&s.read)
            .await?;
    Ok(matches!(at, Some(Some(_))))
}

pub(super) async fn reseller_carried_in(
    s: &SqlStore,
    reseller: &PartyId,
    currency: Currency,
) -> StoreResult<i64> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT carried_forward_minor FROM reseller_statements WHERE reseller_id = $1 \
         AND currency = $2 ORDER BY period DESC, id DESC LIMIT 1",
    )
    .bind(reseller.as_str())
    .bind(currency.as_str())
    .fetch_optional(&s.read)
    .await?;
    Ok(v.unwrap_or(0))
}

pub(super) async fn issue_reseller_statement(
    s: &SqlStore,
    n: &NewResellerStatement,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let r = &n.record;
    let t = &r.totals;
    let mut tx = s.write.begin().await?;
    sqlx::query(
        "INSERT INTO reseller_statements (id, reseller_id, period, currency, state, \
         sales_minor, refunds_minor, commission_minor, carried_in_minor, net_minor, \
         payable_minor, carried_forward_minor, issued_at, updated_at, invoice_due_at) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
    )
    .bind(&r.id)
    .bind(r.reseller_id.as_str())
    .bind(&r.period)
    .bind(r.currency.as_str())
    .bind(r.state.as_str())
    .bind(t.sales_minor)
    .bind(t.refunds_minor)
    .bind(t.commission_minor)
    .bind(t.carried_in_minor)
    .bind(t.net_minor)
    .bind(t.payable_minor)
    .bind(t.carried_forward_minor)
    .bind(to_unix_ms(now))
    .bind(r.invoice_due_at.map(to_unix_ms))
    .execute(&mut *tx)
    .await?;
    for (chunk_no, chunk) in n.lines.chunks(LINES_PER_INSERT).enumerate() {
        let sql = format!(
            "INSERT INTO reseller_statement_lines (statement_id, seq, kind, source_id, \
             order_id, occurred_at, amount_minor, commission) VALUES {}",
            crate::values_list(s.backend, chunk.len(), LINE_COLUMNS)
        );
        let mut q = sqlx::query(&sql);
        for (i, l) in chunk.iter().enumerate() {
            q = q
                .bind(r.id.clone())
                .bind((chunk_no * LINES_PER_INSERT + i) as i64)
                .bind(l.kind.as_str())
                .bind(l.source_id.clone())
                .bind(l.order_id.clone())
                .bind(to_unix_ms(l.occurred_at))
                .bind(l.amount_minor)
                .bind(l.commission.to_decimal());
        }
        q.execute(&mut *tx).await?;
    }
    // The commission the seller statements moved into the resellers' clearing account
    // becomes this reseller's.
    if t.commission_minor != 0 {
        let m = Movement {
            from: accounts::RESELLER_PAYABLE,
            from_party: None,
            to: accounts::RESELLER_PAYABLE,
            to_party: Some(r.reseller_id.as_str()),
            amount: t.commission_minor,
            memo: "reseller statement",
        };
        post(&mut tx, &r.id, r.currency, &m, now).await?;
    }
    insert_notice(&mut tx, &r.reseller_id, &n.notice, Some(&r.id), now).await?;
    let detail = serde_json::json!({
        "period": r.period, "lines": n.lines.len(), "net_minor": t.net_minor,
        "state": r.state.as_str(),
    });
    audit(
        &mut tx,
        now,
        None,
        "reseller_statement.issued",
        &r.id,
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn reseller_statements(
    s: &SqlStore,
    scope: &Scope,
    filter: &ResellerStatementFilter,
    page: &Page,
) -> StoreResult<Vec<ResellerStatementRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM reseller_statements WHERE ($1 IS NULL OR reseller_id = $1) \
         AND ($2 IS NULL OR period = $2) AND ($3 IS NULL OR id > $3) \
         AND ($5 IS NULL OR state = $5) AND ($6 = 0 OR (overdue_at IS NOT NULL \
         AND state IN ('awaiting_invoice', 'invoice_error'))) ORDER BY id LIMIT $4",
    )
    .bind(scope.tenant().map(str::to_owned))
    .bind(filter.period.clone())
    .bind(page.after.clone())
    .bind(page.limit as i64)
    .bind(filter.state.map(|s| s.as_str().to_owned()))
    .bind(filter.overdue as i64)
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(statement_from_row).collect()
}

pub(super) async fn reseller_statement(
    s: &SqlStore,
    scope: &Scope,
    id: &str,
) -> StoreResult<Option<ResellerStatementRecord>> {
    let row = sqlx::query(
        "SELECT * FROM reseller_statements WHERE id = $1 AND ($2 IS NULL OR reseller_id = $2)",
    )
    .bind(id)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(statement_from_row).transpose()
}

pub(super) async fn reseller_statement_lines(
    s: &SqlStore,
    id: &str,
) -> StoreResult<Vec<ResellerLine>> {
    let rows =
        sqlx::query("SELECT * FROM reseller_statement_lines WHERE statement_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&s.read)
            .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let commission: String = r.try_get("commission")?;
            Ok(ResellerLine {
                kind: LineKind::from_str(&kind).map_err(|e| corrupt("kind", e))?,
                source_id: r.try_get("source_id")?,
                order_id: r.try_get("order_id")?,
                occurred_at: from_unix_ms(r.try_get("occurred_at")?),
                amount_minor: r.try_get("amount_minor")?,
                commission: Exact::from_decimal(&commission)
                    .ok_or_else(|| corrupt("commission", &commission))?,
            })
        })
        .collect()
}

pub(super) async fn reseller_statement_sources(
    s: &SqlStore,
    id: &str,
) -> StoreResult<Vec<ResellerItem>> {
    let mut out: Vec<(i64, ResellerItem)> = Vec::new();
    let rows = sqlx::query(&format!(
        "SELECT s.*, l.seq FROM ({SALES_SELECT}) s JOIN reseller_statement_lines l \
         ON l.source_id = s.id WHERE l.statement_id = $1 AND l.kind <> 'refund'"
    ))
    .bind(id)
    .fetch_all(&s.read)
    .await?;
    for r in &rows {
        if let Some(item) = sale_item(r)? {
            if let Some(s) = reseller_source(r, item)? {
                out.push((r.try_get("seq")?, s.item));
            }
        }
    }
    // Deductions: after-sale refunds and the operator's refund adjustments.
    type ItemOf = fn(&AnyRow) -> StoreResult<souk_core::settlement::Item>;
    let deductions: [(&str, ItemOf); 2] = [
        (REFUNDS_SELECT, refund_item),
        (ADJUSTMENTS_SELECT, adjustment_item),
    ];
    for (select, item_of) in deductions {
        let rows = sqlx::query(&format!(
            "SELECT s.*, l.seq FROM ({select}) s JOIN reseller_statement_lines l \
             ON l.source_id = s.id WHERE l.statement_id = $1 AND l.kind = 'refund'"
        ))
        .bind(id)
        .fetch_all(&s.read)
        .await?;
        for r in &rows {
            if let Some(s) = reseller_source(r, item_of(r)?)? {
                out.push((r.try_get("seq")?, s.item));
            }
        }
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out.into_iter().map(|(_, i)| i).collect())
}
