//! Secret newtypes whose `Debug` never shows the secret.
//!
//! Keys end up inside configuration structs, request contexts and error reports that are
//! routinely `{:?}`-logged; redacting at the type level means nobody has to remember to.
//! Neither type implements `Display` or `Serialize`: getting the bytes out requires an explicit
//! call to [`SellerKey::expose`] / [`SecretKey::expose`], which is easy to grep for.

use std::fmt;

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret string.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(secret.into())
            }

            /// The secret itself. Call sites of this function are the audit list.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// The secret as UTF-8 bytes (what every HMAC in the protocol is keyed with).
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }

        /// Constant-time, so comparing a configured key with a presented one leaks nothing.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(secret: String) -> Self {
                Self(secret)
            }
        }

        impl From<&str> for $name {
            fn from(secret: &str) -> Self {
                Self(secret.to_owned())
            }
        }

        /// Deserialises from a plain string so configuration files can hold keys.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

secret_newtype! {
    /// The seller's KooGallery "Key" (访问密钥 / Key值): the shared secret behind the V1 authToken,
    /// Body-Sign, the V2 signature, the usage-push signature and the AES credential encryption.
    SellerKey
}

secret_newtype! {
    /// An APIG secret access key (SK) for `SDK-HMAC-SHA256` signing (spec §9.1).
    SecretKey
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let key = SellerKey::new("super-secret");
        assert_eq!(format!("{key:?}"), "SellerKey(***)");
        let sk = SecretKey::new("super-secret");
        assert_eq!(format!("{sk:?}"), "SecretKey(***)");
        #[derive(Debug)]
        #[allow(dead_code)] // only read through Debug
        struct Config {
            key: SellerKey,
        }
        let shown = format!("{:?}", Config { key });
        assert!(!shown.contains("super-secret"), "{shown}");
    }

    #[test]
    fn deserialises_from_a_string() {
        let key: SellerKey = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(key.expose(), "abc");
        assert_eq!(key, SellerKey::from("abc"));
        assert_ne!(key, SellerKey::from("abd"));
    }
}
