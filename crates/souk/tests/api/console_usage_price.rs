//! The seller's usage-price page over plain HTTP on both backends: Tier bands and daily
//! collection set through the form and equal to what the API reads back, a bad band refused
//! with nothing changed (the form keeping what was typed), another seller's product a 404, and
//! no change without the CSRF token.

use crate::backend_test;
use crate::console_support::{login_for, Web, PASSWORD};
use crate::fixture::Proto;
use crate::harness::TestApp;
use crate::metering::on_demand;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn price_of(app: &TestApp, key: &str, pid: &str) -> Value {
    let r = app
        .get(&format!("/v1/products/{pid}/usage-price"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

backend_test!(
    a_seller_sets_the_usage_price_from_the_console,
    |app: TestApp| async move {
        let (m, _, _) = on_demand(&app, Proto::V1).await;
        let pid = m.product_id.clone();
        login_for(&app, &m.seller_id, "ops@metered.example").await;
        let web = Web::new(&app);
        web.login("ops@metered.example", PASSWORD).await;
        let path = format!("/seller/products/{pid}/usage-price");
        assert!(web.get("/seller/products").await.text.contains(&path));
        let page = web.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("value=\"fixed\" selected"),
            "{}",
            page.text
        );

        // Without the CSRF token: refused, nothing changed.
        let r = web
            .post(&path, &[("mode", "tier"), ("bands", "* 0.05")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let fixed = json!({"mode": "fixed", "bands": [], "collection": "hourly"});
        assert_eq!(price_of(&app, &m.seller_key, &pid).await, fixed);

        // A bad line, and bands out of order: the form again as typed, the reason shown.
        for (bands, shown) in [
            ("100 cheap\n* 0.05", "line 1"),
            ("1000 0.10\n100 0.08\n* 0.05", "bands"),
        ] {
            let r = web
                .submit(
                    &path,
                    &path,
                    &[("mode", "tier"), ("bands", bands), ("collection", "daily")],
                )
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
            assert!(r.text.contains("id=\"form-problem\""), "{}", r.text);
            assert!(r.text.contains(shown), "{shown}: {}", r.text);
            assert!(r.text.contains(bands.lines().next().unwrap()), "{}", r.text);
            assert_eq!(price_of(&app, &m.seller_key, &pid).await, fixed);
        }

        // Tier bands with daily collection: saved, what the API reads back, shown again.
        let r = web
            .submit(
                &path,
                &path,
                &[
                    ("mode", "tier"),
                    ("bands", "100 0.10\n1000 0.08\n* 0.05"),
                    ("collection", "daily"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let stored = price_of(&app, &m.seller_key, &pid).await;
        assert_eq!(stored["mode"], "tier", "{stored}");
        assert_eq!(stored["collection"], "daily", "{stored}");
        let units: Vec<i64> = stored["bands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["unit_minor"].as_i64().unwrap())
            .collect();
        assert_eq!(units, [10, 8, 5], "{stored}");
        assert_eq!(stored["bands"][2]["up_to"], Value::Null, "{stored}");
        let page = web.get(&format!("{path}?saved=1")).await.text;
        assert!(page.contains("id=\"saved\""), "{page}");
        assert!(page.contains("* 0.05"), "{page}");
        assert!(page.contains("value=\"daily\" selected"), "{page}");

        // Another seller: the same 404 as an unknown product, for the page and the form.
        let (other, _) = app.party("sellers", "Other Seller").await;
        login_for(&app, &other, "ops@other.example").await;
        let web2 = Web::new(&app);
        web2.login("ops@other.example", PASSWORD).await;
        assert_eq!(web2.get(&path).await.status, StatusCode::NOT_FOUND);
        let r = web2
            .submit(
                "/seller/products",
                &path,
                &[("mode", "fixed"), ("bands", ""), ("collection", "hourly")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(price_of(&app, &m.seller_key, &pid).await["mode"], "tier");
    }
);
