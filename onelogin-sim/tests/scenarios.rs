//! Every stored scenario parses, validates and passes against a lenient
//! in-memory SCIM server; the sync provisions a synthetic directory.

#![allow(clippy::unwrap_used)]

mod support;

use indicatif::ProgressBar;
use onelogin_sim::sync::{run_sync, SyncOptions};
use onelogin_sim::{
    list_scenarios, run_scenario, scenarios_dir, EntryKind, Scenario, Target, Verdict, WireOptions,
};

#[test]
fn scenarios_dir_holds_the_required_scenarios() {
    let dir = scenarios_dir();
    assert!(dir.is_dir(), "{}", dir.display());
    let names: Vec<String> = list_scenarios()
        .unwrap()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "user-lifecycle",
        "link-existing-user",
        "group-provisioning",
        "deprovision-delete",
        "deprovision-suspend",
        "deprovision-do-nothing",
        "v1.1-enterprise",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing {required}: {names:?}"
        );
    }
}

#[test]
fn every_scenario_validates() {
    for path in list_scenarios().unwrap() {
        let scenario = Scenario::load(&path).unwrap();
        scenario
            .validate()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!scenario.description.is_empty(), "{}", path.display());
    }
}

#[tokio::test]
async fn every_scenario_passes_against_a_lenient_server() {
    for path in list_scenarios().unwrap() {
        let running = support::start().await;
        let scenario = Scenario::load(&path).unwrap();
        let target = Target::new(running.base(), support::TOKEN);
        let transcript = run_scenario(&scenario, &target).await.unwrap();
        assert!(transcript.passed, "{}", transcript.to_text(true));
        assert!(transcript
            .entries
            .iter()
            .any(|e| e.kind == EntryKind::Onelogin));
    }
}

#[tokio::test]
async fn scenarios_run_twice_against_the_same_server() {
    let running = support::start().await;
    let target = Target::new(running.base(), support::TOKEN);
    for path in list_scenarios().unwrap() {
        let scenario = Scenario::load(&path).unwrap();
        for round in 0..2 {
            let transcript = run_scenario(&scenario, &target).await.unwrap();
            assert!(
                transcript.passed,
                "round {round}: {}",
                transcript.to_text(true)
            );
        }
    }
}

#[tokio::test]
async fn lifecycle_transcript_marks_checks_and_judges_each_step() {
    let running = support::start().await;
    let scenario = Scenario::find("user-lifecycle").unwrap();
    let target = Target::new(running.base(), support::TOKEN);
    let t = run_scenario(&scenario, &target).await.unwrap();
    assert!(t.passed, "{}", t.to_text(true));
    let checks: Vec<_> = t
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Check)
        .collect();
    assert_eq!(checks.len(), 7);
    assert!(checks
        .iter()
        .all(|e| e.op.is_none() && e.latency_ms.is_some()));
    let onelogin: Vec<String> = t
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Onelogin)
        .map(|e| {
            format!(
                "{} {}",
                e.request.as_ref().unwrap().method,
                e.op.unwrap().name()
            )
        })
        .collect();
    assert_eq!(
        onelogin,
        [
            "GET connection_test",
            "GET lookup_user",
            "POST create_user",
            "PUT replace_user",
            "PUT replace_user",
            "PUT replace_user",
            "DELETE delete_user",
        ]
    );
    let json: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["entries"][0]["kind"], "onelogin");
    assert_eq!(json["entries"][0]["verdict"], "pass");
}

#[tokio::test]
async fn a_wrong_token_fails_the_run() {
    let running = support::start().await;
    let scenario = Scenario::find("user-lifecycle").unwrap();
    let target = Target::new(running.base(), "wrong");
    let t = run_scenario(&scenario, &target).await.unwrap();
    assert!(!t.passed);
    assert_eq!(t.entries[0].verdict, Verdict::Fail);
    assert!(
        t.entries[0].reason.contains("401"),
        "{}",
        t.entries[0].reason
    );
}

#[tokio::test]
async fn a_refused_connection_fails_without_panicking() {
    let scenario = Scenario::find("deprovision-delete").unwrap();
    let target = Target::new("http://127.0.0.1:9/scim/v2", "x");
    let t = run_scenario(&scenario, &target).await.unwrap();
    assert!(!t.passed);
    assert!(t.entries[0].error.is_some());
}

#[tokio::test]
async fn sync_provisions_a_synthetic_directory() {
    let running = support::start().await;
    let target = Target::new(running.base(), support::TOKEN);
    let options = SyncOptions {
        users: 40,
        concurrency: 4,
        groups: 3,
        prefix: "t".into(),
        ..SyncOptions::default()
    };
    let report = run_sync(&target, &options, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(report.users_ok, 40);
    {
        let store = running.fake.store.lock().unwrap();
        assert_eq!(store.users.len(), 40);
        assert_eq!(store.groups.len(), 3);
        let memberships: usize = store
            .groups
            .values()
            .map(|g| g["members"].as_array().unwrap().len())
            .sum();
        assert_eq!(memberships, 40 + 10);
        // 1 refresh + 3 group creations + 40 × (lookup + create) + 50 PATCHes
        assert_eq!(report.requests, 1 + 3 + 80 + 50);
        let ops: Vec<&str> = report.ops.iter().map(|o| o.op.as_str()).collect();
        assert_eq!(
            ops,
            [
                "lookup_user",
                "create_user",
                "list_groups",
                "create_group",
                "patch_group"
            ]
        );
    }

    // A second sync links everyone: lookups find the users, PUTs follow, no POST.
    let again = run_sync(&target, &options, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(again.passed(), "{}", again.to_text());
    assert!(again
        .ops
        .iter()
        .any(|o| o.op == "replace_user" && o.count == 40));
    assert!(!again
        .ops
        .iter()
        .any(|o| o.op == "create_user" || o.op == "create_group"));
}

/// Users 0, 5, 10, … get a 429 on their lookup; users 1, 6, 11, … a 503 on their create.
fn refuse_some_users(req: &wiremock::Request) -> Option<u16> {
    let url = req.url.as_str();
    let body = String::from_utf8_lossy(&req.body);
    let last_digit = |s: &str| s.chars().last().and_then(|c| c.to_digit(10));
    match req.method.as_str() {
        "GET" if url.contains("filter=") => last_digit(url.trim_end_matches("%22&"))
            .filter(|d| d % 5 == 0)
            .map(|_| 429),
        "POST" if url.ends_with("/Users") => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["userName"].as_str().and_then(last_digit))
            .filter(|d| d % 5 == 1)
            .map(|_| 503),
        _ => None,
    }
}

#[tokio::test]
async fn refused_users_are_failed_provisionings_until_retry_after_is_honoured() {
    let options = SyncOptions {
        users: 20,
        concurrency: 4,
        groups: 2,
        prefix: "t".into(),
        ..SyncOptions::default()
    };
    let running = support::start_flaky(refuse_some_users).await;
    let target = Target::new(running.base(), support::TOKEN);
    let report = run_sync(&target, &options, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!report.passed());
    assert_eq!((report.users_ok, report.users_failed), (12, 8));
    let failed: Vec<(String, Option<u16>, &str)> = report
        .failed_provisionings
        .iter()
        .map(|f| (f.user.clone().unwrap(), f.status, f.reason.as_str()))
        .collect();
    let expected: Vec<(String, Option<u16>, &str)> = [0, 1, 5, 6, 10, 11, 15, 16]
        .into_iter()
        .map(|i| {
            let user = format!("t-user-{i:06}");
            if i % 5 == 0 {
                (user, Some(429), "HTTP 429 on the userName lookup")
            } else {
                (user, Some(503), "HTTP 503: OneLogin expects 201 Created")
            }
        })
        .collect();
    assert_eq!(failed, expected, "{}", report.to_text());
    assert!(report
        .failed_provisionings
        .iter()
        .all(|f| f.retry_after.as_deref() == Some("0") && f.event.starts_with("assign ")));
    let text = report.to_text();
    assert!(text.contains("failed provisionings: 8 "), "{text}");
    assert!(
        text.contains("4 × HTTP 429 on the userName lookup"),
        "{text}"
    );
    assert!(
        text.contains("failed: assign t-user-000005") && text.contains("→ 429 (Retry-After: 0)"),
        "{text}"
    );
    assert_eq!(report.retries, 0, "OneLogin's default sends nothing again");

    // The same refusals, from a fresh server, to an identity provider that honours Retry-After.
    let running = support::start_flaky(refuse_some_users).await;
    let target = Target::new(running.base(), support::TOKEN);
    let honouring = SyncOptions {
        wire: WireOptions {
            honour_retry_after: true,
            ..WireOptions::default()
        },
        ..options
    };
    let report = run_sync(&target, &honouring, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(report.passed(), "{}", report.to_text());
    assert!(report.failed_provisionings.is_empty());
    assert_eq!(report.retries, 8, "{}", report.to_text());
    assert_eq!(running.fake.store.lock().unwrap().users.len(), 20);
}
