//! A [`Judge`] collects the exchanges a check looked at and the problems it found; it concludes
//! pass when there is none. Problems read "`<request>`: expected …, got …".

use serde_json::Value;

use crate::discovery::ERROR;
use crate::http::{one_line, Exchange, SCIM_JSON};
use crate::model::Verdict;

/// Evidence and problems of one check.
#[derive(Debug, Default)]
pub struct Judge {
    problems: Vec<String>,
    notes: Vec<String>,
    exchanges: Vec<Exchange>,
    skipped: Option<String>,
}

impl Judge {
    /// An empty judge (a check with no problem passes).
    pub fn new() -> Judge {
        Judge::default()
    }

    /// Keeps `ex` as evidence (once).
    pub fn see(&mut self, ex: &Exchange) -> &mut Judge {
        let seen = self
            .exchanges
            .iter()
            .any(|e| e.method == ex.method && e.path == ex.path && e.millis == ex.millis);
        if !seen {
            self.exchanges.push(ex.clone());
        }
        self
    }

    /// Records a problem.
    pub fn fail(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Records a note shown with a pass.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Makes the check a skip (unless a problem was found).
    pub fn skip(&mut self, reason: impl Into<String>) {
        self.skipped = Some(reason.into());
    }

    /// Records `problem` unless `ok`; returns `ok`.
    pub fn that(&mut self, ok: bool, problem: impl FnOnce() -> String) -> bool {
        if !ok {
            self.fail(problem());
        }
        ok
    }

    /// How many exchanges were kept as evidence.
    pub fn seen(&self) -> usize {
        self.exchanges.len()
    }

    /// Whether no problem was found so far.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The response status must be one of `want`.
    pub fn status(&mut self, ex: &Exchange, want: &[u16]) -> bool {
        self.see(ex);
        let ok = want.contains(&ex.status);
        self.that(ok, || {
            format!(
                "{} {}: expected status {}, got {}",
                ex.method,
                ex.path,
                list(want),
                got(ex)
            )
        })
    }

    /// The response must be `application/scim+json` (RFC 7644 §3.1, §8.1).
    pub fn scim_media(&mut self, ex: &Exchange) -> bool {
        self.see(ex);
        let mt = ex.media_type();
        self.that(mt.as_deref() == Some(SCIM_JSON), || {
            format!(
                "{} {}: expected Content-Type application/scim+json, got {}",
                ex.method,
                ex.path,
                ex.header("content-type").unwrap_or("none")
            )
        })
    }

    /// The body must be a JSON object.
    pub fn json_object(&mut self, ex: &Exchange) -> bool {
        self.see(ex);
        self.that(ex.body().is_object(), || {
            format!(
                "{} {}: expected a JSON object body, got {}",
                ex.method,
                ex.path,
                got(ex)
            )
        })
    }

    /// `schemas` of the body must contain `urn`.
    pub fn has_schema(&mut self, ex: &Exchange, urn: &str) -> bool {
        self.see(ex);
        let ok = schemas_of(ex.body()).iter().any(|s| s == urn);
        self.that(ok, || {
            format!(
                "{} {}: expected \"schemas\" to contain {urn}, got {}",
                ex.method,
                ex.path,
                got(ex)
            )
        })
    }

    /// A SCIM Error response (RFC 7644 §3.12): the status is one of `status`, the body is JSON
    /// with the Error URN and `status` as a string equal to the HTTP status, and (when given)
    /// `scimType` is one of `scim_types`.
    pub fn scim_error(&mut self, ex: &Exchange, status: &[u16], scim_types: &[&str]) -> bool {
        if !self.status(ex, status) {
            return false;
        }
        self.error_body(ex, scim_types)
    }

    /// The body is a SCIM Error for the response's status (whatever it is).
    pub fn error_body(&mut self, ex: &Exchange, scim_types: &[&str]) -> bool {
        self.see(ex);
        let mut ok = self.that(ex.body().is_object(), || {
            format!(
                "{} {}: expected a SCIM Error body (JSON), got {}",
                ex.method,
                ex.path,
                got(ex)
            )
        });
        if !ok {
            return false;
        }
        ok &= self.has_schema(ex, ERROR);
        let want = ex.status.to_string();
        let st = &ex.body()["status"];
        ok &= self.that(st.as_str() == Some(&want), || {
            format!(
                "{} {}: expected the Error \"status\" to be the string \"{want}\", got {}",
                ex.method,
                ex.path,
                if st.is_null() {
                    "no status".to_string()
                } else {
                    st.to_string()
                }
            )
        });
        if !scim_types.is_empty() {
            let t = ex.str("scimType");
            ok &= self.that(t.is_some_and(|t| scim_types.contains(&t)), || {
                format!(
                    "{} {}: expected scimType {}, got {}",
                    ex.method,
                    ex.path,
                    scim_types.join(" or "),
                    t.map_or("none".to_string(), |t| format!("\"{t}\""))
                )
            });
        }
        ok
    }

    /// Concludes: fail with the problems, skip with the reason, or pass with the notes.
    pub fn conclude(self) -> (Verdict, String, Vec<Exchange>) {
        if !self.problems.is_empty() {
            (Verdict::Fail, self.problems.join("; "), self.exchanges)
        } else if let Some(s) = self.skipped {
            (Verdict::Skip, s, self.exchanges)
        } else {
            (Verdict::Pass, self.notes.join("; "), self.exchanges)
        }
    }
}

/// `schemas` of a JSON object, as strings.
pub fn schemas_of(v: &Value) -> Vec<String> {
    v["schemas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// What came back, in one line: status, content type and the start of the body.
pub fn got(ex: &Exchange) -> String {
    if let Some(e) = &ex.error {
        return format!("no response ({e})");
    }
    let body = one_line(&ex.text, 200);
    format!(
        "{} {}{}",
        ex.status,
        ex.header("content-type").unwrap_or("(no content type)"),
        if body.is_empty() {
            " (empty body)".to_string()
        } else {
            format!(" {body}")
        }
    )
}

fn list(want: &[u16]) -> String {
    want.iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The request that failed as a prerequisite, for a skip reason.
pub fn prerequisite(what: &str, ex: &Exchange) -> String {
    format!("prerequisite failed: {what} ({})", ex.summary())
}
