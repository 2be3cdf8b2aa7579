//! Topic remapping with mosquitto's bridge semantics.
//!
//! A mosquitto bridge line reads `topic <pattern> <in|out|both> <qos> <local-prefix>
//! <remote-prefix>`. The bridge subscribes to `local-prefix + pattern` on the local side
//! (for `out`) and publishes under `remote-prefix + (topic without local-prefix)` on the remote
//! side; `in` does the same the other way round. Prefixes are concatenated literally: a prefix
//! that should end a level must end with `/` itself. `""` stands for an empty field.
//!
//! **The parent topic.** `topic # out 1 platone/dsotp/ /bal/` subscribes to `platone/dsotp/#`,
//! which also matches `platone/dsotp` itself — a topic that does not start with the local
//! prefix and so cannot be prefix-stripped. This crate maps it level for level: when both
//! prefixes end with `/`, the parent of the local prefix maps to the parent of the remote prefix
//! (`platone/dsotp` → `/bal`). In every other case (a prefix without the trailing `/`, or a
//! result that would be empty) the topic is *unroutable* and the bridge sends it to its
//! dead-letter topic.

use std::fmt;
use std::str::FromStr;

use crate::error::{BusError, BusResult};
use crate::message::QoS;
use crate::topic::{TopicFilter, validate_topic};

/// Which way a mapping forwards. In the bridge, *local* is the source and *remote* the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Local (source) to remote (sink).
    Out,
    /// Remote (sink) to local (source).
    In,
    /// Both ways (the bridge prevents loops).
    Both,
}

impl Direction {
    /// Whether messages flow local → remote.
    pub fn outbound(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
    /// Whether messages flow remote → local.
    pub fn inbound(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Out => "out",
            Direction::In => "in",
            Direction::Both => "both",
        })
    }
}

/// One bridge `topic` line.
///
/// ```
/// use platone_bus::TopicMap;
/// let map: TopicMap = "# out 1 platone/dsotp/ /bal/".parse().unwrap();
/// assert_eq!(map.local_filter().as_str(), "platone/dsotp/#");
/// assert_eq!(map.to_remote("platone/dsotp/meter/7").as_deref(), Some("/bal/meter/7"));
/// assert_eq!(map.to_remote("platone/dsotp").as_deref(), Some("/bal"));
/// assert_eq!(map.to_local("/bal/meter/7").as_deref(), Some("platone/dsotp/meter/7"));
/// assert_eq!(map.to_remote("platone/other"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicMap {
    pattern: String,
    direction: Direction,
    qos: QoS,
    local_prefix: String,
    remote_prefix: String,
    local_filter: TopicFilter,
    remote_filter: TopicFilter,
}

impl TopicMap {
    /// A mapping from its parts, validated like mosquitto does.
    pub fn new(
        pattern: &str,
        direction: Direction,
        qos: QoS,
        local_prefix: &str,
        remote_prefix: &str,
    ) -> BusResult<Self> {
        let line = format!("{pattern} {direction} {qos} {local_prefix} {remote_prefix}");
        let bad = |field, reason: &str| BusError::InvalidMapping {
            line: line.clone(),
            field,
            reason: reason.to_owned(),
        };
        for (field, prefix) in [
            ("local-prefix", local_prefix),
            ("remote-prefix", remote_prefix),
        ] {
            if prefix.contains(['+', '#', '\0']) {
                return Err(bad(field, "a prefix cannot contain wildcards or NUL"));
            }
        }
        if pattern.starts_with("$share/") {
            return Err(bad("pattern", "shared subscriptions cannot be bridged"));
        }
        if pattern.is_empty() && (local_prefix.is_empty() || remote_prefix.is_empty()) {
            return Err(bad(
                "pattern",
                "an empty pattern needs both prefixes (the prefixes are then the topics)",
            ));
        }
        let local_filter = TopicFilter::new(format!("{local_prefix}{pattern}"))
            .map_err(|e| bad("pattern", &e.to_string()))?;
        let remote_filter = TopicFilter::new(format!("{remote_prefix}{pattern}"))
            .map_err(|e| bad("pattern", &e.to_string()))?;
        Ok(TopicMap {
            pattern: pattern.to_owned(),
            direction,
            qos,
            local_prefix: local_prefix.to_owned(),
            remote_prefix: remote_prefix.to_owned(),
            local_filter,
            remote_filter,
        })
    }

    /// Parses `PATTERN [DIRECTION [QOS [LOCAL-PREFIX REMOTE-PREFIX]]]` (a leading `topic` keyword
    /// is accepted; `""` is an empty field). Defaults as in mosquitto: `out`, QoS 0, no prefixes.
    pub fn parse(line: &str) -> BusResult<Self> {
        let bad = |field, reason: &str| BusError::InvalidMapping {
            line: line.to_owned(),
            field,
            reason: reason.to_owned(),
        };
        let mut fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"topic") {
            fields.remove(0);
        }
        let unquote = |s: &str| {
            if s == "\"\"" {
                String::new()
            } else {
                s.to_owned()
            }
        };
        let Some(pattern) = fields.first().map(|s| unquote(s)) else {
            return Err(bad("pattern", "missing"));
        };
        let direction = match fields.get(1).copied() {
            None | Some("out") => Direction::Out,
            Some("in") => Direction::In,
            Some("both") => Direction::Both,
            Some(_) => return Err(bad("direction", "expected in, out or both")),
        };
        let qos = match fields.get(2) {
            None => QoS::AtMostOnce,
            Some(q) => q
                .parse::<u8>()
                .ok()
                .and_then(QoS::from_level)
                .ok_or_else(|| bad("qos", "expected 0, 1 or 2"))?,
        };
        let (local, remote) = match fields.len() {
            0..=3 => (String::new(), String::new()),
            4 => return Err(bad("remote-prefix", "missing (give both prefixes)")),
            5 => (unquote(fields[3]), unquote(fields[4])),
            _ => return Err(bad("remote-prefix", "unexpected fields after it")),
        };
        TopicMap::new(&pattern, direction, qos, &local, &remote).map_err(|e| match e {
            BusError::InvalidMapping { field, reason, .. } => bad(field, &reason),
            other => other,
        })
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// The direction.
    pub fn direction(&self) -> Direction {
        self.direction
    }
    /// The QoS used on both sides.
    pub fn qos(&self) -> QoS {
        self.qos
    }
    /// The local (source) prefix.
    pub fn local_prefix(&self) -> &str {
        &self.local_prefix
    }
    /// The remote (sink) prefix.
    pub fn remote_prefix(&self) -> &str {
        &self.remote_prefix
    }
    /// The subscription on the local side: `local-prefix + pattern`.
    pub fn local_filter(&self) -> &TopicFilter {
        &self.local_filter
    }
    /// The subscription on the remote side: `remote-prefix + pattern`.
    pub fn remote_filter(&self) -> &TopicFilter {
        &self.remote_filter
    }

    /// The remote topic for a local one; `None` when it is not covered or unroutable.
    pub fn to_remote(&self, local_topic: &str) -> Option<String> {
        remap(
            &self.local_filter,
            &self.local_prefix,
            &self.remote_prefix,
            local_topic,
        )
    }

    /// The local topic for a remote one; `None` when it is not covered or unroutable.
    pub fn to_local(&self, remote_topic: &str) -> Option<String> {
        remap(
            &self.remote_filter,
            &self.remote_prefix,
            &self.local_prefix,
            remote_topic,
        )
    }
}

fn remap(filter: &TopicFilter, from: &str, to: &str, topic: &str) -> Option<String> {
    if !filter.matches(topic) {
        return None;
    }
    let mapped = match topic.strip_prefix(from) {
        Some(rest) => format!("{to}{rest}"),
        None => {
            // The parent of the prefix (matched through `#`): level for level, or unroutable.
            let parent = from.strip_suffix('/')?;
            let target = to.strip_suffix('/')?;
            if topic != parent {
                return None;
            }
            target.to_owned()
        }
    };
    validate_topic(&mapped).ok()?;
    Some(mapped)
}

impl FromStr for TopicMap {
    type Err = BusError;
    fn from_str(s: &str) -> BusResult<Self> {
        TopicMap::parse(s)
    }
}

impl fmt::Display for TopicMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| {
            if s.is_empty() {
                "\"\"".to_owned()
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "{} {} {} {} {}",
            q(&self.pattern),
            self.direction,
            self.qos,
            q(&self.local_prefix),
            q(&self.remote_prefix)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mosquitto_examples() {
        let m = TopicMap::parse("topic sensors/# out 1 local/ remote/").unwrap();
        assert_eq!(m.local_filter().as_str(), "local/sensors/#");
        assert_eq!(m.remote_filter().as_str(), "remote/sensors/#");
        assert_eq!(
            m.to_remote("local/sensors/a").as_deref(),
            Some("remote/sensors/a")
        );
        assert_eq!(
            m.to_local("remote/sensors/a").as_deref(),
            Some("local/sensors/a")
        );
        // Literal concatenation: no separator is added.
        let m = TopicMap::parse("x/# out 0 a b").unwrap();
        assert_eq!(m.local_filter().as_str(), "ax/#");
        assert_eq!(m.to_remote("ax/1").as_deref(), Some("bx/1"));
        // Empty pattern: the prefixes are the topics.
        let m = TopicMap::parse("\"\" out 1 local/topic remote/topic").unwrap();
        assert_eq!(m.to_remote("local/topic").as_deref(), Some("remote/topic"));
        // Defaults.
        let m = TopicMap::parse("a/#").unwrap();
        assert_eq!((m.direction(), m.qos()), (Direction::Out, QoS::AtMostOnce));
        assert_eq!(m.to_remote("a/b").as_deref(), Some("a/b"));
        assert_eq!(m.to_string(), "a/# out 0 \"\" \"\"");
    }

    #[test]
    fn parent_topic_choice() {
        let m = TopicMap::parse("# both 1 platone/dsotp/ /bal/").unwrap();
        assert_eq!(m.to_remote("platone/dsotp").as_deref(), Some("/bal"));
        assert_eq!(m.to_local("/bal").as_deref(), Some("platone/dsotp"));
        let m = TopicMap::parse("# out 1 platone/dsotp/ \"\"").unwrap();
        assert_eq!(m.to_remote("platone/dsotp"), None);
        assert_eq!(m.to_remote("platone/dsotp/x").as_deref(), Some("x"));
    }

    #[test]
    fn errors_name_the_field() {
        for (line, field) in [
            ("", "pattern"),
            ("a sideways", "direction"),
            ("a out 3", "qos"),
            ("a out 1 x/", "remote-prefix"),
            ("a out 1 x/ y/ z", "remote-prefix"),
            ("a out 1 x+ y/", "local-prefix"),
            ("a/#/b out 1", "pattern"),
            ("\"\" out 1 x \"\"", "pattern"),
            ("$share/g/a out 1", "pattern"),
        ] {
            match TopicMap::parse(line) {
                Err(BusError::InvalidMapping { field: f, .. }) => assert_eq!(f, field, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,60}", topic in "\\PC{0,30}") {
            if let Ok(m) = TopicMap::parse(&line) {
                let _ = m.to_remote(&topic);
                let _ = m.to_local(&topic);
                let _ = m.to_string();
            }
        }

        #[test]
        fn remap_round_trips(
            rest in proptest::collection::vec("[a-z0-9]{0,3}", 1..4),
            lp in "[a-z]{1,4}/", rp in "/?[a-z]{1,4}/",
        ) {
            let m = TopicMap::new("#", Direction::Both, QoS::AtLeastOnce, &lp, &rp).unwrap();
            let local = format!("{lp}{}", rest.join("/"));
            let remote = m.to_remote(&local).unwrap();
            prop_assert!(m.remote_filter().matches(&remote));
            prop_assert_eq!(m.to_local(&remote), Some(local));
        }

        #[test]
        fn display_parses_back(
            pattern in "[a-z]{1,3}(/[a-z+]{1,2}){0,2}(/#)?",
            lp in "([a-z]{1,3}/)?", rp in "([a-z]{1,3}/)?", q in 0u8..3, d in 0..3,
        ) {
            let d = [Direction::Out, Direction::In, Direction::Both][d as usize];
            if let Ok(m) = TopicMap::new(&pattern, d, QoS::from_level(q).unwrap(), &lp, &rp) {
                prop_assert_eq!(TopicMap::parse(&m.to_string()).unwrap(), m);
            }
        }
    }
}
