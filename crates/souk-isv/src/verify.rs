//! Checking incoming calls and signing answers, without any web framework.
//!
//! [`Verifier`] is what [`crate::router`] uses internally; call it directly when the endpoint
//! is not built on axum. Every rejection maps to the documented answer: authentication
//! failures to `000001`, unreadable parameters to `000002`, both signed with `Body-Sign` like
//! every other answer (the marketplace discards unsigned answers).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use souk_protocol::activity::{ParamError, SellerResponse, V1Activity, V2Activity, V2ParseError};
use souk_protocol::query::parse_params;
use souk_protocol::timestamp::unix_millis;
use souk_protocol::v2::{NonceCache, V2Credentials};
use souk_protocol::{AuthError, Params, ResultCode};
use thiserror::Error;

use crate::config::IsvConfig;

/// A verified, parsed call from the marketplace.
// One value per request, moved a couple of times: boxing the V1 variant would only make
// matching on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A V1 `GET`.
    V1(V1Activity),
    /// A V2 `POST`.
    V2(V2Activity),
}

impl Incoming {
    /// The wire name of the activity (`newInstance`, …).
    pub fn activity(&self) -> &'static str {
        match self {
            Incoming::V1(a) => a.activity(),
            Incoming::V2(a) => a.activity(),
        }
    }

    /// Whether the marketplace marked the call as a test (`testFlag=1`): debugging-tool calls
    /// and the twice-daily probes replaying saved test cases.
    pub fn is_test(&self) -> bool {
        match self {
            Incoming::V1(a) => a.is_test(),
            Incoming::V2(a) => a.is_test(),
        }
    }
}

/// Why a call was refused before reaching the seller's code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    /// Signature, timestamp or nonce check failed → `000001`.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The V1 parameters do not form a known activity → `000002`.
    #[error("invalid V1 parameters: {0}")]
    V1Params(#[from] ParamError),
    /// The V2 body does not form a known activity → `000002`.
    #[error("invalid V2 body: {0}")]
    V2Body(#[from] V2ParseError),
    /// The request used a generation the endpoint's [`crate::Profile`] excludes → `000002`.
    #[error("{0} requests are not accepted by this endpoint")]
    WrongGeneration(&'static str),
}

impl Rejection {
    /// The documented result code for this rejection.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Rejection::Auth(_) => ResultCode::AuthenticationFailed,
            _ => ResultCode::InvalidParameter,
        }
    }

    /// The answer to send. The message names the problem but never a secret or an expected
    /// signature.
    pub fn response(&self) -> SellerResponse {
        let msg = match self {
            Rejection::Auth(_) => "authentication failed".to_owned(),
            other => other.to_string(),
        };
        SellerResponse::new(self.result_code(), msg)
    }
}

/// A serialised answer and its `Body-Sign` header, signed over exactly these bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedResponse {
    /// The JSON body, byte for byte as sent.
    pub body: Vec<u8>,
    /// The `Body-Sign` header value.
    pub body_sign: String,
}

impl SignedResponse {
    /// Serialises and signs `response` with `key`.
    pub fn sign(key: &souk_protocol::SellerKey, response: &SellerResponse) -> Self {
        let (body, body_sign) = response.to_signed_body(key);
        SignedResponse { body, body_sign }
    }
}

impl IntoResponse for SignedResponse {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        // Base64 and ASCII punctuation only, so the value is always a valid header.
        if let Ok(value) = HeaderValue::from_str(&self.body_sign) {
            headers.insert(souk_protocol::body_sign::HEADER, value);
        }
        response
    }
}

/// Checks calls against one endpoint's configuration and remembers V2 nonces.
#[derive(Debug)]
pub struct Verifier {
    config: IsvConfig,
    nonces: NonceCache,
}

impl Verifier {
    /// A verifier with an empty nonce cache.
    pub fn new(config: IsvConfig) -> Self {
        let nonces = NonceCache::new(config.v2_window, config.nonce_capacity);
        Verifier { config, nonces }
    }

    /// The configuration.
    pub fn config(&self) -> &IsvConfig {
        &self.config
    }

    /// Verifies and parses a V1 call from its raw query string (the part after `?`).
    pub fn verify_v1(&self, raw_query: &str) -> Result<V1Activity, Rejection> {
        self.verify_v1_params(&parse_params(raw_query))
    }

    /// Verifies and parses already-decoded V1 parameters.
    pub fn verify_v1_params(&self, params: &Params) -> Result<V1Activity, Rejection> {
        if !self.config.profile.accepts_v1() {
            return Err(Rejection::WrongGeneration("V1 (GET)"));
        }
        souk_protocol::v1::verify_v1(&self.config.key, params)?;
        if let Some(window) = self.config.v1_window {
            souk_protocol::v1::check_v1_timestamp(params, self.config.now(), window)?;
        }
        Ok(V1Activity::from_params(params)?)
    }

    /// Verifies and parses a V2 call: `signature`, `timestamp` and `nonce` from the raw query
    /// string, the signature over the raw `body`, the timestamp window, the nonce cache.
    pub fn verify_v2(&self, raw_query: &str, body: &[u8]) -> Result<V2Activity, Rejection> {
        if !self.config.profile.accepts_v2() {
            return Err(Rejection::WrongGeneration("V2 (POST)"));
        }
        let params = parse_params(raw_query);
        let creds = V2Credentials::from_params(&params)?;
        creds.verify(
            &self.config.key,
            body,
            unix_millis(self.config.now()),
            self.config.v2_window,
            Some(&self.nonces),
        )?;
        Ok(V2Activity::from_body(body)?)
    }

    /// Dispatches on the method: `GET` is V1, `POST` is V2, anything else is refused.
    pub fn verify(
        &self,
        method: &axum::http::Method,
        raw_query: &str,
        body: &[u8],
    ) -> Result<Incoming, Rejection> {
        if method == axum::http::Method::GET {
            self.verify_v1(raw_query).map(Incoming::V1)
        } else if method == axum::http::Method::POST {
            self.verify_v2(raw_query, body).map(Incoming::V2)
        } else {
            Err(Rejection::WrongGeneration("non-GET/POST"))
        }
    }

    /// Serialises and signs an answer with this endpoint's Key.
    pub fn sign(&self, response: &SellerResponse) -> SignedResponse {
        SignedResponse::sign(&self.config.key, response)
    }

    /// The V2 window (for callers that want to report it).
    pub fn v2_window(&self) -> Duration {
        self.config.v2_window
    }
}
