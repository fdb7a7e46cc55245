//! Transcripts: every step of a run with its request, status, verdict and
//! latency, for people (text) and machines (JSON).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::judge::{Judgement, Op, Verdict};
use crate::wire::{Exchange, RecordedRequest, RecordedResponse};

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Traffic OneLogin itself would send.
    Onelogin,
    /// A check by the simulator (a SCIM GET asserting the end state): not OneLogin traffic.
    Check,
    /// Setup by the simulator (e.g. seeding a pre-existing user): not OneLogin traffic.
    Setup,
    /// An event that sends nothing, or a problem found without traffic.
    Note,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1-based index of the scenario step that produced the entry.
    pub step: usize,
    /// The step, e.g. `assign jdoe`.
    pub event: String,
    /// OneLogin traffic, check, setup or note.
    pub kind: EntryKind,
    /// What the request was for (OneLogin traffic only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    /// The request, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RecordedRequest>,
    /// The response, if one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
    /// Transport error, if the request got no response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Round-trip time in milliseconds, if a request was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

impl Entry {
    /// An entry for an exchange.
    pub fn exchange(
        step: usize,
        event: &str,
        kind: EntryKind,
        op: Option<Op>,
        exchange: Exchange,
        judgement: Judgement,
    ) -> Self {
        let (response, error) = match exchange.response {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        Entry {
            step,
            event: event.to_string(),
            kind,
            op,
            request: Some(exchange.request),
            response,
            error,
            verdict: judgement.verdict,
            reason: judgement.reason,
            latency_ms: Some(exchange.latency.as_secs_f64() * 1000.0),
        }
    }

    /// An entry without traffic.
    pub fn note(step: usize, event: &str, verdict: Verdict, reason: impl Into<String>) -> Self {
        Entry {
            step,
            event: event.to_string(),
            kind: EntryKind::Note,
            op: None,
            request: None,
            response: None,
            error: None,
            verdict,
            reason: reason.into(),
            latency_ms: None,
        }
    }

    /// Whether this entry passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// The record of one scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Scenario name.
    pub scenario: String,
    /// Connector profile used.
    pub profile: String,
    /// SCIM base URL.
    pub base_url: String,
    /// True when every entry passed.
    pub passed: bool,
    /// The entries, in order.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// A transcript from its entries.
    pub fn new(scenario: &str, profile: &str, base_url: &str, entries: Vec<Entry>) -> Self {
        Transcript {
            scenario: scenario.to_string(),
            profile: profile.to_string(),
            base_url: base_url.to_string(),
            passed: entries.iter().all(Entry::passed),
            entries,
        }
    }

    /// The failed entries.
    pub fn failures(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.passed())
    }

    /// Entries of OneLogin traffic only (checks, setup and notes left out).
    pub fn onelogin_requests(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::Onelogin)
            .filter_map(|e| e.request.as_ref())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A human-readable table; `verbose` adds headers and bodies.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} · profile {} · {}",
            self.scenario, self.profile, self.base_url
        );
        for e in &self.entries {
            let kind = match e.kind {
                EntryKind::Onelogin => "onelogin",
                EntryKind::Check => "check",
                EntryKind::Setup => "setup",
                EntryKind::Note => "note",
            };
            let verdict = match e.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
            };
            let request = e
                .request
                .as_ref()
                .map(|r| format!("{} {}", r.method, path_of(&r.url, &self.base_url)))
                .unwrap_or_else(|| "-".to_string());
            let status = e
                .response
                .as_ref()
                .map(|r| r.status.to_string())
                .unwrap_or_else(|| "-".to_string());
            let latency = e
                .latency_ms
                .map(|l| format!("{l:.1} ms"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:>3} {:<28} {:<8} {:<52} {:>3} {} {:>9}  {}",
                e.step,
                truncate(&e.event, 28),
                kind,
                truncate(&request, 52),
                status,
                verdict,
                latency,
                e.reason
            );
            if verbose {
                if let Some(r) = &e.request {
                    let _ = writeln!(out, "      > {} {}", r.method, r.url);
                    for (k, v) in &r.headers {
                        let _ = writeln!(out, "      > {k}: {v}");
                    }
                    if let Some(b) = &r.body {
                        let _ = writeln!(out, "      > {b}");
                    }
                }
                if let Some(r) = &e.response {
                    let _ = writeln!(
                        out,
                        "      < {} {}",
                        r.status,
                        r.content_type.as_deref().unwrap_or("")
                    );
                    if !r.body.is_empty() {
                        let _ = writeln!(out, "      < {}", truncate(&r.body, 400));
                    }
                }
                if let Some(err) = &e.error {
                    let _ = writeln!(out, "      ! {err}");
                }
            }
        }
        let failed = self.failures().count();
        let _ = writeln!(
            out,
            "{} entries, {} passed, {} failed",
            self.entries.len(),
            self.entries.len() - failed,
            failed
        );
        out
    }
}

/// The part of `url` after the base URL's origin (scheme and authority).
fn path_of(url: &str, base: &str) -> String {
    let origin_len = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    match url.get(..origin_len) {
        Some(prefix) if base.starts_with(prefix) => url[origin_len..].to_string(),
        _ => url.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_origin() {
        assert_eq!(
            path_of(
                "http://127.0.0.1:1/scim/v2/Users?",
                "http://127.0.0.1:1/scim/v2"
            ),
            "/scim/v2/Users?"
        );
        assert_eq!(path_of("http://other/x", "http://h/y"), "http://other/x");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn transcript_summary() {
        let t = Transcript::new(
            "s",
            "v2-enterprise",
            "http://h",
            vec![
                Entry::note(1, "suspend jdoe", Verdict::Pass, "nothing sent"),
                Entry::note(2, "update x", Verdict::Fail, "no id"),
            ],
        );
        assert!(!t.passed);
        assert_eq!(t.failures().count(), 1);
        let text = t.to_text(false);
        assert!(text.contains("2 entries, 1 passed, 1 failed"), "{text}");
        let back: Transcript = serde_json::from_str(&t.to_json()).expect("json");
        assert_eq!(back, t);
    }
}
