//! Every OneLogin scenario under `fixtures/onelogin/`, replayed by `onelogin-sim` against the real
//! server, with the end state each scenario expects checked through the SCIM API.

use indicatif::ProgressBar;
use onelogin_sim::sync::{run_sync, synthetic_directory, SyncOptions};

use crate::support::TestServer;

#[tokio::test]
async fn every_onelogin_scenario_passes() {
    let s = TestServer::start().await;
    let target = onelogin_sim::Target::new(s.base.clone(), s.key.clone());
    let scenarios = onelogin_sim::list_scenarios().expect("scenarios");
    assert!(
        scenarios.len() >= 6,
        "the scenarios are found: {scenarios:?}"
    );
    let mut failed = Vec::new();
    for path in scenarios {
        let scenario = onelogin_sim::Scenario::load(&path).expect("scenario loads");
        let transcript = onelogin_sim::run_scenario(&scenario, &target)
            .await
            .expect("scenario runs");
        if !transcript.passed {
            failed.push(transcript.to_text(true));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test]
async fn onelogin_s_doubled_slash_base_url_works() {
    // onelogin-protocol.md OL7: a base URL typed with a trailing '/'.
    let s = TestServer::start().await;
    let target = onelogin_sim::Target::new(format!("{}/", s.base), s.key.clone());
    let scenario = onelogin_sim::Scenario::find("user-lifecycle").expect("scenario");
    let transcript = onelogin_sim::run_scenario(&scenario, &target)
        .await
        .expect("runs");
    assert!(transcript.passed, "{}", transcript.to_text(true));
}

/// `n` as `/metrics` shows a counter without labels.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {metrics}"))
}

fn sync_options(users: usize, concurrency: usize, groups: usize, prefix: &str) -> SyncOptions {
    SyncOptions {
        users,
        concurrency,
        groups,
        prefix: prefix.into(),
        ..SyncOptions::default()
    }
}

async fn sync(s: &TestServer, options: &SyncOptions) -> onelogin_sim::sync::SyncReport {
    let target = onelogin_sim::Target::new(s.base.clone(), s.key.clone());
    run_sync(&target, options, &ProgressBar::hidden())
        .await
        .expect("the sync runs to its end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initial_sync_of_10000_users_with_groups_on_default_settings_fails_nothing() {
    // Issue #18: a new user's first sync, as OneLogin sends it at the concurrency identity
    // providers use, against a server on its default settings (rate limits untouched).
    // 100 groups (roles), about 125 members each: a group PATCH costs time in proportion to
    // the group's size, so 10 groups of 1,250 take this test from about one minute to five in
    // a debug build, without changing what it shows (docs/operations.md).
    let s = TestServer::start_on_defaults().await;
    let options = sync_options(10_000, 16, 100, "initial");
    let report = sync(&s, &options).await;
    assert!(
        report.failed_provisionings.is_empty() && report.failed_requests == 0,
        "{}",
        report.to_text()
    );
    assert_eq!(report.users_ok, 10_000);
    // 1 refresh, a POST per group, a lookup and a POST per user, a PATCH per role held.
    let roles: usize = synthetic_directory(10_000, 100, "initial")
        .users
        .iter()
        .map(|u| u.roles.len())
        .sum();
    assert_eq!(
        report.requests,
        1 + 100 + 20_000 + roles,
        "{}",
        report.to_text()
    );
    let metrics = s.metrics().await;
    assert_eq!(counter(&metrics, "scim_rate_limited_total"), 0, "{metrics}");
    let users = s.get("/Users?count=0").await;
    assert_eq!(users.body["totalResults"], 10_000, "{}", users.text);
    eprintln!("{}", report.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_limit_fails_provisionings_that_an_idp_honouring_retry_after_gets_through() {
    let s = TestServer::start_with(|c| {
        c.rate_limit_per_key = 20.0;
        c.rate_limit_burst = 20;
    })
    .await;

    // As OneLogin (by all accounts) does: a 429 is a failed provisioning, listed with its
    // reason, and the run goes on to its end.
    let refused = sync(&s, &sync_options(40, 16, 2, "refused")).await;
    assert!(!refused.passed(), "{}", refused.to_text());
    assert!(!refused.failed_provisionings.is_empty());
    assert_eq!(refused.users_ok + refused.users_failed, 40);
    let users: std::collections::BTreeSet<_> = refused
        .failed_provisionings
        .iter()
        .filter_map(|f| f.user.clone())
        .collect();
    assert_eq!(users.len(), refused.users_failed, "{}", refused.to_text());
    for f in &refused.failed_provisionings {
        assert_eq!(f.status, Some(429), "{f:?}");
        assert!(f.reason.contains("429"), "{f:?}");
        assert_eq!(
            f.retry_after.as_deref(),
            Some("1"),
            "at 20 a second the next token is under a second away: {f:?}"
        );
    }
    let text = refused.to_text();
    assert!(text.contains("failed provisionings: "), "{text}");
    assert!(text.contains("failed: assign refused-user-"), "{text}");
    let metrics = s.metrics().await;
    let rejected = counter(&metrics, "scim_rate_limited_total");
    assert!(
        rejected >= refused.failed_provisionings.len() as u64,
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "scim_rate_limited_by_key_total{{key_label=\"initial key\"}} {rejected}\n"
        )),
        "{metrics}"
    );

    // An identity provider that waits as Retry-After says gets every user through.
    let mut options = sync_options(40, 16, 2, "honoured");
    options.wire.honour_retry_after = true;
    let honoured = sync(&s, &options).await;
    assert!(
        honoured.passed() && honoured.failed_provisionings.is_empty(),
        "{}",
        honoured.to_text()
    );
    assert_eq!(honoured.users_ok, 40);
    assert!(honoured.retries > 0, "{}", honoured.to_text());
    // The sync may have spent the key's last token just before it ended (it failed here once,
    // on PostgreSQL, with a 429): at 20 a second, the bucket holds tokens again a second later.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let listed = s
        .get("/Users?filter=userName+sw+%22honoured-%22&count=0")
        .await;
    assert_eq!(listed.body["totalResults"], 40, "{}", listed.text);
}
