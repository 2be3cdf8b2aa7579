//! Sessions as the platform keeps them: what the operator asked for ([`SessionSpec`]), the
//! session with its state ([`Session`]), the orders it took ([`StoredOrder`]) and its audit
//! trail ([`AuditEntry`]).

use chrono::{DateTime, Utc};
use platone_market::scenario::{NetworkFile, OfferFile, RequestFile, ScenarioFile};
use platone_market::{LocationRule, QuantityUnit, SCENARIO_FORMAT};
use serde::{Deserialize, Serialize};

use crate::error::{PlatformError, Result};

/// Day-ahead or real-time (T-MP-02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// Cleared the day before delivery.
    DayAhead,
    /// Cleared shortly before delivery.
    RealTime,
}

/// Where a session is in its life: `open` (taking orders) → `closed` (gate passed) →
/// `cleared` → `validated` → `published` (result registered and readable) → `settled`;
/// `failed` when clearing or validation could not give a result (the reason is kept).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStatus {
    /// Taking orders until gate closure.
    Open,
    /// The gate closed; clearing follows.
    Closed,
    /// Cleared: a provisional result.
    Cleared,
    /// Validated by the DSO's technical check.
    Validated,
    /// Published and registered.
    Published,
    /// Settled against metered data; tokens minted.
    Settled,
    /// Clearing or validation failed; see the session's `failure`.
    Failed,
}

impl SessionStatus {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Closed => "closed",
            SessionStatus::Cleared => "cleared",
            SessionStatus::Validated => "validated",
            SessionStatus::Published => "published",
            SessionStatus::Settled => "settled",
            SessionStatus::Failed => "failed",
        }
    }
}

/// What `POST /api/sessions` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// The session's id (default: made from its kind and gate closure). Read only: a
    /// [`Session`] carries its id beside its spec.
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    /// Day-ahead or real-time.
    pub kind: SessionKind,
    /// The delivery slots' names, in delivery order (`t1`…, or each slot's start time).
    pub slots: Vec<String>,
    /// When the gate closes (RFC 3339): orders are taken until then, and the session is cleared
    /// at that time.
    #[schema(value_type = String, format = DateTime)]
    pub gate_closure: DateTime<Utc>,
    /// The clearing algorithm (`dso-first`, `pay-as-bid`, `pay-as-clear`, `optimal`,
    /// `continuous`).
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// The unit of quantities (`MW`, `kW`, `pu`).
    #[serde(default = "default_unit")]
    #[schema(value_type = String, pattern = "^(MW|kW|pu)$")]
    pub unit: QuantityUnit,
    /// The DC network orders are located on and the result is validated against (the
    /// scenario format's `network`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub network: Option<NetworkFile>,
    /// Which offers a local request may take (`same-bus`, `any`, `area`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub location_rule: Option<LocationRule>,
    /// The length of every slot in minutes, when the slots are named by their start
    /// (RFC 3339, consecutive): what scheduled sessions carry, and what lets a real-time
    /// session take over the unmatched day-ahead offers of the same hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_minutes: Option<u32>,
}

/// The algorithm a session clears with unless it names one (UC-IT-2).
pub const DEFAULT_ALGORITHM: &str = "dso-first";

fn default_algorithm() -> String {
    DEFAULT_ALGORITHM.to_owned()
}

fn default_unit() -> QuantityUnit {
    QuantityUnit::Mw
}

/// A session as the platform keeps it: its spec's members, and beside them `id`, `status`,
/// `created_by`, `created_at` and, when it failed, `failure` (one closed object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id.
    pub id: String,
    /// What the operator asked for.
    #[serde(flatten)]
    pub spec: SessionSpec,
    /// Where it is in its life.
    pub status: SessionStatus,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Why clearing or validation failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl utoipa::PartialSchema for Session {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::ToSchema;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        use utoipa::openapi::{Ref, RefOr};
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let mut object = match SessionSpec::schema() {
            RefOr::T(Schema::Object(object)) => object,
            _ => ObjectBuilder::new().schema_type(Type::Object).build(),
        };
        object.description =
            Some("A session: what the operator asked for, its id, status, author and time.".into());
        let more: [(&str, RefOr<Schema>); 5] = [
            ("id", text("The session's id.").into()),
            (
                "status",
                Ref::from_schema_name(SessionStatus::name()).into(),
            ),
            ("created_by", text("Who opened it.").into()),
            (
                "created_at",
                text("When (RFC 3339).")
                    .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                        utoipa::openapi::schema::KnownFormat::DateTime,
                    )))
                    .into(),
            ),
            (
                "failure",
                text("Why clearing or validation failed, when it did.").into(),
            ),
        ];
        for (name, schema) in more {
            object.properties.insert(name.into(), schema);
        }
        object
            .required
            .extend(["id", "status", "created_by", "created_at"].map(String::from));
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for Session {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((SessionStatus::name().into(), SessionStatus::schema()));
        SessionSpec::schemas(schemas);
    }
}

impl Session {
    /// The session's book header as a scenario file without orders (what its orders are
    /// checked against).
    pub fn scenario_file(&self) -> ScenarioFile {
        ScenarioFile {
            format: SCENARIO_FORMAT.into(),
            unit: self.spec.unit,
            slots: self.spec.slots.clone(),
            requests: Vec::new(),
            offers: Vec::new(),
            network: self.spec.network.clone(),
            location_rule: self.spec.location_rule,
        }
    }
}

impl SessionSpec {
    /// Checks the spec and names the session: `id` when given (letters, digits, `-`, `_`,
    /// `.`, at most 64), else `KIND-GATECLOSURE`.
    pub fn session_id(&self) -> Result<String> {
        if self.slots.is_empty() {
            return Err(PlatformError::invalid("slots", "a session needs a slot"));
        }
        if !platone_market::clearing::ALGORITHMS.contains(&self.algorithm.as_str()) {
            return Err(PlatformError::invalid(
                "algorithm",
                format!(
                    "unknown algorithm {:?} (expected one of {})",
                    self.algorithm,
                    platone_market::clearing::ALGORITHMS.join(", ")
                ),
            ));
        }
        if let Some(minutes) = self.slot_minutes {
            self.check_timed_slots(minutes)?;
        }
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let kind = match self.kind {
                    SessionKind::DayAhead => "da",
                    SessionKind::RealTime => "rt",
                };
                format!("{kind}-{}", self.gate_closure.format("%Y%m%dT%H%M%SZ"))
            }
        };
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(PlatformError::invalid(
                "id",
                format!("{id:?}: letters, digits, '-', '_' and '.' only, at most 64"),
            ));
        }
        Ok(id)
    }
}

impl SessionSpec {
    /// Slots named by their start, `minutes` apart.
    fn check_timed_slots(&self, minutes: u32) -> Result<()> {
        if minutes == 0 {
            return Err(PlatformError::invalid("slot_minutes", "must be at least 1"));
        }
        let step = chrono::TimeDelta::minutes(i64::from(minutes));
        let mut previous: Option<DateTime<Utc>> = None;
        for (i, name) in self.slots.iter().enumerate() {
            let start = crate::schedule::slot_start(name).ok_or_else(|| {
                PlatformError::invalid(
                    format!("slots[{i}]"),
                    format!("{name:?}: with slot_minutes, a slot is named by its start (RFC 3339)"),
                )
            })?;
            if let Some(p) = previous
                && start != p + step
            {
                return Err(PlatformError::invalid(
                    format!("slots[{i}]"),
                    format!("{name:?} does not follow the previous slot by {minutes} minutes"),
                ));
            }
            previous = Some(start);
        }
        Ok(())
    }

    /// The interval of slot `name` when the slots are timed ([`SessionSpec::slot_minutes`]).
    pub fn slot_interval(&self, name: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let minutes = self.slot_minutes?;
        let start = crate::schedule::slot_start(name)?;
        Some((
            start,
            start + chrono::TimeDelta::minutes(i64::from(minutes)),
        ))
    }
}

/// An order as the platform took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "order", rename_all = "lowercase")]
pub enum Order {
    /// A flexibility request of a DSO or TSO (the scenario format's request).
    Request(RequestFile),
    /// A flexibility offer of an aggregator (the scenario format's offer).
    Offer(OfferFile),
}

impl utoipa::PartialSchema for Order {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "kind",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["request", "offer"])),
            )
            .property(
                "order",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some(
                        "The request or offer in the scenario format (docs/market.md).",
                    )),
            )
            .required("kind")
            .required("order")
            .into()
    }
}

impl utoipa::ToSchema for Order {}

impl Order {
    /// The order's id.
    pub fn id(&self) -> &str {
        match self {
            Order::Request(r) => &r.id,
            Order::Offer(o) => &o.id,
        }
    }

    /// The participant who posted it.
    pub fn participant(&self) -> &str {
        match self {
            Order::Request(r) => &r.participant,
            Order::Offer(o) => &o.participant,
        }
    }
}

/// An order with when the platform took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredOrder {
    /// Its position in the session's intake, from 0.
    pub sequence: u64,
    /// When it was taken.
    #[schema(value_type = String, format = DateTime)]
    pub received_at: DateTime<Utc>,
    /// The order.
    #[serde(flatten)]
    pub order: Order,
}

/// One state change of a session: what, when and by whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The session.
    pub session: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Who: a participant, or `scheduler` for the gate-closure clock.
    pub actor: String,
    /// `opened`, `closed`, `cleared`, `validated`, `published`, `registered`, `failed`.
    pub event: String,
    /// Details (the algorithm, the verdicts' count, the registration's batch…).
    pub detail: String,
}
