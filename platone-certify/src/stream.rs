//! Certifying recorded data: a file or stream of JSON records of one source, batched in input
//! order, with every certificate dated at one moment.
//!
//! A batch closes at `max_records` records or, with a window, when a record's own `timestamp`
//! is `window` or more after the first timestamped record of the batch (a record without a
//! timestamp does not move that clock). Batching is [`Batcher`]'s, fed each record's time as
//! its clock ([`Batcher::add_leaf_with_clock`]); only the reading is done here: records are
//! canonicalised and hashed on every core, in chunks, and their leaves fed in input order.
//!
//! Results are [`SealedTree`]s, so the proofs of a large input can be written out with
//! [`write_proof_lines`] without holding a [`Proof`](crate::Proof) per record.
//!
//! ```
//! use platone_certify::stream::{StreamOptions, certify_json_lines};
//! use platone_certify::Scheme;
//!
//! let created_at = platone_model::parse_timestamp("2024-03-01T12:00:00Z")?;
//! let input = "{\"v\":1}\n{\"v\":2}\n\n{\"v\":3}\n";
//! let options = StreamOptions::new(Scheme::Sha256, "meter-4", 2, created_at);
//! let certified = certify_json_lines(input.as_bytes(), &options, None, |line, e| {
//!     panic!("line {line}: {e}")
//! })?;
//! assert_eq!(certified.records, 3);
//! assert_eq!(certified.batches.len(), 2);
//! assert_eq!(certified.batches[1].certificate.previous, Some(certified.batches[0].certificate_hash));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{BufRead, Write};

use chrono::TimeDelta;
use platone_model::Timestamp;

use crate::batcher::{BatchPolicy, Batcher, SealedTree};
use crate::canonical::{Certifiable, JsonRecord, canonicalize_json};
use crate::certificate::{AnchorStatus, BatchCertificate};
use crate::error::{CertifyError, Result};
use crate::scheme::{Digest, Scheme};

/// Lines hashed per parallel step.
const CHUNK: usize = 1 << 15;

/// The most threads used for hashing and rendering.
const MAX_WORKERS: usize = 8;

/// How a stream of records of one source is certified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamOptions {
    /// The Merkle scheme.
    pub scheme: Scheme,
    /// The source whose chain the batches extend.
    pub source: String,
    /// The most records in one batch (0 counts as 1).
    pub max_records: usize,
    /// Also close a batch once a record's `timestamp` is this long after the batch's first
    /// timestamped record. Without a window the records' timestamps are not read, and the
    /// certificates carry no `first_timestamp`/`last_timestamp`.
    pub window: Option<TimeDelta>,
    /// The creation time of every certificate.
    pub created_at: Timestamp,
}

impl StreamOptions {
    /// Options for batches of `max_records` of `source`, with no window.
    pub fn new(
        scheme: Scheme,
        source: impl Into<String>,
        max_records: usize,
        created_at: Timestamp,
    ) -> Self {
        StreamOptions {
            scheme,
            source: source.into(),
            max_records,
            window: None,
            created_at,
        }
    }

    /// The same options with a window measured on the records' own timestamps.
    pub fn with_window(mut self, window: TimeDelta) -> Self {
        self.window = Some(window);
        self
    }
}

/// What certifying a stream produced.
#[derive(Debug, Clone)]
pub struct CertifiedStream {
    /// The sealed batches, in chain order.
    pub batches: Vec<SealedTree>,
    /// How many records they hold.
    pub records: u64,
}

/// A record reduced to what batching needs.
struct Leaf {
    hash: Digest,
    timestamp: Option<Timestamp>,
}

/// Certifies every non-blank line of `input` as a JSON record of `options.source`, chained after
/// `after` (the source's last certificate, read back from a ledger) when given.
///
/// Every line that is not a valid record is passed to `bad_line` with its 1-based line number,
/// and then nothing is certified: the result is [`CertifyError::InvalidRecords`]. A line that
/// cannot be read is [`CertifyError::ReadRecords`]; an input without a record is
/// [`CertifyError::NoRecords`].
pub fn certify_json_lines<R: BufRead>(
    input: R,
    options: &StreamOptions,
    after: Option<&BatchCertificate>,
    mut bad_line: impl FnMut(u64, CertifyError),
) -> Result<CertifiedStream> {
    let window = options.window;
    let mut batcher = Batcher::new(
        options.scheme,
        BatchPolicy {
            max_records: options.max_records,
            window: window.unwrap_or(TimeDelta::MAX),
        },
    );
    if let Some(last) = after {
        batcher.resume(last)?;
    }
    let mut batches = Vec::new();
    let mut records = 0u64;
    let mut bad = 0u64;
    let mut feed = |chunk: &mut Vec<(u64, String)>| -> Result<()> {
        for (line, result) in hash_parallel(options.scheme, chunk, window.is_some()) {
            match result {
                Ok(leaf) if bad == 0 => {
                    records += 1;
                    batches.extend(batcher.add_leaf_with_clock(
                        &options.source,
                        leaf.hash,
                        leaf.timestamp,
                        leaf.timestamp,
                        options.created_at,
                    )?);
                }
                Ok(_) => {}
                Err(e) => {
                    bad += 1;
                    bad_line(line, e);
                }
            }
        }
        chunk.clear();
        Ok(())
    };
    let mut chunk: Vec<(u64, String)> = Vec::with_capacity(CHUNK);
    for (index, line) in input.lines().enumerate() {
        let number = index as u64 + 1;
        let line = line.map_err(|source| CertifyError::ReadRecords {
            line: number,
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        chunk.push((number, line));
        if chunk.len() == CHUNK {
            feed(&mut chunk)?;
        }
    }
    feed(&mut chunk)?;
    if bad > 0 {
        return Err(CertifyError::InvalidRecords { count: bad });
    }
    if records == 0 {
        return Err(CertifyError::NoRecords);
    }
    batches.extend(batcher.flush_trees(options.created_at)?);
    Ok(CertifiedStream { batches, records })
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
}

/// Canonicalises and hashes a chunk of lines on every core, keeping their order.
fn hash_parallel(
    scheme: Scheme,
    chunk: &[(u64, String)],
    want_time: bool,
) -> Vec<(u64, Result<Leaf>)> {
    let per = chunk.len().div_ceil(workers()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    let mut buffer = Vec::with_capacity(512);
                    part.iter()
                        .map(|(line, text)| {
                            buffer.clear();
                            let result = canonicalize_json(text, &mut buffer).and_then(|()| {
                                let timestamp = if want_time {
                                    JsonRecord::parse(text)?.timestamp()
                                } else {
                                    None
                                };
                                Ok(Leaf {
                                    hash: scheme.leaf_hash(&buffer),
                                    timestamp,
                                })
                            });
                            (*line, result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(0, Err(CertifyError::Tree("hashing thread failed".into())))]
                })
            })
            .collect()
    })
}

/// Writes every record's proof line ([`SealedTree::write_proof_lines`]) to `out`, batch after
/// batch in order, each batch with its anchor status (`anchors[i]` for `batches[i]`). Groups
/// of batches are rendered on every core and written in order.
pub fn write_proof_lines<W: Write + ?Sized>(
    batches: &[SealedTree],
    anchors: &[AnchorStatus],
    out: &mut W,
) -> std::io::Result<()> {
    if batches.len() != anchors.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} anchor statuses for {} batches",
                anchors.len(),
                batches.len()
            ),
        ));
    }
    let workers = workers();
    let group = 64 * workers;
    let indices: Vec<usize> = (0..batches.len()).collect();
    for slice in indices.chunks(group) {
        let per = slice.len().div_ceil(workers).max(1);
        let rendered: Vec<Result<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = slice
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || -> Result<Vec<u8>> {
                        let leaves: u64 = part
                            .iter()
                            .map(|&b| batches[b].certificate.leaf_count)
                            .sum();
                        let mut text = Vec::with_capacity(
                            usize::try_from(leaves).unwrap_or(0).saturating_mul(900),
                        );
                        for &b in part {
                            batches[b].write_proof_lines(&anchors[b], &mut text)?;
                        }
                        Ok(text)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(CertifyError::Tree("rendering thread failed".into()))
                    })
                })
                .collect()
        });
        for part in rendered {
            let text = part.map_err(std::io::Error::other)?;
            out.write_all(&text)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify_canonical;

    fn t(s: &str) -> Timestamp {
        platone_model::parse_timestamp(s).unwrap()
    }

    fn line(second: u32, value: u32) -> String {
        format!(
            "{{\"timestamp\":\"2024-01-01T00:{:02}:{:02}Z\",\"value\":{value}}}",
            second / 60,
            second % 60
        )
    }

    fn certify(text: &str, options: &StreamOptions) -> CertifiedStream {
        certify_json_lines(text.as_bytes(), options, None, |l, e| panic!("{l}: {e}")).unwrap()
    }

    fn counts(c: &CertifiedStream) -> Vec<u64> {
        c.batches.iter().map(|b| b.certificate.leaf_count).collect()
    }

    #[test]
    fn window_on_record_times_and_untimed_records_do_not_move_the_clock() {
        let options = StreamOptions::new(Scheme::Sha256, "s", 1000, t("2025-01-01T00:00:00Z"))
            .with_window(TimeDelta::seconds(60));
        let mut text: String = (0..130).map(|i| line(i, i) + "\n").collect();
        assert_eq!(counts(&certify(&text, &options)), [60, 60, 10]);
        // A batch closed by count: the untimed record after it opens no window, so the record
        // 70 s later does not close the batch; the next timed record opens it.
        let options = StreamOptions::new(Scheme::Sha256, "s", 2, t("2025-01-01T00:00:00Z"))
            .with_window(TimeDelta::seconds(60));
        text = [
            line(0, 0),
            line(1, 1),
            "{\"v\":2}".into(),
            line(71, 3),
            line(140, 4),
        ]
        .join("\n");
        let c = certify(&text, &options);
        assert_eq!(counts(&c), [2, 2, 1]);
        assert_eq!(
            c.batches[1].certificate.first_timestamp,
            Some(t("2024-01-01T00:01:11Z"))
        );
        // Without a window no timestamp is read.
        let c = certify(
            &text,
            &StreamOptions::new(Scheme::Keccak, "s", 2, t("2025-01-01T00:00:00Z")),
        );
        assert!(
            c.batches
                .iter()
                .all(|b| b.certificate.first_timestamp.is_none())
        );
    }

    #[test]
    fn bad_lines_are_each_reported_and_nothing_is_certified() {
        let text = format!("{}\n{{bad\n\n{}\n[1,\n", line(0, 0), line(1, 1));
        let mut bad = Vec::new();
        let options = StreamOptions::new(Scheme::Sha256, "s", 10, t("2025-01-01T00:00:00Z"));
        let e = certify_json_lines(text.as_bytes(), &options, None, |l, _| bad.push(l));
        assert!(matches!(e, Err(CertifyError::InvalidRecords { count: 2 })));
        assert_eq!(bad, [2, 5]);
        let e = certify_json_lines(" \n\n".as_bytes(), &options, None, |_, _| {});
        assert!(matches!(e, Err(CertifyError::NoRecords)));
    }

    #[test]
    fn proof_lines_verify_and_match_each_proof() {
        let options = StreamOptions::new(Scheme::Keccak, "s", 7, t("2025-01-01T00:00:00Z"));
        let lines: Vec<String> = (0..40).map(|i| line(i, i)).collect();
        let c = certify(&lines.join("\n"), &options);
        let anchors = vec![AnchorStatus::Pending; c.batches.len()];
        let mut out = Vec::new();
        write_proof_lines(&c.batches, &anchors, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 40);
        for (i, proof_line) in text.lines().enumerate() {
            let batch = &c.batches[i / 7];
            let proof = batch.proof(i % 7, &AnchorStatus::Pending).unwrap();
            assert_eq!(proof_line, proof.to_json().unwrap());
            let mut canonical = Vec::new();
            canonicalize_json(&lines[i], &mut canonical).unwrap();
            assert!(verify_canonical(&canonical, &proof, &batch.certificate).is_verified());
        }
        assert!(write_proof_lines(&c.batches, &anchors[1..], &mut Vec::new()).is_err());
    }
}
