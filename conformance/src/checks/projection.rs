//! `attributes` and `excludedAttributes` (RFC 7644 §3.9 and §3.4.2.5) on GET by id, on lists, on
//! POST /.search, with sub-attributes and extension URNs; `returned: always` attributes stay.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::discovery::{ENTERPRISE_SCHEMA, SEARCH_REQUEST, USER_SCHEMA};
use crate::http::{qs, Exchange};
use crate::judge::{prerequisite, Judge};
use crate::model::CheckDef;

check!(
    ATTRS_GET,
    "projection.attributes-get",
    "RFC 7644 §3.9",
    Must,
    "GET /Users/{id}?attributes=userName returns userName and id, not the other default attributes",
    ["projection"]
);
check!(
    ATTRS_SUB,
    "projection.attributes-sub-attribute",
    "RFC 7644 §3.9",
    Must,
    "attributes=name.givenName returns that sub-attribute only",
    ["projection"]
);
check!(
    ATTRS_LIST,
    "projection.attributes-list",
    "RFC 7644 §3.4.2.5",
    Must,
    "attributes=displayName on a list returns it (and id) for every resource, nothing else",
    ["projection"]
);
check!(
    ATTRS_CASE,
    "projection.attribute-name-case",
    "RFC 7643 §2.1",
    Must,
    "attribute names in attributes= are case-insensitive (DISPLAYNAME)",
    ["projection"]
);
check!(
    EXCL_GET,
    "projection.excluded-get",
    "RFC 7644 §3.9",
    Must,
    "excludedAttributes=emails,name removes those and keeps the other default attributes",
    ["projection"]
);
check!(
    EXCL_ALWAYS,
    "projection.excluded-always-kept",
    "RFC 7644 §3.9",
    Must,
    "excludedAttributes has no effect on returned-always attributes (id)",
    ["projection"]
);
check!(
    EXCL_MEMBERS,
    "projection.excluded-members",
    "RFC 7644 §3.9",
    Must,
    "GET /Groups/{id}?excludedAttributes=members and the list form (Entra's query) omit members",
    ["projection", "groups"]
);
check!(
    SEARCH_ATTRS,
    "projection.search-attributes",
    "RFC 7644 §3.4.3",
    Must,
    "POST /.search with \"attributes\" and with \"excludedAttributes\" projects the results",
    ["projection", "search"]
);
check!(
    EXTENSION,
    "projection.extension-attribute",
    "RFC 7644 §3.10",
    Must,
    "attributes=<extension URN>:employeeNumber returns the extension attribute",
    ["projection"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    ATTRS_GET,
    ATTRS_SUB,
    ATTRS_LIST,
    ATTRS_CASE,
    EXCL_GET,
    EXCL_ALWAYS,
    EXCL_MEMBERS,
    SEARCH_ATTRS,
    EXTENSION,
];

/// Runs the projection checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    let enterprise = cx
        .disc
        .type_with_schema(USER_SCHEMA)
        .is_some_and(|t| t.extensions.iter().any(|(u, _)| u == ENTERPRISE_SCHEMA));
    let name = cx.name("proj");
    let mut body = cx.user_body(&name);
    body["title"] = json!("Projectionist");
    if enterprise {
        body["schemas"] = json!([USER_SCHEMA, ENTERPRISE_SCHEMA]);
        body[ENTERPRISE_SCHEMA] = json!({"employeeNumber": "E-42", "department": "QA"});
    }
    let created = cx.create(&users, &body).await;
    let Some(id) = created.id().filter(|_| created.status == 201) else {
        cx.skip_all(CHECKS, &prerequisite("POST /Users", &created));
        return;
    };
    let path = format!("{users}/{id}");

    let ex = cx.get(&format!("{path}?attributes=userName")).await;
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        present(&mut j, &ex, ex.body(), &["id", "userName"]);
        absent(
            &mut j,
            &ex,
            ex.body(),
            &["displayName", "emails", "name", "title", "active"],
        );
    }
    cx.record(&ATTRS_GET, j);

    let ex = cx.get(&format!("{path}?attributes=name.givenName")).await;
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        present(&mut j, &ex, ex.body(), &["id"]);
        j.that(ex.body()["name"]["givenName"].is_string(), || {
            format!("{}: name.givenName missing: {}", ex.path, ex.body())
        });
        j.that(ex.body()["name"].get("familyName").is_none(), || {
            format!(
                "{}: name.familyName present, only name.givenName was asked for",
                ex.path
            )
        });
        absent(
            &mut j,
            &ex,
            ex.body(),
            &["userName", "displayName", "emails"],
        );
    }
    cx.record(&ATTRS_SUB, j);

    let filter = qs(&format!("userName eq \"{name}\""));
    for (def, attr) in [(ATTRS_LIST, "displayName"), (ATTRS_CASE, "DISPLAYNAME")] {
        let ex = cx
            .get(&format!("{users}?filter={filter}&attributes={attr}"))
            .await;
        let mut j = Judge::new();
        if j.status(&ex, &[200]) {
            let r = ex.body()["Resources"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            j.that(r.len() == 1, || {
                format!(
                    "{}: expected the one User, got {} Resources",
                    ex.path,
                    r.len()
                )
            });
            for res in &r {
                present(&mut j, &ex, res, &["id", "displayName"]);
                absent(&mut j, &ex, res, &["userName", "emails", "name", "title"]);
            }
        }
        cx.record(&def, j);
    }

    let ex = cx
        .get(&format!("{path}?excludedAttributes=emails,name"))
        .await;
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        absent(&mut j, &ex, ex.body(), &["emails", "name"]);
        present(
            &mut j,
            &ex,
            ex.body(),
            &["id", "userName", "displayName", "title"],
        );
    }
    cx.record(&EXCL_GET, j);

    let ex = cx
        .get(&format!("{path}?excludedAttributes=id,displayName"))
        .await;
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        present(&mut j, &ex, ex.body(), &["id"]);
        absent(&mut j, &ex, ex.body(), &["displayName"]);
    }
    cx.record(&EXCL_ALWAYS, j);

    search(cx, &users, &name).await;

    if cx.wants(&EXTENSION) {
        if enterprise {
            let ex = cx
                .get(&format!(
                    "{path}?attributes={ENTERPRISE_SCHEMA}:employeeNumber"
                ))
                .await;
            let mut j = Judge::new();
            if j.status(&ex, &[200]) {
                let ext = &ex.body()[ENTERPRISE_SCHEMA];
                j.that(ext["employeeNumber"] == json!("E-42"), || {
                    format!(
                        "{}: expected {ENTERPRISE_SCHEMA}.employeeNumber \"E-42\", got {ext}",
                        ex.path
                    )
                });
                j.that(ext.get("department").is_none(), || {
                    format!(
                        "{}: department returned, only employeeNumber was asked for",
                        ex.path
                    )
                });
                absent(&mut j, &ex, ex.body(), &["userName", "emails"]);
            }
            cx.record(&EXTENSION, j);
        } else {
            cx.skip(
                &EXTENSION,
                "the User resource type has no enterprise extension",
            );
        }
    }
    members(cx, &id).await;
}

async fn search(cx: &mut Cx, users: &str, name: &str) {
    if !cx.wants(&SEARCH_ATTRS) {
        return;
    }
    let mut j = Judge::new();
    for (key, list, keep, drop) in [
        (
            "attributes",
            json!(["userName"]),
            &["id", "userName"][..],
            &["displayName", "emails"][..],
        ),
        (
            "excludedAttributes",
            json!(["emails", "displayName"]),
            &["id", "userName"][..],
            &["displayName", "emails"][..],
        ),
    ] {
        let mut body = json!({
            "schemas": [SEARCH_REQUEST],
            "filter": format!("userName eq \"{name}\""),
        });
        body[key] = list;
        let ex = cx
            .send_json(Method::POST, &format!("{users}/.search"), &body)
            .await;
        if j.status(&ex, &[200]) {
            let r = ex.body()["Resources"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            j.that(r.len() == 1, || {
                format!(
                    "POST {users}/.search: expected the one User, got {} Resources",
                    r.len()
                )
            });
            for res in &r {
                present(&mut j, &ex, res, keep);
                absent(&mut j, &ex, res, drop);
            }
        }
    }
    cx.record(&SEARCH_ATTRS, j);
}

async fn members(cx: &mut Cx, user: &str) {
    if !cx.wants(&EXCL_MEMBERS) {
        return;
    }
    let Some(groups) = cx.groups() else {
        cx.skip(&EXCL_MEMBERS, "the server has no Group resource type");
        return;
    };
    let (gid, g) = match cx.new_group("proj", &[user]).await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip(
                &EXCL_MEMBERS,
                prerequisite("POST /Groups with a member", &ex),
            );
            return;
        }
    };
    let display = g.str("displayName").unwrap_or_default().to_string();
    let mut j = Judge::new();
    let ex = cx
        .get(&format!("{groups}/{gid}?excludedAttributes=members"))
        .await;
    if j.status(&ex, &[200]) {
        absent(&mut j, &ex, ex.body(), &["members"]);
        present(&mut j, &ex, ex.body(), &["id", "displayName"]);
    }
    let f = qs(&format!("displayName eq \"{display}\""));
    let ex = cx
        .get(&format!("{groups}?excludedAttributes=members&filter={f}"))
        .await;
    if j.status(&ex, &[200]) {
        let r = ex.body()["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        j.that(r.len() == 1, || {
            format!(
                "{}: expected the one Group, got {} Resources",
                ex.path,
                r.len()
            )
        });
        for res in &r {
            absent(&mut j, &ex, res, &["members"]);
        }
    }
    cx.record(&EXCL_MEMBERS, j);
}

fn present(j: &mut Judge, ex: &Exchange, v: &Value, keys: &[&str]) {
    for k in keys {
        j.that(v.get(*k).is_some_and(|x| !x.is_null()), || {
            format!(
                "{} {}: \"{k}\" missing from {}",
                ex.method,
                ex.path,
                crate::http::one_line(&v.to_string(), 300)
            )
        });
    }
}

fn absent(j: &mut Judge, ex: &Exchange, v: &Value, keys: &[&str]) {
    for k in keys {
        j.that(v.get(*k).is_none(), || {
            format!(
                "{} {}: \"{k}\" is returned though it was not asked for: {}",
                ex.method,
                ex.path,
                crate::http::one_line(&v.to_string(), 300)
            )
        });
    }
}
