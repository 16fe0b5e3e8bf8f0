//! E-mail through a real SMTP server on loopback: notices mailed once, in the reader's
//! language, retried when the server refuses; password reset by mail.

use crate::console_support::{location, login_for, Web, PASSWORD};
use crate::fixture::{self, Proto};
use crate::harness::{TestApp, TestDb};
use crate::mail_support::{app_with_mail, link_in, SmtpSink, PUBLIC_URL};
use reqwest::StatusCode;
use serde_json::json;

/// Each test on both backends, with its own SMTP sink and a Souk mailing through it.
macro_rules! mail_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run(backend: crate::harness::Backend) {
                let sink = SmtpSink::start().await;
                let app = app_with_mail(TestDb::new(backend).await, &sink).await;
                ($body)(app, sink).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(crate::harness::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::harness::postgres_skipped() {
                    return;
                }
                run(crate::harness::Backend::Postgres).await;
            }
        }
    };
}

mail_test!(
    a_failed_call_is_mailed_to_the_seller_once_in_their_language,
    |app: TestApp, sink: SmtpSink| async move {
        let example = fixture::example_seller(&app, |_| {}).await;
        let m = fixture::market(&app, Proto::V2, example).await;
        login_for(&app, &m.seller_id, "ops@acme.example").await;
        // The seller's person logs in with the Chinese pages: their mail is in Chinese.
        let web = Web::new(&app);
        web.get("/login?lang=zh").await;
        let r = web.login("ops@acme.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        login_for(&app, &m.buyer_id, "it@buyer.example").await;

        m.example.seller().fail_next(1);
        let order = m
            .buy(&app, json!({"sku_id": m.basic, "billing_mode": "monthly"}))
            .await;
        app.drain().await;
        let mails = sink.mails_to("ops@acme.example");
        assert_eq!(mails.len(), 1, "{mails:#?}");
        let mail = &mails[0];
        assert!(
            mail.subject.contains("生产接口调用失败"),
            "{}",
            mail.subject
        );
        assert!(
            mail.body.contains("HTTP 500") || mail.body.contains("500"),
            "{}",
            mail.body
        );
        assert!(
            mail.body.contains(&format!("{PUBLIC_URL}/messages")),
            "{}",
            mail.body
        );
        assert!(
            mail.message_id.starts_with("<mail_") && mail.message_id.ends_with("@souk>"),
            "{}",
            mail.message_id
        );
        // The message centre has the same notice.
        let inbox = web.get("/messages").await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
        assert!(inbox.text.contains("call_failed"), "{}", inbox.text);

        // Nothing is sent twice: more passes find nothing to send.
        app.drain().await;
        assert_eq!(sink.mails_to("ops@acme.example").len(), 1);

        // The retry succeeds: the buyer's person is told the credentials are ready, in
        // English (the language they never changed).
        app.advance(time::Duration::minutes(1)).await;
        let instance = order["instance_id"].as_str().unwrap();
        m.wait_instance(&app, instance, "active").await;
        let buyer_mails = sink.mails_to("it@buyer.example");
        assert_eq!(buyer_mails.len(), 1, "{buyer_mails:#?}");
        assert!(
            buyer_mails[0].subject.contains("credentials are ready"),
            "{}",
            buyer_mails[0].subject
        );
        let backlog = app.state.store.mail_backlog().await.unwrap();
        assert_eq!((backlog.pending, backlog.failed), (0, 0), "{backlog:?}");
    }
);

mail_test!(
    a_refused_mail_is_retried_on_schedule_then_given_up,
    |app: TestApp, sink: SmtpSink| async move {
        let (seller, key) = app.party("sellers", "Busy Mailbox Ltd").await;
        login_for(&app, &seller, "refuse@busy.example").await;
        login_for(&app, &seller, "ok@busy.example").await;
        // A product rejected in review: one notice, one mail per login.
        let created = app
            .post(
                "/v1/products",
                &key,
                fixture::product_body("Busy", Proto::V2, "https://seller.example/produce"),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.body["id"].as_str().unwrap();
        let r = app
            .post(&format!("/v1/products/{id}/submit"), &key, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = app
            .post(
                &format!("/v1/products/{id}/reject"),
                &app.operator_key,
                json!({"reason": "the usage guide is missing"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        app.drain().await;
        let ok = sink.mails_to("ok@busy.example");
        assert_eq!(ok.len(), 1);
        assert!(
            ok[0].body.contains("the usage guide is missing"),
            "{}",
            ok[0].body
        );
        // The refusing server answered 451: the mail waits for its retry (smtp.first_retry).
        let b = app.state.store.mail_backlog().await.unwrap();
        assert_eq!((b.sent, b.pending, b.failed), (1, 1, 0), "{b:?}");
        app.drain().await;
        assert_eq!(app.state.store.mail_backlog().await.unwrap().pending, 1);
        // After the delay it is tried again; smtp.max_attempts = 2 here, so it is given up.
        app.advance(time::Duration::minutes(1)).await;
        let b = app.state.store.mail_backlog().await.unwrap();
        assert_eq!((b.sent, b.pending, b.failed), (1, 0, 1), "{b:?}");
        assert_eq!(sink.mails().len(), 1);
    }
);

mail_test!(
    a_password_is_reset_through_a_single_use_link_mailed_to_the_login,
    |app: TestApp, sink: SmtpSink| async move {
        let (buyer, _) = app.party("buyers", "Forgetful Ltd").await;
        login_for(&app, &buyer, "me@forgetful.example").await;
        // A session opened with the old password is closed by the reset.
        let old = Web::new(&app);
        old.login("me@forgetful.example", PASSWORD).await;
        assert_eq!(old.get("/buyer/orders").await.status, StatusCode::OK);

        let web = Web::new(&app);
        let login = web.get("/login").await;
        assert!(login.text.contains("href=\"/password-reset\""));
        // Known and unknown addresses get the same answer; only the known one gets a mail.
        let known = web
            .submit(
                "/password-reset",
                "/password-reset",
                &[("email", "Me@Forgetful.example")],
            )
            .await;
        let unknown = web
            .submit(
                "/password-reset",
                "/password-reset",
                &[("email", "nobody@forgetful.example")],
            )
            .await;
        assert_eq!(known.status, StatusCode::OK, "{}", known.text);
        assert_eq!(unknown.status, known.status);
        assert!(known.text.contains("id=\"reset-sent\""), "{}", known.text);
        let strip = |t: &str| t.replace("nobody", "").replace("me", "");
        assert_eq!(strip(&known.text), strip(&unknown.text));
        // Without the form's CSRF token nothing is sent.
        let r = web
            .post("/password-reset", &[("email", "me@forgetful.example")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        app.drain().await;
        let mails = sink.mails();
        assert_eq!(mails.len(), 1, "{mails:#?}");
        assert_eq!(mails[0].to, vec!["me@forgetful.example".to_owned()]);
        let link = link_in(&mails[0].body, &format!("{PUBLIC_URL}/password-reset/"));
        let path = link.strip_prefix(PUBLIC_URL).unwrap().to_owned();
        let token = path.rsplit('/').next().unwrap().to_owned();
        // Only the token's hash is stored: the token itself opens nothing in the database.
        let now = app.state.clock.now();
        let store = &app.state.store;
        assert!(store
            .password_reset_user(&token, now)
            .await
            .unwrap()
            .is_none());
        let hash = souk_core::console::token_hash(&token);
        assert!(store
            .password_reset_user(&hash, now)
            .await
            .unwrap()
            .is_some());

        let form = web.get(&path).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        // The new password follows the same rules as any.
        let r = web.submit(&path, &path, &[("password", "short")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = web
            .submit(&path, &path, &[("password", "a brand new passphrase")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(location(&r), "/login?reset=done");
        assert_eq!(
            old.get("/buyer/orders").await.status,
            StatusCode::SEE_OTHER,
            "the old session is closed"
        );
        let r = web.login("me@forgetful.example", PASSWORD).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = web
            .login("me@forgetful.example", "a brand new passphrase")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        // Single use.
        let again = Web::new(&app);
        let r = again.get(&path).await;
        assert_eq!(r.status, StatusCode::GONE, "{}", r.text);
        assert!(r.text.contains("data-code=\"reset_link_invalid\""));

        // A link expires after an hour.
        again
            .submit(
                "/password-reset",
                "/password-reset",
                &[("email", "me@forgetful.example")],
            )
            .await;
        app.drain().await;
        let mails = sink.mails();
        assert_eq!(mails.len(), 2);
        let link = link_in(&mails[1].body, &format!("{PUBLIC_URL}/password-reset/"));
        let path = link.strip_prefix(PUBLIC_URL).unwrap().to_owned();
        app.advance(time::Duration::minutes(61)).await;
        let r = again
            .submit(
                "/password-reset",
                &path,
                &[("password", "another passphrase")],
            )
            .await;
        assert_eq!(r.status, StatusCode::GONE, "{}", r.text);
    }
);
