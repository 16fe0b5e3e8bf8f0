//! Background work: the provisioning dispatcher (calls to sellers) and the timer passes
//! (unpaid orders, expiry, grace, retention, auto-renew; registered in [`timers::passes`]).
//!
//! [`Engine`] is the one handle on it. In production [`spawn`] runs it in loops; tests turn the
//! loops off (`provisioning.workers = false`) and drive it deterministically with
//! [`Engine::run_due`] and [`Engine::drain`] on the injected clock, so no test sleeps waiting for
//! a round.

pub mod dispatcher;
pub mod requests;
pub mod timers;

pub use dispatcher::{Dispatcher, Recorded};

use crate::AppState;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;

/// How many rounds `drain` runs before it calls the work unsettled (a call that makes itself
/// due again at once, forever, is a bug worth a loud error rather than a hung test).
const MAX_DRAIN_ROUNDS: usize = 1000;

/// The background work of one process.
#[derive(Clone)]
pub struct Engine {
    state: AppState,
    dispatcher: Dispatcher,
}

impl Engine {
    pub fn new(state: AppState) -> anyhow::Result<Engine> {
        let dispatcher = Dispatcher::new(state.clone())?;
        Ok(Engine { state, dispatcher })
    }

    /// Runs every timer pass at `now`; returns how many things changed.
    pub async fn run_due(&self, now: OffsetDateTime) -> anyhow::Result<usize> {
        timers::run_due(&self.state, now).await
    }

    /// Runs timer passes and dispatch rounds at the clock's now until nothing is due: every
    /// call due now is sent and recorded, and so is every call that it made due. Returns how
    /// many things were done.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        for _ in 0..MAX_DRAIN_ROUNDS {
            let now = self.state.clock.now();
            let done =
                timers::run_due(&self.state, now).await? + self.dispatcher.run_once().await?;
            if done == 0 {
                return Ok(total);
            }
            total += done;
        }
        anyhow::bail!("background work still due after {MAX_DRAIN_ROUNDS} rounds")
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// Every seller-call outcome recorded from now on, in recording order.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<dispatcher::Recorded> {
        self.dispatcher.subscribe()
    }
}

/// Starts the dispatcher and timer loops. They stop when `shutdown` becomes true; the returned
/// handles finish once in-flight calls are recorded.
pub fn spawn(engine: Engine, shutdown: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let Engine { state, dispatcher } = engine;
    let mut handles = Vec::new();
    {
        let shutdown = shutdown.clone();
        handles.push(tokio::spawn(async move { dispatcher.run(shutdown).await }));
    }
    {
        let mut shutdown = shutdown;
        handles.push(tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                // Each pass logs its own failure; the next tick tries again.
                let _ = timers::run_due(&state, state.clock.now()).await;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }));
    }
    handles
}
