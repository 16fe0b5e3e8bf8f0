//! Usage pages (issue 11, docs/metering.md): per instance, the usage records its seller pushed
//! (each with the charge that rated it), the charges rating made (each a ledger line) and the
//! package quotas that concern it. The buyer sees its instances', the seller its instances',
//! the operator every one; another party's instance is the same 404 as an unknown one. The
//! reads are the ones of `GET /v1/instances/{id}/usage-records|usage-charges|package-quotas`;
//! the operator's correction form is `POST /v1/instances/{id}/usage-adjustments`' use case.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::http::usage_views;
use crate::usecase::metering;
use crate::usecase::orders::instance_id;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use souk_core::money::Money;
use souk_core::party::Role;
use souk_store::{Page, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/usage/instances/{id}", get(usage))
        .route("/usage/instances/{id}/records.csv", get(records_csv))
        .route("/usage/instances/{id}/charges.csv", get(charges_csv))
        .route("/usage/instances/{id}/adjustments", post(adjust))
}

/// How many records and charges one page shows.
const PER_PAGE: u32 = 100;

#[derive(serde::Deserialize, Default)]
struct Cursor {
    /// The last record sequence number of the previous page.
    #[serde(default)]
    after: Option<i64>,
}

/// The instance of the path and the scope the person sees it in: the buyer its instances,
/// the seller its own, the operator every one; anything else is the 404 of an unknown id.
async fn visible(
    state: &AppState,
    m: &Member,
    id: &str,
) -> Result<(Scope, souk_store::InstanceRecord), WebError> {
    m.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let me = m.principal();
    let scope = match me.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(me.party_id.clone()),
    };
    let id = instance_id(id).map_err(WebError::with(&m.visitor))?;
    let i = state
        .store
        .find_instance(&scope, &id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("instance")))?;
    Ok((scope, i))
}

/// The instance's usage records as a CSV file, the same file as `GET
/// /v1/instances/{id}/usage-records?format=csv` (a download is a read: no CSRF token, like any
/// link).
async fn records_csv(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (scope, i) = visible(&state, &m, &id).await?;
    let rows = state
        .store
        .usage_records(&scope, Some(&i.id), None, usage_views::CSV_ROWS)
        .await?;
    let body = usage_views::records_csv(&rows);
    Ok(usage_views::csv_response(&format!("usage-{}", i.id), body))
}

/// The instance's rated charges as a CSV file, as `GET
/// /v1/instances/{id}/usage-charges?format=csv`.
async fn charges_csv(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (scope, i) = visible(&state, &m, &id).await?;
    let rows = state
        .store
        .usage_charges(&scope, &i.id, &Page::first(usage_views::CSV_ROWS))
        .await?;
    let body = usage_views::charges_csv(&rows);
    Ok(usage_views::csv_response(
        &format!("charges-{}", i.id),
        body,
    ))
}

async fn usage(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(c): Query<Cursor>,
) -> PageResult {
    let (scope, i) = visible(&state, &m, &id).await?;
    let me = m.principal();
    let id = i.id.clone();
    let records = state
        .store
        .usage_records(&scope, Some(&id), c.after, PER_PAGE)
        .await?;
    let next = (records.len() as u32 == PER_PAGE)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    let charges = state
        .store
        .usage_charges(&scope, &id, &Page::first(PER_PAGE))
        .await?;
    let quotas = state.store.package_quotas(&scope, &id).await?;
    page(
        &m.visitor,
        "usage.html",
        minijinja::context! {
            instance_id => i.id.as_str(), product_id => &i.product_id, state => i.state.as_str(),
            buyer => me.role == Role::Buyer, operator => me.role == Role::Operator,
            records => records, charges => charges, quotas => quotas, next => next,
        },
    )
}

#[derive(serde::Deserialize)]
struct AdjustForm {
    /// `charge` (the buyer owes more) or `credit` (the buyer gets money back).
    #[serde(default)]
    direction: String,
    /// In the instance's currency's major units, as a person writes it (`12.50`).
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// The operator's correction of an instance's usage charges, with a reason the buyer sees on
/// the ledger line (audited, arrears follow the balance): `usecase::metering::adjust`, as the
/// API's `POST /v1/instances/{id}/usage-adjustments`.
async fn adjust(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<AdjustForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&s.visitor);
    let (_, i) = visible(&state, &m, &id).await?;
    let currency = metering::billing_currency(&state, &i.id)
        .await
        .map_err(err())?;
    let magnitude = currency
        .parse_major(&s.form.amount)
        .filter(|minor| *minor > 0)
        .ok_or_else(|| {
            err()(AppError::invalid_field(
                "amount",
                format!(
                    "write an amount above zero like 12.50, in {}",
                    currency.as_str()
                ),
            ))
        })?;
    let signed = match s.form.direction.as_str() {
        "charge" => magnitude,
        "credit" => -magnitude,
        _ => {
            return Err(err()(AppError::invalid_field(
                "direction",
                "choose whether the buyer is charged or credited",
            )))
        }
    };
    metering::adjust(
        &state,
        &m.principal().party_id,
        &i.id,
        Money::new(signed, currency),
        &s.form.reason,
    )
    .await
    .map_err(err())?;
    Ok(Redirect::to(&format!("/usage/instances/{}#charges", i.id)).into_response())
}
