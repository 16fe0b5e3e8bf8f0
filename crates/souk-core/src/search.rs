//! Catalog search terms, the same on both database engines.
//!
//! Neither SQLite's FTS5 `unicode61` tokenizer nor PostgreSQL's `simple` text-search
//! configuration splits Chinese (which has no spaces between words), and their trigram
//! indexes need three characters while most Chinese words have two. So Souk tokenizes itself,
//! the way CJK search engines commonly do: Latin-script and digit runs become lower-cased
//! words, and every run of CJK characters becomes its single characters plus every pair of
//! neighbours (unigrams and bigrams). The engines then only match whole tokens: an FTS5 table
//! over the terms on SQLite, a `tsvector` with a GIN index on PostgreSQL.
//!
//! A query is tokenized the same way; a product matches when it has every query term. A CJK
//! run of two or more characters contributes its bigrams (`云监控` → `云监`, `监控`), one
//! character its unigram; the last Latin word of a query also matches as a prefix (`monit`
//! finds `monitoring`) so that search-as-you-type works.

/// The most terms a query is reduced to: enough for any sensible query, and a bound on the
/// size of the statement the engine has to plan.
pub const MAX_QUERY_TERMS: usize = 12;

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'      // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'    // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'    // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'    // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{2FFFF}') // Extensions B–F
}

/// One run of characters of the same kind.
enum Run {
    Word(String),
    Cjk(Vec<char>),
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Run::Cjk(cjk));
    }
    out
}

/// The terms a product's texts are indexed under, space-separated, each at most once.
pub fn index_terms(texts: &[&str]) -> String {
    let mut terms: Vec<String> = Vec::new();
    for text in texts {
        for run in runs(text) {
            match run {
                Run::Word(w) => terms.push(w),
                Run::Cjk(chars) => {
                    terms.extend(chars.iter().map(|c| c.to_string()));
                    terms.extend(chars.windows(2).map(|p| p.iter().collect()));
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.join(" ")
}

/// What a search box's text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Terms that must all be present.
    pub terms: Vec<String>,
    /// Whether the last term also matches as a prefix (it is a Latin word being typed).
    pub last_is_prefix: bool,
}

impl Query {
    /// `None` when the text holds nothing searchable (blank, punctuation only).
    pub fn parse(text: &str) -> Option<Query> {
        let mut terms = Vec::new();
        let mut last_is_prefix = false;
        for run in runs(text) {
            match run {
                Run::Word(w) => {
                    terms.push(w);
                    last_is_prefix = true;
                }
                Run::Cjk(chars) if chars.len() == 1 => {
                    terms.push(chars[0].to_string());
                    last_is_prefix = false;
                }
                Run::Cjk(chars) => {
                    terms.extend(chars.windows(2).map(|p| p.iter().collect::<String>()));
                    last_is_prefix = false;
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        terms.retain(|t| seen.insert(t.clone()));
        if terms.len() > MAX_QUERY_TERMS {
            terms.truncate(MAX_QUERY_TERMS);
            last_is_prefix = false;
        }
        (!terms.is_empty()).then_some(Query {
            terms,
            last_is_prefix,
        })
    }

    /// The query in FTS5's syntax: each term quoted (so no term is read as an operator),
    /// implicitly AND-ed, the last one with `*` when it is a prefix.
    pub fn fts5(&self) -> String {
        self.render(|t| format!("\"{}\"", t.replace('"', "\"\"")), "*", " ")
    }

    /// The query in PostgreSQL's `tsquery` syntax: each term single-quoted, joined with `&`,
    /// the last one with `:*` when it is a prefix.
    pub fn tsquery(&self) -> String {
        self.render(
            |t| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''")),
            ":*",
            " & ",
        )
    }

    fn render(&self, quote: impl Fn(&str) -> String, prefix: &str, sep: &str) -> String {
        let n = self.terms.len();
        self.terms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let star = if i + 1 == n && self.last_is_prefix {
                    prefix
                } else {
                    ""
                };
                format!("{}{star}", quote(t))
            })
            .collect::<Vec<_>>()
            .join(sep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_indexed_as_characters_and_pairs_and_english_as_lower_case_words() {
        assert_eq!(
            index_terms(&["云监控 Cloud-Monitor", "监控"]),
            "云 监 控 云监 监控 cloud monitor"
        );
    }

    #[test]
    fn a_chinese_word_query_needs_its_pairs_so_it_matches_the_indexed_text() {
        let q = Query::parse("云监控").unwrap();
        assert_eq!(q.terms, ["云监", "监控"]);
        assert!(!q.last_is_prefix);
        let indexed = index_terms(&["企业云监控平台"]);
        assert!(q.terms.iter().all(|t| indexed.split(' ').any(|x| x == t)));
        let one = Query::parse("云").unwrap();
        assert_eq!(one.terms, ["云"]);
    }

    #[test]
    fn the_last_latin_word_is_a_prefix_and_quotes_cannot_break_out() {
        let q = Query::parse("Hosted MONIT").unwrap();
        assert_eq!(q.fts5(), "\"hosted\" \"monit\"*");
        assert_eq!(q.tsquery(), "'hosted' & 'monit':*");
        // Punctuation (quotes, operators) never reaches a term: it separates words.
        let q = Query::parse("a\"b' OR c*").unwrap();
        assert_eq!(q.terms, ["a", "b", "or", "c"]);
        assert_eq!(q.fts5(), "\"a\" \"b\" \"or\" \"c\"*");
    }

    #[test]
    fn blank_and_punctuation_only_queries_ask_for_nothing_and_long_ones_are_bounded() {
        assert_eq!(Query::parse("  ,.;!  "), None);
        let long = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let q = Query::parse(&long).unwrap();
        assert_eq!(q.terms.len(), MAX_QUERY_TERMS);
        assert!(!q.last_is_prefix);
    }
}
