//! Malformed requests: each gets the right status and error code, never a 500.

use crate::backend_test;
use crate::harness::TestApp;
use reqwest::StatusCode;

/// (method, path, key, content type, body, expected status, expected code)
type Case<'a> = (
    &'a str,
    String,
    &'a str,
    Option<&'a str>,
    String,
    StatusCode,
    &'a str,
);

backend_test!(
    malformed_requests_get_clear_errors_and_change_nothing,
    |app: TestApp| async move {
        let (seller, seller_key) = app.party("sellers", "Existing").await;
        let op = app.operator_key.clone();
        let json = "application/json";
        let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
        let unknown_seller = "sel_01m80a9x4tf77tdsqkg05hs2bj";

        let cases: Vec<Case> = vec![
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                "{".into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                "".into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                "[1,2]".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":42}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":"A","colour":"red"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":"   "}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":"A","email":"not-an-email"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                format!(r#"{{"name":"{}"}}"#, "n".repeat(201)),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some("text/plain"),
                r#"{"name":"A"}"#.into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                None,
                r#"{"name":"A"}"#.into(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                big,
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                "\u{feff}{\"name\":\"bom\"}".into(),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                "POST",
                format!("/v1/sellers/{seller}/api-keys"),
                &op,
                Some(json),
                r#"{"label":"x\u0001y"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                "POST",
                format!("/v1/sellers/{seller}/api-keys"),
                &op,
                Some(json),
                r#"{"label":7}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                "GET",
                "/v1/sellers?limit=0".into(),
                &op,
                None,
                String::new(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                "GET",
                "/v1/sellers?limit=1000".into(),
                &op,
                None,
                String::new(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                "GET",
                "/v1/sellers?limit=many".into(),
                &op,
                None,
                String::new(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                "GET",
                "/v1/sellers?colour=red".into(),
                &op,
                None,
                String::new(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                "GET",
                "/v1/sellers/not-an-id".into(),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                "GET",
                format!("/v1/buyers/{seller}"),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                "GET",
                format!("/v1/sellers/{unknown_seller}"),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                "GET",
                "/v1/gadgets".into(),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "route_not_found",
            ),
            (
                "GET",
                "/nowhere".into(),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "route_not_found",
            ),
            (
                "DELETE",
                "/v1/api-keys/key_nope".into(),
                &op,
                None,
                String::new(),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                "PUT",
                "/healthz".into(),
                &op,
                None,
                String::new(),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
            (
                "PATCH",
                "/v1/sellers".into(),
                &op,
                Some(json),
                "{}".into(),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &seller_key,
                Some(json),
                r#"{"name":"A"}"#.into(),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
            // Names that show nothing, or display as something else.
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":"\u200b\u200c\u2060\ufeff"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            (
                "POST",
                "/v1/sellers".into(),
                &op,
                Some(json),
                r#"{"name":"Acme\u202egnp.exe"}"#.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            ),
            // XXX is ISO 4217's "no currency", not money.
            (
                "GET",
                format!("/v1/buyers/{unknown_seller}/balance?currency=XXX"),
                &op,
                None,
                String::new(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
        ];
        assert!(cases.len() >= 15);

        for (method, path, key, content_type, body, status, code) in cases {
            let mut req = app
                .http
                .request(method.parse().unwrap(), app.url(&path))
                .bearer_auth(key)
                .body(body.clone());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let reply = app.send(req).await;
            assert_ne!(
                reply.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path}"
            );
            assert_eq!(
                reply.status, status,
                "{method} {path} {body:.60}: {}",
                reply.text
            );
            assert_eq!(
                reply.body["error"]["code"], code,
                "{method} {path} {body:.60}: {}",
                reply.text
            );
        }

        // None of it created anything: still exactly the one seller.
        let sellers = app.get("/v1/sellers", &op).await;
        assert_eq!(
            sellers.body["data"].as_array().unwrap().len(),
            1,
            "{}",
            sellers.text
        );
        let keys = app
            .get(&format!("/v1/sellers/{seller}/api-keys"), &op)
            .await;
        assert_eq!(
            keys.body["data"].as_array().unwrap().len(),
            1,
            "{}",
            keys.text
        );
    }
);

backend_test!(
    whole_numbers_written_with_a_fraction_are_integers,
    |app: TestApp| async move {
        // JSON has one number type and JSON Schema counts 2.0 as an integer: Souk reads it as 2.
        let (buyer, _) = app.party("buyers", "Float Buyer").await;
        let op = app.operator_key.clone();
        let top_up = app
            .post(
                &format!("/v1/buyers/{buyer}/balance/top-ups"),
                &op,
                serde_json::json!({"amount": {"amount_minor": 1500.0, "currency": "CNY"}}),
            )
            .await;
        assert_eq!(top_up.status, StatusCode::CREATED, "{}", top_up.text);
        assert_eq!(top_up.body["balance"]["amount_minor"], 1500);
        // A fraction is still not an integer.
        app.post(
            &format!("/v1/buyers/{buyer}/balance/top-ups"),
            &op,
            serde_json::json!({"amount": {"amount_minor": 1500.5, "currency": "CNY"}}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        // Past 2^53 a float does not hold the integer exactly: refused, not rounded.
        app.post(
            &format!("/v1/buyers/{buyer}/balance/top-ups"),
            &op,
            serde_json::json!({"amount": {"amount_minor": 1.0e16, "currency": "CNY"}}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        let balance = app.get(&format!("/v1/buyers/{buyer}/balance"), &op).await;
        assert_eq!(
            balance.body["balance"]["amount_minor"], 1500,
            "{}",
            balance.text
        );
    }
);
