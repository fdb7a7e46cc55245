//! Versioning (RFC 7644 §3.14, RFC 7232, RFC 7643 §3.1 `meta.version`): ETag headers, If-Match
//! on PUT, PATCH and DELETE, If-None-Match on GET. Skipped when etag.supported is false.

use reqwest::Method;
use serde_json::json;

use super::patch::patch_op;
use crate::cx::Cx;
use crate::http::{Exchange, Req};
use crate::judge::{prerequisite, Judge};
use crate::model::CheckDef;

check!(
    HEADER,
    "etag.header",
    "RFC 7644 §3.14",
    Must,
    "GET of a resource carries an ETag header equal to meta.version",
    ["etag"]
);
check!(
    ON_CREATE,
    "etag.on-create",
    "RFC 7644 §3.14",
    Should,
    "the 201 of a POST carries the ETag of the new resource",
    ["etag"]
);
check!(
    CHANGES,
    "etag.changes-with-resource",
    "RFC 7644 §3.14",
    Must,
    "a modification gives the resource a new ETag",
    ["etag"]
);
check!(
    IF_NONE_MATCH_304,
    "etag.if-none-match-304",
    "RFC 7232 §3.2",
    Must,
    "GET with If-None-Match of the current ETag answers 304 Not Modified without a body",
    ["etag"]
);
check!(
    IF_NONE_MATCH_200,
    "etag.if-none-match-stale-200",
    "RFC 7232 §3.2",
    Must,
    "GET with If-None-Match of an old ETag answers 200 with the resource",
    ["etag"]
);
check!(
    IF_MATCH_PUT,
    "etag.if-match-put-412",
    "RFC 7644 §3.14",
    Must,
    "PUT with a stale If-Match answers 412 and does not change the resource",
    ["etag", "errors"]
);
check!(
    IF_MATCH_PATCH,
    "etag.if-match-patch-412",
    "RFC 7644 §3.14",
    Must,
    "PATCH with a stale If-Match answers 412 and does not change the resource",
    ["etag", "errors", "patch"]
);
check!(
    IF_MATCH_DELETE,
    "etag.if-match-delete-412",
    "RFC 7644 §3.14",
    Must,
    "DELETE with a stale If-Match answers 412 and does not delete",
    ["etag", "errors"]
);
check!(
    IF_MATCH_OK,
    "etag.if-match-current",
    "RFC 7644 §3.14",
    Must,
    "PUT, PATCH and DELETE with the current If-Match succeed",
    ["etag"]
);
check!(
    IF_MATCH_STAR,
    "etag.if-match-star",
    "RFC 7232 §3.1",
    Should,
    "If-Match: * succeeds on an existing resource",
    ["etag"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    HEADER,
    ON_CREATE,
    CHANGES,
    IF_NONE_MATCH_304,
    IF_NONE_MATCH_200,
    IF_MATCH_PUT,
    IF_MATCH_PATCH,
    IF_MATCH_DELETE,
    IF_MATCH_OK,
    IF_MATCH_STAR,
];

/// Runs the ETag checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    if !cx.disc.features.etag {
        cx.skip_all(CHECKS, "etag.supported is false (versioning is OPTIONAL)");
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    let (id, created) = match cx.new_user("etag").await {
        Ok(x) => x,
        Err(ex) => {
            cx.skip_all(CHECKS, &prerequisite("POST /Users", &ex));
            return;
        }
    };
    let path = format!("{users}/{id}");
    let body = created.body().clone();

    let mut j = Judge::new();
    j.that(created.header("etag").is_some(), || {
        format!("POST {users}: the 201 has no ETag header")
    });
    j.see(&created);
    cx.record(&ON_CREATE, j);

    let got1 = cx.get(&path).await;
    let mut j = Judge::new();
    let etag1 = etag_of(&mut j, &got1);
    cx.record(&HEADER, j);
    let Some(etag1) = etag1 else {
        cx.skip_all(&CHECKS[2..], "no ETag on GET (etag.header)");
        return;
    };

    let ex = cx
        .send(Req::get(path.clone()).header("If-None-Match", &etag1))
        .await;
    let mut j = Judge::new();
    if j.status(&ex, &[304]) {
        j.that(ex.text.is_empty(), || {
            format!("GET {path}: a 304 with a body")
        });
    }
    cx.record(&IF_NONE_MATCH_304, j);

    // Modify: the ETag must change.
    let mut put = body.clone();
    if let Some(o) = put.as_object_mut() {
        o.remove("meta");
        o.remove("id");
    }
    put["displayName"] = json!("ETag Changed");
    let changed = cx.send_json(Method::PUT, &path, &put).await;
    let got2 = cx.get(&path).await;
    let mut j = Judge::new();
    let etag2 = if j.status(&changed, &[200]) {
        etag_of(&mut j, &got2)
    } else {
        None
    };
    if let Some(e2) = &etag2 {
        j.that(*e2 != etag1, || {
            format!("GET {path}: the ETag {e2} did not change after a PUT that changed displayName")
        });
    }
    cx.record(&CHANGES, j);
    let Some(etag2) = etag2.filter(|e| *e != etag1) else {
        cx.skip_all(
            &CHECKS[4..],
            "the ETag did not change after a modification (etag.changes-with-resource)",
        );
        return;
    };

    let ex = cx
        .send(Req::get(path.clone()).header("If-None-Match", &etag1))
        .await;
    let mut j = Judge::new();
    if j.status(&ex, &[200]) {
        j.that(ex.str("id") == Some(&id), || {
            format!("GET {path}: expected the resource")
        });
    }
    cx.record(&IF_NONE_MATCH_200, j);

    // Stale If-Match: 412, nothing changes.
    let mut stale_put = put.clone();
    stale_put["displayName"] = json!("Stale Put");
    let ex = cx
        .send(Req::json(Method::PUT, path.clone(), &stale_put).header("If-Match", &etag1))
        .await;
    let after = cx.get(&path).await;
    let mut j = Judge::new();
    j.scim_error(&ex, &[412], &[]);
    unchanged(&mut j, &after, "ETag Changed");
    cx.record(&IF_MATCH_PUT, j);

    let op = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Stale Patch"}]));
    let ex = cx
        .send(Req::json(Method::PATCH, path.clone(), &op).header("If-Match", &etag1))
        .await;
    let after = cx.get(&path).await;
    let mut j = Judge::new();
    if cx.disc.features.patch {
        j.scim_error(&ex, &[412], &[]);
        unchanged(&mut j, &after, "ETag Changed");
    } else {
        j.skip("patch.supported is false");
    }
    cx.record(&IF_MATCH_PATCH, j);

    let ex = cx
        .send(Req::delete(path.clone()).header("If-Match", &etag1))
        .await;
    let after = cx.get(&path).await;
    let mut j = Judge::new();
    j.scim_error(&ex, &[412], &[]);
    j.status(&after, &[200]);
    cx.record(&IF_MATCH_DELETE, j);

    // Current If-Match: success.
    let mut j = Judge::new();
    let mut cur = etag2.clone();
    let mut ok_put = put.clone();
    ok_put["displayName"] = json!("Matched Put");
    let ex = cx
        .send(Req::json(Method::PUT, path.clone(), &ok_put).header("If-Match", &cur))
        .await;
    if j.status(&ex, &[200]) {
        if let Some(e) = ex.header("etag") {
            cur = e.to_string();
        } else {
            let g = cx.get(&path).await;
            cur = g.header("etag").unwrap_or_default().to_string();
        }
    }
    if cx.disc.features.patch {
        let op =
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Matched Patch"}]));
        let ex = cx
            .send(Req::json(Method::PATCH, path.clone(), &op).header("If-Match", &cur))
            .await;
        j.status(&ex, &[200, 204]);
    }
    let ex = cx.send(Req::get(path.clone())).await;
    let cur = ex.header("etag").unwrap_or_default().to_string();

    // If-Match: * on a PUT.
    let mut js = Judge::new();
    let mut star = put.clone();
    star["displayName"] = json!("Star Put");
    let sx = cx
        .send(Req::json(Method::PUT, path.clone(), &star).header("If-Match", "*"))
        .await;
    js.status(&sx, &[200]);
    cx.record(&IF_MATCH_STAR, js);
    let cur = cx
        .get(&path)
        .await
        .header("etag")
        .map(str::to_string)
        .unwrap_or(cur);

    let ex = cx
        .send(Req::delete(path.clone()).header("If-Match", &cur))
        .await;
    if j.status(&ex, &[204]) {
        cx.untrack(&users, &id);
    }
    cx.record(&IF_MATCH_OK, j);
}

/// The ETag of a 200 response, checked against meta.version.
fn etag_of(j: &mut Judge, ex: &Exchange) -> Option<String> {
    if !j.status(ex, &[200]) {
        return None;
    }
    let e = ex.header("etag");
    j.that(e.is_some(), || format!("GET {}: no ETag header", ex.path));
    let v = ex.body()["meta"]["version"].as_str();
    if let Some(e) = e {
        j.that(v == Some(e), || {
            format!("GET {}: ETag {e} but meta.version {:?}", ex.path, v)
        });
    }
    e.map(str::to_string)
}

fn unchanged(j: &mut Judge, after: &Exchange, display: &str) {
    if j.status(after, &[200]) {
        j.that(after.str("displayName") == Some(display), || {
            format!(
                "GET {}: displayName {} after a refused request, expected {display:?}",
                after.path,
                after.body()["displayName"]
            )
        });
    }
}
