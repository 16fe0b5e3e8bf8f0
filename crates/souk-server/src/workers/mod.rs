//! Background work: the provisioning dispatcher (calls to sellers) and the timers (unpaid
//! orders, expiry, grace, retention, auto-renew).
//!
//! Both are plain functions that do one round of work and return how much they did
//! ([`Dispatcher::run_once`], [`timers::run_once`]), so tests can drive them deterministically;
//! [`spawn`] runs them in loops until shutdown.

pub mod dispatcher;
pub mod timers;

pub use dispatcher::Dispatcher;

use crate::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Starts the dispatcher and timer loops. They stop when `shutdown` becomes true; the returned
/// handles finish once in-flight calls are recorded.
pub fn spawn(
    state: AppState,
    dispatcher: Dispatcher,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    {
        let mut shutdown = shutdown.clone();
        let state = state.clone();
        handles.push(tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let did = match dispatcher.run_once().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(error = ?e, "dispatcher round failed");
                        0
                    }
                };
                if did > 0 {
                    continue;
                }
                // Nothing due: sleep until the next job is due, a new job is enqueued in this
                // process, or at most a second (jobs enqueued by other processes).
                let wait = state
                    .store
                    .next_job_due()
                    .await
                    .ok()
                    .flatten()
                    .map(|at| {
                        (at - state.clock.now()).clamp(time::Duration::ZERO, time::Duration::SECOND)
                    })
                    .map(|d| Duration::from_millis(d.whole_milliseconds() as u64))
                    .unwrap_or(Duration::from_secs(1));
                tokio::select! {
                    _ = state.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }));
    }
    {
        let mut shutdown = shutdown;
        handles.push(tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                if let Err(e) = timers::run_once(&state).await {
                    tracing::error!(error = ?e, "timer round failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }));
    }
    handles
}
