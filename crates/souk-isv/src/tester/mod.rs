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

mod report;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;
use serde_json::json;
use souk_protocol::activity::{AppInfo, SellerResponse};
use souk_protocol::body_sign::{verify_body_sign, BodySignError};
use souk_protocol::credentials::{decrypt, encrypt_random_iv};
use souk_protocol::query::{encode_params, encode_query};
use souk_protocol::timestamp::{unix_millis, TimestampFormat};
use souk_protocol::v1::sign_v1_params;
use souk_protocol::v2::{canonical_body, V2Credentials};
use souk_protocol::{EncryptType, Params, ResultCode, SellerKey};
use thiserror::Error;

use crate::config::{system_clock, Clock};
use crate::seller::Generation;

pub use report::{Check, CheckKind, Report, Status};

/// Calls slower than this fail (`--timeout-ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls slower than this get a latency warning.
pub const DEFAULT_WARN: Duration = Duration::from_secs(5);

const V1_DEFAULT: &[&str] = &[
    "newInstance",
    "queryInstance",
    "refreshInstance",
    "upgrade",
    "expireInstance",
    "instanceStatus",
    "releaseInstance",
];
const V1_EXTRA: &[&str] = &["getLicense"];
const V2_DEFAULT: &[&str] = &[
    "newInstance",
    "queryInstance",
    "refreshInstance",
    "upgradeInstance",
    "updateInstanceStatus",
    "releaseInstance",
];
const V2_EXTRA: &[&str] = &["getLicenseAsync", "orderNotify"];

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

fn business_id() -> String {
    let h = hex::encode(OsRng.gen::<[u8; 16]>());
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A request ready to send (and to save as a case).
#[derive(Clone, Debug)]
struct Prepared {
    activity: &'static str,
    post: bool,
    query: String,
    body: Vec<u8>,
}

/// A saved, replayable case.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    activity: &'static str,
    method: &'static str,
    url: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
    expected_result_code: String,
    note: &'static str,
}

/// The buyer details isv-test sends when the product uses them (`--buyer-pii`).
const TEST_EMAIL: &str = "isv-test.buyer@example.com";
const TEST_PHONE: &str = "+8613800000000";

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

    // ---- request building ------------------------------------------------------------

    /// A signed V1 GET. `pairs` excludes `activity`, `timeStamp`, `testFlag`.
    fn v1(&self, activity: &'static str, pairs: &[(&str, String)]) -> Prepared {
        self.v1_with(activity, pairs, &self.config.key, |_| {})
    }

    fn v1_with(
        &self,
        activity: &'static str,
        pairs: &[(&str, String)],
        key: &SellerKey,
        after_signing: impl FnOnce(&mut Params),
    ) -> Prepared {
        let mut params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        params.insert("activity".into(), activity.into());
        params.insert("testFlag".into(), "1".into());
        params.insert(
            "timeStamp".into(),
            TimestampFormat::Millis.format((self.config.clock)()),
        );
        sign_v1_params(key, &mut params);
        after_signing(&mut params);
        Prepared {
            activity,
            post: false,
            query: encode_params(&params),
            body: Vec::new(),
        }
    }

    /// A signed V2 POST. `fields` excludes `activity` and `testFlag`.
    fn v2(&self, activity: &'static str, fields: serde_json::Value) -> Prepared {
        self.v2_with(activity, fields, &self.config.key, self.now_ms(), |_| {})
    }

    fn v2_with(
        &self,
        activity: &'static str,
        mut fields: serde_json::Value,
        key: &SellerKey,
        timestamp_ms: i64,
        after_signing: impl FnOnce(&mut Vec<u8>),
    ) -> Prepared {
        if let Some(map) = fields.as_object_mut() {
            map.insert("activity".into(), activity.into());
            map.insert("testFlag".into(), "1".into());
        }
        let mut body = canonical_body(&fields);
        let nonce = random_upper(32);
        let creds = V2Credentials::sign(key, &body, &nonce, timestamp_ms);
        after_signing(&mut body);
        Prepared {
            activity,
            post: true,
            query: encode_query(creds.query_pairs()),
            body,
        }
    }

    fn new_instance_request(&mut self, order_id: &str, trial: bool) -> Prepared {
        self.new_instance_request_with(order_id, trial, None)
    }

    /// newInstance, with one V1 parameter's value replaced (before signing) if asked.
    fn new_instance_request_with(
        &mut self,
        order_id: &str,
        trial: bool,
        replace: Option<(&str, String)>,
    ) -> Prepared {
        let now = (self.config.clock)();
        if self.is_v2() {
            self.v2(
                "newInstance",
                json!({
                    "businessId": business_id(),
                    "orderId": order_id,
                    "orderLineId": format!("{order_id}-000001"),
                }),
            )
        } else {
            let mut pairs = vec![
                ("businessId", business_id()),
                ("customerId", "68cbc86abc2018ab880d92f36422fa0e".to_owned()),
                ("customerName", "isv-test buyer".to_owned()),
                ("orderId", order_id.to_owned()),
                ("productId", "00301-666666-0--0".to_owned()),
                ("skuCode", "isv-test-sku".to_owned()),
                ("chargingMode", "1".to_owned()),
                ("periodType", "year".to_owned()),
                ("periodNumber", "1".to_owned()),
                (
                    "expireTime",
                    TimestampFormat::Seconds.format(now + time::Duration::days(365)),
                ),
            ];
            if trial {
                pairs.push(("trialFlag", "1".to_owned()));
            }
            if let Some(bits) = self.config.buyer_pii {
                let seal =
                    |plain: &str| encrypt_random_iv(&self.config.key, bits, plain, &mut OsRng);
                pairs.push(("email", seal(TEST_EMAIL)));
                pairs.push(("mobilePhone", seal(TEST_PHONE)));
            }
            if let Some((name, value)) = replace {
                pairs.retain(|(k, _)| *k != name);
                pairs.push((name, value));
            }
            self.v1("newInstance", &pairs)
        }
    }

    fn expire_text(&self, days: i64) -> String {
        TimestampFormat::Seconds.format((self.config.clock)() + time::Duration::days(days))
    }

    fn refresh_request(&mut self, instance_id: &str, trial_to_formal: bool) -> Prepared {
        let order_id = self.order_id();
        let expire = self.expire_text(730);
        if self.is_v2() {
            let scene = if trial_to_formal {
                "TRIAL_TO_FORMAL"
            } else {
                "RENEWAL"
            };
            self.v2(
                "refreshInstance",
                json!({
                    "scene": scene,
                    "orderId": order_id,
                    "orderLineId": format!("{order_id}-000001"),
                    "instanceId": instance_id,
                    "expireTime": expire,
                }),
            )
        } else {
            let mut pairs = vec![
                ("orderId", order_id),
                ("instanceId", instance_id.to_owned()),
                ("expireTime", expire),
                ("periodType", "year".to_owned()),
                ("periodNumber", "1".to_owned()),
            ];
            if trial_to_formal {
                pairs.push(("trialToFormal", "1".to_owned()));
            }
            self.v1("refreshInstance", &pairs)
        }
    }

    /// V1 `expireInstance` or V2 `updateInstanceStatus` FREEZE/UNFREEZE.
    fn status_request(&mut self, instance_id: &str, freeze: bool) -> Prepared {
        if self.is_v2() {
            let status = if freeze { "FREEZE" } else { "UNFREEZE" };
            self.v2(
                "updateInstanceStatus",
                json!({"instanceId": instance_id, "status": status}),
            )
        } else {
            let order_id = self.order_id();
            self.v1(
                "expireInstance",
                &[
                    ("instanceId", instance_id.to_owned()),
                    ("orderId", order_id),
                ],
            )
        }
    }

    fn freeze_activity(&self) -> &'static str {
        if self.is_v2() {
            "updateInstanceStatus"
        } else {
            "expireInstance"
        }
    }

    fn release_request(&mut self, instance_id: &str, order_id: &str) -> Prepared {
        if self.is_v2() {
            self.v2("releaseInstance", json!({"instanceId": instance_id}))
        } else {
            self.v1(
                "releaseInstance",
                &[
                    ("instanceId", instance_id.to_owned()),
                    ("orderId", order_id.to_owned()),
                ],
            )
        }
    }

    fn query_request(&mut self, instance_id: &str) -> Prepared {
        if self.is_v2() {
            self.v2("queryInstance", json!({"instanceId": instance_id}))
        } else {
            self.v1("queryInstance", &[("instanceId", instance_id.to_owned())])
        }
    }

    // ---- transport -------------------------------------------------------------------

    /// Sends `req`; records the response check (and latency warning). `None` when nothing
    /// usable came back.
    async fn exchange(&mut self, step: &str, req: &Prepared) -> Option<Answer> {
        if let Some(reason) = &self.aborted {
            let message = format!("not run: {reason}");
            self.push(
                step,
                CheckKind::Reachable,
                Status::Skip,
                message,
                None,
                None,
            );
            return None;
        }
        let mut url = self.url.clone();
        let query = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{}", req.query),
            _ => req.query.clone(),
        };
        url.set_query(Some(&query));
        let builder = if req.post {
            self.client
                .post(url)
                .header("Content-Type", "application/json;charset=utf8")
                .header("Accept", "application/json")
                .body(req.body.clone())
        } else {
            self.client.get(url).header("Accept", "application/json")
        };
        let started = Instant::now();
        let result = async {
            let response = builder.send().await?;
            let status = response.status();
            let body_sign = response
                .headers()
                .get(souk_protocol::body_sign::HEADER)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body_sign, content_type, bytes))
        }
        .await;
        let latency = millis(started.elapsed());
        let (status, body_sign, content_type, bytes) = match result {
            Ok(parts) => parts,
            Err(e) if e.is_timeout() => {
                self.push(
                    step,
                    CheckKind::Timeout,
                    Status::Fail,
                    format!("no answer within {} ms", millis(self.config.timeout)),
                    Some(fix::TIMEOUT),
                    Some(latency),
                );
                self.aborted = Some(format!("{step} timed out"));
                return None;
            }
            Err(e) => {
                self.push(
                    step,
                    CheckKind::Reachable,
                    Status::Fail,
                    format!("request failed: {}", error_chain(&e.without_url())),
                    Some(fix::REACHABLE),
                    Some(latency),
                );
                self.aborted = Some(format!("{step} could not reach the seller"));
                return None;
            }
        };
        let excerpt = excerpt(&bytes);
        if status != reqwest::StatusCode::OK {
            self.push(
                step,
                CheckKind::HttpStatus,
                Status::Fail,
                format!("HTTP {status} (body: {excerpt})"),
                Some(fix::RESPONSE),
                Some(latency),
            );
            return None;
        }
        let parsed = match SellerResponse::from_body(&bytes) {
            Ok(r) => r,
            Err(e) => {
                let ct = content_type.unwrap_or_else(|| "none".into());
                self.push(
                    step,
                    CheckKind::Json,
                    Status::Fail,
                    format!(
                        "not a JSON object with resultCode ({e}); Content-Type {ct}; body: {excerpt}"
                    ),
                    Some(fix::RESPONSE),
                    Some(latency),
                );
                return None;
            }
        };
        match verify_body_sign(&self.config.key, &bytes, body_sign.as_deref()) {
            Ok(()) => self.push(
                step,
                CheckKind::Response,
                Status::Pass,
                format!(
                    "HTTP 200, JSON, Body-Sign valid, resultCode {}",
                    parsed.result_code
                ),
                None,
                Some(latency),
            ),
            Err(e) => {
                let message = match e {
                    BodySignError::Missing => "the Body-Sign header is missing".to_owned(),
                    BodySignError::Unparsable(why) => {
                        format!("the Body-Sign header cannot be parsed ({why})")
                    }
                    BodySignError::WrongSignType(found) => {
                        format!("sign_type must be \"HMAC-SHA256\", found {found:?}")
                    }
                    BodySignError::Mismatch => "the Body-Sign signature does not match the body bytes (signed with another key, Key+timeStamp, or over different bytes than sent)".to_owned(),
                };
                self.push(
                    step,
                    CheckKind::BodySign,
                    Status::Fail,
                    message,
                    Some(fix::BODY_SIGN),
                    Some(latency),
                );
            }
        }
        if latency > millis(self.config.warn_after) {
            self.push(
                step,
                CheckKind::Latency,
                Status::Warn,
                format!(
                    "answered in {latency} ms, above {} ms",
                    millis(self.config.warn_after)
                ),
                Some(fix::TIMEOUT),
                Some(latency),
            );
        }
        Some(Answer {
            response: Some(parsed),
        })
    }

    /// Sends `req` and checks that the result code is one of `expected`. Saves the case when
    /// everything about the call passed. Returns the answer when one came back.
    async fn step(
        &mut self,
        step: &str,
        req: Prepared,
        expected: &[ResultCode],
        kind: CheckKind,
        fix_text: &str,
    ) -> Option<SellerResponse> {
        let first = self.checks.len();
        let answer = self.exchange(step, &req).await?;
        let response = answer.response?;
        let code = &response.result_code;
        if expected.contains(code) {
            self.pass(step, kind, format!("answered {code} as expected"));
        } else {
            let wanted: Vec<String> = expected
                .iter()
                .map(|c| format!("{c} ({})", c.description()))
                .collect();
            self.fail(
                step,
                kind,
                format!(
                    "expected {}, got {code} ({}){}",
                    wanted.join(" or "),
                    code.description(),
                    response
                        .result_msg
                        .as_deref()
                        .map(|m| format!(", resultMsg {m:?}"))
                        .unwrap_or_default()
                ),
                fix_text,
            );
        }
        if self.checks[first..]
            .iter()
            .all(|c| matches!(c.status, Status::Pass | Status::Warn))
        {
            self.keep_case(step, &req, code);
        }
        Some(response)
    }

    fn keep_case(&mut self, step: &str, req: &Prepared, code: &ResultCode) {
        if self.config.save_cases.is_none() {
            return;
        }
        let mut headers = serde_json::Map::new();
        headers.insert("Accept".into(), "application/json".into());
        if req.post {
            headers.insert(
                "Content-Type".into(),
                "application/json;charset=utf8".into(),
            );
        }
        let path = match self.url.path() {
            "" => "/",
            p => p,
        };
        self.cases.push(Case {
            name: step.to_owned(),
            activity: req.activity,
            method: if req.post { "POST" } else { "GET" },
            url: format!("{path}?{}", req.query),
            headers,
            body: String::from_utf8_lossy(&req.body).into_owned(),
            expected_result_code: code.to_string(),
            note: if req.post {
                "V2: timestamp and nonce are single-use; re-sign the body with a fresh timestamp and nonce before replaying"
            } else {
                "V1: replayable as is (no timestamp window is documented)"
            },
        });
    }

    fn write_cases(&self) -> Result<usize, TesterError> {
        let Some(dir) = &self.config.save_cases else {
            return Ok(0);
        };
        let err = |source| TesterError::SaveCases {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        for (i, case) in self.cases.iter().enumerate() {
            let slug: String = case
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .split('-')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let path = dir.join(format!("{:02}-{slug}.json", i + 1));
            let text = serde_json::to_string_pretty(case).unwrap_or_default();
            std::fs::write(path, text + "\n").map_err(err)?;
        }
        Ok(self.cases.len())
    }

    // ---- semantic checks -------------------------------------------------------------

    fn check_credentials(&mut self, step: &str, app: Option<&AppInfo>, declared: Option<&str>) {
        let Some(app) = app else {
            self.warn(
                step,
                CheckKind::Credentials,
                "no appInfo in the answer (fine only if credentials reach the buyer another way)",
                fix::CREDENTIALS,
            );
            return;
        };
        let encrypt_type = match EncryptType::from_field(declared) {
            Ok(t) => t,
            Err(_) => {
                self.fail(
                    step,
                    CheckKind::Credentials,
                    format!("encryptType {declared:?} is neither \"1\" nor \"2\""),
                    fix::CREDENTIALS,
                );
                return;
            }
        };
        let other = match encrypt_type {
            EncryptType::Aes256 => EncryptType::Aes128,
            EncryptType::Aes128 => EncryptType::Aes256,
        };
        let declared_text = match declared {
            Some(d) => format!("encryptType \"{d}\" (AES-{})", encrypt_type.bits()),
            None => "no encryptType, which means AES-256".to_owned(),
        };
        let mut problems = Vec::new();
        let mut checked = 0;
        for (field, value) in [("userName", &app.user_name), ("password", &app.password)] {
            let Some(value) = value else { continue };
            checked += 1;
            if let Err(e) = decrypt(&self.config.key, encrypt_type, value) {
                let hint = if decrypt(&self.config.key, other, value).is_ok() {
                    format!(
                        "; it decrypts with AES-{}, so declare encryptType \"{}\" or encrypt with AES-{}",
                        other.bits(),
                        other.as_str(),
                        encrypt_type.bits()
                    )
                } else {
                    String::new()
                };
                problems.push(format!("appInfo.{field} does not decrypt ({e}){hint}"));
            } else if value.len() > 128 {
                problems.push(format!(
                    "appInfo.{field} is {} characters long; the limit is 128 including the IV",
                    value.len()
                ));
            }
        }
        if app.front_end_url.as_deref().is_none_or(str::is_empty) {
            problems.push("appInfo.frontEndUrl is missing (mandatory in appInfo)".into());
        }
        if problems.is_empty() {
            let msg = if checked == 0 {
                format!("appInfo has no userName/password ({declared_text})")
            } else {
                format!("{checked} credential(s) decrypt with {declared_text}")
            };
            self.pass(step, CheckKind::Credentials, msg);
        } else {
            self.fail(
                step,
                CheckKind::Credentials,
                format!("with {declared_text}: {}", problems.join("; ")),
                fix::CREDENTIALS,
            );
        }
    }

    /// newInstance, its retry, and (V2, `000004`) the queryInstance poll. Returns the
    /// instance id and the purchase order.
    async fn open_instance(&mut self, label: &str, trial: bool) -> Option<(String, String)> {
        let order_id = self.order_id();
        let req = self.new_instance_request(&order_id, trial);
        let accepted: &[ResultCode] = if self.is_v2() {
            &[ResultCode::Success, ResultCode::Processing]
        } else {
            &[ResultCode::Success]
        };
        let response = self
            .step(label, req, accepted, CheckKind::ResultCode, fix::SUCCESS)
            .await?;
        if !(response.result_code.is_success() || response.result_code.is_processing()) {
            return None;
        }
        let Some(instance_id) = response.instance_id.clone().filter(|s| !s.is_empty()) else {
            self.fail(
                label,
                CheckKind::InstanceId,
                "the answer has no instanceId",
                fix::INSTANCE_ID,
            );
            return None;
        };
        self.pass(
            label,
            CheckKind::InstanceId,
            format!("instanceId {instance_id}"),
        );
        let mut response = response;
        if response.result_code.is_processing() {
            // Accepted asynchronously: poll queryInstance as the marketplace does.
            let mut opened = false;
            for attempt in 1..=5 {
                let step = format!("{label}: queryInstance poll {attempt}");
                let req = self.query_request(&instance_id);
                let Some(answer) = self
                    .step(
                        &step,
                        req,
                        &[ResultCode::Success, ResultCode::Processing],
                        CheckKind::Query,
                        fix::QUERY,
                    )
                    .await
                else {
                    break;
                };
                if answer.result_code.is_success() {
                    let app = answer
                        .info
                        .iter()
                        .flatten()
                        .find(|i| i.instance_id == instance_id)
                        .and_then(|i| i.app_info.clone());
                    response.app_info = app;
                    response.encrypt_type = answer.encrypt_type.clone();
                    opened = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !opened {
                self.fail(
                    label,
                    CheckKind::Query,
                    "answered 000004 but queryInstance never reported the instance open",
                    fix::QUERY,
                );
                return None;
            }
        }
        self.check_credentials(
            label,
            response.app_info.as_ref(),
            response.encrypt_type.as_deref(),
        );

        // The retry: same order, fresh businessId.
        let retry = format!("{label} (retry, new businessId)");
        let req = self.new_instance_request(&order_id, trial);
        if let Some(again) = self
            .step(
                &retry,
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::IDEMPOTENT,
            )
            .await
        {
            match again.instance_id.as_deref() {
                Some(id) if id == instance_id => self.pass(
                    &retry,
                    CheckKind::Idempotency,
                    "same instanceId for the same order",
                ),
                other => self.fail(
                    &retry,
                    CheckKind::Idempotency,
                    format!(
                        "a retry of order {order_id} returned instanceId {other:?}, the first call {instance_id:?}"
                    ),
                    fix::IDEMPOTENT,
                ),
            }
        }
        Some((instance_id, order_id))
    }

    async fn query(&mut self, instance_id: &str) {
        let step = "queryInstance";
        let req = self.query_request(instance_id);
        let first = self.checks.len();
        let Some(answer) = self.exchange(step, &req).await else {
            return;
        };
        let Some(response) = answer.response else {
            return;
        };
        if !response.result_code.is_success() {
            self.warn(
                step,
                CheckKind::Query,
                format!(
                    "answered {} ({})",
                    response.result_code,
                    response.result_code.description()
                ),
                fix::QUERY,
            );
            return;
        }
        let found = response
            .info
            .iter()
            .flatten()
            .find(|i| i.instance_id == instance_id)
            .cloned();
        match found {
            Some(info) => {
                self.pass(step, CheckKind::Query, "info[] contains the instance");
                if self.checks[first..]
                    .iter()
                    .all(|c| c.status != Status::Fail)
                {
                    self.keep_case(step, &req, &response.result_code);
                }
                if info.app_info.is_some() {
                    self.check_credentials(
                        step,
                        info.app_info.as_ref(),
                        response.encrypt_type.as_deref(),
                    );
                }
            }
            None => self.fail(
                step,
                CheckKind::Query,
                "answered 000000 but info[] does not contain the instance",
                fix::QUERY,
            ),
        }
    }

    async fn expect_ok(
        &mut self,
        step: &str,
        req: Prepared,
        kind: CheckKind,
        fix_text: &str,
    ) -> bool {
        self.step(step, req, &[ResultCode::Success], kind, fix_text)
            .await
            .is_some_and(|r| r.result_code.is_success())
    }

    // ---- the lifecycle ---------------------------------------------------------------

    async fn lifecycle(&mut self) {
        let main = if self.sel("newInstance") {
            self.open_instance("newInstance", false).await
        } else {
            None
        };

        if let Some((instance, order)) = &main {
            let (instance, order) = (instance.clone(), order.clone());
            if self.sel("queryInstance") {
                self.query(&instance).await;
            }
            if self.sel("refreshInstance") {
                let req = self.refresh_request(&instance, false);
                self.expect_ok(
                    "refreshInstance (renewal)",
                    req,
                    CheckKind::ResultCode,
                    fix::SUCCESS,
                )
                .await;
            }
            let upgrade = if self.is_v2() {
                "upgradeInstance"
            } else {
                "upgrade"
            };
            if self.sel(upgrade) {
                let order_id = self.order_id();
                let req = if self.is_v2() {
                    self.v2(
                        "upgradeInstance",
                        json!({"instanceId": instance, "orderId": order_id,
                               "orderLineId": format!("{order_id}-000001")}),
                    )
                } else {
                    self.v1(
                        "upgrade",
                        &[
                            ("instanceId", instance.clone()),
                            ("orderId", order_id),
                            ("skuCode", "isv-test-sku-large".into()),
                            ("productId", "00301-666666-0--1".into()),
                            ("amount", "20".into()),
                        ],
                    )
                };
                self.expect_ok(upgrade, req, CheckKind::ResultCode, fix::SUCCESS)
                    .await;
            }
            let freeze = self.freeze_activity();
            if self.sel(freeze) {
                let label = if self.is_v2() {
                    "updateInstanceStatus FREEZE"
                } else {
                    "expireInstance"
                };
                let req = self.status_request(&instance, true);
                if self
                    .expect_ok(label, req, CheckKind::ResultCode, fix::SUCCESS)
                    .await
                {
                    let req = self.status_request(&instance, true);
                    self.expect_ok(
                        &format!("{label} (repeat)"),
                        req,
                        CheckKind::Idempotency,
                        fix::REPEAT,
                    )
                    .await;
                }
                if self.is_v2() {
                    let req = self.status_request(&instance, false);
                    self.expect_ok(
                        "updateInstanceStatus UNFREEZE",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await;
                } else if self.sel("refreshInstance") {
                    // V1 has no unfreeze call for period products: a renewal brings an
                    // expired instance back.
                    let req = self.refresh_request(&instance, false);
                    self.expect_ok(
                        "refreshInstance (renewal after expiry)",
                        req,
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await;
                }
            }
            if !self.is_v2() && self.sel("instanceStatus") {
                for (label, status) in [
                    ("instanceStatus FREEZE", "FREEZE"),
                    ("instanceStatus NORMAL", "NORMAL"),
                ] {
                    let req = self.v1(
                        "instanceStatus",
                        &[
                            ("instanceId", instance.clone()),
                            ("instanceStatus", status.into()),
                        ],
                    );
                    self.expect_ok(label, req, CheckKind::ResultCode, fix::SUCCESS)
                        .await;
                }
            }
            if self.is_v2() && self.sel("getLicenseAsync") {
                let req = self.v2(
                    "getLicenseAsync",
                    json!({"instanceId": instance,
                           "effectiveTime": TimestampFormat::Seconds.format((self.config.clock)()),
                           "expireTime": self.expire_text(365),
                           "eventId": business_id()}),
                );
                if let Some(r) = self
                    .step(
                        "getLicenseAsync",
                        req,
                        &[ResultCode::Success, ResultCode::Processing],
                        CheckKind::ResultCode,
                        fix::SUCCESS,
                    )
                    .await
                {
                    if r.result_code.is_success() {
                        self.check_license("getLicenseAsync", &r);
                    }
                }
            }
            if self.is_v2() && self.sel("orderNotify") {
                let req = self.v2(
                    "orderNotify",
                    json!({"orderId": order, "orderLineId": format!("{order}-000001")}),
                );
                self.expect_ok("orderNotify", req, CheckKind::ResultCode, fix::SUCCESS)
                    .await;
            }
        }

        // Trial, then conversion to a paid subscription.
        let trial = if self.sel("newInstance") && self.sel("refreshInstance") {
            let trial = self.open_instance("newInstance (trial)", true).await;
            if let Some((instance, _)) = &trial {
                let req = self.refresh_request(&instance.clone(), true);
                self.expect_ok(
                    "refreshInstance (trial to formal)",
                    req,
                    CheckKind::ResultCode,
                    fix::SUCCESS,
                )
                .await;
            }
            trial
        } else {
            None
        };

        if !self.is_v2() && self.sel("getLicense") {
            self.license_v1().await;
        }

        if self.sel("newInstance") {
            self.authentication(main.as_ref().map(|(_, o)| o.clone()))
                .await;
        }
        self.unknown_instance().await;
        self.buyer_details().await;

        if self.sel("releaseInstance") {
            if let Some((instance, order)) = &main {
                let (instance, order) = (instance.clone(), order.clone());
                let req = self.release_request(&instance, &order);
                if self
                    .expect_ok("releaseInstance", req, CheckKind::ResultCode, fix::SUCCESS)
                    .await
                {
                    let req = self.release_request(&instance, &order);
                    self.expect_ok(
                        "releaseInstance (repeat)",
                        req,
                        CheckKind::Idempotency,
                        fix::REPEAT,
                    )
                    .await;
                }
            }
            if let Some((instance, order)) = &trial {
                let (instance, order) = (instance.clone(), order.clone());
                let req = self.release_request(&instance, &order);
                self.expect_ok(
                    "releaseInstance (trial)",
                    req,
                    CheckKind::ResultCode,
                    fix::SUCCESS,
                )
                .await;
            }
        }
    }

    fn check_license(&mut self, step: &str, response: &SellerResponse) {
        match response.license.as_deref() {
            Some(l) if !l.trim().is_empty() => {
                self.pass(step, CheckKind::License, "license present")
            }
            _ => self.fail(
                step,
                CheckKind::License,
                "no license in the answer",
                fix::LICENSE,
            ),
        }
    }

    async fn license_v1(&mut self) {
        let order_id = self.order_id();
        let request = |this: &Self| {
            this.v1(
                "getLicense",
                &[
                    ("businessId", business_id()),
                    ("customerId", "68cbc86abc2018ab880d92f36422fa0e".to_owned()),
                    ("orderId", order_id.clone()),
                    ("productId", "00301-666666-0--0".to_owned()),
                    ("chargingMode", "3".to_owned()),
                ],
            )
        };
        let req = request(self);
        let Some(first) = self
            .step(
                "getLicense",
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::SUCCESS,
            )
            .await
        else {
            return;
        };
        if !first.result_code.is_success() {
            return;
        }
        self.check_license("getLicense", &first);
        let req = request(self);
        if let Some(again) = self
            .step(
                "getLicense (retry, new businessId)",
                req,
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::LICENSE,
            )
            .await
        {
            if again.instance_id == first.instance_id && again.license == first.license {
                self.pass(
                    "getLicense (retry, new businessId)",
                    CheckKind::Idempotency,
                    "same instanceId and license for the same order",
                );
            } else {
                self.fail(
                    "getLicense (retry, new businessId)",
                    CheckKind::Idempotency,
                    "a retry of the order returned another instanceId or license",
                    fix::LICENSE,
                );
            }
        }
    }

    async fn authentication(&mut self, existing_order: Option<String>) {
        let wrong_key = SellerKey::new(format!("{}-not-the-key", self.config.key.expose()));
        // Wrong key.
        let order_id = self.order_id();
        let req = if self.is_v2() {
            let fields = json!({"businessId": business_id(), "orderId": order_id,
                                "orderLineId": format!("{order_id}-000001")});
            self.v2_with("newInstance", fields, &wrong_key, self.now_ms(), |_| {})
        } else {
            let mut req = self.new_instance_request(&order_id, false);
            // Re-sign the same parameters with the wrong key.
            let mut params = souk_protocol::query::parse_params(&req.query);
            sign_v1_params(&wrong_key, &mut params);
            req.query = encode_params(&params);
            req
        };
        self.step(
            "newInstance signed with a wrong key",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthWrongKey,
            fix::AUTH,
        )
        .await;

        // One parameter altered after signing.
        let order_id = self.order_id();
        let altered = format!("{order_id}X");
        let req = if self.is_v2() {
            let fields = json!({"businessId": business_id(), "orderId": order_id,
                                "orderLineId": format!("{order_id}-000001")});
            let key = self.config.key.clone();
            self.v2_with("newInstance", fields, &key, self.now_ms(), |body| {
                let text = String::from_utf8_lossy(body).replacen(
                    &format!("\"orderId\":\"{order_id}\""),
                    &format!("\"orderId\":\"{altered}\""),
                    1,
                );
                *body = text.into_bytes();
            })
        } else {
            let mut req = self.new_instance_request(&order_id, false);
            let mut params = souk_protocol::query::parse_params(&req.query);
            params.insert("orderId".into(), altered);
            req.query = encode_params(&params);
            req
        };
        self.step(
            "newInstance with orderId altered after signing",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthTampered,
            fix::AUTH,
        )
        .await;

        if !self.is_v2() {
            return;
        }
        // Stale timestamp: correctly signed, five minutes old.
        let order_id = self.order_id();
        let fields = json!({"businessId": business_id(), "orderId": order_id,
                            "orderLineId": format!("{order_id}-000001")});
        let key = self.config.key.clone();
        let req = self.v2_with(
            "newInstance",
            fields,
            &key,
            self.now_ms() - 5 * 60 * 1000,
            |_| {},
        );
        self.step(
            "newInstance with a timestamp 5 minutes old",
            req,
            &[ResultCode::AuthenticationFailed],
            CheckKind::AuthStaleTimestamp,
            fix::STALE,
        )
        .await;

        // Replay: a valid retry of the first order, then the very same request again.
        let Some(order_id) = existing_order else {
            return;
        };
        let req = self.new_instance_request(&order_id, false);
        let first = self
            .step(
                "newInstance (retry before replay)",
                req.clone(),
                &[ResultCode::Success],
                CheckKind::ResultCode,
                fix::IDEMPOTENT,
            )
            .await;
        if first.is_some_and(|r| r.result_code.is_success()) {
            self.step(
                "the same request replayed (same nonce)",
                req,
                &[ResultCode::AuthenticationFailed],
                CheckKind::AuthReplayedNonce,
                fix::REPLAY,
            )
            .await;
        }
    }

    /// A seller that creates accounts from the buyer's e-mail or phone must decrypt them: one
    /// that cannot be decrypted is refused (000102 / 000101), not accepted blindly.
    async fn buyer_details(&mut self) {
        if self.is_v2() || self.config.buyer_pii.is_none() || !self.sel("newInstance") {
            return;
        }
        // Sixteen IV characters and Base64 of 20 bytes: never a whole AES block.
        let garbled = "AbCdEfGhIjKlMnOp".to_owned() + "AAECAwQFBgcICQoLDA0ODxAREhM=";
        for (field, accepted) in [
            (
                "email",
                [ResultCode::InvalidEmail, ResultCode::InvalidParameter],
            ),
            (
                "mobilePhone",
                [ResultCode::InvalidMobilePhone, ResultCode::InvalidParameter],
            ),
        ] {
            let order_id = self.order_id();
            let req =
                self.new_instance_request_with(&order_id, false, Some((field, garbled.clone())));
            self.step(
                &format!("newInstance ({field} that does not decrypt)"),
                req,
                &accepted,
                CheckKind::BuyerDetails,
                fix::BUYER_DETAILS,
            )
            .await;
        }
    }

    async fn unknown_instance(&mut self) {
        let unknown = format!("huaweitest-unknown-{}", self.run_id.to_ascii_lowercase());
        if self.sel("refreshInstance") {
            let req = self.refresh_request(&unknown, false);
            self.step(
                "refreshInstance (unknown instance)",
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
        let freeze = self.freeze_activity();
        if self.sel(freeze) {
            let req = self.status_request(&unknown, true);
            self.step(
                &format!("{freeze} (unknown instance)"),
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
        if self.sel("releaseInstance") {
            let order = self.order_id();
            let req = self.release_request(&unknown, &order);
            self.step(
                "releaseInstance (unknown instance)",
                req,
                &[ResultCode::InstanceNotFound],
                CheckKind::UnknownInstance,
                fix::UNKNOWN,
            )
            .await;
        }
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(160).collect();
    if text.chars().count() > 160 {
        out.push('…');
    }
    if out.is_empty() {
        "(empty)".into()
    } else {
        out
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
