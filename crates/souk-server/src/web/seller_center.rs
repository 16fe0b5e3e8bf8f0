//! The seller center beyond the product list: production-interface messages with filters and
//! the manual retry, AK/SK pairs, orders and instances, and the sales dashboard.

use super::session::{Member, Submitted};
use super::{page, when, PageResult, WebError};
use crate::usecase::{calls, licenses, sales};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::Role;
use souk_store::{AttemptFilter, AttemptRecord, Page};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/seller/calls", get(call_list))
        .route("/seller/calls/{id}", get(call_page))
        .route("/seller/calls/{id}/retry", post(retry))
        .route("/seller/keys", get(keys).post(create_key))
        .route("/seller/keys/{id}/revoke", post(revoke_key))
        .route("/seller/orders", get(orders))
        .route("/seller/dashboard", get(dashboard))
}

const SELLER_OR_OPERATOR: &[Role] = &[Role::Seller, Role::Operator];

#[derive(serde::Deserialize, Default)]
struct CallFilter {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

/// An empty field in a GET form means "any".
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn attempt_view(a: &AttemptRecord) -> minijinja::Value {
    minijinja::context! {
        id => a.id.as_str(), call_id => a.job_id.as_str(), product_id => a.product_id,
        instance_id => a.instance_id.as_str(), activity => a.activity,
        http_status => a.http_status, result_code => a.result_code, outcome => a.outcome,
        error => a.error, latency_ms => a.latency_ms, at => when(a.started_at),
        body_sign => a.body_sign, business_id => a.business_id,
        request => serde_json::to_string_pretty(&a.request).unwrap_or_default(),
        response => a.response_body,
    }
}

const CALLS_PER_PAGE: u32 = 50;

async fn call_list(
    State(state): State<AppState>,
    m: Member,
    Query(q): Query<CallFilter>,
) -> PageResult {
    m.require(SELLER_OR_OPERATOR)?;
    let filter = AttemptFilter {
        product_id: given(q.product_id),
        instance_id: given(q.instance_id),
        job_id: None,
        outcome: given(q.outcome),
    };
    let page_of = Page {
        limit: CALLS_PER_PAGE,
        after: given(q.after),
    };
    let items = calls::attempts(&state, &m.principal(), &filter, &page_of)
        .await
        .map_err(WebError::with(&m.visitor))?;
    let next = (items.len() as u32 == CALLS_PER_PAGE)
        .then(|| items.last().map(|a| a.id.to_string()))
        .flatten();
    page(
        &m.visitor,
        "seller_calls.html",
        minijinja::context! {
            items => items.iter().map(attempt_view).collect::<Vec<_>>(),
            next,
            product_id => filter.product_id, instance_id => filter.instance_id,
            outcome => filter.outcome,
        },
    )
}

#[derive(serde::Deserialize, Default)]
struct Retried {
    #[serde(default)]
    retried: Option<String>,
}

async fn call_page(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    Query(q): Query<Retried>,
) -> PageResult {
    m.require(SELLER_OR_OPERATOR)?;
    let (call, attempts) = calls::call(&state, &m.principal(), &id)
        .await
        .map_err(WebError::with(&m.visitor))?;
    page(
        &m.visitor,
        "seller_call.html",
        minijinja::context! {
            call => minijinja::context! {
                id => call.id.as_str(), kind => call.kind.as_str(), state => call.state.as_str(),
                phase => call.phase, instance_id => call.instance_id.as_str(),
                order_id => call.order_id.as_str(), attempts => call.attempts,
                next_attempt_at => when(call.next_attempt_at), last_error => call.last_error,
                // A call that succeeded has nothing to retry; the store refuses it anyway.
                retryable => call.state != souk_core::provisioning::JobState::Succeeded,
            },
            attempts => attempts.iter().map(attempt_view).collect::<Vec<_>>(),
            retried => q.retried.is_some(),
        },
    )
}

#[derive(serde::Deserialize)]
struct Empty {}

/// The manual retry: one attempt now, then the normal schedule (`POST /v1/calls/{id}/retry`).
async fn retry(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    m.require(SELLER_OR_OPERATOR)?;
    calls::retry(&state, &m.principal(), &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to(&format!("/seller/calls/{id}?retried=1")).into_response())
}

async fn keys(State(state): State<AppState>, m: Member) -> PageResult {
    keys_page(&state, &m, None).await
}

async fn keys_page(state: &AppState, m: &Member, created: Option<(String, String)>) -> PageResult {
    m.require(&[Role::Seller])?;
    let p = m.principal();
    let items = licenses::list_access_keys(state, &calls::scope_of(&p), p.party_id.as_str())
        .await
        .map_err(WebError::with(&m.visitor))?;
    let items: Vec<_> = items
        .iter()
        .rev()
        .map(|k| {
            minijinja::context! {
                id => k.id, access_key => k.access_key, label => k.label,
                created_at => when(k.created_at), revoked_at => k.revoked_at.map(when),
            }
        })
        .collect();
    page(
        &m.visitor,
        "seller_keys.html",
        minijinja::context! {
            items,
            created => created.map(|(ak, sk)| minijinja::context! { access_key => ak, secret_key => sk }),
        },
    )
}

#[derive(serde::Deserialize)]
struct NewKey {
    #[serde(default)]
    label: String,
}

/// Creates a pair and shows its SK this once (the page is `no-store`).
async fn create_key(State(state): State<AppState>, m: Member, s: Submitted<NewKey>) -> PageResult {
    m.require(&[Role::Seller])?;
    let p = m.principal();
    let label = Some(s.form.label.trim().to_owned()).filter(|l| !l.is_empty());
    let (rec, sk) = licenses::create_access_key(
        &state,
        &calls::scope_of(&p),
        &p.party_id,
        p.party_id.as_str(),
        label,
    )
    .await
    .map_err(WebError::with(&s.visitor))?;
    keys_page(&state, &m, Some((rec.access_key, sk))).await
}

async fn revoke_key(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<Empty>,
) -> PageResult {
    m.require(&[Role::Seller])?;
    let p = m.principal();
    licenses::revoke_access_key(&state, &calls::scope_of(&p), &p.party_id, &id)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to("/seller/keys").into_response())
}

async fn orders(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Seller])?;
    let recent = sales::recent(&state, &m.principal())
        .await
        .map_err(WebError::with(&m.visitor))?;
    let orders: Vec<_> = recent
        .orders
        .iter()
        .map(|o| {
            minijinja::context! {
                id => o.id.as_str(), kind => o.kind.as_str(), state => o.state.as_str(),
                buyer_id => o.buyer_id.as_str(), product_id => o.product_id,
                instance_id => o.instance_id.as_str(), amount => o.amount.to_string(),
                voucher => (o.voucher_minor > 0).then(|| souk_core::money::Money::new(o.voucher_minor, o.amount.currency).to_string()),
                created_at => when(o.created_at),
            }
        })
        .collect();
    let instances: Vec<_> = recent
        .instances
        .iter()
        .map(|i| {
            minijinja::context! {
                id => i.id.as_str(), state => i.state.as_str(), product_id => i.product_id,
                buyer_id => i.buyer_id.as_str(), expire_at => i.expire_at.map(when), term => i.term,
            }
        })
        .collect();
    page(
        &m.visitor,
        "seller_orders.html",
        minijinja::context! { orders, instances },
    )
}

async fn dashboard(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Seller])?;
    let report = sales::daily(&state, &m.principal())
        .await
        .map_err(WebError::with(&m.visitor))?;
    let chart = super::chart::sales_svg(&report, m.visitor.lang.texts().brand);
    let days: Vec<_> = report
        .days
        .iter()
        .rev()
        .filter(|d| d.orders > 0)
        .map(|d| {
            minijinja::context! {
                date => d.date.to_string(), orders => d.orders,
                revenue => souk_core::money::Money::new(d.revenue_minor, report.currency).to_string(),
            }
        })
        .collect();
    page(
        &m.visitor,
        "seller_dashboard.html",
        minijinja::context! {
            chart, days,
            total_orders => report.days.iter().map(|d| d.orders).sum::<u64>(),
            total_revenue => souk_core::money::Money::new(
                report.days.iter().map(|d| d.revenue_minor).sum(), report.currency).to_string(),
            from => report.days.first().map(|d| d.date.to_string()),
            to => report.days.last().map(|d| d.date.to_string()),
            zone => report.zone,
        },
    )
}
