//! The seller center over plain HTTP on both backends: production-interface messages and the
//! manual retry, AK/SK pairs, the product form, orders and the sales dashboard.

use crate::backend_test;
use crate::console_support::{location, login_for, Web, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// The first `href="/seller/calls/…"` link of a page: a call's id.
fn first_call_link(page: &str) -> String {
    let start = page.find("href=\"/seller/calls/").expect("a call link") + 6;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

backend_test!(
    a_seller_sees_a_failing_call_and_retries_it_from_the_console,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.seller_id, "ops@acme.example").await;
        let web = Web::new(&app);
        web.login("ops@acme.example", PASSWORD).await;
        // The endpoint fails until the seller fixes it: Souk will retry later.
        m.example.seller().fail_next(u32::MAX);
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        app.drain().await;
        let failures = web.get("/seller/calls?outcome=failure").await;
        assert_eq!(failures.status, StatusCode::OK, "{}", failures.text);
        assert!(failures.text.contains("data-outcome=\"failure\""));
        assert!(!failures.text.contains("data-outcome=\"success\""));
        let call = first_call_link(&failures.text);
        let page = web.get(&call).await;
        assert!(
            page.text.contains("data-state=\"pending\""),
            "{}",
            page.text
        );
        assert!(page.text.contains("id=\"retry-call\""));
        assert!(page.text.contains("HTTP 500"), "{}", page.text);
        // Fixed: the retry button sends it again at once.
        m.example.seller().fail_next(0);
        let r = web.submit(&call, &format!("{call}/retry"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), format!("{call}?retried=1"));
        app.drain().await;
        let page = web.get(&format!("{call}?retried=1")).await;
        assert!(page.text.contains("id=\"retried\""));
        assert!(
            page.text.contains("data-state=\"succeeded\""),
            "{}",
            page.text
        );
        assert!(!page.text.contains("id=\"retry-call\""));
        m.wait_instance(&app, order["instance_id"].as_str().unwrap(), "active")
            .await;
        // Filters narrow the list; a bad one is a readable page.
        let none = web
            .get("/seller/calls?instance_id=ins_00000000000000000000000000")
            .await;
        assert!(none.text.contains("id=\"no-calls\""));
        let bad = web.get("/seller/calls?outcome=maybe").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.text.contains("data-code=\"invalid_query\""));
        // Another seller: the call is not there (404), and its retry is refused the same way.
        let (other, _) = app.party("sellers", "Other Cloud").await;
        login_for(&app, &other, "ops@other.example").await;
        let them = Web::new(&app);
        them.login("ops@other.example", PASSWORD).await;
        assert_eq!(them.get(&call).await.status, StatusCode::NOT_FOUND);
        let r = them
            .submit("/seller/calls", &format!("{call}/retry"), &[])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Without the CSRF token nothing happens.
        let r = web.post(&format!("{call}/retry"), &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
);

backend_test!(
    a_seller_creates_and_revokes_ak_sk_pairs,
    |app: TestApp| async move {
        let (seller, _) = app.party("sellers", "Keys Ltd").await;
        login_for(&app, &seller, "ops@keys.example").await;
        let web = Web::new(&app);
        web.login("ops@keys.example", PASSWORD).await;
        let r = web
            .submit(
                "/seller/keys",
                "/seller/keys",
                &[("label", "billing system")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let grab = |id: &str| {
            let start = r.text.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
            r.text[start..start + r.text[start..].find('<').unwrap()].to_owned()
        };
        let (ak, sk) = (grab("new-ak"), grab("new-sk"));
        assert_eq!((ak.len(), sk.len()), (20, 40));
        // The list never shows the SK again.
        let list = web.get("/seller/keys").await;
        assert!(list.text.contains(&ak) && list.text.contains("billing system"));
        assert!(!list.text.contains(&sk));
        let start = list.text.find("action=\"/seller/keys/").unwrap() + 8;
        let action = list.text[start..start + list.text[start..].find('"').unwrap()].to_owned();
        let r = web.submit("/seller/keys", &action, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let list = web.get("/seller/keys").await;
        assert!(
            !list.text.contains("class=\"reject revoke\""),
            "{}",
            list.text
        );
        // A buyer has no keys page.
        let (buyer, _) = app.party("buyers", "Buyer").await;
        login_for(&app, &buyer, "b@keys.example").await;
        let b = Web::new(&app);
        b.login("b@keys.example", PASSWORD).await;
        assert_eq!(b.get("/seller/keys").await.status, StatusCode::FORBIDDEN);
    }
);

fn product_form<'a>(name: &'a str, prices: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("delivery_type", "saas"),
        ("category", "devops/monitoring"),
        ("description", "Hosted monitoring for small teams."),
        ("usage_guide", ""),
        ("currency", "CNY"),
        ("sa_content", "Monitoring, 99.9% availability."),
        ("sa_hours", "Mon-Fri 09:00-18:00 (UTC+8)"),
        ("sa_phone", "+86 10 1234 5678"),
        ("sa_email", "support@acme.example"),
        ("attributes", "edition: basic, pro"),
        ("q_name", "users"),
        ("q_unit", "user"),
        ("q_min", "1"),
        ("q_max", "100"),
        ("q_wire", "amount"),
        ("prices", prices),
        ("protocol", "v2"),
        ("production_url", url),
        ("key", fixture::SELLER_KEY),
    ]
}

backend_test!(
    a_seller_creates_edits_and_submits_a_product_through_the_form,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let url = format!("{}/produce", example.url().trim_end_matches('/'));
        let (seller, key) = app.party("sellers", "Form Cloud").await;
        login_for(&app, &seller, "ops@form.example").await;
        let web = Web::new(&app);
        web.login("ops@form.example", PASSWORD).await;
        let good = "edition=basic monthly 10\nedition=pro monthly 30.50\nyearly 300\ntrial 14";
        // A price line the form cannot read: the form again, naming the line, nothing saved.
        let r = web
            .submit(
                "/seller/products/new",
                "/seller/products/new",
                &product_form("Form Monitor", "edition=basic monthly ten", &url),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("data-field=\"prices\""), "{}", r.text);
        assert!(
            r.text.contains("value=\"Form Monitor\""),
            "what was typed stays"
        );
        let list = app.get("/v1/products", &key).await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
        // A rule of the catalog (a price for a SKU that does not exist) is the use case's message.
        let r = web
            .submit(
                "/seller/products/new",
                "/seller/products/new",
                &product_form("Form Monitor", "edition=gold monthly 10", &url),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = web
            .submit(
                "/seller/products/new",
                "/seller/products/new",
                &product_form("Form Monitor", good, &url),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let list = app.get("/v1/products", &key).await;
        let p = &list.body["data"][0];
        let id = p["id"].as_str().unwrap().to_owned();
        assert_eq!(p["status"], "draft");
        assert_eq!(p["skus"].as_array().unwrap().len(), 2, "{p}");
        // Edit: the form comes back filled in (never the key), and saves a new name.
        let edit = format!("/seller/products/{id}/edit");
        let form = web.get(&edit).await;
        assert!(
            form.text.contains("edition=pro monthly 30.50"),
            "{}",
            form.text
        );
        assert!(!form.text.contains(fixture::SELLER_KEY));
        let mut fields = product_form("Form Monitor Pro", good, &url);
        fields.retain(|(k, _)| *k != "key");
        fields.push(("key", ""));
        let r = web.submit(&edit, &edit, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let p = app.get(&format!("/v1/products/{id}"), &key).await;
        assert_eq!(p.body["name"], "Form Monitor Pro");
        // Submit for review from the product list; the operator approves; the seller is told.
        let r = web
            .submit(
                "/seller/products",
                &format!("/seller/products/{id}/submit"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let r = app
            .post(
                &format!("/v1/products/{id}/approve"),
                &app.operator_key,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let inbox = web.get("/messages").await;
        assert!(
            inbox.text.contains("data-kind=\"review_approved\""),
            "{}",
            inbox.text
        );
    }
);

backend_test!(
    the_sales_dashboard_charts_orders_and_revenue_per_day,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.seller_id, "ops@acme.example").await;
        let web = Web::new(&app);
        web.login("ops@acme.example", PASSWORD).await;
        let empty = web.get("/seller/dashboard").await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
        assert!(empty.text.contains("id=\"total-orders\">0<"));
        for mode in ["monthly", "yearly"] {
            m.buy(&app, json!({"sku_id": m.basic, "billing_mode": mode}))
                .await;
        }
        app.drain().await;
        let page = web.get("/seller/dashboard").await;
        assert!(
            page.text.contains("id=\"total-orders\">2<"),
            "{}",
            page.text
        );
        // 10.00 + 100.00 CNY (basic monthly and yearly, one user).
        assert!(page.text.contains("110.00"), "{}", page.text);
        assert_eq!(page.text.matches("<rect class=\"revenue\"").count(), 30);
        assert!(page.text.contains("role=\"img\""));
        let orders = web.get("/seller/orders").await;
        assert_eq!(orders.status, StatusCode::OK);
        assert_eq!(
            orders.text.matches("<tr><td>ord_").count(),
            2,
            "{}",
            orders.text
        );
    }
);
