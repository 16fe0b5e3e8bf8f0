//! The operator console: the review queue with its side-by-side view of a submission
//! against the listed version, approve or reject with a reason.

use super::session::{Member, Submitted};
use super::{page, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::catalog;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::catalog::{ProductAction, ProductStatus};
use souk_core::party::Role;

/// The operator console's templates (registered by `super::templates`).
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "operator_nav.html",
        include_str!("../../templates/operator_nav.html"),
    ),
    ("review.html", include_str!("../../templates/review.html")),
    ("parties.html", include_str!("../../templates/parties.html")),
    ("party.html", include_str!("../../templates/party.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("health.html", include_str!("../../templates/health.html")),
    ("clock.html", include_str!("../../templates/clock.html")),
    ("fees.html", include_str!("../../templates/fees.html")),
    (
        "fee_policy.html",
        include_str!("../../templates/fee_policy.html"),
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/reviews", get(reviews))
        .route("/operator/reviews/{product_id}", get(review))
        .route("/operator/reviews/{product_id}/decide", post(decide))
}

/// One submission beside the listed version, with the decision form.
async fn review(
    State(state): State<AppState>,
    m: Member,
    Path(product_id): Path<String>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&m.visitor);
    let product = catalog::get(&state, &m.principal(), &product_id)
        .await
        .map_err(err())?;
    let revision = product.pending_revision.as_ref();
    if revision.is_none() && product.status != ProductStatus::Submitted {
        return Err(err()(AppError::not_found("submission")));
    }
    let cmp = super::review_diff::compare(&product, revision);
    page(
        &m.visitor,
        "review.html",
        minijinja::context! {
            product_id => product.id.as_str(),
            name => product.spec.name,
            seller_id => product.seller_id.as_str(),
            status => product.status.as_str(),
            cmp => cmp,
        },
    )
}

async fn reviews(State(state): State<AppState>, m: Member) -> PageResult {
    m.require(&[Role::Operator])?;
    let items: Vec<_> = catalog::reviews(&state)
        .await
        .map_err(WebError::with(&m.visitor))?
        .into_iter()
        .map(|r| {
            minijinja::context! {
                product_id => r.product_id.as_str(),
                revision_id => r.revision_id.as_ref().map(|x| x.as_str().to_owned()),
                name => r.name,
                delivery_type => r.delivery_type.as_str(),
                submitted_at => r.submitted_at.to_string(),
            }
        })
        .collect();
    page(
        &m.visitor,
        "reviews.html",
        minijinja::context! { items => items },
    )
}

#[derive(serde::Deserialize)]
struct Decision {
    /// `approve` or `reject`.
    decision: String,
    #[serde(default)]
    revision_id: String,
    #[serde(default)]
    reason: String,
}

/// Approves or rejects a submitted product or a revision of a listed one, through the same
/// use cases as `POST /v1/products/{id}/approve|reject` and `/v1/revisions/{id}/…`.
async fn decide(
    State(state): State<AppState>,
    m: Member,
    Path(product_id): Path<String>,
    s: Submitted<Decision>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let me = m.principal();
    let err = || WebError::with(&s.visitor);
    let f = &s.form;
    match (f.decision.as_str(), f.revision_id.trim()) {
        ("approve", "") => {
            catalog::act(&state, &me, &product_id, ProductAction::Approve, None)
                .await
                .map_err(err())?;
        }
        ("reject", "") => {
            catalog::act(
                &state,
                &me,
                &product_id,
                ProductAction::Reject,
                Some(&f.reason),
            )
            .await
            .map_err(err())?;
        }
        ("approve", rev) => {
            catalog::approve_revision(&state, &me.party_id, rev)
                .await
                .map_err(err())?;
        }
        ("reject", rev) => {
            catalog::reject_revision(&state, &me.party_id, rev, &f.reason)
                .await
                .map_err(err())?;
        }
        _ => {
            return Err(err()(crate::error::AppError::invalid_field(
                "decision",
                "choose approve or reject",
            )))
        }
    }
    Ok(Redirect::to("/operator/reviews").into_response())
}
