//! Usage packages (套餐包) through real HTTP on both backends, with the example seller: the
//! §6.4 drawing order with the rest rated on demand, a package bundling two billing items,
//! monthly reset against non-reset across a reset, stop-when-exhausted reaching the seller,
//! and the quota alerts in the buyer's message centre.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::metering::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use souk_core::clock::Clock;
use souk_isv::example::InstanceStatus;
use souk_protocol::usage::PATH;
use time::Duration;

/// On-demand prices per unit, in fen.
const SMS: i64 = 250;
const MMS: i64 = 400;

/// A product sold per SMS and per MMS on demand, with package SKUs `sms` (package of SMS) and
/// `bundle` (SMS + MMS); the buyer holds an open on-demand instance of each item.
pub(crate) struct PackageMarket {
    pub(crate) m: Market,
    /// SKU ids by item name.
    sku: std::collections::HashMap<String, String>,
    pub(crate) sms_instance: String,
    mms_instance: String,
}

impl PackageMarket {
    pub(crate) fn sku(&self, item: &str) -> &str {
        &self.sku[item]
    }

    /// Sets the product's package definitions (a closure gets the SKU ids).
    pub(crate) async fn define(&self, app: &TestApp, packages: Value) {
        let r = app
            .send(
                app.http
                    .put(app.url(&format!(
                        "/v1/products/{}/usage-packages",
                        self.m.product_id
                    )))
                    .bearer_auth(&self.m.seller_key)
                    .json(&json!({ "packages": packages })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    /// Buys a package SKU; returns the package instance once it is open and recorded.
    async fn buy_package(&self, app: &TestApp, item: &str, periods: Option<u32>) -> Value {
        let mut body = json!({"sku_id": self.sku(item), "billing_mode": "package"});
        if let Some(p) = periods {
            body["periods"] = json!(p);
        }
        let paid = self.m.buy(app, body).await;
        let id = paid["instance_id"].as_str().unwrap().to_owned();
        self.m.wait_instance(app, &id, "active").await
    }

    async fn quotas(&self, app: &TestApp, instance: &str) -> Vec<Value> {
        let r = app
            .get(
                &format!("/v1/instances/{instance}/package-quotas"),
                &self.m.buyer_key,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["data"].as_array().unwrap().clone()
    }

    /// Pushes `units` on `instance` (naming `package` if given) over the last half hour, then
    /// runs the collection of that hour.
    pub(crate) async fn use_units(
        &self,
        app: &TestApp,
        instance: &str,
        sn: &str,
        units: &str,
        package: Option<&str>,
    ) -> Value {
        let mut r = record(instance, sn, app.clock.now() - Duration::minutes(30), units);
        if let Some(p) = package {
            r["relate_pkg_instance"] = json!(p);
        }
        let pushed = push_signed(app, PATH, &[r]).await;
        advance(app, Duration::hours(2)).await;
        pushed.body
    }

    async fn message_kinds(&self, app: &TestApp) -> Vec<String> {
        let r = app.get("/v1/messages?limit=200", &self.m.buyer_key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap_or_default().to_owned())
            .filter(|k| k.starts_with("package_"))
            .collect()
    }
}

pub(crate) async fn package_market(app: &TestApp, proto: Proto) -> PackageMarket {
    package_market_with(app, proto, Value::Null).await
}

/// [`package_market`] whose SKUs have the quantity attribute `quantity` (JSON, or null).
pub(crate) async fn package_market_with(
    app: &TestApp,
    proto: Proto,
    quantity: Value,
) -> PackageMarket {
    let ex = example_seller(app, |_| {}).await;
    let (seller_id, seller_key) = app.party("sellers", "Acme Messaging").await;
    let (buyer_id, buyer_key) = app.party("buyers", "Buyer Ltd").await;
    let url = format!("{}/produce", ex.url().trim_end_matches('/'));
    let mut body = product_body("Acme SMS", proto, &url);
    body["enum_attributes"] = json!([{"name": "item", "values": ["sms", "mms", "bundle"]}]);
    body["quantity"] = quantity;
    body["prices"] = json!([
        {"sku": {"item": "sms"}, "billing_mode": "on_demand", "amount_minor": SMS},
        {"sku": {"item": "mms"}, "billing_mode": "on_demand", "amount_minor": MMS},
        {"sku": {"item": "sms"}, "billing_mode": "package", "amount_minor": 5000},
        {"sku": {"item": "bundle"}, "billing_mode": "package", "amount_minor": 8000}
    ]);
    let approved = list_product(app, &seller_key, body).await;
    let product_id = approved["id"].as_str().unwrap().to_owned();
    let sku = approved["skus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["attributes"]["item"].as_str().unwrap().to_owned(),
                s["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<std::collections::HashMap<_, _>>();
    top_up(app, &buyer_id, 1_000_000).await;
    let m = Market {
        seller_id,
        seller_key,
        buyer_id,
        buyer_key,
        product_id,
        basic: sku["sms"].clone(),
        pro: sku["mms"].clone(),
        example: ex,
    };
    let mut open = Vec::new();
    for item in ["sms", "mms"] {
        let paid = m
            .buy(
                app,
                json!({"sku_id": sku[item], "billing_mode": "on_demand"}),
            )
            .await;
        let id = paid["instance_id"].as_str().unwrap().to_owned();
        m.wait_instance(app, &id, "active").await;
        open.push(id);
    }
    PackageMarket {
        m,
        sku,
        sms_instance: open[0].clone(),
        mms_instance: open[1].clone(),
    }
}

fn remaining_of(quotas: &[Value], package: &str, sku: &str) -> String {
    quotas
        .iter()
        .find(|q| q["package_id"] == package && q["sku_id"] == sku)
        .unwrap_or_else(|| panic!("no quota of {sku} in {package}: {quotas:?}"))["remaining"]
        .as_str()
        .unwrap()
        .to_owned()
}

backend_test!(
    packages_are_drawn_earliest_expiry_first_and_the_rest_is_rated_on_demand,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V1).await;
        pm.define(
            &app,
            json!([
                {"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "100"}],
                 "reset": "none", "validity_months": 12},
                {"sku_id": pm.sku("bundle"), "items": [
                    {"sku_id": pm.sku("sms"), "quota": "50"},
                    {"sku_id": pm.sku("mms"), "quota": "20"}],
                 "reset": "none", "validity_months": 6}
            ]),
        )
        .await;
        // Bought first but expiring later: drawn second.
        let sms_pkg = pm.buy_package(&app, "sms", None).await;
        let bundle = pm.buy_package(&app, "bundle", None).await;
        let (sms_pkg, bundle) = (
            sms_pkg["id"].as_str().unwrap().to_owned(),
            bundle["id"].as_str().unwrap().to_owned(),
        );
        let paid_for_packages = 1_000_000 - 5000 - 8000;
        assert_eq!(balance(&app, &pm.m).await, paid_for_packages);
        advance(&app, Duration::hours(1)).await;

        // 180 SMS: 50 from the bundle, 100 from the SMS package, 30 on demand.
        pm.use_units(&app, &pm.sms_instance, "sms-1", "180", None)
            .await;
        let c = charges(&app, &pm.m, &pm.sms_instance).await;
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["package_usage"], "150.0000");
        assert_eq!(c[0]["usage"], "30.0000");
        assert_eq!(c[0]["amount"]["amount_minor"], 30 * SMS);
        assert_eq!(balance(&app, &pm.m).await, paid_for_packages - 30 * SMS);
        let q = pm.quotas(&app, &pm.sms_instance).await;
        assert_eq!(remaining_of(&q, &bundle, pm.sku("sms")), "0.0000");
        assert_eq!(remaining_of(&q, &sms_pkg, pm.sku("sms")), "0.0000");
        // The bundle's other item is untouched: the package holds each item's quota apart.
        let q = pm.quotas(&app, &bundle).await;
        assert_eq!(remaining_of(&q, &bundle, pm.sku("mms")), "20.0000");

        // 17 MMS from the bundle: 3 of 20 left (15 % ≤ 20 %): a low-quota alert.
        pm.use_units(&app, &pm.mms_instance, "mms-1", "17", None)
            .await;
        let c = charges(&app, &pm.m, &pm.mms_instance).await;
        assert_eq!(c[0]["package_usage"], "17.0000");
        assert_eq!(c[0]["amount"]["amount_minor"], 0);
        // 5 more: 3 from the bundle (exhausted), 2 on demand.
        pm.use_units(&app, &pm.mms_instance, "mms-2", "5", None)
            .await;
        let c = charges(&app, &pm.m, &pm.mms_instance).await;
        assert_eq!(c[1]["package_usage"], "3.0000");
        assert_eq!(c[1]["amount"]["amount_minor"], 2 * MMS);
        let mut kinds = pm.message_kinds(&app).await;
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "package_quota_exhausted",
                "package_quota_exhausted",
                "package_quota_exhausted",
                "package_quota_low"
            ],
            "SMS: both packages used up in one collection; MMS: low, then used up"
        );
        // The CSV of the charges carries the package share.
        let r = app
            .get(
                &format!("/v1/instances/{}/usage-charges?format=csv", pm.mms_instance),
                &pm.m.buyer_key,
            )
            .await;
        assert!(r
            .text
            .lines()
            .next()
            .unwrap()
            .ends_with("package_usage,excess_usage"));
        assert!(r.text.contains(",17.0000,0.0000"), "{}", r.text);
    }
);

backend_test!(
    a_monthly_reset_package_clears_unused_quota_at_the_reset_and_a_non_reset_one_keeps_it,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V2).await;
        pm.define(
            &app,
            json!([
                {"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "100"}],
                 "reset": "monthly"},
                {"sku_id": pm.sku("bundle"), "items": [{"sku_id": pm.sku("mms"), "quota": "100"}],
                 "reset": "none", "validity_months": 3}
            ]),
        )
        .await;
        // Two monthly periods: twice the price, 100 SMS each month.
        let monthly = pm.buy_package(&app, "sms", Some(2)).await;
        let monthly = monthly["id"].as_str().unwrap().to_owned();
        let non_reset = pm.buy_package(&app, "bundle", None).await;
        let non_reset = non_reset["id"].as_str().unwrap().to_owned();
        assert_eq!(balance(&app, &pm.m).await, 1_000_000 - 2 * 5000 - 8000);
        advance(&app, Duration::hours(1)).await;
        pm.use_units(&app, &pm.sms_instance, "sms-m1", "60", None)
            .await;
        pm.use_units(&app, &pm.mms_instance, "mms-m1", "60", None)
            .await;
        let q = pm.quotas(&app, &monthly).await;
        assert_eq!(remaining_of(&q, &monthly, pm.sku("sms")), "40.0000");

        // Past the reset: the 40 unused SMS are gone, 100 are there again; the non-reset
        // package still has its 40 MMS.
        advance(&app, Duration::days(31)).await;
        let q = pm.quotas(&app, &monthly).await;
        assert_eq!(remaining_of(&q, &monthly, pm.sku("sms")), "100.0000");
        pm.use_units(&app, &pm.sms_instance, "sms-m2", "60", None)
            .await;
        pm.use_units(&app, &pm.mms_instance, "mms-m2", "60", None)
            .await;
        let sms = charges(&app, &pm.m, &pm.sms_instance).await;
        assert_eq!(sms.len(), 2, "{sms:?}");
        assert!(
            sms.iter().all(|c| c["amount"]["amount_minor"] == 0),
            "{sms:?}"
        );
        let mms = charges(&app, &pm.m, &pm.mms_instance).await;
        assert_eq!(mms[1]["package_usage"], "40.0000");
        assert_eq!(mms[1]["amount"]["amount_minor"], 20 * MMS);
        let q = pm.quotas(&app, &monthly).await;
        assert_eq!(remaining_of(&q, &monthly, pm.sku("sms")), "40.0000");

        // After both periods the package has expired: usage is rated on demand.
        advance(&app, Duration::days(31)).await;
        pm.use_units(&app, &pm.sms_instance, "sms-after", "10", None)
            .await;
        let sms = charges(&app, &pm.m, &pm.sms_instance).await;
        assert_eq!(sms.last().unwrap()["amount"]["amount_minor"], 10 * SMS);
        let _ = non_reset;
    }
);

backend_test!(
    a_stop_when_exhausted_package_tells_the_seller_to_stop_at_zero,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V1).await;
        pm.define(
            &app,
            json!([
                {"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "10"}],
                 "reset": "none", "validity_months": 12, "stop_when_exhausted": true}
            ]),
        )
        .await;
        let pkg = pm.buy_package(&app, "sms", None).await;
        let pkg_id = pkg["id"].as_str().unwrap().to_owned();
        let pkg_sid = pkg["seller_instance_id"].as_str().unwrap().to_owned();
        advance(&app, Duration::hours(1)).await;
        // Usage not naming the package is rated on demand: it is drawn only by name.
        pm.use_units(&app, &pm.sms_instance, "plain", "2", None)
            .await;
        let c = charges(&app, &pm.m, &pm.sms_instance).await;
        assert_eq!(c[0]["amount"]["amount_minor"], 2 * SMS);

        pm.use_units(&app, &pm.sms_instance, "named-1", "6", Some(&pkg_id))
            .await;
        assert_eq!(
            pm.m.example.state().instance(&pkg_sid).unwrap().status,
            InstanceStatus::Active
        );
        // 6 more: 4 drawn, 2 past the quota (not billed); the package is used up and the
        // seller is told to stop (instanceStatus FREEZE on the package instance).
        pm.use_units(&app, &pm.sms_instance, "named-2", "6", Some(&pkg_id))
            .await;
        let c = charges(&app, &pm.m, &pm.sms_instance).await;
        let last = c.last().unwrap();
        assert_eq!(last["package_usage"], "4.0000");
        assert_eq!(last["excess_usage"], "2.0000");
        assert_eq!(last["amount"]["amount_minor"], 0);
        pm.m.wait_instance(&app, &pkg_id, "frozen").await;
        assert_eq!(
            pm.m.example.state().instance(&pkg_sid).unwrap().status,
            InstanceStatus::Frozen
        );
        assert_eq!(pm.m.example.state().calls_of("instanceStatus").count(), 1);
        // Records naming the used-up package are refused from now on.
        let late = pm
            .use_units(&app, &pm.sms_instance, "named-3", "1", Some(&pkg_id))
            .await;
        assert_eq!(
            late["abnormal_usage_records"][0]["error_code"], "quota_exhausted",
            "{late}"
        );
        assert!(pm
            .message_kinds(&app)
            .await
            .contains(&"package_quota_exhausted".to_owned()));
    }
);

backend_test!(
    packages_refuse_what_cannot_be_sold_or_named,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V2).await;
        // Not defined yet: cannot be bought.
        let r = app
            .post(
                "/v1/orders",
                &pm.m.buyer_key,
                json!({"sku_id": pm.sku("sms"), "billing_mode": "package"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        // A billing item must be an on-demand SKU; reset packages have no validity_months.
        for bad in [
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("bundle"), "quota": "1"}], "validity_months": 1}]),
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "1"}], "reset": "monthly", "validity_months": 1}]),
            json!([{"sku_id": pm.sku("mms"), "items": [{"sku_id": pm.sku("sms"), "quota": "1"}], "validity_months": 1}]),
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "0"}], "validity_months": 1}]),
        ] {
            let r = app
                .send(
                    app.http
                        .put(app.url(&format!("/v1/products/{}/usage-packages", pm.m.product_id)))
                        .bearer_auth(&pm.m.seller_key)
                        .json(&json!({ "packages": bad })),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bad}: {}",
                r.text
            );
            assert_eq!(r.body["error"]["code"], "invalid_field", "{}", r.text);
        }
        // A yearly package for more than 3 years is refused at order time.
        pm.define(
            &app,
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "5"}], "reset": "yearly"}]),
        )
        .await;
        let r = app
            .post(
                "/v1/orders",
                &pm.m.buyer_key,
                json!({"sku_id": pm.sku("sms"), "billing_mode": "package", "periods": 4}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        // A record naming a package the buyer does not hold is abnormal; the others are kept.
        advance(&app, Duration::hours(1)).await;
        let start = app.clock.now() - Duration::minutes(30);
        let mut named = record(&pm.sms_instance, "named", start, "1");
        named["relate_pkg_instance"] = json!("ins_01JD7W6Q4X3N9R2K5T8V1B0C6M");
        let plain = record(
            &pm.sms_instance,
            "plain",
            start + Duration::minutes(11),
            "1",
        );
        let r = push_signed(&app, PATH, &[named, plain]).await;
        assert_pushed(&r, 1, 0);
        assert_eq!(
            r.body["abnormal_usage_records"][0]["error_code"], "package_not_found",
            "{}",
            r.text
        );
    }
);

backend_test!(
    one_purchase_buys_at_most_thirty_packages,
    |app: TestApp| async move {
        let range =
            json!({"name": "packs", "unit": "pack", "min": 1, "max": 100, "wire_field": "amount"});
        let pm = package_market_with(&app, Proto::V1, range).await;
        pm.define(
            &app,
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "100"}],
                    "reset": "none", "validity_months": 12}]),
        )
        .await;
        let order =
            |n: u32| json!({"sku_id": pm.sku("sms"), "billing_mode": "package", "quantity": n});
        // The SKU allows 100, the package rule 30 (package.max_per_purchase): refused, nothing
        // placed.
        let count = || async {
            app.get("/v1/orders", &pm.m.buyer_key).await.body["data"]
                .as_array()
                .unwrap()
                .len()
        };
        let before = count().await;
        let r = app.post("/v1/orders", &pm.m.buyer_key, order(31)).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
        assert_eq!(
            r.body["error"]["details"]["field"], "quantity",
            "{}",
            r.text
        );
        assert!(r.text.contains("at most 30 packages"), "{}", r.text);
        assert_eq!(count().await, before, "nothing placed");
        // Thirty at once is fine: thirty times the quota.
        let paid = pm.m.buy(&app, order(30)).await;
        let id = paid["instance_id"].as_str().unwrap().to_owned();
        pm.m.wait_instance(&app, &id, "active").await;
        advance(&app, Duration::minutes(1)).await;
        let q = pm.quotas(&app, &id).await;
        assert_eq!(q[0]["quota"], "3000.0000", "{q:?}");
    }
);

backend_test!(
    a_package_is_bought_again_when_used_up_or_expired_if_its_buyer_turned_that_on,
    |app: TestApp| async move {
        let pm = package_market(&app, Proto::V1).await;
        pm.define(
            &app,
            json!([{"sku_id": pm.sku("sms"), "items": [{"sku_id": pm.sku("sms"), "quota": "100"}],
                    "reset": "none", "validity_months": 1}]),
        )
        .await;
        let package_orders = || async {
            let r = app.get("/v1/orders?limit=200", &pm.m.buyer_key).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["term"]["kind"] == "package" && o["state"] != "cancelled")
                .count()
        };
        // Off by default (§6.4): used up, this one is not bought again.
        let plain = pm.buy_package(&app, "sms", None).await;
        assert_eq!(plain["auto_renew"], false, "{plain}");
        advance(&app, Duration::hours(1)).await;
        pm.use_units(&app, &pm.sms_instance, "sms-1", "100", None)
            .await;
        assert_eq!(package_orders().await, 1);
        // Turned on at order time: used up, it is bought again (same SKU, paid from the
        // balance), and auto re-purchase moves to the new package.
        let paid =
            pm.m.buy(
                &app,
                json!({"sku_id": pm.sku("sms"), "billing_mode": "package", "auto_renew": true}),
            )
            .await;
        let first = paid["instance_id"].as_str().unwrap().to_owned();
        pm.m.wait_instance(&app, &first, "active").await;
        advance(&app, Duration::hours(1)).await;
        pm.use_units(&app, &pm.sms_instance, "sms-2", "100", None)
            .await;
        advance(&app, Duration::minutes(1)).await;
        assert_eq!(package_orders().await, 3);
        assert_eq!(pm.m.instance(&app, &first).await["auto_renew"], false);
        assert_eq!(balance(&app, &pm.m).await, 1_000_000 - 3 * 5000);
        let q = pm.quotas(&app, &pm.sms_instance).await;
        assert!(
            q.iter()
                .any(|q| q["package_id"] != first.as_str() && q["remaining"] == "100.0000"),
            "{q:?}"
        );
        // The new package expires unused a month later: bought again once; the used-up ones
        // (auto re-purchase off) are not.
        advance(&app, Duration::days(32)).await;
        assert_eq!(package_orders().await, 4);
        assert_eq!(balance(&app, &pm.m).await, 1_000_000 - 4 * 5000);
    }
);
