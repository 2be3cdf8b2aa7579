//! Dead letters: a message a service cannot use is reported and set aside, the rest flow on.

use platone_bus::{DEAD_LETTER_REASON, Message, ORIGINAL_TOPIC, Publisher, QoS};

/// Publishes `message` on `topic` as `{"reason", "topic", "payload"}` (the payload as text,
/// invalid UTF-8 replaced), with the reason and the original topic also in the
/// [`DEAD_LETTER_REASON`] and [`ORIGINAL_TOPIC`] headers where the bus carries headers (Kafka,
/// memory; MQTT 3.1.1 does not). Logged; a failure to dead-letter is logged too and returned.
pub async fn dead_letter(
    bus: &dyn Publisher,
    topic: &str,
    message: &Message,
    reason: &str,
) -> platone_bus::BusResult<()> {
    tracing::warn!("{}: dead-lettered: {reason}", message.topic);
    let envelope = serde_json::json!({
        "reason": reason,
        "topic": message.topic,
        "payload": String::from_utf8_lossy(&message.payload),
    });
    let letter = Message::new(topic, envelope.to_string())
        .with_header(DEAD_LETTER_REASON, reason)
        .with_header(ORIGINAL_TOPIC, message.topic.clone());
    let sent = bus.publish(letter, QoS::AtLeastOnce).await;
    if let Err(e) = &sent {
        tracing::error!("{topic}: cannot dead-letter: {e}");
    }
    sent
}
