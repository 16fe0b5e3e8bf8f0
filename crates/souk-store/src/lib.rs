//! souk-store
