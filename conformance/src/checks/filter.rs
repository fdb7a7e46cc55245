//! Filtering (RFC 7644 §3.4.2.2) and POST /.search (§3.4.3), on three Users made for the purpose
//! (every query is scoped to them with `userName sw "<run prefix>flt-"`).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::cx::Cx;
use crate::discovery::{ENTERPRISE_SCHEMA, LIST_RESPONSE, SEARCH_REQUEST, USER_SCHEMA};
use crate::http::{qs, Exchange};
use crate::judge::{got, prerequisite, Judge};
use crate::model::CheckDef;

check!(
    EQ,
    "filter.eq",
    "RFC 7644 §3.4.2.2",
    Must,
    "eq selects equal values",
    ["filter"]
);
check!(
    NE,
    "filter.ne",
    "RFC 7644 §3.4.2.2",
    Must,
    "ne selects different values",
    ["filter"]
);
check!(
    CO,
    "filter.co",
    "RFC 7644 §3.4.2.2",
    Must,
    "co selects values containing the operand",
    ["filter"]
);
check!(
    SW,
    "filter.sw",
    "RFC 7644 §3.4.2.2",
    Must,
    "sw selects values starting with the operand",
    ["filter"]
);
check!(
    EW,
    "filter.ew",
    "RFC 7644 §3.4.2.2",
    Must,
    "ew selects values ending with the operand",
    ["filter"]
);
check!(
    PR,
    "filter.pr",
    "RFC 7644 §3.4.2.2",
    Must,
    "pr selects resources where the attribute has a value",
    ["filter"]
);
check!(
    GT,
    "filter.gt",
    "RFC 7644 §3.4.2.2",
    Must,
    "gt compares strings lexicographically",
    ["filter"]
);
check!(
    GE,
    "filter.ge",
    "RFC 7644 §3.4.2.2",
    Must,
    "ge compares strings lexicographically",
    ["filter"]
);
check!(
    LT,
    "filter.lt",
    "RFC 7644 §3.4.2.2",
    Must,
    "lt compares strings lexicographically",
    ["filter"]
);
check!(
    LE,
    "filter.le",
    "RFC 7644 §3.4.2.2",
    Must,
    "le compares strings lexicographically",
    ["filter"]
);
check!(
    DATETIME,
    "filter.datetime",
    "RFC 7644 §3.4.2.2",
    Must,
    "gt and lt on meta.lastModified compare dateTimes chronologically",
    ["filter"]
);
check!(
    BOOLEAN,
    "filter.boolean",
    "RFC 7644 §3.4.2.2",
    Must,
    "eq true/false on a boolean attribute",
    ["filter"]
);
check!(
    AND,
    "filter.and",
    "RFC 7644 §3.4.2.2",
    Must,
    "and requires both expressions",
    ["filter"]
);
check!(
    OR,
    "filter.or",
    "RFC 7644 §3.4.2.2",
    Must,
    "or accepts either expression",
    ["filter"]
);
check!(
    NOT,
    "filter.not",
    "RFC 7644 §3.4.2.2",
    Must,
    "not (…) negates a grouped expression",
    ["filter"]
);
check!(
    PRECEDENCE,
    "filter.precedence",
    "RFC 7644 §3.4.2.2",
    Must,
    "and binds tighter than or (`a or b and c` is `a or (b and c)`)",
    ["filter"]
);
check!(
    GROUPING,
    "filter.grouping",
    "RFC 7644 §3.4.2.2",
    Must,
    "parentheses override precedence (`(a or b) and c`)",
    ["filter"]
);
check!(
    ATTR_CASE,
    "filter.attribute-name-case",
    "RFC 7644 §3.4.2.2",
    Must,
    "attribute names in filters are case-insensitive (`USERNAME eq`)",
    ["filter"]
);
check!(
    OP_CASE,
    "filter.operator-case",
    "RFC 7644 §3.4.2.2",
    Must,
    "operators are case-insensitive (`EQ`, `AND`, `Sw`)",
    ["filter"]
);
check!(
    USERNAME_CASE,
    "filter.username-any-case",
    "RFC 7643 §4.1.1",
    Must,
    "userName is caseExact false: `userName eq` matches it in another case",
    ["filter", "users"]
);
check!(
    EXTERNALID_CASE,
    "filter.externalid-case-exact",
    "RFC 7643 §3.1",
    Must,
    "externalId is caseExact: `externalId eq` in another case matches nothing",
    ["filter", "users"]
);
check!(
    MULTI,
    "filter.multi-valued",
    "RFC 7644 §3.4.2.2",
    Must,
    "a filter on a multi-valued attribute matches if any value matches (`emails.value eq`)",
    ["filter"]
);
check!(
    VALUE_PATH,
    "filter.value-path",
    "RFC 7644 §3.4.2.2",
    Must,
    "a complex value filter `emails[type eq \"work\" and value co \"…\"]` matches within one value",
    ["filter"]
);
check!(EXTENSION, "filter.extension-attribute", "RFC 7644 §3.4.2.2", Must,
    "a fully qualified extension attribute (`urn:…:enterprise:2.0:User:employeeNumber eq`) can be filtered", ["filter"]);
check!(
    NO_MATCH,
    "filter.no-match",
    "RFC 7644 §3.4.2",
    Must,
    "a filter matching nothing answers 200 with totalResults 0",
    ["filter"]
);
check!(
    INVALID,
    "filter.invalid-400",
    "RFC 7644 §3.4.2.2",
    Must,
    "a malformed filter answers 400 with a SCIM Error",
    ["filter", "errors"]
);
check!(
    INVALID_TYPE,
    "filter.invalid-scim-type",
    "RFC 7644 §3.12",
    Should,
    "a malformed filter's 400 carries scimType invalidFilter",
    ["filter", "errors"]
);
check!(
    UNKNOWN_ATTR,
    "filter.unknown-attribute-400",
    "RFC 7644 §3.12",
    Should,
    "a filter on an attribute the schema does not define answers 400 invalidFilter",
    ["filter", "errors"]
);
check!(
    UNADVERTISED,
    "filter.unadvertised",
    "RFC 7644 §3.12",
    Must,
    "with filter.supported false, a filter is refused with an error or applied, never ignored",
    ["filter", "discovery"]
);
check!(
    SEARCH,
    "search.post",
    "RFC 7644 §3.4.3",
    Should,
    "POST /Users/.search with a SearchRequest answers 200 with the matching ListResponse",
    ["search", "filter"]
);
check!(
    SEARCH_ROOT,
    "search.root",
    "RFC 7644 §3.4.3",
    May,
    "POST /.search at the root searches across resource types",
    ["search", "filter"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    EQ,
    NE,
    CO,
    SW,
    EW,
    PR,
    GT,
    GE,
    LT,
    LE,
    DATETIME,
    BOOLEAN,
    AND,
    OR,
    NOT,
    PRECEDENCE,
    GROUPING,
    ATTR_CASE,
    OP_CASE,
    USERNAME_CASE,
    EXTERNALID_CASE,
    MULTI,
    VALUE_PATH,
    EXTENSION,
    NO_MATCH,
    INVALID,
    INVALID_TYPE,
    UNKNOWN_ATTR,
    UNADVERTISED,
    SEARCH,
    SEARCH_ROOT,
];

/// One of the three test users.
struct Person {
    label: &'static str,
    display: &'static str,
    title: &'static str,
    active: bool,
    nick: Option<&'static str>,
    email_type: &'static str,
}

const PEOPLE: [Person; 3] = [
    Person {
        label: "alice",
        display: "Alice Alpha",
        title: "Engineer",
        active: true,
        nick: Some("al"),
        email_type: "work",
    },
    Person {
        label: "bob",
        display: "Bob Beta",
        title: "Manager",
        active: false,
        nick: None,
        email_type: "work",
    },
    Person {
        label: "carol",
        display: "Carol Gamma",
        title: "Engineer",
        active: true,
        nick: Some("cc"),
        email_type: "home",
    },
];

/// Runs the filter and search checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    let scope = format!("{}flt-", cx.prefix);
    let enterprise = cx
        .disc
        .type_with_schema(USER_SCHEMA)
        .is_some_and(|t| t.extensions.iter().any(|(u, _)| u == ENTERPRISE_SCHEMA));
    for Person {
        label,
        display,
        title,
        active,
        nick,
        email_type,
    } in PEOPLE
    {
        let user_name = format!("{scope}{label}");
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "displayName": display,
            "title": title,
            "active": active,
            "externalId": format!("{scope}EXT-{label}"),
            "emails": [{"value": format!("{label}@{email_type}.example.com"), "type": email_type}],
        });
        if let Some(n) = nick {
            body["nickName"] = json!(n);
        }
        if enterprise {
            body["schemas"] = json!([USER_SCHEMA, ENTERPRISE_SCHEMA]);
            body[ENTERPRISE_SCHEMA] = json!({"employeeNumber": format!("{scope}E-{label}")});
        }
        let ex = cx.create(&users, &body).await;
        if ex.status != 201 {
            cx.skip_all(CHECKS, &prerequisite("POST /Users", &ex));
            return;
        }
    }

    if !cx.disc.features.filter && cx.discovered {
        unadvertised(cx, &users, &scope).await;
        return;
    }
    cx.skip(&UNADVERTISED, "filter.supported is true");

    let s = |x: &str| format!("{scope}{x}");
    let scoped = |expr: &str| format!("userName sw \"{scope}\" and ({expr})");
    let cases: Vec<(CheckDef, String, Vec<&str>)> = vec![
        (EQ, format!("userName eq \"{}\"", s("alice")), vec!["alice"]),
        (NE, scoped("title ne \"Engineer\""), vec!["bob"]),
        (CO, scoped("displayName co \"lph\""), vec!["alice"]),
        (SW, format!("userName sw \"{scope}\""), vec!["alice", "bob", "carol"]),
        (EW, scoped("displayName ew \"Beta\""), vec!["bob"]),
        (PR, scoped("nickName pr"), vec!["alice", "carol"]),
        (GT, scoped(&format!("userName gt \"{}\"", s("bob"))), vec!["carol"]),
        (GE, scoped(&format!("userName ge \"{}\"", s("bob"))), vec!["bob", "carol"]),
        (LT, scoped(&format!("userName lt \"{}\"", s("bob"))), vec!["alice"]),
        (LE, scoped(&format!("userName le \"{}\"", s("bob"))), vec!["alice", "bob"]),
        (
            DATETIME,
            scoped("meta.lastModified gt \"2000-01-01T00:00:00Z\" and meta.lastModified lt \"2999-12-31T23:59:59Z\""),
            vec!["alice", "bob", "carol"],
        ),
        (BOOLEAN, scoped("active eq false"), vec!["bob"]),
        (AND, scoped("title eq \"Engineer\" and active eq true and nickName eq \"cc\""), vec!["carol"]),
        (OR, scoped("displayName eq \"Alice Alpha\" or displayName eq \"Bob Beta\""), vec!["alice", "bob"]),
        (NOT, scoped("not (title eq \"Engineer\")"), vec!["bob"]),
        (
            PRECEDENCE,
            scoped(&format!("userName eq \"{}\" or title eq \"Engineer\" and active eq false", s("alice"))),
            vec!["alice"],
        ),
        (
            GROUPING,
            scoped(&format!("(userName eq \"{}\" or title eq \"Engineer\") and active eq true", s("bob"))),
            vec!["alice", "carol"],
        ),
        (ATTR_CASE, format!("USERNAME eq \"{}\"", s("alice")), vec!["alice"]),
        (
            OP_CASE,
            format!("userName Sw \"{scope}\" AND displayName EQ \"Bob Beta\""),
            vec!["bob"],
        ),
        (USERNAME_CASE, format!("userName eq \"{}\"", s("alice").to_uppercase()), vec!["alice"]),
        (MULTI, scoped("emails.value eq \"carol@home.example.com\""), vec!["carol"]),
        (VALUE_PATH, scoped("emails[type eq \"work\" and value co \"alice\"]"), vec!["alice"]),
        (NO_MATCH, format!("userName eq \"{}\"", s("nobody")), vec![]),
    ];
    for (def, filter, want) in cases {
        if !cx.wants(&def) {
            continue;
        }
        let ex = list(cx, &users, &filter).await;
        let mut j = Judge::new();
        expect_names(&mut j, &ex, &scope, &want, &filter);
        if def.id == NO_MATCH.id && ex.status == 200 {
            let r = &ex.body()["Resources"];
            j.that(
                r.is_null() || r.as_array().is_some_and(Vec::is_empty),
                || format!("{}: expected no Resources, got {r}", ex.path),
            );
        }
        cx.record(&def, j);
    }

    if cx.wants(&EXTERNALID_CASE) {
        let mut j = Judge::new();
        let exact = list(cx, &users, &format!("externalId eq \"{}\"", s("EXT-alice"))).await;
        expect_names(
            &mut j,
            &exact,
            &scope,
            &["alice"],
            "externalId eq (same case)",
        );
        let other = list(cx, &users, &format!("externalId eq \"{}\"", s("ext-alice"))).await;
        expect_names(&mut j, &other, &scope, &[], "externalId eq (other case)");
        cx.record(&EXTERNALID_CASE, j);
    }
    if cx.wants(&EXTENSION) {
        if enterprise {
            let f = format!("{ENTERPRISE_SCHEMA}:employeeNumber eq \"{}\"", s("E-bob"));
            let ex = list(cx, &users, &f).await;
            let mut j = Judge::new();
            expect_names(&mut j, &ex, &scope, &["bob"], &f);
            cx.record(&EXTENSION, j);
        } else {
            cx.skip(
                &EXTENSION,
                "the User resource type has no enterprise extension",
            );
        }
    }
    invalid(cx, &users).await;
    search(cx, &users, &scope).await;
}

/// GET `users?filter=…&count=100`.
async fn list(cx: &Cx, users: &str, filter: &str) -> Exchange {
    cx.get(&format!("{users}?filter={}&count=100", qs(filter)))
        .await
}

/// The labels (userName without the scope) of the Resources of a ListResponse.
fn labels(ex: &Exchange, scope: &str) -> BTreeSet<String> {
    ex.body()["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["userName"].as_str())
        .map(|u| {
            if u.len() >= scope.len() && u[..scope.len()].eq_ignore_ascii_case(scope) {
                u[scope.len()..].to_ascii_lowercase()
            } else {
                u.to_string()
            }
        })
        .collect()
}

/// The response must be a 200 ListResponse holding exactly the users `want`, with a matching
/// totalResults.
fn expect_names(j: &mut Judge, ex: &Exchange, scope: &str, want: &[&str], what: &str) {
    if !j.status(ex, &[200]) || !j.json_object(ex) {
        return;
    }
    j.has_schema(ex, LIST_RESPONSE);
    let got_names = labels(ex, scope);
    let want_names: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    j.that(got_names == want_names, || {
        format!("filter `{what}`: expected {want_names:?}, got {got_names:?}")
    });
    let total = ex.body()["totalResults"].as_u64();
    j.that(total == Some(want.len() as u64), || {
        format!(
            "filter `{what}`: expected totalResults {}, got {}",
            want.len(),
            ex.body()["totalResults"]
        )
    });
}

async fn invalid(cx: &mut Cx, users: &str) {
    let mut j = Judge::new();
    let mut t = Judge::new();
    for f in [
        "userName eq",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\" and",
    ] {
        let ex = list(cx, users, f).await;
        if j.scim_error(&ex, &[400], &[]) {
            t.error_body(&ex, &["invalidFilter"]);
        }
    }
    cx.record(&INVALID, j);
    cx.record(&INVALID_TYPE, t);
    if cx.wants(&UNKNOWN_ATTR) {
        let mut j = Judge::new();
        let ex = list(cx, users, "conformanceNoSuchAttribute eq \"x\"").await;
        j.scim_error(&ex, &[400], &["invalidFilter"]);
        cx.record(&UNKNOWN_ATTR, j);
    }
}

async fn search(cx: &mut Cx, users: &str, scope: &str) {
    if cx.wants(&SEARCH) {
        let body = json!({
            "schemas": [SEARCH_REQUEST],
            "filter": format!("userName sw \"{scope}\" and title eq \"Engineer\""),
            "startIndex": 1,
            "count": 10,
        });
        let ex = cx
            .send_json(Method::POST, &format!("{users}/.search"), &body)
            .await;
        let mut j = Judge::new();
        expect_names(&mut j, &ex, scope, &["alice", "carol"], "POST /.search");
        if ex.status == 200 {
            j.scim_media(&ex);
        }
        cx.record(&SEARCH, j);
    }
    if cx.wants(&SEARCH_ROOT) {
        let body = json!({
            "schemas": [SEARCH_REQUEST],
            "filter": format!("userName eq \"{scope}carol\""),
        });
        let ex = cx.send_json(Method::POST, "/.search", &body).await;
        let mut j = Judge::new();
        expect_names(&mut j, &ex, scope, &["carol"], "POST /.search at the root");
        cx.record(&SEARCH_ROOT, j);
    }
}

async fn unadvertised(cx: &mut Cx, users: &str, scope: &str) {
    cx.skip_all(
        &CHECKS
            .iter()
            .filter(|d| d.id != UNADVERTISED.id)
            .copied()
            .collect::<Vec<_>>(),
        "filter.supported is false",
    );
    let f = format!("userName eq \"{scope}bob\"");
    let ex = list(cx, users, &f).await;
    let mut j = Judge::new();
    j.see(&ex);
    if ex.status == 200 {
        let names = labels(&ex, scope);
        let ok = names.len() == 1 && names.contains("bob");
        j.that(ok && ex.body()["totalResults"] == json!(1), || {
            format!(
                "filter.supported is false and {}: the filter was ignored ({})",
                ex.path,
                got(&ex)
            )
        });
        j.note("unadvertised, but applied");
    } else {
        j.that(ex.status >= 400, || {
            format!(
                "{}: expected an error or a filtered list, got {}",
                ex.path,
                got(&ex)
            )
        });
        j.error_body(&ex, &[]);
    }
    cx.record(&UNADVERTISED, j);
}
