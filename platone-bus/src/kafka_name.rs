//! MQTT ↔ Kafka naming.
//!
//! Kafka topic names allow only `[a-zA-Z0-9._-]`, at most 249 characters, and a Kafka topic is a
//! heavyweight thing (partitions, files, replication). So MQTT topics are never mapped one to
//! one: the first [`KafkaNaming::levels`] levels of an MQTT topic name the Kafka topic
//! (`platone/dsotp/devices/pmu-1` → `platone.dsotp`), and the full MQTT topic travels as the
//! record key (unless the message has its own key) and in the [`TOPIC_HEADER`] header.

use crate::error::{BusError, BusResult};
use crate::topic::TopicFilter;

/// The record header holding the full MQTT-style topic.
pub const TOPIC_HEADER: &str = "platone-topic";

/// The longest Kafka topic name.
pub const MAX_KAFKA_NAME: usize = 249;

/// How MQTT-style topics map to Kafka topics.
///
/// ```
/// use platone_bus::{KafkaNaming, TopicFilter};
/// let naming = KafkaNaming::new(2);
/// assert_eq!(naming.kafka_topic("platone/dsotp/devices/pmu-1").unwrap(), "platone.dsotp");
/// assert_eq!(naming.kafka_topic("/bal/meter 7").unwrap(), "_empty_.bal");
/// let f = TopicFilter::new("platone/dsotp/#").unwrap();
/// assert_eq!(naming.kafka_subscription(&f).unwrap(), "platone.dsotp");
/// let f = TopicFilter::new("platone/#").unwrap();
/// assert_eq!(naming.kafka_subscription(&f).unwrap(), "^platone\\..*");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaNaming {
    levels: usize,
}

impl Default for KafkaNaming {
    fn default() -> Self {
        KafkaNaming { levels: 2 }
    }
}

impl KafkaNaming {
    /// Naming by the first `levels` levels (at least 1).
    pub fn new(levels: usize) -> Self {
        KafkaNaming {
            levels: levels.max(1),
        }
    }

    /// How many leading levels name the Kafka topic.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// The Kafka topic carrying an MQTT-style topic.
    pub fn kafka_topic(&self, topic: &str) -> BusResult<String> {
        let levels: Vec<&str> = topic.split('/').take(self.levels).collect();
        join_levels(topic, &levels)
    }

    /// What to subscribe to in Kafka for a filter: the one topic named by its fixed prefix or,
    /// when the filter has fewer fixed levels than the naming uses, a regular-expression
    /// subscription (librdkafka's `^…` syntax) over the topics under that prefix.
    pub fn kafka_subscription(&self, filter: &TopicFilter) -> BusResult<String> {
        let fixed = filter.fixed_levels();
        if fixed.len() >= self.levels {
            return join_levels(filter.as_str(), &fixed[..self.levels]);
        }
        if fixed.is_empty() {
            return Ok("^.*".to_owned());
        }
        let prefix = join_levels(filter.as_str(), &fixed)?;
        Ok(format!("^{}\\..*", prefix.replace('.', "\\.")))
    }
}

fn join_levels(topic: &str, levels: &[&str]) -> BusResult<String> {
    let name = levels
        .iter()
        .map(|l| {
            if l.is_empty() {
                "_empty_".to_owned()
            } else {
                l.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            }
        })
        .collect::<Vec<String>>()
        .join(".");
    if name.len() > MAX_KAFKA_NAME {
        return Err(BusError::KafkaName {
            topic: topic.to_owned(),
            reason: "the Kafka name would exceed 249 characters",
        });
    }
    if name.is_empty() || name == "." || name == ".." {
        return Err(BusError::KafkaName {
            topic: topic.to_owned(),
            reason: "the Kafka name would be empty",
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn names_are_always_legal(topic in "\\PC{1,300}", levels in 1usize..4) {
            if let Ok(name) = KafkaNaming::new(levels).kafka_topic(&topic) {
                prop_assert!(name.len() <= MAX_KAFKA_NAME && !name.is_empty());
                prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
            }
        }

        #[test]
        fn filter_and_topic_agree(levels in proptest::collection::vec("[a-z]{1,4}", 2..5)) {
            let n = KafkaNaming::new(2);
            let topic = levels.join("/");
            let f = TopicFilter::new(format!("{}/{}/#", levels[0], levels[1])).unwrap();
            prop_assert_eq!(n.kafka_subscription(&f).unwrap(), n.kafka_topic(&topic).unwrap());
        }
    }
}
