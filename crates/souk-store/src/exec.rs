//! One transaction body, run two ways.
//!
//! The hot paths of provisioning (paying an order, claiming calls, recording their outcomes)
//! are written once, as `async fn`s generic over [`Exec`], with the same SQL text and the same
//! row mapping on both engines:
//!
//! - on PostgreSQL (and for every other caller) [`Exec`] is sqlx's connection: each statement is
//!   a round trip, awaited;
//! - on SQLite they run on the **dedicated writer** ([`SqliteWriter`]): a connection of its own
//!   (rusqlite, over the same SQLite library sqlx links) that executes the statements in the
//!   calling thread, synchronously, so the whole transaction is one unit — `BEGIN IMMEDIATE`,
//!   the statements, `COMMIT` — with no thread hop per statement. (sqlx's SQLite driver runs
//!   every statement on the connection's own thread: two context switches per statement, and on
//!   the single writer those hops were most of the time a payment held the write lock.) Its
//!   futures are ready the moment they are polled, so [`run_now`] drives the generic body to its
//!   end in one poll.
//!
//! SQLite admits one writer at a time. sqlx's writer pool has exactly one connection, and the
//! dedicated writer holds that connection (the *gate*) while it writes, so the two never write
//! at once and no transaction meets `SQLITE_BUSY`.

use crate::sql::BatchQuery;
use crate::{StoreError, StoreResult};
use futures_util::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyRow, AnyValue};
use sqlx::{Any, AnyConnection, AnyPool, Execute};
use sqlx_core::any::{AnyColumn, AnyValueKind};
use std::future::Future;
use std::sync::Arc;

/// Where a transaction body's statements go: sqlx's connection (awaited round trips) or the
/// dedicated SQLite writer (executed at once).
pub(crate) trait Exec: Send {
    /// Runs a statement; the number of rows it changed.
    fn exec<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<u64>>;

    /// Runs a query; every row it returns.
    fn all<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<Vec<AnyRow>>>;

    /// Runs a query; its first row, if any.
    fn optional<'e, 'q: 'e>(
        &'e mut self,
        q: BatchQuery<'q>,
    ) -> BoxFuture<'e, StoreResult<Option<AnyRow>>>;

    /// Runs a query that returns a row.
    fn one<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<AnyRow>> {
        let row = self.optional(q);
        Box::pin(async move {
            row.await?
                .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
        })
    }

    /// True on the dedicated SQLite writer, whose statements cost no round trip (so a batch
    /// need not be folded into one multi-statement query).
    fn is_direct(&self) -> bool {
        false
    }
}

impl Exec for AnyConnection {
    fn exec<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<u64>> {
        Box::pin(async move { Ok(q.execute(self).await?.rows_affected()) })
    }

    fn all<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<Vec<AnyRow>>> {
        Box::pin(async move { Ok(q.fetch_all(self).await?) })
    }

    fn optional<'e, 'q: 'e>(
        &'e mut self,
        q: BatchQuery<'q>,
    ) -> BoxFuture<'e, StoreResult<Option<AnyRow>>> {
        Box::pin(async move { Ok(q.fetch_optional(self).await?) })
    }
}

/// sqlx's transactions and pooled connections are connections too.
macro_rules! exec_through_deref {
    ($($t:ty),*) => {$(
        impl Exec for $t {
            fn exec<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<u64>> {
                Exec::exec(&mut **self, q)
            }

            fn all<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<Vec<AnyRow>>> {
                Exec::all(&mut **self, q)
            }

            fn optional<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<Option<AnyRow>>> {
                Exec::optional(&mut **self, q)
            }
        }
    )*};
}

exec_through_deref!(sqlx::Transaction<'_, Any>, sqlx::pool::PoolConnection<Any>);

// ---------------------------------------------------------------------------------------------
// The dedicated SQLite writer

/// The dedicated SQLite writer: one connection, used by one transaction at a time while its
/// holder also holds sqlx's writer connection (the gate).
///
/// **Group commit.** A commit in WAL mode writes every page the transaction dirtied; concurrent
/// payments dirty the same index and table pages, so committing them together writes each page
/// once for the lot. Units submitted with [`SqliteWriter::grouped`] wait in a queue; whoever
/// next holds the connection runs everything queued in one transaction, each unit inside its
/// own savepoint (a unit that fails is undone alone), commits once, then tells each unit how it
/// ended. A unit's caller hears `Ok` only after the commit that holds it.
pub(crate) struct SqliteWriter {
    conn: tokio::sync::Mutex<rusqlite::Connection>,
    queue: std::sync::Mutex<Vec<Queued>>,
}

/// A unit waiting for the next group commit: runs its body (inside its savepoint) and returns
/// whether it succeeded, and how to tell its caller once the group's commit is known.
type Queued = Box<dyn FnOnce(&mut SqliteUnit<'_>) -> (bool, Settle) + Send>;

/// Tells a unit's caller how its group ended: `Err` carries the failed commit's message.
type Settle = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Units run in one group commit at most (the rest wait for the next).
const MAX_GROUP: usize = 128;

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriter")
    }
}

impl SqliteWriter {
    /// Opens the writer on the database file `path` (already created and migrated by sqlx),
    /// with the pragmas of sqlx's connections. Savepoint journals stay in memory.
    pub(crate) fn open(path: &str) -> StoreResult<Arc<SqliteWriter>> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Arc::new(SqliteWriter {
            conn: tokio::sync::Mutex::new(conn),
            queue: std::sync::Mutex::default(),
        }))
    }

    /// Runs `body` as a transaction on the writer — together with the units queued for a group
    /// commit, each in its own savepoint — committed when it returns `Ok`, rolled back (its
    /// part only) otherwise. `body` drives its generic transaction with [`run_now`].
    pub(crate) async fn unit<T, E>(
        &self,
        gate: &AnyPool,
        body: impl FnOnce(&mut SqliteUnit<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        // The connection first, then the gate: every holder of both takes them in this order.
        let mut conn = self.conn.lock().await;
        let _gate = gate.acquire().await.map_err(StoreError::from)?;
        let mut own = None;
        let committed = self.run_group(&mut conn, |u| {
            let result = body(u);
            let ok = result.is_ok();
            own = Some(result);
            ok
        });
        let result =
            own.unwrap_or_else(|| Err(StoreError::Corrupt("the unit did not run".into()).into()));
        match committed {
            Ok(()) => result,
            Err(e) => result.and(Err(commit_failed(e).into())),
        }
    }

    /// Runs `body` in the next group commit (see the type's documentation): its result once
    /// the group's transaction has committed, or the error that undid it.
    pub(crate) async fn grouped<T, E>(
        &self,
        gate: &AnyPool,
        body: impl FnOnce(&mut SqliteUnit<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let queued: Queued = Box::new(move |u| {
            let result = body(u);
            let ok = result.is_ok();
            let settle: Settle = Box::new(move |group| {
                let result = match group {
                    Ok(()) => result,
                    Err(e) => result.and(Err(commit_failed(e).into())),
                };
                let _ = tx.send(result);
            });
            (ok, settle)
        });
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(queued);
        {
            let mut conn = self.conn.lock().await;
            // A leader that held the connection before us may have run our unit already: it
            // settles its group before letting the connection go.
            if let Ok(result) = rx.try_recv() {
                return result;
            }
            let _gate = gate.acquire().await.map_err(StoreError::from)?;
            // Our unit is still queued: lead a group (errors reach every unit through `settle`).
            let _ = self.run_group(&mut conn, |_| true);
        }
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Corrupt("the writer dropped a queued unit".into()).into())
        })
    }

    /// One group commit on the held connection: the queued units, then `own`, each in its
    /// savepoint; the queued units are settled with the commit's outcome, which is returned.
    fn run_group(
        &self,
        conn: &mut rusqlite::Connection,
        own: impl FnOnce(&mut SqliteUnit<'_>) -> bool,
    ) -> Result<(), String> {
        let queued: Vec<Queued> = {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let n = queue.len().min(MAX_GROUP);
            queue.drain(..n).collect()
        };
        let mut settles = Vec::with_capacity(queued.len());
        let outcome = (|| -> Result<(), rusqlite::Error> {
            // A unit that panicked half-way left its transaction open.
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut unit = SqliteUnit { conn: &mut *conn };
            for q in queued {
                unit.conn.execute_batch("SAVEPOINT unit")?;
                let (ok, settle) = q(&mut unit);
                settles.push(settle);
                unit.end_savepoint(ok)?;
            }
            unit.conn.execute_batch("SAVEPOINT unit")?;
            let ok = own(&mut unit);
            unit.end_savepoint(ok)?;
            conn.execute_batch("COMMIT")
        })();
        let outcome = outcome.map_err(|e| {
            // A failed COMMIT (or savepoint) leaves the transaction open: roll it back so the
            // connection is clean for the next group.
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::from(e).to_string()
        });
        for settle in settles {
            settle(outcome.clone());
        }
        outcome
    }
}

/// The error a unit's caller gets when the group holding its unit could not commit.
fn commit_failed(message: String) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!(
        "the SQLite writer could not commit: {message}"
    )))
}

/// Drives a transaction body generic over [`Exec`] on the SQLite writer, whose futures are
/// ready when polled: its output, or an error if it waited on something else (a bug).
pub(crate) fn run_now<F: Future>(f: F) -> StoreResult<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Ok(v),
        std::task::Poll::Pending => Err(StoreError::Corrupt(
            "a transaction on the SQLite writer waited for something other than SQLite".into(),
        )),
    }
}

/// The writer inside one transaction.
pub(crate) struct SqliteUnit<'c> {
    conn: &'c mut rusqlite::Connection,
}

impl SqliteUnit<'_> {
    /// Keeps (`ok`) or undoes the changes since `SAVEPOINT unit`, and ends the savepoint.
    fn end_savepoint(&mut self, ok: bool) -> Result<(), rusqlite::Error> {
        if !ok {
            self.conn.execute_batch("ROLLBACK TO unit")?;
        }
        self.conn.execute_batch("RELEASE unit")
    }

    /// Prepares `q` (cached) and binds its arguments by their `$n` numbers.
    fn prepare<'s>(&'s self, mut q: BatchQuery<'_>) -> StoreResult<rusqlite::CachedStatement<'s>> {
        let mut stmt = self.conn.prepare_cached(q.sql())?;
        let args: Vec<AnyValueKind<'_>> = q
            .take_arguments()
            .map_err(sqlx::Error::Encode)?
            .map(|a: AnyArguments<'_>| a.values.0)
            .unwrap_or_default();
        for i in 1..=stmt.parameter_count() {
            // `$n` is the n-th argument wherever it appears (SQLite numbers named parameters
            // in order of first appearance, sqlx binds them by their number).
            let n = stmt
                .parameter_name(i)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(i);
            let value = args.get(n - 1).ok_or_else(|| {
                StoreError::Database(sqlx::Error::Protocol(format!(
                    "statement parameter ${n} has no argument"
                )))
            })?;
            stmt.raw_bind_parameter(i, to_sql(value)?)?;
        }
        Ok(stmt)
    }

    /// The connection itself, for a statement run many times with rusqlite's own binds (a bulk
    /// insert: no per-row conversion through sqlx's argument types).
    pub(crate) fn connection(&self) -> &rusqlite::Connection {
        self.conn
    }

    fn execute_now(&self, q: BatchQuery<'_>) -> StoreResult<u64> {
        let mut stmt = self.prepare(q)?;
        let changed = stmt.raw_execute()?;
        Ok(changed as u64)
    }

    fn fetch_now(&self, q: BatchQuery<'_>, limit: usize) -> StoreResult<Vec<AnyRow>> {
        let mut stmt = self.prepare(q)?;
        let names: Arc<sqlx_core::HashMap<sqlx_core::ext::ustr::UStr, usize>> = Arc::new(
            stmt.column_names()
                .iter()
                .enumerate()
                .map(|(i, n)| (sqlx_core::ext::ustr::UStr::new(n), i))
                .collect(),
        );
        let columns: Vec<AnyColumn> = stmt
            .column_names()
            .iter()
            .enumerate()
            .map(|(i, n)| AnyColumn {
                ordinal: i,
                name: sqlx_core::ext::ustr::UStr::new(n),
                type_info: sqlx::any::AnyTypeInfo {
                    kind: sqlx::any::AnyTypeInfoKind::Null,
                },
            })
            .collect();
        let width = columns.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        // Every row is stepped through, also past `limit`: an `UPDATE … RETURNING` changes its
        // rows as they are stepped.
        while let Some(row) = rows.next()? {
            if out.len() >= limit {
                continue;
            }
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(AnyValue {
                    kind: from_sql(row.get_ref(i)?),
                });
            }
            out.push(AnyRow {
                column_names: names.clone(),
                columns: columns.clone(),
                values,
            });
        }
        Ok(out)
    }
}

impl Exec for SqliteUnit<'_> {
    fn exec<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<u64>> {
        Box::pin(std::future::ready(self.execute_now(q)))
    }

    fn all<'e, 'q: 'e>(&'e mut self, q: BatchQuery<'q>) -> BoxFuture<'e, StoreResult<Vec<AnyRow>>> {
        Box::pin(std::future::ready(self.fetch_now(q, usize::MAX)))
    }

    fn optional<'e, 'q: 'e>(
        &'e mut self,
        q: BatchQuery<'q>,
    ) -> BoxFuture<'e, StoreResult<Option<AnyRow>>> {
        Box::pin(std::future::ready(
            self.fetch_now(q, 1).map(|rows| rows.into_iter().next()),
        ))
    }

    fn is_direct(&self) -> bool {
        true
    }
}

/// An argument as SQLite stores it (what sqlx's SQLite driver binds for each kind).
fn to_sql(v: &AnyValueKind<'_>) -> StoreResult<rusqlite::types::Value> {
    use rusqlite::types::Value;
    Ok(match v {
        AnyValueKind::Null(_) => Value::Null,
        AnyValueKind::Bool(b) => Value::Integer(i64::from(*b)),
        AnyValueKind::SmallInt(i) => Value::Integer(i64::from(*i)),
        AnyValueKind::Integer(i) => Value::Integer(i64::from(*i)),
        AnyValueKind::BigInt(i) => Value::Integer(*i),
        AnyValueKind::Real(r) => Value::Real(f64::from(*r)),
        AnyValueKind::Double(d) => Value::Real(*d),
        AnyValueKind::Text(t) => Value::Text(t.to_string()),
        AnyValueKind::Blob(b) => Value::Blob(b.to_vec()),
        other => {
            return Err(StoreError::Database(sqlx::Error::Protocol(format!(
                "cannot bind {other:?} on the SQLite writer"
            ))))
        }
    })
}

/// A column value as sqlx's SQLite driver hands it to the `Any` driver (by storage class).
fn from_sql(v: rusqlite::types::ValueRef<'_>) -> AnyValueKind<'static> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => AnyValueKind::Null(sqlx::any::AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(r) => AnyValueKind::Double(r),
        ValueRef::Text(t) => AnyValueKind::Text(String::from_utf8_lossy(t).into_owned().into()),
        ValueRef::Blob(b) => AnyValueKind::Blob(b.to_vec().into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: the writer's failures go through the same constraint mapping as sqlx's

/// A failure of the dedicated writer, as a sqlx database error (code = SQLite's extended
/// result code, as sqlx reports it), so that `From<sqlx::Error> for StoreError` sorts it.
#[derive(Debug)]
struct WriterError {
    code: Option<String>,
    message: String,
}

impl std::fmt::Display for WriterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WriterError {}

impl sqlx::error::DatabaseError for WriterError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.code.as_deref().map(std::borrow::Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.code.as_deref() {
            Some("2067" | "1555") => sqlx::error::ErrorKind::UniqueViolation,
            Some("787") => sqlx::error::ErrorKind::ForeignKeyViolation,
            Some("275") => sqlx::error::ErrorKind::CheckViolation,
            Some("1299") => sqlx::error::ErrorKind::NotNullViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code.to_string()),
            _ => None,
        };
        let message = match &e {
            rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
            other => other.to_string(),
        };
        StoreError::from(sqlx::Error::Database(Box::new(WriterError {
            code,
            message,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units queued together commit as one group; one that fails after writing is undone
    /// alone, and each caller hears its own unit's outcome.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_unit_in_a_group_is_undone_alone() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let gate = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&gate)
            .await
            .unwrap();
        let writer = SqliteWriter::open(path.to_str().unwrap()).unwrap();
        // Hold the connection until every unit is queued: they then run as one group.
        let held = writer.conn.lock().await;
        let mut tasks = Vec::new();
        for n in 0..20_i64 {
            let (writer, gate) = (writer.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                writer
                    .grouped(&gate, move |u| {
                        run_now(u.exec(sqlx::query("INSERT INTO t (n) VALUES ($1)").bind(n)))??;
                        if n == 7 {
                            return Err(StoreError::Corrupt("unit 7 fails".into()));
                        }
                        Ok(n)
                    })
                    .await
            }));
        }
        while writer.queue.lock().unwrap().len() < 20 {
            tokio::task::yield_now().await;
        }
        drop(held);
        let mut ok = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(n) => ok.push(n),
                Err(e) => assert!(e.to_string().contains("unit 7 fails"), "{e}"),
            }
        }
        assert_eq!(ok, (0..20).filter(|n| *n != 7).collect::<Vec<_>>());
        let stored: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(&gate)
            .await
            .unwrap();
        assert_eq!(stored, ok);
        // The connection is clean for the next unit (no transaction left open).
        assert!(writer.conn.lock().await.is_autocommit());
    }
}
