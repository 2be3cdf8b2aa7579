//! The set-point side of a Light Node: set points taken from the DSOTP's bus, each answered
//! with an acknowledgement.

use std::sync::Arc;

use platone_bus::{Bus, Message, QoS, Subscription, TopicFilter};
use platone_model::{DeviceId, PodId, SetPoint};
use platone_scd::{AckOutcome, SetPointAck};
use serde::Serialize;

use super::ems::SharedBoard;
use crate::error::Result;

/// The default prefix of set-point topics: a PoD's set points travel on
/// `platone/dsotp/setpoints/{pod}`, its acknowledgements on `…/{pod}/ack`.
pub const SET_POINT_PREFIX: &str = "platone/dsotp/setpoints";
/// The default prefix of the Light Node's dead letters (`…/{pod}`): messages on its set-point
/// topic that are not set points.
pub const DEAD_LETTER_PREFIX: &str = "platone/dsotp/dead-letters/lightnode";

/// Where a Light Node takes its set points and answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPointTopics {
    /// Set points arrive on `{prefix}/{pod}`; acknowledgements go to `{prefix}/{pod}/ack`.
    pub prefix: String,
    /// Unreadable messages go to `{dead_letters}/{pod}` as `{reason, topic, payload}`.
    pub dead_letters: String,
}

impl Default for SetPointTopics {
    fn default() -> Self {
        SetPointTopics {
            prefix: SET_POINT_PREFIX.into(),
            dead_letters: DEAD_LETTER_PREFIX.into(),
        }
    }
}

impl SetPointTopics {
    /// The topic of `pod`'s set points.
    pub fn set_points(&self, pod: &PodId) -> String {
        format!("{}/{pod}", self.prefix)
    }

    /// The topic of `pod`'s acknowledgements.
    pub fn acks(&self, pod: &PodId) -> String {
        format!("{}/{pod}/ack", self.prefix)
    }

    /// The topic of `pod`'s dead letters.
    pub fn dead_letters(&self, pod: &PodId) -> String {
        format!("{}/{pod}", self.dead_letters)
    }
}

/// What a dead letter carries.
#[derive(Debug, Serialize)]
struct DeadLetter<'a> {
    reason: &'a str,
    topic: &'a str,
    payload: String,
}

/// The set-point side of one Light Node (device `device`, on the board's PoD).
#[derive(Debug, Clone)]
pub struct LightNode {
    /// The device that acknowledges (the Light Node's id).
    pub device: DeviceId,
    /// Where set points come from and answers go.
    pub topics: SetPointTopics,
    /// The set points held, read by the EMS interfaces.
    pub board: SharedBoard,
}

impl LightNode {
    /// Subscribes to the PoD's set points on `bus` (QoS 1) and answers each until the
    /// subscription ends: a set point the board takes is acknowledged `accepted`, one it
    /// refuses `rejected` with the reason (see [`SetPointBoard::accept`](super::SetPointBoard::accept)),
    /// a message that is not a set point is dead-lettered. A message is acknowledged to the
    /// broker only once answered, so one whose answer could not be published comes again.
    pub async fn run(&self, bus: Arc<dyn Bus>) -> Result<()> {
        let set_points = self.subscribe(bus.as_ref()).await?;
        self.serve(bus, set_points).await
    }

    /// Subscribes, then answers on a task ([`LightNode::run`]): once this returns, no set
    /// point published for the PoD is missed.
    pub async fn start(self, bus: Arc<dyn Bus>) -> Result<tokio::task::JoinHandle<Result<()>>> {
        let set_points = self.subscribe(bus.as_ref()).await?;
        Ok(tokio::spawn(
            async move { self.serve(bus, set_points).await },
        ))
    }

    async fn subscribe(&self, bus: &dyn Bus) -> Result<Subscription> {
        let pod = self.pod()?;
        let filter = TopicFilter::new(self.topics.set_points(&pod))?;
        Ok(bus.subscribe(filter, QoS::AtLeastOnce).await?)
    }

    async fn serve(&self, bus: Arc<dyn Bus>, mut set_points: Subscription) -> Result<()> {
        let pod = self.pod()?;
        while let Some(delivery) = set_points.next_delivery().await {
            match self.answer(&*bus, &pod, &delivery.message).await {
                Ok(()) => {
                    if let Err(e) = delivery.ack().await {
                        tracing::warn!("set point not acknowledged to the broker: {e}");
                    }
                }
                Err(e) => tracing::warn!("set point not answered (it comes again): {e}"),
            }
        }
        Ok(())
    }

    fn pod(&self) -> Result<PodId> {
        self.board.lock().map(|b| b.pod().clone()).map_err(|_| {
            crate::error::SimError::Io("the set-point board's lock is poisoned".into())
        })
    }

    /// Answers one message: an acknowledgement, or a dead letter.
    async fn answer(&self, bus: &dyn Bus, pod: &PodId, message: &Message) -> Result<()> {
        let set_point = match serde_json::from_slice::<SetPoint>(&message.payload) {
            Ok(set_point) => set_point,
            Err(e) => {
                let reason = format!("not a set point: {e}");
                let letter = DeadLetter {
                    reason: &reason,
                    topic: &message.topic,
                    payload: String::from_utf8_lossy(&message.payload).into_owned(),
                };
                let body = serde_json::to_vec(&letter)
                    .map_err(|e| crate::error::SimError::Io(e.to_string()))?;
                tracing::warn!("{}: {reason}", message.topic);
                bus.publish(
                    Message::new(self.topics.dead_letters(pod), body),
                    QoS::AtLeastOnce,
                )
                .await?;
                return Ok(());
            }
        };
        let now = super::ems::now();
        let id = set_point.id.clone();
        let taken = self
            .board
            .lock()
            .map_err(|_| "the set-point board's lock is poisoned".to_owned())
            .and_then(|mut b| b.accept(set_point, &now));
        let ack = SetPointAck {
            set_point: id,
            device: self.device.clone(),
            at: now,
            outcome: if taken.is_ok() {
                AckOutcome::Accepted
            } else {
                AckOutcome::Rejected
            },
            reason: taken.err(),
        };
        let body =
            serde_json::to_vec(&ack).map_err(|e| crate::error::SimError::Io(e.to_string()))?;
        bus.publish(
            Message::new(self.topics.acks(pod), body).with_key(ack.set_point.clone().into_bytes()),
            QoS::AtLeastOnce,
        )
        .await?;
        Ok(())
    }
}
