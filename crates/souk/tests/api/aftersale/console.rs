//! The after-sale console pages over plain HTTP on both backends: the buyer, the seller and
//! the operator walk a supervised order (requirement, confirmation, implementation, proof,
//! rejection, appeal, resolution, acceptance) and a negotiated refund through the forms; out of
//! turn, strangers, a missing CSRF token and bad amounts get readable pages; evidence downloads.

use super::*;
use crate::console_support::{login_for, operator_id, Web, PASSWORD};

pub(super) async fn logged_in<'a>(app: &'a TestApp, party: &str, email: &str) -> Web<'a> {
    login_for(app, party, email).await;
    let web = Web::new(app);
    let r = web.login(email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    web
}

/// Submits a form of the order's page and expects the redirect back to it.
pub(super) async fn step(web: &Web<'_>, order: &str, path: &str, form: &[(&str, &str)]) {
    let page = format!("/aftersale/orders/{order}");
    let r = web.submit(&page, &format!("{page}{path}"), form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{form:?}: {}", r.text);
}

backend_test!(
    the_three_parties_walk_supervision_and_a_refund_through_the_console,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        let page = format!("/aftersale/orders/{id}");
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let op = logged_in(&app, &operator_id(&app).await, "ops@example.com").await;

        // The buyer's task list and order list lead to the order; it waits for the buyer.
        let tasks = buyer.get("/aftersale").await;
        assert_eq!(tasks.status, StatusCode::OK, "{}", tasks.text);
        let turn = &tasks.text[tasks.text.find("id=\"my-turn\"").expect("my turn")..];
        assert!(turn.contains(&id), "{}", tasks.text);
        assert!(buyer.get("/buyer/orders").await.text.contains(&page));
        let p = buyer.get(&page).await;
        assert!(
            p.text.contains("id=\"form-submit-requirement\""),
            "{}",
            p.text
        );
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "submit_requirement"),
                ("requirement", "A bilingual shop site"),
            ],
        )
        .await;

        // Out of turn: a readable page naming the node, not JSON.
        let r = buyer
            .submit(
                &page,
                &format!("{page}/act"),
                &[("action", "confirm_requirement")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(
            r.text.contains("<html") && r.text.contains("confirm_requirement"),
            "{}",
            r.text
        );
        // Without the form's token: refused.
        let r = seller
            .post(&format!("{page}/act"), &[("action", "confirm_requirement")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

        let seller_tasks = seller.get("/aftersale").await.text;
        assert!(seller_tasks[seller_tasks.find("id=\"my-turn\"").unwrap()..].contains(&id));
        step(&seller, &id, "/act", &[("action", "confirm_requirement")]).await;
        step(&seller, &id, "/act", &[("action", "implement")]).await;
        // Evidence refers to an uploaded attachment; the console downloads it.
        let up = app
            .send(
                app.http
                    .post(app.url(&format!("/v1/orders/{id}/attachments?filename=report.txt")))
                    .bearer_auth(&m.seller_key)
                    .header("content-type", "text/plain")
                    .body("signed acceptance report"),
            )
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
        let file = up.body["id"].as_str().unwrap().to_owned();
        step(
            &seller,
            &id,
            "/act",
            &[
                ("action", "deliver_proof"),
                ("evidence_kind", "acceptance_report"),
                ("evidence_description", "Site live, report signed"),
            ],
        )
        .await;
        let dl = buyer.get(&format!("{page}/attachments/{file}")).await;
        assert_eq!(dl.status, StatusCode::OK);
        assert_eq!(dl.text, "signed acceptance report");
        assert!(dl.headers.get("x-souk-sha256").is_some());
        let (stranger_id, _) = app.party("buyers", "Stranger").await;
        let stranger = logged_in(&app, &stranger_id, "stranger@example.com").await;
        assert_eq!(
            stranger
                .get(&format!("{page}/attachments/{file}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(stranger.get(&page).await.status, StatusCode::NOT_FOUND);

        // The buyer rejects (a reason is needed), then appeals; the operator's queue shows it.
        let p = buyer.get(&page).await;
        assert!(p.text.contains("id=\"form-accept\""), "{}", p.text);
        let r = buyer
            .submit(
                &page,
                &format!("{page}/act"),
                &[("action", "reject_delivery")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "reject_delivery"),
                ("reason", "The checkout page fails"),
            ],
        )
        .await;
        step(&seller, &id, "/act", &[("action", "implement")]).await;
        step(
            &seller,
            &id,
            "/act",
            &[
                ("action", "deliver_proof"),
                ("evidence_kind", "screenshot"),
                ("evidence_description", "Checkout fixed"),
            ],
        )
        .await;
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "appeal"),
                ("reason", "Still slow"),
                ("demand", "Faster pages"),
            ],
        )
        .await;
        let queue = op.get("/aftersale").await.text;
        assert!(
            queue[queue.find("id=\"appeals\"").expect("appeals queue")..].contains(&id),
            "{queue}"
        );
        let p = op.get(&page).await;
        assert!(
            p.text.contains("id=\"form-resolve\"") && p.text.contains("id=\"sv-appeal\""),
            "{}",
            p.text
        );
        step(
            &op,
            &id,
            "/act",
            &[
                ("action", "resolve_appeal"),
                ("outcome", "dismiss"),
                ("reason", "Pages load within the agreed time"),
            ],
        )
        .await;
        step(&buyer, &id, "/act", &[("action", "accept")]).await;
        let p = buyer.get(&page).await;
        assert!(p.text.contains("id=\"sv-accepted\""), "{}", p.text);
        assert!(
            p.text.contains("id=\"order-state\">completed<"),
            "{}",
            p.text
        );
        for action in [
            "submit_requirement",
            "confirm_requirement",
            "deliver_proof",
            "reject_delivery",
            "appeal",
            "resolve_appeal",
            "accept",
        ] {
            assert!(
                p.text.contains(&format!("class=\"log-action\">{action}<")),
                "{action}: {}",
                p.text
            );
        }
        // 简体中文.
        let zh = buyer.get(&format!("{page}?lang=zh")).await;
        assert!(
            zh.text.contains("操作记录") && zh.text.contains("售后"),
            "{}",
            zh.text
        );

        // A negotiated refund on a second order: bad amount, rejection, a new request, approval.
        let order2 = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id2 = order2["id"].as_str().unwrap().to_owned();
        let page2 = format!("/aftersale/orders/{id2}");
        let r = buyer
            .submit(
                &page2,
                &format!("{page2}/refunds"),
                &[("kind", "negotiated"), ("amount", "1.234"), ("reason", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = buyer
            .submit(
                &page2,
                &format!("{page2}/refunds"),
                &[("kind", "negotiated"), ("amount", "9999"), ("reason", "x")],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "over the paid amount: {}",
            r.text
        );
        step(
            &buyer,
            &id2,
            "/refunds",
            &[
                ("kind", "negotiated"),
                ("amount", "50.00"),
                ("reason", "Requirements changed"),
            ],
        )
        .await;
        let st = seller.get("/aftersale").await.text;
        assert!(st.contains("Refund request pending"), "{st}");
        step(
            &seller,
            &id2,
            "/refunds/decision",
            &[("decision", "reject"), ("opinion", "Work has started")],
        )
        .await;
        step(
            &buyer,
            &id2,
            "/refunds",
            &[
                ("kind", "negotiated"),
                ("amount", "50.00"),
                ("reason", "Requirements changed, half done"),
            ],
        )
        .await;
        step(
            &seller,
            &id2,
            "/refunds/decision",
            &[("decision", "approve"), ("opinion", "Agreed by phone")],
        )
        .await;
        let p = buyer.get(&page2).await.text;
        assert!(
            p.contains("class=\"refund-state\">rejected<")
                && p.contains("class=\"refund-state\">refunded<"),
            "{p}"
        );
        assert!(p.contains("id=\"order-state\">refunded<"), "{p}");
        let refunds = app
            .get(&format!("/v1/orders/{id2}/refunds"), &m.buyer_key)
            .await;
        assert_eq!(
            refunds.body["data"][1]["amount"]["amount_minor"], 5000,
            "{}",
            refunds.text
        );
    }
);
