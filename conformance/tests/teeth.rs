//! Proof that the suite has teeth: it runs against a small correct SCIM stub, then against the
//! same stub with one fault switched on, and the checks that verify the broken behaviour must go
//! from pass to fail (and no MUST that passed on the correct stub may be reported as a skip
//! because of the fault).

#![allow(clippy::unwrap_used)]

mod stub;

use std::collections::BTreeSet;

use conformance::{Options, Report, Verdict};
use stub::{Fault, TOKEN};

async fn run(faults: &[Fault]) -> Report {
    let s = stub::start(faults).await;
    let options = Options {
        fixtures: None,
        ..Options::default()
    };
    conformance::run(&s.base(), TOKEN, options).await.unwrap()
}

fn verdict(r: &Report, id: &str) -> Option<Verdict> {
    r.outcome(id).map(|o| o.verdict)
}

/// The checks `ids` pass on the correct stub and fail with `fault`.
async fn bites(fault: Fault, ids: &[&str]) {
    let good = run(&[]).await;
    let bad = run(&[fault]).await;
    for id in ids {
        assert_eq!(
            verdict(&good, id),
            Some(Verdict::Pass),
            "{id} must pass on the correct stub: {:?}",
            good.outcome(id).map(|o| &o.reason)
        );
        assert_eq!(
            verdict(&bad, id),
            Some(Verdict::Fail),
            "{id} must fail with {fault:?}: {:?}",
            bad.outcome(id).map(|o| &o.reason)
        );
        let o = bad.outcome(id).unwrap();
        assert!(!o.reason.is_empty(), "{id}: a failure says why");
        assert!(
            !o.exchanges.is_empty(),
            "{id}: a failure shows the exchanges"
        );
    }
    assert!(
        !bad.passed(true),
        "{fault:?}: the run must not pass in strict mode"
    );
}

#[tokio::test]
async fn the_correct_stub_passes_what_it_implements() {
    let r = run(&[]).await;
    // What the stub deliberately leaves out: value-filter paths and sub-attribute paths in
    // filters and PATCH.
    let unimplemented: BTreeSet<&str> = [
        "filter.value-path",
        "patch.replace-value-filter",
        "patch.replace-filter-no-match",
        "patch.remove-value-filter",
        "patch.members-remove-filter",
        "patch.multiple-operations",
    ]
    .into();
    let failed: BTreeSet<&str> = r
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Fail && o.check.level == conformance::Level::Must)
        .map(|o| o.check.id.as_str())
        .collect();
    let unexpected: Vec<_> = failed.difference(&unimplemented).collect();
    assert!(
        unexpected.is_empty(),
        "MUST checks failing on the correct stub: {unexpected:?}\n{}",
        conformance::report::table::render(
            &r,
            conformance::report::table::Style {
                verbose: false,
                failures_only: true
            }
        )
    );
    assert!(
        r.leftovers.is_empty(),
        "the run cleans up: {:?}",
        r.leftovers
    );
}

#[tokio::test]
async fn answering_201_where_409_is_due() {
    bites(
        Fault::DuplicateCreated,
        &[
            "users.create.duplicate-409",
            "schema.User.userName.uniqueness",
        ],
    )
    .await;
}

#[tokio::test]
async fn html_error_pages() {
    bites(
        Fault::HtmlErrors,
        &[
            "errors.404-unknown-resource",
            "errors.404-unknown-endpoint",
            "errors.400-malformed-json",
            "media.response-scim-json",
            "auth.error-body",
            "filter.invalid-400",
            "users.delete.gone-404",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_total_results() {
    bites(
        Fault::WrongTotal,
        &[
            "paging.list-response",
            "filter.eq",
            "filter.no-match",
            "filter.sw",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_ignored_if_match() {
    bites(
        Fault::IgnoreIfMatch,
        &[
            "etag.if-match-put-412",
            "etag.if-match-patch-412",
            "etag.if-match-delete-412",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_patch_that_changes_nothing() {
    bites(
        Fault::PatchNoop,
        &[
            "patch.replace-path",
            "patch.replace-no-path",
            "patch.add-multi-valued",
            "patch.remove-path",
            "patch.members-add",
        ],
    )
    .await;
}

#[tokio::test]
async fn no_authentication() {
    bites(
        Fault::NoAuth,
        &[
            "auth.missing-401",
            "auth.invalid-token-401",
            "auth.malformed-401",
            "auth.writes-refused",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_returned_password() {
    bites(
        Fault::ReturnsPassword,
        &[
            "schema.User.password.returned",
            "schema.User.password.mutability",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_case_sensitive_user_name_filter() {
    bites(
        Fault::CaseSensitiveUserName,
        &["filter.username-any-case", "schema.User.userName.caseExact"],
    )
    .await;
}

#[tokio::test]
async fn a_delete_that_keeps_the_resource() {
    bites(
        Fault::DeleteKeeps,
        &[
            "users.delete.gone-404",
            "users.delete.omitted-from-queries",
            "groups.delete.gone-404",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_ignored_count() {
    bites(
        Fault::IgnoresCount,
        &["paging.count", "paging.start-index", "paging.count-zero"],
    )
    .await;
}

#[tokio::test]
async fn a_201_without_location() {
    bites(
        Fault::NoLocation,
        &["users.create.location", "groups.create.location"],
    )
    .await;
}

#[tokio::test]
async fn an_ignored_excluded_attributes() {
    bites(
        Fault::IgnoresExcluded,
        &[
            "projection.excluded-get",
            "projection.excluded-members",
            "schema.User.displayName.returned",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_numeric_error_status() {
    bites(
        Fault::NumericErrorStatus,
        &[
            "auth.error-body",
            "errors.404-unknown-resource",
            "etag.if-match-put-412",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_etag_that_never_changes() {
    bites(Fault::StaleEtag, &["etag.changes-with-resource"]).await;
}

#[tokio::test]
async fn an_unadvertised_sort_silently_ignored() {
    bites(Fault::IgnoresSort, &["sort.unadvertised"]).await;
}

#[tokio::test]
async fn a_patch_that_is_not_atomic() {
    bites(Fault::PatchNotAtomic, &["patch.atomic"]).await;
}

#[tokio::test]
async fn an_unreachable_server_fails_every_must() {
    let options = Options {
        fixtures: None,
        timeout: std::time::Duration::from_secs(2),
        ..Options::default()
    };
    let r = conformance::run("http://127.0.0.1:9/scim/v2", "x", options)
        .await
        .unwrap();
    assert!(!r.passed(false));
    assert_eq!(verdict(&r, "discovery.spc.get"), Some(Verdict::Fail));
}

#[tokio::test]
async fn selection_by_tag_and_section() {
    let s = stub::start(&[]).await;
    let options = Options {
        fixtures: None,
        selection: conformance::Selection {
            tags: vec!["etag".into()],
            sections: vec![],
        },
        ..Options::default()
    };
    let r = conformance::run(&s.base(), TOKEN, options).await.unwrap();
    assert!(!r.outcomes.is_empty());
    assert!(r
        .outcomes
        .iter()
        .all(|o| o.check.tags.iter().any(|t| t == "etag")));

    let options = Options {
        fixtures: None,
        selection: conformance::Selection {
            tags: vec![],
            sections: vec!["7644:3.5.2".into()],
        },
        ..Options::default()
    };
    let r = conformance::run(&s.base(), TOKEN, options).await.unwrap();
    assert!(!r.outcomes.is_empty());
    assert!(r
        .outcomes
        .iter()
        .all(|o| o.check.section.starts_with("RFC 7644 §3.5.2")));
}
