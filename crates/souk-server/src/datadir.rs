//! The data directory is private: the directory itself `0700`, the SQLite database and its
//! `-wal`/`-shm` files `0600` (the master key is written `0600` by [`crate::secrets`]). They hold
//! key hashes, sealed secrets and the key that opens them.

use crate::config::Config;
use anyhow::Context;
use std::path::Path;

/// Creates the data directory (private) or tightens an existing one, and makes sure the SQLite
/// database, if that is the backend, exists and is readable by this user only before SQLite
/// opens it (SQLite gives its `-wal` and `-shm` files the database file's mode).
pub fn prepare(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    create_private_dir(dir)?;
    if let Some(db) = souk_store::sqlite_path(&config.effective_database_url()) {
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        create_private_file(&db)?;
        for suffix in ["-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            restrict(Path::new(&name), 0o600)?;
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700, or narrows an existing one to 0700.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    restrict(dir, 0o700)
}

/// Creates an empty file with mode 0600 unless it exists, then makes sure it is 0600.
pub fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    restrict(path, 0o600)
}

/// Removes group and other permissions from `path` if it exists (never adds any).
#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let current = meta.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))
            .with_context(|| format!("making {} private", path.display()))?;
        tracing::info!(path = %path.display(), from = format!("{current:o}"), to = format!("{:o}", current & mode), "narrowed permissions");
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}
