//! The differential test: random directories, loaded alike into PostgreSQL and sled, and random
//! list queries (filters over every operator, `and`/`or`/`not`, value paths, `pr`, missing and
//! unknown attributes, dateTimes; sorts; pages) answered by both engines through the seam
//! (`Partition::query` with the core's `Matcher` and probes) and by the evaluator alone (each
//! resource rendered, filtered with `scim_proto::filter::matches`, sorted with
//! `scim_proto::list`). The three must name the same ids in the same order, with the same total.
//!
//! Each case is a fresh tenant in one PostgreSQL database and one sled store. A failing case is
//! printed (shrunk) and its seed kept in `proptest-regressions/differential.txt`, which replays
//! first on the next run. `PROPTEST_CASES` sets how many directories (default 160, each with up
//! to 11 queries).

mod gen;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use scim_core::auth::operator;
use scim_core::model::{Dump, GroupDump, Kind, Member, Record, StoredKind, TenantId};
use scim_core::query::{self, Matcher};
use scim_core::render;
use scim_core::store::{Partition, Query, Selection, Store};
use scim_core::{Core, NewTenant, Settings};
use scim_proto::filter;
use scim_proto::list;
use scim_proto::resource::{self, Projection};
use scim_proto::schema::Registry;
use serde_json::Value;

use gen::{Directory, ListSpec};

const BASE: &str = "https://scim.test/scim/v2";

/// The records and memberships of a directory, as the core would store them.
struct Loaded {
    users: Vec<Record>,
    groups: Vec<(Record, Vec<Member>)>,
}

fn record(registry: &Registry, kind: Kind, r: &gen::Resource) -> Result<Record, String> {
    let doc = resource::from_request(registry, kind, &r.body, false).map_err(|e| e.to_string())?;
    let time = |n: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).map_err(|e| e.to_string())
    };
    Ok(Record {
        id: r.id.clone(),
        kind: kind.into(),
        version: r.version,
        created: time(r.created)?,
        last_modified: time(r.modified)?,
        index: query::index_keys(kind, &doc),
        doc: doc.into(),
        profile: None,
    })
}

fn load(registry: &Registry, d: &Directory) -> Result<Loaded, String> {
    let users = d
        .users
        .iter()
        .map(|u| record(registry, Kind::User, u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut groups = Vec::new();
    for g in &d.groups {
        let mut members: Vec<Member> = g
            .users
            .iter()
            .map(|(i, display)| Member {
                value: gen::user_id(*i),
                kind: StoredKind::User,
                display: display.clone(),
            })
            .collect();
        members.extend(g.groups.iter().map(|j| Member {
            value: gen::group_id(*j),
            kind: StoredKind::Group,
            display: None,
        }));
        members.sort_by(|a, b| a.value.cmp(&b.value));
        groups.push((record(registry, Kind::Group, &g.resource)?, members));
    }
    Ok(Loaded { users, groups })
}

impl Loaded {
    fn dump(&self) -> Dump {
        Dump {
            format: Dump::FORMAT,
            users: self.users.clone(),
            groups: self
                .groups
                .iter()
                .map(|(record, members)| GroupDump {
                    record: record.clone(),
                    members: members.clone(),
                })
                .collect(),
            keys: Vec::new(),
            revisions: Vec::new(),
            webhooks: Vec::new(),
        }
    }

    /// A record as a client sees it, with its groups or members.
    fn rendered(&self, registry: &Registry, kind: Kind, r: &Record) -> Value {
        let related = match kind {
            Kind::User => {
                let groups: Vec<(String, Option<Value>)> = self
                    .groups
                    .iter()
                    .filter(|(_, members)| members.iter().any(|m| m.value == r.id))
                    .map(|(g, _)| (g.id.clone(), render::group_display(g)))
                    .collect();
                render::groups_value(groups, BASE)
            }
            Kind::Group => {
                let members = self
                    .groups
                    .iter()
                    .find(|(g, _)| g.id == r.id)
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default();
                render::members_value(&members, BASE)
            }
        };
        render::resource(
            registry,
            kind,
            r.clone(),
            Some(related),
            BASE,
            &Projection::default(),
        )
    }

    /// What the evaluator alone answers: the page's ids and the total.
    fn expected(&self, registry: &Registry, q: &ListSpec) -> (Vec<String>, usize) {
        let mut records: Vec<&Record> = match q.kind {
            Kind::User => self.users.iter().collect(),
            Kind::Group => self.groups.iter().map(|(g, _)| g).collect(),
        };
        records.sort_by(|a, b| a.id.cmp(&b.id));
        let mut matched: Vec<(String, Option<Value>)> = Vec::new();
        for r in records {
            let resource = self.rendered(registry, q.kind, r);
            if let Some(f) = &q.filter {
                if !filter::matches(f, &resource, registry, q.kind) {
                    continue;
                }
            }
            let key = q
                .sort
                .as_ref()
                .and_then(|(by, _)| list::sort_key(registry, q.kind, &resource, by));
            matched.push((r.id.clone(), key));
        }
        if let Some((by, order)) = &q.sort {
            list::sort_by_key(
                registry,
                q.kind,
                &mut matched,
                |(_, k)| k.as_ref(),
                by,
                *order,
            );
        }
        let total = matched.len();
        let page = matched
            .into_iter()
            .skip(q.skip)
            .take(q.take)
            .map(|(id, _)| id)
            .collect();
        (page, total)
    }
}

/// The query the core would hand an engine.
fn query(registry: &Arc<Registry>, q: &ListSpec) -> Query {
    let probes = q
        .filter
        .as_ref()
        .and_then(|f| query::probes(registry, q.kind, f));
    let matcher = Matcher::scim(
        Arc::clone(registry),
        q.kind,
        q.filter.clone(),
        q.sort.clone(),
        BASE,
    );
    Query {
        kind: q.kind,
        selection: Selection::Matching {
            matcher: Arc::new(matcher),
            probes,
        },
        skip: q.skip,
        take: q.take,
    }
}

async fn answer(p: &Arc<dyn Partition>, q: Query) -> Result<(Vec<String>, usize), String> {
    let found = p.query(q).await.map_err(|e| e.to_string())?;
    Ok((
        found.records.into_iter().map(|r| r.id).collect(),
        found.total,
    ))
}

/// A fresh tenant in a store, loaded with the directory.
async fn tenant(core: &Core, id: &TenantId, dump: Dump) -> Result<Arc<dyn Partition>, String> {
    let new = NewTenant {
        id: id.clone(),
        name: "differential".into(),
        default_role: None,
    };
    core.create_tenant_without_key(new, operator())
        .await
        .map_err(|e| e.to_string())?;
    let partition = core.store().partition(id).map_err(|e| e.to_string())?;
    partition.import(dump).await.map_err(|e| e.to_string())?;
    Ok(partition)
}

struct Engines {
    pg: Core,
    sled: Core,
    registry: Arc<Registry>,
}

async fn check(e: &Engines, d: &Directory, lists: &[ListSpec]) -> Result<(), String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let loaded = load(&e.registry, d)?;
    let id = TenantId::parse(&format!("d{}", N.fetch_add(1, Ordering::SeqCst)))?;
    let pg = tenant(&e.pg, &id, loaded.dump()).await?;
    let sled = tenant(&e.sled, &id, loaded.dump()).await?;
    for q in lists {
        let expected = loaded.expected(&e.registry, q);
        let on_pg = answer(&pg, query(&e.registry, q)).await?;
        let on_sled = answer(&sled, query(&e.registry, q)).await?;
        if on_pg != expected || on_sled != expected {
            let shown = |f: &Option<filter::Filter>| f.as_ref().map(ToString::to_string);
            return Err(format!(
                "filter {:?}, sort {:?}, skip {}, take {} on {:?}:\n  evaluator {expected:?}\n  \
                 postgres  {on_pg:?}\n  sled      {on_sled:?}",
                shown(&q.filter),
                q.sort.as_ref().map(|(p, o)| (p.to_string(), *o)),
                q.skip,
                q.take,
                q.kind,
            ));
        }
    }
    Ok(())
}

#[test]
fn both_engines_and_the_evaluator_answer_the_same_lists() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let folder = tempfile::tempdir().expect("folder");
    let cluster = super::Pg::start();
    let engines = runtime.block_on(async {
        let options = scim_sled::SledOptions {
            durable: false,
            ..scim_sled::SledOptions::default()
        };
        let sled = scim_sled::SledStore::open(folder.path(), &options).expect("sled");
        let pg = cluster.store().await;
        Engines {
            pg: Core::new(Arc::new(pg) as Arc<dyn Store>, Settings::default()),
            sled: Core::new(Arc::new(sled) as Arc<dyn Store>, Settings::default()),
            registry: Arc::new(Registry::builtin()),
        }
    });
    let mut config = Config::default();
    if std::env::var("PROPTEST_CASES").is_err() {
        config.cases = 160;
    }
    config.max_shrink_iters = 400;
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/differential.txt",
    )));
    let mut runner = TestRunner::new(config);
    let strategy = (gen::directory(), gen::lists());
    let result = runner.run(&strategy, |(d, lists)| {
        runtime
            .block_on(check(&engines, &d, &lists))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    use crate::query::counts;
    let count = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    let (exact, doubted, rust_sort, superset) = (
        count(&counts::EXACT),
        count(&counts::DOUBTED),
        count(&counts::RUST_SORT),
        count(&counts::SUPERSET),
    );
    eprintln!(
        "lists answered by the database alone: {exact}; exact but sorted in Rust: {rust_sort} \
         (a key holding Σ: {doubted}); supersets tested by the matcher: {superset}"
    );
    assert!(
        exact > superset,
        "the database answered too few lists alone"
    );
}
