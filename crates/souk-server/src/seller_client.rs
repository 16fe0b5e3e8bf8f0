//! Calls to sellers' production endpoints: build and sign the request (V1 GET or V2 POST, via
//! `souk-protocol`), send it with an SSRF guard and a timeout, and judge the answer.
//!
//! Success means HTTP 200, a JSON body, a valid Body-Sign over the raw bytes and `000000`
//! (`000004` means "accepted, poll"); anything else is a failed attempt with a reason a seller
//! can act on. The outcome is returned, never stored here: the dispatcher records it.

use souk_core::catalog::Protocol;
use souk_core::endpoint::{check_before_connect, is_public_ip, parse_http, EndpointUrl};
use souk_core::provisioning::Verdict;
use souk_protocol::activity::response::SellerResponse;
use souk_protocol::activity::{V1Activity, V2Activity};
use souk_protocol::body_sign::{verify_body_sign, BodySignError};
use souk_protocol::codes::ResultCode;
use souk_protocol::secret::SellerKey;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The largest seller answer we read and keep.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What to send: a typed V1 activity (its `timeStamp` and `authToken` are set when it is
/// signed) or a typed V2 / License 2.0 activity.
#[derive(Debug, Clone)]
pub enum CallRequest {
    /// Boxed: V1 activities carry every newInstance parameter.
    V1(Box<V1Activity>),
    V2(V2Activity),
}

/// One attempt's result, ready to be recorded.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// Method, URL and body as sent, without the signature.
    pub request: serde_json::Value,
    pub http_status: Option<u16>,
    pub body: Option<String>,
    /// `valid`, `missing`, `invalid` or `not_checked`.
    pub body_sign: &'static str,
    pub response: Option<SellerResponse>,
    pub verdict: Verdict,
    pub latency: Duration,
    pub started_at: OffsetDateTime,
}

impl CallResult {
    pub fn error(&self) -> Option<String> {
        match &self.verdict {
            Verdict::Failure(e) => Some(e.clone()),
            _ => None,
        }
    }

    pub fn result_code(&self) -> Option<String> {
        self.response
            .as_ref()
            .map(|r| r.result_code.as_str().to_owned())
    }
}

/// Resolves host names and drops addresses Souk must not call (loopback, private,
/// link-local, metadata…) unless private endpoints are allowed. Checked at every connection,
/// so a name re-pointed after it was saved cannot reach inside.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public_ip(a.ip()))
                .collect();
            if addrs.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves only to local or private addresses, which Souk does not call"
                )
                .into();
                return Err(e);
            }
            let iter: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(iter)
        })
    }
}

#[derive(Clone)]
pub struct SellerClient {
    http: reqwest::Client,
    allow_private: bool,
}

impl SellerClient {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<SellerClient> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("Souk/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(128)
            .build()?;
        Ok(SellerClient {
            http,
            allow_private,
        })
    }

    /// Sends one signed request and judges the answer. `now` is business time, recorded as the
    /// attempt's start; the signature uses the real clock.
    pub async fn send(
        &self,
        protocol: Protocol,
        url: &str,
        key: &SellerKey,
        request: CallRequest,
        now: OffsetDateTime,
    ) -> CallResult {
        let started = Instant::now();
        // Protocol time is always real: sellers check timestamps against their own clock (V2's
        // 60-second window), so a sandbox clock moved forward must never reach the wire.
        let wire_now = OffsetDateTime::now_utc();
        let (builder, record) = match self.build(protocol, url, key, request, wire_now) {
            Ok(b) => b,
            Err(e) => {
                return CallResult {
                    request: serde_json::json!({ "url": url }),
                    http_status: None,
                    body: None,
                    body_sign: "not_checked",
                    response: None,
                    verdict: Verdict::Failure(e),
                    latency: started.elapsed(),
                    started_at: now,
                }
            }
        };
        let outcome = builder.send().await;
        let mut result = CallResult {
            request: record,
            http_status: None,
            body: None,
            body_sign: "not_checked",
            response: None,
            verdict: Verdict::Failure(String::new()),
            latency: Duration::ZERO,
            started_at: now,
        };
        let res = match outcome {
            Ok(r) => r,
            Err(e) => {
                result.latency = started.elapsed();
                result.verdict = Verdict::Failure(describe_send_error(&e));
                return result;
            }
        };
        let status = res.status().as_u16();
        result.http_status = Some(status);
        let header = res
            .headers()
            .get("body-sign")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = match read_limited(res).await {
            Ok(b) => b,
            Err(e) => {
                result.latency = started.elapsed();
                result.verdict = Verdict::Failure(e);
                return result;
            }
        };
        result.latency = started.elapsed();
        result.body = Some(String::from_utf8_lossy(&raw).into_owned());
        result.body_sign = match verify_body_sign(key, &raw, header.as_deref()) {
            Ok(()) => "valid",
            Err(BodySignError::Missing) => "missing",
            Err(_) => "invalid",
        };
        let parsed = SellerResponse::from_body(&raw).ok();
        result.response = parsed.clone();
        result.verdict = judge(status, result.body_sign, parsed.as_ref());
        result
    }

    fn build(
        &self,
        protocol: Protocol,
        url: &str,
        key: &SellerKey,
        request: CallRequest,
        now: OffsetDateTime,
    ) -> Result<(reqwest::RequestBuilder, serde_json::Value), String> {
        EndpointUrl::parse(url, self.allow_private).map_err(|e| e.to_string())?;
        let sep = if url.contains('?') { '&' } else { '?' };
        // The URL is parsed once, by the client's own parser, and that parsed URL is both
        // checked and sent: an address written in any form is judged as the address it is.
        let target = |full: String| {
            let parsed = parse_http(&full).map_err(|e| e.to_string())?;
            check_before_connect(&parsed, self.allow_private).map_err(|e| e.to_string())?;
            Ok::<_, String>(parsed)
        };
        match (protocol, request) {
            (Protocol::V1, CallRequest::V1(activity)) => {
                let mut params = activity.to_params();
                // Shown without the signature and its time (set below, from the real clock).
                params.remove(souk_protocol::v1::TIME_STAMP);
                let shown = serde_json::json!({ "method": "GET", "url": url, "params": params });
                let query = souk_protocol::v1::signed_query(key, params, now);
                Ok((self.http.get(target(format!("{url}{sep}{query}"))?), shown))
            }
            (Protocol::V2, CallRequest::V2(activity)) => {
                let bytes = activity.to_body();
                let ts = souk_core::clock::to_unix_ms(now);
                let nonce = random_nonce();
                let creds = souk_protocol::v2::V2Credentials::sign(key, &bytes, &nonce, ts);
                let query = souk_protocol::query::encode_query(creds.query_pairs());
                let shown = serde_json::json!({
                    "method": "POST",
                    "url": url,
                    "body": serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default(),
                    "timestamp": ts,
                    "nonce": nonce,
                });
                Ok((
                    self.http
                        .post(target(format!("{url}{sep}{query}"))?)
                        .header("content-type", "application/json;charset=utf8")
                        .header("accept", "application/json")
                        .body(bytes),
                    shown,
                ))
            }
            (p, _) => Err(format!(
                "internal: request shape does not match protocol {p}"
            )),
        }
    }
}

/// 32 random upper-case hex characters, as in KooGallery's examples.
fn random_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode_upper(b)
}

async fn read_limited(mut res: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(format!(
                        "the answer is larger than {} KiB",
                        MAX_RESPONSE_BYTES / 1024
                    ));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(describe_send_error(&e)),
        }
    }
}

fn describe_send_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the marketplace timeout".into()
    } else if e.is_connect() {
        let mut msg = String::from("could not connect to the production endpoint");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        msg
    } else {
        format!("the request failed: {e}")
    }
}

/// The success rule of the spec (§0.6, §7), as a pure function of what came back.
pub fn judge(status: u16, body_sign: &str, response: Option<&SellerResponse>) -> Verdict {
    if status != 200 {
        return Verdict::Failure(format!("HTTP {status} instead of 200"));
    }
    let Some(response) = response else {
        return Verdict::Failure("the answer is not a JSON object with a resultCode".into());
    };
    match body_sign {
        "valid" => {}
        "missing" => {
            return Verdict::Failure(
                "the answer has no Body-Sign header; sign the raw body with HMAC-SHA256 and your Key".into(),
            )
        }
        _ => {
            return Verdict::Failure(
                "the Body-Sign header does not match the body (sign the exact bytes you send, with the Key only)"
                    .into(),
            )
        }
    }
    match &response.result_code {
        ResultCode::Success => Verdict::Success,
        ResultCode::Processing => Verdict::Accepted,
        other => Verdict::Failure(format!(
            "resultCode {} ({}){}",
            other.as_str(),
            other.description(),
            response
                .result_msg
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
    }
}
