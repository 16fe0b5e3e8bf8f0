//! What operations need from the database: the figures behind the dashboard gauges, and
//! consistent online snapshots of a SQLite database (`souk backup` / `souk restore`).
//!
//! A SQLite backup is one SQLite file: a `VACUUM INTO` snapshot of the live database (a read
//! transaction, so the server keeps writing while it runs) plus a `souk_backup` table holding the
//! master key and a few facts about the snapshot. `restore_sqlite` copies it into place, reads and
//! drops that table, and hands the master key back to be written next to the database.

use crate::sql::SqlStore;
use crate::{Backend, StoreError, StoreResult};
use async_trait::async_trait;
use souk_core::clock::from_unix_ms;
use sqlx::{Connection, Row};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Unfinished calls of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobBacklog {
    /// The call kind (`new_instance`, …).
    pub kind: String,
    /// Calls waiting to be sent or in flight.
    pub unfinished: i64,
    /// When the longest-waiting call that is due now became due, if any is due.
    pub oldest_due_at: Option<OffsetDateTime>,
}

/// The figures operators watch, and snapshots.
#[async_trait]
pub trait OpsStore: Send + Sync + 'static {
    /// Unfinished calls per kind (kinds without any are absent).
    async fn job_backlog(&self, now: OffsetDateTime) -> StoreResult<Vec<JobBacklog>>;

    /// Orders per state (states without any are absent).
    async fn order_counts(&self) -> StoreResult<Vec<(String, i64)>>;

    /// Writes a consistent snapshot of a SQLite database into `target`, which must not exist or
    /// be empty. Runs beside live writers. Fails on PostgreSQL.
    async fn snapshot_into(&self, target: &Path) -> StoreResult<()>;
}

#[async_trait]
impl OpsStore for SqlStore {
    async fn job_backlog(&self, now: OffsetDateTime) -> StoreResult<Vec<JobBacklog>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n, \
             MIN(CASE WHEN state = 'pending' AND next_attempt_at <= $1 THEN next_attempt_at END) AS due \
             FROM jobs WHERE state IN ('pending', 'running') GROUP BY kind ORDER BY kind",
        )
        .bind(souk_core::clock::to_unix_ms(now))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobBacklog {
                    kind: r.try_get("kind")?,
                    unfinished: r.try_get("n")?,
                    oldest_due_at: r.try_get::<Option<i64>, _>("due")?.map(from_unix_ms),
                })
            })
            .collect()
    }

    async fn order_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM orders GROUP BY state ORDER BY state")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    async fn snapshot_into(&self, target: &Path) -> StoreResult<()> {
        if self.backend != Backend::Sqlite {
            return Err(config_error(
                "snapshots are for SQLite; back up PostgreSQL with pg_dump",
            ));
        }
        let target = target
            .to_str()
            .ok_or_else(|| config_error("the backup path is not UTF-8"))?;
        // A read transaction on the main database: writers carry on (WAL).
        sqlx::query("VACUUM INTO $1")
            .bind(target.to_owned())
            .execute(&self.read)
            .await?;
        Ok(())
    }
}

fn config_error(msg: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Configuration(msg.to_owned().into()))
}

/// The file path of a `sqlite://PATH[?…]` (or `sqlite:PATH`) URL; `None` for other databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The format tag of a backup file written by [`write_backup`].
pub const BACKUP_FORMAT: &str = "souk-sqlite-backup-1";

/// What a backup records about itself besides the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The master key, 64 hex characters.
    pub master_key_hex: String,
    /// When the snapshot was taken (RFC 3339).
    pub taken_at: String,
    /// The Souk version that took it.
    pub souk_version: String,
}

async fn open_file(path: &Path) -> StoreResult<sqlx::SqliteConnection> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
    Ok(sqlx::SqliteConnection::connect_with(&opts).await?)
}

/// Snapshots `store` into `target` (which must not exist, or be empty) and adds `info` to it.
pub async fn write_backup(store: &SqlStore, target: &Path, info: &BackupInfo) -> StoreResult<()> {
    store.snapshot_into(target).await?;
    let mut conn = open_file(target).await?;
    sqlx::query("CREATE TABLE souk_backup (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    for (name, value) in [
        ("format", BACKUP_FORMAT),
        ("master_key", info.master_key_hex.as_str()),
        ("taken_at", info.taken_at.as_str()),
        ("souk_version", info.souk_version.as_str()),
    ] {
        sqlx::query("INSERT INTO souk_backup (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(())
}

/// Reads the facts of a backup file without changing it.
pub async fn read_backup_info(path: &Path) -> StoreResult<BackupInfo> {
    let mut conn = open_file(path).await?;
    let info = backup_info_in(&mut conn).await;
    conn.close().await?;
    info
}

async fn backup_info_in(conn: &mut sqlx::SqliteConnection) -> StoreResult<BackupInfo> {
    let rows = sqlx::query("SELECT name, value FROM souk_backup")
        .fetch_all(&mut *conn)
        .await
        .map_err(|_| StoreError::Corrupt("not a souk backup (no souk_backup table)".into()))?;
    let get = |name: &str| -> StoreResult<String> {
        rows.iter()
            .find(|r| r.get::<String, _>("name") == name)
            .map(|r| r.get::<String, _>("value"))
            .ok_or_else(|| StoreError::Corrupt(format!("backup has no `{name}`")))
    };
    let format = get("format")?;
    if format != BACKUP_FORMAT {
        return Err(StoreError::Corrupt(format!(
            "unknown backup format `{format}`"
        )));
    }
    Ok(BackupInfo {
        master_key_hex: get("master_key")?,
        taken_at: get("taken_at")?,
        souk_version: get("souk_version")?,
    })
}

/// Turns a copy of a backup file at `db` into a plain Souk database: checks its integrity, takes
/// the backup facts out of it and returns them.
pub async fn finish_restore(db: &Path) -> StoreResult<BackupInfo> {
    let mut conn = open_file(db).await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!(
            "integrity check failed: {check}"
        )));
    }
    let info = backup_info_in(&mut conn).await?;
    sqlx::query("DROP TABLE souk_backup")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_come_out_of_urls() {
        assert_eq!(
            sqlite_path("sqlite:///var/souk/souk.db?mode=rwc"),
            Some(PathBuf::from("/var/souk/souk.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:data/souk.db"),
            Some(PathBuf::from("data/souk.db"))
        );
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
