//! The operator's fee policy pages (issue 12): every product's platform fee rate, rebate bands
//! and joint seller share, and a form to change one product's policy through the same use case
//! as `PUT /v1/products/{id}/fee-policy`.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::{catalog, settlement};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use souk_core::party::Role;
use souk_core::settlement::FeePolicy;
use souk_store::{Page, ProductRecord, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/fees", get(list))
        .route("/operator/fees/{product_id}", get(edit).post(save))
}

const PAGE_SIZE: u32 = 50;

/// `500` basis points as `5.00 %` (integer arithmetic: rates are never floats).
pub(super) fn percent(bp: u32) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

fn policy_ctx(p: &FeePolicy, default: bool) -> minijinja::Value {
    let bands: Vec<_> = p
        .tiers
        .iter()
        .map(|t| minijinja::context! { from_minor => t.from_minor, rate => percent(t.rate_bp.bp()), rate_bp => t.rate_bp.bp() })
        .collect();
    minijinja::context! {
        default => default, rate => percent(p.rate_bp.bp()), rate_bp => p.rate_bp.bp(),
        bands => bands,
        seller_share => p.seller_share_bp.map(|s| percent(s.bp())),
        seller_share_bp => p.seller_share_bp.map(|s| s.bp()),
        // The bands as the form's textarea shows them: `threshold rate` a line.
        bands_text => p.tiers.iter().map(|t| format!("{} {}", t.from_minor, t.rate_bp.bp())).collect::<Vec<_>>().join("\n"),
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    after: String,
}

/// A page of the products the member sees (a seller: only its own; the operator: all), each
/// with its effective fee policy and whether that is the marketplace default, and the cursor
/// of the next page.
pub(super) async fn products_with_policies(
    state: &AppState,
    m: &Member,
    q: &ListQuery,
) -> Result<(Vec<(ProductRecord, FeePolicy, bool)>, Option<String>), WebError> {
    let err = || WebError::with(&m.visitor);
    let after = q.after.trim();
    let products = catalog::list(
        state,
        &m.principal(),
        &Page {
            limit: PAGE_SIZE,
            after: (!after.is_empty()).then(|| after.to_owned()),
        },
    )
    .await
    .map_err(err())?;
    let ids: Vec<String> = products.iter().map(|p| p.id.as_str().to_owned()).collect();
    let policies = settlement::effective_fee_policies(state, &ids)
        .await
        .map_err(err())?;
    let next = (products.len() as u32 == PAGE_SIZE)
        .then(|| ids.last().cloned())
        .flatten();
    let items = products
        .into_iter()
        .zip(policies)
        .map(|(p, (policy, default))| (p, policy, default))
        .collect();
    Ok((items, next))
}

async fn list(State(state): State<AppState>, m: Member, q: Query<ListQuery>) -> PageResult {
    m.require(&[Role::Operator])?;
    let (products, next) = products_with_policies(&state, &m, &q).await?;
    let items: Vec<_> = products
        .iter()
        .map(|(p, policy, default)| {
            minijinja::context! {
                id => p.id.as_str(), name => p.spec.name, seller => p.seller_id.as_str(),
                status => p.status.as_str(), currency => p.spec.currency.as_str(),
                policy => policy_ctx(policy, *default),
            }
        })
        .collect();
    page(
        &m.visitor,
        "fees.html",
        minijinja::context! { items => items, next => next },
    )
}

async fn edit(
    State(state): State<AppState>,
    m: Member,
    Path(product_id): Path<String>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&m.visitor);
    let product = catalog::get(&state, &m.principal(), &product_id)
        .await
        .map_err(err())?;
    let (policy, default) = settlement::fee_policy(&state, &Scope::Everything, &product_id)
        .await
        .map_err(err())?;
    page(
        &m.visitor,
        "fee_policy.html",
        minijinja::context! {
            id => product.id.as_str(), name => product.spec.name,
            currency => product.spec.currency.as_str(),
            policy => policy_ctx(&policy, default),
        },
    )
}

#[derive(serde::Deserialize)]
struct PolicyForm {
    rate_bp: String,
    #[serde(default)]
    bands: String,
    #[serde(default)]
    seller_share_bp: String,
}

fn number<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, AppError> {
    s.trim().parse().map_err(|_| {
        AppError::invalid_field(
            field,
            format!("{field} must be a whole number (basis points: 500 = 5 %)"),
        )
    })
}

/// The bands textarea: one `threshold rate` pair a line (minor units, basis points).
fn bands(text: &str) -> Result<Option<Vec<(i64, u32)>>, AppError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    lines
        .iter()
        .map(|l| {
            let mut parts = l.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(from), Some(rate), None) => {
                    Ok((number("tiers", from)?, number("tiers", rate)?))
                }
                _ => Err(AppError::invalid_field(
                    "tiers",
                    format!(
                        "each band is `threshold rate` on its own line (e.g. `0 500`), not `{l}`"
                    ),
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

async fn save(
    State(state): State<AppState>,
    m: Member,
    Path(product_id): Path<String>,
    s: Submitted<PolicyForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&s.visitor);
    let f = &s.form;
    let share = f.seller_share_bp.trim();
    let policy = settlement::fee_policy_from(
        number("rate_bp", &f.rate_bp).map_err(err())?,
        bands(&f.bands).map_err(err())?,
        (!share.is_empty())
            .then(|| number("seller_share_bp", share))
            .transpose()
            .map_err(err())?,
    )
    .map_err(err())?;
    settlement::set_fee_policy(&state, &m.principal().party_id, &product_id, policy)
        .await
        .map_err(err())?;
    Ok(Redirect::to(&format!("/operator/fees/{product_id}?saved=1")).into_response())
}
