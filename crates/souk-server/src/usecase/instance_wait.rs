//! `GET /v1/instances/{id}?wait=N`: answers once the instance has left `opening` (the seller's
//! answer to `newInstance` was recorded) or after N seconds, whichever comes first — so an
//! automation client that just paid need not poll.
//!
//! The wait is woken by this process's dispatcher each time it records a call's outcome. With
//! several `souk` processes on one PostgreSQL the outcome may be recorded by another process,
//! so the instance is also read again every second while waiting.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::id::InstanceId;
use souk_core::instance::InstanceState;
use souk_store::{InstanceRecord, Scope};
use std::time::Duration;

/// The longest wait a request may ask for, in seconds. A shutdown ends waits at once.
pub const MAX_WAIT_SECONDS: u32 = 30;

/// How often a waiting request reads the instance again without being woken.
const RECHECK: Duration = Duration::from_secs(1);

/// `?wait=` on `GET /v1/instances/{id}`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// While the instance is `opening`, wait up to this many seconds (1–30) for it to open
    /// (or fail) before answering. Without it the answer is immediate.
    #[param(minimum = 1, maximum = 30, example = 10)]
    pub wait: Option<u32>,
}

impl WaitQuery {
    fn duration(&self) -> AppResult<Duration> {
        match self.wait {
            None => Ok(Duration::ZERO),
            Some(s) if (1..=MAX_WAIT_SECONDS).contains(&s) => Ok(Duration::from_secs(s.into())),
            Some(_) => Err(AppError::bad_request(
                "invalid_query",
                format!("wait must be between 1 and {MAX_WAIT_SECONDS} seconds"),
            )),
        }
    }
}

/// The instance as the caller may see it, once it is no longer opening or the wait is over.
pub async fn instance_after_opening(
    state: &AppState,
    scope: &Scope,
    id: &InstanceId,
    query: &WaitQuery,
) -> AppResult<InstanceRecord> {
    let wait = query.duration()?;
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before the first read, so an outcome recorded in between still wakes us.
    let mut recorded = state.calls_recorded.subscribe();
    let mut stopping = state.stopping.clone();
    let mut stopped = false;
    loop {
        let instance = state
            .store
            .find_instance(scope, id)
            .await?
            .ok_or_else(|| AppError::not_found("instance"))?;
        let now = tokio::time::Instant::now();
        if instance.state != InstanceState::Opening || now >= deadline || stopped {
            return Ok(instance);
        }
        let nap = (deadline - now).min(RECHECK);
        tokio::select! {
            // Any outcome (or a lagging receiver): read again.
            _ = recorded.recv() => {}
            _ = shutting_down(&mut stopping) => stopped = true,
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

/// Completes when the server is shutting down (or gone); never outside `serve`.
async fn shutting_down(stopping: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match stopping {
        Some(s) => {
            let _ = s.wait_for(|stop| *stop).await;
        }
        None => std::future::pending().await,
    }
}
