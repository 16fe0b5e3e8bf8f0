//! The one place where a database refusal becomes a [`StoreError`].
//!
//! Every `sqlx::Error` reaches the rest of Souk through `From<sqlx::Error> for StoreError` (the
//! `?` operator), and that conversion sends it here first: a unique, foreign-key or check
//! violation becomes [`StoreError::Conflict`] with the violated constraint's name and
//! [`ConstraintKind`]; anything else stays a [`StoreError::Database`].
//!
//! The engines report violations differently:
//!
//! | | unique | primary key | foreign key | check |
//! |---|---|---|---|---|
//! | PostgreSQL (SQLSTATE) | 23505 | 23505 | 23503 | 23514 |
//! | SQLite (extended code) | 2067 | 1555 | 787 | 275 |
//!
//! PostgreSQL names the constraint (or unique index). SQLite only lists the columns
//! (`UNIQUE constraint failed: orders.buyer_id, orders.sku_id`), so the name is looked up among
//! the unique indexes and named `UNIQUE` constraints of the embedded SQLite migrations, and
//! otherwise built the way PostgreSQL names it (`<table>_pkey`, `<table>_<columns>_key`). A
//! unique rule therefore has the same name on both backends (the migrations-parity test keeps the
//! index names equal). SQLite does not say which foreign key failed, and names a check only by
//! its expression: those names are for logs, not for decisions.

use crate::StoreError;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Which kind of rule the database refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// A unique index, unique constraint or primary key.
    Unique,
    ForeignKey,
    Check,
}

/// Constraints whose violation means something to a client, named identically in both
/// migrations folders. The server turns these into their own error codes; any other constraint
/// becomes a generic conflict.
pub mod constraint_names {
    /// One trial per buyer per SKU: a partial unique index on `orders (buyer_id, sku_id)` over
    /// trial orders that are not cancelled (migration 0011).
    pub const ONE_TRIAL_PER_BUYER_SKU: &str = "orders_one_trial_per_buyer_sku";
    /// At most one revision of a product under review (migration 0002).
    pub const ONE_PENDING_REVISION: &str = "product_revisions_one_pending";
    /// At most one open refund request per order (migration 0021).
    pub const ONE_OPEN_REFUND: &str = "refunds_one_open_per_order";
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match violation(&e) {
            Some((kind, constraint)) => StoreError::Conflict { constraint, kind },
            None => StoreError::Database(e),
        }
    }
}

/// The kind and name of the constraint a database error reports as violated, if it is one.
fn violation(e: &sqlx::Error) -> Option<(ConstraintKind, String)> {
    let d = e.as_database_error()?;
    let code = d.code()?;
    let pg_name = |fallback: &str| d.constraint().unwrap_or(fallback).to_owned();
    Some(match code.as_ref() {
        // PostgreSQL SQLSTATEs.
        "23505" => (ConstraintKind::Unique, pg_name("unique")),
        "23503" => (ConstraintKind::ForeignKey, pg_name("foreign_key")),
        "23514" => (ConstraintKind::Check, pg_name("check")),
        // SQLite extended result codes.
        "2067" => (
            ConstraintKind::Unique,
            sqlite_unique_name(d.message(), false),
        ),
        "1555" => (
            ConstraintKind::Unique,
            sqlite_unique_name(d.message(), true),
        ),
        "787" => (ConstraintKind::ForeignKey, "foreign_key".to_owned()),
        "275" => (ConstraintKind::Check, sqlite_check_name(d.message())),
        _ => return None,
    })
}

/// `UNIQUE constraint failed: t.a, t.b` (or `… failed: index 'name'` for an index on
/// expressions) → the constraint's name.
fn sqlite_unique_name(message: &str, primary_key: bool) -> String {
    let detail = message
        .split_once("failed:")
        .map(|(_, d)| d.trim())
        .unwrap_or("");
    if let Some(name) = detail
        .strip_prefix("index '")
        .and_then(|n| n.strip_suffix('\''))
    {
        return name.to_owned();
    }
    let mut table = None;
    let mut columns = Vec::new();
    for part in detail.split(',') {
        let Some((t, c)) = part.trim().split_once('.') else {
            return "unique".to_owned();
        };
        table.get_or_insert_with(|| t.to_owned());
        columns.push(c.to_owned());
    }
    let Some(table) = table else {
        return "unique".to_owned();
    };
    if primary_key {
        return format!("{table}_pkey");
    }
    sqlite_unique_rule_name(&table, &columns)
}

/// The name of the unique rule on `table (columns)` of the SQLite schema: the unique index or
/// named constraint that covers exactly these columns, else PostgreSQL's name for an unnamed
/// `UNIQUE` constraint.
pub(crate) fn sqlite_unique_rule_name(table: &str, columns: &[String]) -> String {
    let key = (
        table.to_lowercase(),
        columns.iter().map(|c| c.to_lowercase()).collect(),
    );
    match sqlite_unique_rules().get(&key) {
        Some(name) => name.clone(),
        None => format!("{table}_{}_key", columns.join("_")),
    }
}

/// `CHECK constraint failed: <name or expression>`.
fn sqlite_check_name(message: &str) -> String {
    match message.split_once("failed:") {
        Some((_, what)) if !what.trim().is_empty() => what.trim().to_owned(),
        _ => "check".to_owned(),
    }
}

type UniqueRules = HashMap<(String, Vec<String>), String>;

/// `(table, columns) → name` of every unique index and named `UNIQUE` table constraint in the
/// embedded SQLite migrations (the first one wins if two cover the same columns).
fn sqlite_unique_rules() -> &'static UniqueRules {
    static RULES: OnceLock<UniqueRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = UniqueRules::new();
        for m in crate::sql::SQLITE_MIGRATIONS.iter() {
            for (key, name) in unique_rules_in(&m.sql) {
                rules.entry(key).or_insert(name);
            }
        }
        rules
    })
}

/// The unique rules declared in a migration script (see [`sqlite_unique_rules`]).
fn unique_rules_in(sql: &str) -> Vec<((String, Vec<String>), String)> {
    let cleaned: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let columns = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|c| c.split_whitespace().next().unwrap_or("").to_lowercase())
            .collect()
    };
    let mut found = Vec::new();
    for statement in cleaned.split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_uppercase()).collect();
        let is = |i: usize, w: &str| upper.get(i).is_some_and(|u| u == w);
        if is(0, "CREATE") && is(1, "UNIQUE") && is(2, "INDEX") {
            // CREATE UNIQUE INDEX [IF NOT EXISTS] name ON table (cols) …
            let at = if is(3, "IF") { 6 } else { 3 };
            let (Some(name), true) = (words.get(at), is(at + 1, "ON")) else {
                continue;
            };
            let rest = words[at + 2..].join(" ");
            let Some((table, tail)) = rest.split_once('(') else {
                continue;
            };
            let Some((list, _)) = tail.split_once(')') else {
                continue;
            };
            found.push((
                (table.trim().to_lowercase(), columns(list)),
                name.to_lowercase(),
            ));
        } else if is(0, "CREATE") && is(1, "TABLE") {
            // CREATE TABLE [IF NOT EXISTS] table ( … CONSTRAINT name UNIQUE (cols) … )
            let at = if is(2, "IF") { 5 } else { 2 };
            let Some(table) = words.get(at) else {
                continue;
            };
            let table = table.split('(').next().unwrap_or("").to_lowercase();
            for i in 0..words.len() {
                if is(i, "CONSTRAINT") && is(i + 2, "UNIQUE") {
                    let rest = words[i + 3..].join(" ");
                    let Some((list, _)) = rest
                        .trim_start()
                        .strip_prefix('(')
                        .and_then(|r| r.split_once(')'))
                    else {
                        continue;
                    };
                    found.push(((table.clone(), columns(list)), words[i + 1].to_lowercase()));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_the_rule_as_postgres_does() {
        assert_eq!(
            sqlite_unique_name(
                "UNIQUE constraint failed: orders.buyer_id, orders.sku_id",
                false
            ),
            constraint_names::ONE_TRIAL_PER_BUYER_SKU
        );
        assert_eq!(
            sqlite_unique_name(
                "UNIQUE constraint failed: product_revisions.product_id",
                false
            ),
            constraint_names::ONE_PENDING_REVISION
        );
        assert_eq!(
            sqlite_unique_name("UNIQUE constraint failed: skus.sku_code", false),
            "skus_code_unique"
        );
        assert_eq!(
            sqlite_unique_name("UNIQUE constraint failed: jobs.id", false),
            "jobs_id_key"
        );
        assert_eq!(
            sqlite_unique_name("UNIQUE constraint failed: parties.id", true),
            "parties_pkey"
        );
        assert_eq!(
            sqlite_unique_name("UNIQUE constraint failed: index 'by_expr'", false),
            "by_expr"
        );
        assert_eq!(sqlite_unique_name("something else", false), "unique");
        assert_eq!(
            sqlite_check_name("CHECK constraint failed: role IN ('a')"),
            "role IN ('a')"
        );
    }

    #[test]
    fn rules_are_read_from_both_statement_forms() {
        let rules = unique_rules_in(
            "-- a comment; with a semicolon\n\
             CREATE TABLE IF NOT EXISTS t (a TEXT, b TEXT, -- note\n\
               CONSTRAINT t_ab UNIQUE (a, b));\n\
             create unique index t_b_when ON t (b DESC) WHERE a IS NOT NULL;",
        );
        assert_eq!(
            rules,
            vec![
                (("t".into(), vec!["a".into(), "b".into()]), "t_ab".into()),
                (("t".into(), vec!["b".into()]), "t_b_when".into()),
            ]
        );
    }
}
