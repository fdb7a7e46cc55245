//! Users and Groups: create (RFC 7644 §3.3), read (§3.4.1), replace (§3.5.1), delete (§3.6),
//! the common attributes `id` and `meta` (RFC 7643 §3.1), and group membership (RFC 7643 §4).

use reqwest::Method;
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::discovery::{GROUP_SCHEMA, USER_SCHEMA};
use crate::http::{qs, Exchange, Req};
use crate::judge::{got, prerequisite, Judge};
use crate::model::CheckDef;

check!(
    U_CREATE,
    "users.create.201",
    "RFC 7644 §3.3",
    Must,
    "POST /Users answers 201 with the created User (id, schemas, the values sent)",
    ["users", "crud"]
);
check!(
    U_LOCATION,
    "users.create.location",
    "RFC 7644 §3.3",
    Must,
    "the 201 carries a Location header equal to meta.location",
    ["users", "crud"]
);
check!(
    U_ID,
    "users.create.id-assigned",
    "RFC 7643 §3.1",
    Must,
    "the service provider assigns id: an id sent by the client is not used",
    ["users", "crud"]
);
check!(U_META, "users.create.meta", "RFC 7643 §3.1", Must,
    "meta has resourceType User, created and lastModified as dateTimes (equal on a new resource) and an absolute location ending in the id", ["users", "crud"]);
check!(
    U_DUP,
    "users.create.duplicate-409",
    "RFC 7644 §3.3",
    Must,
    "a second User with the same userName answers 409 with scimType uniqueness",
    ["users", "crud", "errors"]
);
check!(
    U_GET,
    "users.get.200",
    "RFC 7644 §3.4.1",
    Must,
    "GET /Users/{id} answers 200 with that User",
    ["users", "crud"]
);
check!(
    U_PUT,
    "users.replace.200",
    "RFC 7644 §3.5.1",
    Must,
    "PUT /Users/{id} answers 200 with the replaced User, and GET shows the new values",
    ["users", "crud"]
);
check!(
    U_PUT_RO,
    "users.replace.read-only-ignored",
    "RFC 7644 §3.5.1",
    Must,
    "readOnly values in a PUT body (id, meta) are ignored (or the PUT is refused with 400)",
    ["users", "crud"]
);
check!(
    U_DEL,
    "users.delete.204",
    "RFC 7644 §3.6",
    Must,
    "DELETE /Users/{id} answers 204 with no body",
    ["users", "crud"]
);
check!(
    U_GONE,
    "users.delete.gone-404",
    "RFC 7644 §3.6",
    Must,
    "after DELETE, GET, PUT, PATCH and DELETE of the id answer 404",
    ["users", "crud", "errors"]
);
check!(
    U_OMIT,
    "users.delete.omitted-from-queries",
    "RFC 7644 §3.6",
    Must,
    "after DELETE, queries no longer return the resource",
    ["users", "crud", "filter"]
);
check!(
    U_REUSE,
    "users.delete.username-reusable",
    "RFC 7644 §3.6",
    Should,
    "after DELETE, the userName can be used again (a new User, a new id)",
    ["users", "crud"]
);

check!(
    G_CREATE,
    "groups.create.201",
    "RFC 7644 §3.3",
    Must,
    "POST /Groups answers 201 with the created Group (id, schemas, the values sent)",
    ["groups", "crud"]
);
check!(
    G_LOCATION,
    "groups.create.location",
    "RFC 7644 §3.3",
    Must,
    "the 201 carries a Location header equal to meta.location",
    ["groups", "crud"]
);
check!(
    G_ID,
    "groups.create.id-assigned",
    "RFC 7643 §3.1",
    Must,
    "the service provider assigns id: an id sent by the client is not used",
    ["groups", "crud"]
);
check!(G_META, "groups.create.meta", "RFC 7643 §3.1", Must,
    "meta has resourceType Group, created and lastModified as dateTimes and an absolute location ending in the id", ["groups", "crud"]);
check!(
    G_GET,
    "groups.get.200",
    "RFC 7644 §3.4.1",
    Must,
    "GET /Groups/{id} answers 200 with that Group",
    ["groups", "crud"]
);
check!(
    G_PUT,
    "groups.replace.200",
    "RFC 7644 §3.5.1",
    Must,
    "PUT /Groups/{id} answers 200 with the replaced Group, and GET shows the new values",
    ["groups", "crud"]
);
check!(
    G_PUT_RO,
    "groups.replace.read-only-ignored",
    "RFC 7644 §3.5.1",
    Must,
    "readOnly values in a PUT body (id, meta) are ignored (or the PUT is refused with 400)",
    ["groups", "crud"]
);
check!(
    G_DEL,
    "groups.delete.204",
    "RFC 7644 §3.6",
    Must,
    "DELETE /Groups/{id} answers 204 with no body",
    ["groups", "crud"]
);
check!(
    G_GONE,
    "groups.delete.gone-404",
    "RFC 7644 §3.6",
    Must,
    "after DELETE, GET, PUT, PATCH and DELETE of the id answer 404",
    ["groups", "crud", "errors"]
);
check!(
    G_OMIT,
    "groups.delete.omitted-from-queries",
    "RFC 7644 §3.6",
    Must,
    "after DELETE, queries no longer return the resource",
    ["groups", "crud", "filter"]
);

check!(
    MEMBERS,
    "groups.members.stored",
    "RFC 7643 §4.2",
    Must,
    "a Group created with members lists exactly those members (value = the User's id)",
    ["groups"]
);
check!(
    USER_GROUPS,
    "groups.members.user-groups",
    "RFC 7643 §4.1.2",
    Should,
    "a member User's readOnly \"groups\" lists the Group (value = the Group's id)",
    ["groups", "users"]
);
check!(
    DELETED_MEMBER,
    "groups.members.deleted-user-removed",
    "RFC 7644 §3.6",
    Should,
    "a deleted User no longer appears in the members of its groups",
    ["groups", "users"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    U_CREATE,
    U_LOCATION,
    U_ID,
    U_META,
    U_DUP,
    U_GET,
    U_PUT,
    U_PUT_RO,
    U_DEL,
    U_GONE,
    U_OMIT,
    U_REUSE,
    G_CREATE,
    G_LOCATION,
    G_ID,
    G_META,
    G_GET,
    G_PUT,
    G_PUT_RO,
    G_DEL,
    G_GONE,
    G_OMIT,
    MEMBERS,
    USER_GROUPS,
    DELETED_MEMBER,
];

/// The lifecycle checks of one resource type.
struct Lifecycle {
    kind: &'static str,
    schema: &'static str,
    create: CheckDef,
    location: CheckDef,
    id: CheckDef,
    meta: CheckDef,
    get: CheckDef,
    put: CheckDef,
    put_ro: CheckDef,
    del: CheckDef,
    gone: CheckDef,
    omit: CheckDef,
}

impl Lifecycle {
    fn all(&self) -> [CheckDef; 10] {
        [
            self.create,
            self.location,
            self.id,
            self.meta,
            self.get,
            self.put,
            self.put_ro,
            self.del,
            self.gone,
            self.omit,
        ]
    }
}

const USERS: Lifecycle = Lifecycle {
    kind: "User",
    schema: USER_SCHEMA,
    create: U_CREATE,
    location: U_LOCATION,
    id: U_ID,
    meta: U_META,
    get: U_GET,
    put: U_PUT,
    put_ro: U_PUT_RO,
    del: U_DEL,
    gone: U_GONE,
    omit: U_OMIT,
};

const GROUPS: Lifecycle = Lifecycle {
    kind: "Group",
    schema: GROUP_SCHEMA,
    create: G_CREATE,
    location: G_LOCATION,
    id: G_ID,
    meta: G_META,
    get: G_GET,
    put: G_PUT,
    put_ro: G_PUT_RO,
    del: G_DEL,
    gone: G_GONE,
    omit: G_OMIT,
};

/// Runs the Users and Groups lifecycle and membership checks.
pub async fn run(cx: &mut Cx) {
    match cx.users() {
        Some(e) => lifecycle(cx, &USERS, &e).await,
        None => cx.skip_all(&USERS.all(), "the server has no User resource type"),
    }
    duplicate(cx).await;
    reuse(cx).await;
    match cx.groups() {
        Some(e) => lifecycle(cx, &GROUPS, &e).await,
        None => cx.skip_all(&GROUPS.all(), "the server has no Group resource type"),
    }
    membership(cx).await;
}

fn body_for(cx: &mut Cx, lc: &Lifecycle, label: &str) -> (String, Value) {
    let name = cx.name(label);
    let body = if lc.kind == "User" {
        cx.user_body(&name)
    } else {
        cx.group_body(&name, &[])
    };
    (name, body)
}

fn name_key(lc: &Lifecycle) -> &'static str {
    if lc.kind == "User" {
        "userName"
    } else {
        "displayName"
    }
}

async fn lifecycle(cx: &mut Cx, lc: &Lifecycle, endpoint: &str) {
    if !cx.wants_any(&lc.all()) {
        return;
    }
    let (name, mut body) = body_for(cx, lc, "crud");
    body["id"] = json!("conformance-client-chosen-id");
    let created = cx.create(endpoint, &body).await;
    let key = name_key(lc);

    let mut j = Judge::new();
    if j.status(&created, &[201]) && j.json_object(&created) {
        j.scim_media(&created);
        j.has_schema(&created, lc.schema);
        j.that(created.id().is_some_and(|i| !i.is_empty()), || {
            format!("POST {endpoint}: no id in {}", got(&created))
        });
        j.that(
            created
                .str(key)
                .is_some_and(|v| v.eq_ignore_ascii_case(&name)),
            || {
                format!(
                    "POST {endpoint}: expected {key} {name:?} in the response, got {}",
                    created.body()[key]
                )
            },
        );
    }
    cx.record(&lc.create, j);
    let Some(id) = created.id().filter(|_| created.status == 201) else {
        let why = prerequisite(&format!("POST {endpoint}"), &created);
        for d in lc.all().iter().skip(1) {
            cx.skip(d, &why);
        }
        return;
    };
    let b = created.body().clone();

    let mut j = Judge::new();
    j.see(&created);
    let loc = created.header("location");
    let meta_loc = b["meta"]["location"].as_str();
    j.that(loc.is_some(), || {
        format!("POST {endpoint}: no Location header")
    });
    j.that(loc.is_some() && loc == meta_loc, || {
        format!("POST {endpoint}: Location {loc:?} differs from meta.location {meta_loc:?}")
    });
    cx.record(&lc.location, j);

    let mut j = Judge::new();
    j.see(&created);
    j.that(id != "conformance-client-chosen-id", || {
        format!("POST {endpoint}: the server kept the id the client sent")
    });
    cx.record(&lc.id, j);

    let mut j = Judge::new();
    j.see(&created);
    meta(&mut j, &created, lc.kind, &id);
    cx.record(&lc.meta, j);

    let path = format!("{endpoint}/{id}");
    let read = cx.get(&path).await;
    let mut j = Judge::new();
    if j.status(&read, &[200]) && j.json_object(&read) {
        j.scim_media(&read);
        j.that(read.str("id") == Some(&id), || {
            format!("GET {path}: expected id {id}, got {}", read.body()["id"])
        });
        j.that(
            read.str(key).is_some_and(|v| v.eq_ignore_ascii_case(&name)),
            || {
                format!(
                    "GET {path}: expected {key} {name:?}, got {}",
                    read.body()[key]
                )
            },
        );
    }
    cx.record(&lc.get, j);

    // PUT: a changed value; for users also a changed given name.
    let mut put = body.clone();
    put.as_object_mut().map(|o| o.remove("id"));
    let new_display = format!("{name} renamed");
    if lc.kind == "User" {
        put["displayName"] = json!(new_display);
        put["name"]["givenName"] = json!("Replaced");
    } else {
        put["displayName"] = json!(format!("{name}-renamed"));
    }
    let replaced = cx.send_json(Method::PUT, &path, &put).await;
    let after = cx.get(&path).await;
    let mut j = Judge::new();
    if j.status(&replaced, &[200]) && j.json_object(&replaced) {
        j.scim_media(&replaced);
        j.that(replaced.str("id") == Some(&id), || {
            format!("PUT {path}: expected id {id} in the response")
        });
        for (ex, what) in [
            (&replaced, "the PUT response"),
            (&after, "GET after the PUT"),
        ] {
            j.see(ex);
            j.that(ex.body()["displayName"] == put["displayName"], || {
                format!(
                    "{what}: expected displayName {}, got {}",
                    put["displayName"],
                    ex.body()["displayName"]
                )
            });
            if lc.kind == "User" {
                j.that(ex.body()["name"]["givenName"] == json!("Replaced"), || {
                    format!(
                        "{what}: expected name.givenName \"Replaced\", got {}",
                        ex.body()["name"]["givenName"]
                    )
                });
            }
        }
    }
    cx.record(&lc.put, j);

    // PUT with read-only values: another id and a made-up meta.
    let mut ro = put.clone();
    ro["id"] = json!("conformance-other-id");
    ro["meta"] = json!({"resourceType": "Other", "created": "2001-01-01T00:00:00Z", "location": "https://example.com/x"});
    let ex = cx.send_json(Method::PUT, &path, &ro).await;
    let after = cx.get(&path).await;
    let mut j = Judge::new();
    j.see(&ex);
    if ex.status == 400 {
        j.error_body(&ex, &[]);
        j.note("refused with 400");
    } else if j.status(&ex, &[200]) {
        for (e, what) in [(&ex, "the PUT response"), (&after, "GET after the PUT")] {
            j.see(e);
            j.that(e.str("id") == Some(&id), || {
                format!("{what}: id is {}, expected {id}", e.body()["id"])
            });
            j.that(e.body()["meta"]["resourceType"] == json!(lc.kind), || {
                format!(
                    "{what}: meta.resourceType is {}, the client's value was kept",
                    e.body()["meta"]["resourceType"]
                )
            });
            j.that(
                e.body()["meta"]["created"] != json!("2001-01-01T00:00:00Z"),
                || format!("{what}: meta.created took the client's value"),
            );
        }
    }
    cx.record(&lc.put_ro, j);

    let del = cx.delete(endpoint, &id).await;
    let mut j = Judge::new();
    if j.status(&del, &[204]) {
        j.that(del.text.is_empty(), || {
            format!("DELETE {path}: a 204 with a body: {}", del.text)
        });
    }
    cx.record(&lc.del, j);
    if del.status != 204 && del.status != 200 {
        let why = prerequisite(&format!("DELETE {path}"), &del);
        cx.skip(&lc.gone, &why);
        cx.skip(&lc.omit, &why);
        return;
    }

    let patch = json!({"schemas": [crate::discovery::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    let mut j = Judge::new();
    for ex in [
        cx.get(&path).await,
        cx.send_json(Method::PUT, &path, &put).await,
        cx.send_json(Method::PATCH, &path, &patch).await,
        cx.send(Req::delete(path.clone())).await,
    ] {
        if ex.status == 200 || ex.status == 201 {
            cx.track(endpoint, &id);
        }
        j.scim_error(&ex, &[404], &[]);
    }
    cx.record(&lc.gone, j);

    let mut j = Judge::new();
    if cx.disc.features.filter {
        let f = format!("id eq \"{id}\"");
        let ex = cx.get(&format!("{endpoint}?filter={}", qs(&f))).await;
        if j.status(&ex, &[200]) {
            j.that(ex.body()["totalResults"].as_u64() == Some(0), || {
                format!(
                    "GET {}: the deleted resource is still found: {}",
                    ex.path,
                    got(&ex)
                )
            });
        }
        let f = format!("{key} eq \"{}\"", put[key].as_str().unwrap_or(&name));
        let ex = cx.get(&format!("{endpoint}?filter={}", qs(&f))).await;
        if j.status(&ex, &[200]) {
            j.that(ex.body()["totalResults"].as_u64() == Some(0), || {
                format!(
                    "GET {}: the deleted resource is still found: {}",
                    ex.path,
                    got(&ex)
                )
            });
        }
    } else {
        j.skip("filter.supported is false: the list cannot be narrowed to the deleted resource");
    }
    cx.record(&lc.omit, j);
}

/// meta of a freshly created resource (RFC 7643 §3.1).
fn meta(j: &mut Judge, ex: &Exchange, kind: &str, id: &str) {
    let m = &ex.body()["meta"];
    let p = format!("{} {}", ex.method, ex.path);
    j.that(m["resourceType"] == json!(kind), || {
        format!(
            "{p}: meta.resourceType is {}, expected \"{kind}\"",
            m["resourceType"]
        )
    });
    for k in ["created", "lastModified"] {
        j.that(m[k].as_str().is_some_and(is_datetime), || {
            format!("{p}: meta.{k} is {}, expected an xsd:dateTime", m[k])
        });
    }
    j.that(m["created"] == m["lastModified"], || {
        format!(
            "{p}: a new resource has lastModified {} different from created {}",
            m["lastModified"], m["created"]
        )
    });
    let loc = m["location"].as_str().unwrap_or_default();
    j.that(
        (loc.starts_with("http://") || loc.starts_with("https://"))
            && loc.trim_end_matches('/').ends_with(&format!("/{id}")),
        || {
            format!(
                "{p}: meta.location is {}, expected an absolute URI ending in /{id}",
                m["location"]
            )
        },
    );
}

/// Whether `s` is an xsd:dateTime with a time zone (RFC 3339).
pub fn is_datetime(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

async fn duplicate(cx: &mut Cx) {
    if !cx.wants(&U_DUP) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip(&U_DUP, "the server has no User resource type");
        return;
    };
    let first = match cx.new_user("dup").await {
        Ok((_, ex)) => ex,
        Err(ex) => {
            cx.skip(&U_DUP, prerequisite("POST /Users", &ex));
            return;
        }
    };
    let name = first.str("userName").unwrap_or_default().to_string();
    let mut again = cx.user_body(&name);
    again["externalId"] = json!(format!("{name}-other"));
    let ex = cx.create(&users, &again).await;
    let mut j = Judge::new();
    j.scim_error(&ex, &[409], &["uniqueness"]);
    cx.record(&U_DUP, j);
}

async fn reuse(cx: &mut Cx) {
    if !cx.wants(&U_REUSE) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip(&U_REUSE, "the server has no User resource type");
        return;
    };
    let (id, ex) = match cx.new_user("reuse").await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip(&U_REUSE, prerequisite("POST /Users", &ex));
            return;
        }
    };
    let name = ex.str("userName").unwrap_or_default().to_string();
    let del = cx.delete(&users, &id).await;
    let mut j = Judge::new();
    if j.status(&del, &[204]) {
        let body = cx.user_body(&name);
        let again = cx.create(&users, &body).await;
        if j.status(&again, &[201]) {
            j.that(again.id().is_some_and(|i| i != id), || {
                format!("POST {users}: the re-created User got the deleted id {id}")
            });
        }
    }
    cx.record(&U_REUSE, j);
}

async fn membership(cx: &mut Cx) {
    let defs = [MEMBERS, USER_GROUPS, DELETED_MEMBER];
    if !cx.wants_any(&defs) {
        return;
    }
    let (Some(users), Some(groups)) = (cx.users(), cx.groups()) else {
        cx.skip_all(&defs, "the server lacks a User or a Group resource type");
        return;
    };
    let mut ids = Vec::new();
    for label in ["member-a", "member-b"] {
        match cx.new_user(label).await {
            Ok((id, _)) => ids.push(id),
            Err(ex) => {
                cx.skip_all(&defs, &prerequisite("POST /Users", &ex));
                return;
            }
        }
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (gid, _) = match cx.new_group("members", &refs).await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip_all(&defs, &prerequisite("POST /Groups with members", &ex));
            return;
        }
    };
    let g = cx.get(&format!("{groups}/{gid}")).await;
    let mut j = Judge::new();
    if j.status(&g, &[200]) {
        let got_ids = member_ids(g.body());
        let mut want = ids.clone();
        want.sort();
        j.that(got_ids == want, || {
            format!("GET {groups}/{gid}: expected members {want:?}, got {got_ids:?}")
        });
    }
    cx.record(&MEMBERS, j);

    let u = cx.get(&format!("{users}/{}", ids[0])).await;
    let mut j = Judge::new();
    let declared = cx
        .disc
        .schema(USER_SCHEMA)
        .is_some_and(|s| s.attr("groups").is_some());
    if !declared && cx.discovered {
        j.skip("the User schema declares no \"groups\" attribute");
    } else if j.status(&u, &[200]) {
        let listed = u.body()["groups"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["value"].as_str() == Some(gid.as_str())));
        j.that(listed, || {
            format!(
                "GET {users}/{}: expected \"groups\" to hold {{\"value\": \"{gid}\"}}, got {}",
                ids[0],
                u.body()["groups"]
            )
        });
    }
    cx.record(&USER_GROUPS, j);

    let del = cx.delete(&users, &ids[1]).await;
    let mut j = Judge::new();
    if j.status(&del, &[204]) {
        let g = cx.get(&format!("{groups}/{gid}")).await;
        if j.status(&g, &[200]) {
            let got_ids = member_ids(g.body());
            j.that(got_ids == vec![ids[0].clone()], || {
                format!(
                    "GET {groups}/{gid}: after deleting {}, expected members [{}], got {got_ids:?}",
                    ids[1], ids[0]
                )
            });
        }
    }
    cx.record(&DELETED_MEMBER, j);
}

/// The sorted member ids of a Group.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut v: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}
