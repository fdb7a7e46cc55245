//! The SCIM endpoints of RFC 7644 §3: `/Users` and `/Groups` (create, read, list, search, replace,
//! patch, delete), each behind [`Scim`] authentication.

use std::sync::Arc;

use rocket::http::Status;
use rocket::{delete, get, patch, post, put, State};
use scim_core::Change;
use scim_proto::list::{ListQuery, RawListParams};
use scim_proto::resource::{self, Projection};
use scim_proto::schema::Kind;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::guards::{Body, Preconditions, Query, Scim};
use super::respond::Answer;
use crate::app::App;
use crate::config::MemberPatchAnswer;

/// The methods each kind of path takes, for `Allow`.
const COLLECTION: &str = "GET, POST";
const RESOURCE: &str = "GET, PUT, PATCH, DELETE";
const DISCOVERY: &str = "GET";
const BULK: &str = "POST";

/// What a first path segment names: a resource type, or an endpoint that takes no such method.
fn kind_of(app: &App, segment: &str) -> ApiResult<Kind> {
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
        Err(ApiError::NotImplemented(
            "/Me is not supported: this server has no user sign-in".into(),
        ))
    } else if is("Bulk") {
        Err(ApiError::MethodNotAllowed(BULK))
    } else if ["ServiceProviderConfig", "ResourceTypes", "Schemas"]
        .iter()
        .any(|n| is(n))
    {
        Err(ApiError::MethodNotAllowed(DISCOVERY))
    } else {
        Err(scim_core::Error::NotFound("no resource at this path".into()).into())
    }
}

fn projection(app: &App, kind: Kind, q: &Query) -> ApiResult<Projection> {
    Ok(Projection::parse(
        app.core.registry(),
        kind,
        &q.all("attributes"),
        &q.all("excludedAttributes"),
    )?)
}

#[get("/<rt>")]
pub async fn list(app: &State<Arc<App>>, scim: Scim, rt: &str, q: Query) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    let raw = RawListParams::from_pairs(&q.0);
    let query = ListQuery::parse(app.core.registry(), kind, &raw, app.config.max_results)?;
    Ok(Answer::scim_text(
        scim.dir.list(kind, &query, &scim.ctx).await?.into_text(),
    ))
}

/// `POST /{Users|Groups}/.search` (RFC 7644 §3.4.3).
#[post("/<rt>/.search", data = "<body>")]
pub async fn search(app: &State<Arc<App>>, scim: Scim, rt: &str, body: Body) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    let raw = search_params(&body.0?)?;
    let query = ListQuery::parse(app.core.registry(), kind, &raw, app.config.max_results)?;
    Ok(Answer::scim_text(
        scim.dir.list(kind, &query, &scim.ctx).await?.into_text(),
    ))
}

/// `POST /.search` (RFC 7644 §3.4.3): a search across every resource type.
#[post("/.search", data = "<body>")]
pub async fn search_root(app: &State<Arc<App>>, scim: Scim, body: Body) -> ApiResult<Answer> {
    let raw = search_params(&body.0?)?;
    let mut queries = Vec::new();
    let mut first_error = None;
    for kind in [Kind::User, Kind::Group] {
        match ListQuery::parse(app.core.registry(), kind, &raw, app.config.max_results) {
            Ok(q) => queries.push((kind, q)),
            // An attribute that one resource type does not define matches nothing there.
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if queries.is_empty() {
        return Err(first_error
            .unwrap_or_else(|| {
                scim_proto::Error::invalid_filter("the filter fits no resource type")
            })
            .into());
    }
    Ok(Answer::scim_text(
        scim.dir.search_all(&queries, &scim.ctx).await?.into_text(),
    ))
}

/// `POST /Bulk` (RFC 7644 §3.7).
#[post("/Bulk", data = "<body>")]
pub async fn bulk(app: &State<Arc<App>>, scim: Scim, body: Body) -> ApiResult<Answer> {
    let request = scim_proto::bulk::parse(
        &body.0?,
        app.config.bulk_max_operations,
        app.core.settings().strict,
    )?;
    let outcomes = scim.dir.bulk(&request, &scim.ctx).await;
    Ok(Answer::scim(super::bulk::response(
        &outcomes,
        &scim.ctx.base_url,
    )))
}

/// The parameters of a SearchRequest body.
fn search_params(body: &Value) -> ApiResult<RawListParams> {
    let obj = body.as_object().ok_or_else(|| {
        scim_proto::Error::invalid_syntax("a SearchRequest must be a JSON object")
    })?;
    let text = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(scim_proto::Error::invalid_value(
            "search parameters must be strings or numbers",
        )),
    };
    let list = |v: &Value| -> Result<Vec<String>, scim_proto::Error> {
        match v {
            Value::Array(items) => items.iter().map(text).collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(scim_proto::Error::invalid_value(
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
) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    let body = body.0?;
    let projection = projection(app, kind, &q)?;
    let r = scim.dir.create(kind, &body, &scim.ctx, &projection).await?;
    let location = format!("{}/{}/{}", scim.ctx.base_url, kind.endpoint(), r.id);
    Ok(Answer::scim_text(r.body.into_bytes())
        .with_status(Status::Created)
        .with_etag(resource::etag(r.version))
        .with_location(location))
}

#[get("/<rt>/<id>")]
pub async fn read(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    let projection = projection(app, kind, &q)?;
    let r = scim.dir.get(kind, id, &scim.ctx, &projection).await?;
    let etag = resource::etag(r.version);
    if pre
        .if_none_match
        .is_some_and(|tags| tags.matches(r.version))
    {
        return Ok(Answer::empty(Status::NotModified).with_etag(etag));
    }
    Ok(Answer::scim_text(r.body.into_bytes()).with_etag(etag))
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
) -> ApiResult<Answer> {
    let body = body.0?;
    change(app, scim, rt, id, q, pre, Change::Replace(&body)).await
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
) -> ApiResult<Answer> {
    let body = body.0?;
    change(app, scim, rt, id, q, pre, Change::Patch(&body)).await
}

/// PUT and PATCH: the same handling, a different change.
async fn change(
    app: &App,
    scim: Scim,
    rt: &str,
    id: &str,
    q: Query,
    pre: Preconditions,
    change: Change<'_>,
) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    // A member PATCH answered 204 (when so configured and no attributes are asked for) renders
    // the group without its members, which are then never read.
    let (attributes, excluded) = (q.all("attributes"), q.all("excludedAttributes"));
    let no_content = app.config.member_patch_answer == MemberPatchAnswer::NoContent
        && attributes.is_empty()
        && excluded.is_empty()
        && change.is_member_patch(kind, app.config.strict);
    let projection = if no_content {
        Projection::parse(app.core.registry(), kind, &[], &["members".to_string()])?
    } else {
        projection(app, kind, &q)?
    };
    let r = scim
        .dir
        .change(
            kind,
            id,
            change,
            pre.if_match.as_ref(),
            &scim.ctx,
            &projection,
        )
        .await?;
    let etag = resource::etag(r.version);
    if no_content {
        return Ok(Answer::empty(Status::NoContent).with_etag(etag));
    }
    Ok(Answer::scim_text(r.body.into_bytes()).with_etag(etag))
}

#[delete("/<rt>/<id>")]
pub async fn remove(
    app: &State<Arc<App>>,
    scim: Scim,
    rt: &str,
    id: &str,
    pre: Preconditions,
) -> ApiResult<Answer> {
    let kind = kind_of(app, rt)?;
    scim.dir
        .delete(kind, id, pre.if_match.as_ref(), &scim.ctx)
        .await?;
    Ok(Answer::empty(Status::NoContent))
}

/// Methods a collection does not take.
#[put("/<rt>", rank = 2)]
pub async fn collection_put(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> ApiResult<Answer> {
    kind_of(app, rt)?;
    Err(ApiError::MethodNotAllowed(COLLECTION))
}

#[patch("/<rt>", rank = 2)]
pub async fn collection_patch(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> ApiResult<Answer> {
    kind_of(app, rt)?;
    Err(ApiError::MethodNotAllowed(COLLECTION))
}

#[delete("/<rt>", rank = 2)]
pub async fn collection_delete(app: &State<Arc<App>>, _scim: Scim, rt: &str) -> ApiResult<Answer> {
    kind_of(app, rt)?;
    Err(ApiError::MethodNotAllowed(COLLECTION))
}

#[post("/<rt>/<_id>", rank = 2)]
pub async fn resource_post(
    app: &State<Arc<App>>,
    _scim: Scim,
    rt: &str,
    _id: &str,
) -> ApiResult<Answer> {
    kind_of(app, rt)?;
    Err(ApiError::MethodNotAllowed(RESOURCE))
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
