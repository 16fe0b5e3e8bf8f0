//! The conformance tester behind `souk isv-test` (交付接口调试, offline).
//!
//! [`run`] drives a seller's production URL the way the marketplace will, every call with
//! `testFlag=1`, through a realistic lifecycle, and returns a [`Report`]:
//!
//! 1. every answer is HTTP 200, a JSON object with `resultCode`, and carries a `Body-Sign`
//!    that verifies over the raw bytes ([`CheckKind::Response`]);
//! 2. newInstance returns `000000` (V2 may answer `000004`, then queryInstance is polled) and
//!    an `instanceId`; a retry with a fresh `businessId` and the same order returns the same
//!    `instanceId` ([`CheckKind::Idempotency`]);
//! 3. `appInfo` credentials decrypt with the declared `encryptType` (absent = AES-256);
//! 4. queryInstance answers for the instance (a warning only: it is mandatory for on-demand
//!    products alone);
//! 5. renewal, trial→formal, upgrade, expire/freeze, unfreeze and release return `000000`;
//!    repeating freeze/expire and release still returns `000000`;
//! 6. refresh, freeze/expire and release of an unknown instance return `000003`;
//! 7. a request signed with the wrong key, one altered after signing and — V2 — one with a
//!    stale timestamp or a replayed nonce are refused with `000001`;
//! 8. latency: a call slower than [`DEFAULT_WARN`] gets a warning, one slower than
//!    [`DEFAULT_TIMEOUT`] fails. The marketplace's real timeout is not documented; 10 s is a
//!    generous reading (Tencent's marketplace uses 5 s, hence the warning there).
//!
//! With `activities` the run is restricted to some activities; `all` adds the License
//! activities (V1 getLicense; V2 getLicenseAsync and orderNotify) to the default set.

mod checks;
mod lifecycle;
mod report;
mod requests;
mod transport;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use souk_protocol::activity::{v1, v2, SellerResponse};
use souk_protocol::timestamp::unix_millis;
use souk_protocol::{EncryptType, SellerKey};
use thiserror::Error;

use crate::config::{system_clock, Clock};
use crate::seller::Generation;
use transport::Case;

pub use report::{Check, CheckKind, Report, Status};

/// Calls slower than this fail (`--timeout-ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls slower than this get a latency warning.
pub const DEFAULT_WARN: Duration = Duration::from_secs(5);

/// The activities both generations have (same `activity` value in V1 and V2).
const NEW_INSTANCE: &str = v1::NewInstance::ACTIVITY;
const QUERY_INSTANCE: &str = v1::QueryInstance::ACTIVITY;
const REFRESH_INSTANCE: &str = v1::RefreshInstance::ACTIVITY;
const RELEASE_INSTANCE: &str = v1::ReleaseInstance::ACTIVITY;

const V1_DEFAULT: &[&str] = &[
    NEW_INSTANCE,
    QUERY_INSTANCE,
    REFRESH_INSTANCE,
    v1::Upgrade::ACTIVITY,
    v1::ExpireInstance::ACTIVITY,
    v1::InstanceStatus::ACTIVITY,
    RELEASE_INSTANCE,
];
const V1_EXTRA: &[&str] = &[v1::GetLicense::ACTIVITY];
const V2_DEFAULT: &[&str] = &[
    NEW_INSTANCE,
    QUERY_INSTANCE,
    REFRESH_INSTANCE,
    v2::UpgradeInstance::ACTIVITY,
    v2::UpdateInstanceStatus::ACTIVITY,
    RELEASE_INSTANCE,
];
const V2_EXTRA: &[&str] = &[v2::GetLicenseAsync::ACTIVITY, v2::OrderNotify::ACTIVITY];

/// The activities tested by default for a generation.
pub fn default_activities(generation: Generation) -> &'static [&'static str] {
    match generation {
        Generation::V1 => V1_DEFAULT,
        Generation::V2 => V2_DEFAULT,
    }
}

/// Every activity the tester knows for a generation (`--activities all`).
pub fn all_activities(generation: Generation) -> Vec<&'static str> {
    let extra = match generation {
        Generation::V1 => V1_EXTRA,
        Generation::V2 => V2_EXTRA,
    };
    default_activities(generation)
        .iter()
        .chain(extra)
        .copied()
        .collect()
}

/// What to test and how.
#[derive(Clone)]
pub struct TesterConfig {
    /// The production URL.
    pub url: String,
    /// The seller Key.
    pub key: SellerKey,
    /// Which generation to speak.
    pub generation: Generation,
    /// Restrict to these activities (`all` = every known one); `None` = the default set.
    pub activities: Option<Vec<String>>,
    /// A call slower than this fails.
    pub timeout: Duration,
    /// A call slower than this gets a warning.
    pub warn_after: Duration,
    /// Write the passing requests here as replayable JSON cases.
    pub save_cases: Option<PathBuf>,
    /// The clock for `timeStamp` / `timestamp`.
    pub clock: Clock,
    /// The product creates the buyer's account from the e-mail and phone: V1 newInstance
    /// carries both, encrypted at this key size, and the seller must decrypt them.
    pub buyer_pii: Option<EncryptType>,
}

impl TesterConfig {
    /// Defaults: default activities, 10 s timeout, 5 s warning, no cases, wall clock.
    pub fn new(url: impl Into<String>, key: impl Into<SellerKey>, generation: Generation) -> Self {
        TesterConfig {
            url: url.into(),
            key: key.into(),
            generation,
            activities: None,
            timeout: DEFAULT_TIMEOUT,
            warn_after: DEFAULT_WARN,
            save_cases: None,
            clock: system_clock(),
            buyer_pii: None,
        }
    }
}

/// Why a run could not start (a seller's failures are checks in the [`Report`], not errors).
#[derive(Debug, Error)]
pub enum TesterError {
    /// The URL is not an absolute http(s) URL.
    #[error("invalid URL {0:?}: expected http:// or https://")]
    InvalidUrl(String),
    /// `--activities` names something unknown for this generation.
    #[error("unknown activity {name:?} for {generation}; known: {known}")]
    UnknownActivity {
        /// The name given.
        name: String,
        /// `V1` or `V2`.
        generation: &'static str,
        /// The known names.
        known: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// `--save-cases` could not be written.
    #[error("cannot write cases to {path}: {source}")]
    SaveCases {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Runs the conformance test.
pub async fn run(config: TesterConfig) -> Result<Report, TesterError> {
    let url = reqwest::Url::parse(&config.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| TesterError::InvalidUrl(config.url.clone()))?;
    let known = all_activities(config.generation);
    let selected: BTreeSet<String> = match &config.activities {
        None => default_activities(config.generation)
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Some(list) => {
            let mut set = BTreeSet::new();
            for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                if name.eq_ignore_ascii_case("all") {
                    set.extend(known.iter().map(|s| s.to_string()));
                } else if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                    set.insert(k.to_string());
                } else {
                    return Err(TesterError::UnknownActivity {
                        name: name.to_owned(),
                        generation: generation_name(config.generation),
                        known: known.join(", "),
                    });
                }
            }
            set
        }
    };
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .user_agent(concat!("souk-isv-test/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut runner = Runner {
        url,
        client,
        selected,
        checks: Vec::new(),
        cases: Vec::new(),
        aborted: None,
        run_id: random_upper(8),
        seq: 0,
        config,
    };
    runner.lifecycle().await;
    let cases_saved = runner.write_cases()?;
    Ok(Report {
        url: runner.config.url.clone(),
        profile: generation_name(runner.config.generation).to_ascii_lowercase(),
        timeout_ms: millis(runner.config.timeout),
        warn_ms: millis(runner.config.warn_after),
        checks: runner.checks,
        cases_saved,
    })
}

fn generation_name(g: Generation) -> &'static str {
    match g {
        Generation::V1 => "V1",
        Generation::V2 => "V2",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn random_upper(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Fix texts, in words a seller can act on.
mod fix {
    pub const RESPONSE: &str = "Answer every call with HTTP 200 and a JSON object containing resultCode, even errors; the marketplace treats anything else as a failed call and retries.";
    pub const BODY_SIGN: &str = "Add the header Body-Sign: sign_type=\"HMAC-SHA256\", signature=\"<Base64(HMAC-SHA256(Key, body))>\" computed over the exact bytes you send (sign after serialising, never re-serialise), keyed with the Key alone (not Key+timeStamp).";
    pub const SUCCESS: &str = "Process the call and answer resultCode 000000; if it cannot be processed, answer the documented error code with a resultMsg that says why.";
    pub const INSTANCE_ID: &str = "Return instanceId in the newInstance answer (the first businessId you received for the order is the recommended value).";
    pub const IDEMPOTENT: &str = "Key newInstance on orderId (+ orderLineId in V2, + productId for on-demand products) and return the instance you created the first time; businessId changes on every retry and must not create a new instance.";
    pub const REPEAT: &str = "Make the operation idempotent: a repeat for an instance already in the target state must answer 000000 (the marketplace retries for up to an hour).";
    pub const UNKNOWN: &str = "Look the instanceId up and answer 000003 when you do not know it; answering 000000 tells the marketplace that an instance it never bought was changed.";
    pub const AUTH: &str = "Verify the signature of every request before acting on it and answer 000001 when it does not match: V1 authToken = Base64(HMAC-SHA256(Key+timeStamp, sorted k=v pairs of all other decoded parameters)); V2 signature = HEX(HMAC-SHA256(Key, Key+nonce+timestamp+hex(HMAC-SHA256(Key, raw body)))).";
    pub const STALE: &str = "Reject V2 requests whose timestamp (Unix milliseconds) is more than 60 s away from your clock, with 000001; keep your clock synchronised (NTP).";
    pub const REPLAY: &str = "Remember the nonces of accepted V2 requests for the 60 s window and refuse a repeated nonce with 000001.";
    pub const BUYER_DETAILS: &str = "Decrypt the buyer's email and mobilePhone (16 IV characters followed by Base64(AES-CBC-PKCS5), key derived from your Key with SHA1PRNG at the bit length you chose when publishing) and answer 000102 (e-mail) or 000101 (phone) when one cannot be decrypted, instead of creating an account from it.";
    pub const CREDENTIALS: &str = "Encrypt appInfo.userName and appInfo.password as 16 random IV characters followed by Base64(AES-CBC-PKCS5(key derived from your Key with SHA1PRNG, iv)), and declare the size: encryptType \"1\" = AES-256 (the default when absent), \"2\" = AES-128.";
    pub const QUERY: &str = "queryInstance must answer 000000 with info[] containing each requested instanceId and its appInfo; it is mandatory for on-demand and on-demand-package products.";
    pub const LICENSE: &str = "Return the license (activation code) in the license field, the same one on every retry of the order.";
    pub const TIMEOUT: &str = "Answer within the marketplace timeout; do slow provisioning in the background (V2 newInstance may answer 000004 and complete when queryInstance is polled).";
    pub const REACHABLE: &str = "Check the URL, that the server is running and reachable from the marketplace, and its TLS certificate (HTTPS with a domain name is required in production).";
}

struct Runner {
    config: TesterConfig,
    url: reqwest::Url,
    client: reqwest::Client,
    selected: BTreeSet<String>,
    checks: Vec<Check>,
    cases: Vec<Case>,
    aborted: Option<String>,
    run_id: String,
    seq: u32,
}

/// What one call returned, when it returned anything usable.
struct Answer {
    response: Option<SellerResponse>,
}

impl Runner {
    fn is_v2(&self) -> bool {
        self.config.generation == Generation::V2
    }

    fn sel(&self, activity: &str) -> bool {
        self.selected.contains(activity)
    }

    /// The order id the last request carried (a renewal-period refund names its renewal).
    fn last_order_id(&self) -> String {
        format!("CSISVTEST{}{:03}", self.run_id, self.seq)
    }

    fn order_id(&mut self) -> String {
        self.seq += 1;
        format!("CSISVTEST{}{:03}", self.run_id, self.seq)
    }

    fn push(
        &mut self,
        step: &str,
        kind: CheckKind,
        status: Status,
        message: impl Into<String>,
        fix: Option<&str>,
        latency_ms: Option<u64>,
    ) {
        self.checks.push(Check {
            step: step.to_owned(),
            kind,
            status,
            message: message.into(),
            fix: fix.map(str::to_owned),
            latency_ms,
        });
    }

    fn pass(&mut self, step: &str, kind: CheckKind, message: impl Into<String>) {
        self.push(step, kind, Status::Pass, message, None, None);
    }

    fn fail(&mut self, step: &str, kind: CheckKind, message: impl Into<String>, fix: &str) {
        self.push(step, kind, Status::Fail, message, Some(fix), None);
    }

    fn warn(&mut self, step: &str, kind: CheckKind, message: impl Into<String>, fix: &str) {
        self.push(step, kind, Status::Warn, message, Some(fix), None);
    }

    fn now_ms(&self) -> i64 {
        unix_millis((self.config.clock)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_activities_have_the_same_name_in_both_generations() {
        assert_eq!(NEW_INSTANCE, v2::NewInstance::ACTIVITY);
        assert_eq!(QUERY_INSTANCE, v2::QueryInstance::ACTIVITY);
        assert_eq!(REFRESH_INSTANCE, v2::RefreshInstance::ACTIVITY);
        assert_eq!(RELEASE_INSTANCE, v2::ReleaseInstance::ACTIVITY);
    }
}
