//! Voucher pages over HTTP on both backends: the seller issues a voucher on `/vouchers` and
//! sees it; the buyer sees it on its `/vouchers`, is offered it on the shop's buy form and buys
//! with it; a refused voucher gives a readable page; a form without its CSRF token is refused.

use crate::backend_test;
use crate::console_support::logged_in;
use crate::fixture::*;
use crate::harness::TestApp;
use reqwest::StatusCode;

backend_test!(
    the_seller_issues_a_voucher_and_the_buyer_buys_with_it_in_the_console,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let seller = logged_in(&app, &m.seller_id, "seller@example.com").await;
        let page = seller.get("/vouchers").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("voucher-issue"), "{}", page.text);
        // No CSRF token: refused, nothing issued.
        let forged = seller
            .post(
                "/vouchers",
                &[("buyer_id", m.buyer_id.as_str()), ("face_value", "6.00")],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
        // A bad amount: a readable page, not JSON.
        let bad = seller
            .submit(
                "/vouchers",
                "/vouchers",
                &[
                    ("buyer_id", m.buyer_id.as_str()),
                    ("face_value", "six"),
                    ("currency", "CNY"),
                    ("valid_days", "30"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert!(bad.text.contains("100.00"), "{}", bad.text);
        let issued = seller
            .submit(
                "/vouchers",
                "/vouchers",
                &[
                    ("buyer_id", m.buyer_id.as_str()),
                    ("face_value", "6.00"),
                    ("currency", "CNY"),
                    ("product_id", m.product_id.as_str()),
                    ("valid_days", "30"),
                    ("not_with_promotions", "on"),
                    ("note", "Thanks"),
                ],
            )
            .await;
        assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text);
        let list = app.get("/v1/vouchers", &m.seller_key).await;
        let v = &list.body["data"][0];
        assert_eq!(v["face_value"]["amount_minor"], 600, "{}", list.text);
        assert_eq!(v["product_ids"][0], m.product_id.as_str());
        assert_eq!(v["not_with_promotions"], true);
        let id = v["id"].as_str().unwrap().to_owned();
        let page = seller.get("/vouchers").await;
        assert!(
            page.text.contains(&format!("id=\"voucher-{id}\"")),
            "{}",
            page.text
        );

        // The buyer sees it and is offered it on the buy form.
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let mine = buyer.get("/vouchers").await;
        assert!(mine.text.contains(&id), "{}", mine.text);
        assert!(mine.text.contains("Thanks"));
        let product = format!("/shop/products/{}", m.product_id);
        let shop = buyer.get(&product).await;
        assert!(
            shop.text.contains(&format!("value=\"{id}\"")),
            "{}",
            shop.text
        );
        // A voucher that is not the buyer's: a readable page, nothing bought.
        let refused = buyer
            .submit(
                &product,
                &format!("{product}/buy"),
                &[
                    ("sku_id", m.basic.as_str()),
                    ("billing_mode", "monthly"),
                    ("voucher", "vch_01m8a2h3k4m5n6p7q8r9s0t1v3"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
        assert!(refused.text.contains("<html"), "{}", refused.text);
        let before = balance(&app, &m).await;
        let bought = buyer
            .submit(
                &product,
                &format!("{product}/buy"),
                &[
                    ("sku_id", m.basic.as_str()),
                    ("billing_mode", "monthly"),
                    ("voucher", id.as_str()),
                ],
            )
            .await;
        assert_eq!(bought.status, StatusCode::SEE_OTHER, "{}", bought.text);
        app.drain().await;
        // 10.00 less the 6.00 voucher.
        assert_eq!(balance(&app, &m).await, before - 400);
        let page = seller.get("/vouchers").await;
        assert!(
            page.text
                .contains(&format!("id=\"voucher-{id}\" data-status=\"exhausted\"")),
            "{}",
            page.text
        );
        // Used: no longer offered, and no longer revocable.
        let shop = buyer.get(&product).await;
        assert!(!shop.text.contains(&format!("value=\"{id}\"")));
        let revoke = seller
            .submit("/vouchers", &format!("/vouchers/{id}/revoke"), &[])
            .await;
        assert_eq!(revoke.status, StatusCode::CONFLICT, "{}", revoke.text);
    }
);

backend_test!(
    the_offer_page_offers_the_vouchers_that_may_pay_a_promotion,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        top_up(&app, &m.buyer_id, 100_000).await;
        let (reseller_id, reseller) = app.party("resellers", "Offer Partner").await;
        crate::resellers::authorise(&app, &m, &reseller_id, 1_000).await;
        let until = souk_core::clock::Clock::now(&app.clock) + time::Duration::days(20);
        let link = crate::resellers::offer_link(&app, &reseller, &m.basic, 900, until).await;
        let plain = crate::vouchers::issue(&app, &m, 300, serde_json::json!({})).await;
        let flagged = crate::vouchers::issue(
            &app,
            &m,
            300,
            serde_json::json!({"not_with_promotions": true}),
        )
        .await;
        let buyer = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let here = format!("/offer/{link}");
        let page = buyer.get(&here).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("id=\"offer-voucher\""), "{}", page.text);
        assert!(page.text.contains(&plain), "{}", page.text);
        assert!(!page.text.contains(&flagged), "{}", page.text);
        let r = buyer
            .submit(
                &here,
                &format!("/shop/products/{}/buy", m.product_id),
                &[
                    ("sku_id", &m.basic),
                    ("billing_mode", "monthly"),
                    ("offer", &link),
                    ("voucher", &plain),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        app.drain().await;
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        let o = &orders.body["data"][0];
        assert_eq!(o["amount"]["amount_minor"], 900, "{o}");
        assert_eq!(o["voucher_minor"], 300, "{o}");
        assert_eq!(o["voucher_id"], plain.as_str(), "{o}");
    }
);
