//! Attachment rows: what was uploaded to which order, by whom, with its size and sha256.

use crate::{Scope, SqlStore, StoreResult};
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::OrderId;
use souk_core::party::PartyId;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub id: String,
    pub order_id: OrderId,
    pub uploader_id: PartyId,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes, computed while they streamed in.
    pub sha256: String,
    /// Where the bytes are in the blob store.
    pub storage_key: String,
    pub created_at: OffsetDateTime,
}

fn from_row(row: &AnyRow) -> StoreResult<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        order_id: OrderId::from_trusted(row.try_get("order_id")?),
        uploader_id: PartyId::from_trusted(row.try_get("uploader_id")?),
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        storage_key: row.try_get("storage_key")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
    })
}

/// Only the parties of the order (and the operator) see its attachments.
const VISIBLE: &str = "EXISTS (SELECT 1 FROM orders o WHERE o.id = a.order_id \
     AND ($1 IS NULL OR o.buyer_id = $1 OR o.seller_id = $1))";

pub(super) async fn create(s: &SqlStore, a: &AttachmentRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO attachments (id, order_id, uploader_id, filename, content_type, size_bytes, \
         sha256, storage_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.id)
    .bind(a.order_id.as_str())
    .bind(a.uploader_id.as_str())
    .bind(&a.filename)
    .bind(&a.content_type)
    .bind(a.size_bytes)
    .bind(&a.sha256)
    .bind(&a.storage_key)
    .bind(to_unix_ms(a.created_at))
    .execute(&s.write)
    .await?;
    Ok(())
}

pub(super) async fn find(
    s: &SqlStore,
    scope: &Scope,
    order_id: &OrderId,
    id: &str,
) -> StoreResult<Option<AttachmentRecord>> {
    let row = sqlx::query(&format!(
        "SELECT a.* FROM attachments a WHERE a.id = $2 AND a.order_id = $3 AND {VISIBLE}"
    ))
    .bind(scope.tenant().map(str::to_owned))
    .bind(id)
    .bind(order_id.as_str())
    .fetch_optional(&s.read)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub(super) async fn list(
    s: &SqlStore,
    scope: &Scope,
    order_id: &OrderId,
) -> StoreResult<Vec<AttachmentRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT a.* FROM attachments a WHERE a.order_id = $2 AND {VISIBLE} ORDER BY a.id"
    ))
    .bind(scope.tenant().map(str::to_owned))
    .bind(order_id.as_str())
    .fetch_all(&s.read)
    .await?;
    rows.iter().map(from_row).collect()
}
