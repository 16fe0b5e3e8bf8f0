//! Prefixed, time-ordered identifiers.
//!
//! An id looks like `sel_01jd3k9m8q4x7v2c5b6n0p1r2s`: a prefix naming the kind of thing, then 26
//! Crockford base32 characters holding 48 bits of creation time (milliseconds) and 80 random bits.
//! The prefix makes a pasted id self-describing in logs and support tickets; the time prefix makes
//! ids sort by creation, which gives cursor pagination a stable order for free.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Generates a new id with the given prefix (without the underscore).
pub fn generate(prefix: &str, now: OffsetDateTime) -> String {
    let ms = (now.unix_timestamp_nanos() / 1_000_000).clamp(0, (1i128 << 48) - 1) as u128;
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    let mut value: u128 = ms << 80;
    for (i, b) in random.iter().enumerate() {
        value |= (*b as u128) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    // 26 characters × 5 bits = 130 bits; the top two bits are always zero.
    for i in (0..26).rev() {
        let idx = ((value >> (i * 5)) & 31) as usize;
        out.push(ALPHABET[idx] as char);
    }
    out
}

/// Checks that `s` is an id with the given prefix. Used to turn a malformed id in a path into a
/// clear 404 before any query runs.
pub fn has_valid_shape(s: &str, prefix: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    rest.len() == 26 && rest.bytes().all(|b| ALPHABET.contains(&b))
}

/// Declares a newtype id with a fixed prefix.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, example = json!(concat!($prefix, "_01jd3k9m8q4x7v2c5b6n0p1r2s")))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate(now: OffsetDateTime) -> Self {
                Self(generate($prefix, now))
            }

            /// Accepts only well-formed ids of this kind.
            pub fn parse(s: &str) -> Option<Self> {
                has_valid_shape(s, $prefix).then(|| Self(s.to_owned()))
            }

            /// Wraps a value read back from our own database, which only ever holds ids we made.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// An API key's public identifier (not the secret).
    ApiKeyId, "key"
);
typed_id!(
    /// An audit record.
    AuditId, "aud"
);
typed_id!(
    /// A product in the catalog.
    ProductId, "prd"
);
typed_id!(
    /// One SKU (specification) of a product.
    SkuId, "sku"
);
typed_id!(
    /// A reviewed change to a listed product.
    RevisionId, "rev"
);
typed_id!(
    /// An order (a purchase, renewal, upgrade, trial or conversion); also the orderId sent to
    /// the seller.
    OrderId, "ord"
);
typed_id!(
    /// An instance: what a paid order opens, stable across every later order on it.
    InstanceId, "ins"
);
typed_id!(
    /// A call to a seller in the provisioning outbox (one per logical call, across retries).
    JobId, "job"
);
typed_id!(
    /// One attempt of a seller call, as recorded in the interface messages.
    AttemptId, "att"
);
typed_id!(
    /// A person who logs in to the web console on behalf of a party.
    ConsoleUserId, "usr"
);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_have_prefix_and_shape() {
        let id = generate("sel", datetime!(2026-11-22 0:00 UTC));
        assert!(id.starts_with("sel_"));
        assert_eq!(id.len(), 4 + 26);
        assert!(has_valid_shape(&id, "sel"));
        assert!(!has_valid_shape(&id, "buy"));
        assert!(!has_valid_shape("sel_short", "sel"));
        assert!(!has_valid_shape("sel_01jd3k9m8q4x7v2c5b6n0p1r2U", "sel"));
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = generate("x", datetime!(2026-11-22 0:00 UTC));
        let b = generate("x", datetime!(2026-11-22 0:00:00.001 UTC));
        assert!(a < b);
    }

    #[test]
    fn typed_ids_parse_only_their_kind() {
        let k = ApiKeyId::generate(datetime!(2026-11-22 0:00 UTC));
        assert_eq!(ApiKeyId::parse(k.as_str()), Some(k.clone()));
        assert_eq!(AuditId::parse(k.as_str()), None);
    }
}
