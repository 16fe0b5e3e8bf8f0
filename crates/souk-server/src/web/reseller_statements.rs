//! Reseller statement pages (business rules §10 row 5, §11): the reseller's statement with its
//! totals, lines, history and CSV, where it uploads its VAT special invoices, removes a wrong
//! one, submits them and resubmits its payment data; the operator's list (overdue ones
//! filtered) and the same statement page, where it downloads the invoices, approves or rejects
//! them and pays or rejects the payment. Every action goes through the same use cases as the
//! JSON API; every form carries the CSRF token.

use super::session::{Member, Submitted};
use super::upload::SubmittedFile;
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::reseller_statements as uc;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::invoice::PLATFORM_INVOICE_RATES_BP;
use souk_core::party::Role;
use souk_core::settlement::reseller_workflow::actor;
use souk_core::settlement::StatementAction;
use souk_store::{Page, ResellerStatementFilter, Scope};

pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "reseller_statement.html",
        include_str!("../../templates/reseller_statement.html"),
    ),
    (
        "reseller_statements.html",
        include_str!("../../templates/reseller_statements.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/reseller-statements", get(list))
        .route("/reseller-statements/{id}", get(detail))
        .route("/reseller-statements/{id}/lines.csv", get(csv))
        .route("/reseller-statements/{id}/invoices", post(upload))
        .route(
            "/reseller-statements/{id}/invoices/{invoice_id}/remove",
            post(remove),
        )
        .route(
            "/reseller-statements/{id}/invoices/{invoice_id}/file",
            get(download),
        )
        .route("/reseller-statements/{id}/move", post(move_statement))
}

fn scope_of(m: &Member) -> Scope {
    let p = m.principal();
    match p.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(p.party_id),
    }
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    overdue: String,
}

/// The operator's reseller statements, newest first; `?overdue=1` keeps the late ones.
async fn list(State(state): State<AppState>, m: Member, q: Query<ListQuery>) -> PageResult {
    m.require(&[Role::Operator])?;
    let overdue = matches!(q.overdue.trim(), "1" | "true");
    let filter = ResellerStatementFilter {
        overdue,
        ..Default::default()
    };
    let items: Vec<_> = state
        .store
        .reseller_statements(&Scope::Everything, &filter, &Page::first(Page::MAX_LIMIT))
        .await?
        .into_iter()
        .rev()
        .map(|s| {
            minijinja::context! {
                id => s.id, reseller => s.reseller_id.to_string(), period => s.period,
                state => s.state.as_str(), currency => s.currency.as_str(),
                payable => s.totals.payable_minor, overdue => s.overdue_at.is_some(),
                due => s.invoice_due_at.map(|d| d.date().to_string()),
            }
        })
        .collect();
    page(
        &m.visitor,
        "reseller_statements.html",
        minijinja::context! { items => items, overdue => overdue },
    )
}

async fn visible(
    state: &AppState,
    m: &Member,
    id: &str,
) -> Result<souk_store::ResellerStatementRecord, WebError> {
    m.require(&[Role::Reseller, Role::Operator])?;
    uc::visible(state, &scope_of(m), id)
        .await
        .map_err(WebError::with(&m.visitor))
}

async fn detail(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    let s = visible(&state, &m, &id).await?;
    let lines: Vec<_> = state
        .store
        .reseller_statement_lines(&id)
        .await?
        .into_iter()
        .map(|l| {
            minijinja::context! {
                kind => l.kind.as_str(), order_id => l.order_id, amount => l.amount_minor,
                commission => l.commission.to_decimal(), at => l.occurred_at.to_string(),
            }
        })
        .collect();
    let invoices: Vec<_> = state
        .store
        .reseller_invoices(&id)
        .await?
        .into_iter()
        .map(|f| {
            minijinja::context! {
                id => f.id, number => f.invoice_number, amount => f.amount.amount_minor,
                rate => f.tax_rate_bp, filename => f.filename, state => f.state.as_str(),
            }
        })
        .collect();
    let history: Vec<_> = state
        .store
        .audit_trail(&Scope::Everything, &id)
        .await?
        .into_iter()
        .map(|e| minijinja::context! { action => e.action, at => e.at.to_string() })
        .collect();
    let role = m.principal().role;
    let actions: Vec<&str> = StatementAction::ALL
        .iter()
        .filter(|a| actor(**a) == Some(role) && s.state.take(**a, role).is_ok())
        .map(|a| a.as_str())
        .collect();
    let payout_due = uc::cashout_due(&state, &s).map_err(WebError::with(&m.visitor))?;
    let t = s.totals;
    page(
        &m.visitor,
        "reseller_statement.html",
        minijinja::context! {
            id => s.id, period => s.period, state => s.state.as_str(),
            currency => s.currency.as_str(), reason => s.reason,
            due => s.invoice_due_at.map(|d| d.date().to_string()),
            overdue => s.overdue_at.is_some(),
            payout_due => payout_due.map(|d| d.date().to_string()),
            payout_overdue => payout_due.is_some_and(|d| state.clock.now() > d),
            takes_invoices => role == Role::Reseller && s.state.takes_invoices(),
            totals => minijinja::context! {
                sales => t.sales_minor, refunds => t.refunds_minor,
                commission => t.commission_minor, carried_in => t.carried_in_minor,
                net => t.net_minor, payable => t.payable_minor,
                carried_forward => t.carried_forward_minor,
            },
            lines => lines, invoices => invoices, history => history, actions => actions,
            rates => PLATFORM_INVOICE_RATES_BP.to_vec(),
        },
    )
}

async fn csv(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    let s = visible(&state, &m, &id).await?;
    let lines = state.store.reseller_statement_lines(&id).await?;
    let body = crate::http::settlement_csv::reseller_statement_csv(&s, &lines);
    let name = format!("reseller-statement-{}-{}.csv", s.period, s.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// One invoice of the reseller's: the file with its number, amount and rate.
async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: SubmittedFile,
) -> PageResult {
    let m = &f.member;
    m.require(&[Role::Reseller])?;
    let err = || WebError::with(&m.visitor);
    let file = f.required_file("the invoice file").map_err(err())?;
    let number = |name: &str| f.field(name).parse::<i64>().unwrap_or(-1);
    uc::upload_invoice(
        &state,
        &m.principal().party_id,
        &id,
        uc::InvoiceUpload {
            invoice_number: f.field("invoice_number").to_owned(),
            amount_minor: number("amount_minor"),
            tax_rate_bp: u32::try_from(number("tax_rate_bp")).unwrap_or(0),
            invoice_type: Some(f.field("invoice_type").to_owned()),
            filename: file.filename.clone(),
        },
        Some(&file.content_type),
        Some(file.bytes.len() as u64),
        file.chunks(),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/reseller-statements/{id}")).into_response())
}

#[derive(serde::Deserialize)]
struct Empty {}

async fn remove(
    State(state): State<AppState>,
    m: Member,
    Path((id, invoice_id)): Path<(String, String)>,
    f: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Reseller])?;
    uc::remove_invoice(&state, &m.principal().party_id, &id, &invoice_id)
        .await
        .map_err(WebError::with(&f.visitor))?;
    Ok(Redirect::to(&format!("/reseller-statements/{id}")).into_response())
}

/// The same bytes and headers as the API's download.
async fn download(
    State(state): State<AppState>,
    m: Member,
    Path((id, invoice_id)): Path<(String, String)>,
) -> PageResult {
    m.require(&[Role::Reseller, Role::Operator])?;
    let (f, stream) = uc::invoice_file(&state, &scope_of(&m), &id, &invoice_id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    Ok(crate::http::attachments::file_response(
        &f.content_type,
        f.size_bytes,
        &f.sha256,
        &f.filename,
        stream,
    ))
}

#[derive(serde::Deserialize)]
struct MoveForm {
    action: String,
    #[serde(default)]
    reason: String,
}

async fn move_statement(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<MoveForm>,
) -> PageResult {
    m.require(&[Role::Reseller, Role::Operator])?;
    let err = || WebError::with(&f.visitor);
    let action: StatementAction = f
        .form
        .action
        .parse()
        .map_err(|_| err()(AppError::invalid_field("action", "choose an action")))?;
    let p = m.principal();
    uc::move_statement(
        &state,
        &scope_of(&m),
        p.role,
        &p.party_id,
        &id,
        action,
        Some(f.form.reason.clone()),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/reseller-statements/{id}")).into_response())
}
