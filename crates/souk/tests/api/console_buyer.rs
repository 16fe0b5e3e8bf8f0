//! The buyer center over plain HTTP on both backends: my instances with renew, upgrade, a
//! waiting order paid or cancelled; my licenses with the offline file; usage pages for the
//! buyer and the seller, and a usage package bought from the product page (the browser test in
//! `browser_buyer.rs` walks the same pages in Chromium).

use crate::backend_test;
use crate::console_support::{location, logged_in};
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use crate::licenses::{buy_codes, codes_market};
use crate::metering::{push_signed, record};
use crate::metering_packages::package_market;
use reqwest::StatusCode;
use serde_json::json;
use souk_core::clock::Clock;
use souk_protocol::license_file::{self, KeySet, Validity};
use souk_protocol::usage::PATH;
use time::Duration;

backend_test!(
    a_buyer_renews_upgrades_and_cancels_a_waiting_order_in_the_buyer_center,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        let paid = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = paid["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &id, "active").await;
        let before = m.instance(&app, &id).await["expire_at"].clone();
        let web = logged_in(&app, &m.buyer_id, "buyer@example.com").await;

        let list = web.get("/buyer/instances").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert!(
            list.text.contains(&id) && list.text.contains("990.00 CNY"),
            "{}",
            list.text
        );
        let page = format!("/buyer/instances/{id}");
        let shown = web.get(&page).await;
        assert!(shown.text.contains("id=\"renew-button\""), "{}", shown.text);
        assert!(
            shown.text.contains("/aftersale/orders/"),
            "the refund path is linked"
        );

        // Renew for two months from the balance: the expiry moves by two months.
        let r = web
            .submit(
                &page,
                &format!("{page}/renew"),
                &[("billing_mode", "monthly"), ("periods", "2")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), page);
        app.drain().await;
        assert_eq!(fixture::balance(&app, &m).await, 100_000 - 1_000 - 2_000);
        let after = m.instance(&app, &id).await;
        assert_ne!(after["expire_at"], before);
        let expected = time::OffsetDateTime::parse(
            before.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .checked_add(Duration::days(59))
        .unwrap();
        let new_expiry = time::OffsetDateTime::parse(
            after["expire_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(new_expiry >= expected, "{before} -> {new_expiry}");
        let shown = web.get(&page).await;
        assert!(
            shown.text.contains(after["expire_at"].as_str().unwrap()),
            "the page shows the new expiry: {}",
            shown.text
        );

        // Upgrade to pro: the difference is paid and the instance is on the new SKU.
        let r = web
            .submit(
                &page,
                &format!("{page}/upgrade"),
                &[("sku_id", &m.pro), ("quantity", "1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        app.drain().await;
        assert!(fixture::balance(&app, &m).await < 100_000 - 3_000);
        assert_eq!(m.instance(&app, &id).await["sku_id"], m.pro.as_str());

        // Bad input is the envelope's message on a readable page; nothing is ordered.
        let r = web
            .submit(
                &page,
                &format!("{page}/renew"),
                &[("billing_mode", "monthly"), ("periods", "99")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.text.contains("periods must be between 1 and 36"),
            "{}",
            r.text
        );
        let r = web
            .submit(&page, &format!("{page}/renew"), &[("periods", "two")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

        // More than the balance: a readable 402, and the renewal waits, unpaid, on the page.
        let r = web
            .submit(
                &page,
                &format!("{page}/renew"),
                &[("billing_mode", "yearly"), ("periods", "36")],
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text);
        assert!(
            r.text.contains("data-code=\"insufficient_funds\""),
            "{}",
            r.text
        );
        let shown = web.get(&page).await;
        assert!(
            shown.text.contains("id=\"waiting-orders\""),
            "{}",
            shown.text
        );
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        let waiting = orders.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["state"] == "pending_payment")
            .expect("the unpaid renewal")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Paying it again still fails; cancelling it is allowed.
        let r = web
            .submit(&page, &format!("/buyer/orders/{waiting}/pay"), &[])
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text);
        let r = web
            .submit(&page, &format!("/buyer/orders/{waiting}/cancel"), &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), page);
        assert_eq!(m.order(&app, &waiting).await["state"], "cancelled");
        assert!(!web.get(&page).await.text.contains("id=\"waiting-orders\""));
        // A paid order cannot be cancelled: the use case's conflict, as a page.
        let r = web
            .submit(
                &page,
                &format!("/buyer/orders/{}/cancel", paid["id"].as_str().unwrap()),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.text.contains("data-code=\"order_not_cancellable\""));

        // Another buyer can neither see nor renew this instance, nor touch its orders.
        let (other, _) = app.party("buyers", "Other").await;
        let web2 = logged_in(&app, &other, "other@example.com").await;
        let r = web2
            .submit(
                "/buyer/instances",
                &format!("{page}/renew"),
                &[("periods", "1")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r = web2
            .submit(
                "/buyer/instances",
                &format!("/buyer/orders/{waiting}/pay"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert!(!web2.get("/buyer/instances").await.text.contains(&id));
    }
);

backend_test!(
    a_buyer_sees_license_codes_with_seats_and_downloads_a_signed_offline_file,
    |app: TestApp| async move {
        let (m, _) = codes_market(&app).await;
        let (instance, codes) = buy_codes(&app, &m, 2).await;
        let web = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let page = web.get("/buyer/licenses").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for c in &codes {
            assert!(page.text.contains(c.as_str()), "{}", page.text);
        }
        assert!(page.text.contains("class=\"seats\">1<"), "{}", page.text);
        assert!(web
            .get(&format!("/buyer/instances/{instance}"))
            .await
            .text
            .contains(&codes[0]));

        let r = web
            .submit(
                "/buyer/licenses",
                &format!("/buyer/licenses/{}/file", codes[0]),
                &[("machine_fingerprint", "host-a"), ("ttl_days", "7")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let disposition = r.headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.contains(&format!("license-{}.json", codes[0])),
            "{disposition}"
        );
        let keys: KeySet =
            serde_json::from_str(&app.get("/v1/license-keys", &m.seller_key).await.text).unwrap();
        let ok = license_file::verify(r.text.as_bytes(), &keys, app.clock.now()).unwrap();
        assert_eq!(ok.validity, Validity::Valid);
        assert_eq!(ok.payload.license_code, codes[0]);
        assert_eq!(ok.payload.machine_fingerprint.as_deref(), Some("host-a"));

        // A bad lifetime is the use case's message; another buyer's code is a 404 page.
        let r = web
            .submit(
                "/buyer/licenses",
                &format!("/buyer/licenses/{}/file", codes[0]),
                &[("ttl_days", "400")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("ttl_days must be between 1 and 366"));
        let (other, _) = app.party("buyers", "Other").await;
        let web2 = logged_in(&app, &other, "other@example.com").await;
        assert!(!web2.get("/buyer/licenses").await.text.contains(&codes[0]));
        let r = web2
            .submit(
                "/buyer/licenses",
                &format!("/buyer/licenses/{}/file", codes[0]),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
);

backend_test!(
    buyer_buys_a_usage_package_on_the_product_page_and_buyer_and_seller_see_usage,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V2).await;
        pm.define(
            &app,
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "100"}],
                    "reset": "none", "validity_months": 12}]),
        )
        .await;
        let web = logged_in(&app, &pm.m.buyer_id, "buyer@example.com").await;
        let product = format!("/shop/products/{}", pm.m.product_id);
        let r = web
            .submit(
                &product,
                &format!("{product}/buy"),
                &[("sku_id", pm.sku("sms")), ("billing_mode", "package")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        app.drain().await;
        fixture::advance(&app, Duration::hours(1)).await;
        // 130 SMS: 100 from the package, 30 rated on demand.
        let begin = app.clock.now() - Duration::minutes(30);
        let pushed = push_signed(
            &app,
            PATH,
            &[record(&pm.sms_instance, "sms-1", begin, "130")],
        )
        .await;
        assert_eq!(pushed.body["accepted"], 1, "{}", pushed.text);
        fixture::advance(&app, Duration::hours(2)).await;

        let usage = format!("/usage/instances/{}", pm.sms_instance);
        let page = web.get(&usage).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("class=\"usage-value\">130.0000<"),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("class=\"remaining\">0.0000<"),
            "{}",
            page.text
        );
        assert!(
            page.text.contains("class=\"charge-amount\">75.00 CNY<"),
            "{}",
            page.text
        );
        assert!(web
            .get(&format!("/buyer/instances/{}", pm.sms_instance))
            .await
            .text
            .contains(&usage));

        // The seller sees the records it pushed, linked from its instance list.
        let seller = logged_in(&app, &pm.m.seller_id, "seller@example.com").await;
        assert!(seller.get("/seller/orders").await.text.contains(&usage));
        let page = seller.get(&usage).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("sms-1") && page.text.contains("130.0000"));
        // Both CSV downloads are linked from the page and are the API's files, byte for byte.
        let page = web.get(&usage).await;
        for (file, api) in [
            ("records.csv", "usage-records"),
            ("charges.csv", "usage-charges"),
        ] {
            let link = format!("{usage}/{file}");
            assert!(page.text.contains(&format!("href=\"{link}\"")), "{link}");
            let r = web.get(&link).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert!(r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"));
            assert!(r.headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment"));
            let from_api = app
                .get(
                    &format!("/v1/instances/{}/{api}?format=csv", pm.sms_instance),
                    &pm.m.buyer_key,
                )
                .await;
            assert_eq!(r.text, from_api.text);
            assert_eq!(
                r.text.lines().count(),
                2,
                "a header and one line: {}",
                r.text
            );
        }
        let records = web.get(&format!("{usage}/records.csv")).await.text;
        assert!(
            records.contains(",sms-1,") && records.contains(",130.0000,"),
            "{records}"
        );
        assert!(web
            .get(&format!("{usage}/charges.csv"))
            .await
            .text
            .contains(",7500,CNY,"));
        // Another buyer: the same 404 as an unknown instance, for the page and the files.
        let (other, _) = app.party("buyers", "Other").await;
        let web2 = logged_in(&app, &other, "other@example.com").await;
        let r = web2.get(&usage).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        for file in ["records.csv", "charges.csv"] {
            let r = web2.get(&format!("{usage}/{file}")).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        }
        assert_eq!(
            web2.get("/usage/instances/nope").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

backend_test!(
    a_buyer_turns_auto_renew_on_and_off_in_the_buyer_center,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        let paid = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let id = paid["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(&app, &id, "active").await;
        let web = logged_in(&app, &m.buyer_id, "buyer@example.com").await;
        let page = format!("/buyer/instances/{id}");
        let switch = format!("{page}/auto-renew");
        let state = |html: &str| {
            let s = &html[html.find("id=\"auto-renew-state\">").expect("the switch")..];
            s[s.find('>').unwrap() + 1..s.find('<').unwrap()].to_owned()
        };
        assert_eq!(state(&web.get(&page).await.text), "off");
        assert_eq!(m.instance(&app, &id).await["auto_renew"], false);

        // Without the form's CSRF token: refused, nothing changes.
        let r = web.post(&switch, &[("auto_renew", "on")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(r.text.contains("data-code=\"csrf_failed\""), "{}", r.text);
        assert_eq!(m.instance(&app, &id).await["auto_renew"], false);

        // On, then off: the API's instance says so, and so does the page.
        let r = web.submit(&page, &switch, &[("auto_renew", "on")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), page);
        assert_eq!(m.instance(&app, &id).await["auto_renew"], true);
        let shown = web.get(&page).await.text;
        assert_eq!(state(&shown), "on");
        assert!(shown.contains("Turn auto-renew off"), "{shown}");
        let r = web.submit(&page, &switch, &[("auto_renew", "off")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(m.instance(&app, &id).await["auto_renew"], false);

        // Bad input is a readable page.
        let r = web.submit(&page, &switch, &[("auto_renew", "maybe")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("auto_renew is on or off"), "{}", r.text);

        // Another buyer: the 404 of an unknown instance, and nothing changes.
        let (other, _) = app.party("buyers", "Other").await;
        let web2 = logged_in(&app, &other, "other@example.com").await;
        let r = web2
            .submit("/buyer/instances", &switch, &[("auto_renew", "on")])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(m.instance(&app, &id).await["auto_renew"], false);
    }
);
