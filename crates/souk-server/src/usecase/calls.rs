//! Production interface messages (every call Souk made to a seller, with its attempts), the
//! manual retry, and the message centre: shared by the JSON API (`http/messages.rs`) and the
//! consoles.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::id::JobId;
use souk_core::party::Role;
use souk_store::{AttemptFilter, AttemptRecord, JobRecord, MessageRecord, Page, Principal, Scope};

/// What a principal may see: everything for the operator, its own tenant otherwise.
pub fn scope_of(p: &Principal) -> Scope {
    match p.role {
        Role::Operator => Scope::Everything,
        _ => Scope::Party(p.party_id.clone()),
    }
}

fn seller_or_operator(p: &Principal) -> AppResult<()> {
    if matches!(p.role, Role::Seller | Role::Operator) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "production interface messages are for sellers and the operator",
        ))
    }
}

/// A path's call id; a malformed one names no call (404, as an unknown one).
pub fn job_id(id: &str) -> AppResult<JobId> {
    JobId::parse(id).ok_or_else(|| AppError::not_found("call"))
}

/// Attempts matching `filter`, newest first.
pub async fn attempts(
    state: &AppState,
    p: &Principal,
    filter: &AttemptFilter,
    page: &Page,
) -> AppResult<Vec<AttemptRecord>> {
    seller_or_operator(p)?;
    if let Some(o) = &filter.outcome {
        if !matches!(
            o.as_str(),
            "success" | "accepted" | "failure" | "interrupted"
        ) {
            return Err(AppError::bad_request(
                "invalid_query",
                "outcome must be success, accepted, failure or interrupted",
            ));
        }
    }
    Ok(state
        .store
        .list_attempts(&scope_of(p), filter, page)
        .await?)
}

/// One call and all its attempts.
pub async fn call(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> AppResult<(JobRecord, Vec<AttemptRecord>)> {
    seller_or_operator(p)?;
    let call = state
        .store
        .find_job(&scope_of(p), &job_id(id)?)
        .await?
        .ok_or_else(|| AppError::not_found("call"))?;
    let filter = AttemptFilter {
        job_id: Some(id.to_owned()),
        ..Default::default()
    };
    let attempts = state
        .store
        .list_attempts(&scope_of(p), &filter, &Page::first(Page::MAX_LIMIT))
        .await?;
    Ok((call, attempts))
}

/// Retries a failed or waiting call now (one immediate attempt, then the normal schedule).
pub async fn retry(state: &AppState, p: &Principal, id: &str) -> AppResult<JobRecord> {
    seller_or_operator(p)?;
    let job = state
        .store
        .retry_job(&scope_of(p), &job_id(id)?, &p.party_id, state.clock.now())
        .await?
        .ok_or_else(|| AppError::not_found("call"))?;
    state.wake.notify_one();
    Ok(job)
}

/// The principal's message centre, newest first. Every party has its own, the operator too:
/// a notice is addressed to one party (operators get their own copies of what waits on them),
/// so an operator's list holds only the operator's notices, never the buyers' or sellers'.
pub async fn messages(
    state: &AppState,
    p: &Principal,
    page: &Page,
) -> AppResult<Vec<MessageRecord>> {
    let own = Scope::Party(p.party_id.clone());
    Ok(state.store.list_messages(&own, page).await?)
}
