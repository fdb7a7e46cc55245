//! A store written by the release before tenants (commit 163269b, `fixtures/stores/`) opens as
//! the tenant `default`, with nothing lost: `/scim/v2` and `/t/default/scim/v2` both serve it,
//! its SCIM keys are `default`'s, its admin key is the operator's.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::cli::{client, scim_server, sigterm, start, wait};
use crate::support::{each, Reply};

/// Unpacks `fixtures/stores/{name}.tar.gz` into `dir` (as `dir/data`) and reads what it holds.
fn unpack(name: &str, dir: &Path) -> Value {
    let stores = fixtures::stores();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(stores.join(format!("{name}.tar.gz")))
        .arg("-C")
        .arg(dir)
        .status()
        .expect("tar runs");
    assert!(status.success(), "tar: {status}");
    let text = std::fs::read_to_string(stores.join(format!("{name}.json"))).expect("its JSON");
    serde_json::from_str(&text).expect("JSON")
}

async fn send(method: Method, url: &str, key: &str) -> Reply {
    let r = client()
        .request(method, url)
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    Reply::from(r).await
}

async fn get_ok(url: &str, key: &str) -> Value {
    let r = send(Method::GET, url, key).await;
    assert_eq!(r.status, 200, "{url}: {}", r.text);
    r.body
}

fn keys_of(map: &Value) -> BTreeSet<String> {
    map.as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

/// What `export --tenant default` writes, read back.
fn export_default(dir: &Path, file: &str) -> Value {
    let out = scim_server(dir, &["export", file, "--tenant", "default"]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(dir.join(file)).expect("export");
    serde_json::from_str(&text).expect("JSON")
}

/// Keys as stored, without their last use (which moves with every request).
fn without_last_use(keys: &Value) -> Vec<Value> {
    let mut keys = keys.as_array().expect("keys").clone();
    for k in &mut keys {
        k.as_object_mut().expect("key").remove("last_used");
    }
    keys
}

#[test]
fn a_store_from_the_release_before_tenants_is_the_default_tenant_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("dir");
    let held = unpack("pre-tenants", dir.path());
    let old = &held["export"];
    let key = |name: &str| held["keys"][name].as_str().expect("a key").to_string();
    let (first, second, admin, revoked) =
        (key("first"), key("second"), key("admin"), key("revoked"));

    let (mut child, ready) = start(dir.path(), &[], &[], Stdio::null());
    assert_eq!(ready.api_key, None, "the store has keys: none is minted");
    // Its data, as the old release exported it: records, memberships, history, keys.
    let now = export_default(dir.path(), "default.json");
    for part in ["users", "groups", "revisions"] {
        assert_eq!(now[part], old[part], "{part}");
    }
    let old_scim_keys: Vec<Value> = without_last_use(&old["keys"])
        .into_iter()
        .filter(|k| k["admin"] != true)
        .collect();
    assert_eq!(
        without_last_use(&now["keys"]),
        old_scim_keys,
        "its SCIM keys"
    );

    let origin = ready.scim_base_url.trim_end_matches("/scim/v2").to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let users = keys_of(&held["users"]);
        let deleted = keys_of(&held["deleted_users"]);
        let groups = keys_of(&held["groups"]);
        for base in [
            ready.scim_base_url.clone(),
            format!("{origin}/t/default/scim/v2"),
        ] {
            // Both old SCIM keys work; the revoked one does not, nor the admin key here.
            for k in [&first, &second] {
                let list = get_ok(&format!("{base}/Users"), k).await;
                assert_eq!(each(&list["Resources"], "id"), users, "{base}");
            }
            send(Method::GET, &format!("{base}/Users"), &revoked)
                .await
                .assert_error(401, None);
            send(Method::GET, &format!("{base}/Users"), &admin)
                .await
                .assert_error(403, None);
            for (id, user_name) in held["users"].as_object().expect("users") {
                let url = format!(
                    "{base}/Users?filter=userName+eq+%22{}%22",
                    user_name.as_str().expect("name")
                );
                let found = get_ok(&url, &first).await;
                assert_eq!(found["Resources"][0]["id"], id.as_str(), "{user_name}");
                let user = get_ok(&format!("{base}/Users/{id}"), &first).await;
                assert_eq!(user["meta"]["location"], format!("{base}/Users/{id}"));
            }
            for id in &deleted {
                send(Method::GET, &format!("{base}/Users/{id}"), &first)
                    .await
                    .assert_error(404, None);
            }
            let list = get_ok(&format!("{base}/Groups"), &first).await;
            assert_eq!(each(&list["Resources"], "id"), groups, "{base}");
            for (id, group) in held["groups"].as_object().expect("groups") {
                let found = get_ok(&format!("{base}/Groups/{id}"), &first).await;
                assert_eq!(found["displayName"], group["displayName"]);
                let members: BTreeSet<String> = group["members"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .map(|m| m.as_str().expect("id").to_string())
                    .collect();
                assert_eq!(each(&found["members"], "value"), members, "{id}");
            }
        }

        // The old admin key is the operator's: it lists tenants, reads `default`'s feed and
        // histories (on the unscoped routes and on `default`'s), and sees every key.
        let tenants = get_ok(&format!("{origin}/admin/v1/tenants"), &admin).await;
        assert_eq!(
            each(&tenants, "id"),
            BTreeSet::from(["default".to_string()])
        );
        let operator = get_ok(&format!("{origin}/admin/v1/operator/audit"), &admin).await;
        assert_eq!(
            operator["entries"][0]["action"], "tenant.create",
            "{operator}"
        );
        for api in [
            format!("{origin}/admin/v1"),
            format!("{origin}/admin/v1/tenants/default"),
        ] {
            let feed = get_ok(&format!("{api}/audit?limit=1000"), &admin).await;
            assert_eq!(feed["entries"], old["revisions"], "{api}");
            let all = users.iter().chain(&deleted).map(|id| ("users", id.clone()));
            for (kind, id) in all.chain(groups.iter().map(|id| ("groups", id.clone()))) {
                let history = get_ok(&format!("{api}/{kind}/{id}/history"), &admin).await;
                let expected = old["revisions"]
                    .as_array()
                    .expect("revisions")
                    .iter()
                    .filter(|r| {
                        r["target_id"] == id.as_str()
                            || r["related"].as_array().is_some_and(|rel| {
                                rel.iter().any(|t| t["target_id"] == id.as_str())
                            })
                    })
                    .count();
                assert!(expected > 0, "{id}");
                assert_eq!(history["total"], expected, "{kind}/{id}: {history}");
            }
            // `default`'s keys; on the unscoped routes, the operator's too.
            let shown = each(&get_ok(&format!("{api}/keys"), &admin).await, "id");
            if api.ends_with("/default") {
                assert_eq!(shown, each(&Value::from(old_scim_keys.clone()), "id"));
            } else {
                assert_eq!(shown, each(&old["keys"], "id"));
            }
        }
        // The administrator's display name stays.
        let ada = held["users"]
            .as_object()
            .and_then(|u| u.iter().find(|(_, n)| *n == "ada@pre.example"))
            .map(|(id, _)| id.clone())
            .expect("ada");
        let profile = get_ok(&format!("{origin}/admin/v1/users/{ada}"), &admin).await;
        assert_eq!(profile["displayName"], "Countess Ada", "{profile}");
        // The admin key belongs to no tenant.
        let keys = get_ok(&format!("{origin}/admin/v1/keys"), &admin).await;
        let admin_key = keys
            .as_array()
            .and_then(|k| k.iter().find(|k| k["admin"] == true))
            .cloned()
            .expect("the admin key");
        assert!(admin_key.get("tenant").is_none(), "{admin_key}");
    });

    sigterm(&child);
    let status = wait(&mut child, Duration::from_secs(30)).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let out = scim_server(dir.path(), &["check"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("consistent"),
        "{out:?}"
    );
}

/// A copy that the release before tenants exported imports into `default` (as the store itself
/// upgrades: its admin key is the operator's) or into another tenant, which then owns every key
/// of the copy: its SCIM keys open that tenant only, its admin key is that tenant's admin (never
/// the operator's, which would open every tenant).
#[test]
fn a_copy_from_the_release_before_tenants_imports_into_default_or_into_a_tenant_of_its_own() {
    let dir = tempfile::tempdir().expect("dir");
    let held = unpack("pre-tenants", dir.path());
    let copy = dir.path().join("old-copy.json");
    std::fs::write(&copy, held["export"].to_string()).expect("write the copy");
    let copy = copy.to_str().expect("a path");
    let key = |name: &str| held["keys"][name].as_str().expect("a key").to_string();
    let (first, admin) = (key("first"), key("admin"));
    let users = keys_of(&held["users"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for tenant in ["default", "acme"] {
        let data = format!("into-{tenant}");
        let out = scim_server(
            dir.path(),
            &["--data-dir", &data, "import", copy, "--tenant", tenant],
        );
        assert!(out.status.success(), "{out:?}");
        let (mut child, ready) = start(dir.path(), &["--data-dir", &data], &[], Stdio::null());
        let origin = ready.scim_base_url.trim_end_matches("/scim/v2").to_string();
        let (own, other) = if tenant == "default" {
            (
                ready.scim_base_url.clone(),
                format!("{origin}/t/acme/scim/v2"),
            )
        } else {
            (
                format!("{origin}/t/{tenant}/scim/v2"),
                ready.scim_base_url.clone(),
            )
        };
        let own_admin = format!("{origin}/admin/v1/tenants/{tenant}/users");
        let operators = format!("{origin}/admin/v1/tenants");
        rt.block_on(async {
            let list = get_ok(&format!("{own}/Users"), &first).await;
            assert_eq!(each(&list["Resources"], "id"), users, "{tenant}");
            let listed = get_ok(&own_admin, &admin).await;
            assert_eq!(listed["total"], 3, "{tenant}: {listed}");
            let refused = send(Method::GET, &format!("{other}/Users"), &first).await;
            refused.assert_error(401, None);
            let operator = send(Method::GET, &operators, &admin).await;
            if tenant == "default" {
                assert_eq!(operator.status, 200, "{}", operator.text);
            } else {
                operator.assert_error(403, None);
                send(Method::GET, &format!("{origin}/admin/v1/users"), &admin)
                    .await
                    .assert_error(401, None);
            }
        });
        sigterm(&child);
        assert!(wait(&mut child, Duration::from_secs(30)).is_some_and(|s| s.success()));
    }
}
