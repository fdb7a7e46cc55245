//! Application of parsed operations to a document in canonical form.
//!
//! Longer than 600 lines on purpose: it is one algorithm (the table of RFC 7644 §3.5.2 in
//! `patch/mod.rs`, target by target), whose cases share the same few helpers for containers,
//! value filters and canonical form; split by case, each file would re-import the others.

use serde_json::{Map, Value};

use super::matcher::ValueFilter;
use super::{located, Op, Operation};
use crate::error::{quote, Error, Result};
use crate::filter::{self, AttrPath, CompareOp, Filter, Literal, PatchPath};
use crate::resource::coerce;
use crate::schema::{AttrType, Attribute, Kind, Mutability, Registry};

type Object = Map<String, Value>;

/// Applies operations to `doc` (a resource in canonical form: no `id`, `meta` or `groups`), in
/// order and atomically: on error `doc` is left exactly as it was, and it is only written when
/// the result differs from it. See the [module documentation](super) for the semantics.
pub fn apply(
    doc: &mut Value,
    ops: &[Operation],
    registry: &Registry,
    kind: Kind,
    strict: bool,
) -> Result<()> {
    let Value::Object(original) = &*doc else {
        return Err(Error::Bug("the PATCH target is not a JSON object".into()));
    };
    let engine = Engine {
        registry,
        kind,
        strict,
    };
    let mut work = original.clone();
    for (i, op) in ops.iter().enumerate() {
        engine
            .operation(&mut work, op)
            .map_err(|e| located(format_args!("Operations[{i}]"), e))?;
    }
    engine.tidy(&mut work);
    if work != *original {
        *doc = Value::Object(work);
    }
    Ok(())
}

struct Engine<'r> {
    registry: &'r Registry,
    kind: Kind,
    strict: bool,
}

/// Where an operation lands, resolved against the schemas.
struct Target<'a> {
    /// The extension URN whose object holds the attribute, if any.
    ext: Option<&'a str>,
    attr: &'a Attribute,
    /// The sub-attribute: `name.givenName`, or `emails[…].value`.
    sub: Option<&'a Attribute>,
    /// The value filter, as written and bound to the attribute for evaluation.
    filter: Option<(&'a Filter, ValueFilter<'a>)>,
}

/// What an operation does to one slot.
enum Change {
    /// Leave it as it is (`add` of a value that means "unassigned").
    Keep,
    Set(Value),
    Unset,
}

impl Engine<'_> {
    fn operation(&self, doc: &mut Object, op: &Operation) -> Result<()> {
        let value = op.value.as_ref();
        if op.op == Op::Remove && self.strict && value.is_some_and(|v| !v.is_null()) {
            // Never read as "remove everything": the value list is a tolerated dialect.
            return Err(Error::invalid_syntax("'remove' takes no 'value'"));
        }
        match &op.path {
            None if op.op == Op::Remove => Err(Error::no_target("'remove' needs a 'path'")),
            None => self.resource_value(doc, op.op, value.unwrap_or(&Value::Null)),
            Some(path) => match self.schema_path(path) {
                Some(schema) => self.schema_value(doc, op.op, schema, value),
                None => {
                    let target = self.target(path)?;
                    self.at(doc, op.op, &target, value)
                }
            },
        }
    }

    /// A path-less `add` or `replace`: each member of the value object as if named by a path.
    fn resource_value(&self, doc: &mut Object, op: Op, value: &Value) -> Result<()> {
        let Value::Object(entries) = value else {
            return Err(Error::invalid_value(
                "without a 'path', the 'value' must be an object of attributes",
            ));
        };
        for (key, v) in entries {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            match self.schema_named(key) {
                Some(schema) => self.schema_value(doc, op, schema, Some(v))?,
                None => self.keyed(doc, op, None, key, v)?,
            }
        }
        Ok(())
    }

    /// An operation on all attributes of one schema: a path (or path-less key) that is a schema
    /// URN, with an object of that schema's attributes as value.
    fn schema_value(
        &self,
        doc: &mut Object,
        op: Op,
        schema: &str,
        value: Option<&Value>,
    ) -> Result<()> {
        match (op, value) {
            (Op::Remove, _) | (Op::Replace, Some(Value::Null)) => {
                let Some(def) = self.registry.schema(schema) else {
                    return Ok(());
                };
                let ext = self.extension_urn(schema);
                for attr in &def.attributes {
                    let present =
                        container_ref(doc, ext).is_some_and(|c| get_ci(c, &attr.name).is_some());
                    if present {
                        let target = Target {
                            ext,
                            attr,
                            sub: None,
                            filter: None,
                        };
                        self.at(doc, Op::Remove, &target, None)?;
                    }
                }
                Ok(())
            }
            (_, Some(Value::Object(entries))) => entries
                .iter()
                .try_for_each(|(key, v)| self.keyed(doc, op, Some(schema), key, v)),
            (Op::Add, Some(Value::Null)) => Ok(()),
            _ => Err(Error::invalid_value(format!(
                "the value for {schema} must be an object of that schema's attributes"
            ))),
        }
    }

    /// One member of a path-less value object.
    fn keyed(
        &self,
        doc: &mut Object,
        op: Op,
        schema: Option<&str>,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        let Some(path) = key_path(schema, key) else {
            return self.unknown_key(key);
        };
        let Some(resolved) = self
            .registry
            .resolve(self.kind, &self.canonical(&path.attr))
        else {
            return self.unknown_key(key);
        };
        if resolved.schema.is_none() && resolved.attribute.mutability == Mutability::ReadOnly {
            // `id` and `meta`: clients echo them (Okta's group rename sends `id`).
            return Ok(());
        }
        let target = self.target(&path)?;
        self.at(doc, op, &target, Some(value))
    }

    fn unknown_key(&self, key: &str) -> Result<()> {
        if self.strict {
            Err(Error::invalid_syntax(format!(
                "unknown attribute {}",
                quote(key)
            )))
        } else {
            Ok(())
        }
    }

    /// The core or extension schema of this kind with that URN (legacy aliases too, unless strict).
    fn schema_named(&self, urn: &str) -> Option<&str> {
        self.registry
            .schema_for_urn(self.kind, urn, !self.strict)
            .map(|s| s.id.as_str())
    }

    /// An attribute path with its schema URN prefix in canonical form (a legacy alias such as
    /// `urn:scim:schemas:extension:enterprise:2.0` becomes the RFC's URN, unless strict).
    fn canonical(&self, attr: &AttrPath) -> AttrPath {
        let urn = attr
            .urn
            .as_deref()
            .map(|u| self.schema_named(u).unwrap_or(u).to_string());
        AttrPath {
            urn,
            name: attr.name.clone(),
            sub: attr.sub.clone(),
        }
    }

    /// `Some(urn)` when the schema is an extension (its attributes sit under its URN).
    fn extension_urn<'s>(&self, schema: &'s str) -> Option<&'s str> {
        let core = self.registry.core(self.kind);
        (!core.id.eq_ignore_ascii_case(schema)).then_some(schema)
    }

    /// The schema a path names when it is a bare schema URN (`urn:…:enterprise:2.0:User`).
    fn schema_path(&self, path: &PatchPath) -> Option<&str> {
        if path.filter.is_some() || path.sub.is_some() || path.attr.sub.is_some() {
            return None;
        }
        let urn = path.attr.urn.as_ref()?;
        self.schema_named(&format!("{urn}:{}", path.attr.name))
    }

    /// Resolves a path against the schemas (`invalidPath` when it names nothing).
    fn target<'a>(&'a self, path: &'a PatchPath) -> Result<Target<'a>> {
        let base = AttrPath {
            sub: None,
            ..self.canonical(&path.attr)
        };
        let Some(resolved) = self.registry.resolve(self.kind, &base) else {
            return Err(Error::invalid_path(format!(
                "unknown attribute {}",
                quote(&path.to_string())
            )));
        };
        let attr = resolved.attribute;
        let sub_name = match (&path.attr.sub, &path.filter, &path.sub) {
            (None, _, None) => None,
            (Some(sub), None, None) | (None, Some(_), Some(sub)) => Some(sub),
            _ => {
                return Err(Error::invalid_path(format!(
                    "{} is not a valid PATCH path",
                    quote(&path.to_string())
                )))
            }
        };
        let sub = match sub_name {
            None => None,
            Some(name) => Some(attr.sub(name).ok_or_else(|| {
                Error::invalid_path(format!(
                    "attribute '{}' has no sub-attribute {}",
                    attr.name,
                    quote(name)
                ))
            })?),
        };
        let ext = if resolved.extension {
            resolved.schema
        } else {
            None
        };
        let filter = match &path.filter {
            None => None,
            Some(_) if !attr.multi_valued => {
                return Err(Error::invalid_path(format!(
                    "attribute '{}' is single-valued and takes no value filter",
                    attr.name
                )))
            }
            Some(filter) => {
                let bound =
                    ValueFilter::new(&base, filter, &attr.name, ext, self.registry, self.kind)?;
                Some((filter, bound))
            }
        };
        Ok(Target {
            ext,
            attr,
            sub,
            filter,
        })
    }

    /// Applies one operation at a resolved target.
    fn at(&self, doc: &mut Object, op: Op, t: &Target<'_>, value: Option<&Value>) -> Result<()> {
        for def in std::iter::once(t.attr).chain(t.sub) {
            if def.mutability == Mutability::ReadOnly {
                return Err(Error::mutability(format!(
                    "attribute '{}' is readOnly",
                    def.name
                )));
            }
        }
        let leaf = t.sub.unwrap_or(t.attr);
        if t.attr.mutability == Mutability::WriteOnly || leaf.mutability == Mutability::WriteOnly {
            // Accepted (and validated) but never stored: the canonical form holds no password.
            if op != Op::Remove {
                self.coerce(leaf, value)?;
            }
            return Ok(());
        }
        let container = container(doc, t.ext)?;
        let old = get_ci(container, &t.attr.name).cloned();
        let new = if t.attr.multi_valued {
            self.multi(op, t, old.as_ref(), value)?
        } else {
            self.single(op, t, old.as_ref(), value)?
        };
        if t.attr.required && old.is_some() && new.is_none() {
            return Err(Error::mutability(format!(
                "attribute '{}' is required and cannot be removed",
                t.attr.name
            )));
        }
        check_immutable(t.attr, old.as_ref(), new.as_ref())?;
        write(container, &t.attr.name, new);
        Ok(())
    }

    /// The new value of a single-valued attribute.
    fn single(
        &self,
        op: Op,
        t: &Target<'_>,
        old: Option<&Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>> {
        let Some(sub) = t.sub else {
            return Ok(match self.change(op, t.attr, value)? {
                Change::Keep => old.cloned(),
                Change::Unset => None,
                // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not given are left unchanged.
                Change::Set(Value::Object(given)) => Some(Value::Object(merge(
                    t.attr,
                    old.and_then(Value::as_object),
                    given,
                )?)),
                Change::Set(v) => Some(v),
            });
        };
        let mut object = old.and_then(Value::as_object).cloned().unwrap_or_default();
        set_sub(&mut object, sub, &self.change(op, sub, value)?)?;
        Ok(non_empty_object(object))
    }

    /// The new value of a multi-valued attribute.
    fn multi(
        &self,
        op: Op,
        t: &Target<'_>,
        old: Option<&Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>> {
        let mut items = match old {
            Some(Value::Array(items)) => items.clone(),
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        };
        let touched = if t.filter.is_none() && t.sub.is_none() {
            match op {
                Op::Add => self.append(t.attr, &mut items, value)?,
                Op::Replace => {
                    items = match self.coerce(t.attr, value)? {
                        Some(Value::Array(new)) => new,
                        Some(other) => vec![other],
                        None => Vec::new(),
                    };
                    (0..items.len()).collect()
                }
                Op::Remove => {
                    match value {
                        Some(listed) if !listed.is_null() && !self.strict => {
                            self.remove_listed(t.attr, &mut items, listed)?
                        }
                        _ => items.clear(),
                    }
                    Vec::new()
                }
            }
        } else {
            self.select(op, t, &mut items, value)?
        };
        enforce_primary(t.attr, &mut items, &touched)?;
        Ok((!items.is_empty()).then_some(Value::Array(items)))
    }

    /// `add` to a multi-valued attribute: appends the new values, skipping those already there.
    /// Returns the indices of the values appended.
    fn append(
        &self,
        attr: &Attribute,
        items: &mut Vec<Value>,
        value: Option<&Value>,
    ) -> Result<Vec<usize>> {
        let new = match self.coerce(attr, value)? {
            Some(Value::Array(new)) => new,
            Some(other) => vec![other],
            None => return Ok(Vec::new()),
        };
        let mut touched = Vec::new();
        for v in new {
            if !items.iter().any(|e| self.same_value(attr, e, &v)) {
                touched.push(items.len());
                items.push(v);
            }
        }
        Ok(touched)
    }

    /// Whether two values of a multi-valued attribute are the same value: group members are
    /// identified by their `value`, anything else must be equal.
    fn same_value(&self, attr: &Attribute, a: &Value, b: &Value) -> bool {
        if self.kind == Kind::Group && attr.name == "members" {
            if let (Some(def), Some(x), Some(y)) =
                (attr.sub("value"), a.get("value"), b.get("value"))
            {
                return same_scalar(def, x, y);
            }
        }
        a == b
    }

    /// Entra's and UnboundID's `remove` with a value list: removes just the listed values.
    fn remove_listed(
        &self,
        attr: &Attribute,
        items: &mut Vec<Value>,
        listed: &Value,
    ) -> Result<()> {
        // UnboundID wraps the list: {"members": [...]}.
        let listed = match listed {
            Value::Object(o) if o.len() == 1 => get_ci(o, &attr.name).unwrap_or(listed),
            other => other,
        };
        let Some(Value::Array(listed)) = self.coerce(attr, Some(listed))? else {
            return Ok(());
        };
        items.retain(|element| !listed.iter().any(|l| listed_matches(attr, l, element)));
        Ok(())
    }

    /// An operation with a value filter, or on `multi.sub`: acts on the selected values.
    /// Returns the indices of the values written.
    fn select(
        &self,
        op: Op,
        t: &Target<'_>,
        items: &mut Vec<Value>,
        value: Option<&Value>,
    ) -> Result<Vec<usize>> {
        let matched: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, e)| t.filter.as_ref().is_none_or(|(_, f)| f.matches(e)))
            .map(|(i, _)| i)
            .collect();
        if matched.is_empty() {
            return self.no_match(op, t, items, value);
        }
        let remove_matched = |items: &mut Vec<Value>| {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !matched.contains(&(i - 1))
            });
        };
        if let Some(sub) = t.sub {
            let change = self.change(op, sub, value)?;
            for &i in &matched {
                if let Some(Value::Object(element)) = items.get_mut(i) {
                    set_sub(element, sub, &change)?;
                }
            }
            return Ok(match change {
                Change::Set(_) => matched,
                Change::Keep => Vec::new(),
                Change::Unset => {
                    items.retain(|e| !is_empty(e));
                    Vec::new()
                }
            });
        }
        if op == Op::Remove {
            remove_matched(items);
            return Ok(Vec::new());
        }
        let Some(element) = self.coerce_element(t.attr, value)? else {
            if op == Op::Replace {
                remove_matched(items);
            }
            return Ok(Vec::new());
        };
        for &i in &matched {
            let Some(slot) = items.get_mut(i) else {
                continue;
            };
            *slot = match (op, &*slot, &element) {
                (Op::Add, Value::Object(old), Value::Object(given)) => {
                    Value::Object(merge(t.attr, Some(old), given.clone())?)
                }
                _ => {
                    for sub in t
                        .attr
                        .sub_attributes
                        .iter()
                        .filter(|s| s.mutability == Mutability::Immutable)
                    {
                        check_immutable(sub, slot.get(&sub.name), element.get(&sub.name))?;
                    }
                    element.clone()
                }
            };
        }
        Ok(matched)
    }

    /// A selection that matched nothing: `noTarget`, except that `remove` is a no-op unless
    /// strict, and that a plain `eq` filter creates the value it describes unless strict.
    fn no_match(
        &self,
        op: Op,
        t: &Target<'_>,
        items: &mut Vec<Value>,
        value: Option<&Value>,
    ) -> Result<Vec<usize>> {
        let Some((filter, _)) = &t.filter else {
            return match op {
                Op::Remove => Ok(Vec::new()),
                _ => Err(Error::no_target(format!(
                    "attribute '{}' has no values to set '{}' on",
                    t.attr.name,
                    t.sub.map_or("", |s| s.name.as_str())
                ))),
            };
        };
        let no_target =
            || Error::no_target(format!("no value of '{}' matches the filter", t.attr.name));
        if op == Op::Remove {
            return if self.strict {
                Err(no_target())
            } else {
                Ok(Vec::new())
            };
        }
        let seed = if self.strict {
            None
        } else {
            seed(filter, t.attr)
        };
        let Some(mut element) = seed else {
            return Err(no_target());
        };
        match t.sub {
            Some(sub) => match self.change(op, sub, value)? {
                Change::Set(v) => write(&mut element, &sub.name, Some(v)),
                Change::Keep | Change::Unset => return Ok(Vec::new()),
            },
            None => match self.coerce_element(t.attr, value)? {
                Some(Value::Object(given)) => element.extend(given),
                Some(_) => return Err(no_target()),
                None => return Ok(Vec::new()),
            },
        }
        items.push(Value::Object(element));
        Ok(vec![items.len() - 1])
    }

    /// What an operation does to a slot holding a value of `def`.
    fn change(&self, op: Op, def: &Attribute, value: Option<&Value>) -> Result<Change> {
        if op == Op::Remove {
            return Ok(Change::Unset);
        }
        Ok(match self.coerce(def, value)? {
            Some(v) => Change::Set(v),
            None if op == Op::Add => Change::Keep,
            None => Change::Unset,
        })
    }

    /// [`coerce`], then drops `readOnly` sub-attributes (`mutability` when strict).
    fn coerce(&self, def: &Attribute, value: Option<&Value>) -> Result<Option<Value>> {
        let Some(mut v) = coerce(def, value.unwrap_or(&Value::Null), self.strict)? else {
            return Ok(None);
        };
        if def.kind == AttrType::Complex {
            let objects: Vec<&mut Object> = match &mut v {
                Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
                Value::Object(o) => vec![o],
                _ => Vec::new(),
            };
            for object in objects {
                for sub in def
                    .sub_attributes
                    .iter()
                    .filter(|s| s.mutability == Mutability::ReadOnly)
                {
                    if object.shift_remove(&sub.name).is_some() && self.strict {
                        return Err(Error::mutability(format!(
                            "sub-attribute '{}.{}' is readOnly",
                            def.name, sub.name
                        )));
                    }
                }
            }
            if let Value::Array(items) = &mut v {
                items.retain(|e| !is_empty(e));
            }
        }
        Ok((!is_empty(&v)).then_some(v))
    }

    /// Coerces a value meant as one element of a multi-valued attribute.
    fn coerce_element(&self, attr: &Attribute, value: Option<&Value>) -> Result<Option<Value>> {
        let wrapped = match value.unwrap_or(&Value::Null) {
            Value::Array(items) if items.len() == 1 && !self.strict => Value::Array(items.clone()),
            Value::Array(_) => {
                return Err(Error::invalid_value(format!(
                    "a value filter on '{}' selects values: give one value, not an array",
                    attr.name
                )))
            }
            other => Value::Array(vec![other.clone()]),
        };
        Ok(match self.coerce(attr, Some(&wrapped))? {
            Some(Value::Array(mut items)) => items.pop(),
            _ => None,
        })
    }

    /// Restores the canonical form around extensions: no empty extension object, and `schemas`
    /// lists exactly the extensions present.
    fn tidy(&self, doc: &mut Object) {
        for ext in self.registry.extensions(self.kind) {
            let key = key_ci(doc, &ext.id);
            let present = match &key {
                Some(k) if doc.get(k).is_some_and(is_empty) => {
                    doc.shift_remove(k);
                    false
                }
                Some(_) => true,
                None => false,
            };
            let listed = match doc.get("schemas") {
                Some(Value::Array(list)) => list
                    .iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id))),
                _ => false,
            };
            if present && !listed {
                let core = self.registry.core(self.kind).id.clone();
                let schemas = doc
                    .entry("schemas")
                    .or_insert_with(|| Value::Array(vec![Value::String(core)]));
                if let Value::Array(list) = schemas {
                    list.push(Value::String(ext.id.clone()));
                }
            } else if !present && listed {
                if let Some(Value::Array(list)) = doc.get_mut("schemas") {
                    list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
                }
            }
        }
    }
}

/// Merges the given sub-attributes into a complex value.
fn merge(attr: &Attribute, old: Option<&Object>, given: Object) -> Result<Object> {
    let mut out = old.cloned().unwrap_or_default();
    for (key, v) in given {
        let Some(sub) = attr.sub(&key) else { continue };
        check_immutable(sub, get_ci(&out, &sub.name), Some(&v))?;
        write(&mut out, &sub.name, Some(v));
    }
    Ok(out)
}

/// Applies a change to one sub-attribute of a complex value.
fn set_sub(object: &mut Object, sub: &Attribute, change: &Change) -> Result<()> {
    let new = match change {
        Change::Keep => return Ok(()),
        Change::Set(v) => Some(v),
        Change::Unset => None,
    };
    check_immutable(sub, get_ci(object, &sub.name), new)?;
    write(object, &sub.name, new.cloned());
    Ok(())
}

/// `mutability` when an immutable attribute that has a value would change.
fn check_immutable(def: &Attribute, old: Option<&Value>, new: Option<&Value>) -> Result<()> {
    if def.mutability == Mutability::Immutable && old.is_some_and(|o| !is_empty(o)) && old != new {
        return Err(Error::mutability(format!(
            "attribute '{}' is immutable and already has a value",
            def.name
        )));
    }
    Ok(())
}

/// After an operation wrote the values at `touched`: when one of them is primary, the others
/// stop being primary (RFC 7643 §2.4); two new primaries is `invalidValue`.
fn enforce_primary(attr: &Attribute, items: &mut [Value], touched: &[usize]) -> Result<()> {
    if touched.is_empty() || attr.sub("primary").is_none() {
        return Ok(());
    }
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    let primaries = touched
        .iter()
        .filter(|&&i| items.get(i).is_some_and(is_primary))
        .count();
    if primaries > 1 {
        return Err(Error::invalid_value(format!(
            "at most one value of '{}' may be primary",
            attr.name
        )));
    }
    if primaries == 1 {
        for (i, item) in items.iter_mut().enumerate() {
            if !touched.contains(&i) && is_primary(item) {
                if let Value::Object(o) = item {
                    o.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
    Ok(())
}

/// Whether a value listed in a `remove` matches an element: by `value` when the listed value
/// has one, else by the sub-attributes it lists.
fn listed_matches(attr: &Attribute, listed: &Value, element: &Value) -> bool {
    match (listed, element) {
        (Value::Object(l), Value::Object(e)) => match (l.get("value"), attr.sub("value")) {
            (Some(lv), Some(def)) => get_ci(e, "value").is_some_and(|ev| same_scalar(def, lv, ev)),
            _ => {
                !l.is_empty()
                    && l.iter().all(|(k, v)| match (attr.sub(k), get_ci(e, k)) {
                        (Some(def), Some(ev)) => same_scalar(def, v, ev),
                        _ => false,
                    })
            }
        },
        (l, e) => same_scalar(attr, l, e),
    }
}

/// Equality of two values of `def`, case-insensitive for strings unless `caseExact`.
fn same_scalar(def: &Attribute, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !def.case_exact => {
            a.to_lowercase() == b.to_lowercase()
        }
        _ => a == b,
    }
}

/// The value a plain `eq` filter (or an `and` of them) describes, for creating it when it is
/// missing (Entra's `emails[type eq "work"].value`).
fn seed(filter: &Filter, attr: &Attribute) -> Option<Object> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = attr
                .sub(&path.name)
                .filter(|s| s.mutability != Mutability::ReadOnly)?;
            let json = match value {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Null => return None,
            };
            let v = coerce(sub, &json, false).ok()??;
            Some(Object::from_iter([(sub.name.clone(), v)]))
        }
        Filter::And(parts) => parts.iter().try_fold(Object::new(), |mut acc, f| {
            acc.extend(seed(f, attr)?);
            Some(acc)
        }),
        _ => None,
    }
}

/// The path a member of a path-less value object names (`name`, `name.sub`, `urn:…:name[.sub]`
/// or a value path), read with the PATCH path grammar; `schema` is the URN of an enclosing
/// schema object. `None` when it does not parse.
fn key_path(schema: Option<&str>, key: &str) -> Option<PatchPath> {
    match schema {
        Some(urn) => filter::parse_path(&format!("{urn}:{key}")).ok(),
        None => filter::parse_path(key).ok(),
    }
}

/// The object holding a target's attribute: the document, or an extension's object (created
/// empty when missing; `tidy` drops it again if it stays empty).
fn container<'d>(doc: &'d mut Object, ext: Option<&str>) -> Result<&'d mut Object> {
    let Some(urn) = ext else { return Ok(doc) };
    let key = key_ci(doc, urn).unwrap_or_else(|| urn.to_string());
    match doc
        .entry(key)
        .or_insert_with(|| Value::Object(Object::new()))
    {
        Value::Object(object) => Ok(object),
        _ => Err(Error::Bug(format!(
            "stored extension {urn} is not an object"
        ))),
    }
}

fn container_ref<'d>(doc: &'d Object, ext: Option<&str>) -> Option<&'d Object> {
    match ext {
        None => Some(doc),
        Some(urn) => get_ci(doc, urn)?.as_object(),
    }
}

/// The key under which an object holds a name, matched case-insensitively.
fn key_ci(map: &Object, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// A member of an object by case-insensitive name (canonical documents use schema spelling,
/// which is tried first).
pub(super) fn get_ci<'m>(map: &'m Object, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Writes (or with `None` removes) a member under its schema spelling, keeping its position
/// when it already exists under that spelling.
fn write(map: &mut Object, name: &str, new: Option<Value>) {
    let existing = key_ci(map, name);
    match (existing, new) {
        (Some(key), Some(v)) if key == name => {
            map.insert(key, v);
        }
        (Some(key), Some(v)) => {
            map.shift_remove(&key);
            map.insert(name.to_string(), v);
        }
        (None, Some(v)) => {
            map.insert(name.to_string(), v);
        }
        (Some(key), None) => {
            map.shift_remove(&key);
        }
        (None, None) => {}
    }
}

fn non_empty_object(object: Object) -> Option<Value> {
    (!object.is_empty()).then_some(Value::Object(object))
}

/// Whether a value means "unassigned" in canonical form.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
