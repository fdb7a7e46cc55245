//! Records as clients see them: the canonical document with `id`, `meta`, and `groups` (a user)
//! or `members` (a group), then projected. The related values are read through the store (for
//! a request) or a [`Lookup`] (inside an engine's query); both build the same JSON here.

use scim_proto::resource::{self, Meta, Projection};
use scim_proto::schema::Registry;
use serde_json::{Map, Value};

use crate::model::{rfc3339, Kind, Member, Record};
use crate::store::{Lookup, StoreError};

/// The name of the attribute that holds a kind's relations: `groups` or `members`.
pub fn related_name(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "groups",
        Kind::Group => "members",
    }
}

/// A member as the group document holds it: `value`, `display`, `type`.
pub fn member_json(m: &Member) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.value.clone()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    o.insert(
        "type".into(),
        Value::String(Kind::from(m.kind).name().to_string()),
    );
    Value::Object(o)
}

/// The canonical document with `members` put back (groups), as PATCH and diffs see it.
pub fn with_members(doc: &Value, members: Option<&[Member]>) -> Value {
    let mut doc = doc.clone();
    if let (Some(members), Value::Object(o)) = (members, &mut doc) {
        if !members.is_empty() {
            o.insert(
                "members".into(),
                Value::Array(members.iter().map(member_json).collect()),
            );
        }
    }
    doc
}

/// A group's `members` as rendered: each with its `$ref`.
pub fn members_value(members: &[Member], base: &str) -> Value {
    Value::Array(
        members
            .iter()
            .map(|m| {
                let mut v = member_json(m);
                if let Value::Object(o) = &mut v {
                    o.insert(
                        "$ref".into(),
                        Value::String(format!(
                            "{base}/{}/{}",
                            Kind::from(m.kind).endpoint(),
                            m.value
                        )),
                    );
                }
                v
            })
            .collect(),
    )
}

/// A user's `groups` as rendered, from each group's id and display name.
pub fn groups_value(groups: Vec<(String, Option<Value>)>, base: &str) -> Value {
    Value::Array(
        groups
            .into_iter()
            .map(|(gid, display)| {
                let mut g = Map::new();
                g.insert("value".into(), Value::String(gid.clone()));
                g.insert("$ref".into(), Value::String(format!("{base}/Groups/{gid}")));
                if let Some(d) = display {
                    g.insert("display".into(), d);
                }
                g.insert("type".into(), Value::String("direct".into()));
                Value::Object(g)
            })
            .collect(),
    )
}

/// A group's display name as its record holds it.
pub fn group_display(record: &Record) -> Option<Value> {
    record.doc.get("displayName").cloned()
}

/// `groups` or `members` of a record, read through a [`Lookup`].
pub fn related_from(
    lookup: &dyn Lookup,
    kind: Kind,
    id: &str,
    base: &str,
) -> Result<Value, StoreError> {
    match kind {
        Kind::User => {
            let mut groups = Vec::new();
            for gid in lookup.groups_of(id)? {
                let display = lookup
                    .record(Kind::Group, &gid)?
                    .and_then(|g| group_display(&g));
                groups.push((gid, display));
            }
            Ok(groups_value(groups, base))
        }
        Kind::Group => Ok(members_value(&lookup.members(id)?, base)),
    }
}

/// The full representation of a record with its related values, projected.
pub fn resource(
    registry: &Registry,
    kind: Kind,
    record: Record,
    related: Option<Value>,
    base_url: &str,
    projection: &Projection,
) -> Value {
    let meta = Meta {
        created: rfc3339(record.created),
        last_modified: rfc3339(record.last_modified),
        version: record.version,
    };
    let full = resource::render(
        registry, kind, &record.id, record.doc, &meta, related, base_url,
    );
    projection.apply(registry, kind, full)
}
