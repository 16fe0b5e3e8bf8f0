//! What a seller receives of its buyer: the details the product asked for (`buyer_fields`),
//! with the phone number and e-mail address AES-encrypted under the seller's Key at the key
//! size the product chose (`pii_encrypt_bits`, 128 or 256), as KooGallery sends them
//! (protocol spec §2.4, §3.1). Used by newInstance/getLicense (V1) and the order-query API.

use souk_core::snapshot::BuyerContact;
use souk_protocol::credentials::{encrypt_random_iv, EncryptType};
use souk_protocol::secret::SellerKey;

/// Buyer details ready for the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireContact {
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// `iv16 ‖ Base64(AES-CBC(phone))`.
    pub mobile_phone: Option<String>,
    /// `iv16 ‖ Base64(AES-CBC(e-mail))`.
    pub email: Option<String>,
}

/// The AES size a product chose for personal data (256 unless it chose 128).
pub fn pii_encrypt_type(bits: u16) -> EncryptType {
    EncryptType::from_bits(u32::from(bits)).unwrap_or(EncryptType::Aes256)
}

pub fn wire_contact(contact: &BuyerContact, key: &SellerKey, bits: u16) -> WireContact {
    let encrypt_type = pii_encrypt_type(bits);
    let mut rng = rand::rngs::OsRng;
    let mut seal = |v: &Option<String>| {
        v.as_deref()
            .map(|plain| encrypt_random_iv(key, encrypt_type, plain, &mut rng))
    };
    WireContact {
        user_id: contact.user_id.clone(),
        user_name: contact.user_name.clone(),
        mobile_phone: seal(&contact.mobile_phone),
        email: seal(&contact.email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_protocol::credentials::decrypt;

    #[test]
    fn phone_and_email_decrypt_with_the_products_key_size_only() {
        let key = SellerKey::new("seller-key");
        let contact = BuyerContact {
            email: Some("buyer@example.com".into()),
            mobile_phone: Some("+8613800000000".into()),
            user_id: Some("buy_1".into()),
            ..Default::default()
        };
        for (bits, right, wrong) in [
            (128, EncryptType::Aes128, EncryptType::Aes256),
            (256, EncryptType::Aes256, EncryptType::Aes128),
        ] {
            let w = wire_contact(&contact, &key, bits);
            let email = w.email.unwrap();
            assert_ne!(email, "buyer@example.com");
            assert_eq!(decrypt(&key, right, &email).unwrap(), "buyer@example.com");
            assert_ne!(
                decrypt(&key, wrong, &email).ok().as_deref(),
                Some("buyer@example.com")
            );
            let phone = w.mobile_phone.unwrap();
            assert_eq!(decrypt(&key, right, &phone).unwrap(), "+8613800000000");
            assert_eq!(w.user_id.as_deref(), Some("buy_1"));
        }
        assert_eq!(
            wire_contact(&BuyerContact::default(), &key, 256),
            WireContact::default()
        );
    }
}
