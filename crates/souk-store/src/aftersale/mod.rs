//! After-sale storage: service supervision (its state and its append-only log) and refunds.
//!
//! The store decides nothing: `souk_core::supervision::decide` and `souk_core::refund` compute
//! the next state, and each method here saves it with a compare-and-set on the version (or
//! state) the caller read, in one transaction with its log entry, its effects on the order and
//! instance, and the message-centre notices of the parties that must act next.

mod attachments;
mod refunds;
mod supervision;

pub use attachments::AttachmentRecord;
pub use refunds::{
    InTransitConfirmation, RefundDecisionWrite, RefundEffects, RefundRecord, RefundWrite,
    RefundWriteError, ReviewMark,
};
pub use supervision::*;

use crate::StoreResult;
use async_trait::async_trait;
use souk_core::id::OrderId;
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
        order_id: &OrderId,
    ) -> StoreResult<Option<SupervisionRecord>>;

    /// The supervisions not yet completed or closed that `scope` sees (a party's as buyer or
    /// seller; every one for operators), most recently changed first, without their logs.
    async fn open_supervisions(
        &self,
        scope: &crate::Scope,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>>;

    /// Saves one supervision step. `Ok(false)`: someone else moved the supervision since it
    /// was read (the caller reads it again).
    async fn apply_supervision(&self, write: SupervisionWrite) -> StoreResult<bool>;

    /// Supervisions whose acceptance deadline has passed at `now` and that are not frozen.
    async fn due_supervisions(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>>;

    /// Records an attachment whose bytes are already in the blob store.
    async fn create_attachment(&self, a: &AttachmentRecord) -> StoreResult<()>;

    /// An attachment of an order visible in `scope`.
    async fn find_attachment(
        &self,
        scope: &crate::Scope,
        order_id: &OrderId,
        id: &str,
    ) -> StoreResult<Option<AttachmentRecord>>;

    /// The attachments of an order visible in `scope`, oldest first.
    async fn list_attachments(
        &self,
        scope: &crate::Scope,
        order_id: &OrderId,
    ) -> StoreResult<Vec<AttachmentRecord>>;

    /// How many no-reason refunds `buyer` received since `since`.
    async fn no_reason_refunds_since(
        &self,
        buyer: &PartyId,
        since: OffsetDateTime,
    ) -> StoreResult<u32>;

    /// The refunds of an order visible in `scope`, oldest first.
    async fn refunds_of_order(
        &self,
        scope: &crate::Scope,
        order_id: &OrderId,
    ) -> StoreResult<Vec<RefundRecord>>;

    /// Records a refund request, and carries it out at once when it has effects (no-reason,
    /// operator-forced), with its supervision step, in one transaction.
    async fn record_refund(&self, write: RefundWrite) -> Result<RefundRecord, RefundWriteError>;

    /// Pending requests whose review reminder or timeout has come at `now`.
    async fn due_reviews(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<RefundRecord>>;

    /// An operator confirmed a hardware "not received" request filed in transit.
    async fn confirm_in_transit(&self, c: InTransitConfirmation) -> StoreResult<bool>;

    /// The review timer's reminder or escalation (compare-and-set on the deadline read).
    async fn mark_review(&self, mark: ReviewMark) -> StoreResult<bool>;

    /// Open supervisions (every tenant) in order id order after `after`, at most `limit`: the
    /// reminder pass goes round all of them, a batch per run.
    async fn open_supervisions_after(
        &self,
        after: Option<&OrderId>,
        limit: u32,
    ) -> StoreResult<Vec<SupervisionRecord>>;

    /// Hardware returns whose step deadline has passed at `now` (lapse or automatic receipt).
    async fn due_returns(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<RefundRecord>>;

    /// The expiry a paid renewal order extended its instance from and to (`None`: not a paid
    /// renewal, or paid before Souk recorded it).
    async fn renewal_window(
        &self,
        order_id: &OrderId,
    ) -> StoreResult<Option<(OffsetDateTime, OffsetDateTime)>>;

    /// Decides a pending request (compare-and-set on `pending_seller_review`), with its
    /// effects when approved and its supervision step, in one transaction.
    async fn decide_refund(
        &self,
        write: RefundDecisionWrite,
    ) -> Result<RefundRecord, RefundWriteError>;
}

pub(crate) async fn notify(
    conn: &mut AnyConnection,
    notices: &[(PartyId, Notice)],
    ref_id: &OrderId,
    now: OffsetDateTime,
) -> StoreResult<()> {
    for (party, notice) in notices {
        crate::commerce::insert_notice(conn, party, notice, Some(ref_id.as_str()), now).await?;
    }
    Ok(())
}
