//! After-sale storage: service supervision (its state and its append-only log) and refunds.
//!
//! The store decides nothing: `souk_core::supervision::decide` and `souk_core::refund` compute
//! the next state, and each method here saves it with a compare-and-set on the version (or
//! state) the caller read, in one transaction with its log entry, its effects on the order and
//! instance, and the message-centre notices of the parties that must act next.

mod supervision;

pub use supervision::*;

use crate::StoreResult;
use async_trait::async_trait;
use souk_core::notice::Notice;
use souk_core::party::PartyId;
use sqlx::AnyConnection;
use time::OffsetDateTime;

/// Supervision and refunds, as use cases.
#[async_trait]
pub trait AftersaleStore: Send + Sync + 'static {
    /// An order's supervision and its whole log, if the order is visible in `scope` and
    /// supervised.
    async fn find_supervision(
        &self,
        scope: &crate::Scope,
        order_id: &str,
    ) -> StoreResult<Option<SupervisionRecord>>;

    /// Saves one supervision step. `Ok(false)`: someone else moved the supervision since it
    /// was read (the caller reads it again).
    async fn apply_supervision(&self, write: SupervisionWrite) -> StoreResult<bool>;

    /// Supervisions whose acceptance deadline has passed at `now` and that are not frozen.
    async fn due_supervisions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>>;
}

pub(crate) async fn notify(
    conn: &mut AnyConnection,
    notices: &[(PartyId, Notice)],
    ref_id: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    for (party, notice) in notices {
        crate::commerce::insert_notice(conn, party, notice, Some(ref_id), now).await?;
    }
    Ok(())
}
