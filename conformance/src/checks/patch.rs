//! PATCH (RFC 7644 §3.5.2): add, remove and replace with and without `path`, value-filter paths,
//! complex and multi-valued targets, group members, errors (noTarget, mutability), atomicity,
//! and the answer when PATCH is not advertised.

use reqwest::Method;
use serde_json::{json, Value};

use super::crud::member_ids;
use crate::cx::Cx;
use crate::discovery::{ENTERPRISE_SCHEMA, PATCH_OP, USER_SCHEMA};
use crate::http::Exchange;
use crate::judge::{got, prerequisite, Judge};
use crate::model::CheckDef;

check!(
    RESPONSE,
    "patch.response",
    "RFC 7644 §3.5.2",
    Must,
    "a successful PATCH answers 200 with the entire resource, or 204 with no body",
    ["patch"]
);
check!(
    ATTRS_200,
    "patch.attributes-200",
    "RFC 7644 §3.5.2",
    Must,
    "a PATCH with ?attributes= answers 200 (not 204) with the projected resource",
    ["patch", "projection"]
);
check!(
    REPLACE_PATH,
    "patch.replace-path",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace with a path sets the attribute, and GET shows it",
    ["patch"]
);
check!(
    REPLACE_NO_PATH,
    "patch.replace-no-path",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace without path replaces the attributes of the value object, leaving the others",
    ["patch"]
);
check!(
    REPLACE_COMPLEX,
    "patch.replace-complex-merge",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace of a complex attribute leaves the sub-attributes not given unchanged",
    ["patch"]
);
check!(
    REPLACE_MULTI,
    "patch.replace-multi-valued",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace of a multi-valued attribute without filter replaces all its values",
    ["patch"]
);
check!(
    REPLACE_FILTER,
    "patch.replace-value-filter",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace of `emails[type eq \"work\"].value` changes only the matching value",
    ["patch"]
);
check!(
    REPLACE_NO_MATCH,
    "patch.replace-filter-no-match",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace with a value filter that matches nothing answers 400 noTarget",
    ["patch", "errors"]
);
check!(
    ADD_MULTI,
    "patch.add-multi-valued",
    "RFC 7644 §3.5.2.1",
    Must,
    "add to a multi-valued attribute appends, keeping the existing values",
    ["patch"]
);
check!(
    ADD_NO_PATH,
    "patch.add-no-path",
    "RFC 7644 §3.5.2.1",
    Must,
    "add without path adds the attributes of the value object",
    ["patch"]
);
check!(
    ADD_SAME,
    "patch.add-same-value-unmodified",
    "RFC 7644 §3.5.2.1",
    Must,
    "adding a value already present succeeds and does not change meta.lastModified",
    ["patch"]
);
check!(
    REMOVE,
    "patch.remove-path",
    "RFC 7644 §3.5.2.2",
    Must,
    "remove with a path unassigns the attribute",
    ["patch"]
);
check!(
    REMOVE_FILTER,
    "patch.remove-value-filter",
    "RFC 7644 §3.5.2.2",
    Must,
    "remove of `emails[type eq \"home\"]` removes only the matching value",
    ["patch"]
);
check!(
    REMOVE_NO_PATH,
    "patch.remove-no-path-400",
    "RFC 7644 §3.5.2.2",
    Must,
    "remove without path answers 400 noTarget",
    ["patch", "errors"]
);
check!(
    REMOVE_REQUIRED,
    "patch.remove-required-400",
    "RFC 7644 §3.5.2.2",
    Must,
    "removing a required attribute (userName) answers 400 mutability",
    ["patch", "errors"]
);
check!(READ_ONLY, "patch.read-only-unchanged", "RFC 7644 §3.5.2", Must,
    "a PATCH of a readOnly attribute (id, meta.created) does not change it (400 mutability is the expected answer)", ["patch", "errors"]);
check!(
    MULTI_OPS,
    "patch.multiple-operations",
    "RFC 7644 §3.5.2",
    Must,
    "the operations of one PATCH apply in order (add then replace of the same attribute)",
    ["patch"]
);
check!(
    ATOMIC,
    "patch.atomic",
    "RFC 7644 §3.5.2",
    Must,
    "when one operation fails, the PATCH answers an error and none of its operations is applied",
    ["patch"]
);
check!(
    INVALID_OP,
    "patch.invalid-op-400",
    "RFC 7644 §3.5.2",
    Should,
    "an unknown op answers 400 with a SCIM Error",
    ["patch", "errors"]
);
check!(EXTENSION, "patch.extension-path", "RFC 7644 §3.5.2", Must,
    "replace with a fully qualified extension path (`urn:…:enterprise:2.0:User:employeeNumber`) sets it", ["patch"]);
check!(
    MEMBERS_ADD,
    "patch.members-add",
    "RFC 7644 §3.5.2.1",
    Must,
    "add of members to a Group appends them",
    ["patch", "groups"]
);
check!(
    MEMBERS_REMOVE,
    "patch.members-remove-filter",
    "RFC 7644 §3.5.2.2",
    Must,
    "remove of `members[value eq \"<id>\"]` removes that member only",
    ["patch", "groups"]
);
check!(
    MEMBERS_REPLACE,
    "patch.members-replace",
    "RFC 7644 §3.5.2.3",
    Must,
    "replace of members sets exactly the given members",
    ["patch", "groups"]
);
check!(
    UNADVERTISED,
    "patch.unadvertised-501",
    "RFC 7644 §3.12",
    Should,
    "with patch.supported false, PATCH answers 501 Not Implemented",
    ["patch", "discovery"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    RESPONSE,
    ATTRS_200,
    REPLACE_PATH,
    REPLACE_NO_PATH,
    REPLACE_COMPLEX,
    REPLACE_MULTI,
    REPLACE_FILTER,
    REPLACE_NO_MATCH,
    ADD_MULTI,
    ADD_NO_PATH,
    ADD_SAME,
    REMOVE,
    REMOVE_FILTER,
    REMOVE_NO_PATH,
    REMOVE_REQUIRED,
    READ_ONLY,
    MULTI_OPS,
    ATOMIC,
    INVALID_OP,
    EXTENSION,
    MEMBERS_ADD,
    MEMBERS_REMOVE,
    MEMBERS_REPLACE,
    UNADVERTISED,
];

/// A PatchOp body.
pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The test User: a work and a home email, a name, a title.
fn body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "displayName": "Patch Me",
        "title": "Before",
        "name": {"givenName": "Pat", "familyName": "Cher"},
        "emails": [
            {"value": format!("{user_name}@work.example.com"), "type": "work"},
            {"value": format!("{user_name}@home.example.com"), "type": "home"},
        ],
    })
}

/// Sends a PATCH and reads the resource afterwards: (patch exchange, GET exchange).
async fn apply(cx: &Cx, path: &str, ops: Value) -> (Exchange, Exchange) {
    let ex = cx.send_json(Method::PATCH, path, &patch_op(ops)).await;
    let after = cx.get(path).await;
    (ex, after)
}

/// The PATCH succeeded (200 or 204) and GET answers 200.
fn succeeded(j: &mut Judge, ex: &Exchange, after: &Exchange) -> bool {
    j.status(ex, &[200, 204]) && j.status(after, &[200])
}

fn emails(v: &Value) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = v["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["type"].as_str().unwrap_or_default().to_string(),
                m["value"].as_str().unwrap_or_default().to_ascii_lowercase(),
            )
        })
        .collect();
    e.sort();
    e
}

/// Runs the PATCH checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    if cx.discovered && !cx.disc.features.patch {
        cx.skip_all(&CHECKS[..CHECKS.len() - 1], "patch.supported is false");
        unadvertised(cx, &users).await;
        return;
    }
    cx.skip(&UNADVERTISED, "patch.supported is true");

    let enterprise = cx
        .disc
        .type_with_schema(USER_SCHEMA)
        .is_some_and(|t| t.extensions.iter().any(|(u, _)| u == ENTERPRISE_SCHEMA));

    for def in [
        RESPONSE,
        ATTRS_200,
        REPLACE_PATH,
        REPLACE_NO_PATH,
        REPLACE_COMPLEX,
        REPLACE_MULTI,
        REPLACE_FILTER,
        REPLACE_NO_MATCH,
        ADD_MULTI,
        ADD_NO_PATH,
        ADD_SAME,
        REMOVE,
        REMOVE_FILTER,
        REMOVE_NO_PATH,
        REMOVE_REQUIRED,
        READ_ONLY,
        MULTI_OPS,
        ATOMIC,
        INVALID_OP,
        EXTENSION,
    ] {
        // Each check gets its own User, so that one failure does not spoil the next.
        if !cx.wants(&def) {
            continue;
        }
        if def.id == EXTENSION.id && !enterprise {
            cx.skip(&def, "the User resource type has no enterprise extension");
            continue;
        }
        let name = cx.name("patch");
        let b = body(&name);
        let created = cx.create(&users, &b).await;
        let Some(id) = created.id().filter(|_| created.status == 201) else {
            cx.skip(&def, prerequisite("POST /Users", &created));
            continue;
        };
        let path = format!("{users}/{id}");
        let j = one(cx, def, &path, &created, &name).await;
        cx.record(&def, j);
    }
    members(cx, &users).await;
}

async fn one(cx: &Cx, def: CheckDef, path: &str, created: &Exchange, name: &str) -> Judge {
    let mut j = Judge::new();
    let before = created.body().clone();
    match def.id {
        "patch.response" => {
            let ex = cx
                .send_json(
                    Method::PATCH,
                    path,
                    &patch_op(json!([{"op": "replace", "path": "title", "value": "After"}])),
                )
                .await;
            if j.status(&ex, &[200, 204]) {
                if ex.status == 200 {
                    j.scim_media(&ex);
                    j.that(
                        ex.str("id") == before["id"].as_str() && ex.str("userName").is_some(),
                        || {
                            format!(
                                "PATCH {path}: a 200 must carry the entire resource, got {}",
                                got(&ex)
                            )
                        },
                    );
                    j.that(ex.body()["title"] == json!("After"), || {
                        format!(
                            "PATCH {path}: the 200 shows title {}, expected \"After\"",
                            ex.body()["title"]
                        )
                    });
                } else {
                    j.that(ex.text.is_empty(), || {
                        format!("PATCH {path}: a 204 with a body")
                    });
                }
            }
        }
        "patch.attributes-200" => {
            let ex = cx
                .send_json(
                    Method::PATCH,
                    &format!("{path}?attributes=title"),
                    &patch_op(json!([{"op": "replace", "path": "title", "value": "After"}])),
                )
                .await;
            if j.status(&ex, &[200]) {
                j.that(ex.body()["title"] == json!("After"), || {
                    format!(
                        "PATCH {path}?attributes=title: expected title \"After\", got {}",
                        got(&ex)
                    )
                });
                j.that(ex.body().get("emails").is_none(), || {
                    format!("PATCH {path}?attributes=title: emails returned though not asked for")
                });
            }
        }
        "patch.replace-path" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "replace", "path": "displayName", "value": "Patched"}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                j.that(after.body()["displayName"] == json!("Patched"), || {
                    format!(
                        "GET {path} after replace displayName: {}, expected \"Patched\"",
                        after.body()["displayName"]
                    )
                });
            }
        }
        "patch.replace-no-path" => {
            let (ex, after) = apply(cx, path, json!([{"op": "replace", "value": {"displayName": "No Path", "title": "Replaced"}}])).await;
            if succeeded(&mut j, &ex, &after) {
                let a = after.body();
                j.that(a["displayName"] == json!("No Path") && a["title"] == json!("Replaced"), || {
                    format!("GET {path}: displayName {} title {}, expected \"No Path\" and \"Replaced\"", a["displayName"], a["title"])
                });
                j.that(
                    emails(a) == emails(&before) && a["name"] == before["name"],
                    || {
                        format!(
                            "GET {path}: attributes not in the value object changed: {}",
                            crate::http::one_line(&a.to_string(), 300)
                        )
                    },
                );
            }
        }
        "patch.replace-complex-merge" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "replace", "path": "name", "value": {"givenName": "New"}}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let n = &after.body()["name"];
                j.that(n["givenName"] == json!("New"), || {
                    format!(
                        "GET {path}: name.givenName {}, expected \"New\"",
                        n["givenName"]
                    )
                });
                j.that(n["familyName"] == json!("Cher"), || {
                    format!("GET {path}: name.familyName {} after replacing name with only givenName, expected \"Cher\" (left unchanged)", n["familyName"])
                });
            }
        }
        "patch.replace-multi-valued" => {
            let v = json!([{"value": format!("{name}@only.example.com"), "type": "other"}]);
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "replace", "path": "emails", "value": v}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let want = vec![(
                    "other".to_string(),
                    format!("{name}@only.example.com").to_ascii_lowercase(),
                )];
                j.that(emails(after.body()) == want, || {
                    format!(
                        "GET {path}: emails {:?}, expected {want:?}",
                        emails(after.body())
                    )
                });
            }
        }
        "patch.replace-value-filter" => {
            let (ex, after) = apply(cx, path, json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": format!("{name}@new.example.com")}])).await;
            if succeeded(&mut j, &ex, &after) {
                let mut want = vec![
                    (
                        "home".to_string(),
                        format!("{name}@home.example.com").to_ascii_lowercase(),
                    ),
                    (
                        "work".to_string(),
                        format!("{name}@new.example.com").to_ascii_lowercase(),
                    ),
                ];
                want.sort();
                j.that(emails(after.body()) == want, || {
                    format!(
                        "GET {path}: emails {:?}, expected {want:?}",
                        emails(after.body())
                    )
                });
            }
        }
        "patch.replace-filter-no-match" => {
            let (ex, after) = apply(cx, path, json!([{"op": "replace", "path": "emails[type eq \"conformance\"].value", "value": "x@example.com"}])).await;
            j.scim_error(&ex, &[400], &["noTarget"]);
            j.see(&after);
            j.that(emails(after.body()) == emails(&before), || {
                format!("GET {path}: emails changed by a failed PATCH")
            });
        }
        "patch.add-multi-valued" => {
            let (ex, after) = apply(cx, path, json!([{"op": "add", "path": "emails", "value": [{"value": format!("{name}@third.example.com"), "type": "other"}]}])).await;
            if succeeded(&mut j, &ex, &after) {
                let mut want = emails(&before);
                want.push((
                    "other".to_string(),
                    format!("{name}@third.example.com").to_ascii_lowercase(),
                ));
                want.sort();
                j.that(emails(after.body()) == want, || {
                    format!(
                        "GET {path}: emails {:?}, expected {want:?}",
                        emails(after.body())
                    )
                });
            }
        }
        "patch.add-no-path" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "add", "value": {"nickName": "Nick", "title": "Added"}}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let a = after.body();
                j.that(
                    a["nickName"] == json!("Nick") && a["title"] == json!("Added"),
                    || {
                        format!(
                            "GET {path}: nickName {} title {}, expected \"Nick\" and \"Added\"",
                            a["nickName"], a["title"]
                        )
                    },
                );
                j.that(a["displayName"] == before["displayName"], || {
                    format!("GET {path}: displayName changed")
                });
            }
        }
        "patch.add-same-value-unmodified" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "add", "path": "title", "value": "Before"}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let (b, a) = (
                    &before["meta"]["lastModified"],
                    &after.body()["meta"]["lastModified"],
                );
                j.that(a == b, || format!("GET {path}: meta.lastModified went from {b} to {a} though nothing changed (SHALL NOT)"));
                j.that(after.body()["title"] == json!("Before"), || {
                    format!("GET {path}: title {}", after.body()["title"])
                });
            }
        }
        "patch.remove-path" => {
            let (ex, after) = apply(cx, path, json!([{"op": "remove", "path": "title"}])).await;
            if succeeded(&mut j, &ex, &after) {
                j.that(after.body().get("title").is_none_or(Value::is_null), || {
                    format!("GET {path}: title {} after remove", after.body()["title"])
                });
            }
        }
        "patch.remove-value-filter" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let want = vec![(
                    "work".to_string(),
                    format!("{name}@work.example.com").to_ascii_lowercase(),
                )];
                j.that(emails(after.body()) == want, || {
                    format!(
                        "GET {path}: emails {:?}, expected {want:?}",
                        emails(after.body())
                    )
                });
            }
        }
        "patch.remove-no-path-400" => {
            let (ex, after) = apply(cx, path, json!([{"op": "remove"}])).await;
            j.scim_error(&ex, &[400], &["noTarget"]);
            j.see(&after);
        }
        "patch.remove-required-400" => {
            let (ex, after) = apply(cx, path, json!([{"op": "remove", "path": "userName"}])).await;
            j.scim_error(&ex, &[400], &["mutability"]);
            j.see(&after);
            j.that(after.body()["userName"] == before["userName"], || {
                format!(
                    "GET {path}: userName is {} after a refused remove",
                    after.body()["userName"]
                )
            });
        }
        "patch.read-only-unchanged" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([
                    {"op": "replace", "path": "id", "value": "conformance-new-id"},
                ]),
            )
            .await;
            let (ex2, after2) = apply(
                cx,
                path,
                json!([
                    {"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"},
                ]),
            )
            .await;
            for (e, a) in [(&ex, &after), (&ex2, &after2)] {
                j.see(e);
                j.see(a);
                if e.status == 400 {
                    j.error_body(e, &[]);
                    if e.str("scimType") != Some("mutability") {
                        j.note(format!(
                            "{} {}: 400 with scimType {:?} (mutability expected)",
                            e.method,
                            e.path,
                            e.str("scimType")
                        ));
                    }
                } else {
                    j.note(format!(
                        "accepted with {}: the value must stay unchanged",
                        e.status
                    ));
                }
                j.that(a.body()["id"] == before["id"] && a.body()["meta"]["created"] == before["meta"]["created"], || {
                    format!("GET {path}: id {} meta.created {}: a readOnly attribute was changed by PATCH", a.body()["id"], a.body()["meta"]["created"])
                });
            }
        }
        "patch.multiple-operations" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([
                    {"op": "add", "path": "nickName", "value": "First"},
                    {"op": "replace", "path": "nickName", "value": "Second"},
                    {"op": "replace", "path": "title", "value": "Multi"},
                    {"op": "remove", "path": "emails[type eq \"home\"]"},
                ]),
            )
            .await;
            if succeeded(&mut j, &ex, &after) {
                let a = after.body();
                j.that(a["nickName"] == json!("Second") && a["title"] == json!("Multi") && emails(a).len() == 1, || {
                    format!("GET {path}: nickName {} title {} emails {:?}, expected \"Second\", \"Multi\" and the work email only", a["nickName"], a["title"], emails(a))
                });
            }
        }
        "patch.atomic" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([
                    {"op": "replace", "path": "displayName", "value": "Should Not Stay"},
                    {"op": "add", "path": "nickName", "value": "Nor This"},
                    {"op": "remove", "path": "userName"},
                ]),
            )
            .await;
            j.see(&ex);
            j.that(ex.status >= 400 && ex.status < 500, || format!("PATCH {path}: expected a 4xx for a PATCH whose last operation removes the required userName, got {}", got(&ex)));
            if j.status(&after, &[200]) {
                let a = after.body();
                j.that(a["displayName"] == before["displayName"] && a.get("nickName").is_none_or(Value::is_null), || {
                    format!("GET {path}: displayName {} nickName {} after a failed PATCH: the earlier operations were kept", a["displayName"], a["nickName"])
                });
                j.that(
                    a["meta"]["lastModified"] == before["meta"]["lastModified"],
                    || format!("GET {path}: meta.lastModified changed by a failed PATCH"),
                );
            }
        }
        "patch.invalid-op-400" => {
            let (ex, after) = apply(
                cx,
                path,
                json!([{"op": "frobnicate", "path": "title", "value": "x"}]),
            )
            .await;
            j.scim_error(&ex, &[400], &[]);
            j.see(&after);
            j.that(after.body()["title"] == before["title"], || {
                format!("GET {path}: title changed by an unknown op")
            });
        }
        "patch.extension-path" => {
            let (ex, after) = apply(cx, path, json!([{"op": "replace", "path": format!("{ENTERPRISE_SCHEMA}:employeeNumber"), "value": "E-7"}])).await;
            if succeeded(&mut j, &ex, &after) {
                let v = &after.body()[ENTERPRISE_SCHEMA]["employeeNumber"];
                j.that(v == &json!("E-7"), || {
                    format!(
                        "GET {path}: {ENTERPRISE_SCHEMA}.employeeNumber is {v}, expected \"E-7\""
                    )
                });
            }
        }
        other => j.fail(format!("no such PATCH check: {other}")),
    }
    j
}

async fn members(cx: &mut Cx, _users: &str) {
    let defs = [MEMBERS_ADD, MEMBERS_REMOVE, MEMBERS_REPLACE];
    if !cx.wants_any(&defs) {
        return;
    }
    let Some(groups) = cx.groups() else {
        cx.skip_all(&defs, "the server has no Group resource type");
        return;
    };
    let mut ids = Vec::new();
    for label in ["pm-a", "pm-b", "pm-c"] {
        match cx.new_user(label).await {
            Ok((id, _)) => ids.push(id),
            Err(ex) => {
                cx.skip_all(&defs, &prerequisite("POST /Users", &ex));
                return;
            }
        }
    }
    let (gid, _) = match cx.new_group("pm", &[&ids[0]]).await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip_all(&defs, &prerequisite("POST /Groups with a member", &ex));
            return;
        }
    };
    let path = format!("{groups}/{gid}");
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };

    let (ex, after) = apply(
        cx,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]}]),
    )
    .await;
    let mut j = Judge::new();
    if succeeded(&mut j, &ex, &after) {
        let want = sorted(&[&ids[0], &ids[1], &ids[2]]);
        j.that(member_ids(after.body()) == want, || {
            format!(
                "GET {path}: members {:?}, expected {want:?}",
                member_ids(after.body())
            )
        });
    }
    cx.record(&MEMBERS_ADD, j);

    let (ex, after) = apply(
        cx,
        &path,
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}]),
    )
    .await;
    let mut j = Judge::new();
    if succeeded(&mut j, &ex, &after) {
        let got_ids = member_ids(after.body());
        j.that(
            !got_ids.contains(&ids[1]) && got_ids.contains(&ids[0]),
            || format!("GET {path}: members {got_ids:?} after removing {}", ids[1]),
        );
    }
    cx.record(&MEMBERS_REMOVE, j);

    let (ex, after) = apply(
        cx,
        &path,
        json!([{"op": "replace", "path": "members", "value": [{"value": ids[1]}]}]),
    )
    .await;
    let mut j = Judge::new();
    if succeeded(&mut j, &ex, &after) {
        let want = vec![ids[1].clone()];
        j.that(member_ids(after.body()) == want, || {
            format!(
                "GET {path}: members {:?}, expected {want:?}",
                member_ids(after.body())
            )
        });
    }
    cx.record(&MEMBERS_REPLACE, j);
}

async fn unadvertised(cx: &mut Cx, users: &str) {
    let (id, _) = match cx.new_user("nopatch").await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip(&UNADVERTISED, prerequisite("POST /Users", &ex));
            return;
        }
    };
    let ex = cx
        .send_json(
            Method::PATCH,
            &format!("{users}/{id}"),
            &patch_op(json!([{"op": "replace", "path": "title", "value": "x"}])),
        )
        .await;
    let mut j = Judge::new();
    j.scim_error(&ex, &[501], &[]);
    cx.record(&UNADVERTISED, j);
}
