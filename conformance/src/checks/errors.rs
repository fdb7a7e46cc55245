//! Media types (RFC 7644 §3.8, §8.1) and error responses (RFC 7644 §3.12): the status codes the
//! RFC lists, SCIM Error bodies, and the codes that cannot be provoked from outside (skipped
//! with the reason).

use reqwest::Method;
use serde_json::json;

use crate::cx::Cx;
use crate::discovery::PATCH_OP;
use crate::http::{Req, SCIM_JSON};
use crate::judge::Judge;
use crate::model::CheckDef;

check!(
    RESPONSE_TYPE,
    "media.response-scim-json",
    "RFC 7644 §3.8",
    Must,
    "responses, errors included, are application/scim+json when the client asks for no format",
    ["media"]
);
check!(
    ACCEPT_SCIM,
    "media.accept-scim-json",
    "RFC 7644 §3.8",
    Must,
    "`Accept: application/scim+json` is honoured",
    ["media"]
);
check!(
    ACCEPT_JSON,
    "media.accept-json",
    "RFC 7644 §3.8",
    Should,
    "`Accept: application/json` is supported",
    ["media"]
);
check!(
    REQUEST_JSON,
    "media.request-json",
    "RFC 7644 §3.8",
    Should,
    "a request body sent as `application/json` (as Okta does) is accepted",
    ["media", "users"]
);
check!(
    REQUEST_CHARSET,
    "media.request-charset",
    "RFC 7644 §3.8",
    Should,
    "a request body sent as `application/scim+json; charset=utf-8` is accepted",
    ["media", "users"]
);
check!(
    MALFORMED_400,
    "errors.400-malformed-json",
    "RFC 7644 §3.12",
    Must,
    "a body that is not JSON answers 400 with a SCIM Error",
    ["errors", "users"]
);
check!(
    WRONG_SHAPE_400,
    "errors.400-not-a-resource",
    "RFC 7644 §3.12",
    Must,
    "a JSON body that is not a resource (an array, a string) answers 400 with a SCIM Error",
    ["errors", "users"]
);
check!(
    SCIM_TYPES,
    "errors.scim-types",
    "RFC 7644 §3.12",
    Should,
    "400 errors carry the Table 9 scimType for their cause (invalidSyntax for an unparsable body)",
    ["errors"]
);
check!(
    UNKNOWN_RESOURCE_404,
    "errors.404-unknown-resource",
    "RFC 7644 §3.12",
    Must,
    "GET, PUT, PATCH and DELETE of an unknown id answer 404 with a SCIM Error",
    ["errors", "users", "groups"]
);
check!(
    UNKNOWN_ENDPOINT_404,
    "errors.404-unknown-endpoint",
    "RFC 7644 §3.12",
    Must,
    "an endpoint that does not exist answers 404 with a SCIM Error",
    ["errors"]
);
check!(
    ME_501,
    "errors.501-me",
    "RFC 7644 §3.11",
    Should,
    "/Me answers 501 Not Implemented when the service provider does not support it (or works)",
    ["errors"]
);
check!(
    REDIRECT_307,
    "errors.307-308-redirect",
    "RFC 7644 §3.12",
    May,
    "307/308 redirects (a service provider MAY redirect; nothing to provoke from outside)",
    ["errors"]
);
check!(FORBIDDEN_403, "errors.403-forbidden", "RFC 7644 §3.12", May,
    "403 for an operation the credential may not perform (needs a second, less privileged credential)", ["errors"]);
check!(
    SERVER_500,
    "errors.500-internal",
    "RFC 7644 §3.12",
    Should,
    "no request of the run answered 500 (a server error is never the right answer to a client)",
    ["errors"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    RESPONSE_TYPE,
    ACCEPT_SCIM,
    ACCEPT_JSON,
    REQUEST_JSON,
    REQUEST_CHARSET,
    MALFORMED_400,
    WRONG_SHAPE_400,
    SCIM_TYPES,
    UNKNOWN_RESOURCE_404,
    UNKNOWN_ENDPOINT_404,
    ME_501,
    REDIRECT_307,
    FORBIDDEN_403,
    SERVER_500,
];

/// Runs the media-type and error checks (`errors.500-internal` is concluded at the end of the
/// run, by [`no_500`]).
pub async fn run(cx: &mut Cx) {
    let users = cx.users();
    let list = users.clone().unwrap_or_else(|| "/Users".into());

    if cx.wants(&RESPONSE_TYPE) {
        let mut j = Judge::new();
        for ex in [
            cx.get(&list).await,
            cx.get(&format!("{list}/conformance-no-such-id")).await,
            cx.get("/ServiceProviderConfig").await,
        ] {
            j.scim_media(&ex);
        }
        let bad = cx
            .send(
                Req::new(Method::POST, list.clone())
                    .header("Content-Type", SCIM_JSON)
                    .raw_body("{"),
            )
            .await;
        j.scim_media(&bad);
        cx.record(&RESPONSE_TYPE, j);
    }
    if cx.wants(&ACCEPT_SCIM) {
        let mut j = Judge::new();
        let ex = cx
            .send(Req::get(list.clone()).header("Accept", SCIM_JSON))
            .await;
        if j.status(&ex, &[200]) {
            j.scim_media(&ex);
        }
        cx.record(&ACCEPT_SCIM, j);
    }
    if cx.wants(&ACCEPT_JSON) {
        let mut j = Judge::new();
        let ex = cx
            .send(Req::get(list.clone()).header("Accept", "application/json"))
            .await;
        if j.status(&ex, &[200]) {
            let mt = ex.media_type().unwrap_or_default();
            j.that(mt == "application/json" || mt == SCIM_JSON, || {
                format!("GET {list} with Accept: application/json: got Content-Type {mt}")
            });
        }
        cx.record(&ACCEPT_JSON, j);
    }
    for (def, ct) in [
        (REQUEST_JSON, "application/json"),
        (REQUEST_CHARSET, "application/scim+json; charset=utf-8"),
    ] {
        if !cx.wants(&def) {
            continue;
        }
        let Some(users) = users.clone() else {
            cx.skip(&def, "the server has no User resource type");
            continue;
        };
        let name = cx.name("media");
        let body = cx.user_body(&name);
        let ex = cx
            .send(Req::json(Method::POST, users.clone(), &body).content_type(Some(ct)))
            .await;
        if let (201, Some(id)) = (ex.status, ex.id()) {
            cx.track(&users, &id);
        }
        let mut j = Judge::new();
        j.status(&ex, &[201]);
        cx.record(&def, j);
    }

    let mut types = Judge::new();
    if cx.wants(&MALFORMED_400) || cx.wants(&SCIM_TYPES) {
        let mut j = Judge::new();
        let ex = cx
            .send(
                Req::new(Method::POST, list.clone())
                    .header("Content-Type", SCIM_JSON)
                    .raw_body("{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"userName\": "),
            )
            .await;
        if j.scim_error(&ex, &[400], &[]) {
            types.error_body(&ex, &["invalidSyntax"]);
        }
        cx.record(&MALFORMED_400, j);
    }
    if cx.wants(&WRONG_SHAPE_400) {
        let mut j = Judge::new();
        for body in ["[1, 2]", "\"a user\""] {
            let ex = cx
                .send(
                    Req::new(Method::POST, list.clone())
                        .header("Content-Type", SCIM_JSON)
                        .raw_body(body),
                )
                .await;
            if let (201, Some(id)) = (ex.status, ex.id()) {
                cx.track(&list, &id);
            }
            j.scim_error(&ex, &[400], &[]);
        }
        cx.record(&WRONG_SHAPE_400, j);
    }
    cx.record(&SCIM_TYPES, types);

    if cx.wants(&UNKNOWN_RESOURCE_404) {
        let mut j = Judge::new();
        let mut endpoints = Vec::new();
        endpoints.extend(cx.users());
        endpoints.extend(cx.groups());
        for e in endpoints {
            let missing = format!("{e}/{}", uuid::Uuid::new_v4());
            let body = if e == list {
                cx.user_body(&cx.prefix.clone())
            } else {
                cx.group_body(&cx.prefix.clone(), &[])
            };
            let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
            for ex in [
                cx.get(&missing).await,
                cx.send_json(Method::PUT, &missing, &body).await,
                cx.send_json(Method::PATCH, &missing, &patch).await,
                cx.send(Req::delete(missing.clone())).await,
            ] {
                j.scim_error(&ex, &[404], &[]);
            }
        }
        cx.record(&UNKNOWN_RESOURCE_404, j);
    }
    if cx.wants(&UNKNOWN_ENDPOINT_404) {
        let mut j = Judge::new();
        let ex = cx.get(&format!("/{}", uuid::Uuid::new_v4())).await;
        j.scim_error(&ex, &[404], &[]);
        cx.record(&UNKNOWN_ENDPOINT_404, j);
    }
    if cx.wants(&ME_501) {
        let mut j = Judge::new();
        let ex = cx.get("/Me").await;
        if ex.status == 200 {
            j.see(&ex);
            j.note("/Me is supported");
        } else {
            j.scim_error(&ex, &[501], &[]);
        }
        cx.record(&ME_501, j);
    }
    cx.skip(
        &REDIRECT_307,
        "a service provider MAY answer 307/308 to send a client elsewhere; nothing a client does provokes one",
    );
    cx.skip(
        &FORBIDDEN_403,
        "needs a credential with fewer rights than the one given (the 403 of discovery filters is checked by discovery.filter-403)",
    );
}

/// Concludes `errors.500-internal` from every exchange recorded in the run so far.
pub fn no_500(cx: &mut Cx) {
    if !cx.wants(&SERVER_500) {
        return;
    }
    let mut j = Judge::new();
    let mut seen = Vec::new();
    for o in cx.outcomes() {
        for ex in &o.exchanges {
            if ex.status >= 500
                && ex.status != 501
                && !seen.iter().any(|(m, p)| *m == ex.method && *p == ex.path)
            {
                seen.push((ex.method.clone(), ex.path.clone()));
                j.see(ex);
                j.fail(format!(
                    "{} {} answered {} (in {})",
                    ex.method, ex.path, ex.status, o.check.id
                ));
            }
        }
    }
    cx.record(&SERVER_500, j);
}
