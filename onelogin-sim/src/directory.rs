//! The OneLogin side of the world: users, roles and the rules that turn roles
//! into groups of the app ("Set Groups in ‹app›": [VENDOR] BoxyHQ, Pylon).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A OneLogin user's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Active (OneLogin status code 1).
    #[default]
    Active,
    /// Suspended (OneLogin status code 2).
    Suspended,
}

impl Status {
    /// OneLogin's numeric status code, as `{$user.status}` renders it
    /// ([INFER]: Q10 leaves the rendering open).
    pub fn code(self) -> u8 {
        match self {
            Status::Active => 1,
            Status::Suspended => 2,
        }
    }
}

/// A OneLogin user.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// OneLogin's numeric user id (`{$user.id}`); assigned when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// OneLogin username; also the key steps use to name the user.
    pub username: String,
    /// `{$user.firstname}`.
    #[serde(default)]
    pub firstname: String,
    /// `{$user.lastname}`.
    #[serde(default)]
    pub lastname: String,
    /// `{$user.email}`.
    #[serde(default)]
    pub email: String,
    /// `{$user.title}`, also the default source of `{$parameters.title}`.
    #[serde(default)]
    pub title: String,
    /// `{$user.department}`, also the default source of `{$parameters.department}`.
    #[serde(default)]
    pub department: String,
    /// `{$user.phone}`.
    #[serde(default)]
    pub phone: String,
    /// Username of this user's manager in the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Custom user fields, `{$user.custom_fields.<name>}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
    /// Any other OneLogin user field (`company`, `city`, …) as `{$user.<name>}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Status in OneLogin.
    #[serde(default)]
    pub status: Status,
    /// Roles the user holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl User {
    /// `{$user.display_name}`: first and last name joined by a space
    /// ([OL-DOC] define-user-schema).
    pub fn display_name(&self) -> String {
        format!("{} {}", self.firstname, self.lastname)
    }

    /// Sets a field by its placeholder name (`title`, `custom_fields.x`,
    /// `city`, …). `None` clears it.
    pub fn set(&mut self, field: &str, value: Option<String>) -> Result<(), String> {
        let text = value.clone().unwrap_or_default();
        match field {
            "firstname" => self.firstname = text,
            "lastname" => self.lastname = text,
            "email" => self.email = text,
            "username" => self.username = text,
            "title" => self.title = text,
            "department" => self.department = text,
            "phone" => self.phone = text,
            "manager" => self.manager = value.filter(|v| !v.is_empty()),
            "id" | "display_name" | "status" | "active" | "roles" => {
                return Err(format!("field {field:?} cannot be set by an update"))
            }
            other => {
                let (map, key) = match other.strip_prefix("custom_fields.") {
                    Some(key) => (&mut self.custom_fields, key),
                    None => (&mut self.attributes, other),
                };
                match value {
                    Some(v) => map.insert(key.to_string(), v),
                    None => map.remove(key),
                };
            }
        }
        Ok(())
    }
}

/// A rule "Set Groups in ‹app› for each role with value that matches ‹pattern›".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Role-name pattern; `*` matches any run of characters.
    pub role: String,
    /// Group to set; when absent the group is named after the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Users, roles and rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// The users.
    #[serde(default)]
    pub users: Vec<User>,
    /// The roles defined in OneLogin (may be left empty: then any role name is allowed).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Rules mapping roles to groups.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Directory {
    /// Gives every user without an `id` one (10001, 10002, … past the highest).
    pub fn assign_ids(&mut self) {
        let mut next = self
            .users
            .iter()
            .filter_map(|u| u.id)
            .max()
            .unwrap_or(10_000)
            .max(10_000)
            + 1;
        for user in &mut self.users {
            if user.id.is_none() {
                user.id = Some(next);
                next += 1;
            }
        }
    }

    /// Finds a user by username.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// Finds a user by username, mutably.
    pub fn user_mut(&mut self, username: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.username == username)
    }

    /// The app groups the rules give `user`.
    pub fn groups_for(&self, user: &User) -> BTreeSet<String> {
        let mut groups = BTreeSet::new();
        for rule in &self.rules {
            for role in user.roles.iter().filter(|r| glob_match(&rule.role, r)) {
                groups.insert(rule.group.clone().unwrap_or_else(|| role.clone()));
            }
        }
        groups
    }

    /// Resolves `{$user.<field>}` for `user`; `None` when OneLogin has no value.
    pub fn user_field(&self, user: &User, field: &str) -> Option<String> {
        let manager = || user.manager.as_deref().and_then(|m| self.user(m));
        let value = match field {
            "id" => user.id.map(|id| id.to_string()),
            "username" => Some(user.username.clone()),
            "firstname" => Some(user.firstname.clone()),
            "lastname" => Some(user.lastname.clone()),
            "email" => Some(user.email.clone()),
            "display_name" => Some(user.display_name()),
            "title" => Some(user.title.clone()),
            "department" => Some(user.department.clone()),
            "phone" => Some(user.phone.clone()),
            "active" => Some((user.status == Status::Active).to_string()),
            "status" => Some(user.status.code().to_string()),
            "manager_id" | "manager_user_id" => manager().and_then(|m| m.id.map(|i| i.to_string())),
            "manager_firstname" => manager().map(|m| m.firstname.clone()),
            "manager_lastname" => manager().map(|m| m.lastname.clone()),
            "manager_email" => manager().map(|m| m.email.clone()),
            "manager_username" => manager().map(|m| m.username.clone()),
            other => match other.strip_prefix("custom_fields.") {
                Some(key) => user.custom_fields.get(key).cloned(),
                None => user.attributes.get(other).cloned(),
            },
        };
        value.filter(|v| !v.is_empty())
    }
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(pos) => middle = &middle[pos + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("Eng*", "Engineering"));
        assert!(glob_match("*ing", "Engineering"));
        assert!(!glob_match("E*x*g", "Engineering"));
        assert!(glob_match("E*n*g", "Engineering"));
        assert!(glob_match("Sales", "Sales"));
        assert!(!glob_match("Sales", "Sales2"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn rules_map_roles_to_groups() {
        let dir = Directory {
            users: vec![],
            roles: vec![],
            rules: vec![
                Rule {
                    role: "app-*".into(),
                    group: None,
                },
                Rule {
                    role: "Admins".into(),
                    group: Some("Administrators".into()),
                },
            ],
        };
        let user = User {
            username: "u".into(),
            roles: vec!["app-eng".into(), "Admins".into(), "Other".into()],
            ..User::default()
        };
        let groups: Vec<_> = dir.groups_for(&user).into_iter().collect();
        assert_eq!(groups, ["Administrators", "app-eng"]);
    }

    #[test]
    fn fields_and_manager() {
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
            manager: Some("boss".into()),
            custom_fields: [("cost".to_string(), "42".to_string())].into(),
            ..User::default()
        });
        dir.assign_ids();
        let jdoe = dir.user("jdoe").expect("jdoe").clone();
        assert_eq!(dir.user_field(&jdoe, "id").as_deref(), Some("10002"));
        assert_eq!(
            dir.user_field(&jdoe, "manager_id").as_deref(),
            Some("10001")
        );
        assert_eq!(
            dir.user_field(&jdoe, "manager_lastname").as_deref(),
            Some("Boss")
        );
        assert_eq!(
            dir.user_field(&jdoe, "custom_fields.cost").as_deref(),
            Some("42")
        );
        assert_eq!(dir.user_field(&jdoe, "lastname"), None);
        assert_eq!(dir.user_field(&jdoe, "active").as_deref(), Some("true"));
        assert_eq!(dir.user_field(&jdoe, "status").as_deref(), Some("1"));
    }

    #[test]
    fn set_fields() {
        let mut u = User::default();
        u.set("title", Some("CTO".into())).expect("title");
        u.set("custom_fields.x", Some("1".into())).expect("cf");
        u.set("city", Some("Berlin".into())).expect("attr");
        u.set("city", None).expect("attr clear");
        assert_eq!(u.title, "CTO");
        assert_eq!(u.custom_fields["x"], "1");
        assert!(u.attributes.is_empty());
        assert!(u.set("id", None).is_err());
    }
}
