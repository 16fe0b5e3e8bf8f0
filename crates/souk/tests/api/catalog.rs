//! The catalog: products, SKUs, prices, the review workflow, revisions, integration profiles.

use crate::backend_test;
use crate::harness::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::catalog::{seller_key_context, BillingMode, DeliveryType, LicenseMode};
use std::collections::BTreeSet;
use std::sync::Arc;

const SELLER_KEY: &str = "k3y-Of-The-Seller-0123456789abcdef";

/// A SaaS product: edition (basic, pro) × region (cn, eu, us) = 6 SKUs, users 1..=100, monthly
/// for all, yearly for pro, a 7-day trial on every SKU.
fn saas_body() -> Value {
    json!({
        "name": "Acme Monitor",
        "delivery_type": "saas",
        "category": "devops/monitoring",
        "description": "Watches your servers.",
        "usage_guide": "Log in with the credentials you receive.",
        "service_agreement": {
            "content": "Hosted monitoring, 99.9% monthly availability",
            "hours": "Mon-Fri 09:00-18:00 UTC+8",
            "phone": "+86 10 1234 5678",
            "email": "support@acme.example"
        },
        "currency": "CNY",
        "enum_attributes": [
            {"name": "edition", "values": ["basic", "pro"]},
            {"name": "region", "values": ["cn", "eu", "us"]}
        ],
        "quantity": {"name": "users", "unit": "user", "min": 1, "max": 100, "wire_field": "amount"},
        "prices": [
            {"billing_mode": "monthly", "amount_minor": 1000},
            {"sku": {"edition": "pro"}, "billing_mode": "yearly", "amount_minor": 100000},
            {"billing_mode": "trial", "trial_days": 7}
        ],
        "integration": {
            "protocol": "v2",
            "production_url": "https://isv.acme.example/produce",
            "key": SELLER_KEY,
            "buyer_fields": ["user_id", "email"]
        }
    })
}

async fn patch(app: &TestApp, path: &str, key: &str, body: Value) -> Reply {
    app.send(app.http.patch(app.url(path)).bearer_auth(key).json(&body))
        .await
}

async fn put(app: &TestApp, path: &str, key: &str, body: Value) -> Reply {
    app.send(app.http.put(app.url(path)).bearer_auth(key).json(&body))
        .await
}

async fn create(app: &TestApp, key: &str, body: Value) -> Value {
    let r = app.post("/v1/products", key, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

async fn act(app: &TestApp, id: &str, action: &str, key: &str) -> Value {
    let r = app
        .post(&format!("/v1/products/{id}/{action}"), key, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    r.body
}

/// Creates, submits and approves a product: returns it as listed.
async fn listed(app: &TestApp, seller_key: &str, body: Value) -> Value {
    let p = create(app, seller_key, body).await;
    let id = p["id"].as_str().unwrap();
    act(app, id, "submit", seller_key).await;
    act(app, id, "approve", &app.operator_key).await
}

fn sku_with<'a>(product: &'a Value, edition: &str, region: &str) -> &'a Value {
    product["skus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["edition"] == edition && s["attributes"]["region"] == region)
        .unwrap_or_else(|| panic!("no SKU {edition}/{region} in {product}"))
}

fn price_of(sku: &Value, mode: &str) -> i64 {
    sku["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["billing_mode"] == mode)
        .unwrap_or_else(|| panic!("no {mode} price in {sku}"))["unit_price"]["amount_minor"]
        .as_i64()
        .unwrap()
}

fn actions(audit: &Reply) -> Vec<String> {
    audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

backend_test!(
    a_product_goes_from_draft_to_listed_and_every_step_is_audited,
    |app: TestApp| async move {
        let (seller, seller_key) = app.party("sellers", "Acme").await;
        let (_, buyer_key) = app.party("buyers", "Bob").await;
        let p = create(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("prd_"));
        assert_eq!(p["status"], "draft");
        assert_eq!(p["seller_id"], seller.as_str());
        assert_eq!(p["skus"].as_array().unwrap().len(), 6);
        assert_eq!(p["integration"]["key_set"], true);
        assert_eq!(p["integration"]["pii_encrypt_bits"], 256);

        // Drafts are invisible to buyers, and not purchasable.
        app.get(&format!("/v1/products/{id}"), &buyer_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let sku_id = sku_with(&p, "pro", "eu")["id"].as_str().unwrap().to_owned();
        assert!(sku_id.starts_with("sku_"));
        assert!(app
            .state
            .store
            .purchasable_sku(&sku_id)
            .await
            .unwrap()
            .is_none());

        let submitted = act(&app, &id, "submit", &seller_key).await;
        assert_eq!(submitted["status"], "submitted");
        let reviews = app.get("/v1/reviews", &app.operator_key).await;
        assert_eq!(reviews.status, StatusCode::OK);
        assert_eq!(reviews.body["data"][0]["product_id"], id.as_str());
        assert!(reviews.body["data"][0]["revision_id"].is_null());
        // Not yet on sale while under review.
        assert!(app
            .state
            .store
            .purchasable_sku(&sku_id)
            .await
            .unwrap()
            .is_none());

        let approved = act(&app, &id, "approve", &app.operator_key).await;
        assert_eq!(approved["status"], "listed");
        assert!(approved["first_listed_at"].is_string());
        assert!(app.get("/v1/reviews", &app.operator_key).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty());

        // The buyer sees the public view: SKUs and prices, no integration profile.
        let seen = app.get(&format!("/v1/products/{id}"), &buyer_key).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        assert!(seen.body.get("integration").is_none(), "{}", seen.text);
        assert!(!seen.text.contains("isv.acme.example"));
        assert_eq!(
            price_of(sku_with(&seen.body, "pro", "eu"), "yearly"),
            100000
        );
        let list = app.get("/v1/products", &buyer_key).await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

        // What the order engine reads.
        let sku = app
            .state
            .store
            .purchasable_sku(&sku_id)
            .await
            .unwrap()
            .expect("listed SKU is purchasable");
        assert_eq!(sku.product_id, id);
        assert_eq!(sku.product_name, "Acme Monitor");
        assert_eq!(sku.seller_id.as_str(), seller);
        assert_eq!(sku.delivery_type, DeliveryType::Saas);
        assert_eq!(sku.attributes, json!({"edition": "pro", "region": "eu"}));
        assert_eq!(sku.quantity.as_ref().unwrap().max, 100);
        assert_eq!(sku.license_mode, None);
        let modes: Vec<BillingMode> = sku.prices.iter().map(|p| p.billing_mode).collect();
        assert_eq!(
            modes,
            vec![
                BillingMode::Monthly,
                BillingMode::Yearly,
                BillingMode::Trial
            ]
        );
        assert_eq!(sku.prices[0].unit_price.amount_minor, 1000);
        assert_eq!(sku.prices[0].unit_price.currency.as_str(), "CNY");
        assert_eq!(sku.prices[2].trial_days, Some(7));
        assert_eq!(sku.prices[2].unit_price.amount_minor, 0);
        let profile = app
            .state
            .store
            .integration_profile(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(profile.production_url, "https://isv.acme.example/produce");
        assert_eq!(profile.pii_encrypt_bits, 256);

        let audit = app
            .get(&format!("/v1/products/{id}/audit"), &seller_key)
            .await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
        assert_eq!(
            actions(&audit),
            ["product.created", "product.submitted", "product.approved"]
        );
        let events = audit.body["data"].as_array().unwrap();
        assert_eq!(events[0]["actor_id"], seller.as_str());
        assert_ne!(
            events[2]["actor_id"],
            seller.as_str(),
            "approved by the operator"
        );
        assert!(events.iter().all(|e| e["at"].is_string()));
        assert_eq!(events[2]["detail"]["from"], "submitted");
        assert_eq!(events[2]["detail"]["to"], "listed");

        let doc = app.send(app.http.get(app.url("/v1/openapi.json"))).await;
        for path in [
            "/v1/products",
            "/v1/products/{id}",
            "/v1/products/{id}/integration",
            "/v1/products/{id}/skus/{sku_id}/delist",
            "/v1/reviews",
            "/v1/revisions/{id}/approve",
        ] {
            assert!(doc.body["paths"][path].is_object(), "{path} missing");
        }
    }
);

backend_test!(
    a_rejected_product_is_fixed_and_resubmitted,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let p = create(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        act(&app, id, "submit", &seller_key).await;
        let r = app
            .post(
                &format!("/v1/products/{id}/reject"),
                &app.operator_key,
                json!({"reason": "The service agreement must name the availability credits."}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "rejected");
        assert!(r.body["rejection_reason"]
            .as_str()
            .unwrap()
            .contains("availability credits"));
        // Rejecting again is not a valid move.
        app.post(
            &format!("/v1/products/{id}/reject"),
            &app.operator_key,
            json!({"reason": "again"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "invalid_transition");

        let fixed = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"service_agreement": {
                "content": "Hosted monitoring, 99.9% availability, 10% credit per missed hour",
                "hours": "24/7", "phone": "+86 10 1234 5678", "email": "support@acme.example"
            }}),
        )
        .await;
        assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
        assert_eq!(fixed.body["status"], "rejected");
        assert_eq!(fixed.body["service_agreement"]["hours"], "24/7");
        assert_eq!(
            fixed.body["skus"], p["skus"],
            "an edit that does not touch attributes keeps the SKUs"
        );

        let again = act(&app, id, "submit", &seller_key).await;
        assert_eq!(again["status"], "submitted");
        assert!(again.get("rejection_reason").is_none());
        let listed = act(&app, id, "approve", &app.operator_key).await;
        assert_eq!(listed["status"], "listed");

        let audit = app
            .get(&format!("/v1/products/{id}/audit"), &app.operator_key)
            .await;
        assert_eq!(
            actions(&audit),
            [
                "product.created",
                "product.submitted",
                "product.rejected",
                "product.edited",
                "product.submitted",
                "product.approved"
            ]
        );
        assert!(audit.body["data"][2]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("availability credits"));
    }
);

backend_test!(
    editing_a_listed_product_makes_a_revision_and_the_listed_one_stays_on_sale,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let (_, buyer_key) = app.party("buyers", "Bob").await;
        let p = listed(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        let sku_id = sku_with(&p, "basic", "cn")["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut prices = saas_body()["prices"].clone();
        prices[0]["amount_minor"] = json!(1500);
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({
                "description": "Watches your servers, now with alerts.",
                "enum_attributes": [
                    {"name": "edition", "values": ["basic", "pro", "enterprise"]},
                    {"name": "region", "values": ["cn", "eu", "us"]}
                ],
                "prices": prices
            }),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "listed");
        assert_eq!(r.body["description"], "Watches your servers.");
        assert_eq!(r.body["skus"].as_array().unwrap().len(), 6);
        let revision = r.body["pending_revision"].clone();
        let rev_id = revision["id"].as_str().unwrap().to_owned();
        assert!(rev_id.starts_with("rev_"));
        assert_eq!(revision["status"], "submitted");
        assert_eq!(
            revision["proposed"]["description"],
            "Watches your servers, now with alerts."
        );

        // The listed version stays on sale at the old price, for buyers and the order engine.
        let sku = app
            .state
            .store
            .purchasable_sku(&sku_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sku.prices[0].unit_price.amount_minor, 1000);
        let seen = app.get(&format!("/v1/products/{id}"), &buyer_key).await;
        assert!(seen.body.get("pending_revision").is_none());
        assert_eq!(
            price_of(sku_with(&seen.body, "basic", "cn"), "monthly"),
            1000
        );

        // One revision at a time.
        patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"name": "Acme Monitor 2"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "revision_pending");

        let reviews = app.get("/v1/reviews", &app.operator_key).await;
        assert_eq!(reviews.body["data"][0]["revision_id"], rev_id.as_str());
        let rev = app
            .get(&format!("/v1/revisions/{rev_id}"), &seller_key)
            .await;
        assert_eq!(rev.status, StatusCode::OK, "{}", rev.text);

        // Approval swaps the content in: new price, new SKUs, old SKU ids and codes unchanged.
        let approved = app
            .post(
                &format!("/v1/revisions/{rev_id}/approve"),
                &app.operator_key,
                json!({}),
            )
            .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let after = approved.body;
        assert_eq!(after["status"], "listed");
        assert_eq!(
            after["description"],
            "Watches your servers, now with alerts."
        );
        assert!(after.get("pending_revision").is_none());
        assert_eq!(after["skus"].as_array().unwrap().len(), 9);
        for s in p["skus"].as_array().unwrap() {
            let e = s["attributes"]["edition"].as_str().unwrap();
            let reg = s["attributes"]["region"].as_str().unwrap();
            let now = sku_with(&after, e, reg);
            assert_eq!(now["id"], s["id"]);
            assert_eq!(now["sku_code"], s["sku_code"]);
        }
        let sku = app
            .state
            .store
            .purchasable_sku(&sku_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sku.prices[0].unit_price.amount_minor, 1500);
        let new_sku = sku_with(&after, "enterprise", "us")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(app
            .state
            .store
            .purchasable_sku(&new_sku)
            .await
            .unwrap()
            .is_some());

        // Approving twice is refused.
        app.post(
            &format!("/v1/revisions/{rev_id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "invalid_transition");

        // A rejected revision leaves the listed content alone.
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"name": "Acme Monitor Ultra"}),
        )
        .await;
        let rev2 = r.body["pending_revision"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let rejected = app
            .post(
                &format!("/v1/revisions/{rev2}/reject"),
                &app.operator_key,
                json!({"reason": "Misleading name"}),
            )
            .await;
        assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
        assert_eq!(rejected.body["status"], "rejected");
        assert_eq!(rejected.body["reason"], "Misleading name");
        let now = app.get(&format!("/v1/products/{id}"), &seller_key).await;
        assert_eq!(now.body["name"], "Acme Monitor");
        assert!(now.body.get("pending_revision").is_none());

        let audit = app
            .get(&format!("/v1/products/{id}/audit"), &seller_key)
            .await;
        assert_eq!(
            actions(&audit)[3..],
            [
                "revision.submitted",
                "revision.approved",
                "revision.submitted",
                "revision.rejected"
            ]
        );
    }
);

backend_test!(
    a_listed_sku_is_never_deleted_only_delisted,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let (_, buyer_key) = app.party("buyers", "Bob").await;
        let p = listed(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        let gone = sku_with(&p, "basic", "us")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let kept = sku_with(&p, "pro", "us")["id"].as_str().unwrap().to_owned();

        // Removing a value would delete SKUs: refused.
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"enum_attributes": [
                {"name": "edition", "values": ["basic", "pro"]},
                {"name": "region", "values": ["cn", "eu"]}
            ]}),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(
            r.body["error"]["details"]["field"],
            "enum_attributes[1].values"
        );
        // So is dropping a billing mode that is on sale.
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"prices": [{"billing_mode": "monthly", "amount_minor": 1000},
                              {"billing_mode": "trial", "trial_days": 7}]}),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");

        let path = format!("/v1/products/{id}/skus/{gone}/delist");
        let r = app.post(&path, &seller_key, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "delisted");
        assert!(app
            .state
            .store
            .purchasable_sku(&gone)
            .await
            .unwrap()
            .is_none());
        assert!(app
            .state
            .store
            .purchasable_sku(&kept)
            .await
            .unwrap()
            .is_some());
        // Twice is harmless.
        let again = app.post(&path, &seller_key, json!({})).await;
        assert_eq!(again.status, StatusCode::OK);
        // Buyers can't delist, and no longer see the SKU; the seller still does.
        app.post(
            &format!("/v1/products/{id}/skus/{kept}/delist"),
            &buyer_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        let seen = app.get(&format!("/v1/products/{id}"), &buyer_key).await;
        assert_eq!(seen.body["skus"].as_array().unwrap().len(), 5);
        let own = app.get(&format!("/v1/products/{id}"), &seller_key).await;
        assert_eq!(own.body["skus"].as_array().unwrap().len(), 6);
        assert_eq!(sku_with(&own.body, "basic", "us")["status"], "delisted");

        // Delisting the product stops every SKU; the SKUs are still there.
        let d = act(&app, id, "delist", &seller_key).await;
        assert_eq!(d["status"], "delisted");
        assert_eq!(d["skus"].as_array().unwrap().len(), 6);
        assert!(app
            .state
            .store
            .purchasable_sku(&kept)
            .await
            .unwrap()
            .is_none());
        app.get(&format!("/v1/products/{id}"), &buyer_key)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        // A delisted product that comes back through review keeps its SKU ids, and the
        // individually delisted SKU stays off sale.
        act(&app, id, "submit", &seller_key).await;
        act(&app, id, "approve", &app.operator_key).await;
        assert!(app
            .state
            .store
            .purchasable_sku(&kept)
            .await
            .unwrap()
            .is_some());
        assert!(app
            .state
            .store
            .purchasable_sku(&gone)
            .await
            .unwrap()
            .is_none());

        let audit = app
            .get(&format!("/v1/products/{id}/audit"), &seller_key)
            .await;
        let acts = actions(&audit);
        assert_eq!(acts.iter().filter(|a| *a == "sku.delisted").count(), 1);
        assert!(acts.contains(&"product.delisted".to_owned()));
    }
);

backend_test!(
    skus_are_the_product_of_the_enum_attributes_with_stable_codes,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let p = create(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        let skus = p["skus"].as_array().unwrap();
        assert_eq!(skus.len(), 2 * 3);
        let order: Vec<(String, String)> = skus
            .iter()
            .map(|s| {
                (
                    s["attributes"]["edition"].as_str().unwrap().to_owned(),
                    s["attributes"]["region"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(order[0], ("basic".into(), "cn".into()));
        assert_eq!(order[1], ("basic".into(), "eu".into()));
        assert_eq!(order[3], ("pro".into(), "cn".into()));
        let codes: BTreeSet<&str> = skus
            .iter()
            .map(|s| s["sku_code"].as_str().unwrap())
            .collect();
        assert_eq!(codes.len(), 6);
        assert!(codes
            .iter()
            .all(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit())));
        // Each SKU × billing mode has its own wire product id.
        let pro = sku_with(&p, "pro", "cn");
        let wire: BTreeSet<&str> = pro["prices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["wire_product_id"].as_str().unwrap())
            .collect();
        assert_eq!(wire.len(), 3);
        assert_eq!(price_of(sku_with(&p, "basic", "cn"), "monthly"), 1000);
        assert!(sku_with(&p, "basic", "cn")["prices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["billing_mode"] != "yearly"));

        // Editing a draft: same combinations keep their ids and codes; new ones are added,
        // dropped ones disappear (a draft was never on sale).
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"enum_attributes": [
                {"name": "edition", "values": ["basic", "pro", "enterprise"]},
                {"name": "region", "values": ["cn", "eu"]}
            ]}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["skus"].as_array().unwrap().len(), 6);
        assert_eq!(
            sku_with(&r.body, "pro", "eu")["id"],
            sku_with(&p, "pro", "eu")["id"]
        );
        assert_eq!(
            sku_with(&r.body, "pro", "eu")["sku_code"],
            sku_with(&p, "pro", "eu")["sku_code"]
        );
        assert!(r.body["skus"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["attributes"]["region"] != "us"));

        // No enum attributes: exactly one SKU.
        let mut body = saas_body();
        body["enum_attributes"] = json!([]);
        body["prices"] = json!([{"billing_mode": "one_time", "amount_minor": 500}]);
        let single = create(&app, &seller_key, body).await;
        assert_eq!(single["skus"].as_array().unwrap().len(), 1);
        assert_eq!(single["skus"][0]["attributes"], json!({}));
    }
);

backend_test!(
    the_seller_key_is_write_only_and_sealed_at_rest,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let r = app.post("/v1/products", &seller_key, saas_body()).await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert!(!r.text.contains(SELLER_KEY));
        let id = r.body["id"].as_str().unwrap().to_owned();
        let got = app.get(&format!("/v1/products/{id}"), &seller_key).await;
        assert!(!got.text.contains(SELLER_KEY));
        assert_eq!(got.body["integration"]["key_set"], true);

        let sealed = app
            .state
            .store
            .integration_profile(&id)
            .await
            .unwrap()
            .unwrap()
            .seller_key_sealed;
        assert!(!sealed.contains(SELLER_KEY));
        let ctx = seller_key_context(&id);
        assert_eq!(
            app.state.master_key.open(&ctx, &sealed).unwrap(),
            SELLER_KEY
        );
        assert!(app
            .state
            .master_key
            .open("seller_key:prd_other", &sealed)
            .is_err());

        // Changing the URL without a key keeps the key; effective at once, no review.
        let r = put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &seller_key,
            json!({"protocol": "v1", "production_url": "https://isv2.acme.example/produce",
                   "pii_encrypt_bits": 128}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["key_set"], true);
        assert_eq!(r.body["protocol"], "v1");
        let profile = app
            .state
            .store
            .integration_profile(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(profile.production_url, "https://isv2.acme.example/produce");
        assert_eq!(profile.pii_encrypt_bits, 128);
        assert!(profile.buyer_fields.is_empty());
        assert_eq!(
            app.state
                .master_key
                .open(&ctx, &profile.seller_key_sealed)
                .unwrap(),
            SELLER_KEY
        );

        // A new key replaces the old one.
        let r = put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &seller_key,
            json!({"protocol": "v2", "production_url": "https://isv2.acme.example/produce",
                   "key": "a-brand-new-key"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!r.text.contains("a-brand-new-key"));
        let profile = app
            .state
            .store
            .integration_profile(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            app.state
                .master_key
                .open(&ctx, &profile.seller_key_sealed)
                .unwrap(),
            "a-brand-new-key"
        );

        // The audit trail says the key changed, never what it is.
        let audit = app
            .get(&format!("/v1/products/{id}/audit"), &seller_key)
            .await;
        assert!(!audit.text.contains(SELLER_KEY) && !audit.text.contains("a-brand-new-key"));
        assert_eq!(
            actions(&audit),
            [
                "product.created",
                "integration.updated",
                "integration.updated"
            ]
        );
        assert_eq!(audit.body["data"][1]["detail"]["key_changed"], false);
        assert_eq!(audit.body["data"][2]["detail"]["key_changed"], true);
    }
);

backend_test!(
    a_license_product_carries_its_license_mode_to_the_order_engine,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        let mut body = saas_body();
        body["delivery_type"] = json!("license");
        body["quantity"] = Value::Null;
        body["prices"] = json!([
            {"billing_mode": "one_time", "amount_minor": 50000},
            {"billing_mode": "yearly", "amount_minor": 20000}
        ]);
        body["integration"]["license_mode"] = json!("souk_codes");
        let p = listed(&app, &seller_key, body).await;
        assert_eq!(p["integration"]["license_mode"], "souk_codes");
        let sku_id = p["skus"][0]["id"].as_str().unwrap();
        let sku = app
            .state
            .store
            .purchasable_sku(sku_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sku.delivery_type, DeliveryType::License);
        assert_eq!(sku.license_mode, Some(LicenseMode::SoukCodes));
        assert!(sku.quantity.is_none());

        // On-demand is not a License billing mode.
        let mut body = saas_body();
        body["delivery_type"] = json!("license");
        body["prices"] = json!([{"billing_mode": "on_demand", "amount_minor": 1}]);
        let r = app.post("/v1/products", &seller_key, body).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(
            r.body["error"]["details"]["field"],
            "prices[0].billing_mode"
        );
    }
);

backend_test!(
    private_endpoints_are_refused_unless_the_operator_allows_them,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        // A second server on the same database, configured as production is by default.
        let mut state = app.state.clone();
        let mut config = (*state.config).clone();
        config.allow_private_endpoints = false;
        config.sandbox = false;
        state.config = Arc::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let strict = souk_server::App {
            state,
            new_operator_key: None,
        };
        let server = tokio::spawn(strict.serve(listener, async move {
            let _ = stopped.await;
        }));

        for url in [
            "http://127.0.0.1/produce",
            "http://localhost:8080/produce",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let mut body = saas_body();
            body["integration"]["production_url"] = json!(url);
            let r = app
                .send(
                    app.http
                        .post(format!("{base}/v1/products"))
                        .bearer_auth(&seller_key)
                        .json(&body),
                )
                .await;
            r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
            assert_eq!(
                r.body["error"]["details"]["field"],
                "integration.production_url"
            );
        }
        // Saving the URL later is checked the same way.
        let p = create(&app, &seller_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        let r = app
            .send(
                app.http
                    .put(format!("{base}/v1/products/{id}/integration"))
                    .bearer_auth(&seller_key)
                    .json(&json!({"protocol": "v2", "production_url": "http://127.0.0.1:9/x"})),
            )
            .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let profile = app
            .state
            .store
            .integration_profile(id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(profile.production_url, "https://isv.acme.example/produce");

        // The test server allows private endpoints (its sellers run on loopback).
        let r = put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &seller_key,
            json!({"protocol": "v2", "production_url": "http://127.0.0.1:9/x"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
);

backend_test!(
    tenants_cannot_see_or_touch_each_others_products,
    |app: TestApp| async move {
        let (_, a_key) = app.party("sellers", "Seller A").await;
        let (_, b_key) = app.party("sellers", "Seller B").await;
        let (_, buyer_key) = app.party("buyers", "Bob").await;
        let p = create(&app, &a_key, saas_body()).await;
        let id = p["id"].as_str().unwrap();
        let sku = p["skus"][0]["id"].as_str().unwrap();

        let nf = |r: Reply| r.assert_error(StatusCode::NOT_FOUND, "not_found");
        nf(app.get(&format!("/v1/products/{id}"), &b_key).await);
        nf(patch(
            &app,
            &format!("/v1/products/{id}"),
            &b_key,
            json!({"name": "Mine"}),
        )
        .await);
        nf(app
            .post(&format!("/v1/products/{id}/submit"), &b_key, json!({}))
            .await);
        nf(app
            .post(&format!("/v1/products/{id}/delist"), &b_key, json!({}))
            .await);
        nf(put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &b_key,
            json!({"protocol": "v2", "production_url": "https://evil.example/x", "key": "k"}),
        )
        .await);
        nf(app
            .post(
                &format!("/v1/products/{id}/skus/{sku}/delist"),
                &b_key,
                json!({}),
            )
            .await);
        nf(app.get(&format!("/v1/products/{id}/audit"), &b_key).await);
        assert!(app.get("/v1/products", &b_key).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty());
        // Malformed and wrong-kind ids are the same 404.
        nf(app.get("/v1/products/prd_nope", &a_key).await);
        nf(app.get(&format!("/v1/products/{sku}"), &a_key).await);

        // Buyers: drafts do not exist for them; review is the operator's.
        nf(app.get(&format!("/v1/products/{id}"), &buyer_key).await);
        assert!(app.get("/v1/products", &buyer_key).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty());
        app.post("/v1/products", &buyer_key, saas_body())
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        act(&app, id, "submit", &a_key).await;
        for action in ["approve", "reject"] {
            app.post(
                &format!("/v1/products/{id}/{action}"),
                &buyer_key,
                json!({"reason": "x"}),
            )
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
            app.post(
                &format!("/v1/products/{id}/{action}"),
                &a_key,
                json!({"reason": "x"}),
            )
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        app.get("/v1/reviews", &a_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        act(&app, id, "approve", &app.operator_key).await;

        // Listed: buyers see it but cannot change it or read its history; seller B still can't.
        assert_eq!(
            app.get(&format!("/v1/products/{id}"), &buyer_key)
                .await
                .status,
            StatusCode::OK
        );
        patch(
            &app,
            &format!("/v1/products/{id}"),
            &buyer_key,
            json!({"name": "x"}),
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.post(&format!("/v1/products/{id}/delist"), &buyer_key, json!({}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        app.get(&format!("/v1/products/{id}/audit"), &buyer_key)
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        nf(app.get(&format!("/v1/products/{id}"), &b_key).await);

        // Revisions are the seller's and the operator's.
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &a_key,
            json!({"name": "A2"}),
        )
        .await;
        let rev = r.body["pending_revision"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        nf(app.get(&format!("/v1/revisions/{rev}"), &b_key).await);
        nf(app.get(&format!("/v1/revisions/{rev}"), &buyer_key).await);
        app.post(&format!("/v1/revisions/{rev}/approve"), &a_key, json!({}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
);

backend_test!(
    bad_product_input_gets_the_right_codes_and_creates_nothing,
    |app: TestApp| async move {
        let (_, seller_key) = app.party("sellers", "Acme").await;
        type Mutate = fn(&mut Value);
        let cases: Vec<(Mutate, StatusCode, &str, Option<&str>)> = vec![
            (
                |b| b["delivery_type"] = json!("teleport"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
            (
                |b| b["prices"][0]["amount_minor"] = json!(-1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("prices[0].amount_minor"),
            ),
            (
                |b| b["currency"] = json!("yuan"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("currency"),
            ),
            (
                |b| b["prices"][2]["trial_days"] = json!(1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("prices[2].trial_days"),
            ),
            (
                |b| {
                    b["enum_attributes"] = json!((0..6)
                        .map(|i| json!({"name": format!("a{i}"), "values": ["x"]}))
                        .collect::<Vec<_>>());
                    b["prices"] = json!([{"billing_mode": "monthly", "amount_minor": 1}]);
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("enum_attributes"),
            ),
            (
                |b| {
                    b["service_agreement"]
                        .as_object_mut()
                        .unwrap()
                        .remove("phone");
                },
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
            (
                |b| b["service_agreement"]["phone"] = json!(" "),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("service_agreement.phone"),
            ),
            (
                |b| b["service_agreement"]["email"] = json!("support"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("service_agreement.email"),
            ),
            (
                |b| b["colour"] = json!("red"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
            (
                |b| b["prices"][0]["billing_mode"] = json!("weekly"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
            (
                |b| b["integration"]["pii_encrypt_bits"] = json!(192),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("integration.pii_encrypt_bits"),
            ),
            (
                |b| b["integration"]["key"] = json!(""),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("integration.key"),
            ),
            (
                |b| b["integration"]["production_url"] = json!("ftp://isv.acme.example/"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("integration.production_url"),
            ),
            (
                |b| b["integration"]["buyer_fields"] = json!(["password"]),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
            (
                |b| b["prices"][1]["sku"] = json!({"edition": "gold"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("prices[1].sku"),
            ),
            (
                |b| b["quantity"]["wire_field"] = json!("cpu"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                None,
            ),
        ];
        for (mutate, status, code, field) in cases {
            let mut body = saas_body();
            mutate(&mut body);
            let r = app.post("/v1/products", &seller_key, body).await;
            r.assert_error(status, code);
            if let Some(field) = field {
                assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.text);
            }
        }
        assert!(app.get("/v1/products", &seller_key).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty());

        // Workflow misuse.
        let mut body = saas_body();
        body.as_object_mut().unwrap().remove("integration");
        let p = create(&app, &seller_key, body).await;
        let id = p["id"].as_str().unwrap();
        app.post(&format!("/v1/products/{id}/submit"), &seller_key, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "integration_required");
        app.post(
            &format!("/v1/products/{id}/approve"),
            &app.operator_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "invalid_transition");
        app.post(&format!("/v1/products/{id}/delist"), &seller_key, json!({}))
            .await
            .assert_error(StatusCode::CONFLICT, "invalid_transition");
        let r = put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &seller_key,
            json!({"protocol": "v2", "production_url": "https://isv.acme.example/p"}),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(r.body["error"]["details"]["field"], "integration.key");
        patch(&app, &format!("/v1/products/{id}"), &seller_key, json!({}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        let r = patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"prices": [{"billing_mode": "trial", "trial_days": 200}]}),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        put(
            &app,
            &format!("/v1/products/{id}/integration"),
            &seller_key,
            json!({"protocol": "v2", "production_url": "https://isv.acme.example/p", "key": "k"}),
        )
        .await;
        act(&app, id, "submit", &seller_key).await;
        patch(
            &app,
            &format!("/v1/products/{id}"),
            &seller_key,
            json!({"name": "x"}),
        )
        .await
        .assert_error(StatusCode::CONFLICT, "invalid_transition");
        app.post(
            &format!("/v1/products/{id}/reject"),
            &app.operator_key,
            json!({"reason": "  "}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        app.post(
            &format!("/v1/products/{id}/reject"),
            &app.operator_key,
            json!({}),
        )
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        // Nothing above changed the product.
        let now = app.get(&format!("/v1/products/{id}"), &seller_key).await;
        assert_eq!(now.body["status"], "submitted");
        assert_eq!(now.body["name"], "Acme Monitor");
    }
);
