//! souk-isv
