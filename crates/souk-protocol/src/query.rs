//! Query-string encoding (strict, RFC 3986) and parsing (lenient, form style).
//!
//! **Encoding** percent-encodes every byte outside the RFC 3986 unreserved set
//! (`A-Z a-z 0-9 - _ . ~`): space → `%20`, `+` → `%2B`, `/` → `%2F`, `=` → `%3D`. Servlet,
//! PHP `$_GET` and Python decoders all read this back exactly (spec §2.1), and because a `+`
//! never appears raw nobody has to guess whether it meant a space.
//!
//! **Parsing** mimics what seller frameworks do (`application/x-www-form-urlencoded` rules):
//! `+` decodes to a space, `%XX` to its byte, malformed escapes stay literal, invalid UTF-8
//! becomes U+FFFD. Decoding `+` as a space is the point: that is what a Java/PHP seller sees,
//! so signatures computed on our side agree with theirs. The price is that a sender who leaves
//! a `+` unescaped (the docs show `authToken=09lsS5y+KCtx…`) loses it; [`crate::v1`] repairs
//! that for the Base64-valued parameters where a space can never be legitimate.

use std::collections::BTreeMap;

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// A parameter map: keys sorted by byte order, which equals Java `TreeMap` order for the
/// ASCII names the protocol uses. One value per key (the protocol never repeats a key).
pub type Params = BTreeMap<String, String>;

/// Everything except the RFC 3986 unreserved characters gets percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one component RFC 3986 style (uppercase hex, `%20` for space).
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Encodes pairs as `k=v&k=v`, both sides percent-encoded, in the order given.
pub fn encode_query<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_component(k));
        out.push('=');
        out.push_str(&encode_component(v));
    }
    out
}

/// Encodes a [`Params`] map (sorted by key).
pub fn encode_params(params: &Params) -> String {
    encode_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Decodes one form-encoded component: `+` → space, then `%XX` → byte, lossy UTF-8.
pub fn decode_component(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_decode(plus_as_space.as_bytes())
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a query string into pairs, keeping order and duplicates. Never fails: empty
/// segments are skipped, a segment without `=` is a key with an empty value, and a leading
/// `?` is ignored.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(segment), String::new()),
        })
        .collect()
}

/// Parses a query string into a [`Params`] map. For repeated keys the **first** value wins,
/// as in the official Java sample (`getParameterMap()` … `[0]`).
pub fn parse_params(query: &str) -> Params {
    let mut params = Params::new();
    for (k, v) in parse_query(query) {
        params.entry(k).or_insert(v);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(
            encode_component("a b+c/d=e&f~g-h_i.j"),
            "a%20b%2Bc%2Fd%3De%26f~g-h_i.j"
        );
        assert_eq!(encode_component("中"), "%E4%B8%AD");
        assert_eq!(
            encode_query([("a", "1"), ("b c", "x=y")]),
            "a=1&b%20c=x%3Dy"
        );
    }

    #[test]
    fn parses_form_style() {
        let pairs = parse_query("?a=1+2&b=%2B%20&c&&d=x=y&e=%zz&a=second");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "+ ".into()),
                ("c".into(), "".into()),
                ("d".into(), "x=y".into()),
                ("e".into(), "%zz".into()),
                ("a".into(), "second".into()),
            ]
        );
        let params = parse_params("a=first&a=second");
        assert_eq!(params["a"], "first");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        assert_eq!(parse_params("a=%FF")["a"], "\u{FFFD}");
    }
}
