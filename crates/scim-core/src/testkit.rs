//! The engine test suite: what every storage engine must do, checked through the seam and the
//! core, each check on a fresh, empty store. An engine's tests call [`run`] with a factory of
//! fresh stores and assert that every check passes; a deliberately broken engine must fail some.
//!
//! | check | promise |
//! | --- | --- |
//! | `refused-writes-change-nothing` | a refused write (taken name, missing member, stale version) leaves no trace: no record, index entry, membership or revision |
//! | `uniqueness-under-concurrency` | of concurrent creates of one `userName` in different cases, exactly one wins |
//! | `feed-is-gap-free` | a reader polling `after=N` during concurrent writes misses no entry, however late it commits |
//! | `membership-both-ways` | members and the groups of a member (one at a time, and a page's at once) agree through adds, removals and deletes; a deleted member's groups move to a new version and record it |
//! | `history-outlives-deletion` | a resource's history (its own entries and those that name it) stays after it is deleted |
//! | `index-follows-changes` | index lookups find a record by its current keys only |
//! | `stale-writes-are-refused` | a write computed from an old version is refused; with `If-Match`, one of two concurrent changes wins |
//! | `queries-select-sort-and-page` | filters, sorts and pages answer what the matcher says, with exact totals |
//! | `export-import-round-trip` | an export (webhook endpoints included) imported into an empty store exports the same, and every integrity rule holds |
//! | `web-sessions-are-kept-and-pruned` | the admin page's sessions read back by digest, record their last use, end when deleted, and are pruned by age and beyond a number, least recently used first |
//! | `tenants-are-apart` | the same `userName` in two tenants; lookups, lists, histories and feeds never cross; a key opens its own tenant only |
//! | `deleting-a-tenant-removes-only-its-data` | a deleted tenant's records, history and keys are gone (and stay gone if it is made again); others keep theirs |
//! | `a-copy-loaded-into-a-tenant-owns-its-keys` | a tenant's copy loaded into another tenant (or a whole store's from before tenants) gives that tenant every key of it: its admin keys are that tenant's, never the operator's; loaded into `default`, keys without a tenant keep their meaning (the operator's admin keys); a copy whose keys the store holds already is refused |
//! | `events-commit-with-their-changes` | every change of a user or group reads back from the feed with its event (type, id, the record as committed, members added and removed), in order; entries about keys have none; a refused write (taken name, missing member, stale version) leaves no event; the change feed pages through them gap-free; read without events (`revisions_without_events`), the feed holds the same entries |
//! | `webhook-endpoints-are-kept-per-tenant` | a tenant's webhook endpoints read back whole (secret included) in id order, with their changes in its feed; another tenant's are never seen; a deleted tenant's are gone, and stay gone if it is made again; so are where each endpoint's deliveries stand (`Store::delivery`) |
//! | `a-tenant-deleted-under-a-request-stops-nothing` | a request that began before its tenant was deleted (a long bulk request) gets "not found" from then on; the store stays healthy, other tenants write on, nothing it tried reaches a tenant made again with the same id |

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use scim_proto::list::{ListQuery, RawListParams};
use scim_proto::resource::{EntityTags, Projection};
use serde_json::{json, Value};

use crate::auth::operator;
use crate::error::Error;
use crate::model::{
    Action, ApiKey, Dump, Export, IndexKey, Kind, Member, Record, Revision, SharedMembers,
    StoredKind, TargetRef, TargetType, Tenant, TenantId, TenantStatus,
};
use crate::store::{
    Expect, Found, HistoryPart, Partition, Query, Store, StoreError, Write, WriteOp,
};
use crate::{Change, Context, Core, Directory, Settings};

/// A fresh, empty store.
pub type Fresh<'f> = &'f (dyn Fn() -> Arc<dyn Store> + Sync);

/// One check's outcome.
#[derive(Debug)]
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<(), String>,
}

type Checked = Result<(), String>;
/// A check: given a core over a fresh store, and a second one (for those that copy a store).
type CheckFn = fn(Arc<Core>, Arc<Core>) -> Pin<Box<dyn Future<Output = Checked> + Send>>;

/// Every check, by name.
pub const CHECKS: &[(&str, CheckFn)] = &[
    ("refused-writes-change-nothing", |c, _| {
        Box::pin(refused_writes_change_nothing(c))
    }),
    ("uniqueness-under-concurrency", |c, _| {
        Box::pin(uniqueness_under_concurrency(c))
    }),
    ("feed-is-gap-free", |c, _| Box::pin(feed_is_gap_free(c))),
    ("membership-both-ways", |c, _| {
        Box::pin(membership_both_ways(c))
    }),
    ("history-outlives-deletion", |c, _| {
        Box::pin(history_outlives_deletion(c))
    }),
    ("history-pages-newest-first", |c, _| {
        Box::pin(history_pages_newest_first(c))
    }),
    ("index-follows-changes", |c, _| {
        Box::pin(index_follows_changes(c))
    }),
    ("stale-writes-are-refused", |c, _| {
        Box::pin(stale_writes_are_refused(c))
    }),
    ("queries-select-sort-and-page", |c, _| {
        Box::pin(queries_select_sort_and_page(c))
    }),
    ("export-import-round-trip", |c, into| {
        Box::pin(export_import_round_trip(c, into))
    }),
    ("tenants-are-apart", |c, _| Box::pin(tenants_are_apart(c))),
    ("web-sessions-are-kept-and-pruned", |c, _| {
        Box::pin(web_sessions_are_kept_and_pruned(c))
    }),
    ("deleting-a-tenant-removes-only-its-data", |c, _| {
        Box::pin(deleting_a_tenant_removes_only_its_data(c))
    }),
    ("a-copy-loaded-into-a-tenant-owns-its-keys", |c, _| {
        Box::pin(a_copy_loaded_into_a_tenant_owns_its_keys(c))
    }),
    ("events-commit-with-their-changes", |c, _| {
        Box::pin(events_commit_with_their_changes(c))
    }),
    ("webhook-endpoints-are-kept-per-tenant", |c, _| {
        Box::pin(webhook_endpoints_are_kept_per_tenant(c))
    }),
    ("a-tenant-deleted-under-a-request-stops-nothing", |c, _| {
        Box::pin(a_tenant_deleted_under_a_request_stops_nothing(c))
    }),
];

/// Runs every check, each on fresh stores from `fresh`.
pub async fn run(fresh: Fresh<'_>) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (name, check) in CHECKS {
        let result = check(core(fresh()).await, core(fresh()).await).await;
        out.push(Outcome { name, result });
    }
    out
}

/// Copies a whole store from one engine to another and back: `from` (empty) is filled with
/// tenants, users (one deleted, one with its profile changed), nested groups, keys and a webhook
/// endpoint; its export
/// is imported into `to` (empty), whose every integrity rule must hold and whose export must be
/// the same copy; then `to`'s export is imported into `back` (empty), likewise. Each store then
/// takes a new write whose feed entry follows the copied ones.
pub async fn copies_between(
    from: Arc<dyn Store>,
    to: Arc<dyn Store>,
    back: Arc<dyn Store>,
) -> Checked {
    let source = core(from).await;
    let d = dir(&source).await?;
    let a = create(&d, Kind::User, user("Ada.Copy")).await?;
    let b = create(&d, Kind::User, user("bob.copy")).await?;
    let gone = create(&d, Kind::User, user("gone.copy")).await?;
    let crew = create(&d, Kind::Group, group("Crew", &[&a, &b, &gone])).await?;
    create(&d, Kind::Group, group("Outer", &[&crew])).await?;
    d.delete(Kind::User, &gone, None, &ctx())
        .await
        .map_err(text)?;
    apply(
        &d,
        Kind::User,
        &b,
        &patch(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await?;
    let (acme, _) = tenant(&source, "acme").await?;
    let c = create(&acme, Kind::User, user("ada.copy")).await?;
    create(&acme, Kind::Group, group("Crew", &[&c])).await?;
    source
        .mint_key(
            "operator copy",
            crate::auth::KeyKind::Admin,
            None,
            operator(),
        )
        .await
        .map_err(text)?;
    source
        .add_webhook(
            &TenantId::parse("acme")?,
            "https://acme.example/hooks",
            &["*".to_string()],
            operator(),
        )
        .await
        .map_err(text)?;
    let copy = source.store().export().await.map_err(text)?;
    ensure(copy.tenants.len() == 2, "the copy holds both tenants")?;
    ensure(
        copy.tenants
            .iter()
            .map(|t| t.dump.webhooks.len())
            .sum::<usize>()
            == 1,
        "the copy holds acme's webhook endpoint",
    )?;
    let mut stores = vec![source];
    for next in [to, back] {
        let core = core_without_default(next);
        let previous = stores.last().ok_or("no store")?;
        let exported = previous.store().export().await.map_err(text)?;
        core.store().import(exported.clone()).await.map_err(text)?;
        let problems = core.check().await.map_err(text)?;
        ensure(
            problems.is_empty(),
            format!("integrity after the copy: {problems:?}"),
        )?;
        let again = core.store().export().await.map_err(text)?;
        ensure(
            again == exported,
            "the copy does not export what was imported",
        )?;
        ensure(again == copy, "a copy of a copy differs from the first")?;
        stores.push(core);
    }
    for core in &stores {
        let d = dir(core).await?;
        let last = copy
            .tenants
            .iter()
            .find(|t| t.tenant.id.is_default())
            .and_then(|t| t.dump.revisions.iter().map(|r| r.seq).max())
            .unwrap_or(0);
        create(&d, Kind::User, user("after.copy")).await?;
        let newest = d.partition().revisions(last, 10).await.map_err(text)?;
        ensure(
            newest.len() == 1 && newest[0].target_type == TargetType::User,
            format!("after the copy, the feed holds {newest:?}"),
        )?;
        let groups = set(d.partition().groups_of(&crew)).await?;
        ensure(groups.len() == 1, "memberships were not rebuilt both ways")?;
    }
    Ok(())
}

/// A core over a store that an import will fill (no `default` tenant made first).
fn core_without_default(store: Arc<dyn Store>) -> Arc<Core> {
    Arc::new(Core::new(store, Settings::default()).with_sealer(test_sealer()))
}

/// The secrets key of the suite's cores: one fixed key, so that every core of a check opens
/// what another sealed.
fn test_sealer() -> crate::seal::Sealer {
    crate::seal::Sealer::from_key(&[7; 32])
}

/// The names of the checks that failed, with why.
pub fn failures(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|e| format!("{}: {e}", o.name)))
        .collect()
}

async fn core(store: Arc<dyn Store>) -> Arc<Core> {
    let core = Arc::new(Core::new(store, Settings::default()).with_sealer(test_sealer()));
    // A fresh store has no tenant yet; the server makes `default` at its start.
    if let Err(e) = core.ensure_default_tenant().await {
        tracing::error!(error = %e, "the engine could not create the default tenant");
    }
    core
}

/// The default tenant's directory.
async fn dir(core: &Core) -> Result<Directory, String> {
    core.directory(&TenantId::default_tenant())
        .await
        .map_err(text)
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
        "name": {"givenName": "G", "familyName": name}, "title": name, "active": true})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
        "members": members})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn ensure(cond: bool, what: impl Into<String>) -> Checked {
    if cond {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn create(d: &Directory, kind: Kind, body: Value) -> Result<String, String> {
    let full = Projection::default();
    d.create(kind, &body, &ctx(), &full)
        .await
        .map(|r| r.id)
        .map_err(text)
}

/// Applies PATCH operations to a resource.
async fn apply(d: &Directory, kind: Kind, id: &str, body: &Value) -> Checked {
    let full = Projection::default();
    d.change(kind, id, Change::Patch(body), None, &ctx(), &full)
        .await
        .map(drop)
        .map_err(text)
}

async fn history(d: &Directory, kind: Kind, id: &str) -> Result<Vec<Revision>, String> {
    let target = TargetRef {
        target_type: kind.into(),
        target_id: id.to_string(),
    };
    d.partition().revisions_of(&target).await.map_err(text)
}

/// How many concurrent operations succeeded, and how many were refused as `expected` says; any
/// other refusal fails the check.
async fn tally<T>(
    tasks: Vec<tokio::task::JoinHandle<crate::Result<T>>>,
    expected: fn(&Error) -> bool,
) -> Result<(usize, usize), String> {
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.map_err(text)? {
            Ok(_) => ok += 1,
            Err(e) if expected(&e) => refused += 1,
            Err(e) => return Err(format!("unexpected refusal: {e}")),
        }
    }
    Ok((ok, refused))
}

async fn set(
    v: impl Future<Output = Result<Vec<String>, StoreError>>,
) -> Result<BTreeSet<String>, String> {
    Ok(v.await.map_err(text)?.into_iter().collect())
}

async fn refused_writes_change_nothing(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let ada = create(&d, Kind::User, user("ada")).await?;
    let before = d.partition().export().await.map_err(text)?;
    let taken = d
        .create(Kind::User, &user("ADA"), &ctx(), &Projection::default())
        .await;
    ensure(
        matches!(taken, Err(Error::Conflict(_))),
        format!("a taken userName: {taken:?}"),
    )?;
    // A member that does not exist, named with its type so that the core cannot catch it
    // before the engine does.
    let ghost = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "ghosts", "members": [{"value": ada}, {"value": "no-such-user", "type": "User"}]});
    let refused = d
        .create(Kind::Group, &ghost, &ctx(), &Projection::default())
        .await;
    ensure(
        refused.is_err(),
        "a group with a missing member was created",
    )?;
    let stale = Write {
        kind: Kind::User,
        id: ada.clone(),
        expect: Expect::Version(99),
        op: WriteOp::Delete {
            members: Vec::new(),
            member_of: Vec::new(),
        },
        touch: Vec::new(),
        revision: before.revisions[0].clone(),
    };
    let r = d.partition().commit(stale).await;
    ensure(
        r == Err(StoreError::Stale),
        format!("a stale delete: {r:?}"),
    )?;
    let after = d.partition().export().await.map_err(text)?;
    ensure(after == before, "a refused write changed the store")?;
    let names = d
        .partition()
        .lookup(&IndexKey::GroupDisplayName("ghosts".into()))
        .await
        .map_err(text)?;
    ensure(names.is_empty(), "a refused group left its index entry")
}

async fn uniqueness_under_concurrency(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let d = d.clone();
        let name = ["alice", "Alice", "ALICE"][i % 3];
        tasks.push(tokio::spawn(async move {
            d.create(Kind::User, &user(name), &ctx(), &Projection::default())
                .await
        }));
    }
    let (won, conflicts) = tally(tasks, |e| matches!(e, Error::Conflict(_))).await?;
    ensure(
        (won, conflicts) == (1, 23),
        format!("{won} won, {conflicts} conflicts"),
    )?;
    let ids = d
        .partition()
        .lookup(&IndexKey::UserName("alice".into()))
        .await
        .map_err(text)?;
    ensure(ids.len() == 1, format!("the index holds {ids:?}"))
}

async fn feed_is_gap_free(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let d = d.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                create(&d, Kind::User, user(&format!("feed-{w}-{i}"))).await?;
            }
            Ok::<(), String>(())
        }));
    }
    let reader = {
        let d = d.clone();
        tokio::spawn(async move {
            let (mut after, mut seen) = (0u64, Vec::new());
            while seen.len() < WRITERS * EACH {
                let batch = d.partition().revisions(after, 7).await.map_err(text)?;
                for r in &batch {
                    if r.seq <= after {
                        return Err(format!("entry {} came after {after}", r.seq));
                    }
                    after = r.seq;
                    seen.push(r.seq);
                }
                if batch.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
            Ok::<Vec<u64>, String>(seen)
        })
    };
    for w in writers {
        w.await.map_err(text)??;
    }
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), reader)
        .await
        .map_err(|_| "the reader never saw every entry".to_string())?
        .map_err(text)??;
    let all: Vec<u64> = d
        .partition()
        .revisions(0, usize::MAX)
        .await
        .map_err(text)?
        .iter()
        .map(|r| r.seq)
        .collect();
    ensure(
        seen == all,
        format!("the reader saw {} of {} entries", seen.len(), all.len()),
    )
}

async fn membership_both_ways(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let u1 = create(&d, Kind::User, user("m1")).await?;
    let u2 = create(&d, Kind::User, user("m2")).await?;
    let g = create(&d, Kind::Group, group("team", &[&u1, &u2])).await?;
    let s = d.partition();
    let members = |g: String| async move {
        Ok::<BTreeSet<String>, String>(
            s.members(&g)
                .await
                .map_err(text)?
                .into_iter()
                .map(|m| m.value)
                .collect(),
        )
    };
    ensure(
        members(g.clone()).await? == [u1.clone(), u2.clone()].into(),
        "members after create",
    )?;
    ensure(
        set(s.groups_of(&u1)).await? == [g.clone()].into(),
        "groups of a member",
    )?;
    let lone = create(&d, Kind::User, user("m3")).await?;
    let each = s
        .groups_of_each(&[u1.clone(), lone.clone(), u2.clone(), "nobody".into()])
        .await
        .map_err(text)?;
    ensure(
        each.len() == 2
            && each.get(&u1) == Some(&vec![g.clone()])
            && each.get(&u2) == Some(&vec![g.clone()]),
        format!("groups of each of a page's ids: {each:?}"),
    )?;
    let among = |ids: Vec<String>| {
        let (s, g) = (Arc::clone(s), g.clone());
        async move {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            s.members_among(&g, &ids).await.map_err(text)
        }
    };
    let found = among(vec![u2.clone(), lone.clone(), "nobody".into()]).await?;
    ensure(
        found.len() == 1 && found[0].value == u2 && found[0].kind == StoredKind::User,
        format!("the members among some ids: {found:?}"),
    )?;
    // A member that stays with a new `display` is written as it becomes.
    let relabel = patch(json!([{"op": "replace", "path": "members", "value": [
        {"value": u1, "display": "One"}, {"value": u2}]}]));
    apply(&d, Kind::Group, &g, &relabel).await?;
    let found = among(vec![u1.clone()]).await?;
    ensure(
        found.len() == 1 && found[0].display.as_deref() == Some("One"),
        format!("a member's new display: {found:?}"),
    )?;
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]));
    apply(&d, Kind::Group, &g, &remove).await?;
    ensure(
        set(s.groups_of(&u1)).await?.is_empty(),
        "a removed member still lists the group",
    )?;
    let version = s
        .get(Kind::Group, &g)
        .await
        .map_err(text)?
        .map(|r| r.version);
    d.delete(Kind::User, &u2, None, &ctx())
        .await
        .map_err(text)?;
    ensure(
        members(g.clone()).await?.is_empty(),
        "a deleted member is still a member",
    )?;
    let moved = s
        .get(Kind::Group, &g)
        .await
        .map_err(text)?
        .map(|r| r.version);
    ensure(
        moved > version,
        "a group that lost a deleted member kept its version",
    )?;
    let entries = history(&d, Kind::Group, &g).await?;
    ensure(
        entries
            .iter()
            .any(|r| r.action == Action::Delete && r.target_id == u2),
        "the group's history lacks its member's deletion",
    )
}

async fn history_outlives_deletion(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let id = create(&d, Kind::User, user("ephemeral")).await?;
    let suspend = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    apply(&d, Kind::User, &id, &suspend).await?;
    d.delete(Kind::User, &id, None, &ctx())
        .await
        .map_err(text)?;
    ensure(
        d.partition()
            .get(Kind::User, &id)
            .await
            .map_err(text)?
            .is_none(),
        "deleted, yet still there",
    )?;
    let actions: Vec<Action> = history(&d, Kind::User, &id)
        .await?
        .iter()
        .map(|r| r.action)
        .collect();
    ensure(
        actions == [Action::Create, Action::Suspend, Action::Delete],
        format!("history {actions:?}"),
    )
}

/// A history read a page at a time: newest first, with the total, each entry without its event,
/// the same entries the whole history holds; entries that name the resource as related (a
/// group's member added) count too.
async fn history_pages_newest_first(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let id = create(&d, Kind::User, user("paged")).await?;
    for i in 0..6 {
        let active = i % 2 == 1;
        let change = patch(json!([{"op": "replace", "path": "active", "value": active}]));
        apply(&d, Kind::User, &id, &change).await?;
    }
    let group = create(&d, Kind::Group, json!({"displayName": "Paged"})).await?;
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
    apply(&d, Kind::Group, &group, &add).await?;
    let mut whole = history(&d, Kind::User, &id).await?;
    ensure(whole.len() == 8, format!("{} entries, not 8", whole.len()))?;
    whole.reverse();
    for e in &mut whole {
        e.event = None;
    }
    let target = TargetRef {
        target_type: TargetType::User,
        target_id: id.clone(),
    };
    for (skip, take) in [
        (0, 3),
        (3, 3),
        (6, 3),
        (0, 100),
        (7, 1),
        (8, 5),
        (20, 2),
        (2, 0),
    ] {
        let part = d
            .partition()
            .history(&target, skip, take)
            .await
            .map_err(text)?;
        ensure(
            part.total == 8,
            format!("skip {skip}, take {take}: total {}", part.total),
        )?;
        let wanted: Vec<Revision> = whole.iter().skip(skip).take(take).cloned().collect();
        ensure(
            part.entries == wanted,
            format!(
                "skip {skip}, take {take}: {:?}, not {:?}",
                seqs(&part.entries),
                seqs(&wanted)
            ),
        )?;
    }
    ensure(
        whole.first().map(|e| e.action) == Some(Action::Patch)
            && whole.first().map(|e| e.target_type) == Some(TargetType::Group),
        "the newest entry is the group's member add",
    )?;
    let none = TargetRef {
        target_type: TargetType::User,
        target_id: "no-such-user".into(),
    };
    let empty = d.partition().history(&none, 0, 10).await.map_err(text)?;
    ensure(
        empty == HistoryPart::default(),
        format!("a history of nothing: {empty:?}"),
    )
}

fn seqs(entries: &[Revision]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

async fn index_follows_changes(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let id = create(&d, Kind::User, user("Before")).await?;
    let find = |name: &str| {
        let (store, key) = (Arc::clone(d.partition()), IndexKey::UserName(name.into()));
        async move { store.lookup(&key).await.map_err(text) }
    };
    ensure(
        find("before").await? == [id.clone()],
        "lookup by folded name",
    )?;
    let rename = patch(json!([{"op": "replace", "path": "userName", "value": "After"}]));
    apply(&d, Kind::User, &id, &rename).await?;
    ensure(
        find("before").await?.is_empty(),
        "the old name still finds it",
    )?;
    ensure(
        find("after").await? == [id.clone()],
        "the new name does not",
    )?;
    // The old name is free again.
    create(&d, Kind::User, user("before")).await.map(drop)
}

async fn stale_writes_are_refused(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let id = create(&d, Kind::User, user("contended")).await?;
    let tags = EntityTags::parse("W/\"1\"");
    let mut tasks = Vec::new();
    for title in ["one", "two"] {
        let (d, id, tags) = (d.clone(), id.clone(), tags.clone());
        tasks.push(tokio::spawn(async move {
            let body = patch(json!([{"op": "replace", "path": "title", "value": title}]));
            d.change(
                Kind::User,
                &id,
                Change::Patch(&body),
                Some(&tags),
                &ctx(),
                &Projection::default(),
            )
            .await
        }));
    }
    let (ok, refused) = tally(tasks, |e| matches!(e, Error::PreconditionFailed(_))).await?;
    ensure(
        (ok, refused) == (1, 1),
        format!("{ok} applied, {refused} refused"),
    )
}

async fn queries_select_sort_and_page(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    for name in ["carol", "alice", "bob", "dave", "erin"] {
        create(&d, Kind::User, user(name)).await?;
    }
    let list = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let q = ListQuery::parse(
            d.registry(),
            Kind::User,
            &RawListParams::from_pairs(&pairs),
            100,
        );
        let d = d.clone();
        async move {
            let q = q.map_err(text)?;
            let page = d
                .list(Kind::User, &q, &ctx())
                .await
                .map_err(text)?
                .to_value();
            let names: Vec<String> = page["Resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["userName"].as_str().map(str::to_string))
                .collect();
            Ok::<(u64, Vec<String>), String>((page["totalResults"].as_u64().unwrap_or(0), names))
        }
    };
    let (total, names) = list(&[("filter", "userName eq \"BOB\"")]).await?;
    ensure(
        (total, names.clone()) == (1, vec!["bob".into()]),
        format!("eq: {total} {names:?}"),
    )?;
    let (total, names) = list(&[("filter", "title co \"a\""), ("sortBy", "userName")]).await?;
    ensure(
        (total, names.clone()) == (3, vec!["alice".into(), "carol".into(), "dave".into()]),
        format!("scan and sort: {total} {names:?}"),
    )?;
    let (total, names) = list(&[
        ("sortBy", "userName"),
        ("sortOrder", "descending"),
        ("startIndex", "2"),
        ("count", "2"),
    ])
    .await?;
    ensure(
        (total, names.clone()) == (5, vec!["dave".into(), "carol".into()]),
        format!("sorted page: {total} {names:?}"),
    )?;
    let (total, names) = list(&[("startIndex", "4"), ("count", "10")]).await?;
    ensure(
        (total, names.len()) == (5, 2),
        format!("unsorted page: {total} {names:?}"),
    )
}

async fn export_import_round_trip(core: Arc<Core>, into: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let into_d = dir(&into).await?;
    let a = create(&d, Kind::User, user("exported")).await?;
    let b = create(&d, Kind::User, user("kept")).await?;
    let g = create(&d, Kind::Group, group("crew", &[&a, &b])).await?;
    d.delete(Kind::User, &a, None, &ctx()).await.map_err(text)?;
    let nested = create(&d, Kind::Group, group("outer", &[&g])).await?;
    core.mint_key("a key", crate::auth::KeyKind::Scim, None, operator())
        .await
        .map_err(text)?;
    let hook = core
        .add_webhook(
            &TenantId::default_tenant(),
            "https://hooks.example/copy",
            &["user.*".to_string()],
            operator(),
        )
        .await
        .map_err(text)?;
    let dump = d.partition().export().await.map_err(text)?;
    ensure(
        dump.webhooks.len() == 1 && opens_to(&core, &dump.webhooks[0], &hook.secret),
        format!("the copy holds the endpoints {:?}", dump.webhooks),
    )?;
    into_d
        .partition()
        .import(dump.clone())
        .await
        .map_err(text)?;
    let again = into_d.partition().export().await.map_err(text)?;
    ensure(
        again == dump,
        "the import does not export what was imported",
    )?;
    for c in [&core, &into] {
        let problems = c.check().await.map_err(text)?;
        ensure(problems.is_empty(), format!("integrity: {problems:?}"))?;
    }
    let groups = set(into_d.partition().groups_of(&g)).await?;
    ensure(
        groups == [nested].into(),
        "memberships were not rebuilt both ways",
    )?;
    // New entries continue after the imported ones.
    let last = dump.revisions.iter().map(|r| r.seq).max().unwrap_or(0);
    create(&into_d, Kind::User, user("after-import")).await?;
    let newest = into_d.partition().revisions(last, 10).await.map_err(text)?;
    ensure(
        newest.len() == 1 && newest[0].target_type == TargetType::User,
        format!("after the import, the feed holds {newest:?}"),
    )
}

async fn web_sessions_are_kept_and_pruned(core: Arc<Core>) -> Checked {
    let store = core.store();
    let t0 = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).map_err(text)?;
    let minute = time::Duration::minutes(1);
    let session = |n: i32| crate::model::WebSession {
        digest: format!("digest-{n}"),
        key_id: format!("key-{n}"),
        csrf: format!("csrf-{n}"),
        opened: t0 + minute * n,
        seen: t0 + minute * (n + 10),
    };
    for n in 0..5 {
        store.put_session(session(n)).await.map_err(text)?;
    }
    let got = store.session("digest-3").await.map_err(text)?;
    ensure(
        got == Some(session(3)),
        format!("a session reads back as {got:?}"),
    )?;
    let mut seen = session(1);
    seen.seen = t0 + minute * 100;
    store.put_session(seen.clone()).await.map_err(text)?;
    ensure(
        store.session("digest-1").await.map_err(text)? == Some(seen),
        "a session's last use is recorded",
    )?;
    store.delete_session("digest-4").await.map_err(text)?;
    ensure(
        store.session("digest-4").await.map_err(text)?.is_none(),
        "a deleted session ends",
    )?;
    // Sessions 0 and 2 were last used before minute 13; 3 was opened after minute 2.
    store
        .prune_sessions(t0 + minute * 13, t0 + minute * 1, 10)
        .await
        .map_err(text)?;
    for (n, kept) in [(0, false), (1, true), (2, false), (3, true)] {
        let found = store
            .session(&format!("digest-{n}"))
            .await
            .map_err(text)?
            .is_some();
        ensure(
            found == kept,
            format!("after pruning, session {n} kept: {found}"),
        )?;
    }
    // Beyond `keep`, the least recently used go: 3 (seen at 13) before 1 (seen at 100).
    store.prune_sessions(t0, t0, 1).await.map_err(text)?;
    ensure(
        store.session("digest-1").await.map_err(text)?.is_some()
            && store.session("digest-3").await.map_err(text)?.is_none(),
        "pruning to one keeps the most recently used",
    )
}

async fn tenants_are_apart(core: Arc<Core>) -> Checked {
    let (acme, beta) = (tenant(&core, "acme").await?, tenant(&core, "beta").await?);
    let a = create(&acme.0, Kind::User, user("shared.name")).await?;
    let b = create(&beta.0, Kind::User, user("Shared.Name")).await?;
    let lookup = |d: &Directory| {
        let p = Arc::clone(d.partition());
        async move {
            p.lookup(&IndexKey::UserName("shared.name".into()))
                .await
                .map_err(text)
        }
    };
    ensure(lookup(&acme.0).await? == [a.clone()], "acme's lookup")?;
    ensure(lookup(&beta.0).await? == [b.clone()], "beta's lookup")?;
    let got = acme.0.partition().get(Kind::User, &b).await.map_err(text)?;
    ensure(got.is_none(), "acme reads beta's user by its id")?;
    // A membership of beta's is not one of acme's, even named by its ids.
    let team = create(&beta.0, Kind::Group, group("team", &[&b])).await?;
    let among = acme
        .0
        .partition()
        .members_among(&team, &[b.as_str()])
        .await
        .map_err(text)?;
    ensure(among.is_empty(), "acme finds beta's membership by its ids")?;
    let raw = RawListParams::from_pairs(&[]);
    let q = ListQuery::parse(acme.0.registry(), Kind::User, &raw, 100).map_err(text)?;
    let page = acme
        .0
        .list(Kind::User, &q, &ctx())
        .await
        .map_err(text)?
        .to_value();
    ensure(
        page["totalResults"] == 1,
        format!("acme lists {}", page["totalResults"]),
    )?;
    let feed = acme.0.partition().revisions(0, 100).await.map_err(text)?;
    ensure(
        feed.iter().all(|r| r.target_id != b),
        "beta's change is in acme's feed",
    )?;
    let history = history(&acme.0, Kind::User, &b).await?;
    ensure(history.is_empty(), "acme holds the history of beta's user")?;
    // Keys: acme's opens acme only; to beta it is unknown (401), not forbidden.
    let on = |t: &'static str| TenantId::parse(t).map_err(text);
    let ok = core
        .authenticate(&acme.1, crate::auth::Access::Scim(&on("acme")?))
        .await;
    ensure(ok.is_ok(), format!("acme's key on acme: {ok:?}"))?;
    let cross = core
        .authenticate(&acme.1, crate::auth::Access::Scim(&on("beta")?))
        .await;
    ensure(
        matches!(cross, Err(Error::Unauthorized(_))),
        format!("acme's key on beta: {cross:?}"),
    )?;
    let beta_id = on("beta")?;
    let listed = core.keys(Some(&beta_id)).await.map_err(text)?;
    ensure(
        listed.iter().all(|k| k.tenant.as_ref() == Some(&beta_id)),
        "beta's key list shows another tenant's key",
    )
}

async fn deleting_a_tenant_removes_only_its_data(core: Arc<Core>) -> Checked {
    let (gone, kept) = (tenant(&core, "gone").await?, tenant(&core, "kept").await?);
    create(&gone.0, Kind::User, user("left")).await?;
    let stays = create(&kept.0, Kind::User, user("stays")).await?;
    let id = gone.0.tenant().id.clone();
    let refused = core.delete_tenant(&id, true, operator()).await;
    ensure(refused.is_err(), "an active tenant was deleted")?;
    core.update_tenant(&id, None, None, Some(TenantStatus::Disabled), operator())
        .await
        .map_err(text)?;
    let stopped = core
        .authenticate(&gone.1, crate::auth::Access::Scim(&id))
        .await;
    ensure(stopped.is_err(), "a disabled tenant's key still works")?;
    core.delete_tenant(&id, true, operator())
        .await
        .map_err(text)?;
    ensure(core.tenant(&id).await.is_err(), "the tenant is still there")?;
    ensure(
        core.keys(Some(&id)).await.map_err(text)?.is_empty(),
        "its keys are still there",
    )?;
    let feed = core.operator_audit(0, 100).await.map_err(text)?;
    ensure(
        feed.entries
            .iter()
            .any(|r| r.action == Action::TenantDelete && r.target_id == id.as_str()),
        "the deletion is not in the operator's feed",
    )?;
    // Made again, it starts empty.
    let again = tenant(&core, "gone").await?;
    let export = again.0.partition().export().await.map_err(text)?;
    // Its feed holds only the minting of its new first key.
    ensure(
        export.users.is_empty()
            && export
                .revisions
                .iter()
                .all(|r| r.target_type == TargetType::ApiKey),
        "a tenant made again finds the deleted one's data",
    )?;
    let still = kept
        .0
        .partition()
        .get(Kind::User, &stays)
        .await
        .map_err(text)?;
    ensure(still.is_some(), "another tenant lost its user")?;
    let problems = core.check().await.map_err(text)?;
    ensure(problems.is_empty(), format!("integrity: {problems:?}"))
}

/// A copy as the release before tenants wrote it: a SCIM key and an admin key, of no tenant.
fn copy_from_before_tenants(name: &str) -> Dump {
    let key = |kind: &str, admin: bool| ApiKey {
        id: format!("{name}-{kind}"),
        label: format!("{name} {kind}"),
        digest: crate::secret::digest(&format!("scim_{name}_{kind}")),
        admin,
        created: time::OffsetDateTime::UNIX_EPOCH,
        last_used: None,
        revoked: None,
        tenant: None,
    };
    Dump {
        format: Dump::FORMAT,
        users: Vec::new(),
        groups: Vec::new(),
        keys: vec![key("scim", false), key("admin", true)],
        revisions: Vec::new(),
        webhooks: Vec::new(),
    }
}

async fn a_copy_loaded_into_a_tenant_owns_its_keys(core: Arc<Core>) -> Checked {
    use crate::auth::Access;
    let default = TenantId::default_tenant();
    let acme = keyless_tenant(&core, "acme").await?;
    for (id, name) in [(&acme, "acme"), (&default, "default")] {
        let d = core.directory(id).await.map_err(text)?;
        d.partition()
            .import(copy_from_before_tenants(name))
            .await
            .map_err(text)?;
    }
    let opens = |name: &str, kind: &str, access| {
        let core = Arc::clone(&core);
        let token = format!("scim_{name}_{kind}");
        async move { core.authenticate(&token, access).await.is_ok() }
    };
    // Into acme: both keys are acme's.
    ensure(
        opens("acme", "scim", Access::Scim(&acme)).await,
        "the copy's SCIM key does not open the tenant it was loaded into",
    )?;
    ensure(
        !opens("acme", "scim", Access::Scim(&default)).await,
        "the copy's SCIM key opens default",
    )?;
    ensure(
        opens("acme", "admin", Access::Admin(&acme)).await,
        "the copy's admin key is not the tenant's admin",
    )?;
    ensure(
        !opens("acme", "admin", Access::Operator).await
            && !opens("acme", "admin", Access::Admin(&default)).await,
        "the copy's admin key is the operator's",
    )?;
    // Into default: as a store from before tenants upgrades in place.
    ensure(
        opens("default", "scim", Access::Scim(&default)).await,
        "a copy's SCIM key does not open default",
    )?;
    ensure(
        opens("default", "admin", Access::Operator).await,
        "a copy's admin key loaded into default is not the operator's",
    )?;
    // The same copy again, into a third tenant: its keys are acme's already; taking them would
    // lock acme's identity provider out.
    let clone = keyless_tenant(&core, "clone").await?;
    let d = core.directory(&clone).await.map_err(text)?;
    let again = d.partition().import(copy_from_before_tenants("acme")).await;
    ensure(
        matches!(again, Err(StoreError::Refused(_))),
        format!("a copy whose keys the store holds was loaded: {again:?}"),
    )?;
    ensure(
        opens("acme", "scim", Access::Scim(&acme)).await
            && !opens("acme", "scim", Access::Scim(&clone)).await,
        "acme's keys moved to the tenant the copy was loaded into again",
    )
}

async fn a_tenant_deleted_under_a_request_stops_nothing(core: Arc<Core>) -> Checked {
    let (gone, kept) = (tenant(&core, "gone").await?, tenant(&core, "kept").await?);
    let early = create(&gone.0, Kind::User, user("early")).await?;
    let id = gone.0.tenant().id.clone();
    core.update_tenant(&id, None, None, Some(TenantStatus::Disabled), operator())
        .await
        .map_err(text)?;
    core.delete_tenant(&id, true, operator())
        .await
        .map_err(text)?;
    // The request still holds the directory it began with.
    let late = create(&gone.0, Kind::User, user("late")).await;
    ensure(late.is_err(), "a write reached a deleted tenant")?;
    let changed = apply(
        &gone.0,
        Kind::User,
        &early,
        &patch(json!([{"op": "replace", "path": "title", "value": "late"}])),
    )
    .await;
    ensure(changed.is_err(), "a change reached a deleted tenant")?;
    ensure(
        core.store().failure().is_none(),
        format!("the store stopped: {:?}", core.store().failure()),
    )?;
    create(&kept.0, Kind::User, user("kept"))
        .await
        .map_err(|e| format!("another tenant cannot write: {e}"))?;
    let read = gone
        .0
        .get(Kind::User, &early, &ctx(), &Projection::default())
        .await;
    ensure(
        matches!(read, Err(Error::NotFound(_))),
        format!("a read of a deleted tenant: {read:?}"),
    )?;
    let again = tenant(&core, "gone").await?;
    let export = again.0.partition().export().await.map_err(text)?;
    ensure(
        export.users.is_empty(),
        format!("a tenant made again holds {:?}", export.users),
    )?;
    let problems = core.check().await.map_err(text)?;
    ensure(problems.is_empty(), format!("integrity: {problems:?}"))
}

async fn events_commit_with_their_changes(core: Arc<Core>) -> Checked {
    let d = dir(&core).await?;
    let replace =
        |path: &str, value: Value| patch(json!([{"op": "replace", "path": path, "value": value}]));
    let mut ada_body = user("ev.ada");
    ada_body["password"] = json!("never-stored-3x!");
    let ada = create(&d, Kind::User, ada_body).await?;
    apply(&d, Kind::User, &ada, &replace("title", json!("Engineer"))).await?;
    apply(&d, Kind::User, &ada, &replace("active", json!(false))).await?;
    apply(&d, Kind::User, &ada, &replace("active", json!(true))).await?;
    d.admin_set_display_name(&ada, "Ada Events", &ctx())
        .await
        .map_err(text)?;
    let crew = create(&d, Kind::Group, group("ev.crew", &[&ada])).await?;
    let bob = create(&d, Kind::User, user("ev.bob")).await?;
    let members = patch(json!([
        {"op": "add", "path": "members", "value": [{"value": bob}]},
        {"op": "remove", "path": format!("members[value eq \"{ada}\"]")}
    ]));
    apply(&d, Kind::Group, &crew, &members).await?;
    core.mint_key(
        "events",
        crate::auth::KeyKind::Scim,
        Some(&TenantId::default_tenant()),
        operator(),
    )
    .await
    .map_err(text)?;
    d.delete(Kind::Group, &crew, None, &ctx())
        .await
        .map_err(text)?;
    d.delete(Kind::User, &ada, None, &ctx())
        .await
        .map_err(text)?;

    let feed =
        |d: Directory| async move { d.partition().revisions(0, usize::MAX).await.map_err(text) };
    let entries = feed(d.clone()).await?;
    let kinds: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.event.as_ref().map(|ev| ev.kind.as_str()))
        .collect();
    let expected = [
        Some("user.created"),
        Some("user.updated"),
        Some("user.suspended"),
        Some("user.reactivated"),
        Some("profile.updated"),
        Some("group.created"),
        Some("user.created"),
        Some("group.updated"),
        None,
        Some("group.deleted"),
        Some("user.deleted"),
    ];
    ensure(
        kinds == expected,
        format!("the feed's events are {kinds:?}"),
    )?;
    let ids: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e.event.as_ref().map(|ev| ev.id.as_str()))
        .collect();
    ensure(ids.len() == 10, "event ids are not unique")?;
    // The record each event holds is the record as that change committed it.
    let bob_now = d
        .partition()
        .get(Kind::User, &bob)
        .await
        .map_err(text)?
        .ok_or("bob is gone")?;
    let bob_created = entries[6].event.as_ref().and_then(|e| e.record.as_ref());
    ensure(
        bob_created == Some(&bob_now),
        format!("bob's event holds {bob_created:?}, the store {bob_now:?}"),
    )?;
    let suspended = entries[2].event.as_ref().and_then(|e| e.record.as_ref());
    ensure(
        suspended.is_some_and(|r| r.doc["active"] == json!(false) && r.version == 3),
        format!("the suspension's record is {suspended:?}"),
    )?;
    let renamed = entries[4].event.as_ref().and_then(|e| e.record.as_ref());
    ensure(
        renamed
            .and_then(|r| r.profile.as_ref())
            .map(|p| p.display_name.as_str())
            == Some("Ada Events"),
        "the profile event does not hold the new display name",
    )?;
    for e in &entries {
        let stored = serde_json::to_string(e).map_err(text)?;
        ensure(
            !stored.contains("never-stored-3x!"),
            "a password reached the feed",
        )?;
    }
    let delta = |i: usize| {
        entries[i]
            .event
            .as_ref()
            .and_then(|e| e.members.as_ref())
            .map(|m| {
                let ids = |l: &[crate::events::EventMember]| {
                    l.iter().map(|m| m.value.clone()).collect::<Vec<_>>()
                };
                (ids(&m.added), ids(&m.removed))
            })
    };
    ensure(
        delta(7) == Some((vec![bob.clone()], vec![ada.clone()])),
        format!("the group's update lists {:?}", delta(7)),
    )?;
    ensure(
        delta(9) == Some((Vec::new(), vec![bob.clone()])),
        format!("the group's deletion lists {:?}", delta(9)),
    )?;
    let gone = entries[10].event.as_ref();
    ensure(
        gone.is_some_and(|e| e.record.is_none()),
        "a deletion's event holds a record",
    )?;

    // Refused writes leave no event (nor any entry).
    let taken = d
        .create(Kind::User, &user("EV.BOB"), &ctx(), &Projection::default())
        .await;
    ensure(taken.is_err(), "a taken userName was created")?;
    let ghost = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "ev.ghosts", "members": [{"value": "no-such-user", "type": "User"}]});
    let refused = d
        .create(Kind::Group, &ghost, &ctx(), &Projection::default())
        .await;
    ensure(
        refused.is_err(),
        "a group with a missing member was created",
    )?;
    let mut stale_entry = entries[6].clone();
    stale_entry.seq = 0;
    if let Some(ev) = &mut stale_entry.event {
        ev.id = "evt_stale".into();
    }
    let stale = Write {
        kind: Kind::User,
        id: bob.clone(),
        expect: Expect::Version(99),
        op: WriteOp::Delete {
            members: Vec::new(),
            member_of: Vec::new(),
        },
        touch: Vec::new(),
        revision: stale_entry,
    };
    let r = d.partition().commit(stale).await;
    ensure(r == Err(StoreError::Stale), format!("a stale write: {r:?}"))?;
    let after = feed(d.clone()).await?;
    ensure(
        after == entries,
        format!(
            "after refused writes the feed holds {} entries, not {}",
            after.len(),
            entries.len()
        ),
    )?;

    // The change feed pages through the events, gap-free, past the key's entry.
    let (mut cursor, mut paged) = (0u64, Vec::new());
    for _ in 0..20 {
        let page = d.events(cursor, 3, &ctx()).await.map_err(text)?;
        if page.events.is_empty() {
            break;
        }
        ensure(page.next > cursor, "the cursor did not move")?;
        cursor = page.next;
        paged.extend(page.events);
    }
    let paged_ids: Vec<&str> = paged.iter().map(|e| e.id.as_str()).collect();
    let stored_ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.event.as_ref().map(|ev| ev.id.as_str()))
        .collect();
    ensure(
        paged_ids == stored_ids,
        format!("the change feed served {paged_ids:?}"),
    )?;
    // The audit feed's read: the same entries, page by page, none with its event.
    let mut bare = Vec::new();
    let mut after = 0;
    loop {
        let page = d
            .partition()
            .revisions_without_events(after, 4)
            .await
            .map_err(text)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        bare.extend(page);
    }
    let stripped: Vec<Revision> = entries
        .iter()
        .cloned()
        .map(|mut e| {
            e.event = None;
            e
        })
        .collect();
    let differs = bare
        .iter()
        .zip(&stripped)
        .find(|(a, b)| a != b)
        .map(|(a, _)| (a.seq, a.event.is_some()));
    ensure(
        bare.len() == stripped.len() && differs.is_none(),
        format!(
            "read without events, the feed holds {} entries against {}; the first that differs \
             (seq, with an event): {differs:?}",
            bare.len(),
            stripped.len()
        ),
    )?;
    let first = paged.first().ok_or("no event served")?;
    ensure(
        first.data.as_ref().is_some_and(|d| d["id"] == json!(ada))
            && first.tenant.is_default()
            && first.actor.name == "Operator",
        format!("the first event reads {first:?}"),
    )
}

async fn webhook_endpoints_are_kept_per_tenant(core: Arc<Core>) -> Checked {
    let default = TenantId::default_tenant();
    let (acme, _) = tenant(&core, "acme").await?;
    let acme = acme.tenant().id.clone();
    let add = |tenant: TenantId, url: &'static str, events: &'static [&'static str]| {
        let core = Arc::clone(&core);
        async move {
            let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
            core.add_webhook(&tenant, url, &events, operator())
                .await
                .map_err(text)
        }
    };
    let one = add(default.clone(), "https://one.example/hook", &["user.*"]).await?;
    let two = add(default.clone(), "https://two.example/hook", &["*"]).await?;
    let theirs = add(
        acme.clone(),
        "https://acme.example/hook",
        &["group.updated"],
    )
    .await?;
    let stored = core.store().webhooks(&default).await.map_err(text)?;
    let mut ids = vec![one.webhook.id.clone(), two.webhook.id.clone()];
    ids.sort();
    ensure(
        stored.iter().map(|e| e.id.clone()).collect::<Vec<_>>() == ids,
        format!("default's endpoints are {stored:?}"),
    )?;
    let first = stored
        .iter()
        .find(|e| e.id == one.webhook.id)
        .ok_or("the first endpoint is gone")?;
    ensure(
        opens_to(&core, first, &one.secret)
            && first.url == "https://one.example/hook"
            && first.events == ["user.*"]
            && first.enabled,
        format!("the first endpoint reads back as {first:?}"),
    )?;
    core.set_webhook_enabled(&default, &two.webhook.id, false, operator())
        .await
        .map_err(text)?;
    let after = core.store().webhooks(&default).await.map_err(text)?;
    let second = after.iter().find(|e| e.id == two.webhook.id);
    ensure(
        second.is_some_and(|e| !e.enabled && opens_to(&core, e, &two.secret)),
        format!("the disabled endpoint reads back as {second:?}"),
    )?;
    let d = dir(&core).await?;
    let feed = d.partition().revisions(0, usize::MAX).await.map_err(text)?;
    let actions: Vec<&str> = feed
        .iter()
        .filter(|r| r.target_type == TargetType::Webhook)
        .map(|r| r.action.as_str())
        .collect();
    ensure(
        actions == ["webhook.create", "webhook.create", "webhook.update"],
        format!("default's feed records {actions:?}"),
    )?;
    let text_of_feed = serde_json::to_string(&feed).map_err(text)?;
    ensure(
        !text_of_feed.contains(&one.secret) && !text_of_feed.contains(&two.secret),
        "a signing secret is in the history",
    )?;
    let acme_hooks = core.store().webhooks(&acme).await.map_err(text)?;
    ensure(
        acme_hooks.len() == 1 && acme_hooks[0].id == theirs.webhook.id,
        format!("acme's endpoints are {acme_hooks:?}"),
    )?;
    // Where each endpoint's deliveries stand: read back as put, per tenant.
    let standing = |cursor: u64| crate::delivery::Delivery {
        cursor,
        counts: crate::delivery::Counts {
            delivered: cursor,
            ..Default::default()
        },
        ..Default::default()
    };
    let store = core.store();
    store
        .put_delivery(&default, &one.webhook.id, &standing(7))
        .await
        .map_err(text)?;
    store
        .put_delivery(&acme, &theirs.webhook.id, &standing(9))
        .await
        .map_err(text)?;
    store
        .put_delivery(&acme, &theirs.webhook.id, &standing(11))
        .await
        .map_err(text)?;
    ensure(
        store
            .delivery(&default, &one.webhook.id)
            .await
            .map_err(text)?
            == Some(standing(7))
            && store
                .delivery(&acme, &theirs.webhook.id)
                .await
                .map_err(text)?
                == Some(standing(11))
            && store
                .delivery(&default, &theirs.webhook.id)
                .await
                .map_err(text)?
                .is_none()
            && store
                .delivery(&acme, &one.webhook.id)
                .await
                .map_err(text)?
                .is_none(),
        "deliveries do not read back per tenant and endpoint as put",
    )?;
    // A deleted tenant's endpoints go with it, and a tenant made again has none.
    core.update_tenant(&acme, None, None, Some(TenantStatus::Disabled), operator())
        .await
        .map_err(text)?;
    core.delete_tenant(&acme, true, operator())
        .await
        .map_err(text)?;
    keyless_tenant(&core, "acme").await?;
    let again = core.store().webhooks(&acme).await.map_err(text)?;
    ensure(again.is_empty(), format!("acme made again has {again:?}"))?;
    let kept = core.store().webhooks(&default).await.map_err(text)?;
    ensure(kept.len() == 2, "deleting acme touched default's endpoints")?;
    ensure(
        store
            .delivery(&acme, &theirs.webhook.id)
            .await
            .map_err(text)?
            .is_none(),
        "a deleted tenant's deliveries outlive it",
    )?;
    ensure(
        store
            .delivery(&default, &one.webhook.id)
            .await
            .map_err(text)?
            == Some(standing(7)),
        "deleting acme touched default's deliveries",
    )
}

/// Whether an endpoint as stored holds `secret`, sealed: its sealed text is not the secret, and
/// opens to it.
fn opens_to(core: &Core, endpoint: &crate::model::WebhookEndpoint, secret: &str) -> bool {
    endpoint.secret != secret
        && !endpoint
            .secret
            .contains(secret.trim_start_matches("whsec_"))
        && core
            .signing_secrets(endpoint, time::OffsetDateTime::now_utc())
            .is_ok_and(|s| s.first().map(|s| s.reveal()).as_deref() == Some(secret))
}

/// Makes a tenant without keys (as an import does).
async fn keyless_tenant(core: &Core, id: &str) -> Result<TenantId, String> {
    let new = crate::NewTenant {
        id: TenantId::parse(id)?,
        name: id.to_uppercase(),
        default_role: None,
    };
    let t = core
        .create_tenant_without_key(new, operator())
        .await
        .map_err(text)?;
    Ok(t.id)
}

/// Makes a tenant; its directory and first SCIM key.
async fn tenant(core: &Core, id: &str) -> Result<(Directory, String), String> {
    let new = crate::NewTenant {
        id: TenantId::parse(id)?,
        name: id.to_uppercase(),
        default_role: None,
    };
    let (t, _, key) = core.create_tenant(new, operator()).await.map_err(text)?;
    Ok((core.directory(&t.id).await.map_err(text)?, key))
}

/// What a test does to a store's operations, by default nothing: an engine broken on purpose,
/// or a disk that fills up.
pub trait Intercept: Send + Sync + 'static {
    /// Before a commit reaches the store: change the write, or refuse it.
    fn write(&self, _write: &mut Write) -> Result<(), StoreError> {
        self.storage()
    }
    /// Before anything else is written (a key, a tenant, a flush).
    fn storage(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The store's health as the test sees it.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// A store whose writes pass through an [`Intercept`] first; reads go straight through.
pub struct Intercepted<I> {
    pub inner: Arc<dyn Store>,
    pub intercept: Arc<I>,
}

impl<I> Intercepted<I> {
    pub fn new(inner: Arc<dyn Store>, intercept: I) -> Self {
        Intercepted {
            inner,
            intercept: Arc::new(intercept),
        }
    }
}

/// A partition of an [`Intercepted`] store.
struct InterceptedPartition<I> {
    inner: Arc<dyn Partition>,
    intercept: Arc<I>,
}

#[async_trait::async_trait]
impl<I: Intercept> Store for Intercepted<I> {
    fn partition(&self, tenant: &TenantId) -> Result<Arc<dyn Partition>, StoreError> {
        Ok(Arc::new(InterceptedPartition {
            inner: self.inner.partition(tenant)?,
            intercept: Arc::clone(&self.intercept),
        }))
    }
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.tenants().await
    }
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.inner.tenant(id).await
    }
    async fn put_tenant(&self, tenant: Tenant, revision: Revision) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.put_tenant(tenant, revision).await
    }
    async fn delete_tenant(&self, id: &TenantId, revision: Revision) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.delete_tenant(id, revision).await
    }
    async fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.keys().await
    }
    async fn key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
        self.inner.key_by_digest(digest).await
    }
    async fn put_key(&self, key: ApiKey, revision: Revision) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.put_key(key, revision).await
    }
    async fn touch_key(&self, id: &str, when: time::OffsetDateTime) -> Result<(), StoreError> {
        self.inner.touch_key(id, when).await
    }
    async fn webhooks(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<crate::model::WebhookEndpoint>, StoreError> {
        self.inner.webhooks(tenant).await
    }
    async fn put_webhook(
        &self,
        tenant: &TenantId,
        endpoint: crate::model::WebhookEndpoint,
        revision: Revision,
    ) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.put_webhook(tenant, endpoint, revision).await
    }
    async fn delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<Option<crate::delivery::Delivery>, StoreError> {
        self.inner.delivery(tenant, endpoint).await
    }
    async fn put_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        delivery: &crate::delivery::Delivery,
    ) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.put_delivery(tenant, endpoint, delivery).await
    }
    async fn put_session(&self, session: crate::model::WebSession) -> Result<(), StoreError> {
        self.inner.put_session(session).await
    }
    async fn session(&self, digest: &str) -> Result<Option<crate::model::WebSession>, StoreError> {
        self.inner.session(digest).await
    }
    async fn delete_session(&self, digest: &str) -> Result<(), StoreError> {
        self.inner.delete_session(digest).await
    }
    async fn prune_sessions(
        &self,
        seen_before: time::OffsetDateTime,
        opened_before: time::OffsetDateTime,
        keep: usize,
    ) -> Result<(), StoreError> {
        self.inner
            .prune_sessions(seen_before, opened_before, keep)
            .await
    }
    async fn operator_revisions(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        self.inner.operator_revisions(after, limit).await
    }
    async fn export(&self) -> Result<Export, StoreError> {
        self.inner.export().await
    }
    async fn import(&self, export: Export) -> Result<(), StoreError> {
        self.inner.import(export).await
    }
    async fn check(&self) -> Result<Vec<String>, StoreError> {
        self.inner.check().await
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.intercept.storage()?;
        self.inner.flush().await
    }
    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }
    fn commit_counts(&self) -> Option<crate::store::CommitCounts> {
        self.inner.commit_counts()
    }
    fn failure(&self) -> Option<String> {
        self.intercept.failure().or_else(|| self.inner.failure())
    }
}

#[async_trait::async_trait]
impl<I: Intercept> Partition for InterceptedPartition<I> {
    async fn get(&self, kind: Kind, id: &str) -> Result<Option<Record>, StoreError> {
        self.inner.get(kind, id).await
    }
    async fn members(&self, group_id: &str) -> Result<Vec<Member>, StoreError> {
        self.inner.members(group_id).await
    }
    async fn members_shared(
        &self,
        group_id: &str,
        version: u64,
    ) -> Result<SharedMembers, StoreError> {
        self.inner.members_shared(group_id, version).await
    }
    async fn members_among(
        &self,
        group_id: &str,
        member_ids: &[&str],
    ) -> Result<Vec<Member>, StoreError> {
        self.inner.members_among(group_id, member_ids).await
    }
    async fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        self.inner.groups_of(member_id).await
    }
    async fn groups_of_each(
        &self,
        member_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        self.inner.groups_of_each(member_ids).await
    }
    async fn lookup(&self, key: &IndexKey) -> Result<Vec<String>, StoreError> {
        self.inner.lookup(key).await
    }
    async fn query(&self, query: Query) -> Result<Found, StoreError> {
        self.inner.query(query).await
    }
    async fn commit(&self, mut write: Write) -> Result<(), StoreError> {
        self.intercept.write(&mut write)?;
        self.inner.commit(write).await
    }
    async fn revisions(&self, after: u64, limit: usize) -> Result<Vec<Revision>, StoreError> {
        self.inner.revisions(after, limit).await
    }
    async fn revisions_of(&self, target: &TargetRef) -> Result<Vec<Revision>, StoreError> {
        self.inner.revisions_of(target).await
    }
    async fn history(
        &self,
        target: &TargetRef,
        skip: usize,
        take: usize,
    ) -> Result<HistoryPart, StoreError> {
        self.inner.history(target, skip, take).await
    }
    async fn export(&self) -> Result<Dump, StoreError> {
        self.inner.export().await
    }
    async fn import(&self, dump: Dump) -> Result<(), StoreError> {
        self.inner.import(dump).await
    }
}
