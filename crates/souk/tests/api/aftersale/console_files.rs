//! Attachments from the after-sale console pages, on both backends (local blob store): the
//! buyer attaches a brief to the requirement and a screenshot before rejecting, the seller
//! attaches the delivery proof to the evidence, the operator attaches the appeal decision; each
//! file streams through the API's use case (same limits, same sha256). A form without its
//! token first, an over-limit file and a wrong type get a readable page and nothing is stored.

use super::attachments::{blob_files, sha256_hex};
use super::console::{logged_in, step};
use super::*;
use crate::console_support::{operator_id, Web};

/// Attaches a file from the order's page; returns the reply.
async fn attach(web: &Web<'_>, order: &str, name: &str, ctype: &str, bytes: &[u8]) -> Reply {
    let page = format!("/aftersale/orders/{order}");
    web.submit_file(
        &page,
        &format!("{page}/attachments"),
        &[],
        (name, ctype, bytes),
        true,
    )
    .await
}

/// Attaches and expects the redirect back; returns the new attachment's id (from the API).
async fn attached(app: &TestApp, key: &str, web: &Web<'_>, order: &str, name: &str) -> String {
    let bytes = format!("{name}: the file's bytes").into_bytes();
    let ctype = match name.rsplit('.').next() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        _ => "text/plain",
    };
    let r = attach(web, order, name, ctype, &bytes).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        crate::console_support::location(&r),
        format!("/aftersale/orders/{order}#attachments")
    );
    let list = app
        .get(&format!("/v1/orders/{order}/attachments"), key)
        .await;
    let a = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {}", list.text))
        .clone();
    assert_eq!(a["sha256"], sha256_hex(&bytes), "{a}");
    assert_eq!(a["content_type"], ctype);
    // The console serves the same bytes with the sha256.
    let dl = web
        .get(&format!(
            "/aftersale/orders/{order}/attachments/{}",
            a["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(dl.text.as_bytes(), &bytes[..]);
    assert_eq!(dl.headers["x-souk-sha256"], sha256_hex(&bytes).as_str());
    a["id"].as_str().unwrap().to_owned()
}

backend_test!(
    buyers_sellers_and_operators_attach_files_from_the_console,
    |app: TestApp| async move {
        let db = TestDb::new(app.backend()).await;
        drop(app.stop().await);
        let app = TestApp::spawn_with(db, |c| c.attachments.max_bytes = 100_000).await;
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        let page = format!("/aftersale/orders/{id}");
        let blobs = app.state.config.data_dir.join("blobs");
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let op = logged_in(&app, &operator_id(&app).await, "ops@example.com").await;
        let p = buyer.get(&page).await.text;
        assert!(
            p.contains("id=\"form-upload\"") && p.contains("enctype=\"multipart/form-data\""),
            "{p}"
        );

        // Refused, with a readable page and nothing stored: no token, the token after the
        // file, a file over the limit, a type outside the list, a stranger's upload.
        let r = buyer
            .submit_file(
                &page,
                &format!("{page}/attachments"),
                &[],
                ("a.txt", "text/plain", b"x"),
                false,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(r.text.contains("<html"), "{}", r.text);
        let token = crate::console_support::csrf_of(&buyer.get(&page).await.text);
        let late = format!(
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nlate token\r\n\
             --B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n--B--\r\n"
        );
        let r = buyer
            .post_body(
                &format!("{page}/attachments"),
                "multipart/form-data; boundary=B",
                late.into_bytes(),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "token after the file: {}",
            r.text
        );
        let r = attach(&buyer, &id, "big.txt", "text/plain", &vec![b'a'; 100_001]).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
        assert!(
            r.text.contains("<html") && r.text.contains("100000"),
            "{}",
            r.text
        );
        let r = attach(&buyer, &id, "tool.exe", "application/x-msdownload", b"MZ").await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
        assert!(r.text.contains("<html"), "{}", r.text);
        let r = buyer
            .submit_file(
                &page,
                &format!("{page}/attachments"),
                &[],
                ("", "application/octet-stream", b""),
                true,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no file chosen: {}",
            r.text
        );
        let (stranger_id, _) = app.party("buyers", "Stranger").await;
        let stranger = logged_in(&app, &stranger_id, "stranger@example.com").await;
        let r = stranger
            .submit_file(
                "/aftersale",
                &format!("{page}/attachments"),
                &[],
                ("a.txt", "text/plain", b"x"),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(blob_files(&blobs), 0, "nothing stored");
        let list = app
            .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
            .await;
        assert_eq!(list.body["data"], json!([]), "{}", list.text);

        // The buyer's requirement carries the brief; a file of exactly the limit fits.
        let brief = attached(&app, &m.buyer_key, &buyer, &id, "brief.txt").await;
        let r = attach(&buyer, &id, "full.txt", "text/plain", &vec![b'a'; 100_000]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let p = buyer.get(&page).await.text;
        assert!(
            p.contains(&format!("name=\"attachments\" value=\"{brief}\"")),
            "{p}"
        );
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "submit_requirement"),
                ("requirement", "A shop site, see the brief"),
                ("attachments", &brief),
            ],
        )
        .await;
        let s = supervision(&app, &m.seller_key, &id).await.body;
        let log = s["log"].as_array().unwrap();
        assert_eq!(
            log.last().unwrap()["payload"]["attachments"],
            json!([brief]),
            "{s}"
        );

        // The seller's proof and a screenshot go into the evidence.
        step(&seller, &id, "/act", &[("action", "confirm_requirement")]).await;
        step(&seller, &id, "/act", &[("action", "implement")]).await;
        let report = attached(&app, &m.seller_key, &seller, &id, "report.pdf").await;
        let shot = attached(&app, &m.seller_key, &seller, &id, "home.png").await;
        step(
            &seller,
            &id,
            "/act",
            &[
                ("action", "deliver_proof"),
                ("evidence_kind", "acceptance_report"),
                ("evidence_description", "Signed report"),
                ("attachments", &report),
                ("screenshots", &shot),
            ],
        )
        .await;
        let s = supervision(&app, &m.buyer_key, &id).await.body;
        assert_eq!(s["evidence"][0]["attachments"], json!([report]), "{s}");
        assert_eq!(s["evidence"][1]["kind"], "screenshot", "{s}");
        assert_eq!(s["evidence"][1]["attachments"], json!([shot]), "{s}");
        let p = buyer.get(&page).await.text;
        assert!(p.contains(&format!("{page}/attachments/{report}")), "{p}");

        // The buyer attaches the failing page before rejecting and appealing; the operator
        // attaches the decision.
        attached(&app, &m.buyer_key, &buyer, &id, "checkout-error.png").await;
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "reject_delivery"),
                ("reason", "Checkout fails, see checkout-error.png"),
            ],
        )
        .await;
        step(
            &buyer,
            &id,
            "/act",
            &[
                ("action", "appeal"),
                ("reason", "Still failing"),
                ("demand", "Fix it"),
            ],
        )
        .await;
        attached(&app, &app.operator_key, &op, &id, "decision.txt").await;
        step(
            &op,
            &id,
            "/act",
            &[
                ("action", "resolve_appeal"),
                ("outcome", "dismiss"),
                ("reason", "See decision.txt"),
            ],
        )
        .await;
        let p = seller.get(&page).await.text;
        for who in ["by buyer", "by seller", "by operator"] {
            assert!(p.contains(who), "{who}: {p}");
        }
        assert_eq!(blob_files(&blobs), 6);
    }
);
