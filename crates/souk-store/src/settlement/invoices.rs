//! Sellers' invoices to the platform for their statements (§9, §10 row 3): one row per
//! submission, written in the statement move's transaction; the file is in the blob store.

use crate::sql::corrupt;
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::money::{Currency, Money};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInvoiceRecord {
    pub id: String,
    pub statement_id: String,
    pub seller_id: PartyId,
    pub invoice_number: String,
    pub amount: Money,
    pub tax_rate_bp: u32,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes, taken while they streamed in.
    pub sha256: String,
    pub storage_key: String,
    pub created_at: OffsetDateTime,
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    r: &StatementInvoiceRecord,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO statement_invoices (id, statement_id, seller_id, invoice_number, \
         amount_minor, currency, tax_rate_bp, filename, content_type, size_bytes, sha256, \
         storage_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&r.id)
    .bind(&r.statement_id)
    .bind(r.seller_id.as_str())
    .bind(&r.invoice_number)
    .bind(r.amount.amount_minor)
    .bind(r.amount.currency.as_str())
    .bind(r.tax_rate_bp as i64)
    .bind(&r.filename)
    .bind(&r.content_type)
    .bind(r.size_bytes)
    .bind(&r.sha256)
    .bind(&r.storage_key)
    .bind(to_unix_ms(r.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

fn from_row(r: &AnyRow) -> StoreResult<StatementInvoiceRecord> {
    let currency: String = r.try_get("currency")?;
    Ok(StatementInvoiceRecord {
        id: r.try_get("id")?,
        statement_id: r.try_get("statement_id")?,
        seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
        invoice_number: r.try_get("invoice_number")?,
        amount: Money {
            amount_minor: r.try_get("amount_minor")?,
            currency: Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
        },
        tax_rate_bp: r.try_get::<i64, _>("tax_rate_bp")? as u32,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        sha256: r.try_get("sha256")?,
        storage_key: r.try_get("storage_key")?,
        created_at: from_unix_ms(r.try_get("created_at")?),
    })
}

/// A statement's invoices, oldest first (the caller has checked it may see the statement).
pub(super) async fn list(
    s: &SqlStore,
    statement_id: &str,
) -> StoreResult<Vec<StatementInvoiceRecord>> {
    let rows = sqlx::query("SELECT * FROM statement_invoices WHERE statement_id = $1 ORDER BY id")
        .bind(statement_id)
        .fetch_all(&s.read)
        .await?;
    rows.iter().map(from_row).collect()
}
