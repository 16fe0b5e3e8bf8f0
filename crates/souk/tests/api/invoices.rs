//! Invoices a seller issues its buyer (business rules §10 row 1) through real HTTP on both
//! backends: request → issue (file in the blob store) → download with the same bytes → refund
//! refused while the invoice stands → void → refund allowed; rejection with a reason; the
//! overdue flag by the injected clock; strangers see nothing.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A completed order of `m`'s basic SKU (1,000 minor units a month).
async fn completed_order(app: &TestApp, m: &Market) -> String {
    let order = m
        .buy(app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    m.wait_order(app, &id, "completed").await;
    id
}

async fn request(app: &TestApp, key: &str, order: &str, body: Value) -> Reply {
    app.post(&format!("/v1/orders/{order}/invoices"), key, body)
        .await
}

async fn act(app: &TestApp, key: &str, invoice: &str, body: Value) -> Reply {
    app.post(&format!("/v1/invoices/{invoice}/actions"), key, body)
        .await
}

async fn message_kinds(app: &TestApp, key: &str) -> Vec<String> {
    let r = app.get("/v1/messages", key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn general() -> Value {
    json!({"invoice_type": "general", "title": "Buyer Ltd", "tax_id": "91330106MA2H2K3X4Y",
        "email": "ap@buyer.example"})
}

backend_test!(
    an_issued_invoice_is_downloaded_and_blocks_refunds_until_voided,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = completed_order(&app, &m).await;
        let (_, stranger) = app.party("buyers", "Stranger").await;
        let hidden = request(&app, &stranger, &order, general()).await;
        hidden.assert_error(StatusCode::NOT_FOUND, "not_found");
        let mut special = general();
        special["invoice_type"] = json!("special");
        let undeclared = request(&app, &m.buyer_key, &order, special).await;
        undeclared.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let r = request(&app, &m.buyer_key, &order, general()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["state"], "requested");
        assert_eq!(
            r.body["amount"],
            json!({"amount_minor": 1000, "currency": "CNY"})
        );
        assert_eq!(r.body["overdue"], false);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let again = request(&app, &m.buyer_key, &order, general()).await;
        again.assert_error(StatusCode::CONFLICT, "invoice_exists");
        assert!(message_kinds(&app, &m.seller_key)
            .await
            .contains(&"invoice_requested".to_owned()));

        // Access: its buyer and seller see it; another seller, another buyer do not.
        let (_, other_seller) = app.party("sellers", "Other Seller").await;
        for key in [&stranger, &other_seller] {
            let hidden = app.get(&format!("/v1/invoices/{id}"), key).await;
            hidden.assert_error(StatusCode::NOT_FOUND, "not_found");
            let listed = app.get("/v1/invoices", key).await;
            assert_eq!(listed.body["data"], json!([]), "{}", listed.text);
        }
        let foreign = act(
            &app,
            &other_seller,
            &id,
            json!({"action": "reject", "reason": "no"}),
        )
        .await;
        foreign.assert_error(StatusCode::NOT_FOUND, "not_found");
        let by_buyer = act(&app, &m.buyer_key, &id, json!({"action": "void"})).await;
        by_buyer.assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Issue: no file yet is refused; upload it to the order, then issue with its number.
        let no_file = act(
            &app,
            &m.seller_key,
            &id,
            json!({"action": "issue", "invoice_number": "044002300111-20261208", "attachment_id": "att_none"}),
        )
        .await;
        no_file.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let pdf: Vec<u8> = (0..70_000u32).map(|i| (i % 241) as u8).collect();
        let up = app
            .send(
                app.http
                    .post(app.url(&format!(
                        "/v1/orders/{order}/attachments?filename=invoice.pdf"
                    )))
                    .bearer_auth(&m.seller_key)
                    .header("content-type", "application/pdf")
                    .body(pdf.clone()),
            )
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
        let att = up.body["id"].as_str().unwrap();
        let issued = act(
            &app,
            &m.seller_key,
            &id,
            json!({"action": "issue", "invoice_number": "044002300111-20261208", "attachment_id": att}),
        )
        .await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        assert_eq!(issued.body["state"], "issued");
        assert_eq!(issued.body["invoice_number"], "044002300111-20261208");
        assert!(message_kinds(&app, &m.buyer_key)
            .await
            .contains(&"invoice_issued".to_owned()));
        let twice = act(
            &app,
            &m.seller_key,
            &id,
            json!({"action": "issue", "invoice_number": "X1", "attachment_id": att}),
        )
        .await;
        twice.assert_error(StatusCode::CONFLICT, "invoice_state");

        // Download: the same bytes, the recorded sha256.
        let got = app
            .http
            .get(app.url(issued.body["file"].as_str().unwrap()))
            .bearer_auth(&m.buyer_key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["x-souk-sha256"], sha256_hex(&pdf).as_str());
        assert_eq!(got.headers()["content-type"], "application/pdf");
        assert_eq!(sha256_hex(&got.bytes().await.unwrap()), sha256_hex(&pdf));
        let peek = app.get(&format!("/v1/invoices/{id}/file"), &stranger).await;
        peek.assert_error(StatusCode::NOT_FOUND, "not_found");

        // §4.1: no refund while the invoice stands; the seller voids it, then the refund goes.
        let refund = json!({"kind": "no_reason"});
        let refused = app
            .post(
                &format!("/v1/orders/{order}/refunds"),
                &m.buyer_key,
                refund.clone(),
            )
            .await;
        refused.assert_error(StatusCode::CONFLICT, "invoice_issued");
        let voided = act(
            &app,
            &m.seller_key,
            &id,
            json!({"action": "void", "reason": "buyer refunds"}),
        )
        .await;
        assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
        assert_eq!(voided.body["state"], "voided");
        assert_eq!(voided.body["file"], Value::Null);
        assert!(message_kinds(&app, &m.buyer_key)
            .await
            .contains(&"invoice_voided".to_owned()));
        let refunded = app
            .post(&format!("/v1/orders/{order}/refunds"), &m.buyer_key, refund)
            .await;
        assert_eq!(refunded.status, StatusCode::CREATED, "{}", refunded.text);
        assert_eq!(refunded.body["state"], "refunded");
        app.drain().await;
        // A refunded order is no longer invoiceable.
        let after = request(&app, &m.buyer_key, &order, general()).await;
        after.assert_error(StatusCode::CONFLICT, "not_invoiceable");
    }
);

backend_test!(
    a_rejected_request_can_be_made_again_and_a_late_one_is_flagged_overdue,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = completed_order(&app, &m).await;
        let first = request(&app, &m.buyer_key, &order, general()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let id = first.body["id"].as_str().unwrap();
        let bare = act(&app, &m.seller_key, id, json!({"action": "reject"})).await;
        bare.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let rejected = act(
            &app,
            &m.seller_key,
            id,
            json!({"action": "reject", "reason": "the tax id does not match the title"}),
        )
        .await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
        assert_eq!(rejected.body["state"], "rejected");
        assert_eq!(
            rejected.body["reason"],
            "the tax id does not match the title"
        );
        assert!(message_kinds(&app, &m.buyer_key)
            .await
            .contains(&"invoice_rejected".to_owned()));
        let void = act(&app, &m.seller_key, id, json!({"action": "void"})).await;
        void.assert_error(StatusCode::CONFLICT, "invoice_state");

        let second = request(&app, &m.buyer_key, &order, general()).await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
        let id2 = second.body["id"].as_str().unwrap();
        app.advance(Duration::days(7) - Duration::minutes(1)).await;
        let early = app.get(&format!("/v1/invoices/{id2}"), &m.seller_key).await;
        assert_eq!(early.body["overdue"], false, "{}", early.text);
        app.advance(Duration::minutes(2)).await;
        let late = app.get(&format!("/v1/invoices/{id2}"), &m.seller_key).await;
        assert_eq!(late.body["overdue"], true, "{}", late.text);
        assert_eq!(late.body["state"], "requested");
        let overdue = app
            .get("/v1/invoices?overdue=true", &app.operator_key)
            .await;
        let ids: Vec<&str> = overdue.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![id2], "{}", overdue.text);
        let kinds = message_kinds(&app, &m.seller_key).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "invoice_overdue").count(),
            1,
            "flagged once: {kinds:?}"
        );
        // A late invoice can still be issued... or rejected.
        let late_reject = act(
            &app,
            &m.seller_key,
            id2,
            json!({"action": "reject", "reason": "duplicate request"}),
        )
        .await;
        assert_eq!(late_reject.status, StatusCode::OK, "{}", late_reject.text);
    }
);

async fn upload_statement_invoice(
    app: &TestApp,
    key: &str,
    statement: &str,
    query: &str,
    bytes: Vec<u8>,
) -> Reply {
    app.send(
        app.http
            .post(app.url(&format!("/v1/statements/{statement}/invoices?{query}")))
            .bearer_auth(key)
            .header("content-type", "application/pdf")
            .body(bytes),
    )
    .await
}

backend_test!(
    a_statement_invoice_is_uploaded_rejected_and_accepted_in_the_statement_workflow,
    |app: TestApp| async move {
        use crate::settlement::{advance_to, detail, statements, transition, ZONE};
        use souk_core::clock::Clock;
        use souk_core::settlement::Period;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        completed_order(&app, &m).await;
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let st = statements(&app, &app.operator_key, &month).await[0].clone();
        let id = st["id"].as_str().unwrap().to_owned();
        let payable = st["totals"]["payable_minor"].as_i64().unwrap();
        assert!(payable > 0, "{st}");
        let op = app.operator_key.clone();
        let q = |amount: i64, rate: u32, number: &str| {
            format!(
                "invoice_number={number}&amount_minor={amount}&tax_rate_bp={rate}&filename=invoice.pdf"
            )
        };
        let first: Vec<u8> = b"%PDF-1.7 first invoice".repeat(500);
        // Not countersigned yet: no invoice.
        upload_statement_invoice(
            &app,
            &m.seller_key,
            &id,
            &q(payable, 600, "044-1"),
            first.clone(),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "statement_state");
        let r = transition(&app, &op, &id, json!({"action": "countersign"})).await;
        assert_eq!(r.body["state"], "awaiting_invoice", "{}", r.text);
        // Wrong amount, a second rate, someone else: refused, nothing moves.
        upload_statement_invoice(
            &app,
            &m.seller_key,
            &id,
            &q(payable - 1, 600, "044-1"),
            first.clone(),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        upload_statement_invoice(
            &app,
            &m.seller_key,
            &id,
            &q(payable, 700, "044-1"),
            first.clone(),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let (_, other_seller) = app.party("sellers", "Other Seller").await;
        upload_statement_invoice(
            &app,
            &other_seller,
            &id,
            &q(payable, 600, "044-1"),
            first.clone(),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        upload_statement_invoice(
            &app,
            &m.buyer_key,
            &id,
            &q(payable, 600, "044-1"),
            first.clone(),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.get(&format!("/v1/statements/{id}/invoices"), &other_seller)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(
            detail(&app, &m.seller_key, &id).await["state"],
            "awaiting_invoice"
        );

        // Upload → invoice review; the operator downloads the same bytes and rejects it.
        let up = upload_statement_invoice(
            &app,
            &m.seller_key,
            &id,
            &q(payable, 600, "044-1"),
            first.clone(),
        )
        .await;
        assert_eq!(up.status, StatusCode::OK, "{}", up.text);
        assert_eq!(up.body["state"], "invoice_review");
        assert_eq!(up.body["invoice_number"], "044-1");
        let got = app
            .http
            .get(app.url(&format!("/v1/statements/{id}/invoices/latest")))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["x-souk-sha256"], sha256_hex(&first).as_str());
        assert_eq!(sha256_hex(&got.bytes().await.unwrap()), sha256_hex(&first));
        let r = transition(
            &app,
            &op,
            &id,
            json!({"action": "reject_invoice", "reason": "stamp missing"}),
        )
        .await;
        assert_eq!(r.body["state"], "invoice_error", "{}", r.text);

        // A corrected invoice → review again → accepted → payment review.
        let second: Vec<u8> = b"%PDF-1.7 stamped invoice".repeat(500);
        let up = upload_statement_invoice(
            &app,
            &m.seller_key,
            &id,
            &q(payable, 600, "044-2"),
            second.clone(),
        )
        .await;
        assert_eq!(up.status, StatusCode::OK, "{}", up.text);
        assert_eq!(up.body["state"], "invoice_review");
        let list = app.get(&format!("/v1/statements/{id}/invoices"), &op).await;
        let files = list.body["data"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{}", list.text);
        assert_eq!(files[1]["invoice_number"], "044-2");
        assert_eq!(files[1]["amount"]["amount_minor"], payable);
        assert_eq!(files[1]["tax_rate_bp"], 600);
        assert_eq!(files[1]["sha256"], sha256_hex(&second));
        let r = transition(&app, &op, &id, json!({"action": "approve_invoice"})).await;
        assert_eq!(r.body["state"], "payment_review", "{}", r.text);
        let st = detail(&app, &m.seller_key, &id).await;
        let actions: Vec<&str> = st["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "statement.issued",
                "statement.countersign",
                "statement.submit_invoice",
                "statement.reject_invoice",
                "statement.submit_invoice",
                "statement.approve_invoice"
            ]
        );
        assert_eq!(
            st["history"][4]["detail"]["invoice_file"]["tax_rate_bp"],
            600
        );
    }
);

backend_test!(
    the_console_requests_issues_downloads_and_voids_an_invoice_and_uploads_a_statement_invoice,
    |app: TestApp| async move {
        use crate::console_support::*;
        use crate::settlement::{advance_to, ZONE};
        use souk_core::clock::Clock;
        use souk_core::settlement::Period;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        let order = completed_order(&app, &m).await;
        login_for(&app, &m.seller_id, "seller@example.com").await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        let (seller, buyer) = (Web::new(&app), Web::new(&app));
        seller.login("seller@example.com", PASSWORD).await;
        buyer.login("buyer@example.com", PASSWORD).await;

        // The buyer finds the link on its orders and requests a general invoice.
        let orders = buyer.get("/buyer/orders").await;
        assert!(
            orders.text.contains(&format!("/orders/{order}/invoice")),
            "{}",
            orders.text
        );
        let form = format!("/orders/{order}/invoice");
        let r = buyer
            .submit(
                &form,
                &form,
                &[
                    ("invoice_type", "general"),
                    ("title", "Buyer Ltd"),
                    ("tax_id", ""),
                    ("email", "ap@buyer.example"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let list = app.get("/v1/invoices", &m.buyer_key).await;
        let id = list.body["data"][0]["id"].as_str().unwrap().to_owned();
        let page = buyer.get("/invoices?lang=zh").await;
        assert!(page.text.contains("增值税普通发票"), "{}", page.text);
        assert!(
            page.text.contains("data-state=\"requested\""),
            "{}",
            page.text
        );

        // The seller issues it with the file; without the CSRF token nothing happens.
        let pdf: Vec<u8> = b"%PDF-1.7 console invoice".repeat(100);
        let issue = format!("/invoices/{id}/issue");
        let forged = seller
            .submit_file(
                "/invoices",
                &issue,
                &[("invoice_number", "044-9")],
                ("invoice.pdf", "application/pdf", &pdf),
                false,
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
        let r = seller
            .submit_file(
                "/invoices",
                &issue,
                &[("invoice_number", "044-9")],
                ("invoice.pdf", "application/pdf", &pdf),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let got = buyer.get(&format!("/invoices/{id}/file")).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(sha256_hex(got.text.as_bytes()), sha256_hex(&pdf));
        let stranger = Web::new(&app);
        let (other_id, _) = app.party("buyers", "Stranger").await;
        login_for(&app, &other_id, "stranger@example.com").await;
        stranger.login("stranger@example.com", PASSWORD).await;
        let peek = stranger.get(&format!("/invoices/{id}/file")).await;
        assert_eq!(peek.status, StatusCode::NOT_FOUND, "{}", peek.text);

        // The seller voids it by the form.
        let r = seller
            .submit(
                "/invoices",
                &format!("/invoices/{id}/act"),
                &[("action", "void"), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let after = app.get(&format!("/v1/invoices/{id}"), &m.buyer_key).await;
        assert_eq!(after.body["state"], "voided", "{}", after.text);

        // The statement: the seller uploads its invoice from the statement page.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        seller.login("seller@example.com", PASSWORD).await;
        let st = app.get("/v1/statements", &m.seller_key).await.body["data"][0].clone();
        let sid = st["id"].as_str().unwrap().to_owned();
        let payable = st["totals"]["payable_minor"].as_i64().unwrap().to_string();
        let r = app
            .post(
                &format!("/v1/statements/{sid}/transitions"),
                &app.operator_key,
                json!({"action": "countersign"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let here = format!("/statements/{sid}");
        let page = seller.get(&here).await;
        assert!(
            page.text.contains("id=\"statement-invoice\""),
            "{}",
            page.text
        );
        let r = seller
            .submit_file(
                &here,
                &format!("/statements/{sid}/invoice"),
                &[
                    ("invoice_number", "044-10"),
                    ("amount_minor", &payable),
                    ("tax_rate_bp", "600"),
                ],
                ("statement-invoice.pdf", "application/pdf", &pdf),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = seller.get(&here).await;
        assert!(
            page.text.contains("data-state=\"invoice_review\""),
            "{}",
            page.text
        );
        assert!(page.text.contains("044-10"), "{}", page.text);
        let file = seller.get(&format!("/statements/{sid}/invoice")).await;
        assert_eq!(sha256_hex(file.text.as_bytes()), sha256_hex(&pdf));
    }
);

backend_test!(
    an_operators_forced_refund_waits_until_the_seller_voids_the_issued_invoice,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = crate::aftersale::flagged_saas(&app, &m).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "active")
            .await;
        // Under supervision (processing): the buyer asks for an invoice and the seller issues it.
        let r = request(&app, &m.buyer_key, &id, general()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let invoice = r.body["id"].as_str().unwrap().to_owned();
        let up = app
            .send(
                app.http
                    .post(app.url(&format!("/v1/orders/{id}/attachments?filename=i.pdf")))
                    .bearer_auth(&m.seller_key)
                    .header("content-type", "application/pdf")
                    .body("%PDF-1.7 invoice"),
            )
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
        let issued = act(
            &app,
            &m.seller_key,
            &invoice,
            json!({"action": "issue",
            "invoice_number": "044002300111-1", "attachment_id": up.body["id"]}),
        )
        .await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);

        // The buyer appeals; the operator's forced refund is refused while the invoice stands,
        // and nothing changes: the appeal is still open, the order still processing.
        let appeal = app
            .post(
                &format!("/v1/orders/{id}/supervision/actions"),
                &m.buyer_key,
                json!({"action": "appeal", "reason": "The seller never answers", "demand": "Refund me"}),
            )
            .await;
        assert_eq!(appeal.status, StatusCode::OK, "{}", appeal.text);
        let resolve = json!({"action": "resolve_appeal", "outcome": "force_refund",
            "amount": {"amount_minor": 600, "currency": "CNY"}, "reason": "Seller unresponsive"});
        let path = format!("/v1/orders/{id}/supervision/actions");
        app.post(&path, &app.operator_key, resolve.clone())
            .await
            .assert_error(StatusCode::CONFLICT, "invoice_issued");
        assert_eq!(m.order(&app, &id).await["state"], "processing");
        let refunds = app
            .get(&format!("/v1/orders/{id}/refunds"), &m.buyer_key)
            .await;
        assert_eq!(refunds.body["data"], json!([]), "{}", refunds.text);

        // The seller voids (returns) the invoice; then the forced refund goes through.
        let voided = act(
            &app,
            &m.seller_key,
            &invoice,
            json!({"action": "void",
            "reason": "returned for the appeal's refund"}),
        )
        .await;
        assert_eq!(voided.status, StatusCode::OK, "{}", voided.text);
        let done = app.post(&path, &app.operator_key, resolve).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert_eq!(m.order(&app, &id).await["state"], "refunded");
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "released")
            .await;
    }
);
