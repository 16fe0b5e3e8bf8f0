//! The sandbox clock (sandbox mode only): read it, move it forward, run what became due. Used by
//! `GET|POST /v1/sandbox/clock…` (and so `souk clock`) and by the operator console.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::http::StatusCode;
use time::OffsetDateTime;

/// The business time and how far it is ahead of real time.
pub struct ClockReading {
    pub now: OffsetDateTime,
    pub offset_seconds: i64,
}

fn sandbox_clock(state: &AppState) -> AppResult<&souk_core::clock::OffsetClock> {
    match (&state.sandbox_clock, state.config.sandbox) {
        (Some(c), true) => Ok(c),
        _ => Err(AppError::new(
            StatusCode::NOT_FOUND,
            "sandbox_only",
            "the clock can only be moved in sandbox mode (souk serve --demo or sandbox = true)",
        )),
    }
}

pub fn read(state: &AppState) -> AppResult<ClockReading> {
    let c = sandbox_clock(state)?;
    Ok(ClockReading {
        now: state.clock.now(),
        offset_seconds: c.offset().whole_seconds(),
    })
}

/// Moves the clock forward by `by` ("30d", "1d12h"), then runs the timers that became due.
pub async fn advance(state: &AppState, by: &str) -> AppResult<ClockReading> {
    let c = sandbox_clock(state)?;
    let by = souk_core::clock::parse_duration(by).map_err(|m| AppError::invalid_field("by", m))?;
    if by <= time::Duration::ZERO {
        return Err(AppError::invalid_field(
            "by",
            "advance by a positive duration such as 30d",
        ));
    }
    c.advance(by)
        .map_err(|e| AppError::invalid_field("by", e.to_string()))?;
    run_due(state).await?;
    read(state)
}

/// Runs every timer due at the current business time and wakes the workers for the calls.
pub async fn run_due(state: &AppState) -> AppResult<()> {
    sandbox_clock(state)?;
    crate::workers::timers::run_due(state, state.clock.now())
        .await
        .map_err(AppError::internal)?;
    state.wake.notify_one();
    Ok(())
}
