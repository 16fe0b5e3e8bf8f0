//! The KooGallery (华为云云商店) seller-integration wire contract. No I/O.
//!
//! Everything the marketplace server, the seller SDK and the conformance tester must agree on
//! byte for byte lives here, as pure functions and plain data. Nothing reads the clock or the
//! network: the current time, randomness and request parts are always passed in, so every
//! result is reproducible in tests. The reference is `shared/spec/koogallery.md`; section
//! numbers (§) below point into it.
//!
//! | module | what |
//! |---|---|
//! | [`codes`] | `resultCode` ([`ResultCode`]) and License open-API `error_code` ([`LicenseErrorCode`]) (§6) |
//! | [`secret`] | [`SellerKey`] and [`SecretKey`], redacted in `Debug` |
//! | [`query`] | RFC 3986 query encoding and lenient form-style parsing; [`Params`] |
//! | [`timestamp`] | `yyyyMMddHHmmss`, `yyyyMMddHHmmssSSS`, `yyyyMMdd'T'HHmmss'Z'` |
//! | [`v1`] | V1 `authToken` over GET parameters (§2.1) |
//! | [`body_sign`] | the `Body-Sign` response header (§2.3) |
//! | [`v2`] | V2 signature, Kit v2 `x-sign` headers, nonce replay cache, canonical V2 body (§4) |
//! | [`kit`] | joint-operation Kit v1 `authToken` header (§2.2) |
//! | [`credentials`] | SHA1PRNG-derived AES-CBC credential / PII encryption (§2.4) |
//! | [`apig`] | APIG `SDK-HMAC-SHA256` AK/SK signer and verifier (§9.1) |
//! | [`license_api`] | the License open API's answers (activate, heartbeat, batch) and the gateway's refusal |
//! | [`license_file`] | Souk's signed offline license files (Ed25519; `docs/licenses.md`) |
//! | [`usage`] | usage-record push signature and body (§9.5) |
//! | [`extend_params`] | `saasExtendParams` Base64-JSON (§3.1) |
//! | [`activity`] | typed requests (V1, V2, License 2.0, Kit) and the seller response (§3, §5, §8, §9.4) |
//!
//! Conventions: verification functions take the raw bytes that were received and never
//! re-serialise; parsers of network input never panic and keep unknown values
//! (`Other(String)`) instead of failing; errors never contain secrets or expected signatures.
//! Interpretation choices where the spec is unsure (\[I\]/\[U\]) are documented on the module that
//! makes them and summarised in the crate README.
//!
//! # Example: one V2 call, both sides
//!
//! ```
//! use souk_protocol::activity::{v2::OrderNotify, SellerResponse, V2Activity};
//! use souk_protocol::body_sign::verify_body_sign;
//! use souk_protocol::v2::{NonceCache, V2Credentials, DEFAULT_WINDOW};
//! use souk_protocol::SellerKey;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SellerKey::new("test-key-0123");
//! let now_ms = 1_700_000_000_000; // callers inject time
//!
//! // Marketplace: build the body, sign exactly those bytes, send `creds.query_pairs()`.
//! let activity: V2Activity = OrderNotify {
//!     order_id: "CS1".into(),
//!     order_line_id: "CS1-000001".into(),
//!     test_flag: None,
//! }
//! .into();
//! let body = activity.to_body();
//! let creds = V2Credentials::sign(&key, &body, "50D83FDECAED6CCD", now_ms);
//!
//! // Seller: check the signature on the raw body, then parse it.
//! let nonces = NonceCache::new(DEFAULT_WINDOW, 100_000);
//! creds.verify(&key, &body, now_ms + 1_500, DEFAULT_WINDOW, Some(&nonces))?;
//! assert_eq!(V2Activity::from_body(&body)?, activity);
//! let (answer, body_sign) = SellerResponse::success().to_signed_body(&key);
//!
//! // Marketplace: check Body-Sign over the raw answer, then read it.
//! verify_body_sign(&key, &answer, Some(&body_sign))?;
//! assert!(SellerResponse::from_body(&answer)?.result_code.is_success());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod lenient;
mod wire_enum;

pub mod activity;
pub mod apig;
pub mod body_sign;
pub mod codes;
pub mod credentials;
pub mod extend_params;
pub mod kit;
pub mod license_api;
pub mod license_file;
pub mod order_query;
pub mod query;
pub mod secret;
pub mod timestamp;
pub mod usage;
pub mod v1;
pub mod v2;

pub use auth::AuthError;
pub use codes::{LicenseErrorCode, ResultCode};
pub use credentials::EncryptType;
pub use query::Params;
pub use secret::{SecretKey, SellerKey};
