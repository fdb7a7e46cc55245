//! Revision diffs: which attributes a change touched, with their values before and after.

use std::collections::HashSet;

use serde_json::Value;

use crate::model::AttributeChange;

/// The attributes that differ between two documents, with their values. Extension attributes are
/// named `urn:...:name`; for `members`, `before` lists the ids removed and `after` those added.
pub fn diff(before: &Value, after: &Value) -> Vec<AttributeChange> {
    use std::borrow::Cow;
    // Borrowed: a group's member list can hold thousands of entries, and only changes are kept.
    fn flatten(doc: &Value) -> Vec<(Cow<'_, str>, &Value)> {
        let mut out = Vec::new();
        if let Value::Object(o) = doc {
            for (k, v) in o {
                if k == "schemas" {
                    continue;
                }
                match v {
                    Value::Object(inner) if k.contains(':') => {
                        for (ik, iv) in inner {
                            out.push((Cow::Owned(format!("{k}:{ik}")), iv));
                        }
                    }
                    _ => out.push((Cow::Borrowed(k.as_str()), v)),
                }
            }
        }
        out
    }
    let (b, a) = (flatten(before), flatten(after));
    let mut names: Vec<&str> = b
        .iter()
        .map(|(k, _)| k.as_ref())
        .chain(a.iter().map(|(k, _)| k.as_ref()))
        .collect();
    names.sort_unstable();
    names.dedup();
    fn find<'v>(list: &[(Cow<'_, str>, &'v Value)], name: &str) -> Option<&'v Value> {
        list.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
    fn ids(v: Option<&Value>) -> Vec<&str> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|m| m.get("value")?.as_str()).collect())
            .unwrap_or_default()
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
            let removed: Vec<Value> = old_ids
                .iter()
                .filter(|i| !new_set.contains(*i))
                .map(|i| Value::String((*i).to_string()))
                .collect();
            let added: Vec<Value> = new_ids
                .iter()
                .filter(|i| !old_set.contains(*i))
                .map(|i| Value::String((*i).to_string()))
                .collect();
            changes.push(AttributeChange {
                attribute: name.to_string(),
                before: (!removed.is_empty()).then_some(Value::Array(removed)),
                after: (!added.is_empty()).then_some(Value::Array(added)),
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
pub fn whole(doc: Value, side: Side) -> Vec<AttributeChange> {
    let Value::Object(o) = doc else {
        return Vec::new();
    };
    let mut attributes: Vec<(String, Value)> = Vec::with_capacity(o.len());
    for (k, v) in o {
        if k == "schemas" {
            continue;
        }
        match v {
            Value::Object(inner) if k.contains(':') => {
                for (ik, iv) in inner {
                    attributes.push((format!("{k}:{ik}"), iv));
                }
            }
            v => attributes.push((k, v)),
        }
    }
    // As `diff` names them: sorted, and the first of a name where two flatten alike.
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    attributes.dedup_by(|later, first| later.0 == first.0);
    attributes
        .into_iter()
        .map(|(attribute, value)| {
            let value = if attribute == "members" {
                let ids: Vec<Value> = value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|m| m.get("value")?.as_str())
                            .map(|id| Value::String(id.to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                (!ids.is_empty()).then_some(Value::Array(ids))
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
