//! Metering over time: Step and Tier rating across band edges, arrears (grace → freeze →
//! top-up → unfreeze; → release), and the usage views with CSV export.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::metering::*;
use reqwest::StatusCode;
use serde_json::json;
use souk_core::clock::Clock;
use souk_isv::example::InstanceStatus;
use souk_protocol::usage::PATH;
use time::Duration;

/// Pushes `units` of usage and collects it; returns the buyer's balance.
async fn use_up(app: &TestApp, m: &Market, instance: &str, sn: &str, units: &str) -> i64 {
    let start = app.clock.now() - Duration::minutes(30);
    assert_pushed(
        &push_signed(app, PATH, &[record(instance, sn, start, units)]).await,
        1,
        0,
    );
    advance(app, Duration::hours(2)).await;
    balance(app, m).await
}

backend_test!(
    arrears_freeze_the_instance_and_a_top_up_that_clears_them_unfreezes_it,
    |app: TestApp| async move {
        let (m, instance, sid) = on_demand(&app, Proto::V1).await;
        advance(&app, Duration::hours(1)).await;
        // 500 units × 2.50 = 1,250.00 against a balance of 1,000.00.
        let left = use_up(&app, &m, &instance, "big", "500").await;
        assert_eq!(left, 100_000 - 500 * UNIT);
        let view = m.wait_instance(&app, &instance, "grace").await;
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            InstanceStatus::Active
        );
        // Still usable and billed during grace.
        assert_eq!(
            use_up(&app, &m, &instance, "grace-use", "4").await,
            left - 4 * UNIT
        );
        assert!(!view["state"].is_null());
        // Grace (1 day) ends: frozen, the seller told with instanceStatus FREEZE.
        advance(&app, Duration::days(1)).await;
        m.wait_instance(&app, &instance, "frozen").await;
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            InstanceStatus::Frozen
        );
        assert_eq!(m.example.state().calls_of("instanceStatus").count(), 1);
        // Usage while frozen is refused.
        advance(&app, Duration::hours(1)).await;
        let frozen_use = record(
            &instance,
            "while-frozen",
            app.clock.now() - Duration::minutes(20),
            "1",
        );
        let r = push_signed(&app, PATH, &[frozen_use]).await;
        assert_eq!(
            r.body["abnormal_usage_records"][0]["error_code"], "instance_frozen",
            "{}",
            r.text
        );
        // A top-up that does not clear the debt changes nothing.
        top_up(&app, &m.buyer_id, 10_000).await;
        m.wait_instance(&app, &instance, "frozen").await;
        // One that does unfreezes it: instanceStatus NORMAL.
        top_up(&app, &m.buyer_id, 30_000).await;
        m.wait_instance(&app, &instance, "active").await;
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            InstanceStatus::Active
        );
        assert_eq!(m.example.state().calls_of("instanceStatus").count(), 2);
        // Active on-demand instances never expire on their own.
        advance(&app, Duration::days(30)).await;
        m.wait_instance(&app, &instance, "active").await;
    }
);

backend_test!(
    unpaid_arrears_end_in_release_after_retention,
    |app: TestApp| async move {
        let (m, instance, sid) = on_demand(&app, Proto::V2).await;
        advance(&app, Duration::hours(1)).await;
        use_up(&app, &m, &instance, "big", "401").await;
        m.wait_instance(&app, &instance, "grace").await;
        advance(&app, Duration::days(1)).await;
        m.wait_instance(&app, &instance, "frozen").await;
        assert_eq!(
            m.example.state().calls_of("updateInstanceStatus").count(),
            1
        );
        advance(&app, Duration::days(7)).await;
        m.wait_instance(&app, &instance, "released").await;
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            InstanceStatus::Released
        );
        // Paying afterwards does not bring a released instance back.
        top_up(&app, &m.buyer_id, 100_000).await;
        m.wait_instance(&app, &instance, "released").await;
    }
);

backend_test!(
    buyer_and_seller_see_usage_and_charges_and_export_them_as_csv,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;
        assert_pushed(
            &push_signed(
                &app,
                PATH,
                &[record(&instance, "sn,\"quoted\"", start, "1.5")],
            )
            .await,
            1,
            0,
        );
        advance(&app, Duration::hours(2)).await;
        for key in [&m.buyer_key, &m.seller_key, &app.operator_key] {
            assert_eq!(records(&app, key, &instance).await.len(), 1);
        }
        let csv = app
            .get(
                &format!("/v1/instances/{instance}/usage-records?format=csv"),
                &m.buyer_key,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let lines: Vec<&str> = csv.text.lines().collect();
        assert_eq!(lines.len(), 2, "{}", csv.text);
        assert!(lines[0].starts_with("seq,instance_id,metering_sn"));
        assert!(lines[1].contains("\"sn,\"\"quoted\"\"\""), "{}", lines[1]);
        assert!(lines[1].contains(",1.5000,"), "{}", lines[1]);
        let c = app
            .get(
                &format!("/v1/instances/{instance}/usage-charges?format=csv"),
                &m.buyer_key,
            )
            .await;
        let lines: Vec<&str> = c.text.lines().collect();
        assert_eq!(lines.len(), 2, "{}", c.text);
        assert!(
            lines[1].ends_with(&format!(",1.5000,1,{},CNY,0.0000,0.0000", 15 * UNIT / 10)),
            "{}",
            lines[1]
        );
        // Per hour and per day.
        for g in ["hour", "day"] {
            let s = app
                .get(
                    &format!("/v1/instances/{instance}/usage-summary?granularity={g}"),
                    &m.buyer_key,
                )
                .await;
            assert_eq!(s.status, StatusCode::OK, "{}", s.text);
            let b = &s.body["data"];
            assert_eq!(b.as_array().unwrap().len(), 1, "{}", s.text);
            assert_eq!(b[0]["usage"], "1.5000");
            assert_eq!(
                (b[0]["records"].as_i64(), b[0]["rated_records"].as_i64()),
                (Some(1), Some(1))
            );
            let start = b[0]["start"].as_str().unwrap();
            assert!(
                // Hours and days of the business zone, written in its offset.
                start.ends_with(if g == "hour" {
                    ":00:00+08:00"
                } else {
                    "T00:00:00+08:00"
                }),
                "{start}"
            );
        }
        let later = app
            .get(
                &format!("/v1/instances/{instance}/usage-summary?from=2999-01-01T00:00:00Z"),
                &m.seller_key,
            )
            .await;
        assert_eq!(later.body["data"], json!([]));
        app.get(
            &format!("/v1/instances/{instance}/usage-summary?granularity=week"),
            &m.buyer_key,
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        // Another buyer sees nothing: 404 as for a missing instance.
        let (_, stranger) = app.party("buyers", "Stranger").await;
        app.get(
            &format!("/v1/instances/{instance}/usage-records"),
            &stranger,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(
            &format!("/v1/instances/{instance}/usage-records?format=xml"),
            &m.buyer_key,
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
);

/// Bands: up to 100 units at 10, up to 1,000 at 8, above at 5 (fen).
fn bands(mode: &str) -> serde_json::Value {
    json!({"mode": mode, "bands": [
        {"up_to": "100", "unit_minor": 10},
        {"up_to": "1000", "unit_minor": 8},
        {"unit_minor": 5}
    ]})
}

/// Pushes `units` in the hour just passed and collects it; returns the new charge's amount.
async fn rate(app: &TestApp, m: &Market, instance: &str, sn: &str, units: &str) -> i64 {
    use_up(app, m, instance, sn, units).await;
    let c = charges(app, m, instance).await;
    c.last().unwrap()["amount"]["amount_minor"]
        .as_i64()
        .unwrap()
}

backend_test!(
    tier_prices_are_graduated_across_band_edges_within_the_month,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand_priced(&app, Proto::V1, Some(bands("tier"))).await;
        advance(&app, Duration::hours(1)).await;
        // Up to the first edge: all at 10.
        assert_eq!(rate(&app, &m, &instance, "t-1", "100").await, 1000);
        // Across the second edge: 900 at 8, then 1 at 5.
        assert_eq!(rate(&app, &m, &instance, "t-2", "901").await, 900 * 8 + 5);
        assert_eq!(
            rate(&app, &m, &instance, "t-3", "0.5").await,
            2,
            "2.5 fen truncated"
        );
        let seen = app
            .get(
                &format!("/v1/products/{}/usage-price", m.product_id),
                &m.buyer_key,
            )
            .await;
        assert_eq!(seen.body["mode"], "tier", "{}", seen.text);
        assert_eq!(seen.body["bands"][0]["up_to"], "100.0000");
    }
);

backend_test!(
    step_prices_charge_every_unit_at_the_band_reached,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand_priced(&app, Proto::V2, Some(bands("step"))).await;
        advance(&app, Duration::hours(1)).await;
        // The edge belongs to the lower band.
        assert_eq!(rate(&app, &m, &instance, "s-1", "100").await, 1000);
        // One more unit moves all 101 to 8: the charge is 808 - 1000, a credit.
        assert_eq!(rate(&app, &m, &instance, "s-2", "1").await, 808 - 1000);
        assert_eq!(balance(&app, &m).await, 100_000 - 808);
        let credit = usage_ledger_lines(&app, &m).await;
        assert_eq!(credit[1]["amount"]["amount_minor"], 1000 - 808);
    }
);

backend_test!(
    a_usage_price_is_checked_and_only_its_seller_may_set_it,
    |app: TestApp| async move {
        let (m, _, _) = on_demand(&app, Proto::V1).await;
        let path = format!("/v1/products/{}/usage-price", m.product_id);
        let put = |key: String, body: serde_json::Value| {
            let req = app.http.put(app.url(&path)).bearer_auth(key).json(&body);
            app.send(req)
        };
        for (body, field) in [
            (json!({"mode": "tier", "bands": []}), "bands"),
            (
                json!({"mode": "tier", "bands": [{"up_to": "10", "unit_minor": 1}]}),
                "bands",
            ),
            (
                json!({"mode": "step", "bands": [{"up_to": "10", "unit_minor": 1}, {"up_to": "5", "unit_minor": 1}, {"unit_minor": 1}]}),
                "bands",
            ),
            (
                json!({"mode": "tier", "bands": [{"up_to": "1.00001", "unit_minor": 1}, {"unit_minor": 1}]}),
                "bands[0].up_to",
            ),
            (
                json!({"mode": "tier", "bands": [{"unit_minor": -1}]}),
                "bands",
            ),
            (
                json!({"mode": "fixed", "bands": [{"unit_minor": 1}]}),
                "bands",
            ),
            (json!({"mode": "volume"}), "mode"),
        ] {
            let r = put(m.seller_key.clone(), body.clone()).await;
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert_eq!(
                r.body["error"]["details"]["field"], field,
                "{body}: {}",
                r.text
            );
        }
        put(m.buyer_key.clone(), bands("tier"))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let (_, other_seller) = app.party("sellers", "Other").await;
        put(other_seller, bands("tier"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = put(m.seller_key.clone(), json!({"mode": "fixed"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
);

backend_test!(
    an_operator_adjustment_is_a_charge_with_a_reason_and_can_clear_arrears,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        advance(&app, Duration::hours(1)).await;
        // 440 units × 2.50 = 1,100.00: 100.00 in arrears.
        assert_eq!(use_up(&app, &m, &instance, "big", "440").await, -10_000);
        m.wait_instance(&app, &instance, "grace").await;
        let path = format!("/v1/instances/{instance}/usage-adjustments");
        let credit = json!({"amount": {"amount_minor": -10_000, "currency": "CNY"}, "reason": "Double-counted by the seller"});
        app.post(&path, &m.seller_key, credit.clone())
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        for bad in [
            json!({"amount": {"amount_minor": 100, "currency": "CNY"}, "reason": " "}),
            json!({"amount": {"amount_minor": 0, "currency": "CNY"}, "reason": "x"}),
            json!({"amount": {"amount_minor": 100, "currency": "USD"}, "reason": "x"}),
        ] {
            app.post(&path, &app.operator_key, bad)
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
        app.post(
            "/v1/instances/ins_nosuch/usage-adjustments",
            &app.operator_key,
            credit.clone(),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = app.post(&path, &app.operator_key, credit).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.body["reason"], "Double-counted by the seller");
        assert_eq!(balance(&app, &m).await, 0);
        // Debt cleared: active again (it was in grace, so no seller call).
        m.wait_instance(&app, &instance, "active").await;
        let c = charges(&app, &m, &instance).await;
        assert_eq!(c.last().unwrap()["id"], r.body["id"]);
        let ledger = app
            .get(&format!("/v1/buyers/{}/ledger", m.buyer_id), &m.buyer_key)
            .await;
        let line = ledger.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "usage_adjustment")
            .cloned()
            .unwrap();
        assert_eq!(line["amount"]["amount_minor"], 10_000);
        assert_eq!(line["memo"], "Double-counted by the seller");
        assert_eq!(line["usage_charge_id"], r.body["id"]);
    }
);

backend_test!(
    an_operator_enters_a_usage_correction_from_the_console,
    |app: TestApp| async move {
        use crate::console_support::{login_for, operator_id, Web, PASSWORD};
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        advance(&app, Duration::hours(1)).await;
        // 440 units × 2.50 = 1,100.00: 100.00 in arrears.
        assert_eq!(use_up(&app, &m, &instance, "big", "440").await, -10_000);
        m.wait_instance(&app, &instance, "grace").await;
        let op = operator_id(&app).await;
        login_for(&app, &op, "ops@usage.example").await;
        let web = Web::new(&app);
        web.login("ops@usage.example", PASSWORD).await;
        let page = format!("/usage/instances/{instance}");
        let action = format!("{page}/adjustments");
        assert!(web.get(&page).await.text.contains(&action));

        // Without the CSRF token, a bad amount, no reason, no direction: refused, nothing changed.
        let r = web
            .post(
                &action,
                &[("direction", "credit"), ("amount", "100"), ("reason", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        for (direction, amount, reason, field) in [
            ("credit", "1.234", "Double-counted", "12.50"),
            ("credit", "0", "Double-counted", "12.50"),
            ("credit", "-5", "Double-counted", "12.50"),
            ("credit", "100", " ", "reason"),
            ("sideways", "100", "Double-counted", "charged or credited"),
        ] {
            let r = web
                .submit(
                    &page,
                    &action,
                    &[
                        ("direction", direction),
                        ("amount", amount),
                        ("reason", reason),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
            assert!(r.text.contains(field), "{field}: {}", r.text);
        }
        assert_eq!(balance(&app, &m).await, -10_000);

        // A credit of 100.00 clears the debt: the instance is active again, the charge listed
        // with its reason, the ledger line shows it to the buyer.
        let r = web
            .submit(
                &page,
                &action,
                &[
                    ("direction", "credit"),
                    ("amount", "100.00"),
                    ("reason", "Double-counted by the seller"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(balance(&app, &m).await, 0);
        m.wait_instance(&app, &instance, "active").await;
        let last = charges(&app, &m, &instance).await.pop().unwrap();
        assert_eq!(last["amount"]["amount_minor"], -10_000, "{last}");
        assert_eq!(last["reason"], "Double-counted by the seller", "{last}");
        let shown = web.get(&page).await.text;
        assert!(shown.contains("-100.00 CNY"), "{shown}");
        // A charge the other way.
        let r = web
            .submit(
                &page,
                &action,
                &[
                    ("direction", "charge"),
                    ("amount", "2.5"),
                    ("reason", "Late record"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(balance(&app, &m).await, -250);

        // Only the operator: the buyer and the seller see no form and are refused.
        for (party, email) in [
            (&m.buyer_id, "buyer@usage.example"),
            (&m.seller_id, "seller@usage.example"),
        ] {
            login_for(&app, party, email).await;
            let other = Web::new(&app);
            other.login(email, PASSWORD).await;
            assert!(!other.get(&page).await.text.contains(&action));
            let r = other
                .submit(
                    &page,
                    &action,
                    &[("direction", "credit"), ("amount", "1"), ("reason", "mine")],
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        }
        assert_eq!(balance(&app, &m).await, -250);
    }
);
