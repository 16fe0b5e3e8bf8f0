//! Seller SDK for the KooGallery (华为云云商店) production interface, as served by Souk.
//!
//! A seller's "production interface" (生产接口) is the one URL the marketplace calls when a
//! buyer purchases, renews, upgrades, lets expire or releases a product. This crate does the
//! protocol work around the seller's business logic:
//!
//! 1. **verify** the call — V1 `GET` with `authToken`, or V2 `POST` with
//!    `signature`/`timestamp`/`nonce` (±60 s window and a nonce replay cache) — and refuse a
//!    bad one with the documented `000001` answer ([`Verifier`]);
//! 2. **parse** it into one typed request per operation ([`request`]) and call the matching
//!    method of your [`Seller`];
//! 3. **answer**: serialise your [`SellerResponse`], add `encryptType` when it carries
//!    credentials you encrypted with [`Context::app_info`], and sign the exact bytes with a
//!    `Body-Sign` header ([`SignedResponse`]).
//!
//! [`router`] packages all three as an axum [`Router`](axum::Router). The wire formats and
//! algorithms live in [`souk_protocol`]; this crate has no dependency on Souk's server.
//!
//! Also here: [`example`], a complete in-memory seller (`souk example-seller`) that tests and
//! demos start on port 0; [`tester`] (feature `tester`, on by default), the conformance
//! tester behind `souk isv-test`; [`bench`](mod@bench), the signature benchmark behind
//! `souk bench signatures`.
//!
//! # Example
//!
//! ```no_run
//! use souk_isv::request::{NewInstance, RefreshInstance, ReleaseInstance, StatusChange};
//! use souk_isv::{Context, IsvConfig, ResultCode, Seller, SellerResponse};
//!
//! struct MySeller;
//!
//! impl Seller for MySeller {
//!     async fn new_instance(&self, ctx: Context, req: NewInstance) -> SellerResponse {
//!         // Look up req.idempotency_key() first: retries must get the same instance.
//!         let mut answer = SellerResponse::success();
//!         answer.instance_id = Some(req.business_id().to_owned());
//!         answer.app_info = Some(ctx.app_info("https://app.example.com/", "admin", "s3cret"));
//!         answer
//!     }
//!     async fn refresh_instance(&self, _ctx: Context, _req: RefreshInstance) -> SellerResponse {
//!         SellerResponse::success()
//!     }
//!     async fn update_instance_status(&self, _ctx: Context, _req: StatusChange) -> SellerResponse {
//!         SellerResponse::success()
//!     }
//!     async fn release_instance(&self, _ctx: Context, _req: ReleaseInstance) -> SellerResponse {
//!         SellerResponse::error(ResultCode::InstanceNotFound)
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let config = IsvConfig::new("the-key-from-seller-center");
//! let app = axum::Router::new().nest("/produce", souk_isv::router(MySeller, config));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Without axum, use [`Verifier`] and [`dispatch`] directly:
//!
//! ```
//! use souk_isv::{IsvConfig, Verifier};
//! use souk_protocol::query::encode_params;
//! use souk_protocol::v1::sign_v1_params;
//!
//! let config = IsvConfig::new("test-key-0123");
//! let key = config.key.clone();
//! let verifier = Verifier::new(config);
//! let mut params = souk_protocol::Params::new();
//! for (k, v) in [("activity", "expireInstance"), ("instanceId", "i-1"),
//!                ("orderId", "CS1"), ("timeStamp", "20240101000000000")] {
//!     params.insert(k.into(), v.into());
//! }
//! sign_v1_params(&key, &mut params);
//! let activity = verifier.verify_v1(&encode_params(&params)).unwrap();
//! assert_eq!(activity.activity(), "expireInstance");
//!
//! params.insert("instanceId".into(), "i-2".into()); // altered after signing
//! let refused = verifier.verify_v1(&encode_params(&params)).unwrap_err();
//! assert_eq!(refused.result_code(), souk_isv::ResultCode::AuthenticationFailed);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod config;
pub mod example;
pub mod request;
mod router;
mod seller;
#[cfg(feature = "tester")]
pub mod tester;
mod verify;

pub use config::{fixed_clock, system_clock, Clock, IsvConfig, Profile};
pub use router::router;
pub use seller::{dispatch, not_supported, Context, Generation, Seller};
pub use verify::{Incoming, Rejection, SignedResponse, Verifier};

pub use souk_protocol;
pub use souk_protocol::activity::{AppInfo, InstanceInfo, SellerResponse};
/// Verify Souk's signed offline license files with no network (`docs/licenses.md`).
pub use souk_protocol::license_file;
pub use souk_protocol::{EncryptType, ResultCode, SellerKey};
