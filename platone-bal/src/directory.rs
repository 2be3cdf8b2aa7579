//! Who is who: the PoDs the BAL serves, their meters and devices, and the device registry
//! that says which key may sign for a PoD.
//!
//! At start the configuration's PoDs and links are registered in the SCD (idempotently) and
//! the configured device addresses in the device registry. The registry is the embedded
//! [`FileRegistry`]: every change is signed with the DSO's key (kept in `DATA/dso.key`, made on
//! first start), as an on-chain registry only the DSO may change.

use std::collections::HashMap;
use std::path::Path;

use alloy_primitives::Address;
use platone_certify::registry::{
    DeviceRegistry, FileRegistry, KeyAction, Receipt, SignedKeyChange,
};
use platone_certify::signature::{parse_address, platone_domain};
use platone_certify::{DeviceKey, SignedEnvelope};
use platone_model::{DeviceId, Measurement, MeterId, ParticipantId, PodId, Timestamp};
use platone_scd::{AnyStore, PodLink, PodRecord, Principal, Store};

use crate::config::{BalConfig, DSO_PARTICIPANT};
use crate::error::{BalError, Result};

/// The PoD directory and the device registry.
#[derive(Debug)]
pub struct Directory {
    device_pod: HashMap<DeviceId, PodId>,
    meter_pod: HashMap<MeterId, PodId>,
    registry: FileRegistry,
    chain_id: u64,
}

fn epoch() -> Timestamp {
    chrono::DateTime::UNIX_EPOCH.fixed_offset()
}

impl Directory {
    /// Builds the directory from the configuration, registering PoDs and links in `store` and
    /// device keys in the registry under `data`.
    pub async fn open(config: &BalConfig, store: &AnyStore) -> Result<Self> {
        let dso = dso_key(&config.data)?;
        let domain = platone_domain(config.chain_id);
        let mut registry = FileRegistry::open(
            config.data.join("registry.jsonl"),
            dso.address(),
            domain.clone(),
        )?;
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
        let directory_keys: Vec<(String, Address)> = config
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
                Ok((key, address))
            })
            .collect::<Result<_>>()?;
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        for (key, address) in directory_keys {
            let history = registry.history(&key);
            let current = history.last().filter(|v| v.valid_until.is_none());
            let change = match current {
                Some(v) if v.address == address => continue,
                Some(_) => (KeyAction::Rotate, now),
                // A device's first key covers its data from the beginning.
                None if history.is_empty() => (KeyAction::Register, 0),
                None => (KeyAction::Register, now),
            };
            let signed = SignedKeyChange::sign(
                &dso,
                &domain,
                &key,
                change.0,
                Some(address),
                change.1,
                registry.nonce(),
            )?;
            registry.apply(&signed)?;
        }
        Ok(Directory {
            device_pod,
            meter_pod,
            registry,
            chain_id: config.chain_id,
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

    /// Checks a signed envelope from `sender`, received now: the key registered for the
    /// sender at receipt signed it, its claimed time within the default skew.
    pub fn verify(
        &self,
        envelope: &SignedEnvelope,
        sender: &DeviceId,
        _at: u64,
    ) -> Result<Address, String> {
        envelope
            .verify(
                &self.registry,
                &self.registry_key(sender),
                &platone_domain(self.chain_id),
                &Receipt::now(Receipt::DEFAULT_MAX_SKEW),
            )
            .map(|packet| packet.signer)
            .map_err(|e| e.to_string())
    }
}

/// The DSO's registry key, made on first start and kept in `DATA/dso.key`.
pub fn dso_key(data: &Path) -> Result<DeviceKey> {
    let path = data.join("dso.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(DeviceKey::from_hex(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = DeviceKey::generate()?;
            std::fs::write(&path, key.to_hex()).map_err(|e| BalError::io(&path, e))?;
            Ok(key)
        }
        Err(e) => Err(BalError::io(&path, e)),
    }
}
