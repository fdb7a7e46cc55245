//! Every OneLogin scenario under `fixtures/onelogin/`, replayed by `onelogin-sim` against the real
//! server, with the end state each scenario expects checked through the SCIM API.

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
