//! Settlement (business rules §8, §9): the monthly run, fee policies, refunds and corrections
//! to settle, the statement workflow and the reproducibility check.
//!
//! The run gathers what is unsettled and attributed before the period's end, groups it by
//! seller and currency, computes each statement with `souk_core::settlement::compute` and
//! issues the statements in batches: one transaction per batch, each statement in it whole or
//! not at all (a crash leaves whole statements or none). A seller that already has a statement for the
//! period is skipped (statements are immutable); what it would have added rolls into its next
//! period, like every never-settled item.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::id::OrderId;
use souk_core::money::Money;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::notice::{statement_issued, statement_moved};
use souk_core::settlement::{
    compute, FeePolicy, Item, LineKind, Period, Rate, StatementAction, StatementInput,
    StatementState, Tier,
};
use souk_core::transition::StateMachine;
use souk_store::{
    NewAdjustment, NewStatement, Scope, SettlementSource, StatementMove, StatementRecord,
    StoreError,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// What a run did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RunReport {
    pub period: String,
    /// Statements issued by this run.
    pub statements_issued: usize,
    /// Sellers skipped because they already have a statement for the period.
    pub sellers_skipped: usize,
    /// Orders, refunds and adjustments settled.
    pub items_settled: usize,
}

fn zone(state: &AppState) -> AppResult<time::UtcOffset> {
    state.config.settlement.zone().map_err(AppError::internal)
}

fn default_policy(state: &AppState) -> AppResult<FeePolicy> {
    state
        .config
        .settlement
        .default_policy()
        .map_err(AppError::internal)
}

/// Parses `YYYYMM` from a client.
pub fn parse_period(s: &str) -> AppResult<Period> {
    Period::parse(s).map_err(|e| AppError::invalid_field("period", e.to_string()))
}

/// Settles `period`: one statement per seller (and currency) with something to settle.
pub async fn run_period(
    state: &AppState,
    period: Period,
    now: OffsetDateTime,
) -> AppResult<RunReport> {
    let zone = zone(state)?;
    if !period.is_closed(now, zone) {
        return Err(AppError::conflict(
            "period_open",
            format!("{period} is not over yet; a month is settled after it ends"),
        ));
    }
    let default = default_policy(state)?;
    state.store.start_run(&period.id(), now).await?;
    let started = Instant::now();
    let mut groups: BTreeMap<(String, String), Vec<SettlementSource>> = BTreeMap::new();
    let unsettled = state.store.unsettled(period.end(zone)).await?;
    let gathered = started.elapsed();
    for s in unsettled {
        let key = (
            s.seller_id.as_str().to_owned(),
            s.currency.as_str().to_owned(),
        );
        groups.entry(key).or_default().push(s);
    }
    let mut report = RunReport {
        period: period.id(),
        statements_issued: 0,
        sellers_skipped: 0,
        items_settled: 0,
    };
    let (mut prepared, mut issuing) = (Duration::ZERO, Duration::ZERO);
    let mut batch: Vec<NewStatement> = Vec::new();
    let mut batch_lines = 0;
    let mut groups = groups.into_values().peekable();
    while let Some(sources) = groups.next() {
        let t = Instant::now();
        let n = prepare(state, period, now, &default, sources).await?;
        prepared += t.elapsed();
        batch_lines += n.lines.len();
        batch.push(n);
        if batch_lines >= BATCH_LINES || batch.len() >= BATCH_SELLERS || groups.peek().is_none() {
            let t = Instant::now();
            issue(state, &mut report, std::mem::take(&mut batch), now).await?;
            issuing += t.elapsed();
            batch_lines = 0;
        }
    }
    state
        .store
        .finish_run(&period.id(), report.statements_issued, now)
        .await?;
    tracing::info!(period = %report.period, issued = report.statements_issued,
        items = report.items_settled, gather_ms = gathered.as_millis() as u64,
        prepare_ms = prepared.as_millis() as u64, issue_ms = issuing.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64, "settlement run");
    Ok(report)
}

/// Statements are issued in batches of whole statements, one transaction each (see
/// `issue_statements`): up to this many lines — a few hundred milliseconds of SQLite's single
/// write lock, which payments wait for — or this many sellers.
const BATCH_LINES: usize = 20_000;
const BATCH_SELLERS: usize = 200;

/// Computes one seller's statement (in one currency) from its sources.
async fn prepare(
    state: &AppState,
    period: Period,
    now: OffsetDateTime,
    default: &FeePolicy,
    sources: Vec<SettlementSource>,
) -> AppResult<NewStatement> {
    let zone = zone(state)?;
    let (seller, currency) = (sources[0].seller_id.clone(), sources[0].currency);
    let usage_charges: Vec<(String, String)> = sources
        .iter()
        .flat_map(|s| {
            s.usage_charges
                .iter()
                .map(|c| (c.clone(), s.item.source_id.clone()))
        })
        .collect();
    let items: Vec<Item> = sources.into_iter().map(|s| s.item).collect();
    let mut products: Vec<String> = items.iter().filter_map(|i| i.product_id.clone()).collect();
    products.sort();
    products.dedup();
    let policies = state.store.fee_policies(&products).await?;
    let (carried_in, _) = state.store.carried_in(&seller, currency).await?;
    let input = StatementInput {
        period_start: period.start(zone),
        items,
        policies,
        default_policy: default.clone(),
        carried_in_minor: carried_in,
    };
    let computed = compute(&input).map_err(AppError::internal)?;
    let id = souk_core::id::generate("stm", now);
    let net = Money::new(computed.totals.net_minor, currency);
    Ok(NewStatement {
        record: StatementRecord {
            id: id.clone(),
            seller_id: seller,
            period: period.id(),
            currency,
            state: StatementState::START,
            period_start: input.period_start,
            totals: computed.totals,
            policies: input.policies,
            default_policy: input.default_policy,
            invoice_number: None,
            issued_at: now,
            updated_at: now,
            due_at: None,
        },
        notice: statement_issued(&period.id(), &id, net),
        lines: computed.lines,
        usage_charges,
    })
}

/// Issues a batch and counts it in the report.
async fn issue(
    state: &AppState,
    report: &mut RunReport,
    batch: Vec<NewStatement>,
    now: OffsetDateTime,
) -> AppResult<()> {
    let issued = state.store.issue_statements(&batch, now).await?;
    for (n, issued) in batch.iter().zip(issued) {
        if issued {
            report.statements_issued += 1;
            // Every line but the computed rebates is one settled item.
            report.items_settled += n
                .lines
                .iter()
                .filter(|l| l.kind != LineKind::Rebate)
                .count();
        } else {
            // Another run got there first (this seller's statement, or one of its items).
            report.sellers_skipped += 1;
        }
    }
    Ok(())
}

/// The timer pass: on the run day, settle the period that became due, once.
pub async fn due_run(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let cfg = &state.config.settlement;
    if !cfg.run {
        return Ok(0);
    }
    let period = Period::due(now, cfg.seller_run_day, cfg.zone()?);
    if state.store.run_done(&period.id()).await? {
        return Ok(0);
    }
    let report = run_period(state, period, now)
        .await
        .map_err(|e| anyhow::anyhow!("settlement run {period}: {}", e.message))?;
    Ok(report.statements_issued)
}

/// Sets a product's fee policy (operator).
pub async fn set_fee_policy(
    state: &AppState,
    actor: &PartyId,
    product_id: &str,
    policy: FeePolicy,
) -> AppResult<FeePolicy> {
    policy
        .validate()
        .map_err(|e| AppError::invalid_field("tiers", e.to_string()))?;
    if !state
        .store
        .set_fee_policy(product_id, &policy, actor, state.clock.now())
        .await?
    {
        return Err(AppError::not_found("product"));
    }
    Ok(policy)
}

/// A product's effective policy and whether it is the marketplace default.
pub async fn fee_policy(
    state: &AppState,
    scope: &Scope,
    product_id: &str,
) -> AppResult<(FeePolicy, bool)> {
    match state.store.fee_policy(scope, product_id).await? {
        None => Err(AppError::not_found("product")),
        Some(Some(p)) => Ok((p, false)),
        Some(None) => Ok((default_policy(state)?, true)),
    }
}

/// The effective policies of these products, each with whether it is the marketplace default.
pub async fn effective_fee_policies(
    state: &AppState,
    product_ids: &[String],
) -> AppResult<Vec<(FeePolicy, bool)>> {
    let own = state.store.fee_policies(product_ids).await?;
    let default = default_policy(state)?;
    Ok(product_ids
        .iter()
        .map(|id| match own.get(id) {
            Some(p) => (p.clone(), false),
            None => (default.clone(), true),
        })
        .collect())
}

/// A policy from the figures a person or a client gives: the fee rate, the rebate bands as
/// (threshold in minor units, rate) — none means one band at the fee rate, no rebate — and a
/// joint product's seller share; every rate in basis points. Checked by [`set_fee_policy`].
pub fn fee_policy_from(
    rate_bp: u32,
    tiers: Option<Vec<(i64, u32)>>,
    seller_share_bp: Option<u32>,
) -> AppResult<FeePolicy> {
    let rate = |field: &str, bp: u32| {
        Rate::from_bp(bp).map_err(|e| AppError::invalid_field(field, e.to_string()))
    };
    let fee = rate("rate_bp", rate_bp)?;
    let tiers = match tiers {
        None => FeePolicy::flat(fee).tiers,
        Some(t) => t
            .into_iter()
            .map(|(from_minor, bp)| {
                Ok(Tier {
                    from_minor,
                    rate_bp: rate("tiers", bp)?,
                })
            })
            .collect::<AppResult<_>>()?,
    };
    Ok(FeePolicy {
        rate_bp: fee,
        tiers,
        seller_share_bp: seller_share_bp
            .map(|s| rate("seller_share_bp", s))
            .transpose()?,
    })
}

/// What an operator records for the next statement.
pub struct AdjustmentRequest {
    pub seller_id: PartyId,
    pub kind: LineKind,
    pub order_id: Option<String>,
    pub product_id: Option<String>,
    pub amount: Money,
    pub reason: String,
}

/// Records a refund of a settled sale, or a correction, for the seller's next statement.
/// A refund must name the seller's order and be at most what was paid for it, and negative.
pub async fn record_adjustment(
    state: &AppState,
    actor: &PartyId,
    req: AdjustmentRequest,
) -> AppResult<String> {
    let now = state.clock.now();
    req.amount
        .bounded()
        .map_err(|e| AppError::invalid_field("amount", e.to_string()))?;
    if req.reason.trim().is_empty() || req.reason.chars().count() > 500 {
        return Err(AppError::invalid_field(
            "reason",
            "say why in 1 to 500 characters",
        ));
    }
    // Parsed once: from here on the order is a typed id (a malformed one names no order).
    let order_id = req
        .order_id
        .as_deref()
        .map(|s| {
            OrderId::parse(s)
                .ok_or_else(|| AppError::invalid_field("order_id", "not a Souk order id (ord_…)"))
        })
        .transpose()?;
    let mut product_id = req.product_id.clone();
    match req.kind {
        LineKind::Refund => {
            let order_id = order_id.as_ref().ok_or_else(|| {
                AppError::invalid_field("order_id", "a refund names the order it returns money for")
            })?;
            let order = state
                .store
                .find_order(&Scope::Party(req.seller_id.clone()), order_id)
                .await?
                .ok_or_else(|| AppError::not_found("order"))?;
            if order.amount.currency != req.amount.currency {
                return Err(AppError::invalid_field(
                    "amount",
                    "use the order's currency",
                ));
            }
            // At most what the buyer paid in cash (a seller voucher's part was paid to nobody).
            let amount = req.amount.amount_minor;
            if amount >= 0 || -amount > order.cash().amount_minor {
                return Err(AppError::invalid_field(
                    "amount",
                    format!(
                        "a refund is negative and at most the order's cash part {}",
                        order.cash()
                    ),
                ));
            }
            product_id = Some(order.product_id);
        }
        LineKind::Adjustment => {
            if req.amount.amount_minor == 0 {
                return Err(AppError::invalid_field(
                    "amount",
                    "an adjustment is not zero",
                ));
            }
        }
        _ => {
            return Err(AppError::invalid_field(
                "kind",
                "kind is `refund` or `adjustment`",
            ))
        }
    }
    let id = souk_core::id::generate("adj", now);
    let a = NewAdjustment {
        id: id.clone(),
        seller_id: req.seller_id,
        kind: req.kind,
        order_id,
        product_id,
        amount_minor: req.amount.amount_minor,
        currency: req.amount.currency,
        reason: req.reason,
        occurred_at: now,
    };
    if !state.store.record_adjustment(&a, actor, now).await? {
        return Err(AppError::not_found("seller"));
    }
    Ok(id)
}

/// Who moves a statement.
pub struct Mover<'a> {
    pub role: Role,
    pub actor: &'a PartyId,
}

/// Moves a statement one step (§9), as its seller or the operator.
pub async fn move_statement(
    state: &AppState,
    scope: &Scope,
    by: Mover<'_>,
    id: &str,
    action: StatementAction,
    reason: Option<String>,
) -> AppResult<StatementRecord> {
    let now = state.clock.now();
    let current = state
        .store
        .statement(scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("statement"))?;
    let transition = current.state.take(action, by.role).map_err(|e| match e {
        souk_core::settlement::WorkflowError::WrongActor(..) => AppError::forbidden(e.to_string()),
        e => AppError::conflict("statement_state", e.to_string()),
    })?;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if action.needs_reason() && reason.is_none() {
        return Err(AppError::invalid_field("reason", "say what is wrong"));
    }
    // The invoice is a file with its number, amount and rate: it has its own upload, which
    // takes this same workflow step (`usecase::statement_invoices::submit`).
    if action == StatementAction::SubmitInvoice {
        return Err(AppError::invalid_field(
            "action",
            format!(
                "submit the invoice with its file: POST /v1/statements/{id}/invoices \
                 (invoice_number, amount_minor, tax_rate_bp, filename)"
            ),
        ));
    }
    let m = StatementMove {
        id: id.to_owned(),
        transition,
        action,
        notice: statement_moved(id, transition.to, reason.as_deref()),
        reason,
        invoice_number: None,
        invoice_file: None,
        due_at: super::statement_deadlines::due_at(state, transition.to, now)?,
    };
    // A lost race is the answer the caller would have had a moment later: wrong state.
    match state
        .store
        .move_statement(scope, &m, Some(by.actor), now)
        .await
    {
        Err(StoreError::LostRace { .. }) => Err(AppError::conflict(
            "statement_state",
            "the statement changed meanwhile; read it again and retry",
        )),
        r => Ok(r?),
    }
}
