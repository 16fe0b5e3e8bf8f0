//! Resellers end to end (issue 12, §11): an invitation link associates a customer; the seller
//! authorises the reseller above the standard share and the operator approves; the reseller's
//! exclusive offer link sells below the catalogue price and records the reseller and the price;
//! performance shows T+1; the reseller statement on its own run day (the 3rd) deducts a refund
//! and rounds its total once; the seller statement carries the commission; the operator pays
//! the reseller; everything reproduces.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::settlement::{advance_to, detail, statements, ZONE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::Duration;

fn cny(n: i64) -> Value {
    json!({"amount_minor": n, "currency": "CNY"})
}

/// Places and pays an order as `key`; returns the order id.
pub(crate) async fn buy_as(app: &TestApp, key: &str, body: Value) -> String {
    let placed = app.post("/v1/orders", key, body).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_owned();
    let paid = app
        .post(&format!("/v1/orders/{id}/pay"), key, json!({}))
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    id
}

/// The seller authorises the reseller on the market's product at `share_bp`, up to 25 % off;
/// the authorisation as answered.
pub(crate) async fn authorise(
    app: &TestApp,
    m: &Market,
    reseller_id: &str,
    share_bp: u32,
) -> Value {
    let auth = app
        .post(
            "/v1/reseller-authorisations",
            &m.seller_key,
            json!({"reseller_id": reseller_id, "product_id": m.product_id,
                   "share_bp": share_bp, "max_discount_bp": 2_500}),
        )
        .await;
    assert_eq!(auth.status, StatusCode::CREATED, "{}", auth.text);
    auth.body
}

/// The reseller's exclusive offer of `sku` monthly at `price_minor` CNY until `until`; its link.
pub(crate) async fn offer_link(
    app: &TestApp,
    reseller: &str,
    sku: &str,
    price_minor: i64,
    until: time::OffsetDateTime,
) -> String {
    let offer = app
        .post(
            "/v1/reseller-offers",
            reseller,
            json!({"sku_id": sku, "billing_mode": "monthly", "unit_price": cny(price_minor),
                   "valid_until": until.format(&Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{}", offer.text);
    offer.body["token"].as_str().unwrap().to_owned()
}

backend_test!(
    reseller_offer_link_order_commission_performance_t1_and_statement,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        top_up(&app, &m.buyer_id, 100_000).await;
        let (reseller_id, reseller) = app.party("resellers", "Channel Partner Co").await;
        let (other_id, other) = app.party("buyers", "Offer Buyer Ltd").await;
        top_up(&app, &other_id, 100_000).await;
        let month = crate::settlement::month_of_weekdays(&app);
        advance_to(&app, month.start(ZONE) + Duration::days(1)).await;

        // The invitation link associates the market's buyer with the reseller.
        let inv = app
            .post("/v1/reseller-invitations", &reseller, json!({}))
            .await;
        assert_eq!(inv.status, StatusCode::CREATED, "{}", inv.text);
        let token = inv.body["token"].as_str().unwrap().to_owned();
        app.post(
            "/v1/reseller-invitations/accept",
            &m.buyer_key,
            json!({"token": "inv_nope"}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let ok = app
            .post(
                "/v1/reseller-invitations/accept",
                &m.buyer_key,
                json!({"token": token}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        assert_eq!(ok.body["reseller_id"], reseller_id.as_str());
        let customers = app.get("/v1/reseller-customers", &reseller).await;
        assert_eq!(customers.body["data"][0]["buyer_id"], m.buyer_id.as_str());

        // 15 % is above the 10 % standard share: the operator approves first.
        let auth = app
            .post(
                "/v1/reseller-authorisations",
                &m.seller_key,
                json!({"reseller_id": reseller_id, "product_id": m.product_id,
                       "share_bp": 1_500, "max_discount_bp": 2_500}),
            )
            .await;
        assert_eq!(auth.status, StatusCode::CREATED, "{}", auth.text);
        assert_eq!(auth.body["state"], "pending_approval");
        let auth_id = auth.body["id"].as_str().unwrap().to_owned();
        let offer_body = |price: i64| {
            json!({"sku_id": m.basic, "billing_mode": "monthly", "unit_price": cny(price),
                   "valid_until": (month.end(ZONE)).format(&Rfc3339).unwrap()})
        };
        app.post("/v1/reseller-offers", &reseller, offer_body(800))
            .await
            .assert_error(StatusCode::CONFLICT, "not_authorised");
        let decision = format!("/v1/reseller-authorisations/{auth_id}/decision");
        app.post(&decision, &m.seller_key, json!({"action": "approve"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.post(&decision, &app.operator_key, json!({"action": "reject"}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let approved = app
            .post(&decision, &app.operator_key, json!({"action": "approve"}))
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["state"], "active");

        // The offer: between the floor (1000 less 25 % = 750) and the catalogue price.
        for bad in [749, 1_001] {
            app.post("/v1/reseller-offers", &reseller, offer_body(bad))
                .await
                .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        }
        let offer = app
            .post("/v1/reseller-offers", &reseller, offer_body(800))
            .await;
        assert_eq!(offer.status, StatusCode::CREATED, "{}", offer.text);
        let link = offer.body["token"].as_str().unwrap().to_owned();
        let seen = app
            .get(&format!("/v1/offer-links?token={link}"), &other)
            .await;
        assert_eq!(
            seen.body["unit_price"]["amount_minor"], 800,
            "{}",
            seen.text
        );
        assert!(seen.body["token"].is_null(), "the link is not handed on");

        // Another buyer orders through the link: 800, with the reseller recorded.
        let offered = buy_as(
            &app,
            &other,
            json!({"sku_id": m.basic, "billing_mode": "monthly", "offer": link}),
        )
        .await;
        app.drain().await;
        let o = app
            .get(&format!("/v1/orders/{offered}"), &m.seller_key)
            .await;
        assert_eq!(o.body["amount"]["amount_minor"], 800, "{}", o.text);
        assert_eq!(o.body["state"], "completed");
        // A link for another SKU's mode is refused.
        let wrong = app
            .post(
                "/v1/orders",
                &other,
                json!({"sku_id": m.basic, "billing_mode": "yearly", "offer": link}),
            )
            .await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            wrong.text
        );

        // The associated customer counts from the day after the association.
        let same_day = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let same_day = same_day["id"].as_str().unwrap().to_owned();
        advance_to(&app, month.start(ZONE) + Duration::days(2)).await;
        let assoc = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        let assoc = assoc["id"].as_str().unwrap().to_owned();
        m.wait_order(&app, &assoc, "completed").await;

        // Performance is T+1: today's order is not there yet.
        let perf = app.get("/v1/reseller-performance", &reseller).await;
        assert_eq!(perf.status, StatusCode::OK, "{}", perf.text);
        let ids: Vec<&str> = perf.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [offered.as_str()], "{}", perf.text);
        assert_eq!(perf.body["orders"][0]["commission"], "120.0000");
        // Refunded without reason the next day; performance shows it then.
        advance_to(&app, month.start(ZONE) + Duration::days(3)).await;
        let r = app
            .post(
                &format!("/v1/orders/{assoc}/refunds"),
                &m.buyer_key,
                json!({"kind": "no_reason"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        advance_to(&app, month.start(ZONE) + Duration::days(4)).await;
        let perf = app.get("/v1/reseller-performance", &reseller).await;
        let orders = perf.body["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 2, "{}", perf.text);
        assert_eq!(orders[1]["order_id"], assoc.as_str());
        assert_eq!(orders[1]["refunded_minor"], 1_000);
        assert_eq!(orders[1]["commission"], "0.0000");
        assert!(!orders.iter().any(|o| o["order_id"] == same_day.as_str()));
        let per_customer = perf.body["customers"].as_array().unwrap();
        assert_eq!(per_customer.len(), 2, "{}", perf.text);
        let csv = app
            .send(
                app.http
                    .get(app.url("/v1/reseller-performance.csv"))
                    .bearer_auth(&reseller),
            )
            .await;
        assert!(csv.text.starts_with("order_id,buyer_id,"), "{}", csv.text);
        assert!(csv.text.contains(&format!("{offered},")), "{}", csv.text);
        app.get("/v1/reseller-performance", &m.buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Day 3 of M+1: the reseller statement. 800 × 15 % = 120; the refunded sale and its
        // refund cancel (+150 − 150).
        advance_to(&app, month.run_at(3, ZONE) + Duration::minutes(1)).await;
        let list = app
            .get(
                &format!("/v1/reseller-statements?period={}", month.id()),
                &reseller,
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let rst = list.body["data"][0]["id"].as_str().unwrap().to_owned();
        let st = app
            .get(&format!("/v1/reseller-statements/{rst}"), &reseller)
            .await
            .body;
        let t = &st["totals"];
        assert_eq!(t["sales_minor"], 1_800, "{st}");
        assert_eq!(t["refunds_minor"], -1_000);
        assert_eq!(t["commission_minor"], 120);
        assert_eq!(t["payable_minor"], 120);
        let commissions: Vec<(&str, &str)> = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap(),
                    l["commission"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            commissions,
            [
                ("opening", "120.0000"),
                ("opening", "150.0000"),
                ("refund", "-150.0000")
            ],
            "{st}"
        );
        let csv = app
            .send(
                app.http
                    .get(app.url(&format!("/v1/reseller-statements/{rst}/lines.csv")))
                    .bearer_auth(&reseller),
            )
            .await;
        assert!(
            csv.text.contains(",total,commission_minor,120\r\n"),
            "{}",
            csv.text
        );
        // Another reseller sees nothing of it.
        let (_, stranger) = app.party("resellers", "Other Channel").await;
        app.get(&format!("/v1/reseller-statements/{rst}"), &stranger)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        // Day 7: the seller's statement carries the commission.
        advance_to(&app, month.run_at(7, ZONE) + Duration::minutes(1)).await;
        let sel = statements(&app, &m.seller_key, &month).await;
        let sst = detail(&app, &m.seller_key, sel[0]["id"].as_str().unwrap()).await;
        let t = &sst["totals"];
        assert_eq!(t["gross_minor"], 800 + 1_000 + 1_000, "{sst}");
        assert_eq!(t["refunds_minor"], -1_000);
        assert_eq!(t["platform_fee_minor"], 90);
        assert_eq!(t["commission_minor"], 120);
        assert_eq!(t["net_minor"], 2_800 - 1_000 - 90 - 120);

        // Not paid before the reseller's invoice is accepted (§10 row 5); then the operator
        // pays the reseller; everything reproduces.
        app.post(
            &format!("/v1/reseller-statements/{rst}/pay"),
            &app.operator_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "statement_state");
        crate::reseller_invoices::invoice_and_pay(&app, &reseller, &rst, 120).await;
        let paid = app
            .get(&format!("/v1/reseller-statements/{rst}"), &reseller)
            .await;
        assert_eq!(paid.body["state"], "paid", "{}", paid.text);
        app.post(
            &format!("/v1/reseller-statements/{rst}/pay"),
            &app.operator_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "statement_state");
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        assert_eq!(check.body["discrepancies"], json!([]), "{}", check.text);
        assert_eq!(check.body["statements_checked"], 2, "{}", check.text);

        // A commission edited behind the system's back is found.
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect(&app.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE order_resellers SET terms = REPLACE(terms, '1500', '1600')")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        let check = app.get("/v1/settlement/check", &app.operator_key).await;
        let found = check.body["discrepancies"].as_array().unwrap();
        assert!(
            found.iter().any(|d| d["subject"] == rst.as_str()),
            "{}",
            check.text
        );
    }
);

backend_test!(
    flagged_customers_are_refused_by_invitation_links_with_a_clear_code,
    |app: TestApp| async move {
        let (_, reseller) = app.party("resellers", "Channel Partner Co").await;
        let (buyer_id, buyer) = app.party("buyers", "Internal Team").await;
        let (_, seller) = app.party("sellers", "Acme Cloud").await;
        let inv = app
            .post("/v1/reseller-invitations", &reseller, json!({}))
            .await;
        let token = inv.body["token"].as_str().unwrap().to_owned();
        let path = format!("/v1/buyers/{buyer_id}/association-exclusions");
        let put = |key: &str, body: Value| {
            app.http
                .put(app.url(&path))
                .bearer_auth(key.to_owned())
                .json(&body)
        };
        // Only the operator sets or reads the flags; unknown flags and buyers are refused.
        for key in [&seller, &buyer, &reseller] {
            app.send(put(key, json!({"flags": ["internal"]})))
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
            app.get(&path, key)
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        app.send(put(&app.operator_key, json!({"flags": ["vip"]})))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        app.get(
            "/v1/buyers/buy_01m8a2h3k4m5n6p7q8r9s0t1v2/association-exclusions",
            &app.operator_key,
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
        let none = app.get(&path, &app.operator_key).await;
        assert_eq!(none.body, json!({"flags": []}), "{}", none.text);

        let set = app
            .send(put(
                &app.operator_key,
                json!({"flags": ["reported", "internal", "internal"]}),
            ))
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
        assert_eq!(set.body["flags"], json!(["internal", "reported"]));
        let accept = || {
            app.post(
                "/v1/reseller-invitations/accept",
                &buyer,
                json!({"token": token}),
            )
        };
        let refused = accept().await;
        refused.assert_error(StatusCode::CONFLICT, "customer_excluded");
        assert!(
            refused.text.contains("an internal account")
                && refused.text.contains("already reported"),
            "{}",
            refused.text
        );
        let customers = app.get("/v1/reseller-customers", &reseller).await;
        assert_eq!(customers.body["data"], json!([]), "{}", customers.text);
        app.send(put(&app.operator_key, json!({"flags": ["consumer_cloud"]})))
            .await;
        accept()
            .await
            .assert_error(StatusCode::CONFLICT, "customer_excluded");

        // The operator's console: the buyer's page shows the flags and sets them (CSRF-checked).
        let web = crate::console_operator::operator_web(&app).await;
        let page = format!("/operator/parties/{buyer_id}");
        let form = format!("{page}/association-exclusions");
        let shown = web.get(&page).await;
        assert!(
            shown
                .text
                .contains("id=\"exclusion-consumer_cloud\" checked"),
            "{}",
            shown.text
        );
        let forged = web.post(&form, &[("internal", "on")]).await;
        assert_ne!(forged.status, StatusCode::SEE_OTHER, "{}", forged.text);
        let r = web
            .submit(&page, &form, &[("internal", "on"), ("reported", "on")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let now = app.get(&path, &app.operator_key).await;
        assert_eq!(
            now.body["flags"],
            json!(["internal", "reported"]),
            "{}",
            now.text
        );
        let zh = web.get(&format!("{page}?lang=zh")).await;
        assert!(zh.text.contains("内部账号"), "{}", zh.text);

        // Cleared (no box ticked): the link associates the customer.
        let r = web.submit(&page, &form, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let cleared = app.get(&path, &app.operator_key).await;
        assert_eq!(cleared.body["flags"], json!([]), "{}", cleared.text);
        let ok = accept().await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let customers = app.get("/v1/reseller-customers", &reseller).await;
        assert_eq!(customers.body["data"][0]["buyer_id"], buyer_id.as_str());
    }
);
