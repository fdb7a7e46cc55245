//! Identity-provider regression fixtures: every file under `fixtures/idp/` is a request sequence
//! an IdP really sends (Entra ID with and without `aadOptscim062020`, Okta, OneLogin), replayed
//! against a fresh server, each step checked for its status and a JSON subset of its response.
//! The format is described in `fixtures/idp/README.md`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::support::{Reply, TestServer, SCIM};

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

/// One test per fixture (named `<source>_<case>`, `-` and `/` read as `_`), and the list of every
/// (test, fixture) pair for `every_fixture_is_replayed`.
macro_rules! fixtures {
    ($($test:ident => $case:literal,)*) => {
        const FIXTURES: &[(&str, &str)] = &[$((stringify!($test), $case)),*];
        $(
            #[tokio::test]
            async fn $test() {
                replay($case).await;
            }
        )*
    };
}

fixtures! {
    entra_create_user_with_meta_and_roles => "entra/create-user-with-meta-and-roles",
    entra_create_user_with_nulls => "entra/create-user-with-nulls",
    entra_disable_user_with_string_false => "entra/disable-user-with-string-false",
    entra_add_nickname => "entra/add-nickname",
    entra_replace_multiple_attributes => "entra/replace-multiple-attributes",
    entra_replace_username => "entra/replace-username",
    entra_add_manager => "entra/add-manager",
    entra_filters => "entra/filters",
    entra_group_create_with_adscim_schema => "entra/group-create-with-adscim-schema",
    entra_group_add_member_capitalised_op => "entra/group-add-member-capitalised-op",
    entra_group_remove_member_with_value_list => "entra/group-remove-member-with-value-list",
    entra_flag_disable_user_with_boolean => "entra-flag/disable-user-with-boolean",
    entra_flag_replace_without_path_dotted_keys => "entra-flag/replace-without-path-dotted-keys",
    entra_flag_remove_member_with_value_filter => "entra-flag/remove-member-with-value-filter",
    entra_flag_soft_delete_lifecycle => "entra-flag/soft-delete-lifecycle",
    okta_create_user => "okta/create-user",
    okta_test_connection => "okta/test-connection",
    okta_username_case_check => "okta/username-case-check",
    okta_update_user_with_put => "okta/update-user-with-put",
    okta_deactivate_without_path => "okta/deactivate-without-path",
    okta_group_rename_with_id => "okta/group-rename-with-id",
    okta_group_membership_remove_and_add => "okta/group-membership-remove-and-add",
    okta_group_replace_members => "okta/group-replace-members",
    okta_group_delete => "okta/group-delete",
    onelogin_legacy_urns => "onelogin/legacy-urns",
    onelogin_emails_single_object => "onelogin/emails-single-object",
    onelogin_active_as_string => "onelogin/active-as-string",
    onelogin_values_kept_verbatim => "onelogin/values-kept-verbatim",
    onelogin_v11_enterprise_manager => "onelogin/v11-enterprise-manager",
    onelogin_v11_group_members_operation => "onelogin/v11-group-members-operation",
    onelogin_trailing_question_mark => "onelogin/trailing-question-mark",
    onelogin_filter_plus_and_trailing_ampersand => "onelogin/filter-plus-and-trailing-ampersand",
    onelogin_doubled_slash_base_url => "onelogin/doubled-slash-base-url",
}

#[test]
fn every_fixture_is_replayed() {
    let mut on_disk = BTreeSet::new();
    list_json(&fixtures::idp(), &mut on_disk);
    let named: BTreeSet<String> = FIXTURES.iter().map(|(_, c)| c.to_string()).collect();
    let unreplayed: Vec<_> = on_disk.difference(&named).collect();
    assert!(
        unreplayed.is_empty(),
        "fixtures without a test (add them to `fixtures!` in idp.rs): {unreplayed:?}"
    );
    let missing: Vec<_> = named.difference(&on_disk).collect();
    assert!(missing.is_empty(), "tests without a fixture: {missing:?}");
    for (test, case) in FIXTURES {
        assert_eq!(
            *test,
            case.replace(['/', '-'], "_"),
            "the test for {case} is named after it"
        );
    }
}

/// The fixture names (`source/case`, without `.json`) under `dir`, recursively.
fn list_json(dir: &Path, out: &mut BTreeSet<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            list_json(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let rel = path
                .strip_prefix(fixtures::idp())
                .expect("under the fixture folder")
                .with_extension("");
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Replays `fixtures/idp/<case>.json` against a fresh server, asserting every step.
async fn replay(case: &str) {
    let file = fixtures::idp().join(format!("{case}.json"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let fixture: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    for key in ["source", "description"] {
        assert!(
            fixture[key].as_str().is_some_and(|s| !s.is_empty()),
            "{case}: '{key}' is required"
        );
    }
    let steps = fixture["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{case}: 'steps' must be an array"));
    let s = TestServer::start().await;
    let mut saved = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let at = format!(
            "{case}, step {} ({})",
            i + 1,
            step["name"].as_str().unwrap_or("?")
        );
        run_step(&s, step, &mut saved, &at).await;
    }
}

async fn run_step(s: &TestServer, step: &Value, saved: &mut HashMap<String, String>, at: &str) {
    let fields = step
        .as_object()
        .unwrap_or_else(|| panic!("{at}: a step is an object"));
    if let Some(k) = fields.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
        panic!("{at}: unknown key '{k}'");
    }
    let method = step["method"]
        .as_str()
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or_else(|| panic!("{at}: 'method' is required"));
    let path = fill_str(
        step["path"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: 'path' is required")),
        saved,
    );
    assert!(
        !path.contains('{'),
        "{at}: an unknown placeholder in {path}"
    );
    let want = step["expect_status"]
        .as_u64()
        .unwrap_or_else(|| panic!("{at}: 'expect_status' is required"));

    let mut req = s.req(method.clone(), &path);
    let mut has_type = false;
    if let Some(headers) = step.get("headers") {
        let headers = headers
            .as_object()
            .unwrap_or_else(|| panic!("{at}: 'headers' is an object"));
        for (name, value) in headers {
            let value = value
                .as_str()
                .unwrap_or_else(|| panic!("{at}: header {name} is a string"));
            has_type |= name.eq_ignore_ascii_case("content-type");
            req = req.header(name.as_str(), value);
        }
    }
    if let Some(body) = step.get("body") {
        if !has_type {
            req = req.header("Content-Type", SCIM);
        }
        req = req.body(fill(body, saved).to_string());
    }
    let reply = Reply::from(req.send().await.expect("the request is sent")).await;

    assert_eq!(
        u64::from(reply.status.as_u16()),
        want,
        "{at}: {method} {path}: status; body: {}",
        reply.text
    );
    if !reply.text.is_empty() {
        assert_eq!(
            reply.header("content-type"),
            Some(SCIM),
            "{at}: {method} {path}: content type; body: {}",
            reply.text
        );
    }
    if let Some(name) = step.get("save") {
        let name = name
            .as_str()
            .unwrap_or_else(|| panic!("{at}: 'save' is a name"));
        let id = reply.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no id to save: {}", reply.text));
        saved.insert(name.to_string(), id.to_string());
    }
    if let Some(expect) = step.get("expect") {
        if let Err(e) = subset(&fill(expect, saved), &reply.body, "") {
            panic!("{at}: {method} {path}: {e}\nresponse: {}", reply.text);
        }
    }
    if let Some(absent) = step.get("expect_absent") {
        for a in absent.as_array().into_iter().flatten() {
            let a = a
                .as_str()
                .unwrap_or_else(|| panic!("{at}: 'expect_absent' lists strings"));
            let found = if a.starts_with('/') {
                reply.body.pointer(a)
            } else {
                reply.body.get(a)
            };
            assert!(
                found.is_none(),
                "{at}: {method} {path}: '{a}' is present: {}",
                reply.text
            );
        }
    }
}

/// `{name}` replaced by the id saved under `name`, in every string of `v`.
fn fill(v: &Value, saved: &HashMap<String, String>) -> Value {
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

fn fill_str(s: &str, saved: &HashMap<String, String>) -> String {
    saved.iter().fold(s.to_string(), |acc, (name, id)| {
        acc.replace(&format!("{{{name}}}"), id)
    })
}

/// Whether `want` is contained in `got`: objects by their listed members, arrays element for
/// element in any order but of the same length (so `members` and `Resources` are exact), other
/// values by equality (so `true` is not `"true"`). The error names the JSON pointer.
fn subset(want: &Value, got: &Value, at: &str) -> Result<(), String> {
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

/// Pairs every element of `want` with a distinct element of `got` that contains it.
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
