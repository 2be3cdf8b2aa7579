//! Certification benchmarks: leaf hashing, tree building, proof generation, and end-to-end
//! batch certification of one million JSON records against the straightforward peer (parse
//! JSON, canonicalise, SHA-256, `rs_merkle::MerkleTree` per batch of 180, a proof per record).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use platone_certify::{Certifiable, Digest, JsonRecord, MerkleTree, Scheme, canonicalize_json};
use sha2::Digest as _;

const BATCH: usize = 180;

fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"source\":\"pmu-{}\",\"timestamp\":\"2024-01-01T{:02}:{:02}:{:02}.{:03}Z\",\"kind\":\"voltage\",\"unit\":\"V\",\"phases\":\"A\",\"channel\":\"VA\",\"value\":{},\"quality\":[]}}",
                i % 16,
                (i / 3_600_000) % 24,
                (i / 60_000) % 60,
                (i / 1000) % 60,
                i % 1000,
                230.0 + (i % 977) as f64 / 97.0
            )
        })
        .collect()
}

fn leaf_hashing(c: &mut Criterion) {
    let lines = records(10_000);
    let canonical: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| JsonRecord::parse(l).unwrap().canonical_bytes().unwrap())
        .collect();
    let mut g = c.benchmark_group("certify/leaf_hash");
    g.throughput(Throughput::Elements(lines.len() as u64));
    for scheme in [Scheme::Sha256, Scheme::Keccak] {
        g.bench_function(BenchmarkId::new("canonical_bytes", scheme), |b| {
            b.iter(|| {
                for c in &canonical {
                    black_box(scheme.leaf_hash(c));
                }
            })
        });
    }
    g.bench_function("canonicalise_single_pass", |b| {
        let mut buffer = Vec::with_capacity(512);
        b.iter(|| {
            for l in &lines {
                buffer.clear();
                canonicalize_json(l, &mut buffer).unwrap();
                black_box(&buffer);
            }
        })
    });
    g.bench_function("canonicalise_tree", |b| {
        let mut buffer = Vec::with_capacity(512);
        b.iter(|| {
            for l in &lines {
                buffer.clear();
                JsonRecord::parse(l)
                    .unwrap()
                    .write_canonical(&mut buffer)
                    .unwrap();
                black_box(&buffer);
            }
        })
    });
    g.bench_function("parse_canonicalise_sha256", |b| {
        let mut buffer = Vec::with_capacity(512);
        b.iter(|| {
            for l in &lines {
                buffer.clear();
                canonicalize_json(l, &mut buffer).unwrap();
                black_box(Scheme::Sha256.leaf_hash(&buffer));
            }
        })
    });
    g.finish();
}

fn tree_building(c: &mut Criterion) {
    let mut g = c.benchmark_group("certify/tree");
    // The SHA-256 limit: 64-byte messages hashed back to back.
    let blocks: Vec<[u8; 64]> = (0..65_536u32)
        .map(|i| {
            let mut b = [0u8; 64];
            b[..4].copy_from_slice(&i.to_le_bytes());
            b
        })
        .collect();
    g.throughput(Throughput::Elements(blocks.len() as u64));
    g.bench_function("sha256_64_byte_messages", |b| {
        b.iter(|| {
            for m in &blocks {
                black_box(sha2::Sha256::digest(m));
            }
        })
    });
    for n in [BATCH, 65_536] {
        let leaves: Vec<Digest> = (0..n).map(|i| Digest::sha256(&i.to_le_bytes())).collect();
        g.throughput(Throughput::Elements(n as u64));
        for scheme in [Scheme::Sha256, Scheme::Keccak] {
            g.bench_with_input(
                BenchmarkId::new(format!("build_{scheme}"), n),
                &leaves,
                |b, l| b.iter(|| black_box(MerkleTree::new(scheme, l).unwrap().root())),
            );
        }
        let raw: Vec<[u8; 32]> = leaves.iter().map(|d| d.0).collect();
        g.bench_with_input(
            BenchmarkId::new("build_rs_merkle_sha256", n),
            &raw,
            |b, l| {
                b.iter(|| {
                    black_box(
                        rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(l)
                            .root(),
                    )
                })
            },
        );
    }
    // The keccak scheme from content hashes: OpenZeppelin leaf (two keccaks) plus the tree.
    let contents: Vec<Digest> = (0..65_536u32)
        .map(|i| Digest::keccak256(&i.to_le_bytes()))
        .collect();
    g.throughput(Throughput::Elements(contents.len() as u64));
    g.bench_function("keccak_leaves_and_tree_65536", |b| {
        b.iter(|| {
            let leaves: Vec<Digest> = contents
                .iter()
                .map(|c| Scheme::keccak_leaf_of_content(*c))
                .collect();
            black_box(MerkleTree::new(Scheme::Keccak, &leaves).unwrap().root())
        })
    });
    // The same with the OpenZeppelin leaf hashes (two thirds of the work) spread over every
    // core, as `platone certify batch` does; the tree itself is built on one.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    g.bench_function("keccak_leaves_all_cores_and_tree_65536", |b| {
        b.iter(|| {
            let per = contents.len().div_ceil(workers);
            let leaves: Vec<Digest> = std::thread::scope(|s| {
                let handles: Vec<_> = contents
                    .chunks(per)
                    .map(|part| {
                        s.spawn(move || {
                            part.iter()
                                .map(|c| Scheme::keccak_leaf_of_content(*c))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect()
            });
            black_box(MerkleTree::new(Scheme::Keccak, &leaves).unwrap().root())
        })
    });
    g.finish();
}

fn proof_generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("certify/proofs");
    let leaves: Vec<Digest> = (0..BATCH)
        .map(|i| Digest::sha256(&i.to_le_bytes()))
        .collect();
    g.throughput(Throughput::Elements(BATCH as u64));
    for scheme in [Scheme::Sha256, Scheme::Keccak] {
        let tree = MerkleTree::new(scheme, &leaves).unwrap();
        g.bench_function(BenchmarkId::new("every_leaf_of_180", scheme), |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    black_box(tree.path(i).unwrap());
                }
            })
        });
    }
    g.finish();
}

/// Ours: every core takes a share of whole batches of 180 and, per batch, canonicalises and
/// hashes its records (single pass), builds the tree and every proof path.
fn certify_ours(lines: &[String], scheme: Scheme) -> usize {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = lines.len().div_ceil(BATCH).div_ceil(workers) * BATCH;
    std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(per.max(BATCH))
            .map(|part| {
                s.spawn(move || {
                    let mut buffer = Vec::with_capacity(512);
                    let mut leaves = Vec::with_capacity(BATCH);
                    let mut path = Vec::with_capacity(16);
                    let mut proofs = 0;
                    for batch in part.chunks(BATCH) {
                        leaves.clear();
                        for l in batch {
                            buffer.clear();
                            canonicalize_json(l, &mut buffer).unwrap();
                            leaves.push(scheme.leaf_hash(&buffer));
                        }
                        let tree = MerkleTree::new(scheme, &leaves).unwrap();
                        for i in 0..batch.len() {
                            tree.path_into(i, &mut path).unwrap();
                            proofs += black_box(&path).len().min(1);
                        }
                    }
                    proofs
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// The straightforward peer: one thread, serde_json::Value, sorted re-serialisation,
/// SHA-256, rs_merkle per batch of 180, a proof per record.
fn certify_peer(lines: &[String]) -> usize {
    let mut leaves = Vec::with_capacity(BATCH);
    let mut proofs = 0;
    for batch in lines.chunks(BATCH) {
        leaves.clear();
        for l in batch {
            let value: serde_json::Value = serde_json::from_str(l).unwrap();
            let canonical = serde_json::to_vec(&value).unwrap();
            leaves.push(<[u8; 32]>::from(sha2::Sha256::digest(&canonical)));
        }
        let tree = rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&leaves);
        for i in 0..leaves.len() {
            proofs += black_box(tree.proof(&[i])).proof_hashes().len().min(1);
        }
    }
    proofs
}

fn end_to_end(c: &mut Criterion) {
    let n: usize = std::env::var("PLATONE_CERTIFY_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // PLATONE_CERTIFY_INPUT=FILE times the same file `platone certify batch` was given.
    let lines = match std::env::var("PLATONE_CERTIFY_INPUT") {
        Ok(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => records(n),
    };
    let n = lines.len();
    let mut g = c.benchmark_group("certify/end_to_end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("platone_sha256", n), |b| {
        b.iter(|| certify_ours(&lines, Scheme::Sha256))
    });
    g.bench_function(BenchmarkId::new("platone_keccak", n), |b| {
        b.iter(|| certify_ours(&lines, Scheme::Keccak))
    });
    g.bench_function(BenchmarkId::new("peer_rs_merkle", n), |b| {
        b.iter(|| certify_peer(&lines))
    });
    g.finish();
}

criterion_group!(
    benches,
    leaf_hashing,
    tree_building,
    proof_generation,
    end_to_end
);
criterion_main!(benches);
