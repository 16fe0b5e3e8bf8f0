//! The platform's fee invoices to sellers (business rules §10 row 4): the seller's request over
//! its paid statements, the operator's moves (compare-and-set on the state the core decided
//! from) and the issued file's record (the bytes are in the blob store).
//!
//! The store decides nothing: `souk_core::fee_invoice` does. One rule is the database's: a
//! statement is on at most one open fee invoice (`fee_invoice_statements_one_open`), so two
//! racing requests cannot both cover it. Every move releases the statements of an invoice that
//! is no longer open, records the seller's notice (message centre and e-mail) and the audit row,
//! all in one transaction.

use crate::commerce::{insert_notice, lost_race};
use crate::sql::{audit, corrupt, params};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::fee_invoice::{FeeInvoiceState, FeeInvoiceType};
use souk_core::money::{Currency, Money};
use souk_core::notice::Notice;
use souk_core::transition::Transition;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The unique index that keeps a statement on one open fee invoice.
pub const FEE_INVOICE_ONE_OPEN: &str = "fee_invoice_statements_one_open";

/// The issued invoice's file in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeInvoiceFile {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes, taken while they streamed in.
    pub sha256: String,
    pub storage_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeInvoiceRecord {
    pub id: String,
    pub seller_id: PartyId,
    pub invoice_type: FeeInvoiceType,
    pub title: String,
    pub tax_id: Option<String>,
    pub email: String,
    /// The platform fee over the statements, rounded once, fixed when requested.
    pub amount: Money,
    /// The statements it covers, in the order chosen.
    pub statement_ids: Vec<String>,
    pub state: FeeInvoiceState,
    /// The operator's reason for a rejection or a void.
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    pub file: Option<FeeInvoiceFile>,
    pub requested_at: OffsetDateTime,
    pub issued_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// One move of a fee invoice, decided by the core from the state the caller read.
#[derive(Debug, Clone)]
pub struct FeeInvoiceMove {
    pub id: String,
    pub transition: Transition<FeeInvoiceState>,
    pub reason: Option<String>,
    pub invoice_number: Option<String>,
    pub file: Option<FeeInvoiceFile>,
    /// To the seller.
    pub notice: Notice,
}

#[derive(Debug, Clone, Default)]
pub struct FeeInvoiceFilter {
    pub state: Option<FeeInvoiceState>,
}

#[async_trait]
pub trait FeeInvoiceStore: Send + Sync + 'static {
    /// A new request with its statements. `Conflict` on [`FEE_INVOICE_ONE_OPEN`] when one of
    /// them is on an open fee invoice already.
    async fn create_fee_invoice(&self, r: &FeeInvoiceRecord) -> StoreResult<()>;

    /// One fee invoice its seller or the operator sees; `None` for anyone else.
    async fn fee_invoice(&self, scope: &Scope, id: &str) -> StoreResult<Option<FeeInvoiceRecord>>;

    /// The seller's fee invoices (all for the operator), in id order.
    async fn fee_invoices(
        &self,
        scope: &Scope,
        filter: &FeeInvoiceFilter,
        page: &Page,
    ) -> StoreResult<Vec<FeeInvoiceRecord>>;

    /// Compare-and-set on `m.transition.from`; `LostRace` when it moved meanwhile.
    async fn move_fee_invoice(
        &self,
        m: &FeeInvoiceMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<FeeInvoiceRecord>;
}

fn from_row(r: &AnyRow, statement_ids: Vec<String>) -> StoreResult<FeeInvoiceRecord> {
    let text = |c: &str| -> StoreResult<String> { Ok(r.try_get::<String, _>(c)?) };
    let file = match r.try_get::<Option<String>, _>("storage_key")? {
        None => None,
        Some(storage_key) => Some(FeeInvoiceFile {
            filename: text("filename")?,
            content_type: text("content_type")?,
            size_bytes: r.try_get("size_bytes")?,
            sha256: text("sha256")?,
            storage_key,
        }),
    };
    Ok(FeeInvoiceRecord {
        id: text("id")?,
        seller_id: PartyId::from_trusted(text("seller_id")?),
        invoice_type: FeeInvoiceType::from_str(&text("invoice_type")?)
            .map_err(|e| corrupt("fee invoice type", e))?,
        title: text("title")?,
        tax_id: r.try_get("tax_id")?,
        email: text("email")?,
        amount: Money {
            amount_minor: r.try_get("amount_minor")?,
            currency: Currency::from_str(&text("currency")?).map_err(|e| corrupt("currency", e))?,
        },
        statement_ids,
        state: FeeInvoiceState::from_str(&text("state")?)
            .map_err(|e| corrupt("fee invoice state", e))?,
        reason: r.try_get("reason")?,
        invoice_number: r.try_get("invoice_number")?,
        file,
        requested_at: from_unix_ms(r.try_get("requested_at")?),
        issued_at: r.try_get::<Option<i64>, _>("issued_at")?.map(from_unix_ms),
        updated_at: from_unix_ms(r.try_get("updated_at")?),
    })
}

/// The statements of these fee invoices (released ones too: they stay what it was for).
async fn statement_ids_of(
    s: &SqlStore,
    ids: &[String],
) -> StoreResult<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT fee_invoice_id, statement_id FROM fee_invoice_statements \
         WHERE fee_invoice_id IN ({}) ORDER BY fee_invoice_id, position",
        params(s.backend(), 1, ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(id);
    }
    for row in q.fetch_all(&s.read).await? {
        out.entry(row.try_get("fee_invoice_id")?)
            .or_default()
            .push(row.try_get("statement_id")?);
    }
    Ok(out)
}

async fn with_statements(s: &SqlStore, rows: Vec<AnyRow>) -> StoreResult<Vec<FeeInvoiceRecord>> {
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    let mut links = statement_ids_of(s, &ids).await?;
    rows.iter()
        .zip(&ids)
        .map(|(r, id)| from_row(r, links.remove(id).unwrap_or_default()))
        .collect()
}

/// Its seller sees a fee invoice; the operator (no tenant) sees all.
const VISIBLE: &str = "($1 IS NULL OR seller_id = $1)";

#[async_trait]
impl FeeInvoiceStore for SqlStore {
    async fn create_fee_invoice(&self, r: &FeeInvoiceRecord) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO fee_invoices (id, seller_id, invoice_type, title, tax_id, email, \
             amount_minor, currency, state, requested_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&r.id)
        .bind(r.seller_id.as_str())
        .bind(r.invoice_type.as_str())
        .bind(&r.title)
        .bind(r.tax_id.clone())
        .bind(&r.email)
        .bind(r.amount.amount_minor)
        .bind(r.amount.currency.as_str())
        .bind(r.state.as_str())
        .bind(to_unix_ms(r.requested_at))
        .bind(to_unix_ms(r.updated_at))
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "INSERT INTO fee_invoice_statements (fee_invoice_id, statement_id, position) VALUES {}",
            values_list(self.backend(), r.statement_ids.len(), 3)
        );
        let mut q = sqlx::query(&sql);
        for (i, st) in r.statement_ids.iter().enumerate() {
            q = q.bind(&r.id).bind(st).bind(i as i64);
        }
        q.execute(&mut *tx).await?;
        let detail = serde_json::json!({
            "statement_ids": r.statement_ids, "invoice_type": r.invoice_type.as_str(),
            "amount_minor": r.amount.amount_minor, "currency": r.amount.currency.as_str(),
        });
        audit(
            &mut tx,
            r.requested_at,
            Some(&r.seller_id),
            "fee_invoice.requested",
            &r.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fee_invoice(&self, scope: &Scope, id: &str) -> StoreResult<Option<FeeInvoiceRecord>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM fee_invoices WHERE {VISIBLE} AND id = $2"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        Ok(with_statements(self, row.into_iter().collect())
            .await?
            .pop())
    }

    async fn fee_invoices(
        &self,
        scope: &Scope,
        f: &FeeInvoiceFilter,
        page: &Page,
    ) -> StoreResult<Vec<FeeInvoiceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM fee_invoices WHERE {VISIBLE} AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(f.state.map(|s| s.as_str().to_owned()))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        with_statements(self, rows).await
    }

    async fn move_fee_invoice(
        &self,
        m: &FeeInvoiceMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<FeeInvoiceRecord> {
        let t = m.transition;
        let issued_at = (t.to == FeeInvoiceState::Issued).then(|| to_unix_ms(now));
        let f = m.file.as_ref();
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "UPDATE fee_invoices SET state = $1, updated_at = $2, reason = COALESCE($3, reason), \
             invoice_number = COALESCE($4, invoice_number), issued_at = COALESCE($5, issued_at), \
             filename = COALESCE($6, filename), content_type = COALESCE($7, content_type), \
             size_bytes = COALESCE($8, size_bytes), sha256 = COALESCE($9, sha256), \
             storage_key = COALESCE($10, storage_key) \
             WHERE id = $11 AND state = $12 RETURNING *",
        )
        .bind(t.to.as_str())
        .bind(to_unix_ms(now))
        .bind(m.reason.clone())
        .bind(m.invoice_number.clone())
        .bind(issued_at)
        .bind(f.map(|f| f.filename.clone()))
        .bind(f.map(|f| f.content_type.clone()))
        .bind(f.map(|f| f.size_bytes))
        .bind(f.map(|f| f.sha256.clone()))
        .bind(f.map(|f| f.storage_key.clone()))
        .bind(&m.id)
        .bind(t.from.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(lost_race("fee invoice", &m.id, t));
        };
        if !t.to.is_open() {
            // Its statements may be requested again.
            sqlx::query(
                "UPDATE fee_invoice_statements SET released_at = $1 \
                 WHERE fee_invoice_id = $2 AND released_at IS NULL",
            )
            .bind(to_unix_ms(now))
            .bind(&m.id)
            .execute(&mut *tx)
            .await?;
        }
        let seller = PartyId::from_trusted(row.try_get::<String, _>("seller_id")?);
        insert_notice(&mut tx, &seller, &m.notice, Some(&m.id), now).await?;
        let detail = serde_json::json!({
            "from": t.from.as_str(), "to": t.to.as_str(), "reason": m.reason,
            "invoice_number": m.invoice_number, "sha256": f.map(|f| f.sha256.clone()),
        });
        let action = format!("fee_invoice.{}", t.to.as_str());
        audit(&mut tx, now, Some(actor), &action, &m.id, detail).await?;
        tx.commit().await?;
        let ids = vec![m.id.clone()];
        let statements = statement_ids_of(self, &ids).await?.remove(&m.id);
        from_row(&row, statements.unwrap_or_default())
    }
}
