//! Souk-issued license codes (License 2.0), the machines holding their floating seats, the
//! sellers' AK/SK pairs for the open API, products' license policies and the keys that sign
//! offline license files.
//!
//! Codes are created inside [`crate::CommerceStore::pay_order`] (same transaction as the
//! payment, see [`insert_codes`]). Activation is one transaction that locks the code row,
//! records the attempt (rate limit), and applies `souk_core::license::decide_activation`.
//! Heartbeats never come here one by one: the server answers them from memory and writes the
//! last-seen times behind in batches ([`LicenseStore::record_heartbeats`]).

use crate::sql::{audit, corrupt};
use crate::*;
use serde::Serialize;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::{InstanceId, OrderId};
use souk_core::instance::InstanceState;
use souk_core::license::{
    decide_activation, heartbeat_status, Activation, ActivationRefusal, CodeState, LicensePolicy,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

// ---------------------------------------------------------------------------------------------
// Records

/// A code to create when a License order with Souk-issued codes is paid.
#[derive(Debug, Clone)]
pub struct NewLicenseCode {
    pub code: String,
    /// 1..=N within the instance.
    pub ordinal: u32,
    pub policy: LicensePolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LicenseCodeRecord {
    pub code: String,
    pub instance_id: InstanceId,
    pub ordinal: u32,
    pub seller_id: PartyId,
    pub buyer_id: PartyId,
    pub product_id: String,
    pub sku_id: String,
    pub order_id: OrderId,
    pub state: CodeState,
    pub policy: LicensePolicy,
    pub activated_at: Option<OffsetDateTime>,
    pub effective_at: Option<OffsetDateTime>,
    pub last_heartbeat_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// The instance, which decides the status a heartbeat reports.
    pub instance_state: InstanceState,
    pub expire_at: Option<OffsetDateTime>,
    /// The instance's quantity (KooGallery `amount`).
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MachineRecord {
    pub fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub activated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<OffsetDateTime>,
}

/// A code with its machines.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseCodeDetail {
    pub code: LicenseCodeRecord,
    pub machines: Vec<MachineRecord>,
}

/// Why the store refused an activation.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivateResult {
    /// No such code for this seller.
    NotFound,
    Refused(ActivationRefusal),
    Activated(Activation, Box<LicenseCodeDetail>),
}

/// One write-behind heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeartbeatWrite {
    pub code: String,
    pub fingerprint: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct NewAccessKey {
    pub id: String,
    pub seller_id: PartyId,
    pub access_key: String,
    /// The SK sealed under the master key.
    pub secret_sealed: String,
    pub label: Option<String>,
    pub created_by: PartyId,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessKeyRecord {
    pub id: String,
    pub seller_id: PartyId,
    pub access_key: String,
    pub label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub key_id: String,
    /// base64url of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// The 32-byte secret key, base64, sealed under the master key.
    pub private_sealed: String,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------------------------------------
// The trait

#[async_trait]
pub trait LicenseStore: Send + Sync + 'static {
    /// Issues an AK/SK pair to a seller visible in `scope`; `None` when it is not.
    async fn create_access_key(
        &self,
        scope: &Scope,
        key: NewAccessKey,
    ) -> StoreResult<Option<AccessKeyRecord>>;

    async fn list_access_keys(
        &self,
        scope: &Scope,
        seller: &PartyId,
    ) -> StoreResult<Option<Vec<AccessKeyRecord>>>;

    /// Revokes a pair; revoking twice keeps the first time.
    async fn revoke_access_key(
        &self,
        scope: &Scope,
        id: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AccessKeyRecord>>;

    /// A live (unrevoked, seller active) pair by its AK, with the sealed SK.
    async fn access_key_secret(&self, ak: &str) -> StoreResult<Option<(AccessKeyRecord, String)>>;

    /// The product's license policy (`None`: defaults).
    async fn license_policy(&self, product_id: &str) -> StoreResult<Option<LicensePolicy>>;

    /// Sets the policy of a License product owned by the seller in `scope`; `None` when the
    /// product is not visible or not a License product. Applies to codes issued afterwards.
    async fn set_license_policy(
        &self,
        scope: &Scope,
        product_id: &str,
        policy: LicensePolicy,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<LicensePolicy>>;

    /// A code with its machines, whoever owns it (the open API checks the seller itself).
    async fn find_license_code(&self, code: &str) -> StoreResult<Option<LicenseCodeDetail>>;

    /// The codes of an instance visible in `scope` (its buyer, its seller, the operator).
    async fn license_codes_of_instance(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
    ) -> StoreResult<Vec<LicenseCodeRecord>>;

    /// Activates a code of `seller` (optionally binding a machine), in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn activate_license_code(
        &self,
        seller: &PartyId,
        code: &str,
        fingerprint: Option<&str>,
        effective_at: Option<OffsetDateTime>,
        grace: time::Duration,
        retention: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<ActivateResult>;

    /// Frees a machine's seat (seller or operator). `None`: code not visible; `Some(false)`:
    /// no such live machine.
    async fn deactivate_machine(
        &self,
        scope: &Scope,
        code: &str,
        fingerprint: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<bool>>;

    /// Writes a batch of heartbeats (last-seen times only move forward).
    async fn record_heartbeats(&self, batch: &[HeartbeatWrite]) -> StoreResult<()>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;

    /// Adds a signing key and retires the others (they stay published for verification).
    async fn add_signing_key(&self, key: SigningKeyRecord) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------
// Rows

fn opt_time(row: &AnyRow, col: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
}

const CODE_COLUMNS: &str = "c.*, i.state AS instance_state, i.expire_at AS instance_expire_at, \
     i.quantity AS instance_quantity";

fn code_from_row(row: &AnyRow) -> StoreResult<LicenseCodeRecord> {
    let state: String = row.try_get("state")?;
    let inst: String = row.try_get("instance_state")?;
    Ok(LicenseCodeRecord {
        code: row.try_get("code")?,
        instance_id: InstanceId::from_trusted(row.try_get("instance_id")?),
        ordinal: row.try_get::<i64, _>("ordinal")? as u32,
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        buyer_id: PartyId::from_trusted(row.try_get("buyer_id")?),
        product_id: row.try_get("product_id")?,
        sku_id: row.try_get("sku_id")?,
        order_id: OrderId::from_trusted(row.try_get("order_id")?),
        state: state
            .parse()
            .map_err(|e| corrupt("license code state", e))?,
        policy: LicensePolicy {
            seats: row.try_get::<i64, _>("seats")? as u32,
            heartbeat_window: time::Duration::milliseconds(row.try_get("heartbeat_window_ms")?),
            activations_per_hour: row.try_get::<i64, _>("activations_per_hour")? as u32,
        },
        activated_at: opt_time(row, "activated_at")?,
        effective_at: opt_time(row, "effective_at")?,
        last_heartbeat_at: opt_time(row, "last_heartbeat_at")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        instance_state: inst.parse().map_err(|e| corrupt("instance state", e))?,
        expire_at: opt_time(row, "instance_expire_at")?,
        quantity: row.try_get::<i64, _>("instance_quantity")? as u32,
    })
}

fn machine_from_row(row: &AnyRow) -> StoreResult<MachineRecord> {
    Ok(MachineRecord {
        fingerprint: row.try_get("fingerprint")?,
        activated_at: from_unix_ms(row.try_get("activated_at")?),
        last_seen_at: from_unix_ms(row.try_get("last_seen_at")?),
        deactivated_at: opt_time(row, "deactivated_at")?,
    })
}

fn access_key_from_row(row: &AnyRow) -> StoreResult<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        id: row.try_get("id")?,
        seller_id: PartyId::from_trusted(row.try_get("seller_id")?),
        access_key: row.try_get("access_key")?,
        label: row.try_get("label")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

async fn code_in(conn: &mut AnyConnection, code: &str) -> StoreResult<Option<LicenseCodeDetail>> {
    let row = sqlx::query(&format!(
        "SELECT {CODE_COLUMNS} FROM license_codes c JOIN instances i ON i.id = c.instance_id \
         WHERE c.code = $1"
    ))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(code_rec) = row.as_ref().map(code_from_row).transpose()? else {
        return Ok(None);
    };
    let machines = sqlx::query(
        "SELECT * FROM license_machines WHERE code = $1 ORDER BY activated_at, fingerprint",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(machine_from_row)
    .collect::<StoreResult<_>>()?;
    Ok(Some(LicenseCodeDetail {
        code: code_rec,
        machines,
    }))
}

/// Inserts the codes of a newly opened instance, inside the payment's transaction.
pub(crate) async fn insert_codes(
    conn: &mut AnyConnection,
    instance: &NewInstanceRow,
    codes: &[NewLicenseCode],
    now: OffsetDateTime,
) -> StoreResult<()> {
    for c in codes {
        sqlx::query(
            "INSERT INTO license_codes (code, instance_id, ordinal, seller_id, buyer_id, product_id, \
             sku_id, order_id, state, seats, heartbeat_window_ms, activations_per_hour, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'issued', $9, $10, $11, $12)",
        )
        .bind(&c.code)
        .bind(instance.id.as_str())
        .bind(c.ordinal as i64)
        .bind(instance.seller_id.as_str())
        .bind(instance.buyer_id.as_str())
        .bind(&instance.product_id)
        .bind(&instance.sku_id)
        .bind(instance.origin_order_id.as_str())
        .bind(c.policy.seats as i64)
        .bind(c.policy.heartbeat_window.whole_milliseconds() as i64)
        .bind(c.policy.activations_per_hour as i64)
        .bind(to_unix_ms(now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The implementation

#[async_trait]
impl LicenseStore for SqlStore {
    async fn create_access_key(
        &self,
        scope: &Scope,
        k: NewAccessKey,
    ) -> StoreResult<Option<AccessKeyRecord>> {
        let mut tx = self.write.begin().await?;
        let visible: Option<String> = sqlx::query_scalar(
            "SELECT id FROM parties WHERE id = $1 AND role = 'seller' AND ($2 IS NULL OR id = $2)",
        )
        .bind(k.seller_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
        if visible.is_none() {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO seller_access_keys (id, seller_id, access_key, secret_sealed, label, \
             created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.id)
        .bind(k.seller_id.as_str())
        .bind(&k.access_key)
        .bind(&k.secret_sealed)
        .bind(k.label.clone())
        .bind(to_unix_ms(k.now))
        .bind(k.created_by.as_str())
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            k.now,
            Some(&k.created_by),
            "access_key.created",
            k.seller_id.as_str(),
            serde_json::json!({ "access_key_id": k.id, "access_key": k.access_key, "label": k.label }),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM seller_access_keys WHERE id = $1")
            .bind(&k.id)
            .fetch_one(&mut *tx)
            .await?;
        let rec = access_key_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(rec))
    }

    async fn list_access_keys(
        &self,
        scope: &Scope,
        seller: &PartyId,
    ) -> StoreResult<Option<Vec<AccessKeyRecord>>> {
        if scope.tenant().is_some_and(|t| t != seller.as_str()) {
            return Ok(None);
        }
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'seller'")
                .bind(seller.as_str())
                .fetch_optional(&self.read)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT * FROM seller_access_keys WHERE seller_id = $1 ORDER BY id")
            .bind(seller.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(access_key_from_row)
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn revoke_access_key(
        &self,
        scope: &Scope,
        id: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AccessKeyRecord>> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "SELECT * FROM seller_access_keys WHERE id = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(existing) = row.as_ref().map(access_key_from_row).transpose()? else {
            return Ok(None);
        };
        if existing.revoked_at.is_some() {
            return Ok(Some(existing));
        }
        sqlx::query("UPDATE seller_access_keys SET revoked_at = $1 WHERE id = $2")
            .bind(to_unix_ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "access_key.revoked",
            existing.seller_id.as_str(),
            serde_json::json!({ "access_key_id": id, "access_key": existing.access_key }),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM seller_access_keys WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let rec = access_key_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(rec))
    }

    async fn access_key_secret(&self, ak: &str) -> StoreResult<Option<(AccessKeyRecord, String)>> {
        let row = sqlx::query(
            "SELECT k.* FROM seller_access_keys k JOIN parties p ON p.id = k.seller_id \
             WHERE k.access_key = $1 AND k.revoked_at IS NULL AND p.status = 'active'",
        )
        .bind(ak)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((
            access_key_from_row(&row)?,
            row.try_get("secret_sealed")?,
        )))
    }

    async fn license_policy(&self, product_id: &str) -> StoreResult<Option<LicensePolicy>> {
        let row = sqlx::query("SELECT * FROM license_policies WHERE product_id = $1")
            .bind(product_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(LicensePolicy {
                seats: r.try_get::<i64, _>("seats")? as u32,
                heartbeat_window: time::Duration::milliseconds(r.try_get("heartbeat_window_ms")?),
                activations_per_hour: r.try_get::<i64, _>("activations_per_hour")? as u32,
            })
        })
        .transpose()
    }

    async fn set_license_policy(
        &self,
        scope: &Scope,
        product_id: &str,
        p: LicensePolicy,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<LicensePolicy>> {
        let mut tx = self.write.begin().await?;
        let seller: Option<String> = sqlx::query_scalar(
            "SELECT seller_id FROM products WHERE id = $1 AND delivery_type = 'license' \
             AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(product_id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seller) = seller else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO license_policies (product_id, seller_id, seats, heartbeat_window_ms, \
             activations_per_hour, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (product_id) DO UPDATE SET seats = $3, heartbeat_window_ms = $4, \
             activations_per_hour = $5, updated_at = $6",
        )
        .bind(product_id)
        .bind(&seller)
        .bind(p.seats as i64)
        .bind(p.heartbeat_window.whole_milliseconds() as i64)
        .bind(p.activations_per_hour as i64)
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "product.license_policy_set",
            product_id,
            serde_json::json!({
                "seats": p.seats,
                "heartbeat_window_seconds": p.heartbeat_window.whole_seconds(),
                "activations_per_hour": p.activations_per_hour,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(p))
    }

    async fn find_license_code(&self, code: &str) -> StoreResult<Option<LicenseCodeDetail>> {
        let mut conn = self.read.acquire().await?;
        code_in(&mut conn, code).await
    }

    async fn license_codes_of_instance(
        &self,
        scope: &Scope,
        instance_id: &InstanceId,
    ) -> StoreResult<Vec<LicenseCodeRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM license_codes c JOIN instances i ON i.id = c.instance_id \
             WHERE c.instance_id = $1 AND ($2 IS NULL OR c.buyer_id = $2 OR c.seller_id = $2) \
             ORDER BY c.ordinal"
        ))
        .bind(instance_id.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(code_from_row).collect()
    }

    async fn activate_license_code(
        &self,
        seller: &PartyId,
        code: &str,
        fingerprint: Option<&str>,
        effective_at: Option<OffsetDateTime>,
        grace: time::Duration,
        retention: time::Duration,
        now: OffsetDateTime,
    ) -> StoreResult<ActivateResult> {
        let mut tx = self.write.begin().await?;
        // Serialises activations of one code (a row lock on PostgreSQL; SQLite has one writer).
        let locked =
            sqlx::query("UPDATE license_codes SET code = code WHERE code = $1 AND seller_id = $2")
                .bind(code)
                .bind(seller.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if locked == 0 {
            return Ok(ActivateResult::NotFound);
        }
        let Some(detail) = code_in(&mut tx, code).await? else {
            return Ok(ActivateResult::NotFound);
        };
        let now_ms = to_unix_ms(now);
        let hour_ago = to_unix_ms(now - time::Duration::hours(1));
        let attempts: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM license_activation_attempts WHERE code = $1 AND at > $2",
        )
        .bind(code)
        .bind(hour_ago)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO license_activation_attempts (id, code, at) VALUES ($1, $2, $3)")
            .bind(souk_core::id::generate("laa", now))
            .bind(code)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM license_activation_attempts WHERE code = $1 AND at <= $2")
            .bind(code)
            .bind(hour_ago)
            .execute(&mut *tx)
            .await?;
        let c = &detail.code;
        let live: Vec<&MachineRecord> = detail
            .machines
            .iter()
            .filter(|m| m.deactivated_at.is_none() && c.policy.is_live(m.last_seen_at, now))
            .collect();
        let known = fingerprint.is_some_and(|f| live.iter().any(|m| m.fingerprint == f));
        let status = heartbeat_status(c.instance_state, c.expire_at, grace, retention, now);
        let decision = decide_activation(
            c.state,
            status,
            &c.policy,
            fingerprint,
            known,
            live.len() as u32,
            attempts as u32,
        );
        let activation = match decision {
            Err(refusal) => {
                // The attempt itself is kept: it counts toward the rate limit.
                tx.commit().await?;
                return Ok(ActivateResult::Refused(refusal));
            }
            Ok(a) => a,
        };
        if activation == Activation::First {
            sqlx::query(
                "UPDATE license_codes SET state = 'activated', activated_at = $1, effective_at = $2 \
                 WHERE code = $3",
            )
            .bind(now_ms)
            .bind(to_unix_ms(effective_at.unwrap_or(now)))
            .bind(code)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(f) = fingerprint {
            // A stale or deactivated row of the same machine is taken over.
            sqlx::query(
                "INSERT INTO license_machines (code, fingerprint, activated_at, last_seen_at) \
                 VALUES ($1, $2, $3, $3) ON CONFLICT (code, fingerprint) DO UPDATE SET \
                 activated_at = $3, last_seen_at = $3, deactivated_at = NULL",
            )
            .bind(code)
            .bind(f)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        audit(
            &mut tx,
            now,
            Some(seller),
            if activation == Activation::First {
                "license_code.activated"
            } else {
                "license_code.seat_taken"
            },
            c.instance_id.as_str(),
            serde_json::json!({ "code": code, "machine_fingerprint": fingerprint }),
        )
        .await?;
        let detail = code_in(&mut tx, code)
            .await?
            .ok_or_else(|| corrupt("license code", "vanished while activating"))?;
        tx.commit().await?;
        Ok(ActivateResult::Activated(activation, Box::new(detail)))
    }

    async fn deactivate_machine(
        &self,
        scope: &Scope,
        code: &str,
        fingerprint: &str,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<bool>> {
        let mut tx = self.write.begin().await?;
        let instance: Option<String> = sqlx::query_scalar(
            "SELECT instance_id FROM license_codes WHERE code = $1 AND ($2 IS NULL OR seller_id = $2)",
        )
        .bind(code)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(instance) = instance else {
            return Ok(None);
        };
        let changed = sqlx::query(
            "UPDATE license_machines SET deactivated_at = $1 \
             WHERE code = $2 AND fingerprint = $3 AND deactivated_at IS NULL",
        )
        .bind(to_unix_ms(now))
        .bind(code)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            audit(
                &mut tx,
                now,
                Some(actor),
                "license_code.machine_deactivated",
                &instance,
                serde_json::json!({ "code": code, "machine_fingerprint": fingerprint }),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(changed > 0))
    }

    async fn record_heartbeats(&self, batch: &[HeartbeatWrite]) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin().await?;
        for w in batch {
            sqlx::query(
                "UPDATE license_codes SET last_heartbeat_at = $1 WHERE code = $2 \
                 AND (last_heartbeat_at IS NULL OR last_heartbeat_at < $1)",
            )
            .bind(w.at_ms)
            .bind(&w.code)
            .execute(&mut *tx)
            .await?;
            if let Some(f) = &w.fingerprint {
                sqlx::query(
                    "UPDATE license_machines SET last_seen_at = $1 WHERE code = $2 \
                     AND fingerprint = $3 AND deactivated_at IS NULL AND last_seen_at < $1",
                )
                .bind(w.at_ms)
                .bind(&w.code)
                .bind(f)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows =
            sqlx::query("SELECT * FROM license_signing_keys ORDER BY created_at DESC, key_id DESC")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRecord {
                    key_id: r.try_get("key_id")?,
                    public_key: r.try_get("public_key")?,
                    private_sealed: r.try_get("private_sealed")?,
                    created_at: from_unix_ms(r.try_get("created_at")?),
                    retired_at: opt_time(r, "retired_at")?,
                })
            })
            .collect()
    }

    async fn add_signing_key(&self, k: SigningKeyRecord) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let now = to_unix_ms(k.created_at);
        sqlx::query("UPDATE license_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO license_signing_keys (key_id, public_key, private_sealed, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&k.key_id)
        .bind(&k.public_key)
        .bind(&k.private_sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            k.created_at,
            None,
            "license_signing_key.created",
            &k.key_id,
            serde_json::json!({ "public_key": k.public_key }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
