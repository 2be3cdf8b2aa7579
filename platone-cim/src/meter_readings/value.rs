//! Reading values: the text as written and the number it stands for.
//!
//! Numbers are parsed with `fast-float2` straight from the text (exact, round-trip correct
//! conversion, no allocation).

use compact_str::CompactString;

/// A reading's `value`: the raw text (absent when the element is missing) and the number,
/// when the text is one. A decimal comma (`1,21716`) is read as a decimal point.
#[derive(Debug, Clone, Default)]
pub struct ReadingValue {
    raw: Option<CompactString>,
    /// The number; NaN stands for "none" (values are always finite), which keeps the type at
    /// 32 bytes.
    number: Number,
}

#[derive(Debug, Clone, Copy)]
struct Number(f64);

impl Default for Number {
    fn default() -> Self {
        Number(f64::NAN)
    }
}

impl Number {
    fn of(n: Option<f64>) -> Self {
        Number(n.filter(|n| n.is_finite()).unwrap_or(f64::NAN))
    }

    fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl PartialEq for ReadingValue {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw && self.number.get() == other.number.get()
    }
}

/// What is wrong with a value's text, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueIssue {
    /// Read with a decimal comma.
    DecimalComma,
    /// Empty.
    Empty,
    /// Not a finite number.
    NotANumber,
}

impl ValueIssue {
    pub(crate) fn message(self, raw: &str) -> String {
        let cut: String = raw.chars().take(40).collect();
        match self {
            ValueIssue::DecimalComma => format!("value `{cut}` uses a decimal comma"),
            ValueIssue::Empty => "value is empty".to_string(),
            ValueIssue::NotANumber => format!("value `{cut}` is not a finite number"),
        }
    }
}

fn parse_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    // fast-float2 accepts "inf"/"nan" spellings; values must be finite.
    let n: f64 = fast_float2::parse(bytes).ok()?;
    n.is_finite().then_some(n)
}

impl ReadingValue {
    /// A value from its text, and what is wrong with the text if anything.
    pub(crate) fn from_text(text: &str) -> (Self, Option<ValueIssue>) {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let raw = Some(CompactString::from(text));
        if let Some(n) = parse_number(trimmed) {
            return (
                ReadingValue {
                    raw,
                    number: Number::of(Some(n)),
                },
                None,
            );
        }
        if trimmed.is_empty() {
            return (
                ReadingValue {
                    raw,
                    number: Number::default(),
                },
                Some(ValueIssue::Empty),
            );
        }
        if trimmed.bytes().filter(|&b| b == b',').count() == 1 && !trimmed.contains('.') {
            let dotted = trimmed.replace(',', ".");
            if let Some(n) = parse_number(&dotted) {
                return (
                    ReadingValue {
                        raw,
                        number: Number::of(Some(n)),
                    },
                    Some(ValueIssue::DecimalComma),
                );
            }
        }
        (
            ReadingValue {
                raw,
                number: Number::default(),
            },
            Some(ValueIssue::NotANumber),
        )
    }

    /// A value from a number; the text is its shortest round-trip form.
    pub fn from_number(number: f64) -> Self {
        if !number.is_finite() {
            return ReadingValue::default();
        }
        ReadingValue {
            raw: Some(CompactString::from(number.to_string())),
            number: Number::of(Some(number)),
        }
    }

    /// A value from text as written (e.g. from a JSON record's `raw_value`).
    pub fn from_raw(text: &str) -> Self {
        ReadingValue::from_text(text).0
    }

    /// No value element at all.
    pub fn missing() -> Self {
        ReadingValue::default()
    }

    /// The text as written, when the element was present.
    pub fn raw(&self) -> Option<&str> {
        self.raw.as_deref()
    }

    /// The number, when the text is one.
    pub fn number(&self) -> Option<f64> {
        self.number.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_commas_and_junk() {
        let (v, issue) = ReadingValue::from_text("11.04");
        assert_eq!((v.number(), issue), (Some(11.04), None));
        let (v, issue) = ReadingValue::from_text("1,21716");
        assert_eq!(v.number(), Some(1.21716));
        assert_eq!(v.raw(), Some("1,21716"));
        assert_eq!(issue, Some(ValueIssue::DecimalComma));
        let (v, issue) = ReadingValue::from_text("n/a");
        assert_eq!((v.number(), issue), (None, Some(ValueIssue::NotANumber)));
        let (v, issue) = ReadingValue::from_text("1,2,3");
        assert_eq!((v.number(), issue), (None, Some(ValueIssue::NotANumber)));
        let (v, issue) = ReadingValue::from_text("NaN");
        assert_eq!((v.number(), issue), (None, Some(ValueIssue::NotANumber)));
        let (v, issue) = ReadingValue::from_text("");
        assert_eq!((v.number(), issue), (None, Some(ValueIssue::Empty)));
        let (v, _) = ReadingValue::from_text(" 5e3 ");
        assert_eq!(v.number(), Some(5000.0));
        assert_eq!(ReadingValue::from_number(0.1).raw(), Some("0.1"));
        assert!(std::mem::size_of::<ReadingValue>() <= 32);
    }
}
