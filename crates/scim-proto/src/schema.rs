//! Schema definitions (RFC 7643 §2, §7, §8.7) loaded from the JSON files in `server/schemas/`,
//! and the lookups the rest of the protocol layer needs: which attribute a path names, its type,
//! whether it compares case-exactly, its mutability and when it is returned.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::path::AttrPath;
use super::urn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// The sub-attribute of a complex attribute, by case-insensitive name.
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// One schema (RFC 7643 §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// A resource type (RFC 7643 §6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    #[serde(default)]
    pub description: Option<String>,
    pub schema: String,
    #[serde(default)]
    pub schema_extensions: Vec<SchemaExtension>,
}

/// Which kind of resource a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }
    /// The kind an endpoint segment (`Users`, `Groups`) names; in any case unless `strict`.
    pub fn from_endpoint(segment: &str, strict: bool) -> Option<Kind> {
        [Kind::User, Kind::Group].into_iter().find(|k| {
            if strict {
                segment == k.endpoint()
            } else {
                segment.eq_ignore_ascii_case(k.endpoint())
            }
        })
    }

    pub fn core_schema(self) -> &'static str {
        match self {
            Kind::User => urn::USER,
            Kind::Group => urn::GROUP,
        }
    }
}

/// Schema URNs that identity providers send in place of the RFC's (OneLogin's connectors, older
/// SCIM 1.1 clients), with the URN each stands for. `None` stands for the kind's core schema.
const LEGACY_URNS: &[(&str, Option<&str>)] = &[
    ("urn:scim:schemas:core:1.0", None),
    ("urn:scim:schemas:core:2.0", None),
    (
        "urn:scim:schemas:extension:enterprise:1.0",
        Some(urn::ENTERPRISE_USER),
    ),
    (
        "urn:scim:schemas:extension:enterprise:2.0",
        Some(urn::ENTERPRISE_USER),
    ),
];

/// Sub-attributes that SCIM 1.1 named differently, renamed when a value arrives under a legacy
/// extension URN: (attribute, 1.1 name, 2.0 name). OneLogin's 1.1 Enterprise template sends
/// `manager: {"managerId": ..., "displayName": ...}`.
const LEGACY_SUB_NAMES: &[(&str, &str, &str)] = &[("manager", "managerId", "value")];

/// The attributes common to every resource (RFC 7643 §3.1), which no schema file lists.
fn common_attributes() -> Vec<Attribute> {
    let text = include_str!("../schemas/common.json");
    serde_json::from_str(text).unwrap_or_default()
}

/// Where an attribute path led: the definition, and the schema it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The schema URN that holds the top-level attribute; `None` for the common attributes
    /// (`id`, `externalId`, `meta`).
    pub schema: Option<&'a str>,
    /// Whether that schema is an extension (its attributes sit in an object under its URN).
    pub extension: bool,
    /// The top-level attribute.
    pub attribute: &'a Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a Attribute>,
}

impl Resolved<'_> {
    /// The definition the path ends at.
    pub fn leaf(&self) -> &Attribute {
        self.sub.unwrap_or(self.attribute)
    }
}

/// All schemas and resource types the server serves, loaded once at start.
#[derive(Debug, Clone)]
pub struct Registry {
    pub schemas: Vec<Schema>,
    pub resource_types: Vec<ResourceType>,
    pub common: Vec<Attribute>,
}

impl Registry {
    /// The registry built from the JSON files shipped in `server/schemas/`.
    pub fn builtin() -> Self {
        let load = |text: &str| -> Schema {
            // The files are part of the binary and covered by tests: a parse failure is a build defect.
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("built-in schema file is invalid: {e}"))
        };
        let schemas = vec![
            load(include_str!("../schemas/User.json")),
            load(include_str!("../schemas/EnterpriseUser.json")),
            load(include_str!("../schemas/Group.json")),
        ];
        let resource_types: Vec<ResourceType> =
            serde_json::from_str(include_str!("../schemas/ResourceTypes.json"))
                .unwrap_or_else(|e| panic!("built-in resource types file is invalid: {e}"));
        Registry {
            schemas,
            resource_types,
            common: common_attributes(),
        }
    }

    pub fn schema(&self, id: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(id))
    }

    pub fn resource_type(&self, kind: Kind) -> &ResourceType {
        // Both kinds are in ResourceTypes.json; a test guards it.
        self.resource_types
            .iter()
            .find(|r| r.name == kind.name())
            .unwrap_or_else(|| {
                panic!(
                    "resource type {} missing from ResourceTypes.json",
                    kind.name()
                )
            })
    }

    /// The core schema of a kind.
    pub fn core(&self, kind: Kind) -> &Schema {
        let id = &self.resource_type(kind).schema;
        self.schema(id)
            .unwrap_or_else(|| panic!("schema {id} missing"))
    }

    /// The core or extension schema of a kind that a URN names, in any case; with `legacy`, also
    /// through the legacy aliases identity providers send (`urn:scim:schemas:core:2.0`, ...).
    pub fn schema_for_urn(&self, kind: Kind, urn: &str, legacy: bool) -> Option<&Schema> {
        let core = self.core(kind);
        if core.id.eq_ignore_ascii_case(urn) {
            return Some(core);
        }
        if let Some(ext) = self
            .extensions(kind)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
        {
            return Some(ext);
        }
        if !legacy {
            return None;
        }
        let (_, target) = LEGACY_URNS
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(urn))?;
        match target {
            None => Some(core),
            Some(id) => self.extensions(kind).find(|s| s.id == *id),
        }
    }

    /// A value sent under a legacy extension URN, with its SCIM 1.1 sub-attribute names renamed
    /// to the 2.0 ones.
    pub fn from_legacy(&self, attr: &Attribute, value: &Value) -> Value {
        let mut value = value.clone();
        for (name, old, new) in LEGACY_SUB_NAMES {
            if !attr.name.eq_ignore_ascii_case(name) {
                continue;
            }
            if let Value::Object(obj) = &mut value {
                if let Some(v) = obj.shift_remove(*old) {
                    obj.entry(new.to_string()).or_insert(v);
                }
            }
        }
        value
    }

    /// The extension schemas of a kind.
    pub fn extensions(&self, kind: Kind) -> impl Iterator<Item = &Schema> {
        self.resource_type(kind)
            .schema_extensions
            .iter()
            .filter_map(|e| self.schema(&e.schema))
    }

    /// Resolves an attribute path (with or without a schema URN prefix) against a kind's schemas.
    /// Unprefixed names are looked up in the common attributes, the core schema, then the extensions.
    pub fn resolve<'a>(&'a self, kind: Kind, path: &AttrPath) -> Option<Resolved<'a>> {
        let (schema, extension, attribute) = match &path.urn {
            Some(u) => {
                let core = self.core(kind);
                if core.id.eq_ignore_ascii_case(u) {
                    match self
                        .common
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(&path.name))
                    {
                        Some(a) => (None, false, a),
                        None => (Some(core.id.as_str()), false, core.attribute(&path.name)?),
                    }
                } else {
                    let ext = self
                        .extensions(kind)
                        .find(|s| s.id.eq_ignore_ascii_case(u))?;
                    (Some(ext.id.as_str()), true, ext.attribute(&path.name)?)
                }
            }
            None => {
                if let Some(a) = self
                    .common
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(&path.name))
                {
                    (None, false, a)
                } else {
                    let core = self.core(kind);
                    if let Some(a) = core.attribute(&path.name) {
                        (Some(core.id.as_str()), false, a)
                    } else {
                        let (s, a) = self
                            .extensions(kind)
                            .find_map(|s| s.attribute(&path.name).map(|a| (s, a)))?;
                        (Some(s.id.as_str()), true, a)
                    }
                }
            }
        };
        let sub = match &path.sub {
            Some(name) => Some(attribute.sub(name)?),
            None => None,
        };
        Some(Resolved {
            schema,
            extension,
            attribute,
            sub,
        })
    }

    /// The schema document as served at `/Schemas/{id}` (RFC 7643 §7), with its `meta`.
    pub fn schema_document(&self, schema: &Schema, base_url: &str) -> Value {
        let mut doc = serde_json::to_value(schema).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut doc {
            map.insert("schemas".into(), serde_json::json!([urn::SCHEMA]));
            map.insert(
                "meta".into(),
                serde_json::json!({
                    "resourceType": "Schema",
                    "location": format!("{base_url}/Schemas/{}", schema.id),
                }),
            );
        }
        doc
    }

    /// The resource type document as served at `/ResourceTypes/{id}` (RFC 7643 §6).
    pub fn resource_type_document(&self, rt: &ResourceType, base_url: &str) -> Value {
        let mut doc = serde_json::to_value(rt).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut doc {
            map.insert("schemas".into(), serde_json::json!([urn::RESOURCE_TYPE]));
            map.insert(
                "meta".into(),
                serde_json::json!({
                    "resourceType": "ResourceType",
                    "location": format!("{base_url}/ResourceTypes/{}", rt.id),
                }),
            );
        }
        doc
    }
}

/// The limits a ServiceProviderConfig advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `filter.maxResults`: the largest page a list returns.
    pub max_results: usize,
    /// `bulk.maxOperations`.
    pub bulk_max_operations: usize,
    /// `bulk.maxPayloadSize`, in bytes.
    pub max_payload_bytes: u64,
}

/// The ServiceProviderConfig (RFC 7643 §5), from `schemas/ServiceProviderConfig.json` with the
/// given limits.
pub fn service_provider_config(limits: Limits, base_url: &str) -> Value {
    let mut doc: Value =
        serde_json::from_str(include_str!("../schemas/ServiceProviderConfig.json"))
            .unwrap_or(Value::Null);
    doc["filter"]["maxResults"] = Value::from(limits.max_results);
    doc["bulk"] = serde_json::json!({
        "supported": true,
        "maxOperations": limits.bulk_max_operations,
        "maxPayloadSize": limits.max_payload_bytes,
    });
    doc["meta"] = serde_json::json!({
        "resourceType": "ServiceProviderConfig",
        "location": format!("{base_url}/ServiceProviderConfig"),
    });
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schemas_load_and_describe_both_kinds() {
        let r = Registry::builtin();
        assert_eq!(r.core(Kind::User).id, urn::USER);
        assert_eq!(r.core(Kind::Group).id, urn::GROUP);
        assert_eq!(r.extensions(Kind::User).count(), 1);
        let user_name = r
            .resolve(Kind::User, &AttrPath::simple("USERNAME"))
            .expect("userName");
        assert!(!user_name.attribute.case_exact);
        assert_eq!(user_name.attribute.uniqueness, Uniqueness::Server);
        let id = r.resolve(Kind::User, &AttrPath::simple("id")).expect("id");
        assert_eq!(id.attribute.returned, Returned::Always);
        assert_eq!(id.attribute.mutability, Mutability::ReadOnly);
        let pw = r
            .resolve(Kind::User, &AttrPath::simple("password"))
            .expect("password");
        assert_eq!(pw.attribute.returned, Returned::Never);
        let emp = r
            .resolve(Kind::User, &AttrPath::simple("employeeNumber"))
            .expect("employeeNumber");
        assert!(emp.extension);
        let mgr = AttrPath {
            urn: Some(urn::ENTERPRISE_USER.into()),
            name: "manager".into(),
            sub: Some("value".into()),
        };
        assert!(r.resolve(Kind::User, &mgr).is_some());
        let given = AttrPath {
            urn: None,
            name: "name".into(),
            sub: Some("givenName".into()),
        };
        assert_eq!(
            r.resolve(Kind::User, &given)
                .expect("name.givenName")
                .leaf()
                .kind,
            AttrType::String
        );
        assert!(r.resolve(Kind::User, &AttrPath::simple("nope")).is_none());
        assert!(r
            .resolve(Kind::Group, &AttrPath::simple("members"))
            .is_some());
    }
}
