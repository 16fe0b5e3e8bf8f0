//! `GET /v1/instances/{id}?wait=N`: a read that answers once the instance has opened, woken
//! by the dispatcher recording the seller's answer.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

backend_test!(
    a_waiting_read_answers_once_the_instance_opened,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V1, ex).await;
        let order = m
            .buy(
                &app,
                json!({"sku_id": m.basic, "billing_mode": "monthly", "periods": 1, "quantity": 1}),
            )
            .await;
        let id = order["instance_id"].as_str().unwrap().to_owned();
        // Nothing has sent the call yet.
        assert_eq!(m.instance(&app, &id).await["state"], "opening");

        // A waiting read is in flight while the engine sends the call and records the answer.
        let waiting = tokio::spawn({
            let request = app
                .http
                .get(format!("{}/v1/instances/{id}?wait=30", app.base))
                .bearer_auth(&m.buyer_key);
            async move {
                let r = request.send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                r.json::<Value>().await.unwrap()
            }
        });
        app.drain().await;
        let seen = waiting.await.unwrap();
        assert_eq!(seen["state"], "active", "{seen}");
        assert!(seen["app_info"]["user_name"].is_string(), "{seen}");

        // Not opening: answered at once, whatever the wait.
        let again = app
            .get(&format!("/v1/instances/{id}?wait=30"), &m.buyer_key)
            .await;
        assert_eq!(again.body["state"], "active");

        // A wait outside 1–30 seconds is the caller's mistake.
        for wait in ["0", "31", "soon"] {
            let r = app
                .get(&format!("/v1/instances/{id}?wait={wait}"), &m.buyer_key)
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{wait}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "invalid_query", "{}", r.text);
        }

        // Another buyer does not learn that the instance exists, waiting or not.
        let (_, stranger) = app.party("buyers", "Someone Else").await;
        let r = app
            .get(&format!("/v1/instances/{id}?wait=1"), &stranger)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
);
