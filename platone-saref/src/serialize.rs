//! N-Triples and Turtle written straight into a byte buffer.
//!
//! The mapper emits a few million triples per second; `oxttl`'s serializers format each term
//! through `fmt::Display` (one `write!` per piece, and in Turtle an owned copy of every subject
//! and predicate and an allocated string per prefixed name), which costs several times the
//! mapping itself. These writers produce **the same bytes as `oxttl` 0.2** (N-Triples:
//! `NTriplesSerializer`; Turtle: `TurtleSerializer` with the same prefixes, no base IRI): IRIs
//! are copied as they are, literals are escaped only where they hold a character that needs it,
//! numbers of the Turtle shorthand types are written bare, and subjects and predicates repeat
//! as `;` and `,`. The tests compare both byte for byte on arbitrary triples.
//!
//! Output collects in an internal buffer that the writer gets in one `write_all` per value
//! written ([`RdfWriter`](crate::RdfWriter) calls `drain` after each), so each reading reaches
//! the writer as it is written and an unbuffered writer costs one call per reading.

use std::io::{self, Write};

use oxrdf::{LiteralRef, NamedNodeRef, NamedOrBlankNodeRef, TermRef, TripleRef};

use crate::map::TripleSink;

/// The buffer is handed to the writer once it holds this many bytes, even within one value.
pub(crate) const FLUSH_AT: usize = 64 * 1024;

const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const XSD_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";
const RDF_LANG_STRING: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";
const XSD_BOOLEAN: &str = "http://www.w3.org/2001/XMLSchema#boolean";
const XSD_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";
const XSD_DECIMAL: &str = "http://www.w3.org/2001/XMLSchema#decimal";
const XSD_DOUBLE: &str = "http://www.w3.org/2001/XMLSchema#double";

/// Appends `"value"` with the N-Triples/Turtle string escapes (those of `oxrdf`'s `Display`).
fn push_quoted(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    let bytes = value.as_bytes();
    // Copy runs that need no escape in one go; only ASCII controls, `"`, `\` and the
    // non-characters U+FFFE/U+FFFF (UTF-8 EF BF BE/BF) are escaped.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0C => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            _ => None,
        };
        if let Some(e) = escape {
            buf.extend_from_slice(&bytes[start..i]);
            buf.extend_from_slice(e);
            i += 1;
            start = i;
        } else if b < 0x20 || b == 0x7F {
            buf.extend_from_slice(&bytes[start..i]);
            push_u_escape(buf, u32::from(b));
            i += 1;
            start = i;
        } else if b == 0xEF
            && bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
        {
            buf.extend_from_slice(&bytes[start..i]);
            push_u_escape(buf, if bytes[i + 2] == 0xBE { 0xFFFE } else { 0xFFFF });
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Appends `\uXXXX` (upper-case hex).
fn push_u_escape(buf: &mut Vec<u8>, c: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    buf.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        buf.push(HEX[((c >> shift) & 15) as usize]);
    }
}

fn push_iri(buf: &mut Vec<u8>, iri: &str) {
    buf.push(b'<');
    buf.extend_from_slice(iri.as_bytes());
    buf.push(b'>');
}

/// A literal in N-Triples (and in Turtle where it is not written in a shorthand).
fn push_literal_nt(buf: &mut Vec<u8>, literal: LiteralRef<'_>) {
    push_quoted(buf, literal.value());
    if let Some(language) = literal.language() {
        buf.push(b'@');
        buf.extend_from_slice(language.as_bytes());
    } else {
        let datatype = literal.datatype().as_str();
        if datatype != XSD_STRING {
            buf.extend_from_slice(b"^^");
            push_iri(buf, datatype);
        }
    }
}

fn push_subject_nt(buf: &mut Vec<u8>, subject: NamedOrBlankNodeRef<'_>) {
    match subject {
        NamedOrBlankNodeRef::NamedNode(n) => push_iri(buf, n.as_str()),
        NamedOrBlankNodeRef::BlankNode(b) => {
            buf.extend_from_slice(b"_:");
            buf.extend_from_slice(b.as_str().as_bytes());
        }
    }
}

fn push_term_nt(buf: &mut Vec<u8>, term: TermRef<'_>) {
    match term {
        TermRef::NamedNode(n) => push_iri(buf, n.as_str()),
        TermRef::BlankNode(b) => {
            buf.extend_from_slice(b"_:");
            buf.extend_from_slice(b.as_str().as_bytes());
        }
        TermRef::Literal(l) => push_literal_nt(buf, l),
    }
}

/// Hands the buffer to `out` once it is over [`FLUSH_AT`].
fn spill<W: Write>(out: &mut W, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.len() >= FLUSH_AT {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

/// An N-Triples writer.
pub(crate) struct NTriplesOut<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> NTriplesOut<W> {
    pub(crate) fn new(out: W) -> Self {
        NTriplesOut {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
        }
    }

    /// Hands what is buffered to the writer.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is buffered and gives the writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.buf)?;
        Ok(self.out)
    }
}

impl<W: Write> TripleSink for NTriplesOut<W> {
    fn triple(&mut self, t: TripleRef<'_>) -> io::Result<()> {
        let buf = &mut self.buf;
        push_subject_nt(buf, t.subject);
        buf.push(b' ');
        push_iri(buf, t.predicate.as_str());
        buf.push(b' ');
        push_term_nt(buf, t.object);
        buf.extend_from_slice(b" .\n");
        spill(&mut self.out, buf)
    }
}

/// A Turtle writer with `@prefix` declarations.
pub(crate) struct TurtleOut<W: Write> {
    out: W,
    buf: Vec<u8>,
    prefixes: Vec<(String, String)>,
    prelude_written: bool,
    /// Whether a statement is open (a subject and predicate were written).
    open: bool,
    /// The open statement's subject: `<` and the IRI, or `_` and the blank node id.
    subject: String,
    predicate: String,
}

impl<W: Write> TurtleOut<W> {
    /// A writer declaring `prefixes` (name, namespace). As `oxttl` does, they are declared
    /// longest namespace first (by name among namespaces of equal length), and an IRI is
    /// written with the first that gives a valid local name.
    pub(crate) fn new(out: W, prefixes: &[(&str, &str)]) -> Self {
        let by_name: std::collections::BTreeMap<String, String> = prefixes
            .iter()
            .map(|(p, ns)| ((*p).to_string(), (*ns).to_string()))
            .collect();
        let mut prefixes: Vec<(String, String)> = by_name.into_iter().collect();
        prefixes.sort_by_key(|(_, ns)| std::cmp::Reverse(ns.len()));
        TurtleOut {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            prefixes,
            prelude_written: false,
            open: false,
            subject: String::new(),
            predicate: String::new(),
        }
    }

    /// Hands what is buffered to the writer (the open statement stays open).
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Ends the last statement, writes what is buffered and gives the writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.open {
            self.buf.extend_from_slice(b" .\n");
        }
        self.out.write_all(&self.buf)?;
        Ok(self.out)
    }

    fn subject_is(&self, subject: NamedOrBlankNodeRef<'_>) -> bool {
        let (tag, text) = subject_key(subject);
        self.subject.as_bytes().first() == Some(&tag) && &self.subject[1..] == text
    }

    fn set_subject(&mut self, subject: NamedOrBlankNodeRef<'_>) {
        let (tag, text) = subject_key(subject);
        self.subject.clear();
        self.subject.push(char::from(tag));
        self.subject.push_str(text);
    }
}

fn subject_key(subject: NamedOrBlankNodeRef<'_>) -> (u8, &str) {
    match subject {
        NamedOrBlankNodeRef::NamedNode(n) => (b'<', n.as_str()),
        NamedOrBlankNodeRef::BlankNode(b) => (b'_', b.as_str()),
    }
}

/// Appends `iri` as a prefixed name with the first prefix it can be written with, else in
/// full.
fn push_iri_ttl(buf: &mut Vec<u8>, prefixes: &[(String, String)], iri: &str) {
    let ib = iri.as_bytes();
    for (name, ns) in prefixes {
        // Most IRIs match no namespace: look at two bytes before comparing the whole prefix.
        let nb = ns.as_bytes();
        if let Some(&last) = nb.last()
            && (ib.len() < nb.len()
                || ib[nb.len() - 1] != last
                || ib[nb.len() / 2] != nb[nb.len() / 2])
        {
            continue;
        }
        if let Some(local) = iri.strip_prefix(ns.as_str()) {
            let mark = buf.len();
            buf.extend_from_slice(name.as_bytes());
            buf.push(b':');
            if local.is_empty() || push_local_name(buf, local) {
                return;
            }
            buf.truncate(mark);
        }
    }
    push_iri(buf, iri);
}

/// Appends `local` as a Turtle local name (`PN_LOCAL`, with `\` escapes); false when it cannot
/// be one (what was appended is then to be dropped).
fn push_local_name(buf: &mut Vec<u8>, local: &str) -> bool {
    // The common case, ASCII letters, digits, `_` and `-` not in first place, needs no escape.
    let bytes = local.as_bytes();
    if bytes.first().is_some_and(|&b| b != b'-')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        buf.extend_from_slice(bytes);
        return true;
    }
    let mut chars = local.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if is_pn_chars_u(first) || first == ':' || first.is_ascii_digit() {
        push_char(buf, first);
    } else if can_be_escaped_in_local_name(first) {
        buf.push(b'\\');
        push_char(buf, first);
    } else {
        return false;
    }
    while let Some(c) = chars.next() {
        if is_pn_chars(c) || c == ':' || (c == '.' && !chars.as_str().is_empty()) {
            push_char(buf, c);
        } else if can_be_escaped_in_local_name(c) {
            buf.push(b'\\');
            push_char(buf, c);
        } else {
            return false;
        }
    }
    true
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// `PN_CHARS_BASE` of the Turtle grammar.
fn is_pn_chars_base(c: char) -> bool {
    matches!(c,
        'A'..='Z'
        | 'a'..='z'
        | '\u{00C0}'..='\u{00D6}'
        | '\u{00D8}'..='\u{00F6}'
        | '\u{00F8}'..='\u{02FF}'
        | '\u{0370}'..='\u{037D}'
        | '\u{037F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// `PN_CHARS_U`.
fn is_pn_chars_u(c: char) -> bool {
    is_pn_chars_base(c) || c == '_'
}

/// `PN_CHARS`.
fn is_pn_chars(c: char) -> bool {
    is_pn_chars_u(c)
        || matches!(c,
            '-' | '0'..='9' | '\u{00B7}' | '\u{0300}'..='\u{036F}' | '\u{203F}'..='\u{2040}')
}

/// `PN_LOCAL_ESC` characters.
fn can_be_escaped_in_local_name(c: char) -> bool {
    matches!(
        c,
        '_' | '~'
            | '.'
            | '-'
            | '!'
            | '$'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | '+'
            | ','
            | ';'
            | '='
            | '/'
            | '?'
            | '#'
            | '@'
            | '%'
    )
}

/// Strips one leading `+` or `-`.
fn unsigned(value: &[u8]) -> &[u8] {
    match value.first() {
        Some(b'+' | b'-') => &value[1..],
        _ => value,
    }
}

fn digits(value: &[u8]) -> (usize, &[u8]) {
    let n = value.iter().take_while(|b| b.is_ascii_digit()).count();
    (n, &value[n..])
}

/// `INTEGER`: `[+-]? [0-9]+`.
fn is_turtle_integer(value: &str) -> bool {
    let v = unsigned(value.as_bytes());
    !v.is_empty() && v.iter().all(u8::is_ascii_digit)
}

/// `DECIMAL`: `[+-]? [0-9]* '.' [0-9]+`.
fn is_turtle_decimal(value: &str) -> bool {
    let (_, rest) = digits(unsigned(value.as_bytes()));
    let Some(rest) = rest.strip_prefix(b".") else {
        return false;
    };
    !rest.is_empty() && rest.iter().all(u8::is_ascii_digit)
}

/// `DOUBLE`: `[+-]? ([0-9]+ '.' [0-9]* EXPONENT | '.' [0-9]+ EXPONENT | [0-9]+ EXPONENT)`.
fn is_turtle_double(value: &str) -> bool {
    let (before, mut rest) = digits(unsigned(value.as_bytes()));
    let mut after = 0;
    if let Some(r) = rest.strip_prefix(b".") {
        (after, rest) = digits(r);
    }
    let Some(exponent) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) else {
        return false;
    };
    let exponent = unsigned(exponent);
    (before > 0 || after > 0) && !exponent.is_empty() && exponent.iter().all(u8::is_ascii_digit)
}

fn push_literal_ttl(buf: &mut Vec<u8>, prefixes: &[(String, String)], literal: LiteralRef<'_>) {
    let datatype = literal.datatype().as_str();
    if datatype == XSD_STRING || datatype == RDF_LANG_STRING {
        return push_literal_nt(buf, literal);
    }
    let value = literal.value();
    let bare = match datatype {
        XSD_BOOLEAN => matches!(value, "true" | "false"),
        XSD_INTEGER => is_turtle_integer(value),
        XSD_DECIMAL => is_turtle_decimal(value),
        XSD_DOUBLE => is_turtle_double(value),
        _ => false,
    };
    if bare {
        buf.extend_from_slice(value.as_bytes());
    } else {
        push_quoted(buf, value);
        buf.extend_from_slice(b"^^");
        push_iri_ttl(buf, prefixes, datatype);
    }
}

fn push_term_ttl(buf: &mut Vec<u8>, prefixes: &[(String, String)], term: TermRef<'_>) {
    match term {
        TermRef::NamedNode(n) => push_iri_ttl(buf, prefixes, n.as_str()),
        TermRef::BlankNode(b) => {
            buf.extend_from_slice(b"_:");
            buf.extend_from_slice(b.as_str().as_bytes());
        }
        TermRef::Literal(l) => push_literal_ttl(buf, prefixes, l),
    }
}

fn push_predicate_ttl(buf: &mut Vec<u8>, prefixes: &[(String, String)], p: NamedNodeRef<'_>) {
    if p.as_str() == RDF_TYPE {
        buf.push(b'a');
    } else {
        push_iri_ttl(buf, prefixes, p.as_str());
    }
}

impl<W: Write> TripleSink for TurtleOut<W> {
    fn triple(&mut self, t: TripleRef<'_>) -> io::Result<()> {
        if !self.prelude_written {
            self.prelude_written = true;
            for (name, ns) in &self.prefixes {
                self.buf.extend_from_slice(b"@prefix ");
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.extend_from_slice(b": ");
                push_iri(&mut self.buf, ns);
                self.buf.extend_from_slice(b" .\n");
            }
        }
        if self.open && self.subject_is(t.subject) {
            if self.predicate == t.predicate.as_str() {
                self.buf.extend_from_slice(b" , ");
            } else {
                self.buf.extend_from_slice(b" ;\n\t");
                push_predicate_ttl(&mut self.buf, &self.prefixes, t.predicate);
                self.buf.push(b' ');
                self.predicate.clear();
                self.predicate.push_str(t.predicate.as_str());
            }
        } else {
            if self.open {
                self.buf.extend_from_slice(b" .\n");
            }
            match t.subject {
                NamedOrBlankNodeRef::NamedNode(n) => {
                    push_iri_ttl(&mut self.buf, &self.prefixes, n.as_str());
                }
                NamedOrBlankNodeRef::BlankNode(b) => {
                    self.buf.extend_from_slice(b"_:");
                    self.buf.extend_from_slice(b.as_str().as_bytes());
                }
            }
            self.buf.push(b' ');
            push_predicate_ttl(&mut self.buf, &self.prefixes, t.predicate);
            self.buf.push(b' ');
            self.set_subject(t.subject);
            self.predicate.clear();
            self.predicate.push_str(t.predicate.as_str());
            self.open = true;
        }
        push_term_ttl(&mut self.buf, &self.prefixes, t.object);
        spill(&mut self.out, &mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::{BlankNodeRef, Literal, NamedNode, Triple};
    use proptest::prelude::*;

    fn oxttl_nt(triples: &[Triple]) -> Vec<u8> {
        let mut s = oxttl::NTriplesSerializer::new().for_writer(Vec::new());
        for t in triples {
            s.serialize_triple(t).unwrap();
        }
        s.finish()
    }

    fn oxttl_ttl(triples: &[Triple]) -> Vec<u8> {
        let mut s = oxttl::TurtleSerializer::new();
        for (p, ns) in crate::vocab::PREFIXES {
            s = s.with_prefix(*p, *ns).unwrap();
        }
        let mut s = s.for_writer(Vec::new());
        for t in triples {
            s.serialize_triple(t).unwrap();
        }
        s.finish().unwrap()
    }

    fn ours_nt(triples: &[Triple]) -> Vec<u8> {
        let mut w = NTriplesOut::new(Vec::new());
        for t in triples {
            w.triple(t.as_ref()).unwrap();
        }
        w.finish().unwrap()
    }

    fn ours_ttl(triples: &[Triple]) -> Vec<u8> {
        let mut w = TurtleOut::new(Vec::new(), crate::vocab::PREFIXES);
        for t in triples {
            w.triple(t.as_ref()).unwrap();
        }
        w.finish().unwrap()
    }

    fn check(triples: &[Triple]) {
        assert_eq!(
            String::from_utf8(ours_nt(triples)).unwrap(),
            String::from_utf8(oxttl_nt(triples)).unwrap()
        );
        assert_eq!(
            String::from_utf8(ours_ttl(triples)).unwrap(),
            String::from_utf8(oxttl_ttl(triples)).unwrap()
        );
    }

    #[test]
    fn same_bytes_as_oxttl_on_hand_picked_triples() {
        let s = NamedNode::new_unchecked("https://data.example.org/grid/meter/m-1");
        let p = |l: &str| NamedNode::new_unchecked(format!("https://saref.etsi.org/core/{l}"));
        let typed = |v: &str, dt: &str| {
            Literal::new_typed_literal(v, NamedNode::new_unchecked(dt.to_string()))
        };
        let b = BlankNodeRef::new_unchecked("b0").into_owned();
        let triples = vec![
            Triple::new(s.clone(), NamedNode::new_unchecked(RDF_TYPE), p("Meter")),
            Triple::new(s.clone(), NamedNode::new_unchecked(RDF_TYPE), p("Device")),
            Triple::new(s.clone(), p("hasValue"), typed("1.5", XSD_DOUBLE)),
            Triple::new(s.clone(), p("hasValue"), typed("1.5E3", XSD_DOUBLE)),
            Triple::new(s.clone(), p("hasValue"), typed("NaN", XSD_DOUBLE)),
            Triple::new(s.clone(), p("hasValue"), typed("-7", XSD_INTEGER)),
            Triple::new(s.clone(), p("hasValue"), typed("+.5", XSD_DECIMAL)),
            Triple::new(s.clone(), p("hasValue"), typed("true", XSD_BOOLEAN)),
            Triple::new(
                s.clone(),
                p("hasTimestamp"),
                typed(
                    "2021-01-01T00:00:00Z",
                    "http://www.w3.org/2001/XMLSchema#dateTime",
                ),
            ),
            Triple::new(s.clone(), p("x"), typed("odd", "http://example.org/dt")),
            Triple::new(
                s.clone(),
                p("label"),
                Literal::new_simple_literal(
                    "a \"q\" \\ \n\r\t\u{8}\u{c}\u{1}\u{7f}\u{fffe}\u{ffff}é",
                ),
            ),
            Triple::new(
                s.clone(),
                p("label"),
                Literal::new_language_tagged_literal_unchecked("Zähler", "de"),
            ),
            Triple::new(s.clone(), p("link"), b.clone()),
            Triple::new(b.clone(), p("link"), s.clone()),
            Triple::new(
                NamedNode::new_unchecked("http://qudt.org/vocab/unit/KiloW-HR"),
                NamedNode::new_unchecked(RDF_TYPE),
                p(""),
            ),
            Triple::new(
                NamedNode::new_unchecked("https://saref.etsi.org/core/a.b"),
                p("a/b#c"),
                p("end."),
            ),
            Triple::new(s.clone(), p("{bad}"), p("-x")),
        ];
        check(&triples);
        check(&[]);
    }

    fn iri_strategy() -> impl Strategy<Value = String> {
        let namespaces: Vec<String> = crate::vocab::PREFIXES
            .iter()
            .map(|(_, ns)| (*ns).to_string())
            .chain(["https://data.example.org/grid/".to_string()])
            .collect();
        (
            proptest::sample::select(namespaces),
            "[a-zA-Z0-9_.~:/#%()!$&'*+,;=?@ é\u{b7}\u{300}-]{0,12}",
        )
            .prop_map(|(ns, local)| format!("{ns}{local}"))
    }

    fn term_strategy() -> impl Strategy<Value = oxrdf::Term> {
        let datatypes = vec![
            XSD_STRING,
            XSD_BOOLEAN,
            XSD_INTEGER,
            XSD_DECIMAL,
            XSD_DOUBLE,
            "http://www.w3.org/2001/XMLSchema#dateTime",
            "http://example.org/dt",
        ];
        prop_oneof![
            iri_strategy().prop_map(|i| NamedNode::new_unchecked(i).into()),
            "[a-z][a-z0-9]{0,4}".prop_map(|b| BlankNodeRef::new_unchecked(&b).into_owned().into()),
            (any::<String>(), proptest::sample::select(datatypes)).prop_map(|(v, dt)| {
                Literal::new_typed_literal(v, NamedNode::new_unchecked(dt)).into()
            }),
            "[-+]?[0-9]{0,3}[.]?[0-9]{0,3}([eE][-+]?[0-9]{0,2})?".prop_map(|v| {
                Literal::new_typed_literal(v, NamedNode::new_unchecked(XSD_DOUBLE)).into()
            }),
            (any::<String>(), "[a-z]{2}(-[A-Z]{2})?")
                .prop_map(|(v, l)| { Literal::new_language_tagged_literal_unchecked(v, l).into() }),
        ]
    }

    proptest! {
        #[test]
        fn same_bytes_as_oxttl(
            triples in proptest::collection::vec(
                (
                    prop_oneof![
                        iri_strategy().prop_map(|i| NamedNode::new_unchecked(i).into()),
                        "[a-z]{1,2}".prop_map(|b| BlankNodeRef::new_unchecked(&b).into_owned().into()),
                    ],
                    prop_oneof![
                        Just(RDF_TYPE.to_string()),
                        iri_strategy(),
                    ],
                    term_strategy(),
                ),
                0..40,
            )
        ) {
            // Runs of equal subjects and predicates are what Turtle abbreviates: repeat some.
            let mut list: Vec<Triple> = Vec::new();
            for (s, p, o) in triples {
                let s: oxrdf::NamedOrBlankNode = s;
                let t = Triple::new(s, NamedNode::new_unchecked(p), o);
                if let Some(last) = list.last().cloned() {
                    list.push(Triple::new(last.subject.clone(), t.predicate.clone(), t.object.clone()));
                    list.push(Triple::new(last.subject, last.predicate, t.object.clone()));
                }
                list.push(t);
            }
            check(&list);
        }
    }
}
