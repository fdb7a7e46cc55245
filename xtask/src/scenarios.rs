//! Every onelogin-sim scenario (`fixtures/onelogin/*.json`) replayed against the server; each
//! becomes an outcome of the report (section `onelogin-sim`).

use conformance::model::{CheckInfo, Level, Outcome, Verdict};
use onelogin_sim::{list_scenarios, run_scenario, Scenario, Target};

const SECTION: &str = "onelogin-sim scenarios";

/// Runs every stored scenario; returns one outcome per scenario and the transcripts (as text) of
/// those that failed.
pub async fn run(base: &str, token: &str) -> Result<(Vec<Outcome>, Vec<String>), String> {
    let target = Target::new(base, token);
    let files = list_scenarios().map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for f in files {
        let scenario = Scenario::load(&f).map_err(|e| e.to_string())?;
        let info = CheckInfo {
            id: format!("onelogin-sim.{}", scenario.name),
            section: SECTION.into(),
            level: Level::Should,
            title: conformance::http::one_line(&scenario.description, 140),
            tags: vec!["onelogin-sim".into()],
        };
        let (verdict, reason) = match run_scenario(&scenario, &target).await {
            Ok(t) if t.passed => (
                Verdict::Pass,
                format!(
                    "{} requests and checks as OneLogin expects",
                    t.entries.len()
                ),
            ),
            Ok(t) => {
                let why: Vec<String> = t
                    .failures()
                    .map(|e| format!("step {} {}: {}", e.step, e.event, e.reason))
                    .collect();
                failed.push(t.to_text(false));
                (Verdict::Fail, why.join("; "))
            }
            Err(e) => (Verdict::Fail, format!("the scenario could not run: {e}")),
        };
        outcomes.push(Outcome {
            check: info,
            verdict,
            reason,
            exchanges: Vec::new(),
        });
    }
    Ok((outcomes, failed))
}
