-- The storefront's full-text index, rebuilt (docs/consoles.md "Search").
--
-- Before, `product_search_fts` kept `product_id` as an unindexed column: replacing a product's
-- entry (`DELETE ... WHERE product_id = ?`) read the whole table, so every catalog write grew
-- with the catalog (seeding 100,000 products took over an hour), and relevance was FTS5's bm25
-- computed for every match (27-42 ms for a common word at 100,000 products).
--
-- Now the FTS5 rowid of a product's entry (`doc`) is its place in the relevance order:
--     doc = term_count * 2^32 + (2^32 - 1 - seq)
-- `term_count` is the number of terms (each term is indexed once, souk_core::search), `seq`
-- numbers products in the order they were first indexed (kept for good). bm25 with every term
-- occurring once and every query term required is a decreasing function of the length alone,
-- so ascending `doc` is bm25's order (ties newest first), and the storefront walks the matches
-- in that order and stops after one page (search.rs). The FTS5 table keeps no content of its own
-- (`product_search.terms` has it); an entry is removed by rowid (`contentless_delete`).
DROP TABLE product_search_fts;

CREATE TABLE product_search_fts_docs (
    product_id  TEXT PRIMARY KEY REFERENCES product_search (product_id),
    seq         INTEGER NOT NULL UNIQUE,
    doc         INTEGER NOT NULL UNIQUE
);

CREATE VIRTUAL TABLE product_search_fts USING fts5 (
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 0"
);

INSERT INTO product_search_fts_docs (product_id, seq, doc)
SELECT product_id, n,
       (CASE WHEN terms = '' THEN 0 ELSE length(terms) - length(replace(terms, ' ', '')) + 1 END)
       * 4294967296 + (4294967295 - n)
FROM (SELECT product_id, terms, row_number() OVER (ORDER BY product_id) AS n FROM product_search);

INSERT INTO product_search_fts (rowid, terms)
SELECT d.doc, s.terms FROM product_search_fts_docs d
JOIN product_search s ON s.product_id = d.product_id;
