//! Licenses through real HTTP: seller-issued licenses (getLicense / getLicenseAsync), Souk-issued
//! codes behind the AK/SK-signed open API (activation state machine, heartbeats across the
//! lifecycle, floating seats, rate limit, cache invalidation), License 2.0 calls to the seller,
//! and signed offline license files.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_isv::example::{FailureMode, InstanceStatus};
use souk_protocol::apig::{self, RequestParts};
use souk_protocol::license_file::{self, KeySet, Validity};
use souk_protocol::SecretKey;
use time::Duration;

const ACTIVATE: &str = "/api/mkp-openapi-public/global/v1/license/activate";
const HEARTBEAT: &str = "/api/mkp-openapi-public/global/v1/license/heartbeat";
const ACTIVATE_V2: &str = "/api/mkp-openapi-public/global/v2/license/activate";
const HEARTBEAT_V2: &str = "/api/mkp-openapi-public/global/v2/license/heartbeat";

fn license_product(proto: Proto, url: &str, mode: &str) -> Value {
    let mut body = product_body("Acme Desktop", proto, url);
    body["delivery_type"] = json!("license");
    body["category"] = json!("desktop/cad");
    body["quantity"] =
        json!({"name": "licenses", "unit": "license", "min": 1, "max": 10, "wire_field": "amount"});
    body["prices"] = json!([
        {"billing_mode": "monthly", "amount_minor": 1000},
        {"billing_mode": "yearly", "amount_minor": 10000}
    ]);
    body["integration"]["license_mode"] = json!(mode);
    body
}

/// A seller with a listed License product (one SKU), a buyer with money, the example seller.
pub(crate) async fn license_market(
    app: &TestApp,
    proto: Proto,
    mode: &str,
    ex: souk_isv::example::ExampleHandle,
) -> Market {
    let (seller_id, seller_key) = app.party("sellers", "Acme Software").await;
    let (buyer_id, buyer_key) = app.party("buyers", "Buyer Ltd").await;
    let url = format!("{}/produce", ex.url().trim_end_matches('/'));
    let created = app
        .post(
            "/v1/products",
            &seller_key,
            license_product(proto, &url, mode),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let product_id = created.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1/products/{product_id}/submit"),
            &seller_key,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let approved = app
        .post(
            &format!("/v1/products/{product_id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
    top_up(app, &buyer_id, 100_000).await;
    Market {
        seller_id,
        seller_key,
        buyer_id,
        buyer_key,
        product_id,
        basic: sku.clone(),
        pro: sku,
        example: ex,
    }
}

/// An AK/SK pair of a seller: `(ak, sk)`.
pub(crate) async fn access_key(
    app: &TestApp,
    seller_id: &str,
    seller_key: &str,
) -> (String, String) {
    let r = app
        .post(
            &format!("/v1/sellers/{seller_id}/access-keys"),
            seller_key,
            json!({"label": "software"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["access_key"].as_str().unwrap().to_owned(),
        r.body["secret_key"].as_str().unwrap().to_owned(),
    )
}

/// What a request is signed over (may differ from what is sent, to test tampering).
struct Signed<'a> {
    path: &'a str,
    query: &'a str,
    body: &'a [u8],
}

fn host(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// The headers of an APIG-signed POST (date from the marketplace clock, shifted by `skew`).
fn signed_headers(
    app: &TestApp,
    ak: &str,
    sk: &str,
    s: &Signed,
    skew: Duration,
) -> Vec<(String, String)> {
    // Protocol time: the real clock, whatever the test did to the business clock.
    let date = apig::sdk_date(time::OffsetDateTime::now_utc() + skew);
    let host = host(app);
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
            path: s.path,
            query: s.query,
            headers: &headers,
            body: s.body,
        },
    )
    .unwrap();
    vec![
        ("X-Sdk-Date".into(), date),
        ("Content-Type".into(), "application/json".into()),
        ("Authorization".into(), auth),
    ]
}

async fn send(
    app: &TestApp,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    let mut req = app.http.post(app.url(path_and_query)).body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    app.send(req).await
}

/// The seller's software: signed calls to the License open API.
pub(crate) struct Software {
    ak: String,
    sk: String,
}

impl Software {
    async fn call(&self, app: &TestApp, path: &str, body: Value) -> Reply {
        let bytes = serde_json::to_vec(&body).unwrap();
        let h = signed_headers(
            app,
            &self.ak,
            &self.sk,
            &Signed {
                path,
                query: "",
                body: &bytes,
            },
            Duration::ZERO,
        );
        send(app, path, &h, &bytes).await
    }

    pub(crate) async fn activate(&self, app: &TestApp, code: &str, machine: Option<&str>) -> Reply {
        let mut body = json!({"license": code});
        if let Some(m) = machine {
            body["machine_fingerprint"] = json!(m);
        }
        self.call(app, ACTIVATE, body).await
    }

    pub(crate) async fn heartbeat(
        &self,
        app: &TestApp,
        code: &str,
        machine: Option<&str>,
    ) -> Reply {
        let mut body = json!({"license": code});
        if let Some(m) = machine {
            body["machine_fingerprint"] = json!(m);
        }
        self.call(app, HEARTBEAT, body).await
    }
}

pub(crate) fn code_of(r: &Reply) -> &str {
    r.body["error_code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error_code: {}", r.text))
}

pub(crate) fn status_of(r: &Reply) -> &str {
    assert_eq!(code_of(r), "92020000", "{}", r.text);
    r.body["data"]["status"].as_str().unwrap()
}

/// Buys `quantity` Souk-issued codes; returns (instance id, codes).
pub(crate) async fn buy_codes(app: &TestApp, m: &Market, quantity: u32) -> (String, Vec<String>) {
    let placed = app
        .post(
            "/v1/orders",
            &m.buyer_key,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": quantity}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap();
    let paid = app
        .post(&format!("/v1/orders/{id}/pay"), &m.buyer_key, json!({}))
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    // No seller call opens it: the instance is active at once; the order stays under
    // supervision until the first activation (the License code flow, docs/after-sale.md).
    assert_eq!(paid.body["state"], "processing", "{}", paid.text);
    let instance = paid.body["instance_id"].as_str().unwrap().to_owned();
    assert_eq!(m.instance(app, &instance).await["state"], "active");
    let codes = app
        .get(
            &format!("/v1/instances/{instance}/license-codes"),
            &m.buyer_key,
        )
        .await;
    assert_eq!(codes.status, StatusCode::OK, "{}", codes.text);
    let codes: Vec<String> = codes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), quantity as usize);
    (instance, codes)
}

pub(crate) async fn codes_market(app: &TestApp) -> (Market, Software) {
    let ex = example_seller(app, |_| {}).await;
    let m = license_market(app, Proto::V2, "souk_codes", ex).await;
    let (ak, sk) = access_key(app, &m.seller_id, &m.seller_key).await;
    (m, Software { ak, sk })
}

// ---------------------------------------------------------------------------------------------
// Seller-issued licenses

async fn seller_issued(app: TestApp, proto: Proto) {
    let ex = example_seller(&app, |c| {
        c.fail_first_n = 2;
        c.failure = FailureMode::Http500;
    })
    .await;
    let m = license_market(&app, proto, "seller_issued", ex).await;
    let order = m
        .buy(
            &app,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "quantity": 3}),
        )
        .await;
    let instance = order["instance_id"].as_str().unwrap().to_owned();
    // Two failures, then the seller recovers: each retry waits for the (moved) clock.
    for n in 1..=2 {
        eventually(&app, &format!("attempt {n} recorded"), || async {
            app.get("/v1/interface-messages", &m.seller_key).await.body["data"]
                .as_array()
                .is_some_and(|a| a.len() >= n)
        })
        .await;
        advance(&app, Duration::minutes(1)).await;
    }
    let inst = m.wait_instance(&app, &instance, "active").await;
    m.wait_order(&app, order["id"].as_str().unwrap(), "completed")
        .await;
    let state = m.example.state();
    let expected = match proto {
        Proto::V1 => state
            .instances
            .values()
            .find_map(|i| i.license.clone())
            .expect("getLicense issued a license"),
        Proto::V2 => state
            .instances
            .values()
            .find_map(|i| i.async_licenses.values().next().cloned())
            .expect("getLicenseAsync issued a license"),
    };
    assert_eq!(inst["license"], expected.as_str(), "{inst}");
    let activity = if proto == Proto::V1 {
        "getLicense"
    } else {
        "getLicenseAsync"
    };
    assert!(state.calls_of(activity).count() >= 1);
    assert_eq!(state.injected_failures, 2);
    // Only the buyer sees the license.
    let seller_view = app
        .get(&format!("/v1/instances/{instance}"), &m.seller_key)
        .await;
    assert!(
        seller_view.body.get("license").is_none(),
        "{}",
        seller_view.text
    );
    let op_view = app
        .get(&format!("/v1/instances/{instance}"), &app.operator_key)
        .await;
    assert!(op_view.body.get("license").is_none(), "{}", op_view.text);
    let (_, other) = app.party("buyers", "Other Buyer").await;
    app.get(&format!("/v1/instances/{instance}"), &other)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // Seller-issued products have no Souk codes.
    let codes = app
        .get(
            &format!("/v1/instances/{instance}/license-codes"),
            &m.buyer_key,
        )
        .await;
    assert_eq!(codes.body["data"], json!([]));
}

backend_test!(
    v1_get_license_retried_then_shown_only_to_the_buyer,
    |app: TestApp| async move { seller_issued(app, Proto::V1).await }
);

backend_test!(
    v2_get_license_async_retried_then_shown_only_to_the_buyer,
    |app: TestApp| async move { seller_issued(app, Proto::V2).await }
);

// ---------------------------------------------------------------------------------------------
// AK/SK

backend_test!(
    aksk_signature_is_checked_like_apig,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (_, codes) = buy_codes(&app, &m, 1).await;
        let body = serde_json::to_vec(&json!({"license": codes[0]})).unwrap();
        let good = Signed {
            path: ACTIVATE,
            query: "",
            body: &body,
        };
        let reason = |r: &Reply| {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            assert_eq!(r.body["error_code"], "APIG.0301", "{}", r.text);
            r.body["souk_reason"].as_str().unwrap().to_owned()
        };

        // Valid.
        let h = signed_headers(&app, &sw.ak, &sw.sk, &good, Duration::ZERO);
        let ok = send(&app, ACTIVATE, &h, &body).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        assert_eq!(code_of(&ok), "92020000");

        // Wrong SK.
        let h = signed_headers(&app, &sw.ak, "not-the-secret", &good, Duration::ZERO);
        assert_eq!(
            reason(&send(&app, ACTIVATE, &h, &body).await),
            "signature_mismatch"
        );
        // Body altered after signing.
        let h = signed_headers(&app, &sw.ak, &sw.sk, &good, Duration::ZERO);
        let other = serde_json::to_vec(&json!({"license": "SOUK-XXXXX"})).unwrap();
        assert_eq!(
            reason(&send(&app, ACTIVATE, &h, &other).await),
            "signature_mismatch"
        );
        // Path altered: signed for activate, sent to heartbeat.
        assert_eq!(
            reason(&send(&app, HEARTBEAT, &h, &body).await),
            "signature_mismatch"
        );
        // Query altered.
        let with_query = Signed {
            path: ACTIVATE,
            query: "x=1",
            body: &body,
        };
        let h = signed_headers(&app, &sw.ak, &sw.sk, &with_query, Duration::ZERO);
        assert_eq!(
            reason(&send(&app, &format!("{ACTIVATE}?x=2"), &h, &body).await),
            "signature_mismatch"
        );
        // The same query passes the signature (and reaches the API).
        let r = send(&app, &format!("{ACTIVATE}?x=1"), &h, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // Skewed date: 20 minutes off either way.
        for skew in [Duration::minutes(20), Duration::minutes(-20)] {
            let h = signed_headers(&app, &sw.ak, &sw.sk, &good, skew);
            assert_eq!(reason(&send(&app, ACTIVATE, &h, &body).await), "clock_skew");
        }
        // Missing headers.
        let h = signed_headers(&app, &sw.ak, &sw.sk, &good, Duration::ZERO);
        let without = |name: &str| -> Vec<(String, String)> {
            h.iter().filter(|(k, _)| k != name).cloned().collect()
        };
        assert_eq!(
            reason(&send(&app, ACTIVATE, &without("Authorization"), &body).await),
            "missing_authorization"
        );
        assert_eq!(
            reason(&send(&app, ACTIVATE, &without("X-Sdk-Date"), &body).await),
            "missing_date"
        );
        // Content-Type was signed: dropping it breaks the signature.
        assert_eq!(
            reason(&send(&app, ACTIVATE, &without("Content-Type"), &body).await),
            "signed_header_missing"
        );
        // Unknown AK.
        let h = signed_headers(&app, "NOSUCHACCESSKEY00000", &sw.sk, &good, Duration::ZERO);
        assert_eq!(
            reason(&send(&app, ACTIVATE, &h, &body).await),
            "unknown_access_key"
        );

        // Gateway-level errors after a valid signature.
        let r = app.send(app.http.get(app.url(ACTIVATE))).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(code_of(&r), "95000002");
        let plain = Signed {
            path: HEARTBEAT,
            query: "",
            body: b"license",
        };
        let mut h = signed_headers(&app, &sw.ak, &sw.sk, &plain, Duration::ZERO);
        // Re-sign with a text content type.
        let date = h[0].1.clone();
        let host = host(&app);
        let text_headers = [
            ("Host", host.as_str()),
            ("X-Sdk-Date", date.as_str()),
            ("Content-Type", "text/plain"),
        ];
        let auth = apig::sign(
            &sw.ak,
            &SecretKey::new(&sw.sk),
            &RequestParts {
                method: "POST",
                path: HEARTBEAT,
                query: "",
                headers: &text_headers,
                body: b"license",
            },
        )
        .unwrap();
        h = vec![
            ("X-Sdk-Date".into(), date),
            ("Content-Type".into(), "text/plain".into()),
            ("Authorization".into(), auth),
        ];
        let r = send(&app, HEARTBEAT, &h, b"license").await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
        assert_eq!(code_of(&r), "95000003");
        let not_json = Signed {
            path: HEARTBEAT,
            query: "",
            body: b"{oops",
        };
        let h = signed_headers(&app, &sw.ak, &sw.sk, &not_json, Duration::ZERO);
        let r = send(&app, HEARTBEAT, &h, b"{oops").await;
        assert_eq!(
            (r.status, code_of(&r)),
            (StatusCode::BAD_REQUEST, "95000004"),
            "{}",
            r.text
        );
        let r = sw.call(&app, HEARTBEAT, json!({"licence": "typo"})).await;
        assert_eq!(
            (r.status, code_of(&r)),
            (StatusCode::BAD_REQUEST, "95000001"),
            "{}",
            r.text
        );

        // Revoked: at once.
        let keys = app
            .get(
                &format!("/v1/sellers/{}/access-keys", m.seller_id),
                &m.seller_key,
            )
            .await;
        assert_eq!(keys.status, StatusCode::OK);
        assert!(
            keys.body["data"][0].get("secret_key").is_none(),
            "the SK is never shown again"
        );
        let id = keys.body["data"][0]["id"].as_str().unwrap();
        let revoked = app
            .delete(&format!("/v1/access-keys/{id}"), &m.seller_key)
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
        let h = signed_headers(&app, &sw.ak, &sw.sk, &good, Duration::ZERO);
        assert_eq!(
            reason(&send(&app, ACTIVATE, &h, &body).await),
            "unknown_access_key"
        );
        // Another seller cannot list or revoke this seller's keys.
        let (_, other_key) = app.party("sellers", "Other Seller").await;
        app.get(
            &format!("/v1/sellers/{}/access-keys", m.seller_id),
            &other_key,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("/v1/access-keys/{id}"), &other_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
);

// ---------------------------------------------------------------------------------------------
// Activation and heartbeat

backend_test!(
    activation_state_machine_answers_every_error_code,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (instance, codes) = buy_codes(&app, &m, 3).await;
        let c = &codes[0];

        let r = sw.heartbeat(&app, c, None).await;
        assert_eq!(code_of(&r), "92020011", "not activated yet: {}", r.text);
        let r = sw.activate(&app, c, None).await;
        assert_eq!(code_of(&r), "92020000", "{}", r.text);
        let info: Value =
            serde_json::from_str(r.body["data"]["license_code_info"].as_str().unwrap()).unwrap();
        assert_eq!(info["status"], "ALIVE");
        assert_eq!(info["order_id"].as_str().unwrap().len(), 30);
        assert_eq!(info["expire_time"].as_str().unwrap().len(), 14);
        assert_eq!(info["amount"], "3");
        assert_eq!(
            code_of(&sw.activate(&app, c, None).await),
            "92020003",
            "twice"
        );
        assert_eq!(
            code_of(
                &sw.activate(&app, "SOUK-NOSUCH-CODE0-00000-00000-00000", None)
                    .await
            ),
            "92020005"
        );
        assert_eq!(
            code_of(&sw.heartbeat(&app, "SOUK-NOSUCH", None).await),
            "92020005"
        );
        assert_eq!(code_of(&sw.activate(&app, "", None).await), "92020002");
        assert_eq!(
            code_of(&sw.activate(&app, &"X".repeat(65), None).await),
            "92020002"
        );
        let r = sw
            .call(
                &app,
                ACTIVATE,
                json!({"license": codes[1], "real_effect_time": "tomorrow"}),
            )
            .await;
        assert_eq!(code_of(&r), "92020002");
        let r = sw.heartbeat(&app, c, None).await;
        assert_eq!(status_of(&r), "ALIVE");
        assert_eq!(r.body["data"]["license_code"], c.as_str());
        assert_eq!(r.body["data"]["instance_id"], instance.as_str());

        // Tenant isolation: another seller's AK finds no such code.
        let (other_id, other_key) = app.party("sellers", "Other Seller").await;
        let (ak, sk) = access_key(&app, &other_id, &other_key).await;
        let thief = Software { ak, sk };
        assert_eq!(code_of(&thief.heartbeat(&app, c, None).await), "92020005");
        assert_eq!(
            code_of(&thief.activate(&app, &codes[1], None).await),
            "92020005"
        );

        // v2 batches: one result per license; 92020020 when any failed.
        let r = sw
            .call(
                &app,
                ACTIVATE_V2,
                json!({"licenses": [{"license": codes[1]}, codes[2], {"license": "SOUK-NOPE"}]}),
            )
            .await;
        assert_eq!(code_of(&r), "92020020", "{}", r.text);
        let results = r.body["data"]["results"].as_array().unwrap();
        let per: Vec<&str> = results
            .iter()
            .map(|x| x["error_code"].as_str().unwrap())
            .collect();
        assert_eq!(per, ["92020000", "92020000", "92020005"]);
        let r = sw
        .call(&app, HEARTBEAT_V2, json!({"licenses": codes.iter().map(|c| json!({"license": c})).collect::<Vec<_>>()}))
        .await;
        assert_eq!(code_of(&r), "92020000", "{}", r.text);
        assert!(r.body["data"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["data"]["status"] == "ALIVE"));
        let r = sw.call(&app, HEARTBEAT_V2, json!({"licenses": []})).await;
        assert_eq!(code_of(&r), "92020002");

        // The buyer and the seller see the codes; other buyers do not.
        let view = app
            .get(&format!("/v1/license-codes/{c}"), &m.seller_key)
            .await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.text);
        assert_eq!(view.body["state"], "activated");
        assert_eq!(view.body["status"], "ALIVE");
        let (_, stranger) = app.party("buyers", "Stranger").await;
        app.get(&format!("/v1/license-codes/{c}"), &stranger)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let list = app
            .get(
                &format!("/v1/instances/{instance}/license-codes"),
                &stranger,
            )
            .await;
        list.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(
    heartbeat_status_follows_the_lifecycle_with_no_stale_cache,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (instance, codes) = buy_codes(&app, &m, 1).await;
        let c = &codes[0];
        assert_eq!(code_of(&sw.activate(&app, c, None).await), "92020000");
        let first = sw.heartbeat(&app, c, None).await;
        assert_eq!(status_of(&first), "ALIVE");
        let expire_before = first.body["data"]["expire_time"]
            .as_str()
            .unwrap()
            .to_owned();

        // A renewal is visible to the very next heartbeat (the entry is cached by now).
        let renewal = m.act(&app, &instance, "renew", json!({"periods": 1})).await;
        assert_eq!(renewal["state"], "completed", "{renewal}");
        let r = sw.heartbeat(&app, c, None).await;
        assert_ne!(
            r.body["data"]["expire_time"].as_str().unwrap(),
            expire_before
        );

        // Past expiry: grace, still ALIVE.
        advance(&app, Duration::days(62)).await;
        m.wait_instance(&app, &instance, "grace").await;
        let r = sw.heartbeat(&app, c, None).await;
        assert_eq!(status_of(&r), "ALIVE");
        assert_eq!(r.body["data"]["souk_state"], "grace");
        // Frozen: the very next heartbeat says EXPIRED.
        advance(&app, Duration::days(7)).await;
        assert_eq!(m.instance(&app, &instance).await["state"], "frozen");
        assert_eq!(status_of(&sw.heartbeat(&app, c, None).await), "EXPIRED");
        // A frozen code cannot take new machines.
        assert_eq!(
            code_of(&sw.activate(&app, c, Some("m-new")).await),
            "92020003"
        );
        // Released: the very next heartbeat says RELEASED.
        advance(&app, Duration::days(7)).await;
        assert_eq!(m.instance(&app, &instance).await["state"], "released");
        assert_eq!(status_of(&sw.heartbeat(&app, c, None).await), "RELEASED");
    }
);

backend_test!(
    status_is_computed_from_the_clock_as_well_as_the_instance,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (_, codes) = buy_codes(&app, &m, 1).await;
        let c = &codes[0];
        assert_eq!(code_of(&sw.activate(&app, c, None).await), "92020000");
        assert_eq!(status_of(&sw.heartbeat(&app, c, None).await), "ALIVE");
        // Move the clock without running the timers: the cached entry still says "active", but
        // the status is computed from the clock too.
        app.clock.advance(Duration::days(31 + 7)).unwrap();
        assert_eq!(status_of(&sw.heartbeat(&app, c, None).await), "EXPIRED");
        app.clock.advance(Duration::days(7)).unwrap();
        assert_eq!(status_of(&sw.heartbeat(&app, c, None).await), "RELEASED");
    }
);

// ---------------------------------------------------------------------------------------------
// Floating seats and the rate limit

async fn set_policy(app: &TestApp, m: &Market, seats: u32, window: u32, per_hour: u32) {
    let r = app
        .send(
            app.http
                .put(app.url(&format!("/v1/products/{}/license-policy", m.product_id)))
                .bearer_auth(&m.seller_key)
                .json(&json!({"seats": seats, "heartbeat_window_seconds": window, "activations_per_hour": per_hour})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

backend_test!(
    floating_seats_limit_cull_and_deactivation,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        set_policy(&app, &m, 2, 600, 100).await;
        let (_, codes) = buy_codes(&app, &m, 1).await;
        let c = &codes[0];
        assert_eq!(code_of(&sw.activate(&app, c, Some("m1")).await), "92020000");
        let r = sw.activate(&app, c, Some("m2")).await;
        assert_eq!(code_of(&r), "92020000", "{}", r.text);
        assert_eq!(r.body["data"]["machines_in_use"], 2);
        assert_eq!(
            code_of(&sw.activate(&app, c, Some("m1")).await),
            "92020003",
            "same machine twice"
        );
        let full = sw.activate(&app, c, Some("m3")).await;
        assert_eq!(code_of(&full), "92029001", "{}", full.text);
        // Heartbeats carry the machine; an unknown machine holds no seat.
        assert_eq!(status_of(&sw.heartbeat(&app, c, Some("m1")).await), "ALIVE");
        assert_eq!(
            code_of(&sw.heartbeat(&app, c, Some("m3")).await),
            "92029003"
        );

        // m1 keeps beating, m2 goes silent: after the 10-minute window m2 is culled.
        advance(&app, Duration::minutes(6)).await;
        assert_eq!(status_of(&sw.heartbeat(&app, c, Some("m1")).await), "ALIVE");
        advance(&app, Duration::minutes(5)).await;
        assert_eq!(
            code_of(&sw.heartbeat(&app, c, Some("m2")).await),
            "92029003",
            "m2 culled"
        );
        let r = sw.activate(&app, c, Some("m3")).await;
        assert_eq!(code_of(&r), "92020000", "m2's seat is free: {}", r.text);
        let detail = app
            .get(&format!("/v1/license-codes/{c}"), &m.seller_key)
            .await;
        let live: Vec<&str> = detail.body["machines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["live"] == true)
            .map(|x| x["fingerprint"].as_str().unwrap())
            .collect();
        assert_eq!(live, ["m1", "m3"], "{}", detail.text);

        // The seller deactivates a lost machine: its seat is free at once.
        app.delete(&format!("/v1/license-codes/{c}/machines/m1"), &m.buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let d = app
            .delete(&format!("/v1/license-codes/{c}/machines/m1"), &m.seller_key)
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        assert_eq!(d.body["deactivated"], true);
        assert_eq!(
            code_of(&sw.heartbeat(&app, c, Some("m1")).await),
            "92029003"
        );
        assert_eq!(code_of(&sw.activate(&app, c, Some("m4")).await), "92020000");
        let (_, other) = app.party("sellers", "Other Seller").await;
        app.delete(&format!("/v1/license-codes/{c}/machines/m3"), &other)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(
    activation_attempts_are_rate_limited_per_code_per_hour,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        set_policy(&app, &m, 1, 600, 3).await;
        let (_, codes) = buy_codes(&app, &m, 2).await;
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020000"
        );
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020003"
        );
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020003"
        );
        let r = sw.activate(&app, &codes[0], None).await;
        assert_eq!(code_of(&r), "92029002", "{}", r.text);
        // Per code: the other code is not affected.
        assert_eq!(
            code_of(&sw.activate(&app, &codes[1], None).await),
            "92020000"
        );
        // An hour later the code may be tried again.
        advance(&app, Duration::minutes(61)).await;
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020003"
        );
    }
);

// ---------------------------------------------------------------------------------------------
// License 2.0 calls to the seller

async fn license_attempts(app: &TestApp, m: &Market, activity: &str) -> Vec<Value> {
    let r = app
        .get("/v1/interface-messages?limit=200", &m.seller_key)
        .await;
    let mut v: Vec<Value> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["activity"] == activity)
        .cloned()
        .collect();
    v.reverse();
    v
}

backend_test!(
    license_2_0_calls_on_renew_freeze_release_retry_until_the_seller_recovers,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (instance, codes) = buy_codes(&app, &m, 2).await;
        let c = &codes[0];
        assert_eq!(code_of(&sw.activate(&app, c, None).await), "92020000");

        // Renewal while the seller is down: refreshLicenseCode fails, is retried every 2 minutes.
        m.example.set_failing(Some(FailureMode::Http500));
        m.act(&app, &instance, "renew", json!({"periods": 1})).await;
        eventually(&app, "the first refreshLicenseCode failed", || async {
            license_attempts(&app, &m, "refreshLicenseCode").await.len() == 1
        })
        .await;
        advance(&app, Duration::minutes(1)).await;
        assert_eq!(
            license_attempts(&app, &m, "refreshLicenseCode").await.len(),
            1,
            "not before 2 minutes"
        );
        advance(&app, Duration::minutes(1)).await;
        eventually(&app, "the second attempt failed", || async {
            license_attempts(&app, &m, "refreshLicenseCode").await.len() == 2
        })
        .await;
        m.example.set_failing(None);
        advance(&app, Duration::minutes(2)).await;
        eventually(&app, "the seller applied the refresh", || async {
            m.example
                .state()
                .license_codes
                .get(c.as_str())
                .is_some_and(|x| x.expire_time.is_some())
        })
        .await;
        let tries = license_attempts(&app, &m, "refreshLicenseCode").await;
        eventually(&app, "the success is recorded", || async {
            license_attempts(&app, &m, "refreshLicenseCode").await.len() == 3
        })
        .await;
        assert_eq!(tries[0]["outcome"], "failure");
        assert_eq!(
            tries[0]["request"]["body"]["license"],
            c.as_str(),
            "{}",
            tries[0]
        );
        assert_eq!(tries[0]["request"]["body"]["scene"], "RENEWAL");
        let tries = license_attempts(&app, &m, "refreshLicenseCode").await;
        assert_eq!(tries[2]["outcome"], "success", "{tries:?}");
        // Only activated codes are called about (the seller has never seen the other).
        assert!(!m
            .example
            .state()
            .license_codes
            .contains_key(codes[1].as_str()));

        // Lapse: freeze, then release, each one call per activated code.
        advance(&app, Duration::days(62 + 7)).await;
        m.wait_instance(&app, &instance, "frozen").await;
        eventually(&app, "the seller froze the code", || async {
            m.example
                .state()
                .license_codes
                .get(c.as_str())
                .is_some_and(|x| x.status == InstanceStatus::Frozen)
        })
        .await;
        advance(&app, Duration::days(7)).await;
        m.wait_instance(&app, &instance, "released").await;
        eventually(&app, "the seller released the code", || async {
            m.example
                .state()
                .license_codes
                .get(c.as_str())
                .is_some_and(|x| x.status == InstanceStatus::Released)
        })
        .await;
        let state = m.example.state();
        assert_eq!(state.calls_of("updateLicenseCodeStatus").count(), 1);
        assert_eq!(state.calls_of("releaseLicenseCode").count(), 1);
        assert_eq!(
            state.calls_of("getLicenseAsync").count(),
            0,
            "Souk issues these codes itself"
        );
    }
);

backend_test!(
    renewing_a_frozen_instance_unfreezes_its_codes,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        let (instance, codes) = buy_codes(&app, &m, 1).await;
        assert_eq!(
            code_of(&sw.activate(&app, &codes[0], None).await),
            "92020000"
        );
        advance(&app, Duration::days(31 + 7)).await;
        m.wait_instance(&app, &instance, "frozen").await;
        assert_eq!(
            status_of(&sw.heartbeat(&app, &codes[0], None).await),
            "EXPIRED"
        );
        m.act(&app, &instance, "renew", json!({"periods": 3})).await;
        assert_eq!(
            status_of(&sw.heartbeat(&app, &codes[0], None).await),
            "ALIVE"
        );
        eventually(&app, "the seller unfroze the code", || async {
            let s = m.example.state();
            s.calls_of("updateLicenseCodeStatus").count() == 2
                && s.license_codes
                    .get(codes[0].as_str())
                    .is_some_and(|x| x.status == InstanceStatus::Active)
        })
        .await;
    }
);

// ---------------------------------------------------------------------------------------------
// Offline license files

async fn key_set(app: &TestApp) -> KeySet {
    let r = app
        .send(app.http.get(app.url("/.well-known/souk-license-keys.json")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    serde_json::from_str(&r.text).unwrap()
}

backend_test!(
    offline_license_files_verify_and_detect_tampering_wrong_keys_and_expiry,
    |app: TestApp| async move {
        let (m, sw) = codes_market(&app).await;
        set_policy(&app, &m, 3, 600, 100).await;
        let (instance, codes) = buy_codes(&app, &m, 1).await;
        let c = &codes[0];
        assert_eq!(code_of(&sw.activate(&app, c, None).await), "92020000");
        let r = app
            .post(
                &format!("/v1/license-codes/{c}/file"),
                &m.buyer_key,
                json!({"machine_fingerprint": "m1", "ttl_days": 7}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let file = r.text.clone();
        let keys = key_set(&app).await;
        assert_eq!(keys.keys.len(), 1);
        let seller_keys = app.get("/v1/license-keys", &m.seller_key).await;
        assert_eq!(
            serde_json::from_str::<KeySet>(&seller_keys.text).unwrap(),
            keys
        );

        let now = app.clock.now();
        let ok = license_file::verify(file.as_bytes(), &keys, now).unwrap();
        assert_eq!(ok.validity, Validity::Valid);
        assert_eq!(ok.payload.license_code, c.as_str());
        assert_eq!(ok.payload.instance_id, instance);
        assert_eq!(ok.payload.buyer_id, m.buyer_id);
        assert_eq!(ok.payload.machine_fingerprint.as_deref(), Some("m1"));
        assert_eq!(ok.payload.entitlements["seats"], 3);
        // The fingerprint's limit is 1024 characters (not bytes), as the schema says.
        let wide = "指".repeat(1024);
        let r = app
            .post(
                &format!("/v1/license-codes/{c}/file"),
                &m.buyer_key,
                json!({"machine_fingerprint": wide, "ttl_days": 7}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        app.post(
            &format!("/v1/license-codes/{c}/file"),
            &m.buyer_key,
            json!({"machine_fingerprint": format!("{wide}x"), "ttl_days": 7}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");

        // Tamper: change one character of the payload.
        let parsed: license_file::LicenseFile = serde_json::from_str(&file).unwrap();
        let mut p = parsed.payload.clone().into_bytes();
        let i = p.len() / 2;
        p[i] = if p[i] == b'A' { b'B' } else { b'A' };
        let tampered = license_file::LicenseFile {
            payload: String::from_utf8(p).unwrap(),
            ..parsed.clone()
        };
        assert!(license_file::verify(tampered.to_text().as_bytes(), &keys, now).is_err());
        // Wrong key: a key set whose key has the right id but other bytes.
        let mut wrong = keys.clone();
        wrong.keys[0].x = license_file::PublicJwk::new(
            "other",
            &license_file::SigningKey::from_bytes(&[7u8; 32]).verifying_key(),
        )
        .x;
        assert!(license_file::verify(file.as_bytes(), &wrong, now).is_err());

        // The file TTL (7 days) passes first, then the license itself (one month).
        let stale = license_file::verify(file.as_bytes(), &keys, now + Duration::days(8)).unwrap();
        assert!(matches!(stale.validity, Validity::FileExpired(_)));
        let over = license_file::verify(file.as_bytes(), &keys, now + Duration::days(40)).unwrap();
        assert!(
            matches!(over.validity, Validity::LicenseExpired(_)),
            "{:?}",
            over.validity
        );

        // Rotation: new files use the new key; old files still verify.
        let rotated = app
            .post("/v1/license-keys/rotate", &app.operator_key, json!({}))
            .await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
        app.post("/v1/license-keys/rotate", &m.seller_key, json!({}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let keys2 = key_set(&app).await;
        assert_eq!(keys2.keys.len(), 2);
        assert!(license_file::verify(file.as_bytes(), &keys2, now)
            .unwrap()
            .is_valid());
        let r = app
            .post(
                &format!("/v1/license-codes/{c}/file"),
                &m.seller_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let newer: license_file::LicenseFile = serde_json::from_str(&r.text).unwrap();
        assert_ne!(newer.key_id, parsed.key_id);
        assert!(license_file::verify(r.text.as_bytes(), &keys2, now)
            .unwrap()
            .is_valid());

        // Strangers get nothing; a released license gets no file.
        let (_, stranger) = app.party("buyers", "Stranger").await;
        app.post(&format!("/v1/license-codes/{c}/file"), &stranger, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        advance(&app, Duration::days(31 + 14)).await;
        app.post(
            &format!("/v1/license-codes/{c}/file"),
            &m.buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "license_not_usable");

        // The command line verifies the same file offline.
        let dir = tempfile::tempdir().unwrap();
        let file_path = dir.path().join("license.json");
        let keys_path = dir.path().join("keys.json");
        std::fs::write(&file_path, &file).unwrap();
        std::fs::write(&keys_path, serde_json::to_string(&keys2).unwrap()).unwrap();
        let cli = |extra: &[&str], path: &std::path::Path| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_souk"))
                .args(["license", "verify"])
                .arg(path)
                .arg("--keys")
                .arg(&keys_path)
                .args(extra)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let at = |t: time::OffsetDateTime| license_file::format_time(t);
        let (code, out) = cli(&["--at", &at(now)], &file_path);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("valid"), "{out}");
        let (code, out) = cli(&["--at", &at(now + Duration::days(40))], &file_path);
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("expired"), "{out}");
        let bad = dir.path().join("tampered.json");
        std::fs::write(&bad, tampered.to_text()).unwrap();
        let (code, out) = cli(&[], &bad);
        assert_eq!(code, Some(1), "{out}");
        // Keys fetched from the well-known URL.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_souk"))
            .args(["license", "verify"])
            .arg(&file_path)
            .args([
                "--keys",
                &app.url("/.well-known/souk-license-keys.json"),
                "--at",
                &at(now),
            ])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
);
