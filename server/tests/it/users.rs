//! Users: RFC 7644 §3.3 to §3.6 and the resource rules of RFC 7643.

use serde_json::json;

use crate::support::{user_body, TestServer, SCIM};

#[tokio::test]
async fn create_returns_201_with_location_etag_and_the_full_resource() {
    let s = TestServer::start().await;
    let mut body = user_body("jdoe");
    body["id"] = json!("client-chosen");
    body["meta"] = json!({"version": "W/\"99\""});
    body["groups"] = json!([{"value": "nope"}]);
    body["password"] = json!("Sup3rSecret!");
    let r = s.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("content-type"), Some(SCIM));
    let id = r.id();
    assert_ne!(id, "client-chosen", "the server assigns ids");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a UUID");
    assert_eq!(
        r.header("location"),
        Some(format!("{}/Users/{id}", s.base).as_str())
    );
    assert_eq!(r.body["meta"]["location"], format!("{}/Users/{id}", s.base));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(r.body["meta"]["version"], "W/\"1\"");
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(r.body["meta"]["created"].as_str().is_some());
    assert!(r.body["meta"]["lastModified"].as_str().is_some());
    assert_eq!(r.body["name"]["givenName"], "Given");
    assert!(
        r.body.get("password").is_none(),
        "password is never returned"
    );
    assert!(r.body.get("groups").is_none(), "groups is read-only");
    assert!(!r.text.contains("Sup3rSecret!"));
    let got = s.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, r.body);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
}

#[tokio::test]
async fn the_password_is_never_stored() {
    let s = TestServer::start().await;
    let mut body = user_body("pw");
    body["password"] = json!("Pa55-w0rd-marker");
    let id = s.post("/Users", body).await.id();
    let record = s
        .part
        .get(scim_core::model::Kind::User, &id)
        .await
        .expect("get")
        .expect("record");
    assert!(!serde_json::to_string(&record)
        .expect("json")
        .contains("Pa55-w0rd-marker"));
    let revs = s.revisions_of(scim_core::model::Kind::User, &id).await;
    assert!(!serde_json::to_string(&revs)
        .expect("json")
        .contains("Pa55-w0rd-marker"));
}

#[tokio::test]
async fn user_name_is_unique_regardless_of_case_and_reusable_after_delete() {
    let s = TestServer::start().await;
    let id = s.user("Alice@Example.com").await;
    s.post("/Users", user_body("alice@example.COM"))
        .await
        .assert_error(409, Some("uniqueness"));
    let r = s.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 204);
    assert!(r.text.is_empty());
    s.get(&format!("/Users/{id}")).await.assert_error(404, None);
    s.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
    let again = s.user("ALICE@example.com").await;
    assert_ne!(again, id, "a new id");
}

#[tokio::test]
async fn external_id_is_case_exact_and_opaque() {
    let s = TestServer::start().await;
    let mut a = user_body("a");
    a["externalId"] = json!("ABC ");
    let mut b = user_body("b");
    b["externalId"] = json!("abc ");
    let a = s.post("/Users", a).await;
    let b = s.post("/Users", b).await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201));
    assert_eq!(a.body["externalId"], "ABC ", "kept verbatim");
}

#[tokio::test]
async fn values_are_kept_verbatim_and_idp_shapes_are_normalised() {
    // OneLogin (onelogin-protocol.md OL1, OL2, OL3, OL11): legacy URNs, emails as one object,
    // booleans as strings, a leading space kept.
    let s = TestServer::start().await;
    let body = json!({
        "schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"],
        "userName": "onelogin-test-user01",
        "name": {"givenName": "OneLogin", "familyName": " User 01"},
        "emails": {"value": "ol@example.com", "type": "work", "primary": "true"},
        "active": "False",
        "urn:scim:schemas:extension:enterprise:2.0": {"department": "Sales"}
    });
    let r = s.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"]["familyName"], " User 01");
    assert_eq!(
        r.body["emails"],
        json!([{"value": "ol@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(r.body["active"], false);
    assert_eq!(
        r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    let schemas = r.body["schemas"].as_array().expect("schemas");
    assert!(schemas.contains(&json!("urn:ietf:params:scim:schemas:core:2.0:User")));
    assert!(schemas.contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
}

#[tokio::test]
async fn strict_mode_refuses_what_the_rfc_does_not_allow() {
    let s = TestServer::start_with(|c| c.strict = true).await;
    let mut body = user_body("strict");
    body["active"] = json!("False");
    s.post("/Users", body)
        .await
        .assert_error(400, Some("invalidValue"));
    let mut body = user_body("strict");
    body["schemas"] = json!(["urn:scim:schemas:core:2.0"]);
    s.post("/Users", body)
        .await
        .assert_error(400, Some("invalidSyntax"));
}

#[tokio::test]
async fn put_replaces_ignores_read_only_and_advances_the_version() {
    let s = TestServer::start().await;
    let id = s.user("put-me").await;
    let mut body = user_body("put-me");
    body["id"] = json!("other");
    body["title"] = json!("Boss");
    body["meta"] = json!({"created": "2000-01-01T00:00:00Z"});
    body.as_object_mut().expect("object").remove("emails");
    let r = s.put(&format!("/Users/{id}?"), body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["title"], "Boss");
    assert!(
        r.body.get("emails").is_none(),
        "absent attributes are cleared"
    );
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    assert_ne!(r.body["meta"]["created"], "2000-01-01T00:00:00Z");
    // The same replacement again changes nothing, and the version stays.
    let again = s.put(&format!("/Users/{id}"), body).await;
    assert_eq!(again.body["meta"]["version"], "W/\"2\"");
    s.put("/Users/nope", user_body("x"))
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn a_user_name_taken_by_another_user_cannot_be_put() {
    let s = TestServer::start().await;
    s.user("first").await;
    let id = s.user("second").await;
    s.put(&format!("/Users/{id}"), user_body("FIRST"))
        .await
        .assert_error(409, Some("uniqueness"));
    let r = s.put(&format!("/Users/{id}"), user_body("SECOND")).await;
    assert_eq!(
        r.status, 200,
        "changing only the case of one's own userName is fine"
    );
}

#[tokio::test]
async fn if_match_is_honoured_on_put_patch_and_delete() {
    let s = TestServer::start().await;
    let id = s.user("etag").await;
    let path = format!("/Users/{id}");
    let stale = s
        .req(reqwest::Method::PUT, &path)
        .header("If-Match", "W/\"7\"")
        .header("Content-Type", SCIM)
        .body(user_body("etag").to_string())
        .send()
        .await
        .expect("request");
    crate::support::Reply::from(stale)
        .await
        .assert_error(412, None);
    let ok = s
        .req(reqwest::Method::PUT, &path)
        .header("If-Match", "W/\"1\"")
        .header("Content-Type", SCIM)
        .body(json!({"userName": "etag", "title": "x"}).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    let patch = s
        .req(reqwest::Method::PATCH, &path)
        .header("If-Match", "W/\"1\"")
        .header("Content-Type", SCIM)
        .body(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "y"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("request");
    crate::support::Reply::from(patch)
        .await
        .assert_error(412, None);
    let del = s
        .req(reqwest::Method::DELETE, &path)
        .header("If-Match", "W/\"1\"")
        .send()
        .await
        .expect("request");
    crate::support::Reply::from(del)
        .await
        .assert_error(412, None);
    let del = s
        .req(reqwest::Method::DELETE, &path)
        .header("If-Match", "W/\"2\"")
        .send()
        .await
        .expect("request");
    assert_eq!(del.status(), 204);
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let s = TestServer::start().await;
    let id = s.user("cache").await;
    let r = s
        .req(reqwest::Method::GET, &format!("/Users/{id}"))
        .header("If-None-Match", "W/\"1\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);
    let r = s
        .req(reqwest::Method::GET, &format!("/Users/{id}"))
        .header("If-None-Match", "W/\"0\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn patch_replaces_simple_and_sub_attributes_and_path_less_values() {
    let s = TestServer::start().await;
    let id = s.user("patchy").await;
    let path = format!("/Users/{id}?");
    let op = |ops: serde_json::Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let r = s
        .patch(
            &path,
            op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    let r = s
        .patch(
            &path,
            op(json!([{"op": "replace", "path": "name.givenName", "value": "New"}])),
        )
        .await;
    assert_eq!(r.body["name"]["givenName"], "New");
    assert_eq!(r.body["name"]["familyName"], "Family");
    let r = s
        .patch(
            &path,
            op(json!([{"op": "add", "value": {"title": "CTO", "nickName": "P"}}])),
        )
        .await;
    assert_eq!(
        (r.body["title"].as_str(), r.body["nickName"].as_str()),
        (Some("CTO"), Some("P"))
    );
    let r = s
        .patch(&path, op(json!([{"op": "remove", "path": "nickName"}])))
        .await;
    assert!(r.body.get("nickName").is_none());
    let v = r.body["meta"]["version"].clone();
    // A PATCH that changes nothing does not advance the version.
    let r = s
        .patch(
            &path,
            op(json!([{"op": "replace", "path": "title", "value": "CTO"}])),
        )
        .await;
    assert_eq!(r.body["meta"]["version"], v);
    // A failing operation leaves the resource as it was.
    let before = s.get(&format!("/Users/{id}")).await.text;
    s.patch(
        &path,
        op(json!([{"op": "replace", "path": "title", "value": "Z"},
        {"op": "replace", "path": "nope", "value": 1}])),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    assert_eq!(s.get(&format!("/Users/{id}")).await.text, before);
}

#[tokio::test]
async fn list_pages_in_a_stable_order_with_integer_counts() {
    let s = TestServer::start().await;
    for i in 0..7 {
        s.user(&format!("user{i}")).await;
    }
    let all = s.get("/Users").await;
    assert_eq!(all.body["totalResults"], 7);
    assert_eq!(all.body["itemsPerPage"], 7);
    assert_eq!(all.body["startIndex"], 1);
    let ids: Vec<String> = all.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    let mut paged = Vec::new();
    let mut start = 1;
    loop {
        let page = s.get(&format!("/Users?startIndex={start}&count=3")).await;
        assert_eq!(page.body["totalResults"], 7);
        let items = page.body["Resources"].as_array().expect("list").clone();
        assert!(items.len() <= 3);
        if items.is_empty() {
            break;
        }
        paged.extend(
            items
                .iter()
                .map(|r| r["id"].as_str().unwrap_or("").to_string()),
        );
        start += 3;
    }
    assert_eq!(paged, ids, "pages concatenate to the whole list, once each");
    let clamped = s.get("/Users?startIndex=0&count=-1").await;
    assert_eq!(
        (
            clamped.body["startIndex"].as_u64(),
            clamped.body["itemsPerPage"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(clamped.body["totalResults"], 7);
}

#[tokio::test]
async fn list_page_size_is_capped_at_the_advertised_maximum() {
    let s = TestServer::start_with(|c| c.max_results = 2).await;
    for i in 0..3 {
        s.user(&format!("cap{i}")).await;
    }
    let r = s.get("/Users?count=50").await;
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["totalResults"], 3);
    let spc = s.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["filter"]["maxResults"], 2);
}

#[tokio::test]
async fn the_filters_every_idp_sends_work() {
    let s = TestServer::start().await;
    let mut body = user_body("Jane.Doe@Example.com");
    body["externalId"] = json!("ext-1");
    let id = s.post("/Users", body).await.id();
    s.user("other").await;
    // OneLogin's form (onelogin-protocol.md §1 row 2): '+' for spaces, a trailing '&'.
    let r = s
        .get("/Users?filter=userName+eq+%22jane.doe%40example.com%22&")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    let r = s
        .get("/Users?filter=USERNAME%20EQ%20%22JANE.DOE@EXAMPLE.COM%22")
        .await;
    assert_eq!(
        r.body["totalResults"], 1,
        "attribute, operator and value case-insensitive"
    );
    let r = s.get("/Users?filter=externalId%20eq%20%22ext-1%22").await;
    assert_eq!(r.body["totalResults"], 1);
    let r = s.get("/Users?filter=externalId%20eq%20%22EXT-1%22").await;
    assert_eq!(r.body["totalResults"], 0, "externalId is case-exact");
    // The connection test: a user that does not exist.
    let r = s
        .get("/Users?filter=userName+eq+%22onelogin-test-nobody%22&")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    s.get("/Users?filter=userName+eq")
        .await
        .assert_error(400, Some("invalidFilter"));
    s.get("/Users?filter=nosuch+eq+%22x%22")
        .await
        .assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn search_by_post_on_a_type_and_at_the_root() {
    let s = TestServer::start().await;
    let u = s.user("searcher").await;
    let g = s.group("Searchers", &[&u]).await;
    let r = s
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"SEARCHER\"", "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], u.as_str());
    assert!(
        r.body["Resources"][0].get("name").is_none(),
        "projection applies"
    );
    let r = s.post("/.search", json!({"filter": "id eq \"{u}\" or id eq \"{g}\"".replace("{u}", &u).replace("{g}", &g)})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2);
    let r = s
        .post(
            "/.search",
            json!({"filter": "displayName eq \"Searchers\""}),
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], g.as_str());
    s.post("/.search", json!({"filter": "nosuch eq 1"}))
        .await
        .assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn sort_by_is_advertised_and_works() {
    let s = TestServer::start().await;
    for name in ["bravo", "Alpha", "charlie"] {
        s.user(name).await;
    }
    assert_eq!(
        s.get("/ServiceProviderConfig").await.body["sort"]["supported"],
        true
    );
    let names = |r: &crate::support::Reply| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["userName"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let r = s.get("/Users?sortBy=userName").await;
    assert_eq!(
        names(&r),
        ["Alpha", "bravo", "charlie"],
        "caseExact=false sorts without case"
    );
    let r = s
        .get("/Users?sortBy=userName&sortOrder=descending&count=2")
        .await;
    assert_eq!(names(&r), ["charlie", "bravo"]);
    s.get("/Users?sortBy=userName&sortOrder=sideways")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn attributes_and_excluded_attributes_select_sub_attributes() {
    let s = TestServer::start().await;
    let id = s.user("proj").await;
    let r = s
        .get(&format!(
            "/Users/{id}?attributes=name.givenName,emails.value"
        ))
        .await;
    assert_eq!(r.body["name"], json!({"givenName": "Given"}));
    assert_eq!(r.body["emails"], json!([{"value": "proj@example.com"}]));
    assert_eq!(r.body["id"], id.as_str(), "id is returned always");
    assert!(r.body.get("userName").is_none() && r.body.get("active").is_none());
    let r = s
        .get(&format!(
            "/Users/{id}?excludedAttributes=name.familyName,active"
        ))
        .await;
    assert_eq!(r.body["name"], json!({"givenName": "Given"}));
    assert!(r.body.get("active").is_none());
    assert_eq!(r.body["userName"], "proj");
}

#[tokio::test]
async fn index_scans_agree_with_full_scans() {
    // `userName co/sw/ew/gt/...` and `externalId ...` are answered from the index's keys; wrapping
    // the filter in `not (not (...))` forces a scan of the records. Both must agree.
    let s = TestServer::start().await;
    for (name, ext) in [
        ("Alice.Smith", "EXT-1"),
        ("bob.smith", "ext-2"),
        ("carol", "EXT-3"),
        ("ALBERT", "x"),
    ] {
        let mut body = user_body(name);
        body["externalId"] = json!(ext);
        s.post("/Users", body).await;
    }
    let ids = |r: &crate::support::Reply| -> Vec<String> {
        let mut v: Vec<String> = r.body["Resources"]
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["userName"].as_str().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };
    for (filter, want) in [
        ("userName co \"SMITH\"", vec!["Alice.Smith", "bob.smith"]),
        ("userName sw \"al\"", vec!["ALBERT", "Alice.Smith"]),
        ("userName ew \"OL\"", vec!["carol"]),
        ("userName gt \"b\"", vec!["bob.smith", "carol"]),
        ("userName le \"albert\"", vec!["ALBERT"]),
        ("externalId sw \"EXT\"", vec!["Alice.Smith", "carol"]),
        ("externalId co \"xt\"", vec!["bob.smith"]),
        ("userName sw \"a\" and externalId eq \"x\"", vec!["ALBERT"]),
        (
            "userName ew \"ol\" or externalId sw \"ext-2\"",
            vec!["bob.smith", "carol"],
        ),
    ] {
        let enc = |f: &str| f.replace(' ', "%20").replace('"', "%22");
        let probed = s.get(&format!("/Users?filter={}", enc(filter))).await;
        let scanned = s
            .get(&format!(
                "/Users?filter={}",
                enc(&format!("not (not ({filter}))"))
            ))
            .await;
        assert_eq!(probed.status, 200, "{filter}: {}", probed.text);
        assert_eq!(ids(&probed), want, "{filter}");
        assert_eq!(ids(&scanned), want, "{filter} (scan)");
    }
}

#[tokio::test]
async fn projection_applies_to_post_put_and_patch_answers() {
    let s = TestServer::start().await;
    let r = s
        .post("/Users?attributes=userName", user_body("projected"))
        .await;
    assert_eq!(r.status, 201);
    let keys: Vec<&String> = r.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["schemas", "id", "userName"], "{}", r.text);
    let id = r.id();
    let r = s
        .put(
            &format!("/Users/{id}?excludedAttributes=emails,name"),
            user_body("projected"),
        )
        .await;
    assert!(
        r.body.get("emails").is_none()
            && r.body.get("name").is_none()
            && r.body.get("userName").is_some()
    );
    let r = s
        .patch(
            &format!("/Users/{id}?attributes=title"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "title", "value": "T"}]}),
        )
        .await;
    let keys: Vec<&String> = r.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["schemas", "id", "title"], "{}", r.text);
}

/// Pages are served from remembered positions and counts kept in memory (`store/census.rs`):
/// after creates and deletes, every page (asked for in any order) and `totalResults` must still
/// be what a walk of the current store gives.
#[tokio::test]
async fn list_pages_and_counts_follow_creates_and_deletes() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(s.user(&format!("walker{i}")).await);
    }
    async fn walk(s: &TestServer, total: usize, backwards: bool) -> Vec<String> {
        let starts: Vec<usize> = (0..total.div_ceil(3)).map(|p| 1 + 3 * p).collect();
        let mut pages = Vec::new();
        for start in starts.iter().copied() {
            let order = if backwards {
                *starts.last().unwrap_or(&1) + 1 - start
            } else {
                start
            };
            let page = s.get(&format!("/Users?startIndex={order}&count=3")).await;
            assert_eq!(page.body["totalResults"], total, "totalResults at {order}");
            let got: Vec<String> = page.body["Resources"]
                .as_array()
                .expect("list")
                .iter()
                .map(|r| r["id"].as_str().unwrap_or("").to_string())
                .collect();
            pages.push((order, got));
        }
        pages.sort();
        pages.into_iter().flat_map(|(_, p)| p).collect()
    }
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(walk(&s, 10, false).await, expected);
    // The forward walk left a cursor at every page; creates and deletes move what follows them.
    for i in 10..13 {
        ids.push(s.user(&format!("walker{i}")).await);
    }
    for gone in [ids.remove(0), ids.remove(4)] {
        assert_eq!(s.delete(&format!("/Users/{gone}")).await.status, 204);
    }
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        walk(&s, 11, true).await,
        expected,
        "pages asked for last to first"
    );
    assert_eq!(walk(&s, 11, false).await, expected, "and first to last");
}

/// An answer is handed to hyper in pieces of at most 1 MiB (one piece for most): a page larger
/// than that (1,000 users of about 1.2 KiB each) arrives whole, its `Content-Length` its size.
#[tokio::test]
async fn a_page_larger_than_one_piece_arrives_whole() {
    let s = TestServer::start().await;
    let title = "t".repeat(1_100);
    for half in 0..2 {
        let ops: Vec<serde_json::Value> = (0..500)
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("big.{half}.{i:03}"), "title": format!("{title}{half}{i:03}")}})
            })
            .collect();
        let r = s
            .post(
                "/Bulk",
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    }
    let r = s.get("/Users?count=1000&sortBy=userName").await;
    assert_eq!(r.status, 200);
    assert!(r.text.len() > 1 << 20, "{} bytes", r.text.len());
    assert_eq!(
        r.headers["content-length"].to_str().expect("ascii"),
        r.text.len().to_string()
    );
    let users = r.body["Resources"].as_array().expect("resources");
    assert_eq!(users.len(), 1000);
    for (n, u) in users.iter().enumerate() {
        let (half, i) = (n / 500, n % 500);
        assert_eq!(u["userName"], format!("big.{half}.{i:03}"));
        assert_eq!(u["title"], format!("{title}{half}{i:03}"));
    }
}
