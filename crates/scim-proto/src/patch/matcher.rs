//! Value filters (`emails[type eq "work"]`) checked and evaluated by the filter module, one
//! element of a multi-valued attribute at a time: the element is wrapped in a one-element
//! resource and tested with the value path `attr[filter]`, so there is one evaluator.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::filter::{self, AttrPath, Filter};
use crate::schema::{Kind, Registry};

/// A value filter bound to its attribute, ready to test elements.
pub(super) struct ValueFilter<'a> {
    /// `attr[filter]`, as a filter over a whole resource.
    whole: Filter,
    /// The attribute's name in schema spelling.
    name: &'a str,
    /// The extension URN holding the attribute, if any.
    ext: Option<&'a str>,
    registry: &'a Registry,
    kind: Kind,
}

impl<'a> ValueFilter<'a> {
    /// Binds `filter` to the attribute `path` names (resolved to `name`, under `ext`), checking
    /// that it only names sub-attributes with values of their types (`invalidPath` otherwise).
    pub(super) fn new(
        path: &AttrPath,
        filter: &Filter,
        name: &'a str,
        ext: Option<&'a str>,
        registry: &'a Registry,
        kind: Kind,
    ) -> Result<Self> {
        let base = AttrPath {
            urn: path.urn.clone(),
            name: path.name.clone(),
            sub: None,
        };
        let whole = Filter::ValuePath {
            path: base,
            filter: Box::new(filter.clone()),
        };
        filter::validate(&whole, registry, kind).map_err(|e| match e {
            Error::Invalid { detail, .. } => Error::invalid_path(detail),
            other => other,
        })?;
        Ok(ValueFilter {
            whole,
            name,
            ext,
            registry,
            kind,
        })
    }

    /// Whether one element of the attribute matches.
    pub(super) fn matches(&self, element: &Value) -> bool {
        let mut holder = Map::new();
        holder.insert(self.name.to_string(), Value::Array(vec![element.clone()]));
        let resource = match self.ext {
            Some(urn) => {
                let mut outer = Map::new();
                outer.insert(urn.to_string(), Value::Object(holder));
                outer
            }
            None => holder,
        };
        filter::matches(
            &self.whole,
            &Value::Object(resource),
            self.registry,
            self.kind,
        )
    }
}
