//! The Data Management Tool of D2.13 on the broker side: who may read and write which MQTT
//! topics.
//!
//! When a provider accepts a subscription, the consumer's MQTT client is granted read access
//! to the topics that carry the subscribed data; when the provider declines it — at once, or
//! later to withdraw an accepted one — the access is revoked. Every field device may publish
//! only under its own topic (D2.2 §3.1.1: "Every device can only write in its dedicated
//! topic").
//!
//! [`BrokerAccess`] is the contract; [`DynamicSecurity`] keeps it with Mosquitto's
//! dynamic-security plugin (its JSON commands: [`Command`], [`encode_request`],
//! [`parse_response`]); [`AccessKeeper`] applies the changes for the BAL, retrying those the
//! broker did not take.
//!
//! # Accounts, roles and topics
//!
//! A consumer's broker account (the MQTT user name, or the certificate's name with
//! `use_identity_as_username`) is its participant id; a device's is its device id. Each
//! accepted subscription `N` is one role, `platone-subscription-N`, given to the consumer's
//! account, so that withdrawing one subscription never takes away what another grants. Each
//! device has the role `platone-device-{device}`.
//!
//! With `{forward}` the forward prefix (`topics.forward`, `platone/dsotp` by default) and
//! `{devices}` the device prefix (`topics.devices`, `platone/bal/devices`):
//!
//! | subscription topic | the consumer may subscribe to and receive |
//! |---|---|
//! | `device/D` | `{forward}/devices/D/#` (the device's stored, checked data: `…/pmu`, `…/cim`) |
//! | `pod/P` | `{forward}/devices/D/#` for every device `D` of the PoD `P` (`[[pods]] devices`) |
//! | `meter/M` | nothing: no topic carries one meter's data alone (a meter data server's messages hold many PoDs); the REST API serves it |
//!
//! Nothing is granted while forwarding is off (`topics.forward = ""`). Each topic filter is
//! granted as `subscribePattern` and `publishClientReceive`; the broker's default must deny
//! `publishClientReceive`, so that revoking also stops delivery on a subscription the client
//! made while it had access.
//!
//! A device `D` may publish (`publishClientSend`) to `{devices}/D/#` only; the broker's
//! default denies publishing everywhere else.
//!
//! An identifier that cannot be one topic level (it contains `/`, `+` or `#`, or starts with
//! `$`) is refused ([`BalError::NotATopicLevel`]): a device named `+` would otherwise be
//! granted every device's topic.

mod dynsec;
mod keeper;
mod protocol;

pub use dynsec::DynamicSecurity;
pub use keeper::AccessKeeper;
pub use protocol::{
    Acl, AclType, CONTROL_TOPIC, Command, RESPONSE_TOPIC, Response, encode_request, parse_response,
};

use futures::future::BoxFuture;
use platone_model::{DeviceId, ParticipantId};
use platone_scd::Resource;

use crate::config::BalConfig;
use crate::error::{BalError, Result};

/// A consumer's read access to the topics of one accepted subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The subscription's id in the SCD.
    pub subscription: i64,
    /// The consumer: its broker account is this participant id.
    pub consumer: ParticipantId,
    /// The topic filters it may subscribe to and receive from (may be empty: see the module
    /// docs).
    pub filters: Vec<String>,
}

impl Grant {
    /// The grant of `subscription` (of `consumer` to `topic`) under `config`'s topics and PoDs.
    pub fn of(
        config: &BalConfig,
        subscription: i64,
        consumer: &ParticipantId,
        topic: &Resource,
    ) -> Result<Grant> {
        topic_level("participant", consumer.as_str())?;
        Ok(Grant {
            subscription,
            consumer: consumer.clone(),
            filters: subscription_filters(config, topic)?,
        })
    }

    /// The role that holds this grant: `platone-subscription-{id}`.
    pub fn role(&self) -> String {
        format!("platone-subscription-{}", self.subscription)
    }
}

/// A device's right to publish under its own topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePublishing {
    /// The device: its broker account is this device id.
    pub device: DeviceId,
    /// The one topic filter it may publish to: `{devices}/{device}/#`.
    pub filter: String,
}

impl DevicePublishing {
    /// The publishing right of `device` under `config`'s device prefix.
    pub fn of(config: &BalConfig, device: &DeviceId) -> Result<DevicePublishing> {
        topic_level("device", device.as_str())?;
        Ok(DevicePublishing {
            device: device.clone(),
            filter: format!("{}/{}/#", config.topics.devices, device),
        })
    }

    /// The role that holds this right: `platone-device-{device}`.
    pub fn role(&self) -> String {
        format!("platone-device-{}", self.device)
    }
}

/// The topic filters a subscription to `topic` grants (see the module docs for the table).
pub fn subscription_filters(config: &BalConfig, topic: &Resource) -> Result<Vec<String>> {
    let forward = config.topics.forward.as_str();
    if forward.is_empty() {
        return Ok(Vec::new());
    }
    let devices: Vec<&str> = match topic {
        Resource::Device(d) => vec![d.as_str()],
        Resource::Pod(p) => config
            .pods
            .iter()
            .filter(|pod| pod.id == p.as_str())
            .flat_map(|pod| pod.devices.iter().map(String::as_str))
            .collect(),
        Resource::Meter(_) => Vec::new(),
    };
    let mut filters = Vec::with_capacity(devices.len());
    for device in devices {
        topic_level("device", device)?;
        let filter = format!("{forward}/devices/{device}/#");
        if !filters.contains(&filter) {
            filters.push(filter);
        }
    }
    Ok(filters)
}

/// Every device the configuration names (`[[devices]]` and the `devices` of `[[pods]]`), once.
pub fn configured_devices(config: &BalConfig) -> Vec<String> {
    let mut devices: Vec<String> = config
        .devices
        .iter()
        .map(|d| d.id.clone())
        .chain(config.pods.iter().flat_map(|p| p.devices.iter().cloned()))
        .collect();
    devices.sort();
    devices.dedup();
    devices
}

/// Refuses an identifier that is not one plain topic level.
fn topic_level(kind: &'static str, id: &str) -> Result<()> {
    if id.is_empty() || id.starts_with('$') || id.contains(['/', '+', '#', '\0']) {
        return Err(BalError::NotATopicLevel {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// The broker's access control, as the BAL changes it.
///
/// An implementation must keep this contract:
///
/// - **Effective on success.** `Ok` means the broker enforces the change for connections made
///   from then on; connections already open lose revoked access at once (Mosquitto's
///   dynamic-security plugin disconnects a client whose roles change, and checks every
///   delivery against the client's current rights).
/// - **Idempotent.** Granting what is granted, revoking what is not (or no longer) granted,
///   and provisioning a provisioned device all succeed and change nothing; a change may
///   therefore be retried after any failure, and a partly applied change is completed by the
///   retry.
/// - **Exact.** A revoke takes away the access of that grant only, never what another grant
///   gives the same consumer; a consumer account or device account is never deleted.
/// - **Typed failures.** Every failure is an error of [`BalError`]: the broker refused
///   ([`BalError::AccessRefused`]), did not answer ([`BalError::AccessNoAnswer`]), answered
///   unreadably ([`BalError::AccessAnswer`]), or the connection failed ([`BalError::Bus`]).
///   Nothing panics on the broker's answers.
pub trait BrokerAccess: Send + Sync + std::fmt::Debug {
    /// Lets the grant's consumer subscribe to, and receive from, the grant's filters.
    fn grant<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>>;

    /// Takes the grant's access away from its consumer.
    fn revoke<'a>(&'a self, grant: &'a Grant) -> BoxFuture<'a, Result<()>>;

    /// Lets the device publish to its own topic (and, by the broker's default, nowhere else).
    fn provision_device<'a>(&'a self, device: &'a DevicePublishing) -> BoxFuture<'a, Result<()>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PodConfig;

    fn config() -> BalConfig {
        let mut config = BalConfig::default();
        config.pods.push(PodConfig {
            id: "POD-1".into(),
            customer: Some("cust-1".into()),
            aggregator: None,
            meters: vec!["MTR-1".into()],
            devices: vec!["pmu-1".into(), "ln-1".into(), "pmu-1".into()],
        });
        config
    }

    #[test]
    fn subscription_topics_grant_the_forwarded_topics_of_their_devices() {
        let config = config();
        let filters = |t: &str| subscription_filters(&config, &t.parse().unwrap()).unwrap();
        assert_eq!(filters("device/pmu-9"), ["platone/dsotp/devices/pmu-9/#"]);
        assert_eq!(
            filters("pod/POD-1"),
            [
                "platone/dsotp/devices/pmu-1/#",
                "platone/dsotp/devices/ln-1/#"
            ]
        );
        assert!(filters("pod/POD-2").is_empty());
        assert!(filters("meter/MTR-1").is_empty());
        let mut off = config.clone();
        off.topics.forward.clear();
        assert!(
            subscription_filters(&off, &"device/pmu-1".parse().unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn roles_and_device_topics() {
        let config = config();
        let grant = Grant::of(
            &config,
            7,
            &ParticipantId::new("agg-1").unwrap(),
            &"device/pmu-1".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(grant.role(), "platone-subscription-7");
        let device = DevicePublishing::of(&config, &DeviceId::new("pmu-1").unwrap()).unwrap();
        assert_eq!(device.filter, "platone/bal/devices/pmu-1/#");
        assert_eq!(device.role(), "platone-device-pmu-1");
        assert_eq!(configured_devices(&config), ["ln-1", "pmu-1"]);
    }

    #[test]
    fn identifiers_that_are_not_one_topic_level_are_refused() {
        let config = BalConfig::default();
        for bad in ["+", "#", "a/b", "$SYS"] {
            let e = DevicePublishing::of(&config, &DeviceId::new(bad).unwrap()).unwrap_err();
            assert!(matches!(e, BalError::NotATopicLevel { .. }), "{bad}: {e}");
            let e = subscription_filters(&config, &Resource::Device(DeviceId::new(bad).unwrap()))
                .unwrap_err();
            assert!(matches!(e, BalError::NotATopicLevel { .. }), "{bad}: {e}");
            let e = Grant::of(
                &config,
                1,
                &ParticipantId::new(bad).unwrap(),
                &"device/d".parse().unwrap(),
            )
            .unwrap_err();
            assert!(matches!(e, BalError::NotATopicLevel { .. }), "{bad}: {e}");
        }
    }
}
