//! Fuzz targets: one function per target, each taking raw bytes and checking invariants with
//! assertions. They panic only on a real bug; any input that does not parse is simply dropped.
//! (Over 600 lines: the four targets share the generators and invariant checks below, and none
//! of it is compiled into the server: tests and the `fuzzing` feature only.)
//!
//! The same functions run three ways (see `docs/fuzzing.md`):
//! - under libFuzzer, from the cargo-fuzz crate in `fuzz/` beside this crate (`cargo fuzz run <target>`);
//! - in `cargo test`, which replays every file of the saved corpus `fuzz/corpus/<target>/`;
//! - in `cargo test`, from a few hundred proptest cases of random bytes and token soups.
//!
//! | target | input | invariants |
//! | --- | --- | --- |
//! | [`filter`] | filter text | printed form parses back to the same tree; `validate` and `matches` never panic; `not` negates |
//! | [`path`] | PATCH path or attribute path | printed form parses back; projections keep `id`, only narrow and are idempotent |
//! | [`patch`] | PatchOp JSON body | errors are client errors and leave the document untouched; results are canonical and round-trip through `from_request`; strict success implies the same tolerant success |
//! | [`resource`] | POST/PUT JSON body | results are canonical, accepted again unchanged (idempotent), strictly too; strict success implies the same tolerant success |

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::filter::{
    matches, parse_attr_path, parse_filter, parse_path, validate, AttrPath, Filter, MAX_LEN,
};
use super::patch::{apply, parse_request};
use super::resource::{self, coerce, from_request, render, Meta, Projection};
use super::schema::{Attribute, Kind, Mutability, Registry};
use super::urn;
use crate::error::Error;

const KINDS: [Kind; 2] = [Kind::User, Kind::Group];

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::builtin)
}

/// A PUT body of a user as Entra or Okta would send it, with the enterprise extension.
fn user_body() -> Value {
    json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "externalId": "00u1a2b3c4d5e6f7g8h9",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
        ],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "primary": true
        }],
        "roles": [{"value": "admin", "display": "Administrator"}],
        urn::ENTERPRISE_USER: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

/// A group with a user member and a group member.
fn group_body() -> Value {
    json!({
        "schemas": [urn::GROUP],
        "externalId": "grp-0001",
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "type": "User", "display": "Babs Jensen"},
            {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "type": "Group"}
        ]
    })
}

/// The documents PATCH requests are applied to: canonical forms (as stored) of a full user, a
/// user with nothing but its name (where Entra's value-path `add` creates values) and a group.
fn patch_targets() -> &'static [(Kind, Value)] {
    static DOCS: OnceLock<Vec<(Kind, Value)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let canonical = |kind, body: Value| {
            let doc = from_request(registry(), kind, &body, true)
                .unwrap_or_else(|e| panic!("sample {} is invalid: {e}", kind.name()));
            (kind, doc)
        };
        vec![
            canonical(Kind::User, user_body()),
            canonical(
                Kind::User,
                json!({"schemas": [urn::USER], "userName": "bare"}),
            ),
            canonical(Kind::Group, group_body()),
        ]
    })
}

/// The full representations (`id`, `meta`, `groups`) a client sees, which filters run against.
fn rendered(kind: Kind) -> &'static Value {
    static DOCS: OnceLock<(Value, Value)> = OnceLock::new();
    let (user, group) = DOCS.get_or_init(|| {
        let meta = Meta {
            created: "2011-08-01T18:29:49.793Z".into(),
            last_modified: "2011-08-01T20:31:02+02:00".into(),
            version: 3,
        };
        let targets = patch_targets();
        let user = render(
            registry(),
            Kind::User,
            "2819c223-7f76-453a-919d-413861904646",
            targets[0].1.clone(),
            &meta,
            Some(json!([{
                "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides",
                "type": "direct"
            }])),
            "https://scim.example.com/scim/v2",
        );
        let group = render(
            registry(),
            Kind::Group,
            "e9e30dba-f08f-4109-8486-d5c6a331660a",
            targets[2].1.clone(),
            &meta,
            None,
            "https://scim.example.com/scim/v2",
        );
        (user, group)
    });
    match kind {
        Kind::User => user,
        Kind::Group => group,
    }
}

/// Errors on client input are client errors (4xx), never internal faults.
fn assert_client_error(err: &Error, what: &dyn std::fmt::Display) {
    assert!(
        err.is_client_error(),
        "{what}: a client input gave an internal error: {err:?}"
    );
}

/// Asserts the canonical form of `resource.rs`: an object whose `schemas` lists the core schema
/// and exactly the extensions present; every key spelled as in its schema; no `readOnly` or
/// `writeOnly` attribute; every value already canonical (strict coercion leaves it as it is, so
/// no `null`, no empty array or object, the schema's types and sub-attribute spellings).
fn assert_canonical(kind: Kind, doc: &Value, what: &dyn std::fmt::Display) {
    let registry = registry();
    let Value::Object(fields) = doc else {
        panic!("{what}: not an object: {doc}");
    };
    let listed: Vec<&str> = match fields.get("schemas") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        other => panic!("{what}: 'schemas' is {other:?} in {doc}"),
    };
    let core = registry.core(kind);
    assert!(
        listed.contains(&core.id.as_str()),
        "{what}: 'schemas' lacks the core schema in {doc}"
    );
    for ext in registry.extensions(kind) {
        assert_eq!(
            fields.contains_key(&ext.id),
            listed.contains(&ext.id.as_str()),
            "{what}: {} listed in 'schemas' but absent, or present but not listed, in {doc}",
            ext.id
        );
    }
    for (key, value) in fields {
        if key == "schemas" {
            continue;
        }
        if let Some(ext) = registry.extensions(kind).find(|s| s.id == *key) {
            let Value::Object(inner) = value else {
                panic!("{what}: extension {key} is not an object in {doc}");
            };
            assert!(!inner.is_empty(), "{what}: empty extension {key} in {doc}");
            for (name, v) in inner {
                let attr = ext
                    .attribute(name)
                    .filter(|a| a.name == *name)
                    .unwrap_or_else(|| panic!("{what}: {key}:{name} is not in the schema: {doc}"));
                assert_canonical_value(attr, v, what, doc);
            }
            continue;
        }
        let resolved = registry
            .resolve(kind, &AttrPath::simple(key))
            .filter(|r| !r.extension && r.attribute.name == *key)
            .unwrap_or_else(|| panic!("{what}: {key:?} is no core attribute as spelled: {doc}"));
        assert_canonical_value(resolved.attribute, value, what, doc);
    }
}

fn assert_canonical_value(
    attr: &Attribute,
    value: &Value,
    what: &dyn std::fmt::Display,
    doc: &Value,
) {
    assert!(
        !matches!(
            attr.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ),
        "{what}: {} is {:?} but stored: {doc}",
        attr.name,
        attr.mutability
    );
    match coerce(attr, value, true) {
        Ok(Some(v)) if v == *value => {}
        other => panic!(
            "{what}: {} = {value} is not canonical (strict coercion gives {other:?}) in {doc}",
            attr.name
        ),
    }
    // Read-only sub-attributes (a manager's `displayName`) belong to the server, never the client.
    let elements: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for (name, _) in elements.iter().filter_map(|e| e.as_object()).flatten() {
        if let Some(sub) = attr.sub(name) {
            assert!(
                !matches!(sub.mutability, Mutability::ReadOnly | Mutability::WriteOnly),
                "{what}: {}.{name} is {:?} but stored: {doc}",
                attr.name,
                sub.mutability
            );
        }
    }
}

/// Filter text: parses, prints, parses back to the same tree; validates and evaluates (against a
/// user and a group) without panicking; `not` negates and the printed filter evaluates the same.
pub fn filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = match parse_filter(&text) {
        Ok(f) => f,
        Err(e) => {
            assert_client_error(&e, &"parse_filter");
            return;
        }
    };
    let printed = parsed.to_string();
    // A printed filter may be longer than the input (`not(x pr)` prints as `not (x pr)`), so
    // one past the length limit can no longer be parsed: that is the limit, not a bug.
    if printed.len() <= MAX_LEN {
        match parse_filter(&printed) {
            Ok(again) => assert_eq!(again, parsed, "{text:?} printed as {printed:?}"),
            Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
        }
    }
    let negated = Filter::Not(Box::new(parsed.clone()));
    for kind in KINDS {
        let registry = registry();
        let resource = rendered(kind);
        // An invalid filter is answered with 400 before evaluation, but evaluating it must not
        // panic either: it simply matches nothing it cannot resolve.
        let valid = match validate(&parsed, registry, kind) {
            Ok(()) => true,
            Err(e) => {
                assert_client_error(&e, &"validate");
                false
            }
        };
        let hit = matches(&parsed, resource, registry, kind);
        assert_eq!(
            matches(&negated, resource, registry, kind),
            !hit,
            "not ({printed}) on a {}",
            kind.name()
        );
        if valid && printed.len() <= MAX_LEN {
            if let Ok(again) = parse_filter(&printed) {
                assert_eq!(matches(&again, resource, registry, kind), hit, "{printed}");
            }
        }
    }
}

/// PATCH paths and attribute paths: both parse and print back; an attribute path used as
/// `attributes` or `excludedAttributes` keeps `id` and `schemas`, only removes, and is idempotent.
pub fn path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_path(&text) {
        Ok(p) => {
            let printed = p.to_string();
            if printed.len() <= MAX_LEN {
                match parse_path(&printed) {
                    Ok(again) => assert_eq!(again, p, "{text:?} printed as {printed:?}"),
                    Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
                }
            }
        }
        Err(e) => assert_client_error(&e, &"parse_path"),
    }
    match parse_attr_path(&text) {
        Ok(p) => {
            let printed = p.to_string();
            let again = parse_attr_path(&printed)
                .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
            assert_eq!(again, p, "{text:?} printed as {printed:?}");
        }
        Err(e) => assert_client_error(&e, &"parse_attr_path"),
    }
    let list = [text.into_owned()];
    for kind in KINDS {
        for (attributes, excluded) in [(&list[..], &[][..]), (&[][..], &list[..])] {
            let projection = match Projection::parse(registry(), kind, attributes, excluded) {
                Ok(p) => p,
                Err(e) => {
                    assert_client_error(&e, &"Projection::parse");
                    continue;
                }
            };
            let full = rendered(kind).clone();
            let once = projection.apply(registry(), kind, full.clone());
            for key in ["schemas", "id"] {
                assert_eq!(once.get(key), full.get(key), "{list:?} dropped {key}");
            }
            if let Value::Object(kept) = &once {
                for key in kept.keys() {
                    assert!(full.get(key).is_some(), "{list:?} added {key}: {once}");
                }
            }
            let twice = projection.apply(registry(), kind, once.clone());
            assert_eq!(twice, once, "{list:?} is not idempotent");
        }
    }
}

/// PatchOp bodies, strict and tolerant, applied to each sample document.
pub fn patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let parsed = [true, false].map(|strict| {
        let ops = parse_request(&body, strict);
        if let Err(e) = &ops {
            assert_client_error(e, &format_args!("parse_request (strict: {strict})"));
        }
        (strict, ops)
    });
    if let (Ok(strict_ops), tolerant) = (&parsed[0].1, &parsed[1].1) {
        match tolerant {
            Ok(ops) => assert_eq!(ops, strict_ops, "tolerant parsing differs from strict"),
            Err(e) => panic!("strict parsing accepts what tolerant parsing rejects: {e}"),
        }
    }
    for (kind, original) in patch_targets() {
        let mut results = Vec::new();
        for (strict, ops) in &parsed {
            let Ok(ops) = ops else { continue };
            let what = format_args!("PATCH of a {} (strict: {strict})", kind.name()).to_string();
            let mut doc = original.clone();
            let result = apply(&mut doc, ops, registry(), *kind, *strict);
            match &result {
                Err(e) => {
                    assert_client_error(e, &what);
                    assert_eq!(
                        &doc, original,
                        "{what} failed with {e} but changed the document"
                    );
                }
                Ok(()) => {
                    assert_canonical(*kind, &doc, &what);
                    // The service checks required attributes after applying; what passes is
                    // stored, and a client may PUT back what it GETs.
                    if resource::check_required(registry(), *kind, &doc).is_ok() {
                        for strict in [true, false] {
                            match from_request(registry(), *kind, &doc, strict) {
                                Ok(again) => assert_eq!(
                                    again, doc,
                                    "{what}: the result changes when sent back (strict: {strict})"
                                ),
                                Err(e) => panic!(
                                    "{what}: the result is refused when sent back (strict: {strict}): {e}\n{doc}"
                                ),
                            }
                        }
                    }
                }
            }
            results.push((strict, result.map(|()| doc)));
        }
        // What strict mode accepts, tolerant mode accepts with the same outcome.
        if let (Ok(ops), [(true, Ok(strict_doc)), ..]) = (&parsed[0].1, results.as_slice()) {
            let mut doc = original.clone();
            match apply(&mut doc, ops, registry(), *kind, false) {
                Ok(()) => assert_eq!(
                    &doc,
                    strict_doc,
                    "PATCH of a {}: tolerant result differs from strict",
                    kind.name()
                ),
                Err(e) => panic!(
                    "PATCH of a {}: strict mode succeeds, tolerant mode fails: {e}",
                    kind.name()
                ),
            }
        }
    }
}

/// POST/PUT bodies for users and groups, strict and tolerant.
pub fn resource(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for kind in KINDS {
        let results = [true, false].map(|strict| {
            let what = format!("from_request of a {} (strict: {strict})", kind.name());
            let result = from_request(registry(), kind, &body, strict);
            match &result {
                Err(e) => assert_client_error(e, &what),
                Ok(doc) => {
                    assert_canonical(kind, doc, &what);
                    for again_strict in [true, false] {
                        match from_request(registry(), kind, doc, again_strict) {
                            Ok(again) => assert_eq!(
                                &again, doc,
                                "{what}: not idempotent (strict: {again_strict})"
                            ),
                            Err(e) => panic!(
                                "{what}: its own output is refused (strict: {again_strict}): {e}\n{doc}"
                            ),
                        }
                    }
                    // What a client then sees: rendering and the default projection keep `id`.
                    let meta = Meta {
                        created: "2024-01-01T00:00:00Z".into(),
                        last_modified: "2024-01-01T00:00:00Z".into(),
                        version: 1,
                    };
                    let full = render(registry(), kind, "id-1", doc.clone(), &meta, None, "http://x");
                    let shown = Projection::default().apply(registry(), kind, full);
                    assert_eq!(shown.get("id"), Some(&json!("id-1")), "{what}: {shown}");
                }
            }
            result
        });
        if let [Ok(strict), tolerant] = &results {
            match tolerant {
                Ok(doc) => assert_eq!(
                    doc,
                    strict,
                    "from_request of a {}: tolerant result differs from strict",
                    kind.name()
                ),
                Err(e) => panic!(
                    "from_request of a {}: strict mode accepts, tolerant mode refuses: {e}",
                    kind.name()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Stable-toolchain runs of the targets: the saved corpus replayed, and a few hundred random
    //! inputs each (raw bytes, token soups for the grammars, SCIM-flavoured JSON for the bodies).

    #![allow(clippy::unwrap_used)]

    use std::path::PathBuf;

    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::{Map, Value};

    use super::urn;

    /// Runs `target` on every file of `fuzz/corpus/<name>/` (beside this crate's manifest); the folder must not be empty.
    fn replay(name: &str, target: fn(&[u8])) {
        let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "corpus", name]
            .iter()
            .collect();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no input", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            // Name the input before running it, so a panic says which file it was.
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(
                outcome.is_ok(),
                "{} fails the {name} target",
                file.display()
            );
        }
    }

    #[test]
    fn filter_corpus_replays() {
        replay("filter", super::filter);
    }

    #[test]
    fn path_corpus_replays() {
        replay("path", super::path);
    }

    #[test]
    fn patch_corpus_replays() {
        replay("patch", super::patch);
    }

    #[test]
    fn resource_corpus_replays() {
        replay("resource", super::resource);
    }

    /// Grammar tokens of filters and paths, with names of real attributes.
    const TOKENS: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"work\"",
        "\"a b\"",
        "\"\\u00e9\"",
        "\\",
        "not",
        "NOT",
        "and",
        "or",
        "Or",
        "pr",
        "eq",
        "ne",
        "co",
        "sw",
        "ew",
        "gt",
        "ge",
        "lt",
        "le",
        "true",
        "false",
        "null",
        "0",
        "-1",
        "1.5e3",
        "\"2011-05-13T04:42:34Z\"",
        "userName",
        "emails",
        "type",
        "value",
        "primary",
        "members",
        "display",
        "name.givenName",
        "meta.lastModified",
        "groups",
        "id",
        "externalId",
        "active",
        "$ref",
        ".",
        ":",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
        "manager",
        "employeeNumber",
        "\t",
        "é",
        ",",
    ];

    fn token_soup() -> impl Strategy<Value = String> {
        vec((select(TOKENS), any::<bool>()), 0..24).prop_map(|tokens| {
            tokens
                .into_iter()
                .map(|(t, space)| {
                    if space {
                        format!("{t} ")
                    } else {
                        t.to_string()
                    }
                })
                .collect()
        })
    }

    /// Member names and string values of SCIM bodies.
    const WORDS: &[&str] = &[
        "schemas",
        "Operations",
        "operations",
        "op",
        "Op",
        "path",
        "value",
        "add",
        "Add",
        "remove",
        "replace",
        "Replace",
        "delete",
        "operation",
        "userName",
        "name",
        "givenName",
        "familyName",
        "name.givenName",
        "displayName",
        "active",
        "True",
        "False",
        "emails",
        "type",
        "work",
        "primary",
        "emails[type eq \"work\"].value",
        "emails[type eq \"work\"]",
        "members",
        "members[value eq \"u1\"]",
        "u1",
        "User",
        "id",
        "meta",
        "password",
        "externalId",
        "groups",
        "phoneNumbers",
        "addresses",
        "roles",
        "manager",
        "employeeNumber",
        "department",
        "2011-05-13T04:42:34Z",
        "",
        urn::USER,
        urn::GROUP,
        urn::ENTERPRISE_USER,
        urn::PATCH_OP,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        "urn:scim:schemas:core:1.0",
    ];

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![4 => select(WORDS).prop_map(String::from), 1 => "[a-zA-Z.:\\[\\] \"]{0,12}"]
    }

    /// JSON built from SCIM words: the shapes the body parsers walk, at random.
    fn scim_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            word().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                btree_map(word(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// PatchOp bodies: operations with words for `op` and `path` and random values.
    fn patch_body() -> impl Strategy<Value = Value> {
        let operation = (
            word(),
            proptest::option::of(word()),
            proptest::option::of(scim_json()),
        )
            .prop_map(|(op, path, value)| {
                let mut o = Map::new();
                o.insert("op".into(), Value::String(op));
                if let Some(path) = path {
                    o.insert("path".into(), Value::String(path));
                }
                if let Some(value) = value {
                    o.insert("value".into(), value);
                }
                Value::Object(o)
            });
        prop_oneof![
            1 => scim_json(),
            3 => vec(operation, 1..4).prop_map(|ops| {
                serde_json::json!({"schemas": [urn::PATCH_OP], "Operations": ops})
            }),
        ]
    }

    /// Resource bodies: a name the schemas require plus random members.
    fn resource_body() -> impl Strategy<Value = Value> {
        (btree_map(word(), scim_json(), 0..6), any::<bool>()).prop_map(|(members, user)| {
            let mut body = Map::new();
            if user {
                body.insert("schemas".into(), serde_json::json!([urn::USER]));
                body.insert("userName".into(), "bjensen".into());
            } else {
                body.insert("schemas".into(), serde_json::json!([urn::GROUP]));
                body.insert("displayName".into(), "Tour Guides".into());
            }
            body.extend(members);
            Value::Object(body)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn filter_takes_random_bytes(data in vec(any::<u8>(), 0..256)) {
            super::filter(&data);
        }

        #[test]
        fn filter_takes_token_soups(text in token_soup()) {
            super::filter(text.as_bytes());
        }

        #[test]
        fn path_takes_random_bytes(data in vec(any::<u8>(), 0..256)) {
            super::path(&data);
        }

        #[test]
        fn path_takes_token_soups(text in token_soup()) {
            super::path(text.as_bytes());
        }

        #[test]
        fn patch_takes_random_bytes(data in vec(any::<u8>(), 0..256)) {
            super::patch(&data);
        }

        #[test]
        fn patch_takes_random_scim_json(body in patch_body()) {
            super::patch(body.to_string().as_bytes());
        }

        #[test]
        fn resource_takes_random_bytes(data in vec(any::<u8>(), 0..256)) {
            super::resource(&data);
        }

        #[test]
        fn resource_takes_random_scim_json(body in resource_body()) {
            super::resource(body.to_string().as_bytes());
        }
    }
}
