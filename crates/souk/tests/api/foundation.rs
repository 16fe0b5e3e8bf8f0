//! Health, keys, tenancy, pagination, audit and migrations.

use crate::harness::{Backend, TestApp, TestDb};
use crate::{backend_db_test, backend_test};
use reqwest::StatusCode;
use serde_json::json;
use souk_store::prelude::*;
use souk_store::SqlStore;

backend_test!(
    health_readiness_metrics_and_openapi_answer,
    |app: TestApp| async move {
        let r = app.send(app.http.get(app.url("/healthz"))).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["status"], "ok");
        assert!(r.headers.contains_key("x-request-id"));

        let r = app.send(app.http.get(app.url("/readyz"))).await;
        assert_eq!(r.status, StatusCode::OK);
        let expected = match app.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(r.body["database"], expected);

        let r = app.send(app.http.get(app.url("/metrics"))).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.text.contains("souk_http_requests_total"), "{}", r.text);

        let r = app.send(app.http.get(app.url("/v1/openapi.json"))).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/v1/me",
            "/v1/{collection}",
            "/v1/api-keys/{key_id}",
            "/readyz",
        ] {
            assert!(
                r.body["paths"][path].is_object(),
                "{path} missing from OpenAPI"
            );
        }
    }
);

backend_test!(
    the_reference_ui_is_served_from_the_binary_with_same_origin_assets,
    |app: TestApp| async move {
        let r = app.send(app.http.get(app.url("/docs"))).await;
        assert_eq!(r.status, StatusCode::OK);
        let content_type = r.headers["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(r.text.contains("/v1/openapi.json"), "{}", r.text);
        // Every asset the page loads (src=, href=, spec-url=) is a path on this server.
        let mut assets = Vec::new();
        for attr in ["src=\"", "href=\"", "spec-url=\""] {
            for (i, _) in r.text.match_indices(attr) {
                let rest = &r.text[i + attr.len()..];
                assets.push(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
        assert!(assets.len() >= 2, "{assets:?}");
        for asset in &assets {
            assert!(
                asset.starts_with('/') && !asset.starts_with("//"),
                "{asset} is not same-origin"
            );
            let a = app.send(app.http.get(app.url(asset))).await;
            assert_eq!(a.status, StatusCode::OK, "{asset}");
            assert!(!a.text.is_empty(), "{asset}");
        }
        assert!(
            !r.text.contains("http://") && !r.text.contains("https://"),
            "{}",
            r.text
        );
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
    }
);

backend_test!(
    a_client_supplied_request_id_is_echoed,
    |app: TestApp| async move {
        let r = app
            .send(
                app.http
                    .get(app.url("/healthz"))
                    .header("x-request-id", "trace-me-42"),
            )
            .await;
        assert_eq!(r.headers["x-request-id"], "trace-me-42");
    }
);

backend_test!(
    key_lifecycle_create_use_revoke_then_401,
    |app: TestApp| async move {
        let (seller, key) = app.party("sellers", "Acme Cloud").await;
        let me = app.get("/v1/me", &key).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["party"]["id"], seller.as_str());
        assert_eq!(me.body["party"]["role"], "seller");
        let key_id = me.body["key_id"].as_str().unwrap().to_owned();

        // The listing never shows the secret, only a prefix.
        let list = app
            .get(&format!("/v1/sellers/{seller}/api-keys"), &app.operator_key)
            .await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
        assert!(!list.text.contains(&key));
        assert!(key.starts_with(list.body["data"][0]["display_prefix"].as_str().unwrap()));
        assert!(list.body["data"][0]["last_used_at"].is_string());

        let revoked = app
            .delete(&format!("/v1/api-keys/{key_id}"), &app.operator_key)
            .await;
        assert_eq!(revoked.status, StatusCode::OK);
        assert!(revoked.body["revoked_at"].is_string());

        app.get("/v1/me", &key)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");

        // Revoking twice is harmless and keeps the first time.
        let again = app
            .delete(&format!("/v1/api-keys/{key_id}"), &app.operator_key)
            .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
    }
);

backend_test!(
    the_last_live_operator_key_cannot_be_revoked,
    |app: TestApp| async move {
        let op = app.operator_key.clone();
        let me = app.get("/v1/me", &op).await;
        let operator = me.body["party"]["id"].as_str().unwrap().to_owned();
        let first = me.body["key_id"].as_str().unwrap().to_owned();
        let r = app.delete(&format!("/v1/api-keys/{first}"), &op).await;
        r.assert_error(StatusCode::CONFLICT, "last_operator_key");
        assert_eq!(app.get("/v1/me", &op).await.status, StatusCode::OK);

        // With a second key, the first can go; then the second is the last one.
        let issued = app
            .post(
                &format!("/v1/operators/{operator}/api-keys"),
                &op,
                serde_json::json!({"label": "spare"}),
            )
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
        let spare = issued.body["secret"].as_str().unwrap().to_owned();
        let spare_id = app.get("/v1/me", &spare).await.body["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app.delete(&format!("/v1/api-keys/{first}"), &spare).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        app.delete(&format!("/v1/api-keys/{spare_id}"), &spare)
            .await
            .assert_error(StatusCode::CONFLICT, "last_operator_key");
        assert_eq!(app.get("/v1/me", &spare).await.status, StatusCode::OK);
    }
);

backend_test!(
    bad_credentials_are_401_with_the_envelope,
    |app: TestApp| async move {
        app.send(app.http.get(app.url("/v1/me")))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "missing_credentials");
        app.get("/v1/me", "garbage")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
        app.get("/v1/me", "pk_live_0123456789abcdefghijABCDEFGHIJ01")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
        // Right shape, unknown key.
        let unknown = souk_core::api_key::generate(souk_core::party::Role::Seller).plaintext;
        app.get("/v1/me", &unknown)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
        // Operator prefix grafted onto a seller's secret does not work.
        let (_, key) = app.party("sellers", "S").await;
        let grafted = key.replacen("sk_sel_", "sk_op_", 1);
        app.get("/v1/me", &grafted)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
        app.send(
            app.http
                .get(app.url("/v1/me"))
                .header("authorization", format!("Basic {}", app.operator_key)),
        )
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
);

backend_test!(
    a_seller_cannot_see_or_touch_another_sellers_resources,
    |app: TestApp| async move {
        let (a, a_key) = app.party("sellers", "Seller A").await;
        let (b, b_key) = app.party("sellers", "Seller B").await;
        let b_key_id = app.get("/v1/me", &b_key).await.body["key_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Own resources are visible.
        assert_eq!(
            app.get(&format!("/v1/sellers/{a}"), &a_key).await.status,
            StatusCode::OK
        );

        // Another seller's are "not found", exactly like ones that do not exist.
        app.get(&format!("/v1/sellers/{b}"), &a_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/v1/sellers/{b}/api-keys"), &a_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.post(&format!("/v1/sellers/{b}/api-keys"), &a_key, json!({}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("/v1/api-keys/{b_key_id}"), &a_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        app.get(&format!("/v1/sellers/{b}/audit"), &a_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        // ... and B's key still works.
        assert_eq!(app.get("/v1/me", &b_key).await.status, StatusCode::OK);

        // Listing shows only oneself.
        let list = app.get("/v1/sellers", &a_key).await;
        let ids: Vec<&str> = list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![a.as_str()]);

        // A seller may issue itself another key.
        let own = app
            .post(
                &format!("/v1/sellers/{a}/api-keys"),
                &a_key,
                json!({"label": "ci"}),
            )
            .await;
        assert_eq!(own.status, StatusCode::CREATED);
        assert!(own.body["secret"].as_str().unwrap().starts_with("sk_sel_"));
    }
);

backend_test!(
    a_buyer_cannot_call_operator_endpoints,
    |app: TestApp| async move {
        let (_, buyer_key) = app.party("buyers", "Buyer").await;
        app.post("/v1/sellers", &buyer_key, json!({"name": "Sneaky"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.post("/v1/buyers", &buyer_key, json!({"name": "Sneaky"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let (_, seller_key) = app.party("sellers", "Seller").await;
        app.post("/v1/resellers", &seller_key, json!({"name": "Sneaky"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Nobody creates operators through the API.
        app.post(
            "/v1/operators",
            &app.operator_key,
            json!({"name": "Second"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Listing sellers as a buyer shows nothing.
        let r = app.get("/v1/sellers", &buyer_key).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["data"], json!([]));
    }
);

backend_test!(
    every_role_gets_keys_with_its_prefix,
    |app: TestApp| async move {
        for (collection, prefix) in [
            ("sellers", "sk_sel_"),
            ("buyers", "sk_buy_"),
            ("resellers", "sk_rsl_"),
        ] {
            let (id, key) = app.party(collection, "P").await;
            assert!(key.starts_with(prefix), "{key}");
            let me = app.get("/v1/me", &key).await;
            assert_eq!(me.body["party"]["id"], id.as_str());
        }
        assert!(app.operator_key.starts_with("sk_op_"));
    }
);

backend_test!(lists_paginate_with_a_cursor, |app: TestApp| async move {
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.party("buyers", &format!("Buyer {i}")).await.0);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/buyers?limit=2&after={a}"),
            None => "/v1/buyers?limit=2".to_owned(),
        };
        let page = app.get(&path, &app.operator_key).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for p in page.body["data"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created, "all buyers, in creation order, once each");
});

backend_test!(
    the_audit_trail_records_who_did_what,
    |app: TestApp| async move {
        let (seller, key) = app.party("sellers", "Audited").await;
        let key_id = app.get("/v1/me", &key).await.body["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.delete(&format!("/v1/api-keys/{key_id}"), &app.operator_key)
            .await;
        let trail = app
            .get(&format!("/v1/sellers/{seller}/audit"), &app.operator_key)
            .await;
        let actions: Vec<&str> = trail.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            vec!["seller.created", "api_key.created", "api_key.revoked"]
        );
        let operator = app.get("/v1/me", &app.operator_key).await.body["party"]["id"].clone();
        for e in trail.body["data"].as_array().unwrap() {
            assert_eq!(e["actor_id"], operator);
        }
    }
);

backend_test!(
    restarting_keeps_data_and_does_not_bootstrap_again,
    |app: TestApp| async move {
        let (seller, key) = app.party("sellers", "Persistent").await;
        let operator_key = app.operator_key.clone();
        let db = app.stop().await;
        let config = TestApp::config_for(
            &db,
            &souk_core::api_key::generate(souk_core::party::Role::Operator).plaintext,
        );
        let again =
            souk_server::App::prepare(config, std::sync::Arc::new(souk_core::clock::SystemClock))
                .await
                .unwrap();
        assert!(
            again.new_operator_key.is_none(),
            "an operator existed already"
        );
        let hash = souk_core::api_key::hash(&key);
        let who = again
            .state
            .store
            .authenticate(&hash, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .expect("the seller's key survives a restart");
        assert_eq!(who.party_id.as_str(), seller);
        assert!(again
            .state
            .store
            .authenticate(
                &souk_core::api_key::hash(&operator_key),
                time::OffsetDateTime::now_utc()
            )
            .await
            .unwrap()
            .is_some());
    }
);

backend_db_test!(migrating_twice_is_a_no_op, |db: TestDb| async move {
    let store = SqlStore::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let first = store.schema_dump().await.unwrap();
    assert!(first.iter().any(|l| l.contains("api_keys")), "{first:?}");
    store.migrate().await.unwrap();
    assert_eq!(store.schema_dump().await.unwrap(), first);
    // A second process connecting to the same database sees the same schema.
    let other = SqlStore::connect(&db.url).await.unwrap();
    other.migrate().await.unwrap();
    assert_eq!(other.schema_dump().await.unwrap(), first);
});

backend_test!(
    a_suspended_party_is_locked_out_until_reactivated,
    |app: TestApp| async move {
        let (seller, key) = app.party("sellers", "Suspendable").await;
        assert_eq!(app.get("/v1/me", &key).await.status, StatusCode::OK);
        let patch = |key: String, body: serde_json::Value| {
            app.send(
                app.http
                    .patch(app.url(&format!("/v1/sellers/{seller}")))
                    .bearer_auth(key)
                    .json(&body),
            )
        };
        // Only the operator may do it.
        patch(key.clone(), json!({"status": "suspended"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        patch(app.operator_key.clone(), json!({"status": "frozen"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let r = patch(app.operator_key.clone(), json!({"status": "suspended"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "suspended");
        app.get("/v1/me", &key)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_api_key");
        let r = patch(app.operator_key.clone(), json!({"status": "active"})).await;
        assert_eq!(r.body["status"], "active");
        assert_eq!(app.get("/v1/me", &key).await.status, StatusCode::OK);
        let trail = app
            .get(&format!("/v1/sellers/{seller}/audit"), &app.operator_key)
            .await;
        let actions: Vec<&str> = trail.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.ends_with(&["party.suspended", "party.active"]),
            "{actions:?}"
        );
    }
);
