//! The web console over plain HTTP: sessions, CSRF, throttling, the storefront search, buying
//! and reviewing through the pages (the browser tests in `browser.rs` cover the same journeys
//! in Chromium).

use crate::backend_test;
use crate::console_support::{csrf_of, location, login_for, Web, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

backend_test!(
    a_person_logs_in_acts_for_their_party_and_logs_out,
    |app: TestApp| async move {
        let (buyer, _) = app.party("buyers", "Lan Ying").await;
        login_for(&app, &buyer, "Ying@Example.com").await;
        let web = Web::new(&app);
        // Not logged in: a buyer page sends to the login form, and back afterwards.
        let r = web.get("/buyer/orders").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&r), "/login?next=%2Fbuyer%2Forders");
        // Addresses are case-insensitive.
        let r = web
            .submit(
                "/login?next=/buyer/orders",
                "/login",
                &[
                    ("email", " ying@example.COM "),
                    ("password", PASSWORD),
                    ("next", "/buyer/orders"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), "/buyer/orders");
        let cookie = r
            .headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let page = web.get("/buyer/orders").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("Lan Ying") && page.text.contains("ying@example.com"));
        // The session is a database row: the token the browser holds opens it, nothing else.
        let token = web.cookie("souk_session").unwrap();
        let session = app
            .state
            .store
            .touch_session(
                &souk_core::console::token_hash(&token),
                app.state.clock.now(),
            )
            .await
            .unwrap()
            .expect("session stored");
        assert_eq!(session.user.party_id.as_str(), buyer);
        // Logging out closes the session in the database, not just in this browser.
        let r = web.submit("/buyer/orders", "/logout", &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let again = Web::new(&app);
        let r = again
            .send_with_cookie("/buyer/orders", &format!("souk_session={token}"))
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "a closed session must not open pages"
        );
        // Idle time is real time, not the business clock: moving that 30 days logs nobody
        // out (a sandbox operator's `souk clock advance`) ...
        web.login("ying@example.com", PASSWORD).await;
        assert_eq!(web.get("/buyer/orders").await.status, StatusCode::OK);
        app.clock.advance(time::Duration::days(30)).unwrap();
        assert_eq!(web.get("/buyer/orders").await.status, StatusCode::OK);
        // ... while a session last used twelve real hours ago is closed (the row's time set
        // as if it had waited).
        let hash = souk_core::console::token_hash(&web.cookie("souk_session").unwrap());
        let twelve_hours_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(12);
        app.state
            .store
            .set_session_seen(&hash, twelve_hours_ago)
            .await
            .unwrap();
        assert_eq!(web.get("/buyer/orders").await.status, StatusCode::SEE_OTHER);
    }
);

backend_test!(
    forms_without_their_csrf_token_are_refused_and_change_nothing,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        let web = Web::new(&app);
        // The login form itself: no token, or a token without its cookie (another site's form).
        let r = web
            .post(
                "/login",
                &[("email", "buyer@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(r.text.contains("data-code=\"csrf_failed\""), "{}", r.text);
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let token = csrf_of(&web.get("/login").await.text);
        web.forget_cookie("souk_csrf");
        let r = web
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("email", "buyer@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Logged in, a buy form with a missing or wrong token places no order.
        assert_eq!(
            web.login("buyer@example.com", PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
        let buy = format!("/shop/products/{}/buy", m.product_id);
        let fields = [("sku_id", m.basic.as_str()), ("billing_mode", "monthly")];
        let r = web.post(&buy, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let mut wrong = vec![("csrf", "0".repeat(64))];
        wrong.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(web.post(&buy, &wrong).await.status, StatusCode::FORBIDDEN);
        let orders = app.get("/v1/orders", &m.buyer_key).await;
        assert_eq!(
            orders.body["data"],
            json!([]),
            "a refused form must not place an order"
        );
        // The anonymous token does not work once logged in: forms carry the session's token.
        let anon = web.cookie("souk_csrf").unwrap();
        let r = web.post("/logout", &[("csrf", &anon)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
);

backend_test!(
    five_wrong_passwords_lock_the_address_for_fifteen_minutes,
    |app: TestApp| async move {
        let (seller, _) = app.party("sellers", "Acme").await;
        login_for(&app, &seller, "ops@acme.example").await;
        let web = Web::new(&app);
        for _ in 0..4 {
            let r = web.login("ops@acme.example", "wrong password").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            assert!(r.text.contains("data-code=\"invalid_login\""));
        }
        // An unknown address gets the same answer as a wrong password.
        let r = web.login("nobody@acme.example", "wrong password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.text.contains("data-code=\"invalid_login\""));
        let r = web.login("ops@acme.example", "wrong password").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert!(r.text.contains("data-code=\"login_throttled\""));
        // Locked: even the right password is refused, from any browser (the count is stored).
        let other = Web::new(&app);
        let r = other.login("OPS@acme.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        app.clock.advance(time::Duration::minutes(15)).unwrap();
        let r = other.login("ops@acme.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // A successful login forgets the failures.
        for _ in 0..4 {
            web.login("ops@acme.example", "wrong password").await;
        }
        assert_eq!(
            web.login("ops@acme.example", PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
    }
);

/// Creates, submits and approves a product named `name` described by `description`, with a
/// monthly price of `monthly_minor`; returns its id.
pub async fn listed(
    app: &TestApp,
    seller_key: &str,
    name: &str,
    description: &str,
    monthly_minor: i64,
) -> String {
    let mut body = fixture::product_body(name, Proto::V2, "http://127.0.0.1:9/produce");
    body["description"] = json!(description);
    body["prices"] = json!([
        {"sku": {"edition": "basic"}, "billing_mode": "monthly", "amount_minor": monthly_minor},
        {"sku": {"edition": "pro"}, "billing_mode": "yearly", "amount_minor": monthly_minor * 10},
    ]);
    let r = app.post("/v1/products", seller_key, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/v1/products/{id}/submit"), seller_key, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/v1/products/{id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    id
}

pub(crate) fn names(html: &str) -> Vec<String> {
    html.split("class=\"name\" href=\"/shop/products/")
        .skip(1)
        .map(|s| {
            let s = &s[s.find('>').unwrap() + 1..];
            s[..s.find('<').unwrap()].to_owned()
        })
        .collect()
}

backend_test!(
    the_storefront_finds_listed_products_by_chinese_and_english_words,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let monitor = listed(
            &app,
            &seller_key,
            "云监控 Cloud Monitor",
            "企业级主机与应用监控",
            9900,
        )
        .await;
        listed(
            &app,
            &seller_key,
            "数据库备份",
            "Nightly database backups to object storage",
            19900,
        )
        .await;
        listed(
            &app,
            &seller_key,
            "Hosted CI",
            "Continuous integration runners; 持续集成",
            4900,
        )
        .await;
        // A draft is never found.
        let r = app
            .post(
                "/v1/products",
                &seller_key,
                fixture::product_body("云监控 draft", Proto::V2, "http://127.0.0.1:9/p"),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let web = Web::new(&app);
        let search = |q: &str| {
            let path = format!("/shop?{}", serde_urlencoded_q(q));
            let web = &web;
            async move {
                let r = web.get(&path).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                let mut n = names(&r.text);
                n.sort();
                n
            }
        };
        assert_eq!(search("q=监控").await, ["云监控 Cloud Monitor"]);
        assert_eq!(search("q=云监控").await, ["云监控 Cloud Monitor"]);
        assert_eq!(search("q=备份").await, ["数据库备份"]);
        assert_eq!(search("q=DATABASE").await, ["数据库备份"]);
        assert_eq!(
            search("q=clou").await,
            ["云监控 Cloud Monitor"],
            "the last word is a prefix"
        );
        assert_eq!(
            search("q=monit").await.len(),
            3,
            "categories are searched too"
        );
        assert_eq!(search("q=集成 runners").await, ["Hosted CI"]);
        assert_eq!(
            search("q=监控 backup").await,
            Vec::<String>::new(),
            "every word must match"
        );
        assert_eq!(search("q=\" OR 1=1 --").await.len(), 0);
        // Filters and sorting.
        assert_eq!(
            search("max=100").await,
            ["Hosted CI", "云监控 Cloud Monitor"]
        );
        assert_eq!(search("min=100&max=1000").await, ["数据库备份"]);
        let r = web.get("/shop?sort=price_desc").await;
        assert_eq!(
            names(&r.text),
            ["数据库备份", "云监控 Cloud Monitor", "Hosted CI"]
        );
        assert_eq!(search("billing=yearly&category=devops").await.len(), 3);
        assert_eq!(search("category=finance").await.len(), 0);
        // Bad filters are a readable page naming the field, not a 500.
        let r = web.get("/shop?sort=sideways").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text.contains("unknown sort"), "{}", r.text);
        // Delisting takes a product out of the storefront at once.
        let r = app
            .post(
                &format!("/v1/products/{monitor}/delist"),
                &seller_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(search("q=监控").await, Vec::<String>::new());
        // The product page of an unknown product is a readable 404 page.
        let r = web.get("/shop/products/prd_nope").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.text.contains("<html") && r.text.contains("not found"));
    }
);

fn serde_urlencoded_q(q: &str) -> String {
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            format!("{k}={}", utf8_percent(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn utf8_percent(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

backend_test!(
    a_buyer_buys_with_the_balance_in_the_console_and_opens_the_credentials,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.buyer_id, "buyer@example.com").await;
        let web = Web::new(&app);
        web.login("buyer@example.com", PASSWORD).await;
        let product = format!("/shop/products/{}", m.product_id);
        let page = web.get(&product).await;
        assert!(page.text.contains("Acme Monitor") && page.text.contains("Acme Cloud"));
        let r = web
            .submit(
                &product,
                &format!("{product}/buy"),
                &[
                    ("sku_id", &m.basic),
                    ("billing_mode", "monthly"),
                    ("periods", "1"),
                    ("quantity", "2"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let instance_page = location(&r);
        assert!(
            instance_page.starts_with("/buyer/instances/ins_"),
            "{instance_page}"
        );
        // Paid from the balance: 2 users × 10.00.
        assert_eq!(fixture::balance(&app, &m).await, 100_000 - 2_000);
        app.drain().await;
        let page = web.get(&instance_page).await;
        assert!(
            page.text.contains("id=\"instance-state\">active<"),
            "{}",
            page.text
        );
        assert!(
            !page.text.contains("cred-password"),
            "credentials only on request"
        );
        let id = instance_page.trim_start_matches("/buyer/instances/");
        let shown = web
            .submit(&instance_page, &format!("{instance_page}/credentials"), &[])
            .await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
        let api = m.instance(&app, id).await;
        let password = api["app_info"]["password"]
            .as_str()
            .expect("credentials from the seller");
        assert!(shown.text.contains(password), "{}", shown.text);
        let orders = web.get("/buyer/orders").await;
        assert!(
            orders.text.contains(id) && orders.text.contains("980.00 CNY"),
            "{}",
            orders.text
        );
        // Another buyer cannot open this instance.
        let (other, _) = app.party("buyers", "Other").await;
        login_for(&app, &other, "other@example.com").await;
        let web2 = Web::new(&app);
        web2.login("other@example.com", PASSWORD).await;
        let foreign = web2.get(&instance_page).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        let not_found = "data-code=\"not_found\">instance not found";
        assert!(foreign.text.contains(not_found), "{}", foreign.text);
        // A malformed id in the path is parsed once and is the same 404 page as an instance
        // that is not yours; nothing reaches the store with it.
        for bad in ["/buyer/instances/not-an-id", "/buyer/instances/ord_x"] {
            let r = web.get(bad).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}: {}", r.text);
            assert!(r.text.contains(not_found), "{}", r.text);
        }
        let r = web
            .submit(&instance_page, "/buyer/instances/nope/credentials", &[])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert!(r.text.contains(not_found), "{}", r.text);
        // Not enough balance: a readable page, and the order waits for payment.
        let r = web
            .submit(
                &product,
                &format!("{product}/buy"),
                &[
                    ("sku_id", &m.pro),
                    ("billing_mode", "yearly"),
                    ("quantity", "100"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text);
        assert!(
            r.text.contains("<html") && r.text.contains("data-code=\"insufficient_funds\""),
            "{}",
            r.text
        );
    }
);

backend_test!(
    the_operator_approves_and_rejects_in_the_review_queue,
    |app: TestApp| async move {
        let (seller, seller_key) = app.party("sellers", "Acme").await;
        let _ = seller;
        let mut ids = Vec::new();
        for name in ["Good product", "Bad product"] {
            let r = app
                .post(
                    "/v1/products",
                    &seller_key,
                    fixture::product_body(name, Proto::V2, "http://127.0.0.1:9/p"),
                )
                .await;
            let id = r.body["id"].as_str().unwrap().to_owned();
            let s = app
                .post(&format!("/v1/products/{id}/submit"), &seller_key, json!({}))
                .await;
            assert_eq!(s.status, StatusCode::OK, "{}", s.text);
            ids.push(id);
        }
        let operator = crate::console_support::operator_id(&app).await;
        login_for(&app, &operator, "operator@souk.example").await;
        let web = Web::new(&app);
        let r = web.login("operator@souk.example", PASSWORD).await;
        assert_eq!(location(&r), "/operator/reviews");
        let queue = web.get("/operator/reviews").await;
        assert!(queue.text.contains("Good product") && queue.text.contains("Bad product"));
        let r = web
            .submit(
                "/operator/reviews",
                &format!("/operator/reviews/{}/decide", ids[0]),
                &[("decision", "approve"), ("revision_id", ""), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // Rejecting needs a reason: the use case's message is shown.
        let r = web
            .submit(
                "/operator/reviews",
                &format!("/operator/reviews/{}/decide", ids[1]),
                &[("decision", "reject"), ("revision_id", ""), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = web
            .submit(
                "/operator/reviews",
                &format!("/operator/reviews/{}/decide", ids[1]),
                &[
                    ("decision", "reject"),
                    ("revision_id", ""),
                    ("reason", "The agreement lacks a phone number."),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let good = app
            .get(&format!("/v1/products/{}", ids[0]), &seller_key)
            .await;
        assert_eq!(good.body["status"], "listed");
        let bad = app
            .get(&format!("/v1/products/{}", ids[1]), &seller_key)
            .await;
        assert_eq!(bad.body["status"], "rejected");
        assert_eq!(
            bad.body["rejection_reason"],
            "The agreement lacks a phone number."
        );
        assert!(web
            .get("/operator/reviews")
            .await
            .text
            .contains("nothing-to-review"));
        // A buyer's session cannot open the operator's pages.
        let (buyer, _) = app.party("buyers", "B").await;
        login_for(&app, &buyer, "b@example.com").await;
        let b = Web::new(&app);
        b.login("b@example.com", PASSWORD).await;
        assert_eq!(
            b.get("/operator/reviews").await.status,
            StatusCode::FORBIDDEN
        );
    }
);

backend_test!(
    pages_follow_the_browser_language_and_the_switch,
    |app: TestApp| async move {
        let r = app
            .send(
                app.http
                    .get(app.url("/shop"))
                    .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5"),
            )
            .await;
        assert!(r.text.contains("<html lang=\"zh\">") && r.text.contains("商品市场"));
        let web = Web::new(&app);
        let r = web.get("/shop?lang=zh").await;
        assert!(r.text.contains("商品市场"));
        // The choice sticks for the next pages.
        let r = web.get("/login").await;
        assert!(
            r.text.contains("<html lang=\"zh\">") && r.text.contains("登录"),
            "{}",
            r.text
        );
        let r = web.get("/login?lang=en").await;
        assert!(r.text.contains("<html lang=\"en\">"));
    }
);

backend_test!(
    a_seller_tests_its_endpoint_and_sees_each_check_with_its_fix,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.seller_id, "ops@acme.example").await;
        let web = Web::new(&app);
        let r = web.login("ops@acme.example", PASSWORD).await;
        assert_eq!(location(&r), "/seller/products");
        let list = web.get("/seller/products").await;
        assert!(
            list.text.contains("Acme Monitor") && list.text.contains("data-status=\"listed\""),
            "{}",
            list.text
        );
        let test = format!("/seller/products/{}/test-endpoint", m.product_id);
        let r = web.submit("/seller/products", &test, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("data-success=\"true\""), "{}", r.text);
        let rows = r.text.matches("<tr class=\"check ").count();
        assert!(rows >= 5, "every check is listed: {}", r.text);
        assert_eq!(r.text.matches("<tr class=\"check fail\"").count(), 0);
        // A seller whose answers carry a wrong Body-Sign fails, and the page says how to fix it.
        let broken = fixture::example_seller(&app, |c| {
            c.fail_first_n = u32::MAX;
            c.failure = souk_isv::example::FailureMode::WrongBodySign;
        })
        .await;
        let url = format!("{}/produce", broken.url().trim_end_matches('/'));
        let r = app
        .send(
            app.http
                .put(app.url(&format!("/v1/products/{}/integration", m.product_id)))
                .bearer_auth(&m.seller_key)
                .json(&json!({"protocol": "v2", "production_url": url, "key": fixture::SELLER_KEY})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = web.submit("/seller/products", &test, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("data-success=\"false\""), "{}", r.text);
        assert!(r.text.contains("<tr class=\"check fail\""));
        assert!(
            r.text.to_lowercase().contains("body-sign"),
            "the fix names the header: {}",
            r.text
        );
        // Another seller cannot test this product: the same 404 as for a missing one.
        let (other, _) = app.party("sellers", "Other").await;
        login_for(&app, &other, "other@seller.example").await;
        let web2 = Web::new(&app);
        web2.login("other@seller.example", PASSWORD).await;
        let r = web2.submit("/seller/products", &test, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
);
