//! API keys: `sk_<role>_<32 base62 characters>`.
//!
//! Keys carry ~190 bits of randomness, so a single unsalted SHA-256 is enough to store them: there
//! is nothing to brute-force, and a hash lets the server find a key with one indexed lookup. The
//! plain key is shown once, at creation, and never stored.

use crate::party::Role;
use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_LEN: usize = 32;

/// A freshly generated key: the secret to show once, and what to store.
pub struct NewApiKey {
    pub plaintext: String,
    pub hash: String,
    /// The first characters, kept to help people tell their keys apart in listings.
    pub display_prefix: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("display_prefix", &self.display_prefix)
            .finish_non_exhaustive()
    }
}

pub fn generate(role: Role) -> NewApiKey {
    let mut rng = rand::thread_rng();
    let secret: String = (0..SECRET_LEN)
        .map(|_| BASE62[rng.gen_range(0..62)] as char)
        .collect();
    from_plaintext(format!("{}{}", role.key_prefix(), secret))
}

/// Builds the stored form of a key supplied from outside (`SOUK_BOOTSTRAP_OPERATOR_KEY`).
pub fn from_plaintext(plaintext: String) -> NewApiKey {
    let hash = hash(&plaintext);
    let display_prefix = plaintext.chars().take(12).collect();
    NewApiKey {
        plaintext,
        hash,
        display_prefix,
    }
}

pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Why a presented credential is not even worth a lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyShapeError {
    #[error("the API key does not start with a known prefix (sk_op_, sk_sel_, sk_buy_, sk_rsl_)")]
    UnknownPrefix,
    #[error("the API key has the wrong length or characters")]
    Malformed,
}

/// Reads the role from a key's prefix and checks its shape.
pub fn parse_shape(key: &str) -> Result<Role, KeyShapeError> {
    let role = Role::ALL
        .into_iter()
        .find(|r| key.starts_with(r.key_prefix()))
        .ok_or(KeyShapeError::UnknownPrefix)?;
    let secret = &key[role.key_prefix().len()..];
    if secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(role)
    } else {
        Err(KeyShapeError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_their_role() {
        for r in Role::ALL {
            let k = generate(r);
            assert!(k.plaintext.starts_with(r.key_prefix()));
            assert_eq!(parse_shape(&k.plaintext), Ok(r));
            assert_eq!(k.hash, hash(&k.plaintext));
            assert!(!format!("{k:?}").contains(&k.plaintext));
        }
    }

    #[test]
    fn garbage_is_refused_before_lookup() {
        assert_eq!(parse_shape("hello"), Err(KeyShapeError::UnknownPrefix));
        assert_eq!(parse_shape("sk_op_short"), Err(KeyShapeError::Malformed));
        assert_eq!(
            parse_shape("sk_op_0123456789012345678901234567890!"),
            Err(KeyShapeError::Malformed)
        );
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(
            generate(Role::Buyer).plaintext,
            generate(Role::Buyer).plaintext
        );
    }
}
