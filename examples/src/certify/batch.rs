//! `platone certify batch`.

use std::io::{BufRead, Write};
use std::ops::Range;

use platone_certify::{
    AnchorStatus, BatchCertificate, Certifiable, Digest, FileLedger, JsonRecord, Ledger,
    MerkleTree, PROOF_FORMAT, Proof, Scheme, canonicalize_json,
};
use platone_model::Timestamp;

use super::{BatchArgs, block_on};
use crate::error::{CliError, CliResult};
use crate::io::{open_input, write_failed};

/// Lines hashed per parallel step.
const CHUNK: usize = 1 << 15;

/// A record reduced to what batching needs.
struct Leaf {
    hash: Digest,
    timestamp: Option<Timestamp>,
}

pub fn run(args: &BatchArgs) -> CliResult {
    let batch_size = usize::try_from(args.batch_size)
        .map_err(|_| CliError::usage("--batch-size is too large"))?;
    let ledger =
        FileLedger::open(&args.ledger).map_err(|e| CliError::input(format!("ledger: {e}")))?;
    let leaves = read_leaves(args)?;
    if leaves.is_empty() {
        return Err(CliError::input(format!(
            "{}: no records to certify",
            args.input.display()
        )));
    }
    let ranges = batch_ranges(&leaves, batch_size, args.window);

    // Certificates, chained after whatever the ledger already holds for this source.
    let (mut sequence, mut previous) = match ledger.last_certificate(&args.source) {
        Some(last) => (
            last.sequence + 1,
            Some(
                last.hash()
                    .map_err(|e| CliError::input(format!("ledger: {e}")))?,
            ),
        ),
        None => (0, None),
    };
    let created_at = platone_certify::now();
    let mut trees = Vec::with_capacity(ranges.len());
    let mut certificates = Vec::with_capacity(ranges.len());
    let mut hashes = Vec::with_capacity(ranges.len());
    let mut leaf_hashes: Vec<Digest> = Vec::with_capacity(batch_size);
    for range in &ranges {
        leaf_hashes.clear();
        leaf_hashes.extend(leaves[range.clone()].iter().map(|l| l.hash));
        let tree = MerkleTree::new(args.scheme, &leaf_hashes)
            .map_err(|e| CliError::input(e.to_string()))?;
        let times = leaves[range.clone()].iter().filter_map(|l| l.timestamp);
        let certificate = BatchCertificate {
            batch_id: BatchCertificate::batch_id_for(&args.source, sequence),
            source: args.source.clone(),
            sequence,
            scheme: args.scheme,
            root: tree.root(),
            leaf_count: range.len() as u64,
            first_timestamp: times.clone().min(),
            last_timestamp: times.max(),
            created_at,
            previous,
        };
        let hash = certificate
            .hash()
            .map_err(|e| CliError::input(e.to_string()))?;
        previous = Some(hash);
        sequence += 1;
        trees.push(tree);
        certificates.push(certificate);
        hashes.push(hash);
    }
    let anchors = block_on(ledger.anchor_all(&certificates))?
        .map_err(|e| CliError::input(format!("ledger: {e}")))?;

    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::input(format!("{}: cannot create: {e}", args.out.display())))?;
    write_certificates(args, &certificates, &hashes, &anchors)?;
    write_proofs(args, &trees, &certificates, &hashes, &anchors)?;
    eprintln!(
        "certified {} records in {} batches ({}), ledger {}",
        leaves.len(),
        certificates.len(),
        args.scheme,
        ledger.path().display()
    );
    Ok(())
}

/// Reads and hashes every record; reports every bad line, and fails if there was one.
fn read_leaves(args: &BatchArgs) -> CliResult<Vec<Leaf>> {
    let input = open_input(&args.input)?;
    let want_time = args.window.is_some();
    let mut leaves = Vec::new();
    let mut chunk: Vec<(usize, String)> = Vec::with_capacity(CHUNK);
    let mut bad = 0u64;
    let mut flush = |chunk: &mut Vec<(usize, String)>, leaves: &mut Vec<Leaf>| {
        for (line_no, result) in hash_parallel(args.scheme, chunk, want_time) {
            match result {
                Ok(leaf) => leaves.push(leaf),
                Err(message) => {
                    bad += 1;
                    eprintln!("error: {}:{line_no}: {message}", args.input.display());
                }
            }
        }
        chunk.clear();
    };
    for (index, line) in input.lines().enumerate() {
        let line = line
            .map_err(|e| CliError::input(format!("{}:{}: {e}", args.input.display(), index + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        chunk.push((index + 1, line));
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut leaves);
        }
    }
    flush(&mut chunk, &mut leaves);
    if bad > 0 {
        return Err(CliError::input(format!(
            "{bad} invalid record(s) in {}; nothing was certified",
            args.input.display()
        )));
    }
    Ok(leaves)
}

/// Canonicalises and hashes a chunk of lines on every core, keeping their order.
fn hash_parallel(
    scheme: Scheme,
    chunk: &[(usize, String)],
    want_time: bool,
) -> Vec<(usize, Result<Leaf, String>)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let per = chunk.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(per)
            .map(|part| {
                scope.spawn(move || {
                    let mut buffer = Vec::with_capacity(512);
                    part.iter()
                        .map(|(line_no, text)| {
                            buffer.clear();
                            let result = canonicalize_json(text, &mut buffer)
                                .and_then(|()| {
                                    let timestamp = if want_time {
                                        JsonRecord::parse(text)?.timestamp()
                                    } else {
                                        None
                                    };
                                    Ok(Leaf {
                                        hash: scheme.leaf_hash(&buffer),
                                        timestamp,
                                    })
                                })
                                .map_err(|e| e.to_string());
                            (*line_no, result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![(0, Err("worker thread failed".to_owned()))])
            })
            .collect()
    })
}

/// Splits the records into batches: `batch_size` records, or a window measured on the records'
/// own timestamps (a record without one does not move the clock).
fn batch_ranges(leaves: &[Leaf], batch_size: usize, window: Option<u64>) -> Vec<Range<usize>> {
    let window = window.map(|w| i64::try_from(w).unwrap_or(i64::MAX));
    let mut ranges = Vec::with_capacity(leaves.len() / batch_size + 1);
    let mut start = 0;
    let mut opened: Option<Timestamp> = None;
    for (i, leaf) in leaves.iter().enumerate() {
        if let (Some(w), Some(o), Some(t)) = (window, opened, leaf.timestamp)
            && i > start
            && (t - o).num_seconds() >= w
        {
            ranges.push(start..i);
            start = i;
            opened = None;
        }
        if opened.is_none() {
            opened = leaf.timestamp;
        }
        if i + 1 - start == batch_size {
            ranges.push(start..i + 1);
            start = i + 1;
            opened = None;
        }
    }
    if start < leaves.len() {
        ranges.push(start..leaves.len());
    }
    ranges
}

fn write_certificates(
    args: &BatchArgs,
    certificates: &[BatchCertificate],
    hashes: &[Digest],
    anchors: &[AnchorStatus],
) -> CliResult {
    let path = args.out.join("certificates.jsonl");
    let mut out = create(&path)?;
    for ((certificate, hash), anchor) in certificates.iter().zip(hashes).zip(anchors) {
        let mut value = serde_json::to_value(certificate)
            .map_err(|e| CliError::input(format!("certificate: {e}")))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("certificate_hash".into(), hash.to_string().into());
            object.insert(
                "anchor".into(),
                serde_json::to_value(anchor)
                    .map_err(|e| CliError::input(format!("anchor: {e}")))?,
            );
        }
        serde_json::to_writer(&mut out, &value)
            .map_err(|e| CliError::input(format!("cannot write output: {e}")))?;
        out.write_all(b"\n").map_err(write_failed)?;
    }
    out.flush().map_err(write_failed)
}

fn write_proofs(
    args: &BatchArgs,
    trees: &[MerkleTree],
    certificates: &[BatchCertificate],
    hashes: &[Digest],
    anchors: &[AnchorStatus],
) -> CliResult {
    let path = args.out.join("proofs.jsonl");
    let mut out = create(&path)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    // Batches are rendered in groups, each group split over the workers, and written in order.
    let group = 64 * workers;
    let indices: Vec<usize> = (0..trees.len()).collect();
    for slice in indices.chunks(group) {
        let per = slice.len().div_ceil(workers).max(1);
        let rendered: Vec<Result<Vec<u8>, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = slice
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || -> Result<Vec<u8>, String> {
                        let mut text = Vec::with_capacity(part.len() * 180 * 900);
                        for &b in part {
                            render_batch(
                                &trees[b],
                                &certificates[b],
                                &hashes[b],
                                &anchors[b],
                                &mut text,
                            )?;
                        }
                        Ok(text)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("worker thread failed".to_owned()))
                })
                .collect()
        });
        for part in rendered {
            let text = part.map_err(CliError::input)?;
            out.write_all(&text).map_err(write_failed)?;
        }
    }
    out.flush().map_err(write_failed)
}

fn render_batch(
    tree: &MerkleTree,
    certificate: &BatchCertificate,
    hash: &Digest,
    anchor: &AnchorStatus,
    text: &mut Vec<u8>,
) -> Result<(), String> {
    let template = Proof {
        format: PROOF_FORMAT.to_owned(),
        batch_id: certificate.batch_id.clone(),
        scheme: certificate.scheme,
        leaf_index: 0,
        leaf_count: certificate.leaf_count,
        leaf: Digest::default(),
        siblings: Vec::new(),
        root: certificate.root,
        certificate: *hash,
        anchor: anchor.clone(),
    };
    platone_certify::proof::write_json_lines(tree, &template, text).map_err(|e| e.to_string())
}

fn create(path: &std::path::Path) -> CliResult<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::input(format!("{}: cannot create: {e}", path.display())))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, file))
}
