//! The JSON command protocol of Mosquitto's dynamic-security plugin: commands published to
//! `$CONTROL/dynamic-security/v1`, answers read from `$CONTROL/dynamic-security/v1/response`.
//!
//! A request carries several commands (`{"commands": [...]}`); the plugin runs each and
//! answers them together (`{"responses": [{"command", "error"?, "data"?, "correlationData"}]}`).
//! The correlation data of command `i` of request `n` is `"n:i"`. An answer saying that what
//! a command establishes already holds ("Client already exists", "Role not found" to a
//! `deleteRole`…) counts as success, which makes every change idempotent.

use serde_json::{Value, json};

use crate::error::{BalError, Result};

/// The topic commands are published to.
pub const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// The topic the plugin answers on.
pub const RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";

/// The kind of an ACL of the dynamic-security plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclType {
    /// Publishing to the broker.
    PublishClientSend,
    /// Receiving what the broker delivers.
    PublishClientReceive,
    /// Subscribing with exactly this filter.
    SubscribeLiteral,
    /// Subscribing with a filter within this one.
    SubscribePattern,
    /// Unsubscribing with a filter within this one.
    UnsubscribePattern,
}

impl AclType {
    /// The plugin's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AclType::PublishClientSend => "publishClientSend",
            AclType::PublishClientReceive => "publishClientReceive",
            AclType::SubscribeLiteral => "subscribeLiteral",
            AclType::SubscribePattern => "subscribePattern",
            AclType::UnsubscribePattern => "unsubscribePattern",
        }
    }
}

/// One ACL of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// What it rules.
    pub acl_type: AclType,
    /// The topic or topic filter.
    pub topic: String,
    /// Allow (`true`) or deny.
    pub allow: bool,
}

impl Acl {
    /// An ACL that allows `acl_type` on `topic`.
    pub fn allow(acl_type: AclType, topic: impl Into<String>) -> Self {
        Acl {
            acl_type,
            topic: topic.into(),
            allow: true,
        }
    }
}

/// A command of the dynamic-security plugin.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// Creates an account (without a password, it can only log in by certificate identity
    /// until one is set).
    CreateClient {
        /// The account's user name.
        username: String,
        /// Its password, if any.
        password: Option<String>,
    },
    /// Sets an account's password.
    SetClientPassword {
        /// The account.
        username: String,
        /// The new password.
        password: String,
    },
    /// Reads an account (its roles are in the answer's `data.client.roles`).
    GetClient {
        /// The account.
        username: String,
    },
    /// Creates a role.
    CreateRole {
        /// The role's name.
        role: String,
    },
    /// Deletes a role (and takes it from every account).
    DeleteRole {
        /// The role's name.
        role: String,
    },
    /// Adds an ACL to a role.
    AddRoleAcl {
        /// The role.
        role: String,
        /// The ACL.
        acl: Acl,
    },
    /// Removes a role's ACL.
    RemoveRoleAcl {
        /// The role.
        role: String,
        /// The ACL's kind.
        acl_type: AclType,
        /// Its topic.
        topic: String,
    },
    /// Gives an account a role.
    AddClientRole {
        /// The account.
        username: String,
        /// The role.
        role: String,
    },
    /// Takes a role from an account.
    RemoveClientRole {
        /// The account.
        username: String,
        /// The role.
        role: String,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords stay out of logs: the JSON without them.
        let mut value = self.to_json();
        if let Some(object) = value.as_object_mut()
            && object.contains_key("password")
        {
            object.insert("password".into(), json!("…"));
        }
        write!(f, "{value}")
    }
}

impl Command {
    /// The plugin's name of the command.
    pub fn name(&self) -> &'static str {
        match self {
            Command::CreateClient { .. } => "createClient",
            Command::SetClientPassword { .. } => "setClientPassword",
            Command::GetClient { .. } => "getClient",
            Command::CreateRole { .. } => "createRole",
            Command::DeleteRole { .. } => "deleteRole",
            Command::AddRoleAcl { .. } => "addRoleACL",
            Command::RemoveRoleAcl { .. } => "removeRoleACL",
            Command::AddClientRole { .. } => "addClientRole",
            Command::RemoveClientRole { .. } => "removeClientRole",
        }
    }

    /// The command as the plugin reads it (without `correlationData`).
    pub fn to_json(&self) -> Value {
        let command = self.name();
        match self {
            Command::CreateClient { username, password } => match password {
                Some(p) => json!({"command": command, "username": username, "password": p}),
                None => json!({"command": command, "username": username}),
            },
            Command::SetClientPassword { username, password } => {
                json!({"command": command, "username": username, "password": password})
            }
            Command::GetClient { username } => json!({"command": command, "username": username}),
            Command::CreateRole { role } | Command::DeleteRole { role } => {
                json!({"command": command, "rolename": role})
            }
            Command::AddRoleAcl { role, acl } => json!({
                "command": command, "rolename": role, "acltype": acl.acl_type.as_str(),
                "topic": acl.topic, "allow": acl.allow, "priority": 0,
            }),
            Command::RemoveRoleAcl {
                role,
                acl_type,
                topic,
            } => json!({
                "command": command, "rolename": role, "acltype": acl_type.as_str(), "topic": topic,
            }),
            Command::AddClientRole { username, role } => json!({
                "command": command, "username": username, "rolename": role, "priority": 0,
            }),
            Command::RemoveClientRole { username, role } => {
                json!({"command": command, "username": username, "rolename": role})
            }
        }
    }

    /// Whether the plugin's `error` to this command says that what the command establishes
    /// already holds (the account or role exists, the ACL is there, the role is gone…).
    pub fn already_done(&self, error: &str) -> bool {
        let error = error.trim();
        match self {
            Command::CreateClient { .. } => error == "Client already exists",
            Command::CreateRole { .. } => error == "Role already exists",
            Command::AddRoleAcl { .. } => error == "ACL with this topic already exists",
            Command::DeleteRole { .. } => error == "Role not found",
            Command::RemoveRoleAcl { .. } => matches!(error, "ACL not found" | "Role not found"),
            Command::RemoveClientRole { .. } => {
                matches!(error, "Client not found" | "Role not found")
            }
            Command::SetClientPassword { .. }
            | Command::GetClient { .. }
            | Command::AddClientRole { .. } => false,
        }
    }
}

/// The request payload of `commands`, request number `request`: command `i` carries the
/// correlation data `"{request}:{i}"`.
pub fn encode_request(commands: &[Command], request: u64) -> Vec<u8> {
    let commands: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut value = c.to_json();
            if let Some(object) = value.as_object_mut() {
                object.insert("correlationData".into(), json!(format!("{request}:{i}")));
            }
            value
        })
        .collect();
    json!({ "commands": commands }).to_string().into_bytes()
}

/// One answer of the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The command answered.
    pub command: String,
    /// The plugin's error, if the command failed.
    pub error: Option<String>,
    /// What the command read (`getClient`…).
    pub data: Option<Value>,
    /// `(request, index)` from the correlation data, when it is the BAL's.
    pub correlation: Option<(u64, usize)>,
}

/// Reads an answer payload: `{"responses": [...]}`. Anything else is
/// [`BalError::AccessAnswer`]; answers whose correlation data is not `"n:i"` (another
/// administrator's) have `correlation: None`.
pub fn parse_response(payload: &[u8]) -> Result<Vec<Response>> {
    let bad = |why: String| BalError::AccessAnswer(why);
    let value: Value = serde_json::from_slice(payload).map_err(|e| bad(e.to_string()))?;
    let responses = value
        .get("responses")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("expected {\"responses\": [...]}".into()))?;
    responses
        .iter()
        .map(|r| {
            let command = r
                .get("command")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("a response without a command: {r}")))?;
            let error = match r.get("error") {
                None | Some(Value::Null) => None,
                Some(Value::String(e)) => Some(e.clone()),
                Some(other) => Some(other.to_string()),
            };
            let correlation = r
                .get("correlationData")
                .and_then(Value::as_str)
                .and_then(|c| c.split_once(':'))
                .and_then(|(n, i)| Some((n.parse().ok()?, i.parse().ok()?)));
            Ok(Response {
                command: command.to_owned(),
                error,
                data: r.get("data").cloned(),
                correlation,
            })
        })
        .collect()
}

/// Whether a `getClient` answer lists `role` among the account's roles.
pub(super) fn has_role(answer: &Response, role: &str) -> bool {
    answer
        .data
        .as_ref()
        .and_then(|d| d.pointer("/client/roles"))
        .and_then(Value::as_array)
        .is_some_and(|roles| {
            roles
                .iter()
                .any(|r| r.get("rolename").and_then(Value::as_str) == Some(role))
        })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_encoded_with_their_correlation_data() {
        let payload = encode_request(
            &[
                Command::CreateRole {
                    role: "platone-subscription-3".into(),
                },
                Command::AddRoleAcl {
                    role: "platone-subscription-3".into(),
                    acl: Acl::allow(AclType::SubscribePattern, "platone/dsotp/devices/d/#"),
                },
                Command::AddClientRole {
                    username: "agg-1".into(),
                    role: "platone-subscription-3".into(),
                },
            ],
            12,
        );
        let value: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            value,
            json!({"commands": [
                {"command": "createRole", "rolename": "platone-subscription-3", "correlationData": "12:0"},
                {"command": "addRoleACL", "rolename": "platone-subscription-3",
                 "acltype": "subscribePattern", "topic": "platone/dsotp/devices/d/#",
                 "allow": true, "priority": 0, "correlationData": "12:1"},
                {"command": "addClientRole", "username": "agg-1",
                 "rolename": "platone-subscription-3", "priority": 0, "correlationData": "12:2"},
            ]})
        );
        let create = Command::CreateClient {
            username: "pmu-1".into(),
            password: None,
        };
        assert_eq!(
            create.to_json(),
            json!({"command": "createClient", "username": "pmu-1"})
        );
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let command = Command::SetClientPassword {
            username: "pmu-1".into(),
            password: "s3cret".into(),
        };
        let shown = format!("{command:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("pmu-1"),
            "{shown}"
        );
        assert_eq!(command.to_json()["password"], "s3cret");
    }

    #[test]
    fn answers_are_read_and_matched() {
        let answers = parse_response(
            br#"{"responses":[
                {"command":"createClient","error":"Client already exists","correlationData":"4:0"},
                {"command":"getClient","data":{"client":{"username":"agg-1",
                  "roles":[{"rolename":"platone-subscription-3"}]}},"correlationData":"4:1"},
                {"command":"deleteRole","correlationData":"someone else's"}]}"#,
        )
        .unwrap();
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].correlation, Some((4, 0)));
        assert_eq!(answers[0].error.as_deref(), Some("Client already exists"));
        assert!(has_role(&answers[1], "platone-subscription-3"));
        assert!(!has_role(&answers[1], "platone-subscription-4"));
        assert!(!has_role(&answers[0], "platone-subscription-3"));
        assert_eq!(answers[2].correlation, None);
        for bad in [
            &b"not json"[..],
            b"{}",
            b"{\"responses\": 3}",
            b"{\"responses\":[{}]}",
        ] {
            assert!(
                matches!(parse_response(bad), Err(BalError::AccessAnswer(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn answers_that_say_it_is_done_already_are_success() {
        let role = || "r".to_owned();
        let user = || "u".to_owned();
        assert!(
            Command::CreateClient {
                username: user(),
                password: None
            }
            .already_done("Client already exists")
        );
        assert!(Command::CreateRole { role: role() }.already_done("Role already exists"));
        assert!(Command::DeleteRole { role: role() }.already_done("Role not found"));
        assert!(
            Command::AddRoleAcl {
                role: role(),
                acl: Acl::allow(AclType::PublishClientSend, "t")
            }
            .already_done("ACL with this topic already exists")
        );
        assert!(
            Command::RemoveClientRole {
                username: user(),
                role: role()
            }
            .already_done("Client not found")
        );
        assert!(!Command::CreateRole { role: role() }.already_done("Role not found"));
        assert!(
            !Command::AddClientRole {
                username: user(),
                role: role()
            }
            .already_done("Internal error")
        );
    }

    proptest::proptest! {
        #[test]
        fn answer_parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_response(&bytes);
        }

        #[test]
        fn answer_parsing_never_panics_on_json(
            command in ".*", error in proptest::option::of(".*"), correlation in ".*"
        ) {
            let payload = json!({"responses": [
                {"command": command, "error": error, "correlationData": correlation,
                 "data": {"client": {"roles": [{"rolename": 1}, "x"]}}}
            ]});
            if let Ok(answers) = parse_response(payload.to_string().as_bytes()) {
                for answer in &answers {
                    let _ = has_role(answer, "r");
                }
            }
        }
    }
}
