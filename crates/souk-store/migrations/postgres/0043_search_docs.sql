-- SQLite's full-text index was rebuilt with document numbers in relevance order
-- (sqlite/0043_search_docs.sql); PostgreSQL's GIN index over `product_search.terms_fts` needs
-- no change. This file keeps the two engines' migration lists alike.
SELECT 1;
