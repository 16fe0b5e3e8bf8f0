//! The one error type at the HTTP edge.
//!
//! Every failure a client can see is an [`AppError`], rendered as
//! `{"error": {"code": "stable_snake_case", "message": "…", "details": …}}` with the status that
//! fits. Codes are part of the API: clients branch on them, so they never change meaning.
//! Internal causes (database, I/O) are logged with the request id and never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// The internal cause of a 5xx, for the log only.
    pub source: Option<anyhow::Error>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case: safe to branch on.
    pub code: String,
    /// What happened and what to do about it, for a person.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            source: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found (or not visible to you)"),
        )
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A field failed validation (the body was well-formed JSON of the right shape).
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
            .with_details(serde_json::json!({ "field": field }))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "something went wrong on our side; the request id in x-request-id helps \
                      the operator find out what"
                .into(),
            details: None,
            source: Some(source.into()),
        }
    }

    pub fn unavailable(source: impl Into<anyhow::Error>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the database is not reachable; try again shortly".into(),
            details: None,
            source: Some(source.into()),
        }
    }
}

impl From<souk_store::StoreError> for AppError {
    fn from(e: souk_store::StoreError) -> Self {
        match e {
            souk_store::StoreError::Conflict { constraint, kind } => {
                constraint_violated(&constraint, kind)
            }
            souk_store::StoreError::LostRace { what, .. } => AppError::conflict(
                "changed_meanwhile",
                format!(
                    "the {what} changed while this request was handled; read it again and retry"
                ),
            ),
            other => AppError::internal(other),
        }
    }
}

/// A rule the database enforces, as the client sees it. The constraints that stand for a
/// business rule get that rule's code and message; any other one becomes a generic `conflict`.
/// Constraint names are schema details: they are logged (with the request id), never returned.
fn constraint_violated(constraint: &str, kind: souk_store::ConstraintKind) -> AppError {
    use souk_store::{constraint_names as names, ConstraintKind};
    match constraint {
        names::ONE_TRIAL_PER_BUYER_SKU => AppError::conflict(
            "trial_used",
            "you have already tried this SKU; buy it monthly or yearly instead",
        ),
        names::ONE_OPEN_REFUND => AppError::conflict(
            "refund_pending",
            "this order already has a refund request waiting for the seller; wait for the \
             decision or withdraw it",
        ),
        names::ONE_PENDING_REVISION => AppError::conflict(
            "revision_pending",
            "a revision of this product is already under review; wait for the decision",
        ),
        _ => {
            tracing::warn!(constraint, ?kind, "the database refused a change");
            AppError::conflict(
                "conflict",
                match kind {
                    ConstraintKind::Unique => "this would duplicate an existing record",
                    ConstraintKind::ForeignKey => {
                        "this refers to something that does not exist (any more); read it again \
                         and retry"
                    }
                    ConstraintKind::Check => {
                        "the change was refused because it breaks a rule of the stored data"
                    }
                },
            )
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            // The span carries the request id, so this line can be matched to the response.
            tracing::error!(code = self.code, error = ?source, "request failed");
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
