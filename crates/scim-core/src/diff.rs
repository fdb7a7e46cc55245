//! Revision diffs: which attributes a change touched, with their values before and after.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use crate::model::AttributeChange;

/// A document's attribute as [`diff`] names it, borrowed from the document, with its place.
struct Attribute<'d> {
    /// `urn:...:name` for an attribute of an extension.
    name: Cow<'d, str>,
    value: &'d Value,
    /// Its top-level name and, inside an extension, its own.
    top: &'d str,
    inner: Option<&'d str>,
}

/// Every attribute of `doc` but `schemas`, each of an extension (an object under a name with a
/// `:`) on its own. Borrowed: a group's member list can hold thousands of entries.
fn attributes(doc: &Value) -> Vec<Attribute<'_>> {
    let mut out = Vec::new();
    if let Value::Object(o) = doc {
        for (k, v) in o {
            if k == "schemas" {
                continue;
            }
            match v {
                Value::Object(inner) if k.contains(':') => {
                    for (ik, iv) in inner {
                        out.push(Attribute {
                            name: Cow::Owned(format!("{k}:{ik}")),
                            value: iv,
                            top: k,
                            inner: Some(ik),
                        });
                    }
                }
                _ => out.push(Attribute {
                    name: Cow::Borrowed(k),
                    value: v,
                    top: k,
                    inner: None,
                }),
            }
        }
    }
    out
}

/// The ids of a `members` value.
fn ids(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m.get("value")?.as_str()).collect())
        .unwrap_or_default()
}

/// `ids` as a change records them: none is no value.
fn id_values<'a>(ids: impl Iterator<Item = &'a str>) -> Option<Value> {
    let ids: Vec<Value> = ids.map(|id| Value::String(id.to_string())).collect();
    (!ids.is_empty()).then_some(Value::Array(ids))
}

/// The attributes that differ between two documents, with their values. Extension attributes are
/// named `urn:...:name`; for `members`, `before` lists the ids removed and `after` those added.
pub fn diff(before: &Value, after: &Value) -> Vec<AttributeChange> {
    let (b, a) = (attributes(before), attributes(after));
    let mut names: Vec<&str> = b
        .iter()
        .chain(a.iter())
        .map(|attribute| attribute.name.as_ref())
        .collect();
    names.sort_unstable();
    names.dedup();
    fn find<'v>(list: &[Attribute<'v>], name: &str) -> Option<&'v Value> {
        list.iter().find(|a| a.name == name).map(|a| a.value)
    }
    let mut changes = Vec::new();
    for name in names {
        let (old, new) = (find(&b, name), find(&a, name));
        if old == new {
            continue;
        }
        if name == "members" {
            let (old_ids, new_ids) = (ids(old), ids(new));
            let (old_set, new_set): (HashSet<&str>, HashSet<&str>) = (
                old_ids.iter().copied().collect(),
                new_ids.iter().copied().collect(),
            );
            changes.push(AttributeChange {
                attribute: name.to_string(),
                before: id_values(old_ids.into_iter().filter(|i| !new_set.contains(i))),
                after: id_values(new_ids.into_iter().filter(|i| !old_set.contains(i))),
            });
            continue;
        }
        changes.push(AttributeChange {
            attribute: name.to_string(),
            before: old.cloned(),
            after: new.cloned(),
        });
    }
    changes
}

/// Which side of a change a whole document is: a resource deleted (its values before) or
/// created (its values after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

/// [`diff`] of a whole document against nothing (`diff(&doc, &Value::Null)` for
/// [`Side::Before`], `diff(&Value::Null, &doc)` for [`Side::After`]), with the values moved out
/// of `doc` instead of copied: what a create or a delete records.
pub fn whole(mut doc: Value, side: Side) -> Vec<AttributeChange> {
    // Where each attribute is, named and ordered as `diff` does: sorted, and the first of a name
    // where two flatten alike.
    let mut places: Vec<(String, String, Option<String>)> = attributes(&doc)
        .into_iter()
        .map(|a| {
            (
                a.name.into_owned(),
                a.top.to_string(),
                a.inner.map(str::to_string),
            )
        })
        .collect();
    places.sort_by(|a, b| a.0.cmp(&b.0));
    places.dedup_by(|later, first| later.0 == first.0);
    places
        .into_iter()
        .map(|(attribute, top, inner)| {
            let place = doc.get_mut(top.as_str());
            let place = match &inner {
                Some(inner) => place.and_then(|o| o.get_mut(inner.as_str())),
                None => place,
            };
            let value = place.map(Value::take).unwrap_or_default();
            let value = if attribute == "members" {
                id_values(ids(Some(&value)).into_iter())
            } else {
                Some(value)
            };
            let (before, after) = match side {
                Side::Before => (value, None),
                Side::After => (None, value),
            };
            AttributeChange {
                attribute,
                before,
                after,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_attributes_and_member_deltas() {
        let before = json!({"schemas": [], "userName": "a", "title": "x",
            "urn:x:ext": {"department": "d1"}, "members": [{"value": "1"}, {"value": "2"}]});
        let after = json!({"schemas": [], "userName": "a", "active": true,
            "urn:x:ext": {"department": "d2"}, "members": [{"value": "2"}, {"value": "3"}]});
        let changes = diff(&before, &after);
        let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(
            names,
            ["active", "members", "title", "urn:x:ext:department"]
        );
        assert_eq!(changes[1].before, Some(json!(["1"])));
        assert_eq!(changes[1].after, Some(json!(["3"])));
        assert_eq!(changes[2].after, None);
    }

    /// A create's and a delete's changes, moved out of the document, are what `diff` against
    /// nothing gives: every attribute, extension attributes by their full names, members as
    /// their ids, in the same order.
    #[test]
    fn a_whole_document_moved_into_changes_is_what_diff_against_nothing_gives() {
        let docs = [
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a",
                "name": {"givenName": "A", "familyName": "B"}, "active": false, "title": null,
                "emails": [{"value": "a@x", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                    {"department": "d", "manager": {"value": "m"}},
                "urn:x:ext": "not an object"}),
            json!({"displayName": "g", "members": [{"value": "2"}, {"value": "1"}, {"x": 1}]}),
            json!({"displayName": "g", "members": []}),
            // Two attributes that flatten to one name: the first is kept, as `diff` keeps it.
            json!({"urn:a:b": {"c": 1}, "urn:a:b:c": 2}),
            json!({"schemas": []}),
            json!("not a document"),
        ];
        for doc in docs {
            assert_eq!(
                whole(doc.clone(), Side::Before),
                diff(&doc, &Value::Null),
                "{doc}"
            );
            assert_eq!(
                whole(doc.clone(), Side::After),
                diff(&Value::Null, &doc),
                "{doc}"
            );
        }
        let changes = whole(json!({"b": 1, "a": 2, "schemas": []}), Side::After);
        let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
