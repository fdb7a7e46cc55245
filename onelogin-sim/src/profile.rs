//! Connector profiles: the four "SCIM Provisioner with SAML" connectors of the
//! OneLogin catalog, each with its default SCIM JSON template, schema URNs and
//! group PATCH dialect.
//!
//! Evidence labels refer to `shared/onelogin-protocol.md`. The 1.1 templates
//! are OneLogin's documented ones, verbatim ([OL-DOC] define-user-schema). The
//! exact default v2 templates are unknown (Q7): the v2 templates here follow
//! the traced body prefix (`schemas`, `userName`, `name.familyName`,
//! `name.givenName`, [TRACE] authentik #11249) and the Staffbase template
//! (`emails` array, enterprise `manager.value`) ([INFER]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The RFC 7644 PatchOp message URN used in v2 group PATCH bodies
/// (consistent with the 165-byte traced PATCH).
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A OneLogin SCIM connector ("SCIM Provisioner with SAML (...)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Profile {
    /// "SCIM Provisioner with SAML (SCIM v2 Enterprise)": the default.
    #[default]
    #[serde(rename = "v2-enterprise")]
    V2Enterprise,
    /// "SCIM Provisioner with SAML (SCIM v2 Core)".
    #[serde(rename = "v2-core")]
    V2Core,
    /// "SCIM Provisioner with SAML (Core Schema v1.1)".
    #[serde(rename = "v1.1-core")]
    V11Core,
    /// "SCIM Provisioner with SAML (Enterprise Schema)", SCIM 1.1.
    #[serde(rename = "v1.1-enterprise")]
    V11Enterprise,
}

/// How group membership changes are encoded in `PATCH /Groups/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupDialect {
    /// SCIM 2.0 `PatchOp` with `Operations` (v2 connectors, [TRACE] + [INFER]).
    PatchOp,
    /// SCIM 1.1 style `{"members":[{"value":…,"operation":"add"|"delete"}]}`
    /// ([OL-CODE] onelogin-scim-node, onelogin-scim-php).
    Members11,
}

const V2_ENTERPRISE_TEMPLATE: &str = r#"{
  "schemas": [
    "urn:scim:schemas:core:2.0",
    "urn:scim:schemas:extension:enterprise:2.0"
  ],
  "userName": "{$parameters.scimusername}",
  "name": {
    "familyName": "{$user.lastname}",
    "givenName": "{$user.firstname}"
  },
  "emails": [
    {
      "value": "{$user.email}",
      "type": "work",
      "primary": true
    }
  ],
  "title": "{$parameters.title}",
  "urn:scim:schemas:extension:enterprise:2.0": {
    "department": "{$parameters.department}",
    "manager": {
      "value": "{$parameters.external_manager_id}"
    }
  }
}"#;

const V2_CORE_TEMPLATE: &str = r#"{
  "schemas": [
    "urn:scim:schemas:core:2.0"
  ],
  "userName": "{$parameters.scimusername}",
  "name": {
    "familyName": "{$user.lastname}",
    "givenName": "{$user.firstname}"
  },
  "emails": [
    {
      "value": "{$user.email}",
      "type": "work",
      "primary": true
    }
  ]
}"#;

const V11_CORE_TEMPLATE: &str = r#"{
  "schemas": ["urn:scim:schemas:core:1.0"],
  "userName": "{$parameters.scimusername}",
  "name": {
    "givenName": "{$user.firstname}",
    "familyName": "{$user.lastname}",
    "formatted": "{$user.display_name}"
  }
}"#;

const V11_ENTERPRISE_TEMPLATE: &str = r#"{
  "schemas": ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"],
  "userName": "{$parameters.scimusername}",
  "name": {
    "familyName": "{$user.lastname}",
    "givenName": "{$user.firstname}",
    "formatted": "{$user.display_name}"
  },
  "emails": {
    "value": "{$user.email}",
    "type": "work",
    "primary": true
  },
  "title": "{$parameters.title}",
  "urn:scim:schemas:extension:enterprise:1.0": {
    "department": "{$parameters.department}",
    "manager": {
      "managerId": "{$parameters.external_manager_id}",
      "displayName": "{$user.manager_firstname} {$user.manager_lastname}"
    }
  }
}"#;

impl Profile {
    /// Every profile, default first.
    pub const ALL: [Profile; 4] = [
        Profile::V2Enterprise,
        Profile::V2Core,
        Profile::V11Core,
        Profile::V11Enterprise,
    ];

    /// The short name used on the command line and in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Profile::V2Enterprise => "v2-enterprise",
            Profile::V2Core => "v2-core",
            Profile::V11Core => "v1.1-core",
            Profile::V11Enterprise => "v1.1-enterprise",
        }
    }

    /// The connector's name in OneLogin's application catalog.
    pub fn catalog_name(self) -> &'static str {
        match self {
            Profile::V2Enterprise => "SCIM Provisioner with SAML (SCIM v2 Enterprise)",
            Profile::V2Core => "SCIM Provisioner with SAML (SCIM v2 Core)",
            Profile::V11Core => "SCIM Provisioner with SAML (Core Schema v1.1)",
            Profile::V11Enterprise => "SCIM Provisioner with SAML (Enterprise Schema)",
        }
    }

    /// Whether this is a SCIM 2.0 connector.
    pub fn is_v2(self) -> bool {
        matches!(self, Profile::V2Enterprise | Profile::V2Core)
    }

    /// The default SCIM JSON Template prefilled for this connector.
    pub fn default_template(self) -> &'static str {
        match self {
            Profile::V2Enterprise => V2_ENTERPRISE_TEMPLATE,
            Profile::V2Core => V2_CORE_TEMPLATE,
            Profile::V11Core => V11_CORE_TEMPLATE,
            Profile::V11Enterprise => V11_ENTERPRISE_TEMPLATE,
        }
    }

    /// The `schemas` URNs the default user template carries (OL1).
    pub fn user_schemas(self) -> &'static [&'static str] {
        match self {
            Profile::V2Enterprise => &[
                "urn:scim:schemas:core:2.0",
                "urn:scim:schemas:extension:enterprise:2.0",
            ],
            Profile::V2Core => &["urn:scim:schemas:core:2.0"],
            Profile::V11Core => &["urn:scim:schemas:core:1.0"],
            Profile::V11Enterprise => &[
                "urn:scim:schemas:core:1.0",
                "urn:scim:schemas:extension:enterprise:1.0",
            ],
        }
    }

    /// The `schemas` URN of a `POST /Groups` body ([INFER]: never observed, Q4).
    pub fn group_schema(self) -> &'static str {
        if self.is_v2() {
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        } else {
            "urn:scim:schemas:core:1.0"
        }
    }

    /// How this connector encodes group membership PATCHes.
    pub fn group_dialect(self) -> GroupDialect {
        if self.is_v2() {
            GroupDialect::PatchOp
        } else {
            GroupDialect::Members11
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown profile name.
#[derive(Debug, thiserror::Error)]
#[error("unknown connector profile {0:?} (expected one of v2-enterprise, v2-core, v1.1-core, v1.1-enterprise)")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_templates_are_json_once_placeholders_are_quoted() {
        for p in Profile::ALL {
            let v: serde_json::Value =
                serde_json::from_str(p.default_template()).expect("template is JSON");
            let schemas: Vec<&str> = v["schemas"]
                .as_array()
                .expect("schemas")
                .iter()
                .filter_map(|s| s.as_str())
                .collect();
            assert_eq!(schemas, p.user_schemas(), "{p}");
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().expect("parse"), p);
            let json = serde_json::to_string(&p).expect("ser");
            assert_eq!(json, format!("\"{}\"", p.name()));
        }
        assert!("v3".parse::<Profile>().is_err());
    }
}
