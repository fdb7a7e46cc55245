//! How list queries cost as a directory grows (not run by default: `cargo test -p scim-postgres
//! measure -- --ignored --nocapture`; `SCIM_PG_MEASURE_SIZES=1000,100000,1000000` sets the
//! directory sizes). Users are loaded with SQL (`generate_series`), each list is answered through
//! the engine's query path as the core would ask it, and the median of several runs is printed.

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
    kind: Kind,
    filter: Option<&str>,
    sort: Option<&str>,
    take: usize,
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
            Err(e) => {
                eprintln!("{e}");
                return (began.elapsed(), 0, "failed");
            }
        }
        times.push(began.elapsed());
    }
    times.sort();
    (times[times.len() / 2], total, how)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, minutes long"]
async fn measure() {
    let sizes: Vec<usize> = std::env::var("SCIM_PG_MEASURE_SIZES")
        .unwrap_or_else(|_| "1000,100000".into())
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
    let store = super::fresh_store().await;
    println!("| users | list | answered by | total | median |");
    println!("| ---: | --- | --- | ---: | ---: |");
    for (n, size) in sizes.iter().enumerate() {
        let tenant = TenantId::parse(&format!("m{n}")).expect("tenant");
        let conn = store.conn().await.expect("connection");
        let began = Instant::now();
        load(&conn, tenant.as_str(), *size).await;
        eprintln!("loaded {size} users in {:?}", began.elapsed());
        drop(conn);
        for (kind, filter, sort, take) in lists {
            let (t, total, how) =
                time_list(&store, &tenant, &registry, *kind, *filter, *sort, *take).await;
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
