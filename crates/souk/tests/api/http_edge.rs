//! The HTTP edge as clients meet it: connections that stay usable after a refusal, and the
//! error envelope on answers produced below the handlers.

use crate::backend_test;
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 request on `stream` and returns the response head (lower-cased) and
/// body, reading exactly Content-Length bytes so the connection can be used again.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &str) -> (String, String) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(
            n,
            1,
            "connection closed mid-head: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap().to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.unwrap();
    (head, String::from_utf8(body).unwrap())
}

backend_test!(
    a_refusal_before_the_body_is_read_says_connection_close,
    |app: TestApp| async move {
        let addr = app.base.trim_start_matches("http://").to_owned();
        let body = json!({"name": "x".repeat(2000)}).to_string();
        let post = |key: &str| {
            format!(
                "POST /v1/sellers HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {key}\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        // Refused by the key check before the body is read: the answer says the connection
        // ends, so a pooling client does not send its next request into a closed socket.
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (head, text) = exchange(&mut s, &post("sk_op_wrongwrongwrongwrongwrongwrong12")).await;
        assert!(head.starts_with("http/1.1 401"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(
            text.contains("invalid_api_key") || text.contains("invalid_credentials"),
            "{text}"
        );

        // A request whose body was read keeps the connection: two on one socket.
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (head, _) = exchange(&mut s, &post(&app.operator_key)).await;
        assert!(head.starts_with("http/1.1 422"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
        let get = format!(
            "GET /v1/me HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\r\n",
            app.operator_key
        );
        let (head, _) = exchange(&mut s, &get).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");

        // A pooling client alternating refused posts and good requests on one connection
        // never meets a closed socket.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        for i in 0..150 {
            let refused = client
                .post(app.url("/v1/sellers"))
                .bearer_auth("sk_sel_nopenopenopenopenopenopenopenope")
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            let ok = client
                .get(app.url("/v1/me"))
                .bearer_auth(&app.operator_key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(ok.status(), StatusCode::OK);
        }
    }
);

backend_test!(
    long_urls_and_oversized_open_api_bodies_get_their_apis_error_shape,
    |app: TestApp| async move {
        // A 20 KiB path: refused with the envelope, not an empty 414.
        let long = format!("/v1/products/{}", "a".repeat(20 * 1024));
        let r = app.get(&long, &app.operator_key).await;
        r.assert_error(StatusCode::URI_TOO_LONG, "uri_too_long");

        // The KooGallery open API answers in its own shape, also for a body over the limit.
        let path = "/api/mkp-openapi-public/global/v1/license/activate";
        let big = format!(r#"{{"license":"{}"}}"#, "x".repeat(128 * 1024));
        let r = app
            .send(
                app.http
                    .post(app.url(path))
                    .header("content-type", "application/json")
                    .body(big),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
        assert_eq!(r.body["error_code"], "95000001", "{}", r.text);
        assert!(
            r.body["error_msg"].as_str().unwrap().contains("larger"),
            "{}",
            r.text
        );
        assert!(r.body.get("error").is_none(), "{}", r.text);
        let r = app
            .send(
                app.http
                    .get(app.url(&format!("{path}?{}", "q".repeat(9000)))),
            )
            .await;
        assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{}", r.text);
        assert_eq!(r.body["error_code"], "95000001", "{}", r.text);

        // 405 names what is allowed, in the open API's shape.
        let r = app.send(app.http.get(app.url(path))).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
        assert_eq!(r.headers.get("allow").unwrap(), "POST");
        assert_eq!(r.body["error_code"], "95000002", "{}", r.text);
    }
);

backend_test!(
    requests_the_http_library_refuses_still_get_the_envelope,
    |app: TestApp| async move {
        let addr = app.base.trim_start_matches("http://").to_owned();
        let raw = |request: String| {
            let addr = addr.clone();
            async move {
                let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                s.write_all(request.as_bytes()).await.unwrap();
                let mut out = Vec::new();
                // The server answers and closes the connection.
                s.read_to_end(&mut out).await.unwrap();
                String::from_utf8(out).unwrap()
            }
        };
        // A 100 KiB path: past hyper's own URL limit (64 KiB).
        let long = format!(
            "GET /v1/products/{} HTTP/1.1\r\nhost: {addr}\r\n\r\n",
            "a".repeat(100 * 1024)
        );
        let answer = raw(long).await;
        assert!(answer.starts_with("HTTP/1.1 414 "), "{answer:.200}");
        assert!(
            answer.contains("content-type: application/json"),
            "{answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "uri_too_long");

        // A request line that is not HTTP.
        let answer = raw("GARBAGE\r\n\r\n".into()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains(r#""code":"malformed_request""#), "{answer}");
    }
);
