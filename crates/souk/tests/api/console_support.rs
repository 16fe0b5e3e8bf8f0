//! A cookie-keeping HTTP client for the console's pages (redirects not followed, so tests
//! see them), and helpers to give parties console logins.

#![allow(dead_code)]

use crate::harness::{Reply, TestApp};
use souk_core::party::PartyId;
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const PASSWORD: &str = "correct horse battery";

/// Gives `party` the console login `email` / [`PASSWORD`], as the operator.
pub async fn login_for(app: &TestApp, party: &str, email: &str) {
    let operator = PartyId::from_trusted(operator_id(app).await);
    souk_server::usecase::console::create_user(
        &app.state,
        &operator,
        &PartyId::from_trusted(party.to_owned()),
        email,
        PASSWORD,
    )
    .await
    .expect("console user created");
}

/// A browser logged in as `party` (given the console login `email` first).
pub async fn logged_in<'a>(app: &'a TestApp, party: &str, email: &str) -> Web<'a> {
    login_for(app, party, email).await;
    let web = Web::new(app);
    assert_eq!(
        web.login(email, PASSWORD).await.status,
        reqwest::StatusCode::SEE_OTHER
    );
    web
}

pub async fn operator_id(app: &TestApp) -> String {
    let me = app.get("/v1/me", &app.operator_key).await;
    me.body["party"]["id"]
        .as_str()
        .expect("operator id")
        .to_owned()
}

/// One browser's worth of cookies.
pub struct Web<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl<'a> Web<'a> {
    pub fn new(app: &'a TestApp) -> Web<'a> {
        Web {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let req = req.header("cookie", self.cookie_header());
        let reply = self.app.send(req).await;
        let mut jar = self.cookies.lock().unwrap();
        for c in reply.headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), v.to_owned());
            }
        }
        reply
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn forget_cookie(&self, name: &str) {
        self.cookies.lock().unwrap().remove(name);
    }

    /// A GET with exactly this Cookie header (the jar is not used).
    pub async fn send_with_cookie(&self, path: &str, cookie: &str) -> Reply {
        let req = self.http.get(self.app.url(path)).header("cookie", cookie);
        self.app.send(req).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.app.url(path))).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send(self.http.post(self.app.url(path)).form(form))
            .await
    }

    /// Posts `form` with the CSRF token of the page at `from`.
    pub async fn submit(&self, from: &str, action: &str, form: &[(&str, &str)]) -> Reply {
        let page = self.get(from).await;
        let token = csrf_of(&page.text);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(form);
        self.post(action, &all).await
    }

    /// Posts a `multipart/form-data` form with one file and the CSRF token of the page at
    /// `from` (`csrf: false` leaves the token out).
    pub async fn submit_file(
        &self,
        from: &str,
        action: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
        csrf: bool,
    ) -> Reply {
        let page = self.get(from).await;
        let token = csrf_of(&page.text);
        let boundary = "souk-test-boundary-7d1e";
        let mut body = Vec::new();
        // The token first: the after-sale upload reads it before the rest of the form.
        let mut all: Vec<(&str, &str)> = Vec::new();
        if csrf {
            all.push(("csrf", token.as_str()));
        }
        all.extend_from_slice(fields);
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        let (filename, content_type, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.post_body(
            action,
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await
    }

    /// Posts `body` as it is, with this `Content-Type` and the session's cookies.
    pub async fn post_body(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.http
                .post(self.app.url(path))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// Logs in through the form; returns the reply to the form's post.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

/// The CSRF token in a page's forms.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in the page: {html}"));
    let rest = &html[at + 19..];
    rest[..rest.find('"').unwrap()].to_owned()
}

pub fn location(r: &Reply) -> String {
    r.headers
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no redirect: {} {}", r.status, r.text))
}
