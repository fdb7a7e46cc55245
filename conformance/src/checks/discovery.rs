//! Discovery (RFC 7644 §4, RFC 7643 §5–7): the three documents exist, are well formed and agree
//! with each other. Whether what they advertise works is checked by each feature's group.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cx::Cx;
use crate::discovery::{
    AttrType, Attribute, Features, ResourceType, Schema, LIST_RESPONSE, RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA, SPC_SCHEMA,
};
use crate::http::{Exchange, Req};
use crate::judge::Judge;
use crate::model::CheckDef;

check!(
    SPC_GET,
    "discovery.spc.get",
    "RFC 7644 §4",
    Must,
    "GET /ServiceProviderConfig answers 200 with the ServiceProviderConfig schema",
    ["discovery"]
);
check!(SPC_ATTRIBUTES, "discovery.spc.attributes", "RFC 7643 §5", Must,
    "ServiceProviderConfig has patch, bulk, filter, changePassword, sort, etag (each with a boolean \"supported\"), bulk and filter limits, and authenticationSchemes", ["discovery"]);
check!(SPC_FILTER_403, "discovery.filter-403", "RFC 7644 §4", Should,
    "a filter on a discovery endpoint (/ServiceProviderConfig, /Schemas, /ResourceTypes) answers 403", ["discovery"]);
check!(TYPES_LIST, "discovery.resource-types.list", "RFC 7644 §4", Must,
    "GET /ResourceTypes answers a ListResponse of ResourceTypes, each with name, endpoint and schema", ["discovery"]);
check!(
    TYPES_BY_ID,
    "discovery.resource-types.by-id",
    "RFC 7644 §4",
    Must,
    "GET /ResourceTypes/{id} answers that ResourceType",
    ["discovery"]
);
check!(
    TYPES_SCHEMAS,
    "discovery.resource-types.schemas-published",
    "RFC 7643 §6",
    Must,
    "every schema and schema extension a ResourceType names is published in /Schemas",
    ["discovery"]
);
check!(
    TYPES_ENDPOINTS,
    "discovery.resource-types.endpoints-answer",
    "RFC 7644 §3.4.2",
    Must,
    "every advertised resource type endpoint answers GET with a ListResponse (or 400 tooMany)",
    ["discovery"]
);
check!(
    SCHEMAS_LIST,
    "discovery.schemas.list",
    "RFC 7644 §4",
    Must,
    "GET /Schemas answers a ListResponse of Schemas, each with id and attributes",
    ["discovery"]
);
check!(
    SCHEMAS_BY_ID,
    "discovery.schemas.by-id",
    "RFC 7644 §4",
    Must,
    "GET /Schemas/{urn} answers that Schema",
    ["discovery"]
);
check!(SCHEMAS_WELL_FORMED, "discovery.schemas.attributes-well-formed", "RFC 7643 §7", Must,
    "every attribute definition has a name, a known type, and known mutability, returned and uniqueness values", ["discovery", "schema"]);
check!(
    UNKNOWN_404,
    "discovery.unknown-id-404",
    "RFC 7644 §3.12",
    Must,
    "an unknown /ResourceTypes/{id} or /Schemas/{id} answers 404 with a SCIM Error",
    ["discovery", "errors"]
);
check!(READ_ONLY, "discovery.read-only-405", "RFC 7644 §4", Should,
    "POST, PUT, PATCH and DELETE on the discovery endpoints are refused with 405 Method Not Allowed", ["discovery", "errors"]);
check!(
    ALLOW_405,
    "errors.405-allow-header",
    "RFC 9110 §15.5.6",
    Must,
    "every 405 response carries an Allow header listing the methods the resource supports",
    ["errors"]
);

/// The checks of this group.
pub const CHECKS: &[CheckDef] = &[
    SPC_GET,
    SPC_ATTRIBUTES,
    SPC_FILTER_403,
    TYPES_LIST,
    TYPES_BY_ID,
    TYPES_SCHEMAS,
    TYPES_ENDPOINTS,
    SCHEMAS_LIST,
    SCHEMAS_BY_ID,
    SCHEMAS_WELL_FORMED,
    UNKNOWN_404,
    READ_ONLY,
    ALLOW_405,
];

/// Runs discovery and fills `cx.disc`; other groups depend on it, so it always runs its
/// requests (selection only decides what is recorded).
pub async fn run(cx: &mut Cx) {
    let spc = cx.get("/ServiceProviderConfig").await;
    let mut j = Judge::new();
    if j.status(&spc, &[200]) && j.json_object(&spc) {
        j.scim_media(&spc);
        j.has_schema(&spc, SPC_SCHEMA);
    }
    let spc_ok = spc.status == 200 && spc.body().is_object();
    cx.record(&SPC_GET, j);
    if spc_ok {
        cx.disc.spc = spc.body().clone();
        cx.disc.features = Features::from_spc(spc.body());
        cx.record(&SPC_ATTRIBUTES, spc_attributes(&spc));
    } else {
        cx.skip(&SPC_ATTRIBUTES, "no ServiceProviderConfig");
    }

    let types = cx.get("/ResourceTypes").await;
    let mut j = Judge::new();
    let list = list_of(&mut j, &types);
    for rt in &list {
        if ResourceType::from_json(rt).is_none() {
            j.fail(format!(
                "GET /ResourceTypes: a ResourceType without endpoint or schema: {rt}"
            ));
        }
        if !crate::judge::schemas_of(rt)
            .iter()
            .any(|s| s == RESOURCE_TYPE_SCHEMA)
        {
            j.fail(format!(
                "GET /ResourceTypes: expected each ResourceType to carry the schema {RESOURCE_TYPE_SCHEMA}: {}",
                rt["id"]
            ));
        }
    }
    j.that(!list.is_empty(), || {
        "GET /ResourceTypes: no resource type".to_string()
    });
    cx.record(&TYPES_LIST, j);
    cx.disc.resource_types = list.iter().filter_map(ResourceType::from_json).collect();

    let schemas = cx.get("/Schemas").await;
    let mut j = Judge::new();
    let list = list_of(&mut j, &schemas);
    for s in &list {
        if Schema::from_json(s).is_none() || !s["attributes"].is_array() {
            j.fail(format!(
                "GET /Schemas: a Schema without id or attributes: {}",
                s["id"]
            ));
        }
    }
    j.that(!list.is_empty(), || "GET /Schemas: no schema".to_string());
    cx.record(&SCHEMAS_LIST, j);
    cx.disc.schemas = list.iter().filter_map(Schema::from_json).collect();
    cx.discovered = spc_ok && !cx.disc.resource_types.is_empty() && !cx.disc.schemas.is_empty();

    if cx.wants(&SCHEMAS_WELL_FORMED) {
        let mut j = Judge::new();
        j.see(&schemas);
        for s in &list {
            for a in s["attributes"].as_array().into_iter().flatten() {
                well_formed(&mut j, s["id"].as_str().unwrap_or("?"), "", a);
            }
        }
        if list.is_empty() {
            j.skip("no schema published");
        }
        cx.record(&SCHEMAS_WELL_FORMED, j);
    }

    by_id(cx).await;
    schemas_published(cx);
    endpoints_answer(cx).await;
    unknown_ids(cx).await;
    filter_403(cx).await;
    read_only(cx).await;
}

fn spc_attributes(spc: &Exchange) -> Judge {
    let mut j = Judge::new();
    j.see(spc);
    let b = spc.body();
    for k in ["patch", "bulk", "filter", "changePassword", "sort", "etag"] {
        j.that(b[k]["supported"].is_boolean(), || {
            format!(
                "GET /ServiceProviderConfig: expected \"{k}\" with a boolean \"supported\", got {}",
                b[k]
            )
        });
    }
    for (k, sub) in [
        ("bulk", "maxOperations"),
        ("bulk", "maxPayloadSize"),
        ("filter", "maxResults"),
    ] {
        if b[k]["supported"].as_bool() == Some(true) {
            j.that(b[k][sub].is_u64(), || {
                format!(
                    "GET /ServiceProviderConfig: expected an integer {k}.{sub}, got {}",
                    b[k][sub]
                )
            });
        }
    }
    let schemes = b["authenticationSchemes"].as_array();
    j.that(schemes.is_some_and(|s| !s.is_empty()), || {
        format!(
            "GET /ServiceProviderConfig: expected a non-empty authenticationSchemes, got {}",
            b["authenticationSchemes"]
        )
    });
    for s in schemes.into_iter().flatten() {
        for k in ["type", "name", "description"] {
            j.that(s[k].is_string(), || {
                format!("GET /ServiceProviderConfig: an authentication scheme without \"{k}\": {s}")
            });
        }
    }
    j
}

/// The `Resources` of a ListResponse, checking status, media type and schema on the way.
fn list_of(j: &mut Judge, ex: &Exchange) -> Vec<Value> {
    if !j.status(ex, &[200]) || !j.json_object(ex) {
        return Vec::new();
    }
    j.scim_media(ex);
    j.has_schema(ex, LIST_RESPONSE);
    let r = ex.body()["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = ex.body()["totalResults"].as_u64();
    j.that(
        total == Some(r.len() as u64) || total.is_some_and(|t| t > r.len() as u64),
        || {
            format!(
            "{} {}: expected an integer totalResults of at least {} (the Resources listed), got {}",
            ex.method, ex.path, r.len(), ex.body()["totalResults"]
        )
        },
    );
    r
}

fn well_formed(j: &mut Judge, schema: &str, parent: &str, a: &Value) {
    let name = a["name"].as_str().unwrap_or("");
    let here = format!("{schema}:{parent}{name}");
    j.that(!name.is_empty(), || {
        format!("{schema}: an attribute without a name: {a}")
    });
    let ty = a["type"].as_str().unwrap_or("");
    j.that(
        [
            "string",
            "boolean",
            "decimal",
            "integer",
            "dateTime",
            "binary",
            "reference",
            "complex",
        ]
        .contains(&ty),
        || format!("{here}: type {:?} is not an RFC 7643 §2.3 type", a["type"]),
    );
    for (k, allowed) in [
        (
            "mutability",
            &["readOnly", "readWrite", "immutable", "writeOnly"][..],
        ),
        ("returned", &["always", "never", "default", "request"][..]),
        ("uniqueness", &["none", "server", "global"][..]),
    ] {
        if let Some(v) = a.get(k) {
            j.that(v.as_str().is_some_and(|v| allowed.contains(&v)), || {
                format!("{here}: {k} {v} is not one of {}", allowed.join(", "))
            });
        }
    }
    if let Some(attr) = Attribute::from_json(a) {
        if attr.kind == AttrType::Complex {
            j.that(a["subAttributes"].is_array(), || {
                format!("{here}: a complex attribute without subAttributes")
            });
        }
    }
    for s in a["subAttributes"].as_array().into_iter().flatten() {
        well_formed(j, schema, &format!("{parent}{name}."), s);
    }
}

async fn by_id(cx: &mut Cx) {
    let mut j = Judge::new();
    let ids: Vec<String> = cx
        .disc
        .resource_types
        .iter()
        .map(|r| r.id.clone())
        .collect();
    for id in &ids {
        let ex = cx.get(&format!("/ResourceTypes/{id}")).await;
        if j.status(&ex, &[200]) && j.json_object(&ex) {
            j.scim_media(&ex);
            j.that(
                ex.str("id") == Some(id) || ex.str("name") == Some(id),
                || {
                    format!(
                        "GET /ResourceTypes/{id}: expected that ResourceType, got {}",
                        crate::judge::got(&ex)
                    )
                },
            );
        }
    }
    if ids.is_empty() {
        j.skip("no resource type listed");
    }
    cx.record(&TYPES_BY_ID, j);

    let mut j = Judge::new();
    let ids: Vec<String> = cx.disc.schemas.iter().map(|s| s.id.clone()).collect();
    for id in &ids {
        let ex = cx.get(&format!("/Schemas/{id}")).await;
        if j.status(&ex, &[200]) && j.json_object(&ex) {
            j.scim_media(&ex);
            j.that(ex.str("id") == Some(id), || {
                format!(
                    "GET /Schemas/{id}: expected that Schema, got {}",
                    crate::judge::got(&ex)
                )
            });
            let carries = crate::judge::schemas_of(ex.body())
                .iter()
                .any(|s| s == SCHEMA_SCHEMA);
            j.that(carries, || {
                format!("GET /Schemas/{id}: expected \"schemas\" to contain {SCHEMA_SCHEMA}")
            });
        }
    }
    if ids.is_empty() {
        j.skip("no schema listed");
    }
    cx.record(&SCHEMAS_BY_ID, j);
}

fn schemas_published(cx: &mut Cx) {
    let mut j = Judge::new();
    for rt in &cx.disc.resource_types {
        let mut urns = vec![rt.schema.clone()];
        urns.extend(rt.extensions.iter().map(|(u, _)| u.clone()));
        for urn in urns {
            j.that(cx.disc.schema(&urn).is_some(), || {
                format!(
                    "ResourceType {} names {urn}, which GET /Schemas does not list",
                    rt.id
                )
            });
        }
    }
    if cx.disc.resource_types.is_empty() {
        j.skip("no resource type listed");
    }
    cx.record(&TYPES_SCHEMAS, j);
}

async fn endpoints_answer(cx: &mut Cx) {
    if !cx.wants(&TYPES_ENDPOINTS) {
        return;
    }
    let mut j = Judge::new();
    let endpoints: Vec<String> = cx
        .disc
        .resource_types
        .iter()
        .map(|r| r.endpoint.clone())
        .collect();
    for e in &endpoints {
        let ex = cx.get(&format!("{e}?count=1")).await;
        if ex.status == 400 {
            j.error_body(&ex, &["tooMany"]);
        } else if j.status(&ex, &[200]) && j.json_object(&ex) {
            j.has_schema(&ex, LIST_RESPONSE);
        }
    }
    if endpoints.is_empty() {
        j.skip("no resource type listed");
    }
    cx.record(&TYPES_ENDPOINTS, j);
}

async fn unknown_ids(cx: &mut Cx) {
    if !cx.wants(&UNKNOWN_404) {
        return;
    }
    let mut j = Judge::new();
    for p in [
        "/ResourceTypes/ConformanceNoSuchType",
        "/Schemas/urn:example:conformance:no-such-schema",
    ] {
        let ex = cx.get(p).await;
        j.scim_error(&ex, &[404], &[]);
    }
    cx.record(&UNKNOWN_404, j);
}

async fn filter_403(cx: &mut Cx) {
    if !cx.wants(&SPC_FILTER_403) {
        return;
    }
    let mut j = Judge::new();
    for p in [
        "/ServiceProviderConfig?filter=patch.supported%20eq%20true",
        "/Schemas?filter=id%20pr",
        "/ResourceTypes?filter=name%20pr",
    ] {
        let ex = cx.get(p).await;
        j.scim_error(&ex, &[403], &[]);
    }
    cx.record(&SPC_FILTER_403, j);
}

async fn read_only(cx: &mut Cx) {
    if !cx.wants_any(&[READ_ONLY, ALLOW_405]) {
        return;
    }
    let mut j = Judge::new();
    let mut allow = Judge::new();
    let body = json!({"schemas": [SPC_SCHEMA]});
    for p in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let req = if m == Method::DELETE {
                Req::new(m, p)
            } else {
                Req::json(m, p, &body)
            };
            let ex = cx.send(req).await;
            j.scim_error(&ex, &[405], &[]);
            if ex.status == 405 {
                allow.see(&ex);
                allow.that(ex.header("allow").is_some(), || {
                    format!("{} {p}: a 405 without an Allow header", ex.method)
                });
            }
        }
    }
    cx.record(&READ_ONLY, j);
    if allow.ok() && !j_seen_405(&allow) {
        allow.skip("no 405 was answered");
    }
    cx.record(&ALLOW_405, allow);
}

/// Whether the judge looked at any exchange (a 405 was seen).
fn j_seen_405(j: &Judge) -> bool {
    j.seen() > 0
}
