//! MQTT topic names and filters (MQTT 3.1.1 §4.7 and MQTT 5 shared subscriptions).

use std::fmt;
use std::str::FromStr;

use crate::error::{BusError, BusResult};

/// The longest topic MQTT can encode (a two-byte length prefix).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Checks a topic name used for publishing: at least one character, at most 65 535 bytes, no
/// wildcard (`+`, `#`) and no NUL. Empty levels (`a//b`, `/a`) are allowed.
pub fn validate_topic(topic: &str) -> BusResult<()> {
    let fail = |offset, reason| {
        Err(BusError::InvalidTopic {
            topic: topic.to_owned(),
            offset,
            reason,
        })
    };
    if topic.is_empty() {
        return fail(0, "a topic has at least one character");
    }
    if topic.len() > MAX_TOPIC_LEN {
        return fail(MAX_TOPIC_LEN, "longer than 65535 bytes");
    }
    for (offset, c) in topic.char_indices() {
        match c {
            '+' | '#' => return fail(offset, "wildcards are not allowed in a topic name"),
            '\0' => return fail(offset, "NUL is not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// A validated MQTT topic filter, optionally a shared subscription `$share/{group}/{filter}`.
///
/// ```
/// use platone_bus::TopicFilter;
/// let f = TopicFilter::new("platone/+/devices/#").unwrap();
/// assert!(f.matches("platone/bal/devices/pmu-1/measurements"));
/// assert!(f.matches("platone/bal/devices")); // `#` also matches the parent
/// assert!(!TopicFilter::new("#").unwrap().matches("$SYS/broker/uptime"));
/// assert!(TopicFilter::new("a/#/b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicFilter {
    raw: String,
    group: Option<String>,
    /// Byte offset of the filter proper inside `raw`.
    start: usize,
}

const SHARE_PREFIX: &str = "$share/";

impl TopicFilter {
    /// Validates `filter`.
    pub fn new(filter: impl Into<String>) -> BusResult<Self> {
        let raw = filter.into();
        let fail = |raw: &str, offset, reason| {
            Err(BusError::InvalidFilter {
                filter: raw.to_owned(),
                offset,
                reason,
            })
        };
        if raw.len() > MAX_TOPIC_LEN {
            return fail(&raw, MAX_TOPIC_LEN, "longer than 65535 bytes");
        }
        let (group, start) = match raw.strip_prefix(SHARE_PREFIX) {
            Some(rest) => {
                let Some(slash) = rest.find('/') else {
                    return fail(
                        &raw,
                        raw.len(),
                        "`$share/{group}` needs `/{filter}` after it",
                    );
                };
                let group = &rest[..slash];
                if group.is_empty() {
                    return fail(&raw, SHARE_PREFIX.len(), "empty share group name");
                }
                if let Some(i) = group.find(['+', '#', '\0']) {
                    return fail(
                        &raw,
                        SHARE_PREFIX.len() + i,
                        "wildcards and NUL are not allowed in a share group name",
                    );
                }
                (Some(group.to_owned()), SHARE_PREFIX.len() + slash + 1)
            }
            None => (None, 0),
        };
        let body = &raw[start..];
        if body.is_empty() {
            return fail(&raw, start, "a filter has at least one character");
        }
        let mut offset = start;
        let levels: Vec<&str> = body.split('/').collect();
        let last = levels.len() - 1;
        for (i, level) in levels.iter().enumerate() {
            if let Some(j) = level.find('\0') {
                return fail(&raw, offset + j, "NUL is not allowed");
            }
            if level.contains('#') {
                if *level != "#" {
                    return fail(&raw, offset, "`#` must occupy a whole level");
                }
                if i != last {
                    return fail(&raw, offset, "`#` must be the last level");
                }
            }
            if level.contains('+') && *level != "+" {
                return fail(&raw, offset, "`+` must occupy a whole level");
            }
            offset += level.len() + 1;
        }
        Ok(TopicFilter { raw, group, start })
    }

    /// The filter as given (with `$share/{group}/` when shared).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The filter proper, without the `$share/{group}/` prefix.
    pub fn filter(&self) -> &str {
        self.raw.get(self.start..).unwrap_or_default()
    }

    /// The share group of a shared subscription.
    pub fn share_group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// Whether the filter contains a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.filter().split('/').any(|l| l == "+" || l == "#")
    }

    /// The levels before the first wildcard (all levels when there is none).
    pub fn fixed_levels(&self) -> Vec<&str> {
        self.filter()
            .split('/')
            .take_while(|l| *l != "+" && *l != "#")
            .collect()
    }

    /// Whether `topic` matches. Invalid topic names never match.
    pub fn matches(&self, topic: &str) -> bool {
        if validate_topic(topic).is_err() {
            return false;
        }
        let filter = self.filter();
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let mut f = filter.split('/');
        let mut t = topic.split('/');
        loop {
            match (f.next(), t.next()) {
                (Some("#"), _) => return true,
                (Some("+"), Some(_)) => {}
                (Some(fl), Some(tl)) if fl == tl => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for TopicFilter {
    type Err = BusError;
    fn from_str(s: &str) -> BusResult<Self> {
        TopicFilter::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(filter: &str, topic: &str) -> bool {
        TopicFilter::new(filter).unwrap().matches(topic)
    }

    #[test]
    fn mqtt_spec_examples() {
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(m(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(m("sport/#", "sport"));
        assert!(m("#", "anything/at/all"));
        assert!(m("sport/tennis/+", "sport/tennis/player1"));
        assert!(!m("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!m("sport/+", "sport"));
        assert!(m("sport/+", "sport/"));
        assert!(m("+/+", "/finance"));
        assert!(m("/+", "/finance"));
        assert!(!m("+", "/finance"));
        assert!(!m("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(m("$SYS/#", "$SYS/monitor/Clients"));
        assert!(m("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!m("#", "$SYS"));
        assert!(m("a//b", "a//b"));
        assert!(m("a/+/b", "a//b"));
    }

    #[test]
    fn invalid_filters_say_where() {
        for (f, off) in [
            ("sport/tennis#", 6),
            ("sport/tennis/#/ranking", 13),
            ("sport+", 0),
            ("", 0),
            ("$share/", 7),
            ("$share//x", 7),
            ("$share/g+/x", 8),
            ("$share/g/", 9),
            ("$share/g", 8),
        ] {
            match TopicFilter::new(f) {
                Err(BusError::InvalidFilter { offset, .. }) => assert_eq!(offset, off, "{f}"),
                other => panic!("{f}: {other:?}"),
            }
        }
        assert!(validate_topic("a/+").is_err());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("/").is_ok());
    }

    #[test]
    fn shared_subscriptions() {
        let f = TopicFilter::new("$share/dsotp/platone/+/measurements").unwrap();
        assert_eq!(f.share_group(), Some("dsotp"));
        assert_eq!(f.filter(), "platone/+/measurements");
        assert!(f.matches("platone/bal/measurements"));
        assert_eq!(f.fixed_levels(), vec!["platone"]);
    }

    proptest! {
        #[test]
        fn never_panics(filter in "\\PC{0,40}", topic in "\\PC{0,40}") {
            if let Ok(f) = TopicFilter::new(filter) {
                let _ = f.matches(&topic);
                let _ = f.fixed_levels();
            }
            let _ = validate_topic(&topic);
        }

        #[test]
        fn wildcard_free_filter_matches_exactly_itself(
            levels in proptest::collection::vec("[a-z0-9$]{0,4}", 1..5),
            other in proptest::collection::vec("[a-z0-9]{0,4}", 1..5),
        ) {
            let topic = levels.join("/");
            let other = other.join("/");
            prop_assume!(!topic.is_empty() && !other.is_empty());
            let f = TopicFilter::new(topic.clone()).unwrap();
            prop_assert!(f.matches(&topic));
            prop_assert_eq!(f.matches(&other), topic == other);
        }

        #[test]
        fn hash_matches_every_extension(
            prefix in proptest::collection::vec("[a-z]{1,4}", 1..4),
            rest in proptest::collection::vec("[a-z]{0,4}", 0..4),
        ) {
            let p = prefix.join("/");
            let f = TopicFilter::new(format!("{p}/#")).unwrap();
            let t = if rest.is_empty() { p.clone() } else { format!("{p}/{}", rest.join("/")) };
            prop_assert!(f.matches(&t));
            let plus = TopicFilter::new(format!("{p}/+")).unwrap();
            prop_assert_eq!(plus.matches(&t), rest.len() == 1);
        }
    }
}
