//! Usage packages (套餐包): the package SKUs' definitions, the packages buyers hold and their
//! quota per billing item. Consumption is decided by `souk_core::metering::package::consume`
//! and booked with the usage charge ([`super::MeteringStore::apply_usage_charge`]): each draw is
//! a compare-and-set on the quota row's period and used amount.

use crate::commerce::{instance_from_row, tenant_clause};
use crate::sql::{audit, params};
use crate::*;
use serde::Serialize;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::InstanceId;
use souk_core::metering::package::{PackageDef, PackageReset, QuotaBalance};
use souk_core::metering::UsageValue;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A package that took effect, to record with its quotas.
#[derive(Debug, Clone)]
pub struct NewPackage {
    pub instance: InstanceRecord,
    pub def: PackageDef,
    pub effective_at: OffsetDateTime,
    pub expire_at: OffsetDateTime,
    /// The first period's end.
    pub period_end: OffsetDateTime,
    /// Quota per item per period (the definition's × the quantity bought).
    pub quotas: Vec<(String, UsageValue)>,
}

/// What the push checks of a package a record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub id: String,
    pub buyer_id: PartyId,
    pub seller_id: PartyId,
    pub stop_when_exhausted: bool,
    pub effective_at: OffsetDateTime,
    pub expire_at: OffsetDateTime,
    pub exhausted_at: Option<OffsetDateTime>,
    /// The billing items it holds quota of.
    pub items: Vec<String>,
}

/// A quota row whose period has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReset {
    pub package_id: String,
    pub sku_id: String,
    pub balance: QuotaBalance,
}

/// A package's quota of one item as the buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaView {
    pub package_id: String,
    /// The billing item (on-demand SKU).
    pub sku_id: String,
    pub reset: String,
    pub stop_when_exhausted: bool,
    /// Decimal text with 4 decimals.
    pub quota: String,
    pub used: String,
    pub remaining: String,
    #[serde(with = "time::serde::rfc3339")]
    pub period_start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub period_end: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expire_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub exhausted_at: Option<OffsetDateTime>,
}

#[async_trait]
pub trait PackageStore: Send + Sync + 'static {
    /// Replaces the package definitions of a product visible to `scope` as its seller;
    /// `false` when there is no such product.
    async fn set_package_defs(
        &self,
        scope: &Scope,
        product_id: &str,
        defs: &[(String, PackageDef)],
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    /// The package definitions of a product, by package SKU.
    async fn package_defs(&self, product_id: &str) -> StoreResult<Vec<(String, PackageDef)>>;

    /// What a package SKU holds, if its seller said.
    async fn package_def(&self, sku_id: &str) -> StoreResult<Option<PackageDef>>;

    /// Package instances that opened but whose package is not recorded yet.
    async fn unrecorded_packages(&self, limit: u32) -> StoreResult<Vec<InstanceRecord>>;

    /// Records a package and its quotas (nothing if it already is).
    async fn record_package(&self, p: &NewPackage) -> StoreResult<bool>;

    /// Quota rows whose stored period ended before `before`.
    async fn due_resets(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<DueReset>>;

    /// Moves a quota row to a new period with nothing used, if it still is in `from_start`.
    async fn reset_quota(
        &self,
        package_id: &str,
        sku_id: &str,
        from_start: OffsetDateTime,
        to: (OffsetDateTime, OffsetDateTime),
    ) -> StoreResult<bool>;

    /// The packages with these ids (any tenant: the caller checks ownership).
    async fn packages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<PackageRecord>>;

    /// The quota of `sku_id` in the buyer's packages drawn in platform order (not
    /// stop-when-exhausted, instance active or in grace), or in the one package named.
    async fn quota_balances(
        &self,
        buyer: &PartyId,
        sku_id: &str,
        named: Option<&str>,
    ) -> StoreResult<Vec<QuotaBalance>>;

    /// The package quotas that concern an instance visible in `scope`: a package instance's
    /// own, or those covering an on-demand instance's billing item.
    async fn package_quotas(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
    ) -> StoreResult<Vec<QuotaView>>;
}

fn reset_of(s: &str) -> StoreResult<PackageReset> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| crate::sql::corrupt("package reset", e))
}

fn balance_from_row(r: &AnyRow) -> StoreResult<QuotaBalance> {
    let ms = |c: &str| -> StoreResult<OffsetDateTime> { Ok(from_unix_ms(r.try_get(c)?)) };
    Ok(QuotaBalance {
        package_id: r.try_get("package_id")?,
        effective_at: ms("effective_at")?,
        expire_at: ms("expire_at")?,
        created_at: ms("created_at")?,
        reset: reset_of(&r.try_get::<String, _>("reset")?)?,
        quota: UsageValue::from_ten_thousandths(r.try_get("quota")?),
        period_start: ms("period_start")?,
        used: UsageValue::from_ten_thousandths(r.try_get("used")?),
    })
}

const QUOTA_COLUMNS: &str = "q.package_id, q.sku_id, q.quota, q.used, q.period_start, \
    q.period_end, p.reset, p.stop_when_exhausted, p.effective_at, p.expire_at, p.created_at, \
    p.exhausted_at";

#[async_trait]
impl PackageStore for SqlStore {
    async fn set_package_defs(
        &self,
        scope: &Scope,
        product_id: &str,
        defs: &[(String, PackageDef)],
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
        sqlx::query("DELETE FROM usage_package_defs WHERE product_id = $1")
            .bind(product_id)
            .execute(&mut *tx)
            .await?;
        for (sku, def) in defs {
            let json = serde_json::to_string(def).map_err(|e| crate::sql::corrupt("package", e))?;
            sqlx::query(
                "INSERT INTO usage_package_defs (sku_id, product_id, seller_id, def, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(sku.as_str())
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
            "product.usage_packages_set",
            product_id,
            serde_json::json!({ "packages": defs }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn package_defs(&self, product_id: &str) -> StoreResult<Vec<(String, PackageDef)>> {
        let rows = sqlx::query(
            "SELECT sku_id, def FROM usage_package_defs WHERE product_id = $1 ORDER BY sku_id",
        )
        .bind(product_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let def: String = r.try_get("def")?;
                Ok((
                    r.try_get("sku_id")?,
                    serde_json::from_str(&def).map_err(|e| crate::sql::corrupt("package", e))?,
                ))
            })
            .collect()
    }

    async fn package_def(&self, sku_id: &str) -> StoreResult<Option<PackageDef>> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT def FROM usage_package_defs WHERE sku_id = $1")
                .bind(sku_id)
                .fetch_optional(&self.read)
                .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| crate::sql::corrupt("package", e)))
            .transpose()
    }

    async fn unrecorded_packages(&self, limit: u32) -> StoreResult<Vec<InstanceRecord>> {
        let rows = sqlx::query(
            "SELECT i.* FROM instances i LEFT JOIN usage_packages p ON p.id = i.id \
             WHERE i.term LIKE '{\"kind\":\"package\"%' AND i.opened_at IS NOT NULL \
             AND i.expire_at IS NOT NULL AND p.id IS NULL ORDER BY i.id LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(instance_from_row).collect()
    }

    async fn record_package(&self, p: &NewPackage) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let i = &p.instance;
        let inserted = sqlx::query(
            "INSERT INTO usage_packages (id, buyer_id, seller_id, product_id, reset, \
             stop_when_exhausted, effective_at, expire_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(i.id.as_str())
        .bind(i.buyer_id.as_str())
        .bind(i.seller_id.as_str())
        .bind(i.product_id.as_str())
        .bind(p.def.reset.as_str())
        .bind(p.def.stop_when_exhausted as i64)
        .bind(to_unix_ms(p.effective_at))
        .bind(to_unix_ms(p.expire_at))
        .bind(to_unix_ms(i.created_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for (sku, quota) in &p.quotas {
            sqlx::query(
                "INSERT INTO package_quotas (package_id, sku_id, quota, used, period_start, \
                 period_end) VALUES ($1, $2, $3, 0, $4, $5)",
            )
            .bind(i.id.as_str())
            .bind(sku.as_str())
            .bind(quota.ten_thousandths())
            .bind(to_unix_ms(p.effective_at))
            .bind(to_unix_ms(p.period_end))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn due_resets(&self, before: OffsetDateTime, limit: u32) -> StoreResult<Vec<DueReset>> {
        let rows = sqlx::query(&format!(
            "SELECT {QUOTA_COLUMNS} FROM package_quotas q JOIN usage_packages p \
             ON p.id = q.package_id WHERE q.period_end < $1 AND q.period_end < p.expire_at \
             ORDER BY q.period_end LIMIT $2"
        ))
        .bind(to_unix_ms(before))
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueReset {
                    package_id: r.try_get("package_id")?,
                    sku_id: r.try_get("sku_id")?,
                    balance: balance_from_row(r)?,
                })
            })
            .collect()
    }

    async fn reset_quota(
        &self,
        package_id: &str,
        sku_id: &str,
        from_start: OffsetDateTime,
        to: (OffsetDateTime, OffsetDateTime),
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE package_quotas SET used = 0, period_start = $1, period_end = $2 \
             WHERE package_id = $3 AND sku_id = $4 AND period_start = $5",
        )
        .bind(to_unix_ms(to.0))
        .bind(to_unix_ms(to.1))
        .bind(package_id)
        .bind(sku_id)
        .bind(to_unix_ms(from_start))
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn packages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<PackageRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT p.*, q.sku_id FROM usage_packages p JOIN package_quotas q \
             ON q.package_id = p.id WHERE p.id IN ({}) ORDER BY p.id, q.sku_id",
            params(self.backend, 1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let mut out: Vec<PackageRecord> = Vec::new();
        for r in q.fetch_all(&self.read).await? {
            let id: String = r.try_get("id")?;
            let sku: String = r.try_get("sku_id")?;
            if let Some(last) = out.last_mut().filter(|p| p.id == id) {
                last.items.push(sku);
                continue;
            }
            let stop: i64 = r.try_get("stop_when_exhausted")?;
            out.push(PackageRecord {
                id,
                buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                seller_id: PartyId::from_trusted(r.try_get("seller_id")?),
                stop_when_exhausted: stop != 0,
                effective_at: from_unix_ms(r.try_get("effective_at")?),
                expire_at: from_unix_ms(r.try_get("expire_at")?),
                exhausted_at: r
                    .try_get::<Option<i64>, _>("exhausted_at")?
                    .map(from_unix_ms),
                items: vec![sku],
            });
        }
        Ok(out)
    }

    async fn quota_balances(
        &self,
        buyer: &PartyId,
        sku_id: &str,
        named: Option<&str>,
    ) -> StoreResult<Vec<QuotaBalance>> {
        let rows = sqlx::query(&format!(
            "SELECT {QUOTA_COLUMNS} FROM package_quotas q \
             JOIN usage_packages p ON p.id = q.package_id \
             JOIN instances i ON i.id = p.id \
             WHERE p.buyer_id = $1 AND q.sku_id = $2 AND i.state IN ('active', 'grace') \
             AND (($3 IS NULL AND p.stop_when_exhausted = 0) OR p.id = $3) \
             ORDER BY p.expire_at, p.effective_at, p.created_at, p.id"
        ))
        .bind(buyer.as_str())
        .bind(sku_id)
        .bind(named.map(str::to_owned))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(balance_from_row).collect()
    }

    async fn package_quotas(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
    ) -> StoreResult<Vec<QuotaView>> {
        let Some(instance) = sqlx::query(&format!(
            "SELECT * FROM instances WHERE id = $1 {}",
            tenant_clause(2)
        ))
        .bind(instance_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(Vec::new());
        };
        let instance = instance_from_row(&instance)?;
        let rows = sqlx::query(&format!(
            "SELECT {QUOTA_COLUMNS} FROM package_quotas q \
             JOIN usage_packages p ON p.id = q.package_id \
             WHERE p.id = $1 OR (p.buyer_id = $2 AND q.sku_id = $3) \
             ORDER BY p.expire_at, p.effective_at, p.created_at, p.id, q.sku_id"
        ))
        .bind(instance.id.as_str())
        .bind(instance.buyer_id.as_str())
        .bind(instance.sku_id.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let b = balance_from_row(r)?;
                let stop: i64 = r.try_get("stop_when_exhausted")?;
                let remaining = UsageValue::from_ten_thousandths(
                    (b.quota.ten_thousandths() - b.used.ten_thousandths()).max(0),
                );
                Ok(QuotaView {
                    package_id: b.package_id.clone(),
                    sku_id: r.try_get("sku_id")?,
                    reset: b.reset.as_str().to_owned(),
                    stop_when_exhausted: stop != 0,
                    quota: b.quota.to_string(),
                    used: b.used.to_string(),
                    remaining: remaining.to_string(),
                    period_start: b.period_start,
                    period_end: from_unix_ms(r.try_get("period_end")?),
                    effective_at: b.effective_at,
                    expire_at: b.expire_at,
                    exhausted_at: r
                        .try_get::<Option<i64>, _>("exhausted_at")?
                        .map(from_unix_ms),
                })
            })
            .collect()
    }
}
