//! The device registry: which device key (Ethereum address) a Point of Delivery or meter uses,
//! over time. Only the DSO may change it: every change is EIP-712 typed data signed by the DSO's
//! key, as an on-chain registry would require `msg.sender == dso`. History is kept, so that old
//! data verifies against the key that was valid when it was measured.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use alloy_primitives::Address;
use alloy_sol_types::{Eip712Domain, sol};
use serde::{Deserialize, Serialize};

use crate::error::{CertifyError, Result};
use crate::journal::{self, Writer};
use crate::signature::{
    DeviceKey, DevicePacket, format_signature, parse_address, parse_signature, recover_typed,
};

sol! {
    /// A registry change as the DSO signs it (EIP-712 type
    /// `KeyChange(string pod,uint8 action,address device,uint64 at,uint64 nonce)`).
    #[derive(Debug, PartialEq, Eq)]
    struct KeyChange {
        /// The PoD or meter.
        string pod;
        /// 0 register, 1 rotate, 2 revoke.
        uint8 action;
        /// The device address (zero for a revocation).
        address device;
        /// When the change takes effect, in Unix seconds.
        uint64 at;
        /// The registry's change counter (replay protection).
        uint64 nonce;
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KeyAction {
    /// Give a PoD/meter without a current key its first (or next, after revocation) key.
    Register,
    /// Replace a PoD/meter's current key.
    Rotate,
    /// End a PoD/meter's current key.
    Revoke,
}

impl KeyAction {
    fn code(self) -> u8 {
        match self {
            KeyAction::Register => 0,
            KeyAction::Rotate => 1,
            KeyAction::Revoke => 2,
        }
    }
}

/// A registry change with the DSO's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedKeyChange {
    /// The PoD or meter.
    pub pod: String,
    /// What the change does.
    pub action: KeyAction,
    /// The device address (checksummed hex); empty for a revocation.
    pub device: String,
    /// When it takes effect, in Unix seconds.
    pub at: u64,
    /// The registry's change counter when it was made.
    pub nonce: u64,
    /// The DSO's EIP-712 signature (`0x` ‖ r ‖ s ‖ v).
    pub signature: String,
}

impl SignedKeyChange {
    /// Makes and signs a change with the DSO's key.
    pub fn sign(
        dso: &DeviceKey,
        domain: &Eip712Domain,
        pod: &str,
        action: KeyAction,
        device: Option<Address>,
        at: u64,
        nonce: u64,
    ) -> Result<Self> {
        let device = device.unwrap_or(Address::ZERO);
        let typed = KeyChange {
            pod: pod.to_owned(),
            action: action.code(),
            device,
            at,
            nonce,
        };
        Ok(SignedKeyChange {
            pod: pod.to_owned(),
            action,
            device: if action == KeyAction::Revoke {
                String::new()
            } else {
                device.to_checksum(None)
            },
            at,
            nonce,
            signature: format_signature(&dso.sign_typed(&typed, domain)?),
        })
    }

    fn device_address(&self) -> Result<Address> {
        if self.device.is_empty() {
            Ok(Address::ZERO)
        } else {
            parse_address(&self.device)
        }
    }

    /// The address that signed the change.
    pub fn signer(&self, domain: &Eip712Domain) -> Result<Address> {
        let typed = KeyChange {
            pod: self.pod.clone(),
            action: self.action.code(),
            device: self.device_address()?,
            at: self.at,
            nonce: self.nonce,
        };
        recover_typed(&typed, domain, &parse_signature(&self.signature)?)
    }
}

/// One period during which a key was a PoD/meter's device key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyValidity {
    /// The device address.
    pub address: Address,
    /// From (inclusive), Unix seconds.
    pub valid_from: u64,
    /// Until (exclusive), Unix seconds; `None` while current.
    pub valid_until: Option<u64>,
}

impl KeyValidity {
    /// Whether the key was valid at `at` (Unix seconds).
    pub fn covers(&self, at: u64) -> bool {
        at >= self.valid_from && self.valid_until.is_none_or(|u| at < u)
    }
}

/// When a receiver got a packet, and how far the time the device claims may be from it.
///
/// A key is judged at the time the packet is *received*, never at the time its signer claims:
/// a key that was rotated out or revoked signs nothing received afterwards, whatever date it
/// puts on the packet. The claimed time (EIP-712 envelopes sign one) is accepted only within
/// `max_skew` seconds of the receipt time, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// When the packet was received, in Unix seconds (the receiver's clock).
    pub received_at: u64,
    /// How far (seconds, either way) the claimed time may be from `received_at`.
    pub max_skew: u64,
}

impl Receipt {
    /// The default allowed skew: five minutes.
    pub const DEFAULT_MAX_SKEW: u64 = 300;

    /// A packet received at `received_at` (Unix seconds), claims allowed within `max_skew`.
    pub fn new(received_at: u64, max_skew: u64) -> Self {
        Receipt {
            received_at,
            max_skew,
        }
    }

    /// A packet received now (the system clock), claims allowed within `max_skew`.
    pub fn now(max_skew: u64) -> Self {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        Receipt::new(now, max_skew)
    }

    /// Checks a claimed time is within the skew of the receipt time.
    pub fn check_claim(&self, claimed_at: u64) -> Result<()> {
        let off = claimed_at.abs_diff(self.received_at);
        if off > self.max_skew {
            return Err(CertifyError::Signature(format!(
                "the packet claims time {claimed_at}, {off} s from its receipt at {}; \
                 at most {} s are allowed",
                self.received_at, self.max_skew
            )));
        }
        Ok(())
    }
}

/// Maps a PoD/meter to its device address over time.
///
/// Object-safe: receivers hold a `&dyn DeviceRegistry` (or `Arc<dyn DeviceRegistry>`).
///
/// # Contract
///
/// * Only changes signed by the DSO ([`DeviceRegistry::dso`]) with the expected nonce are
///   applied; anything else is refused and changes nothing.
/// * [`DeviceRegistry::history`] keeps every key a PoD has had with its validity period: a
///   rotation or revocation at `t` ends the current key at `t` (exclusive). Changes never take
///   effect before the latest change of the same PoD.
/// * Verification of what is *received* ([`DeviceRegistry::check_signer`],
///   [`DeviceRegistry::verify_packet`]) judges the key at the receipt time (see [`Receipt`]);
///   [`DeviceRegistry::address_at`] answers historical questions only.
pub trait DeviceRegistry: Send + Sync {
    /// The DSO's address: the only signer whose changes are accepted.
    fn dso(&self) -> Address;

    /// The number of changes applied (the nonce the next change must carry).
    fn nonce(&self) -> u64;

    /// Applies a change signed by the DSO; anything else is refused and changes nothing.
    fn apply(&mut self, change: &SignedKeyChange) -> Result<()>;

    /// Every key the PoD/meter has had, oldest first.
    fn history(&self, pod: &str) -> Vec<KeyValidity>;

    /// The address valid for the PoD/meter at `at` (Unix seconds). For archives: to check
    /// what was received, use [`DeviceRegistry::check_signer`].
    fn address_at(&self, pod: &str, at: u64) -> Option<Address> {
        self.history(pod)
            .into_iter()
            .find(|k| k.covers(at))
            .map(|k| k.address)
    }

    /// Checks that `signer` may sign for `pod` what was received per `receipt`: its key is the
    /// one registered for `pod` at the receipt time (not rotated out, not revoked, already
    /// registered), and the time the packet claims, if it claims one, is within the allowed
    /// skew of the receipt time.
    fn check_signer(
        &self,
        pod: &str,
        signer: Address,
        claimed_at: Option<u64>,
        receipt: &Receipt,
    ) -> Result<()> {
        if let Some(claimed) = claimed_at {
            receipt.check_claim(claimed)?;
        }
        let at = receipt.received_at;
        match self.address_at(pod, at) {
            Some(registered) if registered == signer => Ok(()),
            Some(registered) => Err(CertifyError::Signature(format!(
                "packet for {pod} signed by {signer}, the key registered at its receipt ({at}) \
                 is {registered}"
            ))),
            None => {
                let history = self.history(pod);
                let ended = history
                    .iter()
                    .rev()
                    .find(|k| k.address == signer)
                    .and_then(|k| k.valid_until.filter(|u| *u <= at));
                Err(CertifyError::Signature(match ended {
                    Some(until) => format!(
                        "packet for {pod} signed by {signer}, whose key was withdrawn at \
                         {until}, before its receipt ({at})"
                    ),
                    None => format!("{pod} has no registered key at the packet's receipt ({at})"),
                }))
            }
        }
    }

    /// Checks a signed device packet in `domain`: the signature recovers a key that
    /// [`DeviceRegistry::check_signer`] accepts for `pod`, with the packet's timestamp as the
    /// claimed time. Returns the signer.
    fn verify_packet(
        &self,
        pod: &str,
        packet: &DevicePacket,
        signature: &alloy_primitives::Signature,
        domain: &Eip712Domain,
        receipt: &Receipt,
    ) -> Result<Address> {
        let signer = recover_typed(packet, domain, signature)?;
        self.check_signer(pod, signer, Some(packet.timestamp), receipt)?;
        Ok(signer)
    }
}

/// The in-memory device registry.
#[derive(Debug, Clone)]
pub struct InMemoryRegistry {
    dso: Address,
    domain: Eip712Domain,
    keys: HashMap<String, Vec<KeyValidity>>,
    nonce: u64,
}

impl InMemoryRegistry {
    /// An empty registry governed by `dso`, with changes signed in `domain`
    /// (usually [`platone_domain`](crate::signature::platone_domain) of the chain id).
    pub fn new(dso: Address, domain: Eip712Domain) -> Self {
        InMemoryRegistry {
            dso,
            domain,
            keys: HashMap::new(),
            nonce: 0,
        }
    }

    /// The signing domain.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    fn check(&self, change: &SignedKeyChange) -> Result<Option<KeyValidity>> {
        let signer = change.signer(&self.domain)?;
        if signer != self.dso {
            return Err(CertifyError::Registry(format!(
                "change of {} signed by {signer}, only the DSO {} may change the registry",
                change.pod, self.dso
            )));
        }
        if change.nonce != self.nonce {
            return Err(CertifyError::Registry(format!(
                "change carries nonce {}, the registry expects {} (replayed or out of order)",
                change.nonce, self.nonce
            )));
        }
        let history = self.keys.get(&change.pod);
        let current = history
            .and_then(|h| h.last())
            .filter(|k| k.valid_until.is_none());
        let latest_time = history
            .and_then(|h| h.last())
            .map(|k| k.valid_until.unwrap_or(k.valid_from));
        if latest_time.is_some_and(|t| change.at < t) {
            return Err(CertifyError::Registry(format!(
                "change of {} at {} predates its latest change",
                change.pod, change.at
            )));
        }
        let device = change.device_address()?;
        let ok = match change.action {
            KeyAction::Register => current.is_none() && device != Address::ZERO,
            KeyAction::Rotate => current.is_some() && device != Address::ZERO,
            KeyAction::Revoke => current.is_some(),
        };
        if !ok {
            return Err(CertifyError::Registry(format!(
                "cannot {:?} {}: {}",
                change.action,
                change.pod,
                if current.is_some() {
                    "it has a current key"
                } else {
                    "it has no current key"
                }
            )));
        }
        Ok(match change.action {
            KeyAction::Revoke => None,
            _ => Some(KeyValidity {
                address: device,
                valid_from: change.at,
                valid_until: None,
            }),
        })
    }

    fn commit(&mut self, change: &SignedKeyChange, new: Option<KeyValidity>) {
        let history = self.keys.entry(change.pod.clone()).or_default();
        if let Some(last) = history.last_mut()
            && last.valid_until.is_none()
        {
            last.valid_until = Some(change.at);
        }
        history.extend(new);
        self.nonce += 1;
    }
}

impl DeviceRegistry for InMemoryRegistry {
    fn dso(&self) -> Address {
        self.dso
    }

    fn nonce(&self) -> u64 {
        self.nonce
    }

    fn apply(&mut self, change: &SignedKeyChange) -> Result<()> {
        let new = self.check(change)?;
        self.commit(change, new);
        Ok(())
    }

    fn history(&self, pod: &str) -> Vec<KeyValidity> {
        self.keys.get(pod).cloned().unwrap_or_default()
    }
}

/// The embedded persistent device registry: the signed changes in an append-only JSON-lines
/// file, fsync'd, every signature re-checked when it is opened.
#[derive(Debug)]
pub struct FileRegistry {
    memory: InMemoryRegistry,
    writer: Writer,
    path: PathBuf,
}

impl FileRegistry {
    /// Opens (creating) the registry file at `path`, governed by `dso`, taking the
    /// single-writer lock; a torn last line is cut, any other bad line is an error.
    pub fn open(path: impl AsRef<Path>, dso: Address, domain: Eip712Domain) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (writer, bytes, _) = Writer::open(&path)?;
        let mut memory = InMemoryRegistry::new(dso, domain);
        let (lines, _) = journal::split_lines(&bytes);
        for line in lines {
            let corrupt = |message: String| CertifyError::Corrupt {
                path: path.clone(),
                entry: line.number,
                offset: line.offset,
                message,
            };
            let change: SignedKeyChange =
                serde_json::from_slice(line.text).map_err(|e| corrupt(e.to_string()))?;
            memory.apply(&change).map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(FileRegistry {
            memory,
            writer,
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl DeviceRegistry for FileRegistry {
    fn dso(&self) -> Address {
        self.memory.dso
    }

    fn nonce(&self) -> u64 {
        self.memory.nonce
    }

    fn apply(&mut self, change: &SignedKeyChange) -> Result<()> {
        let new = self.memory.check(change)?;
        let mut line =
            serde_json::to_vec(change).map_err(|e| CertifyError::Serialise(e.to_string()))?;
        line.push(b'\n');
        self.writer.append(&line)?;
        self.memory.commit(change, new);
        Ok(())
    }

    fn history(&self, pod: &str) -> Vec<KeyValidity> {
        self.memory.history(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::signature::platone_domain;

    fn setup() -> (DeviceKey, Eip712Domain) {
        (DeviceKey::generate().unwrap(), platone_domain(2020))
    }

    fn change<R: DeviceRegistry>(
        r: &R,
        dso: &DeviceKey,
        d: &Eip712Domain,
        action: KeyAction,
        device: Option<Address>,
        at: u64,
    ) -> SignedKeyChange {
        SignedKeyChange::sign(dso, d, "pod-1", action, device, at, r.nonce()).unwrap()
    }

    #[test]
    fn register_rotate_revoke_keep_history() {
        let (dso, d) = setup();
        let (k1, k2) = (
            DeviceKey::generate().unwrap(),
            DeviceKey::generate().unwrap(),
        );
        let mut r = InMemoryRegistry::new(dso.address(), d.clone());
        let c = change(&r, &dso, &d, KeyAction::Register, Some(k1.address()), 100);
        r.apply(&c).unwrap();
        // Replaying the same signed change is refused (nonce).
        assert!(r.apply(&c).is_err());
        let c = change(&r, &dso, &d, KeyAction::Rotate, Some(k2.address()), 200);
        r.apply(&c).unwrap();
        assert_eq!(r.address_at("pod-1", 150), Some(k1.address()));
        assert_eq!(r.address_at("pod-1", 250), Some(k2.address()));
        assert_eq!(r.address_at("pod-1", 50), None);
        let c = change(&r, &dso, &d, KeyAction::Revoke, None, 300);
        r.apply(&c).unwrap();
        assert_eq!(r.address_at("pod-1", 300), None);
        assert_eq!(r.history("pod-1").len(), 2);
        // A packet received while k1 was valid verifies; the same received after the
        // rotation does not.
        let packet = crate::signature::device_packet("ln-1", b"{}", 150);
        let sig = k1.sign_packet(&packet, 2020).unwrap();
        assert_eq!(
            r.verify_packet("pod-1", &packet, &sig, &d, &Receipt::new(160, 30))
                .unwrap(),
            k1.address()
        );
        assert!(
            r.verify_packet("pod-1", &packet, &sig, &d, &Receipt::new(250, 300))
                .is_err()
        );
    }

    #[test]
    fn only_the_dso_may_change_it() {
        let (dso, d) = setup();
        let intruder = DeviceKey::generate().unwrap();
        let mut r = InMemoryRegistry::new(dso.address(), d.clone());
        let c = change(
            &r,
            &intruder,
            &d,
            KeyAction::Register,
            Some(intruder.address()),
            1,
        );
        let err = r.apply(&c).unwrap_err().to_string();
        assert!(err.contains("only the DSO"), "{err}");
        // A change signed for another chain is not the DSO's either.
        let c = change(
            &r,
            &dso,
            &platone_domain(1),
            KeyAction::Register,
            Some(dso.address()),
            1,
        );
        assert!(r.apply(&c).is_err());
        // Tampering with a signed change breaks it.
        let mut c = change(&r, &dso, &d, KeyAction::Register, Some(dso.address()), 1);
        c.at = 2;
        assert!(r.apply(&c).is_err());
        assert_eq!(r.nonce(), 0);
    }

    #[test]
    fn file_registry_persists_and_rechecks() {
        let (dso, d) = setup();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.jsonl");
        let k1 = DeviceKey::generate().unwrap();
        {
            let mut r = FileRegistry::open(&path, dso.address(), d.clone()).unwrap();
            let c = change(&r, &dso, &d, KeyAction::Register, Some(k1.address()), 10);
            r.apply(&c).unwrap();
            assert!(matches!(
                FileRegistry::open(&path, dso.address(), d.clone()),
                Err(CertifyError::Locked(_))
            ));
        }
        let r = FileRegistry::open(&path, dso.address(), d.clone()).unwrap();
        assert_eq!(r.address_at("pod-1", 11), Some(k1.address()));
        drop(r);
        // Altering the stored change is caught when it is reopened.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"at\":10", "\"at\":11");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            FileRegistry::open(&path, dso.address(), d),
            Err(CertifyError::Corrupt { .. })
        ));
    }
}
