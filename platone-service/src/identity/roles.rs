//! Where a token keeps its roles.

use serde_json::Value;

/// The claims a token's roles are read from: dot-separated paths into the claims object, each
/// naming an array of strings (or one string of space-separated roles, as `scope` is). The
/// default reads `roles` and Keycloak's `realm_access.roles`; the roles of every path are
/// taken together.
///
/// ```
/// use platone_service::RolesClaim;
///
/// let claims = serde_json::json!({"realm_access": {"roles": ["dso"]}, "roles": ["reader"]});
/// let roles = RolesClaim::default().roles(&claims);
/// assert_eq!(roles.into_iter().collect::<Vec<_>>(), ["dso", "reader"]);
/// assert!(RolesClaim::parse("resource_access.bal.roles").is_ok());
/// assert!(RolesClaim::parse("a..b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolesClaim {
    paths: Vec<Vec<String>>,
}

impl Default for RolesClaim {
    fn default() -> Self {
        RolesClaim {
            paths: vec![
                vec!["roles".to_owned()],
                vec!["realm_access".to_owned(), "roles".to_owned()],
            ],
        }
    }
}

impl RolesClaim {
    /// One path (`realm_access.roles`); several may be given separated by commas.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let mut paths = Vec::new();
        for path in text.split(',') {
            let segments: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
            if segments.iter().any(String::is_empty) {
                return Err(crate::ServiceError::config(
                    "roles claim",
                    format!("`{text}` has an empty path segment"),
                ));
            }
            paths.push(segments);
        }
        Ok(RolesClaim { paths })
    }

    /// The roles in `claims`.
    pub fn roles(&self, claims: &Value) -> std::collections::BTreeSet<String> {
        let mut roles = std::collections::BTreeSet::new();
        for path in &self.paths {
            let mut at = claims;
            let mut found = true;
            for segment in path {
                match at.get(segment) {
                    Some(next) => at = next,
                    None => {
                        found = false;
                        break;
                    }
                }
            }
            if !found {
                continue;
            }
            match at {
                Value::Array(items) => {
                    roles.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                Value::String(text) => {
                    roles.extend(text.split_whitespace().map(str::to_owned));
                }
                _ => {}
            }
        }
        roles
    }
}
