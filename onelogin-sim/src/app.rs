//! The app as an admin configures it in OneLogin: connector, SCIM JSON
//! Template, custom headers, parameters and provisioning settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::directory::{Directory, User};
use crate::profile::Profile;
use crate::template::{self, TemplateError};
use crate::wire::WireOptions;

/// "When users are deleted in OneLogin, or the user's app access is removed,
/// perform the below action" ([OL-DOC] test-your-scim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeprovisionAction {
    /// `DELETE /Users/{id}`.
    #[default]
    Delete,
    /// A full `PUT` with `"active": false`.
    Suspend,
    /// No request.
    DoNothing,
}

/// "When user accounts are suspended in OneLogin, perform the following action".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspendAction {
    /// A full `PUT` with `"active": false` (and `true` on unsuspend).
    #[default]
    Suspend,
    /// No request.
    DoNothing,
}

/// The Provisioning tab.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    /// Action when a user is deleted or loses access to the app.
    #[serde(default)]
    pub deprovision_action: DeprovisionAction,
    /// Action when a user is suspended.
    #[serde(default)]
    pub suspend_action: SuspendAction,
    /// Groups parameter "Include in User Provisioning": `/Groups` traffic on or off.
    #[serde(default)]
    pub groups: bool,
}

/// A SCIM JSON Template, either as text (placeholders may be bare) or as a
/// JSON value (placeholders inside strings only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateSource {
    /// Template text as typed into OneLogin.
    Text(String),
    /// Template given as JSON.
    Json(Value),
}

impl TemplateSource {
    /// The template text.
    pub fn text(&self) -> String {
        match self {
            TemplateSource::Text(t) => t.clone(),
            TemplateSource::Json(v) => v.to_string(),
        }
    }
}

/// Everything the admin set on the app.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The connector.
    #[serde(default)]
    pub profile: Profile,
    /// SCIM JSON Template; the profile's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateSource>,
    /// Custom Headers, one `Name: value` line each, added to every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_headers: Vec<String>,
    /// Parameters: API name → source user field (`user.email`, …), merged
    /// over the defaults of [`AppConfig::default_parameters`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Provisioning tab.
    #[serde(default)]
    pub provisioning: Provisioning,
    /// Switches for the open wire questions.
    #[serde(default)]
    pub wire: WireOptions,
}

impl AppConfig {
    /// OneLogin's default parameters (KB0013904): `scimusername` (Username),
    /// `title`, `department`, `external_manager_id` ([INFER] rendered as the
    /// manager's OneLogin id).
    pub fn default_parameters() -> BTreeMap<String, String> {
        [
            ("scimusername", "user.username"),
            ("title", "user.title"),
            ("department", "user.department"),
            ("external_manager_id", "user.manager_id"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The template text in force.
    pub fn template_text(&self) -> String {
        match &self.template {
            Some(t) => t.text(),
            None => self.profile.default_template().to_string(),
        }
    }

    /// The source field of parameter `name`, defaults included.
    pub fn parameter_source(&self, name: &str) -> Option<String> {
        self.parameters
            .get(name)
            .cloned()
            .or_else(|| Self::default_parameters().get(name).cloned())
    }

    /// Resolves a placeholder name (`user.x` or `parameters.x`) for `user`.
    pub fn lookup(&self, directory: &Directory, user: &User, name: &str) -> Option<String> {
        if let Some(field) = name.strip_prefix("user.") {
            return directory.user_field(user, field);
        }
        let param = name.strip_prefix("parameters.")?;
        let source = self.parameter_source(param)?;
        let field = source.strip_prefix("user.")?;
        directory.user_field(user, field)
    }

    /// Renders the user body OneLogin sends on POST and PUT.
    pub fn render_user(
        &self,
        template_text: &str,
        directory: &Directory,
        user: &User,
    ) -> Result<Value, TemplateError> {
        template::render(template_text, |name| self.lookup(directory, user, name))
    }

    /// Parses the custom header lines into name/value pairs.
    pub fn parsed_custom_headers(&self) -> Result<Vec<(String, String)>, String> {
        self.custom_headers
            .iter()
            .map(|line| {
                let (name, value) = line
                    .split_once(':')
                    .ok_or_else(|| format!("custom header {line:?} is not `Name: value`"))?;
                let name = name.trim();
                if name.is_empty() {
                    return Err(format!("custom header {line:?} has no name"));
                }
                Ok((name.to_string(), value.trim().to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jane() -> (Directory, User) {
        let mut dir = Directory::default();
        dir.users.push(User {
            username: "boss".into(),
            firstname: "Big".into(),
            lastname: "Boss".into(),
            ..User::default()
        });
        dir.users.push(User {
            username: "jdoe".into(),
            firstname: "Jane".into(),
            lastname: "Doe".into(),
            email: "jane@example.test".into(),
            title: "Engineer".into(),
            department: "R&D".into(),
            manager: Some("boss".into()),
            ..User::default()
        });
        dir.assign_ids();
        let user = dir.user("jdoe").expect("jdoe").clone();
        (dir, user)
    }

    #[test]
    fn renders_v2_enterprise_default() {
        let (dir, user) = jane();
        let app = AppConfig::default();
        let body = app
            .render_user(&app.template_text(), &dir, &user)
            .expect("render");
        assert_eq!(
            body.to_string(),
            json!({
                "schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"],
                "userName": "jdoe",
                "name": {"familyName": "Doe", "givenName": "Jane"},
                "emails": [{"value": "jane@example.test", "type": "work", "primary": true}],
                "title": "Engineer",
                "urn:scim:schemas:extension:enterprise:2.0": {
                    "department": "R&D",
                    "manager": {"value": "10001"}
                }
            })
            .to_string()
        );
    }

    #[test]
    fn renders_v11_enterprise_default() {
        let (dir, user) = jane();
        let app = AppConfig {
            profile: Profile::V11Enterprise,
            ..AppConfig::default()
        };
        let body = app
            .render_user(&app.template_text(), &dir, &user)
            .expect("render");
        assert_eq!(body["emails"]["value"], "jane@example.test");
        assert_eq!(body["name"]["formatted"], "Jane Doe");
        assert_eq!(
            body["urn:scim:schemas:extension:enterprise:1.0"]["manager"]["displayName"],
            "Big Boss"
        );
    }

    #[test]
    fn parameters_can_be_remapped() {
        let (dir, user) = jane();
        let app = AppConfig {
            parameters: [("scimusername".to_string(), "user.email".to_string())].into(),
            ..AppConfig::default()
        };
        assert_eq!(
            app.lookup(&dir, &user, "parameters.scimusername")
                .as_deref(),
            Some("jane@example.test")
        );
        assert_eq!(app.lookup(&dir, &user, "parameters.unknown"), None);
    }

    #[test]
    fn custom_headers_parse() {
        let app = AppConfig {
            custom_headers: vec!["User-Agent: OneLogin SCIM".into(), "X-A:b:c".into()],
            ..AppConfig::default()
        };
        assert_eq!(
            app.parsed_custom_headers().expect("ok"),
            [
                ("User-Agent".to_string(), "OneLogin SCIM".to_string()),
                ("X-A".to_string(), "b:c".to_string())
            ]
        );
        let bad = AppConfig {
            custom_headers: vec!["nocolon".into()],
            ..AppConfig::default()
        };
        assert!(bad.parsed_custom_headers().is_err());
    }
}
