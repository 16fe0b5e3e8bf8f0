//! `souk isv-test` against deliberately broken sellers: each flaw is a real HTTP server on
//! loopback (a proxy in front of the example seller that injects exactly one mistake), and
//! the tester must fail it with the matching check — and only with that check.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use souk_isv::example::{ExampleConfig, ExampleSeller};
use souk_isv::tester::{self, CheckKind, Report, Status, TesterConfig};
use souk_isv::{EncryptType, Generation};
use souk_protocol::body_sign::body_sign;
use souk_protocol::query::{encode_params, encode_query, parse_params};
use souk_protocol::v1::sign_v1_params;
use souk_protocol::v2::V2Credentials;
use souk_protocol::SellerKey;
use tower::ServiceExt;

const KEY: &str = "broken-seller-key-0123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    /// Accepts any signature (the proxy re-signs every request with the right key).
    NoSignatureCheck,
    /// Signs the pretty-printed body but sends the compact one.
    WrongBodySign,
    /// Sends no Body-Sign.
    NoBodySign,
    /// Returns the current businessId as instanceId on every newInstance.
    NotIdempotent,
    /// Answers 000000 where it should answer 000003.
    SuccessForUnknown,
    /// HTTP 500 with an HTML page.
    Html500,
    /// HTTP 200 with an HTML page.
    Html200,
    /// Never answers.
    Hangs,
    /// Encrypts with AES-128 but does not declare encryptType (so AES-256 is assumed).
    WrongKeySize,
}

fn key() -> SellerKey {
    SellerKey::new(KEY)
}

async fn spawn_broken(flaw: Flaw) -> String {
    let mut config = ExampleConfig::new(KEY);
    if flaw == Flaw::WrongKeySize {
        config.encrypt_type = EncryptType::Aes128;
    }
    let inner = ExampleSeller::new(config).router();
    let app = Router::new().fallback(move |request: Request| {
        let inner = inner.clone();
        async move { proxy(flaw, inner, request).await }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/")
}

fn resign_request(uri: &Uri, body: &[u8]) -> Uri {
    let query = uri.query().unwrap_or_default();
    let new_query = if body.is_empty() {
        let mut params = parse_params(query);
        sign_v1_params(&key(), &mut params);
        encode_params(&params)
    } else {
        let now = souk_protocol::timestamp::unix_millis(time::OffsetDateTime::now_utc());
        let nonce = format!("resigned{}", rand_suffix());
        let creds = V2Credentials::sign(&key(), body, &nonce, now);
        encode_query(creds.query_pairs())
    };
    format!("{}?{new_query}", uri.path()).parse().unwrap()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

/// The businessId of a V1 query or V2 body, if any.
fn business_id(uri: &Uri, body: &[u8]) -> Option<String> {
    if body.is_empty() {
        parse_params(uri.query().unwrap_or_default())
            .get("businessId")
            .cloned()
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()?
            .get("businessId")?
            .as_str()
            .map(str::to_owned)
    }
}

fn signed(mut parts: axum::http::response::Parts, body: Vec<u8>) -> Response {
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        "Body-Sign",
        HeaderValue::from_str(&body_sign(&key(), &body)).unwrap(),
    );
    Response::from_parts(parts, Body::from(body))
}

async fn proxy(flaw: Flaw, inner: Router, request: Request) -> Response {
    let html = "<html><body><h1>Internal Server Error</h1></body></html>";
    match flaw {
        Flaw::Hangs => return std::future::pending().await,
        Flaw::Html500 => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                html,
            )
                .into_response()
        }
        Flaw::Html200 => return ([(header::CONTENT_TYPE, "text/html")], html).into_response(),
        _ => {}
    }
    let (mut parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    let business = business_id(&parts.uri, &body);
    if flaw == Flaw::NoSignatureCheck {
        parts.uri = resign_request(&parts.uri, &body);
    }
    let response = inner
        .oneshot(Request::from_parts(parts, Body::from(body)))
        .await
        .unwrap();
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    let mut json: Value = serde_json::from_slice(&body).unwrap();
    match flaw {
        Flaw::NoBodySign => {
            parts.headers.remove("Body-Sign");
            Response::from_parts(parts, Body::from(body))
        }
        Flaw::WrongBodySign => {
            let pretty = serde_json::to_vec_pretty(&json).unwrap();
            parts.headers.insert(
                "Body-Sign",
                HeaderValue::from_str(&body_sign(&key(), &pretty)).unwrap(),
            );
            Response::from_parts(parts, Body::from(body))
        }
        Flaw::NotIdempotent => {
            if let (Some(b), Some(id)) = (business, json.get_mut("instanceId")) {
                if json_is_new_instance_answer(id) {
                    *id = Value::String(b);
                }
            }
            signed(parts, serde_json::to_vec(&json).unwrap())
        }
        Flaw::SuccessForUnknown => {
            if json["resultCode"] == "000003" {
                json["resultCode"] = "000000".into();
                json["resultMsg"] = "success.".into();
            }
            signed(parts, serde_json::to_vec(&json).unwrap())
        }
        Flaw::WrongKeySize => {
            if let Some(map) = json.as_object_mut() {
                map.remove("encryptType");
            }
            signed(parts, serde_json::to_vec(&json).unwrap())
        }
        Flaw::NoSignatureCheck => Response::from_parts(parts, Body::from(body)),
        Flaw::Hangs | Flaw::Html500 | Flaw::Html200 => unreachable!("answered above"),
    }
}

fn json_is_new_instance_answer(id: &Value) -> bool {
    id.is_string()
}

async fn test(url: &str, generation: Generation, timeout: Duration) -> Report {
    let mut config = TesterConfig::new(url, KEY, generation);
    config.activities = Some(vec!["all".into()]);
    config.timeout = timeout;
    config.warn_after = timeout;
    tester::run(config).await.unwrap()
}

fn failed_kinds(report: &Report) -> BTreeSet<CheckKind> {
    report.failures().map(|c| c.kind).collect()
}

fn assert_fails_with(report: &Report, expected: &[CheckKind]) {
    let text = report.to_text();
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        format!("{} passed, {} failed", report.passed(), report.failed())
    );
    assert!(!report.is_success(), "{text}");
    let expected: BTreeSet<CheckKind> = expected.iter().copied().collect();
    assert_eq!(failed_kinds(report), expected, "{text}");
    for failure in report.failures() {
        assert!(
            failure.fix.as_deref().is_some_and(|f| f.len() > 20),
            "every failure says how to fix it: {failure:?}"
        );
    }
}

const BOTH: [Generation; 2] = [Generation::V1, Generation::V2];
const NORMAL: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_seller_that_does_not_verify_signatures_fails_the_auth_checks() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::NoSignatureCheck).await;
        let report = test(&url, generation, NORMAL).await;
        let expected: &[CheckKind] = match generation {
            Generation::V1 => &[CheckKind::AuthWrongKey, CheckKind::AuthTampered],
            Generation::V2 => &[
                CheckKind::AuthWrongKey,
                CheckKind::AuthTampered,
                CheckKind::AuthStaleTimestamp,
                CheckKind::AuthReplayedNonce,
            ],
        };
        assert_fails_with(&report, expected);
    }
}

#[tokio::test]
async fn a_wrong_body_sign_fails_the_body_sign_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::WrongBodySign).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::BodySign]);
        assert!(report
            .failures()
            .all(|c| c.message.contains("does not match")));
    }
}

#[tokio::test]
async fn a_missing_body_sign_fails_the_body_sign_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::NoBodySign).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::BodySign]);
        assert!(report.failures().all(|c| c.message.contains("missing")));
    }
}

#[tokio::test]
async fn a_seller_that_is_not_idempotent_fails_the_idempotency_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::NotIdempotent).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::Idempotency]);
    }
}

#[tokio::test]
async fn answering_success_for_unknown_instances_fails_the_unknown_instance_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::SuccessForUnknown).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::UnknownInstance]);
        let failed = report
            .failures()
            .filter(|c| c.kind == CheckKind::UnknownInstance)
            .count();
        assert_eq!(failed, 3, "refresh, freeze/expire and release");
    }
}

#[tokio::test]
async fn an_html_500_fails_the_http_status_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::Html500).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::HttpStatus]);
        assert!(report.failures().next().unwrap().message.contains("500"));
    }
}

#[tokio::test]
async fn an_html_page_with_status_200_fails_the_json_check() {
    let url = spawn_broken(Flaw::Html200).await;
    let report = test(&url, Generation::V2, NORMAL).await;
    assert_fails_with(&report, &[CheckKind::Json]);
    assert!(report
        .failures()
        .next()
        .unwrap()
        .message
        .contains("text/html"));
}

#[tokio::test]
async fn a_seller_that_hangs_fails_the_timeout_check_and_the_run_stops() {
    let url = spawn_broken(Flaw::Hangs).await;
    let report = test(&url, Generation::V2, Duration::from_millis(300)).await;
    assert_fails_with(&report, &[CheckKind::Timeout]);
    assert_eq!(report.failed(), 1, "one timeout, then the run stops");
    assert!(report.checks.iter().any(|c| c.status == Status::Skip));
}

#[tokio::test]
async fn encrypting_with_the_wrong_key_size_fails_the_credentials_check() {
    for generation in BOTH {
        let url = spawn_broken(Flaw::WrongKeySize).await;
        let report = test(&url, generation, NORMAL).await;
        assert_fails_with(&report, &[CheckKind::Credentials]);
        let failure = report.failures().next().unwrap();
        assert!(
            failure.message.contains("decrypts with AES-128"),
            "the message names the size that works: {}",
            failure.message
        );
    }
}

#[tokio::test]
async fn an_unreachable_seller_fails_the_reachable_check() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let report = test(&url, Generation::V1, NORMAL).await;
    assert_fails_with(&report, &[CheckKind::Reachable]);
}
