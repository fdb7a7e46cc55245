//! The IdP payload corpus (`fixtures/idp/<client>/<case>.json`, format in
//! `fixtures/idp/README.md`): loading, placeholders, and the JSON-subset matching of expected
//! responses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Keys a step may have.
const STEP_KEYS: &[&str] = &[
    "name",
    "method",
    "path",
    "headers",
    "body",
    "expect_status",
    "save",
    "expect",
    "expect_absent",
];

/// The corpus in this workspace (`fixtures/idp`), when it exists.
pub fn default_dir() -> Option<PathBuf> {
    let p = fixtures::idp();
    p.is_dir().then_some(p)
}

/// One fixture: a request sequence an identity provider sends.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// `client/case`, e.g. `okta/create-user`.
    pub name: String,
    /// The folder: `entra`, `entra-flag`, `okta`, `onelogin`.
    pub client: String,
    /// Where the payload shapes come from.
    pub source: String,
    /// What the sequence does.
    pub description: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One request of a fixture and what its response must be.
#[derive(Debug, Clone)]
pub struct Step {
    /// Names the step in messages.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Appended to the base URL as is.
    pub path: String,
    /// Request headers, sent as given.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<Value>,
    /// The expected status.
    pub expect_status: u16,
    /// Remember the response's id under this name.
    pub save: Option<String>,
    /// A JSON subset the response must contain.
    pub expect: Option<Value>,
    /// Attributes or JSON pointers that must be absent.
    pub expect_absent: Vec<String>,
}

/// Loads every fixture under `dir` (sorted by name).
pub fn load_all(dir: &Path) -> Result<Vec<Fixture>, String> {
    let mut files = Vec::new();
    list_json(dir, &mut files)?;
    files.sort();
    files.iter().map(|f| load(dir, f)).collect()
}

fn list_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            list_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads one fixture file.
pub fn load(dir: &Path, file: &Path) -> Result<Fixture, String> {
    let rel = file
        .strip_prefix(dir)
        .unwrap_or(file)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{rel}: {e}"))?;
    let s = |k: &str| -> Result<String, String> {
        v[k].as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("{rel}: '{k}' is required"))
    };
    let steps = v["steps"]
        .as_array()
        .ok_or(format!("{rel}: 'steps' must be an array"))?
        .iter()
        .enumerate()
        .map(|(i, st)| step(&rel, i, st))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fixture {
        client: rel.split('/').next().unwrap_or_default().to_string(),
        name: rel.clone(),
        source: s("source")?,
        description: s("description")?,
        steps,
    })
}

fn step(rel: &str, i: usize, st: &Value) -> Result<Step, String> {
    let at = format!("{rel}, step {}", i + 1);
    let o = st.as_object().ok_or(format!("{at}: a step is an object"))?;
    if let Some(k) = o.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
        return Err(format!("{at}: unknown key '{k}'"));
    }
    let s = |k: &str| st[k].as_str().map(str::to_string);
    let headers = match st.get("headers") {
        None => Vec::new(),
        Some(h) => h
            .as_object()
            .ok_or(format!("{at}: 'headers' is an object"))?
            .iter()
            .map(|(n, v)| {
                v.as_str()
                    .map(|v| (n.clone(), v.to_string()))
                    .ok_or(format!("{at}: header {n} is a string"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Step {
        name: s("name").ok_or(format!("{at}: 'name' is required"))?,
        method: s("method").ok_or(format!("{at}: 'method' is required"))?,
        path: s("path").ok_or(format!("{at}: 'path' is required"))?,
        headers,
        body: st.get("body").cloned(),
        expect_status: st["expect_status"]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(format!("{at}: 'expect_status' is required"))?,
        save: s("save"),
        expect: st.get("expect").cloned(),
        expect_absent: st["expect_absent"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
    })
}

/// `{name}` replaced by the id saved under `name`, in every string (and key) of `v`.
pub fn fill(v: &Value, saved: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(fill_str(s, saved)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, saved)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (fill_str(k, saved), fill(x, saved)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `{name}` replaced by the id saved under `name`.
pub fn fill_str(s: &str, saved: &HashMap<String, String>) -> String {
    saved.iter().fold(s.to_string(), |acc, (name, id)| {
        acc.replace(&format!("{{{name}}}"), id)
    })
}

/// Whether `want` is contained in `got`: objects by their listed members, arrays element for
/// element in any order but of the same length, other values by equality. The error names the
/// JSON pointer.
pub fn subset(want: &Value, got: &Value, at: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                let gv = g.get(k).ok_or_else(|| format!("{here}: missing"))?;
                subset(wv, gv, &here)?;
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!(
                    "{at}: {} elements, {} expected: {want}",
                    g.len(),
                    w.len()
                ));
            }
            let mut used = vec![false; g.len()];
            if pair(w, g, &mut used) {
                return Ok(());
            }
            match w
                .iter()
                .find(|x| !g.iter().any(|y| subset(x, y, "").is_ok()))
            {
                Some(x) => Err(format!("{at}: no element matches {x}")),
                None => Err(format!("{at}: the elements do not pair up with {want}")),
            }
        }
        _ if want == got => Ok(()),
        _ => Err(format!("{at}: {got}, expected {want}")),
    }
}

fn pair(want: &[Value], got: &[Value], used: &mut [bool]) -> bool {
    let Some((first, rest)) = want.split_first() else {
        return true;
    };
    for i in 0..got.len() {
        if !used[i] && subset(first, &got[i], "").is_ok() {
            used[i] = true;
            if pair(rest, got, used) {
                return true;
            }
            used[i] = false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_corpus_loads() {
        let dir = default_dir().expect("fixtures/idp in the workspace");
        let all = load_all(&dir).expect("every fixture parses");
        assert!(all.len() >= 30, "{} fixtures", all.len());
        assert!(all.iter().any(|f| f.name == "okta/create-user"));
    }

    #[test]
    fn subsets_pair_array_elements_exactly() {
        let got = json!({"members": [{"value": "a", "x": 1}, {"value": "b"}], "active": true});
        assert!(subset(
            &json!({"members": [{"value": "b"}, {"value": "a"}]}),
            &got,
            ""
        )
        .is_ok());
        assert!(subset(&json!({"members": [{"value": "a"}]}), &got, "").is_err());
        assert!(subset(&json!({"active": "true"}), &got, "").is_err());
    }

    #[test]
    fn placeholders_are_filled_in_keys_and_values() {
        let saved = HashMap::from([("u".to_string(), "42".to_string())]);
        assert_eq!(
            fill(&json!({"{u}": ["/Users/{u}"]}), &saved),
            json!({"42": ["/Users/42"]})
        );
    }
}
