//! The embedded file ledger.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::certificate::{Anchor, AnchorStatus, BatchCertificate};
use crate::error::{CertifyError, Result};
use crate::journal::{self, Writer};
use crate::scheme::Digest;

use super::index::{CHECKPOINT_EVERY, Checkpoint, Index, SourceState};
use super::{BoxFuture, ConsistencyReport, Ledger, LedgerEntry, LedgerProblem, entry_hash};

/// The embedded default ledger: one append-only, hash-chained JSON-lines file
/// (`DIR/ledger.jsonl`), fsync'd before an anchor is acknowledged, with an on-disk index
/// beside it.
///
/// Opening takes a time independent of the ledger's length, and memory grows with the number
/// of sources, not of entries: entries are found through the index (by batch id, by source and
/// sequence range) and read from the file when asked for. The index is checkpointed every few
/// thousand entries; opening re-indexes (and checks) only the entries after the last
/// checkpoint, and cuts, with a warning, a torn tail left by a crash (a last line without its
/// newline: a write that was never acknowledged). A ledger whose index does not match its file
/// is re-indexed from the file, which must then check out entirely. The full check of every
/// entry is the explicit [`Ledger::check_consistency`].
///
/// Opening for writing takes a single-writer lock. [`FileLedger::open_read_only`] takes no
/// lock and changes nothing, so verifiers can read a ledger in use; damaged entries do not stop
/// it, they are listed by [`FileLedger::problems`].
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

#[derive(Debug)]
struct Inner {
    writer: Option<Writer>,
    body: File,
    /// The on-disk index; `None` when a read-only ledger had to be read whole.
    index: Option<Index>,
    /// Entries held in memory: those after the checkpoint of a read-only ledger, or all of a
    /// read-only ledger without a usable index. Always empty for a writer.
    tail: Vec<LedgerEntry>,
    tail_by_batch: HashMap<String, usize>,
    /// Entries in the ledger.
    entries: u64,
    /// Bytes of complete entries.
    body_len: u64,
    /// The hash of the last entry.
    last_entry: Digest,
    sources: HashMap<String, SourceState>,
    since_checkpoint: u64,
    problems: Vec<LedgerProblem>,
    torn_bytes: u64,
    decoded_on_open: u64,
}

impl FileLedger {
    /// The ledger file's name inside its directory.
    pub const FILE_NAME: &'static str = "ledger.jsonl";

    /// Opens (creating) the ledger in `dir` for writing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| CertifyError::io(dir, e))?;
        let path = dir.join(Self::FILE_NAME);
        let (writer, torn) = Writer::open_cut(&path)?;
        let body = File::open(&path).map_err(|e| CertifyError::io(&path, e))?;
        let body_len = writer.len();
        let checkpoint = match Index::read_checkpoint(dir) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(ledger = %path.display(), error = %e, "unreadable checkpoint: re-indexing the ledger");
                None
            }
        };
        let usable = match &checkpoint {
            Some(c) => {
                let mut index = Index::open(dir, true, false)?;
                match validate(&mut index, &body, &path, c, body_len) {
                    Ok(()) => Some((index, c.clone())),
                    Err(reason) => {
                        tracing::warn!(ledger = %path.display(), %reason, "the index does not match the ledger: re-indexing it");
                        None
                    }
                }
            }
            None => None,
        };
        let (index, checkpoint) = match usable {
            Some(found) => found,
            None => {
                if body_len > 0 {
                    tracing::warn!(ledger = %path.display(), "indexing the whole ledger (no usable index)");
                }
                (Index::open(dir, true, true)?, Checkpoint::empty())
            }
        };
        let mut inner = Inner::from_checkpoint(writer, body, index, &checkpoint, torn);
        inner.scan_tail(&path, checkpoint.body_len, body_len, true)?;
        inner.refuse_problems_since(&path, 0)?;
        if inner.since_checkpoint > 0 {
            inner.checkpoint()?;
        }
        Ok(Self::with(path, inner))
    }

    /// Opens the ledger in `dir` for reading only: no lock, nothing changed. Damaged entries
    /// do not stop it; they are listed by [`FileLedger::problems`].
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(Self::FILE_NAME);
        let mut body = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CertifyError::io(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no ledger here"),
                ));
            }
            Err(e) => return Err(CertifyError::io(&path, e)),
        };
        let len = body
            .metadata()
            .map_err(|e| CertifyError::io(&path, e))?
            .len();
        let body_len = journal::complete_len(&mut body, &path, len)?;
        let usable = match Index::read_checkpoint(dir).ok().flatten() {
            Some(c) if dir.join(Index::POSITIONS).exists() => {
                let mut index = Index::open(dir, false, false)?;
                validate(&mut index, &body, &path, &c, body_len)
                    .ok()
                    .map(|()| (Some(index), c))
            }
            _ => None,
        };
        let (index, checkpoint) = usable.unwrap_or((None, Checkpoint::empty()));
        let mut inner = Inner {
            writer: None,
            body,
            index,
            tail: Vec::new(),
            tail_by_batch: HashMap::new(),
            entries: checkpoint.entries,
            body_len: checkpoint.body_len,
            last_entry: checkpoint.last_entry,
            sources: checkpoint.sources.clone().into_iter().collect(),
            since_checkpoint: 0,
            problems: Vec::new(),
            torn_bytes: len - body_len,
            decoded_on_open: 0,
        };
        inner.scan_tail(&path, checkpoint.body_len, body_len, false)?;
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

    /// How many bytes of torn tail were cut when it was opened (for a read-only ledger: how
    /// many were found and ignored).
    pub fn torn_bytes_cut(&self) -> u64 {
        self.lock().torn_bytes
    }

    /// How many entries opening read and checked: those after the index's last checkpoint, or
    /// all of them when the index had to be built. Independent of the ledger's length
    /// otherwise.
    pub fn entries_read_on_open(&self) -> u64 {
        self.lock().decoded_on_open
    }

    /// The problems found when it was opened read-only (always empty for a writer).
    pub fn problems(&self) -> Vec<LedgerProblem> {
        self.lock().problems.clone()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        usize::try_from(self.lock().entries).unwrap_or(usize::MAX)
    }

    /// Whether the ledger has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest certificate of `source`, to resume its chain.
    pub fn last_certificate(&self, source: &str) -> Option<BatchCertificate> {
        self.lock()
            .sources
            .get(source)
            .map(|s| s.certificate.clone())
    }

    /// Every source that has a certificate in the ledger.
    pub fn sources(&self) -> Vec<String> {
        let mut sources: Vec<String> = self.lock().sources.keys().cloned().collect();
        sources.sort();
        sources
    }

    /// Makes the index durable now (it is otherwise checkpointed every few thousand entries
    /// and when the ledger is dropped).
    pub fn checkpoint(&self) -> Result<()> {
        let mut inner = self.lock();
        if inner.writer.is_some() {
            inner.checkpoint()?;
        }
        Ok(())
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
        inner.index_unindexed_tail(&self.path)?;
        let now = chrono::Utc::now().fixed_offset();
        let mut statuses = Vec::with_capacity(certificates.len());
        let mut fresh: Vec<LedgerEntry> = Vec::new();
        let mut data = Vec::new();
        let mut lengths = Vec::new();
        let mut pending: HashMap<&str, (u64, Digest)> = HashMap::new();
        for certificate in certificates {
            certificate.check()?;
            let hash = certificate.hash()?;
            let refused = |reason: &str| CertifyError::Refused {
                ledger: self.name.clone(),
                batch_id: certificate.batch_id.clone(),
                reason: reason.to_owned(),
            };
            if let Some(existing) = fresh
                .iter()
                .find(|e| e.certificate.batch_id == certificate.batch_id)
            {
                if existing.certificate_hash == hash {
                    statuses.push(AnchorStatus::Anchored(self.anchor_of(existing)));
                    continue;
                }
                return Err(refused("already anchored with a different certificate"));
            }
            let known = inner
                .sources
                .get(&certificate.source)
                .is_some_and(|s| certificate.sequence <= s.certificate.sequence);
            if known {
                match inner.get(&self.path, &certificate.batch_id)? {
                    Some(existing) if existing.certificate_hash == hash => {
                        statuses.push(AnchorStatus::Anchored(self.anchor_of(&existing)));
                        continue;
                    }
                    Some(_) => {
                        return Err(refused("already anchored with a different certificate"));
                    }
                    None => {}
                }
            }
            let previous_of_source =
                pending
                    .get(certificate.source.as_str())
                    .copied()
                    .or_else(|| {
                        inner
                            .sources
                            .get(&certificate.source)
                            .map(|s| (s.certificate.sequence, s.certificate_hash))
                    });
            let chained = match previous_of_source {
                None => certificate.sequence == 0 && certificate.previous.is_none(),
                Some((sequence, h)) => {
                    certificate.sequence == sequence + 1 && certificate.previous == Some(h)
                }
            };
            if !chained {
                return Err(refused(
                    "does not follow the last certificate of its source in the ledger",
                ));
            }
            let position = inner.entries + fresh.len() as u64;
            let previous = fresh.last().map_or(inner.last_entry, |e| e.entry);
            let entry = LedgerEntry {
                position,
                previous,
                certificate: certificate.clone(),
                certificate_hash: hash,
                recorded_at: now,
                entry: entry_hash(&previous, position, &hash, &now),
            };
            let start = data.len();
            serde_json::to_writer(&mut data, &entry)
                .map_err(|e| CertifyError::Serialise(e.to_string()))?;
            lengths.push((data.len() - start) as u64);
            data.push(b'\n');
            pending.insert(certificate.source.as_str(), (certificate.sequence, hash));
            statuses.push(AnchorStatus::Anchored(self.anchor_of(&entry)));
            fresh.push(entry);
        }
        if !data.is_empty()
            && let Some(writer) = inner.writer.as_mut()
        {
            writer.append(&data)?;
        }
        for (entry, len) in fresh.into_iter().zip(lengths) {
            inner.index_entry(entry, len)?;
        }
        if inner.since_checkpoint >= CHECKPOINT_EVERY {
            inner.checkpoint()?;
        }
        Ok(statuses)
    }

    fn anchor_of(&self, entry: &LedgerEntry) -> Anchor {
        Anchor {
            ledger: self.name.clone(),
            entry: entry.entry.to_string(),
            position: entry.position,
            time: entry.recorded_at,
            chain: None,
        }
    }
}

impl Drop for FileLedger {
    fn drop(&mut self) {
        let inner = self
            .inner
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.writer.is_some()
            && inner.since_checkpoint > 0
            && let Err(e) = inner.checkpoint()
        {
            tracing::warn!(ledger = %self.path.display(), error = %e, "cannot checkpoint the ledger index; the next open re-indexes the tail");
        }
    }
}

/// Checks the checkpoint against the ledger file: the file is at least as long, and the last
/// checkpointed entry is where the index says, whole, at its position, with its hash.
fn validate(
    index: &mut Index,
    body: &File,
    path: &Path,
    checkpoint: &Checkpoint,
    body_len: u64,
) -> std::result::Result<(), String> {
    if body_len < checkpoint.body_len {
        return Err(format!(
            "the file holds {body_len} bytes of entries, the index covers {}",
            checkpoint.body_len
        ));
    }
    let Some(last) = checkpoint.entries.checked_sub(1) else {
        return if checkpoint.body_len == 0 {
            Ok(())
        } else {
            Err("the checkpoint of an empty index covers bytes".into())
        };
    };
    let (offset, len) = index
        .position(last)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("entry {last} is not indexed"))?;
    if offset + len + 1 != checkpoint.body_len {
        return Err(format!("entry {last} does not end where the index says"));
    }
    let entry = read_entry(body, path, last, offset, len).map_err(|e| e.to_string())?;
    if entry.position != last || entry.entry != checkpoint.last_entry {
        return Err(format!("entry {last} is not the one the index recorded"));
    }
    if entry.compute_hash() != entry.entry {
        return Err(format!("entry {last} does not hash to its recorded hash"));
    }
    Ok(())
}

/// Reads and parses entry `position` at `offset` (`len` bytes without the newline).
fn read_entry(
    body: &File,
    path: &Path,
    position: u64,
    offset: u64,
    len: u64,
) -> Result<LedgerEntry> {
    let corrupt = |message: String| CertifyError::Corrupt {
        path: path.to_path_buf(),
        entry: position,
        offset,
        message,
    };
    let size = usize::try_from(len).map_err(|_| corrupt("entry too long".into()))?;
    let mut bytes = vec![0u8; size];
    let mut reader = body;
    reader
        .seek(SeekFrom::Start(offset))
        .and_then(|_| reader.read_exact(&mut bytes))
        .map_err(|e| CertifyError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not a ledger entry: {e}")))
}

impl Inner {
    fn from_checkpoint(
        writer: Writer,
        body: File,
        index: Index,
        checkpoint: &Checkpoint,
        torn: u64,
    ) -> Self {
        Inner {
            writer: Some(writer),
            body,
            index: Some(index),
            tail: Vec::new(),
            tail_by_batch: HashMap::new(),
            entries: checkpoint.entries,
            body_len: checkpoint.body_len,
            last_entry: checkpoint.last_entry,
            sources: checkpoint.sources.clone().into_iter().collect(),
            since_checkpoint: 0,
            problems: Vec::new(),
            torn_bytes: torn,
            decoded_on_open: 0,
        }
    }

    /// Indexes the entries a writer appended but could not index (the index write failed after
    /// the append was durable), so that retrying their anchoring finds them instead of
    /// appending them a second time.
    fn index_unindexed_tail(&mut self, path: &Path) -> Result<()> {
        let written = self.writer.as_ref().map_or(self.body_len, Writer::len);
        if written <= self.body_len {
            return Ok(());
        }
        tracing::warn!(ledger = %path.display(), bytes = written - self.body_len, "indexing entries whose index write failed");
        let problems = self.problems.len();
        self.scan_tail(path, self.body_len, written, true)?;
        self.refuse_problems_since(path, problems)
    }

    /// A writer refuses a ledger with a problem: the first problem found from index `since` of
    /// `problems` on, as an error.
    fn refuse_problems_since(&self, path: &Path, since: usize) -> Result<()> {
        match self.problems.get(since) {
            Some(p) => Err(CertifyError::Corrupt {
                path: path.to_path_buf(),
                entry: p.position,
                offset: p.offset.unwrap_or_default(),
                message: p.message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Reads, checks and indexes the entries in `from..to` of the file (on disk for a writer,
    /// in memory otherwise). Problems are collected; a writer's caller refuses the ledger if
    /// there is one.
    fn scan_tail(&mut self, path: &Path, from: u64, to: u64, writable: bool) -> Result<()> {
        let body = self
            .body
            .try_clone()
            .map_err(|e| CertifyError::io(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, body);
        reader
            .seek(SeekFrom::Start(from))
            .map_err(|e| CertifyError::io(path, e))?;
        let mut reader = reader.take(to - from);
        let mut line = Vec::with_capacity(1024);
        let mut offset = from;
        loop {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| CertifyError::io(path, e))?;
            if read == 0 || line.last() != Some(&b'\n') {
                break;
            }
            let text = &line[..line.len() - 1];
            let position = self.entries;
            self.decoded_on_open += 1;
            let problem = |message: String| LedgerProblem {
                position,
                offset: Some(offset),
                message,
            };
            match serde_json::from_slice::<LedgerEntry>(text) {
                Ok(entry) => {
                    let found = check_next(&entry, position, &self.last_entry, &self.sources);
                    self.problems.extend(found.into_iter().map(problem));
                    if writable {
                        self.index_entry(entry, text.len() as u64)?;
                    } else {
                        self.remember(entry);
                    }
                }
                Err(e) => {
                    self.problems
                        .push(problem(format!("not a ledger entry: {e}")));
                    self.entries += 1;
                }
            }
            offset += read as u64;
            self.body_len = offset;
        }
        Ok(())
    }

    /// Adds an entry written at the end of the file to the on-disk index.
    fn index_entry(&mut self, entry: LedgerEntry, len: u64) -> Result<()> {
        let offset = self.body_len;
        if let Some(index) = self.index.as_mut().filter(|i| i.is_writable()) {
            index.put_position(entry.position, offset, len)?;
            index.put_sequence(
                &entry.certificate.source,
                entry.certificate.sequence,
                entry.position,
            )?;
        }
        self.body_len = offset + len + 1;
        self.entries = entry.position + 1;
        self.last_entry = entry.entry;
        self.since_checkpoint += 1;
        self.sources.insert(
            entry.certificate.source.clone(),
            SourceState {
                certificate_hash: entry.certificate_hash,
                position: entry.position,
                certificate: entry.certificate,
            },
        );
        Ok(())
    }

    /// Keeps an entry of a read-only ledger in memory.
    fn remember(&mut self, entry: LedgerEntry) {
        self.entries += 1;
        self.last_entry = entry.entry;
        // A duplicate batch leaves the first findable; its problem is already recorded.
        self.tail_by_batch
            .entry(entry.certificate.batch_id.clone())
            .or_insert(self.tail.len());
        let source = &entry.certificate.source;
        let follows = self
            .sources
            .get(source)
            .is_none_or(|s| entry.certificate.sequence > s.certificate.sequence);
        if follows {
            self.sources.insert(
                source.clone(),
                SourceState {
                    certificate: entry.certificate.clone(),
                    certificate_hash: entry.certificate_hash,
                    position: entry.position,
                },
            );
        }
        self.tail.push(entry);
    }

    fn checkpoint(&mut self) -> Result<()> {
        let checkpoint = Checkpoint {
            entries: self.entries,
            body_len: self.body_len,
            last_entry: self.last_entry,
            sources: self
                .sources
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..Checkpoint::empty()
        };
        if let Some(index) = self.index.as_mut() {
            index.checkpoint(&checkpoint)?;
        }
        self.since_checkpoint = 0;
        Ok(())
    }

    /// The entry of `batch_id`, from memory or through the index.
    fn get(&mut self, path: &Path, batch_id: &str) -> Result<Option<LedgerEntry>> {
        if let Some(i) = self.tail_by_batch.get(batch_id) {
            return Ok(self.tail.get(*i).cloned());
        }
        let Some((source, sequence)) = batch_id
            .rsplit_once(':')
            .and_then(|(s, n)| Some((s, n.parse::<u64>().ok()?)))
        else {
            return Ok(None);
        };
        let entry = self.get_sequence(path, source, sequence)?;
        Ok(entry.filter(|e| e.certificate.batch_id == batch_id))
    }

    /// The entry of batch `sequence` of `source` through the on-disk index.
    fn get_sequence(
        &mut self,
        path: &Path,
        source: &str,
        sequence: u64,
    ) -> Result<Option<LedgerEntry>> {
        let Some(index) = self.index.as_mut() else {
            return Ok(None);
        };
        let Some(position) = index.sequence(source, sequence)? else {
            return Ok(None);
        };
        if position >= self.entries {
            return Ok(None);
        }
        let Some((offset, len)) = index.position(position)? else {
            return Ok(None);
        };
        let entry = read_entry(&self.body, path, position, offset, len)?;
        if entry.position != position
            || entry.certificate.source != source
            || entry.certificate.sequence != sequence
        {
            return Err(CertifyError::Corrupt {
                path: path.to_path_buf(),
                entry: position,
                offset,
                message: format!(
                    "the index points batch {} here, the entry is batch {} at position {}",
                    BatchCertificate::batch_id_for(source, sequence),
                    entry.certificate.batch_id,
                    entry.position
                ),
            });
        }
        Ok(Some(entry))
    }

    fn list(
        &mut self,
        path: &Path,
        source: &str,
        sequences: Range<u64>,
    ) -> Result<Vec<LedgerEntry>> {
        let Some(last) = self.sources.get(source).map(|s| s.certificate.sequence) else {
            return Ok(Vec::new());
        };
        let end = sequences.end.min(last.saturating_add(1));
        let mut found = Vec::new();
        if let Some(index) = self.index.as_mut() {
            let mut positions = Vec::new();
            for (sequence, position) in index.sequences(source, sequences.start..end)? {
                if position < self.entries {
                    positions.push((sequence, position, index.position(position)?));
                }
            }
            for (sequence, position, located) in positions {
                let Some((offset, len)) = located else {
                    continue;
                };
                let entry = read_entry(&self.body, path, position, offset, len)?;
                if entry.certificate.source == source && entry.certificate.sequence == sequence {
                    found.push(entry);
                }
            }
        }
        let range = sequences.start..end;
        let in_memory = self
            .tail
            .iter()
            .filter(|e| e.certificate.source == source && range.contains(&e.certificate.sequence));
        found.extend(in_memory.cloned());
        Ok(found)
    }
}

/// What is wrong with `entry` as the entry at `position` after one hashing to `previous`,
/// given the sources' latest certificates.
fn check_next(
    entry: &LedgerEntry,
    position: u64,
    previous: &Digest,
    sources: &HashMap<String, SourceState>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(message) = entry.check() {
        problems.push(message);
    }
    if entry.position != position {
        problems.push(format!(
            "entry says position {}, it is line {position}",
            entry.position
        ));
    }
    if entry.previous != *previous {
        problems.push(format!(
            "entry points back to {}, the entry before hashes to {previous}",
            entry.previous
        ));
    }
    let certificate = &entry.certificate;
    let chained = match sources.get(&certificate.source) {
        None => certificate.sequence == 0 && certificate.previous.is_none(),
        Some(p) => {
            certificate.sequence == p.certificate.sequence + 1
                && certificate.previous == Some(p.certificate_hash)
        }
    };
    if !chained {
        problems.push(format!(
            "certificate {} does not follow the previous certificate of source {}",
            certificate.batch_id, certificate.source
        ));
    }
    problems
}

/// Reads the whole file, streaming, and checks every entry, the entry chain, every source's
/// chain and the index against the file.
fn check_file(
    path: &Path,
    index: Option<&mut Index>,
    acknowledged: u64,
) -> Result<ConsistencyReport> {
    let file = File::open(path).map_err(|e| CertifyError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut index = index;
    let mut line = Vec::with_capacity(1024);
    let mut offset = 0u64;
    let mut position = 0u64;
    let mut previous = Digest::default();
    let mut sources: HashMap<String, SourceState> = HashMap::new();
    let mut problems = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CertifyError::io(path, e))?;
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }
        let text = &line[..line.len() - 1];
        let problem = |message: String| LedgerProblem {
            position,
            offset: Some(offset),
            message,
        };
        match serde_json::from_slice::<LedgerEntry>(text) {
            Ok(entry) => {
                problems.extend(
                    check_next(&entry, position, &previous, &sources)
                        .into_iter()
                        .map(problem),
                );
                if let Some(index) = index.as_deref_mut().filter(|_| position < acknowledged) {
                    if index.position(position)? != Some((offset, text.len() as u64)) {
                        problems.push(problem("the index does not locate this entry".into()));
                    }
                    let certificate = &entry.certificate;
                    if index.sequence(&certificate.source, certificate.sequence)? != Some(position)
                    {
                        problems.push(problem(format!(
                            "the index does not find batch {} here",
                            certificate.batch_id
                        )));
                    }
                }
                previous = entry.entry;
                let follows = sources
                    .get(&entry.certificate.source)
                    .is_none_or(|s| entry.certificate.sequence > s.certificate.sequence);
                if follows {
                    sources.insert(
                        entry.certificate.source.clone(),
                        SourceState {
                            certificate_hash: entry.certificate_hash,
                            position,
                            certificate: entry.certificate,
                        },
                    );
                }
            }
            Err(e) => problems.push(problem(format!("not a ledger entry: {e}"))),
        }
        offset += read as u64;
        position += 1;
    }
    if position < acknowledged {
        problems.push(LedgerProblem {
            position,
            offset: Some(offset),
            message: format!("the file holds {position} entries, {acknowledged} were acknowledged"),
        });
    }
    Ok(ConsistencyReport {
        entries: position,
        problems,
    })
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
            let entry = self.lock().get(&self.path, batch_id)?;
            Ok(entry.map(|e| AnchorStatus::Anchored(self.anchor_of(&e))))
        })
    }

    fn get<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, Result<Option<LedgerEntry>>> {
        Box::pin(async move { self.lock().get(&self.path, batch_id) })
    }

    fn list<'a>(
        &'a self,
        source: &'a str,
        sequences: Range<u64>,
    ) -> BoxFuture<'a, Result<Vec<LedgerEntry>>> {
        Box::pin(async move { self.lock().list(&self.path, source, sequences) })
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
            let mut inner = self.lock();
            let acknowledged = inner.entries;
            let index = if inner.tail.is_empty() {
                inner.index.as_mut()
            } else {
                None
            };
            check_file(&self.path, index, acknowledged)
        })
    }
}
