//! The five facets of an attribute, each derived from one [`Written`] attribute: mutability,
//! returned, caseExact, uniqueness, required.

use reqwest::Method;
use serde_json::{json, Value};

use super::values::{holds, sent_sub, skip_sub, Gen};
use super::{
    case_info, filterable, info, is_stringy, mutability_info, returned_info, Target, Written,
};
use crate::cx::Cx;
use crate::discovery::{AttrType, Attribute, Mutability, Returned, Uniqueness};
use crate::http::{qs, Exchange};
use crate::judge::{got, Judge};
use crate::model::Level;

/// readWrite values come back, readOnly ones are ignored, immutable ones cannot change,
/// writeOnly ones are never returned.
pub(super) async fn mutability(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p, path) = (&w.t.attr, w.t, &w.p, &w.path);
    let mut j = Judge::new();
    j.see(&w.put);
    j.see(&w.read);
    match a.mutability {
        Mutability::ReadWrite => {
            if j.status(&w.put, &[200]) && j.status(&w.read, &[200]) {
                for (ex, what) in [(&w.put, "the PUT response"), (&w.read, "GET")] {
                    let v = t.get(ex.body());
                    j.that(v.is_some_and(|v| holds(a, &w.sent, v)), || {
                        format!(
                            "{what}: {p} is {}, expected {}",
                            v.map_or("absent".into(), Value::to_string),
                            w.sent
                        )
                    });
                }
            }
        }
        Mutability::ReadOnly => {
            if w.put.status == 400 {
                j.error_body(&w.put, &[]);
                j.note("refused with 400");
            } else if j.status(&w.put, &[200]) && j.status(&w.read, &[200]) {
                let v = t.get(w.read.body());
                j.that(!v.is_some_and(|v| holds(a, &w.sent, v)), || {
                    format!(
                        "GET {path}: {p} took the value {} sent by the client",
                        w.sent
                    )
                });
            }
        }
        Mutability::WriteOnly => {
            if w.put.status == 400
                && a.name.eq_ignore_ascii_case("password")
                && !g.cx.disc.features.change_password
            {
                j.skip("changePassword.supported is false and the server refuses a password");
            } else if j.status(&w.put, &[200]) && j.status(&w.read, &[200]) {
                for (ex, what) in [(&w.put, "the PUT response"), (&w.read, "GET")] {
                    j.that(t.get(ex.body()).is_none(), || {
                        format!("{what}: the writeOnly {p} is returned")
                    });
                }
            }
        }
        Mutability::Immutable => {
            if j.status(&w.put, &[200]) {
                let other = g.value(a, None).unwrap_or(json!("other"));
                let mut b2 = w.minimal.clone();
                t.set(&mut b2, other);
                let again = g.cx.send_json(Method::PUT, path, &b2).await;
                j.scim_error(&again, &[400], &["mutability"]);
                let after = g.cx.get(path).await;
                j.see(&after);
                j.that(
                    t.get(after.body()).is_some_and(|v| holds(a, &w.sent, v)),
                    || format!("GET {path}: the immutable {p} changed"),
                );
            }
        }
    }
    g.cx.record_info(mutability_info(&w.rt, p, a), j);
}

/// readOnly sub-attributes sent inside a writable complex value are ignored.
pub(super) async fn read_only_subs(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p, path) = (&w.t.attr, w.t, &w.p, &w.path);
    if a.kind != AttrType::Complex || a.mutability == Mutability::ReadOnly {
        return;
    }
    const BOGUS: &str = "Conformance Bogus ReadOnly";
    for s in a
        .sub
        .iter()
        .filter(|s| s.mutability == Mutability::ReadOnly)
    {
        let si = info(
            &w.rt,
            &format!("{p}.{}", s.name),
            "mutability",
            "RFC 7644 §3.5.1",
            Level::Must,
            format!(
                "{p}.{} is readOnly: a value sent inside {p} is ignored",
                s.name
            ),
        );
        if !g.cx.wants_info(&si) {
            continue;
        }
        let mut with = w.sent.clone();
        let carrier = match &mut with {
            Value::Object(o) => Some(o),
            Value::Array(arr) => arr.first_mut().and_then(Value::as_object_mut),
            _ => None,
        };
        let mut j = Judge::new();
        match carrier {
            None => j.skip("no complex value to carry the sub-attribute"),
            Some(o) => {
                o.insert(s.name.clone(), json!(BOGUS));
                let mut b = w.minimal.clone();
                t.set(&mut b, with);
                let px = g.cx.send_json(Method::PUT, path, &b).await;
                let rx = g.cx.get(path).await;
                if px.status == 400 {
                    j.see(&px);
                    j.error_body(&px, &[]);
                    j.note("refused with 400");
                } else if j.status(&px, &[200]) && j.status(&rx, &[200]) {
                    let text = t.get(rx.body()).map(Value::to_string).unwrap_or_default();
                    j.that(!text.contains(BOGUS), || {
                        format!(
                            "GET {path}: {p}.{} kept the value the client sent: {text}",
                            s.name
                        )
                    });
                }
                // Restore the attribute as first written.
                let _ = g.cx.send_json(Method::PUT, path, &w.body).await;
            }
        }
        g.cx.record_info(si, j);
    }
}

/// never, always, request, default.
pub(super) async fn returned(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p, path) = (&w.t.attr, w.t, &w.p, &w.path);
    let Some(ri) = returned_info(&w.rt, p, a) else {
        return;
    };
    let mut j = Judge::new();
    if !w.accepted() {
        j.skip(format!("the value could not be written ({})", got(&w.put)));
        g.cx.record_info(ri, j);
        return;
    }
    match a.returned {
        Returned::Never => {
            for ex in [&w.put, &w.read] {
                j.see(ex);
                j.that(t.get(ex.body()).is_none(), || {
                    format!("{} {}: {p} is returned", ex.method, ex.path)
                });
            }
            let asked = g.cx.get(&format!("{path}?attributes={}", t.path())).await;
            if j.status(&asked, &[200]) {
                j.that(t.get(asked.body()).is_none(), || {
                    format!("GET {}: {p} is returned", asked.path)
                });
            }
        }
        Returned::Always => {
            let other = if a.name.eq_ignore_ascii_case("id") {
                "meta"
            } else {
                "id"
            };
            let ex = g.cx.get(&format!("{path}?attributes={other}")).await;
            if j.status(&ex, &[200]) {
                j.that(
                    t.get(ex.body()).is_some() || t.get(w.read.body()).is_none(),
                    || format!("GET {}: {p} (returned always) is missing", ex.path),
                );
            }
        }
        Returned::Request => {
            j.see(&w.read);
            j.that(t.get(w.read.body()).is_none(), || {
                format!("GET {path}: {p} is returned without being asked for")
            });
            let ex = g.cx.get(&format!("{path}?attributes={}", t.path())).await;
            if j.status(&ex, &[200]) {
                j.that(t.get(ex.body()).is_some(), || {
                    format!("GET {}: {p} is missing though asked for", ex.path)
                });
            }
        }
        Returned::Default => {
            j.see(&w.read);
            if t.get(w.read.body()).is_none() {
                j.skip(format!("{p} was not stored, nothing to exclude"));
            } else {
                let ex =
                    g.cx.get(&format!("{path}?excludedAttributes={}", t.path()))
                        .await;
                if j.status(&ex, &[200]) {
                    j.that(t.get(ex.body()).is_none(), || {
                        format!("GET {}: {p} is returned though excluded", ex.path)
                    });
                }
            }
        }
    }
    g.cx.record_info(ri, j);
}

/// caseExact, on the attribute and on its string sub-attributes: kept case, and `eq` in another
/// case.
pub(super) async fn case_exact(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p) = (&w.t.attr, w.t, &w.p);
    let stored = t.get(w.read.body()).cloned();
    let mut targets: Vec<(String, String, Attribute, Option<Value>)> = Vec::new();
    if filterable(a) {
        targets.push((p.clone(), t.path(), a.clone(), stored.clone()));
    }
    if a.kind == AttrType::Complex {
        let first = stored.as_ref().map(|v| {
            if a.multi {
                v.get(0).cloned().unwrap_or(Value::Null)
            } else {
                v.clone()
            }
        });
        for s in a.sub.iter().filter(|s| filterable(s) && !skip_sub(s)) {
            let sv = first.as_ref().and_then(|f| f.get(s.name.as_str()).cloned());
            targets.push((
                format!("{p}.{}", s.name),
                format!("{}.{}", t.path(), s.name),
                s.clone(),
                sv,
            ));
        }
    }
    for (idp, fpath, attr, stored) in targets {
        let ci = case_info(&w.rt, &idp, &attr);
        if !g.cx.wants_info(&ci) {
            continue;
        }
        let mut j = Judge::new();
        let stored = stored.and_then(|v| {
            if attr.multi {
                v.get(0).cloned()
            } else {
                Some(v)
            }
        });
        match stored.as_ref().and_then(Value::as_str) {
            _ if !w.accepted() => {
                j.skip(format!("the value could not be written ({})", got(&w.put)))
            }
            None => j.skip(format!("{idp} was not stored as a string")),
            Some(_) if !g.cx.disc.features.filter => j.skip("filter.supported is false"),
            Some(v) => case_of(g.cx, w, &mut j, (&idp, &fpath, &attr), v).await,
        }
        g.cx.record_info(ci, j);
    }
}

async fn case_of(
    cx: &Cx,
    w: &Written<'_>,
    j: &mut Judge,
    (idp, fpath, attr): (&str, &str, &Attribute),
    v: &str,
) {
    if attr.case_exact {
        if let Some(sv) = sent_sub(&w.sent, &w.t.attr, attr) {
            j.that(v == sv, || {
                format!(
                    "GET {}: {idp} is {v:?}, sent {sv:?}: a caseExact value must keep its case",
                    w.path
                )
            });
        }
    }
    let variant = if v.to_uppercase() != v {
        v.to_uppercase()
    } else {
        v.to_lowercase()
    };
    let exact = filter(cx, w, fpath, v).await;
    j.see(&exact);
    j.that(exact.status == 200 && total(&exact) == Some(1), || {
        format!(
            "GET {}: `{fpath} eq` with the stored value does not find the resource ({})",
            exact.path,
            got(&exact)
        )
    });
    if variant != v {
        let other = filter(cx, w, fpath, &variant).await;
        j.see(&other);
        let want = if attr.case_exact { 0 } else { 1 };
        j.that(other.status == 200 && total(&other) == Some(want), || {
            format!(
                "GET {}: `{fpath} eq {variant:?}` found {} resource(s), expected {want} (caseExact {})",
                other.path,
                total(&other).map_or("?".into(), |n| n.to_string()),
                attr.case_exact
            )
        });
    }
}

/// server/global: another resource with the same value (and, for caseExact false, in another
/// case) answers 409 uniqueness.
pub(super) async fn uniqueness(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p) = (&w.t.attr, w.t, &w.p);
    if a.uniqueness == Uniqueness::None || !is_stringy(a) {
        return;
    }
    let ui = info(
        &w.rt,
        p,
        "uniqueness",
        "RFC 7644 §3.3",
        Level::Must,
        format!(
            "{p} has uniqueness {:?}: a second resource with the same value answers 409 uniqueness",
            a.uniqueness
        ),
    );
    let ci = info(
        &w.rt,
        p,
        "uniqueness-case",
        "RFC 7643 §2.2",
        Level::Should,
        format!("{p} is unique and caseExact false: a value differing only in case answers 409 uniqueness"),
    );
    let stored = t
        .get(w.read.body())
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(v) = stored.filter(|_| w.accepted()) else {
        let why = format!("the value could not be written ({})", got(&w.put));
        g.cx.skip_info(ui, &why);
        if !a.case_exact {
            g.cx.skip_info(ci, why);
        }
        return;
    };
    let mut cases = vec![(ui, v.clone())];
    if !a.case_exact {
        if v.to_uppercase() == v {
            g.cx.skip_info(ci, format!("{v:?} has no other case"));
        } else {
            cases.push((ci, v.to_uppercase()));
        }
    }
    for (inf, value) in cases {
        if !g.cx.wants_info(&inf) {
            continue;
        }
        // Fresh values for the other required attributes, the same value for this one.
        let mut other = json!({"schemas": [w.schema]});
        fill_required(g, &mut other, &w.minimal, t);
        t.set(&mut other, json!(value));
        let ex = g.cx.create(&w.endpoint, &other).await;
        let mut j = Judge::new();
        j.scim_error(&ex, &[409], &["uniqueness"]);
        g.cx.record_info(inf, j);
    }
}

/// A create without a required attribute answers 400.
pub(super) async fn required(g: &mut Gen<'_>, w: &Written<'_>) {
    let (a, t, p) = (&w.t.attr, w.t, &w.p);
    if !a.required || a.mutability == Mutability::ReadOnly {
        return;
    }
    let qi = info(
        &w.rt,
        p,
        "required",
        "RFC 7643 §2.2",
        Level::Must,
        format!("{p} is required: a create without it answers 400"),
    );
    if !g.cx.wants_info(&qi) {
        return;
    }
    let mut without = json!({"schemas": [w.schema]});
    fill_required(g, &mut without, &w.minimal, t);
    let holder = match &t.ext {
        Some(u) => without.get_mut(u.as_str()),
        None => Some(&mut without),
    };
    if let Some(o) = holder.and_then(Value::as_object_mut) {
        o.remove(&a.name);
    }
    let ex = g.cx.create(&w.endpoint, &without).await;
    let mut j = Judge::new();
    j.scim_error(&ex, &[400], &[]);
    g.cx.record_info(qi, j);
}

/// Copies into `body` fresh values for every required attribute of `minimal` other than `t`.
fn fill_required(g: &mut Gen<'_>, body: &mut Value, minimal: &Value, t: &Target) {
    let Some(o) = minimal.as_object() else { return };
    for (k, v) in o {
        if k == "schemas" || (t.ext.is_none() && k.eq_ignore_ascii_case(&t.attr.name)) {
            continue;
        }
        let fresh = match v {
            Value::String(s) if s.starts_with(&g.cx.prefix) => json!(g.unique(k)),
            other => other.clone(),
        };
        body[k.as_str()] = fresh;
    }
    if let Some(s) = minimal.get("schemas") {
        body["schemas"] = s.clone();
    }
}

/// `GET endpoint?filter=id eq "<id>" and <path> eq <value>`.
async fn filter(cx: &Cx, w: &Written<'_>, path: &str, value: &str) -> Exchange {
    let f = format!(
        "id eq \"{}\" and {path} eq {}",
        w.id,
        Value::String(value.to_string())
    );
    cx.get(&format!("{}?filter={}", w.endpoint, qs(&f))).await
}

fn total(ex: &Exchange) -> Option<u64> {
    ex.body()["totalResults"].as_u64()
}
