//! Daily rating (business rules §6.4 "hourly or daily per product", §7 `usage.collect_daily =
//! 01:00`) and usage summary days, both in the business zone (+08:00), through real HTTP on
//! both backends.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::metering::*;
use reqwest::StatusCode;
use serde_json::json;
use souk_core::clock::Clock;
use souk_core::metering::business_day_start;
use souk_protocol::usage::PATH;
use time::macros::offset;
use time::{Duration, OffsetDateTime};

/// Moves the test clock to just past `at` (the clock only goes forward; it keeps whole
/// milliseconds, so aiming exactly at `at` can land a hair before it).
async fn advance_to(app: &TestApp, at: OffsetDateTime) {
    let by = at + Duration::seconds(1) - app.clock.now();
    assert!(by >= Duration::ZERO, "{at} is in the past");
    advance(app, by).await;
}

backend_test!(
    a_daily_product_is_rated_once_a_business_day_at_one_in_the_morning,
    |app: TestApp| async move {
        let daily = json!({"mode": "fixed", "collection": "daily"});
        let (m, instance, _) = on_demand_priced(&app, Proto::V1, Some(daily)).await;
        let price = app
            .get(
                &format!("/v1/products/{}/usage-price", m.product_id),
                &m.buyer_key,
            )
            .await;
        assert_eq!(price.body["collection"], "daily", "{}", price.text);
        // The next midnight in Shanghai at least two hours away.
        let zone = offset!(+08:00);
        let mut midnight = business_day_start(app.clock.now(), zone) + Duration::DAY;
        if midnight - app.clock.now() < Duration::hours(2) {
            midnight += Duration::DAY;
        }
        advance_to(&app, midnight - Duration::minutes(10)).await;
        let before = record(&instance, "before", midnight - Duration::minutes(25), "2");
        assert_pushed(&push_signed(&app, PATH, &[before]).await, 1, 0);
        // 00:30: an hourly product's hour before midnight would be rated by now.
        advance_to(&app, midnight + Duration::minutes(30)).await;
        assert!(charges(&app, &m, &instance).await.is_empty());
        let after = record(&instance, "after", midnight + Duration::minutes(5), "3");
        assert_pushed(&push_signed(&app, PATH, &[after]).await, 1, 0);
        // 01:00: the day before midnight, in one charge; the new day waits for tomorrow.
        advance_to(&app, midnight + Duration::hours(1)).await;
        let c = charges(&app, &m, &instance).await;
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0]["usage"], "2.0000");
        assert_eq!(c[0]["records"], 1);
        assert_eq!(c[0]["amount"]["amount_minor"], 2 * UNIT);
        advance_to(&app, midnight + Duration::hours(23)).await;
        assert_eq!(charges(&app, &m, &instance).await.len(), 1);
        advance_to(&app, midnight + Duration::hours(25)).await;
        let c = charges(&app, &m, &instance).await;
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[1]["usage"], "3.0000");
        // The summary's days are Shanghai days: the two records fall on either side of its
        // midnight (both on the same UTC day, 16:00 UTC).
        let r = app
            .get(
                &format!("/v1/instances/{instance}/usage-summary?granularity=day"),
                &m.buyer_key,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let days = r.body["data"].as_array().unwrap();
        assert_eq!(days.len(), 2, "{}", r.text);
        let fmt = time::format_description::well_known::Rfc3339;
        let first = (midnight - Duration::DAY).to_offset(zone);
        assert_eq!(days[0]["start"], first.format(&fmt).unwrap());
        assert!(days[0]["start"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00+08:00"));
        assert_eq!(days[0]["usage"], "2.0000");
        assert_eq!(
            days[1]["start"],
            midnight.to_offset(zone).format(&fmt).unwrap()
        );
        assert_eq!(days[1]["usage"], "3.0000");
        // Back to hourly: the next record is rated at the next :15.
        let hourly = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/products/{}/usage-price", m.product_id)))
                    .bearer_auth(&m.seller_key)
                    .json(&json!({"mode": "fixed", "collection": "weekly"})),
            )
            .await;
        assert_eq!(
            hourly.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            hourly.text
        );
        assert_eq!(
            hourly.body["error"]["details"]["field"], "collection",
            "{}",
            hourly.text
        );
        let hourly = app
            .send(
                app.http
                    .put(app.url(&format!("/v1/products/{}/usage-price", m.product_id)))
                    .bearer_auth(&m.seller_key)
                    .json(&json!({"mode": "fixed"})),
            )
            .await;
        assert_eq!(hourly.body["collection"], "hourly", "{}", hourly.text);
        let late = record(
            &instance,
            "hourly",
            app.clock.now() - Duration::minutes(20),
            "1",
        );
        assert_pushed(&push_signed(&app, PATH, &[late]).await, 1, 0);
        advance(&app, Duration::hours(1)).await;
        assert_eq!(charges(&app, &m, &instance).await.len(), 3);
    }
);
