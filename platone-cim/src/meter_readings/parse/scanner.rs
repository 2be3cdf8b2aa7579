//! The XML tokenizer of the reader: one pass over bytes that finds start tags (with their
//! attribute text), end tags, text and CDATA, skips comments, processing instructions, the
//! XML declaration and DOCTYPE, and checks that end tags match start tags.
//!
//! It does only what a MeterReadings reader needs and leaves the rest (entity references in
//! text and attributes, attribute parsing) to the cursor, on the few elements that need it.
//! Tokens are byte ranges into the buffer being scanned, so the same code serves a whole
//! in-memory document and the sliding buffer of a stream: when a token runs past the end of a
//! buffer that is not the end of the input, the scanner asks for more.

/// A token found by [`Scanner::step`]; ranges index the scanned buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A start tag `<name attrs>`; an empty-element tag `<name attrs/>` gives a `Start` and
    /// then an `End`.
    Start {
        /// The qualified name.
        name: (usize, usize),
        /// The text between the name and `>` (or `/>`).
        attrs: (usize, usize),
    },
    /// An end tag (or the end of an empty-element tag).
    End {
        /// The qualified name.
        name: (usize, usize),
    },
    /// Character data between markup, entity references not resolved.
    Text((usize, usize)),
    /// The content of a CDATA section.
    CData((usize, usize)),
}

impl Token {
    /// Where the token's first range starts (before the scanned position for the end of an
    /// empty-element tag, whose name lies in its start tag).
    pub(crate) fn first(self) -> usize {
        match self {
            Token::Start { name, .. } | Token::End { name } => name.0,
            Token::Text(t) | Token::CData(t) => t.0,
        }
    }

    /// Where the token's markup starts: the `<` of a tag (`</` of an end tag), the start
    /// of text.
    pub(crate) fn markup_start(self) -> usize {
        match self {
            Token::Start { name, .. } => name.0.saturating_sub(1),
            Token::End { name } => name.0.saturating_sub(2),
            Token::Text(t) => t.0,
            Token::CData(t) => t.0.saturating_sub(9),
        }
    }

    /// The same token with its ranges made relative to `origin`.
    pub(crate) fn shifted(self, origin: usize) -> Token {
        let r = |(a, b): (usize, usize)| (a.saturating_sub(origin), b.saturating_sub(origin));
        match self {
            Token::Start { name, attrs } => Token::Start {
                name: r(name),
                attrs: r(attrs),
            },
            Token::End { name } => Token::End { name: r(name) },
            Token::Text(t) => Token::Text(r(t)),
            Token::CData(t) => Token::CData(r(t)),
        }
    }
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A token, and where the next one starts.
    Token(Token, usize),
    /// The buffer ends inside a token and more input may follow.
    NeedMore,
    /// The input is exhausted.
    Eof,
    /// Not well-formed at this index.
    Error(usize, String),
}

/// The tokenizer's state between steps: the open elements' names (for end-tag checks) and
/// the end of an empty-element tag still to be reported.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Names of the open elements, one after another.
    names: Vec<u8>,
    /// Where each open element's name starts in `names`.
    starts: Vec<usize>,
    /// The name range and next index of an empty-element tag whose `End` is due.
    pending_end: Option<((usize, usize), usize)>,
    /// Whether end tags must name the element they close.
    pub(crate) check_end_names: bool,
    /// Whether the last token was an end tag.
    after_end: bool,
}

/// Bytes that end an element name in a start tag.
static NAME_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'>' as usize] = true;
    t[b'/' as usize] = true;
    t[b'<' as usize] = true;
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Index of the first `needle` in `buf` at or after `from`.
fn find(buf: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = buf.get(from..)?;
    memchr::memmem::find(rest, needle).map(|i| from + i)
}

fn shown(bytes: &[u8]) -> String {
    let cut = bytes.get(..64).unwrap_or(bytes);
    String::from_utf8_lossy(cut).into_owned()
}

impl Scanner {
    /// A scanner that checks end-tag names.
    pub(crate) fn new() -> Self {
        Scanner {
            check_end_names: true,
            ..Scanner::default()
        }
    }

    /// Scans the token that starts at `pos` in `buf`. `eof` says that `buf` ends where the
    /// input ends.
    pub(crate) fn step(&mut self, buf: &[u8], pos: usize, eof: bool) -> Step {
        let step = self.step_inner(buf, pos, eof);
        self.after_end = matches!(step, Step::Token(Token::End { .. }, _));
        step
    }

    fn step_inner(&mut self, buf: &[u8], mut pos: usize, eof: bool) -> Step {
        if let Some((name, next)) = self.pending_end.take() {
            return Step::Token(Token::End { name }, next);
        }
        let Some(&first) = buf.get(pos) else {
            return if eof { Step::Eof } else { Step::NeedMore };
        };
        if first != b'<' {
            // Indentation between elements is not reported: whitespace after an end tag or
            // before a start tag is never the whole text of an element.
            let blank = buf
                .get(pos..)
                .unwrap_or_default()
                .iter()
                .position(|&b| !is_space(b));
            let text_end = match blank {
                Some(i) if buf.get(pos + i) == Some(&b'<') => {
                    if !eof && buf.get(pos + i + 1).is_none() {
                        return Step::NeedMore;
                    }
                    let skip = self.after_end
                        || !matches!(buf.get(pos + i + 1), None | Some(b'/' | b'!' | b'?'));
                    if !skip {
                        return Step::Token(Token::Text((pos, pos + i)), pos + i);
                    }
                    pos += i;
                    None
                }
                Some(i) => match buf
                    .get(pos + i..)
                    .and_then(|rest| memchr::memchr(b'<', rest))
                {
                    Some(j) => Some(pos + i + j),
                    None if eof => Some(buf.len()),
                    None => return Step::NeedMore,
                },
                None if eof => Some(buf.len()),
                None => return Step::NeedMore,
            };
            if let Some(end) = text_end {
                return Step::Token(Token::Text((pos, end)), end);
            }
            if !eof && buf.get(pos + 1).is_none() {
                return Step::NeedMore;
            }
        }
        let more = |what: &str| {
            if eof {
                Step::Error(pos, format!("input ends inside {what}"))
            } else {
                Step::NeedMore
            }
        };
        match buf.get(pos + 1) {
            None => more("markup"),
            Some(b'/') => self.end_tag(buf, pos, eof),
            Some(b'?') => match find(buf, pos + 2, b"?>") {
                Some(i) => self.other(i + 2),
                None => more("a processing instruction"),
            },
            Some(b'!') => self.bang(buf, pos, eof),
            Some(_) => self.start_tag(buf, pos, eof),
        }
    }

    fn other(&mut self, next: usize) -> Step {
        // Comments and the like carry nothing the reader needs: report them as empty text.
        Step::Token(Token::Text((next, next)), next)
    }

    fn bang(&mut self, buf: &[u8], pos: usize, eof: bool) -> Step {
        let rest = buf.get(pos..).unwrap_or_default();
        let more = |what: &str| {
            if eof {
                Step::Error(pos, format!("input ends inside {what}"))
            } else {
                Step::NeedMore
            }
        };
        if rest.starts_with(b"<!--") {
            return match find(buf, pos + 4, b"-->") {
                Some(i) => self.other(i + 3),
                None => more("a comment"),
            };
        }
        if rest.starts_with(b"<![CDATA[") {
            return match find(buf, pos + 9, b"]]>") {
                Some(i) => Step::Token(Token::CData((pos + 9, i)), i + 3),
                None => more("a CDATA section"),
            };
        }
        if rest.starts_with(b"<!DOCTYPE") {
            // Up to the `>` that is outside quotes and outside the internal subset.
            let mut quote = None;
            let mut subset = false;
            for (i, &b) in rest.iter().enumerate().skip(9) {
                match (quote, b) {
                    (Some(q), _) if b == q => quote = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => quote = Some(b),
                    (None, b'[') => subset = true,
                    (None, b']') => subset = false,
                    (None, b'>') if !subset => return self.other(pos + i + 1),
                    _ => {}
                }
            }
            return more("a DOCTYPE declaration");
        }
        let known = [&b"<!--"[..], b"<![CDATA[", b"<!DOCTYPE"];
        if !eof && known.iter().any(|k| k.starts_with(rest)) {
            return Step::NeedMore;
        }
        Step::Error(
            pos,
            format!("unknown markup `{}`", shown(rest.get(..9).unwrap_or(rest))),
        )
    }

    fn end_tag(&mut self, buf: &[u8], pos: usize, eof: bool) -> Step {
        // Fast path: `</name>` closing the open element.
        if let Some(&start) = self.starts.last() {
            let open = self.names.get(start..).unwrap_or_default();
            let name_end = pos + 2 + open.len();
            if buf.get(name_end) == Some(&b'>') && buf.get(pos + 2..name_end) == Some(open) {
                self.starts.pop();
                self.names.truncate(start);
                return Step::Token(
                    Token::End {
                        name: (pos + 2, name_end),
                    },
                    name_end + 1,
                );
            }
        }
        let Some(close) = buf
            .get(pos + 2..)
            .and_then(|rest| memchr::memchr(b'>', rest))
            .map(|i| pos + 2 + i)
        else {
            return if eof {
                Step::Error(pos, "input ends inside an end tag".into())
            } else {
                Step::NeedMore
            };
        };
        let mut name_end = close;
        while name_end > pos + 2 && buf.get(name_end - 1).copied().is_some_and(is_space) {
            name_end -= 1;
        }
        let name = buf.get(pos + 2..name_end).unwrap_or_default();
        if name.is_empty() || name.iter().any(|&b| is_space(b) || b == b'<') {
            return Step::Error(pos, format!("malformed end tag `</{}>`", shown(name)));
        }
        let Some(start) = self.starts.pop() else {
            return Step::Error(
                pos,
                format!("end tag `</{}>` closes no open element", shown(name)),
            );
        };
        let open = self.names.get(start..).unwrap_or_default();
        if self.check_end_names && open != name {
            let message = format!("expected `</{}>`, found `</{}>`", shown(open), shown(name));
            // Keep the element open: the caller may go on after the error.
            self.starts.push(start);
            return Step::Error(pos, message);
        }
        self.names.truncate(start);
        Step::Token(
            Token::End {
                name: (pos + 2, name_end),
            },
            close + 1,
        )
    }

    fn start_tag(&mut self, buf: &[u8], pos: usize, eof: bool) -> Step {
        // The name: up to whitespace, `/` or `>`.
        let rest = buf.get(pos + 1..).unwrap_or_default();
        let mut i = match rest.iter().position(|&b| NAME_STOP[usize::from(b)]) {
            Some(n) => pos + 1 + n,
            None if eof => return Step::Error(pos, "input ends inside a start tag".into()),
            None => return Step::NeedMore,
        };
        if buf.get(i) == Some(&b'<') {
            return Step::Error(i, "`<` inside a start tag".into());
        }
        let name = (pos + 1, i);
        if name.0 == name.1 {
            return Step::Error(pos, "an element name must follow `<`".into());
        }
        let attrs_start = i;
        // The end of the tag: the first `>` outside quotes.
        let mut quote = None;
        let close = loop {
            match (buf.get(i).copied(), quote) {
                (None, _) => {
                    return if eof {
                        Step::Error(pos, "input ends inside a start tag".into())
                    } else {
                        Step::NeedMore
                    };
                }
                (Some(b), Some(q)) if b == q => quote = None,
                (Some(b'<'), _) => {
                    return Step::Error(i, "`<` inside a start tag".into());
                }
                (Some(_), Some(_)) => {}
                (Some(b @ (b'"' | b'\'')), None) => quote = Some(b),
                (Some(b'>'), None) => break i,
                (Some(_), None) => {}
            }
            i += 1;
        };
        let empty = close > attrs_start && buf.get(close - 1) == Some(&b'/');
        let attrs = (attrs_start, if empty { close - 1 } else { close });
        if empty {
            self.pending_end = Some((name, close + 1));
        } else {
            self.starts.push(self.names.len());
            self.names
                .extend_from_slice(buf.get(name.0..name.1).unwrap_or_default());
        }
        Step::Token(Token::Start { name, attrs }, close + 1)
    }

    /// For an element just started: its text and where its end tag ends, when the text
    /// holds no markup and the end tag follows and matches (the common leaf
    /// `<value>1.5</value>`); `None` otherwise. Changes nothing: call
    /// [`Scanner::commit_leaf`] to consume it.
    pub(crate) fn leaf(&self, buf: &[u8], pos: usize) -> Option<((usize, usize), usize)> {
        if let Some((_, next)) = self.pending_end {
            return Some(((pos, pos), next));
        }
        let rest = buf.get(pos..)?;
        let lt = pos
            + match rest
                .get(..32)
                .and_then(|r| r.iter().position(|&b| b == b'<'))
            {
                Some(i) => i,
                None => memchr::memchr(b'<', rest)?,
            };
        let &start = self.starts.last()?;
        let open = self.names.get(start..)?;
        let name_end = lt + 2 + open.len();
        let closes = buf.get(lt + 1) == Some(&b'/')
            && buf.get(lt + 2..name_end) == Some(open)
            && buf.get(name_end) == Some(&b'>');
        closes.then_some(((pos, lt), name_end + 1))
    }

    /// Consumes what [`Scanner::leaf`] found.
    pub(crate) fn commit_leaf(&mut self) {
        if self.pending_end.take().is_none()
            && let Some(start) = self.starts.pop()
        {
            self.names.truncate(start);
        }
        self.after_end = true;
    }

    /// Shifts the ranges kept between steps after the first `by` bytes of the buffer were
    /// dropped.
    pub(crate) fn shift(&mut self, by: usize) {
        if let Some(((a, b), next)) = &mut self.pending_end {
            *a -= by.min(*a);
            *b -= by.min(*b);
            *next -= by.min(*next);
        }
    }
}

/// Resolves the entity and character references of `raw` (text or an attribute value) into
/// `out`; references that are neither predefined entities nor valid character references are
/// kept as written and returned, so that the caller can warn about them.
pub(crate) fn unescape_into(raw: &str, out: &mut String) -> Option<String> {
    let mut unknown = None;
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        let resolved = after.find(';').and_then(|semi| {
            let name = after.get(..semi)?;
            let c = match name.strip_prefix('#') {
                Some(num) => {
                    let code = match num.strip_prefix('x') {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code).filter(|&c| c != '\0')?
                }
                None => {
                    let s = quick_xml::escape::resolve_predefined_entity(name)?;
                    s.chars().next()?
                }
            };
            Some((c, semi))
        });
        match resolved {
            Some((c, semi)) => {
                out.push(c);
                rest = after.get(semi + 1..).unwrap_or_default();
            }
            None => {
                let shown_len = after.find(';').map_or(0, |s| s + 1);
                let written = rest.get(amp..amp + 1 + shown_len).unwrap_or("&");
                if unknown.is_none() {
                    unknown = Some(written.to_string());
                }
                out.push_str(written);
                rest = rest.get(amp + 1 + shown_len..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(xml: &str) -> Result<Vec<String>, (usize, String)> {
        let buf = xml.as_bytes();
        let mut s = Scanner::new();
        let mut pos = 0;
        let mut out = Vec::new();
        let text = |r: (usize, usize)| xml[r.0..r.1].to_string();
        loop {
            match s.step(buf, pos, true) {
                Step::Token(t, next) => {
                    out.push(match t {
                        Token::Start { name, attrs } => {
                            format!("<{}|{}>", text(name), text(attrs))
                        }
                        Token::End { name } => format!("</{}>", text(name)),
                        Token::Text(r) => format!("t:{}", text(r)),
                        Token::CData(r) => format!("c:{}", text(r)),
                    });
                    pos = next;
                }
                Step::Eof => return Ok(out),
                Step::NeedMore => unreachable!(),
                Step::Error(at, m) => return Err((at, m)),
            }
        }
    }

    #[test]
    fn tokens_of_a_small_document() {
        let xml = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ELEMENT a ANY>]><a x='>' y=\"1\">t<!-- c --><b/><![CDATA[<x>]]></a >";
        assert_eq!(
            tokens(xml).unwrap(),
            [
                "t:",
                "t:",
                "<a| x='>' y=\"1\">",
                "t:t",
                "t:",
                "<b|>",
                "</b>",
                "c:<x>",
                "</a>",
            ]
        );
    }

    #[test]
    fn mismatched_and_unclosed_markup_are_errors() {
        let (at, m) = tokens("<a><b></c></a>").unwrap_err();
        assert_eq!((at, m.as_str()), (6, "expected `</b>`, found `</c>`"));
        assert_eq!(tokens("<a><b").unwrap_err().0, 3);
        assert_eq!(tokens("<a><!-- x").unwrap_err().0, 3);
        assert!(tokens("</a>").is_err());
        assert!(tokens("<a <b>").is_err());
        assert!(tokens("<>").is_err());
        assert!(tokens("<!x>").is_err());
    }

    #[test]
    fn a_token_cut_by_the_buffer_end_asks_for_more() {
        let xml = b"<a x=\"1\">text</a>";
        for cut in 1..xml.len() {
            let mut s = Scanner::new();
            let mut pos = 0;
            let mut seen = 0;
            while let Step::Token(_, next) = s.step(&xml[..cut], pos, false) {
                pos = next;
                seen += 1;
            }
            assert!(seen <= 3, "{cut}");
            assert_eq!(s.step(&xml[..cut], pos, false), Step::NeedMore, "{cut}");
        }
    }

    #[test]
    fn references_are_resolved_or_kept() {
        let mut out = String::new();
        assert_eq!(unescape_into("a&lt;b&#65;&#x42;&amp;", &mut out), None);
        assert_eq!(out, "a<bAB&");
        out.clear();
        assert_eq!(
            unescape_into("x&nbsp;y & z", &mut out).as_deref(),
            Some("&nbsp;")
        );
        assert_eq!(out, "x&nbsp;y & z");
    }
}
