//! Values for the schema-derived checks: what to write for an attribute, and whether what came
//! back holds what was written.

use serde_json::{json, Map, Value};

use crate::cx::Cx;
use crate::discovery::{AttrType, Attribute, Mutability, Returned, Uniqueness};

/// What the generator needs: a run-unique counter, the prefix, and an existing User id for
/// references.
pub(super) struct Gen<'a> {
    pub(super) cx: &'a mut Cx,
    pub(super) helper: Option<String>,
}

impl Gen<'_> {
    pub(super) fn unique(&mut self, label: &str) -> String {
        self.cx.name(label)
    }

    /// A valid value for `a` (a child of `parent`, if any); `None` when the generator cannot make
    /// one (references to other resources without a helper).
    pub(super) fn value(&mut self, a: &Attribute, parent: Option<&Attribute>) -> Option<Value> {
        let one = self.single(a, parent)?;
        Some(if a.multi { json!([one]) } else { one })
    }

    fn single(&mut self, a: &Attribute, parent: Option<&Attribute>) -> Option<Value> {
        let n = a.name.to_ascii_lowercase();
        let pn = parent
            .map(|p| p.name.to_ascii_lowercase())
            .unwrap_or_default();
        Some(match a.kind {
            AttrType::Complex => {
                let mut o = Map::new();
                for s in &a.sub {
                    if skip_sub(s) {
                        continue;
                    }
                    if let Some(v) = self.value(s, Some(a)) {
                        o.insert(s.name.clone(), v);
                    }
                }
                if o.is_empty() {
                    return None;
                }
                Value::Object(o)
            }
            AttrType::Boolean => json!(true),
            AttrType::Integer => json!(42),
            AttrType::Decimal => json!(1.5),
            AttrType::DateTime => json!("2021-02-03T04:05:06Z"),
            AttrType::Binary => json!("Q29uZm9ybWFuY2U="),
            AttrType::Reference => {
                if a.reference_types
                    .iter()
                    .any(|t| t == "external" || t == "uri")
                    || a.reference_types.is_empty()
                {
                    let u = self.unique("Ref");
                    json!(format!("https://example.com/{u}/Ab"))
                } else {
                    return None;
                }
            }
            AttrType::String | AttrType::Other => {
                if let Some(c) = a.canonical.first() {
                    json!(c)
                } else if n == "value" && ["members", "manager", "groups"].contains(&pn.as_str()) {
                    json!(self.helper.clone()?)
                } else if n == "value" && pn == "emails" {
                    let u = self.unique("Mail");
                    json!(format!("{u}@Example.com"))
                } else if n == "value" && pn == "phonenumbers" {
                    json!("tel:+1-201-555-0123")
                } else if n.contains("language") || n == "locale" {
                    json!("en-US")
                } else if n == "timezone" {
                    json!("Europe/Paris")
                } else if a.uniqueness != Uniqueness::None {
                    json!(self.unique(&format!("{}-Ab", a.name)))
                } else {
                    let u = self.unique(&format!("{}-Ab", a.name));
                    json!(u)
                }
            }
        })
    }
}

/// Sub-attributes the generator leaves to the server: `$ref` (derived from `value`) and
/// `display` (servers fill it from the referenced resource).
pub(super) fn skip_sub(s: &Attribute) -> bool {
    s.name == "$ref"
        || s.name.eq_ignore_ascii_case("display")
        || s.mutability == Mutability::ReadOnly
}

/// Whether `got` holds `sent` for attribute `a`: case per caseExact, instants for dateTimes,
/// sub-attribute subsets for complex values, any order for multi-valued ones.
pub(super) fn holds(a: &Attribute, sent: &Value, got: &Value) -> bool {
    if a.multi {
        let (Some(s), Some(g)) = (sent.as_array(), got.as_array()) else {
            return false;
        };
        let mut used = vec![false; g.len()];
        return s.iter().all(|x| {
            let hit = g
                .iter()
                .enumerate()
                .find(|(i, y)| !used[*i] && holds_one(a, x, y));
            if let Some((i, _)) = hit {
                used[i] = true;
                true
            } else {
                false
            }
        });
    }
    holds_one(a, sent, got)
}

fn holds_one(a: &Attribute, sent: &Value, got: &Value) -> bool {
    match a.kind {
        AttrType::Complex => {
            let (Some(s), Some(g)) = (sent.as_object(), got.as_object()) else {
                return false;
            };
            s.iter().all(|(k, v)| {
                let sub = a.sub_attr(k);
                let gv = g
                    .iter()
                    .find(|(gk, _)| gk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v);
                match (sub, gv) {
                    (Some(sub), Some(gv)) => holds_one(sub, v, gv),
                    (None, Some(gv)) => gv == v,
                    (_, None) => false,
                }
            })
        }
        AttrType::String | AttrType::Reference | AttrType::Other if !a.case_exact => {
            match (sent.as_str(), got.as_str()) {
                (Some(s), Some(g)) => s.eq_ignore_ascii_case(g),
                _ => sent == got,
            }
        }
        AttrType::DateTime => {
            let t = |v: &Value| {
                v.as_str().and_then(|s| {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
            };
            t(sent).is_some() && t(sent) == t(got)
        }
        AttrType::Decimal => sent.as_f64().is_some() && sent.as_f64() == got.as_f64(),
        _ => sent == got,
    }
}

/// The string sent for sub-attribute `s` of `a` (or for `a` itself).
pub(super) fn sent_sub(sent: &Value, a: &Attribute, s: &Attribute) -> Option<String> {
    if std::ptr::eq(a, s) || a.name == s.name && a.kind != AttrType::Complex {
        let v = if a.multi { sent.get(0)? } else { sent };
        return v.as_str().map(str::to_string);
    }
    let v = if a.multi { sent.get(0)? } else { sent };
    v.get(s.name.as_str())?.as_str().map(str::to_string)
}

/// A value for a readOnly attribute that the server would never produce itself.
pub(super) fn bogus(a: &Attribute) -> Option<Value> {
    let one = match a.kind {
        AttrType::Complex => {
            let mut o = Map::new();
            for s in &a.sub {
                if s.kind == AttrType::String && s.name != "$ref" {
                    o.insert(
                        s.name.clone(),
                        json!(format!("conformance-bogus-{}", s.name)),
                    );
                }
            }
            if o.is_empty() {
                return None;
            }
            Value::Object(o)
        }
        AttrType::String | AttrType::Reference | AttrType::Other => json!("conformance-bogus"),
        AttrType::Boolean => json!(true),
        AttrType::Integer => json!(424242),
        AttrType::Decimal => json!(4242.5),
        AttrType::DateTime => json!("2001-01-01T00:00:00Z"),
        AttrType::Binary => json!("Ym9ndXM="),
    };
    Some(if a.multi { json!([one]) } else { one })
}

/// The common attribute `externalId` (RFC 7643 §3.1), which schemas do not list.
pub(super) fn external_id() -> Attribute {
    Attribute {
        name: "externalId".into(),
        kind: AttrType::String,
        multi: false,
        required: false,
        case_exact: true,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical: Vec::new(),
        reference_types: Vec::new(),
        sub: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(v: Value) -> Attribute {
        Attribute::from_json(&v).expect("an attribute")
    }

    #[test]
    fn holds_follows_case_exactness_and_types() {
        let ci = attr(json!({"name": "a", "type": "string"}));
        assert!(holds(&ci, &json!("Ab"), &json!("aB")));
        let ce = attr(json!({"name": "a", "type": "string", "caseExact": true}));
        assert!(!holds(&ce, &json!("Ab"), &json!("aB")));
        let dt = attr(json!({"name": "a", "type": "dateTime"}));
        assert!(holds(
            &dt,
            &json!("2021-02-03T04:05:06Z"),
            &json!("2021-02-03T05:05:06+01:00")
        ));
        let mv = attr(
            json!({"name": "emails", "type": "complex", "multiValued": true,
            "subAttributes": [{"name": "value", "type": "string"}, {"name": "type", "type": "string"}]}),
        );
        assert!(holds(
            &mv,
            &json!([{"value": "A@x"}]),
            &json!([{"value": "b"}, {"value": "a@X", "type": "work"}])
        ));
        assert!(!holds(
            &mv,
            &json!([{"value": "A@x"}, {"value": "c"}]),
            &json!([{"value": "a@x"}])
        ));
    }
}
