//! Money out in headless Chromium, on both backends: a reseller authorised on a product picks
//! it from its offer form, prices it as people write money and picks the last day; a buyer opens
//! the offer link and buys at the offer price; after the month's run the operator countersigns
//! the seller's statement, the seller uploads its invoice file from the statement page, and the
//! operator approves it and pays. With `SOUK_SCREENSHOTS=1` the SQLite run saves
//! `docs/screenshots/reseller-offers.png` and `seller-statement.png`.

use crate::backend_test;
use crate::browser::{browser, driver, skipped, Session};
use crate::console_support::{login_for, operator_id};
use crate::fixture::{self, Proto};
use crate::harness::{Backend, TestApp};
use crate::settlement::{advance_to, ZONE};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;
use souk_core::clock::Clock;
use souk_core::settlement::Period;
use time::Duration;

/// The `href` of the first element matching `css`.
async fn href(s: &Session<'_>, css: &str) -> String {
    s.wait_for(css)
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{css} has no href"))
}

backend_test!(
    in_chromium_a_reseller_offers_a_buyer_buys_and_a_statement_is_invoiced_and_paid,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        let m = fixture::market(&app, Proto::V2, fixture::example_seller(&app, |_| {}).await).await;
        let (reseller_id, _) = app.party("resellers", "Channel Partner").await;
        let auth = app
            .post(
                "/v1/reseller-authorisations",
                &m.seller_key,
                json!({"reseller_id": reseller_id, "product_id": m.product_id,
                       "share_bp": 1_000, "max_discount_bp": 2_000}),
            )
            .await;
        assert_eq!(auth.body["state"], "active", "{}", auth.text);
        login_for(&app, &reseller_id, "partner@example.com").await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        login_for(&app, &m.seller_id, "seller@example.com").await;
        login_for(&app, &operator_id(&app).await, "ops@example.com").await;
        let month = Period::containing(app.clock.now(), ZONE).next();
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;
        let last_day = (month.end(ZONE) - Duration::days(1)).to_offset(ZONE).date();

        let driver = driver().await;
        let shots =
            app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };

        // The reseller picks the basic monthly SKU from its form: 9.00 instead of 10.00.
        s.login("partner@example.com").await;
        s.open("/reseller").await;
        s.click(&format!(
            "#offer-choice option[value='{}|monthly']",
            m.basic
        ))
        .await;
        s.fill("#offer-price-input", "9.00").await;
        // A date input is typed in the browser's locale; set it as the date picker would.
        s.c.execute(
            "document.querySelector('#offer-until').value = arguments[0];",
            vec![json!(last_day.to_string())],
        )
        .await
        .unwrap();
        s.submit("#offer-submit").await;
        let link = href(&s, "#offers a").await;
        assert!(s.text("#offers").await.contains("9.00 CNY"));
        let offers = app.get("/v1/reseller-offers", &app.operator_key).await;
        let until = offers.body["data"][0]["valid_until"]
            .as_str()
            .unwrap()
            .to_owned();
        let want = last_day.next_day().unwrap().midnight().assume_offset(ZONE);
        assert_eq!(
            time::OffsetDateTime::parse(&until, &time::format_description::well_known::Rfc3339)
                .unwrap(),
            want,
            "valid to the end of the chosen day in the business zone"
        );
        s.shot("reseller-offers").await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;

        // The buyer opens the link and buys at the offer price.
        s.login("buyer@example.com").await;
        s.c.goto(&link).await.unwrap();
        assert!(s.text("#offer-price").await.contains("9.00 CNY"));
        s.submit("#buy-offer button").await;
        app.drain().await;
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        assert_eq!(
            orders.body["data"][0]["amount"]["amount_minor"], 900,
            "{}",
            orders.text
        );
        assert_eq!(
            orders.body["data"][0]["state"], "completed",
            "{}",
            orders.text
        );

        // The month's run; the operator countersigns the seller's statement.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        s.login("ops@example.com").await;
        s.open("/operator/statements").await;
        s.submit("#statements a").await;
        assert_eq!(s.text("#state").await, "countersign");
        s.submit("button.countersign").await;
        assert_eq!(s.text("#state").await, "awaiting_invoice");
        let statement = s.path().await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;

        // The seller sees the commission line and uploads its invoice file.
        s.login("seller@example.com").await;
        s.open("/seller/statements").await;
        s.submit("#statements a").await;
        assert_eq!(s.path().await, statement);
        assert!(s.text("#lines").await.contains("90.0000"), "10 % of 9.00");
        let file = app.state.config.data_dir.join("invoice-044.pdf");
        std::fs::write(&file, "%PDF-1.7 invoice 044-7").unwrap();
        s.fill("#statement-invoice input[name=invoice_number]", "044-7")
            .await;
        s.c.find(Locator::Css("#statement-invoice input[type=file]"))
            .await
            .unwrap()
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        s.submit("#statement-invoice button").await;
        assert_eq!(s.text("#state").await, "invoice_review");
        assert!(s.text("#statement-invoices").await.contains("044-7"));
        s.shot("seller-statement").await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;

        // The operator approves the invoice and pays.
        s.login("ops@example.com").await;
        s.open(&statement).await;
        s.submit("button.approve_invoice").await;
        assert_eq!(s.text("#state").await, "payment_review");
        s.submit("button.pay").await;
        assert_eq!(s.text("#state").await, "paid");
        s.close().await;

        let id = statement.trim_start_matches("/statements/");
        let st = app
            .get(&format!("/v1/statements/{id}"), &m.seller_key)
            .await;
        assert_eq!(st.status, StatusCode::OK, "{}", st.text);
        assert_eq!(st.body["state"], "paid");
        assert_eq!(st.body["invoice_number"], "044-7");
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
    }
);
