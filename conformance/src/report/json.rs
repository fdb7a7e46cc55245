//! The report as JSON: every outcome with its exchanges, the totals, and `passed` (no MUST
//! failed).

use serde_json::json;

use crate::model::Report;

/// The report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    let mut v = serde_json::to_value(report).unwrap_or_else(|e| json!({"error": e.to_string()}));
    v["passed"] = json!(report.passed(false));
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
