//! The money-out console pages on both backends: a seller authorises a reseller, the operator
//! approves; the reseller makes an invitation link and an exclusive offer; the buyer accepts
//! the invitation and buys through the offer link; after the run the seller reads its statement
//! (lines, CSV) and the statement moves through countersign, invoice and an invoice rejection by
//! forms; the reseller sees its performance; pages in 简体中文 too.

use crate::backend_test;
use crate::console_support::*;
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use crate::settlement::{advance_to, ZONE};
use reqwest::StatusCode;
use time::Duration;

/// The first `prefix…` token in a page, up to a quote or `<`.
fn token_after(html: &str, prefix: &str) -> String {
    let at = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {html}"));
    let rest = &html[at + prefix.len()..];
    let end = rest.find(['"', '<', ' ']).unwrap();
    rest[..end].to_owned()
}

backend_test!(
    money_out_pages_authorise_offer_buy_and_move_a_statement,
    |app: TestApp| async move {
        let m = fixture::market(&app, Proto::V2, fixture::example_seller(&app, |_| {}).await).await;
        let (reseller_id, _) = app.party("resellers", "Channel Partner").await;
        let operator = operator_id(&app).await;
        login_for(&app, &m.seller_id, "seller@example.com").await;
        login_for(&app, &operator, "ops@example.com").await;
        login_for(&app, &reseller_id, "partner@example.com").await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        let (seller, ops, partner, buyer) = (
            Web::new(&app),
            Web::new(&app),
            Web::new(&app),
            Web::new(&app),
        );
        let month = crate::settlement::month_of_weekdays(&app);
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        // Sessions expire while the clock moves days on: everyone logs in again after a move.
        let login_all = || async {
            seller.login("seller@example.com", PASSWORD).await;
            ops.login("ops@example.com", PASSWORD).await;
            partner.login("partner@example.com", PASSWORD).await;
            buyer.login("buyer@example.com", PASSWORD).await;
        };
        login_all().await;

        // The seller authorises above the standard share; the operator approves.
        let r = seller
            .submit(
                "/seller/authorisations",
                "/seller/authorisations",
                &[
                    ("reseller_id", &reseller_id),
                    ("product_id", &m.product_id),
                    ("share_bp", "1500"),
                    ("max_discount_bp", "2000"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = seller.get("/seller/authorisations").await;
        assert!(
            page.text.contains("data-state=\"pending_approval\""),
            "{}",
            page.text
        );
        let queue = ops.get("/operator/authorisations").await;
        let auth = token_after(&queue.text, "/authorisations/");
        let auth = auth.trim_end_matches("/decide").to_owned();
        let r = ops
            .submit(
                "/operator/authorisations",
                &format!("/authorisations/{auth}/decide"),
                &[("action", "approve")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = seller.get("/seller/authorisations").await;
        assert!(page.text.contains("data-state=\"active\""), "{}", page.text);

        // The reseller: an invitation link and an exclusive offer.
        let r = partner
            .submit("/reseller", "/reseller/invitations", &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // The form offers what the reseller is authorised on, with the floor (20 % off 10.00).
        let home = partner.get("/reseller").await;
        let choice = format!("{}|monthly", m.basic);
        assert!(
            home.text.contains(&format!("value=\"{choice}\"")) && home.text.contains("8.00 CNY"),
            "{}",
            home.text
        );
        let until = (month.end(ZONE) - Duration::days(1))
            .to_offset(ZONE)
            .date()
            .to_string();
        let bad = partner
            .submit(
                "/reseller",
                "/reseller/offers",
                &[
                    ("choice", &choice),
                    ("unit_price", "1.00"),
                    ("valid_until", &until),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert!(bad.text.contains("floor"), "a readable page: {}", bad.text);
        let r = partner
            .submit(
                "/reseller",
                "/reseller/offers",
                &[
                    ("choice", &choice),
                    ("unit_price", "9.00"),
                    ("valid_until", &until),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let home = partner.get("/reseller").await;
        let invite = token_after(&home.text, "href=\"/invite/");
        let offer = token_after(&home.text, "href=\"/offer/");

        // The buyer accepts the invitation and buys through the offer link.
        let r = buyer
            .submit(
                &format!("/invite/{invite}"),
                &format!("/invite/{invite}"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = buyer.get(&format!("/offer/{offer}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("id=\"offer-price\""), "{}", page.text);
        let r = buyer
            .submit(
                &format!("/offer/{offer}"),
                &format!("/shop/products/{}/buy", m.product_id),
                &[
                    ("sku_id", &m.basic),
                    ("billing_mode", "monthly"),
                    ("offer", &offer),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        app.drain().await;
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        assert_eq!(
            orders.body["data"][0]["amount"]["amount_minor"], 900,
            "{}",
            orders.text
        );

        // T+1: tomorrow the reseller sees the order; in Chinese too.
        advance_to(&app, month.start(ZONE) + Duration::days(2)).await;
        login_all().await;
        let home = partner.get("/reseller?lang=zh").await;
        assert!(home.text.contains("客户服务商中心"), "{}", home.text);
        assert!(
            home.text.contains("135.0000"),
            "15 % of 9.00: {}",
            home.text
        );
        let csv = partner.get("/reseller/performance.csv").await;
        assert!(csv.text.starts_with("order_id,"), "{}", csv.text);

        // The run; the seller's statement page, CSV, and the workflow by forms.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        login_all().await;
        let list = seller.get("/seller/statements").await;
        let id = token_after(&list.text, "href=\"/statements/");
        let page = seller.get(&format!("/statements/{id}")).await;
        assert!(page.text.contains("data-kind=\"opening\""), "{}", page.text);
        assert!(
            page.text.contains("135.0000"),
            "the commission line: {}",
            page.text
        );
        let csv = seller.get(&format!("/statements/{id}/lines.csv")).await;
        assert!(
            csv.text.contains(",total,commission_minor,135\r\n"),
            "{}",
            csv.text
        );
        let here = format!("/statements/{id}");
        let act = format!("/statements/{id}/move");
        let r = ops.submit(&here, &act, &[("action", "countersign")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let payable = app
            .get(&format!("/v1/statements/{id}"), &app.operator_key)
            .await
            .body["totals"]["payable_minor"]
            .to_string();
        let r = seller
            .submit_file(
                &here,
                &format!("/statements/{id}/invoice"),
                &[
                    ("invoice_number", "044-1"),
                    ("amount_minor", &payable),
                    ("tax_rate_bp", "600"),
                ],
                ("invoice.pdf", "application/pdf", b"%PDF-1.7 044-1"),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let bare = ops
            .submit(&here, &act, &[("action", "reject_invoice")])
            .await;
        assert_eq!(
            bare.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            bare.text
        );
        let r = ops
            .submit(
                &here,
                &act,
                &[("action", "reject_invoice"), ("reason", "no stamp")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let page = seller.get(&here).await;
        assert!(
            page.text.contains("data-state=\"invoice_error\""),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("id=\"statement-invoice\""),
            "{}",
            page.text
        );
        // Another seller's console cannot see it.
        let (other, _) = app.party("sellers", "Other Seller").await;
        login_for(&app, &other, "other@example.com").await;
        let stranger = Web::new(&app);
        stranger.login("other@example.com", PASSWORD).await;
        let r = stranger.get(&here).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
);
