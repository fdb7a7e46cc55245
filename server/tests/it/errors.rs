//! Error shapes and media types: every error is a SCIM Error in application/scim+json.

use reqwest::Method;
use serde_json::json;

use crate::support::{user_body, Reply, TestServer, SCIM};

async fn raw(
    s: &TestServer,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut r = s.req(method, path).body(body.to_string());
    if let Some(ct) = content_type {
        r = r.header("Content-Type", ct);
    }
    Reply::from(r.send().await.expect("request")).await
}

#[tokio::test]
async fn json_and_scim_json_are_accepted_with_or_without_charset() {
    let s = TestServer::start().await;
    for (i, ct) in [
        Some("application/scim+json"),
        Some("application/json"),
        Some("application/scim+json; charset=utf-8"),
        Some("application/json;charset=UTF-8"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let r = raw(
            &s,
            Method::POST,
            "/Users",
            ct,
            &user_body(&format!("ct{i}")).to_string(),
        )
        .await;
        assert_eq!(r.status, 201, "{ct:?}: {}", r.text);
        assert_eq!(r.header("content-type"), Some(SCIM));
    }
    raw(&s, Method::POST, "/Users", Some("text/plain"), "{}")
        .await
        .assert_error(415, None);
    raw(
        &s,
        Method::POST,
        "/Users",
        Some("application/x-www-form-urlencoded"),
        "a=b",
    )
    .await
    .assert_error(415, None);
}

#[tokio::test]
async fn malformed_or_wrongly_typed_bodies_are_400_and_change_nothing() {
    let s = TestServer::start().await;
    raw(&s, Method::POST, "/Users", Some(SCIM), "{\"userName\": ")
        .await
        .assert_error(400, Some("invalidSyntax"));
    raw(&s, Method::POST, "/Users", Some(SCIM), "")
        .await
        .assert_error(400, Some("invalidSyntax"));
    raw(&s, Method::POST, "/Users", Some(SCIM), "[1,2]")
        .await
        .assert_error(400, Some("invalidSyntax"));
    s.post("/Users", json!({"userName": 5}))
        .await
        .assert_error(400, Some("invalidValue"));
    s.post("/Users", json!({"userName": "x", "active": [true, false]}))
        .await
        .assert_error(400, Some("invalidValue"));
    s.post("/Users", json!({"name": {"givenName": "no userName"}}))
        .await
        .assert_error(400, Some("invalidValue"));
    s.post("/Users", json!({"userName": ""}))
        .await
        .assert_error(400, Some("invalidValue"));
    s.post("/Users", json!({"userName": "x", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}))
        .await
        .assert_error(400, Some("invalidValue"));
    let r = s.get("/Users").await;
    assert_eq!(r.body["totalResults"], 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 1024).await;
    let mut body = user_body("big");
    body["title"] = json!("x".repeat(4096));
    s.post("/Users", body).await.assert_error(413, None);
}

#[tokio::test]
async fn malformed_query_numbers_are_400_never_ignored() {
    let s = TestServer::start().await;
    for q in ["count=abc", "startIndex=x", "count=1.5"] {
        s.get(&format!("/Users?{q}"))
            .await
            .assert_error(400, Some("invalidValue"));
    }
}

#[tokio::test]
async fn rocket_s_own_answers_are_scim_errors() {
    let s = TestServer::start().await;
    s.get("/Users/does-not-exist").await.assert_error(404, None);
    s.get("/Nope").await.assert_error(404, None);
    s.get("/a/b/c").await.assert_error(404, None);
    s.delete("/Users").await.assert_error(405, None);
    s.send(Method::PUT, "/Groups", Some(json!({})))
        .await
        .assert_error(405, None);
    s.post("/ServiceProviderConfig", json!({}))
        .await
        .assert_error(405, None);
    s.get("/Me").await.assert_error(501, None);
    // Outside the SCIM base path, without credentials.
    let r = Reply::from(
        s.client
            .get(s.url("/../../elsewhere"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(r.header("content-type"), Some(SCIM));
    // Every response carries a request id.
    assert!(s.get("/Users").await.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_huge_value_is_not_echoed_in_errors() {
    let s = TestServer::start().await;
    let huge = "q".repeat(5000);
    let r = s.get(&format!("/Users?count={huge}")).await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.text.len() < 600,
        "detail is bounded: {} bytes",
        r.text.len()
    );
}

#[tokio::test]
async fn a_405_names_the_methods_the_resource_takes() {
    let s = TestServer::start().await;
    for (method, path, allow) in [
        (Method::DELETE, "/Users", "GET, POST"),
        (Method::PUT, "/Groups", "GET, POST"),
        (Method::POST, "/Users/some-id", "GET, PUT, PATCH, DELETE"),
        (Method::POST, "/ServiceProviderConfig", "GET"),
        (Method::GET, "/Bulk", "POST"),
    ] {
        let r = s.send(method.clone(), path, Some(json!({}))).await;
        r.assert_error(405, None);
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
}

/// The NUL character (U+0000) is refused wherever a client can send text, with a 400 that
/// changes nothing, on every engine (PostgreSQL cannot store it; no client means it).
#[tokio::test]
async fn the_nul_character_is_refused_and_changes_nothing() {
    let s = TestServer::start().await;
    let id = s.user("nul.before").await;
    let mut body = user_body("nul.user");
    body["displayName"] = json!("a\u{0}b");
    s.post("/Users", body.clone())
        .await
        .assert_error(400, Some("invalidValue"));
    body["displayName"] = json!("fine");
    body["userName"] = json!("nul\u{0}user");
    s.post("/Users", body)
        .await
        .assert_error(400, Some("invalidValue"));
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x\u{0}"}]
    });
    s.patch(&format!("/Users/{id}"), patch)
        .await
        .assert_error(400, Some("invalidValue"));
    s.get("/Users?filter=userName%20eq%20%22a%5Cu0000%22")
        .await
        .assert_error(400, Some("invalidFilter"));
    s.get("/Users/a%00b").await.assert_error(404, None);
    let all = s.get("/Users").await;
    assert_eq!(all.body["totalResults"], 1, "{}", all.text);
    let user = s.get(&format!("/Users/{id}")).await;
    assert_eq!(user.body["meta"]["version"], "W/\"1\"", "{}", user.text);
    assert_eq!(
        s.revisions_of(scim_core::model::Kind::User, &id)
            .await
            .len(),
        1
    );
}
