//! The example seller passes `isv-test` in every configuration, and behaves as documented
//! for the marketplace's own tests: idempotency counters, async opening, injected failures.

use std::time::Duration;

use serde_json::json;
use souk_isv::example::{ExampleConfig, ExampleSeller, FailureMode, InstanceStatus};
use souk_isv::tester::{self, Report, TesterConfig};
use souk_isv::{EncryptType, Generation, Profile, ResultCode, SellerResponse};
use souk_protocol::body_sign::verify_body_sign;
use souk_protocol::query::{encode_params, encode_query};
use souk_protocol::timestamp::{unix_millis, TimestampFormat};
use souk_protocol::v1::sign_v1_params;
use souk_protocol::v2::{canonical_body, V2Credentials};
use souk_protocol::{Params, SellerKey};

const KEY: &str = "example-key-0123";

async fn isv_test(url: &str, generation: Generation, activities: &str) -> Report {
    let mut config = TesterConfig::new(url, KEY, generation);
    config.activities = Some(vec![activities.into()]);
    tester::run(config).await.unwrap()
}

fn assert_passes(report: &Report) {
    let text = report.to_text();
    assert!(report.is_success(), "{text}");
    assert!(report.passed() > 20, "{text}");
    assert_eq!(
        text.lines().last().unwrap(),
        format!("{} passed, 0 failed", report.passed())
    );
}

#[tokio::test]
async fn isv_test_passes_against_the_example_seller_in_v1_and_v2_with_128_and_256_bits() {
    for encrypt_type in [EncryptType::Aes128, EncryptType::Aes256] {
        let mut config = ExampleConfig::new(KEY);
        config.encrypt_type = encrypt_type;
        let seller = ExampleSeller::spawn(config).await.unwrap();
        for generation in [Generation::V1, Generation::V2] {
            let report = isv_test(&seller.url(), generation, "all").await;
            assert_passes(&report);
            let declared = format!("encryptType \"{}\"", encrypt_type.as_str());
            assert!(
                report.checks.iter().any(|c| c.message.contains(&declared)),
                "{}",
                report.to_text()
            );
        }
        let state = seller.state();
        assert!(
            state.rejected >= 6,
            "wrong key, tampered (both), stale, replay"
        );
        seller.shutdown().await;
    }
}

#[tokio::test]
async fn isv_test_passes_with_pinned_profiles_and_the_default_activity_set() {
    for (profile, generation) in [(Profile::V1, Generation::V1), (Profile::V2, Generation::V2)] {
        let mut config = ExampleConfig::new(KEY);
        config.profile = profile;
        let seller = ExampleSeller::spawn(config).await.unwrap();
        let mut tester_config = TesterConfig::new(seller.url(), KEY, generation);
        tester_config.activities = None;
        let report = tester::run(tester_config).await.unwrap();
        assert_passes(&report);
        // The renewal-period refund scene (退续费) is part of the run, and the seller took it.
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.step.contains("renewal-period refund")),
            "{profile:?}"
        );
        let state = seller.state();
        let refunded: usize = state
            .instances
            .values()
            .map(|i| i.renewals_refunded.len())
            .sum();
        assert_eq!(refunded, 1, "{profile:?}");
    }
}

#[tokio::test]
async fn isv_test_passes_against_an_example_seller_that_opens_asynchronously() {
    let mut config = ExampleConfig::new(KEY);
    config.async_open = true;
    config.async_open_polls = 2;
    let seller = ExampleSeller::spawn(config).await.unwrap();
    let report = isv_test(&seller.url(), Generation::V2, "all").await;
    assert_passes(&report);
    assert!(report.checks.iter().any(|c| c.step.contains("poll 2")));
}

#[tokio::test]
async fn save_cases_writes_replayable_cases_for_passing_requests() {
    let seller = ExampleSeller::spawn(ExampleConfig::new(KEY)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = TesterConfig::new(seller.url(), KEY, Generation::V1);
    config.save_cases = Some(dir.path().join("cases"));
    let report = tester::run(config).await.unwrap();
    assert!(report.is_success());
    assert!(report.cases_saved > 10);
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), report.cases_saved);
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(first["method"], "GET");
    assert_eq!(first["activity"], "newInstance");
    assert_eq!(first["expectedResultCode"], "000000");
    let url = first["url"].as_str().unwrap();
    assert!(url.starts_with("/?") && url.contains("authToken="), "{url}");

    // A V1 case replays as is: same order, so the same instance comes back.
    let replay = reqwest::get(format!("{}{}", seller.url().trim_end_matches('/'), url))
        .await
        .unwrap();
    let body = replay.bytes().await.unwrap();
    assert!(SellerResponse::from_body(&body)
        .unwrap()
        .result_code
        .is_success());
}

// ---- direct calls, for the state the marketplace's tests inspect ----------------------

struct Client {
    url: String,
    key: SellerKey,
    http: reqwest::Client,
}

impl Client {
    fn new(url: String) -> Self {
        Client {
            url,
            key: SellerKey::new(KEY),
            http: reqwest::Client::new(),
        }
    }

    async fn v1(&self, pairs: &[(&str, &str)]) -> (u16, Option<SellerResponse>) {
        let mut params: Params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        params.insert(
            "timeStamp".into(),
            TimestampFormat::Millis.format(time::OffsetDateTime::now_utc()),
        );
        sign_v1_params(&self.key, &mut params);
        let url = format!("{}?{}", self.url, encode_params(&params));
        self.finish(self.http.get(url)).await
    }

    async fn v2(&self, body: serde_json::Value) -> (u16, Option<SellerResponse>) {
        let body = canonical_body(&body);
        let creds = V2Credentials::sign(
            &self.key,
            &body,
            &format!("n{}", rand::random::<u64>()),
            unix_millis(time::OffsetDateTime::now_utc()),
        );
        let url = format!("{}?{}", self.url, encode_query(creds.query_pairs()));
        self.finish(self.http.post(url).body(body)).await
    }

    async fn finish(&self, request: reqwest::RequestBuilder) -> (u16, Option<SellerResponse>) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let sign = response
            .headers()
            .get("Body-Sign")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.bytes().await.unwrap();
        let verified = verify_body_sign(&self.key, &body, sign.as_deref()).is_ok();
        let parsed = SellerResponse::from_body(&body).ok().filter(|_| verified);
        (status, parsed)
    }
}

fn new_instance_v1<'a>(order: &'a str, business: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("activity", "newInstance"),
        ("businessId", business),
        ("customerId", "c1"),
        ("orderId", order),
        ("productId", "p1"),
        ("expireTime", "20300101000000"),
    ]
}

#[tokio::test]
async fn retries_with_new_business_ids_return_the_first_instance_and_are_counted() {
    let seller = ExampleSeller::spawn(ExampleConfig::new(KEY)).await.unwrap();
    let client = Client::new(seller.url());
    let mut ids = Vec::new();
    for business in ["b-1", "b-2", "b-3"] {
        let (_, answer) = client.v1(&new_instance_v1("CS-A", business)).await;
        ids.push(answer.unwrap().instance_id.unwrap());
    }
    assert_eq!(ids, ["b-1", "b-1", "b-1"], "the first businessId is the id");
    // V2: keyed on orderId + orderLineId.
    for business in ["v2-b-1", "v2-b-2"] {
        let (_, answer) = client
            .v2(json!({"activity": "newInstance", "orderId": "CS-B",
                       "orderLineId": "CS-B-000001", "businessId": business}))
            .await;
        assert_eq!(answer.unwrap().instance_id.as_deref(), Some("v2-b-1"));
    }
    let state = seller.state();
    assert_eq!(state.new_instance_created, 2);
    assert_eq!(state.new_instance_existing, 3);
    assert_eq!(state.calls_of("newInstance").count(), 5);
    let instance = state.instance("b-1").unwrap();
    assert_eq!(instance.status, InstanceStatus::Active);
    assert_eq!(instance.expire_time.as_deref(), Some("20300101000000"));
}

#[tokio::test]
async fn lifecycle_calls_change_the_state_and_unknown_instances_get_000003() {
    let seller = ExampleSeller::spawn(ExampleConfig::new(KEY)).await.unwrap();
    let client = Client::new(seller.url());
    client.v1(&new_instance_v1("CS-L", "ins-1")).await;
    let code = |r: (u16, Option<SellerResponse>)| r.1.unwrap().result_code;
    let expire = [
        ("activity", "expireInstance"),
        ("instanceId", "ins-1"),
        ("orderId", "CS-L"),
    ];
    assert_eq!(code(client.v1(&expire).await), ResultCode::Success);
    assert_eq!(
        seller.state().instance("ins-1").unwrap().status,
        InstanceStatus::Frozen
    );
    let renew = [
        ("activity", "refreshInstance"),
        ("instanceId", "ins-1"),
        ("orderId", "CS-R"),
        ("expireTime", "20310101000000"),
    ];
    assert_eq!(code(client.v1(&renew).await), ResultCode::Success);
    assert_eq!(code(client.v1(&renew).await), ResultCode::Success);
    let state = seller.state();
    let instance = state.instance("ins-1").unwrap();
    assert_eq!(
        instance.status,
        InstanceStatus::Active,
        "a renewal unfreezes"
    );
    assert_eq!(instance.renewals, 1, "the same renewal order counts once");
    let release = [
        ("activity", "releaseInstance"),
        ("instanceId", "ins-1"),
        ("orderId", "CS-L"),
    ];
    assert_eq!(code(client.v1(&release).await), ResultCode::Success);
    assert_eq!(code(client.v1(&release).await), ResultCode::Success);
    assert_eq!(code(client.v1(&renew).await), ResultCode::InstanceNotFound);
    let unknown = [
        ("activity", "releaseInstance"),
        ("instanceId", "nope"),
        ("orderId", "x"),
    ];
    assert_eq!(
        code(client.v1(&unknown).await),
        ResultCode::InstanceNotFound
    );
}

#[tokio::test]
async fn injected_failures_come_first_and_leave_no_state_behind() {
    let mut config = ExampleConfig::new(KEY);
    config.fail_first_n = 2;
    config.failure = FailureMode::Http500;
    let seller = ExampleSeller::spawn(config).await.unwrap();
    let client = Client::new(seller.url());
    for _ in 0..2 {
        let (status, _) = client.v1(&new_instance_v1("CS-F", "b-x")).await;
        assert_eq!(status, 500);
    }
    assert_eq!(seller.state().new_instance_created, 0);
    let (status, answer) = client.v1(&new_instance_v1("CS-F", "b-y")).await;
    assert_eq!(status, 200);
    assert_eq!(answer.unwrap().instance_id.as_deref(), Some("b-y"));
    assert_eq!(seller.state().injected_failures, 2);
}

#[tokio::test]
async fn a_wrong_body_sign_failure_still_processes_the_call_so_the_retry_finds_it() {
    let seller = ExampleSeller::spawn(ExampleConfig::new(KEY)).await.unwrap();
    let client = Client::new(seller.url());
    seller.set_failing(Some(FailureMode::WrongBodySign));
    let (status, answer) = client.v1(&new_instance_v1("CS-W", "b-first")).await;
    assert_eq!(status, 200);
    assert!(answer.is_none(), "the Body-Sign does not verify");
    seller.set_failing(None);
    let (_, answer) = client.v1(&new_instance_v1("CS-W", "b-retry")).await;
    assert_eq!(answer.unwrap().instance_id.as_deref(), Some("b-first"));
    let state = seller.state();
    assert_eq!(state.new_instance_created, 1, "no second instance");
    assert_eq!(state.new_instance_existing, 1);
}

#[tokio::test]
async fn result_code_failures_are_signed_and_counted() {
    let mut config = ExampleConfig::new(KEY);
    config.failure = FailureMode::Result(ResultCode::InternalError);
    let seller = ExampleSeller::spawn(config).await.unwrap();
    seller.fail_next(1);
    let client = Client::new(seller.url());
    let (_, answer) = client.v1(&new_instance_v1("CS-R5", "b")).await;
    assert_eq!(answer.unwrap().result_code, ResultCode::InternalError);
    let (_, answer) = client.v1(&new_instance_v1("CS-R5", "b2")).await;
    assert!(answer.unwrap().result_code.is_success());
}

#[tokio::test]
async fn async_open_answers_000004_until_query_instance_is_polled() {
    let mut config = ExampleConfig::new(KEY);
    config.async_open = true;
    let seller = ExampleSeller::spawn(config).await.unwrap();
    let client = Client::new(seller.url());
    let body = json!({"activity": "newInstance", "orderId": "CS-AS",
                      "orderLineId": "CS-AS-1", "businessId": "as-1"});
    let (_, answer) = client.v2(body.clone()).await;
    let answer = answer.unwrap();
    assert_eq!(answer.result_code, ResultCode::Processing);
    assert_eq!(answer.instance_id.as_deref(), Some("as-1"));
    assert!(answer.app_info.is_none());
    assert_eq!(
        seller.state().instance("as-1").unwrap().status,
        InstanceStatus::Opening
    );
    let (_, query) = client
        .v2(json!({"activity": "queryInstance", "instanceId": "as-1"}))
        .await;
    let query = query.unwrap();
    assert!(query.result_code.is_success());
    assert_eq!(query.info.unwrap()[0].instance_id, "as-1");
    let (_, again) = client.v2(body).await;
    assert!(again.unwrap().result_code.is_success());
}

#[tokio::test]
async fn hang_failures_never_answer() {
    let seller = ExampleSeller::spawn(ExampleConfig::new(KEY)).await.unwrap();
    seller.set_failing(Some(FailureMode::Hang));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = http.get(seller.url()).send().await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(seller.state().injected_failures, 1);
    seller.shutdown().await;
}

#[tokio::test]
async fn serve_example_stops_on_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(souk_isv::example::serve_example(
        listener,
        ExampleConfig::new(KEY),
        async {
            let _ = rx.await;
        },
    ));
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn isv_test_checks_that_the_seller_decrypts_the_buyers_email_and_phone() {
    use souk_isv::tester::{CheckKind, Status};
    for bits in [EncryptType::Aes128, EncryptType::Aes256] {
        let mut config = ExampleConfig::new(KEY);
        config.pii_encrypt_type = bits;
        let seller = ExampleSeller::spawn(config).await.unwrap();
        let mut tester_config = TesterConfig::new(seller.url(), KEY, Generation::V1);
        tester_config.buyer_pii = Some(bits);
        let report = tester::run(tester_config).await.unwrap();
        assert_passes(&report);
        let details: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::BuyerDetails)
            .collect();
        assert_eq!(details.len(), 2, "{}", report.to_text());
        assert!(details.iter().all(|c| c.status == Status::Pass));
        // The seller got the test buyer's real values.
        let state = seller.state();
        assert!(state.instances.values().any(|i| i.buyer_email.as_deref()
            == Some("isv-test.buyer@example.com")
            && i.buyer_phone.as_deref() == Some("+8613800000000")));
    }
    // A seller that decrypts at the other key size cannot open the instance: the run fails.
    let mut config = ExampleConfig::new(KEY);
    config.pii_encrypt_type = EncryptType::Aes256;
    let seller = ExampleSeller::spawn(config).await.unwrap();
    let mut tester_config = TesterConfig::new(seller.url(), KEY, Generation::V1);
    tester_config.buyer_pii = Some(EncryptType::Aes128);
    let report = tester::run(tester_config).await.unwrap();
    assert!(!report.is_success(), "{}", report.to_text());
}
