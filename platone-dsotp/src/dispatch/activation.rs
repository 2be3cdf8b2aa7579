//! [`Activation`]: an award to activate, the PoDs that deliver it, and its split into one
//! [`SetPoint`] per PoD.

use std::collections::HashSet;

use platone_market::Direction;
use platone_model::{
    DeviceId, FlowDirection, MeasurementKind, ParticipantId, PodId, SetPoint, Timestamp, Unit,
    UnitMultiplier,
};
use serde::{Deserialize, Serialize};

use crate::error::{DsotpError, Result};

/// How far the PoDs' shares may be from summing to 1 (and their explicit quantities from the
/// activation's quantity, relative to it).
pub const SHARE_TOLERANCE: f64 = 1e-9;

/// Longest activation id accepted, in bytes.
pub const MAX_ACTIVATION_ID_LEN: usize = 200;

/// The unit an activation's quantities are given in. Set points always travel in W.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PowerUnit {
    /// Watt.
    #[serde(rename = "W")]
    W,
    /// Kilowatt.
    #[serde(rename = "kW")]
    Kw,
    /// Megawatt.
    #[serde(rename = "MW")]
    Mw,
    /// Gigawatt.
    #[serde(rename = "GW")]
    Gw,
}

impl PowerUnit {
    /// How many watts one of this unit is.
    pub fn watts(self) -> f64 {
        match self {
            PowerUnit::W => 1.0,
            PowerUnit::Kw => 1e3,
            PowerUnit::Mw => 1e6,
            PowerUnit::Gw => 1e9,
        }
    }

    /// The unit's symbol (`W`, `kW`, `MW`, `GW`).
    pub fn as_str(self) -> &'static str {
        match self {
            PowerUnit::W => "W",
            PowerUnit::Kw => "kW",
            PowerUnit::Mw => "MW",
            PowerUnit::Gw => "GW",
        }
    }
}

/// One PoD that delivers part of an activation, and the Light Node that serves it.
///
/// A PoD gives either its `share` of the activation's quantity or an explicit `quantity`
/// (in the activation's unit); all PoDs of one activation give the same kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodShare {
    /// The Point of Delivery; its set points travel on `{setpoints}/{pod}`.
    pub pod: PodId,
    /// The Light Node's device id (the set point's `target`).
    pub device: DeviceId,
    /// The fraction of the activation's quantity this PoD delivers, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// The quantity this PoD delivers, > 0, in the activation's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// The PoD's expected net import without the activation (in the activation's unit,
    /// consumption positive). With it the set point is an absolute target (baseline plus the
    /// change); without it the set point is the change alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
}

/// An award of the Market Platform to activate: who delivers what, when, at which PoDs.
///
/// ```
/// use platone_dsotp::dispatch::Activation;
///
/// let activation = Activation::from_json(br#"{
///   "id": "act-1", "session": "s-2026-12-07", "order": "offer-7", "participant": "agg-1",
///   "direction": "up", "quantity": 10, "unit": "kW",
///   "valid_from": "2026-12-07T18:00:00Z", "valid_to": "2026-12-07T18:15:00Z",
///   "pods": [
///     {"pod": "POD-1", "device": "ln-1", "share": 0.6},
///     {"pod": "POD-2", "device": "ln-2", "share": 0.4, "baseline": 3}
///   ]}"#)?;
/// let set_points = activation.split()?;
/// assert_eq!(set_points[0].id, "act-1/POD-1");
/// assert_eq!(set_points[0].value, -6000.0); // up: 6 kW less net import
/// assert_eq!(set_points[1].value, 3000.0 - 4000.0); // baseline 3 kW, 4 kW less
/// # Ok::<(), platone_dsotp::DsotpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The activation's id: not blank, at most [`MAX_ACTIVATION_ID_LEN`] bytes, no `/`, `+`,
    /// `#` or control characters (it names set points `{id}/{pod}` and a report topic).
    pub id: String,
    /// The market session of the award.
    pub session: String,
    /// The awarded order.
    pub order: String,
    /// The participant the award went to (the aggregator or flexibility provider).
    pub participant: String,
    /// `up` (more injection: generation up or demand down) or `down` (less injection).
    pub direction: Direction,
    /// The awarded quantity, > 0, in `unit`.
    pub quantity: f64,
    /// The unit of `quantity` and of the PoDs' quantities and baselines.
    pub unit: PowerUnit,
    /// Start of the delivery (inclusive).
    pub valid_from: Timestamp,
    /// End of the delivery (exclusive), after `valid_from`.
    pub valid_to: Timestamp,
    /// Who issues the set points (the DSO), written into each set point when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<ParticipantId>,
    /// The PoDs that deliver it, at least one, each once.
    pub pods: Vec<PodShare>,
}

/// A text field that names something: not blank, no control characters.
fn check_name(at: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(DsotpError::invalid(at, "must not be blank"));
    }
    if text.chars().any(char::is_control) {
        return Err(DsotpError::invalid(at, "contains a control character"));
    }
    Ok(())
}

/// A text that becomes one topic level: no `/`, `+` or `#`.
fn check_topic_level(at: &str, text: &str) -> Result<()> {
    if let Some(c) = text.chars().find(|c| matches!(c, '/' | '+' | '#')) {
        return Err(DsotpError::invalid(
            at,
            format!("{text:?} contains {c:?}, which a topic level cannot hold"),
        ));
    }
    Ok(())
}

fn check_positive(at: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value <= 0.0 {
        return Err(DsotpError::invalid(
            at,
            format!("must be a finite number above 0, not {value}"),
        ));
    }
    Ok(())
}

impl Activation {
    /// Parses an activation from JSON and [validates](Self::validate) it. A document that is
    /// not an activation fails with [`DsotpError::Invalid`] at `activation`.
    pub fn from_json(json: &[u8]) -> Result<Activation> {
        let activation: Activation =
            serde_json::from_slice(json).map_err(|e| DsotpError::invalid("activation", e))?;
        activation.validate()?;
        Ok(activation)
    }

    /// Checks the activation, failing with [`DsotpError::Invalid`] whose `at` names the
    /// field: `id`, `session`, `order`, `participant`, `quantity`, `valid_to`, `pods`,
    /// `pods[i].pod`, `pods[i].share`, `pods[i].quantity`, `pods[i].baseline`.
    ///
    /// Rules: the names are not blank; the id has no `/`, `+`, `#` and is at most
    /// [`MAX_ACTIVATION_ID_LEN`] bytes; the quantity is finite and above 0; the window is not
    /// empty; there is at least one PoD and no PoD twice; a PoD id has no `/`, `+`, `#` (it is
    /// a topic level); every PoD gives a share or every PoD gives a quantity, not both; shares
    /// are in (0, 1] and sum to 1 ± [`SHARE_TOLERANCE`]; quantities are above 0 and sum to the
    /// activation's quantity ± [`SHARE_TOLERANCE`] relative; baselines are finite.
    pub fn validate(&self) -> Result<()> {
        check_name("id", &self.id)?;
        check_topic_level("id", &self.id)?;
        if self.id.len() > MAX_ACTIVATION_ID_LEN {
            return Err(DsotpError::invalid(
                "id",
                format!("longer than {MAX_ACTIVATION_ID_LEN} bytes"),
            ));
        }
        check_name("session", &self.session)?;
        check_name("order", &self.order)?;
        check_name("participant", &self.participant)?;
        check_positive("quantity", self.quantity)?;
        if self.valid_to <= self.valid_from {
            return Err(DsotpError::invalid(
                "valid_to",
                format!(
                    "{} is not after valid_from {}",
                    self.valid_to.to_rfc3339(),
                    self.valid_from.to_rfc3339()
                ),
            ));
        }
        if self.pods.is_empty() {
            return Err(DsotpError::invalid("pods", "at least one PoD is needed"));
        }
        let by_share = self.pods[0].share.is_some();
        let mut seen = HashSet::with_capacity(self.pods.len());
        let mut sum = 0.0;
        for (i, p) in self.pods.iter().enumerate() {
            let at = |field: &str| format!("pods[{i}].{field}");
            check_topic_level(&at("pod"), p.pod.as_str())?;
            if !seen.insert(&p.pod) {
                return Err(DsotpError::invalid(
                    at("pod"),
                    format!("PoD {} appears twice", p.pod),
                ));
            }
            match (p.share, p.quantity) {
                (Some(_), Some(_)) => {
                    return Err(DsotpError::invalid(
                        at("share"),
                        "give a share or a quantity, not both",
                    ));
                }
                (None, None) => {
                    return Err(DsotpError::invalid(
                        at(if by_share { "share" } else { "quantity" }),
                        "missing: every PoD gives a share or every PoD gives a quantity",
                    ));
                }
                (Some(share), None) => {
                    if !by_share {
                        return Err(DsotpError::invalid(
                            at("share"),
                            "the PoDs before give quantities; give a quantity here too",
                        ));
                    }
                    check_positive(&at("share"), share)?;
                    if share > 1.0 + SHARE_TOLERANCE {
                        return Err(DsotpError::invalid(
                            at("share"),
                            format!("{share} is more than 1"),
                        ));
                    }
                    sum += share;
                }
                (None, Some(quantity)) => {
                    if by_share {
                        return Err(DsotpError::invalid(
                            at("quantity"),
                            "the PoDs before give shares; give a share here too",
                        ));
                    }
                    check_positive(&at("quantity"), quantity)?;
                    sum += quantity;
                }
            }
            if let Some(b) = p.baseline
                && !b.is_finite()
            {
                return Err(DsotpError::invalid(
                    at("baseline"),
                    format!("must be finite, not {b}"),
                ));
            }
        }
        if by_share {
            if (sum - 1.0).abs() > SHARE_TOLERANCE {
                return Err(DsotpError::invalid(
                    "pods",
                    format!("the shares sum to {sum}, not 1"),
                ));
            }
        } else if (sum - self.quantity).abs() > SHARE_TOLERANCE * self.quantity.max(1.0) {
            return Err(DsotpError::invalid(
                "pods",
                format!(
                    "the quantities sum to {sum} {unit}, not the activation's {} {unit}",
                    self.quantity,
                    unit = self.unit.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// The id of the set point for `pod`: `{activation}/{pod}`.
    pub fn set_point_id(&self, pod: &PodId) -> String {
        format!("{}/{pod}", self.id)
    }

    /// The quantity PoD `index` delivers, in the activation's unit (its share of the total,
    /// or its explicit quantity).
    pub fn pod_quantity(&self, index: usize) -> Option<f64> {
        let p = self.pods.get(index)?;
        Some(match (p.share, p.quantity) {
            (_, Some(q)) => q,
            (Some(s), None) => s * self.quantity,
            (None, None) => 0.0,
        })
    }

    /// The signed change of net import an activation asks of a PoD delivering `quantity`:
    /// `up` (more injection) lowers net import, `down` raises it.
    pub fn signed(&self, quantity: f64) -> f64 {
        match self.direction {
            Direction::Up => -quantity,
            Direction::Down => quantity,
        }
    }

    /// Validates the activation and splits it into one set point per PoD, in the PoDs' order.
    ///
    /// Each set point has the id `{activation}/{pod}`, targets the PoD's Light Node (`device`)
    /// at `pod`, is issued by `issued_by`, and is a power set point (`kind` power, `unit` W,
    /// no multiplier, `direction` net) valid over the activation's window. Its **value is net
    /// import in W, consumption positive** (the load convention the DSOTP's power
    /// calculation uses; the Light Node shows it as `bspP` in kW): the PoD's part of the
    /// quantity, negative for `up` (more injection, less consumption) and positive for
    /// `down`, added to the PoD's baseline when one is given (an absolute target), or alone
    /// (the change asked for) when not.
    pub fn split(&self) -> Result<Vec<SetPoint>> {
        self.validate()?;
        let watts = self.unit.watts();
        self.pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let change = self.signed(self.pod_quantity(i).unwrap_or(0.0));
                let value = (p.baseline.unwrap_or(0.0) + change) * watts;
                let id = self.set_point_id(&p.pod);
                let mut sp = SetPoint::new(
                    id,
                    p.device.clone(),
                    MeasurementKind::Power,
                    Unit::Watt,
                    value,
                    self.valid_from,
                    self.valid_to,
                )
                .map_err(|e| DsotpError::invalid(format!("pods[{i}]"), e))?;
                sp.pod = Some(p.pod.clone());
                sp.issued_by = self.issued_by.clone();
                sp.direction = FlowDirection::Net;
                sp.multiplier = UnitMultiplier::NONE;
                Ok(sp)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use platone_model::parse_timestamp;

    use super::*;

    fn share(pod: &str, share: f64) -> PodShare {
        PodShare {
            pod: PodId::new(pod).unwrap(),
            device: DeviceId::new(format!("ln-{pod}")).unwrap(),
            share: Some(share),
            quantity: None,
            baseline: None,
        }
    }

    fn quantity(pod: &str, quantity: f64) -> PodShare {
        PodShare {
            share: None,
            quantity: Some(quantity),
            ..share(pod, 0.0)
        }
    }

    fn activation(direction: Direction, pods: Vec<PodShare>) -> Activation {
        Activation {
            id: "act-1".into(),
            session: "s-1".into(),
            order: "o-1".into(),
            participant: "agg-1".into(),
            direction,
            quantity: 9.0,
            unit: PowerUnit::Kw,
            valid_from: parse_timestamp("2026-12-07T18:00:00Z").unwrap(),
            valid_to: parse_timestamp("2026-12-07T18:15:00Z").unwrap(),
            issued_by: Some(ParticipantId::new("dso-1").unwrap()),
            pods,
        }
    }

    fn at_of(result: Result<()>) -> String {
        match result {
            Err(DsotpError::Invalid { at, .. }) => at,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn shares_split_the_quantity_with_the_sign_of_the_direction() {
        let a = activation(
            Direction::Up,
            vec![
                share("P1", 1.0 / 3.0),
                share("P2", 1.0 / 3.0),
                share("P3", 1.0 / 3.0),
            ],
        );
        let sps = a.split().unwrap();
        assert_eq!(sps.len(), 3);
        let total: f64 = sps.iter().map(|s| s.value).sum();
        assert!((total + 9000.0).abs() < 1e-6, "{total}");
        for (sp, pod) in sps.iter().zip(["P1", "P2", "P3"]) {
            assert_eq!(sp.id, format!("act-1/{pod}"));
            assert_eq!(sp.pod.as_ref().unwrap().as_str(), pod);
            assert_eq!(sp.target.as_str(), format!("ln-{pod}"));
            assert_eq!(sp.kind, MeasurementKind::Power);
            assert_eq!(sp.unit, Unit::Watt);
            assert_eq!(sp.direction, FlowDirection::Net);
            assert_eq!(sp.issued_by.as_ref().unwrap().as_str(), "dso-1");
            assert!((sp.value + 3000.0).abs() < 1e-6);
            assert_eq!((sp.valid_from, sp.valid_to), (a.valid_from, a.valid_to));
        }
        let down = activation(Direction::Down, a.pods.clone()).split().unwrap();
        assert!(down.iter().all(|s| (s.value - 3000.0).abs() < 1e-6));
    }

    #[test]
    fn explicit_quantities_and_baselines() {
        let mut p2 = quantity("P2", 5.0);
        p2.baseline = Some(2.0);
        let mut a = activation(Direction::Up, vec![quantity("P1", 4.0), p2]);
        a.unit = PowerUnit::Mw;
        let sps = a.split().unwrap();
        assert_eq!(sps[0].value, -4e6);
        assert_eq!(sps[1].value, (2.0 - 5.0) * 1e6, "baseline 2 MW, 5 MW up");
        let mut w = activation(Direction::Down, vec![share("P1", 1.0)]);
        w.unit = PowerUnit::W;
        assert_eq!(w.split().unwrap()[0].value, 9.0);
    }

    #[test]
    fn shares_must_sum_to_one_within_the_tolerance() {
        let close = activation(
            Direction::Up,
            vec![share("P1", 0.5), share("P2", 0.5 + 5e-10)],
        );
        assert!(close.validate().is_ok());
        let short = activation(Direction::Up, vec![share("P1", 0.5), share("P2", 0.4)]);
        let err = short.validate().unwrap_err();
        assert!(err.to_string().contains("sum to 0.9"), "{err}");
        assert_eq!(at_of(short.validate()), "pods");
        let over = activation(Direction::Up, vec![share("P1", 1.5)]);
        assert_eq!(at_of(over.validate()), "pods[0].share");
        let zero = activation(Direction::Up, vec![share("P1", 1.0), share("P2", 0.0)]);
        assert_eq!(at_of(zero.validate()), "pods[1].share");
        let nan = activation(Direction::Up, vec![share("P1", f64::NAN)]);
        assert_eq!(at_of(nan.validate()), "pods[0].share");
    }

    #[test]
    fn quantities_must_sum_to_the_total() {
        let short = activation(
            Direction::Up,
            vec![quantity("P1", 4.0), quantity("P2", 4.0)],
        );
        let err = short.validate().unwrap_err();
        assert!(
            err.to_string().contains("not the activation's 9 kW"),
            "{err}"
        );
        let mixed = activation(Direction::Up, vec![quantity("P1", 4.0), share("P2", 0.5)]);
        assert_eq!(at_of(mixed.validate()), "pods[1].share");
        let mixed = activation(Direction::Up, vec![share("P1", 0.5), quantity("P2", 4.5)]);
        assert_eq!(at_of(mixed.validate()), "pods[1].quantity");
        let mut both = share("P1", 1.0);
        both.quantity = Some(9.0);
        assert_eq!(
            at_of(activation(Direction::Up, vec![both]).validate()),
            "pods[0].share"
        );
        let mut neither = share("P2", 0.5);
        neither.share = None;
        let a = activation(Direction::Up, vec![share("P1", 0.5), neither]);
        assert_eq!(at_of(a.validate()), "pods[1].share");
        let negative = activation(
            Direction::Up,
            vec![quantity("P1", 10.0), quantity("P2", -1.0)],
        );
        assert_eq!(at_of(negative.validate()), "pods[1].quantity");
    }

    #[test]
    fn other_fields_are_checked_by_name() {
        let ok = activation(Direction::Up, vec![share("P1", 1.0)]);
        let mut a = ok.clone();
        a.valid_to = a.valid_from;
        assert_eq!(at_of(a.validate()), "valid_to");
        let mut a = ok.clone();
        a.quantity = 0.0;
        assert_eq!(at_of(a.validate()), "quantity");
        let mut a = ok.clone();
        a.id = "a/b".into();
        assert_eq!(at_of(a.validate()), "id");
        let mut a = ok.clone();
        a.id = " ".into();
        assert_eq!(at_of(a.validate()), "id");
        let mut a = ok.clone();
        a.session = String::new();
        assert_eq!(at_of(a.validate()), "session");
        let mut a = ok.clone();
        a.order = "\n".into();
        assert_eq!(at_of(a.validate()), "order");
        let mut a = ok.clone();
        a.participant = String::new();
        assert_eq!(at_of(a.validate()), "participant");
        let mut a = ok.clone();
        a.pods.clear();
        assert_eq!(at_of(a.validate()), "pods");
        let a = activation(Direction::Up, vec![share("P1", 0.5), share("P1", 0.5)]);
        assert_eq!(at_of(a.validate()), "pods[1].pod");
        let a = activation(Direction::Up, vec![share("P+1", 1.0)]);
        assert_eq!(at_of(a.validate()), "pods[0].pod");
        let mut p = share("P1", 1.0);
        p.baseline = Some(f64::INFINITY);
        assert_eq!(
            at_of(activation(Direction::Up, vec![p]).validate()),
            "pods[0].baseline"
        );
        assert!(ok.split().is_ok());
    }

    #[test]
    fn json_round_trip_and_errors() {
        let a = activation(Direction::Down, vec![share("P1", 0.25), share("P2", 0.75)]);
        let json = serde_json::to_vec(&a).unwrap();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains(r#""direction":"down""#), "{text}");
        assert!(text.contains(r#""unit":"kW""#), "{text}");
        assert_eq!(Activation::from_json(&json).unwrap(), a);
        let bad = text.replace(r#""share":0.75"#, r#""share":0.5"#);
        assert!(matches!(
            Activation::from_json(bad.as_bytes()),
            Err(DsotpError::Invalid { at, .. }) if at == "pods"
        ));
        let err = Activation::from_json(br#"{"id":"a"}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("activation: missing field"),
            "{err}"
        );
    }
}
