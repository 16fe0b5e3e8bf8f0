//! Products, SKUs, prices, review and seller integration profiles.

use crate::*;

#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {}

#[async_trait]
impl CatalogStore for SqlStore {}
