//! What a check is, what it concludes, and the report that gathers the conclusions.

use std::fmt;

use serde::Serialize;

use crate::http::Exchange;

/// The requirement level a check verifies (RFC 2119 keywords; SHALL counts as MUST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// MUST, SHALL, REQUIRED: a failure makes the run fail.
    Must,
    /// SHOULD, RECOMMENDED: a failure is reported, and fails the run only with `--strict`.
    Should,
    /// MAY, OPTIONAL: a failure is reported, and fails the run only with `--strict`.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// The conclusion of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The server behaves as required.
    Pass,
    /// The server does not behave as required.
    Fail,
    /// The check did not run: the feature is not advertised, a prerequisite failed, or the
    /// behaviour cannot be provoked from outside.
    Skip,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        })
    }
}

/// A check as registered: its stable id, the RFC section and level it verifies, what it
/// verifies, and tags for selection.
#[derive(Debug, Clone, Copy)]
pub struct CheckDef {
    /// Stable identifier, e.g. `users.create.duplicate-409`.
    pub id: &'static str,
    /// The RFC and section, e.g. `RFC 7644 §3.3`.
    pub section: &'static str,
    /// The requirement level of the sentence it verifies.
    pub level: Level,
    /// What the server must do, in one line.
    pub title: &'static str,
    /// Selection tags (`--tag`).
    pub tags: &'static [&'static str],
}

/// The same information as [`CheckDef`], owned: checks derived from `/Schemas` are built at run
/// time.
#[derive(Debug, Clone, Serialize)]
pub struct CheckInfo {
    /// Stable identifier.
    pub id: String,
    /// RFC and section.
    pub section: String,
    /// Requirement level.
    pub level: Level,
    /// What the server must do.
    pub title: String,
    /// Selection tags.
    pub tags: Vec<String>,
}

impl From<&CheckDef> for CheckInfo {
    fn from(d: &CheckDef) -> Self {
        CheckInfo {
            id: d.id.to_string(),
            section: d.section.to_string(),
            level: d.level,
            title: d.title.to_string(),
            tags: d.tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// One check's result: the check, its verdict, why, and the HTTP exchanges it is based on.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The check.
    #[serde(flatten)]
    pub check: CheckInfo,
    /// Pass, fail or skip.
    pub verdict: Verdict,
    /// Why: for a failure, what was expected and what came back; for a skip, what is missing.
    pub reason: String,
    /// The requests and responses the verdict rests on.
    pub exchanges: Vec<Exchange>,
}

/// Totals of a set of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Checks that passed.
    pub pass: usize,
    /// Checks that failed.
    pub fail: usize,
    /// Checks skipped.
    pub skip: usize,
    /// Failed checks of level MUST.
    pub must_fail: usize,
}

impl Totals {
    /// Counts `outcomes`.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Fail => {
                    t.fail += 1;
                    if o.check.level == Level::Must {
                        t.must_fail += 1;
                    }
                }
                Verdict::Skip => t.skip += 1,
            }
        }
        t
    }

    /// All checks counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skip
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The SCIM base URL that was checked.
    pub base_url: String,
    /// The name prefix of everything this run created.
    pub prefix: String,
    /// Every outcome, in execution order.
    pub outcomes: Vec<Outcome>,
    /// Totals over `outcomes`.
    pub totals: Totals,
    /// Resources the run created and could not delete (`endpoint/id`).
    pub leftovers: Vec<String>,
}

impl Report {
    /// Whether the run passes: no MUST failed (with `strict`, no check failed at all).
    pub fn passed(&self, strict: bool) -> bool {
        if strict {
            self.totals.fail == 0
        } else {
            self.totals.must_fail == 0
        }
    }

    /// The outcome of check `id`, if it ran.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.check.id == id)
    }

    /// The ids of the checks that failed.
    pub fn failed_ids(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Fail)
            .map(|o| o.check.id.as_str())
            .collect()
    }
}

/// Orders section labels naturally: `RFC 7643` before `RFC 7644`, `§3.4.2` before `§3.12`,
/// anything that is not an RFC section (the IdP corpus) last.
pub fn section_key(section: &str) -> (u32, Vec<u32>, String) {
    let Some(rest) = section.strip_prefix("RFC ") else {
        return (u32::MAX, Vec::new(), section.to_string());
    };
    let (rfc, sec) = rest.split_once(' ').unwrap_or((rest, ""));
    let rfc = rfc.parse().unwrap_or(u32::MAX - 1);
    let nums = sec
        .trim_start_matches('§')
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    (rfc, nums, section.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_order_naturally() {
        let mut s = vec![
            "IdP corpus: okta",
            "RFC 7644 §3.12",
            "RFC 7644 §3.4.2",
            "RFC 7643 §2.2",
            "RFC 7644 §3.4.2.2",
        ];
        s.sort_by_key(|x| section_key(x));
        assert_eq!(
            s,
            vec![
                "RFC 7643 §2.2",
                "RFC 7644 §3.4.2",
                "RFC 7644 §3.4.2.2",
                "RFC 7644 §3.12",
                "IdP corpus: okta"
            ]
        );
    }
}
