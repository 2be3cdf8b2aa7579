//! The records the store keeps besides measurements: who asks ([`Principal`]), what is asked
//! for ([`Resource`]), the PoD registry, certification references, subscriptions, set point
//! acknowledgements and audit entries.

use std::fmt;
use std::str::FromStr;

use platone_model::{DeviceId, MeterId, ParticipantId, PodId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ScdError};

/// Who performs a read: a participant of the data sharing, or the store's own operator (the
/// party that runs the database, e.g. the command line on the server), who sees everything.
/// Both are checked and audited.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    /// The operator of the store.
    Operator,
    /// A DSO, aggregator, customer or any other participant.
    Participant(ParticipantId),
}

impl Principal {
    /// A participant principal.
    pub fn participant(id: ParticipantId) -> Self {
        Principal::Participant(id)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Operator => f.write_str("operator"),
            Principal::Participant(p) => write!(f, "participant:{p}"),
        }
    }
}

impl FromStr for Principal {
    type Err = ScdError;
    fn from_str(text: &str) -> Result<Self> {
        if text == "operator" {
            return Ok(Principal::Operator);
        }
        let id = text
            .strip_prefix("participant:")
            .ok_or_else(|| ScdError::Corrupt {
                record: "principal".into(),
                reason: format!("{text:?} is neither `operator` nor `participant:ID`"),
            })?;
        ParticipantId::new(id)
            .map(Principal::Participant)
            .map_err(|e| ScdError::Corrupt {
                record: "principal".into(),
                reason: e.to_string(),
            })
    }
}

/// A resource data is shared about: a PoD, a meter or a Light Node / field device. Its text
/// form (`pod/ID`, `meter/ID`, `device/ID`) is the subscription topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A Point of Delivery.
    Pod(PodId),
    /// A meter.
    Meter(MeterId),
    /// A field device.
    Device(DeviceId),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Pod(p) => write!(f, "pod/{p}"),
            Resource::Meter(m) => write!(f, "meter/{m}"),
            Resource::Device(d) => write!(f, "device/{d}"),
        }
    }
}

impl FromStr for Resource {
    type Err = ScdError;
    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: String| ScdError::InvalidRecord {
            record: format!("resource {text:?}"),
            reason,
        };
        let (kind, id) = text
            .split_once('/')
            .ok_or_else(|| bad("expected pod/ID, meter/ID or device/ID".into()))?;
        match kind {
            "pod" => PodId::new(id).map(Resource::Pod),
            "meter" => MeterId::new(id).map(Resource::Meter),
            "device" => DeviceId::new(id).map(Resource::Device),
            _ => return Err(bad(format!("unknown resource kind {kind:?}"))),
        }
        .map_err(|e| bad(e.to_string()))
    }
}

impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A resource's schema (feature `openapi`): its text form.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Resource {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^(pod|meter|device)/\S(.*\S)?$"))
            .max_length(Some(platone_model::MAX_ID_LEN + "device/".len()))
            .description(Some(
                "A PoD, a meter or a field device: `pod/ID`, `meter/ID` or `device/ID`.",
            ))
            .examples(["pod/IT001E00000001"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Resource {}

/// A Point of Delivery in the registry: the DSO whose grid it is on and the opaque reference
/// of the customer behind it (a participant identifier, never personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRecord {
    /// The PoD.
    pub pod: PodId,
    /// The DSO operating the grid the PoD is connected to.
    pub dso: ParticipantId,
    /// The customer's opaque reference, when the customer takes part in data sharing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<ParticipantId>,
}

/// Which meter, Light Node device and aggregator serve a PoD during a validity period
/// `[valid_from, valid_to)` (`valid_to` absent: still valid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodLink {
    /// The PoD.
    pub pod: PodId,
    /// The meter installed at the PoD, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter: Option<MeterId>,
    /// The Light Node (or other field device) that sends the PoD's data, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceId>,
    /// The aggregator the PoD's flexibility is contracted to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator: Option<ParticipantId>,
    /// Start of validity (inclusive).
    pub valid_from: Timestamp,
    /// End of validity (exclusive); `None` while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Timestamp>,
}

impl PodLink {
    /// Checks that the validity period is not empty.
    pub fn validate(&self) -> Result<()> {
        if let Some(to) = self.valid_to
            && to <= self.valid_from
        {
            return Err(ScdError::InvalidRecord {
                record: format!("link of pod {}", self.pod),
                reason: "valid_to is not after valid_from".into(),
            });
        }
        Ok(())
    }
}

/// Where a stored measurement is certified: the Merkle batch certificate, the measurement's
/// leaf in it, the batch root and the inclusion proof (in the certifier's JSON form), so a
/// reader gets the data with what it needs to verify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificationRef {
    /// The batch certificate's identifier.
    pub batch_id: String,
    /// The measurement's leaf index in the batch.
    pub leaf_index: u64,
    /// The batch's Merkle root, hex.
    pub root_hex: String,
    /// The inclusion proof, as the certifier writes it.
    pub proof: serde_json::Value,
}

/// A certification reference for one stored measurement, named by series key text and
/// timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificationRecord {
    /// The measurement's series key text (`Measurement::series_key().to_string()`).
    pub series: String,
    /// The measurement's timestamp.
    pub timestamp: Timestamp,
    /// Where it is certified.
    pub certification: CertificationRef,
}

impl CertificationRecord {
    /// The record for measurement `m`.
    pub fn of(m: &platone_model::Measurement, certification: CertificationRef) -> Self {
        CertificationRecord {
            series: m.series_key().to_string(),
            timestamp: m.timestamp,
            certification,
        }
    }
}

/// The state of a subscription (D2.13 Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SubscriptionStatus {
    /// Asked for by the consumer, not yet decided by the provider.
    Requested,
    /// Granted by the provider: the consumer may read the resource.
    Accepted,
    /// Refused by the provider.
    Declined,
}

impl SubscriptionStatus {
    /// The status's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Requested => "Requested",
            SubscriptionStatus::Accepted => "Accepted",
            SubscriptionStatus::Declined => "Declined",
        }
    }
}

impl FromStr for SubscriptionStatus {
    type Err = ScdError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "Requested" => Ok(SubscriptionStatus::Requested),
            "Accepted" => Ok(SubscriptionStatus::Accepted),
            "Declined" => Ok(SubscriptionStatus::Declined),
            other => Err(ScdError::Corrupt {
                record: "subscription status".into(),
                reason: format!("unknown status {other:?}"),
            }),
        }
    }
}

/// A data subscription (D2.13 Table 1): a consumer asks a provider for a topic (a
/// [`Resource`]); the provider accepts or declines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "A data subscription (D2.13 Table 1): a consumer asks a provider for \
        a topic; the provider accepts or declines."
    )
)]
pub struct Subscription {
    /// The store's identifier of the subscription.
    pub id: i64,
    /// The data provider (the resource's owner, aggregator or DSO).
    pub provider: ParticipantId,
    /// The data consumer.
    pub consumer: ParticipantId,
    /// The topic: the resource subscribed to.
    pub topic: Resource,
    /// Its status.
    pub status: SubscriptionStatus,
    /// When it was requested.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub requested_at: Timestamp,
    /// When the provider decided, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub decided_at: Option<Timestamp>,
}

/// What a device answered to a set point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    /// Received and accepted.
    Accepted,
    /// Refused (see the reason).
    Rejected,
    /// Carried out.
    Applied,
}

impl AckOutcome {
    /// The outcome's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AckOutcome::Accepted => "accepted",
            AckOutcome::Rejected => "rejected",
            AckOutcome::Applied => "applied",
        }
    }
}

impl FromStr for AckOutcome {
    type Err = ScdError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "accepted" => Ok(AckOutcome::Accepted),
            "rejected" => Ok(AckOutcome::Rejected),
            "applied" => Ok(AckOutcome::Applied),
            other => Err(ScdError::Corrupt {
                record: "acknowledgement outcome".into(),
                reason: format!("unknown outcome {other:?}"),
            }),
        }
    }
}

/// A device's acknowledgement of a set point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetPointAck {
    /// The set point's id.
    pub set_point: String,
    /// The device that answered.
    pub device: DeviceId,
    /// When it answered.
    pub at: Timestamp,
    /// What it answered.
    pub outcome: AckOutcome,
    /// Why, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A set point as stored, with its acknowledgements in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSetPoint {
    /// The set point.
    pub set_point: platone_model::SetPoint,
    /// Its acknowledgements.
    pub acks: Vec<SetPointAck>,
}

/// One line of the audit log: who asked for what, when, and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub seq: i64,
    /// When the read happened.
    pub at: Timestamp,
    /// Who asked.
    pub who: Principal,
    /// The operation, e.g. `query_measurements`.
    pub action: String,
    /// What was asked for (resource or query scope).
    pub what: String,
    /// Whether the policy allowed it.
    pub allowed: bool,
    /// The rule that decided.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_principals_round_trip() {
        for text in ["pod/IT001E1", "meter/m|1", "device/ln/1"] {
            let r: Resource = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
        assert!("pod/".parse::<Resource>().is_err());
        assert!("bus/b1".parse::<Resource>().is_err());
        let p: Principal = "participant:dso-1".parse().unwrap();
        assert_eq!(p.to_string(), "participant:dso-1");
        assert_eq!(
            "operator".parse::<Principal>().unwrap(),
            Principal::Operator
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in ".*") {
            let _ = text.parse::<Resource>();
            let _ = text.parse::<Principal>();
            let _ = text.parse::<SubscriptionStatus>();
            let _ = text.parse::<AckOutcome>();
            let _ = text.parse::<crate::query::PageToken>();
            let _ = serde_json::from_str::<crate::query::StoredMeasurement>(&text);
        }
    }
}
