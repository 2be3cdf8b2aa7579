//! The ledger's anchor journal: one JSON line per change of an aggregate anchor, fsync'd
//! before the change is acted on, so that a restart resumes every anchor where it was.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use platone_certify::Digest;
use platone_model::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, Result};

/// One batch certificate inside an aggregate anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchoredBatch {
    /// The batch.
    pub batch_id: String,
    /// Its certificate hash: the value whose StandardMerkleTree leaf is in the anchored tree.
    pub certificate_hash: Digest,
}

/// An aggregate anchor as the journal records it: its tree's leaves and root, the
/// transaction that carries it and, once confirmed, where it landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateRecord {
    /// The Merkle root over the batches' certificate hashes.
    pub root: Digest,
    /// The batches, in leaf order.
    pub batches: Vec<AnchoredBatch>,
    /// The latest block when the anchor was first prepared: its event lies after it.
    pub from_block: u64,
    /// The transaction last sent for it, if any.
    #[serde(default)]
    pub transaction: Option<B256>,
    /// Once confirmed: the anchor's position in the contract.
    #[serde(default)]
    pub position: Option<u64>,
    /// Once confirmed: the transaction that anchored it (it may differ from `transaction`
    /// only if an earlier send was mined after all).
    #[serde(default)]
    pub anchored_by: Option<B256>,
    /// Once confirmed: the block.
    #[serde(default)]
    pub block: Option<u64>,
    /// Once confirmed: the block's time.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

impl AggregateRecord {
    /// Whether the anchor is confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.position.is_some()
    }
}

/// The append-only journal file.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating) the journal and replays it: the aggregates in the order they first
    /// appear, each in its latest state. A torn last line (a write that never returned) is
    /// cut; any other unreadable line is an error naming it.
    pub(crate) fn open(path: &Path) -> Result<(Self, Vec<AggregateRecord>)> {
        let text = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ChainError::io(path, e)),
        };
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut records: Vec<AggregateRecord> = Vec::new();
        for (number, line) in text[..complete].split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record: AggregateRecord =
                serde_json::from_slice(line).map_err(|e| ChainError::Corrupt {
                    path: path.to_path_buf(),
                    message: format!("line {}: not an anchor record: {e}", number + 1),
                })?;
            match records.iter_mut().find(|r| r.root == record.root) {
                Some(existing) => *existing = record,
                None => records.push(record),
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| ChainError::io(path, e))?;
        if complete < text.len() {
            tracing::warn!(journal = %path.display(), bytes = text.len() - complete, "cutting a torn last line");
            file.set_len(complete as u64)
                .map_err(|e| ChainError::io(path, e))?;
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
            },
            records,
        ))
    }

    /// Appends a record's new state and fsyncs it.
    pub(crate) fn record(&mut self, record: &AggregateRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record)
            .map_err(|e| ChainError::Unexpected(format!("anchor record: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| ChainError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(root: u8, position: Option<u64>) -> AggregateRecord {
        AggregateRecord {
            root: Digest([root; 32]),
            batches: vec![AnchoredBatch {
                batch_id: format!("b{root}"),
                certificate_hash: Digest([root + 1; 32]),
            }],
            from_block: 7,
            transaction: Some(B256::repeat_byte(root)),
            position,
            anchored_by: position.map(|_| B256::repeat_byte(root)),
            block: position.map(|p| p + 10),
            time: None,
        }
    }

    #[test]
    fn replay_keeps_each_anchor_in_its_latest_state_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchors.jsonl");
        {
            let (mut j, replayed) = Journal::open(&path).unwrap();
            assert!(replayed.is_empty());
            j.record(&record(1, None)).unwrap();
            j.record(&record(2, None)).unwrap();
            j.record(&record(1, Some(0))).unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"root\":\"0x");
        std::fs::write(&path, &bytes).unwrap();
        let (mut j, replayed) = Journal::open(&path).unwrap();
        assert_eq!(replayed, vec![record(1, Some(0)), record(2, None)]);
        j.record(&record(2, Some(1))).unwrap();
        drop(j);
        let (_, replayed) = Journal::open(&path).unwrap();
        assert_eq!(replayed, vec![record(1, Some(0)), record(2, Some(1))]);

        std::fs::write(&path, b"{}\n").unwrap();
        let e = Journal::open(&path).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
