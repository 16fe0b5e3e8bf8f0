//! E-mail for after-sale steps: every notice that waits for a person (supervision, appeals,
//! refunds, the review timer) goes through the mail outbox to the party's console logins, in
//! their language, through the real SMTP sink on loopback.

use super::*;
use crate::console_support::{login_for, Web, PASSWORD};
use crate::mail_support::{app_with_mail, SmtpSink, PUBLIC_URL};

async fn run(backend: crate::harness::Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(TestDb::new(backend).await, &sink).await;
    let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
    login_for(&app, &m.buyer_id, "it@buyer.example").await;
    login_for(&app, &m.seller_id, "ops@acme.example").await;
    // The seller's person reads Chinese: their mails are in Chinese.
    let web = Web::new(&app);
    web.get("/login?lang=zh").await;
    let r = web.login("ops@acme.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    let sku = listed(&app, &m, "manual_service", json!({})).await;
    let order = m
        .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
        .await;
    let order = order["id"].as_str().unwrap().to_owned();
    app.drain().await;
    // Paid: the buyer is asked for the requirement.
    let buyer = sink.mails_to("it@buyer.example");
    let ask = buyer
        .iter()
        .find(|m| m.body.contains("submit your requirements"))
        .unwrap_or_else(|| panic!("{buyer:#?}"));
    assert!(ask.subject.contains(&order), "{}", ask.subject);
    assert!(ask.body.contains(PUBLIC_URL), "{}", ask.body);

    // The requirement: the seller is asked to confirm, in Chinese.
    act(
        &app,
        &m.buyer_key,
        &order,
        json!({"action": "submit_requirement", "requirement": "A shop site"}),
    )
    .await;
    app.drain().await;
    let with = |to: &str, what: &str| {
        sink.mails_to(to)
            .iter()
            .filter(|m| m.subject.contains(what))
            .count()
    };
    assert_eq!(with("ops@acme.example", "服务监管进展"), 1);

    // A refund request the seller leaves alone: asked, then reminded by the review timer.
    let r = app
        .post(
            &format!("/v1/orders/{order}/refunds"),
            &m.buyer_key,
            json!({"kind": "negotiated", "amount": {"amount_minor": 5000, "currency": "CNY"}, "reason": "Changed plans"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.drain().await;
    assert_eq!(with("ops@acme.example", "退款进展"), 1);
    assert_eq!(with("ops@acme.example", "退款审核提醒"), 0);
    app.advance(Duration::days(8)).await;
    assert_eq!(with("ops@acme.example", "退款审核提醒"), 1);
    // The seller rejects: the buyer hears it.
    let d = app
        .post(
            &format!("/v1/orders/{order}/refunds/decision"),
            &m.seller_key,
            json!({"decision": "reject", "opinion": "Work has started"}),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    app.drain().await;
    let buyer = sink.mails_to("it@buyer.example");
    assert!(
        buyer.iter().any(|m| m.body.contains("Work has started")),
        "{buyer:#?}"
    );
    // Nothing is mailed twice.
    let total = sink.mails().len();
    app.drain().await;
    assert_eq!(sink.mails().len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sale_steps_are_mailed_to_the_party_that_must_act_sqlite() {
    run(crate::harness::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sale_steps_are_mailed_to_the_party_that_must_act_postgres() {
    if crate::harness::postgres_skipped() {
        return;
    }
    run(crate::harness::Backend::Postgres).await;
}
