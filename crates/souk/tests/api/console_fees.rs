//! The seller's fee pages on both backends (issue 12, §8.1): the seller reads each of its
//! products' fee rate, graduated rebate bands and joint share, estimates a month's fee and
//! rebate (the settlement's own computation), and cannot see another seller's product;
//! read-only; 简体中文 too.

use crate::backend_test;
use crate::console_support::*;
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

backend_test!(
    seller_fee_page_shows_bands_and_estimates_a_months_rebate,
    |app: TestApp| async move {
        let m = fixture::market(&app, Proto::V2, fixture::example_seller(&app, |_| {}).await).await;
        let (other_id, _) = app.party("sellers", "Other Cloud").await;
        login_for(&app, &m.seller_id, "seller@example.com").await;
        login_for(&app, &other_id, "other@example.com").await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        let (seller, other, buyer) = (Web::new(&app), Web::new(&app), Web::new(&app));
        seller.login("seller@example.com", PASSWORD).await;
        other.login("other@example.com", PASSWORD).await;
        buyer.login("buyer@example.com", PASSWORD).await;
        let fee_page = format!("/seller/fees/{}", m.product_id);

        // The marketplace default first: 5 %, no rebate.
        let list = seller.get("/seller/fees").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert!(list.text.contains(&fee_page), "{}", list.text);
        assert!(list.text.contains("5.00 %"), "{}", list.text);
        assert!(list.text.contains("marketplace default"), "{}", list.text);
        let nav = seller.get("/seller/products").await;
        assert!(nav.text.contains("href=\"/seller/fees\""), "{}", nav.text);
        assert!(nav.text.contains(&fee_page), "{}", nav.text);

        // The operator sets bands: 5 %; from 10,000.00 a month 4 %; from 50,000.00 3 %.
        let policy = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/products/{}/fee-policy", m.product_id)))
                    .bearer_auth(&app.operator_key)
                    .json(&json!({"rate_bp": 500, "tiers": [
                        {"from_minor": 0, "rate_bp": 500},
                        {"from_minor": 1_000_000, "rate_bp": 400},
                        {"from_minor": 5_000_000, "rate_bp": 300}]})),
            )
            .await;
        assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
        let list = seller.get("/seller/fees").await;
        assert!(
            list.text
                .contains("Sales above 10000.00 CNY in a month: fee 4.00 %"),
            "{}",
            list.text
        );
        assert!(list
            .text
            .contains("Sales above 50000.00 CNY in a month: fee 3.00 %"));
        let page = seller.get(&fee_page).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("id=\"bands\""), "{}", page.text);
        assert!(page.text.contains("Above 10000.00 CNY up to 50000.00 CNY"));
        // Read-only: the estimate is a GET form, and nothing takes a POST.
        assert!(page.text.contains("method=\"get\""), "{}", page.text);
        let r = seller
            .submit(&fee_page, &fee_page, &[("rate_bp", "0")])
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);

        // 60,000.00 in a month: fee 3,000.00; rebate 40,000.00 × 1 % + 10,000.00 × 2 % = 600.00.
        let est = seller.get(&format!("{fee_page}?paid=60000")).await;
        assert_eq!(est.status, StatusCode::OK, "{}", est.text);
        for (id, shown) in [
            ("est-paid", "60000.00 CNY"),
            ("est-fee", "3000.00 CNY"),
            ("est-rebate", "600.00 CNY"),
            ("est-net-fee", "2400.00 CNY"),
            ("est-seller", "57600.00 CNY"),
        ] {
            assert!(
                est.text.contains(&format!("id=\"{id}\">{shown}<")),
                "{id}: {}",
                est.text
            );
        }
        // 12,345.67: fee 617.2835 → 617.28; rebate 2,345.67 × 1 % = 23.4567 → 23.46.
        let est = seller.get(&format!("{fee_page}?paid=12345.67")).await;
        assert!(
            est.text.contains("id=\"est-fee\">617.28 CNY<"),
            "{}",
            est.text
        );
        assert!(
            est.text.contains("id=\"est-rebate\">23.46 CNY<"),
            "{}",
            est.text
        );
        assert!(
            est.text.contains("id=\"est-net-fee\">593.82 CNY<"),
            "{}",
            est.text
        );
        // A typo is said on the page, in words.
        let bad = seller.get(&format!("{fee_page}?paid=-5")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert!(bad.text.contains("id=\"form-problem\""), "{}", bad.text);
        assert!(bad.text.contains("paid amount in CNY"), "{}", bad.text);

        // In 简体中文.
        let zh = seller.get(&format!("{fee_page}?paid=60000&lang=zh")).await;
        assert!(zh.text.contains("返佣档位"), "{}", zh.text);
        assert!(zh.text.contains("返佣后服务费"), "{}", zh.text);
        let zh = seller.get("/seller/fees?lang=zh").await;
        assert!(
            zh.text
                .contains("当月销售额超过 10000.00 CNY 的部分: 费率 4.00 %"),
            "{}",
            zh.text
        );

        // A joint product: the seller's share, no fee or rebate.
        app.send(
            app.http
                .put(app.url(&format!("/v1/products/{}/fee-policy", m.product_id)))
                .bearer_auth(&app.operator_key)
                .json(&json!({"rate_bp": 500, "seller_share_bp": 7_000})),
        )
        .await;
        let joint = seller.get(&format!("{fee_page}?paid=1000")).await;
        assert!(joint.text.contains("id=\"joint\""), "{}", joint.text);
        assert!(joint.text.contains("70.00 %"), "{}", joint.text);
        assert!(
            joint.text.contains("id=\"est-fee\">300.00 CNY<"),
            "{}",
            joint.text
        );
        assert!(
            joint.text.contains("id=\"est-rebate\">0.00 CNY<"),
            "{}",
            joint.text
        );

        // Tenancy: another seller neither lists nor reads it; a buyer is not a seller.
        let theirs = other.get("/seller/fees").await;
        assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
        assert!(!theirs.text.contains(&m.product_id), "{}", theirs.text);
        let r = other.get(&fee_page).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = seller
            .get("/seller/fees/prd_01m8a2h3k4m5n6p7q8r9s0t1v2")
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = buyer.get("/seller/fees").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
);
