//! The change feed (`/admin/v1/events`): one event per change, in order, gap-free, with what the
//! history shows and the resource as the change left it; long-polling; its errors and who may
//! read it.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{patch_op, user_body, Api, Reply, TestServer};

/// The default tenant's change feed with an operator's admin key.
async fn feed(s: &TestServer, admin: &str, query: &str) -> Reply {
    let url = format!("{}/admin/v1/events{query}", s.origin);
    s.call(Method::GET, &url, Some(admin), None).await
}

/// Every event after `after`, following `next` to the end.
async fn all_events(s: &TestServer, admin: &str, mut after: u64) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let r = feed(s, admin, &format!("?after={after}&limit=2")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let page = r.body["events"].as_array().expect("events").clone();
        if page.is_empty() {
            assert_eq!(r.body["next"], after, "an empty page keeps the cursor");
            return events;
        }
        let next = r.body["next"].as_u64().expect("next");
        assert!(next > after, "the cursor moves on: {}", r.text);
        after = next;
        events.extend(page);
    }
}

#[tokio::test]
async fn a_onelogin_sequence_yields_one_event_per_change_in_order() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let (onelogin, key) = s.mint("OneLogin", false).await;
    let scim = |method: Method, path: String, body: Option<Value>| {
        let (s, key) = (&s, &key);
        async move {
            s.call(method, &s.url(&path), Some(key.as_str()), body.as_ref())
                .await
        }
    };
    // Create, as OneLogin assigns the app (with a password, which no event may carry).
    let mut body = user_body("ol.jdoe");
    body["password"] = json!("Sup3r-secret-pw");
    body["title"] = json!("Engineer");
    let r = scim(Method::POST, "/Users".into(), Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let jdoe = r.id();
    let user = format!("/Users/{jdoe}");
    // Update: OneLogin sends the whole user again.
    body["title"] = json!("Principal Engineer");
    let r = scim(Method::PUT, user.clone(), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Suspend and reactivate.
    for active in [false, true] {
        let op = patch_op(json!([{"op": "replace", "path": "active", "value": active}]));
        let r = scim(Method::PATCH, user.clone(), Some(op)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // A group pushed from a role, then one PATCH to add the member and one to remove it.
    let group_body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "ol-Engineering"});
    let r = scim(Method::POST, "/Groups".into(), Some(group_body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let eng = r.id();
    let group = format!("/Groups/{eng}");
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": jdoe}]}]));
    let remove = patch_op(json!([{"op": "remove",
        "path": format!("members[value eq \"{jdoe}\"]")}]));
    for op in [add, remove] {
        let r = scim(Method::PATCH, group.clone(), Some(op)).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    // A change that changes nothing is no change, and has no event.
    let same = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
    let r = scim(Method::PATCH, user.clone(), Some(same)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Deprovisioned.
    let r = scim(Method::DELETE, user.clone(), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let events = all_events(&s, &admin, 0).await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.updated",
            "user.suspended",
            "user.reactivated",
            "group.created",
            "group.updated",
            "group.updated",
            "user.deleted"
        ],
        "{events:#?}"
    );
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains("Sup3r-secret-pw"), "a password in the feed");
    let mut ids = std::collections::BTreeSet::new();
    let mut last_seq = 0;
    for e in &events {
        assert!(ids.insert(e["id"].as_str().expect("id").to_string()));
        let seq = e["seq"].as_u64().expect("seq");
        assert!(seq > last_seq, "in feed order");
        last_seq = seq;
        assert_eq!(e["tenant"], "default");
        assert_eq!(
            e["actor"],
            json!({"name": "Scim System User", "keyId": onelogin.id, "keyLabel": "OneLogin"})
        );
        assert!(e["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(e["requestId"].is_string(), "{e}");
    }
    let on_user: Vec<&Value> = events
        .iter()
        .filter(|e| e["resourceType"] == "User")
        .collect();
    assert!(on_user.iter().all(|e| e["resourceId"] == jdoe.as_str()));
    let change = |e: &Value, attribute: &str| {
        e["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["attribute"] == attribute)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Created: the resource as stored, with its profile.
    let created = &events[0];
    assert_eq!(created["data"]["id"], jdoe.as_str());
    assert_eq!(created["data"]["userName"], "ol.jdoe");
    assert_eq!(created["data"]["meta"]["version"], "W/\"1\"");
    assert_eq!(
        created["profile"],
        json!({"displayName": "Given Family", "role": "Everyone", "status": "active"})
    );
    // Updated: from what to what, and the resource after it.
    assert_eq!(
        change(&events[1], "title"),
        json!({"attribute": "title", "before": "Engineer", "after": "Principal Engineer"})
    );
    assert_eq!(events[1]["data"]["title"], "Principal Engineer");
    assert_eq!(
        change(&events[2], "active"),
        json!({"attribute": "active", "before": true, "after": false})
    );
    assert_eq!(events[2]["data"]["active"], false);
    assert_eq!(events[2]["profile"]["status"], "suspended");
    assert_eq!(events[3]["data"]["active"], true);
    assert_eq!(events[3]["profile"]["status"], "active");
    // The group's events list the members added and removed.
    assert_eq!(events[4]["resourceId"], eng.as_str());
    assert_eq!(events[4]["members"], json!({"added": [], "removed": []}));
    assert_eq!(events[4]["data"]["displayName"], "ol-Engineering");
    let member = json!([{"value": jdoe, "type": "User"}]);
    assert_eq!(
        events[5]["members"],
        json!({"added": member, "removed": []})
    );
    assert_eq!(
        events[6]["members"],
        json!({"added": [], "removed": member})
    );
    // Deleted: what it was, and no resource.
    assert_eq!(events[7]["data"], Value::Null);
    assert_eq!(
        change(&events[7], "userName"),
        json!({"attribute": "userName", "before": "ol.jdoe"})
    );
    assert!(events[7].get("profile").is_none(), "{}", events[7]);
    // The audit feed and histories stay as they were: the event is the change feed's.
    let audit = format!("{}/admin/v1/audit?limit=1000", s.origin);
    let r = s.call(Method::GET, &audit, Some(&admin), None).await;
    assert!(!r.text.contains("\"event\""), "{}", r.text);
}

#[tokio::test]
async fn a_waiting_request_answers_as_soon_as_an_event_commits() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let first = s.user("wait.first").await;
    let page = feed(&s, &admin, "").await;
    assert_eq!(page.body["events"][0]["resourceId"], first.as_str());
    let cursor = page.body["next"].as_u64().expect("next");
    // Nothing new: the request waits its whole time, then answers an empty page.
    let started = Instant::now();
    let r = feed(&s, &admin, &format!("?after={cursor}&wait=1")).await;
    let waited = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"events": [], "next": cursor}));
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // An event that commits while it waits is answered at once.
    let origin = s.origin.clone();
    let client = s.client.clone();
    let key = admin.clone();
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let r = client
            .get(format!("{origin}/admin/v1/events?after={cursor}&wait=20"))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        let body: Value = r.json().await.expect("json");
        (body, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = s.user("wait.second").await;
    let (body, took) = waiting.await.expect("the waiting request");
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["events"][0]["type"], "user.created");
    assert_eq!(body["events"][0]["resourceId"], second.as_str());
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    // A minted key is in the feed but is no event: a waiting request passes over it.
    let cursor = body["next"].as_u64().expect("next");
    s.mint("not an event", false).await;
    let r = feed(&s, &admin, &format!("?after={cursor}&wait=1")).await;
    assert_eq!(r.body["events"], json!([]), "{}", r.text);
    assert!(r.body["next"].as_u64() > Some(cursor), "{}", r.text);
}

#[tokio::test]
async fn bad_feed_requests_are_refused_as_scim_errors() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    for query in ["?after=x", "?limit=-1", "?wait=31", "?wait=soon"] {
        feed(&s, &admin, query)
            .await
            .assert_error(400, Some("invalidValue"));
    }
    // A SCIM key is no admin key; no key is none.
    feed(&s, &s.key, "").await.assert_error(403, None);
    let url = format!("{}/admin/v1/events", s.origin);
    s.call(Method::GET, &url, None, None)
        .await
        .assert_error(401, None);
    // Refused requests change nothing: the feed holds no event.
    let r = feed(&s, &admin, "").await;
    assert_eq!(r.body["events"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn each_tenant_reads_its_own_events_only() {
    let s = TestServer::start().await;
    let acme = s.tenant("acme").await;
    let globex = s.tenant("globex").await;
    for (t, name) in [(&acme, "ev.acme"), (&globex, "ev.globex")] {
        let r = s
            .on(t, Api::Scim, Method::POST, "/Users", Some(&user_body(name)))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = s.on(&acme, Api::Admin, Method::GET, "/events", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events = r.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", r.text);
    assert_eq!(events[0]["tenant"], "acme");
    assert_eq!(events[0]["data"]["userName"], "ev.acme");
    assert!(
        events[0]["data"]["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.contains("/t/acme/scim/v2/Users/")),
        "{}",
        r.text
    );
    assert!(!r.text.contains("ev.globex"), "{}", r.text);
    // acme's administrator reads neither globex's feed nor the default tenant's.
    let url = format!("{}/events", globex.admin_api);
    let r = s.call(Method::GET, &url, Some(&acme.admin), None).await;
    r.assert_error(401, None);
    let url = format!("{}/admin/v1/events", s.origin);
    let r = s.call(Method::GET, &url, Some(&acme.admin), None).await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert!(!r.text.contains("ev.globex") && !r.text.contains("ev.acme"));
}

/// Reads a server-sent events stream until `n` events are in (or 10 s pass): each as its
/// `id`, `event` and parsed `data`.
async fn read_stream(mut r: reqwest::Response, n: usize) -> Vec<(String, String, Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !data.is_empty() {
                out.push((id, kind, serde_json::from_str(&data).expect("JSON data")));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_feed_streams_as_server_sent_events_and_resumes_from_the_last_event_id() {
    let s = TestServer::start().await;
    let (_, admin) = s.mint("Ada (admin)", true).await;
    let stream_url = format!("{}/admin/v1/events/stream", s.origin);
    let open = |last: Option<String>| {
        let mut req = s.client.get(&stream_url).bearer_auth(&admin);
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id);
        }
        req.send()
    };
    let r = open(None).await.expect("the stream opens");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    // Events committed after the stream opened arrive on it.
    let id = s.user("alice").await;
    let p = s
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let got = read_stream(r, 2).await;
    let feed = all_events(&s, &admin, 0).await;
    assert_eq!(got.len(), 2, "{got:?}");
    for ((sse_id, kind, data), event) in got.iter().zip(&feed) {
        assert_eq!(data, event, "the same body the feed serves");
        assert_eq!(sse_id, &event["seq"].to_string());
        assert_eq!(kind, event["type"].as_str().expect("type"));
    }
    // A client that reconnects with Last-Event-ID gets what followed only.
    s.delete(&format!("/Users/{id}")).await;
    let again = open(Some(got[0].0.clone())).await.expect("reopens");
    let rest = read_stream(again, 2).await;
    let kinds: Vec<&str> = rest.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["user.suspended", "user.deleted"]);
    // A malformed Last-Event-ID, and a SCIM key, are refused as SCIM errors.
    let bad = open(Some("yesterday".into())).await.expect("answers");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/scim+json")
    );
    let scim = s
        .client
        .get(&stream_url)
        .bearer_auth(&s.key)
        .send()
        .await
        .expect("answers");
    assert_eq!(scim.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_tenant_s_stream_carries_its_own_events_only() {
    let s = TestServer::start().await;
    let acme = s.tenant("acme").await;
    let r = s
        .client
        .get(format!("{}/events/stream", acme.admin_api))
        .bearer_auth(&acme.admin)
        .send()
        .await
        .expect("opens");
    assert_eq!(r.status(), StatusCode::OK);
    s.user("default-user").await;
    let created = s
        .client
        .post(format!("{}/Users", acme.base))
        .bearer_auth(&acme.key)
        .header("content-type", "application/scim+json")
        .body(user_body("acme-user").to_string())
        .send()
        .await
        .expect("creates");
    assert_eq!(created.status(), StatusCode::CREATED);
    let got = read_stream(r, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2["tenant"], "acme");
    assert_eq!(got[0].2["data"]["userName"], "acme-user");
}
