//! Settlement over HTTP: fee policies (operator), the monthly run and the reproducibility check
//! (operator), refunds and corrections to settle (operator), statements with their lines, CSV
//! export and workflow (the seller its own, the operator all).

use super::extract::{ApiJson, ApiPath, ApiQuery, PageQuery};
use super::settlement_examples as ex;
use crate::error::{AppError, AppResult, ErrorEnvelope};
use crate::http::auth::{Caller, OperatorCaller};
use crate::usecase::settlement::{self as uc, AdjustmentRequest, RunReport};
use crate::usecase::settlement_check::{self, CheckReport};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use souk_core::id::OrderId;
use souk_core::money::{Currency, Money};
use souk_core::party::{PartyId, Role};
use souk_core::settlement::{FeePolicy, Line, LineKind, StatementAction, StatementState, Totals};
use souk_store::{AuditEvent, Scope, StatementFilter, StatementRecord};
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/products/{id}/fee-policy",
            get(get_fee_policy).put(put_fee_policy),
        )
        .route("/v1/settlement/runs", post(run_settlement))
        .route("/v1/settlement/adjustments", post(record_adjustment))
        .route("/v1/settlement/check", get(check_settlement))
        .route("/v1/statements", get(list_statements))
        .route("/v1/statements/{id}", get(get_statement))
        .route("/v1/statements/{id}/lines.csv", get(statement_csv))
        .route("/v1/statements/{id}/transitions", post(move_statement))
}

fn seller_or_operator(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Seller, Role::Operator])
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = ex::fee_policy_body)]
pub struct FeePolicyBody {
    /// Platform fee rate, basis points (500 = 5 %).
    #[schema(maximum = 10000)]
    pub rate_bp: u32,
    /// Rebate bands, graduated; default one band at the fee rate (no rebate). The first starts
    /// at 0, thresholds increase, no band's rate exceeds the fee rate.
    #[schema(min_items = 1, max_items = 20)]
    pub tiers: Option<Vec<TierBody>>,
    /// Joint products: the seller's share, basis points; the platform keeps the rest.
    #[schema(maximum = 10000)]
    pub seller_share_bp: Option<u32>,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    #[schema(minimum = 0, maximum = 1000000000000000i64)]
    pub from_minor: i64,
    #[schema(maximum = 10000)]
    pub rate_bp: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::fee_policy_view)]
pub struct FeePolicyView {
    pub product_id: String,
    /// True when the product has no policy of its own and uses the marketplace default.
    pub default: bool,
    #[schema(value_type = Object)]
    pub policy: FeePolicy,
}

/// Set a product's platform fee, rebate bands or joint seller share (operator).
#[utoipa::path(put, path = "/v1/products/{id}/fee-policy", tag = "settlement",
    params(("id" = String, Path)), request_body = FeePolicyBody,
    responses((status = 200, body = FeePolicyView), (status = 403, description = "`forbidden`: only the operator sets fees", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a rate above 10000 bp, bands not starting at 0 or not increasing, a band above the fee rate", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn put_fee_policy(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FeePolicyBody>,
) -> AppResult<Json<FeePolicyView>> {
    let policy = uc::fee_policy_from(
        body.rate_bp,
        body.tiers
            .map(|t| t.into_iter().map(|t| (t.from_minor, t.rate_bp)).collect()),
        body.seller_share_bp,
    )?;
    let policy = uc::set_fee_policy(&state, caller.party_id(), &id, policy).await?;
    Ok(Json(FeePolicyView {
        product_id: id,
        default: false,
        policy,
    }))
}

/// A product's fee policy (its seller and the operator).
#[utoipa::path(get, path = "/v1/products/{id}/fee-policy", tag = "settlement",
    params(("id" = String, Path)),
    responses((status = 200, body = FeePolicyView), (status = 403, description = "`forbidden`: sellers and the operator only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_fee_policy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<FeePolicyView>> {
    seller_or_operator(&caller)?;
    let (policy, default) = uc::fee_policy(&state, &caller.scope(), &id).await?;
    Ok(Json(FeePolicyView {
        product_id: id,
        default,
        policy,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period": "202611"}))]
pub struct RunBody {
    /// The month to settle, `YYYYMM`; it must be over.
    #[schema(pattern = "^([2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(0[1-9]|1[0-2])$")]
    pub period: String,
}

/// Run (or re-run) the settlement of a closed month (operator). Idempotent: sellers that
/// already have a statement for the month are skipped.
#[utoipa::path(post, path = "/v1/settlement/runs", tag = "settlement", request_body = RunBody,
    responses((status = 200, body = RunReport, example = ex::run_report), (status = 403, description = "`forbidden`: only the operator runs settlement", body = ErrorEnvelope),
        (status = 409, description = "`period_open`: the month is not over", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: the period is not YYYYMM", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn run_settlement(
    State(state): State<AppState>,
    _operator: OperatorCaller,
    ApiJson(body): ApiJson<RunBody>,
) -> AppResult<Json<RunReport>> {
    let period = uc::parse_period(&body.period)?;
    Ok(Json(
        uc::run_period(&state, period, state.clock.now()).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = ex::adjustment_body)]
pub struct AdjustmentBody {
    pub seller_id: String,
    /// `refund` (money returned for one of the seller's orders) or `adjustment` (a verified
    /// correction).
    #[schema(pattern = "^(refund|adjustment)$")]
    pub kind: String,
    pub order_id: Option<String>,
    pub product_id: Option<String>,
    /// Negative for a refund; either sign for an adjustment.
    pub amount: Money,
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "adj_01m8a2h3k4m5n6p7q8r9s0t1v2"}))]
pub struct AdjustmentCreated {
    pub id: String,
}

/// Record a refund or correction for the seller's next statement (operator).
#[utoipa::path(post, path = "/v1/settlement/adjustments", tag = "settlement", request_body = AdjustmentBody,
    responses((status = 201, body = AdjustmentCreated), (status = 403, description = "`forbidden`: operator only", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such seller, or the order is not the seller's", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: wrong kind, sign, currency, amount above the order, or no reason", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn record_adjustment(
    State(state): State<AppState>,
    OperatorCaller(caller): OperatorCaller,
    ApiJson(body): ApiJson<AdjustmentBody>,
) -> AppResult<(StatusCode, Json<AdjustmentCreated>)> {
    let seller_id = PartyId::parse_as(&body.seller_id, Role::Seller)
        .ok_or_else(|| AppError::not_found("seller"))?;
    let kind = match body.kind.as_str() {
        "refund" => LineKind::Refund,
        "adjustment" => LineKind::Adjustment,
        _ => {
            return Err(AppError::invalid_field(
                "kind",
                "kind is `refund` or `adjustment`",
            ))
        }
    };
    let req = AdjustmentRequest {
        seller_id,
        kind,
        order_id: body.order_id,
        product_id: body.product_id,
        amount: body.amount,
        reason: body.reason,
    };
    let id = uc::record_adjustment(&state, caller.party_id(), req).await?;
    Ok((StatusCode::CREATED, Json(AdjustmentCreated { id })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// Only this period's statements (the ledgers are always checked whole).
    #[param(pattern = "^([2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
}

/// Recompute statements from the order history and check every ledger (operator).
#[utoipa::path(get, path = "/v1/settlement/check", tag = "settlement", params(CheckQuery),
    responses((status = 200, body = CheckReport, example = ex::check_report), (status = 403, description = "`forbidden`: operator only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn check_settlement(
    State(state): State<AppState>,
    _operator: OperatorCaller,
    ApiQuery(q): ApiQuery<CheckQuery>,
) -> AppResult<Json<CheckReport>> {
    let period = q
        .period
        .map(|p| uc::parse_period(&p).map(|p| p.id()))
        .transpose()
        .map_err(|e| AppError::bad_request("invalid_query", e.message))?;
    Ok(Json(
        settlement_check::check(&state, period.as_deref()).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement)]
pub struct StatementView {
    pub id: String,
    pub seller_id: PartyId,
    pub period: String,
    pub currency: Currency,
    pub state: StatementState,
    pub totals: Totals,
    pub invoice_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: OffsetDateTime,
    /// When the statement is due to leave its state (§9): the seller's invoice
    /// (`awaiting_invoice`: it moves to `invoice_error` then), the operator's invoice check
    /// (`invoice_review`) or the payout (`payment_review`); absent in the other states.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub due_at: Option<OffsetDateTime>,
}

impl From<StatementRecord> for StatementView {
    fn from(s: StatementRecord) -> Self {
        StatementView {
            id: s.id,
            seller_id: s.seller_id,
            period: s.period,
            currency: s.currency,
            state: s.state,
            totals: s.totals,
            invoice_number: s.invoice_number,
            issued_at: s.issued_at,
            updated_at: s.updated_at,
            due_at: s.due_at,
        }
    }
}

/// A line; fee, rebate, commission and net are exact decimals in minor units (four places):
/// only the statement totals are rounded.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LineView {
    pub kind: LineKind,
    pub source_id: String,
    pub order_id: Option<OrderId>,
    pub product_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub occurred_at: Option<OffsetDateTime>,
    pub carried: bool,
    pub amount_minor: i64,
    pub platform_fee: String,
    pub rebate: String,
    pub commission: String,
    pub net: String,
}

impl From<Line> for LineView {
    fn from(l: Line) -> Self {
        LineView {
            kind: l.kind,
            source_id: l.source_id,
            order_id: l.order_id,
            product_id: l.product_id,
            occurred_at: l.occurred_at,
            carried: l.carried,
            amount_minor: l.amount_minor,
            platform_fee: l.platform_fee.to_decimal(),
            rebate: l.rebate.to_decimal(),
            commission: l.commission.to_decimal(),
            net: l.net.to_decimal(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement_detail)]
pub struct StatementDetail {
    #[serde(flatten)]
    pub statement: StatementView,
    pub lines: Vec<LineView>,
    /// Every step of the statement: who, when, from which state to which, why.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<AuditEvent>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = ex::statement_list)]
pub struct StatementList {
    pub data: Vec<StatementView>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Only this period (`YYYYMM`).
    #[param(pattern = "^([2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])(0[1-9]|1[0-2])$")]
    pub period: Option<String>,
    /// Only this seller's (operator).
    pub seller_id: Option<String>,
    /// Only statements in this state.
    pub state: Option<StatementState>,
    /// `true`: only statements past their deadline (`due_at`).
    pub overdue: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Statements: the seller's own, or all (operator).
#[utoipa::path(get, path = "/v1/statements", tag = "settlement", params(StatementQuery),
    responses((status = 200, body = StatementList), (status = 403, description = "`forbidden`: sellers and the operator only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_statements(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> AppResult<Json<StatementList>> {
    seller_or_operator(&caller)?;
    let page = PageQuery {
        limit: q.limit,
        after: q.after,
    }
    .page()?;
    let period = q
        .period
        .map(|p| uc::parse_period(&p).map(|p| p.id()))
        .transpose()
        .map_err(|e| AppError::bad_request("invalid_query", e.message))?;
    let filter = StatementFilter {
        period,
        seller_id: q.seller_id,
        state: q.state,
        due_by: (q.overdue == Some(true)).then(|| state.clock.now()),
    };
    let data = state
        .store
        .list_statements(&caller.scope(), &filter, &page)
        .await?;
    let next_cursor = (data.len() as u32 == page.limit)
        .then(|| data.last().map(|s| s.id.clone()))
        .flatten();
    Ok(Json(StatementList {
        data: data.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

async fn visible(state: &AppState, caller: &Caller, id: &str) -> AppResult<StatementRecord> {
    seller_or_operator(caller)?;
    state
        .store
        .statement(&caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("statement"))
}

/// A statement with its lines and its history.
#[utoipa::path(get, path = "/v1/statements/{id}", tag = "settlement", params(("id" = String, Path)),
    responses((status = 200, body = StatementDetail), (status = 403, description = "`forbidden`: sellers and the operator only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<StatementDetail>> {
    let s = visible(&state, &caller, &id).await?;
    let lines = state.store.statement_lines(&id).await?;
    let history = state.store.audit_trail(&Scope::Everything, &id).await?;
    Ok(Json(StatementDetail {
        statement: s.into(),
        lines: lines.into_iter().map(Into::into).collect(),
        history,
    }))
}

/// A statement's lines as CSV, with its totals as the last rows (its seller and the operator).
#[utoipa::path(get, path = "/v1/statements/{id}/lines.csv", tag = "settlement", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/csv", body = String, example = json!(ex::CSV_EXAMPLE)),
        (status = 403, description = "`forbidden`: sellers and the operator only", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn statement_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> AppResult<impl IntoResponse> {
    let s = visible(&state, &caller, &id).await?;
    let lines = state.store.statement_lines(&id).await?;
    let body = super::settlement_csv::statement_csv(&s, &lines);
    let disposition = format!(
        "attachment; filename=\"statement-{}-{}.csv\"",
        s.period, s.id
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"action": "reject_invoice", "reason": "the tax rate is 13 %, the services are 6 %"}))]
pub struct TransitionBody {
    pub action: StatementAction,
    /// Required to reject an invoice or a payment.
    pub reason: Option<String>,
}

/// Move a statement one step: countersign, approve or reject the invoice, pay or reject the
/// payment (operator); resubmit payment data (its seller). The seller submits its invoice with
/// the file: `POST /v1/statements/{id}/invoices`.
#[utoipa::path(post, path = "/v1/statements/{id}/transitions", tag = "settlement", params(("id" = String, Path)),
    request_body = TransitionBody,
    responses((status = 200, body = StatementView), (status = 403, description = "`forbidden`: the action belongs to the other party, or buyers and resellers", body = ErrorEnvelope),
        (status = 409, description = "`statement_state`: the statement is not in a state this action applies to", body = ErrorEnvelope),
        (status = 422, description = "`invalid_field`: a rejection without a reason; `submit_invoice` here (upload the invoice instead)", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn move_statement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> AppResult<Json<StatementView>> {
    seller_or_operator(&caller)?;
    let moved = uc::move_statement(
        &state,
        &caller.scope(),
        uc::Mover {
            role: caller.role(),
            actor: caller.party_id(),
        },
        &id,
        body.action,
        body.reason,
    )
    .await?;
    Ok(Json(moved.into()))
}
