//! How an endpoint is set up: the seller Key, which protocol generations it accepts, the
//! credential encryption size, the V2 replay window and the clock.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use souk_protocol::{EncryptType, SellerKey};
use time::OffsetDateTime;

/// A source of the current time. Injected so that tests can move the V2 timestamp window
/// without sleeping.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// A clock frozen at `at` (for tests).
pub fn fixed_clock(at: OffsetDateTime) -> Clock {
    Arc::new(move || at)
}

/// Which protocol generation(s) an endpoint accepts.
///
/// KooGallery chooses the generation per product: V1 products are called with `GET` and all
/// parameters in the query string, V2 products with `POST` and a JSON body. The two never
/// share a method, so [`Profile::Auto`] (the default) serves both at one URL: `GET` = V1,
/// `POST` = V2. Pin a generation when a product must never be reached the other way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `GET` is V1, `POST` is V2.
    #[default]
    Auto,
    /// Only V1 (`GET`); a `POST` is answered with `000002`.
    V1,
    /// Only V2 (`POST`); a `GET` is answered with `000002`.
    V2,
}

impl Profile {
    /// Parses `auto`, `v1` or `v2` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "both" => Some(Profile::Auto),
            "v1" | "1" => Some(Profile::V1),
            "v2" | "2" => Some(Profile::V2),
            _ => None,
        }
    }

    /// Whether V1 requests are accepted.
    pub fn accepts_v1(self) -> bool {
        matches!(self, Profile::Auto | Profile::V1)
    }

    /// Whether V2 requests are accepted.
    pub fn accepts_v2(self) -> bool {
        matches!(self, Profile::Auto | Profile::V2)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Auto => "auto",
            Profile::V1 => "v1",
            Profile::V2 => "v2",
        })
    }
}

/// Configuration of one production endpoint.
#[derive(Clone)]
pub struct IsvConfig {
    /// The Key shown in Seller Center (V1: 服务商信息; V2: 应用工具 → 密钥管理). Signs and
    /// checks everything.
    pub key: SellerKey,
    /// Accepted protocol generation(s).
    pub profile: Profile,
    /// AES size used by [`crate::Context::encrypt`] and announced as `encryptType`. The
    /// marketplace assumes AES-256 when the field is absent; AES-128 is what many sellers in
    /// Python, PHP and Node implement.
    pub encrypt_type: EncryptType,
    /// Accepted distance between a V2 `timestamp` and now (the documented ±60 s).
    pub v2_window: Duration,
    /// Most V2 nonces remembered for replay detection.
    pub nonce_capacity: usize,
    /// Optional freshness window for V1 `timeStamp`. V1 documents none and the marketplace
    /// retries the *same* order for hours with fresh timestamps, so a window is safe, but
    /// it is off by default like in every known seller.
    pub v1_window: Option<Duration>,
    /// The current time.
    pub clock: Clock,
}

impl IsvConfig {
    /// Defaults: both generations, AES-256, ±60 s, 100 000 nonces, no V1 window, wall clock.
    pub fn new(key: impl Into<SellerKey>) -> Self {
        IsvConfig {
            key: key.into(),
            profile: Profile::Auto,
            encrypt_type: EncryptType::Aes256,
            v2_window: souk_protocol::v2::DEFAULT_WINDOW,
            nonce_capacity: 100_000,
            v1_window: None,
            clock: system_clock(),
        }
    }

    /// Sets [`IsvConfig::profile`].
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Sets [`IsvConfig::encrypt_type`].
    pub fn with_encrypt_type(mut self, encrypt_type: EncryptType) -> Self {
        self.encrypt_type = encrypt_type;
        self
    }

    /// Sets [`IsvConfig::clock`].
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The current time according to [`IsvConfig::clock`].
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

impl fmt::Debug for IsvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsvConfig")
            .field("key", &self.key)
            .field("profile", &self.profile)
            .field("encrypt_type", &self.encrypt_type)
            .field("v2_window", &self.v2_window)
            .field("nonce_capacity", &self.nonce_capacity)
            .field("v1_window", &self.v1_window)
            .finish_non_exhaustive()
    }
}
