//! What real sellers' code tripped on: protocol time after a sandbox clock move, and the empty
//! body hash of Huawei's Python APIG signer.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use souk_protocol::apig::{self, RequestParts};
use souk_protocol::SecretKey;
use time::Duration;

backend_test!(
    v2_calls_after_a_90_day_clock_move_pass_a_sellers_60_second_window,
    |app: TestApp| async move {
        // The example seller enforces V2's ±60 s timestamp window on its own (real) clock.
        let ex = example_seller(&app, |c| {
            c.v1_window = Some(std::time::Duration::from_secs(60));
        })
        .await;
        let m = market(&app, Proto::V2, ex).await;
        app.advance(Duration::days(90)).await;
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let instance = order["instance_id"].as_str().unwrap();
        m.wait_instance(&app, instance, "active").await;
        // Renewal, freeze and release after more business time has passed: all accepted.
        let renewal = m.act(&app, instance, "renew", json!({"periods": 1})).await;
        m.wait_order(&app, renewal["id"].as_str().unwrap(), "completed")
            .await;
        // Two months paid (59 to 62 days, by the calendar); a week of grace; then the freeze
        // call. The business clock has not moved since the instance opened.
        let renewed = m.wait_instance(&app, instance, "active").await;
        let at = |field: &str| {
            time::OffsetDateTime::parse(
                renewed[field].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        let paid_for = at("expire_at") - at("opened_at");
        app.advance(paid_for + Duration::days(7) + Duration::hours(1))
            .await;
        m.wait_instance(&app, instance, "frozen").await;
        let attempts = app.get("/v1/interface-messages", &m.seller_key).await;
        let data = attempts.body["data"].as_array().unwrap();
        assert!(data.len() >= 3, "{}", attempts.text);
        for a in data {
            assert_eq!(a["outcome"], "success", "{a}");
        }

        // The same on V1 with a seller that checks timeStamp freshness.
        let ex = example_seller(&app, |c| {
            c.v1_window = Some(std::time::Duration::from_secs(60));
        })
        .await;
        let v1 = market(&app, Proto::V1, ex).await;
        let order = v1
            .buy(&app, json!({"sku_id": v1.basic, "billing_mode": "monthly"}))
            .await;
        v1.wait_instance(&app, order["instance_id"].as_str().unwrap(), "active")
            .await;
    }
);

backend_test!(
    a_bodyless_open_api_call_signed_over_the_empty_body_hash_is_accepted,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let m = market(&app, Proto::V2, ex).await;
        let r = app
            .post(
                &format!("/v1/sellers/{}/access-keys", m.seller_id),
                &m.seller_key,
                json!({}),
            )
            .await;
        let (ak, sk) = (
            r.body["access_key"].as_str().unwrap().to_owned(),
            SecretKey::new(r.body["secret_key"].as_str().unwrap()),
        );
        // After a sandbox clock move: X-Sdk-Date is checked against the real clock.
        app.advance(Duration::days(30)).await;
        let host = app.base.trim_start_matches("http://").to_owned();
        let date = apig::sdk_date(time::OffsetDateTime::now_utc());
        let path = "/api/mkp-openapi-public/global/v1/order/query";
        let query = "orderId=MOCKPERIODYEARNEW";
        let headers = [
            ("Host", host.as_str()),
            ("X-Sdk-Date", date.as_str()),
            ("X-Sdk-Content-Sha256", apig::UNSIGNED_PAYLOAD),
        ];
        let req = RequestParts {
            method: "GET",
            path,
            query,
            headers: &headers,
            body: b"",
        };
        let signed: Vec<String> = ["host", "x-sdk-content-sha256", "x-sdk-date"]
            .map(str::to_owned)
            .to_vec();
        // What Huawei's Python signer does: the header is sent and signed, the payload hash in
        // the canonical request is the empty body's.
        let canonical = apig::canonical_request(&req, &signed).unwrap();
        let (head, _) = canonical.rsplit_once('\n').unwrap();
        let canonical = format!("{head}\n{}", sha256_hex(b""));
        let to_sign = format!(
            "SDK-HMAC-SHA256\n{date}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let signature = hmac_hex(&sk, &to_sign);
        let auth = format!(
            "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={signature}",
            signed.join(";")
        );
        let send = |auth: String| {
            app.send(
                app.http
                    .get(app.url(&format!("{path}?{query}")))
                    .header("X-Sdk-Date", &date)
                    .header("X-Sdk-Content-Sha256", apig::UNSIGNED_PAYLOAD)
                    .header("Authorization", auth),
            )
        };
        let r = send(auth).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["orderInfo"]["orderId"], "MOCKPERIODYEARNEW");
        // The Java form (payload hash = the header's value) works too.
        let java = apig::sign(&ak, &sk, &req).unwrap();
        let r = send(java).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // A wrong signature is still refused.
        let r = send(format!(
            "SDK-HMAC-SHA256 Access={ak}, SignedHeaders={}, Signature={}",
            signed.join(";"),
            "0".repeat(64)
        ))
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
);

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn hmac_hex(key: &SecretKey, msg: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

backend_test!(
    a_hanging_seller_does_not_delay_another_sellers_outcome,
    |app: TestApp| async move {
        // Seller A takes the call in and never answers; seller B answers at once.
        let slow = example_seller(&app, |_| {}).await;
        slow.set_failing(Some(souk_isv::example::FailureMode::Hang));
        let a = market(&app, Proto::V1, slow).await;
        let b = market(&app, Proto::V1, example_seller(&app, |_| {}).await).await;
        let order_a = a
            .buy(&app, json!({"sku_id": a.basic, "billing_mode": "monthly"}))
            .await;
        let order_b = b
            .buy(&app, json!({"sku_id": b.basic, "billing_mode": "monthly"}))
            .await;

        // An engine whose seller timeout is short enough for a test, driven by hand.
        let mut state = app.state.clone();
        let mut config = (*state.config).clone();
        config.provisioning.seller_timeout =
            souk_server::config::HumanDuration(time::Duration::seconds(2));
        state.config = std::sync::Arc::new(config);
        let engine = souk_server::workers::Engine::new(state).unwrap();
        let mut recorded = engine.subscribe();
        let round = tokio::spawn({
            let engine = engine.clone();
            async move { engine.dispatcher().run_once().await.unwrap() }
        });

        // The first outcome recorded is B's, while A's call is still unanswered.
        let first = recorded.recv().await.unwrap();
        assert_eq!(first.seller_id, b.seller_id, "{first:?}");
        assert_eq!(first.outcome, "success");
        let a_attempts = app.get("/v1/interface-messages", &a.seller_key).await.body["data"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(a_attempts, 0, "A's outcome must not be recorded before B's");
        assert_eq!(
            b.instance(&app, order_b["instance_id"].as_str().unwrap())
                .await["state"],
            "active"
        );
        // Then A times out and is recorded as a failure to retry.
        let second = recorded.recv().await.unwrap();
        assert_eq!(second.seller_id, a.seller_id, "{second:?}");
        assert_eq!(second.outcome, "failure");
        assert_eq!(round.await.unwrap(), 2);

        // A recovers; its retry opens the instance.
        a.example.set_failing(None);
        app.advance(Duration::minutes(5)).await;
        a.wait_instance(&app, order_a["instance_id"].as_str().unwrap(), "active")
            .await;
    }
);

/// A listed product whose seller creates accounts from the buyer's e-mail and phone, and a
/// buyer who has both: `(seller key, buyer key, sku id)`.
async fn contact_market(
    app: &TestApp,
    proto: Proto,
    bits: u16,
    ex: &souk_isv::example::ExampleHandle,
) -> (String, String, String, String) {
    let (seller_id, seller_key) = app.party("sellers", "Accounts Inc").await;
    let mut body = product_body(
        "Accounts",
        proto,
        &format!("{}/produce", ex.url().trim_end_matches('/')),
    );
    body["integration"]["buyer_fields"] = json!(["email", "mobile_phone", "user_id", "user_name"]);
    body["integration"]["pii_encrypt_bits"] = json!(bits);
    let created = app.post("/v1/products", &seller_key, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    app.post(&format!("/v1/products/{id}/submit"), &seller_key, json!({}))
        .await;
    let approved = app
        .post(
            &format!("/v1/products/{id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
    let buyer = app
        .post(
            "/v1/buyers",
            &app.operator_key,
            json!({"name": "Li Lei", "email": "li.lei@buyer.example", "mobile_phone": "+86 138-0013-8000"}),
        )
        .await;
    assert_eq!(buyer.status, StatusCode::CREATED, "{}", buyer.text);
    assert_eq!(buyer.body["mobile_phone"], "+8613800138000");
    let buyer_id = buyer.body["id"].as_str().unwrap().to_owned();
    let key = app
        .post(
            &format!("/v1/buyers/{buyer_id}/api-keys"),
            &app.operator_key,
            json!({}),
        )
        .await;
    top_up(app, &buyer_id, 100_000).await;
    (
        seller_id,
        seller_key,
        key.body["secret"].as_str().unwrap().to_owned(),
        sku,
    )
}

async fn buy_and_drain(app: &TestApp, buyer_key: &str, sku: &str) -> (String, String) {
    let placed = app
        .post(
            "/v1/orders",
            buyer_key,
            json!({"sku_id": sku, "billing_mode": "monthly"}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_owned();
    let paid = app
        .post(&format!("/v1/orders/{id}/pay"), buyer_key, json!({}))
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    app.drain().await;
    (id, paid.body["instance_id"].as_str().unwrap().to_owned())
}

backend_test!(
    buyer_email_and_phone_reach_the_seller_encrypted_with_the_products_key_size,
    |mut app: TestApp| async move {
        use souk_protocol::EncryptType;
        for (bits, encrypt_type) in [(128, EncryptType::Aes128), (256, EncryptType::Aes256)] {
            let ex = example_seller(&app, |c| c.pii_encrypt_type = encrypt_type).await;
            let (_, seller_key, buyer_key, sku) = contact_market(&app, Proto::V1, bits, &ex).await;
            let (_, instance) = buy_and_drain(&app, &buyer_key, &sku).await;
            let inst = app
                .get(&format!("/v1/instances/{instance}"), &buyer_key)
                .await;
            assert_eq!(inst.body["state"], "active", "{}", inst.text);
            // The seller decrypted the buyer's own values…
            let seller_side = ex.state();
            let opened = seller_side.instances.values().next().unwrap();
            assert_eq!(opened.buyer_email.as_deref(), Some("li.lei@buyer.example"));
            assert_eq!(opened.buyer_phone.as_deref(), Some("+8613800138000"));
            // …which were not on the wire in clear.
            let tries = app.get("/v1/interface-messages", &seller_key).await;
            let params = &tries.body["data"][0]["request"]["params"];
            let email = params["email"].as_str().unwrap();
            assert!(!email.contains('@'), "{email}");
            assert!(!params["mobilePhone"]
                .as_str()
                .unwrap()
                .contains("8613800138000"));
            assert!(params["userId"].as_str().unwrap().starts_with("buy_"));
            assert_eq!(params["userName"], "Li Lei");
        }

        // A seller that decrypts with the other key size cannot read them: 000102, retried.
        let ex = example_seller(&app, |c| c.pii_encrypt_type = EncryptType::Aes256).await;
        let (_, seller_key, buyer_key, sku) = contact_market(&app, Proto::V1, 128, &ex).await;
        buy_and_drain(&app, &buyer_key, &sku).await;
        let tries = app.get("/v1/interface-messages", &seller_key).await;
        assert_eq!(
            tries.body["data"][0]["result_code"], "000102",
            "{}",
            tries.text
        );
        app.allow_pending_work();
    }
);

backend_test!(
    a_v2_seller_reads_the_buyers_details_from_the_order_query,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let (seller_id, seller_key, buyer_key, sku) =
            contact_market(&app, Proto::V2, 128, &ex).await;
        let (order, _) = buy_and_drain(&app, &buyer_key, &sku).await;
        let r = app
            .post(
                &format!("/v1/sellers/{seller_id}/access-keys"),
                &seller_key,
                json!({}),
            )
            .await;
        let (ak, sk) = (
            r.body["access_key"].as_str().unwrap().to_owned(),
            SecretKey::new(r.body["secret_key"].as_str().unwrap()),
        );
        let host = app.base.trim_start_matches("http://").to_owned();
        let date = apig::sdk_date(time::OffsetDateTime::now_utc());
        let path = "/api/mkp-openapi-public/global/v1/order/query";
        let query = format!("orderId={order}");
        let headers = [("Host", host.as_str()), ("X-Sdk-Date", date.as_str())];
        let auth = apig::sign(
            &ak,
            &sk,
            &RequestParts {
                method: "GET",
                path,
                query: &query,
                headers: &headers,
                body: b"",
            },
        )
        .unwrap();
        let r = app
            .send(
                app.http
                    .get(app.url(&format!("{path}?{query}")))
                    .header("X-Sdk-Date", &date)
                    .header("Authorization", auth),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let info = &r.body["orderInfo"]["buyerInfo"];
        let key = souk_protocol::SellerKey::new(SELLER_KEY);
        let open = |v: &serde_json::Value| {
            souk_protocol::credentials::decrypt(
                &key,
                souk_protocol::EncryptType::Aes128,
                v.as_str().unwrap(),
            )
            .unwrap()
        };
        assert_eq!(open(&info["email"]), "li.lei@buyer.example");
        assert_eq!(open(&info["mobilePhone"]), "+8613800138000");
        assert_eq!(info["userName"], "Li Lei");
    }
);

backend_test!(
    order_fields_the_buyer_fills_in_reach_the_seller_as_saas_extend_params,
    |app: TestApp| async move {
        let ex = example_seller(&app, |_| {}).await;
        let (seller_id, seller_key) = app.party("sellers", "Fields Inc").await;
        let _ = seller_id;
        let mut body = product_body(
            "Fields",
            Proto::V1,
            &format!("{}/produce", ex.url().trim_end_matches('/')),
        );
        body["order_fields"] = json!([
            {"name": "company", "label": "Company name", "required": true},
            {"name": "domain", "label": "Your domain"}
        ]);
        let created = app.post("/v1/products", &seller_key, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.body["order_fields"][0]["name"], "company");
        let id = created.body["id"].as_str().unwrap();
        app.post(&format!("/v1/products/{id}/submit"), &seller_key, json!({}))
            .await;
        let approved = app
            .post(
                &format!("/v1/products/{id}/approve"),
                &app.operator_key,
                json!({}),
            )
            .await;
        let sku = approved.body["skus"][0]["id"].as_str().unwrap().to_owned();
        let (buyer_id, buyer_key) = app.party("buyers", "Han Meimei").await;
        top_up(&app, &buyer_id, 100_000).await;

        // The required field missing, or a field the product does not have: refused.
        for (values, field) in [
            (json!({"domain": "han.example"}), "extend_params.company"),
            (
                json!({"company": "Han Co", "colour": "red"}),
                "extend_params.colour",
            ),
        ] {
            let r = app
                .post(
                    "/v1/orders",
                    &buyer_key,
                    json!({"sku_id": sku, "billing_mode": "monthly", "extend_params": values}),
                )
                .await;
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert_eq!(r.body["error"]["details"]["field"], field);
        }

        let placed = app
            .post(
                "/v1/orders",
                &buyer_key,
                json!({"sku_id": sku, "billing_mode": "monthly",
                       "extend_params": {"domain": "han.example", "company": "Han Co"}}),
            )
            .await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
        let order = placed.body["id"].as_str().unwrap();
        app.post(&format!("/v1/orders/{order}/pay"), &buyer_key, json!({}))
            .await;
        app.drain().await;
        // In the product's order, as the seller's code decodes saasExtendParams.
        let opened = ex.state().instances.values().next().unwrap().clone();
        assert_eq!(
            opened.extend_params,
            vec![
                ("company".to_owned(), "Han Co".to_owned()),
                ("domain".to_owned(), "han.example".to_owned())
            ]
        );
    }
);
