//! The conformance report: one line per check, text or JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// What a check looked at. The names are stable (they appear in JSON output and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The call got an HTTP answer at all (connection refused, TLS, reset …).
    Reachable,
    /// The answer came before the marketplace timeout.
    Timeout,
    /// HTTP 200, JSON, valid `Body-Sign` — all three passed.
    Response,
    /// HTTP status is 200.
    HttpStatus,
    /// The body is a JSON object with `resultCode`.
    Json,
    /// `Body-Sign` is present, parsable and matches the raw body.
    BodySign,
    /// The expected `resultCode`.
    ResultCode,
    /// newInstance / getLicense returned an `instanceId`.
    InstanceId,
    /// Retries and repeats give the same result.
    Idempotency,
    /// `appInfo` credentials decrypt with the declared `encryptType`.
    Credentials,
    /// queryInstance answers for the instance.
    Query,
    /// getLicense / getLicenseAsync return a license.
    License,
    /// An unknown instance is answered with `000003`.
    UnknownInstance,
    /// A request signed with the wrong key is refused with `000001`.
    AuthWrongKey,
    /// A request altered after signing is refused with `000001`.
    AuthTampered,
    /// A V2 request with a stale timestamp is refused with `000001`.
    AuthStaleTimestamp,
    /// A replayed V2 request (same nonce) is refused with `000001`.
    AuthReplayedNonce,
    /// The answer came later than the warning threshold.
    Latency,
    /// The buyer's e-mail and phone are decrypted: an undecryptable one is refused.
    BuyerDetails,
}

impl CheckKind {
    /// The stable name (`body-sign`, `auth-wrong-key`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Reachable => "reachable",
            CheckKind::Timeout => "timeout",
            CheckKind::Response => "response",
            CheckKind::HttpStatus => "http-status",
            CheckKind::Json => "json",
            CheckKind::BodySign => "body-sign",
            CheckKind::ResultCode => "result-code",
            CheckKind::InstanceId => "instance-id",
            CheckKind::Idempotency => "idempotency",
            CheckKind::Credentials => "credentials",
            CheckKind::Query => "query",
            CheckKind::License => "license",
            CheckKind::UnknownInstance => "unknown-instance",
            CheckKind::AuthWrongKey => "auth-wrong-key",
            CheckKind::AuthTampered => "auth-tampered",
            CheckKind::AuthStaleTimestamp => "auth-stale-timestamp",
            CheckKind::AuthReplayedNonce => "auth-replayed-nonce",
            CheckKind::Latency => "latency",
            CheckKind::BuyerDetails => "buyer-details",
        }
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Conformant.
    Pass,
    /// Conformant, but worth a look (counts as passed).
    Warn,
    /// Not conformant: the marketplace would fail or mis-handle this call.
    Fail,
    /// Not run (an earlier step failed or the activity was not selected).
    Skip,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The step of the lifecycle, e.g. `newInstance (retry)`.
    pub step: String,
    /// What was checked.
    pub kind: CheckKind,
    /// Result.
    pub status: Status,
    /// What was observed.
    pub message: String,
    /// How to fix it (failures and warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Latency of the call, when the check is about one call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

/// The full result of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The production URL tested.
    pub url: String,
    /// `v1` or `v2`.
    pub profile: String,
    /// Calls slower than this failed.
    pub timeout_ms: u64,
    /// Calls slower than this got a latency warning.
    pub warn_ms: u64,
    /// Every check in order.
    pub checks: Vec<Check>,
    /// Replayable cases written by `--save-cases`.
    pub cases_saved: usize,
}

impl Report {
    /// Checks that passed (warnings included).
    pub fn passed(&self) -> usize {
        self.count(|s| matches!(s, Status::Pass | Status::Warn))
    }

    /// Checks that failed.
    pub fn failed(&self) -> usize {
        self.count(|s| s == Status::Fail)
    }

    /// Checks with a warning.
    pub fn warnings(&self) -> usize {
        self.count(|s| s == Status::Warn)
    }

    /// No check failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// Whether some check of `kind` failed.
    pub fn failed_kind(&self, kind: CheckKind) -> bool {
        self.failures().any(|c| c.kind == kind)
    }

    fn count(&self, f: impl Fn(Status) -> bool) -> usize {
        self.checks.iter().filter(|c| f(c.status)).count()
    }

    /// Human-readable text; the last line is exactly `N passed, M failed`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "souk isv-test {} (profile {}, timeout {} ms, latency warning above {} ms)",
            self.url, self.profile, self.timeout_ms, self.warn_ms
        );
        let width = self.checks.iter().map(|c| c.step.len()).max().unwrap_or(0);
        for c in &self.checks {
            let status = match c.status {
                Status::Pass => "PASS",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
            };
            let latency = c
                .latency_ms
                .map(|ms| format!(" ({ms} ms)"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{status}  {:width$}  {:<20} {}{latency}",
                c.step,
                c.kind.as_str(),
                c.message
            );
            if let Some(fix) = &c.fix {
                if c.status != Status::Pass {
                    let _ = writeln!(out, "      fix: {fix}");
                }
            }
        }
        if self.cases_saved > 0 {
            let _ = writeln!(out, "{} replayable cases saved", self.cases_saved);
        }
        if self.warnings() > 0 {
            let _ = writeln!(out, "{} warning(s)", self.warnings());
        }
        let _ = write!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("passed".into(), self.passed().into());
            map.insert("failed".into(), self.failed().into());
            map.insert("warnings".into(), self.warnings().into());
        }
        value
    }
}
