//! Usage pages (issue 11, docs/metering.md): per instance, the usage records its seller pushed
//! (each with the charge that rated it), the charges rating made (each a ledger line) and the
//! package quotas that concern it. The buyer sees its instances', the seller its instances',
//! the operator every one; another party's instance is the same 404 as an unknown one. The
//! reads are the ones of `GET /v1/instances/{id}/usage-records|usage-charges|package-quotas`.

use super::session::Member;
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::orders::instance_id;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use souk_core::party::Role;
use souk_store::{Page, Scope};

pub fn router() -> Router<AppState> {
    Router::new().route("/usage/instances/{id}", get(usage))
}

/// How many records and charges one page shows.
const PER_PAGE: u32 = 100;

#[derive(serde::Deserialize, Default)]
struct Cursor {
    /// The last record sequence number of the previous page.
    #[serde(default)]
    after: Option<i64>,
}

async fn usage(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(c): Query<Cursor>,
) -> PageResult {
    m.require(&[Role::Buyer, Role::Seller, Role::Operator])?;
    let me = m.principal();
    let scope = match me.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(me.party_id.clone()),
    };
    let id = instance_id(&id).map_err(WebError::with(&m.visitor))?;
    let i = state
        .store
        .find_instance(&scope, &id)
        .await?
        .ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("instance")))?;
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
            buyer => me.role == Role::Buyer,
            records => records, charges => charges, quotas => quotas, next => next,
        },
    )
}
