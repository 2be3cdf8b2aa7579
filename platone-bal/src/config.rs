//! The BAL's configuration: a TOML file (`--config`) with command-line overrides.
//!
//! ```toml
//! mqtt = "mqtt://127.0.0.1:1883"      # or embedded_broker = "127.0.0.1:1883"
//! # mqtt = "mqtts://broker:8883" with mqtt_ca = "ca.pem" and, for mutual TLS,
//! # mqtt_cert = "bal.pem", mqtt_key = "bal.key"
//! http = "127.0.0.1:8082"
//! data = "./platone-data"
//! require_signatures = false
//! chain_id = 1
//! scheme = "keccak"
//!
//! [batch]
//! pmu_size = 180
//! pmu_window_secs = 180
//! meter_size = 4096
//! meter_window_secs = 900
//!
//! [topics]
//! devices = "platone/bal/devices"
//! dlq = "platone/bal/dlq"
//! forward = "platone/dsotp"           # "" stops forwarding
//!
//! [api]                               # crate::security: HTTPS and the token issuers
//! clients = ["dso=dso-secret:dso", "cust-1=cust-1-secret:"]
//! [api.tls]
//! cert = "bal.pem"
//! key = "bal.key"
//!
//! [[pods]]
//! id = "IT001E00000001"
//! customer = "cust-1"
//! meters = ["MTR-1"]
//! devices = ["pmu-1"]
//!
//! [[devices]]
//! id = "pmu-1"
//! address = "0x…"                     # its signing key's address (registered for its PoD)
//! # revoked_at = "2024-03-01T00:00:00Z" # withdraws the key: it signs nothing received after
//!
//! [dynsec]                            # Mosquitto's dynamic-security plugin (crate::broker_access)
//! user = "bal-admin"
//! password_file = "/etc/platone/dynsec.password"
//! timeout_secs = 5
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use platone_certify::{BatchPolicy, Scheme};
use serde::{Deserialize, Serialize};

use crate::error::{BalError, Result};

/// The participant that sees everything (`--token dso=…`).
pub const DSO_PARTICIPANT: &str = "dso";

/// Where the BAL takes device packets from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalConfig {
    /// An external MQTT broker (`mqtt://host:port`, `mqtts://host:port`).
    #[serde(default)]
    pub mqtt: Option<String>,
    /// The CA certificate (PEM) that signs an `mqtts://` broker's certificate.
    #[serde(default)]
    pub mqtt_ca: Option<PathBuf>,
    /// The BAL's client certificate chain (PEM) for mutual TLS with an `mqtts://` broker
    /// (with `mqtt_key`).
    #[serde(default)]
    pub mqtt_cert: Option<PathBuf>,
    /// The private key (PEM) of `mqtt_cert`.
    #[serde(default)]
    pub mqtt_key: Option<PathBuf>,
    /// The MQTT client id of the BAL (its persistent session at the broker).
    #[serde(default = "default_client_id")]
    pub mqtt_client_id: String,
    /// Run the embedded broker on this address instead of connecting to an external one.
    #[serde(default)]
    pub embedded_broker: Option<SocketAddr>,
    /// The REST API's address.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// The data directory: the SCD (unless `store` says otherwise), ledger, registry, journal.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// The SCD: `sqlite://PATH` or `postgres://…`; default `sqlite://DATA/scd.db`.
    #[serde(default)]
    pub store: Option<String>,
    /// Refuse packets that carry no valid device signature.
    #[serde(default)]
    pub require_signatures: bool,
    /// The chain id of the EIP-712 domain device signatures are made in.
    #[serde(default = "default_chain_id")]
    pub chain_id: u64,
    /// How far (seconds) the time an EIP-712 envelope claims may be from the time the BAL
    /// receives it. Key validity is checked at the time of receipt; the claim only within this
    /// skew.
    #[serde(default = "default_signature_skew")]
    pub signature_skew_secs: u64,
    /// The address of the device-registry contract the EIP-712 domain of device signatures
    /// names as `verifyingContract`, when the deployment has one (none by default: the domain
    /// is then `{name: "Platone", version: "1", chainId}`).
    #[serde(default)]
    pub verifying_contract: Option<String>,
    /// The Merkle scheme of the certificates.
    #[serde(default = "default_scheme")]
    pub scheme: Scheme,
    /// When batches close.
    #[serde(default)]
    pub batch: BatchSettings,
    /// Topic names.
    #[serde(default)]
    pub topics: Topics,
    /// Static bearer tokens of the REST API, by participant: for tests and demonstrations
    /// only (deployments use the token issuers of [`api`](Self::api)).
    #[serde(default)]
    pub tokens: BTreeMap<String, String>,
    /// The REST API's listener (HTTPS, or plain HTTP when asked for) and token issuers.
    #[serde(default)]
    pub api: crate::security::ApiSecurity,
    /// The PoDs the BAL serves.
    #[serde(default)]
    pub pods: Vec<PodConfig>,
    /// The field devices and their signing keys.
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// How many packets may wait between the broker and the store (back-pressure beyond).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Bounds on what one packet, and the decoders' state, may take.
    #[serde(default)]
    pub limits: crate::decode::DecodeLimits,
    /// The base IRI of the IRIs minted in the REST API's RDF answers (ends with `/` or `#`;
    /// default [`platone_saref::DEFAULT_BASE`]).
    #[serde(default)]
    pub saref_base: Option<String>,
    /// The broker's dynamic-security plugin, through which the BAL grants and revokes
    /// consumers' read access and devices' publishing rights (none: the broker's access
    /// control is left alone).
    #[serde(default)]
    pub dynsec: Option<DynsecConfig>,
}

/// The administrator account of Mosquitto's dynamic-security plugin the BAL uses (see
/// [`crate::broker_access`]). It connects to the same broker as the BAL, with the same TLS
/// settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynsecConfig {
    /// The account's user name (it has the plugin's `admin` role).
    pub user: String,
    /// A file holding its password (the first line; never on the command line).
    pub password_file: PathBuf,
    /// How long one change may wait for the broker's answer, in seconds (default 5).
    #[serde(default = "default_dynsec_timeout")]
    pub timeout_secs: u64,
}

impl DynsecConfig {
    /// The password, read from [`password_file`](Self::password_file).
    pub fn password(&self) -> Result<String> {
        let text = std::fs::read_to_string(&self.password_file)
            .map_err(|e| BalError::io(&self.password_file, e))?;
        let password = text.lines().next().unwrap_or_default().to_owned();
        if password.is_empty() {
            return Err(BalError::config(
                "dynsec.password_file",
                format!("{} holds no password", self.password_file.display()),
            ));
        }
        Ok(password)
    }
}

fn default_dynsec_timeout() -> u64 {
    5
}

/// When certification batches close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// PMU batches close at this many records…
    pub pmu_size: usize,
    /// …or this many seconds after they opened.
    pub pmu_window_secs: u64,
    /// Smart-meter batches close at this many records…
    pub meter_size: usize,
    /// …or this many seconds after they opened.
    pub meter_window_secs: u64,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            pmu_size: 180,
            pmu_window_secs: 180,
            meter_size: 4096,
            meter_window_secs: 900,
        }
    }
}

impl BatchSettings {
    /// The policy of PMU batches.
    pub fn pmu(&self) -> BatchPolicy {
        policy(self.pmu_size, self.pmu_window_secs)
    }

    /// The policy of smart-meter batches.
    pub fn meter(&self) -> BatchPolicy {
        policy(self.meter_size, self.meter_window_secs)
    }
}

fn policy(size: usize, window_secs: u64) -> BatchPolicy {
    BatchPolicy {
        max_records: size.max(1),
        window: TimeDelta::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX / 1_000_000)),
    }
}

/// Topic names. Devices publish to `{devices}/{device}/pmu` and `{devices}/{device}/cim`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topics {
    /// The prefix devices publish under.
    pub devices: String,
    /// Dead letters go to `{dlq}/{device}`.
    pub dlq: String,
    /// Stored measurements are forwarded to `{forward}/devices/{device}/{pmu|cim}`; empty
    /// stops forwarding.
    pub forward: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            devices: "platone/bal/devices".into(),
            dlq: "platone/bal/dlq".into(),
            forward: "platone/dsotp".into(),
        }
    }
}

/// A PoD the BAL serves, with what is linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodConfig {
    /// The PoD identifier.
    pub id: String,
    /// The customer (participant) behind it.
    #[serde(default)]
    pub customer: Option<String>,
    /// The aggregator (participant) that represents it.
    #[serde(default)]
    pub aggregator: Option<String>,
    /// Its meters.
    #[serde(default)]
    pub meters: Vec<String>,
    /// Its field devices (Light Nodes, PMUs).
    #[serde(default)]
    pub devices: Vec<String>,
}

/// A field device and the address of its signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// The device identifier (the `{device}` of its topics).
    pub id: String,
    /// Its signing key's Ethereum address, registered for its PoD (or for the device itself
    /// when it serves no single PoD).
    #[serde(default)]
    pub address: Option<String>,
    /// When its key was withdrawn (RFC 3339): from then on the key signs nothing the BAL
    /// receives. The revocation is recorded in the device registry, signed by the DSO, at the
    /// next start.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

fn default_client_id() -> String {
    "platone-bal".into()
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8082))
}

fn default_data() -> PathBuf {
    PathBuf::from("./platone-data")
}

fn default_signature_skew() -> u64 {
    300
}

fn default_chain_id() -> u64 {
    1
}

fn default_scheme() -> Scheme {
    Scheme::Keccak
}

fn default_queue() -> usize {
    1024
}

impl Default for BalConfig {
    fn default() -> Self {
        BalConfig {
            mqtt: None,
            mqtt_ca: None,
            mqtt_cert: None,
            mqtt_key: None,
            mqtt_client_id: default_client_id(),
            embedded_broker: None,
            http: default_http(),
            data: default_data(),
            store: None,
            require_signatures: false,
            chain_id: default_chain_id(),
            signature_skew_secs: default_signature_skew(),
            verifying_contract: None,
            limits: crate::decode::DecodeLimits::default(),
            scheme: default_scheme(),
            batch: BatchSettings::default(),
            topics: Topics::default(),
            tokens: BTreeMap::new(),
            api: crate::security::ApiSecurity::default(),
            pods: Vec::new(),
            devices: Vec::new(),
            queue: default_queue(),
            saref_base: None,
            dynsec: None,
        }
    }
}

impl BalConfig {
    /// The `verifyingContract` of the EIP-712 domain, parsed.
    pub fn verifying_contract(&self) -> Result<Option<alloy_primitives::Address>> {
        self.verifying_contract
            .as_deref()
            .map(platone_certify::signature::parse_address)
            .transpose()
            .map_err(|e| BalError::config("verifying_contract", e))
    }

    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| BalError::io(path, e))?;
        Self::from_toml(&text).map_err(|e| match e {
            BalError::Config { at, message } => {
                BalError::config(format!("{}: {at}", path.display()), message)
            }
            other => other,
        })
    }

    /// Reads a TOML configuration text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let config: BalConfig = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let line = text
                        .get(..span.start)
                        .map_or(0, |t| t.matches('\n').count())
                        + 1;
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".into());
            BalError::config(at, e.message())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Applies a `PARTICIPANT=TOKEN` override.
    pub fn add_token(&mut self, spec: &str) -> Result<()> {
        let (participant, token) = spec
            .split_once('=')
            .filter(|(p, t)| !p.is_empty() && !t.is_empty())
            .ok_or_else(|| {
                BalError::config("--token", format!("{spec:?} is not PARTICIPANT=TOKEN"))
            })?;
        self.tokens.insert(participant.to_owned(), token.to_owned());
        Ok(())
    }

    /// How the REST API maps measurements to RDF: `platone-saref`'s defaults under
    /// [`saref_base`](Self::saref_base).
    pub fn saref_options(&self) -> platone_saref::MappingOptions {
        let base = self
            .saref_base
            .as_deref()
            .and_then(|b| platone_saref::Base::new(b).ok())
            .unwrap_or_default();
        platone_saref::MappingOptions {
            base,
            ..platone_saref::MappingOptions::default()
        }
    }

    /// The SCD URL.
    pub fn store_url(&self) -> String {
        self.store
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data.join("scd.db").display()))
    }

    /// Checks the settings agree with each other.
    pub fn validate(&self) -> Result<()> {
        if self.mqtt.is_some() && self.embedded_broker.is_some() {
            return Err(BalError::config(
                "mqtt",
                "give either an external broker (mqtt) or the embedded one (embedded_broker), not both",
            ));
        }
        let tls = match &self.mqtt {
            Some(url) => crate::runtime::MqttUrl::parse(url)?.tls,
            None => false,
        };
        if self.mqtt_cert.is_some() != self.mqtt_key.is_some() {
            return Err(BalError::config(
                if self.mqtt_cert.is_some() {
                    "mqtt_key"
                } else {
                    "mqtt_cert"
                },
                "a client certificate needs its key, and a key its certificate",
            ));
        }
        if self.mqtt_cert.is_some() && !tls {
            return Err(BalError::config(
                "mqtt_cert",
                "a client certificate is for an mqtts:// broker",
            ));
        }
        if let Some(dynsec) = &self.dynsec {
            if self.mqtt.is_none() {
                return Err(BalError::config(
                    "dynsec",
                    "the dynamic-security plugin is Mosquitto's: give the broker (mqtt)",
                ));
            }
            if dynsec.user.is_empty() {
                return Err(BalError::config("dynsec.user", "empty"));
            }
            if dynsec.timeout_secs == 0 {
                return Err(BalError::config(
                    "dynsec.timeout_secs",
                    "must be at least 1",
                ));
            }
        }
        if let Some(base) = &self.saref_base {
            platone_saref::Base::new(base.as_str())
                .map_err(|e| BalError::config("saref_base", e))?;
        }
        self.api.validate()?;
        if self.queue == 0 {
            return Err(BalError::config("queue", "must be at least 1"));
        }
        for (name, topic) in [
            ("topics.devices", &self.topics.devices),
            ("topics.dlq", &self.topics.dlq),
        ] {
            platone_bus::validate_topic(topic).map_err(|e| BalError::config(name, e))?;
        }
        if !self.topics.forward.is_empty() {
            platone_bus::validate_topic(&self.topics.forward)
                .map_err(|e| BalError::config("topics.forward", e))?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, token) in self.tokens.values().enumerate() {
            if !seen.insert(token) {
                return Err(BalError::config(
                    format!("tokens[{i}]"),
                    "two participants share one token",
                ));
            }
        }
        for (i, device) in self.devices.iter().enumerate() {
            if let Some(address) = &device.address {
                platone_certify::signature::parse_address(address)
                    .map_err(|e| BalError::config(format!("devices[{i}].address"), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_reads_and_defaults_apply() {
        let config = BalConfig::from_toml(
            r#"
            embedded_broker = "127.0.0.1:18830"
            [batch]
            pmu_size = 10
            pmu_window_secs = 5
            meter_size = 100
            meter_window_secs = 60
            [tokens]
            dso = "s1"
            [[pods]]
            id = "POD-1"
            customer = "cust-1"
            devices = ["pmu-1"]
            "#,
        )
        .unwrap();
        assert_eq!(config.http, default_http());
        assert_eq!(config.batch.pmu().max_records, 10);
        assert_eq!(config.topics.forward, "platone/dsotp");
        assert!(config.store_url().ends_with("scd.db"));
    }

    #[test]
    fn errors_name_the_setting() {
        let err = BalConfig::from_toml("http = 5\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err =
            BalConfig::from_toml("mqtt = \"mqtt://x:1\"\nembedded_broker = \"127.0.0.1:1\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("mqtt"), "{err}");
        let err = BalConfig::from_toml("[[devices]]\nid = \"d\"\naddress = \"0x12\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("devices[0].address"), "{err}");
        let err = BalConfig::from_toml("saref_base = \"not an iri\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("saref_base"), "{err}");
        for (text, at) in [
            (
                "mqtt = \"mqtts://b:8883\"\nmqtt_cert = \"c.pem\"\n",
                "mqtt_key",
            ),
            (
                "mqtt = \"mqtt://b:1883\"\nmqtt_cert = \"c.pem\"\nmqtt_key = \"k.pem\"\n",
                "mqtt_cert",
            ),
            (
                "[dynsec]\nuser = \"admin\"\npassword_file = \"pw\"\n",
                "dynsec",
            ),
            (
                "mqtt = \"mqtt://b:1883\"\n[dynsec]\nuser = \"admin\"\npassword_file = \"pw\"\ntimeout_secs = 0\n",
                "dynsec.timeout_secs",
            ),
        ] {
            match BalConfig::from_toml(text) {
                Err(BalError::Config { at: got, .. }) => assert_eq!(got, at, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let config = BalConfig::from_toml(
            "mqtt = \"mqtts://b:8883\"\nmqtt_ca = \"ca.pem\"\nmqtt_cert = \"c.pem\"\nmqtt_key = \"k.pem\"\n\
             [dynsec]\nuser = \"admin\"\npassword_file = \"pw\"\n",
        )
        .unwrap();
        assert_eq!(config.dynsec.as_ref().map(|d| d.timeout_secs), Some(5));
        let dir = tempfile::tempdir().unwrap();
        let mut dynsec = config.dynsec.clone().unwrap();
        dynsec.password_file = dir.path().join("pw");
        std::fs::write(&dynsec.password_file, "s3cret\n").unwrap();
        assert_eq!(dynsec.password().unwrap(), "s3cret");
        std::fs::write(&dynsec.password_file, "\n").unwrap();
        assert!(dynsec.password().is_err());

        let mut config = BalConfig::default();
        assert!(config.add_token("nobody").is_err());
        config.add_token("dso=abc").unwrap();
        assert_eq!(config.tokens["dso"], "abc");
    }
}
