//! After-sale uploads and identifier steps in headless Chromium, on both backends: the buyer
//! chooses a file in the page's file field (WebDriver types its path into
//! `<input type=file>`), attaches it, ticks it on the requirement and submits; the buyer of an
//! identifier-flow License types the hardware identifier.

use super::*;
use crate::browser::{browser, driver, skipped, Session};
use crate::console_support::login_for;
use crate::licenses::license_market;
use fantoccini::Locator;

backend_test!(
    in_chromium_a_buyer_attaches_a_file_to_the_requirement_and_submits_an_identifier,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let sku = listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        login_for(&app, &m.buyer_id, "buyer@shop.example").await;
        let file = app.state.config.data_dir.join("site-brief.txt");
        std::fs::write(&file, "Pages: home, shop, blog.").unwrap();
        let driver = driver().await;

        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots: false,
        };
        s.login("buyer@shop.example").await;
        s.open(&format!("/aftersale/orders/{id}")).await;
        s.wait_for("#upload-file")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        s.submit("#upload").await;
        assert!(s.text("#attachments").await.contains("site-brief.txt"));
        let list = app
            .get(&format!("/v1/orders/{id}/attachments"), &m.buyer_key)
            .await;
        let a = &list.body["data"][0];
        assert_eq!(a["content_type"], "text/plain", "{a}");
        assert_eq!(
            a["sha256"],
            super::attachments::sha256_hex(b"Pages: home, shop, blog."),
            "{a}"
        );
        let att = a["id"].as_str().unwrap();
        s.fill("#requirement", "A shop site as in the brief").await;
        s.click(&format!("#attachments-{att}")).await;
        s.submit("#submit-requirement").await;
        assert_eq!(s.text("#sv-node").await, "confirm_requirement");
        let sv = supervision(&app, &m.seller_key, &id).await.body;
        assert_eq!(
            sv["log"].as_array().unwrap().last().unwrap()["payload"]["attachments"],
            json!([att]),
            "{sv}"
        );
        s.close().await;

        // The identifier flow's first step, typed by the buyer.
        let lm = license_market(
            &app,
            Proto::V2,
            "identifier",
            example_seller(&app, |_| {}).await,
        )
        .await;
        let lic = lm
            .buy(
                &app,
                json!({"sku_id": lm.basic, "billing_mode": "monthly", "quantity": 1}),
            )
            .await;
        let lic = lic["id"].as_str().unwrap().to_owned();
        login_for(&app, &lm.buyer_id, "it@buyer.example").await;
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots: false,
        };
        s.login("it@buyer.example").await;
        s.open(&format!("/aftersale/orders/{lic}")).await;
        s.fill("#hardware-id", "HW-7F3A-0042").await;
        s.submit("#submit-identifier").await;
        assert_eq!(s.text("#sv-identifier").await, "HW-7F3A-0042");
        assert_eq!(s.text("#sv-node").await, "implement");
        assert!(s
            .c
            .find(Locator::Css("#form-submit-identifier"))
            .await
            .is_err());
        s.close().await;
    }
);
