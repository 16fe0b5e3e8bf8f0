//! The operator console over plain HTTP: the side-by-side review view, parties, the audit log,
//! health, the sandbox clock and fee policies; who may open them and that forms without their
//! CSRF token change nothing (the Chromium journey is in `browser_operator.rs`).

use crate::backend_test;
use crate::console_support::{location, login_for, operator_id, Web, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// The operator's console login, logged in.
pub(crate) async fn operator_web(app: &TestApp) -> Web<'_> {
    let operator = operator_id(app).await;
    login_for(app, &operator, "operator@souk.example").await;
    let web = Web::new(app);
    let r = web.login("operator@souk.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    web
}

/// A listed product of a new seller with a revision under review (a new price, a new edition
/// and a new description). Returns (product id, revision id).
pub(crate) async fn listed_with_revision(app: &TestApp) -> (String, String) {
    let (_, seller_key) = app.party("sellers", "Acme").await;
    let p = fixture::list_product(
        app,
        &seller_key,
        fixture::product_body("Acme Monitor", Proto::V2, "http://127.0.0.1:9/p"),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    let mut prices =
        fixture::product_body("Acme Monitor", Proto::V2, "http://127.0.0.1:9/p")["prices"].take();
    prices[0]["amount_minor"] = json!(1500);
    prices
        .as_array_mut()
        .unwrap()
        .push(json!({"sku": {"edition": "team"}, "billing_mode": "monthly", "amount_minor": 5000}));
    let r = app
        .send(
            app.http
                .patch(app.url(&format!("/v1/products/{id}")))
                .bearer_auth(&seller_key)
                .json(&json!({
                    "description": "Hosted monitoring, now with alerts.",
                    "enum_attributes": [{"name": "edition", "values": ["basic", "pro", "team"]}],
                    "prices": prices
                })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rev = r.body["pending_revision"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, rev)
}

backend_test!(
    the_side_by_side_view_marks_what_a_revision_changes_and_approves_it,
    |app: TestApp| async move {
        let (id, rev) = listed_with_revision(&app).await;
        let web = operator_web(&app).await;
        let queue = web.get("/operator/reviews").await;
        assert!(
            queue
                .text
                .contains(&format!("href=\"/operator/reviews/{id}\"")),
            "{}",
            queue.text
        );
        let page = web.get(&format!("/operator/reviews/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let t = &page.text;
        // The description changed, the name did not; both versions are shown.
        assert!(
            t.contains("<tr class=\"changed\" data-field=\"description\">"),
            "{t}"
        );
        assert!(t.contains("<tr class=\"\" data-field=\"name\">"), "{t}");
        assert!(t.contains("Hosted monitoring for small teams.") && t.contains("now with alerts."));
        // SKUs: the basic monthly price moved, a team edition is new, pro is unchanged.
        assert!(
            t.contains("monthly ¥10.00") || t.contains("monthly 10.00"),
            "{t}"
        );
        assert!(t.contains("edition=team"), "{t}");
        assert!(t.contains(&rev), "{t}");
        assert!(
            t.contains("127.0.0.1:9"),
            "the integration profile is shown"
        );
        // In Chinese too.
        let zh = web.get(&format!("/operator/reviews/{id}?lang=zh")).await;
        assert!(zh.text.contains("当前在售") && zh.text.contains("已变更"));
        // Approving from this page goes through the same use case as the API.
        let r = web
            .submit(
                &format!("/operator/reviews/{id}"),
                &format!("/operator/reviews/{id}/decide"),
                &[
                    ("decision", "approve"),
                    ("revision_id", &rev),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), "/operator/reviews");
        let p = app
            .get(&format!("/v1/products/{id}"), &app.operator_key)
            .await;
        assert_eq!(p.body["description"], "Hosted monitoring, now with alerts.");
        // Nothing waits any more: the view is a readable 404.
        let gone = web.get(&format!("/operator/reviews/{id}")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);
    }
);

backend_test!(
    the_operator_creates_filters_suspends_and_reactivates_parties_and_issues_keys,
    |app: TestApp| async move {
        let web = operator_web(&app).await;
        let r = web
            .submit(
                "/operator/parties",
                "/operator/parties",
                &[
                    ("role", "seller"),
                    ("name", "Globex 100%_Cloud"),
                    ("email", "it@globex.example"),
                    ("mobile_phone", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let at = location(&r);
        let id = at.trim_start_matches("/operator/parties/").to_owned();
        assert!(id.starts_with("sel_"), "{at}");
        // A bad name is the use case's message on a readable page; nothing is created.
        let r = web
            .submit(
                "/operator/parties",
                "/operator/parties",
                &[("role", "buyer"), ("name", "   "), ("email", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("data-code=\"invalid_field\""), "{}", r.text);
        let r = web
            .submit(
                "/operator/parties",
                "/operator/parties",
                &[("role", "operator"), ("name", "Another operator")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let (_, _) = app.party("buyers", "Initech").await;
        // Filters: by role, and by text (the `%` and `_` are letters, not wildcards).
        let sellers = web.get("/operator/parties?role=seller").await;
        assert!(sellers.text.contains("Globex") && !sellers.text.contains("Initech"));
        let found = web.get("/operator/parties?q=100%25_c").await;
        assert!(found.text.contains("Globex"), "{}", found.text);
        let none = web.get("/operator/parties?q=100_x").await;
        assert!(!none.text.contains("Globex"));
        let by_mail = web.get("/operator/parties?q=GLOBEX.example").await;
        assert!(by_mail.text.contains("Globex"));
        let bad = web.get("/operator/parties?status=sleeping").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A key, shown once on the answer to the form; it works on the API.
        let page = format!("/operator/parties/{id}");
        let r = web
            .submit(&page, &format!("{page}/keys"), &[("label", "ci")])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let secret = r
            .text
            .split("id=\"new-key-secret\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_owned();
        assert!(secret.starts_with("sk_"), "{secret}");
        assert_eq!(app.get("/v1/me", &secret).await.status, StatusCode::OK);
        let again = web.get(&page).await;
        assert!(
            !again.text.contains(&secret),
            "the secret is shown only once"
        );
        assert!(again.text.contains("ci"));
        // Suspend: the key stops at once; reactivate: it works again.
        let r = web
            .submit(&page, &format!("{page}/status"), &[("status", "suspended")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(
            app.get("/v1/me", &secret).await.status,
            StatusCode::UNAUTHORIZED
        );
        let suspended = web.get("/operator/parties?status=suspended").await;
        assert!(suspended.text.contains("Globex"));
        let detail = web.get(&page).await;
        assert!(detail.text.contains("id=\"reactivate\""));
        assert!(detail.text.contains("party.suspended") || detail.text.contains("suspended"));
        let r = web
            .submit(&page, &format!("{page}/status"), &[("status", "active")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(app.get("/v1/me", &secret).await.status, StatusCode::OK);
        // The operator cannot suspend itself from the console either.
        let me = operator_id(&app).await;
        let r = web
            .submit(
                &page,
                &format!("/operator/parties/{me}/status"),
                &[("status", "suspended")],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        // Unknown ids are a readable 404.
        let r = web.get("/operator/parties/sel_nope").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // In Chinese.
        let zh = web.get(&format!("{page}?lang=zh")).await;
        assert!(zh.text.contains("签发密钥") && zh.text.contains("停用"));
    }
);

backend_test!(
    the_audit_log_filters_by_actor_action_subject_and_time_and_pages,
    |app: TestApp| async move {
        let web = operator_web(&app).await;
        let operator = operator_id(&app).await;
        let mut buyers = Vec::new();
        for i in 0..51 {
            buyers.push(app.party("buyers", &format!("Buyer {i}")).await.0);
        }
        let r = app
            .send(
                app.http
                    .patch(app.url(&format!("/v1/buyers/{}", buyers[3])))
                    .bearer_auth(&app.operator_key)
                    .json(&json!({"status": "suspended"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // One subject: its creation, its key, its suspension, newest first.
        let one = web
            .get(&format!("/operator/audit?subject={}", buyers[3]))
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        let suspended = one.text.find("data-action=\"party.suspended\"").unwrap();
        let created = one.text.find("data-action=\"api_key.created\"").unwrap();
        assert!(suspended < created, "newest first");
        // An exact action, by this actor.
        let r = web
            .get(&format!(
                "/operator/audit?action=party.suspended&actor={operator}"
            ))
            .await;
        assert_eq!(r.text.matches("data-action=\"party.suspended\"").count(), 1);
        assert!(!r.text.contains("data-action=\"api_key.created\""));
        // A family (`party.`), paged 50 at a time: the next page has the rest, no repeats.
        let first = web.get("/operator/audit?action=api_key.").await;
        assert_eq!(
            first
                .text
                .matches("data-action=\"api_key.created\"")
                .count(),
            50
        );
        let older = first
            .text
            .split("id=\"older\"")
            .next()
            .and_then(|s| s.rsplit("href=\"").next())
            .unwrap()
            .trim_end_matches("\" ")
            .replace("&amp;", "&");
        let second = web.get(&older).await;
        assert_eq!(second.status, StatusCode::OK, "{older}: {}", second.text);
        assert_eq!(
            second
                .text
                .matches("data-action=\"api_key.created\"")
                .count(),
            1,
            "{older}"
        );
        // Time range: nothing before the marketplace began or after now.
        let none = web
            .get("/operator/audit?until=2000-01-01&action=party.")
            .await;
        assert!(none.text.contains("id=\"no-events\""), "{}", none.text);
        let now = app.state.clock.now();
        let today = format!(
            "{:04}-{:02}-{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let r = web
            .get(&format!(
                "/operator/audit?from={today}&action=party.suspended"
            ))
            .await;
        assert!(r.text.contains("data-action=\"party.suspended\""));
        let bad = web.get("/operator/audit?from=yesterday").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text.contains("2026-12-06T09:30"), "{}", bad.text);
    }
);

backend_test!(
    the_health_page_shows_failing_sellers_backlog_calls_and_mail_and_the_clock_moves,
    |app: TestApp| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        let web = operator_web(&app).await;
        let calm = web.get("/operator/health").await;
        assert_eq!(calm.status, StatusCode::OK, "{}", calm.text);
        assert!(calm.text.contains("id=\"no-failing\""), "{}", calm.text);
        assert!(calm.text.contains("id=\"no-backlog\""));
        m.example.seller().fail_next(u32::MAX);
        m.buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        app.drain().await;
        let h = web.get("/operator/health").await;
        let t = &h.text;
        assert!(
            t.contains(&format!("data-seller=\"{}\"", m.seller_id)),
            "{t}"
        );
        let failures = |t: &str| -> u32 {
            t.split("class=\"problem failures\">")
                .nth(1)
                .and_then(|s| s.split('<').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let first = failures(t);
        assert!(first >= 1, "{t}");
        assert!(t.contains("HTTP 500"), "{t}");
        assert!(t.contains("data-kind=\"new_instance\""), "{t}");
        assert!(t.contains(&format!("id=\"calls-total\">{first}<")), "{t}");
        assert!(t.contains("id=\"mail-pending\">"), "{t}");
        // The sandbox clock: advancing runs what became due (the retry), through the same use
        // case as `souk clock advance`.
        let before = app.state.clock.now();
        let page = web.get("/operator/clock").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let r = web
            .submit(
                "/operator/clock",
                "/operator/clock/advance",
                &[("by", "2h")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let moved = app.state.clock.now() - before;
        assert!(moved >= time::Duration::hours(2), "{moved}");
        let page = web.get("/operator/clock").await;
        assert!(page.text.contains("0d 2h"), "{}", page.text);
        let r = web
            .submit(
                "/operator/clock",
                "/operator/clock/advance",
                &[("by", "-3d")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        app.drain().await;
        let later = failures(&web.get("/operator/health").await.text);
        assert!(
            later > first,
            "the retries that became due ran: {first} → {later}"
        );
        // Fixed: the next retry succeeds and the seller is no longer failing.
        m.example.seller().fail_next(0);
        let r = web
            .submit(
                "/operator/clock",
                "/operator/clock/advance",
                &[("by", "1d")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let r = web
            .submit("/operator/clock", "/operator/clock/run-due", &[])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        app.drain().await;
        let h = web.get("/operator/health").await;
        assert!(h.text.contains("id=\"no-failing\""), "{}", h.text);
        let zh = web.get("/operator/health?lang=zh").await;
        assert!(zh.text.contains("调用失败的卖家") && zh.text.contains("邮件发件箱"));
    }
);

/// Every operator page, for the access checks.
const OPERATOR_PAGES: &[&str] = &[
    "/operator/reviews",
    "/operator/parties",
    "/operator/audit",
    "/operator/health",
    "/operator/clock",
    "/operator/fees",
];

backend_test!(
    operator_pages_refuse_sellers_buyers_strangers_and_forms_without_csrf,
    |app: TestApp| async move {
        let (seller, _) = app.party("sellers", "Acme").await;
        let (buyer, _) = app.party("buyers", "Bob").await;
        login_for(&app, &seller, "s@acme.example").await;
        login_for(&app, &buyer, "b@bob.example").await;
        let stranger = Web::new(&app);
        for path in OPERATOR_PAGES {
            let r = stranger.get(path).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
            assert!(location(&r).starts_with("/login?next="), "{path}");
        }
        for email in ["s@acme.example", "b@bob.example"] {
            let web = Web::new(&app);
            web.login(email, PASSWORD).await;
            for path in OPERATOR_PAGES
                .iter()
                .copied()
                .chain([format!("/operator/parties/{seller}").as_str()])
            {
                let r = web.get(path).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{email} {path}");
                assert!(r.text.contains("data-code=\"forbidden\""), "{}", r.text);
            }
            // With a valid token of their own, an operator form is still refused.
            let r = web
                .submit(
                    "/messages",
                    &format!("/operator/parties/{buyer}/status"),
                    &[("status", "suspended")],
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}");
            let r = web
                .submit("/messages", "/operator/clock/advance", &[("by", "1d")])
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{email}");
        }
        // The operator without the form's token: refused, nothing changes.
        let web = operator_web(&app).await;
        let before = app.state.clock.now();
        let posts: &[(&str, &[(&str, &str)])] = &[
            (
                "/operator/parties",
                &[("role", "seller"), ("name", "Sneaky")],
            ),
            (
                &format!("/operator/parties/{buyer}/status"),
                &[("status", "suspended")],
            ),
            (
                &format!("/operator/parties/{buyer}/keys"),
                &[("label", "x")],
            ),
            ("/operator/clock/advance", &[("by", "30d")]),
            ("/operator/clock/run-due", &[]),
        ];
        for (path, form) in posts {
            let r = web.post(path, form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
            assert!(r.text.contains("data-code=\"csrf_failed\""), "{path}");
        }
        let me = app
            .get(&format!("/v1/buyers/{buyer}"), &app.operator_key)
            .await;
        assert_eq!(me.body["status"], "active");
        let keys = app
            .get(&format!("/v1/buyers/{buyer}/api-keys"), &app.operator_key)
            .await;
        assert_eq!(keys.body["data"].as_array().unwrap().len(), 1);
        assert!(app.state.clock.now() - before < time::Duration::hours(1));
        let list = web.get("/operator/parties?q=Sneaky").await;
        assert!(!list.text.contains(">Sneaky</a>"), "{}", list.text);
    }
);

backend_test!(
    the_operator_sets_a_fee_rate_and_rebate_bands_from_the_fee_page,
    |app: TestApp| async move {
        let (id, _) = listed_with_revision(&app).await;
        let web = operator_web(&app).await;
        let list = web.get("/operator/fees").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert!(
            list.text.contains(&format!("data-product=\"{id}\"")),
            "{}",
            list.text
        );
        assert!(list.text.contains("(default)"), "{}", list.text);
        let page = format!("/operator/fees/{id}");
        // A band above the fee rate: the use case's message, nothing saved.
        let r = web
            .submit(
                &page,
                &page,
                &[
                    ("rate_bp", "500"),
                    ("bands", "0 500\n100000 600"),
                    ("seller_share_bp", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("cannot exceed the fee rate"), "{}", r.text);
        let r = web
            .submit(&page, &page, &[("rate_bp", "five"), ("bands", "")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = web
            .submit(
                &page,
                &page,
                &[
                    ("rate_bp", "800"),
                    ("bands", "0 800\r\n 5000000 600 \n"),
                    ("seller_share_bp", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), format!("{page}?saved=1"));
        // The API reads what the page saved.
        let p = app
            .get(&format!("/v1/products/{id}/fee-policy"), &app.operator_key)
            .await;
        assert_eq!(p.body["default"], false, "{}", p.text);
        assert_eq!(p.body["policy"]["rate_bp"], 800);
        assert_eq!(p.body["policy"]["tiers"][1]["from_minor"], 5000000);
        assert_eq!(p.body["policy"]["tiers"][1]["rate_bp"], 600);
        let list = web.get("/operator/fees").await;
        assert!(
            list.text.contains("8.00 %") && list.text.contains("6.00 %"),
            "{}",
            list.text
        );
        let zh = web.get(&format!("{page}?lang=zh")).await;
        assert!(zh.text.contains("返佣档位"));
        // Without the form's token: refused, unchanged.
        let r = web.post(&page, &[("rate_bp", "100")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let p = app
            .get(&format!("/v1/products/{id}/fee-policy"), &app.operator_key)
            .await;
        assert_eq!(p.body["policy"]["rate_bp"], 800);
        let r = web.get("/operator/fees/prd_nope").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
);
