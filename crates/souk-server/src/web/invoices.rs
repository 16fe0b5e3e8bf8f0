//! Invoice pages (business rules §10): the buyer requests an invoice for an order and downloads
//! it; the seller issues (uploads the file with its number), rejects or voids; the operator
//! sees every request and the overdue ones; the seller uploads its invoice for a statement.
//! Every action goes through the same use cases as the JSON API; every form carries the CSRF
//! token (file forms through `upload::SubmittedFile`).

use super::session::{Member, Submitted};
use super::upload::SubmittedFile;
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::{attachments, invoices, statement_invoices};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::invoice::{InvoiceAction, InvoiceType, PLATFORM_INVOICE_RATES_BP};
use souk_core::party::Role;
use souk_store::{InvoiceFilter, Page, Scope};
use std::str::FromStr;

pub const TEMPLATES: [(&str, &str); 2] = [
    (
        "invoices.html",
        include_str!("../../templates/invoices.html"),
    ),
    (
        "invoice_request.html",
        include_str!("../../templates/invoice_request.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices", get(list))
        .route("/orders/{id}/invoice", get(request_form).post(request))
        .route("/invoices/{id}/issue", post(issue))
        .route("/invoices/{id}/act", post(act))
        .route("/invoices/{id}/file", get(download))
        .route(
            "/statements/{id}/invoice",
            get(statement_invoice_file).post(statement_invoice),
        )
}

/// The operator sees everything; anyone else its own.
pub(super) fn scope_of(m: &Member) -> Scope {
    let p = m.principal();
    match p.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(p.party_id),
    }
}

async fn list(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let data = invoices::list(
        &state,
        &scope_of(&m),
        &InvoiceFilter::default(),
        &Page::first(Page::MAX_LIMIT),
    )
    .await?;
    let items: Vec<_> = data
        .into_iter()
        .rev()
        .map(|i| {
            minijinja::context! {
                id => i.id, order_id => i.order_id.to_string(), state => i.state.as_str(),
                invoice_type => i.invoice_type.as_str(), title => i.title, tax_id => i.tax_id,
                email => i.email, amount => i.amount.amount_minor,
                currency => i.amount.currency.as_str(), reason => i.reason,
                invoice_number => i.invoice_number, overdue => i.overdue_at.is_some(),
                due_at => i.due_at.to_string(),
            }
        })
        .collect();
    page(
        &m.visitor,
        "invoices.html",
        minijinja::context! { items => items, role => m.principal().role.as_str() },
    )
}

async fn request_form(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    let order = state
        .store
        .find_order(
            &scope_of(&m),
            &crate::usecase::orders::order_id(&id).map_err(WebError::with(&m.visitor))?,
        )
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("order")))?;
    let types: Vec<&str> = invoices::declared_types(&state, &order.product_id)
        .await?
        .into_iter()
        .map(|t| t.as_str())
        .collect();
    page(
        &m.visitor,
        "invoice_request.html",
        minijinja::context! {
            order_id => order.id.to_string(), amount => order.amount.amount_minor,
            currency => order.amount.currency.as_str(), types => types,
        },
    )
}

#[derive(serde::Deserialize)]
struct RequestForm {
    invoice_type: String,
    title: String,
    #[serde(default)]
    tax_id: String,
    email: String,
}

async fn request(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    f: Submitted<RequestForm>,
) -> PageResult {
    m.require(&[Role::Buyer])?;
    let err = || WebError::with(&f.visitor);
    let invoice_type = InvoiceType::from_str(&f.form.invoice_type).map_err(|_| {
        err()(AppError::invalid_field(
            "invoice_type",
            "choose an invoice type",
        ))
    })?;
    let tax_id = Some(f.form.tax_id.trim().to_owned()).filter(|t| !t.is_empty());
    invoices::request(
        &state,
        &m.principal().party_id,
        &id,
        invoices::InvoiceRequest {
            invoice_type,
            title: f.form.title.clone(),
            tax_id,
            email: f.form.email.clone(),
        },
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/invoices").into_response())
}

/// The seller uploads the file to the order (as the API's attachment) and issues the invoice.
async fn issue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: SubmittedFile,
) -> PageResult {
    let m = &f.member;
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&m.visitor);
    let seller = m.principal().party_id;
    let inv = invoices::visible(&state, &scope_of(m), &id)
        .await
        .map_err(err())?;
    let file = f
        .file
        .as_ref()
        .ok_or_else(|| err()(AppError::invalid_field("file", "choose the invoice file")))?;
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(file.bytes.clone())]);
    let att = attachments::upload(
        &state,
        &seller,
        &scope_of(m),
        inv.order_id.as_str(),
        &file.filename,
        Some(&file.content_type),
        Some(file.bytes.len() as u64),
        chunks,
    )
    .await
    .map_err(err())?;
    invoices::act(
        &state,
        &seller,
        &id,
        InvoiceAction::Issue,
        invoices::SellerInput {
            invoice_number: Some(f.field("invoice_number").to_owned()),
            attachment_id: Some(att.id),
            reason: None,
        },
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/invoices").into_response())
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
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&f.visitor);
    let action = match f.form.action.as_str() {
        "reject" => InvoiceAction::Reject,
        "void" => InvoiceAction::Void,
        _ => return Err(err()(AppError::invalid_field("action", "reject or void"))),
    };
    invoices::act(
        &state,
        &m.principal().party_id,
        &id,
        action,
        invoices::SellerInput {
            reason: Some(f.form.reason.clone()),
            ..Default::default()
        },
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to("/invoices").into_response())
}

/// The same bytes and headers as `GET /v1/invoices/{id}/file`.
async fn download(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let (_, record, stream) = invoices::file(&state, &scope_of(&m), &id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    Ok(crate::http::attachments::attachment_response(
        record, stream,
    ))
}

/// The seller's invoice for its statement: the file, its number and rate; the amount is the
/// statement's invoice total, shown on the page and checked by the use case.
async fn statement_invoice(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: SubmittedFile,
) -> PageResult {
    let m = &f.member;
    m.require(&[Role::Seller])?;
    let err = || WebError::with(&m.visitor);
    let file = f
        .file
        .as_ref()
        .ok_or_else(|| err()(AppError::invalid_field("file", "choose the invoice file")))?;
    let number = |name: &str| f.field(name).parse::<i64>().unwrap_or(-1);
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(file.bytes.clone())]);
    statement_invoices::submit(
        &state,
        &m.principal().party_id,
        &id,
        statement_invoices::InvoiceUpload {
            invoice_number: f.field("invoice_number").to_owned(),
            amount_minor: number("amount_minor"),
            tax_rate_bp: u32::try_from(number("tax_rate_bp")).unwrap_or(0),
            filename: file.filename.clone(),
        },
        Some(&file.content_type),
        Some(file.bytes.len() as u64),
        chunks,
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/statements/{id}")).into_response())
}

/// The statement's latest invoice file (its seller, the operator).
async fn statement_invoice_file(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> PageResult {
    m.require(&[Role::Seller, Role::Operator])?;
    let (f, stream) = statement_invoices::latest_file(&state, &scope_of(&m), &id)
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

/// What the statement page shows of the seller's invoices (and the rates it may choose).
pub async fn statement_context(state: &AppState, id: &str) -> Result<minijinja::Value, AppError> {
    let files: Vec<_> = state
        .store
        .statement_invoices(id)
        .await?
        .into_iter()
        .map(|f| {
            minijinja::context! {
                number => f.invoice_number, amount => f.amount.amount_minor,
                rate => f.tax_rate_bp, filename => f.filename, sha256 => f.sha256,
            }
        })
        .collect();
    Ok(minijinja::context! { files => files, rates => PLATFORM_INVOICE_RATES_BP.to_vec() })
}
