//! Transcripts: every step of a run with its request, status, verdict and
//! latency, for people (text) and machines (JSON).

use std::collections::BTreeMap;
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
    /// The directory user the step is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
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
    /// Round-trip time in milliseconds, if a request was sent (of its last attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Times the request was sent again after waiting as `Retry-After` asked.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Seconds spent waiting as `Retry-After` asked.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waited_s: u64,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
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
            user: None,
            kind,
            op,
            request: Some(exchange.request),
            response,
            error,
            verdict: judgement.verdict,
            reason: judgement.reason,
            latency_ms: Some(exchange.latency.as_secs_f64() * 1000.0),
            retries: exchange.retries,
            waited_s: exchange.waited.as_secs(),
        }
    }

    /// An entry without traffic.
    pub fn note(step: usize, event: &str, verdict: Verdict, reason: impl Into<String>) -> Self {
        Entry {
            step,
            event: event.to_string(),
            user: None,
            kind: EntryKind::Note,
            op: None,
            request: None,
            response: None,
            error: None,
            verdict,
            reason: reason.into(),
            latency_ms: None,
            retries: 0,
            waited_s: 0,
        }
    }

    /// Whether this entry passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// A provisioning that failed, as OneLogin records it (its "Get Failed Provisionings" list:
/// the user, the event, why): one per event in which a OneLogin request failed, whatever the
/// status (`429`, `5xx`, a refused connection). OneLogin does not retry it by itself, as far
/// as anything documents (`shared/onelogin-protocol.md` §4.3, Q6); an administrator does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedProvisioning {
    /// The step (scenario) or the user's position in the directory (sync), 1-based; 0 for the
    /// sync's preparation.
    pub step: usize,
    /// The event, e.g. `assign jdoe`.
    pub event: String,
    /// The directory user, if the event is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The first request that failed, as `METHOD URL`, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Its status, if an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Its `Retry-After`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Why it failed.
    pub reason: String,
}

/// The failed provisionings among `entries`: for each step, its first failed entry of OneLogin
/// traffic or of the simulator's own bookkeeping (checks and setup are not provisionings).
pub fn failed_provisionings(entries: &[Entry]) -> Vec<FailedProvisioning> {
    entries
        .chunk_by(|a, b| a.step == b.step)
        .filter_map(|step| {
            let e = step
                .iter()
                .find(|e| !e.passed() && matches!(e.kind, EntryKind::Onelogin | EntryKind::Note))?;
            Some(FailedProvisioning {
                step: e.step,
                event: e.event.clone(),
                user: e.user.clone(),
                request: e
                    .request
                    .as_ref()
                    .map(|r| format!("{} {}", r.method, r.url)),
                status: e.response.as_ref().map(|r| r.status),
                retry_after: e.response.as_ref().and_then(|r| r.retry_after.clone()),
                reason: e.reason.clone(),
            })
        })
        .collect()
}

/// The list of failed provisionings that ends a report: a count by reason, then each one.
pub fn failed_provisionings_text(failed: &[FailedProvisioning], base_url: &str) -> String {
    let mut out = String::new();
    if failed.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "failed provisionings: {} (OneLogin lists these for an administrator to retry)",
        failed.len()
    );
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for f in failed {
        *by_reason.entry(f.reason.as_str()).or_default() += 1;
    }
    for (reason, n) in by_reason {
        let _ = writeln!(out, "  {n:>6} × {reason}");
    }
    for f in failed {
        let request = f
            .request
            .as_deref()
            .map(|r| match r.split_once(' ') {
                Some((method, url)) => format!("{method} {}", path_of(url, base_url)),
                None => r.to_string(),
            })
            .unwrap_or_else(|| "-".into());
        let status = f
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let retry_after = f
            .retry_after
            .as_deref()
            .map(|r| format!(" (Retry-After: {r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "failed: {:<32} {} → {status}{retry_after}: {}",
            f.event, request, f.reason
        );
    }
    out
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
    /// The provisionings OneLogin would record as failed.
    #[serde(default)]
    pub failed_provisionings: Vec<FailedProvisioning>,
}

impl Transcript {
    /// A transcript from its entries.
    pub fn new(scenario: &str, profile: &str, base_url: &str, entries: Vec<Entry>) -> Self {
        Transcript {
            scenario: scenario.to_string(),
            profile: profile.to_string(),
            base_url: base_url.to_string(),
            passed: entries.iter().all(Entry::passed),
            failed_provisionings: failed_provisionings(&entries),
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
            let retried = if e.retries > 0 {
                format!(
                    " (sent {} more time(s) after Retry-After, {} s waited)",
                    e.retries, e.waited_s
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{:>3} {:<28} {:<8} {:<52} {:>3} {} {:>9}  {}{retried}",
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
        out.push_str(&failed_provisionings_text(
            &self.failed_provisionings,
            &self.base_url,
        ));
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
