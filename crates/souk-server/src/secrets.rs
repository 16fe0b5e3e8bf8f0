//! The server master key: 32 random bytes that encrypt secrets at rest (seller keys, SKs).
//!
//! It comes from `master_key` in the configuration or, failing that, from `<data_dir>/master.key`,
//! which is generated (mode 0600) on first start. Losing it makes stored secrets unreadable, so
//! back it up with the database.

use crate::config::Config;
use anyhow::{bail, Context};
use rand::RngCore;
use std::path::Path;

/// The key itself. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn parse_hex(s: &str) -> anyhow::Result<MasterKey> {
        let bytes = hex::decode(s.trim()).context("master key is not hex")?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("master key must be 64 hex characters (32 bytes)"))?;
        Ok(MasterKey(arr))
    }

    /// Loads the configured key, or the one in the data directory, generating it if absent.
    pub fn load_or_create(config: &Config) -> anyhow::Result<MasterKey> {
        if let Some(k) = &config.master_key {
            return MasterKey::parse_hex(k.expose()).context("SOUK_MASTER_KEY / master_key");
        }
        let path = config.data_dir.join("master.key");
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return MasterKey::parse_hex(&text).with_context(|| path.display().to_string());
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private(&path, &hex::encode(key))?;
        tracing::info!(path = %path.display(), "generated a new master key; back it up with the database");
        Ok(MasterKey(key))
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} appeared while starting; start again", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    writeln!(f, "{contents}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
