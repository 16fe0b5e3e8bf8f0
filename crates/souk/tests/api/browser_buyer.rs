//! The buyer center in Chromium (see `browser.rs` for the harness), on both backends: a buyer
//! renews an instance for three months from the buyer center, sees the new expiry and turns
//! auto-renew on; a buyer of a License product sees its codes and seats; a buyer of an
//! on-demand product sees its usage records and the rated charge and downloads the records'
//! CSV; the renewing buyer also requests an invoice. One browser, three logins. With
//! `SOUK_SCREENSHOTS=1` the SQLite run saves `docs/screenshots/buyer-instance-renewed.png`,
//! `buyer-licenses.png` and `buyer-usage.png`.

use crate::backend_test;
use crate::browser::{browser, driver, skipped, Session};
use crate::console_support::login_for;
use crate::fixture::{self, Proto};
use crate::harness::{Backend, TestApp};
use crate::licenses::{buy_codes, codes_market};
use crate::metering::{on_demand, push_signed, record};
use serde_json::json;
use souk_core::clock::Clock;
use souk_protocol::usage::PATH;
use time::Duration;

backend_test!(
    in_chromium_a_buyer_renews_and_sees_licenses_and_usage,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        // A monthly SaaS instance to renew.
        let example = fixture::example_seller(&app, |_| {}).await;
        let saas = fixture::market(&app, Proto::V2, example).await;
        let paid = saas
            .buy(
                &app,
                json!({"sku_id": saas.basic, "billing_mode": "monthly"}),
            )
            .await;
        let saas_instance = paid["instance_id"].as_str().unwrap().to_owned();
        saas.wait_instance(&app, &saas_instance, "active").await;
        let before = saas.instance(&app, &saas_instance).await["expire_at"].clone();
        // Two License codes.
        let (lic, _) = codes_market(&app).await;
        let (_, codes) = buy_codes(&app, &lic, 2).await;
        // An on-demand instance with 12.5 units rated.
        let (od, od_instance, _) = on_demand(&app, Proto::V2).await;
        fixture::advance(&app, Duration::hours(1)).await;
        let begin = app.clock.now() - Duration::minutes(30);
        let pushed = push_signed(&app, PATH, &[record(&od_instance, "sn-1", begin, "12.5")]).await;
        assert_eq!(pushed.body["accepted"], 1, "{}", pushed.text);
        fixture::advance(&app, Duration::hours(2)).await;
        login_for(&app, &saas.buyer_id, "renew@example.com").await;
        login_for(&app, &lic.buyer_id, "licenses@example.com").await;
        login_for(&app, &od.buyer_id, "usage@example.com").await;

        let driver = driver().await;
        let shots =
            app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };

        // Renew for three months from "my instances": the page shows the new expiry.
        s.login("renew@example.com").await;
        s.click("#nav-buyer").await;
        s.wait_for("#my-instances").await;
        s.click("#my-instances a.instance-link").await;
        assert_eq!(s.text("#instance-expiry").await, before.as_str().unwrap());
        s.fill("#renew-periods", "3").await;
        s.submit("#renew-button").await;
        app.drain().await;
        s.c.refresh().await.unwrap();
        let after = saas.instance(&app, &saas_instance).await["expire_at"].clone();
        assert_ne!(after, before);
        assert_eq!(s.text("#instance-expiry").await, after.as_str().unwrap());
        assert!(s.text("#balance").await.contains("960.00 CNY"));
        s.shot("buyer-instance-renewed").await;
        // The auto-renew switch: on, as the page and the API say.
        assert_eq!(s.text("#auto-renew-state").await, "off");
        s.submit("#auto-renew-button").await;
        assert_eq!(s.text("#auto-renew-state").await, "on");
        let i = saas.instance(&app, &saas_instance).await;
        assert_eq!(i["auto_renew"], true, "{i}");
        // An invoice for the first order, from "my orders": requested, waiting for the seller.
        s.open("/buyer/orders").await;
        s.click("a.invoice-link").await;
        s.fill("#invoice-title", "Buyer Ltd").await;
        s.fill("#invoice-email", "ap@buyer.example").await;
        s.submit("#invoice-submit").await;
        s.wait_for("#invoices").await;
        assert!(s.text("#invoices").await.contains("requested"));
        s.click("#logout").await;
        s.wait_for("#login-submit").await;

        // "My licenses": both codes with their seats.
        s.login("licenses@example.com").await;
        s.open("/buyer/licenses").await;
        let page = s.text("main").await;
        assert!(codes.iter().all(|c| page.contains(c.as_str())), "{page}");
        assert_eq!(s.text(".license .seats").await, "1");
        s.shot("buyer-licenses").await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;

        // Usage: the pushed record and the charge that rated it.
        s.login("usage@example.com").await;
        s.click("#nav-buyer").await;
        s.wait_for("#my-instances").await;
        s.click("#my-instances a.instance-link").await;
        s.click("#usage-link").await;
        assert_eq!(s.text("#usage-records .usage-value").await, "12.5000");
        assert_eq!(s.text("#charges .charge-amount").await, "31.25 CNY");
        s.shot("buyer-usage").await;
        // The records' CSV download, fetched with the browser's own session as the link does.
        let href =
            s.c.find(fantoccini::Locator::Css("#records-csv"))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap()
                .expect("the download link");
        let csv =
            s.c.execute(
                "return fetch(arguments[0]).then(r => r.text());",
                vec![json!(href)],
            )
            .await
            .unwrap();
        let csv = csv.as_str().unwrap_or_default().to_owned();
        assert!(csv.starts_with("seq,instance_id,"), "{csv}");
        assert!(csv.contains(",sn-1,") && csv.contains(",12.5000,"), "{csv}");
        s.close().await;
    }
);
