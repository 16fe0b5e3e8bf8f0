//! Attachments in the local and the S3-compatible blob store.

use super::*;
use crate::ops_support::ready_line;

async fn upload(
    app: &TestApp,
    key: &str,
    order: &str,
    name: &str,
    ctype: &str,
    body: Vec<u8>,
) -> Reply {
    app.send(
        app.http
            .post(app.url(&format!("/v1/orders/{order}/attachments?filename={name}")))
            .bearer_auth(key)
            .header("content-type", ctype)
            .body(body),
    )
    .await
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Upload, list, download with sha256, access control, evidence referring to an attachment.
async fn attachments_round_trip(app: &TestApp) {
    let m = market(app, Proto::V2, example_seller(app, |_| {}).await).await;
    let sku = listed(app, &m, "manual_service", json!({})).await;
    let order = m
        .buy(app, json!({"sku_id": sku, "billing_mode": "monthly"}))
        .await;
    let id = order["id"].as_str().unwrap();
    // Larger than the JSON body limit (64 KiB in tests): uploads stream past it.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let up = upload(
        app,
        &m.seller_key,
        id,
        "report.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text);
    assert_eq!(up.body["sha256"], sha256_hex(&bytes));
    assert_eq!(up.body["size_bytes"], 200_000);
    let att = up.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/attachments/{att}");
    for key in [&m.buyer_key, &m.seller_key, &app.operator_key] {
        let got = app
            .http
            .get(app.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["x-souk-sha256"], sha256_hex(&bytes).as_str());
        assert_eq!(got.headers()["content-type"], "application/pdf");
        let body = got.bytes().await.unwrap();
        assert_eq!(
            sha256_hex(&body),
            sha256_hex(&bytes),
            "the same bytes come back"
        );
    }
    let (_, stranger) = app.party("buyers", "Stranger").await;
    assert_eq!(
        app.get(&path, &stranger).await.status,
        StatusCode::NOT_FOUND
    );
    let (_, other_seller) = app.party("sellers", "Other Seller").await;
    assert_eq!(
        app.get(&path, &other_seller).await.status,
        StatusCode::NOT_FOUND
    );
    let sneaky = upload(app, &stranger, id, "x.txt", "text/plain", b"hi".to_vec()).await;
    assert_eq!(sneaky.status, StatusCode::NOT_FOUND, "{}", sneaky.text);
    let exe = upload(
        app,
        &m.buyer_key,
        id,
        "x.exe",
        "application/x-msdownload",
        b"MZ".to_vec(),
    )
    .await;
    assert_eq!(
        exe.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        exe.text
    );
    let slash = upload(
        app,
        &m.buyer_key,
        id,
        "a%2Fb.txt",
        "text/plain",
        b"hi".to_vec(),
    )
    .await;
    assert_eq!(
        slash.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        slash.text
    );
    let list = app
        .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
        .await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );

    // Evidence points at the uploaded file; an id of another order is refused.
    act(
        app,
        &m.buyer_key,
        id,
        json!({"action": "submit_requirement", "requirement": "A shop"}),
    )
    .await;
    act(
        app,
        &m.seller_key,
        id,
        json!({"action": "confirm_requirement"}),
    )
    .await;
    act(app, &m.seller_key, id, json!({"action": "implement"})).await;
    let bad = try_act(
        app,
        &m.seller_key,
        id,
        json!({"action": "deliver_proof", "evidence": [
        {"kind": "acceptance_report", "description": "Signed", "attachments": ["att_nope"]}]}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let s = act(
        app,
        &m.seller_key,
        id,
        json!({"action": "deliver_proof", "evidence": [
        {"kind": "acceptance_report", "description": "Signed", "attachments": [att]}]}),
    )
    .await;
    assert_eq!(s["evidence"][0]["attachments"][0], att.as_str());
}

backend_test!(
    attachments_stream_to_the_local_store_with_sha256_and_stay_with_the_orders_parties,
    |app: TestApp| async move {
        attachments_round_trip(&app).await;
    }
);

/// Uploads `chunks` × `size` bytes with chunked transfer encoding (no Content-Length), over a
/// raw connection; returns the status line.
async fn chunked_upload(
    app: &TestApp,
    key: &str,
    order: &str,
    chunks: usize,
    size: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/orders/{order}/attachments?filename=big.csv HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {key}\r\nContent-Type: text/csv\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let mut c = format!("{size:x}\r\n").into_bytes();
        c.extend(std::iter::repeat_n(b'a', size));
        c.extend(b"\r\n");
        // The server may answer and close before the last chunk: that is the point.
        if s.write_all(&c).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn blob_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                blob_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

backend_test!(
    an_attachment_over_the_limit_is_refused_and_nothing_is_stored,
    |app: TestApp| async move {
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, |c| c.attachments.max_bytes = 100_000).await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "data_file", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap();
        let blobs = app.state.config.data_dir.join("blobs");
        let over = upload(
            &app,
            &m.buyer_key,
            id,
            "big.csv",
            "text/csv",
            vec![b'a'; 100_001],
        )
        .await;
        assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
        assert_eq!(over.body["error"]["code"], "attachment_too_large");
        // Without a declared length the limit holds while streaming.
        let status = chunked_upload(&app, &m.buyer_key, id, 11, 10_000).await;
        assert!(status.starts_with("HTTP/1.1 413"), "{status}");
        assert_eq!(blob_files(&blobs), 0, "nothing stored");
        let list = app
            .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
            .await;
        assert_eq!(list.body["data"], json!([]));
        let fits = upload(
            &app,
            &m.buyer_key,
            id,
            "ok.csv",
            "text/csv",
            vec![b'a'; 100_000],
        )
        .await;
        assert_eq!(fits.status, StatusCode::CREATED, "{}", fits.text);
        assert_eq!(blob_files(&blobs), 1);
    }
);

/// A real S3-compatible server (moto, from PyPI) on a loopback port, stopped with the test.
struct S3Server {
    child: tokio::process::Child,
    endpoint: String,
}

impl S3Server {
    async fn start() -> Option<S3Server> {
        if std::env::var("SOUK_TEST_S3").as_deref() == Ok("skip") {
            eprintln!("SOUK_TEST_S3=skip: not running the S3 mode");
            return None;
        }
        // Port 0: moto binds a free port itself and names it when it listens.
        let mut child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; scripts/ensure-s3.sh does it)");
        // moto's server (werkzeug) logs " * Running on http://…" once its socket listens.
        let err = child.stderr.take().unwrap();
        let line = ready_line(err, "Running on", std::time::Duration::from_secs(60)).await;
        let port = crate::ops_support::port_in(&line);
        let endpoint = format!("http://127.0.0.1:{port}");
        let made = reqwest::Client::new()
            .put(format!("{endpoint}/souk-test"))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success(), "bucket: {}", made.status());
        Some(S3Server { child, endpoint })
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

backend_test!(
    attachments_work_the_same_on_an_s3_compatible_store,
    |app: TestApp| async move {
        let Some(s3) = S3Server::start().await else {
            return;
        };
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let endpoint = s3.endpoint.clone();
        let app = TestApp::spawn_with(db, move |c| {
            c.attachments.store = souk_server::config::BlobStoreKind::S3;
            c.attachments.s3_endpoint = endpoint;
            c.attachments.s3_bucket = "souk-test".into();
            c.attachments.s3_access_key_id = "test".into();
            c.attachments.s3_secret_access_key = Some(souk_server::config::Secret::new("test"));
        })
        .await;
        attachments_round_trip(&app).await;
        assert_eq!(
            blob_files(&app.state.config.data_dir.join("blobs")),
            0,
            "nothing on local disk"
        );
        // The bytes are in the bucket, under the order.
        let listing = reqwest::get(format!("{}/souk-test?list-type=2", s3.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(listing.contains("attachments/ord_"), "{listing}");
    }
);
