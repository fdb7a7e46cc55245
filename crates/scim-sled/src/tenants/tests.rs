//! Tenants in the shared trees: making one makes no tree, deleting one removes every key of it
//! (and a deletion cut short is finished at the next open), and a store whose tenants had trees
//! of their own is moved into the shared trees with everything it held.

use std::path::Path;
use std::sync::Arc;

use scim_core::auth::{operator, Access};
use scim_core::model::{Action, Kind, Revision, TargetType, Tenant, TenantId, TenantStatus};
use scim_core::scim_proto::resource::Projection;
use scim_core::store::StoreError;
use scim_core::{Change, Context, Core, NewTenant, Settings};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::view::tenant_prefix;
use crate::{SledStore, SHARED};

/// Opens the store at `path`, waiting while an earlier handle still holds its lock.
fn open(path: &Path) -> SledStore {
    crate::tests::open_when_free(path)
}

fn id(text: &str) -> TenantId {
    TenantId::parse(text).expect("tenant id")
}

fn tenant(text: &str) -> Tenant {
    Tenant {
        id: id(text),
        name: text.to_uppercase(),
        status: TenantStatus::Active,
        default_role: "member".into(),
        created: OffsetDateTime::now_utc(),
    }
}

fn revision(action: Action, target: &str) -> Revision {
    Revision {
        seq: 0,
        time: OffsetDateTime::now_utc(),
        actor: operator(),
        action,
        target_type: TargetType::Tenant,
        target_id: target.into(),
        changes: Vec::new(),
        request_id: None,
        related: Vec::new(),
        event: None,
    }
}

/// The keys of the shared trees behind a tenant's prefix.
fn shared_keys_of(store: &SledStore, tenant: &str) -> usize {
    store
        .shared
        .named()
        .iter()
        .map(|(_, tree)| tree.scan_prefix(tenant_prefix(tenant)).count())
        .sum()
}

/// Every entry of a partition, tree by tree, as its views show them.
type Raw = Vec<Vec<(Vec<u8>, Vec<u8>)>>;

fn raw(store: &SledStore, tenant: &TenantId) -> Raw {
    let part = store.part(tenant).expect("partition");
    [
        &part.users,
        &part.groups,
        &part.index.view,
        &part.group_members,
        &part.member_groups,
        &part.feed.revisions,
        &part.feed.by_target,
    ]
    .iter()
    .map(|view| {
        view.iter()
            .map(|e| {
                let (k, v) = e.expect("entry");
                (k.to_vec(), v.to_vec())
            })
            .collect()
    })
    .collect()
}

fn ctx() -> Context {
    Context {
        actor: operator(),
        request_id: None,
        base_url: "http://engine.test/scim/v2".into(),
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
        "externalId": format!("ext-{name}"), "name": {"givenName": "G", "familyName": name},
        "active": true})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
        "members": members})
}

async fn create(core: &Core, tenant: &TenantId, kind: Kind, body: Value) -> String {
    let d = core.directory(tenant).await.expect("directory");
    d.create(kind, &body, &ctx(), &Projection::default())
        .await
        .expect("create")
        .id
}

/// Fills a store through the core: in `default` and in three tenants (two of whose ids begin
/// alike), users (one changed, one deleted, with their histories), nested groups, keys. Returns
/// the tenants with their first SCIM key.
async fn fill(core: &Core) -> Vec<(TenantId, String)> {
    core.ensure_default_tenant().await.expect("default");
    let default = TenantId::default_tenant();
    create(core, &default, Kind::User, user("dora")).await;
    let mut out = Vec::new();
    for name in ["acme", "acme-eu", "beta"] {
        let new = NewTenant {
            id: id(name),
            name: name.to_uppercase(),
            default_role: None,
        };
        let (t, _, key) = core.create_tenant(new, operator()).await.expect("tenant");
        let ada = create(core, &t.id, Kind::User, user("ada")).await;
        let bob = create(core, &t.id, Kind::User, user("bob")).await;
        let cyd = create(core, &t.id, Kind::User, user("cyd")).await;
        let crew = create(core, &t.id, Kind::Group, group("crew", &[&ada, &bob, &cyd])).await;
        create(core, &t.id, Kind::Group, group("outer", &[&crew, &ada])).await;
        let d = core.directory(&t.id).await.expect("directory");
        let suspend = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}]});
        d.change(
            Kind::User,
            &bob,
            Change::Patch(&suspend),
            None,
            &ctx(),
            &Projection::default(),
        )
        .await
        .expect("change");
        d.delete(Kind::User, &cyd, None, &ctx())
            .await
            .expect("delete");
        out.push((t.id, key));
    }
    out
}

/// Writes what `store` holds into a new store in `into` as the engine wrote it before the shared
/// trees: every tree as it is, but each tenant's keys of the shared trees in trees of its own
/// (`t/{tenant}/users`, …), without their prefix; the sequence of revision numbers where it was.
fn write_as_before_shared_trees(store: &SledStore, into: &Path) -> sled::Db {
    let old = sled::Config::new().path(into).open().expect("db");
    for name in store.db.tree_names() {
        let text = String::from_utf8_lossy(&name).into_owned();
        let from = store.db.open_tree(&name).expect("tree");
        if text == format!("{SHARED}deleting") {
            assert!(from.is_empty(), "no deletion is unfinished");
            continue;
        }
        if !text.starts_with(SHARED) {
            old.open_tree(&name).expect("tree");
        }
        for entry in from.iter() {
            let (k, v) = entry.expect("entry");
            match text.strip_prefix(SHARED) {
                Some(short) => {
                    let end = k.iter().position(|&b| b == 0).expect("a tenant's key");
                    let tenant = std::str::from_utf8(&k[..end]).expect("tenant");
                    let tree = old.open_tree(format!("t/{tenant}/{short}")).expect("tree");
                    tree.insert(&k[end + 1..], v).expect("insert");
                }
                None => {
                    old.open_tree(&name)
                        .expect("tree")
                        .insert(k, v)
                        .expect("insert");
                }
            }
        }
    }
    let last = store.db.generate_id().expect("id");
    while old.generate_id().expect("id") < last {}
    old.flush().expect("flush");
    old
}

fn tree_names(store: &SledStore) -> Vec<String> {
    let mut names: Vec<String> = store
        .db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_tenants_had_trees_of_their_own_is_moved_into_the_shared_trees() {
    let (made, whole, cut) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let source = open(made.path());
    let core = Core::new(Arc::new(source.clone()), Settings::default());
    let keys = fill(&core).await;
    let export = source.export_all().expect("export");
    let last = export
        .tenants
        .iter()
        .flat_map(|t| t.dump.revisions.iter().map(|r| r.seq))
        .chain(export.revisions.iter().map(|r| r.seq))
        .max()
        .expect("revisions");
    let tenants: Vec<TenantId> = std::iter::once(TenantId::default_tenant())
        .chain(keys.iter().map(|(t, _)| t.clone()))
        .collect();
    let before: Vec<Raw> = tenants.iter().map(|t| raw(&source, t)).collect();
    assert!(
        before[1].iter().all(|tree| !tree.is_empty()),
        "acme holds something in each tree"
    );

    drop(write_as_before_shared_trees(&source, whole.path()));
    // The same, with a move cut short: acme's users moved and their tree dropped, half of its
    // index copied (its tree still there); and the trees of a tenant whose deletion was cut short.
    {
        let old = write_as_before_shared_trees(&source, cut.path());
        let prefix = tenant_prefix("acme");
        for (name, half) in [("users", false), ("index", true)] {
            let from = old.open_tree(format!("t/acme/{name}")).expect("tree");
            let into = old.open_tree(format!("{SHARED}{name}")).expect("tree");
            let n = from.len();
            for entry in from.iter().take(if half { n / 2 } else { n }) {
                let (k, v) = entry.expect("entry");
                into.insert([prefix.as_slice(), &k].concat(), v)
                    .expect("insert");
            }
            if !half {
                old.drop_tree(format!("t/acme/{name}")).expect("drop");
            }
        }
        let ghost = old.open_tree("t/ghost/users").expect("tree");
        ghost.insert("u", "{}").expect("insert");
        old.flush().expect("flush");
    }

    for folder in [whole.path(), cut.path()] {
        let store = open(folder);
        let names = tree_names(&store);
        assert!(names.iter().all(|n| !n.starts_with("t/")), "{names:?}");
        for (t, was) in tenants.iter().zip(&before) {
            assert!(raw(&store, t) == *was, "{t}'s trees differ after the move");
        }
        assert!(shared_keys_of(&store, "ghost") == 0);
        assert!(
            store.export_all().expect("export") == export,
            "the export differs"
        );
        let problems = store.check_now().expect("check");
        assert!(problems.is_empty(), "{problems:?}");
        let core = Core::new(Arc::new(store.clone()), Settings::default());
        let problems = core.check().await.expect("check");
        assert!(problems.is_empty(), "{problems:?}");
        for (t, key) in &keys {
            core.authenticate(key, Access::Scim(t))
                .await
                .expect("a tenant's key opens it");
        }
        let acme = &keys[0].0;
        let after = create(&core, acme, Kind::User, user("after")).await;
        let d = core.directory(acme).await.expect("directory");
        let newest = d.partition().revisions(last, 10).await.expect("feed");
        assert!(
            newest.len() == 1 && newest[0].target_id == after,
            "the feed goes on after the moved entries: {newest:?}"
        );
        drop((d, core, store));
        let again = open(folder);
        assert_eq!(tree_names(&again), names, "a second open moves nothing");
        assert!(again
            .part(acme)
            .expect("partition")
            .get_now(Kind::User, &after)
            .expect("get")
            .is_some());
    }
}

#[test]
fn making_a_tenant_makes_no_tree() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    let before = tree_names(&store);
    for n in 0..50 {
        let t = tenant(&format!("t{n}"));
        store
            .put_tenant_now(&t, &revision(Action::TenantCreate, t.id.as_str()))
            .expect("tenant");
        let part = store.part(&t.id).expect("partition");
        part.users.insert("u", "{}").expect("insert");
    }
    assert_eq!(tree_names(&store), before);
}

#[test]
fn deleting_a_tenant_removes_every_key_of_it_and_no_other() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(dir.path());
    // Neighbours of `big` in key order on both sides.
    let names = ["bi", "big", "big-a", "bigg"];
    for name in names {
        let t = tenant(name);
        store
            .put_tenant_now(&t, &revision(Action::TenantCreate, name))
            .expect("tenant");
        let part = store.part(&t.id).expect("partition");
        let many = if name == "big" {
            2 * super::BATCH + 10
        } else {
            5
        };
        for i in 0..many {
            let k = format!("{i:05}");
            part.users.insert(&k, "{}").expect("insert");
            part.index.view.insert(&k, "x").expect("insert");
        }
        for view in [
            &part.groups,
            &part.group_members,
            &part.member_groups,
            &part.feed.revisions,
            &part.feed.by_target,
        ] {
            view.insert("k", "v").expect("insert");
        }
    }
    let held = store.part(&id("big")).expect("partition");
    store
        .delete_tenant_now(&id("big"), &revision(Action::TenantDelete, "big"))
        .expect("delete");
    assert_eq!(shared_keys_of(&store, "big"), 0);
    for name in ["bi", "big-a", "bigg"] {
        assert_eq!(shared_keys_of(&store, name), 15, "{name} kept its data");
    }
    assert!(store.deleting.is_empty(), "the marker is gone");
    assert!(matches!(held.live(), Err(StoreError::Gone)));
    assert!(matches!(store.part(&id("big")), Err(StoreError::Gone)));
    let tenants = store.tenants_now().expect("tenants");
    assert!(store.check_shared(&tenants).expect("check").is_empty());

    // A deletion that failed after its first step: made again, the tenant starts empty.
    store.tenants.remove("bigg").expect("remove");
    store.deleting.insert("bigg", "").expect("marker");
    store.tenants_changed();
    let problems = store
        .check_shared(&store.tenants_now().expect("tenants"))
        .expect("check");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("deletion of tenant bigg"))
            && problems.iter().any(|p| p.contains("\"bigg\"")),
        "{problems:?}"
    );
    store
        .put_tenant_now(&tenant("bigg"), &revision(Action::TenantCreate, "bigg"))
        .expect("made again");
    assert_eq!(shared_keys_of(&store, "bigg"), 0);
    assert!(store.deleting.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_cut_short_is_finished_at_the_next_open() {
    let dir = tempfile::tempdir().expect("dir");
    let kept: Vec<(TenantId, Raw)>;
    {
        let store = open(dir.path());
        let core = Core::new(Arc::new(store.clone()), Settings::default());
        let tenants = fill(&core).await;
        kept = tenants[1..]
            .iter()
            .map(|(t, _)| (t.clone(), raw(&store, t)))
            .collect();
        // The first step of acme's deletion (the tenant, its keys, the marker), and part of the
        // removal of its data; then a crash.
        store.tenants.remove("acme").expect("remove");
        for key in store.keys_now().expect("keys") {
            if key.tenant.as_ref().is_some_and(|t| t.as_str() == "acme") {
                store.api_keys.remove(&key.id).expect("remove");
            }
        }
        store.deleting.insert("acme", "").expect("marker");
        let users = &store.shared.users;
        for key in users.scan_prefix(tenant_prefix("acme")).keys().take(2) {
            users.remove(key.expect("key")).expect("remove");
        }
        store.flush_now().expect("flush");
        assert!(shared_keys_of(&store, "acme") > 0);
    }
    let store = open(dir.path());
    assert!(store.deleting.is_empty(), "the marker is gone");
    assert_eq!(shared_keys_of(&store, "acme"), 0);
    for (t, was) in &kept {
        assert!(raw(&store, t) == *was, "{t} lost data");
    }
    let problems = store.check_now().expect("check");
    assert!(problems.is_empty(), "{problems:?}");
}
