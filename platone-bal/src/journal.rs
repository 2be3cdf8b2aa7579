//! Crash safety of certification: the journal of stored-but-not-yet-certified records and the
//! files of sealed batches waiting for their anchor.
//!
//! A packet is acknowledged to the broker only after its measurements are in the SCD and in the
//! journal (`pending.jsonl`, synced), so a restart loses no acknowledged measurement and
//! rebuilds the open batches from the journal. The batches sealed together (by one group of
//! deliveries, or one tick) are written with their certificates and proofs to one file in
//! `sealed/` (synced), then their seal markers to the journal (one sync); they are anchored,
//! their certification references are recorded in the SCD, and only then is the file removed.
//! A restart finishes any sealed batch left behind — anchoring is idempotent, so nothing is
//! anchored twice — and drops its records from the journal's open ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use platone_certify::{BatchCertificate, Proof};
use platone_model::{Measurement, Timestamp};
use serde::{Deserialize, Serialize};

use crate::decode::PacketKind;
use crate::error::{BalError, Result};

/// A stored measurement waiting in an open batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// The batch source: `{device}/{pmu|cim}`.
    pub source: String,
    /// The measurement.
    pub measurement: Measurement,
    /// When it arrived at the BAL (for the arrival-to-anchor latency).
    pub arrived: Timestamp,
}

impl PendingRecord {
    /// The batch source of a device's packets of one format.
    pub fn source_of(device: &str, kind: PacketKind) -> String {
        format!("{device}/{}", kind.as_str())
    }

    /// The identity of the measurement in the SCD: series key and timestamp.
    pub fn key(&self) -> (String, i64) {
        record_key(&self.measurement)
    }
}

/// The identity of a measurement: its series key text and timestamp in nanoseconds.
pub fn record_key(m: &Measurement) -> (String, i64) {
    (
        m.series_key().to_string(),
        m.timestamp.timestamp_nanos_opt().unwrap_or(i64::MAX),
    )
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Record { r: PendingRecord },
    Sealed { s: String, n: usize },
}

/// The journal of open-batch records.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    bytes: u64,
    buffer: Vec<u8>,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and returns it with the records still open,
    /// per source in arrival order. A torn last line (a crash in the middle of a write) is cut.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<PendingRecord>)> {
        let path = dir.join("pending.jsonl");
        let mut open: HashMap<String, VecDeque<(usize, PendingRecord)>> = HashMap::new();
        let mut good_bytes = 0u64;
        if path.exists() {
            let file = File::open(&path).map_err(|e| BalError::io(&path, e))?;
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            let mut number = 0usize;
            loop {
                line.clear();
                let read = reader
                    .read_line(&mut line)
                    .map_err(|e| BalError::io(&path, e))?;
                if read == 0 || !line.ends_with('\n') {
                    break;
                }
                number += 1;
                let parsed: Line =
                    serde_json::from_str(line.trim_end()).map_err(|e| BalError::Corrupt {
                        path: path.clone(),
                        line: number,
                        message: e.to_string(),
                    })?;
                match parsed {
                    Line::Record { r } => open
                        .entry(r.source.clone())
                        .or_default()
                        .push_back((number, r)),
                    Line::Sealed { s, n } => {
                        let queue = open.entry(s).or_default();
                        let n = n.min(queue.len());
                        queue.drain(..n);
                    }
                }
                good_bytes += read as u64;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| BalError::io(&path, e))?;
        file.set_len(good_bytes)
            .map_err(|e| BalError::io(&path, e))?;
        let mut records: Vec<(usize, PendingRecord)> = open.into_values().flatten().collect();
        records.sort_by_key(|(n, _)| *n);
        let journal = Journal {
            path,
            file,
            bytes: good_bytes,
            buffer: Vec::new(),
        };
        Ok((journal, records.into_iter().map(|(_, r)| r).collect()))
    }

    /// The journal's size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends records and syncs them to disk.
    pub fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a PendingRecord>,
    ) -> Result<()> {
        self.buffer.clear();
        for r in records {
            serde_json::to_writer(&mut self.buffer, &LineRef::Record { r })
                .map_err(|e| self.corrupt_write(e))?;
            self.buffer.push(b'\n');
        }
        self.write_buffer()
    }

    /// Records that the first `n` open records of `source` were sealed in a batch, for each
    /// `(source, n)` in order; one sync for all.
    pub fn sealed<'a>(
        &mut self,
        batches: impl IntoIterator<Item = (&'a str, usize)>,
    ) -> Result<()> {
        self.buffer.clear();
        for (source, n) in batches {
            serde_json::to_writer(&mut self.buffer, &LineRef::Sealed { s: source, n })
                .map_err(|e| self.corrupt_write(e))?;
            self.buffer.push(b'\n');
        }
        self.write_buffer()
    }

    /// Rewrites the journal with just the records still open (atomically: a new file renamed
    /// over the old one).
    pub fn compact<'a>(&mut self, open: impl IntoIterator<Item = &'a PendingRecord>) -> Result<()> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut out = Vec::new();
        for r in open {
            serde_json::to_writer(&mut out, &LineRef::Record { r })
                .map_err(|e| self.corrupt_write(e))?;
            out.push(b'\n');
        }
        let mut file = File::create(&tmp).map_err(|e| BalError::io(&tmp, e))?;
        file.write_all(&out).map_err(|e| BalError::io(&tmp, e))?;
        file.sync_data().map_err(|e| BalError::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| BalError::io(&self.path, e))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| BalError::io(&self.path, e))?;
        self.bytes = out.len() as u64;
        Ok(())
    }

    fn write_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| BalError::io(&self.path, e))?;
        self.bytes += self.buffer.len() as u64;
        Ok(())
    }

    fn corrupt_write(&self, e: serde_json::Error) -> BalError {
        BalError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: format!("cannot write a record: {e}"),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum LineRef<'a> {
    Record { r: &'a PendingRecord },
    Sealed { s: &'a str, n: usize },
}

/// A sealed batch waiting for its anchor and for its references to be recorded in the SCD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingBatch {
    /// The certificate.
    pub certificate: BatchCertificate,
    /// The certified measurements, in leaf order.
    pub leaves: Vec<PendingLeaf>,
}

/// A measurement of a sealed batch, with its proof (not yet anchored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingLeaf {
    /// The measurement's series key text (`Measurement::series_key().to_string()`).
    pub series: String,
    /// The measurement's timestamp.
    pub timestamp: Timestamp,
    /// Its inclusion proof.
    pub proof: Proof,
    /// When it arrived at the BAL.
    pub arrived: Timestamp,
}

impl PendingBatch {
    /// The measurement identities the batch certifies.
    pub fn keys(&self) -> HashSet<(String, i64)> {
        self.leaves
            .iter()
            .map(|leaf| {
                (
                    leaf.series.clone(),
                    leaf.timestamp.timestamp_nanos_opt().unwrap_or(i64::MAX),
                )
            })
            .collect()
    }
}

/// The directory of sealed batches not yet recorded: one file per group of batches sealed
/// together.
#[derive(Debug, Clone)]
pub struct SealedBatches {
    dir: PathBuf,
}

impl SealedBatches {
    /// Opens (or creates) `dir`.
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| BalError::io(&dir, e))?;
        Ok(SealedBatches { dir })
    }

    /// Writes batches sealed together to one file, synced; gives its path (named after the
    /// first batch). Nothing is written for no batch.
    pub fn write(&self, batches: &[PendingBatch]) -> Result<Option<PathBuf>> {
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        let name: String = first
            .certificate
            .batch_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '~'
                }
            })
            .collect();
        let path = self.dir.join(format!("{name}+{}.json", batches.len()));
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(batches).map_err(|e| BalError::Corrupt {
            path: path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        let mut file = File::create(&tmp).map_err(|e| BalError::io(&tmp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| BalError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| BalError::io(&path, e))?;
        Ok(Some(path))
    }

    /// Every sealed batch left (each once, oldest sequence first per source) and the files
    /// they are in.
    pub fn list(&self) -> Result<(Vec<PendingBatch>, Vec<PathBuf>)> {
        let mut batches: HashMap<String, PendingBatch> = HashMap::new();
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| BalError::io(&self.dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| BalError::io(&self.dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| BalError::io(&path, e))?;
            let group: Vec<PendingBatch> =
                serde_json::from_slice(&bytes).map_err(|e| BalError::Corrupt {
                    path: path.clone(),
                    line: e.line(),
                    message: e.to_string(),
                })?;
            for batch in group {
                batches.insert(batch.certificate.batch_id.clone(), batch);
            }
            files.push(path);
        }
        let mut batches: Vec<PendingBatch> = batches.into_values().collect();
        batches.sort_by(|a, b| {
            (&a.certificate.source, a.certificate.sequence)
                .cmp(&(&b.certificate.source, b.certificate.sequence))
        });
        Ok((batches, files))
    }

    /// Removes a file once all its batches are recorded.
    pub fn remove(&self, path: &Path) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BalError::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platone_model::{DeviceId, MeasurementKind, Unit, parse_timestamp};

    fn record(source: &str, second: u32) -> PendingRecord {
        let t = parse_timestamp(&format!("2024-03-01T12:00:{second:02}Z")).unwrap();
        PendingRecord {
            source: source.into(),
            measurement: Measurement::new(
                DeviceId::new("pmu-1").unwrap(),
                t,
                MeasurementKind::Voltage,
                Unit::Volt,
                230.0,
            )
            .unwrap(),
            arrived: t,
        }
    }

    #[test]
    fn replay_keeps_what_is_open_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut journal, open) = Journal::open(dir.path()).unwrap();
            assert!(open.is_empty());
            let rs: Vec<_> = (0..5).map(|i| record("a/pmu", i)).collect();
            journal.append(&rs).unwrap();
            journal.append([&record("b/cim", 9)]).unwrap();
            journal.sealed([("a/pmu", 3)]).unwrap();
        }
        let path = dir.path().join("pending.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"r\":{\"sour").unwrap();
        drop(file);
        let (mut journal, open) = Journal::open(dir.path()).unwrap();
        let seconds: Vec<_> = open
            .iter()
            .map(|r| (r.source.as_str(), r.measurement.timestamp.timestamp() % 60))
            .collect();
        assert_eq!(seconds, [("a/pmu", 3), ("a/pmu", 4), ("b/cim", 9)]);
        journal.compact(&open[1..]).unwrap();
        drop(journal);
        let (_, open) = Journal::open(dir.path()).unwrap();
        assert_eq!(open.len(), 2);
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pending.jsonl"),
            "{\"s\":\"a\",\"n\":1}\nnot json\n",
        )
        .unwrap();
        let err = Journal::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
