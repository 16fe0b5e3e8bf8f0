//! The operator's parties pages: list and filter, create a seller, buyer or reseller, suspend
//! and reactivate, issue API keys (the secret shown once, on the answer to the form). Every
//! change goes through `usecase::parties`, as `POST|PATCH /v1/{collection}…` does.

use super::session::{Member, Submitted};
use super::{page, when, PageResult, WebError};
use crate::error::AppError;
use crate::usecase::parties::{self, CreateParty, IssuedKey};
use crate::usecase::resellers;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use souk_core::party::{PartyId, PartyStatus, Role};
use souk_core::settlement::reseller::AssociationExclusion;
use souk_store::{Page, PartyFilter, Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/parties", get(list).post(create))
        .route("/operator/parties/{id}", get(detail))
        .route("/operator/parties/{id}/status", post(set_status))
        .route("/operator/parties/{id}/keys", post(issue_key))
        .route(
            "/operator/parties/{id}/association-exclusions",
            post(set_exclusions),
        )
}

const PAGE_SIZE: u32 = 50;

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

fn non_empty(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

async fn list(State(state): State<AppState>, m: Member, q: Query<ListQuery>) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&m.visitor);
    let role = non_empty(&q.role)
        .map(str::parse::<Role>)
        .transpose()
        .map_err(|e| err()(AppError::invalid_field("role", e)))?;
    let status = non_empty(&q.status)
        .map(str::parse::<PartyStatus>)
        .transpose()
        .map_err(|e| err()(AppError::invalid_field("status", e)))?;
    let filter = PartyFilter {
        role,
        status,
        text: non_empty(&q.q).map(str::to_owned),
    };
    let page_of = Page {
        limit: PAGE_SIZE,
        after: non_empty(&q.after).map(str::to_owned),
    };
    let found = state.store.search_parties(&filter, &page_of).await?;
    let next = (found.len() as u32 == PAGE_SIZE)
        .then(|| found.last().map(|p| p.id.as_str().to_owned()))
        .flatten()
        .map(|after| {
            serde_urlencoded::to_string([
                ("role", q.role.as_str()),
                ("status", q.status.as_str()),
                ("q", q.q.as_str()),
                ("after", after.as_str()),
            ])
            .unwrap_or_default()
        });
    let items: Vec<_> = found
        .iter()
        .map(|p| {
            minijinja::context! {
                id => p.id.as_str(), role => p.role.as_str(), name => p.name,
                email => p.email, status => p.status.as_str(), created => when(p.created_at),
            }
        })
        .collect();
    page(
        &m.visitor,
        "parties.html",
        minijinja::context! {
            items => items, next => next,
            role => q.role, status => q.status, q => q.q,
        },
    )
}

#[derive(serde::Deserialize)]
struct NewPartyForm {
    role: String,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mobile_phone: String,
}

async fn create(
    State(state): State<AppState>,
    m: Member,
    s: Submitted<NewPartyForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&s.visitor);
    let f = &s.form;
    let role: Role = f
        .role
        .parse()
        .map_err(|e: String| err()(AppError::invalid_field("role", e)))?;
    let input = CreateParty {
        name: f.name.clone(),
        email: non_empty(&f.email).map(str::to_owned),
        mobile_phone: non_empty(&f.mobile_phone).map(str::to_owned),
    };
    let party = parties::create(&state, &m.principal().party_id, role, input)
        .await
        .map_err(err())?;
    Ok(Redirect::to(&format!("/operator/parties/{}", party.id.as_str())).into_response())
}

fn party_id(m: &Member, id: &str) -> Result<PartyId, WebError> {
    PartyId::parse(id).ok_or_else(|| WebError::with(&m.visitor)(AppError::not_found("party")))
}

/// The party page; `issued` is the key just created, shown this once.
async fn render_detail(
    state: &AppState,
    m: &Member,
    id: &PartyId,
    issued: Option<IssuedKey>,
) -> PageResult {
    let err = || WebError::with(&m.visitor);
    let p = state
        .store
        .find_party(&Scope::Everything, id)
        .await?
        .ok_or_else(|| err()(AppError::not_found("party")))?;
    let keys: Vec<_> = state
        .store
        .list_api_keys(&Scope::Everything, id, &Page::first(Page::MAX_LIMIT))
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(|k| {
            minijinja::context! {
                id => k.id.as_str(), label => k.label, prefix => k.display_prefix,
                created => when(k.created_at), revoked => k.revoked_at.map(when),
                last_used => k.last_used_at.map(when),
            }
        })
        .collect();
    let trail: Vec<_> = state
        .store
        .audit_trail(&Scope::Everything, id.as_str())
        .await?
        .into_iter()
        .rev()
        .map(|e| {
            minijinja::context! {
                at => when(e.at), action => e.action, actor => e.actor_id,
                detail => e.detail.to_string(),
            }
        })
        .collect();
    // §11: the flags that keep a buyer from being associated with a reseller.
    let exclusions: Vec<_> = if p.role == Role::Buyer {
        let set = resellers::exclusions(state, id.as_str()).await?;
        AssociationExclusion::ALL
            .iter()
            .map(|f| minijinja::context! { flag => f.as_str(), on => set.contains(f) })
            .collect()
    } else {
        Vec::new()
    };
    let issued = issued.map(|k| {
        minijinja::context! { id => k.record.id.as_str(), secret => k.secret, label => k.record.label }
    });
    page(
        &m.visitor,
        "party.html",
        minijinja::context! {
            id => p.id.as_str(), role => p.role.as_str(), name => p.name, email => p.email,
            mobile_phone => p.mobile_phone, status => p.status.as_str(),
            created => when(p.created_at), is_me => p.id == m.principal().party_id,
            keys => keys, trail => trail, issued => issued, exclusions => exclusions,
        },
    )
}

async fn detail(State(state): State<AppState>, m: Member, Path(id): Path<String>) -> PageResult {
    m.require(&[Role::Operator])?;
    let id = party_id(&m, &id)?;
    render_detail(&state, &m, &id, None).await
}

#[derive(serde::Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<StatusForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let err = || WebError::with(&s.visitor);
    let id = party_id(&m, &id)?;
    let status: PartyStatus = s
        .form
        .status
        .parse()
        .map_err(|e: String| err()(AppError::invalid_field("status", e)))?;
    parties::set_status(&state, &m.principal().party_id, &id, status)
        .await
        .map_err(err())?;
    Ok(Redirect::to(&format!("/operator/parties/{}", id.as_str())).into_response())
}

#[derive(serde::Deserialize)]
struct KeyForm {
    #[serde(default)]
    label: String,
}

async fn issue_key(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<KeyForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let id = party_id(&m, &id)?;
    let label = non_empty(&s.form.label).map(str::to_owned);
    let issued = parties::issue_key(
        &state,
        &Scope::Everything,
        &m.principal().party_id,
        &id,
        label,
    )
    .await
    .map_err(WebError::with(&s.visitor))?;
    // Rendered, not redirected: the secret exists only in this answer.
    render_detail(&state, &m, &id, Some(issued)).await
}

/// One checkbox per flag; an unchecked box is absent from the form.
#[derive(serde::Deserialize)]
struct ExclusionsForm {
    #[serde(default)]
    internal: Option<String>,
    #[serde(default)]
    consumer_cloud: Option<String>,
    #[serde(default)]
    reported: Option<String>,
}

/// The operator sets a buyer's §11 exclusion flags, as `PUT /v1/buyers/{id}/association-exclusions`.
async fn set_exclusions(
    State(state): State<AppState>,
    m: Member,
    Path(id): Path<String>,
    s: Submitted<ExclusionsForm>,
) -> PageResult {
    m.require(&[Role::Operator])?;
    let f = &s.form;
    let flags: Vec<AssociationExclusion> = [
        (AssociationExclusion::Internal, &f.internal),
        (AssociationExclusion::ConsumerCloud, &f.consumer_cloud),
        (AssociationExclusion::Reported, &f.reported),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(flag, _)| flag)
    .collect();
    resellers::set_exclusions(&state, &m.principal().party_id, &id, &flags)
        .await
        .map_err(WebError::with(&s.visitor))?;
    Ok(Redirect::to(&format!("/operator/parties/{id}")).into_response())
}
