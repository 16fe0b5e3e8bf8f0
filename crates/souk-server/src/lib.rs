//! souk-server
