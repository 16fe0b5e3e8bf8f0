//! The usage push beyond the current API, on both backends: the oldest camelCase path
//! (`/v1.0/{partnerId}/billing/bill-mgr/push-usage-data`, AK/SK-signed), and the nonce memory of
//! the signature/ts/nonce scheme shared by every Souk process on one database.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use crate::licenses::access_key;
use crate::metering::{
    assert_pushed, on_demand, push_signed, record, records, send, send_aksk, wire_time, UNIT,
};
use crate::processes::Souk;
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_protocol::usage::{usage_signature, PATH};
use souk_protocol::SellerKey;
use time::{Duration, OffsetDateTime};

/// The camelCase path as a seller's code calls it (its partner id in the path).
const CAMEL: &str = "/v1.0/hw16238094/billing/bill-mgr/push-usage-data";

/// A camelCase record of `times` over `[begin, begin + 10 min]`, as sellers' code built it.
fn camel(instance: &str, begin: OffsetDateTime, times: Value) -> Value {
    let end = begin + Duration::minutes(10);
    json!({
        "instanceId": instance,
        "recordTime": wire_time(end),
        "beginTime": wire_time(begin),
        "endTime": wire_time(end),
        "usageEntity": {"times": times},
    })
}

async fn push_camel(app: &TestApp, ak: &str, sk: &str, records: &[Value]) -> Reply {
    let body = serde_json::to_vec(&json!({ "usageRecords": records })).unwrap();
    send_aksk(app, ak, sk, CAMEL, body).await
}

fn abnormal(r: &Reply) -> Vec<(u64, String, String)> {
    r.body["abnormal_usage_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["index"].as_u64().unwrap(),
                a["error_code"].as_str().unwrap().to_owned(),
                a["error_msg"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

backend_test!(
    the_camel_case_push_stores_usage_deduplicated_by_window_and_rates_it,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let (ak, sk) = access_key(&app, &m.seller_id, &m.seller_key).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;

        // Text or number, as sellers' JSON libraries write it.
        let batch = [
            camel(&instance, start, json!("3")),
            camel(&instance, start + Duration::minutes(10), json!(2)),
        ];
        let r = push_camel(&app, &ak, &sk, &batch).await;
        assert_pushed(&r, 2, 0);
        // No metering_sn on this path: the same windows again are duplicates.
        assert_pushed(&push_camel(&app, &ak, &sk, &batch).await, 0, 2);
        let recs = records(&app, &m.seller_key, &instance).await;
        assert_eq!(recs.len(), 2, "{recs:?}");
        assert!(recs.iter().all(|r| r["metering_sn"].is_null()), "{recs:?}");
        assert_eq!(recs[0]["usage_value"], "3.0000");

        // Invalid records come back by index, named with the seller's own field names.
        let mut two_units = camel(&instance, start + Duration::minutes(20), json!("1"));
        two_units["usageEntity"]["duration"] = json!("60");
        let mut no_id = camel(&instance, start + Duration::minutes(30), json!("1"));
        no_id.as_object_mut().unwrap().remove("instanceId");
        let mut no_usage = camel(&instance, start + Duration::minutes(40), json!("1"));
        no_usage.as_object_mut().unwrap().remove("usageEntity");
        let snake = record(&instance, "sn-1", start + Duration::minutes(30), "1");
        let r = push_camel(
            &app,
            &ak,
            &sk,
            &[
                two_units,
                camel(&instance, start + Duration::minutes(20), json!("1")),
                no_id,
                no_usage,
                snake,
                json!(["not", "a", "record"]),
            ],
        )
        .await;
        assert_pushed(&r, 1, 0);
        let codes: Vec<(u64, String)> = abnormal(&r)
            .into_iter()
            .map(|(i, code, _)| (i, code))
            .collect();
        assert_eq!(
            codes,
            vec![
                (0, "invalid_usage_value".to_owned()),
                (2, "missing_field".to_owned()),
                (3, "missing_field".to_owned()),
                (4, "missing_field".to_owned()),
                (5, "invalid_record".to_owned()),
            ],
            "{}",
            r.text
        );
        let msgs = abnormal(&r);
        assert!(msgs[0].2.contains("usageEntity"), "{msgs:?}");
        assert_eq!(msgs[1].2, "instanceId is required");
        assert_eq!(msgs[2].2, "usageEntity is required");
        assert_eq!(
            r.body["abnormal_usage_records"][0]["instance_id"], instance,
            "{}",
            r.text
        );

        // The body shape, the batch limit and the signature refuse the push whole.
        let wrong_shape = send_aksk(
            &app,
            &ak,
            &sk,
            CAMEL,
            serde_json::to_vec(&json!({"usage_records": []})).unwrap(),
        )
        .await;
        assert_eq!(wrong_shape.status, StatusCode::BAD_REQUEST);
        assert_eq!(wrong_shape.body["error_code"], "MKT.0100");
        assert!(wrong_shape.body["error_msg"]
            .as_str()
            .unwrap()
            .contains("usageRecords"));
        let too_many: Vec<Value> = (0..1001)
            .map(|i| camel(&instance, start + Duration::seconds(i), json!("1")))
            .collect();
        let r = push_camel(&app, &ak, &sk, &too_many).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error_code"], "MKT.0101");
        let forged = push_camel(&app, &ak, "not-the-secret", &batch).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", forged.text);
        assert_eq!(forged.body["souk_reason"], "signature_mismatch");
        assert_eq!(records(&app, &m.seller_key, &instance).await.len(), 3);

        // Rated like any usage: 3 + 2 + 1 units.
        advance(&app, Duration::hours(2)).await;
        assert_eq!(balance(&app, &m).await, 100_000 - 6 * UNIT);
    }
);

/// A signature/ts/nonce push of `records` with `nonce`: `(headers, body)`.
fn signed(nonce: &str, records: &[Value]) -> ([(&'static str, String); 3], Vec<u8>) {
    let body = serde_json::to_vec(&json!({ "usage_records": records })).unwrap();
    let ts = souk_core::clock::to_unix_ms(OffsetDateTime::now_utc()).to_string();
    let sig = usage_signature(&SellerKey::new(SELLER_KEY), &ts, nonce, &body);
    (
        [("signature", sig), ("ts", ts), ("nonce", nonce.to_owned())],
        body,
    )
}

async fn send_to(base: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{PATH}"))
        .header("Content-Type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    Reply::read(req.send().await.expect("request sent")).await
}

backend_test!(
    a_nonce_used_with_one_souk_process_is_refused_by_another_on_the_same_database,
    |app: TestApp| async move {
        let (_m, instance, _) = on_demand(&app, Proto::V1).await;
        // A second Souk: its own process (so no memory in common with this one), the same
        // database and data directory (the same master key), no background work.
        let data = app.state.config.data_dir.clone();
        let other = Souk::start_at(
            &app.database_url(),
            &data,
            &app.operator_key,
            &[("SOUK_PROVISIONING__WORKERS", "false")],
        );
        // Pushes are judged on each process's own marketplace clock; only the signature
        // check (and so the status) matters here.
        let rec = [record(&instance, "sn-1", app.clock.now(), "1")];

        // First use at the other process, replay here.
        let (h, body) = signed("nonce-a", &rec);
        let first = send_to(&other.base, &h, body.clone()).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let replay = send(&app, PATH, &h, body).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.text);
        assert_eq!(replay.body["souk_reason"], "replayed_nonce");

        // First use here, replay at the other process.
        let (h, body) = signed("nonce-b", &rec);
        assert_eq!(
            send(&app, PATH, &h, body.clone()).await.status,
            StatusCode::OK
        );
        let replay = send_to(&other.base, &h, body).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.text);
        assert_eq!(replay.body["souk_reason"], "replayed_nonce");

        // A fresh nonce still passes.
        let r = push_signed(&app, PATH, &rec).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        drop(other);
    }
);
