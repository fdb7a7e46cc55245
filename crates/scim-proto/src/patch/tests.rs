//! Tests of the PATCH engine: request parsing, each rule of RFC 7644 §3.5.2, the IdP dialects
//! (Entra, Okta, OneLogin) and atomicity. (Long because it is a table of cases, one or more per
//! rule and per IdP quirk; test code only.)

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;
use crate::error::{Result, ScimType};
use crate::filter::{AttrPath, CompareOp, Filter, Literal, PatchPath};
use crate::schema::{Kind, Registry};
use crate::urn;

const ENT: &str = urn::ENTERPRISE_USER;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

fn user() -> Value {
    json!({
        "schemas": [urn::USER],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
    })
}

fn bare_user() -> Value {
    json!({"schemas": [urn::USER], "userName": "bjensen"})
}

fn group() -> Value {
    json!({
        "schemas": [urn::GROUP],
        "displayName": "Engineering",
        "members": [{"value": "u1", "type": "User"}, {"value": "u2", "type": "User"}]
    })
}

/// A PATCH path, parsed.
fn path(text: &str) -> PatchPath {
    crate::filter::parse_path(text).unwrap()
}

fn cmp(attr: &str, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare {
        path: AttrPath::simple(attr),
        op,
        value,
    }
}

fn eq(attr: &str, value: &str) -> Filter {
    cmp(attr, CompareOp::Eq, Literal::String(value.into()))
}

/// `attr[filter]` or `attr[filter].sub`.
fn vpath(attr: &str, filter: Filter, sub: Option<&str>) -> PatchPath {
    PatchPath {
        attr: AttrPath::simple(attr),
        filter: Some(filter),
        sub: sub.map(str::to_string),
    }
}

fn add(path: Option<PatchPath>, value: Value) -> Operation {
    Operation {
        op: Op::Add,
        path,
        value: Some(value),
    }
}

fn replace(path: Option<PatchPath>, value: Value) -> Operation {
    Operation {
        op: Op::Replace,
        path,
        value: Some(value),
    }
}

fn remove(path: Option<PatchPath>) -> Operation {
    Operation {
        op: Op::Remove,
        path,
        value: None,
    }
}

fn remove_listed(path: PatchPath, value: Value) -> Operation {
    Operation {
        op: Op::Remove,
        path: Some(path),
        value: Some(value),
    }
}

fn run_as(kind: Kind, doc: &Value, ops: &[Operation], strict: bool) -> Result<Value> {
    let mut doc = doc.clone();
    apply(&mut doc, ops, registry(), kind, strict)?;
    Ok(doc)
}

fn run(doc: &Value, ops: &[Operation]) -> Value {
    run_as(Kind::User, doc, ops, false).unwrap()
}

fn run_group(doc: &Value, ops: &[Operation]) -> Value {
    run_as(Kind::Group, doc, ops, false).unwrap()
}

/// Parses a request body and applies it.
fn patch(kind: Kind, doc: &Value, body: Value, strict: bool) -> Result<Value> {
    let ops = parse_request(&body, strict)?;
    run_as(kind, doc, &ops, strict)
}

fn body(ops: Value) -> Value {
    json!({"schemas": [urn::PATCH_OP], "Operations": ops})
}

fn error_type<T: std::fmt::Debug>(result: Result<T>) -> ScimType {
    result.unwrap_err().scim_type().unwrap()
}

// ---------------------------------------------------------------- request parsing

#[test]
fn parses_a_standard_request() {
    let ops = parse_request(
        &body(json!([{"op": "replace", "value": {"active": false}}])),
        true,
    )
    .unwrap();
    assert_eq!(ops, vec![replace(None, json!({"active": false}))]);
}

#[test]
fn op_names_in_any_case_unless_strict() {
    for name in ["Add", "ADD", "add"] {
        let ops = parse_request(&body(json!([{"op": name, "value": {}}])), false).unwrap();
        assert_eq!(ops[0].op, Op::Add);
    }
    let strict = parse_request(&body(json!([{"op": "Replace", "value": {}}])), true);
    assert_eq!(error_type(strict), ScimType::InvalidSyntax);
}

#[test]
fn schemas_is_required_only_when_strict() {
    let lax = json!({"Operations": [{"op": "add", "value": {}}]});
    assert_eq!(parse_request(&lax, false).unwrap().len(), 1);
    assert_eq!(
        error_type(parse_request(&lax, true)),
        ScimType::InvalidSyntax
    );
    let wrong = json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "value": {}}]});
    assert_eq!(parse_request(&wrong, false).unwrap().len(), 1);
    assert_eq!(
        error_type(parse_request(&wrong, true)),
        ScimType::InvalidSyntax
    );
}

#[test]
fn member_names_in_any_case_unless_strict() {
    let lax = json!({"schemas": [urn::PATCH_OP], "operations": [{"OP": "add", "Value": {"nickName": "B"}}]});
    assert_eq!(
        parse_request(&lax, false).unwrap(),
        vec![add(None, json!({"nickName": "B"}))]
    );
    assert_eq!(
        error_type(parse_request(&lax, true)),
        ScimType::InvalidSyntax
    );
    let extra = body(json!([{"op": "add", "value": {}, "comment": "x"}]));
    assert!(parse_request(&extra, false).is_ok());
    assert_eq!(
        error_type(parse_request(&extra, true)),
        ScimType::InvalidSyntax
    );
}

#[test]
fn malformed_requests_are_invalid_syntax() {
    for bad in [
        json!([]),
        json!("x"),
        json!({"schemas": [urn::PATCH_OP]}),
        json!({"schemas": [urn::PATCH_OP], "Operations": {"op": "add"}}),
        body(json!([])),
        body(json!(["add"])),
        body(json!([{"value": 1}])),
        body(json!([{"op": 1, "value": 1}])),
        body(json!([{"op": "move", "value": 1}])),
        body(json!([{"op": "add", "path": 3, "value": 1}])),
    ] {
        for strict in [false, true] {
            assert_eq!(
                error_type(parse_request(&bad, strict)),
                ScimType::InvalidSyntax,
                "{bad} {strict}"
            );
        }
    }
}

#[test]
fn add_and_replace_need_a_value() {
    for op in ["add", "replace"] {
        for strict in [false, true] {
            let missing = body(json!([{"op": op, "path": "nickName"}]));
            assert_eq!(
                error_type(parse_request(&missing, strict)),
                ScimType::InvalidValue
            );
        }
    }
    let null = parse_request(&body(json!([{"op": "replace", "value": null}])), true).unwrap();
    assert_eq!(null[0].value, Some(Value::Null));
}

#[test]
fn remove_takes_a_value_only_when_not_strict() {
    let b = json!({"Operations": [{"op": "remove", "value": [{"value": "u1"}]}]});
    let ops = parse_request(&b, false).unwrap();
    assert_eq!(ops[0].value, Some(json!([{"value": "u1"}])));
    let strict = json!({"schemas": [urn::PATCH_OP], "Operations": b["Operations"].clone()});
    assert_eq!(
        error_type(parse_request(&strict, true)),
        ScimType::InvalidSyntax
    );
}

#[test]
fn empty_or_null_path_means_no_path_unless_strict() {
    let ops = parse_request(&body(json!([{"op": "add", "path": " ", "value": {}}, {"op": "add", "path": null, "value": {}}])), false)
        .unwrap();
    assert!(ops.iter().all(|o| o.path.is_none()));
    assert!(parse_request(
        &body(json!([{"op": "add", "path": null, "value": {}}])),
        true
    )
    .is_err());
}

#[test]
fn a_path_that_does_not_parse_is_invalid_path() {
    let b = body(json!([{"op": "remove", "path": "emails[type eq"}]));
    assert_eq!(error_type(parse_request(&b, false)), ScimType::InvalidPath);
}

#[test]
fn a_bare_schema_urn_path_is_split_like_an_attribute() {
    let b = body(json!([{"op": "add", "path": ENT, "value": {"employeeNumber": "7"}}]));
    let ops = parse_request(&b, true).unwrap();
    let p = ops[0].path.as_ref().unwrap();
    assert_eq!(
        p.attr.urn.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0")
    );
    assert_eq!(p.attr.name, "User");
    let doc = run_as(Kind::User, &bare_user(), &ops, true).unwrap();
    assert_eq!(doc[ENT], json!({"employeeNumber": "7"}));
    assert_eq!(doc["schemas"], json!([urn::USER, ENT]));
}

#[test]
fn at_most_a_thousand_operations() {
    let op = json!({"op": "add", "value": {}});
    let ok = body(Value::Array(vec![op.clone(); MAX_OPERATIONS]));
    assert_eq!(parse_request(&ok, true).unwrap().len(), MAX_OPERATIONS);
    let too_many = body(Value::Array(vec![op; MAX_OPERATIONS + 1]));
    assert_eq!(
        error_type(parse_request(&too_many, false)),
        ScimType::InvalidValue
    );
}

#[test]
fn errors_name_the_operation() {
    let b = body(json!([{"op": "add", "value": {}}, {"op": "copy", "value": {}}]));
    let err = parse_request(&b, false).unwrap_err();
    assert!(
        err.detail().starts_with("Operations[1]: "),
        "{}",
        err.detail()
    );
    let ops = [
        replace(Some(path("nickName")), json!("B")),
        replace(Some(path("nope")), json!(1)),
    ];
    let err = run_as(Kind::User, &user(), &ops, false).unwrap_err();
    assert!(
        err.detail().starts_with("Operations[1]: "),
        "{}",
        err.detail()
    );
}

// ---------------------------------------------------------------- OneLogin SCIM 1.1 dialect

#[test]
fn onelogin_member_operations_become_patch_operations() {
    let b = json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "members": [
            {"value": "u3", "operation": "add"},
            {"value": "u1", "operation": "delete"},
            {"value": "u4"}
        ]
    });
    let ops = parse_request(&b, false).unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0], add(Some(path("members")), json!([{"value": "u3"}])));
    assert_eq!(
        ops[1],
        remove(Some(vpath("members", eq("value", "u1"), None)))
    );
    assert_eq!(ops[2], add(Some(path("members")), json!([{"value": "u4"}])));
    let doc = run_group(&group(), &ops);
    assert_eq!(
        doc["members"],
        json!([{"value": "u2", "type": "User"}, {"value": "u3"}, {"value": "u4"}])
    );
}

#[test]
fn onelogin_dialect_is_rejected_when_strict_or_malformed() {
    let b = json!({"members": [{"value": "u3", "operation": "add"}]});
    assert_eq!(error_type(parse_request(&b, true)), ScimType::InvalidSyntax);
    // Without any `operation` it is not the dialect: no Operations at all.
    let plain = json!({"members": [{"value": "u3"}]});
    assert_eq!(
        error_type(parse_request(&plain, false)),
        ScimType::InvalidSyntax
    );
    let unknown = json!({"members": [{"value": "u3", "operation": "purge"}]});
    assert_eq!(
        error_type(parse_request(&unknown, false)),
        ScimType::InvalidSyntax
    );
    let no_id = json!({"members": [{"operation": "add"}]});
    let err = parse_request(&no_id, false).unwrap_err();
    assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
    assert!(err.detail().starts_with("members[0]: "));
}

#[test]
fn onelogin_delete_of_an_absent_member_is_a_no_op() {
    let b = json!({"members": [{"value": "nobody", "operation": "delete"}]});
    assert_eq!(patch(Kind::Group, &group(), b, false).unwrap(), group());
}

// ---------------------------------------------------------------- path-less add and replace

#[test]
fn pathless_add_takes_names_dotted_keys_urns_and_extension_objects() {
    let value = json!({
        "NICKNAME": "Babs",
        "name.middleName": "Jane",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
        ENT: {"department": "Tour Operations", "manager": {"value": "boss"}},
        "urn:ietf:params:scim:schemas:core:2.0:User:title": "Tour Guide"
    });
    let doc = run(&user(), &[add(None, value)]);
    assert_eq!(doc["nickName"], "Babs");
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"})
    );
    assert_eq!(doc["title"], "Tour Guide");
    assert_eq!(
        doc[ENT],
        json!({"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "boss"}})
    );
    assert_eq!(doc["schemas"], json!([urn::USER, ENT]));
}

#[test]
fn okta_deactivates_with_a_pathless_replace() {
    let b = body(json!([{"op": "replace", "value": {"active": false}}]));
    let doc = patch(Kind::User, &user(), b, true).unwrap();
    assert_eq!(doc["active"], false);
}

#[test]
fn okta_group_rename_sends_the_id_which_is_ignored() {
    let b = body(json!([{"op": "replace", "value": {"id": "g1", "displayName": "Platform"}}]));
    for strict in [false, true] {
        let doc = patch(Kind::Group, &group(), b.clone(), strict).unwrap();
        assert_eq!(doc["displayName"], "Platform");
        assert!(doc.get("id").is_none());
    }
}

#[test]
fn entra_pathless_replace_with_dotted_keys_and_string_booleans() {
    let b = body(json!([{"op": "Replace", "value": {"name.givenName": "X", "active": "False"}}]));
    let doc = patch(Kind::User, &user(), b, false).unwrap();
    assert_eq!(
        doc["name"],
        json!({"givenName": "X", "familyName": "Jensen"})
    );
    assert_eq!(doc["active"], false);
}

#[test]
fn pathless_replace_replaces_multi_valued_attributes_wholesale() {
    let value = json!({"emails": [{"value": "new@example.com", "type": "home"}]});
    let doc = run(&user(), &[replace(None, value)]);
    assert_eq!(
        doc["emails"],
        json!([{"value": "new@example.com", "type": "home"}])
    );
}

#[test]
fn pathless_unknown_keys_are_ignored_unless_strict() {
    let value = json!({"nickName": "B", "favouriteColour": "blue", "name.nope": "x", "schemas": [urn::USER]});
    let doc = run(&user(), &[add(None, value.clone())]);
    assert_eq!(doc["nickName"], "B");
    assert!(doc.get("favouriteColour").is_none());
    let strict = run_as(Kind::User, &user(), &[add(None, value)], true);
    assert_eq!(error_type(strict), ScimType::InvalidSyntax);
}

#[test]
fn pathless_id_and_meta_are_ignored_but_other_read_only_attributes_are_not() {
    let value = json!({"id": "x", "meta": {"resourceType": "User"}, "nickName": "B"});
    assert_eq!(run(&user(), &[replace(None, value)])["nickName"], "B");
    let groups = run_as(
        Kind::User,
        &user(),
        &[add(None, json!({"groups": [{"value": "g"}]}))],
        false,
    );
    assert_eq!(error_type(groups), ScimType::Mutability);
}

#[test]
fn pathless_value_must_be_an_object() {
    for v in [json!("x"), json!([{"nickName": "B"}]), Value::Null] {
        assert_eq!(
            error_type(run_as(Kind::User, &user(), &[add(None, v)], false)),
            ScimType::InvalidValue
        );
    }
}

// ---------------------------------------------------------------- add / replace with a path

#[test]
fn add_and_replace_set_a_single_valued_attribute() {
    let doc = run(&user(), &[add(Some(path("nickName")), json!("Babs"))]);
    assert_eq!(doc["nickName"], "Babs");
    let doc = run(&doc, &[replace(Some(path("NickName")), json!("B"))]);
    assert_eq!(doc["nickName"], "B");
}

#[test]
fn entra_replace_active_with_a_string_boolean() {
    let op = replace(Some(path("active")), json!("False"));
    assert_eq!(run(&user(), std::slice::from_ref(&op))["active"], false);
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], true)),
        ScimType::InvalidValue
    );
}

#[test]
fn values_of_the_wrong_type_are_invalid_value() {
    for (p, v) in [
        ("active", json!("maybe")),
        ("userName", json!(3)),
        ("name", json!("x")),
        ("emails", json!(true)),
    ] {
        let r = run_as(Kind::User, &user(), &[replace(Some(path(p)), v)], false);
        assert_eq!(error_type(r), ScimType::InvalidValue, "{p}");
    }
}

#[test]
fn add_and_replace_merge_into_a_complex_attribute() {
    let doc = run(
        &user(),
        &[add(
            Some(path("name")),
            json!({"middleName": "J", "givenName": "Babs"}),
        )],
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Babs", "familyName": "Jensen", "middleName": "J"})
    );
    let doc = run(
        &user(),
        &[replace(
            Some(path("name")),
            json!({"honorificPrefix": "Ms."}),
        )],
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "Jensen", "honorificPrefix": "Ms."})
    );
}

#[test]
fn add_and_replace_set_a_sub_attribute() {
    let doc = run(
        &bare_user(),
        &[add(Some(path("name.givenName")), json!("B"))],
    );
    assert_eq!(doc["name"], json!({"givenName": "B"}));
    let doc = run(
        &user(),
        &[replace(Some(path("name.familyName")), json!("J"))],
    );
    assert_eq!(
        doc["name"],
        json!({"givenName": "Barbara", "familyName": "J"})
    );
}

#[test]
fn replace_with_null_unassigns_and_add_with_null_does_nothing() {
    let doc = run(
        &user(),
        &[
            add(Some(path("active")), Value::Null),
            add(Some(path("name")), json!({})),
        ],
    );
    assert_eq!(doc, user());
    let doc = run(
        &user(),
        &[
            replace(Some(path("active")), Value::Null),
            replace(Some(path("emails")), json!([])),
        ],
    );
    assert!(doc.get("active").is_none() && doc.get("emails").is_none());
    let doc = run(
        &user(),
        &[replace(Some(path("name.givenName")), Value::Null)],
    );
    assert_eq!(doc["name"], json!({"familyName": "Jensen"}));
}

#[test]
fn add_appends_to_a_multi_valued_attribute_skipping_duplicates() {
    let home = json!({"value": "b@home.example", "type": "home"});
    let doc = run(&user(), &[add(Some(path("emails")), json!([home.clone()]))]);
    assert_eq!(doc["emails"][1], home);
    // A single value where an array is due (OneLogin), and an exact duplicate: nothing new.
    let again = run(&doc, &[add(Some(path("emails")), home)]);
    assert_eq!(again, doc);
}

#[test]
fn strict_mode_wants_an_array_for_a_multi_valued_attribute() {
    let op = add(Some(path("emails")), json!({"value": "x@y"}));
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], true)),
        ScimType::InvalidValue
    );
}

#[test]
fn a_new_primary_value_demotes_the_old_one() {
    let op = add(
        Some(path("emails")),
        json!([{"value": "b@home.example", "type": "home", "primary": true}]),
    );
    let doc = run(&user(), &[op]);
    assert_eq!(doc["emails"][0]["primary"], false);
    assert_eq!(doc["emails"][1]["primary"], true);
    let op = replace(
        Some(vpath("emails", eq("type", "home"), Some("primary"))),
        json!("True"),
    );
    let doc = run(
        &doc,
        &[
            replace(
                Some(path("emails")),
                json!([{"value": "a", "type": "work", "primary": true}, {"value": "b", "type": "home"}]),
            ),
            op,
        ],
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "a", "type": "work", "primary": false}, {"value": "b", "type": "home", "primary": true}])
    );
}

#[test]
fn two_primaries_at_once_is_invalid_value() {
    let two = json!([{"value": "a", "primary": true}, {"value": "b", "primary": true}]);
    let r = run_as(
        Kind::User,
        &user(),
        &[add(Some(path("emails")), two)],
        false,
    );
    assert_eq!(error_type(r), ScimType::InvalidValue);
    let doc = json!({"schemas": [urn::USER], "userName": "b", "emails": [{"value": "a", "type": "work"}, {"value": "b", "type": "work"}]});
    let r = run_as(
        Kind::User,
        &doc,
        &[replace(
            Some(vpath("emails", eq("type", "work"), Some("primary"))),
            json!(true),
        )],
        false,
    );
    assert_eq!(error_type(r), ScimType::InvalidValue);
}

#[test]
fn replace_without_filter_replaces_all_values() {
    let doc = run(
        &user(),
        &[replace(
            Some(path("emails")),
            json!([{"value": "only@example.com"}]),
        )],
    );
    assert_eq!(doc["emails"], json!([{"value": "only@example.com"}]));
}

#[test]
fn replace_with_a_value_filter_and_sub_attribute() {
    let op = replace(
        Some(vpath("emails", eq("type", "WORK"), Some("value"))),
        json!("new@example.com"),
    );
    let doc = run(&user(), &[op]);
    assert_eq!(
        doc["emails"],
        json!([{"value": "new@example.com", "type": "work", "primary": true}])
    );
}

#[test]
fn replace_with_a_value_filter_replaces_whole_values() {
    let op = replace(
        Some(vpath("emails", eq("type", "work"), None)),
        json!({"value": "w@example.com", "type": "work"}),
    );
    let doc = run(&user(), &[op]);
    assert_eq!(
        doc["emails"],
        json!([{"value": "w@example.com", "type": "work"}])
    );
}

#[test]
fn add_with_a_value_filter_merges_into_matching_values() {
    let op = add(
        Some(vpath("emails", eq("type", "work"), None)),
        json!({"display": "Work"}),
    );
    let doc = run(&user(), &[op]);
    assert_eq!(doc["emails"][0]["display"], "Work");
    assert_eq!(doc["emails"][0]["value"], "bjensen@example.com");
}

#[test]
fn filters_on_primary_and_compound_filters() {
    let primary = cmp("primary", CompareOp::Eq, Literal::Bool(true));
    let doc = run(
        &user(),
        &[replace(
            Some(vpath("emails", primary, Some("value"))),
            json!("p@example.com"),
        )],
    );
    assert_eq!(doc["emails"][0]["value"], "p@example.com");
    let both = Filter::And(vec![
        eq("type", "work"),
        cmp(
            "value",
            CompareOp::Ew,
            Literal::String("@EXAMPLE.COM".into()),
        ),
    ]);
    let doc = run(
        &user(),
        &[replace(
            Some(vpath("emails", both, Some("display"))),
            json!("W"),
        )],
    );
    assert_eq!(doc["emails"][0]["display"], "W");
}

#[test]
fn entra_add_through_a_filter_creates_the_missing_value() {
    let op = add(
        Some(vpath("emails", eq("type", "work"), Some("value"))),
        json!("x@y"),
    );
    let doc = run(&bare_user(), std::slice::from_ref(&op));
    assert_eq!(doc["emails"], json!([{"type": "work", "value": "x@y"}]));
    // Strict mode follows RFC 7644: no match is noTarget.
    assert_eq!(
        error_type(run_as(Kind::User, &bare_user(), &[op], true)),
        ScimType::NoTarget
    );
    // Replace does the same, and an `and` of `eq`s seeds every sub-attribute.
    let seeded = Filter::And(vec![
        eq("type", "work"),
        cmp("primary", CompareOp::Eq, Literal::Bool(true)),
    ]);
    let op = replace(
        Some(vpath("phoneNumbers", seeded, Some("value"))),
        json!("555"),
    );
    let doc = run(&bare_user(), &[op]);
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "work", "primary": true, "value": "555"}])
    );
}

#[test]
fn a_filter_that_is_not_a_plain_eq_matching_nothing_is_no_target() {
    let op = replace(
        Some(vpath(
            "emails",
            cmp("type", CompareOp::Co, Literal::String("x".into())),
            Some("value"),
        )),
        json!("v"),
    );
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], false)),
        ScimType::NoTarget
    );
    let op = replace(Some(path("phoneNumbers.value")), json!("555"));
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], false)),
        ScimType::NoTarget
    );
}

#[test]
fn a_sub_attribute_path_on_a_multi_valued_attribute_applies_to_every_value() {
    let doc = json!({"schemas": [urn::USER], "userName": "b", "emails": [{"value": "a"}, {"value": "b", "type": "home"}]});
    let doc = run(&doc, &[replace(Some(path("emails.type")), json!("other"))]);
    assert_eq!(
        doc["emails"],
        json!([{"value": "a", "type": "other"}, {"value": "b", "type": "other"}])
    );
    let doc = run(&doc, &[remove(Some(path("emails.type")))]);
    assert_eq!(doc["emails"], json!([{"value": "a"}, {"value": "b"}]));
}

#[test]
fn entra_manager_as_a_bare_string() {
    let op = replace(
        Some(path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        )),
        json!("boss-id"),
    );
    let doc = run(&user(), std::slice::from_ref(&op));
    assert_eq!(doc[ENT], json!({"manager": {"value": "boss-id"}}));
    assert_eq!(doc["schemas"], json!([urn::USER, ENT]));
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], true)),
        ScimType::InvalidValue
    );
    // Replace merges: the manager's other sub-attributes stay.
    let doc = run(
        &doc,
        &[
            add(Some(path("manager.$ref")), json!("../Users/boss-id")),
            replace(Some(path("manager")), json!("boss-2")),
        ],
    );
    assert_eq!(
        doc[ENT]["manager"],
        json!({"value": "boss-2", "$ref": "../Users/boss-id"})
    );
}

#[test]
fn unprefixed_extension_attributes_resolve_to_the_extension() {
    let doc = run(&user(), &[add(Some(path("employeeNumber")), json!("42"))]);
    assert_eq!(doc[ENT], json!({"employeeNumber": "42"}));
}

// ---------------------------------------------------------------- remove

#[test]
fn remove_needs_a_path() {
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[remove(None)], false)),
        ScimType::NoTarget
    );
}

#[test]
fn remove_unassigns_attributes_sub_attributes_and_multi_valued_attributes() {
    let doc = run(
        &user(),
        &[remove(Some(path("active"))), remove(Some(path("emails")))],
    );
    assert!(doc.get("active").is_none() && doc.get("emails").is_none());
    let doc = run(&user(), &[remove(Some(path("name.givenName")))]);
    assert_eq!(doc["name"], json!({"familyName": "Jensen"}));
    let doc = run(&doc, &[remove(Some(path("name.familyName")))]);
    assert!(
        doc.get("name").is_none(),
        "an emptied complex attribute is unassigned"
    );
}

#[test]
fn removing_an_unassigned_attribute_is_a_no_op() {
    for strict in [false, true] {
        let doc = run_as(
            Kind::User,
            &user(),
            &[
                remove(Some(path("nickName"))),
                remove(Some(path("name.middleName"))),
            ],
            strict,
        );
        assert_eq!(doc.unwrap(), user());
    }
}

#[test]
fn remove_with_a_value_filter_removes_matching_values() {
    let doc = run(
        &user(),
        &[remove(Some(vpath("emails", eq("type", "work"), None)))],
    );
    assert!(doc.get("emails").is_none(), "no value left: unassigned");
    let doc = run_group(
        &group(),
        &[remove(Some(vpath("members", eq("value", "u1"), None)))],
    );
    assert_eq!(doc["members"], json!([{"value": "u2", "type": "User"}]));
}

#[test]
fn remove_of_a_sub_attribute_through_a_filter_drops_emptied_values() {
    let doc = run(
        &user(),
        &[remove(Some(vpath(
            "emails",
            eq("type", "work"),
            Some("primary"),
        )))],
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "bjensen@example.com", "type": "work"}])
    );
    let doc = json!({"schemas": [urn::USER], "userName": "b", "emails": [{"value": "a"}, {"value": "b", "type": "home"}]});
    let doc = run(
        &doc,
        &[remove(Some(vpath(
            "emails",
            Filter::Present(AttrPath::simple("value")),
            Some("value"),
        )))],
    );
    assert_eq!(doc["emails"], json!([{"type": "home"}]));
}

#[test]
fn remove_with_a_filter_matching_nothing_is_no_target_only_when_strict() {
    let op = remove(Some(vpath("emails", eq("type", "home"), None)));
    assert_eq!(run(&user(), std::slice::from_ref(&op)), user());
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], true)),
        ScimType::NoTarget
    );
}

#[test]
fn entra_removes_members_listed_in_the_value() {
    let op = remove_listed(
        path("members"),
        json!([{"value": "u1"}, {"value": "absent"}]),
    );
    let doc = run_group(&group(), std::slice::from_ref(&op));
    assert_eq!(doc["members"], json!([{"value": "u2", "type": "User"}]));
    // Member ids are caseExact.
    let op = remove_listed(path("members"), json!([{"value": "U1"}]));
    assert_eq!(run_group(&group(), &[op]), group());
    // UnboundID wraps the list in an object named after the attribute.
    let op = remove_listed(path("members"), json!({"members": [{"value": "u2"}]}));
    assert_eq!(
        run_group(&group(), &[op])["members"],
        json!([{"value": "u1", "type": "User"}])
    );
    // Strict mode rejects the list rather than removing every member.
    let op = remove_listed(path("members"), json!([{"value": "u1"}]));
    assert_eq!(
        error_type(run_as(Kind::Group, &group(), &[op], true)),
        ScimType::InvalidSyntax
    );
}

#[test]
fn removing_the_last_extension_attribute_drops_the_extension() {
    let doc = run(&user(), &[add(Some(path("employeeNumber")), json!("42"))]);
    assert_eq!(doc["schemas"], json!([urn::USER, ENT]));
    let doc = run(
        &doc,
        &[remove(Some(path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        )))],
    );
    assert_eq!(doc, user());
}

#[test]
fn remove_of_a_schema_urn_removes_all_its_attributes() {
    let mut doc = user();
    doc["schemas"] = json!([urn::USER, ENT]);
    doc[ENT] = json!({"employeeNumber": "1", "department": "x"});
    let ops = parse_request(&body(json!([{"op": "remove", "path": ENT}])), true).unwrap();
    assert_eq!(run_as(Kind::User, &doc, &ops, true).unwrap(), user());
}

// ---------------------------------------------------------------- groups

#[test]
fn adding_a_present_member_is_a_no_op() {
    let op = add(Some(path("members")), json!([{"value": "u1"}]));
    assert_eq!(run_group(&group(), &[op]), group());
    let op = add(
        Some(path("members")),
        json!([{"value": "u3", "display": "Carol"}]),
    );
    let doc = run_group(&group(), &[op]);
    assert_eq!(
        doc["members"][2],
        json!({"value": "u3", "display": "Carol"})
    );
    // The same member with another display name is still the same member.
    let op = add(
        Some(path("members")),
        json!([{"value": "u3", "display": "C."}]),
    );
    assert_eq!(run_group(&doc, &[op]), doc);
}

#[test]
fn okta_replaces_all_members() {
    let op = replace(
        Some(path("members")),
        json!([{"value": "u9", "display": "Zed"}]),
    );
    assert_eq!(
        run_group(&group(), &[op])["members"],
        json!([{"value": "u9", "display": "Zed"}])
    );
}

#[test]
fn entra_adds_a_member_with_a_capitalised_op() {
    let b = json!({"schemas": [urn::PATCH_OP], "Operations": [{"op": "Add", "value": {"members": [{"value": "8"}]}}]});
    let doc = patch(Kind::Group, &group(), b, false).unwrap();
    assert_eq!(doc["members"][2], json!({"value": "8"}));
}

// ---------------------------------------------------------------- errors

#[test]
fn unknown_attributes_in_paths_are_invalid_path_in_both_modes() {
    let bad = [
        path("nickname2"),
        path("name.nope"),
        path("userName.sub"),
        path("urn:ietf:params:scim:schemas:extension:other:2.0:User:x"),
        vpath("name", eq("givenName", "x"), None),
        vpath("emails", eq("colour", "x"), None),
        vpath("emails", eq("type", "x"), Some("nope")),
    ];
    for p in bad {
        for strict in [false, true] {
            let r = run_as(
                Kind::User,
                &user(),
                &[replace(Some(p.clone()), json!("x"))],
                strict,
            );
            assert_eq!(error_type(r), ScimType::InvalidPath, "{p:?}");
        }
    }
    let group_only = run_as(
        Kind::User,
        &user(),
        &[add(Some(path("members")), json!([]))],
        false,
    );
    assert_eq!(error_type(group_only), ScimType::InvalidPath);
}

#[test]
fn read_only_attributes_cannot_be_modified() {
    for (p, v) in [
        ("id", json!("x")),
        ("meta.created", json!("2020-01-01T00:00:00Z")),
        ("groups", json!([{"value": "g"}])),
        ("manager.displayName", json!("B")),
    ] {
        for op in [
            add(Some(path(p)), v.clone()),
            replace(Some(path(p)), v.clone()),
            remove(Some(path(p))),
        ] {
            let r = run_as(Kind::User, &user(), &[op], false);
            assert_eq!(error_type(r), ScimType::Mutability, "{p}");
        }
    }
}

#[test]
fn read_only_sub_attributes_in_a_value_are_dropped_unless_strict() {
    let op = add(
        Some(path("manager")),
        json!({"value": "boss", "displayName": "Boss"}),
    );
    assert_eq!(
        run(&user(), std::slice::from_ref(&op))[ENT]["manager"],
        json!({"value": "boss"})
    );
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[op], true)),
        ScimType::Mutability
    );
}

#[test]
fn required_attributes_cannot_be_removed() {
    for op in [
        remove(Some(path("userName"))),
        replace(Some(path("userName")), Value::Null),
        replace(None, json!({"userName": ""})),
    ] {
        let r = run_as(Kind::User, &user(), std::slice::from_ref(&op), false);
        if op.path.is_none() {
            // An empty string is a value, not a removal.
            assert_eq!(r.unwrap()["userName"], "");
        } else {
            assert_eq!(error_type(r), ScimType::Mutability);
        }
    }
    let r = run_as(
        Kind::Group,
        &group(),
        &[remove(Some(path("displayName")))],
        false,
    );
    assert_eq!(error_type(r), ScimType::Mutability);
}

#[test]
fn immutable_sub_attributes_cannot_change_once_set() {
    let ops = [
        replace(
            Some(vpath("members", eq("value", "u1"), Some("value"))),
            json!("u9"),
        ),
        replace(
            Some(vpath("members", eq("value", "u1"), None)),
            json!({"value": "u9"}),
        ),
        remove(Some(vpath("members", eq("value", "u1"), Some("type")))),
    ];
    for op in ops {
        let r = run_as(Kind::Group, &group(), std::slice::from_ref(&op), false);
        assert_eq!(error_type(r), ScimType::Mutability, "{op:?}");
    }
    // Setting an unset immutable sub-attribute, or to the same value, is fine.
    let doc = json!({"schemas": [urn::GROUP], "displayName": "G", "members": [{"value": "u1"}]});
    let op = add(
        Some(vpath("members", eq("value", "u1"), Some("type"))),
        json!("User"),
    );
    assert_eq!(
        run_group(&doc, &[op])["members"],
        json!([{"value": "u1", "type": "User"}])
    );
    let op = replace(
        Some(vpath("members", eq("value", "u1"), Some("value"))),
        json!("u1"),
    );
    assert_eq!(run_group(&group(), &[op]), group());
}

#[test]
fn passwords_are_accepted_and_never_stored() {
    for op in [
        replace(Some(path("password")), json!("s3cret")),
        add(None, json!({"password": "s3cret"})),
        remove(Some(path("password"))),
    ] {
        for strict in [false, true] {
            assert_eq!(
                run_as(Kind::User, &user(), std::slice::from_ref(&op), strict).unwrap(),
                user()
            );
        }
    }
    let wrong = replace(Some(path("password")), json!(12));
    assert_eq!(
        error_type(run_as(Kind::User, &user(), &[wrong], false)),
        ScimType::InvalidValue
    );
}

// ---------------------------------------------------------------- atomicity and stability

#[test]
fn a_failing_operation_leaves_the_document_byte_identical() {
    let mut doc = user();
    let before = serde_json::to_string(&doc).unwrap();
    let ops = [
        replace(Some(path("nickName")), json!("B")),
        add(Some(path("employeeNumber")), json!("1")),
        remove(Some(path("name"))),
        replace(Some(path("active")), json!("nope")),
    ];
    assert!(apply(&mut doc, &ops, registry(), Kind::User, false).is_err());
    assert_eq!(serde_json::to_string(&doc).unwrap(), before);
}

#[test]
fn operations_apply_in_order() {
    let ops = [
        add(Some(path("nickName")), json!("A")),
        replace(Some(path("nickName")), json!("B")),
        remove(Some(path("title"))),
        add(Some(path("title")), json!("T")),
    ];
    let doc = run(&user(), &ops);
    assert_eq!(
        (doc["nickName"].as_str(), doc["title"].as_str()),
        (Some("B"), Some("T"))
    );
}

#[test]
fn key_order_is_kept_and_a_no_op_changes_nothing() {
    let doc = user();
    let changed = run(&doc, &[replace(Some(path("userName")), json!("babs"))]);
    let keys: Vec<&String> = changed.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["schemas", "userName", "name", "active", "emails"]);
    let same = run(
        &doc,
        &[
            replace(Some(path("userName")), json!("bjensen")),
            replace(Some(path("active")), json!("true")),
        ],
    );
    assert_eq!(
        serde_json::to_string(&same).unwrap(),
        serde_json::to_string(&doc).unwrap()
    );
}

#[test]
fn a_document_that_is_not_an_object_is_an_internal_error() {
    let mut doc = json!([]);
    let err = apply(&mut doc, &[], registry(), Kind::User, false).unwrap_err();
    assert!(matches!(err, Error::Bug(_)), "{err:?}");
}

// ---------------------------------------------------------------- whole requests, as IdPs send them

#[test]
fn entra_user_requests() {
    // Disable, with a capitalised op and a boolean as a string.
    let b = body(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    assert_eq!(
        patch(Kind::User, &user(), b.clone(), false).unwrap()["active"],
        false
    );
    assert_eq!(
        error_type(patch(Kind::User, &user(), b, true)),
        ScimType::InvalidSyntax
    );
    // Add attributes (verbose): value paths on a user that has none of them yet.
    let b = body(json!([
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y"},
        {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "True"},
        {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
        {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "7"},
        {"op": "Add", "path": "nickName", "value": "Babs"}
    ]));
    let doc = patch(Kind::User, &bare_user(), b, false).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [urn::USER, ENT],
            "userName": "bjensen",
            "emails": [{"type": "work", "value": "x@y", "primary": true}],
            "addresses": [{"type": "work", "locality": "Redmond", "postalCode": "98052"}],
            ENT: {"employeeNumber": "7"},
            "nickName": "Babs"
        })
    );
    // Replace attributes (verbose), on the same value paths.
    let b = body(json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "z@y"},
        {"op": "Replace", "path": "name.givenName", "value": "Z"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"}
    ]));
    let doc = patch(Kind::User, &doc, b, false).unwrap();
    assert_eq!(doc["emails"][0]["value"], "z@y");
    assert_eq!(doc["name"], json!({"givenName": "Z"}));
    assert_eq!(doc["addresses"][0]["locality"], "Seattle");
}

#[test]
fn entra_path_less_replace_with_value_path_and_urn_keys() {
    let b = body(json!([{"op": "replace", "value": {
        "displayName": "Babs J",
        "name.familyName": "J",
        "emails[type eq \"work\"].value": "n@example.com",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tours"
    }}]));
    let doc = patch(Kind::User, &user(), b, true).unwrap();
    assert_eq!(doc["displayName"], "Babs J");
    assert_eq!(doc["name"]["familyName"], "J");
    assert_eq!(doc["emails"][0]["value"], "n@example.com");
    assert_eq!(doc[ENT]["department"], "Tours");
}

#[test]
fn entra_manager_add_replace_remove() {
    let mgr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let added = patch(
        Kind::User,
        &user(),
        body(json!([{"op": "Add", "path": mgr, "value": "271"}])),
        false,
    )
    .unwrap();
    assert_eq!(added[ENT]["manager"], json!({"value": "271"}));
    let replaced = patch(
        Kind::User,
        &added,
        body(json!([{"op": "replace", "path": mgr, "value": "boss-id"}])),
        false,
    )
    .unwrap();
    assert_eq!(replaced[ENT]["manager"], json!({"value": "boss-id"}));
    let removed = patch(
        Kind::User,
        &replaced,
        body(json!([{"op": "Remove", "path": mgr, "value": [{"value": "boss-id"}]}])),
        false,
    )
    .unwrap();
    assert_eq!(removed, user());
}

#[test]
fn entra_group_requests() {
    let b = body(json!([{"op": "Add", "path": "members", "value": [{"value": "u3"}]}]));
    assert_eq!(
        patch(Kind::Group, &group(), b, false).unwrap()["members"][2],
        json!({"value": "u3"})
    );
    let b = body(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
    assert_eq!(
        patch(Kind::Group, &group(), b, false).unwrap()["members"],
        json!([{"value": "u2", "type": "User"}])
    );
    let b = body(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]));
    assert_eq!(
        patch(Kind::Group, &group(), b, true).unwrap()["members"],
        json!([{"value": "u1", "type": "User"}])
    );
}

#[test]
fn okta_group_membership_in_one_request() {
    let b = body(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u3", "display": "Carol"}]}
    ]));
    let doc = patch(Kind::Group, &group(), b, true).unwrap();
    assert_eq!(
        doc["members"],
        json!([{"value": "u2", "type": "User"}, {"value": "u3", "display": "Carol"}])
    );
}

#[test]
fn value_paths_in_requests() {
    let b =
        body(json!([{"op": "replace", "path": "emails[primary eq true].value", "value": "p@x"}]));
    assert_eq!(
        patch(Kind::User, &user(), b, true).unwrap()["emails"][0]["value"],
        "p@x"
    );
    let b = body(json!([{"op": "replace",
        "path": "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\" and value ew \"EXAMPLE.COM\"].display",
        "value": "Work"}]));
    assert_eq!(
        patch(Kind::User, &user(), b, true).unwrap()["emails"][0]["display"],
        "Work"
    );
    let b =
        body(json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"}]));
    assert_eq!(
        error_type(patch(Kind::User, &user(), b, true)),
        ScimType::NoTarget
    );
}

#[test]
fn bad_paths_in_requests_are_invalid_path() {
    for p in [
        "emails[type eq]",
        "emails[type eq \"work\"",
        "nickName[value eq \"x\"]",
        "emails[colour eq \"x\"]",
        "emails[primary eq \"yes\"]",
        "emails[type eq \"work\"].colour",
        "name.givenName.first",
        "favouriteColour",
    ] {
        for strict in [false, true] {
            let b = body(json!([{"op": "replace", "path": p, "value": "x"}]));
            assert_eq!(
                error_type(patch(Kind::User, &user(), b, strict)),
                ScimType::InvalidPath,
                "{p}"
            );
        }
    }
}

#[test]
fn onelogin_legacy_schema_urns_in_paths_and_value_keys() {
    // onelogin-protocol.md OL1: `urn:scim:schemas:extension:enterprise:2.0` stands for the RFC's URN.
    let by_path = body(json!([{"op": "replace",
        "path": "urn:scim:schemas:extension:enterprise:2.0:department", "value": "Sales"}]));
    let out = patch(Kind::User, &bare_user(), by_path.clone(), false).unwrap();
    assert_eq!(out[ENT]["department"], "Sales");
    assert!(out["schemas"].as_array().unwrap().contains(&json!(ENT)));
    let by_key = body(json!([{"op": "add",
        "value": {"urn:scim:schemas:extension:enterprise:2.0": {"costCenter": "42"}}}]));
    let out = patch(Kind::User, &bare_user(), by_key.clone(), false).unwrap();
    assert_eq!(out[ENT]["costCenter"], "42");
    let core =
        body(json!([{"op": "replace", "path": "urn:scim:schemas:core:2.0:title", "value": "X"}]));
    assert_eq!(
        patch(Kind::User, &bare_user(), core, false).unwrap()["title"],
        "X"
    );
    assert_eq!(
        error_type(patch(Kind::User, &bare_user(), by_path, true)),
        ScimType::InvalidPath
    );
    assert_eq!(
        error_type(patch(Kind::User, &bare_user(), by_key, true)),
        ScimType::InvalidSyntax
    );
}
