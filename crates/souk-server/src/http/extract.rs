//! Extractors that turn every malformed input into the JSON error envelope.
//!
//! axum's own `Json` and `Query` answer with plain-text bodies; these wrappers keep their parsing
//! and replace the rejection with an [`AppError`] whose code a client can branch on.

use crate::error::AppError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        whole_floats_to_integers(&mut value);
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|e| {
                AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("the JSON does not have the expected shape: {e}"),
                )
            })
    }
}

/// JSON has one number type: `2.0` is the same number as `2`, and JSON Schema counts it as an
/// integer. serde refuses a float for an integer field, so whole numbers written with a fraction
/// are turned into integers first (only where the float holds the integer exactly, |n| ≤ 2^53).
fn whole_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() <= EXACT {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

fn json_rejection(r: JsonRejection) -> AppError {
    match r {
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with the header Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => AppError::bad_request(
            "malformed_json",
            format!(
                "the body is not valid JSON: {}",
                inner_message(&e.body_text())
            ),
        ),
        JsonRejection::JsonDataError(e) => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "the JSON does not have the expected shape: {}",
                inner_message(&e.body_text())
            ),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            payload_too_large()
        }
        other => AppError::bad_request(
            "unreadable_body",
            format!("the request body could not be read: {}", other.body_text()),
        ),
    }
}

pub fn payload_too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts (max_body_bytes)",
    )
}

/// serde's messages are good ("missing field `name` at line 1 column 2"); axum prefixes them
/// with its own wording, which we drop.
fn inner_message(text: &str) -> String {
    text.split_once(": ")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_else(|| text.to_owned())
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(AppError::bad_request(
                "invalid_query",
                format!("bad query string: {}", inner_message(&e.body_text())),
            )),
            Err(other) => Err(AppError::bad_request(
                "invalid_query",
                format!("bad query string: {}", other.body_text()),
            )),
        }
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| AppError::bad_request("invalid_path", e.body_text()))
    }
}

/// `?limit=&after=` on every list endpoint.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<souk_store::Page, AppError> {
        let limit = self.limit.unwrap_or(souk_store::Page::DEFAULT_LIMIT);
        if limit == 0 || limit > souk_store::Page::MAX_LIMIT {
            return Err(AppError::bad_request(
                "invalid_query",
                format!(
                    "limit must be between 1 and {}",
                    souk_store::Page::MAX_LIMIT
                ),
            ));
        }
        Ok(souk_store::Page {
            limit,
            after: self.after.clone(),
        })
    }
}
