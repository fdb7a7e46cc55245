//! List queries over a directory loaded with SQL (`generate_series`), each answered through the
//! engine's query path as the core would ask it: every total must be the one the loaded data
//! holds, and the median of several runs is printed. By default 1,000 users (a test);
//! `SCIM_PG_MEASURE_SIZES=1000,100000,1000000 cargo test -p scim-postgres lists_over -- --nocapture`
//! measures how each list costs as a directory grows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scim_core::model::{Kind, TenantId};
use scim_core::query::{self, Matcher};
use scim_core::store::{Query, Selection};
use scim_proto::filter::parse_filter;
use scim_proto::list::SortOrder;
use scim_proto::schema::Registry;

const BASE: &str = "https://scim.test/scim/v2";

async fn load(conn: &deadpool_postgres::Object, tenant: &str, users: usize) {
    let sql = format!(
        r#"BEGIN; SET LOCAL statement_timeout = 0;
        INSERT INTO scim_tenants (id, body) VALUES ('{tenant}', '{{}}');
        INSERT INTO scim_resources (tenant, kind, id, version, created, modified, name_key,
            external_id, active, doc, index_keys)
        SELECT '{tenant}', 0, md5(i::text), 1 + i % 7, 1577836800000000000 + i * 1000000000::bigint,
            1577836800000000000 + (i::bigint * 7919 % {users}) * 1000000000::bigint,
            'user' || i, 'ext' || i, i % 10 <> 0,
            jsonb_build_object(
                'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
                'userName', 'User' || i, 'externalId', 'ext' || i, 'active', i % 10 <> 0,
                'title', 'Title ' || (i % 50), 'displayName', 'Person ' || i,
                'name', jsonb_build_object('givenName', 'Given' || (i % 1000), 'familyName', 'Family' || i),
                'emails', jsonb_build_array(
                    jsonb_build_object('value', 'user' || i || '@example.com', 'type', 'work', 'primary', true),
                    jsonb_build_object('value', 'u' || i || '@home.example', 'type', 'home'))),
            jsonb_build_array(jsonb_build_object('UserName', 'user' || i),
                              jsonb_build_object('UserExternalId', 'ext' || i))
        FROM generate_series(1, {users}) AS i;
        INSERT INTO scim_resources (tenant, kind, id, version, created, modified, name_key,
            external_id, active, doc, index_keys)
        SELECT '{tenant}', 1, 'g' || i, 1, 1577836800000000000, 1577836800000000000,
            'group ' || i, NULL, NULL,
            jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
                'displayName', 'Group ' || i),
            jsonb_build_array(jsonb_build_object('GroupDisplayName', 'group ' || i))
        FROM generate_series(1, 100) AS i;
        ANALYZE scim_resources; COMMIT;"#
    );
    conn.batch_execute(&sql).await.expect("load");
}

async fn time_list(
    store: &crate::PgStore,
    tenant: &TenantId,
    registry: &Arc<Registry>,
    (kind, filter, sort, take): (Kind, Option<&str>, Option<&str>, usize),
    large: bool,
) -> (Duration, usize, &'static str) {
    let f = filter.map(|f| parse_filter(f).expect("filter"));
    let probes = f.as_ref().and_then(|f| query::probes(registry, kind, f));
    let sort = sort.map(|s| {
        (
            scim_proto::filter::parse_attr_path(s).expect("sort"),
            SortOrder::Ascending,
        )
    });
    let matcher = Arc::new(Matcher::scim(Arc::clone(registry), kind, f, sort, BASE));
    let plan = crate::query::plan(
        tenant.as_str(),
        crate::kind_code(kind),
        &matcher,
        probes.as_deref(),
    );
    let how = match (plan.exact, plan.sort.is_some()) {
        (true, true) => "sql",
        (true, false) => "sql+rust sort",
        _ => "superset+matcher",
    };
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..5 {
        let q = Query {
            kind,
            selection: Selection::Matching {
                matcher: Arc::clone(&matcher),
                probes: probes.clone(),
            },
            skip: 0,
            take,
        };
        let conn = store.conn().await.expect("connection");
        let began = Instant::now();
        match crate::query::run(&conn, tenant, &q).await {
            Ok(found) => total = found.total,
            // A list the database cannot answer alone, over a directory measured only on
            // request (100,000 users and more), may outrun the statement timeout: a finding of
            // the measurement, printed as such.
            Err(scim_core::store::StoreError::Unavailable(e)) if large => {
                eprintln!("{filter:?}: {e}");
                return (began.elapsed(), usize::MAX, "timed out");
            }
            Err(e) => panic!("{filter:?}: {e}"),
        }
        times.push(began.elapsed());
    }
    times.sort();
    (times[times.len() / 2], total, how)
}

/// How many of the users `1..=n` a number rule picks.
fn users_where(n: usize, rule: impl Fn(usize) -> bool) -> usize {
    (1..=n).filter(|&i| rule(i)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_over_a_loaded_directory_answer_what_it_holds() {
    let sizes: Vec<usize> = std::env::var("SCIM_PG_MEASURE_SIZES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let registry = Arc::new(Registry::builtin());
    let lists: &[(Kind, Option<&str>, Option<&str>, usize)] = &[
        (Kind::User, Some(r#"userName eq "User777""#), None, 100),
        (Kind::User, Some(r#"userName eq "nobody""#), None, 100),
        (Kind::User, Some(r#"externalId eq "ext777""#), None, 100),
        (
            Kind::User,
            Some(r#"id eq "f1c1592588411002af340cbaedd6fc33""#),
            None,
            100,
        ),
        (Kind::Group, Some(r#"displayName eq "GROUP 7""#), None, 100),
        (Kind::User, Some(r#"userName sw "user7777""#), None, 100),
        (Kind::User, Some(r#"title eq "title 7""#), None, 10),
        (
            Kind::User,
            Some(r#"emails[type eq "work" and value eq "user777@example.com"]"#),
            None,
            10,
        ),
        (Kind::User, Some(r#"active eq false"#), Some("userName"), 10),
        (
            Kind::User,
            Some(r#"active eq false"#),
            Some("name.familyName"),
            10,
        ),
        (Kind::User, None, Some("meta.lastModified"), 10),
        (Kind::User, Some(r#"meta.created co "2020""#), None, 10),
    ];
    // What each list must total in a directory of `n` users (and 100 groups).
    let expected: &[&dyn Fn(usize) -> usize] = &[
        &|n| usize::from(n >= 777),
        &|_| 0,
        &|n| usize::from(n >= 777),
        &|n| usize::from(n >= 777),
        &|_| 1,
        &|n| users_where(n, |i| i.to_string().starts_with("7777")),
        &|n| users_where(n, |i| i % 50 == 7),
        &|n| usize::from(n >= 777),
        &|n| users_where(n, |i| i % 10 == 0),
        &|n| users_where(n, |i| i % 10 == 0),
        &|n| n,
        &|n| n,
    ];
    assert_eq!(expected.len(), lists.len());
    let pg = super::Pg::start();
    let store = pg.store().await;
    println!("| users | list | answered by | total | median |");
    println!("| ---: | --- | --- | ---: | ---: |");
    for (n, size) in sizes.iter().enumerate() {
        let tenant = TenantId::parse(&format!("m{n}")).expect("tenant");
        let conn = store.conn().await.expect("connection");
        let began = Instant::now();
        load(&conn, tenant.as_str(), *size).await;
        eprintln!("loaded {size} users in {:?}", began.elapsed());
        drop(conn);
        for ((kind, filter, sort, take), expected) in lists.iter().zip(expected) {
            let (t, total, how) = time_list(
                &store,
                &tenant,
                &registry,
                (*kind, *filter, *sort, *take),
                *size >= 100_000,
            )
            .await;
            if how == "timed out" {
                println!("| {size} | `{}` | timed out | | |", filter.unwrap_or(""));
                continue;
            }
            assert_eq!(
                total,
                expected(*size),
                "{filter:?} sortBy={sort:?} among {size} users ({how})"
            );
            let shown = format!(
                "{}{}",
                filter.unwrap_or(""),
                sort.map(|s| format!(" sortBy={s}")).unwrap_or_default()
            );
            println!(
                "| {size} | `{}` | {how} | {total} | {:.2} ms |",
                shown.replace('|', "\\|"),
                t.as_secs_f64() * 1000.0
            );
        }
    }
}
