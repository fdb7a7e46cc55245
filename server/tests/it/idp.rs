//! Identity-provider regression fixtures: every file under `fixtures/idp/` is a request sequence
//! an IdP really sends (Entra ID with and without `aadOptscim062020`, Okta, OneLogin), replayed
//! against a fresh server, each step checked for its status and a JSON subset of its response.
//! The format is described in `fixtures/idp/README.md`.

use std::collections::{BTreeSet, HashMap};

use conformance::corpus::{self, Step};
use reqwest::Method;

use crate::support::{Reply, TestServer, SCIM};

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
    let on_disk: BTreeSet<String> = corpus::load_all(&fixtures::idp())
        .unwrap_or_else(|e| panic!("the corpus loads: {e}"))
        .into_iter()
        .map(|f| f.name)
        .collect();
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

/// Replays `fixtures/idp/<case>.json` (parsed by `conformance::corpus`, which also checks its
/// format) against a fresh server, asserting every step.
async fn replay(case: &str) {
    let dir = fixtures::idp();
    let fixture =
        corpus::load(&dir, &dir.join(format!("{case}.json"))).unwrap_or_else(|e| panic!("{e}"));
    let s = TestServer::start().await;
    let mut saved = HashMap::new();
    for (i, step) in fixture.steps.iter().enumerate() {
        let at = format!("{case}, step {} ({})", i + 1, step.name);
        run_step(&s, step, &mut saved, &at).await;
    }
}

async fn run_step(s: &TestServer, step: &Step, saved: &mut HashMap<String, String>, at: &str) {
    let method = Method::from_bytes(step.method.as_bytes())
        .unwrap_or_else(|_| panic!("{at}: bad method {}", step.method));
    let path = corpus::fill_str(&step.path, saved);
    assert!(
        !path.contains('{'),
        "{at}: an unknown placeholder in {path}"
    );
    let mut req = s.req(method.clone(), &path);
    let mut has_type = false;
    for (name, value) in &step.headers {
        has_type |= name.eq_ignore_ascii_case("content-type");
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &step.body {
        if !has_type {
            req = req.header("Content-Type", SCIM);
        }
        req = req.body(corpus::fill(body, saved).to_string());
    }
    let reply = Reply::from(req.send().await.expect("the request is sent")).await;

    assert_eq!(
        reply.status.as_u16(),
        step.expect_status,
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
    if let Some(name) = &step.save {
        let id = reply.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no id to save: {}", reply.text));
        saved.insert(name.clone(), id.to_string());
    }
    if let Some(expect) = &step.expect {
        if let Err(e) = corpus::subset(&corpus::fill(expect, saved), &reply.body, "") {
            panic!("{at}: {method} {path}: {e}\nresponse: {}", reply.text);
        }
    }
    for a in &step.expect_absent {
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
