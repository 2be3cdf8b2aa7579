//! The `platone-cert/1` canonical encoding of a record: RFC 8785 (JSON Canonicalization Scheme)
//! over the record's JSON form, and the [`Certifiable`] trait typed records implement.
//!
//! The rules (see `docs/certification.md` for the full, versioned text):
//! - object members sorted by their names' UTF-16 code units, duplicate names rejected;
//! - no whitespace;
//! - strings escaped minimally: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other code points
//!   below U+0020 as `\u00xx` (lower-case hex), everything else as its own UTF-8 bytes;
//! - numbers as IEEE 754 doubles printed by ECMAScript's `Number.prototype.toString`; an
//!   integer written without fraction or exponent beyond ±(2^53 − 1) is accepted only when it is
//!   exactly what ECMAScript prints for its nearest double (`9007199254740993` is refused, it
//!   would silently become `9007199254740992`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use platone_model::{Measurement, SetPoint, Timestamp};
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::error::{CertifyError, Result};

mod scan;

/// The name and version of the canonical encoding this crate implements.
pub const CANONICAL_ENCODING: &str = "platone-cert/1";

/// The largest integer magnitude every integer up to which is exactly a double (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A record that can be certified: it has one canonical byte form that anyone recomputes.
///
/// ```
/// use platone_certify::Certifiable;
/// let record = serde_json::json!({"b": 1.50, "a": "x"});
/// assert_eq!(record.canonical_bytes()?, br#"{"a":"x","b":1.5}"#);
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
pub trait Certifiable {
    /// Appends the record's `platone-cert/1` canonical bytes to `out`.
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<()>;

    /// The record's `platone-cert/1` canonical bytes.
    fn canonical_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        self.write_canonical(&mut out)?;
        Ok(out)
    }

    /// The instant the record speaks of, when it has one (used for a batch's first and last
    /// timestamps).
    fn timestamp(&self) -> Option<Timestamp> {
        None
    }
}

impl Certifiable for serde_json::Value {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<()> {
        write_json_value(self, out)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        self.get("timestamp")
            .and_then(|t| t.as_str())
            .and_then(|t| platone_model::parse_timestamp(t).ok())
    }
}

impl Certifiable for Measurement {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<()> {
        let value =
            serde_json::to_value(self).map_err(|e| CertifyError::Serialise(e.to_string()))?;
        write_json_value(&value, out)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        Some(self.timestamp)
    }
}

impl Certifiable for SetPoint {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<()> {
        let value =
            serde_json::to_value(self).map_err(|e| CertifyError::Serialise(e.to_string()))?;
        write_json_value(&value, out)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        Some(self.valid_from)
    }
}

/// An arbitrary JSON record, parsed without copying its strings, ready to be canonicalised.
///
/// ```
/// use platone_certify::{Certifiable, JsonRecord};
/// let record = JsonRecord::parse(r#"{ "value": 1E3, "source": "pmu-1" }"#)?;
/// assert_eq!(record.canonical_bytes()?, br#"{"source":"pmu-1","value":1000}"#);
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecord<'a> {
    root: Node<'a>,
}

impl<'a> JsonRecord<'a> {
    /// Parses one JSON text.
    pub fn parse(text: &'a str) -> Result<Self> {
        let root: Node<'a> = serde_json::from_str(text).map_err(|e| CertifyError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Ok(JsonRecord { root })
    }

    /// The string value of a top-level member, when the record is an object that has one.
    pub fn string_member(&self, name: &str) -> Option<&str> {
        match &self.root {
            Node::Object(members) => members.iter().find_map(|(k, v)| match v {
                Node::String(s) if k == name => Some(s.as_ref()),
                _ => None,
            }),
            _ => None,
        }
    }
}

impl Certifiable for JsonRecord<'_> {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<()> {
        write_node(&self.root, out).map_err(PathError::into_error)
    }

    fn timestamp(&self) -> Option<Timestamp> {
        self.string_member("timestamp")
            .and_then(|t| platone_model::parse_timestamp(t).ok())
    }
}

/// Canonicalises one JSON text into `out`: the same bytes as [`JsonRecord::parse`] then
/// [`Certifiable::write_canonical`], and the same errors, but in a single pass with no tree
/// for ordinary records (the fast path steps aside to the tree for the rare cases: escaped
/// member names, integers of 16 digits or more, duplicate names, errors). On error nothing is
/// appended to `out`.
///
/// ```
/// let mut out = Vec::new();
/// platone_certify::canonicalize_json(r#"{"b": [1.50, "\u00e9"], "a": -0}"#, &mut out)?;
/// assert_eq!(out, "{\"a\":0,\"b\":[1.5,\"é\"]}".as_bytes());
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
pub fn canonicalize_json(text: &str, out: &mut Vec<u8>) -> Result<()> {
    if scan::canonicalize(text, out) {
        return Ok(());
    }
    let mark = out.len();
    let result = JsonRecord::parse(text).and_then(|record| record.write_canonical(out));
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

/// The tree-based reference path of [`canonicalize_json`] (what the single pass must agree
/// with); public for tests and benchmarks.
#[doc(hidden)]
pub fn canonicalize_json_reference(text: &str, out: &mut Vec<u8>) -> Result<()> {
    JsonRecord::parse(text)?.write_canonical(out)
}

/// A parsed JSON value borrowing its strings from the input where it can.
#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Integer(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Integer(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value = map.next_value()?;
            members.push((key.0, value));
        }
        Ok(Node::Object(members))
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// An error found while writing, with the path to it built on the way out.
struct PathError {
    segments: Vec<String>,
    message: String,
}

impl PathError {
    fn new(message: impl Into<String>) -> Self {
        PathError {
            segments: Vec::new(),
            message: message.into(),
        }
    }

    fn within(mut self, segment: String) -> Self {
        self.segments.push(segment);
        self
    }

    fn into_error(self) -> CertifyError {
        let mut path = String::from("$");
        for segment in self.segments.iter().rev() {
            path.push_str(segment);
        }
        CertifyError::Canonical {
            path,
            message: self.message,
        }
    }
}

fn member_segment(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        format!(".{name}")
    } else {
        format!("[{}]", serde_json::Value::String(name.to_owned()))
    }
}

/// Compares member names by UTF-16 code units, as RFC 8785 §3.2.3 requires.
pub fn compare_names(a: &str, b: &str) -> Ordering {
    if a.is_ascii() || b.is_ascii() {
        // An ASCII code unit is below every non-ASCII unit in both UTF-8 and UTF-16, so byte
        // order and UTF-16 order agree whenever one side is pure ASCII.
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

fn write_node(node: &Node<'_>, out: &mut Vec<u8>) -> Result<(), PathError> {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Integer(i) => write_integer(*i, out)?,
        Node::Float(f) => write_number(*f, out)?,
        Node::String(s) => write_string(s, out),
        Node::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_node(item, out).map_err(|e| e.within(format!("[{index}]")))?;
            }
            out.push(b']');
        }
        Node::Object(members) => {
            let mut sorted: Vec<&(Cow<'_, str>, Node<'_>)> = members.iter().collect();
            sorted.sort_unstable_by(|a, b| compare_names(&a.0, &b.0));
            out.push(b'{');
            for (index, (name, value)) in sorted.iter().enumerate() {
                if index > 0 {
                    if sorted[index - 1].0 == *name {
                        return Err(PathError::new(
                            "duplicate member name (RFC 8785 needs I-JSON)",
                        )
                        .within(member_segment(name)));
                    }
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_node(value, out).map_err(|e| e.within(member_segment(name)))?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_json_value(value: &serde_json::Value, out: &mut Vec<u8>) -> Result<()> {
    write_value(value, out).map_err(PathError::into_error)
}

fn write_value(value: &serde_json::Value, out: &mut Vec<u8>) -> Result<(), PathError> {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_integer(i128::from(i), out)?;
            } else if let Some(u) = n.as_u64() {
                write_integer(i128::from(u), out)?;
            } else if let Some(f) = n.as_f64() {
                write_number(f, out)?;
            } else {
                return Err(PathError::new("number is not representable as a double"));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out).map_err(|e| e.within(format!("[{index}]")))?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
            sorted.sort_unstable_by(|a, b| compare_names(a.0, b.0));
            out.push(b'{');
            for (index, (name, item)) in sorted.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(item, out).map_err(|e| e.within(member_segment(name)))?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_integer(i: i128, out: &mut Vec<u8>) -> Result<(), PathError> {
    if i.unsigned_abs() > u128::from(MAX_SAFE_INTEGER) {
        // Accepted only when it is exactly the text ECMAScript prints for the double nearest
        // to it (so canonical output always reads back to itself); otherwise reading it as a
        // double would silently change it.
        let mut buffer = ryu_js::Buffer::new();
        let text = buffer.format_finite(i as f64);
        if text != i.to_string() {
            return Err(PathError::new(format!(
                "integer {i} is not exactly a double (it would read back as {text}); \
                 write it as a string"
            )));
        }
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    // Exactly representable, and ECMAScript prints such doubles as plain integers.
    let mut buffer = itoa_buffer();
    let text = format_i64(i as i64, &mut buffer);
    out.extend_from_slice(text);
    Ok(())
}

fn itoa_buffer() -> [u8; 24] {
    [0u8; 24]
}

fn format_i64(v: i64, buffer: &mut [u8; 24]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut pos = buffer.len();
    loop {
        pos -= 1;
        buffer[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        pos -= 1;
        buffer[pos] = b'-';
    }
    &buffer[pos..]
}

fn write_number(f: f64, out: &mut Vec<u8>) -> Result<(), PathError> {
    if !f.is_finite() {
        return Err(PathError::new("NaN and infinities have no JSON form"));
    }
    if f == 0.0 {
        // ECMAScript prints both zeros as "0".
        out.push(b'0');
        return Ok(());
    }
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format_finite(f).as_bytes());
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes one character as it stands inside a canonical string.
fn write_escaped_char(c: char, out: &mut Vec<u8>) {
    let mut utf8 = [0u8; 4];
    write_string_body(c.encode_utf8(&mut utf8), out);
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    write_string_body(s, out);
    out.push(b'"');
}

fn write_string_body(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        let mut out = Vec::new();
        canonicalize_json(text, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc8785_numbers_match_ecmascript() {
        // RFC 8785 Appendix B samples (IEEE 754 value → ECMAScript text).
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("1e0", "1"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("9007199254740991", "9007199254740991"),
            ("-9007199254740991", "-9007199254740991"),
            ("295147905179352830000", "295147905179352830000"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("333333333.3333333", "333333333.3333333"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000001000", "0.000001"),
            ("1.0", "1"),
            ("123456789012345680000", "123456789012345680000"),
        ];
        for (input, expected) in cases {
            assert_eq!(canon(input), expected, "{input}");
        }
    }

    #[test]
    fn rfc8785_example_object() {
        // RFC 8785 §3.2.2 example input and output.
        let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(canon(input), expected);
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // RFC 8785 §3.2.3 sorting example.
        let input = "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}";
        let out = canon(input);
        let values: Vec<&str> = [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh",
        ]
        .to_vec();
        let mut last = 0;
        for v in values {
            let at = out.find(v).unwrap();
            assert!(at >= last, "{v} out of order in {out}");
            last = at;
        }
    }

    #[test]
    fn typed_value_and_text_agree() {
        let text = r#"{"z":[1,2.5,"a\u0001"],"a":{"y":null,"x":true},"m":-12}"#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(value.canonical_bytes().unwrap(), canon(text).into_bytes());
    }

    #[test]
    fn unsafe_integers_and_duplicates_are_refused_with_a_path() {
        let mut out = Vec::new();
        let err = canonicalize_json(r#"{"a":{"b":[1,9007199254740993]}}"#, &mut out).unwrap_err();
        assert!(err.to_string().contains("$.a.b[1]"), "{err}");
        let err = canonicalize_json(r#"{"a":1,"a":2}"#, &mut out).unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
        let err = canonicalize_json("{\"a\":", &mut out).unwrap_err();
        assert!(matches!(err, CertifyError::Json { line: 1, .. }), "{err}");
    }

    #[test]
    fn measurement_is_certifiable() {
        let m: Measurement = serde_json::from_str(
            r#"{"source":"pmu-1","timestamp":"2020-10-01T00:00:00Z","kind":"voltage","unit":"V","value":230.25}"#,
        )
        .unwrap();
        let bytes = m.canonical_bytes().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("{\"accumulation\":"), "{text}");
        assert!(text.contains("\"value\":230.25"), "{text}");
        assert_eq!(m.timestamp(), Some(m.timestamp));
        // Re-canonicalising the canonical text is the identity.
        assert_eq!(canon(&text), text);
    }
}
