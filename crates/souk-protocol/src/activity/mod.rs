//! Typed activities (requests) and the seller response.

mod param;

pub use param::{ParamError, ParamValue};
