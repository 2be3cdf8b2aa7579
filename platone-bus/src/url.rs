//! Bus URLs: `mqtt://`, `mqtts://`, `kafka://` and `memory://`, parsed in one place.

use std::fmt;

use crate::error::{BusError, BusResult};

/// Where a bus is, as a URL.
///
/// * `mqtt://[user[:password]@]host[:port]` (port 1883 by default) and `mqtts://…` (TLS,
///   port 8883); an IPv6 address goes in brackets (`mqtt://[::1]:1883`);
/// * `kafka://host[:port][,host[:port]…]` (bootstrap servers, port 9092 by default);
/// * `memory://` (an in-process bus).
///
/// A trailing `/` is ignored. Errors name the URL and the byte offset at fault.
///
/// ```
/// use platone_bus::BusUrl;
/// let url = BusUrl::parse("mqtts://bridge:secret@broker.example").unwrap();
/// assert_eq!(
///     url,
///     BusUrl::Mqtt {
///         host: "broker.example".into(),
///         port: 8883,
///         tls: true,
///         credentials: Some(("bridge".into(), "secret".into())),
///     }
/// );
/// assert!(BusUrl::parse("mqtt://broker:18x3").unwrap_err().to_string().contains("byte 14"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusUrl {
    /// An MQTT broker.
    Mqtt {
        /// Host name or address (without brackets).
        host: String,
        /// Port.
        port: u16,
        /// `mqtts://`.
        tls: bool,
        /// User name and password from the URL.
        credentials: Option<(String, String)>,
    },
    /// A Kafka cluster.
    Kafka {
        /// The bootstrap servers, `host:port` each (default port filled in), in the given order.
        servers: Vec<String>,
    },
    /// An in-process [`MemoryBus`](crate::MemoryBus).
    Memory,
}

fn bad(url: &str, offset: usize, reason: impl fmt::Display) -> BusError {
    BusError::Config {
        field: "url".into(),
        reason: format!("{url:?} at byte {offset}: {reason}"),
    }
}

/// `host[:port]` starting at byte `at` of `url`.
fn host_port(url: &str, at: usize, text: &str, default_port: u16) -> BusResult<(String, u16)> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let Some(end) = inner.find(']') else {
            return Err(bad(url, at, "`[` without a closing `]`"));
        };
        let after = &inner[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some((p, at + end + 3)),
            None if after.is_empty() => None,
            None => return Err(bad(url, at + end + 2, "expected `:PORT` after `]`")),
        };
        (&inner[..end], port)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some((p, at + h.len() + 1))),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(bad(url, at, "no host"));
    }
    if let Some(i) = host.find(|c: char| c.is_whitespace() || "/?#@".contains(c)) {
        return Err(bad(url, at + i, "character not allowed in a host"));
    }
    let port = match port {
        None => default_port,
        Some((p, offset)) => p
            .parse::<u16>()
            .map_err(|_| bad(url, offset, format!("port {p:?} is not a number 0-65535")))?,
    };
    Ok((host.to_owned(), port))
}

impl BusUrl {
    /// Parses a bus URL (see the [type](BusUrl) docs).
    pub fn parse(url: &str) -> BusResult<BusUrl> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(bad(
                url,
                0,
                "expected mqtt://, mqtts://, kafka:// or memory://",
            ));
        };
        let at = scheme.len() + 3;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        match scheme {
            "memory" => {
                if rest.is_empty() {
                    Ok(BusUrl::Memory)
                } else {
                    Err(bad(url, at, "memory:// takes nothing after the scheme"))
                }
            }
            "mqtt" | "mqtts" => {
                let tls = scheme == "mqtts";
                let (credentials, hostport, host_at) = match rest.rsplit_once('@') {
                    Some((user, hostport)) => {
                        let (u, p) = user.split_once(':').unwrap_or((user, ""));
                        if u.is_empty() {
                            return Err(bad(url, at, "empty user name before `@`"));
                        }
                        (
                            Some((u.to_owned(), p.to_owned())),
                            hostport,
                            at + user.len() + 1,
                        )
                    }
                    None => (None, rest, at),
                };
                let (host, port) =
                    host_port(url, host_at, hostport, if tls { 8883 } else { 1883 })?;
                Ok(BusUrl::Mqtt {
                    host,
                    port,
                    tls,
                    credentials,
                })
            }
            "kafka" => {
                let mut servers = Vec::new();
                let mut offset = at;
                for s in rest.split(',') {
                    let (host, port) = host_port(url, offset, s, 9092)?;
                    servers.push(if host.contains(':') {
                        format!("[{host}]:{port}")
                    } else {
                        format!("{host}:{port}")
                    });
                    offset += s.len() + 1;
                }
                Ok(BusUrl::Kafka { servers })
            }
            other => Err(bad(
                url,
                0,
                format!("unknown scheme {other:?}; expected mqtt, mqtts, kafka or memory"),
            )),
        }
    }
}

impl std::str::FromStr for BusUrl {
    type Err = BusError;
    fn from_str(s: &str) -> BusResult<BusUrl> {
        BusUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::BusUrl;
    use proptest::prelude::*;

    fn mqtt(host: &str, port: u16, tls: bool) -> BusUrl {
        BusUrl::Mqtt {
            host: host.into(),
            port,
            tls,
            credentials: None,
        }
    }

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            BusUrl::parse("mqtt://127.0.0.1:1884").unwrap(),
            mqtt("127.0.0.1", 1884, false)
        );
        assert_eq!(BusUrl::parse("mqtt://h/").unwrap(), mqtt("h", 1883, false));
        assert_eq!(BusUrl::parse("mqtts://h").unwrap(), mqtt("h", 8883, true));
        assert_eq!(
            BusUrl::parse("mqtt://[::1]:99").unwrap(),
            mqtt("::1", 99, false)
        );
        assert_eq!(
            BusUrl::parse("mqtt://[::1]").unwrap(),
            mqtt("::1", 1883, false)
        );
        assert_eq!(
            BusUrl::parse("mqtt://u:p:q@h:1").unwrap(),
            BusUrl::Mqtt {
                host: "h".into(),
                port: 1,
                tls: false,
                credentials: Some(("u".into(), "p:q".into()))
            }
        );
        assert_eq!(
            BusUrl::parse("kafka://a,b:9093,[::1]").unwrap(),
            BusUrl::Kafka {
                servers: vec!["a:9092".into(), "b:9093".into(), "[::1]:9092".into()]
            }
        );
        assert_eq!(BusUrl::parse("memory://").unwrap(), BusUrl::Memory);
    }

    #[test]
    fn errors_say_where() {
        let e = |u: &str| BusUrl::parse(u).unwrap_err().to_string();
        assert!(
            e("amqp://x").contains("unknown scheme \"amqp\""),
            "{}",
            e("amqp://x")
        );
        assert!(e("broker:1883").contains("expected mqtt://"));
        assert!(
            e("mqtt://h:70000").contains("at byte 9"),
            "{}",
            e("mqtt://h:70000")
        );
        assert!(e("mqtt://:1883").contains("no host"));
        assert!(
            e("kafka://a:1,:2").contains("at byte 12: no host"),
            "{}",
            e("kafka://a:1,:2")
        );
        assert!(e("mqtt://[::1").contains("closing"));
        assert!(
            e("mqtt://a/b:1").contains("at byte 8"),
            "{}",
            e("mqtt://a/b:1")
        );
        assert!(e("memory://x").contains("nothing after"));
    }

    proptest! {
        /// Untrusted text never panics the parser, and an MQTT URL it accepts round-trips.
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = BusUrl::parse(&s);
        }

        #[test]
        fn host_and_port_round_trip(host in "[a-z][a-z0-9.-]{0,20}", port: u16, tls: bool) {
            let scheme = if tls { "mqtts" } else { "mqtt" };
            let url = format!("{scheme}://{host}:{port}");
            prop_assert_eq!(BusUrl::parse(&url).unwrap(), mqtt(&host, port, tls));
        }
    }
}
