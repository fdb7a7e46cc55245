//! Every stored scenario parses, validates and passes against a lenient
//! in-memory SCIM server; the sync provisions a synthetic directory.

#![allow(clippy::unwrap_used)]

mod support;

use indicatif::ProgressBar;
use onelogin_sim::sync::{run_sync, SyncOptions};
use onelogin_sim::{
    list_scenarios, run_scenario, scenarios_dir, EntryKind, Scenario, Target, Verdict,
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
