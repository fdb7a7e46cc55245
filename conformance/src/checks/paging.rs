//! Pagination (RFC 7644 §3.4.2.4), list responses (§3.4.2) and sorting (§3.4.2.3), on five Users
//! made for the purpose (queries are scoped to them with a `userName sw` filter).

use serde_json::{json, Value};

use crate::cx::Cx;
use crate::discovery::{LIST_RESPONSE, USER_SCHEMA};
use crate::http::{qs, Exchange};
use crate::judge::{got, prerequisite, Judge};
use crate::model::CheckDef;

check!(LIST_RESPONSE_SHAPE, "paging.list-response", "RFC 7644 §3.4.2", Must,
    "a query answers a ListResponse with integer totalResults, startIndex and itemsPerPage, and a Resources array", ["paging"]);
check!(COUNT, "paging.count", "RFC 7644 §3.4.2.4", Must,
    "count=2 returns at most 2 Resources, itemsPerPage equal to their number, and the full totalResults", ["paging"]);
check!(START_INDEX, "paging.start-index", "RFC 7644 §3.4.2.4", Must,
    "startIndex=3&count=2 returns the 3rd and 4th results of the same query, and echoes startIndex 3", ["paging"]);
check!(
    WALK,
    "paging.walk",
    "RFC 7644 §3.4.2.4",
    Should,
    "walking the pages with count=2 returns every result exactly once",
    ["paging"]
);
check!(
    COUNT_ZERO,
    "paging.count-zero",
    "RFC 7644 §3.4.2.4",
    Must,
    "count=0 returns no Resources, only totalResults",
    ["paging"]
);
check!(
    COUNT_NEGATIVE,
    "paging.count-negative",
    "RFC 7644 §3.4.2.4",
    Must,
    "a negative count is interpreted as 0",
    ["paging"]
);
check!(
    START_BELOW_ONE,
    "paging.start-index-below-one",
    "RFC 7644 §3.4.2.4",
    Must,
    "startIndex 0 or negative is interpreted as 1",
    ["paging"]
);
check!(
    START_BEYOND,
    "paging.start-index-beyond",
    "RFC 7644 §3.4.2.4",
    Should,
    "a startIndex past the last result answers 200 with no Resources and the full totalResults",
    ["paging"]
);
check!(
    MAX_RESULTS,
    "paging.max-results",
    "RFC 7643 §5",
    Must,
    "a page never holds more than filter.maxResults Resources, whatever count asks",
    ["paging", "discovery"]
);
check!(
    SORT_ASC,
    "sort.ascending",
    "RFC 7644 §3.4.2.3",
    Must,
    "sortBy=displayName&sortOrder=ascending orders the results",
    ["sort"]
);
check!(
    SORT_DESC,
    "sort.descending",
    "RFC 7644 §3.4.2.3",
    Must,
    "sortOrder=descending reverses the order",
    ["sort"]
);
check!(
    SORT_DEFAULT,
    "sort.default-ascending",
    "RFC 7644 §3.4.2.3",
    Must,
    "sortBy without sortOrder sorts ascending",
    ["sort"]
);
check!(
    SORT_CASE,
    "sort.case-insensitive",
    "RFC 7644 §3.4.2.3",
    Must,
    "a caseExact false attribute sorts case-insensitively (alpha, Bravo, charlie)",
    ["sort"]
);
check!(
    SORT_PAGED,
    "sort.with-paging",
    "RFC 7644 §3.4.2.4",
    Must,
    "a sorted query paged with startIndex/count returns consecutive slices of the sorted list",
    ["sort", "paging"]
);
check!(SORT_UNADVERTISED, "sort.unadvertised", "RFC 7644 §3.4.2.3", Should,
    "with sort.supported false, sortBy is refused with an error or honoured, never silently ignored", ["sort", "discovery"]);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    LIST_RESPONSE_SHAPE,
    COUNT,
    START_INDEX,
    WALK,
    COUNT_ZERO,
    COUNT_NEGATIVE,
    START_BELOW_ONE,
    START_BEYOND,
    MAX_RESULTS,
    SORT_ASC,
    SORT_DESC,
    SORT_DEFAULT,
    SORT_CASE,
    SORT_PAGED,
    SORT_UNADVERTISED,
];

const PAGING: &[CheckDef] = &[
    LIST_RESPONSE_SHAPE,
    COUNT,
    START_INDEX,
    WALK,
    COUNT_ZERO,
    COUNT_NEGATIVE,
    START_BELOW_ONE,
    START_BEYOND,
];
const SORTING: &[CheckDef] = &[SORT_ASC, SORT_DESC, SORT_DEFAULT, SORT_CASE, SORT_PAGED];

/// displayNames in creation order; sorted case-insensitively they are alpha…Echo.
const NAMES: [&str; 5] = ["delta", "Bravo", "alpha", "Echo", "charlie"];

/// Runs the paging and sorting checks.
pub async fn run(cx: &mut Cx) {
    if !cx.wants_any(CHECKS) {
        return;
    }
    let Some(users) = cx.users() else {
        cx.skip_all(CHECKS, "the server has no User resource type");
        return;
    };
    max_results(cx, &users).await;
    if cx.discovered && !cx.disc.features.filter {
        cx.skip_all(
            &[PAGING, SORTING, &[SORT_UNADVERTISED]].concat(),
            "filter.supported is false: a list cannot be scoped to the Users of this run",
        );
        return;
    }
    let scope = format!("{}pg-", cx.prefix);
    for (i, d) in NAMES.iter().enumerate() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": format!("{scope}{}", i + 1),
            "displayName": d,
        });
        let ex = cx.create(&users, &body).await;
        if ex.status != 201 {
            cx.skip_all(
                &[PAGING, SORTING, &[SORT_UNADVERTISED]].concat(),
                &prerequisite("POST /Users", &ex),
            );
            return;
        }
    }
    let filter = qs(&format!("userName sw \"{scope}\""));
    let base = format!("{users}?filter={filter}");
    paging(cx, &base).await;
    if cx.disc.features.sort || !cx.discovered {
        cx.skip(&SORT_UNADVERTISED, "sort.supported is true");
        sorting(cx, &base).await;
    } else {
        cx.skip_all(SORTING, "sort.supported is false (sorting is OPTIONAL)");
        sort_unadvertised(cx, &base).await;
    }
}

fn resources(ex: &Exchange) -> Vec<Value> {
    ex.body()["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ids(ex: &Exchange) -> Vec<String> {
    resources(ex)
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

fn displays(ex: &Exchange) -> Vec<String> {
    resources(ex)
        .iter()
        .map(|r| r["displayName"].as_str().unwrap_or("(none)").to_string())
        .collect()
}

/// A 200 ListResponse with integer totalResults, startIndex, itemsPerPage.
fn list_shape(j: &mut Judge, ex: &Exchange) -> bool {
    if !j.status(ex, &[200]) || !j.json_object(ex) {
        return false;
    }
    let b = ex.body();
    let mut ok = j.has_schema(ex, LIST_RESPONSE);
    ok &= j.that(b["totalResults"].is_u64(), || {
        format!(
            "{}: totalResults is {}, expected a non-negative integer",
            ex.path, b["totalResults"]
        )
    });
    for k in ["startIndex", "itemsPerPage"] {
        ok &= j.that(b[k].is_u64(), || {
            format!("{}: {k} is {}, expected an integer", ex.path, b[k])
        });
    }
    let n = resources(ex).len() as u64;
    ok &= j.that(
        b["Resources"].is_array() || (b["Resources"].is_null() && n == 0),
        || {
            format!(
                "{}: Resources is {}, expected an array",
                ex.path, b["Resources"]
            )
        },
    );
    if b["itemsPerPage"].is_u64() {
        ok &= j.that(b["itemsPerPage"].as_u64() == Some(n), || {
            format!(
                "{}: itemsPerPage {} but {n} Resources",
                ex.path, b["itemsPerPage"]
            )
        });
    }
    ok
}

async fn paging(cx: &mut Cx, base: &str) {
    let all = cx.get(&format!("{base}&count=100")).await;
    let mut j = Judge::new();
    if list_shape(&mut j, &all) {
        j.that(
            all.body()["totalResults"] == json!(5) && resources(&all).len() == 5,
            || {
                format!(
                    "{}: expected the 5 Users of this run, got {}",
                    all.path,
                    got(&all)
                )
            },
        );
        j.that(all.body()["startIndex"] == json!(1), || {
            format!(
                "{}: startIndex is {}, expected 1",
                all.path,
                all.body()["startIndex"]
            )
        });
    }
    let full_ok = j.ok();
    cx.record(&LIST_RESPONSE_SHAPE, j);
    if !full_ok {
        let why = prerequisite("a list of the 5 Users of this run", &all);
        cx.skip_all(&PAGING[1..], &why);
        return;
    }
    let order = ids(&all);

    let ex = cx.get(&format!("{base}&count=2")).await;
    let mut j = Judge::new();
    if list_shape(&mut j, &ex) {
        let n = resources(&ex).len();
        j.that(n <= 2, || format!("{}: {n} Resources for count=2", ex.path));
        j.that(ex.body()["totalResults"] == json!(5), || {
            format!(
                "{}: totalResults {}, expected 5 (all matches, not the page)",
                ex.path,
                ex.body()["totalResults"]
            )
        });
    }
    cx.record(&COUNT, j);

    let ex = cx.get(&format!("{base}&startIndex=3&count=2")).await;
    let mut j = Judge::new();
    if list_shape(&mut j, &ex) {
        j.that(ex.body()["startIndex"] == json!(3), || {
            format!(
                "{}: startIndex {}, expected 3",
                ex.path,
                ex.body()["startIndex"]
            )
        });
        let page = ids(&ex);
        j.that(page.as_slice() == &order[2..4], || {
            format!(
                "{}: expected the 3rd and 4th results {:?} of the full query, got {page:?}",
                ex.path,
                &order[2..4]
            )
        });
    }
    cx.record(&START_INDEX, j);

    let mut j = Judge::new();
    let mut seen = Vec::new();
    let mut start = 1;
    while start <= 7 {
        let ex = cx.get(&format!("{base}&startIndex={start}&count=2")).await;
        if !list_shape(&mut j, &ex) {
            break;
        }
        let page = ids(&ex);
        if page.is_empty() {
            break;
        }
        seen.extend(page);
        start += 2;
    }
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    let mut want = order.clone();
    want.sort();
    j.that(sorted_seen == want, || {
        format!("pages of 2: got ids {seen:?}, expected each of {want:?} exactly once")
    });
    cx.record(&WALK, j);

    for (def, query) in [(COUNT_ZERO, "count=0"), (COUNT_NEGATIVE, "count=-1")] {
        let ex = cx.get(&format!("{base}&{query}")).await;
        let mut j = Judge::new();
        if list_shape(&mut j, &ex) {
            j.that(resources(&ex).is_empty(), || {
                format!(
                    "{}: {} Resources, expected none",
                    ex.path,
                    resources(&ex).len()
                )
            });
            j.that(ex.body()["totalResults"] == json!(5), || {
                format!(
                    "{}: totalResults {}, expected 5",
                    ex.path,
                    ex.body()["totalResults"]
                )
            });
        }
        cx.record(&def, j);
    }

    let mut j = Judge::new();
    for s in ["0", "-5"] {
        let ex = cx.get(&format!("{base}&startIndex={s}&count=100")).await;
        if list_shape(&mut j, &ex) {
            j.that(ex.body()["startIndex"] == json!(1), || {
                format!(
                    "{}: startIndex {}, expected 1",
                    ex.path,
                    ex.body()["startIndex"]
                )
            });
            j.that(ids(&ex) == order, || {
                format!("{}: expected the same results as startIndex=1", ex.path)
            });
        }
    }
    cx.record(&START_BELOW_ONE, j);

    let ex = cx.get(&format!("{base}&startIndex=50&count=10")).await;
    let mut j = Judge::new();
    if list_shape(&mut j, &ex) {
        j.that(resources(&ex).is_empty(), || {
            format!("{}: expected no Resources", ex.path)
        });
        j.that(ex.body()["totalResults"] == json!(5), || {
            format!(
                "{}: totalResults {}, expected 5",
                ex.path,
                ex.body()["totalResults"]
            )
        });
    }
    cx.record(&START_BEYOND, j);
}

async fn max_results(cx: &mut Cx, users: &str) {
    if !cx.wants(&MAX_RESULTS) {
        return;
    }
    let Some(max) = cx.disc.features.max_results else {
        cx.skip(&MAX_RESULTS, "filter.maxResults is not advertised");
        return;
    };
    let ex = cx.get(&format!("{users}?count={}", max + 1)).await;
    let mut j = Judge::new();
    if ex.status == 400 {
        j.error_body(&ex, &["tooMany"]);
    } else if list_shape(&mut j, &ex) {
        let n = resources(&ex).len() as u64;
        j.that(n <= max, || {
            format!(
                "{}: {n} Resources, more than filter.maxResults {max}",
                ex.path
            )
        });
        let total = ex.body()["totalResults"].as_u64().unwrap_or(0);
        if total <= max {
            j.note(format!(
                "only {total} Users exist: the limit of {max} is not reached"
            ));
        }
    }
    cx.record(&MAX_RESULTS, j);
}

fn sorted_ci(desc: bool) -> Vec<String> {
    let mut v: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    v.sort_by_key(|s| s.to_lowercase());
    if desc {
        v.reverse();
    }
    v
}

async fn sorting(cx: &mut Cx, base: &str) {
    for (def, query, desc) in [
        (SORT_ASC, "sortBy=displayName&sortOrder=ascending", false),
        (SORT_DESC, "sortBy=displayName&sortOrder=descending", true),
        (SORT_DEFAULT, "sortBy=displayName", false),
    ] {
        let ex = cx.get(&format!("{base}&{query}&count=100")).await;
        let mut j = Judge::new();
        if list_shape(&mut j, &ex) {
            let got_order = displays(&ex);
            let want = sorted_ci(desc);
            let mut want_cs = want.clone();
            want_cs.sort();
            if desc {
                want_cs.reverse();
            }
            j.that(got_order == want || got_order == want_cs, || {
                format!(
                    "{}: displayNames in the order {got_order:?}, expected {want:?}",
                    ex.path
                )
            });
        }
        cx.record(&def, j);
    }
    let ex = cx
        .get(&format!("{base}&sortBy=displayName&count=100"))
        .await;
    let mut j = Judge::new();
    if list_shape(&mut j, &ex) {
        let got_order = displays(&ex);
        j.that(got_order == sorted_ci(false), || {
            format!(
                "{}: displayNames in the order {got_order:?}, expected {:?} (case-insensitive)",
                ex.path,
                sorted_ci(false)
            )
        });
    }
    cx.record(&SORT_CASE, j);

    let mut j = Judge::new();
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let ex = cx
            .get(&format!(
                "{base}&sortBy=displayName&sortOrder=descending&startIndex={start}&count=2"
            ))
            .await;
        if list_shape(&mut j, &ex) {
            seen.extend(displays(&ex));
        }
    }
    j.that(seen == sorted_ci(true), || {
        format!(
            "pages of 2 sorted descending: {seen:?}, expected {:?}",
            sorted_ci(true)
        )
    });
    cx.record(&SORT_PAGED, j);
}

async fn sort_unadvertised(cx: &mut Cx, base: &str) {
    let ex = cx
        .get(&format!(
            "{base}&sortBy=displayName&sortOrder=descending&count=100"
        ))
        .await;
    let mut j = Judge::new();
    j.see(&ex);
    if ex.status == 200 {
        let got_order = displays(&ex);
        j.that(got_order == sorted_ci(true), || {
            format!(
                "sort.supported is false and {}: sortBy was ignored (order {got_order:?})",
                ex.path
            )
        });
        j.note("unadvertised, but honoured");
    } else {
        j.that(ex.status >= 400, || {
            format!(
                "{}: expected an error or a sorted list, got {}",
                ex.path,
                got(&ex)
            )
        });
        j.error_body(&ex, &[]);
    }
    cx.record(&SORT_UNADVERTISED, j);
}
