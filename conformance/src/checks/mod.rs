//! The checks, grouped by what they verify. Each module declares its checks as constants (stable
//! id, RFC section, level, title, tags), lists them in `CHECKS`, and runs them in `run`.
//! Checks derived from `/Schemas` ([`matrix`]) and from the IdP corpus ([`idp`]) are built at run
//! time; their families are listed in [`FAMILIES`].

use crate::cx::Cx;
use crate::model::{CheckDef, Level};

/// Declares a check constant: `check!(NAME, "id", "RFC 7644 §3.3", Must, "title", ["tag"])`.
macro_rules! check {
    ($name:ident, $id:literal, $section:literal, $level:ident, $title:literal, [$($tag:literal),* $(,)?]) => {
        #[doc = concat!("Check `", $id, "` (", $section, ", ", stringify!($level), ").")]
        pub const $name: $crate::model::CheckDef = $crate::model::CheckDef {
            id: $id,
            section: $section,
            level: $crate::model::Level::$level,
            title: $title,
            tags: &[$($tag),*],
        };
    };
}

pub mod auth;
pub mod bulk;
pub mod crud;
pub mod discovery;
pub mod errors;
pub mod etag;
pub mod filter;
pub mod idp;
pub mod matrix;
pub mod paging;
pub mod patch;
pub mod projection;

/// Every statically declared check, in execution order.
pub fn all() -> Vec<&'static CheckDef> {
    [
        discovery::CHECKS,
        auth::CHECKS,
        errors::CHECKS,
        crud::CHECKS,
        filter::CHECKS,
        paging::CHECKS,
        projection::CHECKS,
        patch::CHECKS,
        etag::CHECKS,
        bulk::CHECKS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The families of checks built at run time: id pattern, section, level, what they verify.
pub const FAMILIES: &[(&str, &str, Level, &str)] = &[
    (
        "schema.<Type>.<attr>.mutability",
        "RFC 7643 §2.2",
        Level::Must,
        "readWrite values round-trip (SHOULD), readOnly values sent by a client are ignored or refused, immutable values cannot change, writeOnly values are never returned",
    ),
    (
        "schema.<Type>.<attr>.returned",
        "RFC 7643 §2.2",
        Level::Must,
        "never: absent from every response; always: present even when other attributes are requested; request: only when requested",
    ),
    (
        "schema.<Type>.<attr>.uniqueness",
        "RFC 7644 §3.3",
        Level::Must,
        "server/global: a second resource with the same value answers 409 uniqueness (a case variant too, for caseExact false: SHOULD)",
    ),
    (
        "schema.<Type>.<attr>.caseExact",
        "RFC 7643 §2.2",
        Level::Must,
        "caseExact true: case is preserved and eq is case-sensitive; false: eq matches any case",
    ),
    (
        "schema.<Type>.<attr>.required",
        "RFC 7643 §2.2",
        Level::Must,
        "a create without the required attribute answers 400",
    ),
    (
        "idp.<client>.<case>",
        "IdP corpus",
        Level::Should,
        "one request sequence an identity provider sends (fixtures/idp), each step's status and response checked",
    ),
];

/// Runs every group in order, then deletes what the run created.
pub async fn run_all(cx: &mut Cx) -> Vec<String> {
    discovery::run(cx).await;
    // The corpus first: its fixtures expect a server without Users and Groups.
    idp::run(cx).await;
    auth::run(cx).await;
    errors::run(cx).await;
    crud::run(cx).await;
    matrix::run(cx).await;
    filter::run(cx).await;
    paging::run(cx).await;
    projection::run(cx).await;
    patch::run(cx).await;
    etag::run(cx).await;
    bulk::run(cx).await;
    errors::no_500(cx);
    cx.cleanup().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_dotted() {
        let mut seen = BTreeSet::new();
        for c in all() {
            assert!(seen.insert(c.id), "duplicate check id {}", c.id);
            assert!(
                c.id.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "-.".contains(ch)),
                "{}",
                c.id
            );
            assert!(c.section.starts_with("RFC "), "{}: {}", c.id, c.section);
            assert!(!c.tags.is_empty(), "{} has no tag", c.id);
        }
    }
}
