//! What the server says about itself (RFC 7643 §5–7): its features, resource types and schemas,
//! parsed leniently so that the checks can compare them with what it does.

use serde_json::Value;

/// URN of the User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of ListResponse messages.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// URN of Error messages.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// URN of PatchOp messages.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// URN of SearchRequest messages.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// URN of BulkRequest messages.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of BulkResponse messages.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// URN of the ServiceProviderConfig schema.
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the ResourceType schema.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the Schema schema.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The features `/ServiceProviderConfig` advertises.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// `patch.supported`.
    pub patch: bool,
    /// `bulk.supported`.
    pub bulk: bool,
    /// `bulk.maxOperations`.
    pub bulk_max_operations: Option<u64>,
    /// `bulk.maxPayloadSize`.
    pub bulk_max_payload: Option<u64>,
    /// `filter.supported`.
    pub filter: bool,
    /// `filter.maxResults`.
    pub max_results: Option<u64>,
    /// `changePassword.supported`.
    pub change_password: bool,
    /// `sort.supported`.
    pub sort: bool,
    /// `etag.supported`.
    pub etag: bool,
}

impl Features {
    /// Reads a ServiceProviderConfig; a missing or malformed member counts as unsupported.
    pub fn from_spc(spc: &Value) -> Features {
        let on = |k: &str| spc[k]["supported"].as_bool().unwrap_or(false);
        Features {
            patch: on("patch"),
            bulk: on("bulk"),
            bulk_max_operations: spc["bulk"]["maxOperations"].as_u64(),
            bulk_max_payload: spc["bulk"]["maxPayloadSize"].as_u64(),
            filter: on("filter"),
            max_results: spc["filter"]["maxResults"].as_u64(),
            change_password: on("changePassword"),
            sort: on("sort"),
            etag: on("etag"),
        }
    }
}

/// A resource type as `/ResourceTypes` describes it.
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// `id` (or `name` when `id` is missing).
    pub id: String,
    /// `name`.
    pub name: String,
    /// `endpoint`, e.g. `/Users`.
    pub endpoint: String,
    /// The core schema URN.
    pub schema: String,
    /// Extension schema URNs, with their `required` flag.
    pub extensions: Vec<(String, bool)>,
}

impl ResourceType {
    /// Reads one ResourceType; `None` without `endpoint` or `schema`.
    pub fn from_json(v: &Value) -> Option<ResourceType> {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        Some(ResourceType {
            id: v["id"].as_str().map(str::to_string).unwrap_or(name.clone()),
            name,
            endpoint: v["endpoint"].as_str()?.to_string(),
            schema: v["schema"].as_str()?.to_string(),
            extensions: v["schemaExtensions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    Some((
                        e["schema"].as_str()?.to_string(),
                        e["required"].as_bool().unwrap_or(false),
                    ))
                })
                .collect(),
        })
    }
}

/// Attribute data types (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime`.
    DateTime,
    /// `binary`.
    Binary,
    /// `reference`.
    Reference,
    /// `complex`.
    Complex,
    /// Anything else.
    Other,
}

/// `mutability` (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// `readOnly`.
    ReadOnly,
    /// `readWrite` (the default).
    ReadWrite,
    /// `immutable`.
    Immutable,
    /// `writeOnly`.
    WriteOnly,
}

/// `returned` (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// `always`.
    Always,
    /// `never`.
    Never,
    /// `default` (the default).
    Default,
    /// `request`.
    Request,
}

/// `uniqueness` (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// `none` (the default).
    None,
    /// `server`.
    Server,
    /// `global`.
    Global,
}

/// One attribute definition, with the defaults of RFC 7643 §2.2 filled in.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// `name`.
    pub name: String,
    /// `type`.
    pub kind: AttrType,
    /// `multiValued`.
    pub multi: bool,
    /// `required`.
    pub required: bool,
    /// `caseExact`.
    pub case_exact: bool,
    /// `mutability`.
    pub mutability: Mutability,
    /// `returned`.
    pub returned: Returned,
    /// `uniqueness`.
    pub uniqueness: Uniqueness,
    /// `canonicalValues`.
    pub canonical: Vec<String>,
    /// `referenceTypes`.
    pub reference_types: Vec<String>,
    /// `subAttributes`.
    pub sub: Vec<Attribute>,
}

impl Attribute {
    /// Reads one attribute definition; `None` without a `name`.
    pub fn from_json(v: &Value) -> Option<Attribute> {
        let strs = |k: &str| -> Vec<String> {
            v[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        };
        Some(Attribute {
            name: v["name"].as_str()?.to_string(),
            kind: match v["type"].as_str().unwrap_or("string") {
                "string" => AttrType::String,
                "boolean" => AttrType::Boolean,
                "decimal" => AttrType::Decimal,
                "integer" => AttrType::Integer,
                "dateTime" => AttrType::DateTime,
                "binary" => AttrType::Binary,
                "reference" => AttrType::Reference,
                "complex" => AttrType::Complex,
                _ => AttrType::Other,
            },
            multi: v["multiValued"].as_bool().unwrap_or(false),
            required: v["required"].as_bool().unwrap_or(false),
            case_exact: v["caseExact"].as_bool().unwrap_or(false),
            mutability: match v["mutability"].as_str().unwrap_or("readWrite") {
                "readOnly" => Mutability::ReadOnly,
                "immutable" => Mutability::Immutable,
                "writeOnly" => Mutability::WriteOnly,
                _ => Mutability::ReadWrite,
            },
            returned: match v["returned"].as_str().unwrap_or("default") {
                "always" => Returned::Always,
                "never" => Returned::Never,
                "request" => Returned::Request,
                _ => Returned::Default,
            },
            uniqueness: match v["uniqueness"].as_str().unwrap_or("none") {
                "server" => Uniqueness::Server,
                "global" => Uniqueness::Global,
                _ => Uniqueness::None,
            },
            canonical: strs("canonicalValues"),
            reference_types: strs("referenceTypes"),
            sub: v["subAttributes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Attribute::from_json)
                .collect(),
        })
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub_attr(&self, name: &str) -> Option<&Attribute> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema as `/Schemas` describes it.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The URN.
    pub id: String,
    /// `name`.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// Reads one schema; `None` without an `id`.
    pub fn from_json(v: &Value) -> Option<Schema> {
        Some(Schema {
            id: v["id"].as_str()?.to_string(),
            name: v["name"].as_str().unwrap_or_default().to_string(),
            attributes: v["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Attribute::from_json)
                .collect(),
        })
    }

    /// An attribute by name, case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// Everything discovery found.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// The ServiceProviderConfig, raw.
    pub spc: Value,
    /// Its features.
    pub features: Features,
    /// Resource types.
    pub resource_types: Vec<ResourceType>,
    /// Schemas.
    pub schemas: Vec<Schema>,
}

impl Discovery {
    /// The resource type whose core schema is `urn`.
    pub fn type_with_schema(&self, urn: &str) -> Option<&ResourceType> {
        self.resource_types
            .iter()
            .find(|r| r.schema.eq_ignore_ascii_case(urn))
    }

    /// A schema by URN.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attribute_defaults_are_the_rfc_defaults() {
        let a = Attribute::from_json(&json!({"name": "x"})).expect("an attribute");
        assert_eq!(a.kind, AttrType::String);
        assert_eq!(a.mutability, Mutability::ReadWrite);
        assert_eq!(a.returned, Returned::Default);
        assert_eq!(a.uniqueness, Uniqueness::None);
        assert!(!a.case_exact && !a.required && !a.multi);
    }

    #[test]
    fn features_default_to_unsupported() {
        let f = Features::from_spc(&json!({"patch": {"supported": true}}));
        assert!(f.patch && !f.bulk && !f.sort && !f.etag && !f.filter);
    }
}
