//! The statement workflow's deadlines (business rules §9): every move records when the state it
//! enters is due (`souk_core::settlement::Deadlines`), and the timers move a statement whose
//! invoice did not come in time to `invoice_error`. The operator's own deadlines (invoice check,
//! payout) are only shown: a platform does not act against itself by timer.

use crate::error::{AppError, AppResult};
use crate::AppState;
use souk_core::settlement::notice::statement_invoice_lapsed;
use souk_core::settlement::StatementState;
use souk_store::{Page, Scope, StatementFilter, StatementMove, StoreError};
use time::OffsetDateTime;

/// When a statement entering `to` at `at` is due to leave it.
pub fn due_at(
    state: &AppState,
    to: StatementState,
    at: OffsetDateTime,
) -> AppResult<Option<OffsetDateTime>> {
    let calendar = state
        .config
        .after_sale_calendar()
        .map_err(AppError::internal)?;
    Ok(state
        .config
        .settlement
        .deadlines()
        .due_at(to, at, &calendar))
}

/// Timer pass: statements still awaiting the seller's invoice at their deadline move to
/// `invoice_error` (the seller may still submit it from there), and the seller is told.
pub async fn lapse_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let filter = StatementFilter {
        state: Some(StatementState::AwaitingInvoice),
        due_by: Some(now),
        ..StatementFilter::default()
    };
    let page = Page {
        limit: Page::MAX_LIMIT,
        after: None,
    };
    let days = state.config.settlement.invoice_deadline.0.whole_days();
    let mut moved = 0;
    for s in state
        .store
        .list_statements(&Scope::Everything, &filter, &page)
        .await?
    {
        let transition = s.state.lapse_invoice()?;
        let m = StatementMove {
            id: s.id.clone(),
            transition,
            action: souk_core::settlement::StatementAction::InvoiceOverdue,
            reason: Some(format!(
                "no invoice within {days} days of the invoice notice"
            )),
            invoice_number: None,
            invoice_file: None,
            notice: statement_invoice_lapsed(&s.id, days),
            due_at: None,
        };
        match state
            .store
            .move_statement(&Scope::Everything, &m, None, now)
            .await
        {
            Ok(_) => moved += 1,
            // The seller's invoice came in meanwhile: nothing is overdue.
            Err(StoreError::LostRace { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(moved)
}
