//! Applies the broker access the BAL's state calls for, and keeps retrying what the broker did
//! not take.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use platone_model::{DeviceId, ParticipantId};
use platone_scd::{AnyStore, Store, Subscription, SubscriptionStatus};
use tokio::sync::{Notify, watch};

use super::{BrokerAccess, DevicePublishing, Grant, configured_devices};
use crate::config::BalConfig;
use crate::error::Result;
use crate::health::{Engine, Health};
use crate::metrics::Metrics;

/// The first pause between retries; it doubles while they fail, up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Subscription(i64),
    Device(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Grant(Grant),
    Revoke(Grant),
    Device(DevicePublishing),
}

/// Applies broker access changes for the BAL: a subscription's grant when it is accepted, its
/// revocation when it is declined or withdrawn, every configured device's publishing right.
///
/// A change never fails its caller: the subscription's new state is recorded whatever the
/// broker does. A change the broker does not take is logged, counted
/// (`platone_bal_broker_access_failures_total`), reported in `/health` (engine
/// `broker_access`, with how many changes wait) and retried with back-off (1 s to 30 s) until
/// it is taken; a later change of the same subscription replaces a waiting one. While changes
/// wait, new ones join them rather than wait for the broker on the caller's time. At start,
/// [`run`](Self::run) applies the state of every subscription in the SCD again, so nothing
/// waiting is lost by a restart.
pub struct AccessKeeper {
    access: Arc<dyn BrokerAccess>,
    config: Arc<BalConfig>,
    metrics: Arc<Metrics>,
    health: Health,
    pending: Mutex<BTreeMap<Key, Change>>,
    applying: tokio::sync::Mutex<()>,
    wake: Notify,
}

impl std::fmt::Debug for AccessKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeeper")
            .field("access", &self.access)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl AccessKeeper {
    /// A keeper applying changes through `access`, for the topics and PoDs of `config`.
    pub fn new(
        access: Arc<dyn BrokerAccess>,
        config: Arc<BalConfig>,
        metrics: Arc<Metrics>,
        health: Health,
    ) -> Self {
        AccessKeeper {
            access,
            config,
            metrics,
            health,
            pending: Mutex::default(),
            applying: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, Change>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many changes wait to be retried.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Applies what `subscription`'s state means on the broker: `Accepted` grants its topics
    /// to the consumer, `Declined` (refused, or withdrawn after acceptance) revokes them,
    /// `Requested` changes nothing.
    pub async fn subscription_changed(&self, subscription: &Subscription) {
        let Some(grant) = self.grant_of(subscription) else {
            return;
        };
        let change = match subscription.status {
            SubscriptionStatus::Accepted => Change::Grant(grant),
            SubscriptionStatus::Declined => Change::Revoke(grant),
            SubscriptionStatus::Requested => return,
        };
        self.submit(Key::Subscription(subscription.id), change)
            .await;
    }

    fn grant_of(&self, subscription: &Subscription) -> Option<Grant> {
        let id = subscription.id;
        match Grant::of(
            &self.config,
            id,
            &subscription.consumer,
            &subscription.topic,
        ) {
            Ok(grant) => Some(grant),
            Err(e) => {
                // Not the broker's failure: retrying would not help.
                tracing::error!(
                    subscription = id,
                    "no broker access for subscription {id}: {e}"
                );
                Metrics::add(&self.metrics.broker_access_failures, 1);
                None
            }
        }
    }

    /// Gives every device of the configuration the right to publish to its own topic.
    pub async fn provision_devices(&self) {
        for device in configured_devices(&self.config) {
            let right = DeviceId::new(device.as_str())
                .map_err(|e| crate::error::BalError::config(format!("devices.{device}"), e))
                .and_then(|d| DevicePublishing::of(&self.config, &d));
            match right {
                Ok(right) => {
                    self.submit(Key::Device(device), Change::Device(right))
                        .await
                }
                Err(e) => {
                    tracing::error!(device, "no publishing right for device {device}: {e}");
                    Metrics::add(&self.metrics.broker_access_failures, 1);
                }
            }
        }
    }

    /// Applies the state of every subscription the SCD holds for the configuration's
    /// participants (its tokens, its PoDs' customers and aggregators).
    pub async fn reconcile(&self, store: &AnyStore) {
        let mut participants = BTreeSet::new();
        participants.extend(self.config.tokens.keys().cloned());
        for pod in &self.config.pods {
            participants.extend(pod.customer.iter().cloned());
            participants.extend(pod.aggregator.iter().cloned());
        }
        let mut seen = BTreeSet::new();
        for participant in participants {
            let Ok(who) = ParticipantId::new(participant.as_str()) else {
                continue;
            };
            let subscriptions = match store.subscriptions(&who).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("broker access: reading the subscriptions of {who}: {e}");
                    continue;
                }
            };
            for subscription in subscriptions {
                if seen.insert(subscription.id) {
                    self.subscription_changed(&subscription).await;
                }
            }
        }
    }

    async fn submit(&self, key: Key, change: Change) {
        {
            let mut pending = self.lock();
            if !pending.is_empty() {
                // The broker is failing: wait with the others instead of on the caller's time.
                pending.insert(key, change);
                drop(pending);
                self.report_waiting(None);
                self.wake.notify_one();
                return;
            }
        }
        let _applying = self.applying.lock().await;
        if let Err(e) = self.apply(&change).await {
            self.lock().insert(key, change);
            self.failed(&e);
            self.wake.notify_one();
        }
    }

    async fn apply(&self, change: &Change) -> Result<()> {
        match change {
            Change::Grant(grant) => self.access.grant(grant).await,
            Change::Revoke(grant) => self.access.revoke(grant).await,
            Change::Device(device) => self.access.provision_device(device).await,
        }
    }

    fn failed(&self, error: &crate::error::BalError) {
        Metrics::add(&self.metrics.broker_access_failures, 1);
        self.report_waiting(Some(error));
    }

    fn report_waiting(&self, error: Option<&crate::error::BalError>) {
        let waiting = self.pending();
        let why = match error {
            Some(e) => format!("{waiting} access changes waiting; last failure: {e}"),
            None => format!("{waiting} access changes waiting"),
        };
        self.health.unavailable(Engine::BrokerAccess, &why);
    }

    /// Tries every waiting change once, in order, stopping at the first that fails; returns
    /// how many still wait.
    pub async fn retry_pending(&self) -> usize {
        let _applying = self.applying.lock().await;
        let waiting: Vec<(Key, Change)> = self
            .lock()
            .iter()
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        for (key, change) in waiting {
            match self.apply(&change).await {
                Ok(()) => {
                    let mut pending = self.lock();
                    if pending.get(&key) == Some(&change) {
                        pending.remove(&key);
                    }
                }
                Err(e) => {
                    self.failed(&e);
                    return self.pending();
                }
            }
        }
        let left = self.pending();
        if left == 0 {
            self.health.available(Engine::BrokerAccess);
        }
        left
    }

    /// Provisions the devices and applies every stored subscription's state, then retries
    /// what waits until `stop` turns true.
    pub async fn run(self: Arc<Self>, store: AnyStore, mut stop: watch::Receiver<bool>) {
        self.provision_devices().await;
        self.reconcile(&store).await;
        let mut backoff = MIN_BACKOFF;
        loop {
            if self.pending() == 0 {
                tokio::select! {
                    _ = stop.changed() => return,
                    () = self.wake.notified() => {}
                }
            } else {
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
            if *stop.borrow() {
                return;
            }
            if self.retry_pending().await == 0 {
                backoff = MIN_BACKOFF;
            } else {
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::future::BoxFuture;

    use super::*;
    use crate::error::BalError;

    /// Records the changes it applies; refuses every change while `down`.
    #[derive(Debug, Default)]
    struct Recorder {
        down: AtomicBool,
        applied: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn take(&self, what: String) -> Result<()> {
            if self.down.load(Ordering::SeqCst) {
                return Err(BalError::AccessNoAnswer {
                    broker: "mqtt://test".into(),
                    waited: Duration::from_secs(1),
                });
            }
            self.applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(what);
            Ok(())
        }

        fn applied(&self) -> Vec<String> {
            self.applied
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        }
    }

    impl BrokerAccess for Recorder {
        fn grant<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>> {
            Box::pin(async move { self.take(format!("grant {}", grant.role())) })
        }

        fn revoke<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>> {
            Box::pin(async move { self.take(format!("revoke {}", grant.role())) })
        }

        fn provision_device<'a>(
            &'a self,
            device: &'a DevicePublishing,
        ) -> BoxFuture<'a, Result<()>> {
            Box::pin(async move { self.take(format!("device {}", device.role())) })
        }
    }

    fn subscription(id: i64, status: SubscriptionStatus) -> Subscription {
        Subscription {
            id,
            provider: ParticipantId::new("cust-1").unwrap(),
            consumer: ParticipantId::new("agg-1").unwrap(),
            topic: "device/pmu-1".parse().unwrap(),
            status,
            requested_at: platone_model::parse_timestamp("2024-03-01T12:00:00Z").unwrap(),
            decided_at: None,
        }
    }

    fn keeper(access: Arc<Recorder>) -> (AccessKeeper, Arc<Metrics>, Health) {
        let metrics = Arc::new(Metrics::default());
        let health = Health::new();
        let mut config = BalConfig::default();
        config.devices.push(crate::config::DeviceConfig {
            id: "pmu-1".into(),
            address: None,
            revoked_at: None,
        });
        let keeper = AccessKeeper::new(access, Arc::new(config), metrics.clone(), health.clone());
        (keeper, metrics, health)
    }

    #[tokio::test]
    async fn decisions_are_applied_and_requests_change_nothing() {
        let access = Arc::new(Recorder::default());
        let (keeper, _, _) = keeper(access.clone());
        keeper
            .subscription_changed(&subscription(1, SubscriptionStatus::Requested))
            .await;
        keeper
            .subscription_changed(&subscription(1, SubscriptionStatus::Accepted))
            .await;
        keeper
            .subscription_changed(&subscription(1, SubscriptionStatus::Declined))
            .await;
        keeper.provision_devices().await;
        assert_eq!(
            access.applied(),
            [
                "grant platone-subscription-1",
                "revoke platone-subscription-1",
                "device platone-device-pmu-1"
            ]
        );
    }

    #[tokio::test]
    async fn failed_changes_are_reported_and_retried_the_latest_winning() {
        let access = Arc::new(Recorder::default());
        let (keeper, metrics, health) = keeper(access.clone());
        access.down.store(true, Ordering::SeqCst);
        keeper
            .subscription_changed(&subscription(1, SubscriptionStatus::Accepted))
            .await;
        keeper
            .subscription_changed(&subscription(2, SubscriptionStatus::Accepted))
            .await;
        // Withdrawn before the broker came back: only the revocation is applied.
        keeper
            .subscription_changed(&subscription(1, SubscriptionStatus::Declined))
            .await;
        assert_eq!(keeper.pending(), 2);
        assert_eq!(metrics.snapshot().broker_access_failures, 1);
        let report = health.report();
        assert_eq!(report.status, "degraded");
        assert_eq!(report.engines["broker_access"].status, "unavailable");
        assert_eq!(keeper.retry_pending().await, 2);
        assert_eq!(metrics.snapshot().broker_access_failures, 2);

        access.down.store(false, Ordering::SeqCst);
        assert_eq!(keeper.retry_pending().await, 0);
        assert_eq!(
            access.applied(),
            [
                "revoke platone-subscription-1",
                "grant platone-subscription-2"
            ]
        );
        assert_eq!(health.report().status, "ok");
    }
}
