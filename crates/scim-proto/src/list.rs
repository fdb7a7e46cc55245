//! List queries (RFC 7644 §3.4.2): parameters parsed from untrusted text into a typed query, the
//! index probes a filter allows, sorting, paging and the `ListResponse` message.

use std::cmp::Ordering;

use serde_json::Value;

use super::filter::{self, AttrPath, Filter};
use super::resource::Projection;
use super::schema::{AttrType, Kind, Registry};
use super::urn;
use crate::error::{quote, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// A list or search request, validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub projection: Projection,
}

/// The raw parameters of a list request, from a query string or a SearchRequest body.
#[derive(Debug, Clone, Default)]
pub struct RawListParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

impl RawListParams {
    /// Collects the list parameters from decoded query pairs. Names match case-insensitively.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut p = RawListParams::default();
        for (name, value) in pairs {
            let v = Some(value.clone());
            match name.to_ascii_lowercase().as_str() {
                "filter" => p.filter = v,
                "startindex" => p.start_index = v,
                "count" => p.count = v,
                "sortby" => p.sort_by = v,
                "sortorder" => p.sort_order = v,
                "attributes" => p.attributes.push(value.clone()),
                "excludedattributes" => p.excluded_attributes.push(value.clone()),
                _ => {}
            }
        }
        p
    }
}

/// Parses an integer parameter; a value beyond the range of i64 saturates, anything that is not
/// an integer is 400 `invalidValue`.
fn integer(name: &str, text: &str) -> Result<i64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(if t.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
    }
    Err(Error::invalid_value(format!(
        "{name} must be an integer, not {}",
        quote(text)
    )))
}

impl ListQuery {
    /// Validates raw parameters. `startIndex` below 1 is read as 1, a negative `count` as 0, and
    /// `count` above `max_results` (or absent) as `max_results` (RFC 7644 §3.4.2.4).
    pub fn parse(
        registry: &Registry,
        kind: Kind,
        raw: &RawListParams,
        max_results: usize,
    ) -> Result<Self> {
        let filter = match raw.filter.as_deref() {
            Some(text) => {
                let f = filter::parse_filter(text)?;
                filter::validate(&f, registry, kind)?;
                Some(f)
            }
            None => None,
        };
        let start_index = match raw.start_index.as_deref() {
            Some(t) => usize::try_from(integer("startIndex", t)?.max(1)).unwrap_or(usize::MAX),
            None => 1,
        };
        let count = match raw.count.as_deref() {
            Some(t) => usize::try_from(integer("count", t)?.max(0))
                .unwrap_or(usize::MAX)
                .min(max_results),
            None => max_results,
        };
        let sort_by = match raw
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(text) => {
                let path = filter::parse_attr_path(text)?;
                let r = registry.resolve(kind, &path).ok_or_else(|| {
                    Error::invalid_value(format!("sortBy names no attribute: {}", quote(text)))
                })?;
                if r.leaf().kind == AttrType::Complex {
                    return Err(Error::invalid_value("sortBy must name a simple attribute"));
                }
                Some(path)
            }
            None => None,
        };
        let sort_order = match raw.sort_order.as_deref().map(str::trim) {
            None | Some("") => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("descending") => SortOrder::Descending,
            Some(s) => {
                return Err(Error::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', not {}",
                    quote(s)
                )))
            }
        };
        let projection =
            Projection::parse(registry, kind, &raw.attributes, &raw.excluded_attributes)?;
        Ok(ListQuery {
            filter,
            start_index,
            count,
            sort_by,
            sort_order,
            projection,
        })
    }
}

/// The value a resource sorts by (RFC 7644 §3.4.2.3): the attribute's value; for a multi-valued
/// attribute its primary value, or its first; for a complex one its `value`.
pub fn sort_key(registry: &Registry, kind: Kind, resource: &Value, by: &AttrPath) -> Option<Value> {
    let r = registry.resolve(kind, by)?;
    let holder = match r.schema.filter(|_| r.extension) {
        Some(urn) => filter::member(resource, urn)?,
        None => resource,
    };
    let mut v = filter::member(holder, &r.attribute.name)?;
    if let Value::Array(items) = v {
        v = items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    if let Some(sub) = &r.sub {
        v = filter::member(v, &sub.name)?;
    } else if v.is_object() {
        v = filter::member(v, "value")?;
    }
    Some(v.clone())
}

/// Sorts items by their [`sort_key`], ordering values as filters compare them (dateTimes by
/// instant, strings by `caseExact`). Items without a value come last in ascending order, first
/// in descending; ties keep their (stable, by id) order.
pub fn sort_by_key<T>(
    registry: &Registry,
    kind: Kind,
    items: &mut Vec<T>,
    key: impl Fn(&T) -> Option<&Value>,
    by: &AttrPath,
    order: SortOrder,
) {
    let Some(r) = registry.resolve(kind, by) else {
        return;
    };
    let leaf = r.leaf();
    let mut order_of: Vec<usize> = (0..items.len()).collect();
    order_of.sort_by(|&i, &j| {
        let ord = match (key(&items[i]), key(&items[j])) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => filter::order(leaf, a, b).unwrap_or(Ordering::Equal),
        };
        match order {
            SortOrder::Ascending => ord,
            SortOrder::Descending => ord.reverse(),
        }
    });
    permute(items, &order_of);
}

/// Reorders `items` so that position `k` holds what was at `order[k]`.
fn permute<T>(items: &mut Vec<T>, order: &[usize]) {
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(
        order
            .iter()
            .filter_map(|&i| slots.get_mut(i).and_then(Option::take)),
    );
}

/// Whether a filter names a top-level attribute (case-insensitive), anywhere in it.
pub fn mentions(f: &Filter, name: &str) -> bool {
    match f {
        Filter::Present(p)
        | Filter::Compare { path: p, .. }
        | Filter::ValuePath { path: p, .. } => p.name.eq_ignore_ascii_case(name),
        Filter::Not(inner) => mentions(inner, name),
        Filter::And(children) | Filter::Or(children) => children.iter().any(|c| mentions(c, name)),
    }
}

/// A `ListResponse` message (RFC 7644 §3.4.2).
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    // Built by hand: `json!` would serialise `resources` into a deep copy of itself.
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), serde_json::json!([urn::LIST_RESPONSE]));
    body.insert("totalResults".into(), total.into());
    body.insert("startIndex".into(), start_index.into());
    body.insert("itemsPerPage".into(), resources.len().into());
    body.insert("Resources".into(), Value::Array(resources));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts rendered resources by `sortBy` ([`sort_key`], [`sort_by_key`]).
    fn sort(
        registry: &Registry,
        kind: Kind,
        resources: &mut Vec<Value>,
        by: &AttrPath,
        order: SortOrder,
    ) {
        let mut keyed: Vec<(Option<Value>, Value)> = resources
            .drain(..)
            .map(|r| (sort_key(registry, kind, &r, by), r))
            .collect();
        sort_by_key(registry, kind, &mut keyed, |(k, _)| k.as_ref(), by, order);
        resources.extend(keyed.into_iter().map(|(_, r)| r));
    }

    fn raw(pairs: &[(&str, &str)]) -> RawListParams {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        RawListParams::from_pairs(&pairs)
    }

    #[test]
    fn paging_is_clamped_as_the_rfc_says() {
        let r = Registry::builtin();
        let q = ListQuery::parse(
            &r,
            Kind::User,
            &raw(&[("startIndex", "0"), ("count", "-5")]),
            100,
        )
        .expect("query");
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = ListQuery::parse(
            &r,
            Kind::User,
            &raw(&[("count", "9223372036854775808")]),
            100,
        )
        .expect("query");
        assert_eq!(q.count, 100);
        let q = ListQuery::parse(&r, Kind::User, &raw(&[]), 100).expect("query");
        assert_eq!((q.start_index, q.count), (1, 100));
        let q = ListQuery::parse(
            &r,
            Kind::User,
            &raw(&[("StartIndex", "3"), ("COUNT", "2")]),
            100,
        )
        .expect("query");
        assert_eq!((q.start_index, q.count), (3, 2));
    }

    #[test]
    fn malformed_numbers_are_invalid_values() {
        let r = Registry::builtin();
        for (name, value) in [
            ("count", "abc"),
            ("startIndex", "1.5"),
            ("count", ""),
            ("count", "-"),
        ] {
            let err =
                ListQuery::parse(&r, Kind::User, &raw(&[(name, value)]), 100).expect_err(value);
            assert!(err.is_client_error());
            assert_eq!(err.scim_type(), Some(crate::error::ScimType::InvalidValue));
        }
    }

    #[test]
    fn sorting_puts_missing_values_last_and_folds_case() {
        let r = Registry::builtin();
        let mut v = vec![
            serde_json::json!({"id": "1", "userName": "b"}),
            serde_json::json!({"id": "2"}),
            serde_json::json!({"id": "3", "userName": "A"}),
        ];
        sort(
            &r,
            Kind::User,
            &mut v,
            &AttrPath::simple("userName"),
            SortOrder::Ascending,
        );
        let ids: Vec<&str> = v.iter().filter_map(|x| x["id"].as_str()).collect();
        assert_eq!(ids, ["3", "1", "2"]);
        sort(
            &r,
            Kind::User,
            &mut v,
            &AttrPath::simple("userName"),
            SortOrder::Descending,
        );
        let ids: Vec<&str> = v.iter().filter_map(|x| x["id"].as_str()).collect();
        assert_eq!(ids, ["2", "1", "3"]);
    }

    #[test]
    fn date_times_sort_by_instant_not_by_text() {
        let r = Registry::builtin();
        let at = |id: &str, t: &str| serde_json::json!({"id": id, "meta": {"lastModified": t}});
        // 10:00+02:00 is 08:00Z: first, although its text sorts after "09:00".
        let mut v = vec![
            at("late", "2020-01-01T09:00:00Z"),
            at("early", "2020-01-01T10:00:00+02:00"),
        ];
        let by = AttrPath {
            urn: None,
            name: "meta".into(),
            sub: Some("lastModified".into()),
        };
        sort(&r, Kind::User, &mut v, &by, SortOrder::Ascending);
        let ids: Vec<&str> = v.iter().filter_map(|x| x["id"].as_str()).collect();
        assert_eq!(ids, ["early", "late"]);
    }
}
