//! SCIM filters and sorts compiled to SQL over `scim_resources` (the row is `r`), so that the
//! database answers a list: which rows, how many, in which order, which page.
//!
//! The evaluator in `scim_proto::filter` (on the resource as rendered) stays the authority: the
//! compiled condition is either **exact**, selecting precisely the rows whose rendered resource
//! the evaluator accepts, or a **superset** of them, which the engine then tests with the query's
//! `Matcher` as before. It is never narrower. The rules, each mirroring the evaluator:
//!
//! - Attribute names come from the schema registry (the canonical name a path resolves to), never
//!   from the request; every value is a bound parameter. A path the registry does not resolve
//!   matches nothing (`FALSE`, exactly as the evaluator does).
//! - Two-valued logic: a comparison on a missing attribute is false, never SQL's NULL. Conditions
//!   that may be NULL (a promoted column, a JSON member) are wrapped in `COALESCE(…, FALSE)` under
//!   `not`, so `not (title eq "x")` holds for a user without a title.
//! - Multi-valued attributes hold when some value does (`EXISTS` over the array's elements, or
//!   over `scim_members` for `groups` and `members`); a value path (`emails[type eq "work" and
//!   value co "@x"]`) holds when one element satisfies the whole inner filter.
//! - `pr`: some value is present (not null, not `""`, not an empty array or object, recursively:
//!   a JSON path over every level). `eq null` is its negation, `ne null` the same as `pr`. A
//!   complex attribute compared without sub-attribute compares its `value`.
//! - Strings compare as bytes (`COLLATE "C"`, Rust's `str` order) when `caseExact`, else by their
//!   lower-case forms, folded as Rust folds (see [`fold`]: never PostgreSQL's `lower()` beyond
//!   ASCII); `co`, `sw`, `ew` are `LIKE` with `%`, `_` and `\` escaped. Booleans compare with `eq`
//!   and `ne` only; a value of another type than the attribute's never matches (`jsonb_typeof`).
//! - `userName` (users) and `displayName` (groups) compare through `name_key`, the folded form
//!   the core computed (and the unique index holds); `externalId` through `external_id`; `id`
//!   through `id`; `meta.created` and `meta.lastModified` as instants (nanoseconds) through
//!   `created` and `modified`; `meta.version` as `W/"<version>"`, `meta.location` as the base URL,
//!   the endpoint and the id; `meta.resourceType` as the kind's name.
//!
//! What is compiled as a superset (`TRUE` in its place, and the whole marked inexact): integer,
//! decimal and dateTime attributes held in the document (the built-in schemas have none; their
//! SQL forms would not compare as the evaluator does), substring operators on `meta.created` and
//! `meta.lastModified`, value paths on `meta`, a case-insensitive comparison whose folded literal
//! holds `σ` or `ς` (for texts holding `Σ`, which Rust folds by context), literals holding NUL
//! (which PostgreSQL text cannot hold). Under `not`, a superset would become a subset, so `not`
//! of an inexact filter is `TRUE`, inexact.
//!
//! Sorts ([`sort`]) are compiled where the key is computed as `scim_proto::list::sort_key`
//! computes it: the promoted columns, `meta`, and strings and booleans of the document (a
//! multi-valued attribute's primary value, else its first); not `groups` or `members` (whose
//! order is the engine's), numbers or dateTimes of the document.
//!
//! The compiled SQL relies on the canonical form of stored documents (`scim_proto::resource`):
//! attribute names spelled as in the schema, single-valued attributes holding one value (not an
//! array), values of their attribute's type. The evaluator is more lenient with documents that
//! are not canonical (names in another case, a single value in an array); the core stores none.

mod fold;
mod leaf;
mod sort;
mod target;
#[cfg(test)]
mod tests;

use scim_proto::filter::{AttrPath, Filter};
use scim_proto::list::SortOrder;
use scim_proto::schema::{Kind, Registry};
use tokio_postgres::types::{ToSql, Type};

pub(crate) use leaf::like_escape;
pub(crate) use sort::{compile_sort, SortSql};

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    Small(i16),
    Bool(bool),
}

impl Param {
    /// Its type: every parameter's is given, so that one bound for a part of a filter that
    /// compiled away (`x and false`) is no error.
    pub(crate) fn sql_type(&self) -> Type {
        match self {
            Param::Text(_) => Type::TEXT,
            Param::Texts(_) => Type::TEXT_ARRAY,
            Param::Int(_) => Type::INT8,
            Param::Small(_) => Type::INT2,
            Param::Bool(_) => Type::BOOL,
        }
    }

    pub(crate) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Texts(s) => s,
            Param::Int(i) => i,
            Param::Small(i) => i,
            Param::Bool(b) => b,
        }
    }
}

/// The placeholders of the folding table: `$from`, `$to`, and each multi-character mapping's
/// pair.
type FoldParams = (String, String, Vec<(String, String)>);

/// The parameters of one statement, numbered in the order they are bound.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pub(crate) list: Vec<Param>,
    /// The folding table's parameters, once bound.
    fold: Option<FoldParams>,
    /// The characters that fold to ASCII, and their folds, once bound.
    to_ascii: Option<Vec<(String, String)>>,
}

impl Params {
    /// Parameters that begin with `first` (`$1`, `$2`, …).
    pub(crate) fn new(first: Vec<Param>) -> Self {
        Params {
            list: first,
            fold: None,
            to_ascii: None,
        }
    }

    fn push(&mut self, p: Param) -> usize {
        self.list.push(p);
        self.list.len()
    }

    /// Binds a text; its placeholder.
    pub(crate) fn text(&mut self, s: impl Into<String>) -> String {
        format!("${}::text", self.push(Param::Text(s.into())))
    }

    /// Binds an array of texts; its placeholder.
    pub(crate) fn texts(&mut self, s: Vec<String>) -> String {
        format!("${}::text[]", self.push(Param::Texts(s)))
    }

    /// The parameters' types, in order.
    pub(crate) fn types(&self) -> Vec<Type> {
        self.list.iter().map(Param::sql_type).collect()
    }

    /// The parameters, as the driver takes them.
    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.list.iter().map(Param::as_sql).collect()
    }

    /// Binds a bigint; its placeholder.
    pub(crate) fn int(&mut self, i: i64) -> String {
        format!("${}::bigint", self.push(Param::Int(i)))
    }

    /// Binds a boolean; its placeholder.
    pub(crate) fn boolean(&mut self, b: bool) -> String {
        format!("${}::boolean", self.push(Param::Bool(b)))
    }

    /// `t` folded for comparing with a literal that is ASCII once folded (see [`fold`]): the
    /// characters that fold to something holding ASCII replaced, ASCII lower-cased.
    pub(crate) fn fold_for_ascii(&mut self, t: &str) -> String {
        if self.to_ascii.is_none() {
            let pairs = fold::table()
                .to_ascii
                .iter()
                .map(|(c, lower)| (self.text(c.as_str()), self.text(lower.as_str())))
                .collect();
            self.to_ascii = Some(pairs);
        }
        let mut replaced = t.to_string();
        for (c, lower) in self.to_ascii.iter().flatten() {
            replaced = format!("replace({replaced}, {c}, {lower})");
        }
        format!("lower(({replaced}) COLLATE \"C\")")
    }

    /// `t` folded as Rust's `to_lowercase` folds it, but for `Σ`, always `σ` (see [`fold`]).
    /// `t` is repeated: it must be cheap and without side effects.
    pub(crate) fn fold(&mut self, t: &str) -> String {
        if self.fold.is_none() {
            let table = fold::table();
            let from = self.text(table.from.as_str());
            let to = self.text(table.to.as_str());
            let multi = table
                .multi
                .iter()
                .map(|(c, lower)| (self.text(c.as_str()), self.text(lower.as_str())))
                .collect();
            self.fold = Some((from, to, multi));
        }
        let Some((from, to, multi)) = &self.fold else {
            return String::new();
        };
        let mut replaced = t.to_string();
        for (c, lower) in multi {
            replaced = format!("replace({replaced}, {c}, {lower})");
        }
        format!(
            "(CASE WHEN octet_length({t}) = char_length({t}) THEN lower(({t}) COLLATE \"C\") \
             ELSE translate({replaced}, {from}, {to}) END) COLLATE \"C\""
        )
    }
}

/// A SQL condition on the row `r`, and how it relates to the evaluator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    /// Holds for every row, or for none, exactly.
    Const(bool),
    /// Holds where `sql` is true. `nullable`: it may be NULL, which means false (it is wrapped
    /// in `COALESCE` before it is negated). `exact`: false when it holds for a superset.
    Sql {
        sql: String,
        nullable: bool,
        exact: bool,
    },
}

impl Cond {
    /// Every row, as a superset of what the evaluator accepts: what cannot be compiled.
    pub(crate) fn unknown() -> Cond {
        Cond::Sql {
            sql: "TRUE".into(),
            nullable: false,
            exact: false,
        }
    }

    fn exact(sql: String, nullable: bool) -> Cond {
        Cond::Sql {
            sql,
            nullable,
            exact: true,
        }
    }

    pub(crate) fn is_exact(&self) -> bool {
        match self {
            Cond::Const(_) => true,
            Cond::Sql { exact, .. } => *exact,
        }
    }

    fn is_unknown(&self) -> bool {
        matches!(self, Cond::Sql { sql, exact: false, .. } if sql == "TRUE")
    }

    /// The condition as SQL (NULL meaning false).
    pub(crate) fn sql(&self) -> &str {
        match self {
            Cond::Const(true) => "TRUE",
            Cond::Const(false) => "FALSE",
            Cond::Sql { sql, .. } => sql,
        }
    }

    fn and(children: Vec<Cond>) -> Cond {
        let (mut parts, mut nullable, mut exact) = (Vec::new(), false, true);
        for c in children {
            match c {
                Cond::Const(false) => return Cond::Const(false),
                Cond::Const(true) => {}
                Cond::Sql {
                    sql,
                    nullable: n,
                    exact: e,
                } => {
                    exact &= e;
                    nullable |= n;
                    if sql != "TRUE" || e {
                        parts.push(sql);
                    }
                }
            }
        }
        match (parts.len(), exact) {
            (0, true) => Cond::Const(true),
            (0, false) => Cond::unknown(),
            _ => Cond::Sql {
                sql: format!("({})", parts.join(" AND ")),
                nullable,
                exact,
            },
        }
    }

    fn or(children: Vec<Cond>) -> Cond {
        if children.contains(&Cond::Const(true)) {
            return Cond::Const(true);
        }
        if children.iter().any(Cond::is_unknown) {
            return Cond::unknown();
        }
        let (mut parts, mut nullable, mut exact) = (Vec::new(), false, true);
        for c in children {
            if let Cond::Sql {
                sql,
                nullable: n,
                exact: e,
            } = c
            {
                exact &= e;
                nullable |= n;
                parts.push(sql);
            }
        }
        if parts.is_empty() {
            return Cond::Const(false);
        }
        Cond::Sql {
            sql: format!("({})", parts.join(" OR ")),
            nullable,
            exact,
        }
    }

    fn not(self) -> Cond {
        match self {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Sql { exact: false, .. } => Cond::unknown(),
            Cond::Sql {
                sql,
                nullable: true,
                ..
            } => Cond::exact(format!("(NOT COALESCE({sql}, FALSE))"), false),
            Cond::Sql { sql, .. } => Cond::exact(format!("(NOT {sql})"), false),
        }
    }

    /// Whether some row of `from` (joined where `on` holds) satisfies `self`.
    fn exists(self, from: &str, on: &str) -> Cond {
        match self {
            Cond::Const(false) => Cond::Const(false),
            Cond::Const(true) => {
                Cond::exact(format!("EXISTS (SELECT 1 FROM {from} WHERE {on})"), false)
            }
            Cond::Sql { sql, exact, .. } => Cond::Sql {
                sql: format!("EXISTS (SELECT 1 FROM {from} WHERE {on} AND {sql})"),
                nullable: false,
                exact,
            },
        }
    }
}

/// What a filter and a sort compiled to: the condition on the row `r`, its parameters (after the
/// ones the compiler was given), whether it is exact, and the sort in SQL (`None`: in Rust).
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub sql: String,
    pub params: Params,
    pub exact: bool,
    pub sort: Option<SortSql>,
}

/// What a filter is compiled against.
pub(crate) struct Compiler<'a> {
    pub registry: &'a Registry,
    pub kind: Kind,
    /// The base of `meta.location` and of `$ref`s.
    pub base_url: &'a str,
    pub params: Params,
    /// Aliases of subqueries, numbered.
    aliases: usize,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(
        registry: &'a Registry,
        kind: Kind,
        base_url: &'a str,
        params: Params,
    ) -> Self {
        Compiler {
            registry,
            kind,
            base_url,
            params,
            aliases: 0,
        }
    }

    /// A fresh alias for a subquery's row.
    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// Compiles a filter (none: every row) and a sort (none: by id).
    pub(crate) fn compile(
        mut self,
        filter: Option<&Filter>,
        sort: Option<(&AttrPath, SortOrder)>,
    ) -> Compiled {
        let cond = match filter {
            Some(f) => self.filter(f, None),
            None => Cond::Const(true),
        };
        let sort = match sort {
            Some((by, order)) => compile_sort(&mut self, by, order),
            None => Some(SortSql::by_id()),
        };
        Compiled {
            sql: cond.sql().to_string(),
            exact: cond.is_exact(),
            params: self.params,
            sort,
        }
    }

    /// A filter, against the resource (`element` `None`) or one element of a value path.
    fn filter(&mut self, f: &Filter, element: Option<&target::Element<'a>>) -> Cond {
        match f {
            Filter::And(children) => {
                Cond::and(children.iter().map(|c| self.filter(c, element)).collect())
            }
            Filter::Or(children) => {
                Cond::or(children.iter().map(|c| self.filter(c, element)).collect())
            }
            Filter::Not(inner) => self.filter(inner, element).not(),
            Filter::Present(path) => match self.target(path, element, false) {
                target::Target::Unknown => Cond::Const(false),
                target::Target::Fallback => Cond::unknown(),
                target::Target::Values(v) => self.present(&v),
            },
            Filter::Compare { path, op, value } => self.compare(path, *op, value, element),
            Filter::ValuePath { path, filter } => match element {
                // The evaluator accepts no value path inside another.
                Some(_) => Cond::Const(false),
                None => self.value_path(path, filter),
            },
        }
    }
}

/// A SQL string literal of a name taken from the schemas (never from a request): quotes doubled.
fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}
