//! AES credential / PII encryption (spec §2.4).
//!
//! ```text
//! wire   = iv16 ‖ Base64(AES-CBC-PKCS5(key = K(bits), iv = ASCII(iv16), UTF-8 plaintext))
//! K(128) = first 16 bytes of Java SHA1PRNG seeded with UTF-8(Key)
//! K(256) = first 32 bytes of the same stream
//! ```
//! Used for `appInfo.userName` / `appInfo.password` (seller → marketplace, size chosen by the
//! response's `encryptType`, default AES-256) and the V1 `mobilePhone` / `email` parameters
//! (marketplace → seller, size chosen when the product was published).
//!
//! [`sha1prng`] reproduces `sun.security.provider.SecureRandom` when `setSeed` is called
//! before the first output, which is what `KeyGenerator.init(bits, SecureRandom("SHA1PRNG"))`
//! does in the official sample. It is *not* a secure random generator; it is a key-derivation
//! function fixed by the protocol.

use aes::{Aes128, Aes256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::secret::SellerKey;

/// Length of the clear-text IV prefix.
pub const IV_LEN: usize = 16;

/// The `encryptType` response field: which AES size protects `appInfo` credentials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EncryptType {
    /// `"1"`: AES-256-CBC-PKCS5 — the documented default when the field is absent.
    #[default]
    #[serde(rename = "1")]
    Aes256,
    /// `"2"`: AES-128-CBC-PKCS5 (the only size many Python/PHP/Node sellers implement).
    #[serde(rename = "2")]
    Aes128,
}

impl EncryptType {
    /// Key size in bits.
    pub fn bits(self) -> u32 {
        match self {
            EncryptType::Aes256 => 256,
            EncryptType::Aes128 => 128,
        }
    }

    /// Wire value (`"1"` / `"2"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptType::Aes256 => "1",
            EncryptType::Aes128 => "2",
        }
    }

    /// Parses the wire value (surrounding whitespace ignored).
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        match s.trim() {
            "1" => Ok(EncryptType::Aes256),
            "2" => Ok(EncryptType::Aes128),
            other => Err(CryptoError::UnknownEncryptType(crate::lenient::excerpt(
                other,
            ))),
        }
    }

    /// The type from an optional response field, applying the documented default.
    pub fn from_field(field: Option<&str>) -> Result<Self, CryptoError> {
        match field {
            None => Ok(EncryptType::default()),
            Some(s) if s.trim().is_empty() => Ok(EncryptType::default()),
            Some(s) => Self::parse(s),
        }
    }

    /// The type for a key size in bits (128 or 256).
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits {
            128 => Some(EncryptType::Aes128),
            256 => Some(EncryptType::Aes256),
            _ => None,
        }
    }
}

/// Encryption / decryption failures.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// `encryptType` is neither "1" nor "2".
    #[error("unknown encryptType {0:?}")]
    UnknownEncryptType(String),
    /// The IV given to [`encrypt`] is not 16 ASCII characters.
    #[error("the IV must be 16 ASCII characters")]
    InvalidIv,
    /// The wire text is shorter than the IV or its IV is not ASCII.
    #[error("ciphertext too short or IV not ASCII")]
    Truncated,
    /// The part after the IV is not Base64.
    #[error("ciphertext is not valid Base64")]
    InvalidBase64,
    /// Wrong key, wrong size or corrupted data (bad padding).
    #[error("decryption failed (wrong key or size, or corrupted data)")]
    Decrypt,
    /// The decrypted bytes are not UTF-8.
    #[error("decrypted text is not UTF-8")]
    NotUtf8,
}

/// The first `len` bytes of Java's SHA1PRNG seeded (before first use) with `seed`.
pub fn sha1prng(seed: &[u8], len: usize) -> Vec<u8> {
    let mut state: [u8; 20] = Sha1::digest(seed).into();
    let mut out = Vec::with_capacity(len + 20);
    while out.len() < len {
        let block: [u8; 20] = Sha1::digest(state).into();
        update_state(&mut state, &block);
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

/// `state := state + output + 1` as Java computes it: little-endian byte-wise addition on
/// *signed* bytes with an arithmetic-shift carry; if no byte changed, `state[0] += 1`.
fn update_state(state: &mut [u8; 20], output: &[u8; 20]) {
    let mut carry: i32 = 1;
    let mut changed = false;
    for (s, o) in state.iter_mut().zip(output) {
        let v = i32::from(*s as i8) + i32::from(*o as i8) + carry;
        let t = v as u8; // truncation to the low byte, like Java's (byte) cast
        changed |= *s != t;
        *s = t;
        carry = v >> 8;
    }
    if !changed {
        state[0] = state[0].wrapping_add(1);
    }
}

/// The AES key the protocol derives from a Key string.
pub fn derive_key(key: &SellerKey, encrypt_type: EncryptType) -> Vec<u8> {
    sha1prng(key.as_bytes(), encrypt_type.bits() as usize / 8)
}

/// Encrypts with a caller-chosen IV (16 ASCII characters, normally `[A-Za-z0-9]`).
pub fn encrypt(
    key: &SellerKey,
    encrypt_type: EncryptType,
    plaintext: &str,
    iv: &str,
) -> Result<String, CryptoError> {
    if iv.len() != IV_LEN || !iv.is_ascii() {
        return Err(CryptoError::InvalidIv);
    }
    let k = derive_key(key, encrypt_type);
    let iv_bytes = iv.as_bytes();
    // Key and IV lengths are fixed above, so `new_from_slices` cannot fail.
    let ct = match encrypt_type {
        EncryptType::Aes128 => cbc::Encryptor::<Aes128>::new_from_slices(&k, iv_bytes)
            .map_err(|_| CryptoError::InvalidIv)?
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
        EncryptType::Aes256 => cbc::Encryptor::<Aes256>::new_from_slices(&k, iv_bytes)
            .map_err(|_| CryptoError::InvalidIv)?
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes()),
    };
    Ok(format!("{iv}{}", STANDARD.encode(ct)))
}

/// Encrypts with a fresh IV of 16 random `[A-Za-z0-9]` characters drawn from `rng` (as the
/// official sample's `getRandomChars`). Pass a cryptographically secure generator.
pub fn encrypt_random_iv<R: Rng + ?Sized>(
    key: &SellerKey,
    encrypt_type: EncryptType,
    plaintext: &str,
    rng: &mut R,
) -> String {
    let iv: String = (0..IV_LEN)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect();
    // The IV is 16 ASCII characters by construction, so this cannot fail.
    encrypt(key, encrypt_type, plaintext, &iv).expect("generated IV is valid")
}

/// Decrypts `iv16 ‖ Base64(ciphertext)`. Spaces in the Base64 part are read as `+` (a `+`
/// that went through form decoding), and leading whitespace and trailing line breaks are ignored.
pub fn decrypt(
    key: &SellerKey,
    encrypt_type: EncryptType,
    wire: &str,
) -> Result<String, CryptoError> {
    // Trailing spaces are kept: a Base64 text without padding may end in a mangled `+`.
    let wire = wire.trim_start().trim_end_matches(['\r', '\n', '\t']);
    let iv = wire
        .get(..IV_LEN)
        .filter(|iv| iv.is_ascii())
        .ok_or(CryptoError::Truncated)?;
    let b64 = wire[IV_LEN..].replace(' ', "+");
    let ct = STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| CryptoError::InvalidBase64)?;
    let k = derive_key(key, encrypt_type);
    let pt = match encrypt_type {
        EncryptType::Aes128 => cbc::Decryptor::<Aes128>::new_from_slices(&k, iv.as_bytes())
            .map_err(|_| CryptoError::Decrypt)?
            .decrypt_padded_vec_mut::<Pkcs7>(&ct),
        EncryptType::Aes256 => cbc::Decryptor::<Aes256>::new_from_slices(&k, iv.as_bytes())
            .map_err(|_| CryptoError::Decrypt)?
            .decrypt_padded_vec_mut::<Pkcs7>(&ct),
    }
    .map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(pt).map_err(|_| CryptoError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SellerKey {
        SellerKey::new("test-key-0123")
    }

    /// Spec §10.3: key derivation.
    #[test]
    fn vector_10_3_key_derivation() {
        assert_eq!(
            hex::encode(derive_key(&key(), EncryptType::Aes128)),
            "79379eb291a297b754a017314ae8485a"
        );
        assert_eq!(
            hex::encode(derive_key(&key(), EncryptType::Aes256)),
            "79379eb291a297b754a017314ae8485add6a1e25ac534b8eb066de835a59610e"
        );
        // AES-128 is SHA1(SHA1(Key))[..16], as the Python/PHP sellers compute it.
        let twice = Sha1::digest(Sha1::digest(b"test-key-0123"));
        assert_eq!(derive_key(&key(), EncryptType::Aes128), twice[..16]);
    }

    /// Spec §10.3: the JDK cross-check with seed `abc`.
    #[test]
    fn vector_10_3_seed_abc() {
        let abc = SellerKey::new("abc");
        assert_eq!(
            hex::encode(derive_key(&abc, EncryptType::Aes128)),
            "0d3ced9bec10a777aec23ccc353a8c08"
        );
        let k256 = hex::encode(derive_key(&abc, EncryptType::Aes256));
        assert!(
            k256.starts_with("0d3ced9bec10a777aec23ccc353a8c08"),
            "{k256}"
        );
        assert!(k256.ends_with("a633045e09554bc3702aec7d7b6e0f28"), "{k256}");
    }

    /// Spec §10.3: ciphertexts.
    #[test]
    fn vector_10_3_ciphertexts() {
        let iv = "0123456789abcdef";
        let c128 = encrypt(&key(), EncryptType::Aes128, "admin", iv).unwrap();
        assert_eq!(c128, "0123456789abcdefFXa2szeZTjahNjPkCJ8Njg==");
        let c256 = encrypt(&key(), EncryptType::Aes256, "admin", iv).unwrap();
        assert_eq!(c256, "0123456789abcdefnhw9igoF6wgdb/QeM1mEfQ==");
        assert_eq!(
            decrypt(&key(), EncryptType::Aes128, &c128).unwrap(),
            "admin"
        );
        assert_eq!(
            decrypt(&key(), EncryptType::Aes256, &c256).unwrap(),
            "admin"
        );
        // A `+` mangled into a space by form decoding still decrypts.
        let with_plus = (0..100)
            .map(|i| encrypt(&key(), EncryptType::Aes128, &format!("admin{i}"), iv).unwrap())
            .enumerate()
            .find(|(_, c)| c[IV_LEN..].contains('+'))
            .expect("some ciphertext contains '+'");
        assert_eq!(
            decrypt(&key(), EncryptType::Aes128, &with_plus.1.replace('+', " ")).unwrap(),
            format!("admin{}", with_plus.0)
        );
    }

    #[test]
    fn wrong_size_or_garbage_fails_cleanly() {
        let c128 = encrypt(&key(), EncryptType::Aes128, "admin", "0123456789abcdef").unwrap();
        assert!(decrypt(&key(), EncryptType::Aes256, &c128).is_err());
        assert_eq!(
            decrypt(&key(), EncryptType::Aes128, "short"),
            Err(CryptoError::Truncated)
        );
        assert_eq!(
            decrypt(&key(), EncryptType::Aes128, "0123456789abcdef!!!"),
            Err(CryptoError::InvalidBase64)
        );
        assert_eq!(
            decrypt(&key(), EncryptType::Aes128, "ééééééééé"),
            Err(CryptoError::Truncated)
        );
        assert_eq!(
            encrypt(&key(), EncryptType::Aes128, "x", "short"),
            Err(CryptoError::InvalidIv)
        );
    }

    #[test]
    fn random_iv_is_alphanumeric() {
        let mut rng = rand::thread_rng();
        let wire = encrypt_random_iv(&key(), EncryptType::Aes256, "p@ss wörd", &mut rng);
        assert!(wire[..IV_LEN].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(
            decrypt(&key(), EncryptType::Aes256, &wire).unwrap(),
            "p@ss wörd"
        );
    }

    #[test]
    fn encrypt_type_wire_values() {
        assert_eq!(EncryptType::from_field(None).unwrap(), EncryptType::Aes256);
        assert_eq!(
            EncryptType::from_field(Some("2")).unwrap(),
            EncryptType::Aes128
        );
        assert!(EncryptType::from_field(Some("3")).is_err());
        assert_eq!(
            serde_json::to_string(&EncryptType::Aes128).unwrap(),
            "\"2\""
        );
        assert_eq!(EncryptType::from_bits(256), Some(EncryptType::Aes256));
    }
}
