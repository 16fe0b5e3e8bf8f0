//! The storefront's search index: one `product_search` row per product, written inside the
//! catalog's own transactions (so the index never disagrees with a committed product), and the
//! engines' full-text indexes over its `terms` (souk_core::search): an FTS5 table on SQLite, a
//! GIN index over the terms as a `tsvector` on PostgreSQL.

use crate::catalog::ProductRecord;
use crate::*;
use souk_core::catalog::{BillingMode, SkuStatus};
use souk_core::clock::to_unix_ms;
use souk_core::search::{index_terms, Query};
use sqlx::Row;

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchSort {
    /// Best match first (newest first without a query).
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
}

/// What the storefront asks for. Everything is optional; listed products only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSearch {
    pub query: Option<Query>,
    /// A category or any of its sub-categories (`devops` matches `devops/monitoring`).
    pub category: Option<String>,
    pub delivery_type: Option<String>,
    pub billing_mode: Option<BillingMode>,
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    pub sort: Option<SearchSort>,
    pub limit: u32,
    pub offset: u32,
}

/// One storefront hit: what a result card shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub product_id: String,
    pub name: String,
    pub category: String,
    pub delivery_type: String,
    pub billing_modes: Vec<String>,
    pub currency: String,
    pub min_price_minor: Option<i64>,
}

/// Writes `p`'s search row and full-text entry (inside the caller's transaction).
pub(crate) async fn index_product(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    p: &ProductRecord,
) -> StoreResult<()> {
    let active = p.skus.iter().filter(|s| s.status == SkuStatus::Active);
    let mut modes: Vec<&str> = Vec::new();
    let mut min_price: Option<i64> = None;
    for price in active.flat_map(|s| s.prices.iter()) {
        if !modes.contains(&price.billing_mode.as_str()) {
            modes.push(price.billing_mode.as_str());
        }
        if price.billing_mode != BillingMode::Trial {
            min_price = Some(min_price.map_or(price.amount_minor, |m| m.min(price.amount_minor)));
        }
    }
    let terms = index_terms(&[&p.spec.name, &p.spec.category, &p.spec.description]);
    let id = p.id.as_str();
    sqlx::query(
        "INSERT INTO product_search (product_id, status, name, category, delivery_type, \
         billing_modes, currency, min_price_minor, terms, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (product_id) DO UPDATE SET status = excluded.status, name = excluded.name, \
         category = excluded.category, delivery_type = excluded.delivery_type, \
         billing_modes = excluded.billing_modes, currency = excluded.currency, \
         min_price_minor = excluded.min_price_minor, terms = excluded.terms, \
         updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(p.status.as_str())
    .bind(&p.spec.name)
    .bind(&p.spec.category)
    .bind(p.spec.delivery_type.as_str())
    .bind(format!(" {} ", modes.join(" ")))
    .bind(p.spec.currency.as_str())
    .bind(min_price)
    .bind(&terms)
    .bind(to_unix_ms(p.updated_at))
    .execute(&mut *conn)
    .await?;
    if backend == Backend::Sqlite {
        index_fts(conn, id, &terms).await?;
    }
    Ok(())
}

/// Replaces `id`'s FTS5 entry. Its rowid is its place in the relevance order (migration
/// sqlite/0043): the number of terms, then the product's `seq` (the order products were
/// first indexed in, kept for good) reversed, so ascending rowids are shortest first, ties
/// newest first. See `ranked_query` for why that is bm25's order.
async fn index_fts(conn: &mut sqlx::AnyConnection, id: &str, terms: &str) -> StoreResult<()> {
    let term_count = if terms.is_empty() {
        0
    } else {
        terms.split(' ').count() as i64
    };
    let known: Option<(i64, i64)> =
        sqlx::query_as("SELECT seq, doc FROM product_search_fts_docs WHERE product_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let seq = match known {
        Some((seq, old)) => {
            sqlx::query("DELETE FROM product_search_fts WHERE rowid = $1")
                .bind(old)
                .execute(&mut *conn)
                .await?;
            seq
        }
        None => {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM product_search_fts_docs")
                .fetch_one(&mut *conn)
                .await?
        }
    };
    let doc = (term_count << 32) | (0xFFFF_FFFF - seq);
    sqlx::query(
        "INSERT INTO product_search_fts_docs (product_id, seq, doc) VALUES ($1, $2, $3) \
         ON CONFLICT (product_id) DO UPDATE SET doc = excluded.doc",
    )
    .bind(id)
    .bind(seq)
    .bind(doc)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO product_search_fts (rowid, terms) VALUES ($1, $2)")
        .bind(doc)
        .bind(terms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The most rows of the sort order a probe reads (see `search_listed_impl`).
const PROBE_MAX: u32 = 5_000;
/// The fewest rows the short probe reads.
const PROBE_MIN: u32 = 200;

const HIT_COLUMNS: &str = "s.product_id, s.name, s.category, s.delivery_type, s.billing_modes, \
                           s.currency, s.min_price_minor";

/// Appends `v` to the statement's arguments and returns its placeholder.
fn arg(v: String, args: &mut Vec<String>) -> String {
    args.push(v);
    format!("${}", args.len())
}

/// The conditions of `s` other than its words, on `product_search s`: listed, category,
/// delivery type, billing mode, price range.
fn filters(s: &ProductSearch, args: &mut Vec<String>) -> Vec<String> {
    let mut wheres = vec!["s.status = 'listed'".to_owned()];
    if let Some(c) = &s.category {
        let (a, b) = (arg(c.clone(), args), arg(format!("{c}/%"), args));
        wheres.push(format!("(s.category = {a} OR s.category LIKE {b})"));
    }
    if let Some(d) = &s.delivery_type {
        let a = arg(d.clone(), args);
        wheres.push(format!("s.delivery_type = {a}"));
    }
    if let Some(m) = s.billing_mode {
        let a = arg(format!("% {} %", m.as_str()), args);
        wheres.push(format!("s.billing_modes LIKE {a}"));
    }
    // Prices are formatted by Rust from integers, never user text.
    if let Some(min) = s.min_price_minor {
        wheres.push(format!("s.min_price_minor >= {min}"));
    }
    if let Some(max) = s.max_price_minor {
        wheres.push(format!("s.min_price_minor <= {max}"));
    }
    wheres
}

impl SqlStore {
    /// Listed products matching `s`, and whether more follow.
    ///
    /// Most storefront queries match many products (a common word, a broad filter) and show
    /// the first page of them in some order. Collecting every match and sorting it costs time
    /// in proportion to the matches (28,000 rows for a common word in 100,000 products), and
    /// which plan the engine picks depends on its statistics (a PostgreSQL without autovacuum
    /// has none). So, unless the order is SQLite's relevance rank (`ranked_query`), a
    /// **probe** runs first: it walks the products in the page's order along an index (the
    /// primary key, or `product_search_by_price`), reads at most a few thousand of them and
    /// keeps the matching ones. If that prefix of the order holds the whole page and one row
    /// more, those rows are exactly the page (the order of the matches is the order of the
    /// prefix). Only when the prefix holds too few matches (they are sparse, or lie further
    /// along the order, like expensive ones in a cheapest-first sort) does the full query run.
    pub(crate) async fn search_listed_impl(
        &self,
        s: &ProductSearch,
    ) -> StoreResult<(Vec<SearchHit>, bool)> {
        let sort = s.sort.unwrap_or(SearchSort::Relevance);
        if self.backend == Backend::Sqlite && sort == SearchSort::Relevance {
            if let Some(q) = &s.query {
                let rows = self.ranked_query(s, &q.fts5()).await?;
                return hits(rows, s.limit);
            }
        }
        // Two probes: a short one that suffices when matches are common (a word in a quarter
        // of the products, a billing mode in a third), then a long one for sparser matches.
        let want = s.offset + s.limit + 1;
        let short = want.saturating_mul(4).max(PROBE_MIN);
        let long = want.saturating_mul(20).clamp(2_000, PROBE_MAX);
        for window in [short, long] {
            if want <= window && window <= PROBE_MAX {
                let rows = self.search_query(s, Some(window)).await?;
                if rows.len() as u32 == s.limit + 1 {
                    return hits(rows, s.limit);
                }
            }
        }
        let rows = self.search_query(s, None).await?;
        hits(rows, s.limit)
    }

    /// SQLite's relevance order: FTS5's bm25, ties newest first, without computing bm25.
    ///
    /// bm25 costs about a microsecond per match, and a common word matches a quarter of the
    /// catalog (28,000 of 100,000 products: 27–42 ms of CPU before the page is rendered). But
    /// every term is indexed at most once per product and every query term must match, so
    /// for every match the score is Σ idf(term) · (k1 + 1) / (1 + k1 · (1 − b + b · length /
    /// average length)): the same sum of idfs times a factor that falls as the product's
    /// length (its number of terms) grows. bm25's order is therefore shortest first, and the
    /// FTS5 rowids are laid out in exactly that order (`index_fts`): the matches are walked
    /// along the rowid, filters applied on the way, and the walk stops after the page.
    /// (One difference: a prefix that matches two words of one product counts once here.)
    async fn ranked_query(
        &self,
        s: &ProductSearch,
        fts5: &str,
    ) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        let mut args = vec![fts5.to_owned()];
        let wheres = filters(s, &mut args).join(" AND ");
        // CROSS JOIN fixes the loop order: the FTS5 table outermost, walked by rowid.
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM product_search_fts \
             CROSS JOIN product_search_fts_docs d CROSS JOIN product_search s \
             WHERE product_search_fts MATCH $1 AND d.doc = product_search_fts.rowid \
             AND s.product_id = d.product_id AND {wheres} \
             ORDER BY product_search_fts.rowid LIMIT {} OFFSET {}",
            s.limit + 1,
            s.offset
        );
        self.fetch(&sql, &args).await
    }

    /// Runs the search: over every listed product, or (`probe`) over the first `probe` listed
    /// products in the page's order.
    async fn search_query(
        &self,
        s: &ProductSearch,
        probe: Option<u32>,
    ) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        let sort = s.sort.unwrap_or(SearchSort::Relevance);
        // The page's order on plain columns, which the indexes serve. Products without a
        // price (trial only) come last in both price orders; a price probe leaves them out,
        // which keeps its prefix a prefix of the full order.
        let (order, priced) = match sort {
            SearchSort::Relevance | SearchSort::Newest => ("s.product_id DESC", false),
            SearchSort::PriceAsc => ("s.min_price_minor, s.product_id DESC", true),
            SearchSort::PriceDesc => ("s.min_price_minor DESC, s.product_id DESC", true),
        };
        // No condition but the order's own: with one, an engine without statistics may think
        // it selective and collect and sort every row instead of walking the index. Unlisted
        // products in the prefix are filtered out below like any other non-match.
        let only_priced = if priced {
            " WHERE s.min_price_minor IS NOT NULL"
        } else {
            ""
        };
        let source = match probe {
            None => "product_search s".to_owned(),
            Some(n) => {
                format!(
                    "(SELECT * FROM product_search s{only_priced} ORDER BY {order} LIMIT {n}) s"
                )
            }
        };
        let mut args = Vec::new();
        let mut wheres = Vec::new();
        if let Some(q) = &s.query {
            match self.backend {
                // A probe's rows are few (at most PROBE_MAX): each is tested against its own
                // `terms` instead, the very tokens its FTS5 entry holds (space-separated,
                // written in the same transaction). Asking FTS5 "is this row a match" means
                // building the set of all matches first (28,000 for a common word: 65–320 ms
                // per page), or one FTS5 query per row (worse).
                Backend::Sqlite if probe.is_some() => {
                    for (i, t) in q.terms.iter().enumerate() {
                        let prefix = i + 1 == q.terms.len() && q.last_is_prefix;
                        let (needle, hay) = if prefix {
                            (format!(" {t}"), "' ' || s.terms")
                        } else {
                            (format!(" {t} "), "' ' || s.terms || ' '")
                        };
                        let p = arg(needle, &mut args);
                        wheres.push(format!("instr({hay}, {p}) > 0"));
                    }
                }
                Backend::Sqlite => {
                    let p = arg(q.fts5(), &mut args);
                    wheres.push(format!(
                        "s.product_id IN (SELECT d.product_id FROM product_search_fts \
                         JOIN product_search_fts_docs d ON d.doc = product_search_fts.rowid \
                         WHERE product_search_fts MATCH {p})"
                    ));
                }
                Backend::Postgres => {
                    // No ts_rank: it reads every matching row's vector (69 ms for a word in
                    // 28% of 100,000 products, against 0.4 ms without). Every term must match
                    // anyway, so best match is newest first among the matches.
                    let p = arg(q.tsquery(), &mut args);
                    wheres.push(format!("s.terms_fts @@ CAST({p} AS tsquery)"));
                }
            }
        }
        wheres.extend(filters(s, &mut args));
        let order = match sort {
            // NULL prices last in both engines (PostgreSQL puts NULLs first in DESC order).
            SearchSort::PriceAsc | SearchSort::PriceDesc => {
                format!("CASE WHEN s.min_price_minor IS NULL THEN 1 ELSE 0 END, {order}")
            }
            _ => order.to_owned(),
        };
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM {source} WHERE {} ORDER BY {order} LIMIT {} OFFSET {}",
            wheres.join(" AND "),
            s.limit + 1,
            s.offset
        );
        self.fetch(&sql, &args).await
    }

    async fn fetch(&self, sql: &str, args: &[String]) -> StoreResult<Vec<sqlx::any::AnyRow>> {
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(a.as_str());
        }
        Ok(q.fetch_all(&self.read).await?)
    }
}

/// The first `limit` rows as hits, and whether more follow.
fn hits(rows: Vec<sqlx::any::AnyRow>, limit: u32) -> StoreResult<(Vec<SearchHit>, bool)> {
    let more = rows.len() > limit as usize;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        let modes: String = row.try_get("billing_modes")?;
        out.push(SearchHit {
            product_id: row.try_get("product_id")?,
            name: row.try_get("name")?,
            category: row.try_get("category")?,
            delivery_type: row.try_get("delivery_type")?,
            billing_modes: modes.split_whitespace().map(str::to_owned).collect(),
            currency: row.try_get("currency")?,
            min_price_minor: row.try_get("min_price_minor")?,
        });
    }
    Ok((out, more))
}
