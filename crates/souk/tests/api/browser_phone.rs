//! The consoles at phone width in Chromium (375 CSS pixels, as an iPhone SE or 8 shows them),
//! on both backends: the storefront, a product page, the buyer's orders, the seller's products
//! and the operator's review queue must not be wider than the screen (no sideways scrolling of
//! the page; a wide table scrolls inside itself), and the main navigation must be on screen and
//! work. With `SOUK_SCREENSHOTS=1` the SQLite run saves `docs/screenshots/phone-*.png`.

use crate::backend_test;
use crate::browser::{driver, skipped, Driver, Session};
use crate::console_support::{login_for, operator_id};
use crate::fixture::{self, Proto};
use crate::harness::{Backend, TestApp};
use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// A Chromium session that lays pages out like a 375-pixel-wide phone.
async fn phone(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--lang=en-US"],
            "mobileEmulation": {"deviceMetrics": {"width": 375, "height": 740, "pixelRatio": 2.0}}
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver.url())
        .await
        .expect("a Chromium session")
}

/// The page's layout width and the screen's, and every main-menu link that is not fully on
/// screen (by its text).
const MEASURE: &str = r#"
const d = document.documentElement;
const off = [...document.querySelectorAll('header.top a, header.top button')]
  .filter(e => { const r = e.getBoundingClientRect();
                 return r.width === 0 || r.left < 0 || r.right > d.clientWidth + 0.5; })
  .map(e => e.textContent.trim());
return [d.scrollWidth, d.clientWidth, off];
"#;

impl Session<'_> {
    /// Opens `path` and checks it fits 375 pixels with its menu on screen; saves `phone-<name>`.
    async fn fits(&self, path: &str, name: &str) {
        self.open(path).await;
        self.wait_for("header.top").await;
        let m = self.c.execute(MEASURE, vec![]).await.unwrap();
        let (scroll, client) = (m[0].as_f64().unwrap(), m[1].as_f64().unwrap());
        assert_eq!(client, 375.0, "{path}: the phone's width");
        assert!(
            scroll <= client,
            "{path} is {scroll} px wide on a {client} px screen"
        );
        assert_eq!(m[2], json!([]), "{path}: menu items off screen");
        self.shot(&format!("phone-{name}")).await;
    }
}

backend_test!(
    in_chromium_every_console_fits_a_phone_and_its_menu_works,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        let paid = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        m.wait_instance(&app, paid["instance_id"].as_str().unwrap(), "active")
            .await;
        // A product waiting for review, so the operator's queue has a row.
        let body = fixture::product_body(
            "云监控企业版 Cloud Monitor Enterprise",
            Proto::V2,
            "https://isv.acme.example/produce",
        );
        let r = app.post("/v1/products", &m.seller_key, body).await;
        let queued = r.body["id"].as_str().unwrap().to_owned();
        app.post(
            &format!("/v1/products/{queued}/submit"),
            &m.seller_key,
            json!({}),
        )
        .await;
        login_for(&app, &m.buyer_id, "buyer@phone.example").await;
        login_for(&app, &m.seller_id, "seller@phone.example").await;
        let operator = operator_id(&app).await;
        login_for(&app, &operator, "operator@phone.example").await;

        let driver = driver().await;
        let shots =
            app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();
        let s = Session {
            app: &app,
            c: phone(&driver).await,
            shots,
        };
        s.fits("/shop?q=monitor", "storefront").await;
        s.fits(&format!("/shop/products/{}", m.product_id), "product")
            .await;
        s.login("buyer@phone.example").await;
        s.fits("/buyer/orders", "buyer-orders").await;
        // The menu works: its buyer-center link leads to the instances.
        s.submit("#nav-buyer").await;
        s.wait_for("#my-instances").await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;
        s.login("seller@phone.example").await;
        s.fits("/seller/products", "seller-products").await;
        s.fits("/seller/dashboard", "seller-dashboard").await;
        s.click("#logout").await;
        s.wait_for("#login-submit").await;
        s.login("operator@phone.example").await;
        s.fits("/operator/reviews", "operator-reviews").await;
        s.fits(&format!("/operator/reviews/{queued}"), "operator-compare")
            .await;
        s.close().await;
    }
);
