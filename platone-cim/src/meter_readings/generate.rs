//! Generated MeterReadings documents shaped like a DSO's 15-minute dump, for benchmarks and
//! tests: per meter, 12 register `Readings` of distinct ReadingTypes and one `IntervalBlocks`
//! of 96 quarter-hour interval readings (one day), in the 2013 namespace with an `mr:` prefix.
//! 2,000 meters make about 30 MB and 216,000 readings.
//!
//! [`DumpReader`] produces the same text on the fly, one meter at a time, so documents of any
//! size can be streamed without ever being held in memory.

use std::fmt::Write as _;
use std::io::{self, Read};

/// The ReadingTypes of the 12 register readings of every generated meter.
pub const REGISTER_READING_TYPES: &[&str] = &[
    "0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.72.0",
    "0.0.0.1.19.1.12.0.0.0.0.0.0.0.224.3.72.0",
    "0.0.0.1.1.1.12.0.0.0.0.0.0.0.224.3.73.0",
    "0.0.0.1.19.1.12.0.0.0.0.0.0.0.224.3.73.0",
    "0.0.0.1.1.1.12.0.0.0.0.1.0.0.224.3.72.0",
    "0.0.0.1.1.1.12.0.0.0.0.2.0.0.224.3.72.0",
    "0.0.0.12.0.1.54.0.0.0.0.0.0.0.128.0.29.0",
    "0.0.0.12.0.1.54.0.0.0.0.0.0.0.64.0.29.0",
    "0.0.0.12.0.1.54.0.0.0.0.0.0.0.32.0.29.0",
    "0.0.0.12.0.1.4.0.0.0.0.0.0.0.224.0.5.0",
    "0.0.0.12.1.1.37.0.0.0.0.0.0.0.224.3.38.0",
    "0.0.0.12.0.1.15.0.0.0.0.0.0.0.0.0.33.0",
];

/// The ReadingType of the interval block: 15-minute forward active energy, kWh, phases ABC.
pub const INTERVAL_READING_TYPE: &str = "0.0.2.4.1.1.12.0.0.0.0.0.0.0.224.3.72.0";

/// Readings per generated meter: 12 registers plus 96 intervals.
pub const READINGS_PER_METER: usize = 108;

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<mr:MeterReadings xmlns:mr=\"http://iec.ch/TC57/2011/MeterReadings#\">\n";
const TAIL: &str = "</mr:MeterReadings>\n";

fn interval_end(i: usize) -> String {
    if i >= 96 {
        "2020-10-02T00:00:00+03:00".to_string()
    } else {
        format!("2020-10-01T{:02}:{:02}:00+03:00", i * 15 / 60, i * 15 % 60)
    }
}

/// Appends the `MeterReading` of meter number `index` to `out`.
pub fn write_meter(out: &mut String, index: usize) {
    let mut seed = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % 100_000
    };
    let _ = write!(
        out,
        "  <mr:MeterReading>\n    <mr:Meter>\n      <mr:mRID>MTR{index:08}</mr:mRID>\n    </mr:Meter>\n"
    );
    for code in REGISTER_READING_TYPES {
        let v = next();
        let _ = write!(
            out,
            "    <mr:Readings>\n      <mr:timeStamp>2020-10-02T00:00:00+03:00</mr:timeStamp>\n      <mr:value>{}.{:03}</mr:value>\n      <mr:ReadingType ref=\"{code}\"/>\n    </mr:Readings>\n",
            v / 10,
            v % 1000
        );
    }
    out.push_str("    <mr:IntervalBlocks>\n");
    for i in 1..=96 {
        let v = next();
        let _ = write!(
            out,
            "      <mr:IntervalReadings>\n        <mr:timeStamp>{}</mr:timeStamp>\n        <mr:value>{}.{:03}</mr:value>\n      </mr:IntervalReadings>\n",
            interval_end(i),
            v / 1000,
            v % 1000
        );
    }
    let _ = write!(
        out,
        "      <mr:ReadingType ref=\"{INTERVAL_READING_TYPE}\"/>\n    </mr:IntervalBlocks>\n    <mr:UsagePoint>\n      <mr:mRID>UP{index:08}</mr:mRID>\n    </mr:UsagePoint>\n  </mr:MeterReading>\n"
    );
}

/// A whole generated document with `meters` meters.
pub fn dump_document(meters: usize) -> String {
    let mut out = String::with_capacity(HEAD.len() + meters * 15_500 + TAIL.len());
    out.push_str(HEAD);
    for index in 0..meters {
        write_meter(&mut out, index);
    }
    out.push_str(TAIL);
    out
}

/// The generated document as a `Read`, produced one meter at a time: memory use does not grow
/// with the number of meters.
#[derive(Debug)]
pub struct DumpReader {
    meters: usize,
    next_meter: usize,
    chunk: String,
    at: usize,
    tail_written: bool,
}

impl DumpReader {
    /// A reader of a document with `meters` meters.
    pub fn new(meters: usize) -> Self {
        DumpReader {
            meters,
            next_meter: 0,
            chunk: HEAD.to_string(),
            at: 0,
            tail_written: false,
        }
    }

    /// The number of meters needed for a document of at least `bytes` bytes.
    pub fn meters_for_bytes(bytes: u64) -> usize {
        let per_meter = {
            let mut one = String::new();
            write_meter(&mut one, 0);
            one.len() as u64
        };
        usize::try_from(bytes.div_ceil(per_meter)).unwrap_or(usize::MAX)
    }
}

impl Read for DumpReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.chunk.len() {
            self.chunk.clear();
            self.at = 0;
            if self.next_meter < self.meters {
                write_meter(&mut self.chunk, self.next_meter);
                self.next_meter += 1;
            } else if !self.tail_written {
                self.chunk.push_str(TAIL);
                self.tail_written = true;
            } else {
                return Ok(0);
            }
        }
        let available = self.chunk.as_bytes().get(self.at..).unwrap_or_default();
        let n = available.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_and_document_agree() {
        let mut streamed = String::new();
        DumpReader::new(3).read_to_string(&mut streamed).unwrap();
        assert_eq!(streamed, dump_document(3));
        let doc = crate::meter_readings::parse_str(&streamed, crate::meter_readings::Mode::Strict)
            .unwrap();
        assert_eq!(doc.document.reading_count(), 3 * READINGS_PER_METER);
        assert!(doc.warnings.is_empty());
    }
}
