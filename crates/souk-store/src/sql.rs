//! The SQL implementation of [`Store`] for SQLite and PostgreSQL.

use crate::exec::Exec;
use crate::*;
use souk_core::clock::{from_unix_ms, to_unix_ms};
use souk_core::id::AuditId;
use souk_core::party::PartyStatus;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;

pub(crate) static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine is behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) backend: Backend,
    /// Connections for reads. On PostgreSQL the same pool as `write`.
    pub(crate) read: AnyPool,
    /// Connections for writes. On SQLite exactly one (see the crate docs).
    pub(crate) write: AnyPool,
    /// Key hash → (principal, its `last_used_at`); see `cache.rs` for the invalidation rule.
    pub(crate) auth_cache: crate::cache::TtlCache<String, (Principal, Option<i64>)>,
    /// Product id → integration profile; see `cache.rs`.
    pub(crate) profile_cache: crate::cache::TtlCache<String, IntegrationRecord>,
    /// SQLite (on a file): the dedicated writer the provisioning hot paths run their
    /// transactions on (`exec.rs`).
    pub(crate) writer: Option<std::sync::Arc<crate::exec::SqliteWriter>>,
}

impl SqlStore {
    /// Connects to `sqlite://PATH` (the file is created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL scheme in `{}`: use sqlite:// or postgres://",
                    redact_url(url)
                )
                .into(),
            ))
        })?;
        match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                let opts = || {
                    pool_options().after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers proceed while the writer writes; NORMAL
                            // synchronous is durable across application crashes (only an OS
                            // crash can lose the last commits); foreign keys are off by
                            // default in SQLite.
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                };
                let write = opts().max_connections(1).connect(&url).await?;
                let read = opts().max_connections(8).connect(&url).await?;
                let mut store = SqlStore::with_pools(backend, read, write);
                if DEDICATED_WRITER.load(std::sync::atomic::Ordering::Relaxed) {
                    store.writer = sqlite_file(&url)
                        .map(crate::exec::SqliteWriter::open)
                        .transpose()?;
                }
                Ok(store)
            }
            Backend::Postgres => {
                let pool = pool_options().max_connections(16).connect(url).await?;
                Ok(SqlStore::with_pools(backend, pool.clone(), pool))
            }
        }
    }

    fn with_pools(backend: Backend, read: AnyPool, write: AnyPool) -> SqlStore {
        SqlStore {
            backend,
            read,
            write,
            auth_cache: crate::cache::TtlCache::new(crate::cache::AUTH_TTL),
            profile_cache: crate::cache::TtlCache::new(crate::cache::PROFILE_TTL),
            writer: None,
        }
    }

    /// Whether SQLite stores connected from now on run the provisioning transactions on the
    /// dedicated writer (the default) or through sqlx's writer connection like every other
    /// transaction. Only `souk bench provision --sqlx-writer` turns it off, to compare.
    pub fn use_dedicated_sqlite_writer(on: bool) {
        DEDICATED_WRITER.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// See [`SqlStore::use_dedicated_sqlite_writer`].
static DEDICATED_WRITER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// The file behind a `sqlite:` URL, or `None` for an in-memory database (which only sqlx's own
/// connections can share).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    (!memory).then_some(path)
}

/// What both backends' pools share. A connection taken from the pool is checked with a ping
/// only when it has been idle for a while (a database restart shows up there), not on every
/// acquire: on SQLite each ping is a hop to the connection's worker thread and on PostgreSQL a
/// round trip, and a busy writer is acquired for every transaction.
fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(1) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl SqlStore {
    /// The schema as a sorted list of normalised lines, comparable across backends: one per
    /// table, per column (`column t.c <family> <null|not null>`, the family being `integer`,
    /// `text`, `real`, `blob`, `boolean` or `numeric`) and per index
    /// (`index t.name (c1,c2) <unique|plain>[ partial]`). Index names are PostgreSQL's:
    /// SQLite's automatic indexes (primary keys, `UNIQUE` constraints) and its rowid primary
    /// keys are given the names PostgreSQL gives them, the same names the constraint mapping
    /// reports (`constraint.rs`). sqlx's own bookkeeping table is left out, and so are the
    /// full-text search structures (named `*_fts*`), which are engine-specific by nature: an
    /// FTS5 virtual table and its shadow tables on SQLite, a GIN expression index on PostgreSQL.
    pub async fn schema_shape(&self) -> StoreResult<Vec<String>> {
        let mut lines = match self.backend {
            Backend::Sqlite => self.sqlite_shape().await?,
            Backend::Postgres => self.postgres_shape().await?,
        };
        lines.retain(|l| !l.contains("_fts"));
        lines.sort();
        lines.dedup();
        Ok(lines)
    }

    async fn sqlite_shape(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.read.acquire().await?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut lines = Vec::new();
        for table in &tables {
            lines.push(format!("table {table}"));
            let columns = sqlx::query(
                "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info($1) ORDER BY cid",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?;
            let mut pk: Vec<(i64, String)> = Vec::new();
            for c in &columns {
                let name: String = c.try_get("name")?;
                let declared: String = c.try_get("type")?;
                let key: i64 = c.try_get("pk")?;
                // A primary key column is NOT NULL in PostgreSQL. SQLite lets a non-INTEGER
                // primary key hold NULL (a legacy quirk); Souk always supplies its ids.
                let not_null = c.try_get::<i64, _>("nn")? != 0 || key > 0;
                if key > 0 {
                    pk.push((key, name.clone()));
                }
                lines.push(format!(
                    "column {table}.{name} {} {}",
                    sqlite_type_family(&declared),
                    if not_null { "not null" } else { "null" }
                ));
            }
            let indexes = sqlx::query(
                "SELECT name, \"unique\" AS uniq, origin, partial FROM pragma_index_list($1)",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?;
            let mut has_pk_index = false;
            for i in &indexes {
                let name: String = i.try_get("name")?;
                let origin: String = i.try_get("origin")?;
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&name)
                        .fetch_all(&mut *conn)
                        .await?;
                let name = match origin.as_str() {
                    "pk" => {
                        has_pk_index = true;
                        format!("{table}_pkey")
                    }
                    "u" => crate::constraint::sqlite_unique_rule_name(table, &cols),
                    _ => name,
                };
                lines.push(index_line(
                    table,
                    &name,
                    &cols,
                    i.try_get::<i64, _>("uniq")? != 0,
                    i.try_get::<i64, _>("partial")? != 0,
                ));
            }
            // An INTEGER PRIMARY KEY is the rowid itself: no index in SQLite, `<table>_pkey` in
            // PostgreSQL.
            if !has_pk_index && !pk.is_empty() {
                pk.sort();
                let cols: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
                lines.push(index_line(
                    table,
                    &format!("{table}_pkey"),
                    &cols,
                    true,
                    false,
                ));
            }
        }
        Ok(lines)
    }

    async fn postgres_shape(&self) -> StoreResult<Vec<String>> {
        let mut lines = Vec::new();
        let columns = sqlx::query(
            "SELECT c.table_name::text AS tbl, c.column_name::text AS col, \
                    c.data_type::text AS ty, c.is_nullable::text AS nullable \
             FROM information_schema.columns c JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
               AND c.table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&self.read)
        .await?;
        for c in &columns {
            let table: String = c.try_get("tbl")?;
            let nullable: String = c.try_get("nullable")?;
            lines.push(format!("table {table}"));
            lines.push(format!(
                "column {table}.{} {} {}",
                c.try_get::<String, _>("col")?,
                postgres_type_family(&c.try_get::<String, _>("ty")?),
                if nullable == "YES" {
                    "null"
                } else {
                    "not null"
                }
            ));
        }
        let indexes = sqlx::query(
            "SELECT t.relname::text AS tbl, i.relname::text AS idx, \
                    CAST(CASE WHEN ix.indisunique THEN 1 ELSE 0 END AS BIGINT) AS uniq, \
                    CAST(CASE WHEN ix.indpred IS NULL THEN 0 ELSE 1 END AS BIGINT) AS partial, \
                    (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
                     FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_class t ON t.oid = ix.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = current_schema() AND t.relname <> '_sqlx_migrations'",
        )
        .fetch_all(&self.read)
        .await?;
        for i in &indexes {
            let cols: Option<String> = i.try_get("cols")?;
            let cols: Vec<String> = cols
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect();
            lines.push(index_line(
                &i.try_get::<String, _>("tbl")?,
                &i.try_get::<String, _>("idx")?,
                &cols,
                i.try_get::<i64, _>("uniq")? != 0,
                i.try_get::<i64, _>("partial")? != 0,
            ));
        }
        Ok(lines)
    }
}

fn index_line(table: &str, name: &str, cols: &[String], unique: bool, partial: bool) -> String {
    format!(
        "index {table}.{name} ({}) {}{}",
        cols.join(","),
        if unique { "unique" } else { "plain" },
        if partial { " partial" } else { "" }
    )
}

/// SQLite's type affinity rules (sqlite.org/datatype3.html §3.1), with BOOLEAN kept apart.
fn sqlite_type_family(declared: &str) -> &'static str {
    let t = declared.to_uppercase();
    if t.contains("INT") {
        "integer"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "text"
    } else if t.contains("BLOB") || t.is_empty() {
        "blob"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "real"
    } else if t.contains("BOOL") {
        "boolean"
    } else {
        "numeric"
    }
}

fn postgres_type_family(data_type: &str) -> &'static str {
    match data_type {
        "smallint" | "integer" | "bigint" => "integer",
        "text" | "character varying" | "character" => "text",
        "bytea" => "blob",
        "real" | "double precision" => "real",
        "boolean" => "boolean",
        _ => "numeric",
    }
}

/// Hides the password in a database URL before it reaches a log line or an error message.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `count` parameters numbered from `first`, comma-separated (an `IN` list): anonymous `?` on
/// SQLite, `$first, …` on PostgreSQL. SQLite finds a numbered parameter's name by walking the
/// names of all the statement's parameters, once per value bound (quadratic in their number);
/// an anonymous `?` has none to look up (see [`crate::values_list`]). On SQLite every parameter
/// of such a statement must be a `?`: sqlx binds a `$n` by its number and a `?` by its rank
/// among the anonymous ones, so mixed they would bind the wrong values.
pub(crate) fn params(backend: Backend, first: usize, count: usize) -> String {
    let marks: Vec<String> = (first..first + count)
        .map(|n| match backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${n}"),
        })
        .collect();
    marks.join(", ")
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn party_from_row(row: &AnyRow) -> StoreResult<PartyRecord> {
    Ok(PartyRecord {
        id: PartyId::from_trusted(row.try_get("id")?),
        role: Role::from_str(&row.try_get::<String, _>("role")?).map_err(|e| corrupt("role", e))?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        mobile_phone: row.try_get("mobile_phone")?,
        status: PartyStatus::from_str(&row.try_get::<String, _>("status")?)
            .map_err(|e| corrupt("status", e))?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        updated_at: from_unix_ms(row.try_get("updated_at")?),
    })
}

const KEY_COLUMNS: &str = "k.id, k.party_id, p.role, k.label, k.display_prefix, k.created_at, \
     k.created_by, k.revoked_at, k.last_used_at";

fn key_from_row(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    let opt_time = |col: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(row.try_get::<Option<i64>, _>(col)?.map(from_unix_ms))
    };
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_trusted(row.try_get("id")?),
        party_id: PartyId::from_trusted(row.try_get("party_id")?),
        role: Role::from_str(&row.try_get::<String, _>("role")?).map_err(|e| corrupt("role", e))?,
        label: row.try_get("label")?,
        display_prefix: row.try_get("display_prefix")?,
        created_at: from_unix_ms(row.try_get("created_at")?),
        created_by: row
            .try_get::<Option<String>, _>("created_by")?
            .map(PartyId::from_trusted),
        revoked_at: opt_time("revoked_at")?,
        last_used_at: opt_time("last_used_at")?,
    })
}

/// Appends an audit record inside the caller's transaction, so that the change and its record
/// commit or vanish together.
pub(crate) async fn audit(
    conn: &mut impl Exec,
    now: OffsetDateTime,
    actor: Option<&PartyId>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    conn.exec(audit_query(now, actor, action, subject, detail))
        .await?;
    Ok(())
}

/// The statement [`audit`] runs, for a [`Batch`].
pub(crate) fn audit_query<'q>(
    now: OffsetDateTime,
    actor: Option<&PartyId>,
    action: &'q str,
    subject: &'q str,
    detail: serde_json::Value,
) -> BatchQuery<'q> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_id, action, subject_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(AuditId::generate(now).as_str().to_owned())
    .bind(to_unix_ms(now))
    .bind(actor.map(|a| a.as_str().to_owned()))
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
}

/// A statement ready to run, with its arguments bound.
pub(crate) type BatchQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Write statements whose results are not needed, run in order inside the caller's
/// transaction by [`Batch::run`]. On SQLite they reach the connection's worker thread as one
/// multi-statement query: one thread hop for the lot instead of one per statement (the writer
/// is single, so its hops are the payment path's critical section). On PostgreSQL, whose
/// extended protocol takes one statement per message, they run one after the other. Either way
/// the SQL is the same text, so the two backends cannot drift apart.
///
/// A compare-and-set pushed with [`Batch::push_checked`] must change one row: on PostgreSQL,
/// where another transaction can move the row between this transaction's read and its write,
/// zero rows is the given error (the transaction is then dropped, so nothing of it stays). On
/// SQLite the single writer connection runs one transaction at a time, so the row the caller
/// read in this transaction is still in the state it read: the check cannot fail there.
#[derive(Default)]
pub(crate) struct Batch<'q> {
    queries: Vec<(BatchQuery<'q>, Option<StoreError>)>,
}

impl<'q> Batch<'q> {
    pub(crate) fn push(&mut self, query: BatchQuery<'q>) {
        self.queries.push((query, None));
    }

    /// A statement that must change exactly one row, or fail the batch with `lost`.
    pub(crate) fn push_checked(&mut self, query: BatchQuery<'q>, lost: StoreError) {
        self.queries.push((query, Some(lost)));
    }

    pub(crate) async fn run(self, conn: &mut impl Exec, backend: Backend) -> StoreResult<()> {
        use sqlx::Execute;
        // One statement at a time on PostgreSQL, whose extended protocol takes one per message,
        // and on the dedicated SQLite writer, which has no round trip to save.
        if backend == Backend::Postgres || conn.is_direct() {
            for (q, lost) in self.queries {
                let changed = conn.exec(q).await?;
                if let (0, Some(lost)) = (changed, lost) {
                    return Err(lost);
                }
            }
            return Ok(());
        }
        if self.queries.is_empty() {
            return Ok(());
        }
        let mut sql = String::new();
        let mut args = sqlx::any::AnyArguments::default();
        for (mut q, _) in self.queries {
            let offset = args.values.0.len();
            renumber_into(&mut sql, q.sql(), offset);
            sql.push_str(";\n");
            if let Some(a) = q.take_arguments().map_err(sqlx::Error::Encode)? {
                args.values.0.extend(a.values.0);
            }
        }
        conn.exec(sqlx::query_with(&sql, args)).await?;
        Ok(())
    }
}

/// Appends `sql` with every `$n` placeholder shifted by `offset` (Souk's SQL has no `$` in
/// literals); SQLite binds `$n` to the n-th argument of the whole multi-statement query.
fn renumber_into(out: &mut String, sql: &str, offset: usize) {
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            n.push(d);
            chars.next();
        }
        match n.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&n),
        }
    }
}

async fn insert_party(conn: &mut sqlx::AnyConnection, p: &NewParty) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO parties (id, role, name, email, mobile_phone, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(p.id.as_str())
    .bind(p.role.as_str())
    .bind(&p.name)
    .bind(p.email.clone())
    .bind(p.mobile_phone.clone())
    .bind(to_unix_ms(p.now))
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_key(conn: &mut sqlx::AnyConnection, k: &NewKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, party_id, label, display_prefix, key_hash, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(k.id.as_str())
    .bind(k.party_id.as_str())
    .bind(k.label.clone())
    .bind(&k.display_prefix)
    .bind(&k.hash)
    .bind(to_unix_ms(k.now))
    .bind(k.created_by.as_ref().map(|p| p.as_str().to_owned()))
    .execute(conn)
    .await?;
    Ok(())
}

async fn find_key(
    conn: &mut sqlx::AnyConnection,
    scope: &Scope,
    key: &str,
) -> StoreResult<Option<ApiKeyRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k JOIN parties p ON p.id = k.party_id \
         WHERE k.id = $1 AND ($2 IS NULL OR k.party_id = $2)"
    ))
    .bind(key)
    .bind(scope.tenant().map(str::to_owned))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}

#[async_trait]
impl PartyStore for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.write).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn bootstrap_operator(&self, party: NewParty, key: NewKey) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let existing: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM parties WHERE role = 'operator'")
                .fetch_one(&mut *tx)
                .await?;
        if existing > 0 {
            return Ok(false);
        }
        insert_party(&mut tx, &party).await?;
        insert_key(&mut tx, &key).await?;
        audit(
            &mut tx,
            party.now,
            None,
            "operator.bootstrapped",
            party.id.as_str(),
            serde_json::json!({ "key_id": key.id }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_party(&self, party: NewParty, actor: &PartyId) -> StoreResult<PartyRecord> {
        let mut tx = self.write.begin().await?;
        insert_party(&mut tx, &party).await?;
        audit(
            &mut tx,
            party.now,
            Some(actor),
            &format!("{}.created", party.role),
            party.id.as_str(),
            serde_json::json!({ "name": party.name, "email": party.email }),
        )
        .await?;
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1")
            .bind(party.id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let record = party_from_row(&row)?;
        tx.commit().await?;
        Ok(record)
    }

    async fn find_party(&self, scope: &Scope, id: &PartyId) -> StoreResult<Option<PartyRecord>> {
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1 AND ($2 IS NULL OR id = $2)")
            .bind(id.as_str())
            .bind(scope.tenant().map(str::to_owned))
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(party_from_row).transpose()
    }

    async fn set_party_status(
        &self,
        id: &PartyId,
        status: PartyStatus,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PartyRecord>> {
        let mut tx = self.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE parties SET status = $1, updated_at = $2 WHERE id = $3 AND status <> $1",
        )
        .bind(status.as_str())
        .bind(to_unix_ms(now))
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            audit(
                &mut tx,
                now,
                Some(actor),
                &format!("party.{}", status.as_str()),
                id.as_str(),
                serde_json::json!({}),
            )
            .await?;
        }
        let row = sqlx::query("SELECT * FROM parties WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let record = row.as_ref().map(party_from_row).transpose()?;
        tx.commit().await?;
        if changed > 0 {
            self.auth_cache.clear();
        }
        Ok(record)
    }

    async fn list_parties(
        &self,
        scope: &Scope,
        role: Role,
        page: &Page,
    ) -> StoreResult<Vec<PartyRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM parties WHERE role = $1 AND ($2 IS NULL OR id = $2) \
             AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4",
        )
        .bind(role.as_str())
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(party_from_row).collect()
    }

    async fn create_api_key(
        &self,
        scope: &Scope,
        key: NewKey,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let mut tx = self.write.begin().await?;
        let visible: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND ($2 IS NULL OR id = $2)")
                .bind(key.party_id.as_str())
                .bind(scope.tenant().map(str::to_owned))
                .fetch_optional(&mut *tx)
                .await?;
        if visible.is_none() {
            return Ok(None);
        }
        insert_key(&mut tx, &key).await?;
        audit(
            &mut tx,
            key.now,
            key.created_by.as_ref(),
            "api_key.created",
            key.party_id.as_str(),
            serde_json::json!({ "key_id": key.id, "label": key.label }),
        )
        .await?;
        let record = find_key(&mut tx, &Scope::Everything, key.id.as_str()).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_api_keys(
        &self,
        scope: &Scope,
        party: &PartyId,
        page: &Page,
    ) -> StoreResult<Option<Vec<ApiKeyRecord>>> {
        if self.find_party(scope, party).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN parties p ON p.id = k.party_id \
             WHERE k.party_id = $1 AND ($2 IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3"
        ))
        .bind(party.as_str())
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(key_from_row)
            .collect::<StoreResult<_>>()
            .map(Some)
    }

    async fn revoke_api_key(
        &self,
        scope: &Scope,
        key: &ApiKeyId,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<RevokeOutcome> {
        let mut tx = self.write.begin().await?;
        let Some(existing) = find_key(&mut tx, scope, key.as_str()).await? else {
            return Ok(RevokeOutcome::NotFound);
        };
        if existing.revoked_at.is_some() {
            return Ok(RevokeOutcome::Revoked(existing));
        }
        // The live operator keys, locked on PostgreSQL (SQLite has one writer) so that two
        // revocations of the last two keys are decided one after the other.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF k",
            Backend::Sqlite => "",
        };
        let live_operator_keys: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT k.id FROM api_keys k JOIN parties p ON p.id = k.party_id \
             WHERE p.role = 'operator' AND p.status = 'active' AND k.revoked_at IS NULL{lock}"
        ))
        .fetch_all(&mut *tx)
        .await?;
        if live_operator_keys.len() == 1 && live_operator_keys[0] == key.as_str() {
            return Ok(RevokeOutcome::LastOperatorKey);
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_unix_ms(now))
            .bind(key.as_str())
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            now,
            Some(actor),
            "api_key.revoked",
            existing.party_id.as_str(),
            serde_json::json!({ "key_id": key }),
        )
        .await?;
        let record = find_key(&mut tx, scope, key.as_str()).await?;
        tx.commit().await?;
        self.auth_cache.clear();
        Ok(record.map_or(RevokeOutcome::NotFound, RevokeOutcome::Revoked))
    }

    async fn authenticate(
        &self,
        key_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Principal>> {
        let now_ms = to_unix_ms(now);
        // Served from memory while the use need not be recorded again (see `cache.rs`).
        if let Some((principal, last)) = self.auth_cache.get(&key_hash.to_owned()) {
            if last.is_some_and(|l| now_ms - l <= 60_000) {
                return Ok(Some(principal));
            }
        }
        let generation = self.auth_cache.generation();
        let row = sqlx::query(
            "SELECT k.id, k.party_id, p.role, k.last_used_at FROM api_keys k \
             JOIN parties p ON p.id = k.party_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND p.status = 'active'",
        )
        .bind(key_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let principal = Principal {
            key_id: ApiKeyId::from_trusted(row.try_get("id")?),
            party_id: PartyId::from_trusted(row.try_get("party_id")?),
            role: Role::from_str(&row.try_get::<String, _>("role")?)
                .map_err(|e| corrupt("role", e))?,
        };
        // Record use at most once a minute per key, so that authentication stays a read.
        let mut last: Option<i64> = row.try_get("last_used_at")?;
        if last.is_none_or(|l| now_ms - l > 60_000) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms)
                .bind(principal.key_id.as_str())
                .execute(&self.write)
                .await?;
            last = Some(now_ms);
        }
        self.auth_cache
            .put(generation, key_hash.to_owned(), (principal.clone(), last));
        Ok(Some(principal))
    }

    async fn audit_trail(&self, scope: &Scope, subject: &str) -> StoreResult<Vec<AuditEvent>> {
        // A party's trail is visible to the operator and to the party itself.
        if let Some(t) = scope.tenant() {
            if t != subject {
                return Ok(Vec::new());
            }
        }
        let rows = sqlx::query(
            "SELECT id, at, actor_id, action, subject_id, detail FROM audit_events \
             WHERE subject_id = $1 ORDER BY id",
        )
        .bind(subject)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: AuditId::from_trusted(r.try_get("id")?),
                    at: from_unix_ms(r.try_get("at")?),
                    actor_id: r.try_get("actor_id")?,
                    action: r.try_get("action")?,
                    subject_id: r.try_get("subject_id")?,
                    detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
                        .map_err(|e| corrupt("audit detail", e))?,
                })
            })
            .collect()
    }

    async fn schema_dump(&self) -> StoreResult<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
            }
            Backend::Postgres => {
                "SELECT line FROM ( \
                   SELECT 'column ' || table_name || '.' || column_name || ': ' || data_type \
                          || ' ' || is_nullable || ' ' || COALESCE(column_default, '') AS line \
                   FROM information_schema.columns WHERE table_schema = current_schema() \
                   UNION ALL \
                   SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes \
                   WHERE schemaname = current_schema() \
                 ) s ORDER BY line"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(&self.read).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn batched_placeholders_are_shifted() {
        let mut out = String::new();
        super::renumber_into(&mut out, "UPDATE t SET a = $1, b = $12 WHERE c = $2", 10);
        assert_eq!(out, "UPDATE t SET a = $11, b = $22 WHERE c = $12");
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://souk:s3cret@db:5432/souk"),
            "postgres://souk:***@db:5432/souk"
        );
        assert_eq!(
            redact_url("postgres://postgres@db/souk"),
            "postgres://postgres@db/souk"
        );
        assert_eq!(
            redact_url("sqlite://./souk-data/souk.db"),
            "sqlite://./souk-data/souk.db"
        );
    }
}
