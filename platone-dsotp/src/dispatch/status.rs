//! What the dispatcher reports: per set point, per activation, and the list of activations.

use platone_certify::Proof;
use platone_model::{DeviceId, PodId, SetPoint, Timestamp};
use platone_scd::SetPointAck;
use serde::{Deserialize, Serialize};

use super::activation::Activation;

/// Where a set point stands.
///
/// `pending` → `sent` → `accepted` | `applied` | `rejected`, or `undelivered` once every
/// attempt went unanswered. An acknowledgement that arrives after `undelivered` (or a second
/// one) still counts: the latest acknowledgement decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored, not yet confirmed by the broker (publishing, or the last publish failed).
    Pending,
    /// Published (the broker confirmed at QoS 1); no acknowledgement yet.
    Sent,
    /// The Light Node acknowledged it `accepted`.
    Accepted,
    /// The Light Node acknowledged it `applied` (carried out).
    Applied,
    /// The Light Node refused it (see the reason).
    Rejected,
    /// No acknowledgement after every attempt, or its window ended first.
    Undelivered,
}

impl DeliveryStatus {
    /// Whether nothing more is expected: acknowledged, refused or given up.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryStatus::Pending | DeliveryStatus::Sent)
    }

    /// The status's name (`pending`, `sent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Applied => "applied",
            DeliveryStatus::Rejected => "rejected",
            DeliveryStatus::Undelivered => "undelivered",
        }
    }
}

/// How many set points of an activation are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// All set points.
    pub total: usize,
    /// [`DeliveryStatus::Pending`].
    pub pending: usize,
    /// [`DeliveryStatus::Sent`].
    pub sent: usize,
    /// [`DeliveryStatus::Accepted`].
    pub accepted: usize,
    /// [`DeliveryStatus::Applied`].
    pub applied: usize,
    /// [`DeliveryStatus::Rejected`].
    pub rejected: usize,
    /// [`DeliveryStatus::Undelivered`].
    pub undelivered: usize,
}

impl StatusCounts {
    fn slot(&mut self, status: DeliveryStatus) -> &mut usize {
        match status {
            DeliveryStatus::Pending => &mut self.pending,
            DeliveryStatus::Sent => &mut self.sent,
            DeliveryStatus::Accepted => &mut self.accepted,
            DeliveryStatus::Applied => &mut self.applied,
            DeliveryStatus::Rejected => &mut self.rejected,
            DeliveryStatus::Undelivered => &mut self.undelivered,
        }
    }

    /// Counts one more set point in `status`.
    pub(crate) fn add(&mut self, status: DeliveryStatus) {
        self.total += 1;
        *self.slot(status) += 1;
    }

    /// Moves one set point from `from` to `to`.
    pub(crate) fn change(&mut self, from: DeliveryStatus, to: DeliveryStatus) {
        let old = self.slot(from);
        *old = old.saturating_sub(1);
        *self.slot(to) += 1;
    }

    /// How many set points are final (acknowledged, refused or undelivered).
    pub fn finished(&self) -> usize {
        self.accepted + self.applied + self.rejected + self.undelivered
    }
}

/// One set point of an activation: what was sent, where it stands, and its certification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPointStatus {
    /// The PoD.
    pub pod: PodId,
    /// The Light Node it was sent to.
    pub device: DeviceId,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Why it was refused or is undelivered; the last publish error while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many times it was published (or tried).
    pub attempts: u32,
    /// When it was last published, as the broker confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<Timestamp>,
    /// The set point as stored, sent and certified.
    pub set_point: SetPoint,
    /// The latest acknowledgement, as stored and certified (its `at` is the Light Node's
    /// own time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<SetPointAck>,
    /// The set point's certification: its Merkle proof, anchored on the ledger once the
    /// ledger confirmed. Verify it with the set point's JSON (`set_point`) and the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification: Option<Proof>,
    /// The latest acknowledgement's certification (verify it with `ack`'s JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_certification: Option<Proof>,
    /// Why certifying failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certification_error: Option<String>,
}

/// An activation's dispatch: the activation, every set point's status and the counts
/// (`GET /api/activations/{id}`, and what is published on `{reports}/{id}` once settled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationStatus {
    /// The activation.
    pub activation: Activation,
    /// When it was dispatched.
    pub dispatched_at: Timestamp,
    /// Every set point is final (acknowledged, refused or undelivered).
    pub done: bool,
    /// Done, and every certification of its set points and acknowledgements has finished
    /// (made or failed).
    pub settled: bool,
    /// The counts per status.
    pub counts: StatusCounts,
    /// One per PoD, in the activation's order.
    pub set_points: Vec<SetPointStatus>,
}

impl ActivationStatus {
    /// The status of `pod`'s set point.
    pub fn pod(&self, pod: &str) -> Option<&SetPointStatus> {
        self.set_points.iter().find(|s| s.pod.as_str() == pod)
    }

    /// The PoDs whose set points are undelivered.
    pub fn undelivered(&self) -> Vec<&PodId> {
        self.set_points
            .iter()
            .filter(|s| s.status == DeliveryStatus::Undelivered)
            .map(|s| &s.pod)
            .collect()
    }
}

/// One line of the list of activations (`GET /api/activations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationSummary {
    /// The activation's id.
    pub id: String,
    /// The market session.
    pub session: String,
    /// The awarded order.
    pub order: String,
    /// The participant the award went to.
    pub participant: String,
    /// When it was dispatched.
    pub dispatched_at: Timestamp,
    /// Every set point is final.
    pub done: bool,
    /// Done and certified.
    pub settled: bool,
    /// The counts per status.
    pub counts: StatusCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_changes() {
        let mut c = StatusCounts::default();
        c.add(DeliveryStatus::Pending);
        c.add(DeliveryStatus::Pending);
        c.change(DeliveryStatus::Pending, DeliveryStatus::Sent);
        c.change(DeliveryStatus::Sent, DeliveryStatus::Accepted);
        c.change(DeliveryStatus::Pending, DeliveryStatus::Undelivered);
        assert_eq!(
            (c.total, c.pending, c.sent, c.accepted, c.undelivered),
            (2, 0, 0, 1, 1)
        );
        assert_eq!(c.finished(), 2);
        assert!(DeliveryStatus::Rejected.is_final());
        assert!(!DeliveryStatus::Sent.is_final());
        assert_eq!(
            serde_json::to_string(&DeliveryStatus::Undelivered).unwrap(),
            "\"undelivered\""
        );
    }
}
