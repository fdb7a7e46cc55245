//! What an attribute path names in SQL: where its values are (a promoted column, a member of the
//! document, the elements of an array, the rows of `scim_members`), as the evaluator's `target`
//! finds them in the rendered resource.

use scim_proto::filter::{AttrPath, Filter};
use scim_proto::schema::{AttrType, Attribute, Kind};

use super::{literal, Compiler, Cond};

/// One value, in SQL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Src {
    /// A `jsonb` expression; NULL when the value is absent.
    Json(String),
    /// A text expression holding a JSON string's content; NULL when absent.
    Text(String),
    /// A text column under `COLLATE "C"` (compared as it is, so that its index serves).
    Column(String),
    /// A text expression holding the folded form (the core's `fold`) of a JSON string; NULL
    /// when absent: `name_key`.
    Folded(String),
    /// A bigint expression of nanoseconds since the epoch, rendered as an RFC 3339 dateTime;
    /// never absent.
    Nanos(String),
    /// An object known to be present (an element of `groups` or `members`, `meta`).
    Object,
}

/// The values a path names: at most one (`each` `None`), or one for each row of `each.0` where
/// `each.1` holds; `attr` defines them.
pub(super) struct Values<'a> {
    pub attr: &'a Attribute,
    pub each: Option<(String, String)>,
    pub src: Src,
}

/// Where a path leads.
pub(super) enum Target<'a> {
    /// The schemas do not define it: comparisons on it are false.
    Unknown,
    /// Not compiled: the condition is a superset.
    Fallback,
    Values(Values<'a>),
}

/// The element of a value path (`emails[…]`) inside which paths name its sub-attributes.
pub(super) struct Element<'a> {
    pub attribute: &'a Attribute,
    pub row: Row,
}

/// What an element is in SQL.
pub(super) enum Row {
    /// A `jsonb` element of the document.
    Json(String),
    /// A group's member: the alias of its `scim_members` row.
    Member(String),
    /// A user's group: the aliases of the `scim_members` row and of the group's
    /// `scim_resources` row (joined, possibly NULL).
    Group(String, String),
}

/// The values of `x` as the evaluator flattens them (an array's elements, or the value itself;
/// neither NULL nor JSON null): a `FROM` item whose rows are `{alias}.v`, and the condition that
/// leaves out nulls.
fn elements(x: &str, alias: &str) -> (String, String) {
    (
        format!(
            "jsonb_array_elements(CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} \
             ELSE jsonb_build_array({x}) END) AS {alias}(v)"
        ),
        format!("jsonb_typeof({alias}.v) <> 'null'"),
    )
}

/// A member of a `jsonb` object, by its name in the schemas.
fn get(x: &str, name: &str) -> String {
    format!("({x} -> {})", literal(name))
}

impl<'a> Compiler<'a> {
    /// The values `path` names, in the resource or in an element; with `want_value`, a complex
    /// attribute's `value` sub-attribute in its place (a comparison without sub-attribute).
    pub(super) fn target(
        &mut self,
        path: &AttrPath,
        element: Option<&Element<'a>>,
        want_value: bool,
    ) -> Target<'a> {
        match element {
            Some(e) => self.element_target(path, e, want_value),
            None => self.resource_target(path, want_value),
        }
    }

    fn element_target(&mut self, path: &AttrPath, e: &Element<'a>, want_value: bool) -> Target<'a> {
        if path.urn.is_some() || path.sub.is_some() {
            return Target::Unknown;
        }
        let Some(sub) = e.attribute.sub(&path.name) else {
            return Target::Unknown;
        };
        if want_value && sub.kind == AttrType::Complex {
            return Target::Fallback;
        }
        let src = match &e.row {
            Row::Json(x) => Src::Json(get(x, &sub.name)),
            Row::Member(m) => match self.member_sub(m, sub) {
                Some(src) => src,
                None => return Target::Fallback,
            },
            Row::Group(m, g) => match self.group_sub(m, g, sub) {
                Some(src) => src,
                None => return Target::Fallback,
            },
        };
        Target::Values(Values {
            attr: sub,
            each: None,
            src,
        })
    }

    fn resource_target(&mut self, path: &AttrPath, want_value: bool) -> Target<'a> {
        let registry = self.registry;
        let Some(r) = registry.resolve(self.kind, path) else {
            return Target::Unknown;
        };
        let attr = r.attribute;
        let mut sub = r.sub;
        if want_value {
            match sub {
                Some(s) if s.kind == AttrType::Complex => return Target::Fallback,
                Some(_) => {}
                None if attr.kind == AttrType::Complex => match attr.sub("value") {
                    Some(v) => sub = Some(v),
                    // The evaluator compares a complex attribute through its `value` only.
                    None => return Target::Unknown,
                },
                None => {}
            }
        }
        let leaf = sub.unwrap_or(attr);
        let one = |src| {
            Target::Values(Values {
                attr: leaf,
                each: None,
                src,
            })
        };
        if r.schema.is_none() {
            // The common attributes, rendered from the row.
            return match (attr.name.as_str(), sub.map(|s| s.name.as_str())) {
                ("id", None) => one(Src::Column("r.id".into())),
                ("externalId", None) => one(Src::Column("r.external_id".into())),
                ("meta", None) => one(Src::Object),
                ("meta", Some(name)) => match self.meta(name) {
                    Some(src) => one(src),
                    None => Target::Fallback,
                },
                _ => Target::Fallback,
            };
        }
        if !r.extension {
            match (self.kind, attr.name.as_str()) {
                (Kind::User, "userName") | (Kind::Group, "displayName")
                    if sub.is_none() && !attr.case_exact && attr.kind == AttrType::String =>
                {
                    return one(Src::Folded("r.name_key".into()));
                }
                (Kind::User, "groups") | (Kind::Group, "members") => {
                    let (from, on, row) = self.related();
                    let src = match sub {
                        None => Some(Src::Object),
                        Some(s) => match &row {
                            Row::Member(m) => self.member_sub(m, s),
                            Row::Group(m, g) => self.group_sub(m, g, s),
                            Row::Json(_) => None,
                        },
                    };
                    return match src {
                        Some(src) => Target::Values(Values {
                            attr: leaf,
                            each: Some((from, on)),
                            src,
                        }),
                        None => Target::Fallback,
                    };
                }
                _ => {}
            }
        }
        let container = match (r.extension, r.schema) {
            (true, Some(urn)) => get("r.doc", urn),
            _ => "r.doc".to_string(),
        };
        let x = get(&container, &attr.name);
        if attr.multi_valued {
            let alias = self.alias("e");
            let each = elements(&x, &alias);
            let v = format!("{alias}.v");
            let src = match sub {
                Some(s) => Src::Json(get(&v, &s.name)),
                None => Src::Json(v),
            };
            return Target::Values(Values {
                attr: leaf,
                each: Some(each),
                src,
            });
        }
        one(Src::Json(match sub {
            Some(s) => get(&x, &s.name),
            None => x,
        }))
    }

    /// `meta`'s sub-attributes, from the row.
    fn meta(&mut self, name: &str) -> Option<Src> {
        Some(match name {
            "created" => Src::Nanos("r.created".into()),
            "lastModified" => Src::Nanos("r.modified".into()),
            "version" => Src::Text("('W/\"' || r.version::text || '\"')".into()),
            "location" => {
                let base = self.params.text(self.base_url);
                let endpoint = literal(&format!("/{}/", self.kind.endpoint()));
                Src::Text(format!("({base} || {endpoint} || r.id)"))
            }
            "resourceType" => Src::Text(literal(self.kind.name())),
            _ => return None,
        })
    }

    /// The rows of a user's groups or a group's members: the `FROM` clause, the condition that
    /// ties them to `r`, and the element.
    fn related(&mut self) -> (String, String, Row) {
        let m = self.alias("m");
        match self.kind {
            Kind::User => {
                let g = self.alias("g");
                (
                    format!(
                        "scim_members {m} LEFT JOIN scim_resources {g} ON {g}.tenant = {m}.tenant \
                         AND {g}.kind = 1 AND {g}.id = {m}.group_id"
                    ),
                    format!("{m}.tenant = r.tenant AND {m}.member_id = r.id"),
                    Row::Group(m, g),
                )
            }
            Kind::Group => (
                format!("scim_members {m}"),
                format!("{m}.tenant = r.tenant AND {m}.group_id = r.id"),
                Row::Member(m),
            ),
        }
    }

    /// A sub-attribute of a group's member, as rendered: `value`, `display`, `type`, `$ref`.
    fn member_sub(&mut self, m: &str, sub: &Attribute) -> Option<Src> {
        let kind = format!("CASE {m}.member_kind WHEN 0 THEN 'User' ELSE 'Group' END");
        if sub.name == "value" {
            return Some(Src::Column(format!("{m}.member_id")));
        }
        Some(Src::Text(match sub.name.as_str() {
            "display" => format!("{m}.display"),
            "type" => format!("({kind})"),
            "$ref" => {
                let base = self.params.text(self.base_url);
                format!(
                    "({base} || CASE {m}.member_kind WHEN 0 THEN '/Users/' ELSE '/Groups/' END \
                     || {m}.member_id)"
                )
            }
            _ => return None,
        }))
    }

    /// A sub-attribute of a user's group, as rendered: `value`, `display` (the group's
    /// `displayName`), `type` (`direct`), `$ref`.
    fn group_sub(&mut self, m: &str, g: &str, sub: &Attribute) -> Option<Src> {
        Some(match sub.name.as_str() {
            "value" => Src::Column(format!("{m}.group_id")),
            "display" => Src::Json(get(&format!("{g}.doc"), "displayName")),
            "type" => Src::Text("'direct'".into()),
            "$ref" => {
                let base = self.params.text(self.base_url);
                Src::Text(format!("({base} || '/Groups/' || {m}.group_id)"))
            }
            _ => return None,
        })
    }

    /// `attr[filter]` on the resource: some element satisfies the whole filter.
    pub(super) fn value_path(&mut self, path: &AttrPath, inner: &Filter) -> Cond {
        let registry = self.registry;
        let Some(r) = registry.resolve(self.kind, path) else {
            return Cond::Const(false);
        };
        let attr = r.attribute;
        if path.sub.is_some() || attr.kind != AttrType::Complex {
            return Cond::Const(false);
        }
        let (from, on, row) = if r.schema.is_none() {
            // `meta[…]`.
            return Cond::unknown();
        } else if !r.extension
            && matches!(
                (self.kind, attr.name.as_str()),
                (Kind::User, "groups") | (Kind::Group, "members")
            )
        {
            self.related()
        } else {
            let container = match (r.extension, r.schema) {
                (true, Some(urn)) => get("r.doc", urn),
                _ => "r.doc".to_string(),
            };
            let alias = self.alias("e");
            let (from, on) = elements(&get(&container, &attr.name), &alias);
            (from, on, Row::Json(format!("{alias}.v")))
        };
        let element = Element {
            attribute: attr,
            row,
        };
        self.filter(inner, Some(&element)).exists(&from, &on)
    }
}
