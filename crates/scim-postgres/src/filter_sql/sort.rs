//! `sortBy` in SQL, where the key can be computed as `scim_proto::list::sort_key` computes it and
//! ordered as `sort_by_key` orders it: values as filters compare them (strings by `caseExact`,
//! dateTimes by instant, `false` before `true`), resources without a value last in ascending
//! order and first in descending, ties by `id`. Otherwise the engine sorts in Rust.

use scim_proto::filter::AttrPath;
use scim_proto::list::SortOrder;
use scim_proto::schema::{AttrType, Kind};

use super::fold::SIGMA;
use super::{literal, Compiler};

/// A sort in SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortSql {
    /// A subquery joined to `r` (`CROSS JOIN LATERAL …`) that computes the key's text once per
    /// row, when the key is computed from it.
    pub join: Option<String>,
    /// The key (NULL for a resource without a value); `None`: every key is the same.
    pub key: Option<String>,
    pub descending: bool,
    /// Holds for a row whose key SQL may order otherwise than Rust (a case-insensitive text
    /// holding `Σ`, which Rust folds by context); the engine then sorts in Rust.
    pub doubt: Option<String>,
}

impl SortSql {
    /// No key: by id.
    pub(crate) fn by_id() -> Self {
        SortSql {
            join: None,
            key: None,
            descending: false,
            doubt: None,
        }
    }

    /// The `ORDER BY` list, with the key as `key` (an expression or a column of a subquery).
    pub(crate) fn order_by(&self, key: &str, id: &str) -> String {
        match (&self.key, self.descending) {
            (None, _) => id.to_string(),
            (Some(_), false) => format!("{key} ASC NULLS LAST, {id}"),
            (Some(_), true) => format!("{key} DESC NULLS FIRST, {id}"),
        }
    }
}

/// The key of a sort on the rendered resource, in SQL; `None` when the engine must sort in Rust.
pub(crate) fn compile_sort(
    c: &mut Compiler<'_>,
    by: &AttrPath,
    order: SortOrder,
) -> Option<SortSql> {
    let descending = order == SortOrder::Descending;
    let sorted = |key: &str| SortSql {
        join: None,
        key: Some(key.to_string()),
        descending,
        doubt: None,
    };
    let registry = c.registry;
    let Some(r) = registry.resolve(c.kind, by) else {
        // `sort_by_key` leaves the order alone: by id.
        return Some(SortSql {
            join: None,
            key: None,
            descending,
            doubt: None,
        });
    };
    let attr = r.attribute;
    let leaf = r.leaf();
    let string = matches!(
        leaf.kind,
        AttrType::String | AttrType::Reference | AttrType::Binary
    );
    let case_exact = leaf.case_exact || leaf.kind == AttrType::Binary;
    if r.schema.is_none() {
        return match (attr.name.as_str(), r.sub.map(|s| s.name.as_str())) {
            ("id", None) if string && case_exact => Some(sorted("r.id")),
            ("externalId", None) if string && case_exact => Some(sorted("r.external_id")),
            ("meta", Some("created")) if leaf.kind == AttrType::DateTime => {
                Some(sorted("r.created"))
            }
            ("meta", Some("lastModified")) if leaf.kind == AttrType::DateTime => {
                Some(sorted("r.modified"))
            }
            ("meta", Some("version")) if string && case_exact => {
                Some(sorted("('W/\"' || r.version::text || '\"') COLLATE \"C\""))
            }
            // The base URL and the endpoint, then the id: ordered as the id.
            ("meta", Some("location")) if string && case_exact => Some(sorted("r.id")),
            // The same for every resource: ties, by id.
            ("meta", Some("resourceType")) => Some(SortSql {
                join: None,
                key: None,
                descending,
                doubt: None,
            }),
            _ => None,
        };
    }
    if !r.extension {
        match (c.kind, attr.name.as_str()) {
            (Kind::User, "userName") | (Kind::Group, "displayName")
                if r.sub.is_none() && string && !case_exact =>
            {
                // The core's fold is Rust's `to_lowercase`: the order `sort_by_key` uses.
                return Some(sorted("r.name_key"));
            }
            // Their order (and so their first value) is not the document's.
            (Kind::User, "groups") | (Kind::Group, "members") => return None,
            _ => {}
        }
    }
    let container = match (r.extension, r.schema) {
        (true, Some(urn)) => format!("(r.doc -> {})", literal(urn)),
        _ => "r.doc".to_string(),
    };
    let x = format!("({container} -> {})", literal(&attr.name));
    let value = match (attr.multi_valued, r.sub) {
        // The primary value, else the first.
        (true, Some(sub)) => {
            let sub = literal(&sub.name);
            format!(
                "(CASE WHEN jsonb_typeof({x}) = 'array' THEN (SELECT s.e -> {sub} \
                 FROM jsonb_array_elements({x}) WITH ORDINALITY AS s(e, n) \
                 ORDER BY (s.e -> 'primary' = 'true'::jsonb) IS NOT TRUE, s.n LIMIT 1) \
                 ELSE {x} -> {sub} END)"
            )
        }
        (false, Some(sub)) => format!("({x} -> {})", literal(&sub.name)),
        (false, None) if leaf.kind != AttrType::Complex => x,
        _ => return None,
    };
    match leaf.kind {
        AttrType::Boolean => Some(sorted(&format!(
            "(CASE WHEN jsonb_typeof({value}) = 'boolean' THEN ({value})::boolean END)"
        ))),
        _ if string => {
            // Computed once per row: the fold repeats its argument.
            let text =
                format!("(CASE WHEN jsonb_typeof({value}) = 'string' THEN {value} #>> '{{}}' END)");
            let join = format!("CROSS JOIN LATERAL (SELECT {text} AS t OFFSET 0) AS sk");
            let (key, doubt) = if case_exact {
                ("sk.t COLLATE \"C\"".to_string(), None)
            } else {
                (
                    c.params.fold("sk.t"),
                    Some(format!("strpos(sk.t, '{SIGMA}') > 0")),
                )
            };
            Some(SortSql {
                join: Some(join),
                key: Some(key),
                descending,
                doubt,
            })
        }
        // Numbers and dateTimes in the document (none in the built-in schemas).
        _ => None,
    }
}
