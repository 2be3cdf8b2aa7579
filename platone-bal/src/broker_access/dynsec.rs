//! [`BrokerAccess`] with Mosquitto's dynamic-security plugin: a connection as the plugin's
//! administrator that sends the commands of [`protocol`](super::protocol) and matches each
//! answer to its request by `correlationData`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use platone_bus::{Message, MqttBus, MqttConfig, Publisher, QoS, Subscriber, TopicFilter};
use tokio::sync::{oneshot, watch};

use super::protocol::{
    Acl, AclType, CONTROL_TOPIC, Command, RESPONSE_TOPIC, Response, encode_request, has_role,
    parse_response,
};
use super::{BrokerAccess, DevicePublishing, Grant};
use crate::error::{BalError, Result};

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
