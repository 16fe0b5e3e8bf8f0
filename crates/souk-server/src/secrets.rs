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

    /// A key for tests and tools that need one without a data directory.
    pub fn random() -> MasterKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    /// Encrypts a secret for storage: AES-256-GCM with a random nonce, written as
    /// `v1:<base64(nonce ‖ ciphertext)>`. `context` (e.g. `seller_key:prd_…`) is bound to the
    /// ciphertext as associated data, so a sealed value copied onto another row will not open.
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use base64::Engine;
        let cipher = aes_gcm::Aes256Gcm::new((&self.0).into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce length cannot fail.
        let ct = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens a value made by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> anyhow::Result<String> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use base64::Engine;
        let body = sealed
            .strip_prefix("v1:")
            .context("sealed secret has an unknown format")?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .context("sealed secret is not base64")?;
        anyhow::ensure!(raw.len() > 12, "sealed secret is too short");
        let (nonce, ct) = raw.split_at(12);
        let cipher = aes_gcm::Aes256Gcm::new((&self.0).into());
        let pt = cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("sealed secret does not open with this master key and context")
            })?;
        String::from_utf8(pt).context("sealed secret is not UTF-8")
    }

    fn parse_hex(s: &str) -> anyhow::Result<MasterKey> {
        let bytes = hex::decode(s.trim()).context("master key is not hex")?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("master key must be 64 hex characters (32 bytes)"))?;
        Ok(MasterKey(arr))
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> anyhow::Result<MasterKey> {
        MasterKey::parse_hex(s)
    }

    /// The key as 64 hex characters (for backups; handle like the key itself).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Loads the configured key or the one in the data directory; never generates one.
    pub fn load_existing(config: &Config) -> anyhow::Result<MasterKey> {
        if let Some(k) = &config.master_key {
            return MasterKey::parse_hex(k.expose()).context("SOUK_MASTER_KEY / master_key");
        }
        let path = config.data_dir.join("master.key");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading the master key {} (or set SOUK_MASTER_KEY)",
                path.display()
            )
        })?;
        MasterKey::parse_hex(&text).with_context(|| path.display().to_string())
    }

    /// Writes the key to `<dir>/master.key` (mode 0600); fails if that file exists.
    pub fn write_to_data_dir(&self, dir: &Path) -> anyhow::Result<()> {
        write_private(&dir.join("master.key"), &self.to_hex())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let k = MasterKey::random();
        let sealed = k.seal("seller_key:prd_1", "the-seller-key");
        assert!(!sealed.contains("the-seller-key"));
        assert_eq!(
            k.open("seller_key:prd_1", &sealed).unwrap(),
            "the-seller-key"
        );
        assert!(k.open("seller_key:prd_2", &sealed).is_err());
        assert!(MasterKey::random()
            .open("seller_key:prd_1", &sealed)
            .is_err());
        assert_ne!(
            sealed,
            k.seal("seller_key:prd_1", "the-seller-key"),
            "fresh nonce each time"
        );
        let mut tampered = sealed.clone();
        tampered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(k.open("seller_key:prd_1", &tampered).is_err());
        assert!(k.open("x", "garbage").is_err());
    }
}
