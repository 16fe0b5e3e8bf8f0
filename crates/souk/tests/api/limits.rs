//! Amounts and times at the edges of what Souk can hold: each is a clear 422 with nothing
//! changed, never a 500, a panic or a charge without its effect.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

backend_test!(
    huge_top_ups_and_credit_limits_are_refused_and_change_nothing,
    |app: TestApp| async move {
        let (buyer, _) = app.party("buyers", "Rich").await;
        let op = app.operator_key.clone();
        let path = format!("/v1/buyers/{buyer}/balance/top-ups");
        let top_up = |amount: i64| {
            app.post(
                &path,
                &op,
                json!({"amount": {"amount_minor": amount, "currency": "CNY"}}),
            )
        };
        let max = souk_core::ledger::MAX_BALANCE_MINOR;
        // Past i64::MAX in one go (the database used to answer "integer overflow": a 500).
        top_up(i64::MAX)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let r = top_up(max).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // One more minor unit would pass what Souk holds for a buyer: a conflict with the
        // balance; an amount past the bound is a bad field whatever the balance.
        top_up(1)
            .await
            .assert_error(StatusCode::CONFLICT, "balance_limit");
        let r = top_up(i64::MAX).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["error"]["details"]["field"], "amount");
        let balance = app.get(&format!("/v1/buyers/{buyer}/balance"), &op).await;
        assert_eq!(
            balance.body["balance"]["amount_minor"], max,
            "{}",
            balance.text
        );
        let ledger = app.get(&format!("/v1/buyers/{buyer}/ledger"), &op).await;
        assert_eq!(ledger.body["data"].as_array().unwrap().len(), 1);

        for limit in [i64::MAX, max + 1, -1] {
            app.send(
                app.http
                    .put(app.url(&format!("/v1/buyers/{buyer}/balance/credit-limit")))
                    .bearer_auth(&op)
                    .json(&json!({"limit": {"amount_minor": limit, "currency": "CNY"}})),
            )
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
    }
);

backend_test!(
    the_largest_credit_limit_still_lets_a_buyer_pay,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let max = souk_core::ledger::MAX_BALANCE_MINOR;
        let r = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/buyers/{}/balance/credit-limit", m.buyer_id)))
                    .bearer_auth(&app.operator_key)
                    .json(&json!({"limit": {"amount_minor": max, "currency": "CNY"}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // Near i64::MAX this used to fail every payment with "amount overflow".
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        m.wait_order(&app, order["id"].as_str().unwrap(), "completed")
            .await;
    }
);

backend_test!(
    time_past_year_9999_is_refused_and_nothing_is_charged,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        top_up(&app, &m.buyer_id, 10_000_000).await;
        let advance = |by: &str| {
            app.post(
                "/v1/sandbox/clock/advance",
                &app.operator_key,
                json!({ "by": by }),
            )
        };
        // To the year 9883.
        let r = advance("2870000d").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "yearly"}))
            .await;
        let instance = order["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &instance, "active").await;
        let renew_path = format!("/v1/instances/{instance}/renew");
        let renew = |periods: u32| {
            app.post(
                &renew_path,
                &m.buyer_key,
                json!({"billing_mode": "yearly", "periods": periods}),
            )
        };
        // Three 36-year renewals fit before 9999…
        for _ in 0..3 {
            m.act(
                &app,
                &instance,
                "renew",
                json!({"billing_mode": "yearly", "periods": 36}),
            )
            .await;
        }
        app.drain().await;
        let expiry = m.instance(&app, &instance).await["expire_at"].clone();
        assert!(expiry.as_str().unwrap().starts_with("99"), "{expiry}");
        let before = balance(&app, &m).await;
        // …a fourth would end after 9999: refused when placed, nothing charged, expiry kept.
        let r = renew(36).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["error"]["details"]["field"], "periods");
        assert_eq!(balance(&app, &m).await, before);
        assert_eq!(m.instance(&app, &instance).await["expire_at"], expiry);

        // The sandbox clock refuses to pass 9899 and keeps answering (it used to panic on every
        // request once past 9999).
        let now = app.get("/v1/sandbox/clock", &app.operator_key).await.body["now"].clone();
        for by in ["100000d", "99999999999d", "999999999999d"] {
            advance(by)
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
        let after = app.get("/v1/sandbox/clock", &app.operator_key).await;
        assert_eq!(after.status, StatusCode::OK, "{}", after.text);
        assert_eq!(
            after.body["now"].as_str().unwrap()[..10],
            now.as_str().unwrap()[..10]
        );
        assert_eq!(app.get("/v1/me", &m.buyer_key).await.status, StatusCode::OK);
    }
);
