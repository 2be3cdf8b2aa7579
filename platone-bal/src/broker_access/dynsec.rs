//! [`BrokerAccess`] with Mosquitto's dynamic-security plugin: JSON commands published to
//! `$CONTROL/dynamic-security/v1`, answers read from `$CONTROL/dynamic-security/v1/response`
//! and matched to their command by `correlationData`.
//!
//! A request carries several commands (`{"commands": [...]}`); the plugin runs each and
//! answers them together (`{"responses": [{"command", "error"?, "data"?, "correlationData"}]}`).
//! The correlation data of command `i` of request `n` is `"n:i"`. An answer saying that what
//! a command establishes already holds ("Client already exists", "Role not found" to a
//! `deleteRole`…) counts as success, which makes every change idempotent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use platone_bus::{Message, MqttBus, MqttConfig, Publisher, QoS, Subscriber, TopicFilter};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::{BrokerAccess, DevicePublishing, Grant};
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
fn has_role(answer: &Response, role: &str) -> bool {
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

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Response>>>>>;

/// A connection to Mosquitto's dynamic-security plugin, as an administrator account (one with
/// the plugin's `admin` role: publishing to and subscribing to `$CONTROL/dynamic-security/#`).
pub struct DynamicSecurity {
    bus: MqttBus,
    describe: String,
    waiters: Waiters,
    ready: watch::Receiver<bool>,
    next: AtomicU64,
    timeout: Duration,
    reader: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DynamicSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSecurity")
            .field("broker", &self.describe)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Drop for DynamicSecurity {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl DynamicSecurity {
    /// Connects with `config` (host, port, TLS, and the administrator's credentials; a clean
    /// session is used) in the background: returns at once, and commands wait for the
    /// connection, each for at most `timeout` in all. Must be called within a tokio runtime.
    pub fn connect(mut config: MqttConfig, timeout: Duration) -> Result<DynamicSecurity> {
        config.clean_session = true;
        let bus = MqttBus::connect(config)?;
        let describe = platone_bus::Bus::describe(&bus);
        let waiters: Waiters = Arc::default();
        let (ready_tx, ready) = watch::channel(false);
        let reader = tokio::spawn(read_answers(bus.clone(), waiters.clone(), ready_tx));
        Ok(DynamicSecurity {
            bus,
            describe,
            waiters,
            ready,
            next: AtomicU64::new(1),
            timeout,
            reader,
        })
    }

    fn no_answer(&self) -> BalError {
        BalError::AccessNoAnswer {
            broker: self.describe.clone(),
            waited: self.timeout,
        }
    }

    /// Runs `commands` in one request and returns their answers in order. A command the plugin
    /// refused is [`BalError::AccessRefused`], unless its answer says what it establishes
    /// already holds ([`Command::already_done`]).
    pub async fn execute(&self, commands: &[Command]) -> Result<Vec<Response>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        tokio::time::timeout(self.timeout, self.exchange(commands))
            .await
            .unwrap_or_else(|_| Err(self.no_answer()))
    }

    async fn exchange(&self, commands: &[Command]) -> Result<Vec<Response>> {
        let mut ready = self.ready.clone();
        ready.wait_for(|r| *r).await.map_err(|_| self.no_answer())?;
        let request = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock_waiters().insert(request, tx);
        // The waiter is removed whatever happens next (a timeout drops this future).
        let _remove = RemoveWaiter {
            waiters: &self.waiters,
            request,
        };
        self.bus
            .publish(
                Message::new(CONTROL_TOPIC, encode_request(commands, request)),
                QoS::AtLeastOnce,
            )
            .await?;
        let mut answers = rx.await.map_err(|_| self.no_answer())?;
        let mut ordered = Vec::with_capacity(commands.len());
        for (i, command) in commands.iter().enumerate() {
            let at = answers
                .iter()
                .position(|r| r.correlation == Some((request, i)))
                .ok_or_else(|| {
                    BalError::AccessAnswer(format!(
                        "no answer to {} (command {i} of request {request})",
                        command.name()
                    ))
                })?;
            let answer = answers.swap_remove(at);
            if let Some(error) = &answer.error
                && !command.already_done(error)
            {
                return Err(BalError::AccessRefused {
                    command: format!("{command:?}"),
                    reason: error.clone(),
                });
            }
            ordered.push(answer);
        }
        Ok(ordered)
    }

    fn lock_waiters(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Vec<Response>>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure `username` exists, `role` exists with `acls`, and the account has the role.
    async fn ensure_role(&self, username: &str, role: &str, acls: Vec<Acl>) -> Result<()> {
        let mut commands = vec![
            Command::CreateClient {
                username: username.to_owned(),
                password: None,
            },
            Command::CreateRole {
                role: role.to_owned(),
            },
        ];
        commands.extend(acls.into_iter().map(|acl| Command::AddRoleAcl {
            role: role.to_owned(),
            acl,
        }));
        commands.push(Command::GetClient {
            username: username.to_owned(),
        });
        let answers = self.execute(&commands).await?;
        // Mosquitto answers a second addClientRole of the same role with an internal error:
        // give the role only to an account that lacks it.
        if !answers.last().is_some_and(|a| has_role(a, role)) {
            self.execute(&[Command::AddClientRole {
                username: username.to_owned(),
                role: role.to_owned(),
            }])
            .await?;
        }
        Ok(())
    }

    async fn grant_inner(&self, grant: &Grant) -> Result<()> {
        if grant.filters.is_empty() {
            return Ok(());
        }
        let acls = grant
            .filters
            .iter()
            .flat_map(|f| {
                [
                    Acl::allow(AclType::SubscribePattern, f.as_str()),
                    Acl::allow(AclType::PublishClientReceive, f.as_str()),
                ]
            })
            .collect();
        self.ensure_role(grant.consumer.as_str(), &grant.role(), acls)
            .await
    }

    async fn revoke_inner(&self, grant: &Grant) -> Result<()> {
        let role = grant.role();
        self.execute(&[
            Command::RemoveClientRole {
                username: grant.consumer.to_string(),
                role: role.clone(),
            },
            Command::DeleteRole { role },
        ])
        .await
        .map(drop)
    }

    async fn provision_inner(&self, device: &DevicePublishing) -> Result<()> {
        self.ensure_role(
            device.device.as_str(),
            &device.role(),
            vec![Acl::allow(
                AclType::PublishClientSend,
                device.filter.as_str(),
            )],
        )
        .await
    }
}

struct RemoveWaiter<'a> {
    waiters: &'a Waiters,
    request: u64,
}

impl Drop for RemoveWaiter<'_> {
    fn drop(&mut self) {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.request);
    }
}

/// Subscribes to the answers (again and again until the broker takes it), then hands each
/// answer to the request waiting for it.
async fn read_answers(bus: MqttBus, waiters: Waiters, ready: watch::Sender<bool>) {
    let subscription = loop {
        let filter = match TopicFilter::new(RESPONSE_TOPIC) {
            Ok(filter) => filter,
            Err(e) => {
                tracing::error!("dynamic security: {e}");
                return;
            }
        };
        match bus.subscribe(filter, QoS::AtLeastOnce).await {
            Ok(subscription) => break subscription,
            Err(e) => {
                tracing::warn!("dynamic security: subscribing to {RESPONSE_TOPIC}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let _ = ready.send(true);
    let mut subscription = subscription;
    while let Some(delivery) = subscription.next().await {
        match parse_response(&delivery.message.payload) {
            Ok(answers) => {
                let mut by_request: HashMap<u64, Vec<Response>> = HashMap::new();
                for answer in answers {
                    if let Some((request, _)) = answer.correlation {
                        by_request.entry(request).or_default().push(answer);
                    }
                }
                let mut waiting = waiters.lock().unwrap_or_else(|e| e.into_inner());
                for (request, answers) in by_request {
                    if let Some(tx) = waiting.remove(&request) {
                        let _ = tx.send(answers);
                    }
                }
            }
            Err(e) => tracing::warn!("dynamic security: {e}"),
        }
        if let Err(e) = delivery.ack().await {
            tracing::warn!("dynamic security: acknowledging an answer: {e}");
        }
    }
}

impl BrokerAccess for DynamicSecurity {
    fn grant<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.grant_inner(grant))
    }

    fn revoke<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.revoke_inner(grant))
    }

    fn provision_device<'a>(&'a self, device: &'a DevicePublishing) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.provision_inner(device))
    }
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
