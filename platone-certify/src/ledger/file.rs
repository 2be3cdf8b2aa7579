//! The embedded file ledger.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::certificate::{Anchor, AnchorStatus, BatchCertificate};
use crate::error::{CertifyError, Result};
use crate::journal::{self, Writer};
use crate::scheme::Digest;

use super::{BoxFuture, ConsistencyReport, Ledger, LedgerEntry, LedgerProblem, entry_hash};

/// The embedded default ledger: one append-only, hash-chained JSON-lines file
/// (`DIR/ledger.jsonl`), fsync'd before an anchor is acknowledged.
///
/// Opening it for writing takes a single-writer lock, cuts a torn tail left by a crash (a last
/// line without its newline: a write that was never acknowledged) and refuses a ledger whose
/// complete entries do not check out. [`FileLedger::open_read_only`] takes no lock and changes
/// nothing, so verifiers can read a ledger in use.
///
/// ```
/// use platone_certify::{Batcher, BatchPolicy, Scheme};
/// use platone_certify::ledger::{FileLedger, Ledger};
/// let dir = tempfile::tempdir()?;
/// let ledger = FileLedger::open(dir.path())?;
/// let now = platone_model::parse_timestamp("2024-03-01T12:00:00Z")?;
/// let mut batcher = Batcher::new(Scheme::Sha256, BatchPolicy::pmu());
/// batcher.add("pmu-1", &serde_json::json!({"v": 1}), now)?;
/// let batch = batcher.flush(now)?.remove(0);
/// let status = futures::executor::block_on(ledger.anchor(&batch.certificate))?;
/// assert!(status.anchor().is_some());
/// let report = futures::executor::block_on(ledger.check_consistency())?;
/// assert!(report.is_consistent());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    name: String,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    writer: Option<Writer>,
    entries: Vec<LedgerEntry>,
    by_batch: HashMap<String, usize>,
    last_of_source: HashMap<String, usize>,
    problems: Vec<LedgerProblem>,
    torn_bytes: u64,
}

impl FileLedger {
    /// The ledger file's name inside its directory.
    pub const FILE_NAME: &'static str = "ledger.jsonl";

    /// Opens (creating) the ledger in `dir` for writing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| CertifyError::io(dir, e))?;
        let path = dir.join(Self::FILE_NAME);
        let (writer, bytes, torn) = Writer::open(&path)?;
        let mut inner = scan(&bytes);
        if let Some(p) = inner.problems.first() {
            return Err(CertifyError::Corrupt {
                path,
                entry: p.position,
                offset: p.offset.unwrap_or_default(),
                message: p.message.clone(),
            });
        }
        inner.writer = Some(writer);
        inner.torn_bytes = torn;
        Ok(Self::with(path, inner))
    }

    /// Opens the ledger in `dir` for reading only: no lock, nothing changed. Damaged entries
    /// do not stop it; they are listed by [`FileLedger::problems`].
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join(Self::FILE_NAME);
        if !path.exists() {
            return Err(CertifyError::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no ledger here"),
            ));
        }
        let bytes = journal::read_all(&path)?;
        let inner = scan(&bytes);
        Ok(Self::with(path, inner))
    }

    fn with(path: PathBuf, inner: Inner) -> Self {
        let absolute = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        FileLedger {
            name: format!("file:{}", absolute.display()),
            path,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes of torn tail were cut when it was opened.
    pub fn torn_bytes_cut(&self) -> u64 {
        self.lock().torn_bytes
    }

    /// The problems found when it was opened read-only (always empty for a writer).
    pub fn problems(&self) -> Vec<LedgerProblem> {
        self.lock().problems.clone()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the ledger has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest certificate of `source`, to resume its chain.
    pub fn last_certificate(&self, source: &str) -> Option<BatchCertificate> {
        let inner = self.lock();
        inner
            .last_of_source
            .get(source)
            .and_then(|i| inner.entries.get(*i))
            .map(|e| e.certificate.clone())
    }

    /// Every source that has a certificate in the ledger.
    pub fn sources(&self) -> Vec<String> {
        let mut sources: Vec<String> = self.lock().last_of_source.keys().cloned().collect();
        sources.sort();
        sources
    }

    fn anchor_sync(&self, certificates: &[BatchCertificate]) -> Result<Vec<AnchorStatus>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.writer.is_none() {
            return Err(CertifyError::Batch {
                batch_id: certificates
                    .first()
                    .map(|c| c.batch_id.clone())
                    .unwrap_or_default(),
                message: format!("{} is open read-only", self.path.display()),
            });
        }
        let now = chrono::Utc::now().fixed_offset();
        let mut statuses = Vec::with_capacity(certificates.len());
        let mut fresh: Vec<LedgerEntry> = Vec::new();
        let mut data = Vec::new();
        let mut last_of_source: HashMap<&str, (u64, Digest)> = HashMap::new();
        for certificate in certificates {
            certificate.check()?;
            let hash = certificate.hash()?;
            if let Some(existing) = inner
                .by_batch
                .get(&certificate.batch_id)
                .and_then(|i| inner.entries.get(*i))
                .or_else(|| {
                    fresh
                        .iter()
                        .find(|e| e.certificate.batch_id == certificate.batch_id)
                })
            {
                if existing.certificate_hash == hash {
                    statuses.push(AnchorStatus::Anchored(self.anchor_of(existing)));
                    continue;
                }
                return Err(CertifyError::Refused {
                    ledger: self.name.clone(),
                    batch_id: certificate.batch_id.clone(),
                    reason: "already anchored with a different certificate".into(),
                });
            }
            let previous_of_source = last_of_source
                .get(certificate.source.as_str())
                .copied()
                .or_else(|| {
                    inner
                        .last_of_source
                        .get(&certificate.source)
                        .and_then(|i| inner.entries.get(*i))
                        .map(|e| (e.certificate.sequence, e.certificate_hash))
                });
            let chained = match previous_of_source {
                None => certificate.sequence == 0 && certificate.previous.is_none(),
                Some((sequence, h)) => {
                    certificate.sequence == sequence + 1 && certificate.previous == Some(h)
                }
            };
            if !chained {
                return Err(CertifyError::Refused {
                    ledger: self.name.clone(),
                    batch_id: certificate.batch_id.clone(),
                    reason: "does not follow the last certificate of its source in the ledger"
                        .into(),
                });
            }
            let position = (inner.entries.len() + fresh.len()) as u64;
            let previous = fresh
                .last()
                .or(inner.entries.last())
                .map_or(Digest::default(), |e| e.entry);
            let entry = LedgerEntry {
                position,
                previous,
                certificate: certificate.clone(),
                certificate_hash: hash,
                recorded_at: now,
                entry: entry_hash(&previous, position, &hash, &now),
            };
            serde_json::to_writer(&mut data, &entry)
                .map_err(|e| CertifyError::Serialise(e.to_string()))?;
            data.push(b'\n');
            last_of_source.insert(certificate.source.as_str(), (certificate.sequence, hash));
            statuses.push(AnchorStatus::Anchored(self.anchor_of(&entry)));
            fresh.push(entry);
        }
        if !data.is_empty()
            && let Some(writer) = inner.writer.as_mut()
        {
            writer.append(&data)?;
        }
        for entry in fresh {
            let index = inner.entries.len();
            inner
                .by_batch
                .insert(entry.certificate.batch_id.clone(), index);
            inner
                .last_of_source
                .insert(entry.certificate.source.clone(), index);
            inner.entries.push(entry);
        }
        Ok(statuses)
    }

    fn anchor_of(&self, entry: &LedgerEntry) -> Anchor {
        Anchor {
            ledger: self.name.clone(),
            entry: entry.entry.to_string(),
            position: entry.position,
            time: entry.recorded_at,
        }
    }
}

/// Parses and checks a ledger's complete lines.
fn scan(bytes: &[u8]) -> Inner {
    let (lines, _) = journal::split_lines(bytes);
    let mut inner = Inner::default();
    let mut previous = Digest::default();
    for line in lines {
        let problem = |message: String| LedgerProblem {
            position: line.number,
            offset: Some(line.offset),
            message,
        };
        let entry: LedgerEntry = match serde_json::from_slice(line.text) {
            Ok(e) => e,
            Err(e) => {
                inner
                    .problems
                    .push(problem(format!("not a ledger entry: {e}")));
                continue;
            }
        };
        if let Err(message) = entry.check() {
            inner.problems.push(problem(message));
        }
        if entry.position != line.number {
            inner.problems.push(problem(format!(
                "entry says position {}, it is line {}",
                entry.position, line.number
            )));
        }
        if entry.previous != previous {
            inner.problems.push(problem(format!(
                "entry points back to {}, the entry before hashes to {previous}",
                entry.previous
            )));
        }
        previous = entry.entry;
        let certificate = &entry.certificate;
        let prior = inner
            .last_of_source
            .get(&certificate.source)
            .and_then(|i| inner.entries.get(*i));
        let chained = match prior {
            None => certificate.sequence == 0 && certificate.previous.is_none(),
            Some(p) => {
                certificate.sequence == p.certificate.sequence + 1
                    && certificate.previous == Some(p.certificate_hash)
            }
        };
        if !chained {
            inner.problems.push(problem(format!(
                "certificate {} does not follow the previous certificate of source {}",
                certificate.batch_id, certificate.source
            )));
        }
        if inner.by_batch.contains_key(&certificate.batch_id) {
            inner.problems.push(problem(format!(
                "batch {} appears twice",
                certificate.batch_id
            )));
            continue;
        }
        let index = inner.entries.len();
        inner.by_batch.insert(certificate.batch_id.clone(), index);
        inner
            .last_of_source
            .insert(certificate.source.clone(), index);
        inner.entries.push(entry);
    }
    inner
}

impl Ledger for FileLedger {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn anchor<'a>(
        &'a self,
        certificate: &'a BatchCertificate,
    ) -> BoxFuture<'a, Result<AnchorStatus>> {
        Box::pin(async move {
            let mut statuses = self.anchor_sync(std::slice::from_ref(certificate))?;
            statuses.pop().ok_or_else(|| CertifyError::Batch {
                batch_id: certificate.batch_id.clone(),
                message: "not anchored".into(),
            })
        })
    }

    fn anchor_all<'a>(
        &'a self,
        certificates: &'a [BatchCertificate],
    ) -> BoxFuture<'a, Result<Vec<AnchorStatus>>> {
        Box::pin(async move { self.anchor_sync(certificates) })
    }

    fn status<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, Result<Option<AnchorStatus>>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner
                .by_batch
                .get(batch_id)
                .and_then(|i| inner.entries.get(*i))
                .map(|e| AnchorStatus::Anchored(self.anchor_of(e))))
        })
    }

    fn get<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, Result<Option<LedgerEntry>>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner
                .by_batch
                .get(batch_id)
                .and_then(|i| inner.entries.get(*i))
                .cloned())
        })
    }

    fn list<'a>(
        &'a self,
        source: &'a str,
        sequences: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<LedgerEntry>>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner
                .entries
                .iter()
                .filter(|e| {
                    e.certificate.source == source && sequences.contains(&e.certificate.sequence)
                })
                .cloned()
                .collect())
        })
    }

    fn sources(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move { Ok(FileLedger::sources(self)) })
    }

    fn last_certificate<'a>(
        &'a self,
        source: &'a str,
    ) -> BoxFuture<'a, Result<Option<BatchCertificate>>> {
        Box::pin(async move { Ok(FileLedger::last_certificate(self, source)) })
    }

    fn check_consistency(&self) -> BoxFuture<'_, Result<ConsistencyReport>> {
        Box::pin(async move {
            let bytes = journal::read_all(&self.path)?;
            let (lines, complete) = journal::split_lines(&bytes);
            let scanned = scan(&bytes);
            let mut problems = scanned.problems;
            let known = self.lock().entries.len();
            if lines.len() < known {
                problems.push(LedgerProblem {
                    position: lines.len() as u64,
                    offset: Some(complete as u64),
                    message: format!(
                        "the file holds {} entries, {known} were acknowledged",
                        lines.len()
                    ),
                });
            }
            Ok(ConsistencyReport {
                entries: lines.len() as u64,
                problems,
            })
        })
    }
}
