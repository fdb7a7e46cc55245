//! The run context: the client, what discovery found, which checks are selected, the outcomes so
//! far, and every resource the run created (deleted again at the end).

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};

use crate::discovery::{Discovery, GROUP_SCHEMA, USER_SCHEMA};
use crate::http::{Client, Exchange, Req};
use crate::judge::Judge;
use crate::model::{CheckDef, CheckInfo, Outcome, Verdict};

/// Which checks to run: a check runs when it matches one of the tags (if any are given) and one
/// of the sections (if any are given).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--tag` values.
    pub tags: Vec<String>,
    /// `--section` values: `3.5.2` (any RFC) or `7644:3.5.2`; a section also selects its
    /// subsections.
    pub sections: Vec<String>,
}

impl Selection {
    /// Whether `check` is selected.
    pub fn matches(&self, check: &CheckInfo) -> bool {
        let tag_ok = self.tags.is_empty()
            || self.tags.iter().any(|t| {
                check
                    .tags
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(t) || c.starts_with(&format!("{t}:")))
            });
        let section_ok =
            self.sections.is_empty() || self.sections.iter().any(|s| section_matches(s, check));
        tag_ok && section_ok
    }
}

fn section_matches(wanted: &str, check: &CheckInfo) -> bool {
    let wanted = wanted.trim().trim_start_matches('§');
    let (rfc, num) = match wanted.split_once(':') {
        Some((r, n)) => (Some(r.trim_start_matches("RFC").trim()), n),
        None => (None, wanted),
    };
    if num.eq_ignore_ascii_case("idp") {
        return check.section.starts_with("IdP");
    }
    let Some(rest) = check.section.strip_prefix("RFC ") else {
        return false;
    };
    let Some((crfc, csec)) = rest.split_once(" §") else {
        return false;
    };
    if rfc.is_some_and(|r| r != crfc) {
        return false;
    }
    csec == num || csec.starts_with(&format!("{num}."))
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which checks run.
    pub selection: Selection,
    /// Where the IdP payload corpus is (`fixtures/idp`); `None` skips it.
    pub fixtures: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            selection: Selection::default(),
            fixtures: crate::corpus::default_dir(),
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// The run context handed to every group of checks.
pub struct Cx {
    /// The HTTP client.
    pub client: Client,
    /// What discovery found (empty until the discovery checks ran).
    pub disc: Discovery,
    /// Whether discovery worked well enough to drive the other checks.
    pub discovered: bool,
    /// The name prefix of this run (`cf` and 8 hex digits, then `-`).
    pub prefix: String,
    /// Options.
    pub options: Options,
    outcomes: Vec<Outcome>,
    created: Vec<(String, String)>,
    counter: u32,
}

impl Cx {
    /// A context for one run.
    pub fn new(client: Client, options: Options) -> Cx {
        let prefix = format!("cf{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Cx {
            client,
            disc: Discovery::default(),
            discovered: false,
            prefix,
            options,
            outcomes: Vec::new(),
            created: Vec::new(),
            counter: 0,
        }
    }

    /// Whether the check is selected.
    pub fn wants(&self, def: &CheckDef) -> bool {
        self.options.selection.matches(&CheckInfo::from(def))
    }

    /// Whether any of the checks is selected.
    pub fn wants_any(&self, defs: &[CheckDef]) -> bool {
        defs.iter().any(|d| self.wants(d))
    }

    /// Whether a check built at run time is selected.
    pub fn wants_info(&self, info: &CheckInfo) -> bool {
        self.options.selection.matches(info)
    }

    /// Records the verdict of `judge` for `def` (when selected).
    pub fn record(&mut self, def: &CheckDef, judge: Judge) {
        self.record_info(CheckInfo::from(def), judge);
    }

    /// Records the verdict of `judge` for a check built at run time (when selected).
    pub fn record_info(&mut self, info: CheckInfo, judge: Judge) {
        if !self.wants_info(&info) {
            return;
        }
        let (verdict, reason, exchanges) = judge.conclude();
        self.outcomes.push(Outcome {
            check: info,
            verdict,
            reason,
            exchanges,
        });
    }

    /// Records a skip for `def` (when selected).
    pub fn skip(&mut self, def: &CheckDef, reason: impl Into<String>) {
        self.skip_info(CheckInfo::from(def), reason);
    }

    /// Records a skip for every check of `defs` (when selected).
    pub fn skip_all(&mut self, defs: &[CheckDef], reason: &str) {
        for d in defs {
            self.skip(d, reason);
        }
    }

    /// Records a skip for a check built at run time (when selected).
    pub fn skip_info(&mut self, info: CheckInfo, reason: impl Into<String>) {
        if !self.wants_info(&info) {
            return;
        }
        self.outcomes.push(Outcome {
            check: info,
            verdict: Verdict::Skip,
            reason: reason.into(),
            exchanges: Vec::new(),
        });
    }

    /// The outcomes so far.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Takes the outcomes.
    pub fn take_outcomes(&mut self) -> Vec<Outcome> {
        std::mem::take(&mut self.outcomes)
    }

    /// Sends a request.
    pub async fn send(&self, req: Req) -> Exchange {
        self.client.send(req).await
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> Exchange {
        self.send(Req::get(path)).await
    }

    /// `method` `path` with a JSON body.
    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Exchange {
        self.send(Req::json(method, path, body)).await
    }

    /// A fresh name: the run prefix, `label` and a counter.
    pub fn name(&mut self, label: &str) -> String {
        self.counter += 1;
        format!("{}{label}-{}", self.prefix, self.counter)
    }

    /// The `/Users` endpoint, when the server has a User resource type (or discovery failed).
    pub fn users(&self) -> Option<String> {
        self.endpoint(USER_SCHEMA, "/Users")
    }

    /// The `/Groups` endpoint, when the server has a Group resource type (or discovery failed).
    pub fn groups(&self) -> Option<String> {
        self.endpoint(GROUP_SCHEMA, "/Groups")
    }

    fn endpoint(&self, schema: &str, fallback: &str) -> Option<String> {
        if !self.discovered {
            return Some(fallback.to_string());
        }
        self.disc.type_with_schema(schema).map(|r| {
            if r.endpoint.starts_with('/') {
                r.endpoint.clone()
            } else {
                format!("/{}", r.endpoint)
            }
        })
    }

    /// Remembers a created resource for the final cleanup.
    pub fn track(&mut self, endpoint: &str, id: &str) {
        let e = (endpoint.to_string(), id.to_string());
        if !self.created.contains(&e) {
            self.created.push(e);
        }
    }

    /// Forgets a resource that was deleted.
    pub fn untrack(&mut self, endpoint: &str, id: &str) {
        self.created.retain(|(e, i)| !(e == endpoint && i == id));
    }

    /// POSTs `body` to `endpoint`; a 201 with an `id` is tracked for cleanup.
    pub async fn create(&mut self, endpoint: &str, body: &Value) -> Exchange {
        let ex = self.send_json(Method::POST, endpoint, body).await;
        if ex.status == 201 {
            if let Some(id) = ex.id() {
                self.track(endpoint, &id);
            }
        }
        ex
    }

    /// DELETEs `endpoint/id`, untracking it on 204 or 404.
    pub async fn delete(&mut self, endpoint: &str, id: &str) -> Exchange {
        let ex = self.send(Req::delete(format!("{endpoint}/{id}"))).await;
        if ex.status == 204 || ex.status == 404 || ex.status == 200 {
            self.untrack(endpoint, id);
        }
        ex
    }

    /// A User with the usual attributes IdPs send, named `userName`.
    pub fn user_body(&self, user_name: &str) -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "name": {"givenName": "Conformance", "familyName": "Check"},
            "displayName": format!("Conformance {user_name}"),
            "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
            "active": true,
        })
    }

    /// A Group named `name` with the given member ids.
    pub fn group_body(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let mut g = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
        if !members.is_empty() {
            g["members"] = Value::Array(members);
        }
        g
    }

    /// Creates a User (setup, not a check): its id and the exchange, or the exchange that failed.
    pub async fn new_user(&mut self, label: &str) -> Result<(String, Exchange), Exchange> {
        let Some(users) = self.users() else {
            return Err(self.get("/Users").await);
        };
        let name = self.name(label);
        let body = self.user_body(&name);
        let ex = self.create(&users, &body).await;
        match (ex.status, ex.id()) {
            (201, Some(id)) => Ok((id, ex)),
            _ => Err(ex),
        }
    }

    /// Creates a Group (setup, not a check) with the given members.
    pub async fn new_group(
        &mut self,
        label: &str,
        members: &[&str],
    ) -> Result<(String, Exchange), Exchange> {
        let Some(groups) = self.groups() else {
            return Err(self.get("/Groups").await);
        };
        let name = self.name(label);
        let body = self.group_body(&name, members);
        let ex = self.create(&groups, &body).await;
        match (ex.status, ex.id()) {
            (201, Some(id)) => Ok((id, ex)),
            _ => Err(ex),
        }
    }

    /// Deletes everything the run created, groups first; returns what could not be deleted.
    pub async fn cleanup(&mut self) -> Vec<String> {
        let groups = self.groups();
        let mut order: Vec<(String, String)> = self.created.iter().rev().cloned().collect();
        order.sort_by_key(|(e, _)| Some(e) != groups.as_ref());
        let mut left = Vec::new();
        for (endpoint, id) in order {
            let ex = self.delete(&endpoint, &id).await;
            if !matches!(ex.status, 200 | 204 | 404) {
                left.push(format!("{endpoint}/{id} (DELETE → {})", ex.status));
            }
        }
        // A sweep by name prefix, for anything created by a request that did not answer 201.
        if self.disc.features.filter {
            for (endpoint, key) in [(groups, "displayName"), (self.users(), "userName")] {
                let Some(endpoint) = endpoint else { continue };
                let f = crate::http::qs(&format!("{key} sw \"{}\"", self.prefix));
                let ex = self.get(&format!("{endpoint}?filter={f}&count=1000")).await;
                let ids: Vec<String> = ex.body()["Resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect();
                for id in ids {
                    let ex = self.delete(&endpoint, &id).await;
                    if !matches!(ex.status, 200 | 204 | 404) {
                        left.push(format!("{endpoint}/{id} (DELETE → {})", ex.status));
                    }
                }
            }
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn info(section: &str, tags: &[&str]) -> CheckInfo {
        CheckInfo {
            id: "x".into(),
            section: section.into(),
            level: Level::Must,
            title: String::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn sections_select_their_subsections() {
        let s = Selection {
            tags: vec![],
            sections: vec!["3.5".into()],
        };
        assert!(s.matches(&info("RFC 7644 §3.5", &[])));
        assert!(s.matches(&info("RFC 7644 §3.5.2.1", &[])));
        assert!(!s.matches(&info("RFC 7644 §3.51", &[])));
        assert!(!s.matches(&info("RFC 7644 §3.4", &[])));
        let s = Selection {
            tags: vec![],
            sections: vec!["7643:2.2".into()],
        };
        assert!(s.matches(&info("RFC 7643 §2.2", &[])));
        assert!(!s.matches(&info("RFC 7644 §2.2", &[])));
    }

    #[test]
    fn tags_select_their_subtags() {
        let s = Selection {
            tags: vec!["idp".into()],
            sections: vec![],
        };
        assert!(s.matches(&info("IdP corpus", &["idp:okta"])));
        assert!(!s.matches(&info("RFC 7644 §3.3", &["users"])));
    }
}
