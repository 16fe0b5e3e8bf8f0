//! The commerce spine through real HTTP: buy, pay, provision at a real seller on loopback,
//! renew, upgrade, expire, freeze, release; retries, refunds and isolation.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use souk_isv::example::{FailureMode, InstanceStatus};
use time::Duration;

async fn lifecycle(app: TestApp, proto: Proto) {
    let ex = example_seller(&app, |_| {}).await;
    let m = market(&app, proto, ex).await;

    // Buy 3 months of basic for 5 users: 10.00 × 3 × 5 = 150.00.
    let order = m
        .buy(
            &app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "periods": 3, "quantity": 5}),
        )
        .await;
    assert_eq!(order["amount"]["amount_minor"], 15_000);
    let instance_id = order["instance_id"].as_str().unwrap().to_owned();
    let inst = m.wait_instance(&app, &instance_id, "active").await;
    m.wait_order(&app, order["id"].as_str().unwrap(), "completed")
        .await;
    assert_eq!(balance(&app, &m).await, 100_000 - 15_000);

    // The credentials the seller created reach the buyer, decrypted.
    let seller_instance = inst["seller_instance_id"].as_str().unwrap().to_owned();
    let at_seller = m
        .example
        .state()
        .instance(&seller_instance)
        .cloned()
        .unwrap();
    assert_eq!(inst["app_info"]["user_name"], at_seller.user_name.as_str());
    assert_eq!(inst["app_info"]["password"], at_seller.password.as_str());
    assert_eq!(m.example.state().new_instance_created, 1);
    // ... and only to the buyer.
    let seller_view = app
        .get(&format!("/v1/instances/{instance_id}"), &m.seller_key)
        .await;
    assert!(
        seller_view.body.get("app_info").is_none(),
        "{}",
        seller_view.text
    );

    // Renew one month: the seller hears about it, expiry moves by a month.
    let expire_before = inst["expire_at"].as_str().unwrap().to_owned();
    let renewal = m
        .act(&app, &instance_id, "renew", json!({"periods": 1}))
        .await;
    m.wait_order(&app, renewal["id"].as_str().unwrap(), "completed")
        .await;
    eventually(&app, "the seller applied the renewal", || async {
        m.example
            .state()
            .instance(&seller_instance)
            .unwrap()
            .renewals
            == 1
    })
    .await;
    let inst = m.instance(&app, &instance_id).await;
    assert_ne!(inst["expire_at"].as_str().unwrap(), expire_before);

    // Upgrade to pro.
    let up = m
        .act(&app, &instance_id, "upgrade", json!({"sku_id": m.pro}))
        .await;
    assert!(up["amount"]["amount_minor"].as_i64().unwrap() > 0);
    m.wait_order(&app, up["id"].as_str().unwrap(), "completed")
        .await;
    eventually(&app, "the seller applied the upgrade", || async {
        m.example
            .state()
            .instance(&seller_instance)
            .unwrap()
            .upgrades
            == 1
    })
    .await;
    assert_eq!(
        m.instance(&app, &instance_id).await["sku_id"],
        m.pro.as_str()
    );

    // Let it lapse: expiry → grace (no call) → freeze → release.
    advance(&app, Duration::days(125)).await;
    m.wait_instance(&app, &instance_id, "grace").await;
    advance(&app, Duration::days(7)).await;
    m.wait_instance(&app, &instance_id, "frozen").await;
    eventually(&app, "the seller froze it", || async {
        m.example.state().instance(&seller_instance).unwrap().status == InstanceStatus::Frozen
    })
    .await;
    advance(&app, Duration::days(7)).await;
    m.wait_instance(&app, &instance_id, "released").await;
    eventually(&app, "the seller released it", || async {
        m.example.state().instance(&seller_instance).unwrap().status == InstanceStatus::Released
    })
    .await;

    // Every call is in the seller's production interface messages, all successful. (The
    // seller acts before Souk records its answer, so wait for the record.)
    eventually(&app, "the release is recorded", || async {
        app.get("/v1/interface-messages", &m.seller_key).await.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["activity"] == "releaseInstance")
    })
    .await;
    let msgs = app.get("/v1/interface-messages", &m.seller_key).await;
    assert_eq!(msgs.status, StatusCode::OK);
    let data = msgs.body["data"].as_array().unwrap();
    let activities: Vec<&str> = data
        .iter()
        .map(|a| a["activity"].as_str().unwrap())
        .collect();
    for expected in ["newInstance", "refreshInstance", "releaseInstance"] {
        assert!(activities.contains(&expected), "{activities:?}");
    }
    assert!(
        data.iter()
            .all(|a| a["outcome"] == "success" && a["body_sign"] == "valid"),
        "{}",
        msgs.text
    );
}

backend_test!(v1_seller_full_lifecycle, |app: TestApp| async move {
    lifecycle(app, Proto::V1).await
});

backend_test!(v2_seller_full_lifecycle, |app: TestApp| async move {
    lifecycle(app, Proto::V2).await
});

/// The attempts recorded for the seller, oldest first.
async fn attempts(app: &TestApp, m: &Market) -> Vec<serde_json::Value> {
    let r = app
        .get("/v1/interface-messages?limit=200", &m.seller_key)
        .await;
    let mut v = r.body["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

async fn messages(app: &TestApp, key: &str) -> Vec<serde_json::Value> {
    app.get("/v1/messages", key).await.body["data"]
        .as_array()
        .unwrap()
        .clone()
}

backend_test!(
    a_seller_500_is_retried_with_a_fresh_business_id_and_the_same_order_id,
    |app: TestApp| async move {
        let ex = example_seller(&app, |c| {
            c.fail_first_n = 2;
            c.failure = FailureMode::Http500;
        })
        .await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let instance = order["instance_id"].as_str().unwrap();
        // Retries wait for the (injected) clock: move it past each backoff.
        for _ in 0..5 {
            advance(&app, Duration::minutes(1)).await;
        }
        m.wait_instance(&app, instance, "active").await;

        let tries = attempts(&app, &m).await;
        assert_eq!(tries.len(), 3, "two failures then success: {tries:?}");
        assert_eq!(tries[0]["http_status"], 500);
        assert_eq!(tries[0]["outcome"], "failure");
        assert!(tries[0]["error"].as_str().unwrap().contains("HTTP 500"));
        assert_eq!(tries[2]["outcome"], "success");
        let business: std::collections::HashSet<_> = tries
            .iter()
            .map(|t| t["business_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(business.len(), 3, "a fresh businessId per attempt");
        let orders: std::collections::HashSet<_> = tries
            .iter()
            .map(|t| {
                t["request"]["params"]["orderId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(orders.len(), 1, "one orderId for every attempt");
        assert_eq!(m.example.state().new_instance_created, 1);

        // The seller was told at the first failure, not only at the end.
        let msgs = messages(&app, &m.seller_key).await;
        assert!(msgs.iter().any(|x| x["kind"] == "call_failed"), "{msgs:?}");
        assert_eq!(
            msgs.iter().filter(|x| x["kind"] == "call_failed").count(),
            1
        );
    }
);

backend_test!(
    a_wrong_body_sign_is_a_failed_attempt_and_the_retry_finds_the_same_instance,
    |app: TestApp| async move {
        let ex = example_seller(&app, |c| {
            c.fail_first_n = 1;
            c.failure = FailureMode::WrongBodySign;
        })
        .await;
        let m = market(&app, Proto::V2, ex).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.pro, "billing_mode": "yearly", "quantity": 2}),
            )
            .await;
        for _ in 0..3 {
            advance(&app, Duration::minutes(1)).await;
        }
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "active")
            .await;
        let tries = attempts(&app, &m).await;
        assert_eq!(tries[0]["body_sign"], "invalid");
        assert_eq!(tries[0]["outcome"], "failure");
        assert_eq!(tries.last().unwrap()["outcome"], "success");
        let s = m.example.state();
        assert_eq!(s.new_instance_created, 1, "the seller created one instance");
        assert_eq!(s.new_instance_existing, 1, "the retry found it");
    }
);

backend_test!(
    a_seller_that_never_recovers_fails_the_order_and_refunds_the_buyer,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        ex.set_failing(Some(FailureMode::Http500));
        let m = market(&app, Proto::V1, ex).await;
        let before = balance(&app, &m).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 3}),
            )
            .await;
        assert_eq!(balance(&app, &m).await, before - 3_000);
        let id = order["id"].as_str().unwrap();
        // Three hours of retries, in 20-minute steps.
        for _ in 0..10 {
            advance(&app, Duration::minutes(20)).await;
        }
        let refunded = m.wait_order(&app, id, "refunded").await;
        assert!(refunded["failure_reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"));
        assert_eq!(balance(&app, &m).await, before, "the money is back");
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "failed")
            .await;
        let buyer_msgs = messages(&app, &m.buyer_key).await;
        assert!(buyer_msgs.iter().any(|x| x["kind"] == "order_refunded"));
        let seller_msgs = messages(&app, &m.seller_key).await;
        assert!(seller_msgs.iter().any(|x| x["kind"] == "call_gave_up"));
        // The ledger shows the debit and exactly one refund.
        let ledger = app
            .get(&format!("/v1/buyers/{}/ledger", m.buyer_id), &m.buyer_key)
            .await;
        let kinds: Vec<&str> = ledger.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["top_up", "order_debit", "refund"]);

        // After the refund the seller is told to release (same orderId); it never created the
        // instance, so its signed "not found" completes the release.
        m.example.set_failing(None);
        advance(&app, Duration::minutes(5)).await;
        let tries = attempts(&app, &m).await;
        let release = tries
            .iter()
            .rev()
            .find(|t| t["activity"] == "releaseInstance")
            .expect("a releaseInstance after giving up");
        assert_eq!(release["request"]["params"]["orderId"], id);
        assert_eq!(release["result_code"], "000003");
        assert_eq!(tries.last().unwrap()["outcome"], "success", "{tries:?}");
    }
);

backend_test!(
    a_gave_up_opening_releases_what_a_slow_seller_created,
    |app: TestApp| async move {
        // The seller creates the instance every time, but its answers never verify: Souk gives
        // up and refunds while the seller holds an instance.
        let ex = example_seller(&app, |_| {}).await;
        ex.set_failing(Some(FailureMode::WrongBodySign));
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        for _ in 0..10 {
            advance(&app, Duration::minutes(20)).await;
        }
        m.wait_order(&app, id, "refunded").await;
        let created = m.example.state();
        assert_eq!(created.new_instance_created, 1);
        let seller_instance = created.instances.keys().next().unwrap().clone();

        m.example.set_failing(None);
        advance(&app, Duration::minutes(5)).await;
        assert_eq!(
            m.example.state().instance(&seller_instance).unwrap().status,
            InstanceStatus::Released,
            "the orphan at the seller is released"
        );
        let tries = attempts(&app, &m).await;
        let release = tries
            .iter()
            .rev()
            .find(|t| t["activity"] == "releaseInstance" && t["outcome"] == "success")
            .expect("a successful releaseInstance");
        assert_eq!(release["request"]["params"]["orderId"], id);
        // Known by the first businessId, as the protocol advises sellers.
        assert_eq!(
            release["request"]["params"]["instanceId"],
            tries[0]["business_id"]
        );
        assert_eq!(
            release["request"]["params"]["instanceId"],
            seller_instance.as_str()
        );
    }
);

backend_test!(
    an_accepted_000004_new_instance_is_polled_until_open,
    |app: TestApp| async move {
        let ex = example_seller(&app, |c| {
            c.async_open = true;
            c.async_open_polls = 2;
        })
        .await;
        let m = market(&app, Proto::V2, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let instance = order["instance_id"].as_str().unwrap();
        for _ in 0..4 {
            advance(&app, Duration::seconds(10)).await;
        }
        let inst = m.wait_instance(&app, instance, "active").await;
        assert!(inst["app_info"]["user_name"].is_string(), "{inst}");
        let tries = attempts(&app, &m).await;
        assert_eq!(tries[0]["activity"], "newInstance");
        assert_eq!(tries[0]["outcome"], "accepted");
        assert!(tries.iter().any(|t| t["activity"] == "queryInstance"));
        assert_eq!(m.example.state().new_instance_created, 1);
    }
);

backend_test!(
    a_renewal_in_retention_unfreezes_instead_of_buying_anew,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V2, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        let sid = inst["seller_instance_id"].as_str().unwrap().to_owned();
        let first_expiry = time::OffsetDateTime::parse(
            inst["expire_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        advance(&app, Duration::days(32)).await;
        m.wait_instance(&app, &id, "grace").await;
        advance(&app, Duration::days(7)).await;
        m.wait_instance(&app, &id, "frozen").await;
        eventually(&app, "frozen at the seller", || async {
            m.example.state().instance(&sid).unwrap().status == InstanceStatus::Frozen
        })
        .await;

        let renewal = m.act(&app, &id, "renew", json!({"periods": 2})).await;
        m.wait_order(&app, renewal["id"].as_str().unwrap(), "completed")
            .await;
        let inst = m.wait_instance(&app, &id, "active").await;
        eventually(&app, "refreshed and unfrozen at the seller", || async {
            let s = m.example.state();
            s.instance(&sid).unwrap().status == InstanceStatus::Active
                && s.calls_of("updateInstanceStatus").count() == 2
        })
        .await;
        // The renewal counts from the old expiry: grace days are not free.
        let new_expiry = time::OffsetDateTime::parse(
            inst["expire_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(
            Some(new_expiry),
            souk_core::order::add_months(first_expiry, 2)
        );
        assert_eq!(
            m.example.state().new_instance_created,
            1,
            "no second instance"
        );
        let acts: Vec<String> = m
            .example
            .state()
            .calls
            .iter()
            .map(|c| c.activity.to_owned())
            .collect();
        let refresh = acts.iter().rposition(|a| a == "refreshInstance").unwrap();
        let unfreeze = acts
            .iter()
            .rposition(|a| a == "updateInstanceStatus")
            .unwrap();
        assert!(refresh < unfreeze, "refresh, then unfreeze: {acts:?}");
    }
);

backend_test!(
    auto_renew_renews_at_expiry_when_the_balance_allows,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "auto_renew": true}),
            )
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        assert_eq!(inst["auto_renew"], true);
        let before = balance(&app, &m).await;
        advance(&app, Duration::days(31)).await;
        eventually(&app, "auto-renewed", || async {
            let orders = app.get("/v1/orders", &m.buyer_key).await;
            orders.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["kind"] == "renewal" && o["state"] == "completed")
        })
        .await;
        assert_eq!(balance(&app, &m).await, before - 1_000);
        assert_eq!(m.instance(&app, &id).await["state"], "active");

        // With no money left, the next expiry goes to grace instead.
        let drain = app
            .get(&format!("/v1/buyers/{}/balance", m.buyer_id), &m.buyer_key)
            .await;
        let left = drain.body["balance"]["amount_minor"].as_i64().unwrap();
        let big = m
            .buy(
                &app,
                json!({"sku_id": m.pro, "billing_mode": "yearly", "quantity": 3}),
            )
            .await;
        assert!(left >= big["amount"]["amount_minor"].as_i64().unwrap());
        let rest = balance(&app, &m).await;
        if rest >= 1_000 {
            let r = m
                .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": (rest / 1_000).min(100)}))
                .await;
            assert!(r["amount"]["amount_minor"].as_i64().unwrap() > 0);
        }
        assert!(balance(&app, &m).await < 1_000);
        advance(&app, Duration::days(31)).await;
        m.wait_instance(&app, &id, "grace").await;
    }
);

backend_test!(
    an_unpaid_order_is_cancelled_after_the_deadline,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let placed = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": m.basic, "billing_mode": "monthly"}),
            )
            .await;
        let id = placed.body["id"].as_str().unwrap().to_owned();
        assert_eq!(placed.body["state"], "pending_payment");
        advance(&app, Duration::hours(23)).await;
        assert_eq!(m.order(&app, &id).await["state"], "pending_payment");
        advance(&app, Duration::hours(2)).await;
        assert_eq!(m.order(&app, &id).await["state"], "cancelled");
        app.post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "order_not_payable");
        assert_eq!(
            m.example.state().calls.len(),
            0,
            "nothing reached the seller"
        );
    }
);

backend_test!(
    an_upgrade_is_charged_pro_rata_on_the_remaining_time,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "yearly", "quantity": 2}),
            )
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        let expire = time::OffsetDateTime::parse(
            inst["expire_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        // Half a year later, pro for 2 users: (300.00 − 100.00) × 2 × remaining / year.
        app.clock.advance(Duration::days(182)).unwrap();
        let placed = app
            .post(
                &format!("/v1/instances/{id}/upgrade"),
                &m.buyer_key,
                json!({"sku_id": m.pro}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let now = app.state.clock.now();
        let charged = placed.body["amount"]["amount_minor"].as_i64().unwrap();
        let year = souk_core::order::add_months(now, 12).unwrap() - now;
        let expected = 40_000.0 * (expire - now).as_seconds_f64() / year.as_seconds_f64();
        assert!(
            (charged as f64 - expected).abs() <= 2.0,
            "charged {charged}, expected ≈{expected}"
        );
        assert!(
            charged > 19_000 && charged < 21_000,
            "about half: {charged}"
        );
        // Same spec again is refused.
        app.post(
            &format!("/v1/instances/{id}/upgrade"),
            &m.buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    }
);

backend_test!(
    a_later_call_waits_for_an_earlier_one_on_the_same_instance,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &id, "active").await;

        // The seller goes down; a renewal and then an upgrade are paid.
        m.example.set_failing(Some(FailureMode::Http500));
        let renewal = m.act(&app, &id, "renew", json!({})).await;
        let upgrade = m.act(&app, &id, "upgrade", json!({"sku_id": m.pro})).await;
        for _ in 0..3 {
            advance(&app, Duration::minutes(1)).await;
        }
        let tries = attempts(&app, &m).await;
        assert!(tries.iter().any(|t| t["activity"] == "refreshInstance"));
        assert!(
            !tries.iter().any(|t| t["activity"] == "upgrade"),
            "the upgrade is not sent while the renewal is unfinished: {tries:?}"
        );
        // Back up: renewal first, then the upgrade.
        m.example.set_failing(None);
        for _ in 0..4 {
            advance(&app, Duration::minutes(5)).await;
        }
        m.wait_order(&app, renewal["id"].as_str().unwrap(), "completed")
            .await;
        m.wait_order(&app, upgrade["id"].as_str().unwrap(), "completed")
            .await;
        let acts: Vec<&'static str> = m.example.state().calls.iter().map(|c| c.activity).collect();
        let last_refresh = acts.iter().rposition(|a| *a == "refreshInstance").unwrap();
        let first_upgrade = acts.iter().position(|a| *a == "upgrade").unwrap();
        assert!(last_refresh < first_upgrade, "{acts:?}");
    }
);

backend_test!(
    buyers_and_sellers_see_only_their_own_orders_instances_and_calls,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let oid = order["id"].as_str().unwrap().to_owned();
        let iid = order["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &iid, "active").await;

        let (other_buyer, other_buyer_key) = app.party("buyers", "Other Buyer").await;
        let (_, other_seller_key) = app.party("sellers", "Other Seller").await;
        for key in [&other_buyer_key, &other_seller_key] {
            app.get(&format!("/v1/orders/{oid}"), key)
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
            app.get(&format!("/v1/instances/{iid}"), key)
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
            let lists = app.get("/v1/orders", key).await;
            assert_eq!(lists.body["data"], json!([]));
        }
        app.post(
            &format!("/v1/orders/{oid}/cancel"),
            &other_buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post(
            &format!("/v1/instances/{iid}/renew"),
            &other_buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(
            &format!("/v1/buyers/{}/balance", m.buyer_id),
            &other_buyer_key,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let theirs = app.get("/v1/interface-messages", &other_seller_key).await;
        assert_eq!(theirs.body["data"], json!([]));
        app.get("/v1/interface-messages", &m.buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.post(
            &format!("/v1/buyers/{other_buyer}/balance/top-ups"),
            &m.buyer_key,
            json!({"amount": {"amount_minor": 1, "currency": "CNY"}}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // The seller sees its sale (without the buyer's credentials).
        let sale = app.get(&format!("/v1/orders/{oid}"), &m.seller_key).await;
        assert_eq!(sale.status, StatusCode::OK);
        // The operator sees everything.
        assert_eq!(
            app.get("/v1/interface-messages", &app.operator_key)
                .await
                .body["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

backend_test!(
    paying_without_enough_money_is_refused_and_changes_nothing,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let placed = app
            .post(
                "/v1/orders",
                &m.buyer_key,
                json!({"sku_id": m.pro, "billing_mode": "yearly", "quantity": 100}),
            )
            .await;
        assert_eq!(placed.body["amount"]["amount_minor"], 3_000_000);
        let id = placed.body["id"].as_str().unwrap();
        app.post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
            .await
            .assert_error(StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
        assert_eq!(m.order(&app, id).await["state"], "pending_payment");
        assert_eq!(balance(&app, &m).await, 100_000);
        assert_eq!(
            app.get("/v1/instances", &m.buyer_key).await.body["data"],
            json!([])
        );
        // With credit granted, it goes through.
        let credit = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/buyers/{}/balance/credit-limit", m.buyer_id)))
                    .bearer_auth(&app.operator_key)
                    .json(&json!({"limit": {"amount_minor": 3_000_000, "currency": "CNY"}})),
            )
            .await;
        assert_eq!(credit.status, StatusCode::OK, "{}", credit.text);
        let paid = app
            .post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
            .await;
        assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
        assert_eq!(balance(&app, &m).await, 100_000 - 3_000_000);
        // Bad order input.
        for (body, code) in [
            (
                json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 101}),
                "invalid_field",
            ),
            (
                json!({"sku_id": m.basic, "billing_mode": "monthly", "periods": 0}),
                "invalid_field",
            ),
            (
                json!({"sku_id": m.basic, "billing_mode": "on_demand"}),
                "invalid_field",
            ),
            (
                json!({"sku_id": m.basic, "billing_mode": "weekly"}),
                "invalid_body",
            ),
            (
                json!({"sku_id": "sku_nope", "billing_mode": "monthly"}),
                "not_found",
            ),
        ] {
            let r = app.post("/v1/orders", &m.buyer_key, body.clone()).await;
            assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.text);
        }
        app.post(
            "/v1/orders",
            &m.seller_key,
            json!({"sku_id": m.basic, "billing_mode": "monthly"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // The order paid on credit opens.
        m.wait_order(&app, id, "completed").await;
    }
);

#[tokio::test]
async fn calls_to_private_addresses_are_refused_when_resolved_unless_allowed() {
    use souk_protocol::secret::SellerKey;
    use souk_server::seller_client::{CallRequest, SellerClient};
    let example =
        souk_isv::example::ExampleSeller::spawn(souk_isv::example::ExampleConfig::new(SELLER_KEY))
            .await
            .unwrap();
    let port = example.addr().port();
    let key = SellerKey::new(SELLER_KEY);
    let params = || {
        CallRequest::V1(Box::new(
            souk_protocol::activity::v1::QueryInstance {
                instance_id: "nope".into(),
                time_stamp: souk_protocol::timestamp::WireTime::millis(
                    time::OffsetDateTime::now_utc(),
                ),
                test_flag: None,
                extra: souk_protocol::query::Params::new(),
            }
            .into(),
        ))
    };
    let now = time::OffsetDateTime::now_utc();
    let guarded = SellerClient::new(std::time::Duration::from_secs(2), false).unwrap();
    // A name that resolves to loopback: refused at connection time, nothing reaches the seller.
    // Every way of writing loopback that the HTTP client reads as an address (it would connect
    // without asking the resolver), plus names and the metadata service.
    let loopback_forms = [
        "localhost",
        "127.0.0.1",
        "127.1",
        "127.0.1",
        "0x7f.1",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "0177.1",
        "127.000.000.001",
        "2130706433",
        "0x7f000001",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ];
    let mut urls: Vec<String> = loopback_forms
        .iter()
        .map(|h| format!("http://{h}:{port}/produce"))
        .collect();
    urls.extend(
        [
            "http://localhost./produce",
            "http://169.254.169.254/latest/meta-data",
            "http://169.254.43518/latest/meta-data",
            "http://0251.0376.0251.0376/latest/meta-data",
            "http://0xa9.0xfe.0xa9.0xfe/latest/meta-data",
            "http://0.0/",
            "http://10.1/",
            "http://192.168.1/",
        ]
        .map(str::to_owned),
    );
    for url in &urls {
        let r = guarded
            .send(souk_core::catalog::Protocol::V1, url, &key, params(), now)
            .await;
        let souk_core::provisioning::Verdict::Failure(why) = &r.verdict else {
            panic!("{url} was called: {:?}", r.verdict);
        };
        assert!(
            why.contains("local or private") || why.contains("IP address"),
            "{url}: {why}"
        );
    }
    assert!(example.state().calls.is_empty());
    // With private endpoints allowed (sandbox, on-premises), the same calls go through: each
    // form really does reach the seller, so the refusals above are the guard's doing.
    let open = SellerClient::new(std::time::Duration::from_secs(2), true).unwrap();
    for host in loopback_forms {
        let r = open
            .send(
                souk_core::catalog::Protocol::V1,
                &format!("http://{host}:{port}/produce"),
                &key,
                params(),
                now,
            )
            .await;
        assert_eq!(r.http_status, Some(200), "{host}: {:?}", r.verdict);
    }
    assert_eq!(example.state().calls.len(), loopback_forms.len());
}

backend_test!(
    a_free_trial_converts_to_paid_and_a_buyer_may_cancel_unpaid_orders,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let trial = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "trial"}))
            .await;
        assert_eq!(trial["kind"], "trial");
        assert_eq!(trial["amount"]["amount_minor"], 0);
        // One trial per buyer per SKU.
        app.post(
            "/v1/orders",
            &m.buyer_key,
            json!({"sku_id": m.basic, "billing_mode": "trial"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "trial_used");
        let id = trial["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        assert_eq!(inst["trial"], true);
        let sid = inst["seller_instance_id"].as_str().unwrap().to_owned();
        assert!(m.example.state().instance(&sid).unwrap().trial);

        // Converting needs a paid billing mode.
        app.post(
            &format!("/v1/instances/{id}/renew"),
            &m.buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        // A conversion order the buyer changes their mind about.
        let placed = app
            .post(
                &format!("/v1/instances/{id}/renew"),
                &m.buyer_key,
                json!({"billing_mode": "yearly"}),
            )
            .await;
        assert_eq!(placed.body["kind"], "trial_to_formal");
        let oid = placed.body["id"].as_str().unwrap();
        let cancelled = app
            .post(&format!("/v1/orders/{oid}/cancel"), &m.buyer_key, json!({}))
            .await;
        assert_eq!(cancelled.body["state"], "cancelled", "{}", cancelled.text);
        app.post(&format!("/v1/orders/{oid}/cancel"), &m.buyer_key, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "order_not_cancellable");

        let conv = m
            .act(
                &app,
                &id,
                "renew",
                json!({"billing_mode": "monthly", "periods": 2}),
            )
            .await;
        assert_eq!(conv["amount"]["amount_minor"], 2_000);
        m.wait_order(&app, conv["id"].as_str().unwrap(), "completed")
            .await;
        let inst = m.instance(&app, &id).await;
        assert_eq!(inst["trial"], false);
        eventually(&app, "the seller converted it", || async {
            !m.example.state().instance(&sid).unwrap().trial
        })
        .await;
        let tries = attempts(&app, &m).await;
        let refresh = tries
            .iter()
            .find(|t| t["activity"] == "refreshInstance")
            .unwrap();
        assert_eq!(
            refresh["request"]["params"]["trialToFormal"], "1",
            "{refresh}"
        );
    }
);

backend_test!(
    a_seller_can_retry_a_call_souk_gave_up_on,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        let inst = m.wait_instance(&app, &id, "active").await;
        let sid = inst["seller_instance_id"].as_str().unwrap().to_owned();
        // The seller is down for the whole hour Souk retries the freeze.
        m.example.set_failing(Some(FailureMode::Html));
        advance(&app, Duration::days(31)).await;
        m.wait_instance(&app, &id, "grace").await;
        advance(&app, Duration::days(7)).await;
        m.wait_instance(&app, &id, "frozen").await;
        for _ in 0..8 {
            advance(&app, Duration::minutes(10)).await;
        }
        let calls = app
            .get(&format!("/v1/instances/{id}/calls"), &m.seller_key)
            .await;
        let freeze = calls.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "freeze_instance")
            .cloned()
            .unwrap();
        let call_id = freeze["id"].as_str().unwrap().to_owned();
        eventually(&app, "Souk gave up on the freeze", || async {
            app.get(&format!("/v1/calls/{call_id}"), &m.seller_key)
                .await
                .body["call"]["state"]
                == "failed"
        })
        .await;
        assert!(m.example.state().instance(&sid).unwrap().status != InstanceStatus::Frozen);
        // Another seller cannot press the button.
        let (_, other) = app.party("sellers", "Other").await;
        app.post(&format!("/v1/calls/{call_id}/retry"), &other, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // The seller fixes its endpoint and presses retry: one attempt, now.
        m.example.set_failing(None);
        let r = app
            .post(
                &format!("/v1/calls/{call_id}/retry"),
                &m.seller_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        eventually(&app, "the freeze went through", || async {
            app.get(&format!("/v1/calls/{call_id}"), &m.seller_key)
                .await
                .body["call"]["state"]
                == "succeeded"
        })
        .await;
        assert_eq!(
            m.example.state().instance(&sid).unwrap().status,
            InstanceStatus::Frozen
        );
        let view = app
            .get(&format!("/v1/calls/{call_id}"), &m.seller_key)
            .await;
        let attempts = view.body["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 3, "{}", view.text);
        assert_eq!(attempts[0]["outcome"], "success", "newest first");
        assert!(
            attempts[1]["error"].as_str().unwrap().contains("JSON"),
            "{}",
            view.text
        );
    }
);

/// Signs a GET to the order-query open API with an AK/SK, as KooGallery seller software does.
async fn query_order(app: &TestApp, ak: &str, sk: &str, query: &str) -> crate::harness::Reply {
    use souk_protocol::apig;
    let host = app.base.trim_start_matches("http://").to_owned();
    let date = apig::sdk_date(time::OffsetDateTime::now_utc());
    let path = "/api/mkp-openapi-public/global/v1/order/query";
    let headers = [("Host", host.as_str()), ("X-Sdk-Date", date.as_str())];
    let auth = apig::sign(
        ak,
        &souk_protocol::secret::SecretKey::new(sk),
        &apig::RequestParts {
            method: "GET",
            path,
            query,
            headers: &headers,
            body: b"",
        },
    )
    .unwrap();
    app.send(
        app.http
            .get(app.url(&format!("{path}?{query}")))
            .header("X-Sdk-Date", date)
            .header("Authorization", auth),
    )
    .await
}

async fn access_key(app: &TestApp, seller: &str, key: &str) -> (String, String) {
    let r = app
        .post(&format!("/v1/sellers/{seller}/access-keys"), key, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["access_key"].as_str().unwrap().to_owned(),
        r.body["secret_key"].as_str().unwrap().to_owned(),
    )
}

backend_test!(
    a_v2_seller_queries_what_was_bought_with_its_ak_sk,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V2, ex).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.pro, "billing_mode": "monthly", "periods": 2, "quantity": 7}),
            )
            .await;
        let oid = order["id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "active")
            .await;
        let (ak, sk) = access_key(&app, &m.seller_id, &m.seller_key).await;

        let r = query_order(
            &app,
            &ak,
            &sk,
            &format!("orderId={oid}&orderLineId={oid}-000001"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["resultCode"], "MKT.0000");
        let info = &r.body["orderInfo"];
        assert_eq!(info["orderId"], oid.as_str());
        assert_eq!(info["orderType"], "NEW");
        assert_eq!(info["buyerInfo"]["customerId"], m.buyer_id.as_str());
        let line = &info["orderLine"][0];
        assert_eq!(line["chargingMode"], "PERIOD");
        assert_eq!(line["periodType"], "month");
        assert_eq!(line["periodNumber"], 2);
        assert_eq!(line["productInfo"][0]["linearValue"], 7);
        assert_eq!(line["amount"], 3000 * 2 * 7);
        assert_eq!(line["expireTime"].as_str().unwrap().len(), 14);
        // The productId is the one newInstance carried for this SKU and billing mode.
        assert_eq!(
            line["productInfo"][0]["productId"],
            order["snapshot"]["wire_product_id"]
        );

        // Mock orders for sellers' own tests.
        let mock = query_order(&app, &ak, &sk, "orderId=MOCKMONTYRENEW").await;
        assert_eq!(
            mock.body["orderInfo"]["orderType"], "RENEW",
            "{}",
            mock.text
        );
        // Bad input and other sellers.
        let missing = query_order(&app, &ak, &sk, "orderLineId=x").await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(missing.body["resultCode"], "MKT.0100");
        let (other_id, other_key) = app.party("sellers", "Other").await;
        let (oak, osk) = access_key(&app, &other_id, &other_key).await;
        let theirs = query_order(&app, &oak, &osk, &format!("orderId={oid}")).await;
        assert_eq!(theirs.body["resultCode"], "MKT.0101", "{}", theirs.text);
        let forged = query_order(&app, &ak, &osk, &format!("orderId={oid}")).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", forged.text);
    }
);
