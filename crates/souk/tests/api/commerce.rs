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
    eventually("the seller applied the renewal", || async {
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
    eventually("the seller applied the upgrade", || async {
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
    eventually("the seller froze it", || async {
        m.example.state().instance(&seller_instance).unwrap().status == InstanceStatus::Frozen
    })
    .await;
    advance(&app, Duration::days(7)).await;
    m.wait_instance(&app, &instance_id, "released").await;
    eventually("the seller released it", || async {
        m.example.state().instance(&seller_instance).unwrap().status == InstanceStatus::Released
    })
    .await;

    // Every call is in the seller's production interface messages, all successful.
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
