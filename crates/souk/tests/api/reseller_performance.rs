//! Reseller performance is visible the next working day (business rules §11,
//! `reseller.perf_lag = 1 working day`): an order bought through an offer link on a Friday is
//! not in the reseller's performance on Saturday or Sunday, and is there on Monday; a Monday
//! order is there on Tuesday.

use crate::backend_test;
use crate::fixture::*;
use crate::harness::TestApp;
use crate::resellers::{authorise, offer_link};
use crate::settlement::{advance_to, ZONE};
use serde_json::json;
use souk_core::clock::Clock;
use time::{Duration, OffsetDateTime, Weekday};

/// The next `day` after now, at `hour` o'clock in the business zone.
fn next(app: &TestApp, day: Weekday, hour: u8) -> OffsetDateTime {
    let mut d = app.clock.now().to_offset(ZONE).date().next_day().unwrap();
    while d.weekday() != day {
        d = d.next_day().unwrap();
    }
    d.with_hms(hour, 0, 0).unwrap().assume_offset(ZONE)
}

async fn seen(app: &TestApp, reseller: &str) -> Vec<String> {
    let perf = app.get("/v1/reseller-performance", reseller).await;
    assert_eq!(perf.status, reqwest::StatusCode::OK, "{}", perf.text);
    perf.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

backend_test!(
    performance_shows_an_order_the_next_working_day,
    |app: TestApp| async move {
        let m = market(&app, Proto::V2, example_seller(&app, |_| {}).await).await;
        let (reseller_id, reseller) = app.party("resellers", "Weekday Partner").await;
        top_up(&app, &m.buyer_id, 100_000).await;
        authorise(&app, &m, &reseller_id, 1_000).await;
        let friday = next(&app, Weekday::Friday, 10);
        advance_to(&app, friday).await;
        let link = offer_link(&app, &reseller, &m.basic, 900, friday + Duration::days(30)).await;
        let buy = |link: String| {
            let m = &m;
            let app = &app;
            async move {
                let o = m
                    .buy(
                        app,
                        json!({"sku_id": m.basic, "billing_mode": "monthly", "offer": link}),
                    )
                    .await;
                o["id"].as_str().unwrap().to_owned()
            }
        };
        let on_friday = buy(link.clone()).await;
        for (at, what) in [
            (friday + Duration::hours(13), "Friday evening"),
            (friday + Duration::days(1), "Saturday"),
            (
                friday + Duration::days(2) + Duration::hours(13),
                "Sunday night",
            ),
        ] {
            advance_to(&app, at).await;
            assert!(seen(&app, &reseller).await.is_empty(), "{what}");
        }
        // Monday, just after midnight in the business zone: Friday's order is there.
        let monday = next(&app, Weekday::Monday, 0);
        advance_to(&app, monday + Duration::minutes(1)).await;
        assert_eq!(seen(&app, &reseller).await, vec![on_friday.clone()]);
        let on_monday = buy(link).await;
        assert_eq!(seen(&app, &reseller).await, vec![on_friday.clone()]);
        advance_to(&app, monday + Duration::days(1) + Duration::minutes(1)).await;
        assert_eq!(seen(&app, &reseller).await, [on_friday, on_monday]);
    }
);
