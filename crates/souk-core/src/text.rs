//! Text people read: names, labels, reasons. Two rules beyond length and control characters:
//! a text must show something (a name made only of zero-width spaces or joiners is blank on
//! every screen), and it must not carry the Unicode controls that reorder what follows them
//! (embeddings, overrides, isolates), which make one name display as another.

/// Characters that render as nothing: white space, zero-width spaces and joiners, direction
/// marks, invisible operators, fillers, variation selectors, tags, the byte-order mark.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI,
/// PDI). Plain direction marks (LRM, RLM, ALM) stay allowed: mixed-script names need them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Why a display text is refused, if it is.
pub fn display_problem(t: &str) -> Option<&'static str> {
    if t.chars().all(is_invisible) {
        return Some("must contain a visible character");
    }
    if t.chars().any(is_bidi_control) {
        return Some("must not contain Unicode direction overrides or isolates (U+202A–U+202E, U+2066–U+2069)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_reordering_texts_are_refused() {
        for bad in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}\u{2060}",
            "\u{FEFF}\u{00AD}",
            " \u{3164} ",
            "\u{E0041}\u{E0042}",
            "Acme\u{202E}gnp.exe",
            "\u{2066}Acme\u{2069}",
        ] {
            assert!(display_problem(bad).is_some(), "{bad:?}");
        }
        for good in [
            "Acme",
            "云商店",
            "مرحبا\u{200F} Acme",
            "a\u{200D}b",
            "Ünïcödé",
        ] {
            assert_eq!(display_problem(good), None, "{good:?}");
        }
    }
}
