//! What the dispatcher tracks per activation and set point (in memory).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use platone_certify::Proof;
use platone_model::{DeviceId, SetPoint, Timestamp};
use platone_scd::{AckOutcome, SetPointAck};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::activation::Activation;
use super::status::{
    ActivationStatus, ActivationSummary, DeliveryStatus, SetPointStatus, StatusCounts,
};

/// One set point being dispatched.
#[derive(Debug)]
pub(crate) struct Entry {
    pub set_point: SetPoint,
    /// `{setpoints}/{pod}`.
    pub topic: String,
    /// The set point's JSON, as published.
    pub payload: Vec<u8>,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
    /// Publications started, the one in flight included.
    pub attempts: u32,
    /// A publication is running.
    pub in_flight: bool,
    /// When the last publication ended (confirmed or failed): the retry clock.
    pub last_attempt: Option<Instant>,
    pub last_sent: Option<Timestamp>,
    pub ack: Option<SetPointAck>,
    pub certification: Option<Proof>,
    pub ack_certification: Option<Proof>,
    pub certification_error: Option<String>,
}

impl Entry {
    pub fn new(set_point: SetPoint, topic: String, payload: Vec<u8>) -> Self {
        Entry {
            set_point,
            topic,
            payload,
            status: DeliveryStatus::Pending,
            reason: None,
            attempts: 0,
            in_flight: false,
            last_attempt: None,
            last_sent: None,
            ack: None,
            certification: None,
            ack_certification: None,
            certification_error: None,
        }
    }

    fn device(&self) -> DeviceId {
        self.set_point.target.clone()
    }

    fn report(&self) -> Option<SetPointStatus> {
        Some(SetPointStatus {
            pod: self.set_point.pod.clone()?,
            device: self.device(),
            status: self.status,
            reason: self.reason.clone(),
            attempts: self.attempts,
            last_sent: self.last_sent,
            set_point: self.set_point.clone(),
            ack: self.ack.clone(),
            certification: self.certification.clone(),
            ack_certification: self.ack_certification.clone(),
            certification_error: self.certification_error.clone(),
        })
    }
}

/// One activation being dispatched.
#[derive(Debug)]
pub(crate) struct Tracked {
    pub activation: Activation,
    pub dispatched_at: Timestamp,
    pub entries: Vec<Entry>,
    pub counts: StatusCounts,
    /// Records of this activation handed to the certifier and not yet back.
    pub certifying: usize,
    /// Woken on every change that can settle the activation.
    pub notify: Arc<Notify>,
    /// The final report went out.
    pub reported: bool,
}

impl Tracked {
    pub fn new(activation: Activation, dispatched_at: Timestamp, entries: Vec<Entry>) -> Self {
        let mut counts = StatusCounts::default();
        for e in &entries {
            counts.add(e.status);
        }
        Tracked {
            activation,
            dispatched_at,
            entries,
            counts,
            certifying: 0,
            notify: Arc::new(Notify::new()),
            reported: false,
        }
    }

    /// Moves set point `index` to `status`, keeping the counts.
    pub fn set_status(&mut self, index: usize, status: DeliveryStatus) {
        if let Some(e) = self.entries.get_mut(index)
            && e.status != status
        {
            self.counts.change(e.status, status);
            e.status = status;
        }
    }

    /// Every set point is final.
    pub fn done(&self) -> bool {
        self.counts.finished() == self.counts.total
    }

    /// Done, and nothing is being certified.
    pub fn settled(&self) -> bool {
        self.done() && self.certifying == 0
    }

    /// Takes an acknowledgement of set point `index`: the latest (by the Light Node's `at`)
    /// decides the status. Whether it is the latest.
    pub fn acknowledge(&mut self, index: usize, ack: &SetPointAck) -> bool {
        let Some(e) = self.entries.get_mut(index) else {
            return false;
        };
        if e.ack.as_ref().is_some_and(|prev| prev.at > ack.at) {
            return false;
        }
        let status = match ack.outcome {
            AckOutcome::Accepted => DeliveryStatus::Accepted,
            AckOutcome::Applied => DeliveryStatus::Applied,
            AckOutcome::Rejected => DeliveryStatus::Rejected,
        };
        e.reason = match ack.outcome {
            AckOutcome::Rejected => Some(
                ack.reason
                    .clone()
                    .unwrap_or_else(|| "refused without a reason".into()),
            ),
            _ => None,
        };
        e.ack = Some(ack.clone());
        e.ack_certification = None;
        self.set_status(index, status);
        true
    }

    pub fn report(&self) -> ActivationStatus {
        ActivationStatus {
            activation: self.activation.clone(),
            dispatched_at: self.dispatched_at,
            done: self.done(),
            settled: self.settled(),
            counts: self.counts,
            set_points: self.entries.iter().filter_map(Entry::report).collect(),
        }
    }

    pub fn summary(&self) -> ActivationSummary {
        ActivationSummary {
            id: self.activation.id.clone(),
            session: self.activation.session.clone(),
            order: self.activation.order.clone(),
            participant: self.activation.participant.clone(),
            dispatched_at: self.dispatched_at,
            done: self.done(),
            settled: self.settled(),
            counts: self.counts,
        }
    }
}

/// Everything tracked.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub activations: BTreeMap<String, Tracked>,
    /// Set point id → (activation id, index of its entry).
    pub by_set_point: HashMap<String, (String, usize)>,
}

impl State {
    /// Forgets the oldest settled, reported activations while more than `keep` are tracked
    /// (those still in progress are never forgotten).
    pub fn evict_settled(&mut self, keep: usize) {
        if self.activations.len() <= keep {
            return;
        }
        let mut settled: Vec<(Timestamp, String)> = self
            .activations
            .values()
            .filter(|t| t.settled() && t.reported)
            .map(|t| (t.dispatched_at, t.activation.id.clone()))
            .collect();
        settled.sort();
        let excess = self.activations.len() - keep;
        for (_, id) in settled.into_iter().take(excess) {
            self.forget(&id);
        }
    }

    /// Where set point `id` is tracked.
    pub fn locate(&self, id: &str) -> Option<(String, usize)> {
        self.by_set_point.get(id).cloned()
    }

    /// Forgets an activation and its set points.
    pub fn forget(&mut self, id: &str) -> Option<Tracked> {
        let tracked = self.activations.remove(id)?;
        for e in &tracked.entries {
            self.by_set_point.remove(&e.set_point.id);
        }
        tracked.notify.notify_waiters();
        Some(tracked)
    }
}
