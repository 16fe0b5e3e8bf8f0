//! Balances, orders, instances and the provisioning job queue.

use crate::*;

#[async_trait]
pub trait CommerceStore: Send + Sync + 'static {}

#[async_trait]
impl CommerceStore for SqlStore {}
