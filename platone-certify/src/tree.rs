//! Merkle trees of one batch, and strict single-leaf path verification.
//!
//! [`Scheme::Sha256`] trees have the RFC 6962 shape (the left subtree of a node holds the largest
//! power of two of leaves smaller than its own count; built level by level, an odd last node is
//! carried up unchanged). [`Scheme::Keccak`] trees have OpenZeppelin's `StandardMerkleTree`
//! layout: a complete binary tree in an array of `2n − 1` nodes, leaf `i` at position
//! `2n − 2 − i`, the children of node `p` at `2p + 1` and `2p + 2`.

use crate::error::{CertifyError, Result};
use crate::scheme::{Digest, Scheme};

/// A built Merkle tree over the leaf hashes of one batch.
///
/// ```
/// use platone_certify::{MerkleTree, Scheme};
/// let leaves: Vec<_> = (0..5u8).map(|i| Scheme::Sha256.leaf_hash(&[i])).collect();
/// let tree = MerkleTree::new(Scheme::Sha256, &leaves)?;
/// let path = tree.path(3)?;
/// let root = platone_certify::tree::root_from_path(Scheme::Sha256, leaves[3], 3, 5, &path)?;
/// assert_eq!(root, tree.root());
/// # Ok::<(), platone_certify::CertifyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MerkleTree {
    scheme: Scheme,
    leaf_count: usize,
    /// Sha256: every level, leaves first, one after another. Keccak: OpenZeppelin's array.
    nodes: Vec<Digest>,
    /// Sha256: start of each level in `nodes` (the last level is the root).
    levels: Vec<usize>,
}

impl MerkleTree {
    /// Builds the tree over `leaves` (leaf hashes, in leaf-index order).
    pub fn new(scheme: Scheme, leaves: &[Digest]) -> Result<Self> {
        if leaves.is_empty() {
            return Err(CertifyError::Tree("a tree needs at least one leaf".into()));
        }
        let n = leaves.len();
        match scheme {
            Scheme::Sha256 => {
                let mut nodes = Vec::with_capacity(2 * n + 64);
                nodes.extend_from_slice(leaves);
                let mut levels = vec![0usize];
                let (mut start, mut len) = (0usize, n);
                while len > 1 {
                    let next_start = nodes.len();
                    let mut i = 0;
                    while i + 1 < len {
                        let h = scheme.node_hash(&nodes[start + i], &nodes[start + i + 1]);
                        nodes.push(h);
                        i += 2;
                    }
                    if len % 2 == 1 {
                        let carried = nodes[start + len - 1];
                        nodes.push(carried);
                    }
                    levels.push(next_start);
                    start = next_start;
                    len = len.div_ceil(2);
                }
                Ok(MerkleTree {
                    scheme,
                    leaf_count: n,
                    nodes,
                    levels,
                })
            }
            Scheme::Keccak => {
                let size = 2 * n - 1;
                let mut nodes = vec![Digest::default(); size];
                for (i, leaf) in leaves.iter().enumerate() {
                    nodes[size - 1 - i] = *leaf;
                }
                for p in (0..n - 1).rev() {
                    nodes[p] = scheme.node_hash(&nodes[2 * p + 1], &nodes[2 * p + 2]);
                }
                Ok(MerkleTree {
                    scheme,
                    leaf_count: n,
                    nodes,
                    levels: Vec::new(),
                })
            }
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.leaf_count
    }

    /// The root hash.
    pub fn root(&self) -> Digest {
        match self.scheme {
            Scheme::Sha256 => self.nodes.last().copied().unwrap_or_default(),
            Scheme::Keccak => self.nodes.first().copied().unwrap_or_default(),
        }
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: usize) -> Option<Digest> {
        if index >= self.leaf_count {
            return None;
        }
        match self.scheme {
            Scheme::Sha256 => self.nodes.get(index).copied(),
            Scheme::Keccak => self.nodes.get(self.nodes.len() - 1 - index).copied(),
        }
    }

    /// The siblings from leaf `index` up to the root (the proof path).
    pub fn path(&self, index: usize) -> Result<Vec<Digest>> {
        let mut path = Vec::with_capacity(20);
        self.path_into(index, &mut path)?;
        Ok(path)
    }

    /// Writes the proof path of leaf `index` into `path` (cleared first), so that one buffer
    /// serves every proof of a batch.
    pub fn path_into(&self, index: usize, path: &mut Vec<Digest>) -> Result<()> {
        path.clear();
        if index >= self.leaf_count {
            return Err(CertifyError::Tree(format!(
                "leaf index {index} is outside a tree of {} leaves",
                self.leaf_count
            )));
        }
        match self.scheme {
            Scheme::Sha256 => {
                let mut i = index;
                for window in self.levels.windows(2) {
                    let (start, end) = (window[0], window[1]);
                    let sibling = i ^ 1;
                    if let Some(node) = self.nodes.get(start + sibling)
                        && start + sibling < end
                    {
                        path.push(*node);
                    }
                    i >>= 1;
                }
            }
            Scheme::Keccak => {
                let mut pos = self.nodes.len() - 1 - index;
                while pos > 0 {
                    let sibling = if pos % 2 == 1 { pos + 1 } else { pos - 1 };
                    if let Some(node) = self.nodes.get(sibling) {
                        path.push(*node);
                    }
                    pos = (pos - 1) / 2;
                }
            }
        }
        Ok(())
    }
}

/// The number of siblings a valid path for leaf `index` of a tree of `leaf_count` leaves has.
pub fn expected_path_len(scheme: Scheme, index: u64, leaf_count: u64) -> Option<usize> {
    if leaf_count == 0 || index >= leaf_count {
        return None;
    }
    match scheme {
        Scheme::Sha256 => {
            let (mut i, mut len, mut steps) = (index, leaf_count, 0usize);
            while len > 1 {
                if (i ^ 1) < len {
                    steps += 1;
                }
                i >>= 1;
                len = len.div_ceil(2);
            }
            Some(steps)
        }
        Scheme::Keccak => {
            // Array position of the leaf; its depth is floor(log2(pos + 1)).
            let pos = (2 * u128::from(leaf_count) - 2) - u128::from(index);
            Some((127 - (pos + 1).leading_zeros()) as usize)
        }
    }
}

/// Recomputes the root from a leaf hash and its path, strictly: the index must lie inside the
/// tree and the path must have exactly the length the index and size call for.
///
/// For [`Scheme::Sha256`] this is RFC 9162 §2.1.3.2, so the index and size are bound by the
/// hashes. For [`Scheme::Keccak`] the sorted-pair hashing of OpenZeppelin does not bind the
/// position; the index is checked against the path length only.
pub fn root_from_path(
    scheme: Scheme,
    leaf: Digest,
    index: u64,
    leaf_count: u64,
    path: &[Digest],
) -> Result<Digest> {
    let expected = expected_path_len(scheme, index, leaf_count).ok_or_else(|| {
        CertifyError::Tree(format!(
            "leaf index {index} is outside a tree of {leaf_count} leaves"
        ))
    })?;
    if path.len() != expected {
        return Err(CertifyError::Tree(format!(
            "leaf {index} of {leaf_count} needs {expected} siblings, the path has {}",
            path.len()
        )));
    }
    match scheme {
        Scheme::Sha256 => {
            let (mut fi, mut si) = (index, leaf_count - 1);
            let mut r = leaf;
            for p in path {
                if si == 0 {
                    return Err(CertifyError::Tree("path is longer than the tree".into()));
                }
                if fi & 1 == 1 || fi == si {
                    r = scheme.node_hash(p, &r);
                    if fi & 1 == 0 {
                        while fi & 1 == 0 && fi != 0 {
                            fi >>= 1;
                            si >>= 1;
                        }
                    }
                } else {
                    r = scheme.node_hash(&r, p);
                }
                fi >>= 1;
                si >>= 1;
            }
            if si != 0 {
                return Err(CertifyError::Tree("path is shorter than the tree".into()));
            }
            Ok(r)
        }
        Scheme::Keccak => Ok(path.iter().fold(leaf, |r, p| scheme.node_hash(&r, p))),
    }
}

/// OpenZeppelin's `MerkleProof.processProof`: folds a leaf with sorted-pair keccak256 hashing,
/// with no position at all. Use [`root_from_path`] for our own proofs; this one checks proofs
/// made by other OpenZeppelin-compatible tools.
pub fn oz_process_proof(leaf: Digest, proof: &[Digest]) -> Digest {
    proof
        .iter()
        .fold(leaf, |r, p| Scheme::Keccak.node_hash(&r, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(scheme: Scheme, n: usize) -> Vec<Digest> {
        (0..n)
            .map(|i| scheme.leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    /// RFC 6962 §2.1 MTH, written recursively, as the reference.
    fn mth(leaves: &[Digest]) -> Digest {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        let k = if k == leaves.len() { k / 2 } else { k };
        Scheme::Sha256.node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    #[test]
    fn sha256_tree_matches_recursive_rfc6962_definition() {
        for n in 1..=70 {
            let l = leaves(Scheme::Sha256, n);
            assert_eq!(
                MerkleTree::new(Scheme::Sha256, &l).unwrap().root(),
                mth(&l),
                "n={n}"
            );
        }
    }

    #[test]
    fn empty_tree_and_out_of_range_index_are_errors() {
        assert!(MerkleTree::new(Scheme::Sha256, &[]).is_err());
        let l = leaves(Scheme::Keccak, 3);
        let t = MerkleTree::new(Scheme::Keccak, &l).unwrap();
        assert!(t.path(3).is_err());
        assert!(root_from_path(Scheme::Keccak, l[0], 3, 3, &[]).is_err());
        assert!(root_from_path(Scheme::Sha256, l[0], 0, 0, &[]).is_err());
    }
}
