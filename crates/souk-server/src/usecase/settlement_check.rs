//! The reproducibility check (issue 12, item 7): every statement recomputed from the order
//! history and the recorded refunds and adjustments, with the policies it was issued under,
//! must equal the stored one to the minor unit; every settlement-ledger balance must equal what
//! the statements say it is; every movement must sum to zero; and every buyer's ledger must
//! agree with the orders it paid and got refunds for.

use crate::error::AppResult;
use crate::AppState;
use souk_core::settlement::{compute, StatementInput, StatementState, Totals};
use souk_store::{accounts, Scope, StatementRecord};
use std::collections::BTreeMap;

/// One thing that does not add up.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Discrepancy {
    /// The statement, account or order concerned.
    pub subject: String,
    /// What differs.
    pub what: String,
    pub stored: String,
    pub recomputed: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    pub statements_checked: usize,
    pub accounts_checked: usize,
    pub orders_checked_against_buyer_ledger: bool,
    /// Empty when everything reproduces.
    pub discrepancies: Vec<Discrepancy>,
}

fn diff(out: &mut Vec<Discrepancy>, subject: &str, what: &str, stored: i64, recomputed: i64) {
    if stored != recomputed {
        out.push(Discrepancy {
            subject: subject.to_owned(),
            what: what.to_owned(),
            stored: stored.to_string(),
            recomputed: recomputed.to_string(),
        });
    }
}

fn compare_totals(out: &mut Vec<Discrepancy>, id: &str, s: &Totals, r: &Totals) {
    let pairs = [
        ("gross_minor", s.gross_minor, r.gross_minor),
        ("refunds_minor", s.refunds_minor, r.refunds_minor),
        (
            "adjustments_minor",
            s.adjustments_minor,
            r.adjustments_minor,
        ),
        (
            "platform_fee_minor",
            s.platform_fee_minor,
            r.platform_fee_minor,
        ),
        ("rebate_minor", s.rebate_minor, r.rebate_minor),
        ("commission_minor", s.commission_minor, r.commission_minor),
        ("carried_in_minor", s.carried_in_minor, r.carried_in_minor),
        ("net_minor", s.net_minor, r.net_minor),
        ("payable_minor", s.payable_minor, r.payable_minor),
        (
            "carried_forward_minor",
            s.carried_forward_minor,
            r.carried_forward_minor,
        ),
    ];
    for (what, a, b) in pairs {
        diff(out, id, what, a, b);
    }
}

/// Checks every statement (of one period, or all) and every ledger.
pub async fn check(state: &AppState, period: Option<&str>) -> AppResult<CheckReport> {
    let mut out = Vec::new();
    let all_ids = state.store.statement_ids(None).await?;
    let mut all: Vec<StatementRecord> = Vec::with_capacity(all_ids.len());
    for id in &all_ids {
        if let Some(s) = state.store.statement(&Scope::Everything, id).await? {
            all.push(s);
        }
    }
    // Carried amounts chain: each statement brings in what the seller's previous one left.
    all.sort_by(|a, b| {
        (a.seller_id.as_str(), a.currency.as_str(), &a.period).cmp(&(
            b.seller_id.as_str(),
            b.currency.as_str(),
            &b.period,
        ))
    });
    let mut previous: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut checked = 0;
    for s in &all {
        let key = (
            s.seller_id.as_str().to_owned(),
            s.currency.as_str().to_owned(),
        );
        let expected_in = previous
            .insert(key, s.totals.carried_forward_minor)
            .unwrap_or(0);
        if period.is_some_and(|p| p != s.period) {
            continue;
        }
        checked += 1;
        let items = state.store.statement_sources(&s.id).await?;
        let input = StatementInput {
            period_start: s.period_start,
            items,
            policies: s.policies.clone(),
            default_policy: s.default_policy.clone(),
            carried_in_minor: expected_in,
        };
        let stored_lines = state.store.statement_lines(&s.id).await?;
        match compute(&input) {
            Ok(r) => {
                compare_totals(&mut out, &s.id, &s.totals, &r.totals);
                if r.lines != stored_lines {
                    let differing = r
                        .lines
                        .iter()
                        .zip(&stored_lines)
                        .find(|(a, b)| a != b)
                        .map(|(a, _)| a.source_id.clone())
                        .unwrap_or_else(|| "(a missing or extra line)".to_owned());
                    out.push(Discrepancy {
                        subject: s.id.clone(),
                        what: format!("lines (first difference: {differing})"),
                        stored: stored_lines.len().to_string(),
                        recomputed: r.lines.len().to_string(),
                    });
                }
            }
            Err(e) => out.push(Discrepancy {
                subject: s.id.clone(),
                what: "sources".to_owned(),
                stored: "a valid statement".to_owned(),
                recomputed: e.to_string(),
            }),
        }
    }
    let resellers = super::reseller_check::all_statements(state).await?;
    checked += super::reseller_check::recompute(state, &resellers, period, &mut out).await?;
    let accounts_checked = check_ledger(state, &all, &resellers, &mut out).await?;
    super::fee_invoices::check_amounts(state, &mut out).await?;
    for m in state.store.buyer_ledger_mismatches().await? {
        out.push(Discrepancy {
            subject: m.order_id.to_string(),
            what: format!("buyer ledger of a {} order", m.state),
            stored: format!("debited {}, refunded {}", m.debited_minor, m.refunded_minor),
            recomputed: format!("order amount {}", m.amount_minor),
        });
    }
    // Vouchers (§8.2): each balance is its face plus its movements, and each paid order took
    // exactly its voucher part.
    for m in state.store.voucher_mismatches().await? {
        out.push(Discrepancy {
            subject: m.voucher_id,
            what: m.what,
            stored: m.stored.to_string(),
            recomputed: m.recomputed.to_string(),
        });
    }
    Ok(CheckReport {
        statements_checked: checked,
        accounts_checked,
        orders_checked_against_buyer_ledger: true,
        discrepancies: out,
    })
}

/// Each account's balance (the sum of its entries) against what the statements say.
async fn check_ledger(
    state: &AppState,
    statements: &[StatementRecord],
    resellers: &[souk_store::ResellerStatementRecord],
    out: &mut Vec<Discrepancy>,
) -> AppResult<usize> {
    for (movement, sum) in state.store.unbalanced_movements().await? {
        diff(out, &movement, "movement does not balance", sum, 0);
    }
    // (account, party, currency) → expected balance.
    let mut expected: BTreeMap<(String, Option<String>, String), i64> = BTreeMap::new();
    let mut add = |account: &str, party: Option<&str>, currency: &str, v: i64| {
        *expected
            .entry((
                account.to_owned(),
                party.map(str::to_owned),
                currency.to_owned(),
            ))
            .or_default() += v;
    };
    for s in statements {
        let t = &s.totals;
        let (seller, cur) = (Some(s.seller_id.as_str()), s.currency.as_str());
        let sales = t.gross_minor + t.refunds_minor + t.adjustments_minor;
        add(accounts::BUYER_RECEIPTS, None, cur, -sales);
        add(
            accounts::SELLER_PAYABLE,
            seller,
            cur,
            sales - t.platform_fee_minor + t.rebate_minor - t.commission_minor,
        );
        add(
            accounts::PLATFORM_FEE_INCOME,
            None,
            cur,
            t.platform_fee_minor - t.rebate_minor,
        );
        add(accounts::RESELLER_PAYABLE, None, cur, t.commission_minor);
        if s.state == StatementState::Paid {
            add(accounts::SELLER_PAYABLE, seller, cur, -t.payable_minor);
            add(accounts::PAYOUTS, seller, cur, t.payable_minor);
        }
    }
    // A reseller statement moves its commission from the clearing account (what the seller
    // statements moved there) to the reseller; paying it moves it out.
    for r in resellers {
        let (reseller, cur, t) = (Some(r.reseller_id.as_str()), r.currency.as_str(), &r.totals);
        add(accounts::RESELLER_PAYABLE, None, cur, -t.commission_minor);
        add(
            accounts::RESELLER_PAYABLE,
            reseller,
            cur,
            t.commission_minor,
        );
        if r.state == souk_core::settlement::reseller_workflow::ResellerStatementState::Paid {
            add(accounts::RESELLER_PAYABLE, reseller, cur, -t.payable_minor);
            add(accounts::PAYOUTS, reseller, cur, t.payable_minor);
        }
    }
    let mut actual: BTreeMap<(String, Option<String>, String), i64> = state
        .store
        .account_balances()
        .await?
        .into_iter()
        .map(|b| ((b.account, b.party_id, b.currency), b.balance_minor))
        .collect();
    let keys: Vec<_> = expected.keys().chain(actual.keys()).cloned().collect();
    let mut checked = 0;
    for key in keys {
        let want = expected.remove(&key);
        let have = actual.remove(&key);
        if want.is_none() && have.is_none() {
            continue;
        }
        checked += 1;
        let subject = match &key.1 {
            Some(p) => format!("{}:{p}:{}", key.0, key.2),
            None => format!("{}:{}", key.0, key.2),
        };
        diff(
            out,
            &subject,
            "ledger balance",
            have.unwrap_or(0),
            want.unwrap_or(0),
        );
    }
    Ok(checked)
}
