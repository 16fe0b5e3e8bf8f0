//! After-sale timers on the injected clock (business rules §3.3, §3.4, §4.3 Souk defaults):
//! the seller's refund review (reminder, then escalation or automatic approval), the appeal SLA,
//! and the reminder pass going round every open supervision a batch per run.

use super::*;

fn count(msgs: &[Value], kind: &str) -> usize {
    msgs.iter().filter(|n| n["kind"] == kind).count()
}

/// The review reminders the seller got.
async fn reminders(app: &TestApp, m: &Market) -> usize {
    count(
        &messages_of(app, &m.seller_key).await,
        "refund_review_reminder",
    )
}

async fn negotiated(app: &TestApp, m: &Market, order: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/orders/{order}/refunds"),
            &m.buyer_key,
            json!({"kind": "negotiated", "amount": {"amount_minor": 5000, "currency": "CNY"}, "reason": "The work has not started"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn refund_now(app: &TestApp, m: &Market, order: &str) -> Value {
    let r = app
        .get(&format!("/v1/orders/{order}/refunds"), &m.buyer_key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().last().unwrap().clone()
}

/// Moves the clock to `to` (if it is later) and runs what became due.
async fn advance_to(app: &TestApp, to: OffsetDateTime) {
    let now = app.clock.now();
    if to > now {
        app.advance(to - now).await;
    }
}

async fn supervised_order(app: &TestApp, m: &Market) -> String {
    let sku = listed(app, m, "manual_service", json!({})).await;
    let order = m
        .buy(app, json!({"sku_id": sku, "billing_mode": "monthly"}))
        .await;
    order["id"].as_str().unwrap().to_owned()
}

backend_test!(
    a_refund_the_seller_does_not_review_is_reminded_then_escalated_to_the_operators,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = supervised_order(&app, &m).await;
        let filed = negotiated(&app, &m, &order).await;
        // Five working days in the business calendar: 5 to 7 natural days.
        let created = at(&filed["created_at"]);
        let reminder = at(&filed["deadline"]);
        let days = (reminder - created).whole_days();
        assert!((5..=7).contains(&days), "{filed}");
        advance_to(&app, reminder - Duration::minutes(1)).await;
        assert_eq!(reminders(&app, &m).await, 0);
        app.advance(Duration::minutes(2)).await;
        assert_eq!(reminders(&app, &m).await, 1);
        // Then the timeout: seven working days after filing.
        let r = refund_now(&app, &m, &order).await;
        let timeout = at(&r["deadline"]);
        assert!((9..=11).contains(&(timeout - created).whole_days()), "{r}");
        assert!(r["escalated_at"].is_null());
        advance_to(&app, timeout + Duration::minutes(1)).await;
        let r = refund_now(&app, &m, &order).await;
        assert_eq!(
            r["state"], "pending_seller_review",
            "escalated, not decided: {r}"
        );
        assert!(r["escalated_at"].is_string(), "{r}");
        assert!(r["deadline"].is_null(), "{r}");
        // The operator has its own copy; the buyer's is in the buyer's message centre only.
        let escalated = count(
            &messages_of(&app, &app.operator_key).await,
            "refund_escalated",
        );
        assert_eq!(escalated, 1);
        assert_eq!(
            count(&messages_of(&app, &m.buyer_key).await, "refund_escalated"),
            1
        );
        // Nothing more happens by itself; the operator decides.
        app.advance(Duration::days(30)).await;
        assert_eq!(
            count(
                &messages_of(&app, &app.operator_key).await,
                "refund_escalated"
            ),
            escalated
        );
        let d = app
            .post(
                &format!("/v1/orders/{order}/refunds/decision"),
                &app.operator_key,
                json!({"decision": "approve", "opinion": "The seller did not answer"}),
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        assert_eq!(d.body["state"], "refunded");
        assert_eq!(m.order(&app, &order).await["state"], "refunded");
        // A request decided before its reminder gets none.
        let other = supervised_order(&app, &m).await;
        negotiated(&app, &m, &other).await;
        let d = app
            .post(
                &format!("/v1/orders/{other}/refunds/decision"),
                &m.seller_key,
                json!({"decision": "reject", "opinion": "We delivered already"}),
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        app.advance(Duration::days(15)).await;
        assert_eq!(reminders(&app, &m).await, 1);
    }
);

backend_test!(
    with_auto_approve_an_unreviewed_refund_is_approved_by_the_system,
    |app: TestApp| async move {
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, |c| {
            c.refund.seller_review_timeout_action =
                souk_core::refund_review::ReviewTimeoutAction::AutoApprove
        })
        .await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = supervised_order(&app, &m).await;
        let before = balance(&app, &m).await;
        negotiated(&app, &m, &order).await;
        app.advance(Duration::days(12)).await;
        let r = refund_now(&app, &m, &order).await;
        assert_eq!(r["state"], "refunded", "{r}");
        assert_eq!(balance(&app, &m).await, before + 5000);
        assert_eq!(m.order(&app, &order).await["state"], "refunded");
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        let last = s["log"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["actor"], "system", "{s}");
        assert_eq!(last["action"], "refunded", "{s}");
    }
);

backend_test!(
    an_appeal_open_past_its_sla_is_flagged_to_the_operators_once,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = supervised_order(&app, &m).await;
        let s = act(
            &app,
            &m.buyer_key,
            &order,
            json!({"action": "appeal", "reason": "No answer for weeks", "demand": "Refund"}),
        )
        .await;
        let opened = at(&s["appeal"]["opened_at"]);
        let due = at(&s["appeal"]["sla_due"]);
        assert!((5..=7).contains(&(due - opened).whole_days()), "{s}");
        app.advance(Duration::days(4)).await;
        assert_eq!(
            count(
                &messages_of(&app, &app.operator_key).await,
                "appeal_overdue"
            ),
            0
        );
        app.advance(Duration::days(4)).await;
        app.advance(Duration::days(4)).await;
        assert_eq!(
            count(
                &messages_of(&app, &app.operator_key).await,
                "appeal_overdue"
            ),
            1
        );
        let s = supervision(&app, &m.buyer_key, &order).await.body;
        assert_eq!(s["appeal"]["sla_breached"], true, "{s}");
        let log = s["log"].as_array().unwrap();
        let flagged: Vec<_> = log
            .iter()
            .filter(|e| e["action"] == "appeal_sla_breached")
            .collect();
        assert_eq!(flagged.len(), 1, "{s}");
        assert_eq!(flagged[0]["actor"], "system");
        // Tracked only: the appeal is still open, the operator resolves it.
        act(
            &app,
            &app.operator_key,
            &order,
            json!({"action": "resolve_appeal", "outcome": "dismiss", "reason": "Seller answered"}),
        )
        .await;
    }
);

/// How many of `orders` have had their 180-day reminder.
async fn stale_reminded(app: &TestApp, key: &str, orders: &[String]) -> usize {
    let mut n = 0;
    for o in orders {
        let s = supervision(app, key, o).await.body;
        if s["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "stale_reminder")
        {
            n += 1;
        }
    }
    n
}

backend_test!(
    the_reminder_pass_reads_a_batch_per_run_and_goes_round_all_open_supervisions,
    |app: TestApp| async move {
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, |c| c.supervision.reminder_batch = 2).await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let mut orders = Vec::new();
        for _ in 0..3 {
            let o = m
                .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
                .await;
            orders.push(o["id"].as_str().unwrap().to_owned());
        }
        app.drain().await;
        // 180 days on, one run reads at most two of the three (where it starts depends on
        // where the runs before it stopped); the next run reads the rest.
        app.clock
            .advance(Duration::days(181))
            .expect("clock within the calendar");
        app.engine.run_due(app.clock.now()).await.unwrap();
        let first = stale_reminded(&app, &m.buyer_key, &orders).await;
        assert!((1..=2).contains(&first), "{first} reminded by one run");
        app.engine.run_due(app.clock.now()).await.unwrap();
        assert_eq!(stale_reminded(&app, &m.buyer_key, &orders).await, 3);
        app.drain().await;
        assert_eq!(stale_reminded(&app, &m.buyer_key, &orders).await, 3);
        assert_eq!(
            count(&messages_of(&app, &m.buyer_key).await, "supervision_stale"),
            3
        );
    }
);

backend_test!(
    a_refund_review_reminder_lands_on_a_make_up_working_saturday,
    |app: TestApp| async move {
        // A Monday at least two days ahead, 10:00 in the business zone; its Saturday is a
        // make-up working day (补班, `supervision.workdays`).
        let zone = time::macros::offset!(+8);
        let mut monday = app.clock.now().to_offset(zone).date() + Duration::days(2);
        while monday.weekday() != time::Weekday::Monday {
            monday = monday.next_day().unwrap();
        }
        let saturday = monday + Duration::days(5);
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, move |c| {
            c.supervision.workdays = vec![saturday.to_string()];
        })
        .await;
        advance_to(&app, monday.with_hms(10, 0, 0).unwrap().assume_offset(zone)).await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let order = supervised_order(&app, &m).await;
        let filed = negotiated(&app, &m, &order).await;
        let created = at(&filed["created_at"]);
        let reminder = at(&filed["deadline"]);
        // Tue, Wed, Thu, Fri, and the make-up Saturday: the fifth working day.
        assert_eq!(reminder - created, Duration::days(5), "{filed}");
        assert_eq!(reminder.to_offset(zone).date(), saturday);
        advance_to(&app, reminder - Duration::minutes(1)).await;
        assert_eq!(reminders(&app, &m).await, 0);
        app.advance(Duration::minutes(2)).await;
        assert_eq!(
            reminders(&app, &m).await,
            1,
            "reminded on the make-up Saturday"
        );
        // The timeout, seven working days: … Saturday, Monday, Tuesday (without the make-up
        // day it would be Wednesday).
        let r = refund_now(&app, &m, &order).await;
        assert_eq!(at(&r["deadline"]) - created, Duration::days(8), "{r}");
    }
);
