//! The product's provisioning policies, beside the SCIM resource (which stays exactly what the
//! identity provider sent): a user's application profile (display name set at the first sync
//! only, the default role "Everyone"), its status, and how changes are named in the history.

use serde_json::Value;

use crate::model::{Action, Profile};

/// The role every user provisioned through SCIM gets.
pub const DEFAULT_ROLE: &str = "Everyone";

/// The trimmed text of a string value, when there is any.
fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The profile of a user at its first sync: the display name is `name.givenName` and
/// `name.familyName`, falling back to `displayName`, then `userName`; the role is the tenant's
/// default role.
pub fn initial_profile(doc: &Value, role: &str) -> Profile {
    let name = doc.get("name");
    let parts: Vec<&str> = [
        name.and_then(|n| n.get("givenName")),
        name.and_then(|n| n.get("familyName")),
    ]
    .into_iter()
    .filter_map(text)
    .collect();
    let display_name = if parts.is_empty() {
        text(doc.get("displayName"))
            .or_else(|| text(doc.get("userName")))
            .unwrap_or_default()
            .to_string()
    } else {
        parts.join(" ")
    };
    Profile {
        display_name,
        role: role.to_string(),
    }
}

/// A user's status in the application: `active: false` suspends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
        }
    }
}

/// A user's status, from its SCIM document.
pub fn status(doc: &Value) -> Status {
    if doc.get("active") == Some(&Value::Bool(false)) {
        Status::Suspended
    } else {
        Status::Active
    }
}

/// How a change of a user is recorded: `suspend` or `reactivate` when it changes the user's
/// status, otherwise the operation (`replace`, `patch`).
pub fn action(operation: Action, before: &Value, after: &Value) -> Action {
    match (status(before), status(after)) {
        (Status::Active, Status::Suspended) => Action::Suspend,
        (Status::Suspended, Status::Active) => Action::Reactivate,
        _ => operation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_name_comes_from_names_then_display_name_then_user_name() {
        let p = initial_profile(
            &json!({"userName": "u", "displayName": "D", "name": {"givenName": "Ada", "familyName": " Lovelace"}}),
            DEFAULT_ROLE,
        );
        assert_eq!(p.display_name, "Ada Lovelace");
        assert_eq!(p.role, "Everyone");
        assert_eq!(
            initial_profile(
                &json!({"userName": "u", "name": {"familyName": "Only"}}),
                DEFAULT_ROLE
            )
            .display_name,
            "Only"
        );
        assert_eq!(
            initial_profile(
                &json!({"userName": "u", "displayName": "D", "name": {}}),
                DEFAULT_ROLE
            )
            .display_name,
            "D"
        );
        assert_eq!(
            initial_profile(&json!({"userName": "u", "displayName": "  "}), DEFAULT_ROLE)
                .display_name,
            "u"
        );
    }

    #[test]
    fn status_changes_name_the_action() {
        let on = json!({"active": true});
        let off = json!({"active": false});
        assert_eq!(action(Action::Patch, &on, &off), Action::Suspend);
        assert_eq!(action(Action::Replace, &off, &on), Action::Reactivate);
        assert_eq!(
            action(Action::Replace, &json!({}), &off),
            Action::Suspend,
            "absent active counts as active"
        );
        assert_eq!(action(Action::Patch, &on, &on), Action::Patch);
    }
}
