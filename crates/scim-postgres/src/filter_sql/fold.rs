//! Case folding in SQL that agrees with Rust's: `str::to_lowercase`, which the evaluator and the
//! core's `fold` use. PostgreSQL's `lower()` cannot be used for it: under `COLLATE "C"` it folds
//! ASCII only, and under a locale it follows the locale's tables (or ICU's), whose Unicode
//! version and special cases are not Rust's.
//!
//! So the mapping is Rust's own, tabulated once from `char::to_lowercase` over every `char` and
//! bound as parameters: `translate(t, $from, $to)` for the characters that lower-case to one
//! character, `replace(t, $c, $lower)` for the few that lower-case to several (`İ`). An ASCII-only
//! text (`octet_length = char_length`) takes the fast path `lower(t COLLATE "C")`, which is the
//! same mapping on ASCII.
//!
//! The one context-dependent rule of `str::to_lowercase` is the final sigma: `Σ` becomes `ς` at
//! the end of a word, `σ` elsewhere. The table maps `Σ` to `σ` everywhere, so the SQL fold of a
//! text holding `Σ` may differ from Rust's in exactly the positions of `Σ`, where it holds `σ`
//! and Rust may hold `ς`. A comparison with a folded literal holding neither `σ` nor `ς` comes
//! out the same either way (no character sorts between `ς` U+03C2 and `σ` U+03C3, and neither can
//! be part of a match); other comparisons treat texts holding `Σ` as undecided ([`SIGMA`]).
//!
//! A literal that is ASCII once folded (most are) needs less: only the two characters that
//! lower-case to something holding ASCII (`İ` to `i̇`, the Kelvin sign to `k`) are replaced, then
//! ASCII is lower-cased. Every other character stays non-ASCII either way, and so can neither be
//! part of a match of an ASCII literal nor order otherwise against it (every non-ASCII character
//! sorts after every ASCII one): `eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le` all come
//! out as Rust's.

use std::sync::OnceLock;

/// Capital sigma, the one character Rust folds by context.
pub(super) const SIGMA: char = 'Σ';

/// Rust's lower-case mapping, as SQL `translate` and `replace` arguments.
#[derive(Debug)]
pub(super) struct Table {
    /// Characters that lower-case to one other character, and their lower-case forms, in order.
    pub from: String,
    pub to: String,
    /// Characters that lower-case to several characters, with what they become.
    pub multi: Vec<(String, String)>,
    /// Non-ASCII characters whose lower-case form holds ASCII, with that form.
    pub to_ascii: Vec<(String, String)>,
}

/// The table, built on first use.
pub(super) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut from = String::new();
        let mut to = String::new();
        let mut multi = Vec::new();
        let mut to_ascii = Vec::new();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            if !c.is_ascii() && c.to_lowercase().any(|l| l.is_ascii()) {
                to_ascii.push((c.to_string(), c.to_lowercase().collect()));
            }
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l == c => {}
                (Some(l), None) => {
                    from.push(c);
                    to.push(l);
                }
                _ => multi.push((c.to_string(), c.to_lowercase().collect())),
            }
        }
        Table {
            from,
            to,
            multi,
            to_ascii,
        }
    })
}

/// Whether a folded literal compares with SQL-folded texts exactly as with Rust-folded ones
/// (see the module's documentation).
pub(super) fn sigma_free(folded: &str) -> bool {
    !folded.contains(['σ', 'ς'])
}
