//! The external opinion: scim2-tester 0.5.2 (PyPI), installed into `.venv-scim` at the
//! workspace root when missing, run by `xtask/scim2_tester_check.py`; its results become
//! outcomes of the report (section `scim2-tester 0.5.2`).

use std::path::{Path, PathBuf};
use std::process::Command;

use conformance::model::{CheckInfo, Level, Outcome, Verdict};
use serde_json::Value;

/// The pinned requirement.
pub const REQUIREMENT: &str = "scim2-tester[httpx2]==0.5.2";
const SECTION: &str = "scim2-tester 0.5.2";

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Makes sure `.venv-scim` holds scim2-tester; returns its python.
pub fn ensure_venv() -> Result<PathBuf, String> {
    let venv = root().join(".venv-scim");
    let py = python(&venv);
    if !py.exists() {
        eprintln!("== python3 -m venv {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 is needed for scim2-tester: {e}"))?
            .success();
        if !ok {
            return Err("python3 -m venv .venv-scim failed".into());
        }
    }
    let importable = Command::new(&py)
        .args(["-c", "import scim2_tester, httpx2, scim2_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    let version_ok = Command::new(&py)
        .args([
            "-c",
            "import importlib.metadata as m; assert m.version('scim2-tester') == '0.5.2'",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable || !version_ok {
        eprintln!("== {}/bin/pip install '{REQUIREMENT}'", venv.display());
        let ok = Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", REQUIREMENT])
            .status()
            .map_err(|e| format!("pip: {e}"))?
            .success();
        if !ok {
            return Err(format!("pip install '{REQUIREMENT}' failed"));
        }
    }
    Ok(py)
}

/// Runs scim2-tester against `base`; its results as outcomes (ERROR, CRITICAL and DEVIATION
/// fail, SKIPPED skips, the rest pass).
pub fn run(py: &Path, base: &str, token: &str) -> Result<Vec<Outcome>, String> {
    let script = root().join("xtask").join("scim2_tester_check.py");
    let out = Command::new(py)
        .arg(&script)
        .args(["--url", base])
        .env("SCIM_TOKEN", token)
        .output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let doc: Value = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "scim2-tester printed no JSON ({e}): {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    parse(&doc)
}

/// The outcomes of the script's JSON document.
pub fn parse(doc: &Value) -> Result<Vec<Outcome>, String> {
    if let Some(e) = doc["error"].as_str() {
        return Err(e.to_string());
    }
    if !doc["results"].is_array() {
        return Err(format!("scim2-tester printed no results: {doc}"));
    }
    let mut outcomes = Vec::new();
    for (i, r) in doc["results"].as_array().into_iter().flatten().enumerate() {
        let status = r["status"].as_str().unwrap_or("?");
        let title = r["title"].as_str().unwrap_or("?");
        let rt = r["resource_type"].as_str();
        let verdict = match status {
            "ERROR" | "CRITICAL" | "DEVIATION" => Verdict::Fail,
            "SKIPPED" => Verdict::Skip,
            _ => Verdict::Pass,
        };
        outcomes.push(Outcome {
            check: CheckInfo {
                id: format!(
                    "scim2-tester.{:03}.{title}{}",
                    i + 1,
                    rt.map(|t| format!(".{t}")).unwrap_or_default()
                ),
                section: SECTION.into(),
                level: Level::Must,
                title: format!("{title} ({status})"),
                tags: r["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
            },
            verdict,
            reason: r["reason"].as_str().unwrap_or_default().to_string(),
            exchanges: Vec::new(),
        });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_map_to_verdicts() {
        let doc = json!({"counts": {}, "failed": 1, "results": [
            {"status": "SUCCESS", "title": "object_creation", "resource_type": "User", "reason": null, "tags": ["crud:create"]},
            {"status": "ERROR", "title": "object_query", "resource_type": "Group", "reason": "404", "tags": []},
            {"status": "SKIPPED", "title": "check_add_attribute", "resource_type": null, "reason": "patch off", "tags": []},
        ]});
        let o = parse(&doc).expect("outcomes");
        let v: Vec<Verdict> = o.iter().map(|o| o.verdict).collect();
        assert_eq!(v, vec![Verdict::Pass, Verdict::Fail, Verdict::Skip]);
        assert_eq!(o[0].check.id, "scim2-tester.001.object_creation.User");
        assert_eq!(o[1].reason, "404");
    }

    #[test]
    fn an_error_document_is_an_error() {
        assert!(parse(&json!({"error": "scim2-tester is not installed"})).is_err());
        assert!(parse(&json!({})).is_err());
    }
}
