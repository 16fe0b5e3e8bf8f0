//! The platform's fee invoice to a seller (business rules §10 row 4) through real HTTP on both
//! backends: two months settled and paid through the statement workflow, a refund in the second
//! → the seller requests one invoice over both periods (the refund's fee netted, hand-computed)
//! → refusals (unpaid, covered, two currencies, no tax id, nothing to invoice) → the operator
//! rejects → requested again → issued with a file → downloaded with the same sha256 → voided →
//! requestable again; strangers see nothing; the console requests and issues one.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use crate::settlement::{advance_to, statements, submit_invoice, transition, ZONE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use time::Duration;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Moves statement `id` through the workflow to `paid`.
pub(crate) async fn pay(app: &TestApp, seller_key: &str, id: &str) {
    let op = app.operator_key.clone();
    let r = transition(app, &op, id, json!({"action": "countersign"})).await;
    assert_eq!(r.body["state"], "awaiting_invoice", "{}", r.text);
    let r = submit_invoice(app, seller_key, id, &format!("044-{}", &id[id.len() - 6..])).await;
    assert_eq!(r.body["state"], "invoice_review", "{}", r.text);
    let r = transition(app, &op, id, json!({"action": "approve_invoice"})).await;
    assert_eq!(r.body["state"], "payment_review", "{}", r.text);
    let r = transition(app, &op, id, json!({"action": "pay"})).await;
    assert_eq!(r.body["state"], "paid", "{}", r.text);
}

pub(crate) async fn issue(app: &TestApp, key: &str, id: &str, bytes: Vec<u8>) -> Reply {
    app.send(
        app.http
            .post(app.url(&format!(
                "/v1/fee-invoices/{id}/issue?invoice_number=26332000000123456789&filename=fee.pdf"
            )))
            .bearer_auth(key)
            .header("content-type", "application/pdf")
            .body(bytes),
    )
    .await
}

fn special(ids: &[&str]) -> Value {
    json!({"statement_ids": ids, "invoice_type": "digital_special", "title": "Acme Seller Ltd",
        "tax_id": "91330106MA2H2K3X4Y", "email": "ap@seller.example"})
}

async fn buy_completed(app: &TestApp, m: &Market, quantity: u32) -> String {
    let order = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": quantity}),
        )
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    m.wait_order(app, &id, "completed").await;
    id
}

async fn id_of(app: &TestApp, key: &str, period: &Period, currency: &str) -> String {
    statements(app, key, period)
        .await
        .iter()
        .find(|s| s["currency"] == currency)
        .unwrap_or_else(|| panic!("no {currency} statement for {}", period.id()))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Month M: a 30.00 sale; M+1: a 20.00 sale, the operator's 10.00 refund of the first and a
/// USD 5.00 correction (no fee); the runs on day 7 of M+1 and M+2. Returns (seller market,
/// M's statement, M+1's CNY statement, M+1's USD statement), none paid yet.
pub(crate) async fn two_settled_months(app: &TestApp) -> (Market, String, String, String) {
    let m = market(app, Proto::V2, example_seller(app, |_| {}).await).await;
    top_up(app, &m.buyer_id, 1_000_000).await;
    let month = Period::containing(app.clock.now(), ZONE).next();
    advance_to(app, month.start(ZONE) + Duration::days(1)).await;
    let first = buy_completed(app, &m, 3).await;
    advance_to(app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
    let s1 = id_of(app, &m.seller_key, &month, "CNY").await;

    buy_completed(app, &m, 2).await;
    for body in [
        json!({"seller_id": m.seller_id, "kind": "refund", "order_id": first,
            "amount": {"amount_minor": -1_000, "currency": "CNY"}, "reason": "refund after settlement"}),
        json!({"seller_id": m.seller_id, "kind": "adjustment",
            "amount": {"amount_minor": 500, "currency": "USD"}, "reason": "verified dispute"}),
    ] {
        let r = app
            .post("/v1/settlement/adjustments", &app.operator_key, body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let next = month.next();
    advance_to(app, next.run_at(7, ZONE) + Duration::minutes(1)).await;
    let s2 = id_of(app, &m.seller_key, &next, "CNY").await;
    let usd = id_of(app, &m.seller_key, &next, "USD").await;
    (m, s1, s2, usd)
}

backend_test!(
    a_fee_invoice_covers_two_paid_periods_nets_the_refund_and_is_issued_and_downloaded,
    |app: TestApp| async move {
        let (m, s1, s2, usd) = two_settled_months(&app).await;
        let seller = m.seller_key.clone();
        let op = app.operator_key.clone();
        // The statements say what the invoice will: 5 % of 30.00; 5 % of 20.00 − 5 % of 10.00.
        let fee = |id: String| {
            let app = &app;
            async move {
                let r = app
                    .get(&format!("/v1/statements/{id}"), &app.operator_key)
                    .await;
                r.body["totals"]["platform_fee_minor"].as_i64().unwrap()
            }
        };
        assert_eq!(fee(s1.clone()).await, 150);
        assert_eq!(fee(s2.clone()).await, 50);

        pay(&app, &seller, &s1).await;
        // The second month is not paid yet.
        app.post("/v1/fee-invoices", &seller, special(&[&s1, &s2]))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        pay(&app, &seller, &s2).await;
        pay(&app, &seller, &usd).await;

        // Refusals: two currencies, a special invoice without a tax id, nothing to invoice (the
        // USD month is a correction without fee), someone else's or a buyer.
        app.post("/v1/fee-invoices", &seller, special(&[&s1, &usd]))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let mut no_tax_id = special(&[&s1, &s2]);
        no_tax_id["tax_id"] = Value::Null;
        app.post("/v1/fee-invoices", &seller, no_tax_id)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        app.post("/v1/fee-invoices", &seller, special(&[&usd]))
            .await
            .assert_error(StatusCode::CONFLICT, "not_invoiceable");
        let (_, other_seller) = app.party("sellers", "Other Seller").await;
        app.post("/v1/fee-invoices", &other_seller, special(&[&s1]))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post("/v1/fee-invoices", &m.buyer_key, special(&[&s1]))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // One invoice over both periods: 150 + 100 − 50 = 200 (2.00 CNY).
        let r = app
            .post("/v1/fee-invoices", &seller, special(&[&s1, &s2]))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            r.body["amount"],
            json!({"amount_minor": 200, "currency": "CNY"})
        );
        assert_eq!(r.body["statement_ids"], json!([s1, s2]));
        assert_eq!(r.body["state"], "requested");
        let first = r.body["id"].as_str().unwrap().to_owned();
        // A covered statement cannot be requested again, alone or with others.
        app.post("/v1/fee-invoices", &seller, special(&[&s2]))
            .await
            .assert_error(StatusCode::CONFLICT, "fee_invoice_exists");

        // The operator's queue; strangers see nothing.
        let queue = app.get("/v1/fee-invoices?state=requested", &op).await;
        assert_eq!(
            queue.body["data"][0]["id"],
            first.as_str(),
            "{}",
            queue.text
        );
        let none = app.get("/v1/fee-invoices", &other_seller).await;
        assert_eq!(none.body["data"], json!([]), "{}", none.text);
        app.get(&format!("/v1/fee-invoices/{first}"), &other_seller)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get("/v1/fee-invoices", &m.buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Only the operator acts; a rejection needs a reason; then the statements are free.
        let act = |key: &str, id: &str, body: Value| {
            let (key, path) = (key.to_owned(), format!("/v1/fee-invoices/{id}/actions"));
            let app = &app;
            async move { app.post(&path, &key, body).await }
        };
        act(
            &seller,
            &first,
            json!({"action": "reject", "reason": "mine"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        act(&op, &first, json!({"action": "reject"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        act(
            &op,
            &first,
            json!({"action": "void", "reason": "not issued"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "fee_invoice_state");
        let r = act(
            &op,
            &first,
            json!({"action": "reject", "reason": "title misspelt"}),
        )
        .await;
        assert_eq!(r.body["state"], "rejected", "{}", r.text);
        issue(&app, &op, &first, b"%PDF late".to_vec())
            .await
            .assert_error(StatusCode::CONFLICT, "fee_invoice_state");

        let mut general = special(&[&s1, &s2]);
        general["invoice_type"] = json!("digital_general");
        general["tax_id"] = Value::Null;
        let r = app.post("/v1/fee-invoices", &seller, general).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["amount"]["amount_minor"], 200);
        let second = r.body["id"].as_str().unwrap().to_owned();

        // Issued with the file; the seller downloads the same bytes.
        let pdf: Vec<u8> = b"%PDF-1.7 platform fee invoice ".repeat(400);
        issue(&app, &seller, &second, pdf.clone())
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let r = issue(&app, &op, &second, pdf.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["state"], "issued");
        assert_eq!(r.body["invoice_number"], "26332000000123456789");
        assert_eq!(r.body["sha256"], sha256_hex(&pdf));
        for key in [&seller, &op] {
            let got = app
                .http
                .get(app.url(&format!("/v1/fee-invoices/{second}/file")))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), StatusCode::OK);
            assert_eq!(got.headers()["x-souk-sha256"], sha256_hex(&pdf).as_str());
            assert_eq!(sha256_hex(&got.bytes().await.unwrap()), sha256_hex(&pdf));
        }
        app.get(&format!("/v1/fee-invoices/{second}/file"), &other_seller)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/v1/fee-invoices/{first}/file"), &seller)
            .await
            .assert_error(StatusCode::CONFLICT, "fee_invoice_state");
        let kinds: Vec<String> = app.get("/v1/messages", &seller).await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            kinds.contains(&"fee_invoice_rejected".to_owned()),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&"fee_invoice_issued".to_owned()),
            "{kinds:?}"
        );

        // Voided (with a reason): the statements may be requested again.
        act(&op, &second, json!({"action": "void"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let r = act(
            &op,
            &second,
            json!({"action": "void", "reason": "wrong title"}),
        )
        .await;
        assert_eq!(r.body["state"], "voided", "{}", r.text);
        let r = app
            .post("/v1/fee-invoices", &seller, special(&[&s2, &s1]))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["statement_ids"], json!([s2, s1]));
        let mine = app.get("/v1/fee-invoices", &seller).await;
        let states: Vec<&str> = mine.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["rejected", "voided", "requested"], "{}", mine.text);

        // The reproducibility check agrees with every fee invoice, and finds one whose amount
        // was changed behind the system's back.
        let third = r.body["id"].as_str().unwrap().to_owned();
        let check = app.get("/v1/settlement/check", &op).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&app.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE fee_invoices SET amount_minor = 201 WHERE id = $1")
            .bind(&third)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        let check = app.get("/v1/settlement/check", &op).await;
        let found = check.body["discrepancies"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{}", check.text);
        assert_eq!(found[0]["subject"], third.as_str());
        assert_eq!(found[0]["stored"], "201");
        assert_eq!(found[0]["recomputed"], "200");
    }
);

backend_test!(
    the_console_requests_a_fee_invoice_over_paid_statements_and_the_operator_issues_and_voids_it,
    |app: TestApp| async move {
        use crate::console_support::*;
        let (m, s1, s2, _) = two_settled_months(&app).await;
        pay(&app, &m.seller_key, &s1).await;
        pay(&app, &m.seller_key, &s2).await;
        login_for(&app, &m.seller_id, "seller@fee.example").await;
        let op_id = operator_id(&app).await;
        login_for(&app, &op_id, "ops@fee.example").await;
        let (seller, op) = (Web::new(&app), Web::new(&app));
        seller.login("seller@fee.example", PASSWORD).await;
        op.login("ops@fee.example", PASSWORD).await;

        // From the statements page to the request form, in Chinese too.
        let list = seller.get("/seller/statements").await;
        assert!(
            list.text.contains("id=\"fee-invoices-link\""),
            "{}",
            list.text
        );
        let page = seller.get("/fee-invoices?lang=zh").await;
        assert!(page.text.contains("数电专票"), "{}", page.text);
        assert!(page.text.contains(&format!("pick-{s1}")), "{}", page.text);
        assert!(page.text.contains(&format!("pick-{s2}")), "{}", page.text);

        // Nothing ticked: a readable refusal, nothing written.
        let details = [
            ("invoice_type", "digital_special"),
            ("title", "Acme Seller Ltd"),
            ("tax_id", "91330106MA2H2K3X4Y"),
            ("email", "ap@seller.example"),
        ];
        let r = seller
            .submit("/fee-invoices", "/fee-invoices", &details)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("paid statements"), "{}", r.text);
        let mut form = vec![("statement_id", s1.as_str()), ("statement_id", s2.as_str())];
        form.extend_from_slice(&details);
        let r = seller.submit("/fee-invoices", "/fee-invoices", &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let mine = app.get("/v1/fee-invoices", &m.seller_key).await;
        let id = mine.body["data"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(mine.body["data"][0]["amount"]["amount_minor"], 200);
        let page = seller.get("/fee-invoices").await;
        assert!(
            page.text.contains("id=\"nothing-requestable\""),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("data-state=\"requested\""),
            "{}",
            page.text
        );

        // The operator's queue; issuing without the CSRF token does nothing.
        let queue = op.get("/fee-invoices?state=requested").await;
        assert!(
            queue.text.contains(&format!("fee-invoice-{id}")),
            "{}",
            queue.text
        );
        let pdf: Vec<u8> = b"%PDF-1.7 console fee invoice ".repeat(100);
        let issue = format!("/fee-invoices/{id}/issue");
        // Without the CSRF token, as the seller, as the operator: only the last one issues.
        for (web, csrf, want) in [
            (&op, false, StatusCode::FORBIDDEN),
            (&seller, true, StatusCode::FORBIDDEN),
            (&op, true, StatusCode::SEE_OTHER),
        ] {
            let r = web
                .submit_file(
                    "/fee-invoices",
                    &issue,
                    &[("invoice_number", "26332000000000000001")],
                    ("fee.pdf", "application/pdf", &pdf),
                    csrf,
                )
                .await;
            assert_eq!(r.status, want, "{}", r.text);
        }
        let got = seller.get(&format!("/fee-invoices/{id}/file")).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(sha256_hex(got.text.as_bytes()), sha256_hex(&pdf));
        let issued = op.get("/fee-invoices?state=issued").await;
        assert!(
            issued.text.contains("26332000000000000001"),
            "{}",
            issued.text
        );

        // Voided by the form (a reason is required): the seller may request again.
        let act = format!("/fee-invoices/{id}/act");
        let r = op
            .submit("/fee-invoices", &act, &[("action", "void"), ("reason", "")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = op
            .submit(
                "/fee-invoices",
                &act,
                &[("action", "void"), ("reason", "wrong title")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let after = app
            .get(&format!("/v1/fee-invoices/{id}"), &m.seller_key)
            .await;
        assert_eq!(after.body["state"], "voided", "{}", after.text);
        let page = seller.get("/fee-invoices").await;
        assert!(page.text.contains(&format!("pick-{s1}")), "{}", page.text);
        assert!(page.text.contains("wrong title"), "{}", page.text);
    }
);
