//! Invoices a seller issues its buyer (business rules §10 row 1): the request rows, their moves
//! (compare-and-set on the state the core decided from) and the overdue flag.
//!
//! The store decides nothing: `souk_core::invoice` does. One rule is the database's: at most
//! one open (requested or issued) invoice per order (`invoices_one_open_per_order`). Every
//! write records its notices (message centre and e-mail) and its audit row in the same
//! transaction.

use crate::commerce::{insert_notice, lost_race};
use crate::sql::{audit, corrupt};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::invoice::{InvoiceState, InvoiceType};
use souk_core::money::{Currency, Money};
use souk_core::notice::Notice;
use souk_core::transition::Transition;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: String,
    pub order_id: OrderId,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub invoice_type: InvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
    /// The order's cash amount less vouchers and refunds, when requested.
    pub amount: Money,
    pub state: InvoiceState,
    /// The seller's reason for a rejection or a void.
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    /// The invoice file: an attachment of the order (blob store).
    pub attachment_id: Option<String>,
    pub requested_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    /// Set once by the timer when the request passed `due_at` still requested.
    pub overdue_at: Option<OffsetDateTime>,
    pub issued_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// One move of an invoice, decided by the core from the state the caller read.
#[derive(Debug, Clone)]
pub struct InvoiceMove {
    pub id: String,
    pub transition: Transition<InvoiceState>,
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    pub attachment_id: Option<String>,
    pub notices: Vec<(PartyId, Notice)>,
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub order_id: Option<OrderId>,
    pub state: Option<InvoiceState>,
    /// Only requests past their deadline (flagged by the timer).
    pub overdue: bool,
}

#[async_trait]
pub trait InvoiceStore: Send + Sync + 'static {
    /// A new request with the seller's notice. `Conflict` on `invoices_one_open_per_order`
    /// when the order already has an open invoice.
    async fn create_invoice(&self, r: &InvoiceRecord, notice: &Notice) -> StoreResult<()>;

    /// One invoice its buyer, its seller or the operator sees; `None` for anyone else.
    async fn invoice(&self, scope: &Scope, id: &str) -> StoreResult<Option<InvoiceRecord>>;

    /// The caller's invoices (as buyer or seller; all for the operator), in id order.
    async fn invoices(
        &self,
        scope: &Scope,
        filter: &InvoiceFilter,
        page: &Page,
    ) -> StoreResult<Vec<InvoiceRecord>>;

    /// The states of an order's invoices (for the refund interlock).
    async fn invoice_states_of_order(&self, order_id: &OrderId) -> StoreResult<Vec<InvoiceState>>;

    /// Compare-and-set on `m.transition.from`; `LostRace` when it moved meanwhile.
    async fn move_invoice(
        &self,
        m: &InvoiceMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<InvoiceRecord>;

    /// Requests still waiting for the seller at `now` past their deadline, not yet flagged.
    async fn due_invoices(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<InvoiceRecord>>;

    /// Flags a request overdue (once) with its notices; `false` if it moved or was flagged.
    async fn flag_overdue(
        &self,
        id: &str,
        notices: &[(PartyId, Notice)],
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}

fn from_row(r: &AnyRow) -> StoreResult<InvoiceRecord> {
    let text = |c: &str| -> StoreResult<String> { Ok(r.try_get::<String, _>(c)?) };
    let time = |c: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(from_unix_ms))
    };
    Ok(InvoiceRecord {
        id: text("id")?,
        order_id: OrderId::from_trusted(text("order_id")?),
        buyer_id: PartyId::from_trusted(text("buyer_id")?),
        seller_id: PartyId::from_trusted(text("seller_id")?),
        invoice_type: InvoiceType::from_str(&text("invoice_type")?)
            .map_err(|e| corrupt("invoice type", e))?,
        title: text("title")?,
        tax_id: r.try_get("tax_id")?,
        email: text("email")?,
        amount: Money {
            amount_minor: r.try_get("amount_minor")?,
            currency: Currency::from_str(&text("currency")?).map_err(|e| corrupt("currency", e))?,
        },
        state: InvoiceState::from_str(&text("state")?).map_err(|e| corrupt("invoice state", e))?,
        reason: r.try_get("reason")?,
        invoice_number: r.try_get("invoice_number")?,
        attachment_id: r.try_get("attachment_id")?,
        requested_at: from_unix_ms(r.try_get("requested_at")?),
        due_at: from_unix_ms(r.try_get("due_at")?),
        overdue_at: time("overdue_at")?,
        issued_at: time("issued_at")?,
        updated_at: from_unix_ms(r.try_get("updated_at")?),
    })
}

/// Its buyer and its seller see an invoice; the operator (no tenant) sees all.
const VISIBLE: &str = "($1 IS NULL OR buyer_id = $1 OR seller_id = $1)";

#[async_trait]
impl InvoiceStore for SqlStore {
    async fn create_invoice(&self, r: &InvoiceRecord, notice: &Notice) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO invoices (id, order_id, buyer_id, seller_id, invoice_type, title, \
             tax_id, email, amount_minor, currency, state, requested_at, due_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&r.id)
        .bind(r.order_id.as_str())
        .bind(r.buyer_id.as_str())
        .bind(r.seller_id.as_str())
        .bind(r.invoice_type.as_str())
        .bind(&r.title)
        .bind(r.tax_id.clone())
        .bind(&r.email)
        .bind(r.amount.amount_minor)
        .bind(r.amount.currency.as_str())
        .bind(r.state.as_str())
        .bind(to_unix_ms(r.requested_at))
        .bind(to_unix_ms(r.due_at))
        .bind(to_unix_ms(r.updated_at))
        .execute(&mut *tx)
        .await?;
        insert_notice(&mut tx, &r.seller_id, notice, Some(&r.id), r.requested_at).await?;
        let detail = serde_json::json!({
            "order_id": r.order_id.as_str(), "invoice_type": r.invoice_type.as_str(),
            "amount_minor": r.amount.amount_minor, "currency": r.amount.currency.as_str(),
        });
        audit(
            &mut tx,
            r.requested_at,
            Some(&r.buyer_id),
            "invoice.requested",
            &r.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invoice(&self, scope: &Scope, id: &str) -> StoreResult<Option<InvoiceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM invoices WHERE {VISIBLE} AND id = $2"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn invoices(
        &self,
        scope: &Scope,
        f: &InvoiceFilter,
        page: &Page,
    ) -> StoreResult<Vec<InvoiceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM invoices WHERE {VISIBLE} AND ($2 IS NULL OR order_id = $2) \
             AND ($3 IS NULL OR state = $3) AND ($4 = 0 OR overdue_at IS NOT NULL) \
             AND ($5 IS NULL OR id > $5) ORDER BY id LIMIT $6"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(f.order_id.as_ref().map(|o| o.as_str().to_owned()))
        .bind(f.state.map(|s| s.as_str().to_owned()))
        .bind(f.overdue as i64)
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn invoice_states_of_order(&self, order_id: &OrderId) -> StoreResult<Vec<InvoiceState>> {
        let rows = sqlx::query("SELECT state FROM invoices WHERE order_id = $1")
            .bind(order_id.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                InvoiceState::from_str(&r.try_get::<String, _>("state")?)
                    .map_err(|e| corrupt("invoice state", e))
            })
            .collect()
    }

    async fn move_invoice(
        &self,
        m: &InvoiceMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<InvoiceRecord> {
        let t = m.transition;
        let issued_at = (t.to == InvoiceState::Issued).then(|| to_unix_ms(now));
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "UPDATE invoices SET state = $1, updated_at = $2, reason = COALESCE($3, reason), \
             invoice_number = COALESCE($4, invoice_number), \
             attachment_id = COALESCE($5, attachment_id), issued_at = COALESCE($6, issued_at) \
             WHERE id = $7 AND state = $8 RETURNING *",
        )
        .bind(t.to.as_str())
        .bind(to_unix_ms(now))
        .bind(m.reason.clone())
        .bind(m.invoice_number.clone())
        .bind(m.attachment_id.clone())
        .bind(issued_at)
        .bind(&m.id)
        .bind(t.from.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(lost_race("invoice", &m.id, t));
        };
        let record = from_row(&row)?;
        for (party, notice) in &m.notices {
            insert_notice(&mut tx, party, notice, Some(&m.id), now).await?;
        }
        let detail = serde_json::json!({
            "from": t.from.as_str(), "to": t.to.as_str(), "reason": m.reason,
            "invoice_number": m.invoice_number, "attachment_id": m.attachment_id,
            "order_id": record.order_id.as_str(),
        });
        let action = format!("invoice.{}", t.to.as_str());
        audit(&mut tx, now, Some(actor), &action, &m.id, detail).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn due_invoices(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<InvoiceRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM invoices WHERE state = 'requested' AND due_at <= $1 \
             AND overdue_at IS NULL ORDER BY due_at, id LIMIT $2",
        )
        .bind(to_unix_ms(now))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn flag_overdue(
        &self,
        id: &str,
        notices: &[(PartyId, Notice)],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE invoices SET overdue_at = $1 WHERE id = $2 AND state = 'requested' \
             AND overdue_at IS NULL",
        )
        .bind(to_unix_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !done {
            return Ok(false);
        }
        for (party, notice) in notices {
            insert_notice(&mut tx, party, notice, Some(id), now).await?;
        }
        audit(
            &mut tx,
            now,
            None,
            "invoice.overdue",
            id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
