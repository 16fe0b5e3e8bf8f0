//! Metering storage: accepted usage records (deduplicated by the database), the charges
//! collections make of them with their ledger lines, and on-demand arrears.
//!
//! Deduplication is the two unique indexes of `usage_records` (`(instance, metering_sn)` and
//! `(instance, begin, end)`) with `ON CONFLICT DO NOTHING`: exact under concurrency, no
//! pre-check. Rating is compare-and-set: the server reads what is pending
//! ([`MeteringStore::pending_usage`]), prices it in `souk-core`, and
//! [`MeteringStore::apply_usage_charge`] books it only if the records and the period's rated
//! total are still what was read.

mod nonces;
mod packages;
mod records;

pub use packages::*;
pub use records::*;

use crate::commerce::{
    balance_in, insert_job, insert_notice, instance_from_row, instance_in, lock_account,
    tenant_clause, transition_instance,
};
use crate::sql::{audit, params};
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::InstanceId;
use souk_core::instance::{InstanceEvent, InstanceState};
use souk_core::metering::{arrears_transition, Collection, PriceMode, UsageValue};
use souk_core::money::{Currency, Money};
use souk_core::transition::StateMachine;
use sqlx::AnyConnection;
use sqlx::Row;

/// On-demand terms as stored (`Term` is JSON with a `kind` tag).
const ON_DEMAND_TERM: &str = r#"{"kind":"on_demand"}"#;

/// Records per INSERT statement: 11 binds each stays far below SQLite's 32,766 variables.
const INSERT_CHUNK: usize = 1000;

#[async_trait]
pub trait MeteringStore: Send + Sync + 'static {
    /// The instances with these ids (any tenant: the caller checks ownership).
    async fn instances_by_ids(&self, ids: &[InstanceId]) -> StoreResult<Vec<InstanceRecord>>;

    /// Stores the records that are new; returns how many were (the others are duplicates by
    /// `metering_sn` or by window, of earlier pushes or of this one). One transaction.
    async fn insert_usage(&self, records: &[NewUsageRecord]) -> StoreResult<u64>;

    /// Remembers a usage push's nonce: `true` if `seller` had not used it since
    /// `now_ms - keep_ms` (protocol time, Unix ms), `false` for a replay — for every process
    /// on this database. One statement; old nonces are pruned now and then.
    async fn first_use_of_nonce(
        &self,
        seller: &PartyId,
        nonce: &str,
        now_ms: i64,
        keep_ms: i64,
    ) -> StoreResult<bool>;

    /// Per instance of a product collected as `collection` says: unrated usage ending at or
    /// before `cutoff`, and what the instance already had rated in `period`.
    async fn pending_usage(
        &self,
        collection: Collection,
        cutoff: OffsetDateTime,
        period: &str,
        limit: u32,
    ) -> StoreResult<Vec<PendingUsage>>;

    /// Books one charge (records → charge → ledger line) if nothing changed since
    /// [`MeteringStore::pending_usage`]; `None` if something did (read again). Returns the
    /// buyer's balance after it.
    async fn apply_usage_charge(&self, charge: &NewUsageCharge) -> StoreResult<Option<Balance>>;

    /// An active on-demand instance whose buyer's balance is negative enters grace with
    /// `expire_at` as given (the lifecycle timers freeze it at `expire_at + grace` and release
    /// it after retention). `false` if it was not active.
    async fn enter_arrears(
        &self,
        instance_id: &InstanceId,
        expire_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// The buyer's on-demand instances in grace or frozen for arrears become active again,
    /// with `jobs_for(instance)` (the unfreeze calls) enqueued in the same transaction.
    async fn clear_arrears(
        &self,
        buyer: &PartyId,
        jobs_for: for<'i> fn(&'i InstanceRecord) -> Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<InstanceId>>;

    /// Books an operator adjustment of an instance's usage charges (a charge row without
    /// records, its ledger line and an audit row). `None` when there is no such instance.
    async fn adjust_usage(&self, a: &NewUsageAdjustment)
        -> StoreResult<Option<(PartyId, Balance)>>;

    /// Sets (or with `None` clears) the Step/Tier rating of a product visible to `scope` as
    /// its seller, and how often its usage is collected; `false` when there is no such
    /// product.
    async fn set_usage_price(
        &self,
        scope: &Scope,
        product_id: &str,
        price: Option<&PriceMode>,
        collection: Collection,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// The product's Step/Tier rating, if it has one.
    async fn usage_price(&self, product_id: &str) -> StoreResult<Option<PriceMode>>;

    /// How often the product's usage is collected.
    async fn usage_collection(&self, product_id: &str) -> StoreResult<Collection>;

    /// Usage records visible in `scope`, of one instance or (None) all, newest last.
    async fn usage_records(
        &self,
        scope: &Scope,
        instance_id: Option<&InstanceId>,
        after_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecordRow>>;

    /// Usage of one instance visible in `scope` per bucket of `bucket_ms` (by record begin,
    /// buckets aligned on the zone `shift_ms` east of UTC: business hours or days), for
    /// records beginning in `[from, to)`, oldest first, at most 1,000 buckets.
    #[allow(clippy::too_many_arguments)]
    async fn usage_summary(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
        bucket_ms: i64,
        shift_ms: i64,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<UsageBucket>>;

    /// Usage charges of one instance visible in `scope`, oldest first.
    async fn usage_charges(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
        page: &Page,
    ) -> StoreResult<Vec<UsageChargeRow>>;
}

#[async_trait]
impl MeteringStore for SqlStore {
    async fn instances_by_ids(&self, ids: &[InstanceId]) -> StoreResult<Vec<InstanceRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM instances WHERE id IN ({})",
            params(self.backend, 1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn insert_usage(&self, records: &[NewUsageRecord]) -> StoreResult<u64> {
        if let Some(writer) = &self.writer {
            return writer
                .unit(&self.write, |u| {
                    insert_usage_writer(u.connection(), records)
                })
                .await;
        }
        if self.backend == Backend::Sqlite {
            return insert_usage_sqlite(&self.write, records).await;
        }
        let mut tx = self.write.begin().await?;
        let mut stored = 0;
        for chunk in records.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO usage_records (instance_id, buyer_id, seller_id, metering_sn, \
                 begin_at, end_at, record_at, usage, relate_pkg_instance, received_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 10;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10
                ));
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.instance_id.as_str())
                    .bind(r.buyer_id.as_str())
                    .bind(r.seller_id.as_str())
                    .bind(r.metering_sn.as_deref())
                    .bind(to_unix_ms(r.begin))
                    .bind(to_unix_ms(r.end))
                    .bind(to_unix_ms(r.record_time))
                    .bind(r.usage.ten_thousandths())
                    .bind(r.relate_pkg_instance.as_deref())
                    .bind(to_unix_ms(r.received_at));
            }
            stored += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn first_use_of_nonce(
        &self,
        seller: &PartyId,
        nonce: &str,
        now_ms: i64,
        keep_ms: i64,
    ) -> StoreResult<bool> {
        nonces::first_use(self, seller, nonce, now_ms, keep_ms).await
    }

    async fn pending_usage(
        &self,
        collection: Collection,
        cutoff: OffsetDateTime,
        period: &str,
        limit: u32,
    ) -> StoreResult<Vec<PendingUsage>> {
        // Daily products are few: their instances drive the daily read through the index;
        // the hourly read leaves them out after grouping (one probe per instance, not per
        // record).
        let daily = "SELECT di.id FROM instances di \
                     JOIN usage_daily_products dp ON dp.product_id = di.product_id";
        let (inner, outer) = match collection {
            Collection::Daily => (format!("AND r.instance_id IN ({daily})"), String::new()),
            Collection::Hourly => (String::new(), format!("WHERE i.id NOT IN ({daily})")),
        };
        // Grouped from the unrated index alone (migration 0033: instance, package, end, usage;
        // seq is the rowid/heap key), then joined to the few instances for buyer and seller
        // (a record carries its instance's).
        let rows = sqlx::query(&format!(
            "SELECT g.instance_id, i.buyer_id, i.seller_id, g.added, g.n, g.max_seq, \
             CAST(COALESCE((SELECT SUM(c.usage) FROM usage_charges c \
                WHERE c.instance_id = g.instance_id AND c.period = $2), 0) AS BIGINT) AS before, \
             g.relate_pkg_instance \
             FROM (SELECT r.instance_id, r.relate_pkg_instance, \
                CAST(SUM(r.usage) AS BIGINT) AS added, CAST(COUNT(*) AS BIGINT) AS n, \
                CAST(MAX(r.seq) AS BIGINT) AS max_seq \
                FROM usage_records r WHERE r.charge_id IS NULL AND r.end_at <= $1 {inner} \
                GROUP BY r.instance_id, r.relate_pkg_instance) g \
             JOIN instances i ON i.id = g.instance_id {outer} \
             ORDER BY g.instance_id, g.relate_pkg_instance LIMIT $3"
        ))
        .bind(to_unix_ms(cutoff))
        .bind(period)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingUsage {
                    instance_id: InstanceId::from_trusted(r.try_get("instance_id")?),
                    buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                    seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                    added: UsageValue::from_ten_thousandths(r.try_get("added")?),
                    records: r.try_get("n")?,
                    max_seq: r.try_get("max_seq")?,
                    before: UsageValue::from_ten_thousandths(r.try_get("before")?),
                    package: r.try_get("relate_pkg_instance")?,
                })
            })
            .collect()
    }

    async fn apply_usage_charge(&self, c: &NewUsageCharge) -> StoreResult<Option<Balance>> {
        let mut tx = self.write.begin().await?;
        let now = to_unix_ms(c.now);
        lock_account(
            &mut tx,
            self.backend,
            &c.pending.buyer_id,
            c.amount.currency,
            c.now,
        )
        .await?;
        let p = &c.pending;
        let before: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(usage), 0) AS BIGINT) FROM usage_charges \
             WHERE instance_id = $1 AND period = $2",
        )
        .bind(p.instance_id.as_str())
        .bind(c.period.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if before != p.before.ten_thousandths() {
            return Ok(None);
        }
        let marked = sqlx::query(
            "UPDATE usage_records SET charge_id = $1 WHERE instance_id = $2 \
             AND charge_id IS NULL AND end_at <= $3 AND seq <= $4 \
             AND COALESCE(relate_pkg_instance, '') = $5",
        )
        .bind(c.id.as_str())
        .bind(p.instance_id.as_str())
        .bind(to_unix_ms(c.cutoff))
        .bind(p.max_seq)
        .bind(p.package.as_deref().unwrap_or(""))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked != p.records as u64 {
            // Dropping the transaction rolls the marks back.
            return Ok(None);
        }
        if !draw_packages(&mut tx, c).await? {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO usage_charges (id, instance_id, buyer_id, seller_id, period, cutoff_at, \
             usage, records, amount_minor, currency, created_at, package_usage, excess_usage) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(c.id.as_str())
        .bind(p.instance_id.as_str())
        .bind(p.buyer_id.as_str())
        .bind(p.seller_id.as_str())
        .bind(c.period.as_str())
        .bind(to_unix_ms(c.cutoff))
        .bind(c.rated.ten_thousandths())
        .bind(p.records)
        .bind(c.amount.amount_minor)
        .bind(c.amount.currency.as_str())
        .bind(now)
        .bind(c.package_usage().ten_thousandths())
        .bind(c.excess.ten_thousandths())
        .execute(&mut *tx)
        .await?;
        if c.amount.amount_minor != 0 {
            // A charge is money owed: the ledger line is its negation.
            sqlx::query(
                "INSERT INTO ledger_entries (id, buyer_id, currency, amount_minor, kind, memo, \
                 created_at, usage_charge_id) VALUES ($1, $2, $3, $4, 'usage_charge', $5, $6, $7)",
            )
            .bind(souk_core::id::generate("led", c.now))
            .bind(p.buyer_id.as_str())
            .bind(c.amount.currency.as_str())
            .bind(-c.amount.amount_minor)
            .bind(c.memo.as_str())
            .bind(now)
            .bind(c.id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let balance = balance_in(&mut tx, &p.buyer_id, c.amount.currency).await?;
        tx.commit().await?;
        Ok(Some(balance))
    }

    async fn enter_arrears(
        &self,
        instance_id: &InstanceId,
        expire_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let Some(instance) = instance_in(&mut tx, instance_id).await? else {
            return Ok(false);
        };
        // The core decides (on-demand and active only); the store persists that move.
        let Some(t) = arrears_transition(
            &instance.term,
            instance.state,
            InstanceEvent::FallIntoArrears,
        ) else {
            return Ok(false);
        };
        match transition_instance(&mut tx, instance_id, t, now).await {
            // Moved on since it was read: not (or no longer) active, so not put in arrears.
            Err(StoreError::LostRace { .. }) => return Ok(false),
            other => other?,
        }
        set_arrears_expiry(&mut tx, instance_id, Some(expire_at)).await?;
        audit(
            &mut tx,
            now,
            None,
            "instance.arrears",
            instance_id.as_str(),
            serde_json::json!({ "from": t.from, "to": t.to }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn clear_arrears(
        &self,
        buyer: &PartyId,
        jobs_for: for<'i> fn(&'i InstanceRecord) -> Vec<NewJob>,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<InstanceId>> {
        let mut tx = self.write.begin().await?;
        // A selection, not a move: the states arrears can be settled from, per the core.
        let from: Vec<String> = InstanceState::moves(InstanceEvent::SettleArrears)
            .iter()
            .map(|t| t.from.as_str().to_owned())
            .collect();
        // Anonymous parameters on SQLite, the whole statement (`params`).
        let p = |first, count| params(self.backend, first, count);
        let sql = format!(
            "SELECT * FROM instances WHERE buyer_id = {} AND term = {} AND state IN ({})",
            p(1, 1),
            p(2, 1),
            p(3, from.len())
        );
        let mut q = sqlx::query(&sql).bind(buyer.as_str()).bind(ON_DEMAND_TERM);
        for s in &from {
            q = q.bind(s.as_str());
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut cleared = Vec::new();
        for row in &rows {
            let instance = instance_from_row(row)?;
            let Some(t) =
                arrears_transition(&instance.term, instance.state, InstanceEvent::SettleArrears)
            else {
                continue;
            };
            // A row that moved on since it was read (e.g. a timer released it) lost the race:
            // it is left as it is, the others are still reopened (the top-up itself is
            // already booked).
            match transition_instance(&mut tx, &instance.id, t, now).await {
                Err(StoreError::LostRace { .. }) => continue,
                other => other?,
            }
            set_arrears_expiry(&mut tx, &instance.id, None).await?;
            for job in jobs_for(&instance) {
                insert_job(&mut tx, &job, now).await?;
            }
            audit(
                &mut tx,
                now,
                None,
                "instance.arrears_cleared",
                instance.id.as_str(),
                serde_json::json!({ "from": t.from, "to": t.to }),
            )
            .await?;
            cleared.push(instance.id);
        }
        tx.commit().await?;
        Ok(cleared)
    }

    async fn adjust_usage(
        &self,
        a: &NewUsageAdjustment,
    ) -> StoreResult<Option<(PartyId, Balance)>> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("SELECT buyer_id, seller_id FROM instances WHERE id = $1")
            .bind(a.instance_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let buyer = PartyId::from_trusted(row.try_get("buyer_id")?);
        let seller: String = row.try_get("seller_id")?;
        let now = to_unix_ms(a.now);
        lock_account(&mut tx, self.backend, &buyer, a.amount.currency, a.now).await?;
        sqlx::query(
            "INSERT INTO usage_charges (id, instance_id, buyer_id, seller_id, period, cutoff_at, \
             usage, records, amount_minor, currency, created_at, reason, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $6, $9, $10)",
        )
        .bind(a.id.as_str())
        .bind(a.instance_id.as_str())
        .bind(buyer.as_str())
        .bind(seller.as_str())
        .bind(a.period.as_str())
        .bind(now)
        .bind(a.amount.amount_minor)
        .bind(a.amount.currency.as_str())
        .bind(a.reason.as_str())
        .bind(a.actor.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger_entries (id, buyer_id, currency, amount_minor, kind, memo, \
             created_by, created_at, usage_charge_id) \
             VALUES ($1, $2, $3, $4, 'usage_adjustment', $5, $6, $7, $8)",
        )
        .bind(souk_core::id::generate("led", a.now))
        .bind(buyer.as_str())
        .bind(a.amount.currency.as_str())
        .bind(-a.amount.amount_minor)
        .bind(a.reason.as_str())
        .bind(a.actor.as_str())
        .bind(now)
        .bind(a.id.as_str())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            a.now,
            Some(&a.actor),
            "usage.adjusted",
            a.instance_id.as_str(),
            serde_json::json!({ "charge": a.id, "amount": a.amount, "reason": a.reason }),
        )
        .await?;
        let balance = balance_in(&mut tx, &buyer, a.amount.currency).await?;
        tx.commit().await?;
        Ok(Some((buyer, balance)))
    }

    async fn set_usage_price(
        &self,
        scope: &Scope,
        product_id: &str,
        price: Option<&PriceMode>,
        collection: Collection,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let seller: Option<String> = sqlx::query_scalar(
            "SELECT seller_id FROM products WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(product_id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seller) = seller else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM usage_prices WHERE product_id = $1")
            .bind(product_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM usage_daily_products WHERE product_id = $1")
            .bind(product_id)
            .execute(&mut *tx)
            .await?;
        if collection == Collection::Daily {
            sqlx::query(
                "INSERT INTO usage_daily_products (product_id, seller_id, updated_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(product_id)
            .bind(seller.as_str())
            .bind(to_unix_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(p) = price {
            let json = serde_json::to_string(p).map_err(|e| crate::sql::corrupt("price", e))?;
            sqlx::query(
                "INSERT INTO usage_prices (product_id, seller_id, price, updated_at)                  VALUES ($1, $2, $3, $4)",
            )
            .bind(product_id)
            .bind(seller.as_str())
            .bind(json)
            .bind(to_unix_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        audit(
            &mut tx,
            now,
            Some(actor),
            "product.usage_price_set",
            product_id,
            serde_json::json!({ "price": price, "collection": collection.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn usage_price(&self, product_id: &str) -> StoreResult<Option<PriceMode>> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT price FROM usage_prices WHERE product_id = $1")
                .bind(product_id)
                .fetch_optional(&self.read)
                .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| crate::sql::corrupt("usage price", e)))
            .transpose()
    }

    async fn usage_collection(&self, product_id: &str) -> StoreResult<Collection> {
        let daily: Option<String> =
            sqlx::query_scalar("SELECT product_id FROM usage_daily_products WHERE product_id = $1")
                .bind(product_id)
                .fetch_optional(&self.read)
                .await?;
        Ok(if daily.is_some() {
            Collection::Daily
        } else {
            Collection::Hourly
        })
    }

    async fn usage_records(
        &self,
        scope: &Scope,
        instance_id: Option<&InstanceId>,
        after_seq: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<UsageRecordRow>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM usage_records WHERE ($1 IS NULL OR instance_id = $1) \
             AND ($2 IS NULL OR seq > $2) {} ORDER BY seq LIMIT $4",
            tenant_clause(3)
        ))
        .bind(instance_id.map(InstanceId::as_str))
        .bind(after_seq)
        .bind(scope.tenant().map(str::to_owned))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn usage_summary(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
        bucket_ms: i64,
        shift_ms: i64,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> StoreResult<Vec<UsageBucket>> {
        // souk_core::metering::Granularity::bucket_start, in SQL (begin_at is never negative).
        let rows = sqlx::query(&format!(
            "SELECT CAST(((begin_at + $6) / $2) * $2 - $6 AS BIGINT) AS bucket, \
             CAST(COUNT(*) AS BIGINT) AS n, CAST(SUM(usage) AS BIGINT) AS total, \
             CAST(SUM(CASE WHEN charge_id IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS rated \
             FROM usage_records WHERE instance_id = $1 AND begin_at >= $3 AND begin_at < $4 {} \
             GROUP BY bucket ORDER BY bucket LIMIT 1000",
            tenant_clause(5)
        ))
        .bind(instance_id.as_str())
        .bind(bucket_ms.max(1))
        .bind(to_unix_ms(from))
        .bind(to_unix_ms(to))
        .bind(scope.tenant().map(str::to_owned))
        .bind(shift_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UsageBucket {
                    start: from_unix_ms(r.try_get("bucket")?),
                    records: r.try_get("n")?,
                    usage: UsageValue::from_ten_thousandths(r.try_get("total")?).to_string(),
                    rated_records: r.try_get("rated")?,
                })
            })
            .collect()
    }

    async fn usage_charges(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
        page: &Page,
    ) -> StoreResult<Vec<UsageChargeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT * FROM usage_charges WHERE instance_id = $1 AND ($2 IS NULL OR id > $2) {} \
             ORDER BY id LIMIT $4",
            tenant_clause(3)
        ))
        .bind(instance_id.as_str())
        .bind(page.after.clone())
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let currency: String = r.try_get("currency")?;
                Ok(UsageChargeRow {
                    id: r.try_get("id")?,
                    instance_id: InstanceId::from_trusted(r.try_get("instance_id")?),
                    period: r.try_get("period")?,
                    cutoff: from_unix_ms(r.try_get("cutoff_at")?),
                    usage: UsageValue::from_ten_thousandths(r.try_get("usage")?).to_string(),
                    records: r.try_get("records")?,
                    package_usage: UsageValue::from_ten_thousandths(r.try_get("package_usage")?)
                        .to_string(),
                    excess_usage: UsageValue::from_ten_thousandths(r.try_get("excess_usage")?)
                        .to_string(),
                    amount: Money::new(
                        r.try_get("amount_minor")?,
                        currency
                            .parse::<Currency>()
                            .map_err(|e| crate::sql::corrupt("currency", e))?,
                    ),
                    reason: r.try_get("reason")?,
                    created_at: from_unix_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }
}

/// SQLite on the dedicated writer: one prepared statement stepped once per record inside the
/// writer's transaction — no SQL text or JSON to build or parse, plain integer and text binds.
/// Duplicates are the unique indexes' `ON CONFLICT DO NOTHING`.
fn insert_usage_writer(
    conn: &rusqlite::Connection,
    records: &[NewUsageRecord],
) -> StoreResult<u64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO usage_records (instance_id, buyer_id, seller_id, metering_sn, begin_at, \
         end_at, record_at, usage, relate_pkg_instance, received_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
    )?;
    let mut stored = 0;
    for r in records {
        stored += stmt.execute(rusqlite::params![
            r.instance_id.as_str(),
            r.buyer_id.as_str(),
            r.seller_id.as_str(),
            r.metering_sn.as_deref(),
            to_unix_ms(r.begin),
            to_unix_ms(r.end),
            to_unix_ms(r.record_time),
            r.usage.ten_thousandths(),
            r.relate_pkg_instance.as_deref(),
            to_unix_ms(r.received_at),
        ])? as u64;
    }
    Ok(stored)
}

/// SQLite without the dedicated writer (in-memory databases): the whole batch as ONE bound JSON text, unpacked by `json_each` inside SQLite.
/// A multi-row `VALUES` list costs SQLite a parse of 10,000 named parameters and sqlx one
/// conversion per bind; one text bind and SQLite's own JSON reader avoid both. Duplicates are
/// still the unique indexes' `ON CONFLICT DO NOTHING` (the `WHERE true` is SQLite's rule for an
/// upsert on `INSERT … SELECT`).
async fn insert_usage_sqlite(
    write: &sqlx::AnyPool,
    records: &[NewUsageRecord],
) -> StoreResult<u64> {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.instance_id.as_str(),
                r.buyer_id.as_str(),
                r.seller_id.as_str(),
                r.metering_sn.as_deref(),
                to_unix_ms(r.begin),
                to_unix_ms(r.end),
                to_unix_ms(r.record_time),
                r.usage.ten_thousandths(),
                r.relate_pkg_instance.as_deref(),
                to_unix_ms(r.received_at),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| crate::sql::corrupt("usage batch", e))?;
    let stored = sqlx::query(
        "INSERT INTO usage_records (instance_id, buyer_id, seller_id, metering_sn, begin_at, \
         end_at, record_at, usage, relate_pkg_instance, received_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
         value ->> 6, value ->> 7, value ->> 8, value ->> 9 FROM json_each($1) WHERE true \
         ON CONFLICT DO NOTHING",
    )
    .bind(json)
    .execute(write)
    .await?
    .rows_affected();
    Ok(stored)
}

/// Books a charge's package draws (compare-and-set on each quota row's period and used
/// amount: `false` when one moved meanwhile, and the caller drops the transaction), its quota
/// alerts and, for a stop-when-exhausted package used up, the move to frozen with the call
/// telling the seller to stop.
async fn draw_packages(conn: &mut AnyConnection, c: &NewUsageCharge) -> StoreResult<bool> {
    for d in &c.draws {
        let n = sqlx::query(
            "UPDATE package_quotas SET used = $1, period_start = $2, period_end = $3 \
             WHERE package_id = $4 AND sku_id = $5 AND period_start = $6 AND used = $7",
        )
        .bind(d.used_after.ten_thousandths())
        .bind(to_unix_ms(d.period_start))
        .bind(to_unix_ms(d.period_end))
        .bind(d.package_id.as_str())
        .bind(c.item.as_str())
        .bind(to_unix_ms(d.stored_period_start))
        .bind(d.stored_used.ten_thousandths())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
    }
    for (notice, ref_id) in &c.notices {
        insert_notice(conn, &c.pending.buyer_id, notice, Some(ref_id), c.now).await?;
    }
    if let Some((package, job)) = &c.exhaust {
        sqlx::query("UPDATE usage_packages SET exhausted_at = $1 WHERE id = $2")
            .bind(to_unix_ms(c.now))
            .bind(package.as_str())
            .execute(&mut *conn)
            .await?;
        let instance = instance_in(&mut *conn, package).await?;
        let t = instance.and_then(|i| i.state.transition(InstanceEvent::Exhaust).ok());
        if let Some(t) = t {
            transition_instance(&mut *conn, package, t, c.now).await?;
            insert_job(&mut *conn, job, c.now).await?;
            audit(
                &mut *conn,
                c.now,
                None,
                "package.exhausted",
                package.as_str(),
                serde_json::json!({ "from": t.from, "to": t.to }),
            )
            .await?;
        }
    }
    Ok(true)
}

/// Arrears own an on-demand instance's `expire_at` (the lifecycle timers freeze it at
/// `expire_at + grace`): set when arrears start, cleared when they are settled. Not a move of
/// state — that went through the instance's compare-and-set just before, in the same
/// transaction.
async fn set_arrears_expiry(
    conn: &mut AnyConnection,
    id: &InstanceId,
    expire_at: Option<OffsetDateTime>,
) -> StoreResult<()> {
    sqlx::query("UPDATE instances SET expire_at = $1 WHERE id = $2")
        .bind(expire_at.map(to_unix_ms))
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
