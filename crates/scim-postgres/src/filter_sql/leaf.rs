//! `pr` and comparisons on the values a path names, as the evaluator's `is_present` and
//! `compare_value` decide them.

use scim_core::query::fold;
use scim_proto::filter::{AttrPath, CompareOp, Literal};
use scim_proto::schema::{AttrType, Attribute};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::fold::{sigma_free, SIGMA};
use super::target::{Element, Src, Target, Values};
use super::{Compiler, Cond};

/// A JSON path that finds a present value at any level: not null, not `""`; an array or object
/// is present when something in it is (the evaluator's `is_present`).
const PRESENT: &str = "'strict $.** ? (@.type() == \"number\" || @.type() == \"boolean\" \
                       || @.type() == \"string\" && @ != \"\")'::jsonpath";

/// Escapes `%`, `_` and `\` for a `LIKE` pattern (backslash is its escape character).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text of a JSON string value: `x ->> 'name'` for a member `(x -> 'name')`.
fn json_text(j: &str) -> String {
    match j
        .strip_prefix('(')
        .and_then(|j| j.strip_suffix("')"))
        .and_then(|j| j.rsplit_once(" -> '"))
    {
        Some((x, name)) if !name.contains('\'') => format!("({x} ->> '{name}')"),
        _ => format!("({j} #>> '{{}}')"),
    }
}

fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
}

/// The SQL operator of an ordering or equality comparison.
fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "LIKE",
    }
}

impl<'a> Compiler<'a> {
    /// Some value is present.
    pub(super) fn present(&mut self, v: &Values<'a>) -> Cond {
        let c = match &v.src {
            Src::Json(j) => Cond::exact(format!("jsonb_path_exists({j}, {PRESENT})"), true),
            Src::Text(t) | Src::Column(t) | Src::Folded(t) => {
                Cond::exact(format!("({t} <> '')"), true)
            }
            Src::Nanos(_) | Src::Object => Cond::Const(true),
        };
        match &v.each {
            None => c,
            Some((from, on)) => c.exists(from, on),
        }
    }

    /// `path op value`.
    pub(super) fn compare(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &Literal,
        element: Option<&Element<'a>>,
    ) -> Cond {
        if *value == Literal::Null {
            let present = match self.target(path, element, false) {
                Target::Unknown => return Cond::Const(false),
                Target::Fallback => return Cond::unknown(),
                Target::Values(v) => self.present(&v),
            };
            return match op {
                CompareOp::Eq => present.not(),
                CompareOp::Ne => present,
                _ => Cond::Const(false),
            };
        }
        let v = match self.target(path, element, true) {
            Target::Unknown => return Cond::Const(false),
            Target::Fallback => return Cond::unknown(),
            Target::Values(v) => v,
        };
        let c = self.compare_one(v.attr, &v.src, op, value);
        match &v.each {
            None => c,
            Some((from, on)) => c.exists(from, on),
        }
    }

    /// Whether one value satisfies `op value`.
    fn compare_one(&mut self, attr: &Attribute, src: &Src, op: CompareOp, value: &Literal) -> Cond {
        let stringy = matches!(
            attr.kind,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) || (attr.kind == AttrType::DateTime && is_substring(op));
        let case_exact = attr.case_exact || attr.kind == AttrType::Binary;
        match (src, attr.kind, value) {
            (Src::Object, _, _) => Cond::Const(false),
            (Src::Nanos(col), AttrType::DateTime, Literal::String(s)) if !is_substring(op) => {
                self.instant(col, op, s)
            }
            (Src::Nanos(_), _, _) if stringy => Cond::unknown(),
            (Src::Nanos(_), _, _) => Cond::Const(false),
            (Src::Folded(col), _, Literal::String(s)) if stringy && !case_exact => {
                let folded = fold(s);
                if folded.contains('\0') {
                    return Cond::unknown();
                }
                self.strings(col.clone(), op, folded, true)
            }
            (Src::Text(t), _, Literal::String(s)) if stringy => {
                self.text(t, false, op, s, case_exact)
            }
            (Src::Column(t), _, Literal::String(s)) if stringy => {
                self.text(t, true, op, s, case_exact)
            }
            (Src::Text(_) | Src::Column(_), AttrType::DateTime, Literal::String(_)) => {
                Cond::unknown()
            }
            (Src::Json(j), _, Literal::String(s)) if stringy => {
                let t = json_text(j);
                match self.text(&t, false, op, s, case_exact) {
                    Cond::Sql { sql, exact, .. } => Cond::Sql {
                        sql: format!("(jsonb_typeof({j}) = 'string' AND {sql})"),
                        nullable: true,
                        exact,
                    },
                    other => other,
                }
            }
            (Src::Json(j), AttrType::Boolean, Literal::Bool(b)) => {
                let wanted = match op {
                    CompareOp::Eq => *b,
                    CompareOp::Ne => !*b,
                    _ => return Cond::Const(false),
                };
                let p = self.params.boolean(wanted);
                Cond::exact(format!("({j} = to_jsonb({p}))"), true)
            }
            // Numbers compare exactly for two integers and by `f64` otherwise, and dateTimes in
            // the document by instant with nanoseconds: neither as SQL would. The built-in
            // schemas have no such attribute.
            (Src::Json(_), AttrType::Integer | AttrType::Decimal, Literal::Number(_))
            | (Src::Json(_), AttrType::DateTime, Literal::String(_)) => Cond::unknown(),
            // A value of another type than the literal's, or an operator the type does not take.
            _ => Cond::Const(false),
        }
    }

    /// A string value `t` (text, NULL when absent; `collated` when it is under `COLLATE "C"`
    /// already) against a literal.
    fn text(&mut self, t: &str, collated: bool, op: CompareOp, s: &str, case_exact: bool) -> Cond {
        if case_exact {
            if s.contains('\0') {
                return Cond::unknown();
            }
            let a = if collated {
                t.to_string()
            } else {
                format!("({t}) COLLATE \"C\"")
            };
            return self.strings(a, op, s.to_string(), true);
        }
        let folded = fold(s);
        if folded.contains('\0') {
            return Cond::unknown();
        }
        if folded.is_ascii() {
            let a = self.params.fold_for_ascii(t);
            return self.strings(a, op, folded, true);
        }
        let sure = sigma_free(&folded);
        let a = self.params.fold(t);
        let c = self.strings(a, op, folded, true);
        if sure {
            return c;
        }
        // Rust folds `Σ` by context: a text holding one is undecided, so selected.
        Cond::Sql {
            sql: format!("(strpos({t}, '{SIGMA}') > 0 OR {})", c.sql()),
            nullable: true,
            exact: false,
        }
    }

    /// `a op b`, both in the same form (folded or not), `a` under `COLLATE "C"`.
    fn strings(&mut self, a: String, op: CompareOp, b: String, nullable: bool) -> Cond {
        let b = match op {
            CompareOp::Co => format!("%{}%", like_escape(&b)),
            CompareOp::Sw => format!("{}%", like_escape(&b)),
            CompareOp::Ew => format!("%{}", like_escape(&b)),
            _ => b,
        };
        let p = self.params.text(b);
        Cond::exact(format!("({a} {} {p})", operator(op)), nullable)
    }

    /// A nanosecond column against an RFC 3339 literal, as instants.
    fn instant(&mut self, col: &str, op: CompareOp, s: &str) -> Cond {
        let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) else {
            // The evaluator compares nothing with a literal that is no dateTime.
            return Cond::Const(false);
        };
        let n = t.unix_timestamp_nanos();
        match i64::try_from(n) {
            Ok(n) => {
                let p = self.params.int(n);
                Cond::exact(format!("({col} {} {p})", operator(op)), false)
            }
            // Beyond every stored time: the comparison is the same for every row.
            Err(_) => {
                let later = n > 0;
                Cond::Const(match op {
                    CompareOp::Eq => false,
                    CompareOp::Ne => true,
                    CompareOp::Gt | CompareOp::Ge => !later,
                    CompareOp::Lt | CompareOp::Le => later,
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
                })
            }
        }
    }
}
