//! Checks derived from `/Schemas` (RFC 7643 §2.2, §7): for every attribute of every resource type
//! (core schema, extensions, and the common `externalId`), what its characteristics promise:
//!
//! * `mutability`: readWrite values written by PUT come back (SHOULD: the server MAY alter
//!   them); readOnly values sent are ignored or refused; immutable values cannot change once set;
//!   writeOnly values are accepted and never returned;
//! * `returned`: never (absent everywhere), always (present even when not asked for), request
//!   (only when asked for), default (present, and removable with `excludedAttributes`);
//! * `uniqueness`: server/global values cannot be used twice (409 uniqueness);
//! * `caseExact`: true keeps case and filters case-sensitively, false filters in any case;
//! * `required`: a create without it is refused with 400.
//!
//! Each attribute is written on its own, by a PUT of the smallest valid resource plus that
//! attribute, so that each verdict is about one attribute.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::cx::Cx;
use crate::discovery::{
    AttrType, Attribute, Mutability, ResourceType, Returned, Schema, Uniqueness, USER_SCHEMA,
};
use crate::http::{qs, Exchange};
use crate::judge::{got, prerequisite, Judge};
use crate::model::{CheckInfo, Level};

/// Where an attribute lives: the core schema (top level) or an extension (under its URN).
#[derive(Debug, Clone)]
struct Target {
    /// `None` for the core schema, else the extension URN.
    ext: Option<String>,
    /// Label used in check ids: empty for the core schema, else the schema's name.
    label: String,
    attr: Attribute,
}

impl Target {
    fn id_path(&self) -> String {
        if self.label.is_empty() {
            self.attr.name.clone()
        } else {
            format!("{}.{}", self.label, self.attr.name)
        }
    }

    /// The attribute path in filters and `attributes=`.
    fn path(&self) -> String {
        match &self.ext {
            Some(u) => format!("{u}:{}", self.attr.name),
            None => self.attr.name.clone(),
        }
    }

    fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let holder = match &self.ext {
            Some(u) => resource.get(u.as_str())?,
            None => resource,
        };
        let o = holder.as_object()?;
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.attr.name))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    fn set(&self, body: &mut Value, value: Value) {
        match &self.ext {
            Some(u) => {
                if !body[u.as_str()].is_object() {
                    body[u.as_str()] = json!({});
                }
                body[u.as_str()][self.attr.name.as_str()] = value;
                if let Some(s) = body["schemas"].as_array_mut() {
                    if !s.iter().any(|x| x == u.as_str()) {
                        s.push(json!(u));
                    }
                }
            }
            None => body[self.attr.name.as_str()] = value,
        }
    }
}

/// What the generator needs: a run-unique counter, the prefix, and an existing User id for
/// references.
struct Gen<'a> {
    cx: &'a mut Cx,
    helper: Option<String>,
}

impl Gen<'_> {
    fn unique(&mut self, label: &str) -> String {
        self.cx.name(label)
    }

    /// A valid value for `a` (a child of `parent`, if any); `None` when the generator cannot make
    /// one (references to other resources without a helper).
    fn value(&mut self, a: &Attribute, parent: Option<&Attribute>) -> Option<Value> {
        let one = self.single(a, parent)?;
        Some(if a.multi { json!([one]) } else { one })
    }

    fn single(&mut self, a: &Attribute, parent: Option<&Attribute>) -> Option<Value> {
        let n = a.name.to_ascii_lowercase();
        let pn = parent
            .map(|p| p.name.to_ascii_lowercase())
            .unwrap_or_default();
        Some(match a.kind {
            AttrType::Complex => {
                let mut o = Map::new();
                for s in &a.sub {
                    if skip_sub(s) {
                        continue;
                    }
                    if let Some(v) = self.value(s, Some(a)) {
                        o.insert(s.name.clone(), v);
                    }
                }
                if o.is_empty() {
                    return None;
                }
                Value::Object(o)
            }
            AttrType::Boolean => json!(true),
            AttrType::Integer => json!(42),
            AttrType::Decimal => json!(1.5),
            AttrType::DateTime => json!("2021-02-03T04:05:06Z"),
            AttrType::Binary => json!("Q29uZm9ybWFuY2U="),
            AttrType::Reference => {
                if a.reference_types
                    .iter()
                    .any(|t| t == "external" || t == "uri")
                    || a.reference_types.is_empty()
                {
                    let u = self.unique("Ref");
                    json!(format!("https://example.com/{u}/Ab"))
                } else {
                    return None;
                }
            }
            AttrType::String | AttrType::Other => {
                if let Some(c) = a.canonical.first() {
                    json!(c)
                } else if n == "value" && ["members", "manager", "groups"].contains(&pn.as_str()) {
                    json!(self.helper.clone()?)
                } else if n == "value" && pn == "emails" {
                    let u = self.unique("Mail");
                    json!(format!("{u}@Example.com"))
                } else if n == "value" && pn == "phonenumbers" {
                    json!("tel:+1-201-555-0123")
                } else if n.contains("language") || n == "locale" {
                    json!("en-US")
                } else if n == "timezone" {
                    json!("Europe/Paris")
                } else if a.uniqueness != Uniqueness::None {
                    json!(self.unique(&format!("{}-Ab", a.name)))
                } else {
                    let u = self.unique(&format!("{}-Ab", a.name));
                    json!(u)
                }
            }
        })
    }
}

/// Sub-attributes the generator leaves to the server: `$ref` (derived from `value`) and
/// `display` (servers fill it from the referenced resource).
fn skip_sub(s: &Attribute) -> bool {
    s.name == "$ref"
        || s.name.eq_ignore_ascii_case("display")
        || s.mutability == Mutability::ReadOnly
}

/// Whether `got` holds `sent` for attribute `a`: case per caseExact, instants for dateTimes,
/// sub-attribute subsets for complex values, any order for multi-valued ones.
fn holds(a: &Attribute, sent: &Value, got: &Value) -> bool {
    if a.multi {
        let (Some(s), Some(g)) = (sent.as_array(), got.as_array()) else {
            return false;
        };
        let mut used = vec![false; g.len()];
        return s.iter().all(|x| {
            let hit = g
                .iter()
                .enumerate()
                .find(|(i, y)| !used[*i] && holds_one(a, x, y));
            if let Some((i, _)) = hit {
                used[i] = true;
                true
            } else {
                false
            }
        });
    }
    holds_one(a, sent, got)
}

fn holds_one(a: &Attribute, sent: &Value, got: &Value) -> bool {
    match a.kind {
        AttrType::Complex => {
            let (Some(s), Some(g)) = (sent.as_object(), got.as_object()) else {
                return false;
            };
            s.iter().all(|(k, v)| {
                let sub = a.sub_attr(k);
                let gv = g
                    .iter()
                    .find(|(gk, _)| gk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v);
                match (sub, gv) {
                    (Some(sub), Some(gv)) => holds_one(sub, v, gv),
                    (None, Some(gv)) => gv == v,
                    (_, None) => false,
                }
            })
        }
        AttrType::String | AttrType::Reference | AttrType::Other if !a.case_exact => {
            match (sent.as_str(), got.as_str()) {
                (Some(s), Some(g)) => s.eq_ignore_ascii_case(g),
                _ => sent == got,
            }
        }
        AttrType::DateTime => {
            let t = |v: &Value| {
                v.as_str().and_then(|s| {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
            };
            t(sent).is_some() && t(sent) == t(got)
        }
        AttrType::Decimal => sent.as_f64().is_some() && sent.as_f64() == got.as_f64(),
        _ => sent == got,
    }
}

fn info(
    rt: &str,
    path: &str,
    facet: &str,
    section: &str,
    level: Level,
    title: String,
) -> CheckInfo {
    CheckInfo {
        id: format!("schema.{rt}.{path}.{facet}"),
        section: section.to_string(),
        level,
        title,
        tags: vec!["schema".into(), rt.to_ascii_lowercase()],
    }
}

/// Runs the schema-derived checks for every resource type.
pub async fn run(cx: &mut Cx) {
    if !cx.discovered {
        return;
    }
    let types = cx.disc.resource_types.clone();
    for rt in types {
        let Some(core) = cx.disc.schema(&rt.schema).cloned() else {
            continue;
        };
        let exts: Vec<Schema> = rt
            .extensions
            .iter()
            .filter_map(|(u, _)| cx.disc.schema(u).cloned())
            .collect();
        resource_type(cx, &rt, &core, &exts).await;
    }
}

async fn resource_type(cx: &mut Cx, rt: &ResourceType, core: &Schema, exts: &[Schema]) {
    let mut targets: Vec<Target> = core
        .attributes
        .iter()
        .map(|a| Target {
            ext: None,
            label: String::new(),
            attr: a.clone(),
        })
        .collect();
    if core.attr("externalId").is_none() {
        targets.push(Target {
            ext: None,
            label: String::new(),
            attr: external_id(),
        });
    }
    for e in exts {
        let label = if e.name.is_empty() {
            e.id.rsplit(':').next().unwrap_or("ext").to_string()
        } else {
            e.name.clone()
        };
        targets.extend(e.attributes.iter().map(|a| Target {
            ext: Some(e.id.clone()),
            label: label.clone(),
            attr: a.clone(),
        }));
    }
    let infos: Vec<CheckInfo> = targets.iter().flat_map(|t| planned(&rt.name, t)).collect();
    if !infos.iter().any(|i| cx.wants_info(i)) {
        return;
    }

    let endpoint = if rt.endpoint.starts_with('/') {
        rt.endpoint.clone()
    } else {
        format!("/{}", rt.endpoint)
    };
    let helper = match cx.disc.type_with_schema(USER_SCHEMA) {
        Some(_) => cx.new_user("mx-helper").await.ok().map(|(id, _)| id),
        None => None,
    };
    let mut g = Gen { cx, helper };

    // The smallest valid resource: the required, writable attributes.
    let mut minimal = json!({"schemas": [rt.schema]});
    for t in &targets {
        if t.attr.required && t.attr.mutability != Mutability::ReadOnly {
            if let Some(v) = g.value(&t.attr, None) {
                t.set(&mut minimal, v);
            }
        }
    }
    let created = g.cx.create(&endpoint, &minimal).await;
    let Some(id) = created.id().filter(|_| created.status == 201) else {
        let why = prerequisite(
            &format!("POST {endpoint} with the required attributes only"),
            &created,
        );
        for i in infos {
            g.cx.skip_info(i, &why);
        }
        return;
    };
    let path = format!("{endpoint}/{id}");

    for t in &targets {
        attribute(&mut g, rt, &endpoint, &path, &id, &minimal, t).await;
    }
    // Leave the resource minimal again for the cleanup.
    let _ = g.cx.send_json(Method::PUT, &path, &minimal).await;
}

/// The common attribute `externalId` (RFC 7643 §3.1), which schemas do not list.
fn external_id() -> Attribute {
    Attribute {
        name: "externalId".into(),
        kind: AttrType::String,
        multi: false,
        required: false,
        case_exact: true,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical: Vec::new(),
        reference_types: Vec::new(),
        sub: Vec::new(),
    }
}

/// The checks an attribute gets (for selection and for skips).
fn planned(rt: &str, t: &Target) -> Vec<CheckInfo> {
    let a = &t.attr;
    let p = t.id_path();
    let mut v = Vec::new();
    v.push(mutability_info(rt, &p, a));
    if let Some(i) = returned_info(rt, &p, a) {
        v.push(i);
    }
    if a.uniqueness != Uniqueness::None && is_stringy(a) {
        v.push(info(rt, &p, "uniqueness", "RFC 7644 §3.3", Level::Must,
            format!("{p} has uniqueness {:?}: a second resource with the same value answers 409 uniqueness", a.uniqueness)));
        if !a.case_exact {
            v.push(info(rt, &p, "uniqueness-case", "RFC 7643 §2.2", Level::Should,
                format!("{p} is unique and caseExact false: a value differing only in case answers 409 uniqueness")));
        }
    }
    if filterable(a) {
        v.push(case_info(rt, &p, a));
    }
    for s in &a.sub {
        if a.kind == AttrType::Complex && filterable(s) && !skip_sub(s) {
            v.push(case_info(rt, &format!("{p}.{}", s.name), s));
        }
        if a.kind == AttrType::Complex
            && s.mutability == Mutability::ReadOnly
            && a.mutability != Mutability::ReadOnly
        {
            v.push(info(
                rt,
                &format!("{p}.{}", s.name),
                "mutability",
                "RFC 7644 §3.5.1",
                Level::Must,
                format!(
                    "{p}.{} is readOnly: a value sent inside {p} is ignored",
                    s.name
                ),
            ));
        }
    }
    if a.required && a.mutability != Mutability::ReadOnly {
        v.push(info(
            rt,
            &p,
            "required",
            "RFC 7643 §2.2",
            Level::Must,
            format!("{p} is required: a create without it answers 400"),
        ));
    }
    v
}

fn is_stringy(a: &Attribute) -> bool {
    matches!(a.kind, AttrType::String | AttrType::Reference) && !a.multi
}

fn filterable(a: &Attribute) -> bool {
    matches!(a.kind, AttrType::String | AttrType::Reference)
        && a.returned != Returned::Never
        && a.mutability != Mutability::WriteOnly
        && a.mutability != Mutability::ReadOnly
}

fn mutability_info(rt: &str, p: &str, a: &Attribute) -> CheckInfo {
    match a.mutability {
        Mutability::ReadWrite => info(
            rt,
            p,
            "mutability",
            "RFC 7643 §2.2",
            Level::Should,
            format!("{p} is readWrite: a value written by PUT is stored and returned"),
        ),
        Mutability::ReadOnly => info(
            rt,
            p,
            "mutability",
            "RFC 7644 §3.5.1",
            Level::Must,
            format!("{p} is readOnly: a value sent by PUT is ignored (or refused with 400)"),
        ),
        Mutability::Immutable => info(
            rt,
            p,
            "mutability",
            "RFC 7644 §3.5.1",
            Level::Must,
            format!("{p} is immutable: once set, a PUT with another value answers 400 mutability"),
        ),
        Mutability::WriteOnly => info(
            rt,
            p,
            "mutability",
            "RFC 7643 §2.2",
            Level::Must,
            format!("{p} is writeOnly: a value is accepted and never returned"),
        ),
    }
}

fn returned_info(rt: &str, p: &str, a: &Attribute) -> Option<CheckInfo> {
    Some(match a.returned {
        Returned::Never => info(rt, p, "returned", "RFC 7643 §2.2", Level::Must,
            format!("{p} is returned never: it is in no response")),
        Returned::Always => info(rt, p, "returned", "RFC 7643 §2.2", Level::Must,
            format!("{p} is returned always: it is present even when attributes= names another attribute")),
        Returned::Request => info(rt, p, "returned", "RFC 7643 §2.2", Level::Must,
            format!("{p} is returned on request: absent by default, present when attributes= names it")),
        Returned::Default if a.mutability != Mutability::WriteOnly => info(rt, p, "returned", "RFC 7644 §3.9", Level::Must,
            format!("{p} is returned by default: present on GET, absent with excludedAttributes={p}")),
        Returned::Default => return None,
    })
}

fn case_info(rt: &str, p: &str, a: &Attribute) -> CheckInfo {
    if a.case_exact {
        info(rt, p, "caseExact", "RFC 7643 §2.2", Level::Must,
            format!("{p} is caseExact: its case is kept, and `{p} eq` with another case matches nothing"))
    } else {
        info(
            rt,
            p,
            "caseExact",
            "RFC 7644 §3.4.2.2",
            Level::Must,
            format!("{p} is not caseExact: `{p} eq` matches it in another case"),
        )
    }
}

#[allow(clippy::too_many_arguments)]
async fn attribute(
    g: &mut Gen<'_>,
    rt: &ResourceType,
    endpoint: &str,
    path: &str,
    id: &str,
    minimal: &Value,
    t: &Target,
) {
    let a = &t.attr;
    let p = t.id_path();
    let rtn = rt.name.as_str();
    let plan = planned(rtn, t);
    if !plan.iter().any(|i| g.cx.wants_info(i)) {
        return;
    }
    let mut body = minimal.clone();

    // The value to write: for readOnly attributes, a bogus one.
    let sent = if a.mutability == Mutability::ReadOnly {
        bogus(a)
    } else if a.required {
        // Already in the minimal body; write a new one unless it must stay (immutable).
        match (a.mutability, a.uniqueness) {
            (Mutability::Immutable, _) => t.get(minimal).cloned(),
            _ => g.value(a, None),
        }
    } else {
        g.value(a, None)
    };
    let Some(sent) = sent else {
        for i in plan {
            g.cx.skip_info(
                i,
                format!("no value can be generated for {p} (a reference to another resource type)"),
            );
        }
        return;
    };
    t.set(&mut body, sent.clone());
    let put = g.cx.send_json(Method::PUT, path, &body).await;
    let read = g.cx.get(path).await;

    // mutability
    let mi = mutability_info(rtn, &p, a);
    let mut j = Judge::new();
    j.see(&put);
    j.see(&read);
    match a.mutability {
        Mutability::ReadWrite => {
            if j.status(&put, &[200]) && j.status(&read, &[200]) {
                for (ex, what) in [(&put, "the PUT response"), (&read, "GET")] {
                    let v = t.get(ex.body());
                    j.that(v.is_some_and(|v| holds(a, &sent, v)), || {
                        format!(
                            "{what}: {p} is {}, expected {sent}",
                            v.map_or("absent".into(), Value::to_string)
                        )
                    });
                }
            }
        }
        Mutability::ReadOnly => {
            if put.status == 400 {
                j.error_body(&put, &[]);
                j.note("refused with 400");
            } else if j.status(&put, &[200]) && j.status(&read, &[200]) {
                let v = t.get(read.body());
                j.that(!v.is_some_and(|v| holds(a, &sent, v)), || {
                    format!("GET {path}: {p} took the value {sent} sent by the client")
                });
            }
        }
        Mutability::WriteOnly => {
            if put.status == 400
                && a.name.eq_ignore_ascii_case("password")
                && !g.cx.disc.features.change_password
            {
                j.skip("changePassword.supported is false and the server refuses a password");
            } else if j.status(&put, &[200]) && j.status(&read, &[200]) {
                for (ex, what) in [(&put, "the PUT response"), (&read, "GET")] {
                    j.that(t.get(ex.body()).is_none(), || {
                        format!("{what}: the writeOnly {p} is returned")
                    });
                }
            }
        }
        Mutability::Immutable => {
            if j.status(&put, &[200]) {
                let other = g.value(a, None).unwrap_or(json!("other"));
                let mut b2 = minimal.clone();
                t.set(&mut b2, other);
                let again = g.cx.send_json(Method::PUT, path, &b2).await;
                j.scim_error(&again, &[400], &["mutability"]);
                let after = g.cx.get(path).await;
                j.see(&after);
                j.that(
                    t.get(after.body()).is_some_and(|v| holds(a, &sent, v)),
                    || format!("GET {path}: the immutable {p} changed"),
                );
            }
        }
    }
    g.cx.record_info(mi, j);
    let accepted = put.status == 200 && read.status == 200;

    // readOnly sub-attributes inside a writable complex value
    if a.kind == AttrType::Complex && a.mutability != Mutability::ReadOnly {
        for s in a
            .sub
            .iter()
            .filter(|s| s.mutability == Mutability::ReadOnly)
        {
            let si = info(
                rtn,
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
            let mut with = sent.clone();
            let bogus_v = json!("Conformance Bogus ReadOnly");
            let ok = match &mut with {
                Value::Object(o) => {
                    o.insert(s.name.clone(), bogus_v.clone());
                    true
                }
                Value::Array(arr) => arr
                    .first_mut()
                    .and_then(Value::as_object_mut)
                    .map(|o| {
                        o.insert(s.name.clone(), bogus_v.clone());
                    })
                    .is_some(),
                _ => false,
            };
            let mut j = Judge::new();
            if !ok {
                j.skip("no complex value to carry the sub-attribute");
            } else {
                let mut b = minimal.clone();
                t.set(&mut b, with);
                let px = g.cx.send_json(Method::PUT, path, &b).await;
                let rx = g.cx.get(path).await;
                if px.status == 400 {
                    j.see(&px);
                    j.error_body(&px, &[]);
                    j.note("refused with 400");
                } else if j.status(&px, &[200]) && j.status(&rx, &[200]) {
                    let text = t.get(rx.body()).map(Value::to_string).unwrap_or_default();
                    j.that(!text.contains("Conformance Bogus ReadOnly"), || {
                        format!(
                            "GET {path}: {p}.{} kept the value the client sent: {text}",
                            s.name
                        )
                    });
                }
                // Restore the attribute as first written.
                let _ = g.cx.send_json(Method::PUT, path, &body).await;
            }
            g.cx.record_info(si, j);
        }
    }

    // returned
    if let Some(ri) = returned_info(rtn, &p, a) {
        let mut j = Judge::new();
        if !accepted {
            j.skip(format!("the value could not be written ({})", got(&put)));
        } else {
            match a.returned {
                Returned::Never => {
                    for ex in [&put, &read] {
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
                            t.get(ex.body()).is_some() || t.get(read.body()).is_none(),
                            || format!("GET {}: {p} (returned always) is missing", ex.path),
                        );
                    }
                }
                Returned::Request => {
                    j.see(&read);
                    j.that(t.get(read.body()).is_none(), || {
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
                    j.see(&read);
                    if t.get(read.body()).is_none() {
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
        }
        g.cx.record_info(ri, j);
    }

    // caseExact, on the attribute and on its string sub-attributes
    let mut case_targets: Vec<(String, String, Attribute, Option<Value>)> = Vec::new();
    if filterable(a) {
        case_targets.push((p.clone(), t.path(), a.clone(), t.get(read.body()).cloned()));
    }
    if a.kind == AttrType::Complex {
        let stored = t.get(read.body()).cloned();
        for s in a.sub.iter().filter(|s| filterable(s) && !skip_sub(s)) {
            let first = stored.as_ref().map(|v| {
                if a.multi {
                    v.get(0).cloned().unwrap_or(Value::Null)
                } else {
                    v.clone()
                }
            });
            let sv = first.and_then(|f| f.get(s.name.as_str()).cloned());
            case_targets.push((
                format!("{p}.{}", s.name),
                format!("{}.{}", t.path(), s.name),
                s.clone(),
                sv,
            ));
        }
    }
    for (idp, fpath, attr, stored) in case_targets {
        let ci = case_info(rtn, &idp, &attr);
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
        match (stored.as_ref().and_then(Value::as_str), accepted) {
            (_, false) => j.skip(format!("the value could not be written ({})", got(&put))),
            (None, _) => j.skip(format!("{idp} was not stored as a string")),
            (Some(_), _) if !g.cx.disc.features.filter => j.skip("filter.supported is false"),
            (Some(v), _) => {
                let sent_v = sent_sub(&sent, a, &attr);
                if attr.case_exact {
                    if let Some(sv) = sent_v.as_deref() {
                        j.that(v == sv, || format!("GET {path}: {idp} is {v:?}, sent {sv:?}: a caseExact value must keep its case"));
                    }
                }
                let variant = if v.to_uppercase() != v {
                    v.to_uppercase()
                } else {
                    v.to_lowercase()
                };
                let exact = filter(g.cx, endpoint, id, &fpath, v).await;
                j.see(&exact);
                j.that(exact.status == 200 && total(&exact) == Some(1), || {
                    format!("GET {}: `{fpath} eq` with the stored value does not find the resource ({})", exact.path, got(&exact))
                });
                if variant != v {
                    let other = filter(g.cx, endpoint, id, &fpath, &variant).await;
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
        }
        g.cx.record_info(ci, j);
    }

    // uniqueness: another resource with the same value
    if a.uniqueness != Uniqueness::None && is_stringy(a) {
        let ui = info(rtn, &p, "uniqueness", "RFC 7644 §3.3", Level::Must,
            format!("{p} has uniqueness {:?}: a second resource with the same value answers 409 uniqueness", a.uniqueness));
        let ci = info(rtn, &p, "uniqueness-case", "RFC 7643 §2.2", Level::Should,
            format!("{p} is unique and caseExact false: a value differing only in case answers 409 uniqueness"));
        let stored = t
            .get(read.body())
            .and_then(Value::as_str)
            .map(str::to_string);
        match (accepted, stored) {
            (true, Some(v)) => {
                for (inf, value) in [(ui, v.clone()), (ci, v.to_uppercase())] {
                    if !g.cx.wants_info(&inf)
                        || (inf.id.ends_with("-case") && (a.case_exact || value == v))
                    {
                        continue;
                    }
                    let mut other = json!({"schemas": [rt.schema]});
                    // Fresh values for the other required attributes, the same value for this one.
                    fill_required(g, &mut other, minimal, t).await;
                    t.set(&mut other, json!(value));
                    let ex = g.cx.create(endpoint, &other).await;
                    let mut j = Judge::new();
                    j.scim_error(&ex, &[409], &["uniqueness"]);
                    g.cx.record_info(inf, j);
                }
            }
            _ => {
                g.cx.skip_info(
                    ui,
                    format!("the value could not be written ({})", got(&put)),
                );
            }
        }
    }

    // required: a create without it
    if a.required && a.mutability != Mutability::ReadOnly {
        let qi = info(
            rtn,
            &p,
            "required",
            "RFC 7643 §2.2",
            Level::Must,
            format!("{p} is required: a create without it answers 400"),
        );
        if g.cx.wants_info(&qi) {
            let mut without = json!({"schemas": [rt.schema]});
            fill_required(g, &mut without, minimal, t).await;
            match &t.ext {
                Some(u) => {
                    if let Some(o) = without[u.as_str()].as_object_mut() {
                        o.remove(&a.name);
                    }
                }
                None => {
                    if let Some(o) = without.as_object_mut() {
                        o.remove(&a.name);
                    }
                }
            }
            let ex = g.cx.create(endpoint, &without).await;
            let mut j = Judge::new();
            j.scim_error(&ex, &[400], &[]);
            g.cx.record_info(qi, j);
        }
    }
}

/// Copies into `body` fresh values for every required attribute of `minimal` other than `t`.
async fn fill_required(g: &mut Gen<'_>, body: &mut Value, minimal: &Value, t: &Target) {
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

/// The string sent for sub-attribute `s` of `a` (or for `a` itself).
fn sent_sub(sent: &Value, a: &Attribute, s: &Attribute) -> Option<String> {
    if std::ptr::eq(a, s) || a.name == s.name && a.kind != AttrType::Complex {
        let v = if a.multi { sent.get(0)? } else { sent };
        return v.as_str().map(str::to_string);
    }
    let v = if a.multi { sent.get(0)? } else { sent };
    v.get(s.name.as_str())?.as_str().map(str::to_string)
}

/// A value for a readOnly attribute that the server would never produce itself.
fn bogus(a: &Attribute) -> Option<Value> {
    let one = match a.kind {
        AttrType::Complex => {
            let mut o = Map::new();
            for s in &a.sub {
                if s.kind == AttrType::String && s.name != "$ref" {
                    o.insert(
                        s.name.clone(),
                        json!(format!("conformance-bogus-{}", s.name)),
                    );
                }
            }
            if o.is_empty() {
                return None;
            }
            Value::Object(o)
        }
        AttrType::String | AttrType::Reference | AttrType::Other => json!("conformance-bogus"),
        AttrType::Boolean => json!(true),
        AttrType::Integer => json!(424242),
        AttrType::Decimal => json!(4242.5),
        AttrType::DateTime => json!("2001-01-01T00:00:00Z"),
        AttrType::Binary => json!("Ym9ndXM="),
    };
    Some(if a.multi { json!([one]) } else { one })
}

async fn filter(cx: &Cx, endpoint: &str, id: &str, path: &str, value: &str) -> Exchange {
    let f = format!(
        "id eq \"{id}\" and {path} eq {}",
        Value::String(value.to_string())
    );
    cx.get(&format!("{endpoint}?filter={}", qs(&f))).await
}

fn total(ex: &Exchange) -> Option<u64> {
    ex.body()["totalResults"].as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(v: Value) -> Attribute {
        Attribute::from_json(&v).expect("an attribute")
    }

    #[test]
    fn holds_follows_case_exactness_and_types() {
        let ci = attr(json!({"name": "a", "type": "string"}));
        assert!(holds(&ci, &json!("Ab"), &json!("aB")));
        let ce = attr(json!({"name": "a", "type": "string", "caseExact": true}));
        assert!(!holds(&ce, &json!("Ab"), &json!("aB")));
        let dt = attr(json!({"name": "a", "type": "dateTime"}));
        assert!(holds(
            &dt,
            &json!("2021-02-03T04:05:06Z"),
            &json!("2021-02-03T05:05:06+01:00")
        ));
        let mv = attr(
            json!({"name": "emails", "type": "complex", "multiValued": true,
            "subAttributes": [{"name": "value", "type": "string"}, {"name": "type", "type": "string"}]}),
        );
        assert!(holds(
            &mv,
            &json!([{"value": "A@x"}]),
            &json!([{"value": "b"}, {"value": "a@X", "type": "work"}])
        ));
        assert!(!holds(
            &mv,
            &json!([{"value": "A@x"}, {"value": "c"}]),
            &json!([{"value": "a@x"}])
        ));
    }
}
