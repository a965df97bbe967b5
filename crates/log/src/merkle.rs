//! RFC 9162 Merkle trees: hashing, proof generation over stored complete subtrees,
//! proof verification, and the compact range used to append.

use crate::LogError;
use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

pub fn hash_leaf(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn hash_children(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Reads stored hashes of complete subtrees: `node(level, index)` is the root of
/// leaves `[index << level, (index + 1) << level)`. Only complete subtrees are ever
/// stored, so appends never rewrite a hash and proofs never rebuild the tree.
pub trait HashReader {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LogError>;
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:hi]) for a range that occurs in the RFC 9162 recursion.
pub fn subtree_hash(r: &impl HashReader, lo: u64, hi: u64) -> Result<Hash, LogError> {
    let n = hi - lo;
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return r.node(n.trailing_zeros() as u8, lo >> n.trailing_zeros());
    }
    let k = split_point(n);
    let left = subtree_hash(r, lo, lo + k)?;
    let right = subtree_hash(r, lo + k, hi)?;
    Ok(hash_children(&left, &right))
}

/// The root of the tree of `size` leaves.
pub fn root(r: &impl HashReader, size: u64) -> Result<Hash, LogError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    subtree_hash(r, 0, size)
}

/// PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf sibling first.
pub fn inclusion_proof(r: &impl HashReader, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    if index >= size {
        return Err(LogError::OutOfRange(format!(
            "index {index} for tree size {size}"
        )));
    }
    let mut out = Vec::with_capacity(64);
    path(r, index, 0, size, &mut out)?;
    Ok(out)
}

fn path(
    r: &impl HashReader,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Hash>,
) -> Result<(), LogError> {
    if hi - lo == 1 {
        return Ok(());
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        path(r, m, lo, lo + k, out)?;
        out.push(subtree_hash(r, lo + k, hi)?);
    } else {
        path(r, m, lo + k, hi, out)?;
        out.push(subtree_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// PROOF(m, D[n]) of RFC 9162 2.1.4.1. Empty when `m == n`, and when `m == 0`:
/// the RFC defines no proof from the empty tree, but C2SP tlog-witness sends an
/// empty one for "no previous size", so this stays total and the public HTTP
/// API is where `m == 0` is refused.
pub fn consistency_proof(r: &impl HashReader, m: u64, n: u64) -> Result<Vec<Hash>, LogError> {
    if m > n {
        return Err(LogError::OutOfRange(format!(
            "size {m} is larger than size {n}"
        )));
    }
    let mut out = Vec::new();
    if m > 0 && m < n {
        subproof(r, m, 0, n, true, &mut out)?;
    }
    Ok(out)
}

fn subproof(
    r: &impl HashReader,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), LogError> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(subtree_hash(r, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(r, m, lo, lo + k, whole, out)?;
        out.push(subtree_hash(r, lo + k, hi)?);
    } else {
        subproof(r, m - k, lo + k, hi, false, out)?;
        out.push(subtree_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 2.1.3.2: does `proof` show `leaf_hash` at `index` in the tree `root`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::BadProof("index is not below tree size"));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(LogError::BadProof("proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = hash_children(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = hash_children(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(LogError::BadProof("proof is too short"));
    }
    if &r != root {
        return Err(LogError::BadProof("computed root does not match"));
    }
    Ok(())
}

/// RFC 9162 2.1.4.2: is the tree (`size2`, `root2`) an append-only extension of
/// (`size1`, `root1`)?
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    if size1 > size2 {
        return Err(LogError::BadProof("first size is larger than second"));
    }
    if size1 == size2 {
        return match (proof.is_empty(), root1 == root2) {
            (true, true) => Ok(()),
            (false, _) => Err(LogError::BadProof("proof must be empty for equal sizes")),
            _ => Err(LogError::BadProof("roots differ for equal sizes")),
        };
    }
    if size1 == 0 {
        return match (proof.is_empty(), root1 == &EMPTY_ROOT) {
            (true, true) => Ok(()),
            (false, _) => Err(LogError::BadProof(
                "proof from the empty tree must be empty",
            )),
            _ => Err(LogError::BadProof("the empty tree has another root")),
        };
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(LogError::BadProof("proof is empty"));
    };
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1);
        path.push(first);
    } else {
        path.push(first);
    }
    path.extend(rest);
    let (mut fnode, mut snode) = (size1 - 1, size2 - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*path[0], *path[0]);
    for &c in &path[1..] {
        if snode == 0 {
            return Err(LogError::BadProof("proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = hash_children(c, &fr);
            sr = hash_children(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = hash_children(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(LogError::BadProof("proof is too short"));
    }
    if &fr != root1 || &sr != root2 {
        return Err(LogError::BadProof("computed roots do not match"));
    }
    Ok(())
}

/// The right edge of a tree: roots of its complete subtrees, largest first. It is
/// all an appender needs to keep in memory (at most 64 hashes) to extend the tree
/// and compute the new root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    roots: Vec<Hash>,
}

/// A newly completed subtree, to be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNode {
    pub level: u8,
    pub index: u64,
    pub hash: Hash,
}

impl CompactRange {
    /// Loads the right edge of a stored tree of `size` leaves.
    pub fn load(r: &impl HashReader, size: u64) -> Result<Self, LogError> {
        let mut roots = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                roots.push(r.node(level, start >> level)?);
                start += 1 << level;
            }
        }
        Ok(CompactRange { size, roots })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; `emit` receives every newly completed subtree, leaf
    /// first, in the order they must be stored.
    pub fn append(&mut self, leaf_hash: Hash, mut emit: impl FnMut(NewNode)) {
        let index = self.size;
        emit(NewNode {
            level: 0,
            index,
            hash: leaf_hash,
        });
        let mut hash = leaf_hash;
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            let left = self.roots.pop().expect("a set bit has a stored root");
            hash = hash_children(&left, &hash);
            level += 1;
            emit(NewNode {
                level,
                index: index >> level,
                hash,
            });
        }
        self.roots.push(hash);
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        let mut it = self.roots.iter().rev();
        let Some(last) = it.next() else {
            return EMPTY_ROOT;
        };
        it.fold(*last, |acc, left| hash_children(left, &acc))
    }
}

/// An in-memory tree, for tests and for verifying small logs offline.
#[derive(Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    edge: CompactRange,
}

impl MemoryTree {
    pub fn push(&mut self, leaf_data: &[u8]) {
        let levels = &mut self.levels;
        self.edge.append(hash_leaf(leaf_data), |n| {
            if levels.len() <= n.level as usize {
                levels.push(Vec::new());
            }
            levels[n.level as usize].push(n.hash);
        });
    }

    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    pub fn root(&self) -> Hash {
        self.edge.root()
    }
}

impl HashReader for MemoryTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash, LogError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or_else(|| LogError::OutOfRange(format!("node {level}/{index}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::default();
        for i in 0..n {
            t.push(&i.to_be_bytes());
        }
        t
    }

    #[test]
    fn compact_root_equals_recursive_root() {
        for n in 0..70 {
            let t = tree(n);
            assert_eq!(t.root(), root(&t, n).unwrap(), "size {n}");
        }
    }

    #[test]
    fn only_the_empty_root_is_consistent_from_size_zero() {
        let t = tree(5);
        assert!(consistency_proof(&t, 0, 5).unwrap().is_empty());
        verify_consistency(0, 5, &EMPTY_ROOT, &t.root(), &[]).unwrap();
        assert!(verify_consistency(0, 5, &t.root(), &t.root(), &[]).is_err());
        assert!(verify_consistency(0, 5, &EMPTY_ROOT, &t.root(), &[t.root()]).is_err());
    }

    proptest! {
        #[test]
        fn every_inclusion_proof_verifies_and_tampering_fails(
            n in 1u64..300, i in any::<u64>(), bit in 0usize..256
        ) {
            let t = tree(n);
            let index = i % n;
            let r = t.root();
            let leaf = hash_leaf(&index.to_be_bytes());
            let proof = inclusion_proof(&t, index, n).unwrap();
            prop_assert!(verify_inclusion(index, n, &leaf, &proof, &r).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let j = bit % bad.len();
                bad[j][(bit / 8) % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(index, n, &leaf, &bad, &r).is_err());
                prop_assert!(verify_inclusion(index, n, &leaf, &proof[1..], &r).is_err());
            }
            let mut long = proof.clone();
            long.push(r);
            prop_assert!(verify_inclusion(index, n, &leaf, &long, &r).is_err());
            prop_assert!(verify_inclusion(index ^ 1, n, &leaf, &proof, &r).is_err());
            let mut bad_leaf = leaf;
            bad_leaf[bit % 32] ^= 1;
            prop_assert!(verify_inclusion(index, n, &bad_leaf, &proof, &r).is_err());
        }

        #[test]
        fn every_consistency_proof_verifies_and_tampering_fails(
            n in 1u64..300, m_seed in any::<u64>(), bit in 0usize..256
        ) {
            let m = 1 + m_seed % n;
            let big = tree(n);
            let small = tree(m);
            let (r1, r2) = (small.root(), big.root());
            let proof = consistency_proof(&big, m, n).unwrap();
            prop_assert!(verify_consistency(m, n, &r1, &r2, &proof).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let j = bit % bad.len();
                bad[j][(bit / 8) % 32] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(m, n, &r1, &r2, &bad).is_err());
                prop_assert!(verify_consistency(m, n, &r1, &r2, &proof[..proof.len() - 1]).is_err());
                if m > 1 {
                    prop_assert!(verify_consistency(m - 1, n, &r1, &r2, &proof).is_err());
                }
            }
            let mut bad_root = r1;
            bad_root[bit % 32] ^= 1;
            prop_assert!(verify_consistency(m, n, &bad_root, &r2, &proof).is_err());
        }
    }
}
