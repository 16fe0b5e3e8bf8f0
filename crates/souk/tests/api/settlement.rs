//! Settlement end to end (issue 12): a month of sales through a real seller on loopback, the
//! run on the configured day of the next month (injected clock), statements checked line by
//! line against hand-computed figures, a refund after settlement deducted the next month, an
//! order completed after the month's end carried into the next, the statement workflow with an
//! invoice rejection, CSV export, and the reproducibility check finding an injected
//! discrepancy.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use souk_isv::example::FailureMode;
use time::{Duration, OffsetDateTime, UtcOffset};

pub(crate) const ZONE: UtcOffset = time::macros::offset!(+8);

fn now(app: &TestApp) -> OffsetDateTime {
    app.clock.now()
}

/// Moves the clock to `t` (forward only) and runs what became due.
pub(crate) async fn advance_to(app: &TestApp, t: OffsetDateTime) {
    let by = t - now(app);
    assert!(by >= Duration::ZERO, "cannot go back to {t}");
    app.advance(by).await;
}

/// The first month after the current one that starts on a Sunday or a Monday: its days 2 to 5
/// are working days, so tests that look "the next day" at reseller performance (visible the
/// next working day) see the same whatever day of the week the test runs in.
pub(crate) fn month_of_weekdays(app: &TestApp) -> Period {
    let mut p = Period::containing(now(app), ZONE).next();
    while !matches!(
        p.start(ZONE).to_offset(ZONE).weekday(),
        time::Weekday::Sunday | time::Weekday::Monday
    ) {
        p = p.next();
    }
    p
}

/// Round half away from zero from ten-thousandths of a minor unit: the documented rule,
/// written out again here so that the test does not trust the code under test.
fn round4(e4: i64) -> i64 {
    if e4 >= 0 {
        (e4 + 5_000) / 10_000
    } else {
        -((-e4 + 5_000) / 10_000)
    }
}

pub(crate) async fn statements(app: &TestApp, key: &str, period: &Period) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/statements?period={}", period.id()), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

pub(crate) async fn detail(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app.get(&format!("/v1/statements/{id}"), key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

async fn completed(app: &TestApp, m: &Market, order: &Value) -> i64 {
    let id = order["id"].as_str().unwrap();
    let done = m.wait_order(app, id, "completed").await;
    done["amount"]["amount_minor"].as_i64().unwrap()
}

pub(crate) async fn transition(
    app: &TestApp,
    key: &str,
    id: &str,
    body: Value,
) -> crate::harness::Reply {
    app.post(&format!("/v1/statements/{id}/transitions"), key, body)
        .await
}

/// The seller's invoice for statement `id` (its invoice total, 6 %), uploaded as `key`.
pub(crate) async fn submit_invoice(
    app: &TestApp,
    key: &str,
    id: &str,
    number: &str,
) -> crate::harness::Reply {
    let st = app
        .get(&format!("/v1/statements/{id}"), &app.operator_key)
        .await;
    let payable = st.body["totals"]["payable_minor"].as_i64().unwrap_or(0);
    let query = format!(
        "invoice_number={number}&amount_minor={payable}&tax_rate_bp=600&filename=invoice.pdf"
    );
    app.send(
        app.http
            .post(app.url(&format!("/v1/statements/{id}/invoices?{query}")))
            .bearer_auth(key)
            .header("content-type", "application/pdf")
            .body(format!("%PDF-1.7 invoice {number}")),
    )
    .await
}

/// A month M with a purchase, a renewal, an upgrade, a failed (refunded) opening and an order
/// completed only after M ended; the run on day 7 of M+1; a refund recorded in M+1.
pub(crate) struct Scenario {
    pub(crate) m: Market,
    pub(crate) month: Period,
    /// Amounts of the purchase, renewal and upgrade settled for M.
    settled: [i64; 3],
    purchase_id: String,
    late_id: String,
    failed_id: String,
}

pub(crate) async fn scenario(app: &TestApp) -> Scenario {
    let ex = example_seller(app, |_| {}).await;
    let m = market(app, Proto::V2, ex).await;
    top_up(app, &m.buyer_id, 1_000_000).await;
    // Work in the next whole month, from its second day, so the test never straddles a month
    // by accident.
    let month = Period::containing(now(app), ZONE).next();
    advance_to(app, month.start(ZONE) + Duration::days(1)).await;

    // The product's rebate: 5 % up to 50.00 paid in the month, then 3 % (2 % back).
    let set = app
        .send(
            app.http
                .put(app.url(&format!("/v1/products/{}/fee-policy", m.product_id)))
                .bearer_auth(&app.operator_key)
                .json(&json!({"rate_bp": 500, "tiers": [
                    {"from_minor": 0, "rate_bp": 500}, {"from_minor": 5_000, "rate_bp": 300}]})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let seen = app
        .get(
            &format!("/v1/products/{}/fee-policy", m.product_id),
            &m.seller_key,
        )
        .await;
    assert_eq!(seen.body["default"], false, "{}", seen.text);
    assert_eq!(seen.body["policy"]["tiers"][1]["from_minor"], 5_000);

    let purchase = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 3}),
        )
        .await;
    let a = completed(app, &m, &purchase).await;
    assert_eq!(a, 3_000);
    let instance = purchase["instance_id"].as_str().unwrap().to_owned();
    let renewal = m.act(app, &instance, "renew", json!({"periods": 1})).await;
    let b = completed(app, &m, &renewal).await;
    assert_eq!(b, 3_000);
    let upgrade = m
        .act(app, &instance, "upgrade", json!({"sku_id": m.pro}))
        .await;
    let c = completed(app, &m, &upgrade).await;
    assert!(c > 0);

    // A purchase whose opening fails for good: refunded, never settled.
    m.example.set_failing(Some(FailureMode::Http500));
    let failed = m
        .buy(app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
        .await;
    for _ in 0..10 {
        app.advance(Duration::minutes(20)).await;
    }
    let failed_id = failed["id"].as_str().unwrap().to_owned();
    m.wait_order(app, &failed_id, "refunded").await;
    m.example.set_failing(None);
    app.advance(Duration::minutes(5)).await;

    // Paid ten minutes before M ends, opened only after: attributed to M+1.
    advance_to(app, month.end(ZONE) - Duration::minutes(10)).await;
    m.example.set_failing(Some(FailureMode::Http500));
    let late = m
        .buy(
            app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 2}),
        )
        .await;
    app.advance(Duration::minutes(20)).await;
    m.example.set_failing(None);
    app.advance(Duration::minutes(2)).await;
    let late_amount = completed(app, &m, &late).await;
    assert_eq!(late_amount, 2_000);
    Scenario {
        month,
        settled: [a, b, c],
        purchase_id: purchase["id"].as_str().unwrap().to_owned(),
        late_id: late["id"].as_str().unwrap().to_owned(),
        failed_id,
        m,
    }
}

backend_test!(
    a_month_settles_to_hand_computed_statements_and_a_later_refund_is_deducted_next_month,
    |app: TestApp| async move {
        let s = scenario(&app).await;
        let m = &s.m;
        // Not yet the run day: nothing issued.
        advance_to(&app, s.month.run_at(7, ZONE) - Duration::minutes(1)).await;
        assert!(statements(&app, &m.seller_key, &s.month).await.is_empty());
        let early = app
            .post(
                "/v1/settlement/runs",
                &app.operator_key,
                json!({"period": s.month.next().id()}),
            )
            .await;
        early.assert_error(StatusCode::CONFLICT, "period_open");

        // Day 7 of M+1 (business zone): the timer pass issues M's statement.
        advance_to(&app, s.month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &s.month).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let st = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        assert_eq!(st["state"], "countersign");
        let [a, b, c] = s.settled;
        let gross = a + b + c;
        let fee = round4(gross * 500);
        let rebate = round4((gross - 5_000).max(0) * 200);
        let t = &st["totals"];
        assert_eq!(t["gross_minor"], gross, "{st}");
        assert_eq!(t["refunds_minor"], 0);
        assert_eq!(t["platform_fee_minor"], fee);
        assert_eq!(t["rebate_minor"], rebate);
        assert_eq!(t["commission_minor"], 0);
        assert_eq!(t["net_minor"], gross - fee + rebate);
        assert_eq!(t["payable_minor"], gross - fee + rebate);
        let lines = st["lines"].as_array().unwrap();
        let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["opening", "renewal_effect", "upgrade", "rebate"],
            "{st}"
        );
        assert_eq!(lines[0]["order_id"], s.purchase_id.as_str());
        assert_eq!(lines[0]["platform_fee"], "150.0000");
        assert_eq!(lines[0]["net"], "2850.0000");
        // Exact in ten-thousandths of a minor unit (the upgrade's pro-rata amount makes the
        // band's excess any number of fen).
        let rebate_e4 = (gross - 5_000) * 200;
        assert_eq!(
            lines[3]["net"],
            format!("{}.{:04}", rebate_e4 / 10_000, rebate_e4 % 10_000)
        );
        let on_it = |id: &str| lines.iter().any(|l| l["order_id"] == id);
        assert!(!on_it(&s.late_id) && !on_it(&s.failed_id));
        let msgs = app.get("/v1/messages", &m.seller_key).await.body;
        assert!(msgs["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "statement_issued"));

        // Re-running by hand changes nothing: everything is settled once.
        let again = app
            .post(
                "/v1/settlement/runs",
                &app.operator_key,
                json!({"period": s.month.id()}),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["statements_issued"], 0);

        // In M+1 the operator records a 10.00 refund of the purchase settled in M.
        let refund = app
            .post(
                "/v1/settlement/adjustments",
                &app.operator_key,
                json!({
                "seller_id": m.seller_id, "kind": "refund", "order_id": s.purchase_id,
                "amount": {"amount_minor": -1_000, "currency": "CNY"},
                "reason": "negotiated refund after settlement"}),
            )
            .await;
        assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.text);
        let too_much = app
            .post(
                "/v1/settlement/adjustments",
                &app.operator_key,
                json!({
                "seller_id": m.seller_id, "kind": "refund", "order_id": s.purchase_id,
                "amount": {"amount_minor": -3_001, "currency": "CNY"}, "reason": "x"}),
            )
            .await;
        too_much.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");

        let next = s.month.next();
        advance_to(&app, next.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &m.seller_key, &next).await;
        assert_eq!(list.len(), 1);
        let st2 = detail(&app, &m.seller_key, list[0]["id"].as_str().unwrap()).await;
        let t = &st2["totals"];
        // The late order (20.00) and the refund (−10.00): fee 5 % of 10.00 net; no rebate.
        assert_eq!(t["gross_minor"], 2_000, "{st2}");
        assert_eq!(t["refunds_minor"], -1_000);
        assert_eq!(t["platform_fee_minor"], 50);
        assert_eq!(t["rebate_minor"], 0);
        assert_eq!(t["net_minor"], 950);
        let lines = st2["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 2, "{st2}");
        assert_eq!(lines[0]["order_id"], s.late_id.as_str());
        assert_eq!(lines[1]["kind"], "refund");
        assert_eq!(lines[1]["platform_fee"], "-50.0000");

        // CSV of the lines, to the seller.
        let csv = app
            .send(
                app.http
                    .get(app.url(&format!(
                        "/v1/statements/{}/lines.csv",
                        list[0]["id"].as_str().unwrap()
                    )))
                    .bearer_auth(&m.seller_key),
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.text.starts_with("statement_id,period,currency,kind,"),
            "{}",
            csv.text
        );
        assert!(csv.text.contains(",refund,"), "{}", csv.text);
        assert!(
            csv.text.contains(",total,net_minor,950\r\n"),
            "{}",
            csv.text
        );

        // Every statement reproduces and every ledger balances.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text);
        assert_eq!(check.body["statements_checked"], 2);
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);

backend_test!(
    the_statement_workflow_runs_with_an_invoice_rejection_and_is_audited,
    |app: TestApp| async move {
        let s = scenario(&app).await;
        let m = &s.m;
        advance_to(&app, s.month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let id = statements(&app, &app.operator_key, &s.month).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let op = app.operator_key.clone();
        let seller = m.seller_key.clone();
        // The seller cannot countersign; the operator cannot submit the seller's invoice.
        transition(&app, &seller, &id, json!({"action": "countersign"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        transition(&app, &op, &id, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        submit_invoice(&app, &op, &id, "1")
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Not yet countersigned: no invoice.
        submit_invoice(&app, &seller, &id, "1")
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        let steps = [
            (&op, json!({"action": "countersign"}), "awaiting_invoice"),
            (
                &seller,
                json!({"action": "submit_invoice", "number": "044-0001"}),
                "invoice_review",
            ),
            (
                &op,
                json!({"action": "reject_invoice", "reason": "wrong tax rate"}),
                "invoice_error",
            ),
            (
                &seller,
                json!({"action": "submit_invoice", "number": "044-0002"}),
                "invoice_review",
            ),
            (&op, json!({"action": "approve_invoice"}), "payment_review"),
            (
                &op,
                json!({"action": "reject_payment", "reason": "bank account closed"}),
                "payment_error",
            ),
            (
                &seller,
                json!({"action": "resubmit_payment"}),
                "payment_review",
            ),
            (&op, json!({"action": "pay"}), "paid"),
        ];
        // A rejection needs a reason.
        transition(&app, &op, &id, json!({"action": "countersign"})).await;
        // The invoice is uploaded with its file, never by number alone.
        transition(&app, &seller, &id, json!({"action": "submit_invoice"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        submit_invoice(&app, &seller, &id, "044-0001").await;
        transition(&app, &op, &id, json!({"action": "reject_invoice"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        for (key, body, want) in steps.into_iter().skip(2) {
            let r = match body["number"].as_str() {
                Some(number) => submit_invoice(&app, key, &id, number).await,
                None => transition(&app, key, &id, body.clone()).await,
            };
            assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.text);
            assert_eq!(r.body["state"], want, "{body}");
        }
        transition(&app, &op, &id, json!({"action": "pay"}))
            .await
            .assert_error(StatusCode::CONFLICT, "statement_state");
        let st = detail(&app, &seller, &id).await;
        assert_eq!(st["invoice_number"], "044-0002");
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
                "statement.approve_invoice",
                "statement.reject_payment",
                "statement.resubmit_payment",
                "statement.pay"
            ]
        );
        assert_eq!(st["history"][3]["detail"]["reason"], "wrong tax rate");
        let told = app.get("/v1/messages?limit=200", &seller).await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["kind"] == "statement_state")
            .count();
        assert_eq!(told, 8, "the seller is told at each step");
        // Another seller sees nothing of it; a buyer may not look.
        let (_, other) = app.party("sellers", "Other Seller").await;
        app.get(&format!("/v1/statements/{id}"), &other)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        assert!(statements(&app, &other, &s.month).await.is_empty());
        app.get("/v1/statements", &m.buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Paid: the payout left the seller's payable, and the ledgers still reproduce.
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);

backend_test!(
    the_reproducibility_check_finds_an_injected_discrepancy,
    |app: TestApp| async move {
        let s = scenario(&app).await;
        advance_to(&app, s.month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let clean = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(clean.body["discrepancies"], json!([]), "{}", clean.text);
        let statement = statements(&app, &app.operator_key, &s.month).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Someone edits the order history behind the system's back, and adds a one-sided
        // ledger entry.
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&app.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE orders SET amount_minor = amount_minor + 1 WHERE id = $1")
            .bind(&s.purchase_id)
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO settlement_entries (id, movement_id, statement_id, account, party_id, \
             currency, amount_minor, memo, created_at) VALUES ('sen_x', 'mov_x', NULL, \
             'platform_fee_income', NULL, 'CNY', 7, 'forged', 0)",
        )
        .execute(&mut db)
        .await
        .unwrap();
        db.close().await.unwrap();

        let r = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let found = r.body["discrepancies"].as_array().unwrap();
        let has = |subject: &str, what: &str| {
            found
                .iter()
                .any(|d| d["subject"] == subject && d["what"].as_str().unwrap().starts_with(what))
        };
        assert!(has(&statement, "gross_minor"), "{}", r.text);
        assert!(has(&statement, "lines"), "{}", r.text);
        assert!(has("mov_x", "movement does not balance"), "{}", r.text);
        assert!(
            has("platform_fee_income:CNY", "ledger balance"),
            "{}",
            r.text
        );
        assert!(has(&s.purchase_id, "buyer ledger"), "{}", r.text);
        // Only this period's statements, still every ledger.
        let r = app
            .get(
                &format!("/v1/settlement/check?period={}", s.month.next().id()),
                &app.operator_key,
            )
            .await;
        assert_eq!(r.body["statements_checked"], 0);
        assert!(!r.body["discrepancies"].as_array().unwrap().is_empty());
    }
);

backend_test!(
    fee_policies_and_runs_refuse_bad_input_with_clear_errors,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V2, ex).await;
        let put = |body: Value| {
            app.http
                .put(app.url(&format!("/v1/products/{}/fee-policy", m.product_id)))
                .json(&body)
        };
        for body in [
            json!({"rate_bp": 10_001}),
            json!({"rate_bp": 500, "tiers": [{"from_minor": 10, "rate_bp": 500}]}),
            json!({"rate_bp": 500, "tiers": [{"from_minor": 0, "rate_bp": 600}]}),
            json!({"rate_bp": 500, "tiers": [{"from_minor": 0, "rate_bp": 500}, {"from_minor": 0, "rate_bp": 400}]}),
            json!({"rate_bp": 500, "seller_share_bp": 20_000}),
        ] {
            app.send(put(body.clone()).bearer_auth(&app.operator_key))
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
        app.send(put(json!({"rate_bp": 300})).bearer_auth(&m.seller_key))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let default = app
            .get(
                &format!("/v1/products/{}/fee-policy", m.product_id),
                &m.seller_key,
            )
            .await;
        assert_eq!(default.body["default"], true, "{}", default.text);
        assert_eq!(default.body["policy"]["rate_bp"], 500);
        for period in ["2026-11", "202613", "abc"] {
            app.post(
                "/v1/settlement/runs",
                &app.operator_key,
                json!({"period": period}),
            )
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
        app.post(
            "/v1/settlement/runs",
            &m.seller_key,
            json!({"period": "202401"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.post(
            "/v1/settlement/adjustments",
            &app.operator_key,
            json!({
            "seller_id": m.seller_id, "kind": "bonus",
            "amount": {"amount_minor": 5, "currency": "CNY"}, "reason": "x"}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        app.post("/v1/settlement/adjustments", &app.operator_key, json!({
            "seller_id": m.seller_id, "kind": "refund", "order_id": "ord_01m88tn3x2q9c8v7b6n5m4k3j2",
            "amount": {"amount_minor": -5, "currency": "CNY"}, "reason": "x"}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // An order id that is not Souk's is the caller's typo, said about the field.
        let r = app
            .post(
                "/v1/settlement/adjustments",
                &app.operator_key,
                json!({
            "seller_id": m.seller_id, "kind": "refund", "order_id": "order-17",
            "amount": {"amount_minor": -5, "currency": "CNY"}, "reason": "x"}),
            )
            .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert!(r.text.contains("order_id"), "{}", r.text);
        app.get("/v1/settlement/check?period=20261", &app.operator_key)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    }
);
