//! Authentication and authorisation, as extractors.
//!
//! A handler that takes [`Caller`] runs only for a request with a live API key; one that takes
//! [`OperatorCaller`] only for the operator. A credential that is present but malformed is
//! rejected, never treated as absent. Tenant scoping follows from the caller: [`Caller::scope`]
//! is what every store call receives, so a seller asking for another seller's resource gets the
//! same 404 as for one that does not exist.

use crate::error::AppError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use souk_core::party::{PartyId, Role};
use souk_store::{Principal, Scope};

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn party_id(&self) -> &PartyId {
        &self.0.party_id
    }

    /// The data this caller may see: everything for the operator, its own tenant otherwise.
    pub fn scope(&self) -> Scope {
        match self.0.role {
            Role::Operator => Scope::Everything,
            _ => Scope::Party(self.0.party_id.clone()),
        }
    }

    /// Refuses the request unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.0.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
            Err(AppError::forbidden(format!(
                "this needs the {} role; your key is a {} key",
                names.join(" or "),
                self.0.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::unauthenticated(
                "missing_credentials",
                "send your API key as the header Authorization: Bearer <key>",
            )
        })?;
        let value = header.to_str().map_err(|_| {
            AppError::unauthenticated(
                "invalid_credentials",
                "the Authorization header contains non-ASCII characters",
            )
        })?;
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                AppError::unauthenticated(
                    "invalid_credentials",
                    "the Authorization header must be `Bearer <key>`",
                )
            })?;
        souk_core::api_key::parse_shape(key)
            .map_err(|e| AppError::unauthenticated("invalid_api_key", e.to_string()))?;
        let principal = state
            .store
            .authenticate(&souk_core::api_key::hash(key), state.clock.now())
            .await?
            .ok_or_else(|| {
                AppError::unauthenticated(
                    "invalid_api_key",
                    "this API key is unknown or revoked, or its owner is suspended",
                )
            })?;
        Ok(Caller(principal))
    }
}

/// A request by the operator.
#[derive(Debug, Clone)]
pub struct OperatorCaller(pub Caller);

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(&[Role::Operator])?;
        Ok(OperatorCaller(caller))
    }
}
