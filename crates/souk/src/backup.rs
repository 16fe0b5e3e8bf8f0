//! `souk backup FILE` and `souk restore FILE --data-dir NEW` (see docs/operations.md).
//!
//! A backup is one SQLite file: a consistent snapshot of the live database (`VACUUM INTO`, a
//! read transaction, so a running server keeps serving and writing) with the master key inside,
//! in a `souk_backup` table that `restore` takes out again. The file is created mode 0600; it
//! opens every sealed secret, so keep it as safe as the master key itself.

use anyhow::{bail, ensure, Context};
use souk_server::config::Config;
use souk_server::datadir;
use souk_server::secrets::MasterKey;
use souk_store::{BackupInfo, SqlStore};
use std::path::Path;
use time::format_description::well_known::Rfc3339;

/// Printed when the database is PostgreSQL, whose own tools make consistent online dumps.
pub const POSTGRES_PROCEDURE: &str = "\
the database is PostgreSQL: `souk backup` snapshots SQLite only. Back up PostgreSQL with its own
tools, together with the master key:
  pg_dump --format=custom --file=souk.pgdump \"$SOUK_DATABASE_URL\"
  and keep a copy of the master key (SOUK_MASTER_KEY, or <data_dir>/master.key).
Restore into an empty database with
  pg_restore --no-owner --dbname=\"$NEW_DATABASE_URL\" souk.pgdump
and start souk with that database and the same master key. See docs/operations.md.";

pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = config.effective_database_url();
    let Some(db) = souk_store::sqlite_path(&url) else {
        bail!("{POSTGRES_PROCEDURE}");
    };
    ensure!(
        db.exists(),
        "there is no database at {} (wrong --data-dir?)",
        db.display()
    );
    let key = MasterKey::load_existing(config)?;
    ensure!(
        !file.exists(),
        "{} exists; back up into a new file",
        file.display()
    );
    // Created empty and private before any data goes in (VACUUM INTO accepts an empty file).
    datadir::create_private_file(file)?;
    let result = write(&url, file, &key).await;
    if result.is_err() {
        let _ = std::fs::remove_file(file);
    }
    let info = result?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({size} bytes, taken at {}); the file holds the master key: keep it \
         as safe as the key itself",
        db.display(),
        file.display(),
        info.taken_at
    );
    Ok(())
}

async fn write(url: &str, file: &Path, key: &MasterKey) -> anyhow::Result<BackupInfo> {
    let store = SqlStore::connect(url)
        .await
        .with_context(|| format!("opening {}", souk_store::sql_redact_url(url)))?;
    let info = BackupInfo {
        master_key_hex: key.to_hex(),
        taken_at: time::OffsetDateTime::now_utc().format(&Rfc3339)?,
        souk_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let written = souk_store::write_backup(&store, file, &info).await;
    store.close().await;
    written.context("writing the snapshot")?;
    Ok(info)
}

pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = config.effective_database_url();
    let db = souk_store::sqlite_path(&url).context(
        "restore writes a SQLite database; for PostgreSQL use pg_restore (see docs/operations.md)",
    )?;
    ensure!(file.is_file(), "there is no backup file {}", file.display());
    let info = souk_store::read_backup_info(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?;
    let key = MasterKey::from_hex(&info.master_key_hex).context("the backup's master key")?;
    if let Some(configured) = &config.master_key {
        let configured = MasterKey::from_hex(configured.expose()).context("SOUK_MASTER_KEY")?;
        ensure!(
            configured.bytes() == key.bytes(),
            "SOUK_MASTER_KEY is not the master key of this backup; unset it to use the backup's"
        );
    }
    let key_file = config.data_dir.join("master.key");
    ensure!(
        !db.exists() && !key_file.exists(),
        "{} already holds a database or master key: restore into a new data directory",
        config.data_dir.display()
    );
    datadir::create_private_dir(&config.data_dir)?;
    let result = copy_and_finish(file, &db).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&db);
    }
    result?;
    if config.master_key.is_none() {
        key.write_to_data_dir(&config.data_dir)?;
    }
    println!(
        "restored the backup taken at {} (souk {}) into {}; start it with: souk serve --data-dir {}",
        info.taken_at,
        info.souk_version,
        db.display(),
        config.data_dir.display()
    );
    Ok(())
}

async fn copy_and_finish(file: &Path, db: &Path) -> anyhow::Result<()> {
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        datadir::create_private_dir(parent)?;
    }
    datadir::create_private_file(db)?;
    std::fs::copy(file, db)
        .with_context(|| format!("copying {} to {}", file.display(), db.display()))?;
    // `copy` gives the target the source's mode; the database stays private whatever that was.
    datadir::create_private_file(db)?;
    souk_store::finish_restore(db)
        .await
        .with_context(|| format!("checking the restored database {}", db.display()))?;
    Ok(())
}
