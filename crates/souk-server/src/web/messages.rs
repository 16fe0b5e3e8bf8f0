//! The message centre: every notice for the person's party, newest first (the in-app copy of
//! the mails, `usecase::mail`).

use super::session::Member;
use super::{page, PageResult, WebError};
use crate::usecase::calls;
use crate::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use souk_store::Page;

pub fn router() -> Router<AppState> {
    Router::new().route("/messages", get(messages))
}

#[derive(serde::Deserialize)]
struct Cursor {
    #[serde(default)]
    after: Option<String>,
}

const PER_PAGE: u32 = 50;

async fn messages(State(state): State<AppState>, m: Member, Query(q): Query<Cursor>) -> PageResult {
    let page_of = Page {
        limit: PER_PAGE,
        after: q.after.filter(|a| a.starts_with("msg_")),
    };
    let items = calls::messages(&state, &m.principal(), &page_of)
        .await
        .map_err(WebError::with(&m.visitor))?;
    let next = (items.len() as u32 == PER_PAGE)
        .then(|| items.last().map(|i| i.id.clone()))
        .flatten();
    let items: Vec<_> = items
        .into_iter()
        .map(|i| {
            minijinja::context! {
                id => i.id, kind => i.kind, subject => i.subject, body => i.body,
                ref_id => i.ref_id, at => super::when(i.created_at),
            }
        })
        .collect();
    page(
        &m.visitor,
        "messages.html",
        minijinja::context! { items, next },
    )
}
