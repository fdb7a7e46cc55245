//! Tenants kept apart, through HTTP: a key of one tenant opens nothing of another (by URL, or by
//! ids taken from another tenant), a tenant's administrator reaches only its own tenant, lists,
//! counts, filters, bulk references and feeds never show another tenant's data, a disabled
//! tenant's keys are unknown keys, and deleting a tenant removes its data only. Two tenants hold
//! the same `userName` throughout.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use scim_core::model::{Dump, Kind};
use serde_json::{json, Value};

use crate::support::{each, patch_op, user_body, Api, Reply, TestServer, TestTenant};

/// A key of the right shape that nobody holds.
const UNKNOWN: &str = "scim_00000000000000000000000000000000000000000000000000000000deadbeef";

/// The `userName` every tenant holds.
const SHARED: &str = "shared@example.com";

/// One tenant of the [`World`]: its keys, and what it holds.
struct Side {
    t: TestTenant,
    /// The user named [`SHARED`].
    shared: String,
    /// The user named `{tenant}-only@example.com`, which no other tenant holds.
    own: String,
    /// The group `Team` (a name every tenant uses), with both users.
    group: String,
    /// A webhook endpoint of its own.
    hook: String,
}

impl Side {
    fn only_name(&self) -> String {
        format!("{}-only@example.com", self.t.id)
    }

    /// Every id of this tenant's: users, group, keys.
    fn ids(&self) -> [&str; 6] {
        [
            &self.shared,
            &self.own,
            &self.group,
            &self.t.key_id,
            &self.t.admin_id,
            &self.hook,
        ]
    }
}

/// A server with the tenants `acme` and `bravo` beside `default`, and an operator's admin key.
struct World {
    s: TestServer,
    a: Side,
    b: Side,
    operator: String,
    /// The user `default` holds.
    default_user: String,
}

async fn world() -> World {
    let s = TestServer::start().await;
    let (_, operator) = s.mint("operator", true).await;
    let a = side(&s, "acme").await;
    let b = side(&s, "bravo").await;
    let default_user = s.user("default-only@example.com").await;
    World {
        s,
        a,
        b,
        operator,
        default_user,
    }
}

async fn side(s: &TestServer, id: &str) -> Side {
    let t = s.tenant(id).await;
    let create = |path: &'static str, body: Value| {
        let t = &t;
        async move {
            let r = s.on(t, Api::Scim, Method::POST, path, Some(&body)).await;
            assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
            // Locations name the tenant's own base URL.
            let location = format!("{}{path}/{}", t.base, r.id());
            assert_eq!(r.header("location"), Some(location.as_str()));
            assert_eq!(r.body["meta"]["location"], location.as_str());
            r.id()
        }
    };
    let shared = create("/Users", user_body(SHARED)).await;
    let own = create("/Users", user_body(&format!("{id}-only@example.com"))).await;
    let group = create(
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team",
               "members": [{"value": shared}, {"value": own}]}),
    )
    .await;
    let hook = s
        .core
        .add_webhook(
            &t.id,
            &format!("https://{id}.example/hook"),
            &["*".to_string()],
            scim_core::auth::operator(),
        )
        .await
        .expect("an endpoint")
        .webhook
        .id;
    Side {
        t,
        shared,
        own,
        group,
        hook,
    }
}

impl World {
    /// A SCIM request to `side`'s base URL with its own key.
    async fn scim(&self, side: &Side, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.s.on(&side.t, Api::Scim, method, path, body).await
    }

    /// A request to `side`'s admin API with its own admin key.
    async fn admin(&self, side: &Side, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.s.on(&side.t, Api::Admin, method, path, body).await
    }

    /// [`World::admin`], a GET that must succeed.
    async fn admin_get(&self, side: &Side, path: &str) -> Reply {
        let r = self.admin(side, Method::GET, path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r
    }

    /// A request with the operator's admin key.
    async fn op(&self, method: Method, url: &str, body: Option<&Value>) -> Reply {
        self.s.call(method, url, Some(&self.operator), body).await
    }

    /// A tenant's whole partition, as the store holds it.
    async fn snapshot(&self, side: &Side) -> Dump {
        let part = self.s.store.partition(&side.t.id).expect("partition");
        part.export().await.expect("export")
    }

    /// Asserts that `side` holds exactly what it held in `before`.
    async fn unchanged(&self, side: &Side, before: &Dump, after_what: &str) {
        let now = self.snapshot(side).await;
        assert!(
            now == *before,
            "{} changed after {after_what}:\nbefore {before:#?}\nafter {now:#?}",
            side.t.id
        );
    }

    async fn default_snapshot(&self) -> Dump {
        self.s.part.export().await.expect("export")
    }
}

fn group_body(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
           "members": members})
}

/// Every SCIM route, with ids of `user` and `group` where a route takes one: the collections
/// (every method), the resources (every method), the searches, bulk, discovery, `/Me`, and a
/// path that names nothing.
fn scim_routes(user: &str, group: &str) -> Vec<(Method, String, Option<Value>)> {
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": format!("userName eq \"{SHARED}\"")});
    let patch = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Taken"}]));
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "DELETE", "path": format!("/Users/{user}")}]});
    let user_url = format!("/Users/{user}");
    let group_url = format!("/Groups/{group}");
    let mut routes = vec![
        (Method::GET, "/Users".to_string(), None),
        (
            Method::GET,
            format!("/Users?filter=userName+eq+%22{SHARED}%22"),
            None,
        ),
        (Method::GET, "/Groups".into(), None),
        (Method::POST, "/Users".into(), Some(user_body("intruder"))),
        (
            Method::POST,
            "/Groups".into(),
            Some(group_body("Intruders", &[])),
        ),
        (Method::POST, "/Users/.search".into(), Some(search.clone())),
        (Method::POST, "/Groups/.search".into(), Some(search.clone())),
        (Method::POST, "/.search".into(), Some(search)),
        (Method::POST, "/Bulk".into(), Some(bulk)),
        (Method::GET, "/ServiceProviderConfig".into(), None),
        (Method::GET, "/ResourceTypes".into(), None),
        (Method::GET, "/ResourceTypes/User".into(), None),
        (Method::GET, "/Schemas".into(), None),
        (
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".into(),
            None,
        ),
        (Method::GET, "/Me".into(), None),
        (Method::GET, "/NoSuchEndpoint".into(), None),
    ];
    for collection in ["/Users", "/Groups"] {
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            routes.push((method, collection.into(), Some(patch.clone())));
        }
    }
    for (url, body) in [
        (user_url, user_body(SHARED)),
        (group_url, group_body("Team", &[])),
    ] {
        routes.push((Method::GET, url.clone(), None));
        routes.push((Method::PUT, url.clone(), Some(body.clone())));
        routes.push((Method::PATCH, url.clone(), Some(patch.clone())));
        routes.push((Method::DELETE, url.clone(), None));
        routes.push((Method::POST, url, Some(body)));
    }
    routes
}

/// Every route of a tenant's admin API (under `/admin/v1/tenants/{tenant}` or, for `default`,
/// `/admin/v1`), with ids of `user`, `group`, `key` and webhook endpoint `hook`.
fn admin_routes(
    user: &str,
    group: &str,
    key: &str,
    hook: &str,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/users".into(), None),
        (Method::GET, format!("/users/{user}"), None),
        (
            Method::PATCH,
            format!("/users/{user}"),
            Some(json!({"displayName": "Hijacked"})),
        ),
        (Method::GET, format!("/users/{user}/history"), None),
        (Method::GET, format!("/groups/{group}/history"), None),
        (Method::GET, "/audit?after=0&limit=1000".into(), None),
        (Method::GET, "/events?after=0&limit=1000".into(), None),
        (Method::GET, "/keys".into(), None),
        (
            Method::POST,
            "/keys".into(),
            Some(json!({"label": "intruder"})),
        ),
        (
            Method::POST,
            "/keys".into(),
            Some(json!({"label": "intruder", "admin": true})),
        ),
        (Method::DELETE, format!("/keys/{key}"), None),
        (Method::GET, "/webhooks".into(), None),
        (
            Method::POST,
            "/webhooks".into(),
            Some(json!({"url": "https://intruder.example/", "events": ["*"]})),
        ),
        (
            Method::PATCH,
            format!("/webhooks/{hook}"),
            Some(json!({"enabled": false})),
        ),
        (Method::GET, format!("/webhooks/{hook}/deliveries"), None),
        (
            Method::POST,
            format!("/webhooks/{hook}/resend"),
            Some(json!({"event": "evt_0"})),
        ),
        (
            Method::POST,
            format!("/webhooks/{hook}/rotate-secret"),
            Some(json!({})),
        ),
        (Method::POST, format!("/webhooks/{hook}/test"), None),
        (Method::GET, "/events/stream?after=0".into(), None),
    ]
}

/// Every operator's route, about the tenant `tenant`.
fn operator_routes(origin: &str, tenant: &str) -> Vec<(Method, String, Option<Value>)> {
    let tenants = format!("{origin}/admin/v1/tenants");
    vec![
        (Method::GET, tenants.clone(), None),
        (
            Method::POST,
            tenants.clone(),
            Some(json!({"id": "intruder", "name": "Intruder"})),
        ),
        (Method::GET, format!("{tenants}/{tenant}"), None),
        (
            Method::PATCH,
            format!("{tenants}/{tenant}"),
            Some(json!({"status": "disabled", "name": "Hijacked"})),
        ),
        (
            Method::DELETE,
            format!("{tenants}/{tenant}?confirm=true"),
            None,
        ),
        (
            Method::GET,
            format!("{origin}/admin/v1/operator/audit"),
            None,
        ),
    ]
}

/// Asserts that `key` gets exactly what an unknown key gets: 401, the same SCIM error, the same
/// challenge.
async fn refused_as_unknown(
    s: &TestServer,
    method: &Method,
    url: &str,
    key: &str,
    body: Option<&Value>,
) {
    let unknown = s.call(method.clone(), url, Some(UNKNOWN), body).await;
    unknown.assert_error(401, None);
    let r = s.call(method.clone(), url, Some(key), body).await;
    assert_eq!(r.status, unknown.status, "{method} {url}: {}", r.text);
    assert_eq!(r.body, unknown.body, "{method} {url}");
    for header in ["content-type", "www-authenticate"] {
        assert_eq!(r.header(header), unknown.header(header), "{method} {url}");
    }
}

/// The ids a feed's entries name (targets and related resources).
fn named_ids(feed: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for e in feed["entries"].as_array().expect("entries") {
        ids.insert(e["target_id"].as_str().expect("target").to_string());
        for r in e["related"].as_array().into_iter().flatten() {
            ids.insert(r["target_id"].as_str().expect("related").to_string());
        }
    }
    ids
}

fn ids_of_list(list: &Value) -> BTreeSet<String> {
    each(&list["Resources"], "id")
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    each(&group["members"], "value")
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_key_of_one_tenant_is_an_unknown_key_on_every_scim_route_of_another() {
    let w = world().await;
    let (b_before, default_before) = (w.snapshot(&w.b).await, w.default_snapshot().await);
    let other_bases = [
        w.b.t.base.clone(),
        // `/scim/v2` is `default`'s.
        w.s.base.clone(),
        // A tenant that does not exist looks the same as one that does.
        format!("{}/t/nosuch/scim/v2", w.s.origin),
    ];
    let mut checked = 0;
    for (method, path, body) in scim_routes(&w.b.shared, &w.b.group) {
        for base in &other_bases {
            let url = format!("{base}{path}");
            // A's SCIM key, and A's admin key.
            for key in [&w.a.t.key, &w.a.t.admin] {
                refused_as_unknown(&w.s, &method, &url, key, body.as_ref()).await;
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} requests");
    w.unchanged(&w.b, &b_before, "another tenant's keys").await;
    assert!(
        w.default_snapshot().await == default_before,
        "default changed"
    );
    // B's own key still opens B's data.
    let r = w
        .scim(&w.b, Method::GET, &format!("/Users/{}", w.b.shared), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_key_on_its_own_tenant_finds_nothing_by_another_tenant_s_ids() {
    let w = world().await;
    let (a, b) = (&w.a, &w.b);
    let b_before = w.snapshot(b).await;
    let default_before = w.default_snapshot().await;
    let a_group_before = w
        .scim(a, Method::GET, &format!("/Groups/{}", a.group), None)
        .await;
    // Every route that takes an id, with B's (and default's) ids, on A's own URL: 404.
    for (user, group) in [
        (&b.shared, &b.group),
        (&b.own, &b.group),
        (&w.default_user, &b.group),
    ] {
        for (method, path, body) in scim_routes(user, group) {
            let takes_an_id = path.ends_with(user.as_str()) || path.ends_with(group.as_str());
            if !takes_an_id || method == Method::POST {
                continue;
            }
            let r = w.scim(a, method.clone(), &path, body.as_ref()).await;
            r.assert_error(404, None);
            assert!(
                !r.text.contains(SHARED) && !r.text.contains(&b.only_name()),
                "{method} {path}: {}",
                r.text
            );
        }
    }
    // B's ids as members: no such member, whichever way they are sent.
    let refused = [
        (
            Method::POST,
            "/Groups".to_string(),
            group_body("Intruders", &[&b.shared]),
        ),
        (
            Method::PUT,
            format!("/Groups/{}", a.group),
            group_body("Team", &[&a.shared, &b.own]),
        ),
        (
            Method::PATCH,
            format!("/Groups/{}", a.group),
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": b.shared}]}])),
        ),
        (
            Method::PATCH,
            format!("/Groups/{}", a.group),
            patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": b.own}]}])),
        ),
    ];
    for (method, path, body) in refused {
        let r = w.scim(a, method.clone(), &path, Some(&body)).await;
        r.assert_error(400, Some("invalidValue"));
        assert!(
            r.text.contains("not an existing"),
            "{method} {path}: {}",
            r.text
        );
    }
    // Removing B's user from A's group removes nothing, and B's group is untouched.
    let r = w
        .scim(
            a,
            Method::PATCH,
            &format!("/Groups/{}", a.group),
            Some(&patch_op(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", b.shared)}]),
            )),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    // Filters by B's ids find nothing.
    for path in [
        format!("/Users?filter=id+eq+%22{}%22", b.shared),
        format!("/Groups?filter=id+eq+%22{}%22", b.group),
        format!("/Groups?filter=members.value+eq+%22{}%22", b.shared),
        format!("/Users?filter=groups.value+eq+%22{}%22", b.group),
    ] {
        let r = w.scim(a, Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["totalResults"], 0, "{path}: {}", r.text);
    }
    let a_group_after = w
        .scim(a, Method::GET, &format!("/Groups/{}", a.group), None)
        .await;
    assert_eq!(
        a_group_after.body, a_group_before.body,
        "A's group is as it was"
    );
    w.unchanged(b, &b_before, "A's requests with B's ids").await;
    assert!(
        w.default_snapshot().await == default_before,
        "default changed"
    );
}

#[tokio::test]
async fn lists_counts_filters_searches_and_feeds_show_only_the_tenant_s_own_data() {
    let w = world().await;
    for (me, other) in [(&w.a, &w.b), (&w.b, &w.a)] {
        let leaks = |what: &str, text: &str| {
            for id in other.ids().iter().chain([&w.default_user.as_str()]) {
                assert!(!text.contains(id), "{} {what} shows {id}: {text}", me.t.id);
            }
            for name in [other.only_name().as_str(), "default-only@example.com"] {
                assert!(
                    !text.contains(name),
                    "{} {what} shows {name}: {text}",
                    me.t.id
                );
            }
        };
        // The same userName in two tenants: each finds its own, once.
        let q = w
            .scim(
                me,
                Method::GET,
                &format!("/Users?filter=userName+eq+%22{SHARED}%22"),
                None,
            )
            .await;
        assert_eq!(q.body["totalResults"], 1, "{}", q.text);
        assert_eq!(q.body["Resources"][0]["id"], me.shared.as_str());
        // A name that only another tenant (or default) holds is not found.
        for name in [other.only_name(), "default-only@example.com".into()] {
            for path in [
                format!("/Users?filter=userName+eq+%22{name}%22"),
                format!("/Users?filter=userName+eq+%22{}%22", name.to_uppercase()),
                format!("/Users?filter=emails.value+co+%22{name}%22"),
            ] {
                let r = w.scim(me, Method::GET, &path, None).await;
                assert_eq!(r.status, 200, "{path}: {}", r.text);
                assert_eq!(r.body["totalResults"], 0, "{path}: {}", r.text);
            }
        }
        // Lists and counts.
        let users = w.scim(me, Method::GET, "/Users", None).await;
        assert_eq!(users.body["totalResults"], 2, "{}", users.text);
        assert_eq!(ids_of_list(&users.body), set(&[&me.shared, &me.own]));
        leaks("user list", &users.text);
        let count = w.scim(me, Method::GET, "/Users?count=0", None).await;
        assert_eq!(count.body["totalResults"], 2, "{}", count.text);
        let groups = w.scim(me, Method::GET, "/Groups", None).await;
        assert_eq!(ids_of_list(&groups.body), set(&[&me.group]));
        leaks("group list", &groups.text);
        let team = w
            .scim(
                me,
                Method::GET,
                "/Groups?filter=displayName+eq+%22Team%22",
                None,
            )
            .await;
        assert_eq!(ids_of_list(&team.body), set(&[&me.group]), "{}", team.text);
        assert_eq!(
            member_ids(&groups.body["Resources"][0]),
            set(&[&me.shared, &me.own])
        );
        let user = w
            .scim(me, Method::GET, &format!("/Users/{}", me.shared), None)
            .await;
        assert_eq!(user.body["groups"][0]["value"], me.group.as_str());
        assert_eq!(user.body["groups"].as_array().map(Vec::len), Some(1));
        // Searches.
        let everything =
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
        let all = w
            .scim(me, Method::POST, "/.search", Some(&everything))
            .await;
        assert_eq!(
            ids_of_list(&all.body),
            set(&[&me.shared, &me.own, &me.group]),
            "{}",
            all.text
        );
        leaks("search", &all.text);
        let by_name = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                             "filter": format!("userName eq \"{}\"", other.only_name())});
        let r = w
            .scim(me, Method::POST, "/Users/.search", Some(&by_name))
            .await;
        assert_eq!(r.body["totalResults"], 0, "{}", r.text);
        // The admin API's lists and feed.
        let listed = w.admin_get(me, "/users").await;
        assert_eq!(listed.body["total"], 2, "{}", listed.text);
        leaks("admin user list", &listed.text);
        let keys = w.admin_get(me, "/keys").await;
        assert_eq!(
            each(&keys.body, "id"),
            set(&[&me.t.key_id, &me.t.admin_id]),
            "{}",
            keys.text
        );
        let feed = w.admin_get(me, "/audit?after=0&limit=1000").await;
        leaks("audit feed", &feed.text);
        assert_eq!(
            named_ids(&feed.body),
            set(&me.ids()),
            "{} feed: {}",
            me.t.id,
            feed.text
        );
        let events = w.admin_get(me, "/events?after=0&limit=1000").await;
        leaks("change feed", &events.text);
        assert_eq!(
            each(&events.body["events"], "resourceId"),
            set(&[&me.shared, &me.own, &me.group]),
            "{} events: {}",
            me.t.id,
            events.text
        );
        let history = w
            .admin_get(me, &format!("/groups/{}/history", me.group))
            .await;
        leaks("group history", &history.text);
    }
    // `default` sees neither tenant.
    let r = w.s.get("/Users").await;
    assert_eq!(ids_of_list(&r.body), set(&[&w.default_user]), "{}", r.text);
}

#[tokio::test]
async fn bulk_references_resolve_within_the_tenant_and_never_reach_another() {
    let w = world().await;
    let (a, b) = (&w.a, &w.b);
    let b_before = w.snapshot(b).await;
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
    "Operations": [
        // A name that exists only in B is free in A.
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body(&b.only_name())},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": group_body("Bulk team", &["bulkId:u", &a.shared])},
        {"method": "PATCH", "path": "/Groups/bulkId:g",
         "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": b.shared}]}]))},
        {"method": "POST", "path": "/Groups", "bulkId": "x", "data": group_body("Cross", &[&b.own])},
        {"method": "PUT", "path": format!("/Users/{}", b.shared), "data": user_body(SHARED)},
        {"method": "PATCH", "path": format!("/Users/{}", b.own),
         "data": patch_op(json!([{"op": "replace", "path": "active", "value": false}]))},
        {"method": "PATCH", "path": format!("/Groups/{}", b.group),
         "data": patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]))},
        {"method": "DELETE", "path": format!("/Groups/{}", b.group)},
        {"method": "DELETE", "path": format!("/Users/{}", b.own)}
    ]});
    let r = w.scim(a, Method::POST, "/Bulk", Some(&bulk)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ops = r.body["Operations"].as_array().expect("operations");
    let statuses: Vec<&str> = ops.iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(
        statuses,
        ["201", "201", "400", "400", "404", "404", "404", "404", "404"],
        "{}",
        r.text
    );
    for o in ops.iter().filter(|o| o["location"].is_string()) {
        let location = o["location"].as_str().unwrap_or_default();
        assert!(
            location.starts_with(&format!("{}/", a.t.base)),
            "{location}"
        );
    }
    let created = |bulk_id: &str| {
        ops.iter()
            .find(|o| o["bulkId"] == bulk_id)
            .and_then(|o| o["location"].as_str())
            .and_then(|l| l.rsplit('/').next())
            .expect("a location")
            .to_string()
    };
    let (user, group) = (created("u"), created("g"));
    let team = w
        .scim(a, Method::GET, &format!("/Groups/{group}"), None)
        .await;
    assert_eq!(
        member_ids(&team.body),
        set(&[&user, &a.shared]),
        "{}",
        team.text
    );
    w.unchanged(b, &b_before, "A's bulk request").await;
    // Each tenant finds its own user of that name.
    for (side, id) in [(a, &user), (b, &b.own)] {
        let q = w
            .scim(
                side,
                Method::GET,
                &format!("/Users?filter=userName+eq+%22{}%22", b.only_name()),
                None,
            )
            .await;
        assert_eq!(ids_of_list(&q.body), set(&[id]), "{}", q.text);
    }
}

#[tokio::test]
async fn a_tenant_s_admin_reaches_its_own_tenant_only_and_never_the_operator_s_routes() {
    let w = world().await;
    let (a, b, s) = (&w.a, &w.b, &w.s);
    let b_before = w.snapshot(b).await;
    let default_before = w.default_snapshot().await;
    let tenants_before = s.core.tenants().await.expect("tenants");
    // A's keys on B's, default's, and a missing tenant's admin API: unknown keys.
    let other_admin_apis = [
        b.t.admin_api.clone(),
        format!("{}/admin/v1", s.origin),
        format!("{}/admin/v1/tenants/nosuch", s.origin),
    ];
    for (method, path, body) in admin_routes(&b.shared, &b.group, &b.t.key_id, &b.hook) {
        for api in &other_admin_apis {
            let url = format!("{api}{path}");
            for key in [&a.t.admin, &a.t.key] {
                refused_as_unknown(s, &method, &url, key, body.as_ref()).await;
            }
        }
    }
    // A's admin on A's own admin API with B's ids: not found.
    for (method, path, body) in admin_routes(&b.shared, &b.group, &b.t.key_id, &b.hook)
        .into_iter()
        .chain(admin_routes(&b.own, &b.group, &b.t.admin_id, &b.hook))
        // Paths that name one of B's resources (the feed's stream names none).
        .filter(|(_, path, _)| path.matches('/').count() >= 2 && !path.starts_with("/events"))
    {
        let r = w.admin(a, method, &path, body.as_ref()).await;
        r.assert_error(404, None);
    }
    // The operator's routes: 403 for A's admin and SCIM keys (valid keys, not the operator's),
    // 401 for an unknown key; about B and about A itself.
    for tenant in [&b.t.id, &a.t.id] {
        for (method, url, body) in operator_routes(&s.origin, tenant.as_str()) {
            let unknown = s
                .call(method.clone(), &url, Some(UNKNOWN), body.as_ref())
                .await;
            unknown.assert_error(401, None);
            for key in [&a.t.admin, &a.t.key] {
                let r = s.call(method.clone(), &url, Some(key), body.as_ref()).await;
                r.assert_error(403, None);
            }
        }
    }
    w.unchanged(b, &b_before, "A's admin requests").await;
    assert!(
        w.default_snapshot().await == default_before,
        "default changed"
    );
    assert_eq!(s.core.tenants().await.expect("tenants"), tenants_before);
    // B's keys still work, and A's admin manages its own tenant.
    let r = w.scim(b, Method::GET, "/Users", None).await;
    assert_eq!(r.body["totalResults"], 2, "{}", r.text);
    w.admin_get(a, &format!("/users/{}", a.shared)).await;
    // The operator reaches both.
    for side in [a, b] {
        let url = format!("{}/users", side.t.admin_api);
        let r = w.op(Method::GET, &url, None).await;
        assert_eq!(r.body["total"], 2, "{}", r.text);
    }
}

#[tokio::test]
async fn a_disabled_tenant_s_keys_are_unknown_keys_until_it_is_enabled_again() {
    let w = world().await;
    let (a, b, s) = (&w.a, &w.b, &w.s);
    let b_url = format!("{}/admin/v1/tenants/{}", s.origin, b.t.id);
    let set_status = |status: &'static str| {
        let (w, url) = (&w, &b_url);
        async move {
            let r = w
                .op(Method::PATCH, url, Some(&json!({"status": status})))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["status"], status, "{}", r.text);
        }
    };
    set_status("disabled").await;
    let b_before = w.snapshot(b).await;
    let users = format!("{}/Users", b.t.base);
    refused_as_unknown(s, &Method::GET, &users, &b.t.key, None).await;
    refused_as_unknown(s, &Method::POST, &users, &b.t.key, Some(&user_body("late"))).await;
    let admin_users = format!("{}/users", b.t.admin_api);
    refused_as_unknown(s, &Method::GET, &admin_users, &b.t.admin, None).await;
    // Not even "valid, but not the operator's".
    for (method, url, body) in operator_routes(&s.origin, b.t.id.as_str()) {
        refused_as_unknown(s, &method, &url, &b.t.admin, body.as_ref()).await;
    }
    // Other tenants go on; the operator still sees B's data.
    let r = w.scim(a, Method::GET, "/Users", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = w.op(Method::GET, &admin_users, None).await;
    assert_eq!(r.body["total"], 2, "{}", r.text);
    w.unchanged(b, &b_before, "requests while disabled").await;

    set_status("active").await;
    let r = w.scim(b, Method::GET, "/Users", None).await;
    assert_eq!(
        ids_of_list(&r.body),
        set(&[&b.shared, &b.own]),
        "{}",
        r.text
    );
    w.admin_get(b, "/users").await;
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_data_only_and_the_operator_s_feed_records_it() {
    let w = world().await;
    let (a, b, s) = (&w.a, &w.b, &w.s);
    let tenants = format!("{}/admin/v1/tenants", s.origin);
    let op = |method: Method, url: String, body: Option<Value>| {
        let w = &w;
        async move { w.op(method, &url, body.as_ref()).await }
    };
    let b_url = format!("{tenants}/{}", b.t.id);
    // Refused while active, even confirmed; refused unconfirmed once disabled; `default` never.
    op(Method::DELETE, format!("{b_url}?confirm=true"), None)
        .await
        .assert_error(400, Some("invalidValue"));
    let r = op(
        Method::PATCH,
        b_url.clone(),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    op(Method::DELETE, b_url.clone(), None)
        .await
        .assert_error(400, Some("invalidValue"));
    op(Method::DELETE, format!("{b_url}?confirm=false"), None)
        .await
        .assert_error(400, Some("invalidValue"));
    op(
        Method::DELETE,
        format!("{tenants}/default?confirm=true"),
        None,
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(w.snapshot(b).await.users.len(), 2, "nothing deleted yet");

    let (a_before, default_before) = (w.snapshot(a).await, w.default_snapshot().await);
    let r = op(Method::DELETE, format!("{b_url}?confirm=true"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);

    op(Method::GET, b_url.clone(), None)
        .await
        .assert_error(404, None);
    let listed = op(Method::GET, tenants.clone(), None).await;
    let ids: Vec<&str> = listed
        .body
        .as_array()
        .expect("tenants")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["acme", "default"], "{}", listed.text);
    // Its partition is gone: the store opens none for a tenant that does not exist (sled), or
    // one through which nothing of it is left (PostgreSQL, whose partitions are only a name).
    match s.store.partition(&b.t.id) {
        Err(scim_core::store::StoreError::Gone) => {}
        Ok(part) => {
            let all = scim_core::store::Query {
                kind: Kind::User,
                selection: scim_core::store::Selection::All,
                skip: 0,
                take: 10,
            };
            assert_eq!(part.query(all).await.expect("query").total, 0);
            assert!(part.revisions(0, 10).await.expect("feed").is_empty());
            assert!(part.export().await.expect("export").keys.is_empty());
        }
        Err(e) => panic!("the deleted tenant's partition: {e}"),
    }
    assert!(
        s.core
            .keys(None)
            .await
            .expect("keys")
            .iter()
            .all(|k| k.tenant.as_ref() != Some(&b.t.id)),
        "B's keys are gone"
    );
    w.unchanged(a, &a_before, "B's deletion").await;
    assert!(
        w.default_snapshot().await == default_before,
        "default changed"
    );
    assert_eq!(s.core.check().await.expect("check"), Vec::<String>::new());
    // Its keys are unknown keys; the operator finds no such tenant.
    let old_users = format!("{}/Users", b.t.base);
    refused_as_unknown(s, &Method::GET, &old_users, &b.t.key, None).await;
    let admin_users = format!("{}/users", b.t.admin_api);
    refused_as_unknown(s, &Method::GET, &admin_users, &b.t.admin, None).await;
    op(Method::GET, admin_users, None)
        .await
        .assert_error(404, None);
    // The operator's feed records the deletion, with its actor.
    let feed = op(
        Method::GET,
        format!("{}/admin/v1/operator/audit?limit=1000", s.origin),
        None,
    )
    .await;
    let last = feed.body["entries"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["action"], "tenant.delete", "{}", feed.text);
    assert_eq!(last["target_type"], "Tenant");
    assert_eq!(last["target_id"], "bravo");
    assert_eq!(last["actor"]["key_label"], "operator");
    // A tenant of the same id starts empty: nothing of the old one comes back.
    let again = s.tenant("bravo").await;
    for path in ["/Users", "/Groups"] {
        let r = s.on(&again, Api::Scim, Method::GET, path, None).await;
        assert_eq!(r.body["totalResults"], 0, "{path}: {}", r.text);
    }
    s.on(
        &again,
        Api::Scim,
        Method::GET,
        &format!("/Users/{}", b.shared),
        None,
    )
    .await
    .assert_error(404, None);
    let feed = s.on(&again, Api::Admin, Method::GET, "/audit", None).await;
    assert_eq!(
        named_ids(&feed.body),
        set(&[&again.key_id, &again.admin_id]),
        "{}",
        feed.text
    );
    // Nor do the old keys open the new tenant.
    refused_as_unknown(s, &Method::GET, &old_users, &b.t.key, None).await;
}

/// The users and groups a feed names, with the admin API's path of each's history.
fn histories_named(feed: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for e in feed["entries"].as_array().expect("entries") {
        let related = e["related"].as_array().cloned().unwrap_or_default();
        for t in std::iter::once(e).chain(related.iter()) {
            let kind = match t["target_type"].as_str() {
                Some("User") => "users",
                Some("Group") => "groups",
                _ => continue,
            };
            let id = t["target_id"].as_str().expect("target id");
            paths.insert(format!("/{kind}/{id}/history"));
        }
    }
    paths
}

/// Two OneLogin scenarios run at the same time, each against its own tenant, with the same user
/// names: both pass, and each tenant's history holds only its own changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onelogin_scenarios_at_once_on_two_tenants_with_the_same_user_names_stay_apart() {
    let s = TestServer::start().await;
    let (north, south) = (s.tenant("north").await, s.tenant("south").await);
    let run = |t: &TestTenant| {
        let target = onelogin_sim::Target::new(t.base.clone(), t.key.clone());
        tokio::spawn(async move {
            let mut failed = Vec::new();
            for name in ["user-lifecycle", "group-provisioning"] {
                let scenario = onelogin_sim::Scenario::find(name).expect("scenario");
                let transcript = onelogin_sim::run_scenario(&scenario, &target)
                    .await
                    .expect("scenario runs");
                if !transcript.passed {
                    failed.push(transcript.to_text(true));
                }
            }
            failed
        })
    };
    let (n, so) = tokio::join!(run(&north), run(&south));
    for (t, failed) in [(&north, n), (&south, so)] {
        let failed = failed.expect("the run ends");
        assert!(failed.is_empty(), "{}: {}", t.id, failed.join("\n\n"));
    }

    let feed = "/audit?limit=1000";
    let north_feed = s.on(&north, Api::Admin, Method::GET, feed, None).await.body;
    let south_feed = s.on(&south, Api::Admin, Method::GET, feed, None).await.body;
    let actions = |feed: &Value| -> Vec<String> {
        let mut all: Vec<String> = feed["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| format!("{} {}", e["action"], e["target_type"]))
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        actions(&north_feed),
        actions(&south_feed),
        "the same changes"
    );
    assert!(
        actions(&north_feed).len() > 10,
        "the scenarios changed things: {north_feed}"
    );
    let (north_ids, south_ids) = (named_ids(&north_feed), named_ids(&south_feed));
    assert!(
        north_ids.is_disjoint(&south_ids),
        "shared: {:?}",
        north_ids.intersection(&south_ids).collect::<Vec<_>>()
    );
    // Every resource a tenant's feed names has its history in that tenant, none in the other.
    for (me, my_feed, other) in [(&north, &north_feed, &south), (&south, &south_feed, &north)] {
        let paths = histories_named(my_feed);
        assert!(paths.len() >= 5, "{paths:?}");
        for path in paths {
            let mine = s.on(me, Api::Admin, Method::GET, &path, None).await;
            assert_eq!(mine.status, 200, "{} {path}: {}", me.id, mine.text);
            s.on(other, Api::Admin, Method::GET, &path, None)
                .await
                .assert_error(404, None);
        }
    }
    // The same user names in both: each tenant created its own users of those names.
    let created = |feed: &Value| -> Vec<String> {
        let mut names: Vec<String> = feed["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["action"] == "create" && e["target_type"] == "User")
            .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["attribute"] == "userName")
            .map(|c| c["after"].to_string())
            .collect();
        names.sort();
        names
    };
    assert!(created(&north_feed).len() >= 4, "{north_feed}");
    assert_eq!(created(&north_feed), created(&south_feed));
}

#[tokio::test]
async fn a_tenant_s_admin_mints_and_revokes_its_own_tenant_s_keys_only() {
    let w = world().await;
    let (a, b, s) = (&w.a, &w.b, &w.s);
    let operator_id = s
        .core
        .keys(None)
        .await
        .expect("keys")
        .into_iter()
        .find(|k| k.label == "operator")
        .expect("the operator's key")
        .id;
    // An admin key minted by A's admin is A's, never the operator's.
    let minted = w
        .admin(
            a,
            Method::POST,
            "/keys",
            Some(&json!({"label": "second admin", "admin": true})),
        )
        .await;
    assert_eq!(minted.status, 201, "{}", minted.text);
    assert_eq!(minted.body["info"]["tenant"], "acme", "{}", minted.text);
    let second = minted.body["key"].as_str().expect("the key").to_string();
    let users = format!("{}/users", a.t.admin_api);
    assert_eq!(
        s.call(Method::GET, &users, Some(&second), None)
            .await
            .status,
        200
    );
    for (method, url, body) in operator_routes(&s.origin, a.t.id.as_str()) {
        let r = s.call(method, &url, Some(&second), body.as_ref()).await;
        r.assert_error(403, None);
    }
    let other = format!("{}/users", b.t.admin_api);
    refused_as_unknown(s, &Method::GET, &other, &second, None).await;
    // A SCIM key minted by A's admin opens A's SCIM API only.
    let minted = w
        .admin(a, Method::POST, "/keys", Some(&json!({"label": "idp"})))
        .await;
    let idp = minted.body["key"].as_str().expect("the key").to_string();
    let idp_id = minted.body["info"]["id"].as_str().expect("id").to_string();
    let a_users = format!("{}/Users", a.t.base);
    assert_eq!(
        s.call(Method::GET, &a_users, Some(&idp), None).await.status,
        200
    );
    let b_users = format!("{}/Users", b.t.base);
    refused_as_unknown(s, &Method::GET, &b_users, &idp, None).await;
    // A's admin sees and revokes A's keys only: not the operator's, not B's.
    let listed = each(&w.admin_get(a, "/keys").await.body, "label");
    let labels = ["acme admin", "idp", "initial key", "second admin"];
    assert_eq!(listed, set(&labels));
    for id in [&operator_id, &b.t.key_id, &b.t.admin_id] {
        w.admin(a, Method::DELETE, &format!("/keys/{id}"), None)
            .await
            .assert_error(404, None);
    }
    let tenants = format!("{}/admin/v1/tenants", s.origin);
    assert_eq!(w.op(Method::GET, &tenants, None).await.status, 200);
    assert_eq!(w.scim(b, Method::GET, "/Users", None).await.status, 200);
    w.admin_get(b, "/users").await;
    let r = w
        .admin(a, Method::DELETE, &format!("/keys/{idp_id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    refused_as_unknown(s, &Method::GET, &a_users, &idp, None).await;
}

#[tokio::test]
async fn the_operator_s_routes_answer_with_scim_errors_and_base_urls() {
    let w = world().await;
    let s = &w.s;
    let tenants = format!("{}/admin/v1/tenants", s.origin);
    let post = |body: Value| {
        let (w, url) = (&w, &tenants);
        async move { w.op(Method::POST, url, Some(&body)).await }
    };
    post(json!({"id": "Not_A_Slug", "name": "X"}))
        .await
        .assert_error(400, Some("invalidValue"));
    post(json!({"name": "No id"}))
        .await
        .assert_error(400, Some("invalidValue"));
    post(json!({"id": "carol", "name": 7}))
        .await
        .assert_error(400, Some("invalidValue"));
    for taken in ["acme", "default"] {
        post(json!({"id": taken, "name": "Again"}))
            .await
            .assert_error(409, Some("uniqueness"));
    }
    let nosuch = format!("{tenants}/nosuch");
    w.op(Method::GET, &nosuch, None)
        .await
        .assert_error(404, None);
    w.op(Method::PATCH, &nosuch, Some(&json!({"name": "X"})))
        .await
        .assert_error(404, None);
    w.op(Method::DELETE, &format!("{nosuch}?confirm=true"), None)
        .await
        .assert_error(404, None);
    let acme = format!("{tenants}/acme");
    w.op(Method::PATCH, &acme, Some(&json!({"status": "paused"})))
        .await
        .assert_error(400, Some("invalidValue"));
    let r = s
        .client
        .patch(&acme)
        .bearer_auth(&w.operator)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    Reply::from(r)
        .await
        .assert_error(400, Some("invalidSyntax"));
    s.call(Method::GET, &tenants, None, None)
        .await
        .assert_error(401, None);
    // A tenant created over HTTP: its base URL, and its first key, which works there only.
    let created = post(json!({"id": "carol", "name": "Carol", "defaultRole": "Member"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let base = format!("{}/t/carol/scim/v2", s.origin);
    assert_eq!(created.body["scimBaseUrl"], base.as_str());
    assert_eq!(created.body["defaultRole"], "Member");
    let key = created.body["key"].as_str().expect("the key");
    let r = s
        .call(
            Method::POST,
            &format!("{base}/Users"),
            Some(key),
            Some(&user_body(SHARED)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    refused_as_unknown(s, &Method::GET, &format!("{}/Users", w.a.t.base), key, None).await;
    let listed = w.op(Method::GET, &tenants, None).await;
    let bases: BTreeSet<String> = each(&listed.body, "scimBaseUrl");
    let expected = [
        format!("{}/t/acme/scim/v2", s.origin),
        format!("{}/t/bravo/scim/v2", s.origin),
        base,
        s.base.clone(),
    ];
    assert_eq!(bases, expected.into_iter().collect());
}

/// A tenant deleted while a long bulk request of its own runs: that request's later operations
/// are not found, and nothing else stops (a write to a deleted tenant's dropped trees was a
/// storage failure, which stopped every write of every tenant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_under_its_own_long_bulk_request_stops_nothing_else() {
    let w = world().await;
    let (a, b, s) = (&w.a, &w.b, &w.s);
    let ops: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                   "data": user_body(&format!("bulk-{i}@example.com"))})
        })
        .collect();
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                      "Operations": ops});
    let request = s
        .client
        .post(format!("{}/Bulk", b.t.base))
        .bearer_auth(&b.t.key)
        .header("Content-Type", crate::support::SCIM)
        .body(bulk.to_string());
    let running =
        tokio::spawn(async move { Reply::from(request.send().await.expect("bulk")).await });
    // Once the request is under way, the operator disables and deletes the tenant.
    let b_users = format!("{}/users?count=0", b.t.admin_api);
    let started = std::time::Instant::now();
    while w.op(Method::GET, &b_users, None).await.body["total"] == 2 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the bulk request never began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let b_url = format!("{}/admin/v1/tenants/{}", s.origin, b.t.id);
    let r = w
        .op(Method::PATCH, &b_url, Some(&json!({"status": "disabled"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = w
        .op(Method::DELETE, &format!("{b_url}?confirm=true"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    let r = running.await.expect("the bulk request ends");
    assert_eq!(r.status, 200, "{}", r.text);
    let ops = r.body["Operations"].as_array().expect("operations");
    let statuses: Vec<&str> = ops.iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(
        statuses.first(),
        Some(&"201"),
        "it began before the deletion"
    );
    assert_eq!(
        statuses.last(),
        Some(&"404"),
        "it ran on after the deletion (else this test shows nothing): {statuses:?}"
    );
    // Nothing else stopped: the store is healthy, the server ready, other tenants write.
    assert_eq!(s.store.failure(), None);
    let ready = s
        .call(Method::GET, &format!("{}/readyz", s.origin), None, None)
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let r = w
        .scim(
            a,
            Method::POST,
            "/Users",
            Some(&user_body("after@example.com")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(s.core.check().await.expect("check"), Vec::<String>::new());
    // A tenant made again with its id holds nothing the request tried to write.
    let again = s.tenant("bravo").await;
    let users = s.on(&again, Api::Scim, Method::GET, "/Users", None).await;
    assert_eq!(users.body["totalResults"], 0, "{}", users.text);
}
