//! `souk license verify FILE [--keys URL|FILE] [--at TIME]`: checks a signed offline license
//! file exactly as a seller's software would, with no database (see `docs/licenses.md`).
//!
//! Exit status: 0 valid, 2 signature good but expired (license or file), 1 not valid.

use anyhow::Context;
use clap::Subcommand;
use souk_isv::license_file::{self, KeySet, Validity};
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;

#[derive(Subcommand)]
pub enum LicenseCommand {
    /// Verify a license file's Ed25519 signature and its times.
    Verify {
        /// The license file (JSON, as downloaded).
        file: PathBuf,
        /// The public keys: a URL (e.g. https://souk.example/.well-known/souk-license-keys.json)
        /// or a file holding that JSON. Default: the keys of the Souk at SOUK_URL
        /// (http://127.0.0.1:8080 if unset).
        #[arg(long)]
        keys: Option<String>,
        /// Judge the times as of this RFC 3339 instant instead of now.
        #[arg(long)]
        at: Option<String>,
    },
}

/// Runs the command; returns the process exit code.
pub async fn run(command: LicenseCommand) -> anyhow::Result<i32> {
    let LicenseCommand::Verify { file, keys, at } = command;
    let keys = keys.unwrap_or_else(|| {
        let base = std::env::var("SOUK_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        format!(
            "{}/.well-known/souk-license-keys.json",
            base.trim_end_matches('/')
        )
    });
    let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let key_text = if keys.starts_with("http://") || keys.starts_with("https://") {
        reqwest::get(&keys)
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching the keys from {keys}"))?
            .text()
            .await?
    } else {
        std::fs::read_to_string(&keys).with_context(|| format!("reading the keys from {keys}"))?
    };
    let key_set: KeySet = serde_json::from_str(&key_text).context("the keys are not a JWKS")?;
    let now = match at {
        Some(t) => time::OffsetDateTime::parse(&t, &Rfc3339)
            .with_context(|| format!("--at {t} is not an RFC 3339 time"))?,
        None => time::OffsetDateTime::now_utc(),
    };
    match license_file::verify(&text, &key_set, now) {
        Err(e) => {
            println!("INVALID: {e}");
            Ok(1)
        }
        Ok(v) => {
            let p = &v.payload;
            let who = format!(
                "license {} for buyer {} (product {}, instance {}, key {})",
                p.license_code, p.buyer_id, p.product_id, p.instance_id, p.key_id
            );
            match v.validity {
                Validity::Valid => {
                    println!(
                        "valid: {who}; license ends {}, file good until {}",
                        p.license_expires_at.as_deref().unwrap_or("never"),
                        p.file_expires_at
                    );
                    Ok(0)
                }
                Validity::LicenseExpired(at) => {
                    println!("expired: the license ended at {at}; {who}");
                    Ok(2)
                }
                Validity::FileExpired(at) => {
                    println!("expired: the file is stale since {at} (download a fresh one); {who}");
                    Ok(2)
                }
            }
        }
    }
}
