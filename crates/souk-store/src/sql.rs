//! The SQL implementation of [`Store`] for SQLite and PostgreSQL.

use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::AuditId;
use souk_core::party::PartyStatus;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine is behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) backend: Backend,
    /// Connections for reads. On PostgreSQL the same pool as `write`.
    pub(crate) read: AnyPool,
    /// Connections for writes. On SQLite exactly one (see the crate docs).
    pub(crate) write: AnyPool,
}

impl SqlStore {
    /// Connects to `sqlite://PATH` (the file is created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL scheme in `{}`: use sqlite:// or postgres://",
                    redact_url(url)
                )
                .into(),
            ))
        })?;
        match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                let opts = || {
                    AnyPoolOptions::new()
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                // WAL lets readers proceed while the writer writes; NORMAL
                                // synchronous is durable across application crashes (only an OS
                                // crash can lose the last commits); foreign keys are off by
                                // default in SQLite.
                                for pragma in [
                                    "PRAGMA journal_mode = WAL",
                                    "PRAGMA synchronous = NORMAL",
                                    "PRAGMA foreign_keys = ON",
                                    "PRAGMA busy_timeout = 10000",
                                ] {
                                    sqlx::query(pragma).execute(&mut *conn).await?;
                                }
                                Ok(())
                            })
                        })
                };
                let write = opts().max_connections(1).connect(&url).await?;
                let read = opts().max_connections(8).connect(&url).await?;
                Ok(SqlStore {
                    backend,
                    read,
                    write,
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                Ok(SqlStore {
                    backend,
                    read: pool.clone(),
                    write: pool,
                })
            }
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Hides the password in a database URL before it reaches a log line or an error message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict {
                constraint: d.constraint().unwrap_or("unique").to_owned(),
            };
        }
    }
    StoreError::Database(e)
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn party_from_row(row: &AnyRow) -> StoreResult<PartyRecord> {
    Ok(PartyRecord {
        id: PartyId::from_trusted(row.try_get("id")?),
        role: Role::from_str(&row.try_get::<String, _>("role")?).map_err(|e| corrupt("role", e))?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        mobile_phone: row.try_get("mobile_phone")?,
        status: PartyStatus::from_str(&row.try_get::<String, _>("status")?)
            .map_err(|e| corrupt("status", e))?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        updated_at: from_unix_ms(row.try_get("updated_at")?),
    })
}

const KEY_COLUMNS: &str = "k.id, k.party_id, p.role, k.label, k.display_prefix, k.created_at, \
     k.created_by, k.revoked_at, k.last_used_at";

fn key_from_row(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    let opt_time = |col: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
    };
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id")?),
        party_id: PartyId::from_trusted(row.try_get("party_id")?),
        role: Role::from_str(&row.try_get::<String, _>("role")?).map_err(|e| corrupt("role", e))?,
        label: row.try_get("label")?,
        display_prefix: row.try_get("display_prefix")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(PartyId::from_trusted),
        revoked_at: opt_time("revoked_at")?,
        last_used_at: opt_time("last_used_at")?,
    })
}

/// Appends an audit record inside the caller's transaction, so that the change and its record
/// commit or vanish together.
pub(crate) async fn audit(
    conn: &mut sqlx::AnyConnection,
    now: OffsetDateTime,
    actor: Option<&PartyId>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_id, action, subject_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(AuditId::generate(now).as_str().to_owned())
    .bind(to_unix_ms(now))
    .bind(actor.map(|a| a.as_str().to_owned()))
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_party(conn: &mut sqlx::AnyConnection, p: &NewParty) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO parties (id, role, name, email, mobile_phone, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(p.id.as_str())
    .bind(p.role.as_str())
    .bind(&p.name)
    .bind(p.email.clone())
    .bind(p.mobile_phone.clone())
    .bind(to_unix_ms(p.now))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_key(conn: &mut sqlx::AnyConnection, k: &NewKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, party_id, label, display_prefix, key_hash, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(k.id.as_str())
    .bind(k.party_id.as_str())
    .bind(k.label.clone())
    .bind(&k.display_prefix)
    .bind(&k.hash)
    .bind(to_unix_ms(k.now))
    .bind(k.created_by.as_ref().map(|p| p.as_str().to_owned()))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn find_key(
    conn: &mut sqlx::AnyConnection,
    scope: &Scope,
    key: &str,
) -> StoreResult<Option<ApiKeyRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k JOIN parties p ON p.id = k.party_id \
         WHERE k.id = $1 AND ($2 IS NULL OR k.party_id = $2)"
    ))
    .bind(key)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}

#[async_trait]
impl PartyStore for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn bootstrap_operator(&self, party: NewParty, key: NewKey) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM parties WHERE role = 'operator'")
                .fetch_one(&mut *tx)
                .await?;
        if existing > 0 {
            return Ok(false);
        }
        insert_party(&mut tx, &party).await?;
        insert_key(&mut tx, &key).await?;
        audit(
            &mut tx,
            party.now,
            None,
            "operator.bootstrapped",
            party.id.as_str(),
            serde_json::json!({ "key_id": key.id }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_party(&self, party: NewParty, actor: &PartyId) -> StoreResult<PartyRecord> {
        let mut tx = self.write.begin().await?;
        insert_party(&mut tx, &party).await?;
        audit(
            &mut tx,
            party.now,
            Some(actor),
            &format!("{}.created", party.role),
            party.id.as_str(),
            serde_json::json!({ "name": party.name, "email": party.email }),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1")
            .bind(party.id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = party_from_row(&row)?;
        tx.commit().await?;
        Ok(record)
    }

    async fn find_party(&self, scope: &Scope, id: &PartyId) -> StoreResult<Option<PartyRecord>> {
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1 AND ($2 IS NULL OR id = $2)")
            .bind(id.as_str())
            .bind(scope.tenant().map(str::to_owned))
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(party_from_row).transpose()
    }

    async fn set_party_status(
        &self,
        id: &PartyId,
        status: PartyStatus,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PartyRecord>> {
        let mut tx = self.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE parties SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
        )
        .bind(status.as_str())
        .bind(to_unix_ms(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            audit(
                &mut tx,
                now,
                Some(actor),
                &format!("party.{}", status.as_str()),
                id.as_str(),
                serde_json::json!({}),
            )
            .await?;
        }
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let record = row.as_ref().map(party_from_row).transpose()?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_parties(
        &self,
        scope: &Scope,
        role: Role,
        page: &Page,
    ) -> StoreResult<Vec<PartyRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM parties WHERE role = $1 AND ($2 IS NULL OR id = $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(role.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(party_from_row).collect()
    }

    async fn create_api_key(
        &self,
        scope: &Scope,
        key: NewKey,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let mut tx = self.write.begin().await?;
        let visible: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND ($2 IS NULL OR id = $2)")
                .bind(key.party_id.as_str())
                .bind(scope.tenant().map(str::to_owned))
                .fetch_optional(&mut *tx)
                .await?;
        if visible.is_none() {
            return Ok(None);
        }
        insert_key(&mut tx, &key).await?;
        audit(
            &mut tx,
            key.now,
            key.created_by.as_ref(),
            "api_key.created",
            key.party_id.as_str(),
            serde_json::json!({ "key_id": key.id, "label": key.label }),
        )
        .await?;
        let record = find_key(&mut tx, &Scope::Everything, key.id.as_str()).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_api_keys(
        &self,
        scope: &Scope,
        party: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<ApiKeyRecord>>> {
        if self.find_party(scope, party).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN parties p ON p.id = k.party_id \
             WHERE k.party_id = $1 AND ($2 IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3"
        ))
        .bind(party.as_str())
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(key_from_row)
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn revoke_api_key(
        &self,
        scope: &Scope,
        key: &ApiKeyId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<RevokeOutcome> {
        let mut tx = self.write.begin().await?;
        let Some(existing) = find_key(&mut tx, scope, key.as_str()).await? else {
            return Ok(RevokeOutcome::NotFound);
        };
        if existing.revoked_at.is_some() {
            return Ok(RevokeOutcome::Revoked(existing));
        }
        // The live operator keys, locked on PostgreSQL (SQLite has one writer) so that two
        // revocations of the last two keys are decided one after the other.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF k",
            Backend::Sqlite => "",
        };
        let live_operator_keys: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT k.id FROM api_keys k JOIN parties p ON p.id = k.party_id \
             WHERE p.role = 'operator' AND p.status = 'active' AND k.revoked_at IS NULL{lock}"
        ))
        .fetch_all(&mut *tx)
        .await?;
        if live_operator_keys.len() == 1 && live_operator_keys[0] == key.as_str() {
            return Ok(RevokeOutcome::LastOperatorKey);
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_unix_ms(now))
            .bind(key.as_str())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "api_key.revoked",
            existing.party_id.as_str(),
            serde_json::json!({ "key_id": key }),
        )
        .await?;
        let record = find_key(&mut tx, scope, key.as_str()).await?;
        tx.commit().await?;
        Ok(record.map_or(RevokeOutcome::NotFound, RevokeOutcome::Revoked))
    }

    async fn authenticate(
        &self,
        key_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Principal>> {
        let row = sqlx::query(
            "SELECT k.id, k.party_id, p.role, k.last_used_at FROM api_keys k \
             JOIN parties p ON p.id = k.party_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND p.status = 'active'",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let principal = Principal {
            key_id: ApiKeyId::from_trusted(row.try_get("id")?),
            party_id: PartyId::from_trusted(row.try_get("party_id")?),
            role: Role::from_str(&row.try_get::<String, _>("role")?)
                .map_err(|e| corrupt("role", e))?,
        };
        // Record use at most once a minute per key, so that authentication stays a read.
        let last: Option<i64> = row.try_get("last_used_at")?;
        let now_ms = to_unix_ms(now);
        if last.is_none_or(|l| now_ms - l > 60_000) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(principal.key_id.as_str())
                .execute(&self.write)
                .await?;
        }
        Ok(Some(principal))
    }

    async fn audit_trail(&self, scope: &Scope, subject: &str) -> StoreResult<Vec<AuditEvent>> {
        // A party's trail is visible to the operator and to the party itself.
        if let Some(t) = scope.tenant() {
            if t != subject {
                return Ok(Vec::new());
            }
        }
        let rows = sqlx::query(
            "SELECT id, at, actor_id, action, subject_id, detail FROM audit_events \
             WHERE subject_id = $1 ORDER BY id",
        )
        .bind(subject)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: AuditId::from_trusted(r.try_get("id")?),
                    at: from_unix_ms(r.try_get("at")?),
                    actor_id: r.try_get("actor_id")?,
                    action: r.try_get("action")?,
                    subject_id: r.try_get("subject_id")?,
                    detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
                        .map_err(|e| corrupt("audit detail", e))?,
                })
            })
            .collect()
    }

    async fn schema_dump(&self) -> StoreResult<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
            }
            Backend::Postgres => {
                "SELECT line FROM ( \
                   SELECT 'column ' || table_name || '.' || column_name || ': ' || data_type \
                          || ' ' || is_nullable || ' ' || COALESCE(column_default, '') AS line \
                   FROM information_schema.columns WHERE table_schema = current_schema() \
                   UNION ALL \
                   SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
                   WHERE schemaname = current_schema() \
                 ) s ORDER BY line"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.read).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://souk:s3cret@db:5432/souk"),
            "postgres://souk:***@db:5432/souk"
        );
        assert_eq!(
            redact_url("postgres://postgres@db/souk"),
            "postgres://postgres@db/souk"
        );
        assert_eq!(
            redact_url("sqlite://./souk-data/souk.db"),
            "sqlite://./souk-data/souk.db"
        );
    }
}
