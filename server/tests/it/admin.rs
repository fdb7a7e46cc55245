//! The admin API, the revision history and the product's provisioning policies (display name
//! at the first sync only, the "Everyone" role, suspend and reactivate), and key separation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{patch_op, user_body, Reply, TestServer};

struct Console<'a> {
    s: &'a TestServer,
    key: String,
}

impl<'a> Console<'a> {
    async fn new(s: &'a TestServer) -> Self {
        let (_, key) = s.mint("Ada (admin)", true).await;
        Console { s, key }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut r = self
            .s
            .client
            .request(method, format!("{}/admin/v1{path}", self.s.origin))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        Reply::from(r.send().await.expect("request")).await
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.send(Method::GET, path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"));
        r.body
    }
}

fn actions(history: &Value) -> Vec<String> {
    history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn every_kind_of_change_is_in_the_history_with_its_actor_and_diff() {
    let s = TestServer::start().await;
    let admin = Console::new(&s).await;
    let id = s.user("history").await;
    let path = format!("/Users/{id}");
    let mut body = user_body("history");
    body["title"] = json!("Engineer");
    assert_eq!(s.put(&path, body).await.status, 200);
    s.patch(
        &path,
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    s.patch(
        &path,
        patch_op(json!([{"op": "replace", "value": {"active": true}}])),
    )
    .await;
    let g = s.group("Historians", &[&id]).await;
    s.patch(
        &format!("/Groups/{g}"),
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
    )
    .await;
    s.delete(&path).await;

    // The user is gone; its history is not. Newest first.
    let h = admin.get(&format!("/users/{id}/history")).await;
    assert_eq!(
        actions(&h),
        [
            "delete",
            "patch",
            "create",
            "reactivate",
            "suspend",
            "replace",
            "create"
        ]
    );
    let entries = h["entries"].as_array().expect("entries");
    // The group's create and member removal appear in the user's history, targeting the group.
    assert_eq!(entries[1]["target_type"], "Group");
    assert_eq!(entries[2]["target_type"], "Group");
    for e in entries {
        assert_eq!(e["actor"]["name"], "Scim System User");
        assert_eq!(e["actor"]["key_label"], "initial key");
        assert!(e["actor"]["key_id"].as_str().is_some());
        assert!(e["request_id"].as_str().is_some());
        assert!(e["seq"].as_u64().is_some_and(|n| n > 0));
    }
    let suspend = &entries[4];
    assert_eq!(
        suspend["changes"],
        json!([{"attribute": "active", "before": true, "after": false}])
    );
    let replace = &entries[5];
    assert_eq!(
        replace["changes"],
        json!([{"attribute": "title", "after": "Engineer"}])
    );
    let delete = &entries[0];
    assert!(delete["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .any(|c| c["attribute"] == "userName" && c["before"] == "history"));
    let gh = admin.get(&format!("/groups/{g}/history")).await;
    assert_eq!(actions(&gh), ["patch", "create"]);
    assert_eq!(
        gh["entries"][0]["changes"],
        json!([{"attribute": "members", "before": [id]}])
    );
}

#[tokio::test]
async fn the_display_name_is_set_at_the_first_sync_and_then_belongs_to_administrators() {
    let s = TestServer::start().await;
    let admin = Console::new(&s).await;
    let mut body = user_body("policy");
    body["name"] = json!({"givenName": "Grace", "familyName": "Hopper"});
    body["displayName"] = json!("Amazing Grace");
    let id = s.post("/Users", body.clone()).await.id();
    let u = admin.get(&format!("/users/{id}")).await;
    assert_eq!(
        u["displayName"], "Grace Hopper",
        "from the names, not the SCIM displayName"
    );
    assert_eq!(u["role"], "Everyone");
    assert_eq!(u["status"], "active");
    assert_eq!(
        u["scim"]["displayName"], "Amazing Grace",
        "the SCIM resource stays what the IdP sent"
    );

    // Later IdP changes never touch it.
    body["name"] = json!({"givenName": "Rear Admiral", "familyName": "Hopper"});
    assert_eq!(
        s.put(&format!("/Users/{id}"), body.clone()).await.status,
        200
    );
    assert_eq!(
        admin.get(&format!("/users/{id}")).await["displayName"],
        "Grace Hopper"
    );

    // An administrator can; the change is theirs in the history.
    let r = admin
        .send(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"displayName": "Admiral Hopper"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Admiral Hopper");
    s.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "name.givenName", "value": "G."}])),
    )
    .await;
    assert_eq!(
        admin.get(&format!("/users/{id}")).await["displayName"],
        "Admiral Hopper"
    );
    let h = admin.get(&format!("/users/{id}/history")).await;
    let edit = h["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "profile")
        .expect("admin edit")
        .clone();
    assert_eq!(edit["actor"]["name"], "Ada (admin)");
    assert_eq!(
        edit["changes"],
        json!([{"attribute": "profile.displayName", "before": "Grace Hopper", "after": "Admiral Hopper"}])
    );

    // Suspension shows in the status.
    s.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await;
    assert_eq!(
        admin.get(&format!("/users/{id}")).await["status"],
        "suspended"
    );

    // Fallbacks: displayName, then userName.
    let id2 = s
        .post("/Users", json!({"userName": "only.username"}))
        .await
        .id();
    assert_eq!(
        admin.get(&format!("/users/{id2}")).await["displayName"],
        "only.username"
    );
    let id3 = s
        .post("/Users", json!({"userName": "dn", "displayName": "Shown"}))
        .await
        .id();
    assert_eq!(
        admin.get(&format!("/users/{id3}")).await["displayName"],
        "Shown"
    );
    let list = admin.get("/users?count=2").await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["users"].as_array().map(Vec::len), Some(2));
    admin
        .send(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"displayName": ""})),
        )
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn a_concurrent_burst_records_exactly_one_entry_per_committed_change() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let id = s.user("burst").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (s, id) = (std::sync::Arc::clone(&s), id.clone());
        tasks.push(tokio::spawn(async move {
            let value = if i % 3 == 0 {
                json!("same")
            } else {
                json!(format!("title {i}"))
            };
            s.patch(
                &format!("/Users/{id}"),
                patch_op(json!([{"op": "replace", "path": "title", "value": value}])),
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task").status, 200);
    }
    let final_version: u64 = s.get(&format!("/Users/{id}")).await.body["meta"]["version"]
        .as_str()
        .and_then(|v| {
            v.trim_start_matches("W/\"")
                .trim_end_matches('"')
                .parse()
                .ok()
        })
        .expect("version");
    let entries = s.revisions_of(scim_core::model::Kind::User, &id).await;
    // One entry per version: the create, then one per change that changed something.
    assert_eq!(entries.len() as u64, final_version);
    let mut seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), entries.len(), "no entry twice");
}

#[tokio::test]
async fn keys_are_kept_apart_and_managed_by_administrators() {
    let s = TestServer::start().await;
    let admin = Console::new(&s).await;
    // A SCIM key on the admin API: 403.
    let r = Reply::from(
        s.client
            .get(format!("{}/admin/v1/users", s.origin))
            .bearer_auth(&s.key)
            .send()
            .await
            .expect("request"),
    )
    .await;
    r.assert_error(403, None);
    let r = Reply::from(
        s.client
            .get(format!("{}/admin/v1/users", s.origin))
            .send()
            .await
            .expect("request"),
    )
    .await;
    r.assert_error(401, None);
    // Mint, use, list, revoke.
    let created = admin
        .send(Method::POST, "/keys", Some(json!({"label": "okta"})))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.body["key"]
        .as_str()
        .expect("the key, once")
        .to_string();
    let key_id = created.body["info"]["id"].as_str().expect("id").to_string();
    let use_it = || async {
        s.client
            .get(s.url("/Users"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(use_it().await, 200);
    let listed = admin.get("/keys").await;
    let text = listed.to_string();
    assert!(
        text.contains("okta") && !text.contains(&key),
        "a listing never shows keys"
    );
    let okta = listed
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .expect("listed")
        .clone();
    assert!(okta["last_used"].as_str().is_some(), "last use shown");
    let r = admin
        .send(Method::DELETE, &format!("/keys/{key_id}"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(use_it().await, 401);
    // Minting and revoking are in the audit feed, with the administrator as actor.
    let feed = admin.get("/audit?after=0&limit=1000").await;
    let acts: Vec<(&str, &str)> = feed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target_id"] == key_id.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["actor"]["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        acts,
        [("key.create", "Ada (admin)"), ("key.revoke", "Ada (admin)")]
    );
}

#[tokio::test]
async fn the_audit_feed_pages_by_sequence_number() {
    let s = TestServer::start().await;
    let admin = Console::new(&s).await;
    for i in 0..5 {
        s.user(&format!("feed{i}")).await;
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = admin.get(&format!("/audit?after={after}&limit=2")).await;
        let entries = page["entries"].as_array().expect("entries").clone();
        if entries.is_empty() {
            break;
        }
        assert!(entries.len() <= 2);
        seen.extend(entries.iter().map(|e| e["seq"].as_u64().expect("seq")));
        after = page["next"].as_u64().expect("next");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first");
    // The tenant's first key minted and five users; the operator's admin key is in the
    // operator's feed.
    assert_eq!(seen.len(), 6);
    let operator = admin.get("/operator/audit").await;
    let actions: Vec<&str> = operator["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"key.create"), "{operator}");
    admin
        .send(Method::GET, "/audit?after=x", None)
        .await
        .assert_error(400, Some("invalidValue"));
    admin
        .send(Method::GET, "/users/nope/history", None)
        .await
        .assert_error(404, None);
}

/// The names of an object's fields, in order.
fn fields(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn every_answer_keeps_its_field_names_order_and_types() {
    let s = TestServer::start().await;
    let admin = Console::new(&s).await;
    let id = s.user("shape").await;
    let summary = [
        "id",
        "userName",
        "displayName",
        "role",
        "status",
        "created",
        "lastModified",
    ];

    let list = admin.get("/users").await;
    assert_eq!(fields(&list), ["total", "startIndex", "users"]);
    assert_eq!(
        (list["total"].as_u64(), list["startIndex"].as_u64()),
        (Some(1), Some(1))
    );
    let row = &list["users"][0];
    assert_eq!(fields(row), summary);
    assert_eq!(row["userName"], "shape");
    for f in [
        "id",
        "displayName",
        "role",
        "status",
        "created",
        "lastModified",
    ] {
        assert!(row[f].is_string(), "{f}: {row}");
    }

    let detail = admin.get(&format!("/users/{id}")).await;
    let mut with_scim = summary.to_vec();
    with_scim.push("scim");
    assert_eq!(fields(&detail), with_scim);
    assert_eq!(detail["scim"]["id"], id.as_str());

    let r = admin
        .send(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"displayName": "Shaped"})),
        )
        .await;
    assert_eq!(fields(&r.body), summary, "{}", r.text);

    let h = admin.get(&format!("/users/{id}/history?count=1")).await;
    assert_eq!(fields(&h), ["total", "startIndex", "entries"]);
    assert_eq!(h["total"], 2);
    assert_eq!(h["entries"].as_array().map(Vec::len), Some(1));

    let feed = admin.get("/audit?limit=1").await;
    assert_eq!(fields(&feed), ["entries", "next"]);
    assert!(feed["next"].as_u64().is_some_and(|n| n > 0));

    let minted = admin
        .send(
            Method::POST,
            "/keys",
            Some(json!({"label": "shape", "admin": true})),
        )
        .await;
    assert_eq!(fields(&minted.body), ["key", "info"]);
    let info = ["id", "label", "admin", "created", "last_used", "revoked"];
    assert_eq!(fields(&minted.body["info"]), info);
    assert_eq!(minted.body["info"]["admin"], true);
    assert!(minted.body["info"]["last_used"].is_null());
    assert!(minted.body["info"]["revoked"].is_null());
    // An operator's key belongs to no tenant; a tenant's keys name theirs.
    let listed = admin.get("/keys").await;
    let with_tenant = [&info[..], &["tenant"]].concat();
    for k in listed.as_array().expect("keys") {
        if k["tenant"].is_null() {
            assert_eq!(fields(k), info);
        } else {
            assert_eq!(fields(k), with_tenant);
            assert_eq!(k["tenant"], "default");
        }
    }
    let revoked = admin
        .send(
            Method::DELETE,
            &format!("/keys/{}", minted.body["info"]["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(fields(&revoked.body), info);
    assert!(revoked.body["revoked"].is_string());
}
