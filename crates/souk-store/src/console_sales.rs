//! What the seller center's orders page and sales dashboard read: a seller's newest orders
//! and instances, and paid orders summed per business day.

use crate::commerce::{instance_from_row, order_from_row};
use crate::*;
use souk_core::clock::to_unix_ms;
use sqlx::Row;

/// Paid orders of one business day in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySalesRow {
    /// Days since 1970-01-01 in the business zone.
    pub day: i64,
    pub currency: String,
    pub orders: u64,
    pub revenue_minor: i64,
}

pub(crate) async fn recent_orders(
    s: &SqlStore,
    seller: &PartyId,
    limit: u32,
) -> StoreResult<Vec<OrderRecord>> {
    let rows = sqlx::query("SELECT * FROM orders WHERE seller_id = $1 ORDER BY id DESC LIMIT $2")
        .bind(seller.as_str())
        .bind(i64::from(limit))
        .fetch_all(&s.read)
        .await?;
    rows.iter().map(order_from_row).collect()
}

pub(crate) async fn recent_instances(
    s: &SqlStore,
    seller: &PartyId,
    limit: u32,
) -> StoreResult<Vec<InstanceRecord>> {
    let rows =
        sqlx::query("SELECT * FROM instances WHERE seller_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(seller.as_str())
            .bind(i64::from(limit))
            .fetch_all(&s.read)
            .await?;
    rows.iter().map(instance_from_row).collect()
}

/// Orders paid since `since`, per business day (`zone_offset_ms` east of UTC) and currency,
/// with the cash they brought in: the price less the part a seller voucher paid, the base the
/// seller is settled on (§8.2). Refunded orders are left out: their money went back.
pub(crate) async fn sales_per_day(
    s: &SqlStore,
    seller: &PartyId,
    since: OffsetDateTime,
    zone_offset_ms: i64,
) -> StoreResult<Vec<DaySalesRow>> {
    let rows = sqlx::query(
        "SELECT (paid_at + $2) / 86400000 AS day, currency, COUNT(*) AS n, \
         CAST(SUM(amount_minor - voucher_minor) AS BIGINT) AS total FROM orders WHERE seller_id = $1 AND paid_at IS NOT NULL \
         AND paid_at >= $3 AND state <> 'refunded' GROUP BY (paid_at + $2) / 86400000, currency \
         ORDER BY 1",
    )
    .bind(seller.as_str())
    .bind(zone_offset_ms)
    .bind(to_unix_ms(since))
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DaySalesRow {
                day: r.try_get("day")?,
                currency: r.try_get("currency")?,
                orders: r.try_get::<i64, _>("n")? as u64,
                revenue_minor: r.try_get("total")?,
            })
        })
        .collect()
}
