//! Metering through real HTTP on both backends: on-demand purchase, usage records pushed as
//! KooGallery sellers push them (signature/ts/nonce and AK/SK, current and old paths),
//! deduplication, abnormal records, the hourly collection into ledger charges, late records,
//! arrears (grace → freeze → top-up → unfreeze; → release) and the usage views with CSV.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use crate::licenses::access_key;
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_protocol::apig::{self, RequestParts};
use souk_protocol::timestamp::TimestampFormat;
use souk_protocol::usage::{usage_signature, PATH, PATH_OLD};
use souk_protocol::{SecretKey, SellerKey};
use time::{Duration, OffsetDateTime};

/// Price of one unit of usage, in fen.
pub(crate) const UNIT: i64 = 250;

/// A market whose product is also sold on demand, and an open on-demand instance:
/// `(market, instance id, seller's instance id)`.
pub(crate) async fn on_demand(app: &TestApp, proto: Proto) -> (Market, String, String) {
    on_demand_priced(app, proto, None).await
}

/// [`on_demand`] with the product's usage rating set to `price` before the purchase.
pub(crate) async fn on_demand_priced(
    app: &TestApp,
    proto: Proto,
    price: Option<Value>,
) -> (Market, String, String) {
    let ex = example_seller(app, |_| {}).await;
    let (seller_id, seller_key) = app.party("sellers", "Acme Metered").await;
    let (buyer_id, buyer_key) = app.party("buyers", "Buyer Ltd").await;
    let url = format!("{}/produce", ex.url().trim_end_matches('/'));
    let mut body = product_body("Acme SMS", proto, &url);
    body["enum_attributes"] = json!([]);
    body["quantity"] = Value::Null;
    body["prices"] = json!([
        {"billing_mode": "on_demand", "amount_minor": UNIT},
        {"billing_mode": "monthly", "amount_minor": 1000}
    ]);
    let approved = list_product(app, &seller_key, body).await;
    let product_id = approved["id"].as_str().unwrap().to_owned();
    let sku = approved["skus"][0]["id"].as_str().unwrap().to_owned();
    if let Some(price) = price {
        let r = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/products/{product_id}/usage-price")))
                    .bearer_auth(&seller_key)
                    .json(&price),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    top_up(app, &buyer_id, 100_000).await;
    let m = Market {
        seller_id,
        seller_key,
        buyer_id,
        buyer_key,
        product_id,
        basic: sku.clone(),
        pro: sku,
        example: ex,
    };
    let paid = m
        .buy(app, json!({"sku_id": m.basic, "billing_mode": "on_demand"}))
        .await;
    assert_eq!(
        paid["amount"]["amount_minor"], 0,
        "nothing is prepaid: {paid}"
    );
    let instance = paid["instance_id"].as_str().unwrap().to_owned();
    let view = m.wait_instance(app, &instance, "active").await;
    assert!(
        view["expire_at"].is_null(),
        "on demand never expires: {view}"
    );
    let sid = view["seller_instance_id"].as_str().unwrap().to_owned();
    (m, instance, sid)
}

pub(crate) fn wire_time(t: OffsetDateTime) -> String {
    TimestampFormat::Basic.format(t)
}

/// A record of `value` units over `[begin, begin + 10 min]`.
pub(crate) fn record(instance: &str, sn: &str, begin: OffsetDateTime, value: &str) -> Value {
    let end = begin + Duration::minutes(10);
    json!({
        "instance_id": instance,
        "metering_sn": sn,
        "record_time": wire_time(end),
        "begin_time": wire_time(begin),
        "end_time": wire_time(end),
        "usage_value": value,
    })
}

/// Pushes with the newer scheme: `signature`, `ts`, `nonce` headers over the exact body.
pub(crate) async fn push_signed(app: &TestApp, path: &str, records: &[Value]) -> Reply {
    let body = serde_json::to_vec(&json!({ "usage_records": records })).unwrap();
    let ts = souk_core::clock::to_unix_ms(OffsetDateTime::now_utc()).to_string();
    let nonce = souk_core::id::generate("nonce", OffsetDateTime::now_utc());
    let sig = usage_signature(&SellerKey::new(SELLER_KEY), &ts, &nonce, &body);
    send(
        app,
        path,
        &[("signature", sig), ("ts", ts), ("nonce", nonce)],
        body,
    )
    .await
}

pub(crate) async fn send(
    app: &TestApp,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Reply {
    let mut req = app
        .http
        .post(app.url(path))
        .header("Content-Type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    app.send(req).await
}

/// Pushes signed with AK/SK (APIG `SDK-HMAC-SHA256`), as sellers sign the License open API.
pub(crate) async fn push_aksk(
    app: &TestApp,
    ak: &str,
    sk: &str,
    path: &str,
    records: &[Value],
) -> Reply {
    let body = serde_json::to_vec(&json!({ "usage_records": records })).unwrap();
    send_aksk(app, ak, sk, path, body).await
}

/// Sends `body` signed with AK/SK (APIG `SDK-HMAC-SHA256`).
pub(crate) async fn send_aksk(
    app: &TestApp,
    ak: &str,
    sk: &str,
    path: &str,
    body: Vec<u8>,
) -> Reply {
    let date = apig::sdk_date(OffsetDateTime::now_utc());
    let host = app.base.trim_start_matches("http://").to_owned();
    let headers = [
        ("Host", host.as_str()),
        ("X-Sdk-Date", date.as_str()),
        ("Content-Type", "application/json"),
    ];
    let auth = apig::sign(
        ak,
        &SecretKey::new(sk),
        &RequestParts {
            method: "POST",
            path,
            query: "",
            headers: &headers,
            body: &body,
        },
    )
    .unwrap();
    send(
        app,
        path,
        &[("X-Sdk-Date", date), ("Authorization", auth)],
        body,
    )
    .await
}

pub(crate) fn assert_pushed(r: &Reply, accepted: u64, duplicates: u64) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["error_code"], "MKT.0000", "{}", r.text);
    assert_eq!(r.body["accepted"], accepted, "{}", r.text);
    assert_eq!(r.body["duplicates"], duplicates, "{}", r.text);
}

pub(crate) async fn charges(app: &TestApp, m: &Market, instance: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/v1/instances/{instance}/usage-charges"),
            &m.buyer_key,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

pub(crate) async fn records(app: &TestApp, key: &str, instance: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/instances/{instance}/usage-records"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

pub(crate) async fn usage_ledger_lines(app: &TestApp, m: &Market) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/buyers/{}/ledger", m.buyer_id), &m.buyer_key)
        .await;
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "usage_charge")
        .cloned()
        .collect()
}

backend_test!(
    on_demand_usage_is_rated_hourly_into_ledger_lines_that_point_at_their_records,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;
        let pushed = push_signed(
            &app,
            PATH,
            &[
                record(&instance, "sn-1", start, "10"),
                record(&instance, "sn-2", start + Duration::minutes(10), "2.5"),
            ],
        )
        .await;
        assert_pushed(&pushed, 2, 0);
        // Nothing is rated before the collection after the records' hour.
        assert!(charges(&app, &m, &instance).await.is_empty());
        assert_eq!(balance(&app, &m).await, 100_000);

        advance(&app, Duration::hours(2)).await;
        let c = charges(&app, &m, &instance).await;
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["usage"], "12.5000");
        assert_eq!(c[0]["records"], 2);
        let owed = 125 * UNIT / 10;
        assert_eq!(c[0]["amount"]["amount_minor"], owed);
        assert_eq!(balance(&app, &m).await, 100_000 - owed);
        // The ledger line names the charge; the charge's records name it back.
        let lines = usage_ledger_lines(&app, &m).await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["amount"]["amount_minor"], -owed);
        assert_eq!(lines[0]["usage_charge_id"], c[0]["id"]);
        let recs = records(&app, &m.buyer_key, &instance).await;
        assert_eq!(recs.len(), 2);
        assert!(
            recs.iter().all(|r| r["charge_id"] == c[0]["id"]),
            "{recs:?}"
        );
        assert_eq!(recs[1]["usage_value"], "2.5000");

        // A later collection changes nothing: rated charges are final.
        advance(&app, Duration::hours(1)).await;
        assert_eq!(charges(&app, &m, &instance).await.len(), 1);
        assert_eq!(usage_ledger_lines(&app, &m).await.len(), 1);
    }
);

backend_test!(
    a_record_arriving_after_its_hour_was_collected_is_rated_in_the_next_collection,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V2).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(3)).await;
        assert_pushed(
            &push_signed(&app, PATH, &[record(&instance, "on-time", start, "1")]).await,
            1,
            0,
        );
        advance(&app, Duration::hours(1)).await;
        assert_eq!(charges(&app, &m, &instance).await.len(), 1);
        // Same hour as the first record, pushed after that hour was collected.
        let late = record(&instance, "late", start + Duration::minutes(20), "3");
        assert_pushed(&push_signed(&app, PATH, &[late]).await, 1, 0);
        let recs = records(&app, &m.seller_key, &instance).await;
        assert!(
            recs[1]["charge_id"].is_null(),
            "waits for the next collection"
        );
        advance(&app, Duration::hours(1)).await;
        let c = charges(&app, &m, &instance).await;
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[1]["usage"], "3.0000");
        assert_eq!(c[1]["amount"]["amount_minor"], 3 * UNIT);
        assert_eq!(balance(&app, &m).await, 100_000 - 4 * UNIT);
    }
);

backend_test!(
    duplicates_by_metering_sn_and_by_window_are_stored_once,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;
        let first = record(&instance, "sn-1", start, "5");
        assert_pushed(
            &push_signed(&app, PATH, std::slice::from_ref(&first)).await,
            1,
            0,
        );
        // The same batch again (a retry after a timeout): success, nothing new.
        assert_pushed(
            &push_signed(&app, PATH, std::slice::from_ref(&first)).await,
            0,
            1,
        );
        // Same metering_sn, another window.
        let same_sn = record(&instance, "sn-1", start + Duration::minutes(30), "5");
        // Same window, another metering_sn.
        let mut same_window = first.clone();
        same_window["metering_sn"] = json!("sn-2");
        // And twice in one batch.
        let fresh = record(&instance, "sn-3", start + Duration::minutes(40), "1");
        assert_pushed(
            &push_signed(&app, PATH, &[same_sn, same_window, fresh.clone(), fresh]).await,
            1,
            3,
        );
        assert_eq!(records(&app, &m.seller_key, &instance).await.len(), 2);
        advance(&app, Duration::hours(2)).await;
        assert_eq!(balance(&app, &m).await, 100_000 - 6 * UNIT);
    }
);

backend_test!(
    aksk_signed_pushes_work_on_both_paths_and_bad_signatures_are_refused,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V2).await;
        let (ak, sk) = access_key(&app, &m.seller_id, &m.seller_key).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;
        let r = push_aksk(
            &app,
            &ak,
            &sk,
            PATH,
            &[record(&instance, "a-1", start, "1")],
        )
        .await;
        assert_pushed(&r, 1, 0);
        // The old path: product_id instead of metering_sn, deduplicated by window.
        let mut old = record(&instance, "ignored", start + Duration::minutes(10), "2");
        old.as_object_mut().unwrap().remove("metering_sn");
        old["product_id"] = json!("00301-666666-0--0");
        let r = push_aksk(&app, &ak, &sk, PATH_OLD, &[old.clone()]).await;
        assert_pushed(&r, 1, 0);
        let r = push_aksk(&app, &ak, &sk, PATH_OLD, &[old]).await;
        assert_pushed(&r, 0, 1);
        let recs = records(&app, &m.seller_key, &instance).await;
        assert_eq!(recs.len(), 2);
        assert!(recs[1]["metering_sn"].is_null());

        // Wrong secret, unknown key, no signature, tampered body: 401, nothing stored.
        let rec = [record(&instance, "a-2", start + Duration::minutes(20), "1")];
        let wrong = push_aksk(&app, &ak, "not-the-secret", PATH, &rec).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
        assert_eq!(wrong.body["souk_reason"], "signature_mismatch");
        let unknown = push_aksk(&app, "NOSUCHAK", &sk, PATH, &rec).await;
        assert_eq!(unknown.body["souk_reason"], "unknown_access_key");
        let body = serde_json::to_vec(&json!({"usage_records": rec})).unwrap();
        let unsigned = send(&app, PATH, &[], body.clone()).await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
        let ts = souk_core::clock::to_unix_ms(OffsetDateTime::now_utc()).to_string();
        let sig = usage_signature(
            &SellerKey::new(SELLER_KEY),
            &ts,
            "n-1",
            b"{\"usage_records\":[]}",
        );
        let h = [
            ("signature", sig),
            ("ts", ts.clone()),
            ("nonce", "n-1".to_owned()),
        ];
        let tampered = send(&app, PATH, &h, body.clone()).await;
        assert_eq!(
            tampered.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            tampered.text
        );
        // A replayed nonce is refused even with a valid signature.
        let sig = usage_signature(&SellerKey::new(SELLER_KEY), &ts, "n-2", &body);
        let h = [("signature", sig), ("ts", ts), ("nonce", "n-2".to_owned())];
        assert_eq!(
            send(&app, PATH, &h, body.clone()).await.status,
            StatusCode::OK
        );
        let replay = send(&app, PATH, &h, body).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert_eq!(replay.body["souk_reason"], "replayed_nonce");
        assert_eq!(records(&app, &m.seller_key, &instance).await.len(), 3);
        advance(&app, Duration::hours(2)).await;
    }
);

backend_test!(
    invalid_records_come_back_abnormal_while_the_valid_ones_are_kept,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        // Another on-demand instance of another seller's product.
        let (other, other_instance, _) = on_demand(&app, Proto::V1).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(1)).await;
        let now = app.clock.now();
        let mut backwards = record(&instance, "r-back", start, "1");
        backwards["begin_time"] = json!(wire_time(start + Duration::minutes(30)));
        let mut no_sn = record(&instance, "x", start + Duration::minutes(15), "1");
        no_sn.as_object_mut().unwrap().remove("metering_sn");
        let mut bad_time = record(&instance, "r-time", start, "1");
        bad_time["end_time"] = json!("2026-01-01 10:00:00");
        let batch = vec![
            record(&instance, "ok-1", start, "1"),
            record(
                &instance,
                "r-precise",
                start + Duration::minutes(1),
                "1.00001",
            ),
            record(&instance, "r-zero", start + Duration::minutes(2), "0"),
            record(&instance, "r-future", now, "1"),
            record(&instance, "r-early", start - Duration::hours(2), "1"),
            record("ins_nosuch", "r-unknown", start, "1"),
            record(&other_instance, "r-not-mine", start, "1"),
            backwards,
            no_sn,
            bad_time,
            json!("not an object"),
            record(&instance, "ok-2", start + Duration::minutes(20), "2"),
        ];
        let r = push_signed(&app, PATH, &batch).await;
        assert_pushed(&r, 2, 0);
        let abnormal: Vec<(u64, &str)> = r.body["abnormal_usage_records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["index"].as_u64().unwrap(),
                    a["error_code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            abnormal,
            vec![
                (1, "invalid_usage_value"),
                (2, "invalid_usage_value"),
                (3, "time_in_future"),
                (4, "before_instance_open"),
                (5, "instance_not_found"),
                (6, "instance_not_found"),
                (7, "invalid_time_range"),
                (8, "missing_field"),
                (9, "invalid_time"),
                (10, "invalid_record"),
            ],
            "{}",
            r.text
        );
        let sns: Vec<&str> = r.body["abnormal_usage_records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["metering_sn"].as_str())
            .collect();
        assert!(sns.contains(&"r-precise"), "{sns:?}");
        assert_eq!(records(&app, &m.seller_key, &instance).await.len(), 2);
        assert!(records(&app, &other.seller_key, &other_instance)
            .await
            .is_empty());
        advance(&app, Duration::hours(2)).await;
    }
);

backend_test!(
    a_push_of_1001_records_is_refused_whole_and_nothing_is_stored,
    |app: TestApp| async move {
        let (m, instance, _) = on_demand(&app, Proto::V1).await;
        let start = app.clock.now() + Duration::seconds(1);
        advance(&app, Duration::hours(20)).await;
        let batch: Vec<Value> = (0..1001)
            .map(|i| {
                record(
                    &instance,
                    &format!("sn-{i}"),
                    start + Duration::seconds(i),
                    "1",
                )
            })
            .collect();
        let r = push_signed(&app, PATH, &batch).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error_code"], "MKT.0101");
        assert!(r.body["error_msg"]
            .as_str()
            .unwrap()
            .contains("at most 1000"));
        assert!(records(&app, &m.seller_key, &instance).await.is_empty());
        // 1,000 is fine.
        assert_pushed(&push_signed(&app, PATH, &batch[..1000]).await, 1000, 0);
        let (ak, sk) = access_key(&app, &m.seller_id, &m.seller_key).await;
        let empty = push_aksk(&app, &ak, &sk, PATH, &[]).await;
        assert_eq!(empty.body["error_code"], "MKT.0102");
        let not_json = send(&app, PATH, &[], b"usage".to_vec()).await;
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        assert_eq!(not_json.body["error_code"], "MKT.0100");
        advance(&app, Duration::hours(2)).await;
        assert_eq!(balance(&app, &m).await, 100_000 - 1000 * UNIT);
    }
);
