//! The consoles in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! installed by `scripts/ensure-browser.sh`) against a real Souk on loopback, on both
//! backends. Few and end to end: a seller runs "test my endpoint" against the example seller
//! and sees every check pass; an operator approves the submitted product in the review queue;
//! a buyer logs in, searches in Chinese, buys with the balance and opens the credentials the
//! example seller returned. With `SOUK_SCREENSHOTS=1`, the SQLite run saves a screenshot of
//! each page it passes through in `docs/screenshots/`.

use crate::backend_test;
use crate::console_support::{login_for, operator_id, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::{Backend, TestApp};
use crate::ops_support::{port_in, ready_line};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) fn skipped() -> bool {
    std::env::var("SOUK_TEST_BROWSER").is_ok_and(|v| v == "skip")
}

/// A chromedriver process on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Where chromedriver listens (for sessions with other capabilities, e.g. a phone's).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn driver() -> Driver {
    // Port 0: chromedriver binds a free port itself and names it when it listens.
    let mut child = Command::new("chromedriver")
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: run scripts/ensure-browser.sh (or set SOUK_TEST_BROWSER=skip)");
    // chromedriver says when it listens.
    let out = tokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
    let line = ready_line(out, "started successfully", Duration::from_secs(30)).await;
    let port = port_in(&line);
    let url = format!("http://127.0.0.1:{port}");
    Driver { child, url }
}

pub(crate) async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900", "--lang=en-US"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// One browser session against one Souk.
pub(crate) struct Session<'a> {
    pub app: &'a TestApp,
    pub c: Client,
    pub shots: bool,
}

impl Session<'_> {
    pub(crate) async fn open(&self, path: &str) {
        self.c.goto(&self.app.url(path)).await.expect("page opens");
    }

    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.expect(css);
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub(crate) async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks `css`, which submits a form or follows a link, and returns once the next page has
    /// replaced this one: a `wait_for` after a plain click can match the old page, and a test
    /// that drains right after would run before the form's request reached Souk.
    pub(crate) async fn submit(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.expect("a page");
        self.click(css).await;
        let limit = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            match old.tag_name().await {
                Err(e) if e.is_stale_element_reference() => return,
                _ => assert!(
                    std::time::Instant::now() < limit,
                    "{css} did not lead to a new page"
                ),
            }
        }
    }

    /// The element once the page showing it has loaded (a click that submits a form returns
    /// before the next page is there).
    pub(crate) async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        // A click that submits a form returns before the next page replaces this one, and the
        // same selector can match on both: an element found on the old page may go stale
        // before it is read. Find it again (on the new page) instead of failing.
        for _ in 0..50 {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() => continue,
                Err(e) => panic!("reading {css}: {e}"),
            }
        }
        panic!("{css} kept going stale")
    }

    pub(crate) async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    pub(crate) async fn login(&self, email: &str) {
        self.open("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", PASSWORD).await;
        self.click("#login-submit").await;
        self.wait_for("#logout").await;
    }

    pub(crate) async fn shot(&self, name: &str) {
        if !self.shots {
            return;
        }
        let png = self.c.screenshot().await.expect("screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn close(self) {
        self.c.close().await.expect("browser closes");
    }
}

backend_test!(
    in_chromium_the_operator_approves_and_a_buyer_searches_buys_and_sees_credentials,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        // A seller running the example seller submits a product named in Chinese and English.
        let example = fixture::example_seller(&app, |_| {}).await;
        let (seller_id, seller_key) = app.party("sellers", "Acme Cloud").await;
        let (buyer_id, _) = app.party("buyers", "Lan Ying").await;
        fixture::top_up(&app, &buyer_id, 100_000).await;
        let url = format!("{}/produce", example.url().trim_end_matches('/'));
        let mut body = fixture::product_body("云监控 Cloud Monitor", Proto::V2, &url);
        body["description"] = json!("企业级主机与应用监控 — host and application monitoring.");
        let r = app.post("/v1/products", &seller_key, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let product = r.body["id"].as_str().unwrap().to_owned();
        let r = app
            .post(
                &format!("/v1/products/{product}/submit"),
                &seller_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let operator = operator_id(&app).await;
        login_for(&app, &operator, "operator@souk.example").await;
        login_for(&app, &buyer_id, "ying@example.com").await;
        login_for(&app, &seller_id, "ops@acme.example").await;

        let driver = driver().await;
        // Screenshots are refreshed on request only (`SOUK_SCREENSHOTS=1`), so that a test run
        // leaves the work tree as it found it.
        let shots =
            app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();

        // The seller runs "test my endpoint" and sees every check pass.
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };
        s.login("ops@acme.example").await;
        assert_eq!(s.path().await, "/seller/products");
        s.click("#products .test-endpoint").await;
        let summary = s.wait_for("#summary").await;
        assert_eq!(
            summary.attr("data-success").await.unwrap().as_deref(),
            Some("true")
        );
        assert!(s.text("#checks").await.contains("newInstance"));
        s.shot("seller-endpoint-test").await;
        s.close().await;

        // The operator approves it in the review queue.
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };
        s.login("operator@souk.example").await;
        assert_eq!(s.path().await, "/operator/reviews");
        assert!(s.text("#reviews").await.contains("云监控 Cloud Monitor"));
        s.shot("operator-review-queue").await;
        s.click("#reviews .approve").await;
        assert!(s.text("#nothing-to-review").await.len() > 1);
        s.close().await;

        // A buyer logs in, searches in Chinese, buys, and opens the credentials.
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };
        s.open("/shop").await;
        s.click("#login-link").await;
        s.fill("#email", "ying@example.com").await;
        s.fill("#password", PASSWORD).await;
        s.click("#login-submit").await;
        s.wait_for("#logout").await;
        assert_eq!(s.path().await, "/shop");
        s.fill("#q", "监控").await;
        s.click("#search-submit").await;
        let results = s.text("#results").await;
        assert!(results.contains("云监控 Cloud Monitor"), "{results}");
        s.shot("storefront-search").await;
        s.click("#results a.name").await;
        assert_eq!(s.text("#product-name").await, "云监控 Cloud Monitor");
        s.shot("product-page").await;
        s.click("button.buy-button[data-sku][data-mode='monthly']")
            .await;
        s.wait_for("#instance-state").await;
        assert!(s.path().await.starts_with("/buyer/instances/ins_"));
        // The seller opens the instance when the dispatcher calls it.
        app.drain().await;
        s.c.refresh().await.unwrap();
        assert_eq!(s.text("#instance-state").await, "active");
        s.click("#show-credentials").await;
        s.wait_for("#credentials").await;
        let user = s.text("#cred-user").await;
        let password = s.text("#cred-password").await;
        assert!(!user.is_empty() && !password.is_empty());
        s.shot("buyer-credentials").await;
        s.open("/buyer/orders").await;
        assert!(s.text("#balance").await.contains("990.00 CNY"));
        s.shot("buyer-orders").await;
        // Logging out ends the session: the orders page asks for a login again.
        s.click("#logout").await;
        s.wait_for("#login-submit").await;
        s.open("/buyer/orders").await;
        s.wait_for("#login-submit").await;
        assert_eq!(s.path().await, "/login");
        s.close().await;
    }
);

backend_test!(
    in_chromium_a_buyer_and_a_seller_take_supervision_steps_and_settle_a_refund,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        // A paid manual-service order under supervision (docs/after-sale.md).
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        let sku = crate::aftersale::listed(&app, &m, "manual_service", json!({})).await;
        let order = m
            .buy(&app, json!({"sku_id": sku, "billing_mode": "monthly"}))
            .await;
        let id = order["id"].as_str().unwrap().to_owned();
        login_for(&app, &m.buyer_id, "buyer@shop.example").await;
        login_for(&app, &m.seller_id, "seller@acme.example").await;
        let driver = driver().await;

        // The buyer finds the order from the after-sale link and submits the requirement.
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots: false,
        };
        s.login("buyer@shop.example").await;
        s.click("#nav-aftersale").await;
        s.wait_for("#my-turn").await;
        s.click("#my-turn a.task-link").await;
        s.fill("#requirement", "A bilingual shop site with a blog")
            .await;
        s.submit("#submit-requirement").await;
        assert_eq!(s.text("#sv-node").await, "confirm_requirement");
        assert!(s.text("#sv-requirement").await.contains("bilingual"));
        // …and asks for a negotiated refund of 50.00.
        s.c.find(Locator::Css("#refund-kind option[value='negotiated']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        s.fill("#refund-amount", "50.00").await;
        s.fill("#refund-reason", "Requirements changed").await;
        s.submit("#request-refund").await;
        assert_eq!(
            s.text("#refund-list .refund-state").await,
            "pending_seller_review"
        );
        s.close().await;

        // The seller confirms the requirement, then approves the refund.
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots: false,
        };
        s.login("seller@acme.example").await;
        s.open(&format!("/aftersale/orders/{id}")).await;
        s.submit("#confirm-requirement").await;
        // A pending refund request pauses nothing here: the step goes through.
        assert_eq!(s.text("#sv-node").await, "implement");
        s.fill("#refund-opinion", "Agreed by phone").await;
        s.submit("#approve-refund").await;
        assert_eq!(s.text("#order-state").await, "refunded");
        assert_eq!(s.text("#refund-list .refund-state").await, "refunded");
        s.close().await;
        assert_eq!(m.order(&app, &id).await["state"], "refunded");
    }
);
