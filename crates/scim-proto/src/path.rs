//! Attribute paths (RFC 7644 §3.10): the type that schemas resolve and filters, PATCH paths,
//! `sortBy` and `attributes` name. Its own module, so that the schema registry and the filter
//! grammar both use it without depending on each other.

use std::fmt;

/// An attribute path: `[urn:...:]name[.sub]` (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, as written (for example `urn:ietf:params:scim:schemas:core:2.0:User`).
    pub urn: Option<String>,
    /// The attribute name, as written (names are matched case-insensitively).
    pub name: String,
    /// The sub-attribute name, as written, when the path names one.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path naming a top-level attribute without schema prefix or sub-attribute.
    pub fn simple(name: &str) -> Self {
        AttrPath {
            urn: None,
            name: name.to_string(),
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
