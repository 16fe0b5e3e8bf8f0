//! The operator console over plain HTTP: the side-by-side review view, parties, the audit log,
//! health, the sandbox clock and fee policies; who may open them and that forms without their
//! CSRF token change nothing (the Chromium journey is in `browser_operator.rs`).

use crate::backend_test;
use crate::console_support::{location, login_for, operator_id, Web, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// The operator's console login, logged in.
pub(crate) async fn operator_web(app: &TestApp) -> Web<'_> {
    let operator = operator_id(app).await;
    login_for(app, &operator, "operator@souk.example").await;
    let web = Web::new(app);
    let r = web.login("operator@souk.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    web
}

/// A listed product of a new seller with a revision under review (a new price, a new edition
/// and a new description). Returns (product id, revision id).
pub(crate) async fn listed_with_revision(app: &TestApp) -> (String, String) {
    let (_, seller_key) = app.party("sellers", "Acme").await;
    let p = fixture::list_product(
        app,
        &seller_key,
        fixture::product_body("Acme Monitor", Proto::V2, "http://127.0.0.1:9/p"),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    let mut prices =
        fixture::product_body("Acme Monitor", Proto::V2, "http://127.0.0.1:9/p")["prices"].take();
    prices[0]["amount_minor"] = json!(1500);
    prices
        .as_array_mut()
        .unwrap()
        .push(json!({"sku": {"edition": "team"}, "billing_mode": "monthly", "amount_minor": 5000}));
    let r = app
        .send(
            app.http
                .patch(app.url(&format!("/v1/products/{id}")))
                .bearer_auth(&seller_key)
                .json(&json!({
                    "description": "Hosted monitoring, now with alerts.",
                    "enum_attributes": [{"name": "edition", "values": ["basic", "pro", "team"]}],
                    "prices": prices
                })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rev = r.body["pending_revision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, rev)
}

backend_test!(
    the_side_by_side_view_marks_what_a_revision_changes_and_approves_it,
    |app: TestApp| async move {
        let (id, rev) = listed_with_revision(&app).await;
        let web = operator_web(&app).await;
        let queue = web.get("/operator/reviews").await;
        assert!(
            queue
                .text
                .contains(&format!("href=\"/operator/reviews/{id}\"")),
            "{}",
            queue.text
        );
        let page = web.get(&format!("/operator/reviews/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let t = &page.text;
        // The description changed, the name did not; both versions are shown.
        assert!(
            t.contains("<tr class=\"changed\" data-field=\"description\">"),
            "{t}"
        );
        assert!(t.contains("<tr class=\"\" data-field=\"name\">"), "{t}");
        assert!(t.contains("Hosted monitoring for small teams.") && t.contains("now with alerts."));
        // SKUs: the basic monthly price moved, a team edition is new, pro is unchanged.
        assert!(
            t.contains("monthly ¥10.00") || t.contains("monthly 10.00"),
            "{t}"
        );
        assert!(t.contains("edition=team"), "{t}");
        assert!(t.contains(&rev), "{t}");
        assert!(
            t.contains("127.0.0.1:9"),
            "the integration profile is shown"
        );
        // In Chinese too.
        let zh = web.get(&format!("/operator/reviews/{id}?lang=zh")).await;
        assert!(zh.text.contains("当前在售") && zh.text.contains("已变更"));
        // Approving from this page goes through the same use case as the API.
        let r = web
            .submit(
                &format!("/operator/reviews/{id}"),
                &format!("/operator/reviews/{id}/decide"),
                &[
                    ("decision", "approve"),
                    ("revision_id", &rev),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), "/operator/reviews");
        let p = app
            .get(&format!("/v1/products/{id}"), &app.operator_key)
            .await;
        assert_eq!(p.body["description"], "Hosted monitoring, now with alerts.");
        // Nothing waits any more: the view is a readable 404.
        let gone = web.get(&format!("/operator/reviews/{id}")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
    }
);
