//! The SCIM endpoints of RFC 7644 §3: `/Users` and `/Groups` (create, read, list, search, replace,
//! patch, delete), each behind [`Scim`] authentication.

use std::sync::Arc;

use rocket::http::Status;
use rocket::{delete, get, patch, post, put, State};
use serde_json::Value;

use super::guards::{Body, Preconditions, Query, Scim};
use super::respond::ScimJson;
use crate::error::{Error, Result};
use crate::scim::list::{is_point_query, ListQuery, RawListParams};
use crate::scim::resource::{self, Projection};
use crate::scim::schema::Kind;
use crate::service::{self, App};

/// Runs service work on the blocking pool: storage may wait on locks and on the disk.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("worker failed: {e}")))?
}

/// Runs a point read: inline when `inline` (a few index entries and one small record, read from
/// sled's cache or at worst the page cache, take microseconds: less than the hop to the blocking
/// pool, which costs a third of a GET), else on the blocking pool.
async fn point_read<T: Send + 'static>(
    inline: bool,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    if inline {
        f()
    } else {
        blocking(f).await
    }
}

/// The methods each kind of path takes, for `Allow`.
const COLLECTION: &str = "GET, POST";
const RESOURCE: &str = "GET, PUT, PATCH, DELETE";
const DISCOVERY: &str = "GET";
const BULK: &str = "POST";

/// What a first path segment names: a resource type, or an endpoint that takes no such method.
fn kind_of(app: &App, segment: &str) -> Result<Kind> {
    let is = |name: &str| {
        if app.config.strict {
            segment == name
        } else {
            segment.eq_ignore_ascii_case(name)
        }
    };
    if let Some(kind) = Kind::from_endpoint(segment, app.config.strict) {
        Ok(kind)
    } else if is("Me") {
        Err(Error::NotImplemented(
            "/Me is not supported: this server has no user sign-in".into(),
        ))
    } else if is("Bulk") {
        Err(Error::MethodNotAllowed(BULK))
    } else if ["ServiceProviderConfig", "ResourceTypes", "Schemas"]
        .iter()
        .any(|n| is(n))
    {
        Err(Error::MethodNotAllowed(DISCOVERY))
    } else {
        Err(Error::NotFound("no resource at this path".into()))
    }
}

fn projection(app: &App, kind: Kind, q: &Query) -> Result<Projection> {
    Ok(Projection::parse(
        &app.registry,
        kind,
        &q.all("attributes"),
        &q.all("excludedAttributes"),
    )?)
}

#[get("/<rt>")]
pub async fn list(app: &State<Arc<App>>, scim: Scim, rt: &str, q: Query) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let raw = RawListParams::from_pairs(&q.0);
    let query = ListQuery::parse(&app.registry, kind, &raw, app.config.max_results)?;
    let inline = kind == Kind::User && is_point_query(&app.registry, kind, &query);
    let app = Arc::clone(app);
    let body = point_read(inline, move || app.list(kind, &query, &scim.ctx)).await?;
    Ok(ScimJson::ok(body))
}

/// `POST /{Users|Groups}/.search` (RFC 7644 §3.4.3).
#[post("/<rt>/.search", data = "<body>")]
pub async fn search(app: &State<Arc<App>>, scim: Scim, rt: &str, body: Body) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let raw = search_params(&body.0?)?;
    let query = ListQuery::parse(&app.registry, kind, &raw, app.config.max_results)?;
    let app = Arc::clone(app);
    let body = blocking(move || app.list(kind, &query, &scim.ctx)).await?;
    Ok(ScimJson::ok(body))
}

/// `POST /.search` (RFC 7644 §3.4.3): a search across every resource type.
#[post("/.search", data = "<body>")]
pub async fn search_root(app: &State<Arc<App>>, scim: Scim, body: Body) -> Result<ScimJson> {
    let raw = search_params(&body.0?)?;
    let mut queries = Vec::new();
    let mut first_error = None;
    for kind in [Kind::User, Kind::Group] {
        match ListQuery::parse(&app.registry, kind, &raw, app.config.max_results) {
            Ok(q) => queries.push((kind, q)),
            // An attribute that one resource type does not define matches nothing there.
            Err(e) => first_error = first_error.or(Some(Error::from(e))),
        }
    }
    if queries.is_empty() {
        return Err(first_error
            .unwrap_or_else(|| Error::invalid_filter("the filter fits no resource type")));
    }
    let app = Arc::clone(app);
    let body = blocking(move || app.search_all(&queries, &scim.ctx)).await?;
    Ok(ScimJson::ok(body))
}

/// `POST /Bulk` (RFC 7644 §3.7).
#[post("/Bulk", data = "<body>")]
pub async fn bulk(app: &State<Arc<App>>, scim: Scim, body: Body) -> Result<ScimJson> {
    let request =
        crate::scim::bulk::parse(&body.0?, app.config.bulk_max_operations, app.config.strict)?;
    let app = Arc::clone(app);
    let body = blocking(move || Ok(app.bulk(&request, &scim.ctx))).await?;
    Ok(ScimJson::ok(body))
}

/// The parameters of a SearchRequest body.
fn search_params(body: &Value) -> Result<RawListParams> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let text = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Error::invalid_value(
            "search parameters must be strings or numbers",
        )),
    };
    let list = |v: &Value| -> Result<Vec<String>> {
        match v {
            Value::Array(items) => items.iter().map(text).collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(Error::invalid_value(
                "attributes must be an array of strings",
            )),
        }
    };
    let mut raw = RawListParams::default();
    for (k, v) in obj {
        match k.to_ascii_lowercase().as_str() {
            "filter" => raw.filter = Some(text(v)?),
            "startindex" => raw.start_index = Some(text(v)?),
            "count" => raw.count = Some(text(v)?),
            "sortby" => raw.sort_by = Some(text(v)?),
            "sortorder" => raw.sort_order = Some(text(v)?),
            "attributes" => raw.attributes = list(v)?,
            "excludedattributes" => raw.excluded_attributes = list(v)?,
            _ => {}
        }
    }
    Ok(raw)
}

#[post("/<rt>", data = "<body>")]
pub async fn create(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    q: Query,
    body: Body,
) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let body = body.0?;
    let projection = projection(app, kind, &q)?;
    let app = Arc::clone(app);
    let ctx = scim.ctx.clone();
    let r = blocking(move || app.create(kind, &body, &ctx, &projection)).await?;
    let location = format!("{}/{}/{}", scim.ctx.base_url, kind.endpoint(), r.id);
    Ok(ScimJson {
        status: Status::Created,
        body: Some(r.body),
        etag: Some(resource::etag(r.version)),
        location: Some(location),
    })
}

#[get("/<rt>/<id>")]
pub async fn read(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let projection = projection(app, kind, &q)?;
    let (app, id) = (Arc::clone(app), id.to_string());
    // A user is one small record; a group renders every member, so it takes the blocking pool.
    let inline = kind == Kind::User;
    let r = point_read(inline, move || app.get(kind, &id, &scim.ctx, &projection)).await?;
    let etag = resource::etag(r.version);
    if service::none_match(pre.if_none_match.as_deref(), r.version) {
        return Ok(ScimJson {
            status: Status::NotModified,
            body: None,
            etag: Some(etag),
            location: None,
        });
    }
    Ok(ScimJson::ok(r.body).with_etag(etag))
}

/// The two ways to change a resource.
#[derive(Clone, Copy)]
enum Change {
    Replace,
    Patch,
}

/// PUT and PATCH: the same request handling, a different service operation.
#[allow(clippy::too_many_arguments)]
async fn change(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
    body: Body,
    how: Change,
) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let body = body.0?;
    let projection = projection(app, kind, &q)?;
    let (app, id) = (Arc::clone(app), id.to_string());
    let r = blocking(move || {
        let if_match = pre.if_match.as_deref();
        match how {
            Change::Replace => app.replace(kind, &id, &body, if_match, &scim.ctx, &projection),
            Change::Patch => app.patch(kind, &id, &body, if_match, &scim.ctx, &projection),
        }
    })
    .await?;
    Ok(ScimJson::ok(r.body).with_etag(resource::etag(r.version)))
}

#[put("/<rt>/<id>", data = "<body>")]
pub async fn replace(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
    body: Body,
) -> Result<ScimJson> {
    change(app, scim, rt, id, q, pre, body, Change::Replace).await
}

#[patch("/<rt>/<id>", data = "<body>")]
pub async fn modify(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
    body: Body,
) -> Result<ScimJson> {
    change(app, scim, rt, id, q, pre, body, Change::Patch).await
}

#[delete("/<rt>/<id>")]
pub async fn remove(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    pre: Preconditions,
) -> Result<ScimJson> {
    let kind = kind_of(app, rt)?;
    let (app, id) = (Arc::clone(app), id.to_string());
    blocking(move || app.delete(kind, &id, pre.if_match.as_deref(), &scim.ctx)).await?;
    Ok(ScimJson {
        status: Status::NoContent,
        body: None,
        etag: None,
        location: None,
    })
}

/// Methods a collection does not take.
#[put("/<rt>", rank = 2)]
pub async fn collection_put(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> Result<ScimJson> {
    kind_of(app, rt)?;
    Err(Error::MethodNotAllowed(COLLECTION))
}

#[patch("/<rt>", rank = 2)]
pub async fn collection_patch(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> Result<ScimJson> {
    kind_of(app, rt)?;
    Err(Error::MethodNotAllowed(COLLECTION))
}

#[delete("/<rt>", rank = 2)]
pub async fn collection_delete(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> Result<ScimJson> {
    kind_of(app, rt)?;
    Err(Error::MethodNotAllowed(COLLECTION))
}

#[post("/<rt>/<_id>", rank = 2)]
pub async fn resource_post(
    app: &State<Arc<App>>,
    _scim: Scim,
    rt: &str,
    _id: &str,
) -> Result<ScimJson> {
    kind_of(app, rt)?;
    Err(Error::MethodNotAllowed(RESOURCE))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![
        list,
        search,
        search_root,
        bulk,
        create,
        read,
        replace,
        modify,
        remove,
        collection_put,
        collection_patch,
        collection_delete,
        resource_post
    ]
}
