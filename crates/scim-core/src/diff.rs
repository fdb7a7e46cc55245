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
}
