//! Binary hash trees over a batch of hashes, and the reduced form of one leaf's path.

use crate::{EvidenceError, HashAlgorithm, combine};

/// Every level of the tree, leaves first, root last. Pairs are combined in order; an odd
/// node out is carried up unchanged, so that its path simply has no sibling at that level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashTree {
    algorithm: HashAlgorithm,
    levels: Vec<Vec<Vec<u8>>>,
}

impl HashTree {
    pub fn new(algorithm: HashAlgorithm, leaves: Vec<Vec<u8>>) -> Result<HashTree, EvidenceError> {
        if leaves.is_empty() {
            return Err(EvidenceError::Invalid(
                "a hash tree needs at least one leaf".into(),
            ));
        }
        if let Some(bad) = leaves.iter().find(|l| l.len() != algorithm.output_len()) {
            return Err(EvidenceError::Invalid(format!(
                "a leaf of {} bytes in a {} tree",
                bad.len(),
                algorithm.name()
            )));
        }
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => combine(algorithm, &[a, b]),
                    [a] => a.clone(),
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            levels.push(above);
        }
        Ok(HashTree { algorithm, levels })
    }

    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn root(&self) -> &[u8] {
        &self.levels[self.levels.len() - 1][0]
    }

    pub fn leaf(&self, index: usize) -> Option<&[u8]> {
        self.levels[0].get(index).map(Vec::as_slice)
    }

    /// The reduced hash tree of leaf `index`: the leaf alone, then one sibling per level.
    /// (RFC 4998's example puts the sibling leaf in the first list too; then the record would
    /// prove the sibling file as well, since verification looks for the file's hash anywhere
    /// in that list. Alone, the leaf makes each record prove its own file only, as Bouncy
    /// Castle's do.)
    pub fn reduced(&self, index: usize) -> Option<Vec<Vec<Vec<u8>>>> {
        let leaf = self.levels[0].get(index)?.clone();
        let mut lists = vec![vec![leaf]];
        let mut i = index;
        for level in self.levels.iter().take(self.levels.len() - 1) {
            if let Some(sibling) = level.get(i ^ 1) {
                lists.push(vec![sibling.clone()]);
            }
            i /= 2;
        }
        Some(lists)
    }
}

/// The root a reduced hash tree leads to from `leaf` (RFC 4998 section 4.3).
pub fn recover_root(
    algorithm: HashAlgorithm,
    leaf: &[u8],
    reduced: &[Vec<Vec<u8>>],
) -> Result<Vec<u8>, String> {
    let Some((first, rest)) = reduced.split_first() else {
        return Ok(leaf.to_vec());
    };
    if !first.iter().any(|h| h == leaf) {
        return Err(format!(
            "the hash {} is not in the first list of the reduced hash tree",
            hex::encode(leaf)
        ));
    }
    let mut current = match first.as_slice() {
        [only] => only.clone(),
        many => combine(
            algorithm,
            &many.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        ),
    };
    for list in rest {
        let mut all: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
        all.push(&current);
        current = combine(algorithm, &all);
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| HashAlgorithm::Sha256.digest(format!("file {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_leaf_leads_to_the_root_in_logarithmic_space() {
        for n in [1, 2, 3, 5, 8, 13, 100, 1000] {
            let tree = HashTree::new(HashAlgorithm::Sha256, leaves(n)).unwrap();
            for i in 0..n {
                let reduced = tree.reduced(i).unwrap();
                let hashes: usize = reduced.iter().map(Vec::len).sum();
                assert!(
                    hashes <= 1 + (n as f64).log2().ceil() as usize,
                    "{n} leaves: {hashes} hashes for leaf {i}"
                );
                let root = recover_root(HashAlgorithm::Sha256, tree.leaf(i).unwrap(), &reduced);
                assert_eq!(root.unwrap(), tree.root(), "{n} leaves, leaf {i}");
            }
        }
    }

    #[test]
    fn a_foreign_hash_or_a_changed_sibling_does_not_lead_to_the_root() {
        let tree = HashTree::new(HashAlgorithm::Sha256, leaves(7)).unwrap();
        let reduced = tree.reduced(2).unwrap();
        let other = HashAlgorithm::Sha256.digest(b"another file");
        assert!(recover_root(HashAlgorithm::Sha256, &other, &reduced).is_err());
        // Not even the sibling's: each record proves its own file.
        assert!(recover_root(HashAlgorithm::Sha256, tree.leaf(3).unwrap(), &reduced).is_err());
        let mut changed = reduced.clone();
        changed[1][0][0] ^= 1;
        assert_ne!(
            recover_root(HashAlgorithm::Sha256, tree.leaf(2).unwrap(), &changed).unwrap(),
            tree.root()
        );
        assert!(HashTree::new(HashAlgorithm::Sha256, vec![]).is_err());
        assert!(HashTree::new(HashAlgorithm::Sha512, leaves(2)).is_err());
    }
}
