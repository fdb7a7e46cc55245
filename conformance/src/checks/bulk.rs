//! Bulk (RFC 7644 §3.7): operations of every method, bulkId references, failOnErrors, per
//! operation errors, the advertised limits (413), and the answer when Bulk is not advertised.

use reqwest::Method;
use serde_json::{json, Value};

use super::crud::member_ids;
use crate::cx::Cx;
use crate::discovery::{BULK_REQUEST, BULK_RESPONSE, GROUP_SCHEMA, PATCH_OP};
use crate::http::{Exchange, Req, SCIM_JSON};
use crate::judge::{prerequisite, Judge};
use crate::model::CheckDef;

check!(POST, "bulk.post", "RFC 7644 §3.7.3", Must,
    "a BulkRequest of POSTs answers 200 with a BulkResponse holding, per operation, method, bulkId, location and status 201", ["bulk"]);
check!(BULK_ID, "bulk.bulkid-reference", "RFC 7644 §3.7.2", Must,
    "`bulkId:<id>` in a later operation's data is replaced by the id created earlier in the request", ["bulk", "groups"]);
check!(
    METHODS,
    "bulk.methods",
    "RFC 7644 §3.7",
    Must,
    "PUT, PATCH and DELETE operations run and report 200/204 statuses",
    ["bulk"]
);
check!(ERRORS, "bulk.operation-errors", "RFC 7644 §3.7.3", Must,
    "a failing operation reports its error status and a SCIM Error in \"response\"; the others still run", ["bulk", "errors"]);
check!(
    FAIL_ON_ERRORS,
    "bulk.fail-on-errors",
    "RFC 7644 §3.7.3",
    Must,
    "with failOnErrors 1, processing stops after the first error: later operations do not run",
    ["bulk"]
);
check!(
    MAX_OPS,
    "bulk.max-operations-413",
    "RFC 7644 §3.7.4",
    Must,
    "more operations than bulk.maxOperations answers 413 with a SCIM Error",
    ["bulk", "errors"]
);
check!(
    MAX_PAYLOAD,
    "bulk.max-payload-413",
    "RFC 7644 §3.7.4",
    Must,
    "a body larger than bulk.maxPayloadSize answers 413 with a SCIM Error",
    ["bulk", "errors"]
);
check!(
    UNADVERTISED,
    "bulk.unadvertised-501",
    "RFC 7644 §3.12",
    Should,
    "with bulk.supported false, POST /Bulk answers 501 Not Implemented",
    ["bulk", "discovery"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    POST,
    BULK_ID,
    METHODS,
    ERRORS,
    FAIL_ON_ERRORS,
    MAX_OPS,
    MAX_PAYLOAD,
    UNADVERTISED,
];

fn bulk(ops: Value, fail_on_errors: Option<u64>) -> Value {
    let mut b = json!({"schemas": [BULK_REQUEST], "Operations": ops});
    if let Some(f) = fail_on_errors {
        b["failOnErrors"] = json!(f);
    }
    b
}

fn results(ex: &Exchange) -> Vec<Value> {
    ex.body()["Operations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `status` of an operation result as a number (the RFC shows strings; integers are accepted).
fn status_of(op: &Value) -> Option<u16> {
    match &op["status"] {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::Object(o) => o.get("code").and_then(|c| c.as_str()?.parse().ok()),
        _ => None,
    }
}

fn id_of(op: &Value) -> Option<String> {
    op["location"]
        .as_str()
        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
        .map(str::to_string)
}

/// Runs the Bulk checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    if cx.discovered && !cx.disc.features.bulk {
        cx.skip_all(&CHECKS[..CHECKS.len() - 1], "bulk.supported is false");
        let ex = cx
            .send_json(Method::POST, "/Bulk", &bulk(json!([]), None))
            .await;
        let mut j = Judge::new();
        j.scim_error(&ex, &[501], &[]);
        cx.record(&UNADVERTISED, j);
        return;
    }
    cx.skip(&UNADVERTISED, "bulk.supported is true");

    let a = cx.name("bulk-a");
    let b = cx.name("bulk-b");
    let ops = json!([
        {"method": "POST", "path": users, "bulkId": "ua", "data": cx.user_body(&a)},
        {"method": "POST", "path": users, "bulkId": "ub", "data": cx.user_body(&b)},
    ]);
    let ex = cx.send_json(Method::POST, "/Bulk", &bulk(ops, None)).await;
    let res = results(&ex);
    for r in &res {
        if let (Some(201), Some(id)) = (status_of(r), id_of(r)) {
            cx.track(&users, &id);
        }
    }
    let mut j = Judge::new();
    if j.status(&ex, &[200]) && j.json_object(&ex) {
        j.scim_media(&ex);
        j.has_schema(&ex, BULK_RESPONSE);
        j.that(res.len() == 2, || {
            format!("POST /Bulk: {} operation results, expected 2", res.len())
        });
        for (r, bid) in res.iter().zip(["ua", "ub"]) {
            j.that(status_of(r) == Some(201), || {
                format!(
                    "POST /Bulk: operation {bid} has status {}, expected \"201\"",
                    r["status"]
                )
            });
            j.that(r["bulkId"] == json!(bid), || {
                format!("POST /Bulk: bulkId {} where {bid} was sent", r["bulkId"])
            });
            j.that(
                r["method"]
                    .as_str()
                    .is_some_and(|m| m.eq_ignore_ascii_case("POST")),
                || format!("POST /Bulk: method {}", r["method"]),
            );
            j.that(
                r["location"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("http")),
                || format!("POST /Bulk: operation {bid} without an absolute location: {r}"),
            );
        }
    }
    cx.record(&POST, j);
    let created: Vec<String> = res.iter().filter_map(id_of).collect();

    bulk_id(cx, &users).await;
    methods(cx, &users, &created).await;
    errors(cx, &users).await;
    limits(cx, &users).await;
}

async fn bulk_id(cx: &mut Cx, users: &str) {
    if !cx.wants(&BULK_ID) {
        return;
    }
    let Some(groups) = cx.groups() else {
        cx.skip(&BULK_ID, "the server has no Group resource type");
        return;
    };
    let u = cx.name("bulk-ref");
    let g = cx.name("bulk-group");
    let ops = json!([
        {"method": "POST", "path": users, "bulkId": "member", "data": cx.user_body(&u)},
        {"method": "POST", "path": groups, "bulkId": "group", "data": {
            "schemas": [GROUP_SCHEMA], "displayName": g, "members": [{"value": "bulkId:member"}]}},
    ]);
    let ex = cx.send_json(Method::POST, "/Bulk", &bulk(ops, None)).await;
    let res = results(&ex);
    let mut j = Judge::new();
    let (mut uid, mut gid) = (None, None);
    for r in &res {
        if let (Some(201), Some(id)) = (status_of(r), id_of(r)) {
            if r["bulkId"] == json!("member") {
                cx.track(users, &id);
                uid = Some(id);
            } else {
                cx.track(&groups, &id);
                gid = Some(id);
            }
        }
    }
    if j.status(&ex, &[200]) {
        match (uid, gid) {
            (Some(uid), Some(gid)) => {
                let gx = cx.get(&format!("{groups}/{gid}")).await;
                if j.status(&gx, &[200]) {
                    j.that(member_ids(gx.body()) == vec![uid.clone()], || {
                        format!("GET {groups}/{gid}: members {:?}, expected [{uid}] (bulkId:member resolved)", member_ids(gx.body()))
                    });
                }
            }
            _ => j.fail(format!(
                "POST /Bulk: expected both operations to answer 201, got {}",
                crate::http::one_line(&ex.body()["Operations"].to_string(), 400)
            )),
        }
    }
    cx.record(&BULK_ID, j);
}

async fn methods(cx: &mut Cx, users: &str, created: &[String]) {
    if !cx.wants(&METHODS) {
        return;
    }
    if created.len() < 2 {
        cx.skip(&METHODS, "prerequisite failed: bulk.post created no Users");
        return;
    }
    let (a, b) = (&created[0], &created[1]);
    let name = cx.name("bulk-put");
    let mut ops =
        vec![json!({"method": "PUT", "path": format!("{users}/{a}"), "data": cx.user_body(&name)})];
    if cx.disc.features.patch {
        ops.push(json!({"method": "PATCH", "path": format!("{users}/{a}"), "data": {
            "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Bulk Patched"}]}}));
    }
    ops.push(json!({"method": "DELETE", "path": format!("{users}/{b}")}));
    let ex = cx
        .send_json(
            Method::POST,
            "/Bulk",
            &bulk(Value::Array(ops.clone()), None),
        )
        .await;
    let res = results(&ex);
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        j.that(res.len() == ops.len(), || {
            format!(
                "POST /Bulk: {} results for {} operations",
                res.len(),
                ops.len()
            )
        });
        for (r, op) in res.iter().zip(&ops) {
            let m = op["method"].as_str().unwrap_or_default();
            let want: &[u16] = if m == "DELETE" { &[204] } else { &[200, 204] };
            j.that(status_of(r).is_some_and(|s| want.contains(&s)), || {
                format!(
                    "POST /Bulk: {m} has status {}, expected {want:?}",
                    r["status"]
                )
            });
        }
        let ga = cx.get(&format!("{users}/{a}")).await;
        if j.status(&ga, &[200]) {
            let want_name = ga
                .str("userName")
                .is_some_and(|u| u.eq_ignore_ascii_case(&name));
            j.that(want_name, || {
                format!(
                    "GET {users}/{a}: userName {} after the bulk PUT, expected {name}",
                    ga.body()["userName"]
                )
            });
            if cx.disc.features.patch {
                j.that(ga.body()["displayName"] == json!("Bulk Patched"), || {
                    format!(
                        "GET {users}/{a}: displayName {} after the bulk PATCH",
                        ga.body()["displayName"]
                    )
                });
            }
        }
        let gb = cx.get(&format!("{users}/{b}")).await;
        if j.status(&gb, &[404]) {
            cx.untrack(users, b);
        }
    }
    cx.record(&METHODS, j);
}

async fn errors(cx: &mut Cx, users: &str) {
    if !cx.wants_any(&[ERRORS, FAIL_ON_ERRORS]) {
        return;
    }
    let taken = match cx.new_user("bulk-taken").await {
        Ok((_, ex)) => ex.str("userName").unwrap_or_default().to_string(),
        Err(ex) => {
            cx.skip_all(&[ERRORS, FAIL_ON_ERRORS], &prerequisite("POST /Users", &ex));
            return;
        }
    };
    let taken = taken.as_str();
    for (def, fail_on) in [(ERRORS, None), (FAIL_ON_ERRORS, Some(1))] {
        if !cx.wants(&def) {
            continue;
        }
        let after = cx.name("bulk-after");
        let ops = json!([
            {"method": "POST", "path": users, "bulkId": "dup", "data": cx.user_body(taken)},
            {"method": "POST", "path": users, "bulkId": "next", "data": cx.user_body(&after)},
        ]);
        let ex = cx
            .send_json(Method::POST, "/Bulk", &bulk(ops, fail_on))
            .await;
        let res = results(&ex);
        for r in &res {
            if let (Some(201), Some(id)) = (status_of(r), id_of(r)) {
                cx.track(users, &id);
            }
        }
        let mut j = Judge::new();
        if j.status(&ex, &[200]) && j.json_object(&ex) {
            let first = res.iter().find(|r| r["bulkId"] == json!("dup"));
            match first {
                Some(r) => {
                    j.that(status_of(r) == Some(409), || {
                        format!(
                            "POST /Bulk: the duplicate userName has status {}, expected \"409\"",
                            r["status"]
                        )
                    });
                    let resp = &r["response"];
                    j.that(resp["schemas"].as_array().is_some_and(|s| s.iter().any(|x| x == crate::discovery::ERROR)), || {
                        format!("POST /Bulk: the failed operation has no SCIM Error in \"response\": {r}")
                    });
                }
                None => j.fail(format!(
                    "POST /Bulk: no result for the failing operation: {}",
                    crate::http::one_line(&ex.text, 300)
                )),
            }
            let next = res.iter().find(|r| r["bulkId"] == json!("next"));
            if fail_on.is_some() {
                j.that(next.is_none_or(|r| status_of(r) != Some(201)), || {
                    "POST /Bulk with failOnErrors 1: the operation after the error ran".to_string()
                });
            } else {
                j.that(next.is_some_and(|r| status_of(r) == Some(201)), || {
                    format!(
                        "POST /Bulk: the operation after the error did not run: {:?}",
                        next
                    )
                });
            }
        }
        cx.record(&def, j);
    }
}

async fn limits(cx: &mut Cx, users: &str) {
    if cx.wants(&MAX_OPS) {
        match cx.disc.features.bulk_max_operations {
            Some(max) if max < 20_000 => {
                let ops: Vec<Value> = (0..=max)
                    .map(|i| json!({"method": "DELETE", "path": format!("{users}/conformance-none-{i}")}))
                    .collect();
                let ex = cx
                    .send_json(Method::POST, "/Bulk", &bulk(Value::Array(ops), None))
                    .await;
                let mut j = Judge::new();
                j.scim_error(&ex, &[413], &[]);
                cx.record(&MAX_OPS, j);
            }
            Some(max) => cx.skip(
                &MAX_OPS,
                format!("bulk.maxOperations {max} is too large to exceed in a test"),
            ),
            None => cx.skip(&MAX_OPS, "bulk.maxOperations is not advertised"),
        }
    }
    if cx.wants(&MAX_PAYLOAD) {
        match cx.disc.features.bulk_max_payload {
            Some(max) if max < 64 * 1024 * 1024 => {
                let mut text = bulk(
                    json!([{"method": "DELETE", "path": format!("{users}/conformance-none")}]),
                    None,
                )
                .to_string();
                let pad = usize::try_from(max)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(text.len())
                    + 16;
                text.insert_str(text.len() - 1, &" ".repeat(pad));
                let ex = cx
                    .send(
                        Req::new(Method::POST, "/Bulk")
                            .header("Content-Type", SCIM_JSON)
                            .raw_body(text),
                    )
                    .await;
                let mut j = Judge::new();
                j.scim_error(&ex, &[413], &[]);
                cx.record(&MAX_PAYLOAD, j);
            }
            Some(max) => cx.skip(
                &MAX_PAYLOAD,
                format!("bulk.maxPayloadSize {max} is too large to exceed in a test"),
            ),
            None => cx.skip(&MAX_PAYLOAD, "bulk.maxPayloadSize is not advertised"),
        }
    }
}
