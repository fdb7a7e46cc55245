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

mod facets;
mod values;

use reqwest::Method;
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::discovery::{
    AttrType, Attribute, Mutability, ResourceType, Returned, Schema, Uniqueness, USER_SCHEMA,
};
use crate::http::Exchange;
use crate::judge::prerequisite;
use crate::model::{CheckInfo, Level};
use values::{bogus, external_id, skip_sub, Gen};

/// Where an attribute lives: the core schema (top level) or an extension (under its URN).
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// `None` for the core schema, else the extension URN.
    pub(super) ext: Option<String>,
    /// Label used in check ids: empty for the core schema, else the schema's name.
    pub(super) label: String,
    pub(super) attr: Attribute,
}

impl Target {
    pub(super) fn id_path(&self) -> String {
        if self.label.is_empty() {
            self.attr.name.clone()
        } else {
            format!("{}.{}", self.label, self.attr.name)
        }
    }

    /// The attribute path in filters and `attributes=`.
    pub(super) fn path(&self) -> String {
        match &self.ext {
            Some(u) => format!("{u}:{}", self.attr.name),
            None => self.attr.name.clone(),
        }
    }

    pub(super) fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
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

    pub(super) fn set(&self, body: &mut Value, value: Value) {
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

pub(super) fn info(
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
        attribute(&mut g, rt, &endpoint, (&path, &id), &minimal, t).await;
    }
    // Leave the resource minimal again for the cleanup.
    let _ = g.cx.send_json(Method::PUT, &path, &minimal).await;
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

pub(super) fn is_stringy(a: &Attribute) -> bool {
    matches!(a.kind, AttrType::String | AttrType::Reference) && !a.multi
}

pub(super) fn filterable(a: &Attribute) -> bool {
    matches!(a.kind, AttrType::String | AttrType::Reference)
        && a.returned != Returned::Never
        && a.mutability != Mutability::WriteOnly
        && a.mutability != Mutability::ReadOnly
}

pub(super) fn mutability_info(rt: &str, p: &str, a: &Attribute) -> CheckInfo {
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

pub(super) fn returned_info(rt: &str, p: &str, a: &Attribute) -> Option<CheckInfo> {
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

pub(super) fn case_info(rt: &str, p: &str, a: &Attribute) -> CheckInfo {
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

/// One attribute as written by its PUT: where, what was sent, and what came back.
pub(super) struct Written<'t> {
    /// The resource type's name.
    pub rt: String,
    /// The resource type's core schema URN.
    pub schema: String,
    /// The resource type's endpoint.
    pub endpoint: String,
    /// The test resource's path.
    pub path: String,
    /// The test resource's id.
    pub id: String,
    /// The smallest valid body of the resource type.
    pub minimal: Value,
    /// The attribute.
    pub t: &'t Target,
    /// The attribute's path in check ids.
    pub p: String,
    /// The body of the PUT (the minimal body plus the attribute).
    pub body: Value,
    /// The value written.
    pub sent: Value,
    /// The PUT.
    pub put: Exchange,
    /// The GET after it.
    pub read: Exchange,
}

impl Written<'_> {
    /// Whether the PUT and the GET after it answered 200.
    pub fn accepted(&self) -> bool {
        self.put.status == 200 && self.read.status == 200
    }
}

/// Writes attribute `t` on its own into the test resource, then derives every facet.
async fn attribute(
    g: &mut Gen<'_>,
    rt: &ResourceType,
    endpoint: &str,
    (path, id): (&str, &str),
    minimal: &Value,
    t: &Target,
) {
    let a = &t.attr;
    let p = t.id_path();
    let plan = planned(&rt.name, t);
    if !plan.iter().any(|i| g.cx.wants_info(i)) {
        return;
    }
    // The value to write: a bogus one for readOnly attributes; for a required immutable one,
    // the value it already has.
    let sent = match a.mutability {
        Mutability::ReadOnly => bogus(a),
        Mutability::Immutable if a.required => t.get(minimal).cloned(),
        _ => g.value(a, None),
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
    let mut body = minimal.clone();
    t.set(&mut body, sent.clone());
    let put = g.cx.send_json(Method::PUT, path, &body).await;
    let read = g.cx.get(path).await;
    let w = Written {
        rt: rt.name.clone(),
        schema: rt.schema.clone(),
        endpoint: endpoint.to_string(),
        path: path.to_string(),
        id: id.to_string(),
        minimal: minimal.clone(),
        t,
        p,
        body,
        sent,
        put,
        read,
    };
    facets::mutability(g, &w).await;
    facets::read_only_subs(g, &w).await;
    facets::returned(g, &w).await;
    facets::case_exact(g, &w).await;
    facets::uniqueness(g, &w).await;
    facets::required(g, &w).await;
}
