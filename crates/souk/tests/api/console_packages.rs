//! The seller's usage packages page over plain HTTP on both backends: defining a product's
//! packages through the form, seeing them, a bad value refused with nothing changed (and the
//! form keeping what was typed), another seller's product a 404, and no change without the
//! CSRF token.

use crate::backend_test;
use crate::console_support::{location, login_for, Web, PASSWORD};
use crate::fixture::Proto;
use crate::harness::TestApp;
use crate::metering_packages::package_market;
use reqwest::StatusCode;
use serde_json::Value;

/// The product's package definitions as the JSON API gives them to its seller.
async fn packages_of(app: &TestApp, key: &str, pid: &str) -> Value {
    let r = app
        .get(&format!("/v1/products/{pid}/usage-packages"), key)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["packages"].clone()
}

backend_test!(
    a_seller_defines_usage_packages_from_the_console,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V2).await;
        let pid = pm.m.product_id.clone();
        let (sms, mms, bundle) = (pm.sku("sms"), pm.sku("mms"), pm.sku("bundle"));
        login_for(&app, &pm.m.seller_id, "ops@acme-sms.example").await;
        let web = Web::new(&app);
        web.login("ops@acme-sms.example", PASSWORD).await;
        let page_path = format!("/seller/products/{pid}/packages");
        // Linked from the seller's products; both package SKUs get a part of the form.
        let products = web.get("/seller/products").await;
        assert!(products.text.contains(&page_path), "{}", products.text);
        let empty = web.get(&page_path).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
        for sku in [sms, bundle] {
            assert!(empty.text.contains(&format!("data-package=\"{sku}\"")));
        }
        let api = |app| packages_of(app, &pm.m.seller_key, &pid);
        assert_eq!(api(&app).await, serde_json::json!([]));

        let (q_sms, q_bundle_sms, q_bundle_mms) = (
            format!("quota.{sms}.{sms}"),
            format!("quota.{bundle}.{sms}"),
            format!("quota.{bundle}.{mms}"),
        );
        let (r_sms, r_bundle) = (format!("reset.{sms}"), format!("reset.{bundle}"));
        let (v_sms, v_bundle) = (format!("validity.{sms}"), format!("validity.{bundle}"));
        let stop_sms = format!("stop.{sms}");
        let good: Vec<(&str, &str)> = vec![
            (q_sms.as_str(), "100"),
            (r_sms.as_str(), "none"),
            (v_sms.as_str(), "12"),
            (stop_sms.as_str(), "on"),
            (q_bundle_sms.as_str(), "50"),
            (q_bundle_mms.as_str(), "20.5"),
            (r_bundle.as_str(), "monthly"),
            (v_bundle.as_str(), ""),
        ];
        let r = web.submit(&page_path, &page_path, &good).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), format!("{page_path}?saved=1"));
        // The same definitions the JSON API reads.
        let defined = api(&app).await;
        let find = |sku: &str| -> Value {
            defined
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["sku_id"] == sku)
                .cloned()
                .unwrap_or_else(|| panic!("{sku} not defined: {defined}"))
        };
        let p = find(sms);
        assert_eq!(
            (
                &p["reset"],
                &p["validity_months"],
                &p["stop_when_exhausted"]
            ),
            (&Value::from("none"), &Value::from(12), &Value::from(true))
        );
        assert_eq!(p["items"][0]["quota"], "100.0000");
        let b = find(bundle);
        assert_eq!(b["reset"], "monthly");
        assert_eq!(b["items"].as_array().unwrap().len(), 2);
        // The page shows them, in English and in Chinese.
        let seen = web.get(&format!("{page_path}?saved=1")).await;
        assert!(seen.text.contains("id=\"saved\""), "{}", seen.text);
        assert!(seen.text.contains("value=\"20.5000\""), "{}", seen.text);
        assert!(seen.text.contains("<option value=\"monthly\" selected>"));
        let zh = web.get(&format!("{page_path}?lang=zh")).await;
        assert!(zh.text.contains("套餐包") && zh.text.contains("额度重置"));

        // A bad value: the form again with the reason and what was typed; nothing stored.
        let mut bad = good.clone();
        bad[0] = (q_sms.as_str(), "lots");
        let r = web.submit(&page_path, &page_path, &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("data-code=\"invalid_field\""), "{}", r.text);
        assert!(r.text.contains("value=\"lots\""), "{}", r.text);
        // A reset package with a validity is the use case's refusal too.
        let mut bad = good.clone();
        bad[7] = (v_bundle.as_str(), "6");
        let r = web.submit(&page_path, &page_path, &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("id=\"form-problem\""));
        assert_eq!(api(&app).await, defined);

        // Without the CSRF token nothing happens.
        let r = web.post(&page_path, &[(q_sms.as_str(), "1")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(api(&app).await, defined);

        // Another seller: the product is not there, and its form cannot change it.
        let (other, _) = app.party("sellers", "Other Cloud").await;
        login_for(&app, &other, "ops@other-sms.example").await;
        let them = Web::new(&app);
        them.login("ops@other-sms.example", PASSWORD).await;
        assert_eq!(them.get(&page_path).await.status, StatusCode::NOT_FOUND);
        let r = them
            .submit("/seller/products", &page_path, &good[..2])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(api(&app).await, defined);
    }
);
