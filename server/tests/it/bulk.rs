//! Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, and limits enforced before anything runs.

use serde_json::{json, Value};

use crate::support::TestServer;

fn bulk(fail_on_errors: Option<u64>, ops: Value) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    body
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

#[tokio::test]
async fn a_group_can_hold_users_created_later_in_the_same_request() {
    let s = TestServer::start().await;
    let r = s
        .post(
            "/Bulk",
            bulk(None, json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "Bulk team", "members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk.a")},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk.b")}
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().expect("operations");
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{}", r.text);
    let location = |bulk_id: &str| -> String {
        ops.iter()
            .find(|o| o["bulkId"] == bulk_id)
            .and_then(|o| o["location"].as_str())
            .expect("location")
            .to_string()
    };
    let group = s
        .client
        .get(location("g"))
        .bearer_auth(&s.key)
        .send()
        .await
        .expect("get")
        .json::<Value>()
        .await
        .expect("json");
    let mut members: Vec<String> = group["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().unwrap_or("").to_string())
        .collect();
    members.sort();
    let mut want: Vec<String> = ["a", "b"]
        .iter()
        .map(|b| location(b).rsplit('/').next().unwrap_or("").to_string())
        .collect();
    want.sort();
    assert_eq!(members, want);
    assert!(ops.iter().all(|o| o["version"] == "W/\"1\""));
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_errors() {
    let s = TestServer::start().await;
    s.user("taken").await;
    let r = s
        .post(
            "/Bulk",
            bulk(Some(1), json!([
                {"method": "POST", "path": "/Users", "bulkId": "x", "data": user("TAKEN")},
                {"method": "POST", "path": "/Users", "bulkId": "y", "data": user("never.created")}
            ])),
        )
        .await;
    assert_eq!(r.status, 200);
    let ops = r.body["Operations"].as_array().expect("operations");
    assert_eq!(ops.len(), 1, "{}", r.text);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(
        s.get("/Users?filter=userName+eq+%22never.created%22")
            .await
            .body["totalResults"],
        0
    );
}

#[tokio::test]
async fn without_fail_on_errors_every_operation_runs_and_reports() {
    let s = TestServer::start().await;
    let id = s.user("editable").await;
    let r = s
        .post(
            "/Bulk",
            bulk(None, json!([
                {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"9\"", "data": user("editable")},
                {"method": "PATCH", "path": format!("/Users/{id}"), "data":
                    {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:nobody"}]}},
                {"method": "DELETE", "path": "/Users/does-not-exist"},
                {"method": "DELETE", "path": format!("/Users/{id}")},
                {"method": "POST", "path": "/Nope", "bulkId": "n", "data": {}}
            ])),
        )
        .await;
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .expect("ops")
        .iter()
        .filter_map(|o| o["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["412", "200", "409", "404", "204", "404"],
        "{}",
        r.text
    );
    assert_eq!(
        r.body["Operations"][2]["response"]["scimType"],
        "invalidValue"
    );
    s.get(&format!("/Users/{id}")).await.assert_error(404, None);
}

#[tokio::test]
async fn limits_are_enforced_before_any_operation_runs() {
    let s = TestServer::start_with(|c| {
        c.bulk_max_operations = 2;
        c.max_body_bytes = 2048;
    })
    .await;
    let three = bulk(
        None,
        json!([
            {"method": "POST", "path": "/Users", "bulkId": "1", "data": user("one")},
            {"method": "POST", "path": "/Users", "bulkId": "2", "data": user("two")},
            {"method": "POST", "path": "/Users", "bulkId": "3", "data": user("three")}
        ]),
    );
    s.post("/Bulk", three).await.assert_error(413, None);
    let mut big = user("big");
    big["title"] = json!("x".repeat(4000));
    s.post(
        "/Bulk",
        bulk(
            None,
            json!([{"method": "POST", "path": "/Users", "bulkId": "1", "data": big}]),
        ),
    )
    .await
    .assert_error(413, None);
    assert_eq!(s.get("/Users").await.body["totalResults"], 0, "nothing ran");
    let spc = s.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["bulk"]["maxOperations"], 2);
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], 2048);
    s.post(
        "/Bulk",
        json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
}
