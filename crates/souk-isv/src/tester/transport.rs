//! Sending a request, checking the answer's envelope (HTTP, JSON, Body-Sign, latency) and
//! keeping passing calls as replayable cases.

use std::time::Instant;

use souk_protocol::activity::SellerResponse;
use souk_protocol::body_sign::{verify_body_sign, BodySignError};
use souk_protocol::ResultCode;

use super::requests::Prepared;
use super::{fix, millis, Answer, CheckKind, Runner, Status, TesterError};

/// A saved, replayable case.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Case {
    name: String,
    activity: &'static str,
    method: &'static str,
    url: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
    expected_result_code: String,
    note: &'static str,
}

impl Runner {
    // ---- transport -------------------------------------------------------------------

    /// Sends `req`; records the response check (and latency warning). `None` when nothing
    /// usable came back.
    pub(super) async fn exchange(&mut self, step: &str, req: &Prepared) -> Option<Answer> {
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
    pub(super) async fn step(
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

    pub(super) fn keep_case(&mut self, step: &str, req: &Prepared, code: &ResultCode) {
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

    pub(super) fn write_cases(&self) -> Result<usize, TesterError> {
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
