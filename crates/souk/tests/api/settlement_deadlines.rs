//! The statement workflow's deadlines (business rules §9): the seller's invoice is due 30 days
//! after the invoice notice (the countersignature), else the timers move the statement to
//! `invoice_error` and tell the seller, who may still submit it; the operator's invoice check
//! (2 working days) and payout (10 working days) are shown as due dates and listed overdue.

use crate::backend_test;
use crate::console_support;
use crate::harness::TestApp;
use crate::settlement::{
    advance_to, detail, scenario, statements, submit_invoice, transition, ZONE,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Weekday};

fn due(st: &Value) -> Option<OffsetDateTime> {
    st["due_at"]
        .as_str()
        .map(|s| OffsetDateTime::parse(s, &Rfc3339).unwrap())
}

/// When the statement's last move happened, by the server's clock (its audit record).
async fn moved_at(app: &TestApp, id: &str) -> OffsetDateTime {
    let st = detail(app, &app.operator_key, id).await;
    let last = st["history"].as_array().unwrap().last().unwrap().clone();
    OffsetDateTime::parse(last["at"].as_str().unwrap(), &Rfc3339).unwrap()
}

fn assert_due(st: &Value, want: OffsetDateTime) {
    assert_eq!(due(st), Some(want), "{st}");
}

/// `n` working days after `t` (weekends skipped in the business zone; the test configuration
/// has no holidays), written out here rather than trusting the calendar under test.
fn working_days_after(t: OffsetDateTime, n: u32) -> OffsetDateTime {
    let mut d = t.to_offset(ZONE).date();
    let mut left = n;
    let mut days = 0;
    while left > 0 {
        d = d.next_day().unwrap();
        days += 1;
        if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    t + Duration::days(days)
}

async fn overdue_ids(app: &TestApp) -> Vec<String> {
    let r = app
        .get("/v1/statements?overdue=true", &app.operator_key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

backend_test!(
    a_statement_without_its_invoice_in_thirty_days_goes_to_invoice_error_and_deadlines_show,
    |app: TestApp| async move {
        let s = scenario(&app).await;
        let m = &s.m;
        advance_to(&app, s.month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let list = statements(&app, &app.operator_key, &s.month).await;
        let id = list[0]["id"].as_str().unwrap().to_owned();
        let op = app.operator_key.clone();
        // Waiting for the operator's countersignature: nobody is on the clock.
        assert_eq!(list[0]["due_at"], Value::Null);

        let r = transition(&app, &op, &id, json!({"action": "countersign"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let countersigned = moved_at(&app, &id).await;
        assert_due(&r.body, countersigned + Duration::days(30));
        let invoice_due = due(&r.body).unwrap();

        // A minute before the deadline nothing happens; just after it the statement lapses.
        advance_to(&app, invoice_due - Duration::minutes(1)).await;
        assert_eq!(
            detail(&app, &m.seller_key, &id).await["state"],
            "awaiting_invoice"
        );
        assert!(overdue_ids(&app).await.is_empty());
        advance_to(&app, invoice_due + Duration::seconds(1)).await;
        let st = detail(&app, &m.seller_key, &id).await;
        assert_eq!(st["state"], "invoice_error", "{st}");
        assert_eq!(st["due_at"], Value::Null);
        let last = st["history"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["action"], "statement.invoice_overdue", "{last}");
        assert_eq!(
            last["detail"]["reason"],
            "no invoice within 30 days of the invoice notice"
        );
        let told = app.get("/v1/messages?limit=200", &m.seller_key).await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["subject"] == format!("Statement {id}: no invoice within 30 days"));
        assert!(told, "the seller is told");
        // Nobody may take the system's step.
        for key in [&op, &m.seller_key] {
            transition(&app, key, &id, json!({"action": "invoice_overdue"}))
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }

        // The seller may still invoice: the operator's check is due in 2 working days.
        let r = submit_invoice(&app, &m.seller_key, &id, "044-0009").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let submitted = moved_at(&app, &id).await;
        assert_eq!(r.body["state"], "invoice_review");
        let check_due = working_days_after(submitted, 2);
        assert_due(&r.body, check_due);
        assert!(overdue_ids(&app).await.is_empty());
        assert!(overdue_ids(&app).await.is_empty());
        advance_to(&app, check_due + Duration::seconds(1)).await;
        assert_eq!(overdue_ids(&app).await, vec![id.clone()]);
        // The operator's console marks it.
        let operator = console_support::operator_id(&app).await;
        console_support::login_for(&app, &operator, "ops@example.com").await;
        let ops = console_support::Web::new(&app);
        ops.login("ops@example.com", console_support::PASSWORD)
            .await;
        let page = ops.get("/operator/statements").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("data-overdue=\"true\""), "{}", page.text);
        let page = ops.get(&format!("/statements/{id}")).await;
        assert!(
            page.text.contains("id=\"due\" data-overdue=\"true\""),
            "{}",
            page.text
        );

        // Approved: the payout is due in 10 working days.
        let r = transition(&app, &op, &id, json!({"action": "approve_invoice"})).await;
        assert_eq!(r.body["state"], "payment_review", "{}", r.text);
        let approved = moved_at(&app, &id).await;
        assert_due(&r.body, working_days_after(approved, 10));
        assert!(overdue_ids(&app).await.is_empty());
        let r = transition(&app, &op, &id, json!({"action": "pay"})).await;
        assert_eq!(r.body["state"], "paid", "{}", r.text);
        assert_eq!(r.body["due_at"], Value::Null);
        let check = app.get("/v1/settlement/check", &op).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
