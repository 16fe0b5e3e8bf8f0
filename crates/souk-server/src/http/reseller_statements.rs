//! Reseller performance (T+1, with CSV) and the resellers' monthly statements over HTTP: the
//! reseller its own, the operator all (and the run and the payment).

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::reseller_examples as ex;
use super::resellers::rfc3339;
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::{Caller, OperatorCaller};
use crate::usecase::resellers::{self as uc, ResellerRunReport};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::id::OrderId;
use souk_core::money::Currency;
use souk_core::party::{PartyId, Role};
use souk_core::settlement::reseller::ResellerTotals;
use souk_core::settlement::reseller_workflow::ResellerStatementState;
use souk_core::settlement::{LineKind, StatementAction};
use souk_store::{ResellerStatementFilter, ResellerStatementRecord};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reseller-performance", get(performance))
        .route("/v1/reseller-performance.csv", get(performance_csv))
        .route("/v1/settlement/reseller-runs", post(run_resellers))
        .route("/v1/reseller-statements", get(list_reseller_statements))
        .route("/v1/reseller-statements/{id}", get(get_reseller_statement))
        .route(
            "/v1/reseller-statements/{id}/lines.csv",
            get(reseller_statement_csv),
        )
        .route(
            "/v1/reseller-statements/{id}/pay",
            post(pay_reseller_statement),
        )
}

/// One of the reseller's orders in its performance.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PerformanceView {
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub product_id: String,
    pub kind: String,
    pub state: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub paid_at: OffsetDateTime,
    pub currency: Currency,
    /// Cash amount of the order.
    pub amount_minor: i64,
    /// Refunded to the buyer so far.
    pub refunded_minor: i64,
    pub offer_id: Option<String>,
    /// Commission at the order's terms on what was not refunded, exact (four places); the
    /// statement rounds only its total.
    pub commission: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerPerformance {
    pub buyer_id: PartyId,
    pub orders: u32,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    pub commission: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::performance)]
pub struct Performance {
    /// Orders paid before today (business zone): performance is visible T+1.
    pub orders: Vec<PerformanceView>,
    pub customers: Vec<CustomerPerformance>,
}

async fn performance_rows(state: &AppState, caller: &Caller) -> AppResult<Vec<PerformanceView>> {
    caller.require(&[Role::Reseller])?;
    performance_views(state, caller.party_id()).await
}

/// A reseller's performance rows (also the console's).
pub async fn performance_views(
    state: &AppState,
    reseller: &PartyId,
) -> AppResult<Vec<PerformanceView>> {
    let rows = uc::performance(state, reseller).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let kept = r.amount.amount_minor - r.refunded_minor;
            PerformanceView {
                commission: r.terms.commission(kept, r.amount.amount_minor).to_decimal(),
                order_id: r.order_id,
                buyer_id: r.buyer_id,
                product_id: r.product_id,
                kind: r.kind,
                state: r.state,
                paid_at: r.paid_at,
                currency: r.amount.currency,
                amount_minor: r.amount.amount_minor,
                refunded_minor: r.refunded_minor,
                offer_id: r.offer_id,
            }
        })
        .collect())
}

/// The reseller's performance per order and per customer, T+1 (reseller).
#[utoipa::path(get, path = "/v1/reseller-performance", tag = "resellers",
    responses((status = 200, body = Performance), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn performance(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Performance>> {
    let orders = performance_rows(&state, &caller).await?;
    let mut by: BTreeMap<String, CustomerPerformance> = BTreeMap::new();
    let mut exact: BTreeMap<String, souk_core::settlement::Exact> = BTreeMap::new();
    for o in &orders {
        let c = by
            .entry(o.buyer_id.to_string())
            .or_insert_with(|| CustomerPerformance {
                buyer_id: o.buyer_id.clone(),
                orders: 0,
                amount_minor: 0,
                refunded_minor: 0,
                commission: String::new(),
            });
        c.orders += 1;
        c.amount_minor += o.amount_minor;
        c.refunded_minor += o.refunded_minor;
        let e = exact.entry(o.buyer_id.to_string()).or_default();
        *e = *e + souk_core::settlement::Exact::from_decimal(&o.commission).unwrap_or_default();
    }
    let customers = by
        .into_iter()
        .map(|(k, mut c)| {
            c.commission = exact.get(&k).copied().unwrap_or_default().to_decimal();
            c
        })
        .collect();
    Ok(Json(Performance { orders, customers }))
}

/// The reseller's performance per order as CSV (reseller).
#[utoipa::path(get, path = "/v1/reseller-performance.csv", tag = "resellers",
    responses((status = 200, content_type = "text/csv", body = String, example = json!(ex::PERFORMANCE_CSV)), (status = 403, description = "`forbidden`: resellers only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn performance_csv(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<impl IntoResponse> {
    let rows = performance_rows(&state, &caller).await?;
    Ok(csv(
        "reseller-performance.csv".to_owned(),
        super::settlement_csv::performance_csv(&rows),
    ))
}

fn csv(filename: String, body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period": "202611"}))]
pub struct ResellerRunBody {
    /// The month to settle, `YYYYMM`; it must be over.
    #[schema(pattern = "^([2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(0[1-9]|1[0-2])$")]
    pub period: String,
}

/// Run (or re-run) the resellers' settlement of a closed month (operator). Idempotent.
#[utoipa::path(post, path = "/v1/settlement/reseller-runs", tag = "resellers", request_body = ResellerRunBody,
    responses((status = 200, body = ResellerRunReport, example = ex::run_report), (status = 403, description = "`forbidden`: operator only", body = ErrorEnvelope),
        (status = 409, description = "`period_open`: the month is not over", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: the period is not YYYYMM", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn run_resellers(
    State(state): State<AppState>,
    _operator: OperatorCaller,
    ApiJson(body): ApiJson<ResellerRunBody>,
) -> AppResult<Json<ResellerRunReport>> {
    let period = crate::usecase::settlement::parse_period(&body.period)?;
    Ok(Json(
        uc::run_period(&state, period, state.clock.now()).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement)]
pub struct ResellerStatementView {
    pub id: String,
    pub reseller_id: PartyId,
    pub period: String,
    pub currency: Currency,
    /// `issued` (nothing payable: final), `awaiting_invoice`, `invoice_review`,
    /// `invoice_error`, `payment_review`, `payment_error` or `paid`.
    pub state: ResellerStatementState,
    pub totals: ResellerTotals,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub issued_at: OffsetDateTime,
    /// When the reseller's invoices are due (`invoice.reseller_months` after the notice).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub invoice_due_at: Option<OffsetDateTime>,
    /// Flagged by the overdue pass: the invoices were not submitted by the due time.
    pub overdue: bool,
    /// The last rejection's reason (invoices or payment data).
    pub reason: Option<String>,
    /// In `payment_review`: the payout is due by then (`settlement.reseller_cashout_working_days`
    /// after the invoices' approval or the resubmitted payment data).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub payout_due_at: Option<OffsetDateTime>,
    /// The payout is past its due time.
    pub payout_overdue: bool,
}

/// A reseller statement as the API shows it, with its payout due time.
pub fn view(state: &AppState, s: ResellerStatementRecord) -> AppResult<ResellerStatementView> {
    let payout_due_at = crate::usecase::reseller_statements::cashout_due(state, &s)?;
    Ok(ResellerStatementView {
        payout_overdue: payout_due_at.is_some_and(|d| state.clock.now() > d),
        payout_due_at,
        ..s.into()
    })
}

impl From<ResellerStatementRecord> for ResellerStatementView {
    fn from(s: ResellerStatementRecord) -> Self {
        ResellerStatementView {
            payout_due_at: None,
            payout_overdue: false,
            id: s.id,
            reseller_id: s.reseller_id,
            period: s.period,
            currency: s.currency,
            state: s.state,
            totals: s.totals,
            issued_at: s.issued_at,
            invoice_due_at: s.invoice_due_at,
            overdue: s.overdue_at.is_some(),
            reason: s.reason,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResellerLineView {
    pub kind: LineKind,
    pub source_id: String,
    pub order_id: String,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String)]
    pub occurred_at: OffsetDateTime,
    pub amount_minor: i64,
    /// Exact, four places; only the total is rounded.
    pub commission: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement_detail)]
pub struct ResellerStatementDetail {
    #[serde(flatten)]
    pub statement: ResellerStatementView,
    pub lines: Vec<ResellerLineView>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement_list)]
pub struct ResellerStatementList {
    pub data: Vec<ResellerStatementView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ResellerStatementQuery {
    #[param(pattern = "^([2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
    /// Only statements in this state.
    pub state: Option<ResellerStatementState>,
    /// `true`: only statements flagged overdue that still await their invoices.
    pub overdue: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Reseller statements: the reseller's own, or all (operator); by period, state, overdue.
#[utoipa::path(get, path = "/v1/reseller-statements", tag = "resellers", params(ResellerStatementQuery),
    responses((status = 200, body = ResellerStatementList), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_reseller_statements(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ResellerStatementQuery>,
) -> AppResult<Json<ResellerStatementList>> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let period = q
        .period
        .map(|p| crate::usecase::settlement::parse_period(&p).map(|p| p.id()))
        .transpose()
        .map_err(|e| AppError::bad_request("invalid_query", e.message))?;
    let filter = ResellerStatementFilter {
        period,
        state: q.state,
        overdue: q.overdue.unwrap_or(false),
    };
    let data = uc::statements(&state, &caller.scope(), &filter, &page).await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(ResellerStatementList {
        data: data
            .into_iter()
            .map(|s| view(&state, s))
            .collect::<AppResult<_>>()?,
        next_cursor,
    }))
}

async fn visible(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> AppResult<ResellerStatementRecord> {
    caller.require(&[Role::Reseller, Role::Operator])?;
    state
        .store
        .reseller_statement(&caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("reseller statement"))
}

/// A reseller statement with its lines.
#[utoipa::path(get, path = "/v1/reseller-statements/{id}", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = ResellerStatementDetail), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_reseller_statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ResellerStatementDetail>> {
    let s = visible(&state, &caller, &id).await?;
    let lines = state.store.reseller_statement_lines(&id).await?;
    Ok(Json(ResellerStatementDetail {
        statement: view(&state, s)?,
        lines: lines
            .into_iter()
            .map(|l| ResellerLineView {
                kind: l.kind,
                source_id: l.source_id,
                order_id: l.order_id,
                occurred_at: l.occurred_at,
                amount_minor: l.amount_minor,
                commission: l.commission.to_decimal(),
            })
            .collect(),
    }))
}

/// A reseller statement's lines as CSV, totals last.
#[utoipa::path(get, path = "/v1/reseller-statements/{id}/lines.csv", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String, example = json!(ex::STATEMENT_CSV)), (status = 403, description = "`forbidden`: resellers and the operator", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn reseller_statement_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<impl IntoResponse> {
    let s = visible(&state, &caller, &id).await?;
    let lines = state.store.reseller_statement_lines(&id).await?;
    Ok(csv(
        format!("reseller-statement-{}-{}.csv", s.period, s.id),
        super::settlement_csv::reseller_statement_csv(&s, &lines),
    ))
}

/// Pay a reseller statement whose invoices were accepted (operator): `payment_review` →
/// `paid`, the payout leaves the reseller's payable. The same as the `pay` transition.
#[utoipa::path(post, path = "/v1/reseller-statements/{id}/pay", tag = "resellers", params(("id" = String, Path)),
    responses((status = 200, body = ResellerStatementView), (status = 403, description = "`forbidden`: operator only", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: not in payment review (invoices not accepted yet, or paid already)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn pay_reseller_statement(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ResellerStatementView>> {
    let s = crate::usecase::reseller_statements::move_statement(
        &state,
        &caller.scope(),
        Role::Operator,
        caller.party_id(),
        &id,
        StatementAction::Pay,
        None,
    )
    .await?;
    Ok(Json(view(&state, s)?))
}
