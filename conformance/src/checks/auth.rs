//! Authentication failures (RFC 7644 §2 and §3.12, RFC 7235, RFC 6750): a missing, wrong or
//! malformed credential is refused with 401, a SCIM Error and a challenge; the scheme name is
//! case-insensitive.

use reqwest::Method;

use crate::cx::Cx;
use crate::http::{qs, Auth, Req};
use crate::judge::Judge;
use crate::model::CheckDef;

check!(
    MISSING,
    "auth.missing-401",
    "RFC 7644 §3.12",
    Must,
    "a request without Authorization answers 401",
    ["auth", "errors"]
);
check!(
    INVALID,
    "auth.invalid-token-401",
    "RFC 7644 §3.12",
    Must,
    "a request with an unknown bearer token answers 401",
    ["auth", "errors"]
);
check!(
    MALFORMED,
    "auth.malformed-401",
    "RFC 7644 §3.12",
    Must,
    "`Bearer` without a token, `Bearer ` , a Basic credential and Okta's `non-token` answer 401",
    ["auth", "errors"]
);
check!(
    ERROR_BODY,
    "auth.error-body",
    "RFC 7644 §3.12",
    Must,
    "every 401 carries a SCIM Error body with \"status\": \"401\" in application/scim+json",
    ["auth", "errors", "media"]
);
check!(CHALLENGE, "auth.www-authenticate", "RFC 7235 §3.1", Must,
    "every 401 carries a WWW-Authenticate challenge (Bearer, for an oauthbearertoken scheme: RFC 6750 §3)", ["auth"]);
check!(
    SCHEME_CASE,
    "auth.scheme-case-insensitive",
    "RFC 7235 §2.1",
    Must,
    "the scheme name is case-insensitive: `bearer <key>` and `BEARER <key>` are accepted",
    ["auth"]
);
check!(
    WRITES,
    "auth.writes-refused",
    "RFC 7644 §2",
    Must,
    "an unauthenticated POST is refused with 401 and creates nothing",
    ["auth"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    MISSING,
    INVALID,
    MALFORMED,
    ERROR_BODY,
    CHALLENGE,
    SCHEME_CASE,
    WRITES,
];

/// Runs the authentication checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let mut paths = Vec::new();
    paths.extend(cx.users());
    paths.extend(cx.groups());
    if paths.is_empty() {
        paths.push("/Users".to_string());
    }
    let bearer_scheme = cx.disc.spc["authenticationSchemes"]
        .as_array()
        .map(|a| {
            a.iter()
                .any(|s| s["type"].as_str() == Some("oauthbearertoken"))
        })
        .unwrap_or(true);

    let mut by_check = [Judge::new(), Judge::new(), Judge::new()];
    let mut body = Judge::new();
    let mut challenge = Judge::new();
    let cases: Vec<(usize, Auth)> = vec![
        (0, Auth::None),
        (
            1,
            Auth::Raw(format!(
                "Bearer conformance-{}",
                uuid::Uuid::new_v4().simple()
            )),
        ),
        (1, Auth::Raw(format!("Bearer {}x", cx.client.token()))),
        (2, Auth::Raw("Bearer".into())),
        (2, Auth::Raw("Bearer ".into())),
        (2, Auth::Raw(format!("Basic {}", cx.client.token()))),
        (2, Auth::Raw("non-token".into())),
    ];
    for p in &paths {
        for (k, auth) in &cases {
            let ex = cx.send(Req::get(p.clone()).auth(auth.clone())).await;
            by_check[*k].status(&ex, &[401]);
            if ex.status == 401 {
                body.error_body(&ex, &[]);
                body.scim_media(&ex);
                let h = ex.header("www-authenticate");
                challenge.see(&ex);
                challenge.that(h.is_some(), || {
                    format!("GET {p}: a 401 without WWW-Authenticate")
                });
                if let (Some(h), true) = (h, bearer_scheme) {
                    challenge.that(
                        h.trim_start().to_ascii_lowercase().starts_with("bearer"),
                        || {
                            format!(
                                "GET {p}: expected a Bearer challenge, got WWW-Authenticate: {h}"
                            )
                        },
                    );
                }
            }
        }
    }
    let [missing, invalid, malformed] = by_check;
    cx.record(&MISSING, missing);
    cx.record(&INVALID, invalid);
    cx.record(&MALFORMED, malformed);
    cx.record(&ERROR_BODY, body);
    cx.record(&CHALLENGE, challenge);

    let mut j = Judge::new();
    for scheme in ["bearer", "BEARER"] {
        let ex = cx
            .send(
                Req::get(paths[0].clone())
                    .auth(Auth::Raw(format!("{scheme} {}", cx.client.token()))),
            )
            .await;
        j.status(&ex, &[200]);
    }
    cx.record(&SCHEME_CASE, j);

    writes(cx).await;
}

async fn writes(cx: &mut Cx) {
    if !cx.wants(&WRITES) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip(&WRITES, "the server has no User resource type");
        return;
    };
    let name = cx.name("unauth");
    let body = cx.user_body(&name);
    let mut j = Judge::new();
    let ex = cx
        .send(Req::json(Method::POST, users.clone(), &body).auth(Auth::None))
        .await;
    if ex.status == 201 {
        if let Some(id) = ex.id() {
            cx.track(&users, &id);
        }
    }
    j.status(&ex, &[401]);
    if cx.disc.features.filter || !cx.discovered {
        let f = format!("userName eq \"{name}\"");
        let look = cx.get(&format!("{users}?filter={}", qs(&f))).await;
        if look.status == 200 {
            j.see(&look);
            j.that(look.body()["totalResults"].as_u64() == Some(0), || {
                format!(
                    "after the refused POST, {} finds the user: it was created",
                    look.path
                )
            });
        }
    }
    cx.record(&WRITES, j);
}
