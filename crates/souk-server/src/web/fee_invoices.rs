//! Platform-fee invoice pages (business rules §10 row 4): the seller requests one over its paid
//! statements and downloads it; the operator works the queue — issue (number + file), reject,
//! void. Every action goes through the same use cases as the JSON API; every form carries the
//! CSRF token (the file form through `upload::SubmittedFile`).

use super::invoices::scope_of;
use super::session::{Member, Submitted};
use super::upload::SubmittedFile;
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::fee_invoices as uc;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::fee_invoice::{FeeInvoiceAction, FeeInvoiceState, FeeInvoiceType};
use souk_core::party::Role;
use souk_store::{FeeInvoiceFilter, Page};
use std::str::FromStr;

pub const TEMPLATES: [(&str, &str); 1] = [(
    "fee_invoices.html",
    include_str!("../../templates/fee_invoices.html"),
)];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/fee-invoices", get(list).post(request))
        .route("/fee-invoices/{id}/issue", post(issue))
        .route("/fee-invoices/{id}/act", post(act))
        .route("/fee-invoices/{id}/file", get(download))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    #[serde(default)]
    state: String,
}

async fn list(State(state): State<AppState>, m: Member, Query(q): Query<ListQuery>) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let role = m.principal().role;
    let filter = FeeInvoiceFilter {
        state: FeeInvoiceState::from_str(&q.state).ok(),
    };
    let data = uc::list(
        &state,
        &scope_of(&m),
        &filter,
        &Page::first(Page::MAX_LIMIT),
    )
    .await?;
    let items: Vec<_> = data
        .into_iter()
        .rev()
        .map(|f| {
            minijinja::context! {
                id => f.id, seller_id => f.seller_id.to_string(), state => f.state.as_str(),
                invoice_type => f.invoice_type.as_str(), title => f.title, tax_id => f.tax_id,
                email => f.email, amount => f.amount.amount_minor,
                currency => f.amount.currency.as_str(), statements => f.statement_ids,
                reason => f.reason, invoice_number => f.invoice_number,
            }
        })
        .collect();
    let requestable: Vec<_> = if role == Role::Seller {
        uc::requestable_statements(&state, &m.principal().party_id)
            .await?
            .into_iter()
            .map(|s| {
                minijinja::context! {
                    id => s.id, period => s.period, currency => s.currency.as_str(),
                    fee => s.totals.platform_fee_minor - s.totals.rebate_minor,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    page(
        &m.visitor,
        "fee_invoices.html",
        minijinja::context! {
            items => items, role => role.as_str(), requestable => requestable,
            states => FeeInvoiceState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            filter => filter.state.map(|s| s.as_str()),
        },
    )
}

/// The seller's request: the ticked statements (`statement_id`, repeated) and the details.
async fn request(
    State(state): State<AppState>,
    m: Member,
    f: Submitted<Vec<(String, String)>>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&f.visitor);
    let value = |name: &str| {
        f.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let invoice_type = FeeInvoiceType::from_str(&value("invoice_type")).map_err(|_| {
        err()(AppError::invalid_field(
            "invoice_type",
            "choose the invoice type",
        ))
    })?;
    let statement_ids = f
        .form
        .iter()
        .filter(|(k, _)| k == "statement_id")
        .map(|(_, v)| v.clone())
        .collect();
    uc::request(
        &state,
        &m.principal().party_id,
        uc::FeeInvoiceRequest {
            statement_ids,
            invoice_type,
            title: value("title"),
            tax_id: Some(value("tax_id")).filter(|t| !t.is_empty()),
            email: value("email"),
        },
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/fee-invoices").into_response())
}

/// The operator issues a request with its number and the invoice file.
async fn issue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: SubmittedFile,
) -> PageResult {
    let m = &f.member;
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&m.visitor);
    let file = f.required_file("the invoice file").map_err(err())?;
    uc::issue(
        &state,
        &m.principal().party_id,
        &id,
        uc::Issued {
            invoice_number: f.field("invoice_number"),
            filename: &file.filename,
        },
        Some(&file.content_type),
        Some(file.bytes.len() as u64),
        file.chunks(),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/fee-invoices").into_response())
}

#[derive(serde::Deserialize)]
struct ActForm {
    action: String,
    #[serde(default)]
    reason: String,
}

async fn act(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<ActForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&f.visitor);
    let action = match f.form.action.as_str() {
        "reject" => FeeInvoiceAction::Reject,
        "void" => FeeInvoiceAction::Void,
        _ => return Err(err()(AppError::invalid_field("action", "reject or void"))),
    };
    uc::act(
        &state,
        &m.principal().party_id,
        &id,
        action,
        Some(&f.form.reason),
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/fee-invoices").into_response())
}

/// The same bytes and headers as `GET /v1/fee-invoices/{id}/file`.
async fn download(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let (f, stream) = uc::file(&state, &scope_of(&m), &id)
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
