//! The engine test suite on sled, its teeth (engines broken on purpose fail it), and what only
//! this engine can be asked directly.

use std::sync::{Arc, Mutex};

use scim_core::model::{Action, Actor, ApiKey, Kind, Revision, TargetType, TenantId};
use scim_core::store::{Store, StoreError, Write, WriteOp};
use scim_core::testkit::{self, Intercept, Intercepted, Outcome};
use time::OffsetDateTime;

use crate::{SledOptions, SledStore};

/// Fresh sled stores, each in a folder that lives as long as the factory.
struct Folders(Mutex<Vec<tempfile::TempDir>>);

impl Folders {
    fn new() -> Self {
        Folders(Mutex::new(Vec::new()))
    }

    fn open(&self) -> SledStore {
        let dir = tempfile::tempdir().expect("dir");
        let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
        self.0.lock().expect("lock").push(dir);
        store
    }
}

/// Opens the store in `path`, waiting while a store just dropped still holds it: sled's
/// threads let go of its lock shortly after the last handle is dropped (a reopen failed now and
/// then with `Locked` on a loaded machine).
pub(crate) fn open_when_free(path: &std::path::Path) -> SledStore {
    let began = std::time::Instant::now();
    loop {
        match SledStore::open(path, &SledOptions::default()) {
            Ok(store) => return store,
            Err(e) if e.is_locked() && began.elapsed() < std::time::Duration::from_secs(10) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("store: {e:?}"),
        }
    }
}

fn failed(outcomes: &[Outcome]) -> Vec<&'static str> {
    outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_passes_the_engine_suite() {
    let folders = Folders::new();
    let outcomes = testkit::run(&|| Arc::new(folders.open()) as Arc<dyn Store>).await;
    assert_eq!(outcomes.len(), testkit::CHECKS.len());
    assert!(
        testkit::failures(&outcomes).is_empty(),
        "{:#?}",
        testkit::failures(&outcomes)
    );
}

/// An engine broken on purpose: sled, but for what the function does to each write.
struct Breaks(fn(&mut Write));

impl Intercept for Breaks {
    fn write(&self, write: &mut Write) -> Result<(), StoreError> {
        (self.0)(write);
        Ok(())
    }
}

async fn run_broken(break_write: fn(&mut Write)) -> Vec<Outcome> {
    let folders = Folders::new();
    testkit::run(&|| {
        Arc::new(Intercepted::new(
            Arc::new(folders.open()),
            Breaks(break_write),
        )) as Arc<dyn Store>
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_that_commits_records_without_their_index_entries_fails_the_suite() {
    let outcomes = run_broken(|w| {
        if let WriteOp::Put { record, .. } = &mut w.op {
            record.index.clear();
        }
    })
    .await;
    let failed = failed(&outcomes);
    for check in [
        "uniqueness-under-concurrency",
        "index-follows-changes",
        "queries-select-sort-and-page",
        "export-import-round-trip",
    ] {
        assert!(failed.contains(&check), "{check} passed: {failed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_that_drops_revision_entries_from_histories_fails_the_suite() {
    let outcomes = run_broken(|w| {
        w.revision.target_id = format!("elsewhere-{}", w.revision.target_id);
        w.revision.related.clear();
    })
    .await;
    let failed = failed(&outcomes);
    for check in [
        "membership-both-ways",
        "history-outlives-deletion",
        "export-import-round-trip",
    ] {
        assert!(failed.contains(&check), "{check} passed: {failed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_that_commits_changes_without_their_events_fails_the_suite() {
    let outcomes = run_broken(|w| w.revision.event = None).await;
    let failed = failed(&outcomes);
    assert!(
        failed.contains(&"events-commit-with-their-changes"),
        "{failed:?}"
    );
}

fn revision(target: &str) -> Revision {
    Revision {
        seq: 0,
        time: OffsetDateTime::now_utc(),
        actor: Actor {
            name: "test".into(),
            key_id: None,
            key_label: None,
        },
        action: Action::KeyCreate,
        target_type: TargetType::ApiKey,
        target_id: target.into(),
        changes: Vec::new(),
        request_id: None,
        related: Vec::new(),
        event: None,
    }
}

fn key(id: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        label: id.into(),
        digest: String::new(),
        admin: false,
        created: OffsetDateTime::now_utc(),
        last_used: None,
        revoked: None,
        tenant: None,
    }
}

#[test]
fn the_feed_stops_below_a_revision_still_in_flight() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    store.put_key_now(&key("a"), &revision("a")).expect("a");
    let slow = store.reserve().expect("reserve"); // a transaction that has not committed yet
    store.put_key_now(&key("b"), &revision("b")).expect("b");
    let default = store.part(&TenantId::default_tenant()).expect("partition");
    let feed = |after, limit| {
        default
            .feed
            .after(after, limit, store.horizon().expect("horizon"))
    };
    let seen = |after| -> Vec<String> {
        feed(after, 10)
            .expect("feed")
            .into_iter()
            .map(|r| r.target_id)
            .collect()
    };
    assert_eq!(
        seen(0),
        ["a"],
        "b committed after a reservation below it: not shown yet"
    );
    drop(slow);
    assert_eq!(seen(0), ["a", "b"]);
    let after_a = feed(0, 1).expect("feed")[0].seq;
    assert_eq!(feed(after_a, 10).expect("feed").len(), 1);
    assert!(feed(u64::MAX - 1, 10).expect("feed").is_empty());
}

#[test]
fn a_long_history_is_counted_once_and_an_entry_committed_late_below_the_count_is_not_lost() {
    use scim_core::model::TargetRef;

    use crate::keys::target_key;

    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let default = store.part(&TenantId::default_tenant()).expect("partition");
    let feed = &default.feed;
    let ada = TargetRef {
        target_type: TargetType::User,
        target_id: "ada".into(),
    };
    let add = |seq: u64| {
        feed.by_target
            .insert(target_key(&ada, Some(seq)), &[] as &[u8])
            .expect("key");
        let mut r = revision(&format!("e{seq}"));
        r.seq = seq;
        feed.revisions
            .insert(seq.to_be_bytes(), crate::encode(&r).expect("encode"))
            .expect("entry");
    };
    let prefix = target_key(&ada, None);
    let kept = || feed.counted(&prefix).expect("counts").1;
    let page = |skip, take, settled| feed.history(&ada, skip, take, settled).expect("history");
    // 600 entries but 400, which is still in flight: only what lies below it is settled.
    for seq in (1..=600).filter(|&s| s != 400) {
        add(seq);
    }
    let first = page(0, 3, 400);
    assert_eq!(first.total, 599);
    let ids: Vec<&str> = first.entries.iter().map(|e| e.target_id.as_str()).collect();
    assert_eq!(ids, ["e600", "e599", "e598"], "newest first");
    assert_eq!(kept(), (399, 400), "counted below the settled number only");
    // 400 commits late, 601 after it: both are counted, from where the count stopped.
    add(400);
    add(601);
    let second = page(2, 2, 602);
    assert_eq!(second.total, 601);
    let ids: Vec<&str> = second
        .entries
        .iter()
        .map(|e| e.target_id.as_str())
        .collect();
    assert_eq!(ids, ["e599", "e598"]);
    assert_eq!(kept(), (601, 602));
    // Taken from the count: a key added below it (which no write does) is not walked again.
    feed.by_target
        .insert(target_key(&ada, Some(0)), &[] as &[u8])
        .expect("key");
    assert_eq!(page(0, 1, 602).total, 601, "the count was not used");
    // An import forgets every count.
    feed.forget_counts();
    assert_eq!(kept(), (0, 0));
    assert_eq!(page(0, 1, 602).total, 602);
    // A short history keeps no count.
    let bob = TargetRef {
        target_type: TargetType::User,
        target_id: "bob".into(),
    };
    feed.by_target
        .insert(target_key(&bob, Some(7)), &[] as &[u8])
        .expect("key");
    assert_eq!(feed.history(&bob, 0, 5, 602).expect("history").total, 1);
    assert_eq!(
        feed.counted(&target_key(&bob, None)).expect("counts").1,
        (0, 0)
    );
}

#[test]
fn the_settled_number_stays_below_a_revision_in_flight_and_moves_past_it_once_committed() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    store.put_key_now(&key("a"), &revision("a")).expect("a");
    let before = store.settled().expect("settled");
    let slow = store.reserve().expect("reserve");
    assert!(
        slow.seq >= before,
        "a new number is at or above the settled one"
    );
    store.put_key_now(&key("b"), &revision("b")).expect("b");
    assert_eq!(store.settled().expect("settled"), slow.seq);
    let seq = slow.seq;
    drop(slow);
    assert!(store.settled().expect("settled") > seq);
}

#[tokio::test]
async fn keys_are_found_by_digest_and_a_key_written_later_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let with_digest = |id: &str| ApiKey {
        digest: format!("digest-{id}"),
        ..key(id)
    };
    for i in 0..1_000 {
        let k = with_digest(&i.to_string());
        store.put_key_now(&k, &revision(&k.id)).expect("key");
    }
    let found = |digest: &'static str| {
        let store = store.clone();
        async move {
            store
                .key_by_digest(digest)
                .await
                .expect("lookup")
                .map(|k| (k.id, k.revoked.is_some()))
        }
    };
    assert_eq!(found("digest-517").await, Some(("517".into(), false)));
    assert_eq!(found("digest-new").await, None, "read, and cached");
    let new = with_digest("new");
    store.put_key_now(&new, &revision("new")).expect("new");
    assert_eq!(found("digest-new").await, Some(("new".into(), false)));
    let revoked = ApiKey {
        revoked: Some(OffsetDateTime::now_utc()),
        ..new
    };
    store
        .put_key_now(&revoked, &revision("new"))
        .expect("revoke");
    assert_eq!(
        found("digest-new").await,
        Some(("new".into(), true)),
        "a revoked key is found, revoked"
    );
    assert_eq!(found("").await, None);
    assert_eq!(store.keys().await.expect("keys").len(), 1_001);
}

#[test]
fn an_undecodable_entry_fails_its_write_but_does_not_stop_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    part.users
        .insert(b"broken", b"not json".as_slice())
        .expect("insert");
    let delete = Write {
        kind: Kind::User,
        id: "broken".into(),
        expect: scim_core::store::Expect::Version(1),
        op: WriteOp::Delete {
            members: Vec::new(),
            member_of: Vec::new(),
        },
        touch: Vec::new(),
        revision: revision("broken"),
    };
    let e = store.commit_now(&part, delete).expect_err("undecodable");
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    assert_eq!(store.failure(), None, "only a storage failure stops writes");
    store
        .put_key_now(&key("k"), &revision("k"))
        .expect("later writes go through");
}

#[test]
fn the_trees_of_a_tenant_that_no_longer_exists_are_dropped_at_open() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
        // A deletion cut short: the tenant is gone, its trees are not.
        let users = store.db.open_tree("t/ghost/users").expect("tree");
        users.insert(b"u", b"{}".as_slice()).expect("insert");
        store.flush_now().expect("flush");
    }
    // sled lets go of its lock shortly after the last handle is dropped.
    let store = open_when_free(dir.path());
    let names: Vec<String> = store
        .db
        .tree_names()
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with("t/ghost/")),
        "{names:?}"
    );
    let users = store.db.open_tree("t/ghost/users").expect("tree");
    assert!(users.is_empty(), "made again, it starts empty");
}

#[test]
fn a_deleted_tenant_gets_no_new_partition() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let ghost = TenantId::parse("never-made").expect("id");
    // A request that found the tenant before its deletion opens its partition after it.
    let trees = store.db.tree_names().len();
    assert!(matches!(store.part(&ghost), Err(StoreError::Gone)));
    assert_eq!(
        store.db.tree_names().len(),
        trees,
        "no tree was made for it"
    );
}

/// A change that keeps a record's index entries leaves them alone (each removal and insertion
/// in a sled transaction reads its key first): they still find it, and an entry that changes
/// is replaced.
#[test]
fn index_entries_a_write_keeps_still_find_the_record_and_changed_ones_move() {
    use scim_core::doc::Doc;
    use scim_core::model::{IndexKey, Record, StoredKind};
    use scim_core::store::Expect;
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    let put = |version: u64, name: &str, active: bool| {
        let now = OffsetDateTime::now_utc();
        Write {
            kind: Kind::User,
            id: "u1".into(),
            expect: if version == 1 {
                Expect::Absent
            } else {
                Expect::Version(version - 1)
            },
            op: WriteOp::Put {
                record: Record {
                    id: "u1".into(),
                    kind: StoredKind::User,
                    version,
                    created: now,
                    last_modified: now,
                    doc: Doc::new(serde_json::json!({"userName": name, "active": active})),
                    index: vec![
                        IndexKey::UserName(name.into()),
                        IndexKey::UserExternalId("x1".into()),
                    ],
                    profile: None,
                },
                members: None,
            },
            touch: Vec::new(),
            revision: revision("u1"),
        }
    };
    store
        .commit_now(&part, put(1, "ann", true))
        .expect("create");
    let find = |key: IndexKey| part.lookup_now(&key).expect("lookup");
    let u1 = vec!["u1".to_string()];
    store
        .commit_now(&part, put(2, "ann", false))
        .expect("patch");
    assert_eq!(find(IndexKey::UserName("ann".into())), u1);
    store
        .commit_now(&part, put(3, "bea", false))
        .expect("rename");
    assert_eq!(find(IndexKey::UserName("bea".into())), u1);
    assert!(find(IndexKey::UserName("ann".into())).is_empty());
    assert_eq!(find(IndexKey::UserExternalId("x1".into())), u1);
    // The name another record keeps is still its own.
    let mut other = put(1, "bea", true);
    other.id = "u2".into();
    if let WriteOp::Put { record, .. } = &mut other.op {
        record.id = "u2".into();
        record.index.truncate(1);
    }
    let taken = store.commit_now(&part, other).expect_err("taken");
    assert!(matches!(taken, StoreError::Taken(_)), "{taken:?}");
}

/// A store whose `default` tenant exists, as the server makes it at first start (the engine's
/// check reads the partitions of the tenants that exist), its folder, and a runtime for the
/// `Store` calls.
/// A user's or group's record whose document is its `displayName`, `id`, at `version`.
fn named_record(
    id: &str,
    kind: scim_core::model::StoredKind,
    version: u64,
) -> scim_core::model::Record {
    let now = OffsetDateTime::now_utc();
    scim_core::model::Record {
        id: id.into(),
        kind,
        version,
        created: now,
        last_modified: now,
        doc: scim_core::doc::Doc::new(serde_json::json!({"displayName": id})),
        index: Vec::new(),
        profile: None,
    }
}

fn store_with_default_tenant() -> (tokio::runtime::Runtime, tempfile::TempDir, SledStore) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path(), &SledOptions::default()).expect("store");
    let default = scim_core::model::Tenant {
        id: TenantId::default_tenant(),
        name: "Default".into(),
        status: scim_core::model::TenantStatus::Active,
        default_role: "Everyone".into(),
        created: OffsetDateTime::now_utc(),
    };
    store
        .put_tenant_now(&default, &revision("default"))
        .expect("tenant");
    (rt, dir, store)
}

/// Records written by releases before the binary record form are JSON. A store that holds both
/// forms reads, lists and checks them alike, and a change writes its record in the new form.
#[test]
fn records_of_both_stored_forms_are_read_listed_checked_and_rewritten_in_the_new_form() {
    use scim_core::doc::Doc;
    use scim_core::model::{IndexKey, Record, StoredKind};
    use scim_core::store::{Expect, Query, Selection};
    let (rt, _dir, store) = store_with_default_tenant();
    let tenant = TenantId::default_tenant();
    let part = store.part(&tenant).expect("partition");
    let now = OffsetDateTime::now_utc();
    let record = |id: &str, version: u64, given: &str| Record {
        id: id.into(),
        kind: StoredKind::User,
        version,
        created: now,
        last_modified: now,
        doc: Doc::new(serde_json::json!({"userName": id, "name": {"givenName": given}})),
        index: vec![IndexKey::UserName(id.into())],
        profile: None,
    };
    let put = |record: Record, expect: Expect| Write {
        kind: Kind::User,
        id: record.id.clone(),
        expect,
        op: WriteOp::Put {
            record,
            members: None,
        },
        touch: Vec::new(),
        revision: revision("x"),
    };
    // "a-old" as an earlier release stored it: its JSON, beside its index entry and history.
    store
        .commit_now(&part, put(record("a-old", 1, "Ann"), Expect::Absent))
        .expect("create");
    let json = serde_json::to_vec(&record("a-old", 1, "Ann")).expect("JSON");
    part.users.insert(b"a-old", json).expect("insert");
    store
        .commit_now(&part, put(record("b-new", 1, "Bea"), Expect::Absent))
        .expect("create");
    let stored_form = |id: &[u8]| part.users.get(id).expect("get").expect("stored")[0];
    assert_eq!(stored_form(b"a-old"), b'{');
    assert_eq!(stored_form(b"b-new"), 0x01);

    let partition = store.partition(&tenant).expect("partition");
    let listed = rt
        .block_on(partition.query(Query {
            kind: Kind::User,
            selection: Selection::All,
            skip: 0,
            take: 10,
        }))
        .expect("list");
    assert_eq!(listed.total, 2);
    assert_eq!(
        listed.records,
        vec![record("a-old", 1, "Ann"), record("b-new", 1, "Bea")]
    );
    assert_eq!(
        listed.records[1].doc.text(),
        r#"{"userName":"b-new","name":{"givenName":"Bea"}}"#
    );
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );

    store
        .commit_now(&part, put(record("a-old", 2, "Anna"), Expect::Version(1)))
        .expect("change");
    assert_eq!(stored_form(b"a-old"), 0x01);
    let got = rt
        .block_on(partition.get(Kind::User, "a-old"))
        .expect("get");
    assert_eq!(got, Some(record("a-old", 2, "Anna")));
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );
}

/// A read hands a record's document over without parsing it, so damage inside the document
/// (its first and last bytes intact) is found by the engine's check, not by reads.
#[test]
fn the_check_finds_a_stored_document_that_is_not_json() {
    use scim_core::doc::Doc;
    use scim_core::model::{Record, StoredKind};
    let (rt, _dir, store) = store_with_default_tenant();
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    let now = OffsetDateTime::now_utc();
    let record = Record {
        id: "u1".into(),
        kind: StoredKind::User,
        version: 1,
        created: now,
        last_modified: now,
        doc: Doc::new(serde_json::json!({"userName": "ann"})),
        index: Vec::new(),
        profile: None,
    };
    let mut bytes = crate::record::encode_record(&record).expect("encodes");
    part.users.insert(b"u1", bytes.clone()).expect("insert");
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );
    // `{"userName":"ann"}` becomes `{"userName"#"ann"}`.
    let colon = bytes.len() - r#":"ann"}"#.len();
    assert_eq!(bytes[colon], b':');
    bytes[colon] = b'#';
    part.users.insert(b"u1", bytes).expect("insert");
    let problems = rt.block_on(store.check()).expect("check");
    assert_eq!(
        problems,
        vec!["tenant default: User u1: its document is not JSON".to_string()]
    );
}

/// Stores of earlier releases kept one index key an entry. At open, their entries move into
/// buckets: every record is found by its keys as before, a unique key still refuses a second
/// record, the engine's check finds nothing wrong, and no key of the old form is left. A move
/// cut short (some entries in buckets, the salt stored, the store not marked done) is taken up
/// where it stopped.
#[test]
fn an_index_of_one_key_an_entry_moves_into_buckets_at_open() {
    use scim_core::doc::Doc;
    use scim_core::model::{IndexKey, Record, StoredKind, Tenant, TenantStatus};
    use scim_core::store::Expect;

    use crate::buckets::{IndexTree, Salt};
    use crate::view::{tenant_prefix, View};

    let user = |id: String, name: String, external: String| {
        let now = OffsetDateTime::now_utc();
        Write {
            kind: Kind::User,
            id: id.clone(),
            expect: Expect::Absent,
            op: WriteOp::Put {
                record: Record {
                    id,
                    kind: StoredKind::User,
                    version: 1,
                    created: now,
                    last_modified: now,
                    doc: Doc::new(serde_json::json!({"userName": name})),
                    index: vec![IndexKey::UserName(name), IndexKey::UserExternalId(external)],
                    profile: None,
                },
                members: None,
            },
            touch: Vec::new(),
            revision: revision("u"),
        }
    };
    let acme = TenantId::parse("acme").expect("tenant id");
    for cut_short in [false, true] {
        let (rt, dir, store) = store_with_default_tenant();
        store
            .put_tenant_now(
                &Tenant {
                    id: acme.clone(),
                    name: "Acme".into(),
                    status: TenantStatus::Active,
                    default_role: "Everyone".into(),
                    created: OffsetDateTime::now_utc(),
                },
                &revision("acme"),
            )
            .expect("tenant");
        let parts = [
            (TenantId::default_tenant(), "index", Vec::new()),
            (acme.clone(), "tenants/index", tenant_prefix("acme")),
        ];
        let mut entries = Vec::new();
        for (tenant, _, _) in &parts {
            let part = store.part(tenant).expect("partition");
            for i in 0..40 {
                let w = user(format!("u{i}"), format!("user{i}"), format!("x{}", i % 3));
                store.commit_now(&part, w).expect("create");
            }
            let all: Vec<_> = part
                .index
                .entries(None)
                .collect::<Result<_, _>>()
                .expect("entries");
            assert_eq!(all.len(), 80);
            entries.push(all);
        }
        drop(store);

        // The index as an earlier release kept it (all of it, or half of it when cut short).
        {
            // As `open_when_free`: the store just dropped may hold the folder a moment longer.
            let began = std::time::Instant::now();
            let db = loop {
                match sled::open(dir.path()) {
                    Ok(db) => break db,
                    Err(_) if began.elapsed() < std::time::Duration::from_secs(10) => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => panic!("sled: {e:?}"),
                }
            };
            let salt =
                Salt::from_stored(&db.get(crate::SALT).expect("get").expect("salt")).expect("salt");
            for ((_, name, prefix), entries) in parts.iter().zip(&entries) {
                let tree = db.open_tree(name).expect("tree");
                tree.clear().expect("clear");
                let index = IndexTree {
                    view: View::prefixed(tree.clone(), prefix.clone()),
                    salt,
                };
                for (n, e) in entries.iter().enumerate() {
                    let key = e
                        .index
                        .key(String::from_utf8(e.text.clone()).expect("text"));
                    let id = String::from_utf8(e.id.clone()).expect("id");
                    if cut_short && n % 2 == 0 {
                        index.add(&key, &id).expect("bucket");
                    } else {
                        let mut old = prefix.clone();
                        old.extend_from_slice(&crate::keys::index_key(&key, Some(&id)));
                        tree.insert(old, id.as_bytes()).expect("insert");
                    }
                }
            }
            db.remove(crate::IN_BUCKETS).expect("remove");
            if !cut_short {
                db.remove(crate::SALT).expect("remove");
            }
            db.flush().expect("flush");
        }

        let store = open_when_free(dir.path());
        for (tenant, name, prefix) in &parts {
            let part = store.part(tenant).expect("partition");
            let find = |key: IndexKey| part.lookup_now(&key).expect("lookup");
            for i in 0..40 {
                assert_eq!(
                    find(IndexKey::UserName(format!("user{i}"))),
                    [format!("u{i}")]
                );
            }
            let mut x1: Vec<String> = (0..40)
                .filter(|i| i % 3 == 1)
                .map(|i| format!("u{i}"))
                .collect();
            x1.sort();
            assert_eq!(find(IndexKey::UserExternalId("x1".into())), x1);
            assert!(find(IndexKey::UserName("user40".into())).is_empty());
            let taken = store
                .commit_now(&part, user("u99".into(), "user7".into(), "x".into()))
                .expect_err("taken");
            assert!(matches!(taken, StoreError::Taken(_)), "{taken:?}");
            // Every key is a bucket's: tag, 0xB0, two bytes.
            let tree = store.db.open_tree(name).expect("tree");
            for key in View::prefixed(tree, prefix.clone()).iter().keys() {
                let key = key.expect("key");
                assert!(
                    key.len() == 4 && key[1] == 0xB0,
                    "{key:?} (cut short: {cut_short})"
                );
            }
        }
        assert_eq!(
            rt.block_on(store.check()).expect("check"),
            Vec::<String>::new(),
            "cut short: {cut_short}"
        );
        assert!(store.db.get(crate::IN_BUCKETS).expect("get").is_some());
    }
}

/// A bucket of the index that does not decode (cut short) is reported by the engine's check,
/// both for the record whose entry it holds and as a damaged part of the index, and the check
/// goes on with the rest.
#[test]
fn the_check_reports_an_index_bucket_cut_short_and_goes_on() {
    use scim_core::doc::Doc;
    use scim_core::model::{IndexKey, Record, StoredKind};
    use scim_core::store::Expect;
    let (rt, _dir, store) = store_with_default_tenant();
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    for (id, name) in [("u1", "ann"), ("u2", "bea")] {
        let now = OffsetDateTime::now_utc();
        let record = Record {
            id: id.into(),
            kind: StoredKind::User,
            version: 1,
            created: now,
            last_modified: now,
            doc: Doc::new(serde_json::json!({"userName": name})),
            index: vec![IndexKey::UserName(name.into())],
            profile: None,
        };
        let write = Write {
            kind: Kind::User,
            id: id.into(),
            expect: Expect::Absent,
            op: WriteOp::Put {
                record,
                members: None,
            },
            touch: Vec::new(),
            revision: revision(id),
        };
        store.commit_now(&part, write).expect("create");
    }
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );
    // Ann's bucket loses its last byte.
    let ann = part
        .index
        .view
        .iter()
        .map(|e| e.expect("entry"))
        .find(|(_, v)| v.windows(3).any(|w| w == b"ann"))
        .expect("ann's bucket");
    part.index
        .view
        .insert(&ann.0, &ann.1[..ann.1.len() - 1])
        .expect("insert");
    let problems = rt.block_on(store.check()).expect("check");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("User u1: index entry") && problems[0].contains("unreadable"));
    assert!(problems[1].contains("the index:"), "{problems:#?}");
    // Bea's entry is untouched and still found.
    assert_eq!(
        part.lookup_now(&IndexKey::UserName("bea".into()))
            .expect("lookup"),
        ["u2"]
    );
}

/// Members written by releases before the binary member form are JSON. A group that holds both
/// forms lists, looks up, checks and exports them alike, and a member of the earlier form is
/// removed like any other.
#[test]
fn members_of_both_stored_forms_are_read_checked_exported_and_removed() {
    use scim_core::model::{Member, Record, StoredKind};
    use scim_core::store::{Expect, MemberChange};
    let (rt, _dir, store) = store_with_default_tenant();
    let tenant = TenantId::default_tenant();
    let part = store.part(&tenant).expect("partition");
    let record = named_record;
    let put = |record: Record, expect: Expect, members: Option<MemberChange>| Write {
        kind: record.kind.into(),
        id: record.id.clone(),
        expect,
        op: WriteOp::Put { record, members },
        touch: Vec::new(),
        revision: revision("x"),
    };
    for u in ["u-old", "u-new"] {
        store
            .commit_now(
                &part,
                put(record(u, StoredKind::User, 1), Expect::Absent, None),
            )
            .expect("user");
    }
    let member = |id: &str, display: Option<&str>| Member {
        value: id.into(),
        kind: StoredKind::User,
        display: display.map(str::to_string),
    };
    let (old, new) = (member("u-old", Some("Ann \"old\"")), member("u-new", None));
    let added = MemberChange {
        added: vec![old.clone(), new.clone()],
        ..MemberChange::default()
    };
    store
        .commit_now(
            &part,
            put(
                record("g", StoredKind::Group, 1),
                Expect::Absent,
                Some(added),
            ),
        )
        .expect("group");
    let key = crate::keys::membership_key("g", "u-old");
    assert_eq!(
        part.group_members.get(&key).expect("get").expect("stored")[0],
        0x01
    );
    // "u-old" as an earlier release stored it.
    part.group_members
        .insert(key.clone(), serde_json::to_vec(&old).expect("JSON"))
        .expect("insert");
    assert_eq!(
        part.group_members.get(&key).expect("get").expect("stored")[0],
        b'{'
    );

    let partition = store.partition(&tenant).expect("partition");
    let listed = rt.block_on(partition.members("g")).expect("members");
    assert_eq!(listed, vec![new.clone(), old.clone()]);
    let among = rt
        .block_on(partition.members_among("g", &["u-old", "u-new", "u-none"]))
        .expect("members among");
    assert_eq!(among, vec![old.clone(), new.clone()]);
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );
    let dump = rt.block_on(partition.export()).expect("export");
    assert_eq!(dump.groups[0].members, vec![new.clone(), old.clone()]);

    let removed = MemberChange {
        removed: vec![old],
        ..MemberChange::default()
    };
    store
        .commit_now(
            &part,
            put(
                record("g", StoredKind::Group, 2),
                Expect::Version(1),
                Some(removed),
            ),
        )
        .expect("removal");
    assert_eq!(part.group_members.get(&key).expect("get"), None);
    assert_eq!(
        rt.block_on(partition.members("g")).expect("members"),
        vec![new]
    );
    assert_eq!(
        rt.block_on(partition.groups_of("u-old")).expect("groups"),
        Vec::<String>::new()
    );
    assert_eq!(
        rt.block_on(store.check()).expect("check"),
        Vec::<String>::new()
    );
}

/// A page resumes from the nearest position an earlier walk remembered (pages read side by side,
/// out of order, or again) and is the page a walk from the start gives, also after a create
/// moved every position.
#[test]
fn pages_resumed_from_the_nearest_remembered_position_are_the_pages_a_full_walk_gives() {
    use scim_core::doc::Doc;
    use scim_core::model::{Record, StoredKind};
    use scim_core::store::{Expect, Query, Selection};
    let (rt, _dir, store) = store_with_default_tenant();
    let tenant = TenantId::default_tenant();
    let part = store.part(&tenant).expect("partition");
    let now = OffsetDateTime::now_utc();
    let create = |id: String| {
        let record = Record {
            id: id.clone(),
            kind: StoredKind::User,
            version: 1,
            created: now,
            last_modified: now,
            doc: Doc::new(serde_json::json!({"userName": id})),
            index: Vec::new(),
            profile: None,
        };
        let write = Write {
            kind: Kind::User,
            id,
            expect: Expect::Absent,
            op: WriteOp::Put {
                record,
                members: None,
            },
            touch: Vec::new(),
            revision: revision("x"),
        };
        store.commit_now(&part, write).expect("create");
    };
    let mut ids: Vec<String> = (0..450).map(|i| format!("u{:04}", i * 2)).collect();
    for id in &ids {
        create(id.clone());
    }
    let partition = store.partition(&tenant).expect("partition");
    let page = |skip: usize, take: usize| -> Vec<String> {
        let found = rt
            .block_on(partition.query(Query {
                kind: Kind::User,
                selection: Selection::All,
                skip,
                take,
            }))
            .expect("page");
        found.records.into_iter().map(|r| r.id).collect()
    };
    let expected = |ids: &[String], skip: usize, take: usize| -> Vec<String> {
        ids.iter().skip(skip).take(take).cloned().collect()
    };
    // From the start (remembering 100, 200, 300, 330), then from those, then again.
    for (skip, take) in [
        (330, 20),
        (250, 10),
        (330, 20),
        (305, 100),
        (0, 5),
        (449, 10),
        (450, 3),
    ] {
        assert_eq!(page(skip, take), expected(&ids, skip, take), "skip {skip}");
    }
    // A create before every remembered position: none of them is used.
    create("u0001".into());
    ids.insert(1, "u0001".into());
    for (skip, take) in [(330, 20), (250, 10), (101, 3)] {
        assert_eq!(page(skip, take), expected(&ids, skip, take), "skip {skip}");
    }
}

/// A list page's users' groups, read in one walk when their ids come in order, are what a
/// lookup of each gives: a page in order (ids in no group, a group among the members between
/// them), ids far apart (the walk gives way to lookups), ids out of order, one id, none, and ids
/// past every stored one.
#[test]
fn the_groups_of_a_page_read_in_one_walk_are_what_a_lookup_of_each_gives() {
    use std::collections::HashMap;
    let (_rt, _dir, store) = store_with_default_tenant();
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    let u = |i: usize| format!("u{i:03}");
    let put = |member: &str, groups: Vec<String>| {
        part.member_groups
            .insert(
                member.as_bytes(),
                serde_json::to_vec(&groups).expect("JSON"),
            )
            .expect("insert");
    };
    for i in (0..300).step_by(3) {
        put(&u(i), vec![format!("g{}", i % 7), format!("h{}", i % 5)]);
    }
    // A group that is a member of a group, its id between two users'.
    put("u005-group", vec!["g1".into()]);
    let lookup = |ids: &[String]| -> HashMap<String, Vec<String>> {
        ids.iter()
            .filter_map(|id| {
                let groups = part.groups_of_now(id).expect("groups");
                (!groups.is_empty()).then(|| (id.clone(), groups))
            })
            .collect()
    };
    let cases: Vec<Vec<String>> = vec![
        (0..100).map(u).collect(),
        (0..300).step_by(30).map(u).collect(),
        vec![u(9), u(3), u(6), u(7)],
        vec![u(3)],
        Vec::new(),
        (290..310).map(u).collect(),
    ];
    for ids in cases {
        let each = part.groups_of_each_now(&ids).expect("groups of each");
        assert_eq!(each, lookup(&ids), "{ids:?}");
    }
    assert_eq!(
        part.groups_of_each_now(&[u(0), u(1), u(3)])
            .expect("groups")[&u(3)],
        vec!["g3".to_string(), "h3".to_string()]
    );
}

/// A large group's members kept in memory are, after every kind of write that moves them
/// (members added, removed and renamed, a member deleted, a refused write, a batch of writes), what
/// a walk of `group_members` reads; a deleted group is forgotten.
#[test]
fn kept_members_of_a_large_group_are_what_a_walk_reads_after_every_write() {
    use scim_core::model::{Member, StoredKind};
    use scim_core::store::{Expect, MemberChange};
    let (_rt, _dir, store) = store_with_default_tenant();
    let part = store.part(&TenantId::default_tenant()).expect("partition");
    let record = named_record;
    let put = |id: &str, kind: StoredKind, version: u64, members: Option<MemberChange>| Write {
        kind: kind.into(),
        id: id.into(),
        expect: if version == 1 {
            Expect::Absent
        } else {
            Expect::Version(version - 1)
        },
        op: WriteOp::Put {
            record: record(id, kind, version),
            members,
        },
        touch: Vec::new(),
        revision: revision(id),
    };
    let u = |i: usize| format!("u{i:03}");
    let member = |i: usize| Member {
        value: u(i),
        kind: StoredKind::User,
        display: None,
    };
    let adding = |range: std::ops::Range<usize>| MemberChange {
        added: range.map(member).collect(),
        ..MemberChange::default()
    };
    for i in 0..200 {
        store
            .commit_now(&part, put(&u(i), StoredKind::User, 1, None))
            .expect("user");
    }
    store
        .commit_now(&part, put("g", StoredKind::Group, 1, Some(adding(0..100))))
        .expect("g");
    store
        .commit_now(&part, put("h", StoredKind::Group, 1, Some(adding(50..120))))
        .expect("h");
    let same = |what: &str| {
        for g in ["g", "h"] {
            let version = part
                .get_now(Kind::Group, g)
                .expect("get")
                .expect("group")
                .version;
            let shared = part.members_shared_now(g, version).expect("members");
            let walked = part.members_now(g).expect("walked");
            assert_eq!(
                shared.iter().cloned().collect::<Vec<_>>(),
                walked,
                "{g} {what}"
            );
            assert!(part.kept.kept(g).is_some(), "{g} is not kept {what}");
        }
    };
    assert_eq!(part.kept.kept("g"), None);
    same("once read");

    let mut renamed = member(5);
    renamed.display = Some("Five".into());
    let moved = MemberChange {
        added: (150..155).map(member).collect(),
        removed: vec![member(1), member(2)],
        updated: vec![renamed],
    };
    store
        .commit_now(&part, put("g", StoredKind::Group, 2, Some(moved)))
        .expect("moved");
    same("after a change");

    // A write refused (stale) changes nothing.
    let stale = put("g", StoredKind::Group, 2, Some(adding(160..161)));
    assert_eq!(store.commit_now(&part, stale), Err(StoreError::Stale));
    part.members_shared_now("g", 2).expect("read again");
    same("after a refused write");

    // A member of both groups deleted.
    let delete = Write {
        kind: Kind::User,
        id: u(60),
        expect: Expect::Version(1),
        op: WriteOp::Delete {
            members: Vec::new(),
            member_of: vec!["g".into(), "h".into()],
        },
        touch: vec![(Kind::Group, "g".into()), (Kind::Group, "h".into())],
        revision: revision("u060"),
    };
    store.commit_now(&part, delete).expect("delete");
    same("after a member's deletion");
    assert_eq!(part.kept.kept("h"), Some(69));

    // Writes sharing one batch, in the batch's order.
    let jobs = (0..4)
        .map(|k| {
            let range = 170 + 5 * k..175 + 5 * k;
            // `g` moved to version 3 with the deletion's touch.
            crate::write::Job::new(
                Arc::clone(&part),
                put("g", StoredKind::Group, 4 + k as u64, Some(adding(range))),
            )
        })
        .collect();
    let outcomes = store.commit_jobs(jobs);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    same("after a batch");
    assert_eq!(part.kept.kept("g"), Some(100 - 2 + 5 - 1 + 20));

    // A member deleted without its group's version moving (not touched): the kept members
    // cannot follow the version, so they are forgotten, and kept again at the next read.
    let untouched = Write {
        kind: Kind::User,
        id: u(10),
        expect: Expect::Version(1),
        op: WriteOp::Delete {
            members: Vec::new(),
            member_of: vec!["g".into()],
        },
        touch: Vec::new(),
        revision: revision("u010"),
    };
    store.commit_now(&part, untouched).expect("delete");
    assert_eq!(part.kept.kept("g"), None);
    same("after a member's deletion that left the group's version");

    // The group deleted: nothing of it is kept.
    let members = part.members_now("h").expect("members");
    let delete = Write {
        kind: Kind::Group,
        id: "h".into(),
        expect: Expect::Version(2),
        op: WriteOp::Delete {
            members,
            member_of: Vec::new(),
        },
        touch: Vec::new(),
        revision: revision("h"),
    };
    store.commit_now(&part, delete).expect("delete h");
    assert_eq!(part.kept.kept("h"), None);
    assert_eq!(part.members_now("h").expect("members"), Vec::new());
}
