//! Deterministic IRIs under a base: identifiers are percent-encoded so that any identifier
//! gives a valid IRI and distinct identifiers give distinct IRIs.

use crate::error::{Result, SarefError};

/// The base every minted IRI starts with, e.g. `https://data.example.org/grid/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base(String);

impl Base {
    /// Checks `iri` is an absolute IRI ending in `/` or `#`.
    pub fn new(iri: impl Into<String>) -> Result<Self> {
        let iri = iri.into();
        let bad = |reason: &str| SarefError::InvalidBase {
            iri: iri.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        if !(iri.ends_with('/') || iri.ends_with('#')) {
            return Err(bad("must end with `/` or `#`"));
        }
        oxrdf::NamedNode::new(iri.as_str()).map_err(|e| bad(&e.to_string()))?;
        Ok(Base(iri))
    }

    /// The IRI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Base {
    fn default() -> Self {
        Base(crate::DEFAULT_BASE.to_string())
    }
}

/// Appends `text` to `out`, percent-encoding every byte that is not an RFC 3986 unreserved
/// character (`A-Z a-z 0-9 - . _ ~`).
pub(crate) fn push_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    // Identifiers are mostly unreserved characters only: copy them in one go.
    if text.bytes().all(unreserved) {
        out.push_str(text);
        return;
    }
    for &b in text.as_bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// Decodes what [`push_encoded`] wrote; `None` when the text is not valid percent-encoded UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_keeps_unreserved() {
        for id in ["MTR-0001", "a b/c#d?e%f", "Zähler 1", "x|y", "~._-"] {
            let mut s = String::new();
            push_encoded(&mut s, id);
            assert!(s.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(decode(&s).unwrap(), id);
        }
        let mut s = String::new();
        push_encoded(&mut s, "MTR-0001");
        assert_eq!(s, "MTR-0001");
        assert!(decode("%zz").is_none());
        assert!(decode("%C3").is_none());
    }

    #[test]
    fn base_must_be_absolute_and_end_with_a_separator() {
        assert!(Base::new("https://data.example.org/grid/").is_ok());
        assert!(Base::new("urn:example:grid#").is_ok());
        assert!(Base::new("https://data.example.org/grid").is_err());
        assert!(Base::new("relative/").is_err());
        assert!(Base::new("https://exa mple.org/").is_err());
    }
}
