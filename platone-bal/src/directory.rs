//! Who is who: the PoDs the BAL serves, their meters and devices, and the device registry
//! that says which key may sign for a PoD.
//!
//! At start the configuration's PoDs and links are registered in the SCD (idempotently) and
//! the configured device addresses in the device registry. The registry is the embedded
//! [`FileRegistry`]: every change is signed with the DSO's key (kept in `DATA/dso.key`, made on
//! first start), as an on-chain registry only the DSO may change.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use alloy_primitives::Address;

use platone_certify::envelope::VerifiedPacket;
use platone_certify::registry::{
    DeviceRegistry, FileRegistry, KeyAction, Receipt, SignedKeyChange,
};
use platone_certify::signature::{Eip712Domain, deployment_domain, parse_address};
use platone_certify::{DeviceKey, SignedEnvelope};
use platone_model::{DeviceId, Measurement, MeterId, ParticipantId, PodId, Timestamp};
use platone_scd::{AnyStore, PodLink, PodRecord, Principal, Store};

use crate::config::{BalConfig, DSO_PARTICIPANT};
use crate::error::{BalError, Result};

/// The PoD directory and the device registry.
pub struct Directory {
    device_pod: HashMap<DeviceId, PodId>,
    meter_pod: HashMap<MeterId, PodId>,
    registry: Arc<dyn DeviceRegistry>,
    domain: Eip712Domain,
    skew_secs: u64,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("devices", &self.device_pod.len())
            .field("meters", &self.meter_pod.len())
            .field("dso", &self.registry.dso())
            .finish()
    }
}

fn epoch() -> Timestamp {
    chrono::DateTime::UNIX_EPOCH.fixed_offset()
}

impl Directory {
    /// Builds the directory from the configuration, registering PoDs and links in `store` and
    /// device keys in the registry under `data`.
    ///
    /// With `external`, device signatures are checked against that registry and the
    /// configuration's device addresses are not registered (they are the registry owner's
    /// business); without, against the embedded [`FileRegistry`], where they are.
    pub async fn open(
        config: &BalConfig,
        store: &AnyStore,
        external: Option<Arc<dyn DeviceRegistry>>,
    ) -> Result<Self> {
        let domain = deployment_domain(config.chain_id, config.verifying_contract()?);
        let mut device_pod = HashMap::new();
        let mut meter_pod = HashMap::new();
        let dso_participant =
            ParticipantId::new(DSO_PARTICIPANT).map_err(|e| BalError::config("dso", e))?;
        for (i, pod) in config.pods.iter().enumerate() {
            let at = |field: &str| format!("pods[{i}].{field}");
            let id = PodId::new(&pod.id).map_err(|e| BalError::config(at("id"), e))?;
            let participant = |field: &str, v: &Option<String>| {
                v.as_deref()
                    .map(ParticipantId::new)
                    .transpose()
                    .map_err(|e| BalError::config(at(field), e))
            };
            let customer = participant("customer", &pod.customer)?;
            let aggregator = participant("aggregator", &pod.aggregator)?;
            store
                .register_pod(&PodRecord {
                    pod: id.clone(),
                    dso: dso_participant.clone(),
                    customer,
                })
                .await?;
            let existing = store.pod_links(&Principal::Operator, &id).await?;
            let mut links = Vec::new();
            for meter in &pod.meters {
                let meter = MeterId::new(meter).map_err(|e| BalError::config(at("meters"), e))?;
                meter_pod.insert(meter.clone(), id.clone());
                links.push((Some(meter), None));
            }
            for device in &pod.devices {
                let device =
                    DeviceId::new(device).map_err(|e| BalError::config(at("devices"), e))?;
                device_pod.insert(device.clone(), id.clone());
                links.push((None, Some(device)));
            }
            if links.is_empty() && aggregator.is_some() {
                links.push((None, None));
            }
            for (meter, device) in links {
                let link = PodLink {
                    pod: id.clone(),
                    meter,
                    device,
                    aggregator: aggregator.clone(),
                    valid_from: epoch(),
                    valid_to: None,
                };
                if !existing.contains(&link) {
                    store.add_pod_link(&link).await?;
                }
            }
        }
        let registry = match external {
            Some(registry) => {
                if config.devices.iter().any(|d| d.address.is_some()) {
                    tracing::warn!(
                        "the device addresses of the configuration are not registered: \
                         signatures are checked against the external device registry"
                    );
                }
                registry
            }
            None => Arc::new(embedded_registry(config, &domain, &device_pod)?),
        };
        Ok(Directory {
            device_pod,
            meter_pod,
            registry,
            domain,
            skew_secs: config.signature_skew_secs,
        })
    }

    /// The PoD a device serves, if one.
    pub fn pod_of_device(&self, device: &DeviceId) -> Option<&PodId> {
        self.device_pod.get(device)
    }

    /// The registry entry whose key signs for `device`: its PoD, or the device itself.
    pub fn registry_key(&self, device: &DeviceId) -> String {
        self.pod_of_device(device)
            .map_or_else(|| device.as_str().to_owned(), |p| p.as_str().to_owned())
    }

    /// Sets the PoD of a measurement that has none: its meter's, else its source's, else the
    /// sending device's.
    pub fn assign_pod(&self, m: Measurement, sender: &DeviceId) -> Measurement {
        if m.pod.is_some() {
            return m;
        }
        let pod = m
            .meter
            .as_ref()
            .and_then(|meter| self.meter_pod.get(meter))
            .or_else(|| self.device_pod.get(&m.source))
            .or_else(|| self.device_pod.get(sender))
            .cloned();
        match pod {
            Some(pod) => m.with_pod(pod),
            None => m,
        }
    }

    /// Checks a signed envelope that `sender` published and the BAL received at `received`,
    /// and gives the signer with the verified payload bytes (what may then be decoded).
    ///
    /// The signature must be valid in the deployment's EIP-712 domain, made by the key the
    /// registry holds for the sender's PoD (or the sender itself) **at the time of receipt** —
    /// a key rotated out or revoked signs nothing received afterwards, whatever time the packet
    /// claims. An EIP-712 envelope must name the sender as its `device`, and its signed
    /// `timestamp` may differ from the time of receipt by at most the configured skew.
    pub fn verify(
        &self,
        envelope: &SignedEnvelope,
        sender: &DeviceId,
        received: Timestamp,
    ) -> Result<VerifiedPacket, String> {
        if let Some(device) = envelope.device.as_deref()
            && device != sender.as_str()
        {
            return Err(format!(
                "the envelope is signed for device {device:?}, published on the topic of device {:?}",
                sender.as_str()
            ));
        }
        let receipt = Receipt::new(
            u64::try_from(received.timestamp()).unwrap_or(0),
            self.skew_secs,
        );
        envelope
            .verify(
                &*self.registry,
                &self.registry_key(sender),
                &self.domain,
                &receipt,
            )
            .map_err(|e| e.to_string())
    }

    /// Checks that a measurement `sender` published is within what the sender may report: a
    /// device that serves a PoD reports only for that PoD (its readings name no meter or usage
    /// point of another PoD). A device that serves no single PoD (a DSO data server) may report
    /// for any PoD. Gives the reason when it is out of scope.
    pub fn check_scope(&self, m: &Measurement, sender: &DeviceId) -> Result<(), String> {
        let Some(own) = self.pod_of_device(sender) else {
            return Ok(());
        };
        let named = m
            .meter
            .as_ref()
            .and_then(|meter| self.meter_pod.get(meter))
            .or(m.pod.as_ref());
        match named {
            Some(pod) if pod != own => Err(format!(
                "device {sender} serves PoD {own} and may not report for PoD {pod}{}",
                m.meter
                    .as_ref()
                    .map(|meter| format!(" (meter {meter})"))
                    .unwrap_or_default()
            )),
            _ => match &m.meter {
                Some(meter) if !self.meter_pod.contains_key(meter) => Err(format!(
                    "device {sender} serves PoD {own} and may not report for meter {meter}, \
                     which is not one of its PoD's meters"
                )),
                _ => Ok(()),
            },
        }
    }
}

/// The embedded registry of the data directory, with the configuration's device addresses
/// registered (signed with the DSO's key of `DATA/dso.key`).
fn embedded_registry(
    config: &BalConfig,
    domain: &Eip712Domain,
    device_pod: &HashMap<DeviceId, PodId>,
) -> Result<FileRegistry> {
    let dso = dso_key(&config.data)?;
    let mut registry = FileRegistry::open(
        config.data.join("registry.jsonl"),
        dso.address(),
        domain.clone(),
    )?;
    let directory_keys: Vec<(String, Address, Option<u64>)> = config
        .devices
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.address.as_ref().map(|a| (i, d, a)))
        .map(|(i, d, a)| {
            let device = DeviceId::new(&d.id)
                .map_err(|e| BalError::config(format!("devices[{i}].id"), e))?;
            let key = device_pod.get(&device).map_or_else(
                || device.as_str().to_owned(),
                |p: &PodId| p.as_str().to_owned(),
            );
            let address = parse_address(a)
                .map_err(|e| BalError::config(format!("devices[{i}].address"), e))?;
            let revoked = d
                .revoked_at
                .as_deref()
                .map(|t| {
                    platone_model::parse_timestamp(t)
                        .map(|t| u64::try_from(t.timestamp()).unwrap_or(0))
                        .map_err(|e| BalError::config(format!("devices[{i}].revoked_at"), e))
                })
                .transpose()?;
            Ok((key, address, revoked))
        })
        .collect::<Result<_>>()?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    for (key, address, revoked) in directory_keys {
        let history = registry.history(&key);
        let current = history.last().filter(|v| v.valid_until.is_none());
        let was_revoked = history
            .last()
            .is_some_and(|v| v.address == address && v.valid_until.is_some());
        let change = match (current, revoked) {
            // Revoked already: the key signs nothing received after its revocation.
            (None, Some(_)) if was_revoked => continue,
            (Some(v), Some(at)) if v.address == address => (KeyAction::Revoke, None, at),
            (Some(v), None) if v.address == address => continue,
            (Some(_), _) => (KeyAction::Rotate, Some(address), now),
            // A device's first key covers its data from the beginning.
            (None, _) if history.is_empty() => (KeyAction::Register, Some(address), 0),
            (None, _) => (KeyAction::Register, Some(address), now),
        };
        let signed = SignedKeyChange::sign(
            &dso,
            domain,
            &key,
            change.0,
            change.1,
            change.2,
            registry.nonce(),
        )?;
        registry.apply(&signed)?;
        if let (KeyAction::Rotate | KeyAction::Register, Some(at)) = (change.0, revoked) {
            // A key configured as revoked from the start: registered, then revoked.
            let signed = SignedKeyChange::sign(
                &dso,
                domain,
                &key,
                KeyAction::Revoke,
                None,
                at.max(change.2),
                registry.nonce(),
            )?;
            registry.apply(&signed)?;
        }
        if change.0 == KeyAction::Revoke {
            tracing::info!("the key {address} of {key} is revoked from {}", change.2);
        }
    }
    Ok(registry)
}

/// The DSO's registry key, made on first start and kept in `DATA/dso.key`.
pub fn dso_key(data: &Path) -> Result<DeviceKey> {
    let path = data.join("dso.key");
    if path.exists() {
        return Ok(DeviceKey::load(&path)?);
    }
    // Written readable by its owner only (0600), synced with its directory.
    let key = DeviceKey::generate()?;
    key.save(&path)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_dso_key_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dso_key(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("dso.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Read back, the same key.
        assert_eq!(dso_key(dir.path()).unwrap().address(), key.address());
    }
}
