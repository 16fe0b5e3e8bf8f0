//! Attachments of an order: streamed into the blob store with their size and sha256 taken on
//! the way, limited in size and type, readable only by the order's parties and operators.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use souk_core::party::PartyId;
use souk_store::{AttachmentRecord, Scope};
use tokio::io::AsyncWriteExt;

/// Bytes held in memory per upload before it becomes a multipart upload: S3's smallest part.
const PART_BYTES: usize = 5 * 1024 * 1024;

fn too_large(max: u64) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "attachment_too_large",
        format!("attachments are at most {max} bytes"),
    )
}

pub fn check_filename(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty()
        || n.chars().count() > 200
        || n.contains(['/', '\\'])
        || n.chars().any(char::is_control)
        || n == "."
        || n == ".."
    {
        return Err(AppError::invalid_field(
            "filename",
            "filename is 1 to 200 characters, without slashes or control characters",
        ));
    }
    Ok(n.to_owned())
}

/// The content type without parameters, if it is one the marketplace accepts.
fn check_type(state: &AppState, content_type: Option<&str>) -> AppResult<String> {
    let t = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let allowed = &state.config.attachments.allowed_types;
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&t)) {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "attachments may be {}; send the file's type as Content-Type",
                allowed.join(", ")
            ),
        ));
    }
    Ok(t)
}

/// A file streamed into the blob store.
pub struct StoredBlob {
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex sha256 of the bytes, taken on the way.
    pub sha256: String,
}

/// Streams `body` to `key` in the blob store with the attachments' limits (size, types),
/// taking its size and sha256 on the way; nothing is kept of a refused or broken upload.
pub async fn store_blob<S, E>(
    state: &AppState,
    key: &str,
    content_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> AppResult<StoredBlob>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let content_type = check_type(state, content_type)?;
    let max = state.config.attachments.max_bytes;
    // A declared length over the limit is refused before a byte is read.
    if content_length.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let mut writer = BufWriter::with_capacity(state.blobs.clone(), Path::from(key), PART_BYTES);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut body = body;
    let streamed: AppResult<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::bad_request("upload_interrupted", format!("the upload broke off: {e}"))
            })?;
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large(max));
            }
            hasher.update(&chunk);
            writer.write_all(&chunk).await.map_err(AppError::internal)?;
        }
        if size == 0 {
            return Err(AppError::invalid_field("body", "the file is empty"));
        }
        Ok(())
    }
    .await;
    if let Err(e) = streamed {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer.shutdown().await.map_err(AppError::internal)?;
    Ok(StoredBlob {
        content_type,
        size_bytes: size as i64,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Uploads one attachment to an order visible to the caller.
#[allow(clippy::too_many_arguments)]
pub async fn upload<S, E>(
    state: &AppState,
    uploader: &PartyId,
    scope: &Scope,
    order_id: &str,
    filename: &str,
    content_type: Option<&str>,
    content_length: Option<u64>,
    body: S,
) -> AppResult<AttachmentRecord>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let order = state
        .store
        .find_order(scope, &crate::usecase::orders::order_id(order_id)?)
        .await?
        .ok_or_else(|| AppError::not_found("order"))?;
    let filename = check_filename(filename)?;
    let now = state.clock.now();
    let id = souk_core::id::generate("att", now);
    let key = format!("attachments/{}/{id}", order.id);
    let blob = store_blob(state, &key, content_type, content_length, body).await?;
    let record = AttachmentRecord {
        id,
        order_id: order.id,
        uploader_id: uploader.clone(),
        filename,
        content_type: blob.content_type,
        size_bytes: blob.size_bytes,
        sha256: blob.sha256,
        storage_key: key,
        created_at: now,
    };
    if let Err(e) = state.store.create_attachment(&record).await {
        let _ = state
            .blobs
            .delete(&Path::from(record.storage_key.as_str()))
            .await;
        return Err(e.into());
    }
    Ok(record)
}

/// An attachment and a stream of its bytes.
pub async fn open(
    state: &AppState,
    scope: &Scope,
    order_id: &str,
    id: &str,
) -> AppResult<(
    AttachmentRecord,
    impl Stream<Item = object_store::Result<Bytes>>,
)> {
    let record = state
        .store
        .find_attachment(scope, &crate::usecase::orders::order_id(order_id)?, id)
        .await?
        .ok_or_else(|| AppError::not_found("attachment"))?;
    let stream = open_blob(state, &record.storage_key).await?;
    Ok((record, stream))
}

/// A stream of a stored file's bytes.
pub async fn open_blob(
    state: &AppState,
    key: &str,
) -> AppResult<impl Stream<Item = object_store::Result<Bytes>>> {
    let got = state
        .blobs
        .get(&Path::from(key))
        .await
        .map_err(AppError::internal)?;
    Ok(got.into_stream())
}

/// Checks that every attachment id names an attachment of the order.
pub async fn check_ids(
    state: &AppState,
    order_id: &str,
    ids: &[String],
) -> AppResult<Vec<souk_store::AttachmentRecord>> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        match state
            .store
            .find_attachment(
                &Scope::Everything,
                &crate::usecase::orders::order_id(order_id)?,
                id,
            )
            .await?
        {
            Some(a) => found.push(a),
            None => {
                return Err(AppError::invalid_field(
                    "attachments",
                    format!("{id} is not an attachment of this order; upload it first"),
                ))
            }
        }
    }
    Ok(found)
}
