//! Property tests: printing round-trips random trees; the evaluator agrees with a naive
//! reference evaluator on random resources and filters; the parsers never panic. (Over 600
//! lines because the reference evaluator lives here, written independently of `eval.rs`; test
//! code only.)

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::*;
use crate::urn;

// --- round trip ------------------------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        1 => select(vec!["$ref", "$REF", "not", "NOT", "and", "or", "pr", "eq", "true", "null"]).prop_map(String::from),
    ]
}

fn schema_urn() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(urn::USER.to_string()),
        Just(urn::ENTERPRISE_USER.to_string()),
        "urn(:[a-zA-Z0-9._%/$-]{1,6}){1,3}",
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (option::of(schema_urn()), name(), option::of(name())).prop_map(|(urn, name, sub)| AttrPath {
        urn,
        name,
        sub,
    })
}

fn attr_path_without_sub() -> impl Strategy<Value = AttrPath> {
    (option::of(schema_urn()), name()).prop_map(|(urn, name)| AttrPath {
        urn,
        name,
        sub: None,
    })
}

fn operator() -> impl Strategy<Value = CompareOp> {
    select(CompareOp::ALL.to_vec())
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        "[ -~]{0,8}".prop_map(Literal::String),
        any::<i64>().prop_map(|n| Literal::Number(n.into())),
        any::<u64>().prop_map(|n| Literal::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn comparison() -> BoxedStrategy<Filter> {
    prop_oneof![
        attr_path().prop_map(Filter::Present),
        (attr_path(), operator(), literal()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
    ]
    .boxed()
}

/// Trees of `and`, `or` and `not` over `leaf` (chains of two to four terms).
fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 2..5).prop_map(Filter::And),
            vec(inner.clone(), 2..5).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// Any filter the parser can produce: value filters hold no value filter, and a value filter's
/// attribute has no sub-attribute.
fn filter_tree() -> BoxedStrategy<Filter> {
    let value_path = (attr_path_without_sub(), logic(comparison())).prop_map(|(path, filter)| {
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    });
    logic(prop_oneof![3 => comparison(), 1 => value_path].boxed())
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        attr_path().prop_map(|attr| PatchPath {
            attr,
            filter: None,
            sub: None
        }),
        (
            attr_path_without_sub(),
            logic(comparison()),
            option::of(name())
        )
            .prop_map(|(attr, filter, sub)| PatchPath {
                attr,
                filter: Some(filter),
                sub
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_filters_parse_back_to_the_same_tree(f in filter_tree()) {
        let printed = f.to_string();
        prop_assume!(printed.len() <= MAX_LEN);
        let parsed = parse_filter(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        prop_assert_eq!(parsed, f, "printed as {:?}", printed);
    }

    #[test]
    fn printed_patch_paths_parse_back(p in patch_path()) {
        let printed = p.to_string();
        prop_assume!(printed.len() <= MAX_LEN);
        let parsed = parse_path(&printed).map_err(|e| TestCaseError::fail(format!("{printed:?}: {e}")))?;
        prop_assert_eq!(parsed, p, "printed as {:?}", printed);
    }

    #[test]
    fn printed_attribute_paths_parse_back(p in attr_path()) {
        prop_assert_eq!(parse_attr_path(&p.to_string())?, p);
    }
}

// --- differential evaluation -----------------------------------------------------------------

/// How the reference evaluator reads an attribute of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Text { case_exact: bool },
    Bool,
    Date,
}

/// The vocabulary, spelled as in the schemas. `emails` alone compares the emails' `value`.
const VOCABULARY: [(&str, Ty); 9] = [
    ("userName", Ty::Text { case_exact: false }),
    ("displayName", Ty::Text { case_exact: false }),
    ("externalId", Ty::Text { case_exact: true }),
    ("active", Ty::Bool),
    ("emails", Ty::Text { case_exact: false }),
    ("emails.value", Ty::Text { case_exact: false }),
    ("emails.type", Ty::Text { case_exact: false }),
    ("name.givenName", Ty::Text { case_exact: false }),
    ("meta.lastModified", Ty::Date),
];

/// Inside `emails[…]`.
const EMAIL_VOCABULARY: [(&str, Ty); 2] = [
    ("value", Ty::Text { case_exact: false }),
    ("type", Ty::Text { case_exact: false }),
];

const TEXTS: [&str; 16] = [
    "", "a", "A", "ab", "Ab", "b", "alice", "ALICE", "bob", "work", "Work", "home", "a@x.org",
    "A@X.ORG", "e1", "E1",
];

const FRAGMENTS: [&str; 8] = ["@x", "ice", "x.org", "o", "Wo", "E", "li", "ORG"];

const DATES: [&str; 7] = [
    "2011-05-13T04:42:34Z",
    "2011-05-13T06:42:34+02:00",
    "2011-05-13T04:42:35Z",
    "2011-05-12T23:42:34-05:00",
    "2011-05-13T04:42:34.5Z",
    "2020-01-01T00:00:00Z",
    "1999-12-31T23:59:59-08:00",
];

/// A spelling of `name` with the case of each letter chosen by the bits of `mask`.
fn respell(name: &str, mask: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A path of `vocabulary` in random case, with its entry.
fn vocabulary_path(
    vocabulary: &'static [(&'static str, Ty)],
) -> impl Strategy<Value = (AttrPath, Ty)> {
    (select(vocabulary.to_vec()), any::<u64>(), any::<bool>()).prop_map(
        |((name, ty), mask, keep)| {
            let spelled = if keep {
                name.to_string()
            } else {
                respell(name, mask)
            };
            let path = parse_attr_path(&spelled).unwrap_or_else(|e| panic!("{spelled}: {e}"));
            (path, ty)
        },
    )
}

/// Well-typed comparisons (what `validate` accepts) and presence tests over a vocabulary.
fn vocabulary_leaf(vocabulary: &'static [(&'static str, Ty)]) -> BoxedStrategy<Filter> {
    let text_ops = select(CompareOp::ALL.to_vec());
    let ordering_ops = select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ]);
    let texts = prop_oneof![select(TEXTS.to_vec()), select(FRAGMENTS.to_vec())];
    (
        vocabulary_path(vocabulary),
        text_ops,
        ordering_ops,
        texts,
        select(DATES.to_vec()),
        any::<bool>(),
        0..4u8,
    )
        .prop_map(
            |((path, ty), text_op, ordering_op, text, date, flag, shape)| {
                let complex = path.sub.is_none() && path.name.eq_ignore_ascii_case("emails");
                match (shape, ty) {
                    (0, _) => Filter::Present(path),
                    (1, _) => {
                        let op = if flag { CompareOp::Eq } else { CompareOp::Ne };
                        Filter::Compare {
                            path,
                            op,
                            value: Literal::Null,
                        }
                    }
                    (_, Ty::Text { .. }) => {
                        // `emails` alone takes no ordering operator.
                        let op = if complex
                            && matches!(
                                text_op,
                                CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
                            ) {
                            CompareOp::Eq
                        } else {
                            text_op
                        };
                        Filter::Compare {
                            path,
                            op,
                            value: Literal::String(text.to_string()),
                        }
                    }
                    (_, Ty::Bool) => {
                        let op = if ordering_op == CompareOp::Ne {
                            CompareOp::Ne
                        } else {
                            CompareOp::Eq
                        };
                        Filter::Compare {
                            path,
                            op,
                            value: Literal::Bool(flag),
                        }
                    }
                    (_, Ty::Date) => Filter::Compare {
                        path,
                        op: ordering_op,
                        value: Literal::String(date.to_string()),
                    },
                }
            },
        )
        .boxed()
}

fn vocabulary_filter() -> BoxedStrategy<Filter> {
    let emails =
        (any::<u64>(), logic(vocabulary_leaf(&EMAIL_VOCABULARY))).prop_map(|(mask, filter)| {
            Filter::ValuePath {
                path: AttrPath::simple(&respell("emails", mask)),
                filter: Box::new(filter),
            }
        });
    logic(prop_oneof![4 => vocabulary_leaf(&VOCABULARY), 1 => emails].boxed())
}

fn resource() -> impl Strategy<Value = Value> {
    let text = || option::of(select(TEXTS.to_vec()));
    let email = (text(), text()).prop_map(|(value, kind)| {
        let mut e = Map::new();
        if let Some(v) = value {
            e.insert("value".into(), json!(v));
        }
        if let Some(t) = kind {
            e.insert("type".into(), json!(t));
        }
        Value::Object(e)
    });
    (
        text(),
        text(),
        option::of(any::<bool>()),
        text(),
        option::of(vec(email, 0..4)),
        text(),
        option::of(select(DATES.to_vec())),
    )
        .prop_map(
            |(user_name, display_name, active, external_id, emails, given_name, modified)| {
                let mut r = Map::new();
                r.insert("schemas".into(), json!([urn::USER]));
                r.insert("id".into(), json!("1"));
                let mut put = |key: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        r.insert(key.into(), v);
                    }
                };
                put("userName", user_name.map(|s| json!(s)));
                put("displayName", display_name.map(|s| json!(s)));
                put("active", active.map(|b| json!(b)));
                put("externalId", external_id.map(|s| json!(s)));
                put("emails", emails.map(Value::Array));
                put(
                    "name",
                    given_name.map(|s| json!({"givenName": s, "familyName": "F"})),
                );
                put(
                    "meta",
                    modified.map(|d| json!({"resourceType": "User", "lastModified": d})),
                );
                Value::Object(r)
            },
        )
}

/// The naive reading of the rules: look the path up in the vocabulary, collect the values by
/// hand, and test each.
fn reference(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Not(f) => !reference(f, resource),
        Filter::And(fs) => fs.iter().all(|f| reference(f, resource)),
        Filter::Or(fs) => fs.iter().any(|f| reference(f, resource)),
        Filter::ValuePath { filter, .. } => emails(resource)
            .iter()
            .any(|e| reference_in_email(filter, e)),
        Filter::Present(path) => values_of(resource, path).0.iter().any(non_empty),
        Filter::Compare { path, op, value } => {
            let (values, ty) = values_of(resource, path);
            holds(&values, ty, *op, value)
        }
    }
}

fn reference_in_email(filter: &Filter, email: &Value) -> bool {
    match filter {
        Filter::Not(f) => !reference_in_email(f, email),
        Filter::And(fs) => fs.iter().all(|f| reference_in_email(f, email)),
        Filter::Or(fs) => fs.iter().any(|f| reference_in_email(f, email)),
        Filter::ValuePath { .. } => unreachable!("not generated"),
        Filter::Present(path) => email
            .get(path.name.to_lowercase().as_str())
            .is_some_and(non_empty),
        Filter::Compare { path, op, value } => {
            let values: Vec<Value> = email
                .get(path.name.to_lowercase().as_str())
                .cloned()
                .into_iter()
                .collect();
            holds(&values, Ty::Text { case_exact: false }, *op, value)
        }
    }
}

fn emails(resource: &Value) -> Vec<Value> {
    resource
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(non_empty),
        Value::Object(o) => o.values().any(non_empty),
        _ => true,
    }
}

/// The values a vocabulary path names in a generated resource.
fn values_of(resource: &Value, path: &AttrPath) -> (Vec<Value>, Ty) {
    let spelled = path.to_string().to_lowercase();
    let (name, ty) = VOCABULARY
        .iter()
        .find(|(name, _)| name.to_lowercase() == spelled)
        .copied()
        .unwrap_or_else(|| panic!("{spelled} is not in the vocabulary"));
    let one = |v: Option<&Value>| v.cloned().into_iter().collect::<Vec<_>>();
    let values = match name {
        "emails" => emails(resource),
        "emails.value" => emails(resource)
            .iter()
            .filter_map(|e| e.get("value").cloned())
            .collect(),
        "emails.type" => emails(resource)
            .iter()
            .filter_map(|e| e.get("type").cloned())
            .collect(),
        "name.givenName" => one(resource.get("name").and_then(|n| n.get("givenName"))),
        "meta.lastModified" => one(resource.get("meta").and_then(|m| m.get("lastModified"))),
        top => one(resource.get(top)),
    };
    (values, ty)
}

/// `op literal` over the values: null tests presence, anything else holds if one value passes.
fn holds(values: &[Value], ty: Ty, op: CompareOp, literal: &Literal) -> bool {
    if *literal == Literal::Null {
        let present = values.iter().any(non_empty);
        return if op == CompareOp::Eq {
            !present
        } else {
            present
        };
    }
    values.iter().any(|v| {
        // An email object (`emails co "x"`) is compared by its value.
        let v = v.get("value").unwrap_or(v);
        match (ty, v, literal) {
            (Ty::Text { case_exact }, Value::String(a), Literal::String(b)) => {
                let (a, b) = if case_exact {
                    (a.clone(), b.clone())
                } else {
                    (a.to_lowercase(), b.to_lowercase())
                };
                match op {
                    CompareOp::Eq => a == b,
                    CompareOp::Ne => a != b,
                    CompareOp::Co => a.contains(&b),
                    CompareOp::Sw => a.starts_with(&b),
                    CompareOp::Ew => a.ends_with(&b),
                    CompareOp::Gt => a > b,
                    CompareOp::Ge => a >= b,
                    CompareOp::Lt => a < b,
                    CompareOp::Le => a <= b,
                }
            }
            (Ty::Bool, Value::Bool(a), Literal::Bool(b)) => match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                _ => false,
            },
            (Ty::Date, Value::String(a), Literal::String(b)) => {
                let instant = |s: &str| {
                    OffsetDateTime::parse(s, &Rfc3339)
                        .expect("generated date")
                        .unix_timestamp_nanos()
                };
                let (a, b) = (instant(a), instant(b));
                match op {
                    CompareOp::Eq => a == b,
                    CompareOp::Ne => a != b,
                    CompareOp::Gt => a > b,
                    CompareOp::Ge => a >= b,
                    CompareOp::Lt => a < b,
                    CompareOp::Le => a <= b,
                    _ => false,
                }
            }
            _ => false,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn evaluation_agrees_with_the_reference(f in vocabulary_filter(), r in resource()) {
        let registry = Registry::builtin();
        validate(&f, &registry, Kind::User).map_err(|e| TestCaseError::fail(format!("{f}: {e}")))?;
        prop_assert_eq!(matches(&f, &r, &registry, Kind::User), reference(&f, &r), "filter {} on {}", f, r);
        // The printed filter evaluates the same.
        let reparsed = parse_filter(&f.to_string())?;
        prop_assert_eq!(matches(&reparsed, &r, &registry, Kind::User), reference(&f, &r));
    }
}

// --- robustness ------------------------------------------------------------------------------

const TOKENS: [&str; 40] = [
    "(",
    ")",
    "[",
    "]",
    "\"",
    "\"x\"",
    "\"a b\"",
    "\\",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\"\\ud83d\\ude00\"",
    "not",
    "NOT",
    "and",
    "Or",
    "pr",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "true",
    "null",
    "1",
    "-",
    "1.5e3",
    "emails",
    "userName",
    "name.givenName",
    ".",
    ":",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "$ref",
    "\t",
    "é",
    "value",
];

/// Strings built from grammar tokens, with or without blanks between them.
fn token_soup() -> impl Strategy<Value = String> {
    vec((select(TOKENS.to_vec()), any::<bool>()), 0..40).prop_map(|tokens| {
        tokens
            .into_iter()
            .map(|(t, space)| {
                if space {
                    format!("{t} ")
                } else {
                    t.to_string()
                }
            })
            .collect()
    })
}

/// Parses `input` every way; whatever parses must print and parse back to itself, validate
/// and evaluate without panicking.
fn exercise(input: &str) -> Result<(), TestCaseError> {
    let registry = Registry::builtin();
    if let Ok(f) = parse_filter(input) {
        let printed = f.to_string();
        prop_assert_eq!(
            parse_filter(&printed).ok(),
            Some(f.clone()),
            "{:?} printed as {:?}",
            input,
            printed
        );
        let _ = validate(&f, &registry, Kind::User);
        let _ = matches(
            &f,
            &json!({"userName": "a", "emails": [{"value": "x"}]}),
            &registry,
            Kind::User,
        );
    }
    if let Ok(p) = parse_path(input) {
        prop_assert_eq!(parse_path(&p.to_string()).ok(), Some(p));
    }
    if let Ok(p) = parse_attr_path(input) {
        prop_assert_eq!(parse_attr_path(&p.to_string()).ok(), Some(p));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        exercise(&s)?;
    }

    #[test]
    fn token_soups_never_panic(s in token_soup()) {
        exercise(&s)?;
    }
}
