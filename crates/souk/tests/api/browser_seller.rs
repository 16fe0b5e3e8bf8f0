//! The seller center in a real browser (headless Chromium over WebDriver, on both backends),
//! with a real SMTP server on loopback: a seller creates a product with the form, submits it,
//! runs "test my endpoint" and sees every check pass; a call to its endpoint fails, the
//! failure reaches its mailbox, and the seller retries the call from the console once the
//! endpoint works. A form posted without its CSRF token is refused, and a login is throttled
//! after five wrong passwords. A seller defines a product's usage packages with the form.

use crate::browser::{browser, driver, skipped, Session};
use crate::console_support::{login_for, PASSWORD};
use crate::fixture;
use crate::harness::{Backend, TestApp, TestDb};
use crate::mail_support::{app_with_mail, SmtpSink};
use fantoccini::Locator;
use serde_json::json;

async fn seller_journey(app: TestApp, sink: SmtpSink) {
    let example = fixture::example_seller(&app, |_| {}).await;
    let url = format!("{}/produce", example.url().trim_end_matches('/'));
    let (seller_id, _) = app.party("sellers", "Acme Cloud").await;
    let (buyer_id, buyer_key) = app.party("buyers", "Lan Ying").await;
    fixture::top_up(&app, &buyer_id, 100_000).await;
    login_for(&app, &seller_id, "ops@acme.example").await;

    let driver = driver().await;
    let shots = app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();
    let s = Session {
        app: &app,
        c: browser(&driver).await,
        shots,
    };
    s.login("ops@acme.example").await;
    assert_eq!(s.path().await, "/seller/products");

    // The product form: attributes become SKUs, prices per line, the integration profile.
    s.click("#new-product").await;
    s.wait_for("#save-product").await;
    s.fill("#name", "Acme Monitor").await;
    s.fill("#category", "devops/monitoring").await;
    s.fill("#description", "Hosted monitoring for small teams.")
        .await;
    s.fill("#sa_content", "Monitoring with 99.9% availability.")
        .await;
    s.fill("#sa_hours", "Mon-Fri 09:00-18:00 (UTC+8)").await;
    s.fill("#sa_phone", "+86 10 1234 5678").await;
    s.fill("#sa_email", "support@acme.example").await;
    s.fill("#attributes", "edition: basic, pro").await;
    s.fill(
        "#prices",
        "edition=basic monthly 10\nedition=pro monthly 30\ntrial 14",
    )
    .await;
    s.fill("#production_url", &url).await;
    s.fill("#key", fixture::SELLER_KEY).await;
    s.shot("seller-product-form").await;
    s.click("#save-product").await;
    s.wait_for("#products .submit-product").await;
    s.click("#products .submit-product").await;
    s.wait_for("#products [data-status='submitted']").await;

    // "Test my endpoint": every check passes against the example seller.
    s.click("#products .test-endpoint").await;
    let summary = s.wait_for("#summary").await;
    assert_eq!(
        summary.attr("data-success").await.unwrap().as_deref(),
        Some("true")
    );

    // Listed; a buyer buys while the seller's endpoint is broken: Souk will retry later.
    let list = app.get("/v1/products", &app.operator_key).await;
    let product = list.body["data"][0]["id"].as_str().unwrap().to_owned();
    let approved = app
        .post(
            &format!("/v1/products/{product}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
    example.seller().fail_next(u32::MAX);
    let placed = app
        .post(
            "/v1/orders",
            &buyer_key,
            json!({"sku_id": sku, "billing_mode": "monthly"}),
        )
        .await;
    let order = placed.body["id"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/orders/{order}/pay"), &buyer_key, json!({}))
        .await;
    app.drain().await;
    // The failure reached the seller's mailbox through the SMTP server.
    let mails = sink.mails_to("ops@acme.example");
    assert!(
        mails.iter().any(|m| m
            .subject
            .contains("A call to your production endpoint failed")),
        "{mails:#?}"
    );

    // The seller finds the failed call, fixes its endpoint and retries it from the console.
    s.open("/seller/calls").await;
    let outcome = s.c.find(Locator::Css("#f-outcome")).await.unwrap();
    outcome.select_by_value("failure").await.unwrap();
    s.submit("#filter-calls").await;
    s.wait_for("#calls tr.attempt.failure").await;
    s.shot("seller-calls").await;
    s.click("#calls tr.attempt.failure a").await;
    s.wait_for("#retry-call").await;
    example.seller().fail_next(0);
    s.submit("#retry-call").await;
    s.wait_for("#retried").await;
    app.drain().await;
    s.c.refresh().await.unwrap();
    s.wait_for("#call[data-state='succeeded']").await;
    s.shot("seller-call-retried").await;

    s.open("/seller/dashboard").await;
    s.wait_for("svg.chart").await;
    assert_eq!(s.text("#total-orders").await, "1");
    s.shot("seller-dashboard").await;
    s.open("/messages").await;
    s.wait_for("#messages").await;
    s.shot("message-centre").await;

    // A form whose CSRF token was removed is refused, and nothing is created.
    s.open("/seller/keys").await;
    s.c.execute(
        "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())",
        vec![],
    )
    .await
    .unwrap();
    s.click("#create-key").await;
    s.wait_for("[data-code='csrf_failed']").await;
    s.open("/seller/keys").await;
    assert!(s.c.find(Locator::Css("#keys tbody tr")).await.is_err());
    s.click("#logout").await;
    s.wait_for("#login-submit").await;

    // Five wrong passwords lock the address, and the form says until when.
    for _ in 0..5 {
        s.open("/login").await;
        s.fill("#email", "ops@acme.example").await;
        s.fill("#password", "not the password").await;
        s.click("#login-submit").await;
        s.wait_for(".problem").await;
    }
    s.wait_for("[data-code='login_throttled']").await;
    s.open("/login").await;
    s.fill("#email", "ops@acme.example").await;
    s.fill("#password", PASSWORD).await;
    s.click("#login-submit").await;
    s.wait_for("[data-code='login_throttled']").await;
    s.close().await;
}

macro_rules! browser_mail_test {
    ($name:ident, $journey:path) => {
        mod $name {
            use super::*;

            async fn run(backend: Backend) {
                if skipped() {
                    eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
                    return;
                }
                let sink = SmtpSink::start().await;
                let app = app_with_mail(TestDb::new(backend).await, &sink).await;
                $journey(app, sink).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::harness::postgres_skipped() {
                    return;
                }
                run(Backend::Postgres).await;
            }
        }
    };
}

/// The usage packages form: from "My products" to saved definitions, and a bad quota shown
/// again as typed with the reason.
async fn packages_journey(app: TestApp, _sink: SmtpSink) {
    let pm = crate::metering_packages::package_market(&app, fixture::Proto::V2).await;
    let (sms, mms, bundle) = (pm.sku("sms"), pm.sku("mms"), pm.sku("bundle"));
    login_for(&app, &pm.m.seller_id, "ops@acme-sms.example").await;
    let driver = driver().await;
    let s = Session {
        app: &app,
        c: browser(&driver).await,
        shots: false,
    };
    s.login("ops@acme-sms.example").await;
    s.submit(".product-packages").await;
    s.wait_for("#save-packages").await;
    let field = |kind: &str, rest: &str| format!("[name='{kind}.{rest}']");
    s.fill(&field("quota", &format!("{sms}.{sms}")), "100")
        .await;
    s.fill(&field("validity", sms), "12").await;
    s.fill(&field("quota", &format!("{bundle}.{sms}")), "50")
        .await;
    s.fill(&field("quota", &format!("{bundle}.{mms}")), "20")
        .await;
    let reset =
        s.c.find(Locator::Css(&field("reset", bundle)))
            .await
            .unwrap();
    reset.select_by_value("monthly").await.unwrap();
    s.submit("#save-packages").await;
    s.wait_for("#saved").await;
    let defined = app
        .get(
            &format!("/v1/products/{}/usage-packages", pm.m.product_id),
            &pm.m.seller_key,
        )
        .await;
    assert_eq!(defined.body["packages"].as_array().unwrap().len(), 2);
    // A quota that is not a number: the form again, as typed, with the reason.
    s.fill(&field("quota", &format!("{sms}.{sms}")), "plenty")
        .await;
    s.submit("#save-packages").await;
    s.wait_for("[data-code='invalid_field']").await;
    let typed = s
        .wait_for(&field("quota", &format!("{sms}.{sms}")))
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(typed.as_deref(), Some("plenty"));
    let after = app
        .get(
            &format!("/v1/products/{}/usage-packages", pm.m.product_id),
            &pm.m.seller_key,
        )
        .await;
    assert_eq!(after.body, defined.body);
    s.close().await;
}

browser_mail_test!(
    in_chromium_a_seller_defines_usage_packages,
    packages_journey
);

browser_mail_test!(
    in_chromium_a_seller_lists_a_product_tests_its_endpoint_and_retries_a_failed_call,
    seller_journey
);
