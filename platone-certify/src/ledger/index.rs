//! The file ledger's on-disk index and checkpoint.
//!
//! Beside `ledger.jsonl` (the entries, the only record of truth) the ledger keeps:
//!
//! - `ledger.idx`: for entry `p`, at byte `16 p`, its byte offset and length (without the `\n`)
//!   in `ledger.jsonl`, two little-endian `u64`;
//! - `ledger.sources/HASH.seq`, one file per source (`HASH`: the first 16 bytes of SHA-256 of
//!   the source's name, in hex): for sequence `s`, at byte `8 s`, `position + 1` of the entry
//!   of batch `SOURCE:s` (0: none). A source's sequences are contiguous from 0, so the file is
//!   an array;
//! - `ledger.checkpoint`: how many entries the index files hold durably, the body length they
//!   cover, the last entry's hash and every source's latest certificate.
//!
//! Index records are written at fixed offsets, so writing one again is harmless: after a
//! crash, the entries after the checkpoint are simply indexed again. Index files are fsync'd at
//! each checkpoint (every [`CHECKPOINT_EVERY`] entries and when the ledger is closed), then the
//! checkpoint is replaced atomically (write, fsync, rename, fsync of the directory).

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::certificate::BatchCertificate;
use crate::error::{CertifyError, Result};
use crate::journal::{parent_dir, sync_dir};
use crate::scheme::Digest;

/// Entries appended between two checkpoints: the most an open has to index again after a
/// crash.
pub(crate) const CHECKPOINT_EVERY: u64 = 4096;

/// The checkpoint file's format name.
const CHECKPOINT_FORMAT: &str = "platone-ledger-checkpoint/1";

/// What the ledger keeps of a source: its latest certificate, to continue its chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceState {
    /// The latest certificate.
    pub certificate: BatchCertificate,
    /// Its hash.
    pub certificate_hash: Digest,
    /// Its entry's position.
    pub position: u64,
}

/// The durable state of the index: everything an open needs without reading the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Entries indexed durably.
    pub entries: u64,
    /// The body length they take, newlines included.
    pub body_len: u64,
    /// The hash of entry `entries - 1` (zeros when empty).
    pub last_entry: Digest,
    /// Every source's state at that point.
    pub sources: BTreeMap<String, SourceState>,
}

impl Checkpoint {
    /// The checkpoint of an empty ledger.
    pub fn empty() -> Self {
        Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            entries: 0,
            body_len: 0,
            last_entry: Digest::default(),
            sources: BTreeMap::new(),
        }
    }
}

/// The index files of a ledger directory.
#[derive(Debug)]
pub(crate) struct Index {
    dir: PathBuf,
    positions: File,
    positions_path: PathBuf,
    writable: bool,
    dirty_sources: HashSet<PathBuf>,
}

impl Index {
    /// The index file's name.
    pub const POSITIONS: &'static str = "ledger.idx";
    /// The per-source directory's name.
    pub const SOURCES: &'static str = "ledger.sources";
    /// The checkpoint's name.
    pub const CHECKPOINT: &'static str = "ledger.checkpoint";

    /// Opens the index of ledger directory `dir`; for writing, creates it (emptied when
    /// `rebuild`).
    pub fn open(dir: &Path, writable: bool, rebuild: bool) -> Result<Self> {
        let positions_path = dir.join(Self::POSITIONS);
        let sources = dir.join(Self::SOURCES);
        if writable && rebuild {
            remove_if_exists(&dir.join(Self::CHECKPOINT))?;
            remove_if_exists(&positions_path)?;
            if sources.exists() {
                std::fs::remove_dir_all(&sources).map_err(|e| CertifyError::io(&sources, e))?;
            }
        }
        if writable && !sources.exists() {
            std::fs::create_dir_all(&sources).map_err(|e| CertifyError::io(&sources, e))?;
            sync_dir(dir)?;
        }
        let positions = OpenOptions::new()
            .read(true)
            .write(writable)
            .create(writable)
            .truncate(false)
            .open(&positions_path)
            .map_err(|e| CertifyError::io(&positions_path, e))?;
        if writable {
            sync_dir(dir)?;
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            positions,
            positions_path,
            writable,
            dirty_sources: HashSet::new(),
        })
    }

    /// Reads the checkpoint, if there is one.
    pub fn read_checkpoint(dir: &Path) -> Result<Option<Checkpoint>> {
        let path = dir.join(Self::CHECKPOINT);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CertifyError::io(&path, e)),
        };
        let checkpoint: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            CertifyError::malformed(
                "ledger checkpoint",
                format!("line {} column {}", e.line(), e.column()),
                e,
            )
        })?;
        if checkpoint.format != CHECKPOINT_FORMAT {
            return Err(CertifyError::malformed(
                "ledger checkpoint",
                "format",
                format!("{:?} is not {CHECKPOINT_FORMAT}", checkpoint.format),
            ));
        }
        Ok(Some(checkpoint))
    }

    /// Makes every index record written so far durable, then replaces the checkpoint.
    pub fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.positions
            .sync_data()
            .map_err(|e| CertifyError::io(&self.positions_path, e))?;
        for path in self.dirty_sources.drain() {
            let file = File::open(&path).map_err(|e| CertifyError::io(&path, e))?;
            file.sync_data().map_err(|e| CertifyError::io(&path, e))?;
        }
        sync_dir(&self.dir.join(Self::SOURCES))?;
        let path = self.dir.join(Self::CHECKPOINT);
        let temporary = self.dir.join(format!("{}.tmp", Self::CHECKPOINT));
        let bytes =
            serde_json::to_vec(checkpoint).map_err(|e| CertifyError::Serialise(e.to_string()))?;
        let mut file = File::create(&temporary).map_err(|e| CertifyError::io(&temporary, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| CertifyError::io(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| CertifyError::io(&path, e))?;
        sync_dir(parent_dir(&path))
    }

    /// Records where entry `position` lies in the body.
    pub fn put_position(&mut self, position: u64, offset: u64, len: u64) -> Result<()> {
        let mut record = [0u8; 16];
        record[..8].copy_from_slice(&offset.to_le_bytes());
        record[8..].copy_from_slice(&len.to_le_bytes());
        write_at(
            &mut self.positions,
            &self.positions_path,
            position * 16,
            &record,
        )
    }

    /// Where entry `position` lies in the body: its offset and length.
    pub fn position(&mut self, position: u64) -> Result<Option<(u64, u64)>> {
        let mut record = [0u8; 16];
        if !read_at(
            &mut self.positions,
            &self.positions_path,
            position * 16,
            &mut record,
        )? {
            return Ok(None);
        }
        let offset = u64::from_le_bytes(record[..8].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(record[8..].try_into().unwrap_or_default());
        Ok((len > 0).then_some((offset, len)))
    }

    fn source_path(&self, source: &str) -> PathBuf {
        let digest = Digest::sha256(source.as_bytes());
        self.dir
            .join(Self::SOURCES)
            .join(format!("{}.seq", hex::encode(&digest.0[..16])))
    }

    /// Records that batch `sequence` of `source` is entry `position`.
    pub fn put_sequence(&mut self, source: &str, sequence: u64, position: u64) -> Result<()> {
        let path = self.source_path(source);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CertifyError::io(&path, e))?;
        write_at(
            &mut file,
            &path,
            sequence * 8,
            &(position + 1).to_le_bytes(),
        )?;
        self.dirty_sources.insert(path);
        Ok(())
    }

    /// The position of batch `sequence` of `source`, if indexed.
    pub fn sequence(&self, source: &str, sequence: u64) -> Result<Option<u64>> {
        let path = self.source_path(source);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CertifyError::io(&path, e)),
        };
        let mut record = [0u8; 8];
        if !read_at(&mut file, &path, sequence * 8, &mut record)? {
            return Ok(None);
        }
        Ok(u64::from_le_bytes(record).checked_sub(1))
    }

    /// The positions of the indexed batches of `source` with sequences in `sequences`, read in
    /// one go.
    pub fn sequences(&self, source: &str, sequences: Range<u64>) -> Result<Vec<(u64, u64)>> {
        let path = self.source_path(source);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CertifyError::io(&path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| CertifyError::io(&path, e))?
            .len();
        let end = sequences.end.min(len / 8);
        if sequences.start >= end {
            return Ok(Vec::new());
        }
        let mut bytes = vec![0u8; usize::try_from((end - sequences.start) * 8).unwrap_or(0)];
        if !read_at(&mut file, &path, sequences.start * 8, &mut bytes)? {
            return Ok(Vec::new());
        }
        Ok(bytes
            .chunks_exact(8)
            .zip(sequences.start..end)
            .filter_map(|(record, sequence)| {
                let value = u64::from_le_bytes(record.try_into().unwrap_or_default());
                value.checked_sub(1).map(|position| (sequence, position))
            })
            .collect())
    }

    /// Whether the index can be written.
    pub fn is_writable(&self) -> bool {
        self.writable
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CertifyError::io(path, e)),
    }
}

fn write_at(file: &mut File, path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.write_all(bytes))
        .map_err(|e| CertifyError::io(path, e))
}

/// Reads `buffer.len()` bytes at `offset`; `false` when the file ends before.
fn read_at(file: &mut File, path: &Path, offset: u64, buffer: &mut [u8]) -> Result<bool> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| CertifyError::io(path, e))?;
    match file.read_exact(buffer) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(CertifyError::io(path, e)),
    }
}
