//! The heartbeat's memory: what answering a license heartbeat needs, without the database.
//!
//! Heartbeats are the hottest path in Souk (every installed copy of every licensed product
//! calls it), so they are answered from here:
//!
//! - **codes**: per code, its record (state, policy, the instance's state and expiry) and its
//!   machines' last-seen times. Loaded on first use; dropped when anything about the code or
//!   its instance changes in this process ([`LicenseCache::invalidate_instance`],
//!   [`LicenseCache::invalidate_code`]), and reloaded after [`ENTRY_TTL`] in any case so that a
//!   change made by another process on the same PostgreSQL is seen within that time.
//! - **access keys**: AK → (seller, SK), the SK opened once; dropped on revocation.
//! - **last-seen times** are written behind: heartbeats mark them dirty here and
//!   [`LicenseCache::flush`] (every [`FLUSH_INTERVAL`], at shutdown, and before any decision
//!   that reads them from the database, such as an activation) writes them in one batch.
//!
//! A load races with an invalidation if the change commits while the load reads; a global
//! generation counter makes such a load not enter the cache, so an invalidated entry can never
//! come back stale.

use souk_core::party::PartyId;
use souk_protocol::SecretKey;
use souk_store::{HeartbeatWrite, LicenseCodeRecord, MachineRecord, Store};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a cached entry is trusted without a change notice (changes made by other
/// processes sharing the database become visible within this).
pub const ENTRY_TTL: Duration = Duration::from_secs(5);
/// How often last-seen times are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

const SHARDS: usize = 32;

/// A code as a heartbeat needs it.
#[derive(Debug)]
pub struct CodeEntry {
    pub record: LicenseCodeRecord,
    /// Live (not deactivated) machines: fingerprint → last seen (ms).
    pub machines: Mutex<HashMap<String, i64>>,
    loaded_at: Instant,
}

/// A seller's AK, opened.
#[derive(Debug)]
pub struct AccessKeyEntry {
    pub seller_id: PartyId,
    pub secret: SecretKey,
    loaded_at: Instant,
}

#[derive(Default)]
struct Dirty {
    last_heartbeat: i64,
    machines: HashMap<String, i64>,
}

#[derive(Default)]
pub struct LicenseCache {
    codes: [RwLock<HashMap<String, Arc<CodeEntry>>>; SHARDS],
    by_instance: Mutex<HashMap<souk_core::id::InstanceId, Vec<String>>>,
    access_keys: RwLock<HashMap<String, Arc<AccessKeyEntry>>>,
    dirty: Mutex<HashMap<String, Dirty>>,
    generation: AtomicU64,
}

fn shard(code: &str) -> usize {
    let mut h = DefaultHasher::new();
    code.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl std::fmt::Debug for LicenseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LicenseCache")
    }
}

impl LicenseCache {
    pub fn new() -> LicenseCache {
        LicenseCache::default()
    }

    /// The generation to pass to [`LicenseCache::insert_code`] after a load: read it before
    /// reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// A fresh cached code, if any.
    pub fn code(&self, code: &str) -> Option<Arc<CodeEntry>> {
        let map = self.codes[shard(code)]
            .read()
            .unwrap_or_else(|e| e.into_inner());
        map.get(code)
            .filter(|e| e.loaded_at.elapsed() < ENTRY_TTL)
            .cloned()
    }

    /// Caches a code loaded from the database, unless something was invalidated since
    /// `generation` was read (then the load may be stale: it is used once, not kept).
    pub fn insert_code(
        &self,
        record: LicenseCodeRecord,
        machines: &[MachineRecord],
        generation: u64,
    ) -> Arc<CodeEntry> {
        let mut live: HashMap<String, i64> = machines
            .iter()
            .filter(|m| m.deactivated_at.is_none())
            .map(|m| {
                (
                    m.fingerprint.clone(),
                    souk_core::clock::to_unix_ms(m.last_seen_at),
                )
            })
            .collect();
        // Heartbeats not yet written are newer than what the database says.
        if let Some(d) = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&record.code)
        {
            for (fp, at) in &d.machines {
                if let Some(seen) = live.get_mut(fp) {
                    *seen = (*seen).max(*at);
                }
            }
        }
        let entry = Arc::new(CodeEntry {
            record,
            machines: Mutex::new(live),
            loaded_at: Instant::now(),
        });
        if self.generation() == generation {
            let code = entry.record.code.clone();
            self.by_instance
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(entry.record.instance_id.clone())
                .or_default()
                .push(code.clone());
            self.codes[shard(&code)]
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(code, entry.clone());
        }
        entry
    }

    /// Forgets every code of an instance (its state, expiry or codes changed).
    pub fn invalidate_instance(&self, instance_id: &souk_core::id::InstanceId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let codes = self
            .by_instance
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(instance_id)
            .unwrap_or_default();
        for code in codes {
            self.codes[shard(&code)]
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&code);
        }
    }

    /// Forgets one code (activated, a machine added or removed).
    pub fn invalidate_code(&self, code: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.codes[shard(code)]
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(code);
    }

    pub fn access_key(&self, ak: &str) -> Option<Arc<AccessKeyEntry>> {
        self.access_keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(ak)
            .filter(|e| e.loaded_at.elapsed() < ENTRY_TTL)
            .cloned()
    }

    pub fn insert_access_key(
        &self,
        ak: &str,
        seller_id: PartyId,
        secret: SecretKey,
        generation: u64,
    ) -> Arc<AccessKeyEntry> {
        let entry = Arc::new(AccessKeyEntry {
            seller_id,
            secret,
            loaded_at: Instant::now(),
        });
        if self.generation() == generation {
            self.access_keys
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ak.to_owned(), entry.clone());
        }
        entry
    }

    /// Forgets an AK (revoked).
    pub fn invalidate_access_key(&self, ak: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.access_keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ak);
    }

    /// Records a heartbeat to be written behind.
    pub fn mark_seen(&self, code: &str, fingerprint: Option<&str>, at_ms: i64) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        let d = dirty.entry(code.to_owned()).or_default();
        d.last_heartbeat = d.last_heartbeat.max(at_ms);
        if let Some(fp) = fingerprint {
            let seen = d.machines.entry(fp.to_owned()).or_default();
            *seen = (*seen).max(at_ms);
        }
    }

    /// Writes every pending last-seen time in one batch. On failure they are kept for the
    /// next flush.
    pub async fn flush(&self, store: &dyn Store) -> souk_store::StoreResult<usize> {
        let taken = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut batch = Vec::new();
        for (code, d) in &taken {
            batch.push(HeartbeatWrite {
                code: code.clone(),
                fingerprint: None,
                at_ms: d.last_heartbeat,
            });
            for (fp, at) in &d.machines {
                batch.push(HeartbeatWrite {
                    code: code.clone(),
                    fingerprint: Some(fp.clone()),
                    at_ms: *at,
                });
            }
        }
        batch.sort_by(|a, b| a.code.cmp(&b.code).then(a.fingerprint.cmp(&b.fingerprint)));
        match store.record_heartbeats(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                for (code, d) in taken {
                    for (fp, at) in d.machines {
                        self.mark_seen(&code, Some(&fp), at);
                    }
                    self.mark_seen(&code, None, d.last_heartbeat);
                }
                Err(e)
            }
        }
    }
}
