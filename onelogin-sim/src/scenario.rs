//! Scenarios: an app configuration, a directory and a list of steps, stored
//! as JSON under `fixtures/onelogin/`.
//!
//! Steps are OneLogin events (`enable`, `assign`, `update`, `suspend`,
//! `unsuspend`, `remove_access`, `delete_user`, `add_role`, `remove_role`,
//! `refresh_entitlements`), setup requests (`setup`, e.g. to seed a user that
//! already exists in the app) and checks (`check_user`, `check_lookup`,
//! `check_group`) that GET resources and assert the end state. Setup and
//! checks are marked as such in the transcript: they are not OneLogin traffic.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::AppConfig;
use crate::directory::Directory;
use crate::template;
use crate::Error;

fn ok_status() -> u16 {
    200
}

/// One step of a scenario, tagged by `"step"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Admin clicks Enable: the connection test.
    Enable,
    /// The user gains access to the app.
    Assign {
        /// Username.
        user: String,
    },
    /// User attributes change in OneLogin (`null` clears a field).
    Update {
        /// Username.
        user: String,
        /// Field name (`title`, `lastname`, `custom_fields.x`, …) → new value.
        set: BTreeMap<String, Option<String>>,
    },
    /// The user is suspended in OneLogin.
    Suspend {
        /// Username.
        user: String,
    },
    /// The user is unsuspended (reactivated) in OneLogin.
    Unsuspend {
        /// Username.
        user: String,
    },
    /// The user's access to the app is removed.
    RemoveAccess {
        /// Username.
        user: String,
    },
    /// The user is deleted in OneLogin.
    DeleteUser {
        /// Username.
        user: String,
    },
    /// The user gains a role.
    AddRole {
        /// Username.
        user: String,
        /// Role name.
        role: String,
    },
    /// The user loses a role.
    RemoveRole {
        /// Username.
        user: String,
        /// Role name.
        role: String,
    },
    /// Admin clicks Refresh entitlements: `GET /Groups`.
    RefreshEntitlements,
    /// Simulator setup or cleanup request (not OneLogin traffic), must answer 2xx.
    Setup {
        /// HTTP method.
        method: String,
        /// Path under the base URL, e.g. `/Users` or `/Users/{id:jdoe}`
        /// (`{id:USERNAME}` and `{group:NAME}` expand to the ids OneLogin learned).
        path: String,
        /// JSON body.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
    },
    /// Check (not OneLogin traffic): `GET /Users/{id}` of the last id
    /// OneLogin learned for the user.
    CheckUser {
        /// Username.
        user: String,
        /// Expected status (default 200).
        #[serde(default = "ok_status")]
        status: u16,
        /// JSON pointer (`/name/givenName`) → expected value.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        attributes: BTreeMap<String, Value>,
        /// JSON pointers that must be absent or null.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        absent: Vec<String>,
    },
    /// Check (not OneLogin traffic): `GET /Users?filter=userName eq "…"`
    /// finds `count` users.
    CheckLookup {
        /// userName to look up.
        user_name: String,
        /// Expected `totalResults`.
        count: u64,
        /// When set, the single match must carry the id OneLogin knows for this username.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        same_id_as: Option<String>,
    },
    /// Check (not OneLogin traffic): `GET /Groups/{id}` of a group OneLogin knows.
    CheckGroup {
        /// Group displayName.
        group: String,
        /// Expected status (default 200).
        #[serde(default = "ok_status")]
        status: u16,
        /// Usernames whose ids must be exactly the members.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        members: Option<Vec<String>>,
    },
}

impl Step {
    /// A short label, e.g. `assign jdoe`.
    pub fn label(&self) -> String {
        match self {
            Step::Enable => "enable".into(),
            Step::Assign { user } => format!("assign {user}"),
            Step::Update { user, .. } => format!("update {user}"),
            Step::Suspend { user } => format!("suspend {user}"),
            Step::Unsuspend { user } => format!("unsuspend {user}"),
            Step::RemoveAccess { user } => format!("remove_access {user}"),
            Step::DeleteUser { user } => format!("delete_user {user}"),
            Step::AddRole { user, role } => format!("add_role {user} {role}"),
            Step::RemoveRole { user, role } => format!("remove_role {user} {role}"),
            Step::RefreshEntitlements => "refresh_entitlements".into(),
            Step::Setup { method, path, .. } => format!("setup {method} {path}"),
            Step::CheckUser { user, .. } => format!("check_user {user}"),
            Step::CheckLookup { user_name, .. } => format!("check_lookup {user_name}"),
            Step::CheckGroup { group, .. } => format!("check_group {group}"),
        }
    }

    /// The directory user the step names, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Step::Assign { user }
            | Step::Update { user, .. }
            | Step::Suspend { user }
            | Step::Unsuspend { user }
            | Step::RemoveAccess { user }
            | Step::DeleteUser { user }
            | Step::AddRole { user, .. }
            | Step::RemoveRole { user, .. }
            | Step::CheckUser { user, .. } => Some(user),
            _ => None,
        }
    }
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name (defaults to the file stem when loaded from a file).
    #[serde(default)]
    pub name: String,
    /// What it exercises.
    #[serde(default)]
    pub description: String,
    /// The app as configured in OneLogin.
    #[serde(default)]
    pub app: AppConfig,
    /// The OneLogin directory.
    #[serde(default)]
    pub directory: Directory,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Parses a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|source| Error::Json {
            context: "scenario".into(),
            source,
        })
    }

    /// Loads a scenario file; the name defaults to the file stem.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut scenario: Scenario = serde_json::from_str(&text).map_err(|source| Error::Json {
            context: path.display().to_string(),
            source,
        })?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(scenario)
    }

    /// Loads a scenario by name from [`scenarios_dir`], or from a path.
    pub fn find(name_or_path: &str) -> Result<Self, Error> {
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Self::load(path);
        }
        let file = if name_or_path.ends_with(".json") {
            name_or_path.to_string()
        } else {
            format!("{name_or_path}.json")
        };
        Self::load(&scenarios_dir().join(file))
    }

    /// Checks the scenario for mistakes that would make a run meaningless.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let dir = &self.directory;
        let mut seen = HashSet::new();
        for user in &dir.users {
            if user.username.is_empty() {
                problems.push("a user has an empty username".to_string());
            }
            if !seen.insert(user.username.as_str()) {
                problems.push(format!("duplicate username {:?}", user.username));
            }
            if let Some(m) = &user.manager {
                if dir.user(m).is_none() {
                    problems.push(format!(
                        "{}: manager {m:?} is not in the directory",
                        user.username
                    ));
                }
            }
            for role in &user.roles {
                if !dir.roles.is_empty() && !dir.roles.contains(role) {
                    problems.push(format!("{}: role {role:?} is not defined", user.username));
                }
            }
        }
        if let Err(e) = self.app.parsed_custom_headers() {
            problems.push(e);
        }
        let text = self.app.template_text();
        for name in template::placeholders(&text) {
            if !(name.starts_with("user.") || name.starts_with("parameters.")) {
                problems.push(format!(
                    "template placeholder {{${name}}} is neither user.* nor parameters.*"
                ));
            }
        }
        let mut rendered = dir.clone();
        rendered.assign_ids();
        for user in &rendered.users {
            if let Err(e) = self.app.render_user(&text, &rendered, user) {
                problems.push(format!("{}: {e}", user.username));
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            let n = i + 1;
            if let Some(user) = step.user() {
                if dir.user(user).is_none() {
                    problems.push(format!("step {n}: user {user:?} is not in the directory"));
                }
            }
            match step {
                Step::AddRole { role, .. } | Step::RemoveRole { role, .. }
                    if !dir.roles.is_empty() && !dir.roles.contains(role) =>
                {
                    problems.push(format!("step {n}: role {role:?} is not defined"));
                }
                Step::Setup { method, path, .. } => {
                    if reqwest::Method::from_bytes(method.as_bytes()).is_err() {
                        problems.push(format!("step {n}: bad method {method:?}"));
                    }
                    if !path.starts_with('/') {
                        problems.push(format!("step {n}: setup path must start with '/'"));
                    }
                }
                Step::CheckUser {
                    attributes, absent, ..
                } => {
                    for p in attributes.keys().chain(absent.iter()) {
                        if !p.starts_with('/') {
                            problems.push(format!("step {n}: {p:?} is not a JSON pointer"));
                        }
                    }
                }
                Step::CheckLookup {
                    same_id_as: Some(u),
                    ..
                } if dir.user(u).is_none() => {
                    problems.push(format!("step {n}: user {u:?} is not in the directory"));
                }
                Step::CheckGroup {
                    members: Some(members),
                    ..
                } => {
                    for u in members.iter().filter(|u| dir.user(u).is_none()) {
                        problems.push(format!("step {n}: member {u:?} is not in the directory"));
                    }
                }
                _ => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Scenario {
                name: self.name.clone(),
                problems,
            })
        }
    }
}

/// The directory holding the stored scenarios (`fixtures/onelogin/`).
pub fn scenarios_dir() -> PathBuf {
    fixtures::onelogin()
}

/// The stored scenario files, sorted by name.
pub fn list_scenarios() -> Result<Vec<PathBuf>, Error> {
    let dir = scenarios_dir();
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_reject_unknown_fields() {
        let s: Step = serde_json::from_str(r#"{"step":"assign","user":"a"}"#).expect("assign");
        assert_eq!(s, Step::Assign { user: "a".into() });
        let s: Step = serde_json::from_str(r#"{"step":"enable"}"#).expect("enable");
        assert_eq!(s.label(), "enable");
        let s: Step = serde_json::from_str(r#"{"step":"check_user","user":"a","status":404}"#)
            .expect("check");
        assert!(matches!(s, Step::CheckUser { status: 404, .. }));
        assert!(serde_json::from_str::<Step>(r#"{"step":"assign","usr":"a"}"#).is_err());
        assert!(serde_json::from_str::<Step>(r#"{"step":"fly"}"#).is_err());
    }

    #[test]
    fn validation_finds_problems() {
        let s = Scenario::from_json(
            r#"{"name":"x","directory":{"users":[{"username":"a","roles":["R"]}],"roles":["Q"]},
                "steps":[{"step":"assign","user":"b"},{"step":"check_user","user":"a","attributes":{"active":true}}]}"#,
        )
        .expect("parse");
        let Err(Error::Scenario { problems, .. }) = s.validate() else {
            panic!("expected problems")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
