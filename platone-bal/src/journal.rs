//! Crash safety of certification: the journal of stored-but-not-yet-certified records and the
//! files of sealed batches waiting for their anchor.
//!
//! A packet is acknowledged to the broker only after its measurements are in the SCD and in the
//! journal (`pending.jsonl`, synced), so a restart loses no acknowledged measurement and
//! rebuilds the open batches from the journal. The batches sealed together (by one group of
//! deliveries, or one tick) are written with their certificates and leaf hashes (the proofs
//! are built again from these) to one file in `sealed/` (synced), then their seal markers to
//! the journal (one sync); they are anchored, their certification references are recorded in
//! the SCD, and only then is the file removed.
//! A restart finishes any sealed batch left behind — anchoring is idempotent, so nothing is
//! anchored twice — and drops its records from the journal's open ones.
//!
//! Every rename that matters (a sealed file put in place, the journal compacted) is followed by
//! a sync of its directory, so that after a power loss the file is there whenever a later
//! journal line says it is. These writes block: the certifier and the recorder run on threads
//! of their own, off the async workers.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use platone_certify::{BatchCertificate, Digest, Proof, certify_leaves};
use platone_model::{Measurement, Timestamp};
use platone_scd::CertificationRecord;
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
        let created = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| BalError::io(&path, e))?;
        file.set_len(good_bytes)
            .map_err(|e| BalError::io(&path, e))?;
        if created {
            sync_dir(&path)?;
        }
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
        let written = File::create(&tmp).and_then(|mut file| {
            file.write_all(&out)?;
            file.sync_data()
        });
        if let Err(e) = written {
            // The journal itself is untouched; the partial copy goes, not to hold the space.
            let _ = std::fs::remove_file(&tmp);
            return Err(BalError::io(&tmp, e));
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| BalError::io(&self.path, e))?;
        sync_dir(&self.path)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| BalError::io(&self.path, e))?;
        self.bytes = out.len() as u64;
        Ok(())
    }

    /// Appends the buffer and syncs it. On failure (a full disk, an I/O error) the file is
    /// cut back to its last complete line, so that a retry does not follow a partial line and
    /// the journal stays readable.
    fn write_buffer(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let written = self
            .file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if let Err(cut) = self.file.set_len(self.bytes) {
                tracing::error!(
                    journal = %self.path.display(),
                    "cannot cut a failed append back to {} bytes: {cut}",
                    self.bytes
                );
            }
            return Err(BalError::io(&self.path, e));
        }
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

/// Syncs the directory holding `path`, so that a rename or creation in it survives a power
/// loss. A no-op where directories cannot be opened for syncing (not Unix).
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| BalError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Certification references the SCD refused for themselves (not because it was
/// unavailable): appended, synced, to `rejected-references.jsonl` with the reason, so that
/// nothing sealed is dropped without a durable trace an operator can act on.
#[derive(Debug, Clone)]
pub struct RejectedReferences {
    path: PathBuf,
}

#[derive(Serialize)]
struct RejectedLine<'a> {
    series: &'a str,
    timestamp: &'a Timestamp,
    batch_id: &'a str,
    leaf_index: u64,
    root: &'a str,
    proof: &'a serde_json::Value,
    reason: &'a str,
}

impl RejectedReferences {
    /// The file in the data directory `dir`.
    pub fn new(dir: &Path) -> Self {
        RejectedReferences {
            path: dir.join("rejected-references.jsonl"),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends references with why each was refused; synced before it returns.
    pub fn append(&self, refused: &[(&CertificationRecord, String)]) -> Result<()> {
        let mut out = Vec::new();
        for (record, reason) in refused {
            let c = &record.certification;
            let line = RejectedLine {
                series: &record.series,
                timestamp: &record.timestamp,
                batch_id: &c.batch_id,
                leaf_index: c.leaf_index,
                root: &c.root_hex,
                proof: &c.proof,
                reason,
            };
            serde_json::to_writer(&mut out, &line).map_err(|e| BalError::Corrupt {
                path: self.path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            out.push(b'\n');
        }
        let created = !self.path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| BalError::io(&self.path, e))?;
        file.write_all(&out)
            .and_then(|()| file.sync_data())
            .map_err(|e| BalError::io(&self.path, e))?;
        if created {
            sync_dir(&self.path)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum LineRef<'a> {
    Record { r: &'a PendingRecord },
    Sealed { s: &'a str, n: usize },
}

/// A sealed batch waiting for its anchor and for its references to be recorded in the SCD.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingBatch {
    /// The certificate.
    pub certificate: BatchCertificate,
    /// The certified measurements, in leaf order.
    pub leaves: Vec<PendingLeaf>,
}

/// A measurement of a sealed batch, with its proof (not yet anchored).
#[derive(Debug, Clone, PartialEq)]
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

/// A sealed batch as its file keeps it: the certificate and the leaf hashes, from which the
/// proofs are built again (a fifth of the size of the proofs themselves).
#[derive(Deserialize)]
struct SealedRecord {
    certificate: BatchCertificate,
    leaves: Vec<SealedLeaf>,
}

#[derive(Deserialize)]
struct SealedLeaf {
    series: String,
    timestamp: Timestamp,
    leaf: Digest,
    arrived: Timestamp,
}

/// [`SealedRecord`] as written, borrowing from the batch.
#[derive(Serialize)]
struct SealedRecordRef<'a> {
    certificate: &'a BatchCertificate,
    leaves: Vec<SealedLeafRef<'a>>,
}

#[derive(Serialize)]
struct SealedLeafRef<'a> {
    series: &'a str,
    timestamp: &'a Timestamp,
    leaf: &'a Digest,
    arrived: &'a Timestamp,
}

impl<'a> SealedRecordRef<'a> {
    fn of(batch: &'a PendingBatch) -> Self {
        SealedRecordRef {
            certificate: &batch.certificate,
            leaves: batch
                .leaves
                .iter()
                .map(|leaf| SealedLeafRef {
                    series: &leaf.series,
                    timestamp: &leaf.timestamp,
                    leaf: &leaf.proof.leaf,
                    arrived: &leaf.arrived,
                })
                .collect(),
        }
    }
}

impl SealedRecord {
    /// The batch with its proofs, built again from the leaves; the certificate they give must
    /// be the one the file holds.
    fn into_batch(self, path: &Path) -> Result<PendingBatch> {
        let c = &self.certificate;
        let digests: Vec<Digest> = self.leaves.iter().map(|l| l.leaf).collect();
        let rebuilt = certify_leaves(
            c.scheme,
            &c.source,
            c.sequence,
            c.previous,
            &digests,
            c.first_timestamp,
            c.last_timestamp,
            c.created_at,
        )?;
        if rebuilt.certificate != self.certificate {
            return Err(BalError::Corrupt {
                path: path.to_path_buf(),
                line: 0,
                message: format!(
                    "batch {}: its leaves do not give its certificate",
                    c.batch_id
                ),
            });
        }
        let leaves = self
            .leaves
            .into_iter()
            .zip(rebuilt.proofs)
            .map(|(leaf, proof)| PendingLeaf {
                series: leaf.series,
                timestamp: leaf.timestamp,
                proof,
                arrived: leaf.arrived,
            })
            .collect();
        Ok(PendingBatch {
            certificate: self.certificate,
            leaves,
        })
    }
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
        let records: Vec<SealedRecordRef<'_>> = batches.iter().map(SealedRecordRef::of).collect();
        let written = write_synced(&tmp, &records);
        if written.is_err() {
            // A partial file (a full disk) is not left to hold the space.
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        std::fs::rename(&tmp, &path).map_err(|e| BalError::io(&path, e))?;
        sync_dir(&path)?;
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
            let group: Vec<SealedRecord> =
                serde_json::from_slice(&bytes).map_err(|e| BalError::Corrupt {
                    path: path.clone(),
                    line: e.line(),
                    message: e.to_string(),
                })?;
            for record in group {
                let batch = record.into_batch(&path)?;
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

/// Writes `value` as JSON to a new file at `path`, streamed (a group's file can be megabytes,
/// which would be one large allocation), and syncs it.
fn write_synced<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let file = File::create(path).map_err(|e| BalError::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    serde_json::to_writer(&mut out, value).map_err(|e| match e.io_error_kind() {
        // The file system failed, not the serialisation.
        Some(kind) => BalError::io(path, std::io::Error::new(kind, e)),
        None => BalError::Corrupt {
            path: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        },
    })?;
    out.into_inner()
        .map_err(|e| BalError::io(path, e.into_error()))?
        .sync_data()
        .map_err(|e| BalError::io(path, e))
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

    fn sealed_batch(source: &str, n: u32) -> PendingBatch {
        let records: Vec<_> = (0..n).map(|i| record(source, i)).collect();
        let digests: Vec<Digest> = records
            .iter()
            .map(|r| {
                use platone_certify::Certifiable;
                platone_certify::Scheme::Sha256.leaf_hash(&r.measurement.canonical_bytes().unwrap())
            })
            .collect();
        let t = records[0].arrived;
        let sealed = certify_leaves(
            platone_certify::Scheme::Sha256,
            source,
            0,
            None,
            &digests,
            Some(t),
            Some(t),
            t,
        )
        .unwrap();
        PendingBatch {
            certificate: sealed.certificate,
            leaves: records
                .iter()
                .zip(sealed.proofs)
                .map(|(r, proof)| PendingLeaf {
                    series: r.key().0,
                    timestamp: r.measurement.timestamp,
                    proof,
                    arrived: r.arrived,
                })
                .collect(),
        }
    }

    #[test]
    fn sealed_files_give_back_the_batches_with_their_proofs() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = SealedBatches::open(dir.path().join("sealed")).unwrap();
        let batches = vec![sealed_batch("a/pmu", 5), sealed_batch("b/pmu", 3)];
        let file = sealed.write(&batches).unwrap().unwrap();
        let (listed, files) = sealed.list().unwrap();
        assert_eq!(listed, batches);
        assert_eq!(files, vec![file.clone()]);
        // A leaf that does not give the certificate is reported, not certified.
        let text = std::fs::read_to_string(&file).unwrap();
        let leaf = batches[0].leaves[0].proof.leaf.to_string();
        let flipped = if leaf.ends_with('0') { "1" } else { "0" };
        let damaged = text.replacen(&leaf, &format!("{}{flipped}", &leaf[..leaf.len() - 1]), 1);
        std::fs::write(&file, damaged).unwrap();
        let err = sealed.list().unwrap_err().to_string();
        assert!(err.contains("do not give its certificate"), "{err}");
        sealed.remove(&file).unwrap();
        assert!(sealed.list().unwrap().0.is_empty());
        assert!(sealed.write(&[]).unwrap().is_none());
    }
}
