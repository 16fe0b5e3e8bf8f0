//! The blob store behind attachments: the local filesystem under `<data_dir>/blobs` by default,
//! or an S3-compatible bucket when configured, so that several `souk` processes on one
//! PostgreSQL read and write the same files. Both are `object_store` implementations; nothing
//! else in Souk knows which one it has.

use crate::config::{BlobStoreKind, Config};
use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use std::sync::Arc;

pub fn open(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let a = &config.attachments;
    match a.store {
        BlobStoreKind::Local => {
            let dir = config.data_dir.join("blobs");
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the blob directory {}", dir.display()))?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(&dir)?))
        }
        BlobStoreKind::S3 => {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&a.s3_bucket)
                .with_region(&a.s3_region)
                .with_access_key_id(&a.s3_access_key_id)
                .with_secret_access_key(
                    a.s3_secret_access_key
                        .as_ref()
                        .map(|s| s.expose().to_owned())
                        .unwrap_or_default(),
                );
            if !a.s3_endpoint.is_empty() {
                b = b
                    .with_endpoint(&a.s3_endpoint)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(a.s3_endpoint.starts_with("http://"));
            }
            Ok(Arc::new(
                b.build().context("configuring the S3 blob store")?,
            ))
        }
    }
}
