//! The single-pass `platone-cert/1` canonicaliser for JSON text.
//!
//! It reads the text once and writes the canonical form as it goes: values straight to the
//! output, object members in input order, and only when an object's names are not already in
//! order does it move that object's members (a copy of that object's bytes, no tree). Member
//! names are compared as they stand in the input, borrowed, never decoded.
//!
//! It takes only what it can canonicalise with certainty: a member name with an escape, an
//! integer of 16 or more digits, a number that underflows to zero or overflows, a lone surrogate,
//! a duplicate name, nesting deeper than [`MAX_DEPTH`], and every syntax error make it step aside
//! (it returns `false` and leaves the output as it found it). The caller then takes the
//! tree-based path, which is the reference and words the errors. The property tests check that
//! both paths write the same bytes wherever this one accepts.

use std::cell::RefCell;
use std::cmp::Ordering;

use super::{compare_names, write_escaped_char};

/// The deepest nesting of arrays and objects this path takes (the tree path allows more).
pub(super) const MAX_DEPTH: usize = 100;

/// An object member already written to the output: its name in the input text and its
/// `"name":value` bytes in the output.
#[derive(Debug, Clone, Copy)]
struct Member {
    name_start: usize,
    name_end: usize,
    /// The name's first 8 bytes, big-endian, zero-padded: comparing these compares the names
    /// by bytes as far as they go (a raw name has no NUL byte).
    prefix: u64,
    /// Whether the name is all ASCII.
    ascii: bool,
    start: usize,
    end: usize,
}

/// Buffers reused from one record to the next on a thread.
#[derive(Debug, Default)]
struct Scratch {
    members: Vec<Member>,
    bytes: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Writes the canonical form of `text` to `out` and returns `true`, or returns `false` with
/// `out` unchanged when the text needs the tree-based path.
pub(super) fn canonicalize(text: &str, out: &mut Vec<u8>) -> bool {
    let mark = out.len();
    let done = SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => run(text, out, &mut scratch),
        Err(_) => run(text, out, &mut Scratch::default()),
    });
    if done.is_none() {
        out.truncate(mark);
        return false;
    }
    true
}

fn run(text: &str, out: &mut Vec<u8>, scratch: &mut Scratch) -> Option<()> {
    scratch.members.clear();
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        scratch,
    };
    scan.value(out, 0)?;
    scan.skip_whitespace();
    (scan.pos == scan.bytes.len()).then_some(())
}

/// `None` means: step aside.
type Step = Option<()>;

struct Scan<'t, 's> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    scratch: &'s mut Scratch,
}

impl Scan<'_, '_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Step {
        self.skip_whitespace();
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.string(out)
            }
            b'-' | b'0'..=b'9' => self.number(out),
            b'{' => self.object(out, depth + 1),
            b'[' => self.array(out, depth + 1),
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'n' => self.literal(b"null", out),
            _ => None,
        }
    }

    fn literal(&mut self, word: &'static [u8], out: &mut Vec<u8>) -> Step {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        out.extend_from_slice(word);
        Some(())
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Step {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        out.push(b'{');
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
            out.push(b'}');
            return Some(());
        }
        let body = out.len();
        let base = self.scratch.members.len();
        let mut in_order = true;
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            self.pos += 1;
            let name_start = self.pos;
            let name_end = self.plain_run()?;
            if self.bytes.get(name_end) != Some(&b'"') {
                // An escaped name: the tree path decodes it.
                return None;
            }
            self.pos = name_end;
            let name = self.bytes.get(name_start..name_end)?;
            let high = name.iter().fold(0u8, |acc, &c| acc | c);
            let mut prefix = [0u8; 8];
            let head = name.len().min(8);
            prefix.get_mut(..head)?.copy_from_slice(name.get(..head)?);
            self.pos += 1;
            self.skip_whitespace();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            if out.len() > body {
                out.push(b',');
            }
            let start = out.len();
            out.extend_from_slice(self.bytes.get(name_start - 1..=name_end)?);
            out.push(b':');
            self.value(out, depth)?;
            let member = Member {
                name_start,
                name_end,
                prefix: u64::from_be_bytes(prefix),
                ascii: high < 0x80,
                start,
                end: out.len(),
            };
            if in_order
                && let Some(previous) = self.scratch.members.get(base..)?.last()
                && order(self.text, previous, &member) != Ordering::Less
            {
                in_order = false;
            }
            self.scratch.members.push(member);
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !in_order {
            self.reorder(out, body, base)?;
        }
        self.scratch.members.truncate(base);
        out.push(b'}');
        Some(())
    }

    /// Rewrites the members of the object whose body starts at `body` in name order.
    fn reorder(&mut self, out: &mut Vec<u8>, body: usize, base: usize) -> Step {
        let text = self.text;
        let Scratch { members, bytes } = &mut *self.scratch;
        let members = members.get_mut(base..)?;
        members.sort_unstable_by(|a, b| order(text, a, b));
        if members
            .windows(2)
            .any(|w| order(text, &w[0], &w[1]) == Ordering::Equal)
        {
            // Duplicate names: the tree path reports them with their path.
            return None;
        }
        bytes.clear();
        bytes.extend_from_slice(out.get(body..)?);
        out.truncate(body);
        for (index, m) in members.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(bytes.get(m.start - body..m.end - body)?);
        }
        Some(())
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Step {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        out.push(b'[');
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, depth)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    out.push(b',');
                }
                b']' => {
                    self.pos += 1;
                    out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string value, from just after its opening quote.
    fn string(&mut self, out: &mut Vec<u8>) -> Step {
        let open = self.pos - 1;
        let end = self.plain_run()?;
        if self.bytes.get(end) == Some(&b'"') {
            // No escape: the literal is already canonical, quotes included.
            out.extend_from_slice(self.bytes.get(open..=end)?);
            self.pos = end + 1;
            return Some(());
        }
        out.extend_from_slice(self.bytes.get(open..end)?);
        self.pos = end;
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    out.push(b'"');
                    return Some(());
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(out)?;
                }
                _ => {
                    let end = self.plain_run()?;
                    out.extend_from_slice(self.bytes.get(self.pos..end)?);
                    self.pos = end;
                }
            }
        }
    }

    /// Where the run of plain string bytes starting at the current position ends: at a quote
    /// or a backslash (`None` at a control character or the end of the text).
    #[inline]
    fn plain_run(&self) -> Option<usize> {
        let rest = self.bytes.get(self.pos..)?;
        let n = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        let end = self.pos + n;
        if *rest.get(n)? < 0x20 {
            return None;
        }
        Some(end)
    }

    /// One escape, from just after its backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> Step {
        let e = self.peek()?;
        self.pos += 1;
        match e {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.push(b'/'),
            b'b' => out.extend_from_slice(b"\\b"),
            b'f' => out.extend_from_slice(b"\\f"),
            b'n' => out.extend_from_slice(b"\\n"),
            b'r' => out.extend_from_slice(b"\\r"),
            b't' => out.extend_from_slice(b"\\t"),
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2)? != b"\\u" {
                            return None;
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    other => other,
                };
                write_escaped_char(char::from_u32(code)?, out);
            }
            _ => return None,
        }
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut value = 0u32;
        for &d in digits {
            value = value * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(value)
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Step {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let mut nonzero = false;
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                nonzero = true;
                self.pos += 1;
                self.digits();
            }
            _ => return None,
        }
        let int_digits = self.pos - int_start;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            let from = self.pos;
            self.digits();
            if self.pos == from {
                return None;
            }
            nonzero |= self.bytes.get(from..self.pos)?.iter().any(|&d| d != b'0');
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let from = self.pos;
            self.digits();
            if self.pos == from {
                return None;
            }
        }
        let text = self.text.get(start..self.pos)?;
        if integral {
            // Up to 15 digits is below 2^53: exactly a double, printed by ECMAScript as written
            // (JSON has no leading zeros), except that `-0` is `0`.
            if int_digits > 15 {
                return None;
            }
            if nonzero {
                out.extend_from_slice(text.as_bytes());
            } else {
                out.push(b'0');
            }
            return Some(());
        }
        let value: f64 = text.parse().ok()?;
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            if nonzero {
                // Underflow: the tree path decides.
                return None;
            }
            out.push(b'0');
            return Some(());
        }
        let mut buffer = ryu_js::Buffer::new();
        out.extend_from_slice(buffer.format_finite(value).as_bytes());
        Some(())
    }

    #[inline]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

/// The RFC 8785 order of two member names of `text`.
#[inline]
fn order(text: &str, a: &Member, b: &Member) -> Ordering {
    let name = |m: &Member| text.get(m.name_start..m.name_end).unwrap_or_default();
    if a.ascii || b.ascii {
        // Byte order is UTF-16 order when either side is ASCII (see `compare_names`).
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| name(a).as_bytes().cmp(name(b).as_bytes()))
    } else {
        compare_names(name(a), name(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(text: &str) -> Option<String> {
        let mut out = b"prefix".to_vec();
        if canonicalize(text, &mut out) {
            Some(String::from_utf8(out.split_off(6)).unwrap())
        } else {
            assert_eq!(out, b"prefix", "{text}: output not restored");
            None
        }
    }

    fn reference(text: &str) -> Option<String> {
        let mut out = Vec::new();
        super::super::canonicalize_json_reference(text, &mut out).ok()?;
        Some(String::from_utf8(out).unwrap())
    }

    #[test]
    fn ordinary_records_take_the_single_pass_and_agree_with_the_tree() {
        let cases = [
            r#"{"source":"pmu-1","timestamp":"2024-01-01T00:00:00.000Z","value":230.25,"quality":[]}"#,
            r#" { "b" : [ 1 , 2.50 , -0 , -0.0 , 1e2 , 1E-7 , 123456789012345 ] , "a" : { "d" : null , "c" : true , "e" : false } } "#,
            r#"{"z":{"y":{"x":[{"b":1,"a":2},{"a":3,"b":4}]}},"a":"\u20ac\ud83d\ude00\u0001\"\\\/\b\f\n\r\t"}"#,
            "{\"ö\":1}",
            "{\"€\":1,\"1\":3,\"😀\":4,\"\u{80}\":5,\"ö\":6,\"\u{fb33}\":7}",
            "[]",
            "{}",
            "\"x\"",
            "-12",
            "0.000001000",
            "333333333.33333329",
            "[1e21,1e20,5e-324,1.7976931348623157e308]",
        ];
        for text in cases {
            let ours = fast(text).unwrap_or_else(|| panic!("{text} stepped aside"));
            assert_eq!(Some(ours), reference(text), "{text}");
        }
    }

    #[test]
    fn unusual_or_invalid_text_steps_aside() {
        let cases = [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1,\"a\":2}",
            "{\"b\":1,\"a\":2,\"b\":3}",
            "{\"\\u0061\":1}",
            "9007199254740993",
            "1234567890123456",
            "1e400",
            "1e-400",
            "01",
            "1.",
            "-",
            ".5",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"a\u{1}b\"",
            "tru",
            "nul",
            "[1] 2",
            "\u{feff}1",
        ];
        for text in cases {
            assert_eq!(fast(text), None, "{text:?} should step aside");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(fast(&deep), None);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(fast(&ok), reference(&ok));
    }
}
