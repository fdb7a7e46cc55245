//! The report as a readable table: one block per RFC section with its totals, one line per
//! check, the reason and the exchanges under each failure (and the reason under each skip).

use super::by_section;
use crate::model::{Report, Totals, Verdict};

/// How much the table shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Show the full exchanges (headers, bodies) under failures, not one line each.
    pub verbose: bool,
    /// Show only the failing checks (every section keeps its totals line).
    pub failures_only: bool,
}

/// The report as text.
pub fn render(report: &Report, style: Style) -> String {
    let width = report
        .outcomes
        .iter()
        .map(|o| o.check.id.len())
        .max()
        .unwrap_or(10)
        .min(60);
    let mut s = format!(
        "SCIM conformance of {} (resources named {}*)\n",
        report.base_url, report.prefix
    );
    for (section, outcomes) in by_section(report) {
        let t = Totals::of(outcomes.iter().copied());
        s.push_str(&format!(
            "\n{section}  ({} pass, {} fail, {} skip)\n",
            t.pass, t.fail, t.skip
        ));
        for o in outcomes {
            if style.failures_only && o.verdict != Verdict::Fail {
                continue;
            }
            s.push_str(&format!(
                "  {}  {:<6}  {:<width$}  {}\n",
                o.verdict, o.check.level, o.check.id, o.check.title
            ));
            match o.verdict {
                Verdict::Fail => {
                    for r in o.reason.split("; ") {
                        s.push_str(&format!("        ✗ {r}\n"));
                    }
                    for e in &o.exchanges {
                        if style.verbose {
                            for line in e.detail().lines() {
                                s.push_str(&format!("          {line}\n"));
                            }
                        } else {
                            s.push_str(&format!("          {}\n", e.summary()));
                        }
                    }
                }
                Verdict::Skip => s.push_str(&format!("        – {}\n", o.reason)),
                Verdict::Pass if !o.reason.is_empty() => {
                    s.push_str(&format!("        ({})\n", o.reason));
                }
                Verdict::Pass => {}
            }
        }
    }
    let t = report.totals;
    s.push_str(&format!(
        "\nTotal: {} checks: {} pass, {} fail ({} MUST), {} skip\n",
        t.total(),
        t.pass,
        t.fail,
        t.must_fail,
        t.skip
    ));
    if !report.leftovers.is_empty() {
        s.push_str(&format!(
            "Not cleaned up: {}\n",
            report.leftovers.join(", ")
        ));
    }
    s
}
