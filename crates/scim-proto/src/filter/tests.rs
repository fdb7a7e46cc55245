//! Unit tests: one group per grammar rule, the bounds, the printer, PATCH and attribute paths,
//! validation, and one test per evaluation rule. (Long because it is a table of cases, one per
//! rule of RFC 7644 §3.4.2.2; test code only.)

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::parse::Parser;
use super::*;
use crate::error::ScimType;
use crate::urn;

fn parse(s: &str) -> Filter {
    parse_filter(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// The detail of the `invalidFilter` error `s` must give.
fn parse_err(s: &str) -> String {
    match parse_filter(s) {
        Ok(f) => panic!("{s:?} should not parse, got {f:?}"),
        Err(e) => {
            assert_eq!(e.scim_type(), Some(ScimType::InvalidFilter), "{s:?}: {e}");
            e.detail()
        }
    }
}

fn path(s: &str) -> AttrPath {
    parse_attr_path(s).unwrap_or_else(|e| panic!("{s:?} should be a path: {e}"))
}

fn pr(p: &str) -> Filter {
    Filter::Present(path(p))
}

fn cmp(p: &str, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare {
        path: path(p),
        op,
        value,
    }
}

fn eq(p: &str, value: &str) -> Filter {
    cmp(p, CompareOp::Eq, text(value))
}

fn text(s: &str) -> Literal {
    Literal::String(s.to_string())
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn value_path(p: &str, f: Filter) -> Filter {
    Filter::ValuePath {
        path: path(p),
        filter: Box::new(f),
    }
}

/// Prints `f`, checks the text parses back to `f`, and returns it.
fn round_trip(f: &Filter) -> String {
    let printed = f.to_string();
    assert_eq!(&parse(&printed), f, "printed as {printed:?}");
    printed
}

// --- grammar ---------------------------------------------------------------------------------

#[test]
fn every_operator_in_any_case() {
    for op in CompareOp::ALL {
        for spelled in [op.as_str().to_string(), op.as_str().to_uppercase(), {
            let mut s = op.as_str().to_string();
            s[..1].make_ascii_uppercase();
            s
        }] {
            let f = parse(&format!("userName {spelled} \"x\""));
            assert_eq!(f, cmp("userName", op, text("x")));
        }
    }
    assert_eq!(parse("title pr"), pr("title"));
    assert_eq!(parse("title PR"), pr("title"));
    assert_eq!(parse("title Pr"), pr("title"));
}

#[test]
fn attribute_names_keep_their_spelling() {
    assert_eq!(parse("USERNAME eq \"x\""), eq("USERNAME", "x"));
    assert_eq!(
        parse("name.givenName pr"),
        Filter::Present(AttrPath {
            urn: None,
            name: "name".into(),
            sub: Some("givenName".into())
        })
    );
    assert_eq!(parse("x-y_z9 pr"), pr("x-y_z9"));
    assert_eq!(
        parse("groups.$ref pr"),
        Filter::Present(AttrPath {
            urn: None,
            name: "groups".into(),
            sub: Some("$ref".into())
        })
    );
}

#[test]
fn logical_keywords_in_any_case() {
    let ab = Filter::And(vec![pr("a"), pr("b")]);
    assert_eq!(parse("a pr and b pr"), ab);
    assert_eq!(parse("a pr AND b pr"), ab);
    assert_eq!(parse("a pr aNd b pr"), ab);
    assert_eq!(parse("a pr OR b pr"), Filter::Or(vec![pr("a"), pr("b")]));
    assert_eq!(parse("NOT (a pr)"), not(pr("a")));
    assert_eq!(parse("Not(a pr)"), not(pr("a")));
}

#[test]
fn chains_are_one_node() {
    assert_eq!(
        parse("a pr and b pr and c pr"),
        Filter::And(vec![pr("a"), pr("b"), pr("c")])
    );
    assert_eq!(
        parse("a pr or b pr or c pr"),
        Filter::Or(vec![pr("a"), pr("b"), pr("c")])
    );
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        parse("a pr or b pr and c pr"),
        Filter::Or(vec![pr("a"), Filter::And(vec![pr("b"), pr("c")])])
    );
    assert_eq!(
        parse("a pr and b pr or c pr"),
        Filter::Or(vec![Filter::And(vec![pr("a"), pr("b")]), pr("c")])
    );
    assert_eq!(
        parse("a pr and b pr or c pr and d pr or e pr"),
        Filter::Or(vec![
            Filter::And(vec![pr("a"), pr("b")]),
            Filter::And(vec![pr("c"), pr("d")]),
            pr("e")
        ])
    );
}

#[test]
fn parentheses_group_and_keep_their_shape() {
    assert_eq!(
        parse("(a pr or b pr) and c pr"),
        Filter::And(vec![Filter::Or(vec![pr("a"), pr("b")]), pr("c")])
    );
    assert_eq!(
        parse("a pr and (b pr or c pr)"),
        Filter::And(vec![pr("a"), Filter::Or(vec![pr("b"), pr("c")])])
    );
    assert_eq!(
        parse("a pr and (b pr and c pr)"),
        Filter::And(vec![pr("a"), Filter::And(vec![pr("b"), pr("c")])])
    );
    assert_eq!(parse("((a pr))"), pr("a"));
    assert_eq!(parse("( a pr )"), pr("a"));
    assert_eq!(
        parse("(a pr)and(b pr)"),
        Filter::And(vec![pr("a"), pr("b")])
    );
}

#[test]
fn not_binds_tightest() {
    assert_eq!(
        parse("not (a pr) and b pr"),
        Filter::And(vec![not(pr("a")), pr("b")])
    );
    assert_eq!(
        parse("not (a pr or b pr)"),
        not(Filter::Or(vec![pr("a"), pr("b")]))
    );
    assert_eq!(parse("not (not (a pr))"), not(not(pr("a"))));
    assert_eq!(
        parse("b pr or not ( a pr )"),
        Filter::Or(vec![pr("b"), not(pr("a"))])
    );
}

#[test]
fn keywords_can_be_attribute_names() {
    assert_eq!(parse("not pr"), pr("not"));
    assert_eq!(parse("not eq \"x\""), eq("not", "x"));
    assert_eq!(parse("not[and pr]"), value_path("not", pr("and")));
    assert_eq!(
        parse("and pr and or pr"),
        Filter::And(vec![pr("and"), pr("or")])
    );
    assert_eq!(parse("pr pr"), pr("pr"));
}

#[test]
fn urn_prefixed_paths() {
    let f = parse(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
    );
    let Filter::Compare { path, .. } = f else {
        panic!("not a comparison")
    };
    assert_eq!(path.urn.as_deref(), Some(urn::ENTERPRISE_USER));
    assert_eq!(path.name, "employeeNumber");
    assert_eq!(path.sub, None);

    let f = parse("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw \"B\"");
    let Filter::Compare { path, .. } = f else {
        panic!("not a comparison")
    };
    assert_eq!(
        path,
        AttrPath {
            urn: Some(urn::USER.into()),
            name: "name".into(),
            sub: Some("givenName".into())
        }
    );

    let f = parse("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]");
    let Filter::ValuePath { path, .. } = f else {
        panic!("not a value path")
    };
    assert_eq!(path.urn.as_deref(), Some(urn::USER));
    assert_eq!(path.name, "emails");
}

#[test]
fn value_filters() {
    assert_eq!(
        parse("emails[type eq \"work\" and value co \"@example.com\"]"),
        value_path(
            "emails",
            Filter::And(vec![
                eq("type", "work"),
                cmp("value", CompareOp::Co, text("@example.com"))
            ])
        )
    );
    assert_eq!(
        parse("members[value eq \"abc\"]"),
        value_path("members", eq("value", "abc"))
    );
    assert_eq!(
        parse("emails[ not (type pr) ]"),
        value_path("emails", not(pr("type")))
    );
    assert_eq!(
        parse("emails[type eq \"work\"] and userName pr"),
        Filter::And(vec![
            value_path("emails", eq("type", "work")),
            pr("userName")
        ])
    );
}

#[test]
fn value_filter_followed_by_a_sub_attribute_comparison() {
    // Entra: `emails[type eq "work"].value eq "…"`, read as one element satisfying both.
    assert_eq!(
        parse("emails[type eq \"work\"].value eq \"a@b.c\""),
        value_path(
            "emails",
            Filter::And(vec![eq("type", "work"), eq("value", "a@b.c")])
        )
    );
    assert_eq!(
        parse("emails[type eq \"work\" and primary eq true].value pr"),
        value_path(
            "emails",
            Filter::And(vec![
                eq("type", "work"),
                cmp("primary", CompareOp::Eq, Literal::Bool(true)),
                pr("value")
            ])
        )
    );
    assert_eq!(
        parse("emails[type eq \"work\" or type eq \"home\"].value pr"),
        value_path(
            "emails",
            Filter::And(vec![
                Filter::Or(vec![eq("type", "work"), eq("type", "home")]),
                pr("value")
            ])
        )
    );
    parse_err("emails[type eq \"work\"].value");
    parse_err("emails[type eq \"work\"].value.x eq \"a\"");
    parse_err("emails[type eq \"work\"]. value eq \"a\"");
}

#[test]
fn string_escapes() {
    let f = parse(r#"a eq "q\"b\\s\/f\bb\ff\nn\rr\tt""#);
    assert_eq!(f, eq("a", "q\"b\\s/f\u{8}b\u{c}f\nn\rr\tt"));
    assert_eq!(parse(r#"a eq "\u00e9\u00E9""#), eq("a", "éé"));
    assert_eq!(parse(r#"a eq "\ud83d\ude00""#), eq("a", "😀"));
    assert_eq!(parse("a eq \"é😀 and ) ]\""), eq("a", "é😀 and ) ]"));
    assert_eq!(parse(r#"a eq """#), eq("a", ""));
    for bad in [
        r#"a eq "\x""#,
        r#"a eq "\ud800""#,
        r#"a eq "\ude00x""#,
        r#"a eq "\u12""#,
        "a eq \"tab\there\"",
        r#"a eq "open"#,
        r#"a eq "\"#,
    ] {
        let detail = parse_err(bad);
        assert!(detail.contains("string"), "{bad:?}: {detail}");
        assert!(!detail.contains("line 1"), "{bad:?}: {detail}");
    }
}

#[test]
fn numbers() {
    let n = |s: &str| match parse(&format!("a eq {s}")) {
        Filter::Compare {
            value: Literal::Number(n),
            ..
        } => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(n("42"), 42.into());
    assert_eq!(n("-7"), (-7).into());
    assert_eq!(n("0"), 0.into());
    assert_eq!(n("18446744073709551615"), u64::MAX.into());
    assert_eq!(n("1.5").as_f64(), Some(1.5));
    assert_eq!(n("1e3").as_f64(), Some(1000.0));
    assert_eq!(n("-0.5E-2").as_f64(), Some(-0.005));
    for bad in ["01", "1.", "+1", "-", "1e", "1.2.3", "--1", "1e400"] {
        let detail = parse_err(&format!("a eq {bad}"));
        assert!(detail.contains("number"), "{bad:?}: {detail}");
    }
    // serde_json alone parses this one approximately (its float_roundtrip feature is off).
    let tiny = parse("a eq 4.816707222938921e-66");
    assert_eq!(round_trip(&tiny), "a eq 4.816707222938921e-66");
    assert_eq!(
        n("4.816707222938921e-66").as_f64(),
        Some(4.816707222938921e-66)
    );
    // A number ends where number characters end.
    parse_err("a eq 5abc");
}

#[test]
fn booleans_and_null_in_any_case() {
    for (s, lit) in [
        ("true", Literal::Bool(true)),
        ("TRUE", Literal::Bool(true)),
        ("False", Literal::Bool(false)),
        ("null", Literal::Null),
        ("NULL", Literal::Null),
    ] {
        assert_eq!(parse(&format!("a eq {s}")), cmp("a", CompareOp::Eq, lit));
    }
    parse_err("a eq truex");
    parse_err("a eq bob");
    parse_err("a eq 'single'");
}

#[test]
fn any_ascii_whitespace_separates() {
    assert_eq!(
        parse(" \t userName \n eq\r\n\"x\"  and\tb pr "),
        Filter::And(vec![eq("userName", "x"), pr("b")])
    );
    // Not-ASCII blanks are not separators.
    parse_err("userName\u{a0}eq \"x\"");
}

#[test]
fn errors_say_where_and_what() {
    let detail = parse_err("userName xx \"a\"");
    assert!(detail.contains("position 9"), "{detail}");
    assert!(detail.contains("expected an operator"), "{detail}");
    assert!(detail.contains("xx"), "{detail}");

    let detail = parse_err("userName eq");
    assert!(
        detail.contains("position 11") && detail.contains("end of the input"),
        "{detail}"
    );

    let detail = parse_err("émile eq \"x\"");
    assert!(
        detail.contains("position 0") && detail.contains("attribute"),
        "{detail}"
    );

    let detail = parse_err("a eq \"é\" zz");
    assert!(
        detail.contains("position 9") && detail.contains("'and', 'or' or the end"),
        "{detail}"
    );

    for (input, expected) in [
        ("", "empty"),
        ("   ", "empty"),
        ("userName", "operator"),
        ("userName eq \"a\" )", "end of the filter"),
        ("userName eq \"a\" b", "end of the filter"),
        ("userName eq \"a\" and", "attribute path"),
        ("(userName pr", "')'"),
        ("userName pr)", "end of the filter"),
        ("emails[type eq \"x\"", "']'"),
        ("emails[type[value pr] pr]", "nested"),
        ("emails.value[type pr]", "sub-attribute"),
        ("not userName pr", "'(' after 'not'"),
        ("not", "'(' after 'not'"),
        ("1abc pr", "attribute name"),
        ("a.b.c pr", "sub-attribute name"),
        ("a. pr", "sub-attribute name"),
        (":a pr", "schema URN"),
        ("urn:x: pr", "attribute name"),
        ("() ", "attribute path"),
        ("a pr and and", "operator"),
        ("a eq", "value"),
        ("userName eq \"x\" [", "end of the filter"),
        ("[a pr]", "attribute path"),
    ] {
        let detail = parse_err(input);
        assert!(
            detail.contains(expected),
            "{input:?}: {detail:?} lacks {expected:?}"
        );
    }
}

#[test]
fn errors_never_echo_much_input() {
    let long_value = "x".repeat(5000);
    for input in [
        format!("userName eq \"{long_value}"),
        format!("userName xx {long_value}"),
        format!("{long_value} zz"),
    ] {
        let detail = parse_err(&input);
        assert!(detail.len() < 250, "{} bytes: {detail}", detail.len());
    }
}

// --- bounds ----------------------------------------------------------------------------------

fn nested(open: &str, close: &str, levels: usize) -> String {
    format!("{}a pr{}", open.repeat(levels), close.repeat(levels))
}

#[test]
fn length_is_bounded() {
    let max = format!("a eq \"{}\"", "x".repeat(MAX_LEN - 7));
    assert_eq!(max.len(), MAX_LEN);
    parse(&max);
    let detail = parse_err(&format!("a eq \"{}\"", "x".repeat(MAX_LEN - 6)));
    assert!(detail.contains("too long"), "{detail}");
    let detail = parse_err(&"(".repeat(1 << 20));
    assert!(detail.contains("too long"), "{detail}");
}

#[test]
fn depth_is_bounded() {
    assert_eq!(parse(&nested("(", ")", MAX_DEPTH)), pr("a"));
    let detail = parse_err(&nested("(", ")", MAX_DEPTH + 1));
    assert!(detail.contains("nesting deeper than 64"), "{detail}");
    assert!(
        detail.contains(&format!("position {MAX_DEPTH}")),
        "{detail}"
    );

    let deep_not = parse(&nested("not (", ")", MAX_DEPTH));
    round_trip(&deep_not);
    parse_err(&nested("not (", ")", MAX_DEPTH + 1));
    parse_err(&nested("not(", ")", MAX_DEPTH + 1));

    // A value filter is a level too.
    let at_limit = format!(
        "{}emails[type pr]{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    parse(&at_limit);
    let over = format!(
        "{}emails[type pr]{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(parse_err(&over).contains("nesting"));
    // Sibling groups do not add up.
    let siblings = vec![nested("(", ")", MAX_DEPTH); 3].join(" and ");
    parse(&siblings);
}

/// Parses without the length limit, so only the depth limit can stop hostile nesting.
fn parse_unbounded(s: &str) -> std::result::Result<Filter, String> {
    Parser::unbounded(s, "filter")
        .or_expr(false)
        .map_err(|e| e.0)
}

#[test]
fn ten_thousand_levels_fail_fast_without_overflowing() {
    for (open, close) in [("(", ")"), ("not (", ")"), ("not(", ")"), ("(not (", "))")] {
        let input = nested(open, close, 10_000);
        let started = Instant::now();
        let detail = parse_err(&input);
        assert!(detail.contains("too long"), "{detail}");
        let detail = parse_unbounded(&input).expect_err("too deep");
        assert!(detail.contains("nesting deeper"), "{detail}");
        // Unclosed and unbalanced variants, too.
        parse_unbounded(&open.repeat(10_000)).expect_err("unclosed");
        parse_err(&open.repeat(2_000));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{open:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn long_chains_stay_flat() {
    let registry = Registry::builtin();
    let resource = json!({"userName": "a", "active": true});
    for keyword in ["and", "or"] {
        let term = "userName pr";
        let count = (MAX_LEN + keyword.len() + 2) / (term.len() + keyword.len() + 2);
        let input = vec![term; count].join(&format!(" {keyword} "));
        assert!(input.len() <= MAX_LEN);
        let started = Instant::now();
        let f = parse(&input);
        let (Filter::And(terms) | Filter::Or(terms)) = &f else {
            panic!("not a chain")
        };
        assert_eq!(terms.len(), count);
        validate(&f, &registry, Kind::User).expect("valid");
        assert!(matches(&f, &resource, &registry, Kind::User));
        assert_eq!(f.to_string(), input);
        drop(f);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );

        // 100,000 terms are over the length limit: refused at once.
        let huge = vec!["a pr"; 100_000].join(&format!(" {keyword} "));
        let started = Instant::now();
        assert!(parse_err(&huge).contains("too long"));
        assert!(started.elapsed() < Duration::from_millis(100));
        // Without the limit, a long chain costs no depth.
        let f = parse_unbounded(&huge).expect("a flat chain");
        let (Filter::And(terms) | Filter::Or(terms)) = &f else {
            panic!("not a chain")
        };
        assert_eq!(terms.len(), 100_000);
    }
}

#[test]
fn deep_chain_then_one_bad_token() {
    let input = format!(
        "{}a pr and b xx{}",
        "not (".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse_err(&input).contains("operator"));
}

// --- printing --------------------------------------------------------------------------------

#[test]
fn display_is_canonical() {
    for (input, printed) in [
        ("USERNAME EQ \"x\"", "USERNAME eq \"x\""),
        ("title   PR", "title pr"),
        ("a pr AND b pr OR c pr", "a pr and b pr or c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr or (b pr and c pr)", "a pr or b pr and c pr"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("NOT(a pr)", "not (a pr)"),
        ("((a pr))", "a pr"),
        ("a eq \"q\\\"\\u00e9\\n\\/\"", "a eq \"q\\\"é\\n/\""),
        ("a ge 1E3", "a ge 1000.0"),
        ("a lt -5", "a lt -5"),
        ("a eq TRUE", "a eq true"),
        ("a ne NULL", "a ne null"),
        (
            "emails[type eq \"work\"].value eq \"x\"",
            "emails[type eq \"work\" and value eq \"x\"]",
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        ),
    ] {
        let f = parse(input);
        assert_eq!(round_trip(&f), printed, "{input:?}");
    }
    assert_eq!(CompareOp::Ge.to_string(), "ge");
    assert_eq!(Literal::String("a\"b".into()).to_string(), "\"a\\\"b\"");
    assert_eq!(Literal::Null.to_string(), "null");
    assert_eq!(path("urn:a:b:c.d").to_string(), "urn:a:b:c.d");
}

// --- PATCH paths and attribute paths ---------------------------------------------------------

fn patch(s: &str) -> PatchPath {
    parse_path(s).unwrap_or_else(|e| panic!("{s:?} should be a PATCH path: {e}"))
}

fn patch_err(s: &str) -> String {
    match parse_path(s) {
        Ok(p) => panic!("{s:?} should not parse, got {p:?}"),
        Err(e) => {
            assert_eq!(e.scim_type(), Some(ScimType::InvalidPath), "{s:?}: {e}");
            e.detail()
        }
    }
}

#[test]
fn patch_paths() {
    assert_eq!(
        patch("members"),
        PatchPath {
            attr: path("members"),
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        patch("name.givenName"),
        PatchPath {
            attr: path("name.givenName"),
            filter: None,
            sub: None
        }
    );
    assert_eq!(
        patch("members[value eq \"abc\"]"),
        PatchPath {
            attr: path("members"),
            filter: Some(eq("value", "abc")),
            sub: None
        }
    );
    assert_eq!(
        patch("emails[type eq \"work\"].value"),
        PatchPath {
            attr: path("emails"),
            filter: Some(eq("type", "work")),
            sub: Some("value".into())
        }
    );
    assert_eq!(
        patch("phoneNumbers[primary eq true]"),
        PatchPath {
            attr: path("phoneNumbers"),
            filter: Some(cmp("primary", CompareOp::Eq, Literal::Bool(true))),
            sub: None
        }
    );
    let manager = patch("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
    assert_eq!(manager.attr.urn.as_deref(), Some(urn::ENTERPRISE_USER));
    assert_eq!(
        (manager.attr.name.as_str(), manager.attr.sub.as_deref()),
        ("manager", Some("value"))
    );
    let manager = patch("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager");
    assert_eq!(
        (manager.attr.name.as_str(), manager.attr.sub),
        ("manager", None)
    );
    let emails = patch("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\" and value ew \"@x\"].display");
    assert_eq!(emails.attr.urn.as_deref(), Some(urn::USER));
    assert_eq!(emails.sub.as_deref(), Some("display"));
    assert_eq!(patch("  members  "), patch("members"));

    for p in [
        "members[value eq \"abc\"]",
        "emails[type eq \"work\" or not (primary eq false)].value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ] {
        assert_eq!(patch(p).to_string(), p);
    }
}

#[test]
fn patch_path_errors() {
    for (input, expected) in [
        ("", "path is empty"),
        ("emails[type eq \"work\"", "']'"),
        ("emails[type eq \"work\"]x", "end of the path"),
        ("emails[type eq \"work\"].", "sub-attribute name"),
        (
            "emails[type eq \"work\"].value.display",
            "sub-attribute name",
        ),
        ("emails.value[type eq \"work\"]", "sub-attribute"),
        ("emails[type[value pr] pr]", "nested"),
        ("emails[]", "attribute path"),
        ("emails eq \"x\"", "end of the path"),
        ("1emails", "attribute name"),
        ("a.b.c", "sub-attribute name"),
        (
            "emails[type eq \"work\"].value eq \"x\"",
            "expected the end of the path",
        ),
    ] {
        let detail = patch_err(input);
        assert!(
            detail.contains(expected),
            "{input:?}: {detail:?} lacks {expected:?}"
        );
        assert!(detail.contains("path"), "{detail}");
    }
    assert!(patch_err(&"a".repeat(MAX_LEN + 1)).contains("too long"));
    assert!(patch_err(&format!(
        "emails[{}type pr{}]",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    ))
    .contains("nesting"));
}

#[test]
fn attribute_paths() {
    assert_eq!(path("userName"), AttrPath::simple("userName"));
    assert_eq!(
        path(" name.familyName "),
        AttrPath {
            urn: None,
            name: "name".into(),
            sub: Some("familyName".into())
        }
    );
    assert_eq!(
        path("urn:ietf:params:scim:schemas:core:2.0:User:meta.lastModified"),
        AttrPath {
            urn: Some(urn::USER.into()),
            name: "meta".into(),
            sub: Some("lastModified".into())
        }
    );
    for bad in [
        "",
        "emails[type pr]",
        "a b",
        "a,b",
        "a.",
        ".a",
        "a:",
        "9a",
        "a.b.c",
    ] {
        let e = parse_attr_path(bad).expect_err(bad);
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{bad:?}");
    }
}

// --- validation ------------------------------------------------------------------------------

fn valid(kind: Kind, filter: &str) -> Result<()> {
    validate(&parse(filter), &Registry::builtin(), kind)
}

fn invalid(kind: Kind, filter: &str) -> String {
    match valid(kind, filter) {
        Ok(()) => panic!("{filter:?} should not validate"),
        Err(e) => {
            assert_eq!(
                e.scim_type(),
                Some(ScimType::InvalidFilter),
                "{filter:?}: {e}"
            );
            e.detail()
        }
    }
}

#[test]
fn validation_accepts_what_the_schemas_define() {
    for f in [
        "userName eq \"bjensen\"",
        "USERNAME EQ \"bjensen\"",
        "id eq \"1\" and externalId eq \"2\"",
        "name.familyName co \"O'Malley\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:id eq \"x\"",
        "title pr",
        "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
        "meta.lastModified le \"2011-05-13T06:42:34.5+02:00\"",
        "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
        "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
        "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
        "emails[type eq \"work\"].value eq \"a@b.c\"",
        "employeeNumber eq \"1\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"",
        "manager eq \"x\"",
        "active eq true and active ne false",
        "title eq null or nickName ne null or name eq null",
        "groups.$ref pr",
        "emails pr and name pr",
    ] {
        valid(Kind::User, f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
    }
    for f in [
        "displayName eq \"Admins\"",
        "members[value eq \"x\"]",
        "members.value eq \"x\"",
        "meta.created lt \"2020-01-01T00:00:00Z\"",
    ] {
        valid(Kind::Group, f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
    }
}

#[test]
fn validation_rejects_unknown_attributes_by_name() {
    assert!(invalid(Kind::User, "nickname pr and foo eq \"x\"").contains("\"foo\""));
    assert!(invalid(Kind::User, "name.middle eq \"x\"").contains("\"name.middle\""));
    assert!(invalid(Kind::User, "urn:x:userName eq \"x\"").contains("urn:x:userName"));
    assert!(invalid(Kind::User, "emails[kind eq \"work\"]").contains("emails.kind"));
    assert!(invalid(Kind::Group, "userName eq \"x\"").contains("userName"));
    assert!(invalid(Kind::User, "not (members pr)").contains("members"));
}

#[test]
fn validation_checks_operators_against_types() {
    for (f, expected) in [
        ("name gt \"x\"", "complex"),
        ("name eq \"x\"", "complex"),
        ("emails lt \"x\"", "complex"),
        ("meta ge \"x\"", "complex"),
        ("active co \"t\"", "boolean"),
        ("meta.lastModified sw \"2011\"", "sw"),
        ("active gt false", "boolean"),
        ("active le true", "boolean"),
        ("active eq \"true\"", "boolean"),
        ("meta.lastModified gt \"yesterday\"", "RFC 3339"),
        ("meta.lastModified eq \"2011-05-13\"", "RFC 3339"),
        ("meta.lastModified eq 5", "dateTime"),
        ("userName eq 5", "string"),
        ("userName eq true", "string"),
        ("userName gt null", "null"),
        ("emails[type co null]", "null"),
        ("emails[primary gt true]", "\"emails.primary\" is a boolean"),
        ("userName[value pr]", "not a complex attribute"),
        ("emails[emails.type pr]", "without prefix"),
        (
            "emails[urn:ietf:params:scim:schemas:core:2.0:User:type pr]",
            "without prefix",
        ),
    ] {
        let detail = invalid(Kind::User, f);
        assert!(
            detail.contains(expected),
            "{f:?}: {detail:?} lacks {expected:?}"
        );
    }
}

/// The built-in registry with integer `age` and decimal `score` added to the User schema.
fn registry_with_numbers() -> Registry {
    let mut registry = Registry::builtin();
    let user = registry
        .schemas
        .iter_mut()
        .find(|s| s.id == urn::USER)
        .expect("User schema");
    for (name, kind) in [("age", "integer"), ("score", "decimal")] {
        user.attributes
            .push(serde_json::from_value(json!({"name": name, "type": kind})).expect("attribute"));
    }
    registry
}

#[test]
fn validation_of_numbers() {
    let registry = registry_with_numbers();
    let check = |f: &str| validate(&parse(f), &registry, Kind::User);
    check("age gt 5 and score le 1.5e2").expect("numbers");
    assert!(check("age eq \"5\"").is_err());
    assert!(check("age co 5").is_err());
    assert!(check("score eq true").is_err());
}

// --- evaluation ------------------------------------------------------------------------------

fn barbara() -> Value {
    json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "nickName": "",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "groups": [{"value": "g1", "display": "Admins"}],
        "meta": {
            "resourceType": "User",
            "created": "2011-05-13T04:42:34Z",
            "lastModified": "2011-05-13T06:42:34+02:00"
        },
        urn::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "mgr-1"}}
    })
}

/// Asserts the filter is valid and matches (or not) the resource.
fn check_match(resource: &Value, kind: Kind, filter: &str, expected: bool) {
    let registry = registry_with_numbers();
    let f = parse(filter);
    validate(&f, &registry, kind).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    assert_eq!(
        matches(&f, resource, &registry, kind),
        expected,
        "{filter:?}"
    );
}

fn user_cases(cases: &[(&str, bool)]) {
    let user = barbara();
    for (filter, expected) in cases {
        check_match(&user, Kind::User, filter, *expected);
    }
}

#[test]
fn strings_follow_case_exact() {
    user_cases(&[
        ("userName eq \"bjensen@example.com\"", true),
        ("USERNAME EQ \"BJENSEN@EXAMPLE.COM\"", true),
        ("userName ne \"BJENSEN@EXAMPLE.COM\"", false),
        ("externalId eq \"Ext-1\"", true),
        ("externalId eq \"ext-1\"", false),
        ("externalId ne \"ext-1\"", true),
        ("id eq \"2819c223-7f76-453a-919d-413861904646\"", true),
        ("id eq \"2819C223-7F76-453A-919D-413861904646\"", false),
        ("externalId co \"xt\"", true),
        ("externalId co \"XT\"", false),
    ]);
}

#[test]
fn substring_and_ordering_operators_on_strings() {
    user_cases(&[
        ("userName sw \"BJEN\"", true),
        ("userName sw \"jen\"", false),
        ("userName ew \"COM\"", true),
        ("userName ew \"example\"", false),
        ("userName co \"@EXAMPLE\"", true),
        ("userName co \"\"", true),
        ("name.givenName co \"arb\"", true),
        ("userName gt \"a\"", true),
        ("userName gt \"BJENSEN@EXAMPLE.COM\"", false),
        ("userName ge \"BJENSEN@EXAMPLE.COM\"", true),
        ("userName lt \"c\"", true),
        ("userName le \"bj\"", false),
        ("displayName gt \"BABA\"", true),
        ("displayName lt \"babs\"", false),
        ("externalId lt \"ext\"", true), // 'E' < 'e' when case-exact
    ]);
}

#[test]
fn date_times_compare_by_instant() {
    // lastModified is "2011-05-13T06:42:34+02:00", the instant 2011-05-13T04:42:34Z.
    user_cases(&[
        ("meta.lastModified eq \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified ne \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified gt \"2011-05-13T04:42:33Z\"", true),
        ("meta.lastModified gt \"2011-05-13T06:00:00+02:00\"", true),
        ("meta.lastModified lt \"2011-05-13T05:00:00+00:00\"", true),
        ("meta.lastModified lt \"2011-05-13T04:42:34.001Z\"", true),
        ("meta.lastModified le \"2011-05-12T23:42:34-05:00\"", true),
        ("meta.created eq \"2011-05-13T06:42:34+02:00\"", true),
        ("meta.created gt \"2011-05-13T06:42:34+02:00\"", false),
    ]);
}

#[test]
fn numbers_compare_numerically() {
    let person = json!({"userName": "n", "age": 42, "score": 7.5});
    for (filter, expected) in [
        ("age eq 42", true),
        ("age eq 42.0", true),
        ("age gt 9", true),
        ("age lt 100", true),
        ("age ge 42 and age le 42", true),
        ("age ne 42", false),
        ("age gt 41.5", true),
        ("score gt 7", true),
        ("score lt 7.5", false),
        ("score le 7.5e0", true),
        ("age gt -1", true),
        ("age lt 18446744073709551615", true),
    ] {
        check_match(&person, Kind::User, filter, expected);
    }
}

#[test]
fn booleans_compare_with_eq_and_ne() {
    user_cases(&[
        ("active eq true", true),
        ("active eq false", false),
        ("active ne false", true),
        ("active ne true", false),
        ("emails[primary eq true]", true),
        ("emails[primary eq false]", false),
        ("emails.primary eq true", true),
    ]);
    // Invalid comparisons never match, even unvalidated.
    let registry = Registry::builtin();
    assert!(!matches(
        &parse("active gt false"),
        &barbara(),
        &registry,
        Kind::User
    ));
    assert!(!matches(
        &parse("active eq \"true\""),
        &barbara(),
        &registry,
        Kind::User
    ));
}

#[test]
fn present_means_a_non_empty_value() {
    user_cases(&[
        ("displayName pr", true),
        ("nickName pr", false),     // ""
        ("phoneNumbers pr", false), // []
        ("title pr", false),        // absent
        ("emails pr", true),
        ("emails.type pr", true),
        ("emails.display pr", false),
        ("name pr", true),
        ("meta.lastModified pr", true),
        ("active pr", true),
        ("manager pr", true),
        ("not (title pr)", true),
    ]);
    let empty = json!({"name": {}, "emails": [{}], "title": null, "addresses": [{"type": ""}]});
    for filter in [
        "name pr",
        "emails pr",
        "title pr",
        "addresses pr",
        "addresses.type pr",
    ] {
        check_match(&empty, Kind::User, filter, false);
    }
}

#[test]
fn null_compares_with_presence() {
    user_cases(&[
        ("title eq null", true),
        ("title ne null", false),
        ("userName eq null", false),
        ("userName ne null", true),
        ("nickName eq null", true),
        ("phoneNumbers eq null", true),
        ("emails eq null", false),
        ("emails.display eq null", true),
        ("name ne null", true),
        ("employeeNumber ne null", true),
        ("costCenter eq null", true),
    ]);
}

#[test]
fn multi_valued_attributes_match_on_any_value() {
    user_cases(&[
        ("emails.value eq \"babs@jensen.org\"", true),
        ("emails.value eq \"BJENSEN@example.com\"", true),
        ("emails.value ew \".net\"", false),
        ("emails.type eq \"home\"", true),
        ("emails co \"jensen.org\"", true), // the elements' value
        ("emails sw \"babs\"", true),
        ("emails eq \"babs@jensen.org\"", true),
        ("emails co \"home\"", false), // not the type
        ("groups.value eq \"g1\"", true),
        ("groups.display eq \"ADMINS\"", true),
        // `ne`: some value differs.
        ("emails.value ne \"bjensen@example.com\"", true),
        ("emails.type ne \"nope\"", true),
        ("phoneNumbers.value ne \"x\"", false), // no value at all
        ("not (emails.value eq \"bjensen@example.com\")", false),
    ]);
    let one = json!({"emails": [{"value": "a@x.org", "type": "work"}]});
    check_match(&one, Kind::User, "emails.value ne \"A@X.ORG\"", false);
    check_match(&one, Kind::User, "emails.value ne \"b@x.org\"", true);
    check_match(&json!({}), Kind::User, "emails.value ne \"b@x.org\"", false);
    check_match(&json!({}), Kind::User, "title ne \"x\"", false);
}

#[test]
fn value_filters_need_one_element_to_satisfy_all() {
    user_cases(&[
        (
            "emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"home\" and value co \"@example.com\"]",
            false,
        ),
        // Spread over different elements, the plain paths match.
        (
            "emails.type eq \"home\" and emails.value co \"@example.com\"",
            true,
        ),
        ("emails[TYPE eq \"WORK\"]", true),
        (
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            true,
        ),
        (
            "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
            false,
        ),
        (
            "emails[type eq \"home\" or primary eq true].value co \"example\"",
            true,
        ),
        ("emails[not (type eq \"work\")].value co \"example\"", false),
        ("emails[display pr]", false),
        ("emails[value pr and not (primary pr)]", true),
        ("phoneNumbers[type pr]", false),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]",
            true,
        ),
        (
            "emails[type eq \"work\"] and not (emails[type eq \"other\"])",
            true,
        ),
    ]);
}

#[test]
fn extension_attributes_with_and_without_urn() {
    user_cases(&[
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"", true),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq \"701984\"", true),
        ("employeeNumber eq \"701984\"", true),
        ("employeeNumber eq \"1\"", false),
        ("manager.value eq \"mgr-1\"", true),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"mgr-1\"", true),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"mgr-1\"", true),
        ("department pr", false),
    ]);
    // Extension attributes are looked up under the URN only, not at the top level.
    check_match(
        &json!({"employeeNumber": "701984"}),
        Kind::User,
        "employeeNumber pr",
        false,
    );
}

#[test]
fn core_urn_prefix_and_common_attributes() {
    user_cases(&[
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bjensen@example.com\"",
            true,
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq \"barbara\"",
            true,
        ),
        ("urn:ietf:params:scim:schemas:core:2.0:User:id pr", true),
        ("meta.resourceType eq \"User\"", true),
        ("meta.resourceType eq \"user\"", false),
    ]);
}

#[test]
fn resource_keys_are_found_ignoring_case() {
    let shouting = json!({
        "USERNAME": "x",
        "Emails": [{"VALUE": "a@b.c", "Type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}
    });
    for filter in [
        "userName eq \"x\"",
        "emails[type eq \"work\"].value eq \"a@b.c\"",
        "employeeNumber eq \"7\"",
    ] {
        check_match(&shouting, Kind::User, filter, true);
    }
}

#[test]
fn logic_combines() {
    user_cases(&[
        ("userName pr and title pr", false),
        ("userName pr or title pr", true),
        ("not (userName pr and title pr)", true),
        ("title pr or nickName pr or displayName eq \"babs\"", true),
        ("title pr or (userName sw \"b\" and active eq true)", true),
        ("(title pr or userName sw \"b\") and active eq false", false),
        ("not (not (active eq true))", true),
    ]);
}

#[test]
fn groups_and_members() {
    let group = json!({
        "id": "g1",
        "displayName": "Admins",
        "members": [{"value": "u1", "type": "User", "display": "Babs"}, {"value": "g2", "type": "Group"}]
    });
    for (filter, expected) in [
        ("displayName eq \"admins\"", true),
        ("members[value eq \"u1\"]", true),
        ("members[value eq \"g2\" and type eq \"User\"]", false),
        ("members.value eq \"g2\"", true),
        ("members eq \"u1\"", true),
        ("members.type eq \"user\"", true),
    ] {
        check_match(&group, Kind::Group, filter, expected);
    }
}

#[test]
fn unknown_attributes_match_nothing() {
    let registry = Registry::builtin();
    for filter in [
        "foo pr",
        "foo eq null",
        "foo ne null",
        "name.middle eq null",
        "emails[kind eq null]",
        "urn:x:userName pr",
    ] {
        assert!(
            !matches(&parse(filter), &barbara(), &registry, Kind::User),
            "{filter:?}"
        );
    }
    assert!(matches(
        &parse("not (foo pr)"),
        &barbara(),
        &registry,
        Kind::User
    ));
}

#[test]
fn deepest_filters_evaluate_and_print() {
    let registry = Registry::builtin();
    let f = parse(&nested("not (", ")", MAX_DEPTH).replace("a pr", "userName pr"));
    assert!(matches(&f, &barbara(), &registry, Kind::User)); // an even number of `not`
    validate(&f, &registry, Kind::User).expect("valid");
    round_trip(&f);
}
