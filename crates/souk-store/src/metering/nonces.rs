//! Replay memory of the usage push's signature/ts/nonce scheme, in the database so that every
//! Souk process on it refuses a nonce another one already accepted (a per-process map let a
//! replay through to a second process inside the window).
//!
//! One statement per push (not per record): an upsert keyed by (seller, nonce) that inserts a
//! new nonce, or takes over one last seen before the window (an old row not pruned yet), and
//! changes nothing for a nonce seen within the window. Pruning is a range delete on `seen_at`,
//! done by each process every [`PRUNE_EVERY`] pushes: rows past the window only cost space.

use crate::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// Pushes between two prunes of this process.
const PRUNE_EVERY: u64 = 256;

/// Counts this process's nonce checks, to prune every [`PRUNE_EVERY`].
static CHECKS: AtomicU64 = AtomicU64::new(0);

const REMEMBER: &str = "INSERT INTO push_nonces (seller_id, nonce, seen_at) VALUES ($1, $2, $3) \
     ON CONFLICT (seller_id, nonce) DO UPDATE SET seen_at = excluded.seen_at \
     WHERE push_nonces.seen_at < $4";

const PRUNE: &str = "DELETE FROM push_nonces WHERE seen_at < $1";

/// `true` if `seller` had not used `nonce` since `now_ms - keep_ms` (it is remembered from
/// now on); `false` for a replay.
pub(super) async fn first_use(
    s: &SqlStore,
    seller: &PartyId,
    nonce: &str,
    now_ms: i64,
    keep_ms: i64,
) -> StoreResult<bool> {
    let since = now_ms - keep_ms;
    let prune = CHECKS
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PRUNE_EVERY);
    if let Some(writer) = &s.writer {
        // Concurrent pushes share one commit (see `SqliteWriter::grouped`).
        let (seller, nonce) = (seller.as_str().to_owned(), nonce.to_owned());
        return writer
            .grouped(&s.write, move |u| -> StoreResult<bool> {
                let conn = u.connection();
                if prune {
                    conn.prepare_cached(PRUNE)?.execute([since])?;
                }
                let changed = conn
                    .prepare_cached(REMEMBER)?
                    .execute(rusqlite::params![seller, nonce, now_ms, since])?;
                Ok(changed == 1)
            })
            .await;
    }
    if prune {
        sqlx::query(PRUNE).bind(since).execute(&s.write).await?;
    }
    let changed = sqlx::query(REMEMBER)
        .bind(seller.as_str())
        .bind(nonce)
        .bind(now_ms)
        .bind(since)
        .execute(&s.write)
        .await?
        .rows_affected();
    Ok(changed == 1)
}
