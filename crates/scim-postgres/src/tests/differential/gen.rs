//! Random directories and list queries for the differential test: small, but with the values
//! that tell engines apart (case, non-ASCII folding, `Σ`, `İ`, the Kelvin sign, `%` `_` `\`,
//! empty strings, missing attributes, equal and nanosecond-apart times, versions that sort as
//! text, primary emails, memberships both ways).

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use scim_proto::filter::{AttrPath, CompareOp, Filter, Literal};
use scim_proto::list::SortOrder;
use scim_proto::schema::Kind;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Names: case variants, non-ASCII folding, LIKE's special characters.
const NAMES: &[&str] = &[
    "alice",
    "Alice",
    "ALICE",
    "bob",
    "Bob.Smith",
    "élodie",
    "ÉLODIE",
    "a_b",
    "a%b",
    "a\\b",
    "ab",
    "aXb",
    "ΟΔΥΣΣΕΥΣ",
    "οδυσσευς",
    "İstanbul",
    "istanbul",
    "straße",
    "STRASSE",
    "\u{212A}elvin",
    "kelvin",
    "z",
    "Zed",
    "日本",
];

/// Other texts (titles, nick names, departments, displays), with `""`.
const TEXTS: &[&str] = &[
    "",
    "Engineer",
    "engineer",
    "ENGINEER",
    "Ops",
    "ops lead",
    "Σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "σίσυφος",
    "naïve",
    "NAÏVE",
    "50%",
    "a_c",
    "back\\slash",
    "İ",
    "i\u{307}",
    "ß",
    "ẞ",
    "\u{212A}",
    "k",
    "z",
];

const EMAILS: &[&str] = &[
    "a@x.com",
    "A@X.COM",
    "b@y.org",
    "c@x.com",
    "x%y@z",
    "under_score@x",
    "Δ@x",
    "",
];

const TYPES: &[&str] = &["work", "home", "Work", "other"];

/// Literal fragments: substrings and prefixes that hit the values above.
const FRAGMENTS: &[&str] = &[
    "a",
    "A",
    "li",
    "LI",
    "@x",
    "@X.COM",
    "x.com",
    "_",
    "%",
    "\\",
    "a_",
    "%b",
    "é",
    "É",
    "σ",
    "ς",
    "Σ",
    "ΣΣ",
    "ss",
    "SS",
    "ß",
    "k",
    "K",
    "\u{212A}",
    "i",
    "İ",
    "i\u{307}",
    "eng",
    "ENG",
    "ops",
    "u0",
    "Xu",
    "W/\"1",
    "W/\"",
    "https://scim.test",
    "/Users/",
    "/Groups/g0",
    "User",
    "user",
    "Group",
    "direct",
    "Direct",
    "",
    "zz",
    "\u{0}",
];

/// Instants (nanoseconds since the epoch): equal ones, one nanosecond apart, one second.
const INSTANTS: &[i64] = &[
    1_577_836_800_000_000_000,
    1_577_836_800_000_000_001,
    1_577_836_801_000_000_000,
    1_577_840_400_500_000_000,
    1_600_000_000_123_456_789,
    1_700_000_000_000_000_000,
];

pub fn user_id(i: usize) -> String {
    format!("{}u{i:02}", ["", "X", "a", "Z"][i % 4])
}

pub fn group_id(i: usize) -> String {
    format!("{}g{i:02}", ["", "Y", "b"][i % 3])
}

/// A user or group as generated: its id, request body, times and version.
#[derive(Debug, Clone)]
pub struct Resource {
    pub id: String,
    pub body: Value,
    pub created: i64,
    pub modified: i64,
    pub version: u64,
}

/// A group with its members: users and groups by index, each with a `display` or not.
#[derive(Debug, Clone)]
pub struct Group {
    pub resource: Resource,
    pub users: Vec<(usize, Option<String>)>,
    pub groups: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Directory {
    pub users: Vec<Resource>,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone)]
pub struct ListSpec {
    pub kind: Kind,
    pub filter: Option<Filter>,
    pub sort: Option<(AttrPath, SortOrder)>,
    pub skip: usize,
    pub take: usize,
}

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(pool).prop_map(str::to_string)
}

fn times() -> impl Strategy<Value = (i64, i64, u64)> {
    (
        proptest::sample::select(INSTANTS),
        proptest::sample::select(INSTANTS),
        1u64..14,
    )
}

fn email() -> impl Strategy<Value = Value> {
    (pick(EMAILS), option::of(pick(TYPES)), any::<bool>()).prop_map(|(v, t, p)| {
        let mut o = Map::new();
        o.insert("value".into(), Value::String(v));
        if let Some(t) = t {
            o.insert("type".into(), Value::String(t));
        }
        if p {
            o.insert("primary".into(), Value::Bool(true));
        }
        Value::Object(o)
    })
}

fn user(i: usize) -> impl Strategy<Value = Resource> {
    let core = (
        pick(NAMES),
        option::of(pick(TEXTS)),
        option::of(pick(TEXTS)),
        option::of(pick(TEXTS)),
        option::of(any::<bool>()),
        option::of(pick(NAMES)),
        option::of((option::of(pick(NAMES)), option::of(pick(TEXTS)))),
    );
    let more = (
        vec(email(), 0..3),
        option::of(pick(TEXTS)),
        option::of(pick(TEXTS)),
        option::of(prop_oneof![Just("u01".to_string()), pick(NAMES)]),
        times(),
    );
    (core, more).prop_map(move |(core, more)| {
        let (user_name, title, nick, display, active, external, name) = core;
        let (mut emails, employee, department, manager, (created, modified, version)) = more;
        // At most one primary.
        let mut seen = false;
        for e in &mut emails {
            if let Some(o) = e.as_object_mut() {
                if o.contains_key("primary") {
                    if seen {
                        o.shift_remove("primary");
                    }
                    seen = true;
                }
            }
        }
        let mut b = Map::new();
        b.insert(
            "schemas".into(),
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]),
        );
        b.insert("userName".into(), Value::String(user_name));
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                b.insert(k.into(), v);
            }
        };
        put("title", title.map(Value::String));
        put("nickName", nick.map(Value::String));
        put("displayName", display.map(Value::String));
        put("active", active.map(Value::Bool));
        put("externalId", external.map(Value::String));
        put(
            "name",
            name.map(|(g, f)| json!({"givenName": g, "familyName": f})),
        );
        put(
            "emails",
            (!emails.is_empty()).then_some(Value::Array(emails)),
        );
        let mut ext = Map::new();
        if let Some(e) = employee {
            ext.insert("employeeNumber".into(), Value::String(e));
        }
        if let Some(d) = department {
            ext.insert("department".into(), Value::String(d));
        }
        if let Some(m) = manager {
            ext.insert("manager".into(), json!({ "value": m }));
        }
        b.insert(ENTERPRISE.into(), Value::Object(ext));
        Resource {
            id: user_id(i),
            body: Value::Object(b),
            created,
            modified,
            version,
        }
    })
}

fn group(j: usize, users: usize, groups: usize) -> impl Strategy<Value = Group> {
    (
        pick(NAMES),
        option::of(pick(NAMES)),
        times(),
        vec((0..users.max(1), option::of(pick(TEXTS))), 0..4),
        vec(0..groups.max(1), 0..2),
    )
        .prop_map(
            move |(display, external, (created, modified, version), u, g)| {
                let mut b = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": display});
                if let Some(e) = external {
                    b["externalId"] = Value::String(e);
                }
                let mut members: Vec<(usize, Option<String>)> = Vec::new();
                for (i, d) in u {
                    if users > 0 && !members.iter().any(|(m, _)| *m == i) {
                        members.push((i, d));
                    }
                }
                let mut nested: Vec<usize> =
                    g.into_iter().filter(|k| *k != j && *k < groups).collect();
                nested.dedup();
                Group {
                    resource: Resource {
                        id: group_id(j),
                        body: b,
                        created,
                        modified,
                        version,
                    },
                    users: members,
                    groups: nested,
                }
            },
        )
}

pub fn directory() -> impl Strategy<Value = Directory> {
    (0usize..10, 0usize..5)
        .prop_flat_map(|(n, m)| {
            (
                (0..n).map(user).collect::<Vec<_>>(),
                (0..m).map(|j| group(j, n, m)).collect::<Vec<_>>(),
            )
        })
        .prop_map(|(mut users, mut groups)| {
            // Names are unique once folded, as the core keeps them.
            let mut seen = std::collections::HashSet::new();
            for (i, u) in users.iter_mut().enumerate() {
                let name = u.body["userName"].as_str().unwrap_or_default().to_string();
                if !seen.insert(name.to_lowercase()) {
                    let renamed = format!("{name}{i}");
                    seen.insert(renamed.to_lowercase());
                    u.body["userName"] = Value::String(renamed);
                }
            }
            let mut seen = std::collections::HashSet::new();
            for (j, g) in groups.iter_mut().enumerate() {
                let name = g.resource.body["displayName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if !seen.insert(name.to_lowercase()) {
                    let renamed = format!("{name}{j}");
                    seen.insert(renamed.to_lowercase());
                    g.resource.body["displayName"] = Value::String(renamed);
                }
            }
            Directory { users, groups }
        })
}

/// `[urn:]name[.sub]`, split by hand (`$ref` is no name the path grammar takes).
fn path(text: &str) -> AttrPath {
    let (urn, rest) = match text.rfind(':') {
        Some(at) => (Some(text[..at].to_string()), &text[at + 1..]),
        None => (None, text),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n.to_string(), Some(s.to_string())),
        None => (rest.to_string(), None),
    };
    AttrPath { urn, name, sub }
}

const USER_PATHS: &[&str] = &[
    "userName",
    "USERNAME",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "displayName",
    "nickName",
    "title",
    "externalId",
    "id",
    "active",
    "name.givenName",
    "name.familyName",
    "name",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "Emails.VALUE",
    "phoneNumbers.value",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "meta.location",
    "meta.resourceType",
    "meta",
    "employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "manager.value",
    "manager",
    "groups",
    "groups.value",
    "groups.display",
    "groups.type",
    "groups.$ref",
    "nope",
    "schemas",
];

const GROUP_PATHS: &[&str] = &[
    "displayName",
    "DISPLAYNAME",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "externalId",
    "id",
    "members",
    "members.value",
    "members.display",
    "members.type",
    "members.$ref",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "meta.location",
    "meta.resourceType",
    "meta",
    "nope",
    "userName",
];

/// Complex attributes with value filters, and the names used inside them.
const USER_VALUE_PATHS: &[(&str, &[&str])] = &[
    ("emails", &["value", "type", "primary", "display", "nope"]),
    ("groups", &["value", "display", "type", "$ref"]),
    ("name", &["givenName", "familyName"]),
    ("manager", &["value", "displayName"]),
    ("meta", &["created", "version"]),
    ("title", &["value"]),
];

const GROUP_VALUE_PATHS: &[(&str, &[&str])] = &[
    ("members", &["value", "display", "type", "$ref"]),
    ("meta", &["lastModified"]),
];

fn instant_literal() -> impl Strategy<Value = Literal> {
    (proptest::sample::select(INSTANTS), -1i64..=1, -3i8..=3).prop_map(|(n, d, h)| {
        let text = OffsetDateTime::from_unix_timestamp_nanos(i128::from(n + d))
            .ok()
            .and_then(|t| {
                let offset = UtcOffset::from_hms(h, if h == 0 { 0 } else { 30 }, 0).ok()?;
                t.to_offset(offset).format(&Rfc3339).ok()
            })
            .unwrap_or_default();
        Literal::String(text)
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        4 => pick(NAMES).prop_map(Literal::String),
        3 => pick(TEXTS).prop_map(Literal::String),
        2 => pick(EMAILS).prop_map(Literal::String),
        3 => pick(FRAGMENTS).prop_map(Literal::String),
        1 => pick(TYPES).prop_map(Literal::String),
        2 => (0usize..10).prop_map(|i| Literal::String(user_id(i))),
        1 => (0usize..5).prop_map(|i| Literal::String(group_id(i))),
        1 => (0usize..5).prop_map(|i| Literal::String(format!("https://scim.test/scim/v2/Groups/{}", group_id(i)))),
        1 => (1u64..14).prop_map(|v| Literal::String(format!("W/\"{v}\""))),
        3 => instant_literal(),
        1 => Just(Literal::String("2020-13-01T00:00:00Z".into())),
        1 => Just(Literal::String("9999-12-31T23:59:59Z".into())),
        1 => Just(Literal::String("1000-01-01T00:00:00Z".into())),
        2 => any::<bool>().prop_map(Literal::Bool),
        2 => Just(Literal::Null),
        1 => Just(Literal::Number(1.into())),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn leaf(paths: &'static [&'static str]) -> impl Strategy<Value = Filter> {
    prop_oneof![
        1 => pick(paths).prop_map(|p| Filter::Present(path(&p))),
        4 => (pick(paths), op(), literal()).prop_map(|(p, op, value)| Filter::Compare {
            path: path(&p),
            op,
            value
        }),
    ]
}

fn combine(inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    prop_oneof![
        vec(inner.clone(), 2..4).prop_map(Filter::And),
        vec(inner.clone(), 2..4).prop_map(Filter::Or),
        inner.prop_map(|f| Filter::Not(Box::new(f))),
    ]
    .boxed()
}

fn value_path(kind: Kind) -> BoxedStrategy<Filter> {
    let table = match kind {
        Kind::User => USER_VALUE_PATHS,
        Kind::Group => GROUP_VALUE_PATHS,
    };
    proptest::sample::select(table)
        .prop_flat_map(|(attr, subs)| {
            let inner = leaf(subs).boxed().prop_recursive(2, 6, 3, combine);
            (Just(attr), inner)
        })
        .prop_map(|(attr, inner)| Filter::ValuePath {
            path: AttrPath::simple(attr),
            filter: Box::new(inner),
        })
        .boxed()
}

pub fn filter(kind: Kind) -> BoxedStrategy<Filter> {
    let paths = match kind {
        Kind::User => USER_PATHS,
        Kind::Group => GROUP_PATHS,
    };
    let base = prop_oneof![3 => leaf(paths).boxed(), 1 => value_path(kind)].boxed();
    base.prop_recursive(3, 12, 3, combine).boxed()
}

const USER_SORTS: &[&str] = &[
    "userName",
    "displayName",
    "title",
    "nickName",
    "name.familyName",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails",
    "active",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "meta.location",
    "meta.resourceType",
    "id",
    "externalId",
    "employeeNumber",
    "manager.value",
    "nope",
];

const GROUP_SORTS: &[&str] = &[
    "displayName",
    "externalId",
    "id",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "members.value",
    "nope",
];

pub fn list(kind: Kind) -> impl Strategy<Value = ListSpec> {
    let sorts = match kind {
        Kind::User => USER_SORTS,
        Kind::Group => GROUP_SORTS,
    };
    (
        option::weighted(0.85, filter(kind)),
        option::weighted(
            0.6,
            (
                pick(sorts),
                prop_oneof![Just(SortOrder::Ascending), Just(SortOrder::Descending)],
            ),
        ),
        prop_oneof![3 => Just(0usize), 1 => 0usize..12],
        prop_oneof![3 => Just(100usize), 2 => 0usize..6],
    )
        .prop_map(move |(filter, sort, skip, take)| ListSpec {
            kind,
            filter,
            sort: sort.map(|(p, o)| (path(&p), o)),
            skip,
            take,
        })
}

pub fn lists() -> impl Strategy<Value = Vec<ListSpec>> {
    vec(
        prop_oneof![3 => list(Kind::User), 1 => list(Kind::Group)],
        1..12,
    )
}
