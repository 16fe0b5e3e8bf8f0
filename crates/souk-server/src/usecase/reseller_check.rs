//! The reproducibility check of the resellers' statements: each recomputed from the order
//! history and the refunds with the commission terms the orders were sold under, its carried
//! amount chained from the reseller's previous statement.

use super::settlement_check::Discrepancy;
use crate::error::AppResult;
use crate::AppState;
use souk_core::settlement::reseller::reseller_statement;
use souk_store::{Page, ResellerStatementRecord, Scope};
use std::collections::BTreeMap;

/// Every reseller statement, in id order.
pub async fn all_statements(state: &AppState) -> AppResult<Vec<ResellerStatementRecord>> {
    let mut out = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let batch = state
            .store
            .reseller_statements(&Scope::Everything, &Default::default(), &page)
            .await?;
        let full = batch.len() as u32 == page.limit;
        page.after = batch.last().map(|s| s.id.clone());
        out.extend(batch);
        if !full {
            return Ok(out);
        }
    }
}

/// Recomputes the statements (of `period`, or all); returns how many were checked.
pub async fn recompute(
    state: &AppState,
    statements: &[ResellerStatementRecord],
    period: Option<&str>,
    out: &mut Vec<Discrepancy>,
) -> AppResult<usize> {
    let mut sorted: Vec<&ResellerStatementRecord> = statements.iter().collect();
    sorted.sort_by(|a, b| {
        (a.reseller_id.as_str(), a.currency.as_str(), &a.period).cmp(&(
            b.reseller_id.as_str(),
            b.currency.as_str(),
            &b.period,
        ))
    });
    let mut previous: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut checked = 0;
    for s in sorted {
        let key = (s.reseller_id.to_string(), s.currency.as_str().to_owned());
        let carried_in = previous
            .insert(key, s.totals.carried_forward_minor)
            .unwrap_or(0);
        if period.is_some_and(|p| p != s.period) {
            continue;
        }
        checked += 1;
        let items = state.store.reseller_statement_sources(&s.id).await?;
        let (commissions, r) = reseller_statement(&items, carried_in);
        let stored = state.store.reseller_statement_lines(&s.id).await?;
        let same_lines = stored.len() == items.len()
            && stored
                .iter()
                .zip(items.iter().zip(&commissions))
                .all(|(l, (i, c))| {
                    l.source_id == i.source_id
                        && l.amount_minor == i.amount_minor
                        && l.commission == *c
                });
        if !same_lines {
            out.push(Discrepancy {
                subject: s.id.clone(),
                what: "reseller statement lines".to_owned(),
                stored: stored.len().to_string(),
                recomputed: items.len().to_string(),
            });
        }
        let t = &s.totals;
        for (what, a, b) in [
            ("sales_minor", t.sales_minor, r.sales_minor),
            ("refunds_minor", t.refunds_minor, r.refunds_minor),
            ("commission_minor", t.commission_minor, r.commission_minor),
            ("carried_in_minor", t.carried_in_minor, r.carried_in_minor),
            ("net_minor", t.net_minor, r.net_minor),
            ("payable_minor", t.payable_minor, r.payable_minor),
        ] {
            if a != b {
                out.push(Discrepancy {
                    subject: s.id.clone(),
                    what: what.to_owned(),
                    stored: a.to_string(),
                    recomputed: b.to_string(),
                });
            }
        }
    }
    Ok(checked)
}
