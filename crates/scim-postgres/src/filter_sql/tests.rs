//! The compiler: what it makes of filters (no database), and what the database answers with it
//! (through the core's list API on a throwaway cluster).

use std::sync::Arc;

use scim_core::auth::operator;
use scim_core::clock::ManualClock;
use scim_core::model::{Kind, TenantId};
use scim_core::{Context, Core, Directory, Settings};
use scim_proto::filter::{parse_attr_path, parse_filter, AttrPath, CompareOp, Filter, Literal};
use scim_proto::list::{ListQuery, RawListParams, SortOrder};
use scim_proto::resource::Projection;
use scim_proto::schema::Registry;
use serde_json::{json, Value};
use time::macros::datetime;

use super::{fold, Compiled, Compiler, Param, Params};

const BASE: &str = "https://scim.test/scim/v2";

fn compile_sorted(kind: Kind, filter: &str, sort: Option<(&str, SortOrder)>) -> Compiled {
    let registry = Registry::builtin();
    let f = parse_filter(filter).expect("filter");
    let sort = sort.map(|(by, order)| (parse_attr_path(by).expect("path"), order));
    let params = Params::new(vec![Param::Text("acme".into()), Param::Small(0)]);
    Compiler::new(&registry, kind, BASE, params)
        .compile(Some(&f), sort.as_ref().map(|(p, o)| (p, *o)))
}

fn compile(filter: &str) -> Compiled {
    compile_sorted(Kind::User, filter, None)
}

fn texts(c: &Compiled) -> Vec<String> {
    c.params
        .list
        .iter()
        .filter_map(|p| match p {
            Param::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn values_are_bound_and_never_spliced() {
    let hostile = "x'); DROP TABLE scim_resources; --";
    for filter in [
        format!("title eq {}", json!(hostile)),
        format!("emails[value co {}]", json!(hostile)),
        format!("externalId sw {}", json!(hostile)),
        format!("meta.location ew {}", json!(hostile)),
        format!("members.display ne {}", json!(hostile)),
    ] {
        let kind = if filter.starts_with("members") {
            Kind::Group
        } else {
            Kind::User
        };
        let c = compile_sorted(kind, &filter, None);
        assert!(!c.sql.contains("DROP"), "{filter}: {}", c.sql);
        assert!(
            texts(&c)
                .iter()
                .any(|t| t.to_uppercase().contains("DROP TABLE")),
            "{filter}: the value is a parameter"
        );
        assert!(c.exact, "{filter}");
    }
}

#[test]
fn attribute_names_come_from_the_schemas_only() {
    // The grammar refuses such a name, and a path the schemas do not know matches nothing.
    assert!(parse_filter("user'Name eq \"x\"").is_err());
    let registry = Registry::builtin();
    let f = Filter::Compare {
        path: AttrPath::simple("title'); DROP TABLE x; --"),
        op: CompareOp::Eq,
        value: Literal::String("x".into()),
    };
    let c = Compiler::new(&registry, Kind::User, BASE, Params::default()).compile(Some(&f), None);
    assert_eq!((c.sql.as_str(), c.exact), ("FALSE", true));
    // Names are the schema's spelling, whatever the request's case.
    let c = compile("TITLE eq \"x\" and URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER pr");
    assert!(c.sql.contains("'title'"), "{}", c.sql);
    assert!(
        c.sql.contains(
            "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User') -> 'employeeNumber'"
        ),
        "{}",
        c.sql
    );
    assert!(!c.sql.contains("TITLE") && !c.sql.contains("EMPLOYEENUMBER"));
}

#[test]
fn like_patterns_escape_percent_underscore_and_backslash() {
    let c = compile(r#"userName co "a%_\\b""#);
    assert!(c.sql.contains("r.name_key LIKE"), "{}", c.sql);
    assert!(
        texts(&c).contains(&r"%a\%\_\\b%".to_string()),
        "{:?}",
        texts(&c)
    );
    let c = compile(r#"externalId sw "5%""#);
    assert!(texts(&c).contains(&r"5\%%".to_string()), "{:?}", texts(&c));
    let c = compile(r#"title ew "_""#);
    assert!(texts(&c).contains(&r"%\_".to_string()), "{:?}", texts(&c));
}

#[test]
fn indexed_attributes_compare_through_their_columns() {
    let c = compile(r#"USERNAME eq "Bob""#);
    assert_eq!(c.sql, "(r.name_key = $3::text)");
    assert_eq!(texts(&c)[1], "bob", "folded as the core folds it");
    let c = compile(r#"externalId eq "E1" or id eq "x""#);
    assert_eq!(c.sql, "((r.external_id = $3::text) OR (r.id = $4::text))");
    let c = compile_sorted(Kind::Group, r#"displayName eq "Ops""#, None);
    assert_eq!(c.sql, "(r.name_key = $3::text)");
    assert!(c.exact);
}

#[test]
fn not_is_two_valued() {
    // A user without a title: `title eq "x"` is NULL in SQL, and `not` of it must hold.
    let c = compile(r#"not (title eq "x")"#);
    assert!(c.sql.starts_with("(NOT COALESCE("), "{}", c.sql);
    assert!(c.exact);
    let c = compile(r#"not (emails[type eq "work"])"#);
    assert!(c.sql.starts_with("(NOT EXISTS"), "{}", c.sql);
}

#[test]
fn what_cannot_be_compiled_is_a_superset_and_never_negated() {
    for (filter, exact) in [
        (r#"meta.created co "2020""#, false),
        (r#"not (meta.created co "2020")"#, false),
        (r#"meta[created gt "2020-01-01T00:00:00Z"]"#, false),
        (r#"title eq "σ""#, false),
        (r#"title eq "ΟΔΥΣΣΕΥΣ""#, false),
        (r#"userName eq "ΟΔΥΣΣΕΥΣ""#, true),
        (r#"title eq "x" and meta.created co "2020""#, false),
        (r#"title eq "x" or meta.created co "2020""#, false),
        (r#"meta.created gt "2020-01-01T00:00:00Z""#, true),
        (r#"meta.version eq "W/\"3\"""#, true),
        (r#"meta.location sw "https://""#, true),
        (r#"meta.resourceType eq "User""#, true),
        (
            r#"groups[display co "ops" and not (type eq "indirect")]"#,
            true,
        ),
        (r#"emails[type eq "work" and value co "@x"]"#, true),
        (r#"active eq true and nope pr"#, true),
    ] {
        let c = compile(filter);
        assert_eq!(c.exact, exact, "{filter}: {}", c.sql);
    }
    // A literal holding NUL (which the parser refuses, and PostgreSQL text cannot hold) is left
    // to the matcher, never sent.
    let f = Filter::Compare {
        path: AttrPath::simple("title"),
        op: CompareOp::Eq,
        value: Literal::String("a\0b".into()),
    };
    let c = Compiler::new(&Registry::builtin(), Kind::User, BASE, Params::default())
        .compile(Some(&f), None);
    assert!(!c.exact, "{}", c.sql);
    // `not` of a superset would be a subset: it is every row instead.
    let c = compile(r#"not (meta.created co "2020")"#);
    assert_eq!(c.sql, "TRUE");
    // An inexact part stays a condition where it narrows nothing.
    let c = compile(r#"title eq "σ""#);
    assert!(c.sql.contains("strpos"), "{}", c.sql);
}

#[test]
fn unknown_attributes_and_mismatched_types_match_nothing() {
    for filter in [
        r#"nope eq "x""#,
        r#"active co "x""#,
        r#"active eq "true""#,
        r#"title eq true"#,
        r#"title[value eq "x"]"#,
        r#"emails[urn:x:type eq "x"]"#,
        r#"emails[nope pr]"#,
        r#"name eq "x""#,
        r#"meta gt "x""#,
    ] {
        let c = compile(filter);
        assert_eq!((c.sql.as_str(), c.exact), ("FALSE", true), "{filter}");
    }
    let c = compile(r#"not (nope eq "x")"#);
    assert_eq!(c.sql, "TRUE");
    assert!(c.exact);
}

#[test]
fn sorts_in_sql_where_the_key_is_computed_alike() {
    use SortOrder::{Ascending, Descending};
    let sorted = |kind, by, order| compile_sorted(kind, "id pr", Some((by, order))).sort;
    let key = |kind, by| sorted(kind, by, Ascending).and_then(|s| s.key);
    assert_eq!(key(Kind::User, "userName").as_deref(), Some("r.name_key"));
    assert_eq!(
        key(Kind::Group, "displayName").as_deref(),
        Some("r.name_key")
    );
    assert_eq!(
        key(Kind::User, "meta.lastModified").as_deref(),
        Some("r.modified")
    );
    assert_eq!(key(Kind::User, "nope"), None, "no key: by id");
    assert!(sorted(Kind::User, "nope", Ascending).is_some());
    assert!(
        sorted(Kind::User, "groups.value", Ascending).is_none(),
        "in Rust"
    );
    assert!(sorted(Kind::User, "emails", Ascending).is_none(), "in Rust");
    let title = sorted(Kind::User, "title", Descending).expect("in SQL");
    assert!(
        title.doubt.is_some(),
        "a folded key is in doubt when it holds Σ"
    );
    assert_eq!(
        title.order_by("k", "r.id"),
        "k DESC NULLS FIRST, r.id",
        "missing values first when descending, ties by id"
    );
    let emails = sorted(Kind::User, "emails.value", Ascending).expect("in SQL");
    assert!(emails
        .join
        .as_deref()
        .is_some_and(|j| j.contains("primary")));
}

#[test]
fn the_folding_table_is_rusts() {
    let t = fold::table();
    assert_eq!(t.from.chars().count(), t.to.chars().count());
    assert!(t.from.contains('A') && t.from.contains('Σ') && t.from.contains('\u{212A}'));
    assert_eq!(t.multi, [("İ".to_string(), "i\u{307}".to_string())]);
    // What a multi-character mapping gives folds to itself.
    for (_, lower) in &t.multi {
        assert_eq!(&lower.to_lowercase(), lower);
    }
}

// With the database.

async fn directory(core: &Core) -> Directory {
    core.ensure_default_tenant().await.expect("tenant");
    core.directory(&TenantId::default_tenant())
        .await
        .expect("directory")
}

fn ctx() -> Context {
    Context {
        actor: operator(),
        request_id: None,
        base_url: BASE.into(),
    }
}

async fn create(d: &Directory, kind: Kind, body: Value) {
    d.create(kind, &body, &ctx(), &Projection::default())
        .await
        .expect("create");
}

/// A list's `userName`s (users) or `displayName`s (groups), in order, and its total.
async fn list(d: &Directory, kind: Kind, filter: &str, sort: Option<&str>) -> (Vec<String>, u64) {
    let raw = RawListParams {
        filter: Some(filter.to_string()),
        sort_by: sort.map(str::to_string),
        ..RawListParams::default()
    };
    let q = ListQuery::parse(d.registry(), kind, &raw, 1000).expect("query");
    let page = d.list(kind, &q, &ctx()).await.expect("list").to_value();
    let name = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    let names = page["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r[name].as_str().map(str::to_string))
        .collect();
    (names, page["totalResults"].as_u64().expect("total"))
}

fn user(name: &str, extra: Value) -> Value {
    let mut body =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_answers_as_the_evaluator() {
    let clock = Arc::new(ManualClock::new(datetime!(2020-01-01 00:00 UTC)));
    let pg = crate::tests::Pg::start();
    let store = Arc::new(pg.store().await);
    let core = Core::with_clock(store, Settings::default(), clock.clone());
    let d = directory(&core).await;
    clock.set(datetime!(2020-01-01 00:00 UTC));
    create(&d, Kind::User, user("a%b", json!({"title": "Engineer"}))).await;
    clock.set(datetime!(2020-01-01 00:00:00.000000001 UTC));
    create(&d, Kind::User, user("a_b", json!({"title": "ΣΊΣΥΦΟΣ"}))).await;
    clock.set(datetime!(2020-01-01 02:00 UTC));
    create(&d, Kind::User, user("a\\b", json!({"title": "σίσυφος"}))).await;
    create(
        &d,
        Kind::User,
        user(
            "axb",
            json!({"emails": [{"type": "work", "value": "a@y.org"}, {"type": "home", "value": "b@x.com"}]}),
        ),
    )
    .await;
    create(
        &d,
        Kind::User,
        user("\u{212A}elvin", json!({"nickName": "İ"})),
    )
    .await;
    let users = |f: &'static str| list(&d, Kind::User, f, Some("userName"));

    // LIKE's special characters are literal.
    assert_eq!(users(r#"userName co "%""#).await.0, ["a%b"]);
    assert_eq!(users(r#"userName sw "a_""#).await.0, ["a_b"]);
    assert_eq!(users(r#"userName ew "\\b""#).await.0, ["a\\b"]);
    assert_eq!(
        users(r#"userName co "_" or userName co "\\""#).await.0,
        ["a\\b", "a_b"]
    );

    // `not` over a missing attribute holds; `eq null` is the absence.
    assert_eq!(
        users(r#"not (title eq "Engineer")"#).await.0,
        ["a\\b", "a_b", "axb", "\u{212A}elvin"]
    );
    assert_eq!(users(r#"title eq null"#).await.0, ["axb", "\u{212A}elvin"]);
    assert_eq!(users(r#"not (title pr)"#).await.1, 2);

    // A value path holds within one element; the same comparisons across elements do not.
    assert_eq!(
        users(r#"emails[type eq "work" and value co "@x"]"#).await.1,
        0
    );
    assert_eq!(
        users(r#"emails.type eq "work" and emails.value co "@x""#)
            .await
            .0,
        ["axb"]
    );
    assert_eq!(
        users(r#"emails[type eq "WORK" and value ew ".ORG"]"#)
            .await
            .0,
        ["axb"]
    );

    // Instants, whatever the offset, to the nanosecond.
    assert_eq!(
        users(r#"meta.created eq "2020-01-01T02:00:00+02:00""#)
            .await
            .0,
        ["a%b"]
    );
    assert_eq!(
        users(r#"meta.created gt "2019-12-31T19:00:00-05:00""#)
            .await
            .1,
        4
    );
    assert_eq!(
        users(r#"meta.created le "2020-01-01T00:00:00.000000001Z" and meta.created ge "2020-01-01T00:00:00.000000001Z""#)
            .await
            .0,
        ["a_b"]
    );

    // Case folding as Rust folds: the Kelvin sign is a k, İ an i with a dot above, a final Σ ς.
    assert_eq!(users(r#"userName sw "k""#).await.0, ["\u{212A}elvin"]);
    assert_eq!(users(r#"nickName eq "i\u0307""#).await.0, ["\u{212A}elvin"]);
    assert_eq!(users(r#"title eq "σίσυφος""#).await.0, ["a\\b", "a_b"]);
    assert_eq!(users(r#"title co "ΣΥΦ""#).await.0, ["a\\b", "a_b"]);

    // Sorting by a folded text: equal folds tie, by id; missing values last.
    let (sorted, total) = list(&d, Kind::User, "userName pr", Some("title")).await;
    assert_eq!(total, 5);
    assert_eq!(&sorted[..1], ["a%b"]);
    assert_eq!(sorted.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_name_equality_is_an_index_scan_among_many() {
    let pg = crate::tests::Pg::start();
    let store = pg.store().await;
    let conn = store.conn().await.expect("connection");
    conn.batch_execute(
        r#"INSERT INTO scim_tenants (id, body) VALUES ('bench', '{}');
           INSERT INTO scim_resources (tenant, kind, id, version, created, modified, name_key,
                external_id, active, doc, index_keys)
           SELECT 'bench', 0, 'id' || i, 1, i, i, 'user' || i, 'ext' || i, true,
                  jsonb_build_object('userName', 'User' || i, 'title', 'T' || (i % 10)), '[]'
           FROM generate_series(1, 100000) AS i;
           ANALYZE scim_resources;"#,
    )
    .await
    .expect("load");
    let registry = Arc::new(Registry::builtin());
    for (filter, index) in [
        (r#"userName eq "User77""#, "scim_resources_name_key"),
        (r#"externalId eq "ext77""#, "scim_resources_external_id"),
        (r#"id eq "id77""#, "scim_resources_pkey"),
    ] {
        let matcher = scim_core::query::Matcher::scim(
            Arc::clone(&registry),
            Kind::User,
            Some(parse_filter(filter).expect("filter")),
            None,
            BASE,
        );
        let plan = crate::query::plan("bench", 0, &matcher, None);
        assert!(plan.exact, "{filter}");
        let sort = plan.sort.clone().expect("by id");
        let (sql, params) = crate::query::page_statement(&plan, &sort, 0, 100);
        let explain = conn
            .prepare_typed(&format!("EXPLAIN {sql}"), &params.types())
            .await
            .expect("prepare");
        let lines: Vec<String> = conn
            .query(&explain, &params.refs())
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan_text = lines.join("\n");
        assert!(
            plan_text.contains(&format!("Index Scan using {index}"))
                || plan_text.contains(&format!("Index Only Scan using {index}"))
                || plan_text.contains(&format!("Bitmap Index Scan on {index}")),
            "{filter}:\n{plan_text}"
        );
        assert!(!plan_text.contains("Seq Scan"), "{filter}:\n{plan_text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_folds_as_rust_does() {
    let pg = crate::tests::Pg::start();
    let store = pg.store().await;
    let conn = store.conn().await.expect("connection");
    let table = fold::table();
    // Every character with a lower-case mapping, and a sample of the others (Σ, folded by
    // context, aside).
    let mut text: String = table.from.chars().filter(|c| *c != 'Σ').collect();
    text.extend(table.multi.iter().flat_map(|(c, _)| c.chars()));
    text.extend(
        (1..=u32::from(char::MAX))
            .step_by(97)
            .filter_map(char::from_u32),
    );
    text.push_str("ASCII Only, Mixed: 123 ~");
    for sample in [
        text.as_str(),
        "Plain ASCII Text",
        "İstanbul ÉLODIE \u{212A}",
    ] {
        let mut params = Params::new(vec![Param::Text(sample.to_string())]);
        let sql = format!("SELECT {}", params.fold("$1::text"));
        let statement = conn
            .prepare_typed(&sql, &params.types())
            .await
            .expect("prepare");
        let folded: String = conn
            .query_one(&statement, &params.refs())
            .await
            .expect("fold")
            .get(0);
        assert!(folded == sample.to_lowercase(), "differs for {sample:?}");
    }
}
