//! The operator console in a real browser (headless Chromium over WebDriver, on both backends):
//! the operator approves a revision from the side-by-side view, suspends and reactivates a
//! party, finds both in the audit log, looks at health and moves the sandbox clock forward.
//! With `SOUK_SCREENSHOTS=1`, the SQLite run saves each page in `docs/screenshots/`.

use crate::backend_test;
use crate::browser::{browser, driver, skipped, Session};
use crate::console_operator::listed_with_revision;
use crate::console_support::{login_for, operator_id};
use crate::harness::{Backend, TestApp};
use reqwest::StatusCode;

backend_test!(
    in_chromium_the_operator_approves_a_revision_suspends_a_party_reads_the_audit_and_moves_the_clock,
    |app: TestApp| async move {
        if skipped() {
            eprintln!("SOUK_TEST_BROWSER=skip: not running the browser test");
            return;
        }
        let (product, _) = listed_with_revision(&app).await;
        let (buyer, buyer_key) = app.party("buyers", "Initech").await;
        let operator = operator_id(&app).await;
        login_for(&app, &operator, "operator@souk.example").await;
        let driver = driver().await;
        let shots =
            app.backend() == Backend::Sqlite && std::env::var_os("SOUK_SCREENSHOTS").is_some();
        let s = Session {
            app: &app,
            c: browser(&driver).await,
            shots,
        };
        s.login("operator@souk.example").await;
        assert_eq!(s.path().await, "/operator/reviews");

        // The side-by-side view: the changed description is marked; approve from there.
        s.click("#reviews .compare-link").await;
        let changed = s.text("#compare-fields tr.changed").await;
        assert!(changed.contains("description"), "{changed}");
        assert!(s.text("#compare-skus").await.contains("edition=team"));
        s.shot("operator-review-compare").await;
        s.click("#approve").await;
        s.wait_for("#nothing-to-review").await;
        let p = app
            .get(&format!("/v1/products/{product}"), &app.operator_key)
            .await;
        assert_eq!(p.body["description"], "Hosted monitoring, now with alerts.");

        // Parties: find the buyer, suspend it (its key stops), reactivate it.
        s.open("/operator/parties").await;
        s.fill("#filter-q", "initech").await;
        s.click("form.filters button").await;
        // The unfiltered list shows the buyer too: wait for the filtered page itself.
        let filtered = app.url("/operator/parties?role=&status=&q=initech");
        s.c.wait()
            .at_most(std::time::Duration::from_secs(20))
            .for_url(reqwest::Url::parse(&filtered).unwrap())
            .await
            .expect("the filtered list");
        s.wait_for(&format!("#parties tr[data-party='{buyer}'] a"))
            .await
            .click()
            .await
            .unwrap();
        s.click("#suspend").await;
        s.wait_for("#reactivate").await;
        assert_eq!(s.text("#party-status").await, "suspended");
        assert_eq!(
            app.get("/v1/me", &buyer_key).await.status,
            StatusCode::UNAUTHORIZED
        );
        s.shot("operator-party").await;
        s.click("#reactivate").await;
        s.wait_for("#suspend").await;
        assert_eq!(app.get("/v1/me", &buyer_key).await.status, StatusCode::OK);

        // The audit log shows both, newest first.
        s.open(&format!("/operator/audit?subject={buyer}")).await;
        let log = s.text("#audit").await;
        let (active, suspended) = (
            log.find("party.active").expect("reactivation audited"),
            log.find("party.suspended").expect("suspension audited"),
        );
        assert!(active < suspended, "{log}");
        s.shot("operator-audit").await;

        s.open("/operator/health").await;
        s.wait_for("#mail-backlog").await;
        s.shot("operator-health").await;

        // The sandbox clock: 30 days on, still logged in.
        s.open("/operator/clock").await;
        let before = app.state.clock.now();
        s.fill("#by", "30d").await;
        s.submit("#advance").await;
        assert!(s.text("#clock-offset").await.starts_with("30d"));
        assert!(app.state.clock.now() - before >= time::Duration::days(30));
        s.shot("operator-clock").await;
        s.close().await;
    }
);
