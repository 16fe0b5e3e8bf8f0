//! Seller vouchers (business rules §8.2): the voucher rows, the revoke move (compare-and-set on
//! the state, and only while nothing was used), and the balance movements that paying and
//! refunding an order make inside their own transactions.
//!
//! The store decides nothing: `souk_core::voucher` does. Every movement of a balance is a
//! `voucher_entries` row written with the change, so `remaining = face + Σ entries` (checked by
//! [`VoucherStore::voucher_mismatches`]).

use crate::commerce::{insert_notice, lost_race};
use crate::exec::Exec;
use crate::sql::{audit, corrupt, BatchQuery};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::money::{Currency, Money};
use souk_core::notice::Notice;
use souk_core::transition::Transition;
use souk_core::voucher::{Voucher, VoucherState};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherRecord {
    pub id: String,
    pub seller_id: PartyId,
    pub buyer_id: PartyId,
    pub face: Money,
    pub remaining_minor: i64,
    pub product_ids: Vec<String>,
    pub sku_ids: Vec<String>,
    pub valid_from: OffsetDateTime,
    pub valid_until: OffsetDateTime,
    pub not_for_packages: bool,
    pub not_with_promotions: bool,
    pub state: VoucherState,
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl VoucherRecord {
    /// The rules' view of the row.
    pub fn rules(&self) -> Voucher {
        Voucher {
            seller_id: self.seller_id.to_string(),
            buyer_id: self.buyer_id.to_string(),
            face: self.face,
            remaining_minor: self.remaining_minor,
            product_ids: self.product_ids.clone(),
            sku_ids: self.sku_ids.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            not_for_packages: self.not_for_packages,
            not_with_promotions: self.not_with_promotions,
            state: self.state,
        }
    }
}

/// A voucher whose balance does not match its movements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherMismatch {
    pub voucher_id: String,
    pub what: String,
    pub stored: i64,
    pub recomputed: i64,
}

#[async_trait]
pub trait VoucherStore: Send + Sync + 'static {
    /// A new voucher with the buyer's notice and the audit record, in one transaction.
    async fn create_voucher(&self, v: &VoucherRecord, notice: &Notice) -> StoreResult<()>;

    /// One voucher its seller, its buyer or the operator sees; `None` for anyone else.
    async fn voucher(&self, scope: &Scope, id: &str) -> StoreResult<Option<VoucherRecord>>;

    /// The caller's vouchers (issued as seller or held as buyer; all for the operator).
    async fn vouchers(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<VoucherRecord>>;

    /// Revokes a voucher: compare-and-set on `t.from` and on nothing having been used
    /// (`remaining = face`); `LostRace` otherwise.
    async fn revoke_voucher(
        &self,
        id: &str,
        t: Transition<VoucherState>,
        notice: &Notice,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<VoucherRecord>;

    /// Vouchers whose remaining balance is not face + Σ movements, and paid orders whose
    /// voucher use is not their voucher part (for the settlement check).
    async fn voucher_mismatches(&self) -> StoreResult<Vec<VoucherMismatch>>;
}

fn list(text: String) -> StoreResult<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| corrupt("voucher scope", e))
}

fn from_row(r: &AnyRow) -> StoreResult<VoucherRecord> {
    let text = |c: &str| -> StoreResult<String> { Ok(r.try_get::<String, _>(c)?) };
    let currency = Currency::from_str(&text("currency")?).map_err(|e| corrupt("currency", e))?;
    Ok(VoucherRecord {
        id: text("id")?,
        seller_id: PartyId::from_trusted(text("seller_id")?),
        buyer_id: PartyId::from_trusted(text("buyer_id")?),
        face: Money::new(r.try_get("face_minor")?, currency),
        remaining_minor: r.try_get("remaining_minor")?,
        product_ids: list(text("product_ids")?)?,
        sku_ids: list(text("sku_ids")?)?,
        valid_from: from_unix_ms(r.try_get("valid_from")?),
        valid_until: from_unix_ms(r.try_get("valid_until")?),
        not_for_packages: r.try_get::<i64, _>("not_for_packages")? != 0,
        not_with_promotions: r.try_get::<i64, _>("not_with_promotions")? != 0,
        state: VoucherState::from_str(&text("state")?).map_err(|e| corrupt("voucher state", e))?,
        note: r.try_get("note")?,
        created_at: from_unix_ms(r.try_get("created_at")?),
        updated_at: from_unix_ms(r.try_get("updated_at")?),
    })
}

/// Its seller and its buyer see a voucher; the operator (no tenant) sees all.
const VISIBLE: &str = "($1 IS NULL OR buyer_id = $1 OR seller_id = $1)";

/// The voucher as it is inside the caller's transaction.
pub(crate) async fn voucher_in(
    conn: &mut impl Exec,
    id: &str,
) -> StoreResult<Option<VoucherRecord>> {
    let row = conn
        .optional(sqlx::query("SELECT * FROM vouchers WHERE id = $1").bind(id.to_owned()))
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The error of a voucher that no longer had an order's part when it was paid.
pub(crate) fn voucher_lost(id: &str) -> StoreError {
    StoreError::LostRace {
        what: "voucher",
        id: id.to_owned(),
        expected: "enough remaining",
    }
}

/// Paying an order takes its voucher part off the voucher: a compare-and-set on the balance,
/// the state and the validity at `now` (two orders racing for the last of a voucher: one
/// changes the row, the other changes none and is refused), and the movement's entry.
pub(crate) fn use_queries<'q>(
    voucher_id: &str,
    order: &OrderRecord,
    now: OffsetDateTime,
) -> Vec<BatchQuery<'q>> {
    let at = to_unix_ms(now);
    vec![
        sqlx::query(
            "UPDATE vouchers SET remaining_minor = remaining_minor - $1, updated_at = $2 \
             WHERE id = $3 AND state = 'active' AND remaining_minor >= $1 \
             AND valid_from <= $2 AND valid_until > $2",
        )
        .bind(order.voucher_minor)
        .bind(at)
        .bind(voucher_id.to_owned()),
        sqlx::query(
            "INSERT INTO voucher_entries (id, voucher_id, order_id, kind, refund_id, \
             amount_minor, created_at) VALUES ($1, $2, $3, 'use', NULL, $4, $5)",
        )
        .bind(souk_core::id::generate("vce", now))
        .bind(voucher_id.to_owned())
        .bind(order.id.as_str().to_owned())
        .bind(-order.voucher_minor)
        .bind(at),
    ]
}

/// A refund of an order returns the voucher part in proportion to the cash it returns
/// (`souk_core::voucher::voucher_back`), inside the refund's transaction; call it before the
/// refund's ledger credit is written. Returned to the voucher even after its validity (it
/// stays unusable then). Records the part on the refund row when there is one. The voucher
/// part returned.
pub(crate) async fn return_voucher_part(
    conn: &mut impl Exec,
    order_id: &str,
    refund_id: Option<&str>,
    cash_back_minor: i64,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let row = conn
        .one(
            sqlx::query(
                "SELECT o.voucher_id, o.amount_minor - o.voucher_minor AS cash, \
                 CAST(COALESCE((SELECT -SUM(e.amount_minor) FROM voucher_entries e \
                    WHERE e.order_id = o.id AND e.kind = 'use'), 0) AS BIGINT) AS used, \
                 CAST(COALESCE((SELECT SUM(e.amount_minor) FROM voucher_entries e \
                    WHERE e.order_id = o.id AND e.kind = 'refund'), 0) AS BIGINT) AS returned, \
                 CAST(COALESCE((SELECT SUM(l.amount_minor) FROM ledger_entries l \
                    WHERE l.order_id = o.id AND l.kind = 'refund'), 0) AS BIGINT) AS cash_back \
                 FROM orders o WHERE o.id = $1",
            )
            .bind(order_id.to_owned()),
        )
        .await?;
    let Some(voucher_id) = row.try_get::<Option<String>, _>("voucher_id")? else {
        return Ok(0);
    };
    let back = souk_core::voucher::voucher_back(
        row.try_get("used")?,
        row.try_get("cash")?,
        row.try_get("cash_back")?,
        row.try_get("returned")?,
        cash_back_minor,
    );
    if back <= 0 {
        return Ok(0);
    }
    let at = to_unix_ms(now);
    conn.exec(
        sqlx::query(
            "UPDATE vouchers SET remaining_minor = remaining_minor + $1, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(back)
        .bind(at)
        .bind(voucher_id.clone()),
    )
    .await?;
    conn.exec(
        sqlx::query(
            "INSERT INTO voucher_entries (id, voucher_id, order_id, kind, refund_id, \
             amount_minor, created_at) VALUES ($1, $2, $3, 'refund', $4, $5, $6)",
        )
        .bind(souk_core::id::generate("vce", now))
        .bind(voucher_id)
        .bind(order_id.to_owned())
        .bind(refund_id.map(str::to_owned))
        .bind(back)
        .bind(at),
    )
    .await?;
    if let Some(refund_id) = refund_id {
        conn.exec(
            sqlx::query("UPDATE refunds SET voucher_minor = voucher_minor + $1 WHERE id = $2")
                .bind(back)
                .bind(refund_id.to_owned()),
        )
        .await?;
    }
    Ok(back)
}

#[async_trait]
impl VoucherStore for SqlStore {
    async fn create_voucher(&self, v: &VoucherRecord, notice: &Notice) -> StoreResult<()> {
        let json = |l: &Vec<String>| serde_json::to_string(l).map_err(|e| corrupt("scope", e));
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO vouchers (id, seller_id, buyer_id, face_minor, remaining_minor, \
             currency, product_ids, sku_ids, valid_from, valid_until, not_for_packages, \
             not_with_promotions, state, note, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&v.id)
        .bind(v.seller_id.as_str())
        .bind(v.buyer_id.as_str())
        .bind(v.face.amount_minor)
        .bind(v.remaining_minor)
        .bind(v.face.currency.as_str())
        .bind(json(&v.product_ids)?)
        .bind(json(&v.sku_ids)?)
        .bind(to_unix_ms(v.valid_from))
        .bind(to_unix_ms(v.valid_until))
        .bind(v.not_for_packages as i64)
        .bind(v.not_with_promotions as i64)
        .bind(v.state.as_str())
        .bind(v.note.clone())
        .bind(to_unix_ms(v.created_at))
        .bind(to_unix_ms(v.updated_at))
        .execute(&mut *tx)
        .await?;
        insert_notice(&mut tx, &v.buyer_id, notice, Some(&v.id), v.created_at).await?;
        let detail = serde_json::json!({
            "buyer_id": v.buyer_id.as_str(), "face_minor": v.face.amount_minor,
            "currency": v.face.currency.as_str(), "product_ids": v.product_ids,
            "sku_ids": v.sku_ids, "not_for_packages": v.not_for_packages,
            "not_with_promotions": v.not_with_promotions,
        });
        audit(
            &mut tx,
            v.created_at,
            Some(&v.seller_id),
            "voucher.issued",
            &v.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn voucher(&self, scope: &Scope, id: &str) -> StoreResult<Option<VoucherRecord>> {
        let row = sqlx::query(&format!(
            "SELECT * FROM vouchers WHERE {VISIBLE} AND id = $2"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn vouchers(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<VoucherRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM vouchers WHERE {VISIBLE} AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3"
        ))
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn revoke_voucher(
        &self,
        id: &str,
        t: Transition<VoucherState>,
        notice: &Notice,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<VoucherRecord> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "UPDATE vouchers SET state = $1, updated_at = $2 \
             WHERE id = $3 AND state = $4 AND remaining_minor = face_minor RETURNING *",
        )
        .bind(t.to.as_str())
        .bind(to_unix_ms(now))
        .bind(id)
        .bind(t.from.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(lost_race("voucher", id, t));
        };
        let record = from_row(&row)?;
        insert_notice(&mut tx, &record.buyer_id, notice, Some(id), now).await?;
        let detail = serde_json::json!({ "from": t.from.as_str(), "to": t.to.as_str() });
        audit(&mut tx, now, Some(actor), "voucher.revoked", id, detail).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn voucher_mismatches(&self) -> StoreResult<Vec<VoucherMismatch>> {
        let mut out = Vec::new();
        let rows = sqlx::query(
            "SELECT v.id, v.remaining_minor, v.face_minor + CAST(COALESCE((SELECT \
             SUM(e.amount_minor) FROM voucher_entries e WHERE e.voucher_id = v.id), 0) \
             AS BIGINT) AS expected FROM vouchers v ORDER BY v.id",
        )
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let (stored, expected): (i64, i64) =
                (r.try_get("remaining_minor")?, r.try_get("expected")?);
            if stored != expected {
                out.push(VoucherMismatch {
                    voucher_id: r.try_get("id")?,
                    what: "remaining balance against its movements".to_owned(),
                    stored,
                    recomputed: expected,
                });
            }
        }
        let rows = sqlx::query(
            "SELECT o.id, o.voucher_id, o.voucher_minor, CAST(COALESCE((SELECT \
             -SUM(e.amount_minor) FROM voucher_entries e WHERE e.order_id = o.id \
             AND e.kind = 'use'), 0) AS BIGINT) AS used FROM orders o \
             WHERE o.voucher_id IS NOT NULL AND o.paid_at IS NOT NULL ORDER BY o.id",
        )
        .fetch_all(&self.read)
        .await?;
        for r in &rows {
            let (stored, used): (i64, i64) = (r.try_get("voucher_minor")?, r.try_get("used")?);
            if stored != used {
                let order: String = r.try_get("id")?;
                out.push(VoucherMismatch {
                    voucher_id: r.try_get("voucher_id")?,
                    what: format!("voucher part of paid order {order}"),
                    stored,
                    recomputed: used,
                });
            }
        }
        Ok(out)
    }
}
