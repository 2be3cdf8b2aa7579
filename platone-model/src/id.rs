//! Validated identifiers.
//!
//! Every identifier is a newtype around a `String`, so a `PodId` can never be passed where a
//! `MeterId` is expected. Construction checks that the text is usable as a key everywhere the SDK
//! stores or transports it: not empty, at most [`MAX_ID_LEN`] bytes, no control characters and no
//! white space at either end. Identifiers are opaque: no personal data belongs in them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 256;

fn validate(kind: &'static str, text: &str) -> Result<()> {
    let cut = || text.chars().take(80).collect::<String>();
    if text.trim().is_empty() {
        return Err(ModelError::EmptyId { kind });
    }
    if text.len() > MAX_ID_LEN {
        return Err(ModelError::InvalidId {
            kind,
            value: cut(),
            reason: "longer than 256 bytes",
        });
    }
    if text.chars().any(char::is_control) {
        return Err(ModelError::InvalidId {
            kind,
            value: cut(),
            reason: "contains a control character",
        });
    }
    if text.trim() != text {
        return Err(ModelError::InvalidId {
            kind,
            value: cut(),
            reason: "begins or ends with white space",
        });
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `text` and wraps it.
            pub fn new(text: impl Into<String>) -> Result<Self> {
                let text = text.into();
                validate(stringify!($name), &text)?;
                Ok(Self(text))
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Gives the text back.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ModelError;
            fn from_str(text: &str) -> Result<Self> {
                Self::new(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ModelError;
            fn try_from(text: String) -> Result<Self> {
                Self::new(text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ModelError;
            fn try_from(text: &str) -> Result<Self> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

identifier!(
    /// A Point of Delivery: the grid connection point a customer's supply is metered at
    /// (in Europe often the POD/EAN code).
    PodId
);
identifier!(
    /// A meter, usually the CIM `Meter.mRID` or the meter's serial number.
    MeterId
);
identifier!(
    /// A field device that sends data: a smart meter's Light Node, a PMU, a data server.
    /// Devices sign what they send; the key registry maps devices to keys.
    DeviceId
);
identifier!(
    /// A market or data-sharing participant: a DSO, TSO, aggregator, customer or operator.
    ParticipantId
);
identifier!(
    /// A CIM `UsagePoint`: the logical point where a service is delivered and metered.
    UsagePointId
);
identifier!(
    /// A grid component a value refers to, such as a bus, line or transformer name reported
    /// by a PMU.
    ComponentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_identifiers() {
        let pod = PodId::new("IT001E12345678").unwrap();
        assert_eq!(pod.as_str(), "IT001E12345678");
        assert_eq!(pod.to_string(), "IT001E12345678");
        assert!(MeterId::new("a1b2c3d4-0000-4000-8000-000000000001").is_ok());
    }

    #[test]
    fn rejects_empty_and_blank() {
        assert_eq!(PodId::new(""), Err(ModelError::EmptyId { kind: "PodId" }));
        assert_eq!(
            DeviceId::new("   "),
            Err(ModelError::EmptyId { kind: "DeviceId" })
        );
    }

    #[test]
    fn rejects_control_characters_padding_and_length() {
        assert!(matches!(
            MeterId::new("m\n1"),
            Err(ModelError::InvalidId {
                kind: "MeterId",
                ..
            })
        ));
        assert!(matches!(
            MeterId::new(" m1"),
            Err(ModelError::InvalidId { reason, .. }) if reason.contains("white space")
        ));
        assert!(MeterId::new("x".repeat(MAX_ID_LEN)).is_ok());
        assert!(MeterId::new("x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn serde_is_a_plain_string_and_validates() {
        let id = ParticipantId::new("dso-1").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"dso-1\"");
        let back: ParticipantId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        let err = serde_json::from_str::<ParticipantId>("\"\"").unwrap_err();
        assert!(err.to_string().contains("ParticipantId must not be empty"));
    }
}
