//! The KooGallery seller-integration wire contract. No I/O.
