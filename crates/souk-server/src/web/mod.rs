//! The web consoles: server-rendered pages for buyers (storefront, my orders and instances),
//! sellers (my products, "test my endpoint") and the operator (review queue), served by `souk` itself.
//!
//! Pages are minijinja templates compiled into the binary (`templates/`), plain HTML forms
//! with a little CSS, no script needed. Handlers read like the JSON API's: they parse the
//! form, call the same use cases (`crate::usecase`), and render the outcome; an error is a
//! readable page carrying the error envelope's message, never JSON.
//!
//! Security: sessions are database rows (`usecase::console`), the cookie is `HttpOnly` and
//! `SameSite=Lax`, and every form carries a CSRF token checked before its handler runs
//! ([`session::Submitted`]).

mod account;
mod aftersale;
mod aftersale_texts;
mod aftersale_upload;
mod buyer;
mod buyer_actions;
mod buyer_licenses;
mod chart;
mod fee_invoices;
mod i18n;
mod invoices;
mod messages;
mod money_out;
mod money_texts;
mod operator;
mod operator_fees;
mod operator_ops;
mod operator_parties;
mod product_form;
mod reseller_offers;
mod reseller_statements;
mod review_diff;
mod seller;
mod seller_center;
mod seller_fees;
mod seller_packages;
mod seller_usage_price;
pub mod session;
mod shop;
mod stream_form;
mod upload;
mod usage;
mod vouchers;

use crate::error::AppError;
use crate::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
pub use i18n::Lang;
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

/// Every console path starts with one of these (the JSON API's with `/v1/` or `/api/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/shop") }))
        .route("/static/souk.css", get(stylesheet))
        .merge(account::router())
        .merge(shop::router())
        .merge(buyer::router())
        .merge(buyer_actions::router())
        .merge(buyer_licenses::router())
        .merge(usage::router())
        .merge(operator::router())
        .merge(operator_parties::router())
        .merge(operator_ops::router())
        .merge(operator_fees::router())
        .merge(seller::router())
        .merge(messages::router())
        .merge(aftersale::router())
        .merge(money_out::router())
        .merge(invoices::router())
        .merge(vouchers::router())
        .merge(fee_invoices::router())
        .merge(reseller_statements::router())
        .merge(seller_center::router())
        .merge(product_form::router())
        .merge(seller_packages::router())
        .merge(seller_usage_price::router())
        .merge(seller_fees::router())
}

/// A time as pages show it: `2026-12-06 09:30 UTC`.
fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/souk.css"),
    )
        .into_response()
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names get HTML auto-escaping: no value reaches a page unescaped.
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            (
                "password_reset.html",
                include_str!("../../templates/password_reset.html"),
            ),
            ("error.html", include_str!("../../templates/error.html")),
            ("shop.html", include_str!("../../templates/shop.html")),
            ("product.html", include_str!("../../templates/product.html")),
            ("orders.html", include_str!("../../templates/orders.html")),
            (
                "instance.html",
                include_str!("../../templates/instance.html"),
            ),
            ("reviews.html", include_str!("../../templates/reviews.html")),
            (
                "messages.html",
                include_str!("../../templates/messages.html"),
            ),
            (
                "seller_nav.html",
                include_str!("../../templates/seller_nav.html"),
            ),
            (
                "seller_calls.html",
                include_str!("../../templates/seller_calls.html"),
            ),
            (
                "seller_call.html",
                include_str!("../../templates/seller_call.html"),
            ),
            (
                "seller_keys.html",
                include_str!("../../templates/seller_keys.html"),
            ),
            (
                "seller_orders.html",
                include_str!("../../templates/seller_orders.html"),
            ),
            (
                "seller_dashboard.html",
                include_str!("../../templates/seller_dashboard.html"),
            ),
            (
                "product_form.html",
                include_str!("../../templates/product_form.html"),
            ),
            (
                "seller_products.html",
                include_str!("../../templates/seller_products.html"),
            ),
            (
                "endpoint_test.html",
                include_str!("../../templates/endpoint_test.html"),
            ),
            (
                "aftersale_tasks.html",
                include_str!("../../templates/aftersale_tasks.html"),
            ),
            (
                "aftersale_order.html",
                include_str!("../../templates/aftersale_order.html"),
            ),
        ]
        .into_iter()
        .chain(money_out_templates())
        .chain(invoices::TEMPLATES.iter().copied())
        .chain(vouchers::TEMPLATES.iter().copied())
        .chain(fee_invoices::TEMPLATES.iter().copied())
        .chain(reseller_statements::TEMPLATES.iter().copied())
        .chain(buyer_templates())
        .chain(operator::TEMPLATES.iter().copied())
        .chain(seller_packages::TEMPLATES.iter().copied())
        .chain(seller_usage_price::TEMPLATES.iter().copied())
        .chain(seller_fees::TEMPLATES.iter().copied())
        {
            // The templates are part of the binary and covered by the tests: a syntax error
            // is a build defect, caught by the first test that renders any page.
            env.add_template(name, source)
                .expect("console templates compile");
        }
        env.add_filter("money", money_filter);
        env.add_function("tr", tr);
        env
    })
}

/// The buyer center's and the usage pages' templates.
fn buyer_templates() -> [(&'static str, &'static str); 4] {
    [
        (
            "buyer_nav.html",
            include_str!("../../templates/buyer_nav.html"),
        ),
        (
            "instances.html",
            include_str!("../../templates/instances.html"),
        ),
        (
            "licenses.html",
            include_str!("../../templates/licenses.html"),
        ),
        ("usage.html", include_str!("../../templates/usage.html")),
    ]
}

/// The money-out pages' templates (`money_out.rs`).
fn money_out_templates() -> [(&'static str, &'static str); 6] {
    [
        (
            "statements.html",
            include_str!("../../templates/statements.html"),
        ),
        (
            "statement.html",
            include_str!("../../templates/statement.html"),
        ),
        (
            "authorisations.html",
            include_str!("../../templates/authorisations.html"),
        ),
        (
            "reseller.html",
            include_str!("../../templates/reseller.html"),
        ),
        (
            "invitation.html",
            include_str!("../../templates/invitation.html"),
        ),
        ("offer.html", include_str!("../../templates/offer.html")),
    ]
}

/// `{{ tr("Retry", "重试") }}`: the text in the page's language. Pages added after the first
/// slice keep their texts beside their markup this way instead of in `i18n::Texts`.
fn tr(state: &minijinja::State, en: String, zh: String) -> String {
    let lang = state
        .lookup("frame")
        .and_then(|f| f.get_attr("lang").ok())
        .and_then(|l| l.as_str().map(str::to_owned));
    if lang.as_deref() == Some("zh") {
        zh
    } else {
        en
    }
}

/// `{{ amount_minor | money(currency) }}`: shown as `souk_core::money::Money` displays itself.
fn money_filter(minor: i64, currency: String) -> String {
    match currency.parse::<souk_core::money::Currency>() {
        Ok(c) => souk_core::money::Money::new(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

/// What every page shows around its content.
#[derive(Serialize)]
struct Frame<'a> {
    lang: &'static str,
    t: &'static i18n::Texts,
    /// The logged-in person, if any.
    who: Option<Who<'a>>,
    /// The CSRF token forms on this page carry.
    csrf: &'a str,
    /// This page's path and query, for the language switch.
    here: &'a str,
}

#[derive(Serialize)]
struct Who<'a> {
    email: &'a str,
    party: &'a str,
    role: &'static str,
}

/// A rendered page or a readable error page.
pub type PageResult = Result<Response, WebError>;

/// Renders `name` with the frame and `ctx` (a map merged beside `frame`).
fn render(
    v: &session::Visitor,
    name: &str,
    status: StatusCode,
    ctx: minijinja::Value,
) -> PageResult {
    let who = v.session.as_ref().map(|s| Who {
        email: &s.user.email,
        party: &s.user.party_name,
        role: s.user.role.as_str(),
    });
    let frame = Frame {
        lang: v.lang.code(),
        t: v.lang.texts(),
        who,
        csrf: v.csrf(),
        here: &v.here,
    };
    let html = templates()
        .get_template(name)
        .and_then(|t| t.render(minijinja::context! { frame => frame, ..ctx }))
        .map_err(|e| {
            WebError::from(AppError::internal(anyhow::anyhow!(
                "rendering {name}: {e:#}"
            )))
        })?;
    let mut res = (status, Html(html)).into_response();
    // Console pages hold personal data: never cached by shared caches, never framed.
    let h = res.headers_mut();
    if v.session.is_none() && v.anon_csrf_is_new && !v.anon_csrf.is_empty() {
        // The double-submit token of this page's forms (see `session`).
        let c = session::set_cookie(session::CSRF_COOKIE, &v.anon_csrf, 86_400);
        if let Ok(c) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, c);
        }
    }
    if v.here.contains("lang=") {
        // The language switch: remember the choice for the next pages.
        let c = session::set_cookie(session::LANG_COOKIE, v.lang.code(), 365 * 86_400);
        if let Ok(c) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, c);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    Ok(res)
}

fn page(v: &session::Visitor, name: &str, ctx: minijinja::Value) -> PageResult {
    render(v, name, StatusCode::OK, ctx)
}

/// An error shown as a page: the envelope's status, code and message, in the frame.
#[derive(Debug)]
pub struct WebError {
    pub error: AppError,
    /// The visitor, when known, so that the page keeps its language and navigation.
    pub visitor: Option<Box<session::Visitor>>,
}

impl From<AppError> for WebError {
    fn from(error: AppError) -> Self {
        WebError {
            error,
            visitor: None,
        }
    }
}

impl From<souk_store::StoreError> for WebError {
    fn from(e: souk_store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl WebError {
    fn with(v: &session::Visitor) -> impl FnOnce(AppError) -> WebError + '_ {
        move |error| WebError {
            error,
            visitor: Some(Box::new(v.clone())),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let e = self.error;
        if let Some(source) = &e.source {
            tracing::error!(code = e.code, error = ?source, "console request failed");
        }
        let v = self
            .visitor
            .map(|b| *b)
            .unwrap_or_else(session::Visitor::anonymous);
        let ctx = minijinja::context! { status => e.status.as_u16(), code => e.code, message => e.message };
        match render(&v, "error.html", e.status, ctx) {
            Ok(res) => res,
            // The error page itself failed: plain text, still readable.
            Err(_) => (e.status, e.status.canonical_reason().unwrap_or("error")).into_response(),
        }
    }
}
