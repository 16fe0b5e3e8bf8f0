//! The SDK's verifier agrees with the protocol crate's signers (what the marketplace server
//! uses) and with the spec's §10 vectors; the router answers refusals as documented; the
//! injected clock drives the V2 window.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::Request;
use souk_isv::request::{NewInstance, RefreshInstance, ReleaseInstance, StatusChange};
use souk_isv::{
    Context, Incoming, IsvConfig, Profile, Rejection, ResultCode, Seller, SellerResponse,
    SignedResponse, Verifier,
};
use souk_protocol::activity::V1Activity;
use souk_protocol::body_sign::verify_body_sign;
use souk_protocol::credentials::decrypt;
use souk_protocol::query::{encode_params, encode_query};
use souk_protocol::timestamp::from_unix_millis;
use souk_protocol::v2::V2Credentials;
use souk_protocol::{AuthError, EncryptType, Params, SellerKey};
use time::OffsetDateTime;
use tower::ServiceExt;

const VECTOR_KEY: &str = "test-key-0123";

fn vector_10_1_params() -> Params {
    [
        ("activity", "newInstance"),
        ("businessId", "61e834ba-7b97-4418-b8f7-e5345137278c"),
        ("customerId", "68cbc86abc2018ab880d92f36422fa0e"),
        ("customerName", "Test User+1"),
        ("orderId", "CS1906666666ABCDE"),
        ("productId", "00301-666666-0--0"),
        ("testFlag", "1"),
        ("timeStamp", "20240101000000000"),
        ("authToken", "kETuf+H8Gxz3FjPdVC94ZfpzvfoPKcXN5krhHtiAa3M="),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

const VECTOR_10_4_BODY: &str = r#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
const VECTOR_10_4_NONCE: &str = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
const VECTOR_10_4_TS: i64 = 1_680_508_066_618;
const VECTOR_10_4_SIG: &str = "67F83ADD41A15F30E50764FB6C07A7BAAD3D4DC44FAFA7CB83A5671622F0D84E";

/// A clock the test moves by hand.
#[derive(Clone)]
struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    fn at_ms(ms: i64) -> Self {
        ManualClock(Arc::new(Mutex::new(from_unix_millis(ms).unwrap())))
    }
    fn set_ms(&self, ms: i64) {
        *self.0.lock().unwrap() = from_unix_millis(ms).unwrap();
    }
    fn clock(&self) -> souk_isv::Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }
}

#[test]
fn the_verifier_accepts_the_10_1_v1_vector_encoded_and_with_a_raw_plus() {
    let verifier = Verifier::new(IsvConfig::new(VECTOR_KEY));
    let encoded = encode_params(&vector_10_1_params());
    let activity = verifier.verify_v1(&encoded).unwrap();
    let V1Activity::NewInstance(a) = activity else {
        panic!("not newInstance")
    };
    assert_eq!(a.customer_name.as_deref(), Some("Test User+1"));
    // The doc examples show an unencoded '+' in authToken; form decoding turns it into a space.
    let raw_plus = encoded
        .replace("%2B", "+")
        .replace("Test%20User+1", "Test%20User%2B1");
    assert!(verifier.verify_v1(&raw_plus).is_ok(), "{raw_plus}");
    // One byte changed: refused with 000001.
    let tampered = encoded.replace("CS1906666666ABCDE", "CS1906666666ABCDF");
    let refused = verifier.verify_v1(&tampered).unwrap_err();
    assert_eq!(refused, Rejection::Auth(AuthError::SignatureMismatch));
    assert_eq!(refused.result_code(), ResultCode::AuthenticationFailed);
}

#[test]
fn the_verifier_accepts_the_10_4_v2_vector_inside_the_window_only() {
    let clock = ManualClock::at_ms(VECTOR_10_4_TS + 59_000);
    let config = IsvConfig::new(VECTOR_KEY).with_clock(clock.clock());
    let verifier = Verifier::new(config);
    let query = encode_query([
        ("signature", VECTOR_10_4_SIG),
        ("timestamp", "1680508066618"),
        ("nonce", VECTOR_10_4_NONCE),
    ]);
    let activity = verifier
        .verify_v2(&query, VECTOR_10_4_BODY.as_bytes())
        .unwrap();
    assert_eq!(activity.activity(), "newInstance");
    // The same nonce again: a replay.
    assert_eq!(
        verifier.verify_v2(&query, VECTOR_10_4_BODY.as_bytes()),
        Err(Rejection::Auth(AuthError::ReplayedNonce))
    );
    // A fresh verifier 61 s later: stale.
    clock.set_ms(VECTOR_10_4_TS + 61_000);
    let verifier = Verifier::new(IsvConfig::new(VECTOR_KEY).with_clock(clock.clock()));
    assert!(matches!(
        verifier.verify_v2(&query, VECTOR_10_4_BODY.as_bytes()),
        Err(Rejection::Auth(AuthError::StaleTimestamp { .. }))
    ));
}

#[test]
fn the_sdk_signs_answers_exactly_as_the_10_2_vector() {
    let signed = SignedResponse::sign(&SellerKey::new(VECTOR_KEY), &SellerResponse::success());
    assert_eq!(
        signed.body,
        br#"{"resultCode":"000000","resultMsg":"success."}"#
    );
    assert!(signed
        .body_sign
        .contains("uwFlhKi4SK2oe+Bik4SNIg/kEWKv8EPKGp5PCLPyxqA="));
}

#[test]
fn the_verifier_agrees_with_the_protocol_signers_for_every_v1_activity_and_v2_body() {
    let key = SellerKey::new("another key with spaces + symbols/=");
    let now = OffsetDateTime::now_utc();
    let verifier = Verifier::new(IsvConfig::new(key.clone()));
    for (activity, extra) in [
        (
            "newInstance",
            vec![
                ("businessId", "b 1"),
                ("customerId", "c"),
                ("orderId", "o+1"),
                ("productId", "p/="),
            ],
        ),
        (
            "refreshInstance",
            vec![
                ("orderId", "o"),
                ("instanceId", "i"),
                ("expireTime", "20300101000000"),
            ],
        ),
        (
            "expireInstance",
            vec![("orderId", "o"), ("instanceId", "i")],
        ),
        (
            "releaseInstance",
            vec![
                ("orderId", "o"),
                ("instanceId", "i"),
                ("orderAmount", "-1.5"),
            ],
        ),
        (
            "upgrade",
            vec![
                ("orderId", "o"),
                ("instanceId", "i"),
                ("skuCode", "s"),
                ("productId", "p"),
            ],
        ),
        (
            "instanceStatus",
            vec![("instanceId", "i"), ("instanceStatus", "FREEZE")],
        ),
        ("queryInstance", vec![("instanceId", "a,b")]),
        (
            "getLicense",
            vec![
                ("businessId", "b"),
                ("customerId", "c"),
                ("orderId", "o"),
                ("productId", "中文"),
            ],
        ),
    ] {
        let mut params: Params = extra
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        params.insert("activity".into(), activity.into());
        let query = souk_protocol::v1::signed_query(&key, params, now);
        let parsed = verifier.verify_v1(&query).unwrap();
        assert_eq!(parsed.activity(), activity);
    }
    for body in [
        r#"{"activity":"queryInstance","instanceId":"i"}"#,
        r#"{"activity":"updateInstanceStatus","instanceId":"i","status":"UNFREEZE"}"#,
        r#"{ "activity" : "releaseInstance", "instanceId": "i", "testFlag": 1 }"#,
    ] {
        let creds = V2Credentials::sign(
            &key,
            body.as_bytes(),
            &format!("nonce-{}", body.len()),
            souk_protocol::timestamp::unix_millis(now),
        );
        let query = encode_query(creds.query_pairs());
        assert!(
            verifier.verify_v2(&query, body.as_bytes()).is_ok(),
            "{body}"
        );
    }
}

#[test]
fn profiles_refuse_the_other_generation_with_000002() {
    let v2_only = Verifier::new(IsvConfig::new(VECTOR_KEY).with_profile(Profile::V2));
    let refused = v2_only
        .verify_v1(&encode_params(&vector_10_1_params()))
        .unwrap_err();
    assert_eq!(refused.result_code(), ResultCode::InvalidParameter);
    let v1_only = Verifier::new(IsvConfig::new(VECTOR_KEY).with_profile(Profile::V1));
    assert!(matches!(
        v1_only.verify(&axum::http::Method::POST, "", b"{}"),
        Err(Rejection::WrongGeneration(_))
    ));
}

/// A minimal seller: records what it was asked, answers newInstance with credentials.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Seller for Recorder {
    async fn new_instance(&self, ctx: Context, req: NewInstance) -> SellerResponse {
        self.0.lock().unwrap().push(req.idempotency_key());
        let mut answer = SellerResponse::success();
        answer.instance_id = Some(req.business_id().to_owned());
        answer.app_info = Some(ctx.app_info("https://x.example/", "admin", "pw"));
        answer
    }
    async fn refresh_instance(&self, _: Context, _: RefreshInstance) -> SellerResponse {
        SellerResponse::success()
    }
    async fn update_instance_status(&self, _: Context, req: StatusChange) -> SellerResponse {
        self.0
            .lock()
            .unwrap()
            .push(format!("status:{}:{}", req.instance_id, req.freeze));
        SellerResponse::success()
    }
    async fn release_instance(&self, _: Context, _: ReleaseInstance) -> SellerResponse {
        SellerResponse::error(ResultCode::InstanceNotFound)
    }
}

async fn call(app: axum::Router, request: Request<Body>) -> (SellerResponse, Vec<u8>, String) {
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let sign = response.headers()["Body-Sign"].to_str().unwrap().to_owned();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (SellerResponse::from_body(&body).unwrap(), body, sign)
}

#[tokio::test]
async fn the_router_dispatches_signs_and_adds_the_encrypt_type() {
    let seller = Recorder::default();
    let config = IsvConfig::new(VECTOR_KEY).with_encrypt_type(EncryptType::Aes128);
    let app = axum::Router::new().nest("/produce", souk_isv::router(seller.clone(), config));
    let uri = format!("/produce?{}", encode_params(&vector_10_1_params()));
    let (answer, body, sign) =
        call(app.clone(), Request::get(uri).body(Body::empty()).unwrap()).await;
    let key = SellerKey::new(VECTOR_KEY);
    assert_eq!(verify_body_sign(&key, &body, Some(&sign)), Ok(()));
    assert_eq!(answer.encrypt_type.as_deref(), Some("2"));
    let user = answer.app_info.unwrap().user_name.unwrap();
    assert_eq!(decrypt(&key, EncryptType::Aes128, &user).unwrap(), "admin");
    assert_eq!(
        seller.0.lock().unwrap().as_slice(),
        ["v1:CS1906666666ABCDE:00301-666666-0--0"]
    );

    // expireInstance goes to update_instance_status with a freeze by default.
    let mut params: Params = [
        ("activity", "expireInstance"),
        ("instanceId", "i-9"),
        ("orderId", "o"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let query = souk_protocol::v1::signed_query(&key, params.clone(), OffsetDateTime::now_utc());
    let (answer, _, _) = call(
        app.clone(),
        Request::get(format!("/produce?{query}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(answer.result_code.is_success());
    assert_eq!(seller.0.lock().unwrap().last().unwrap(), "status:i-9:true");

    // A bad token: 000001, still signed, and the seller is not called.
    params.insert("timeStamp".into(), "20240101000000000".into());
    params.insert("authToken".into(), "AAAA".into());
    let calls = seller.0.lock().unwrap().len();
    let (answer, body, sign) = call(
        app.clone(),
        Request::get(format!("/produce?{}", encode_params(&params)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.result_code, ResultCode::AuthenticationFailed);
    assert_eq!(verify_body_sign(&key, &body, Some(&sign)), Ok(()));
    assert_eq!(seller.0.lock().unwrap().len(), calls);

    // Not JSON for V2: refused before parsing (the signature does not match).
    let (answer, _, _) = call(
        app,
        Request::post("/produce?signature=x&timestamp=1&nonce=n")
            .body(Body::from("<xml/>"))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.result_code, ResultCode::AuthenticationFailed);
}

#[tokio::test]
async fn the_router_uses_the_injected_clock_for_the_v2_window() {
    let clock = ManualClock::at_ms(VECTOR_10_4_TS);
    let config = IsvConfig::new(VECTOR_KEY).with_clock(clock.clock());
    let app = souk_isv::router(Recorder::default(), config);
    let request = |nonce: &str| {
        let creds = V2Credentials::sign(
            &SellerKey::new(VECTOR_KEY),
            VECTOR_10_4_BODY.as_bytes(),
            nonce,
            VECTOR_10_4_TS,
        );
        Request::post(format!("/?{}", encode_query(creds.query_pairs())))
            .body(Body::from(VECTOR_10_4_BODY))
            .unwrap()
    };
    let (answer, _, _) = call(app.clone(), request("n1")).await;
    assert!(answer.result_code.is_success());
    clock.set_ms(VECTOR_10_4_TS + Duration::from_secs(61).as_millis() as i64);
    let (answer, _, _) = call(app, request("n2")).await;
    assert_eq!(answer.result_code, ResultCode::AuthenticationFailed);
}

#[test]
fn rejections_never_leak_details_of_the_expected_signature() {
    let rejection = Rejection::Auth(AuthError::SignatureMismatch);
    assert_eq!(
        rejection.response().result_msg.as_deref(),
        Some("authentication failed")
    );
    let _: Incoming = Incoming::V1(V1Activity::from_params(&vector_10_1_params()).unwrap());
}

#[test]
fn the_bench_runs() {
    let report = souk_isv::bench::signatures(Duration::from_millis(2));
    assert_eq!(report.entries.len(), 3);
    assert!(report
        .entries
        .iter()
        .all(|(v, r)| v.per_second > 0.0 && r.per_second > 0.0));
    assert!(report.to_string().contains("V2 signature verify"));
}
