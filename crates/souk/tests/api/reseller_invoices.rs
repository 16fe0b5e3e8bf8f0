//! The reseller → platform invoice (business rules §10 row 5, §11, issue 12), both backends,
//! real HTTP, files in the blob store: the reseller's month → its statement on the 3rd with the
//! invoice notice → two VAT special invoices adding up to the payable → review → rejected with a
//! reason → uploaded again → approved → payment rejected → resubmitted → paid, with the ledger
//! and the reproducibility check; the refusals; the overdue flag from the timer pass; the
//! console pages of the reseller and the operator.

use crate::backend_test;
use crate::console_support::{login_for, operator_id, Web, PASSWORD};
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use crate::settlement::{advance_to, ZONE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reseller's month: one order through its offer link (9.50, share 10 %), settled on the
/// 3rd of the next month. The statement pays 0.95.
pub(crate) struct ResellerMonth {
    pub m: Market,
    pub reseller_id: String,
    pub reseller: String,
    pub statement: String,
}

pub(crate) const PAYABLE: i64 = 95;

pub(crate) async fn reseller_month(app: &TestApp) -> ResellerMonth {
    let m = market(app, Proto::V2, example_seller(app, |_| {}).await).await;
    top_up(app, &m.buyer_id, 100_000).await;
    let month = Period::containing(app.clock.now(), ZONE).next();
    advance_to(app, month.start(ZONE) + Duration::days(1)).await;
    let (reseller_id, reseller) = app.party("resellers", "Invoicing Partner").await;
    sell_through_offer(app, &m, &reseller_id, &reseller).await;
    advance_to(app, month.run_at(3, ZONE) + Duration::minutes(1)).await;
    let list = app.get("/v1/reseller-statements", &reseller).await;
    let statement = list.body["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no reseller statement: {}", list.text))
        .to_owned();
    ResellerMonth {
        m,
        reseller_id,
        reseller,
        statement,
    }
}

/// The seller authorises the reseller (share 10 %, up to 10 % off); the reseller's offer link
/// sells the market's basic SKU at 9.50 to the market's buyer. Returns the authorisation, the
/// offer and the (completed) order.
pub(crate) async fn sell_through_offer(
    app: &TestApp,
    m: &Market,
    reseller_id: &str,
    reseller: &str,
) -> (Value, Value, Value) {
    let auth = app
        .post(
            "/v1/reseller-authorisations",
            &m.seller_key,
            json!({"reseller_id": reseller_id, "product_id": m.product_id,
                   "share_bp": 1000, "max_discount_bp": 1000}),
        )
        .await;
    assert_eq!(auth.status, StatusCode::CREATED, "{}", auth.text);
    let until = app.clock.now() + Duration::days(400);
    let offer = app
        .post(
            "/v1/reseller-offers",
            reseller,
            json!({"sku_id": m.basic, "billing_mode": "monthly",
                   "unit_price": {"amount_minor": 950, "currency": "CNY"},
                   "valid_until": until.format(&Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{}", offer.text);
    let token = offer.body["token"].as_str().unwrap();
    let via = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "offer": token}),
        )
        .await;
    m.wait_order(app, via["id"].as_str().unwrap(), "completed")
        .await;
    (auth.body, offer.body, via)
}

/// Uploads one invoice file for a reseller statement.
pub(crate) async fn upload(
    app: &TestApp,
    key: &str,
    statement: &str,
    query: &str,
    bytes: &[u8],
) -> Reply {
    app.send(
        app.http
            .post(app.url(&format!(
                "/v1/reseller-statements/{statement}/invoices?{query}&filename=invoice.pdf"
            )))
            .bearer_auth(key)
            .header("content-type", "application/pdf")
            .body(bytes.to_vec()),
    )
    .await
}

fn q(number: &str, amount: i64, rate: u32) -> String {
    format!("invoice_number={number}&amount_minor={amount}&tax_rate_bp={rate}")
}

pub(crate) async fn act(app: &TestApp, key: &str, statement: &str, body: Value) -> Reply {
    app.post(
        &format!("/v1/reseller-statements/{statement}/transitions"),
        key,
        body,
    )
    .await
}

/// Invoices the whole payable in one invoice, gets it approved and paid (for the tests that
/// only need a paid reseller statement).
pub(crate) async fn invoice_and_pay(app: &TestApp, reseller: &str, statement: &str, payable: i64) {
    let up = upload(app, reseller, statement, &q("PAY-1", payable, 600), b"%PDF").await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    let op = app.operator_key.clone();
    for (key, action) in [
        (reseller, "submit_invoice"),
        (op.as_str(), "approve_invoice"),
        (op.as_str(), "pay"),
    ] {
        let r = act(app, key, statement, json!({"action": action})).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    }
}

async fn messages(app: &TestApp, key: &str) -> Vec<Value> {
    let r = app.get("/v1/messages", key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

fn of_kind<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["kind"] == kind).collect()
}

backend_test!(
    a_reseller_invoices_its_statement_through_review_rejection_and_payment,
    |app: TestApp| async move {
        let ResellerMonth {
            m,
            reseller,
            statement: rst,
            ..
        } = reseller_month(&app).await;
        let op = app.operator_key.clone();
        let path = format!("/v1/reseller-statements/{rst}");

        // Issued with the invoice notice: awaiting the invoices, due a month later.
        let st = app.get(&path, &reseller).await.body;
        assert_eq!(st["totals"]["payable_minor"], PAYABLE, "{st}");
        assert_eq!(st["state"], "awaiting_invoice", "{st}");
        assert_eq!(st["overdue"], false);
        let issued = OffsetDateTime::parse(st["issued_at"].as_str().unwrap(), &Rfc3339).unwrap();
        let due = OffsetDateTime::parse(st["invoice_due_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(due - issued >= Duration::days(28) && due - issued <= Duration::days(31));
        let notice = messages(&app, &reseller).await;
        let notice = of_kind(&notice, "reseller_statement_issued");
        assert_eq!(notice.len(), 1, "{notice:?}");
        assert!(
            notice[0]["body"]
                .as_str()
                .unwrap()
                .contains("VAT special invoices"),
            "{notice:?}"
        );

        // Nothing is paid without invoices; the wrong party and the wrong state are refused.
        app.post(&format!("{path}/pay"), &op, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        act(&app, &op, &rst, json!({"action": "approve_invoice"}))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        act(&app, &reseller, &rst, json!({"action": "pay"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        act(&app, &op, &rst, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        act(
            &app,
            &m.seller_key,
            &rst,
            json!({"action": "submit_invoice"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let (_, stranger) = app.party("resellers", "Other Partner").await;
        upload(&app, &stranger, &rst, &q("X-1", 50, 600), b"%PDF")
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        act(&app, &stranger, &rst, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        upload(&app, &m.seller_key, &rst, &q("X-1", 50, 600), b"%PDF")
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Invoice refusals: a general invoice, a rate not in `tax.rates`, more than the payable.
        let general = format!("{}&invoice_type=general", q("A-1", 60, 600));
        upload(&app, &reseller, &rst, &general, b"%PDF")
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        upload(&app, &reseller, &rst, &q("A-1", 60, 500), b"%PDF")
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        upload(&app, &reseller, &rst, &q("A-1", PAYABLE + 1, 600), b"%PDF")
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        act(&app, &reseller, &rst, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::CONFLICT, "invoice_total");

        // Two invoices adding up to the payable (one request, several invoices).
        let first = b"%PDF-1.7 invoice A-1".repeat(50);
        let a1 = upload(&app, &reseller, &rst, &q("A-1", 60, 600), &first).await;
        assert_eq!(a1.status, StatusCode::CREATED, "{}", a1.text);
        assert_eq!(a1.body["invoice_type"], "special");
        assert_eq!(a1.body["state"], "uploaded");
        upload(&app, &reseller, &rst, &q("A-1", 10, 600), b"%PDF")
            .await
            .assert_error(StatusCode::CONFLICT, "invoice_exists");
        act(&app, &reseller, &rst, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::CONFLICT, "invoice_total");
        let a2 = upload(
            &app,
            &reseller,
            &rst,
            &q("A-2", PAYABLE - 60, 300),
            b"%PDF A-2",
        )
        .await;
        assert_eq!(a2.status, StatusCode::CREATED, "{}", a2.text);
        let r = act(&app, &reseller, &rst, json!({"action": "submit_invoice"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["state"], "invoice_review");
        upload(&app, &reseller, &rst, &q("A-3", 1, 600), b"%PDF")
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");

        // The operator reads and downloads them, then rejects them with a reason.
        let list = app.get(&format!("{path}/invoices"), &op).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let states: Vec<&str> = list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["submitted", "submitted"], "{}", list.text);
        let a1_id = a1.body["id"].as_str().unwrap();
        let file = app
            .send(
                app.http
                    .get(app.url(&format!("{path}/invoices/{a1_id}/file")))
                    .bearer_auth(&op),
            )
            .await;
        assert_eq!(file.status, StatusCode::OK, "{}", file.text);
        assert_eq!(file.headers["x-souk-sha256"], sha256_hex(&first).as_str());
        assert_eq!(sha256_hex(file.text.as_bytes()), sha256_hex(&first));
        act(&app, &op, &rst, json!({"action": "reject_invoice"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let r = act(
            &app,
            &op,
            &rst,
            json!({"action": "reject_invoice", "reason": "invoice A-2 has no stamp"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["state"], "invoice_error");
        assert_eq!(r.body["reason"], "invoice A-2 has no stamp");
        let told = messages(&app, &reseller).await;
        assert!(
            of_kind(&told, "reseller_statement_state")
                .iter()
                .any(|m| m["body"].as_str().unwrap().contains("no stamp")),
            "{told:?}"
        );

        // Uploaded again: a wrong one removed before submitting, then one for the whole amount.
        let wrong = upload(&app, &reseller, &rst, &q("B-9", 50, 600), b"%PDF B-9").await;
        assert_eq!(wrong.status, StatusCode::CREATED, "{}", wrong.text);
        let wrong_id = wrong.body["id"].as_str().unwrap();
        let removed = app
            .send(
                app.http
                    .delete(app.url(&format!("{path}/invoices/{wrong_id}")))
                    .bearer_auth(&reseller),
            )
            .await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        assert_eq!(
            removed.body["data"].as_array().unwrap().len(),
            2,
            "{}",
            removed.text
        );
        let b1 = upload(&app, &reseller, &rst, &q("A-2", PAYABLE, 600), b"%PDF B-1").await;
        assert_eq!(b1.status, StatusCode::CREATED, "{}", b1.text);
        let r = act(&app, &reseller, &rst, json!({"action": "submit_invoice"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let gone = app
            .send(
                app.http
                    .delete(app.url(&format!(
                        "{path}/invoices/{}",
                        b1.body["id"].as_str().unwrap()
                    )))
                    .bearer_auth(&reseller),
            )
            .await;
        gone.assert_error(StatusCode::CONFLICT, "statement_state");

        // Approved; the payment data is rejected and resubmitted; paid.
        let r = act(&app, &op, &rst, json!({"action": "approve_invoice"})).await;
        assert_eq!(r.body["state"], "payment_review", "{}", r.text);
        // Cash-out after approval: due 7 working days on (at least a calendar week).
        let payout_due =
            OffsetDateTime::parse(r.body["payout_due_at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(
            payout_due - app.clock.now() >= Duration::days(7),
            "{}",
            r.text
        );
        assert_eq!(r.body["payout_overdue"], false);
        let r = act(
            &app,
            &op,
            &rst,
            json!({"action": "reject_payment", "reason": "the bank account is closed"}),
        )
        .await;
        assert_eq!(r.body["state"], "payment_error", "{}", r.text);
        assert_eq!(r.body["payout_due_at"], Value::Null);
        app.post(&format!("{path}/pay"), &op, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        let r = act(&app, &reseller, &rst, json!({"action": "resubmit_payment"})).await;
        assert_eq!(r.body["state"], "payment_review", "{}", r.text);
        let paid = app.post(&format!("{path}/pay"), &op, json!({})).await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        assert_eq!(paid.body["state"], "paid");
        app.post(&format!("{path}/pay"), &op, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        let list = app.get(&format!("{path}/invoices"), &reseller).await;
        let states: Vec<&str> = list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["state"].as_str().unwrap())
            .collect();
        assert_eq!(
            states,
            ["rejected", "rejected", "accepted"],
            "{}",
            list.text
        );
        let told = messages(&app, &reseller).await;
        assert_eq!(
            of_kind(&told, "reseller_statement_paid").len(),
            1,
            "{told:?}"
        );

        // The payout left the reseller's payable; everything reproduces.
        let check = app.get("/v1/settlement/check", &op).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);

backend_test!(
    late_reseller_invoices_are_flagged_overdue_by_the_timer_and_filtered,
    |mut app: TestApp| async move {
        // A month on, the order's instance expires: its lifecycle calls to the seller are not
        // what this test examines.
        app.allow_pending_work();
        let ResellerMonth {
            reseller,
            statement: rst,
            ..
        } = reseller_month(&app).await;
        let op = app.operator_key.clone();
        let overdue = "/v1/reseller-statements?overdue=true";
        let none = app.get(overdue, &op).await;
        assert_eq!(none.body["data"], json!([]), "{}", none.text);
        let st = app
            .get(&format!("/v1/reseller-statements/{rst}"), &op)
            .await
            .body;
        let due = OffsetDateTime::parse(st["invoice_due_at"].as_str().unwrap(), &Rfc3339).unwrap();
        // A minute before the due time nothing happens; after it the timer pass flags it once.
        advance_to(&app, due - Duration::minutes(1)).await;
        assert_eq!(app.get(overdue, &op).await.body["data"], json!([]));
        advance_to(&app, due + Duration::minutes(1)).await;
        let flagged = app.get(overdue, &op).await;
        let ids: Vec<&str> = flagged.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [rst.as_str()], "{}", flagged.text);
        assert_eq!(flagged.body["data"][0]["overdue"], true);
        app.advance(Duration::days(1)).await;
        let told = messages(&app, &reseller).await;
        assert_eq!(
            of_kind(&told, "reseller_invoice_overdue").len(),
            1,
            "{told:?}"
        );
        let mine = app.get(overdue, &reseller).await;
        assert_eq!(mine.body["data"][0]["id"], rst.as_str(), "{}", mine.text);
        let by_state = app
            .get("/v1/reseller-statements?state=awaiting_invoice", &op)
            .await;
        assert_eq!(by_state.body["data"][0]["id"], rst.as_str());
        // Invoiced late, it leaves the overdue list.
        invoice_and_pay(&app, &reseller, &rst, PAYABLE).await;
        assert_eq!(app.get(overdue, &op).await.body["data"], json!([]));
    }
);

backend_test!(
    the_reseller_uploads_and_submits_invoices_and_the_operator_approves_and_pays_in_the_console,
    |app: TestApp| async move {
        let ResellerMonth {
            reseller_id,
            statement: rst,
            ..
        } = reseller_month(&app).await;
        let operator = operator_id(&app).await;
        login_for(&app, &operator, "ops@example.com").await;
        login_for(&app, &reseller_id, "partner@example.com").await;
        let (ops, partner) = (Web::new(&app), Web::new(&app));
        ops.login("ops@example.com", PASSWORD).await;
        partner.login("partner@example.com", PASSWORD).await;

        // The reseller finds the statement on its page and uploads two invoices.
        let home = partner.get("/reseller").await;
        let here = format!("/reseller-statements/{rst}");
        assert!(home.text.contains(&here), "{}", home.text);
        let page = partner.get(&here).await;
        assert!(
            page.text.contains("data-state=\"awaiting_invoice\""),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("id=\"reseller-invoice\""),
            "{}",
            page.text
        );
        let upload = format!("{here}/invoices");
        let pdf = b"%PDF-1.7 console invoice".to_vec();
        let fields = |n: &'static str, a: &'static str| {
            [
                ("invoice_number", n),
                ("amount_minor", a),
                ("tax_rate_bp", "600"),
                ("invoice_type", "special"),
            ]
        };
        let forged = partner
            .submit_file(
                &here,
                &upload,
                &fields("C-1", "45"),
                ("c1.pdf", "application/pdf", &pdf),
                false,
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
        for (n, a) in [("C-1", "45"), ("C-2", "50")] {
            let r = partner
                .submit_file(
                    &here,
                    &upload,
                    &fields(n, a),
                    ("c.pdf", "application/pdf", &pdf),
                    true,
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        }
        // Too much is refused with a readable page.
        let r = partner
            .submit_file(
                &here,
                &upload,
                &fields("C-3", "1"),
                ("c.pdf", "application/pdf", &pdf),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("payable"), "{}", r.text);
        let r = partner
            .submit(
                &here,
                &format!("{here}/move"),
                &[("action", "submit_invoice")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

        // The operator filters its list, opens the statement, downloads and approves, pays.
        let list = ops.get("/operator/reseller-statements").await;
        assert!(list.text.contains(&here), "{}", list.text);
        let page = ops.get(&here).await;
        assert!(
            page.text.contains("data-state=\"invoice_review\""),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("C-1") && page.text.contains("C-2"),
            "{}",
            page.text
        );
        let invoices = app
            .get(
                &format!("/v1/reseller-statements/{rst}/invoices"),
                &app.operator_key,
            )
            .await;
        let first = invoices.body["data"][0]["id"].as_str().unwrap().to_owned();
        let file = ops.get(&format!("{here}/invoices/{first}/file")).await;
        assert_eq!(sha256_hex(file.text.as_bytes()), sha256_hex(&pdf));
        for action in ["approve_invoice", "pay"] {
            let r = ops
                .submit(&here, &format!("{here}/move"), &[("action", action)])
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{action}: {}", r.text);
            if action == "approve_invoice" {
                let page = ops.get(&here).await;
                assert!(page.text.contains("id=\"payout-due\""), "{}", page.text);
            }
        }
        let page = partner.get(&here).await;
        assert!(page.text.contains("data-state=\"paid\""), "{}", page.text);
        assert!(
            page.text.contains("reseller_statement.pay"),
            "history: {}",
            page.text
        );
        let csv = partner.get(&format!("{here}/lines.csv")).await;
        assert!(csv.text.contains(",total,payable_minor,95"), "{}", csv.text);
    }
);
