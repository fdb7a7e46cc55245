//! The `onelogin-sim` command against the in-memory SCIM server.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_onelogin-sim"))
            .args(&args)
            .env_remove("ONELOGIN_SIM_URL")
            .env_remove("ONELOGIN_SIM_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prints_a_transcript_and_sets_the_exit_code() {
    let running = support::start().await;
    let base = running.base();
    let ok = run(args(&[
        "run",
        "user-lifecycle",
        "--url",
        &base,
        "--token",
        support::TOKEN,
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(stdout.contains("check"), "{stdout}");

    let json = run(args(&[
        "run",
        "deprovision-delete",
        "--url",
        &base,
        "--token",
        support::TOKEN,
        "--json",
    ]))
    .await;
    assert!(json.status.success());
    let transcript: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(transcript["passed"], true);
    assert!(transcript["entries"][0]["latency_ms"].is_number());

    let bad = run(args(&[
        "run",
        "user-lifecycle",
        "--url",
        &base,
        "--token",
        "wrong",
    ]))
    .await;
    assert_eq!(bad.status.code(), Some(1));

    let missing = run(args(&[
        "run",
        "no-such-scenario",
        "--url",
        &base,
        "--token",
        "x",
    ]))
    .await;
    assert_eq!(missing.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_accepts_a_path_and_a_profile_override() {
    let running = support::start().await;
    let path = onelogin_sim::scenarios_dir().join("v1.1-core.json");
    let out = run(args(&[
        "run",
        path.to_str().unwrap(),
        "--url",
        &running.base(),
        "--token",
        support::TOKEN,
        "--profile",
        "v2-core",
        "--json",
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let transcript: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(transcript["profile"], "v2-core");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_prints_throughput_and_percentiles() {
    let running = support::start().await;
    let out = run(args(&[
        "sync",
        "--url",
        &running.base(),
        "--token",
        support::TOKEN,
        "--users",
        "25",
        "--concurrency",
        "3",
        "--groups",
        "2",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("synced 25 users (25 ok, 0 failed)"),
        "{stdout}"
    );
    assert!(stdout.contains("users/s"), "{stdout}");
    assert!(stdout.contains("p99"), "{stdout}");

    let json = run(args(&[
        "sync",
        "--url",
        &running.base(),
        "--token",
        support::TOKEN,
        "--users",
        "5",
        "--json",
        "--groups",
        "0",
    ]))
    .await;
    assert!(json.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["users_ok"], 5);
    assert!(report["overall"]["p50_ms"].is_number());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_template() {
    let list = run(args(&["list"])).await;
    let stdout = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success());
    assert!(stdout.contains("user-lifecycle"), "{stdout}");
    assert!(stdout.contains("v1.1-enterprise"), "{stdout}");

    let template = run(args(&["template", "v1.1-enterprise"])).await;
    assert!(template.status.success());
    assert!(String::from_utf8_lossy(&template.stdout)
        .contains("urn:scim:schemas:extension:enterprise:1.0"));
}

/// Every userName lookup's first attempt gets a 429.
fn refuse_lookups(req: &wiremock::Request) -> Option<u16> {
    (req.method.as_str() == "GET" && req.url.as_str().contains("filter=")).then_some(429)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_a_failed_provisioning_unless_retry_after_is_honoured() {
    for command in ["run", "sync"] {
        let what = match command {
            "run" => vec!["run", "deprovision-delete"],
            _ => vec!["sync", "--users", "3", "--groups", "0"],
        };
        let running = support::start_flaky(refuse_lookups).await;
        let base = running.base();
        let mut refused = what.clone();
        refused.extend(["--url", &base, "--token", support::TOKEN]);
        let out = run(args(&refused)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{command}: {stdout}");
        assert!(
            stdout.contains("failed provisionings: "),
            "{command}: {stdout}"
        );
        assert!(
            stdout.contains("→ 429 (Retry-After: 0)"),
            "{command}: {stdout}"
        );

        let running = support::start_flaky(refuse_lookups).await;
        let base = running.base();
        let mut honoured = what.clone();
        honoured.extend([
            "--url",
            &base,
            "--token",
            support::TOKEN,
            "--honour-retry-after",
        ]);
        let out = run(args(&honoured)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}: {stdout}");
        assert!(
            !stdout.contains("failed provisionings"),
            "{command}: {stdout}"
        );
    }
}
