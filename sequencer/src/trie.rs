//! Ethereum's Merkle-Patricia state commitment, kept incrementally.
//!
//! The account trie and every account's storage trie are stored as [`Record`]s: a branch node,
//! possibly behind an extension, keyed by the nibble path where it starts. Leaves are not
//! stored as nodes; a branch keeps each leaf child's key and hash, and the leaf's value is the
//! flat state entry (the RLP account, or the RLP storage value) the store already has.
//!
//! After a block, [`update`] walks only the paths of the changed keys, reuses every stored
//! hash beside them, and returns the new root plus the records to write. That makes the cost of
//! a block's state root proportional to what the block touched, not to the size of the state.
//! [`proof`] produces EIP-1186 proofs from the same records. A [`RecordCache`] keeps decoded
//! records between blocks; it is checked against the reference the parent holds, so it never
//! needs invalidating.
//!
//! Architecture invariant: the records of a trie and the flat values of its keys are always
//! written in the same store transaction, so a reader never sees one without the other.

mod cache;
mod record;
mod update;

pub use cache::{CacheStats, RecordCache};
pub use record::{ChildRef, Record, decode_root, encode_root};

use alloy_primitives::{B256, Bytes};
use alloy_trie::{Nibbles, nodes::RlpNode};

/// Which trie a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrieId {
    /// The account trie (keys: keccak of the address).
    Accounts,
    /// The storage trie of the account with this hashed address (keys: keccak of the slot).
    Storage(B256),
}

/// A key change: the hashed key and its new leaf value (`None` removes the key).
pub type Change = (B256, Option<Vec<u8>>);

/// What an [`update`] produced: the new root and the records to write (`None` deletes).
#[derive(Debug, Clone, Default)]
pub struct TrieUpdate {
    /// What now stands at the root.
    pub root: ChildRef,
    /// Records to store at their paths; `None` removes the record at that path.
    pub records: Vec<(Nibbles, Option<NodeRecord>)>,
}

/// A record with the reference its parent holds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's hash, or its RLP when shorter than 32 bytes (see [`Record::node_ref`]).
    pub node: RlpNode,
    /// The record. Boxed: a record is over a kilobyte, and these move between maps and threads.
    pub record: Box<Record>,
}

/// Errors of trie reads and updates.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A record that the trie structure refers to is not in the store.
    #[error("trie record missing in {trie:?} at path {path:?}")]
    MissingRecord {
        /// The trie.
        trie: TrieId,
        /// The path of the record.
        path: Nibbles,
    },
    /// A leaf the trie refers to has no value in the flat state.
    #[error("leaf value missing in {trie:?} for key {key}")]
    MissingLeaf {
        /// The trie.
        trie: TrieId,
        /// The hashed key.
        key: B256,
    },
    /// Stored bytes that are not a record.
    #[error("corrupt trie record: {0}")]
    CorruptRecord(&'static str),
    /// The store failed to read.
    #[error("trie store read failed: {0}")]
    Store(String),
}

/// Read access to stored records and leaf values: the seam between the trie and the store.
pub trait TrieReader: Sync {
    /// The record stored at `path` of trie `trie`, if any. `node` is the reference the parent
    /// holds to it, which identifies it: a reader may use it to serve the record from a cache.
    ///
    /// # Errors
    /// When the store fails or holds corrupt bytes.
    fn record(
        &self,
        trie: TrieId,
        path: &Nibbles,
        node: &RlpNode,
    ) -> Result<Option<Box<Record>>, TrieError>;

    /// The leaf value of `key` in trie `trie` (the flat state entry), if any.
    ///
    /// # Errors
    /// When the store fails.
    fn leaf_value(&self, trie: TrieId, key: &B256) -> Result<Option<Vec<u8>>, TrieError>;
}

/// Applies `changes` (sorted by key, keys unique) to trie `trie` whose current root is `root`.
///
/// Reads only the records on the paths of the changed keys; the caller writes the returned
/// records in the same transaction as the flat values.
///
/// # Errors
/// When a record or leaf value the structure refers to cannot be read.
pub fn update<R: TrieReader + ?Sized>(
    reader: &R,
    trie: TrieId,
    root: &ChildRef,
    changes: &[Change],
) -> Result<TrieUpdate, TrieError> {
    update::update(reader, trie, root, changes)
}

/// The EIP-1186 proof for `key` in trie `trie`: the RLP of every node on the path from the root
/// to the key's leaf (or to where the key's absence shows), root first. Nodes shorter than 32
/// bytes are embedded in their parent and not listed separately, as Ethereum clients do.
///
/// # Errors
/// When a record or leaf value on the path cannot be read.
pub fn proof<R: TrieReader + ?Sized>(
    reader: &R,
    trie: TrieId,
    root: &ChildRef,
    key: B256,
) -> Result<Vec<Bytes>, TrieError> {
    let target = Nibbles::unpack(key);
    let mut nodes = Vec::new();
    let mut buf = Vec::new();
    let mut path = Nibbles::new();
    let mut current = root.clone();
    let mut referenced_by_hash = true; // the root is always listed
    let push = |rlp: &[u8], listed: bool, nodes: &mut Vec<Bytes>| {
        if listed {
            nodes.push(Bytes::copy_from_slice(rlp));
        }
    };
    loop {
        match current {
            ChildRef::Empty => break,
            ChildRef::Leaf { key: leaf_key, node } => {
                let value = reader
                    .leaf_value(trie, &leaf_key)?
                    .ok_or(TrieError::MissingLeaf { trie, key: leaf_key })?;
                ChildRef::leaf(leaf_key, path.len(), &value, &mut buf);
                push(&buf, referenced_by_hash || node.is_hash(), &mut nodes);
                break;
            }
            ChildRef::Node(node) => {
                let record = reader
                    .record(trie, &path, &node)?
                    .ok_or(TrieError::MissingRecord { trie, path })?;
                record.branch_rlp(&mut buf);
                let branch_rlp = buf.clone();
                let branch_ref = RlpNode::from_rlp(&branch_rlp);
                let listed_here = referenced_by_hash || node.is_hash();
                if record.ext.is_empty() {
                    push(&branch_rlp, listed_here, &mut nodes);
                } else {
                    record.extension_rlp(&branch_ref, &mut buf);
                    push(&buf, listed_here, &mut nodes);
                    let rest = target.slice(path.len()..);
                    if !rest.starts_with(&record.ext) {
                        break; // the key diverges inside the extension: absent
                    }
                    push(&branch_rlp, branch_ref.is_hash(), &mut nodes);
                    path = path.join(&record.ext);
                }
                let nibble = target.get_unchecked(path.len());
                current = record.children[nibble as usize].clone();
                path.push(nibble);
                referenced_by_hash = false;
            }
        }
    }
    Ok(nodes)
}

/// Computes a trie root from scratch with alloy-trie's `HashBuilder`, independently of the
/// stored records: the reference the incremental root is tested against.
pub fn root_from_scratch<'a>(sorted_leaves: impl IntoIterator<Item = (B256, &'a [u8])>) -> B256 {
    let mut builder = alloy_trie::HashBuilder::default();
    for (key, value) in sorted_leaves {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

#[cfg(any(test, feature = "test-utils"))]
pub use memory::MemoryTrie;

#[cfg(any(test, feature = "test-utils"))]
mod memory {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    /// A trie kept in memory (records and leaf values in maps), for tests and benchmarks.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryTrie {
        records: HashMap<Nibbles, Record>,
        leaves: BTreeMap<B256, Vec<u8>>,
        root: ChildRef,
    }

    impl MemoryTrie {
        /// Applies changes and returns the new root hash.
        ///
        /// # Panics
        /// If the in-memory structure is inconsistent (a bug in the trie).
        pub fn apply(&mut self, mut changes: Vec<Change>) -> B256 {
            changes.sort_by_key(|a| a.0);
            changes.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1 = later.1.take();
                }
                same
            });
            let update = update(self, TrieId::Accounts, &self.root, &changes).expect("consistent");
            for (path, record) in update.records {
                match record {
                    Some(written) => self.records.insert(path, *written.record),
                    None => self.records.remove(&path),
                };
            }
            for (key, value) in changes {
                match value {
                    Some(value) => self.leaves.insert(key, value),
                    None => self.leaves.remove(&key),
                };
            }
            self.root = update.root;
            self.root_hash()
        }

        /// The current root hash.
        pub fn root_hash(&self) -> B256 {
            self.root.root_hash()
        }

        /// The current root reference.
        pub const fn root(&self) -> &ChildRef {
            &self.root
        }

        /// The root computed from scratch over all leaves.
        pub fn root_from_scratch(&self) -> B256 {
            root_from_scratch(self.leaves.iter().map(|(k, v)| (*k, v.as_slice())))
        }

        /// Number of stored records.
        pub fn record_count(&self) -> usize {
            self.records.len()
        }
    }

    impl TrieReader for MemoryTrie {
        fn record(
            &self,
            _: TrieId,
            path: &Nibbles,
            _: &RlpNode,
        ) -> Result<Option<Box<Record>>, TrieError> {
            Ok(self.records.get(path).cloned().map(Box::new))
        }

        fn leaf_value(&self, _: TrieId, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
            Ok(self.leaves.get(key).cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;
    use alloy_trie::EMPTY_ROOT_HASH;
    use proptest::prelude::*;

    use super::*;

    fn key(i: u64) -> B256 {
        keccak256(i.to_be_bytes())
    }

    #[test]
    fn empty_trie_has_empty_root() {
        let mut trie = MemoryTrie::default();
        assert_eq!(trie.apply(vec![]), EMPTY_ROOT_HASH);
        assert_eq!(trie.apply(vec![(key(1), None)]), EMPTY_ROOT_HASH);
    }

    #[test]
    fn matches_hash_builder_on_inserts_and_deletes() {
        let mut trie = MemoryTrie::default();
        let changes = (0..2000u64).map(|i| (key(i), Some(vec![i as u8 | 1; 40]))).collect();
        assert_eq!(trie.apply(changes), trie.root_from_scratch());
        let deletes = (0..2000u64).filter(|i| i % 3 != 0).map(|i| (key(i), None)).collect();
        assert_eq!(trie.apply(deletes), trie.root_from_scratch());
        let all = (0..2000u64).map(|i| (key(i), None)).collect();
        assert_eq!(trie.apply(all), EMPTY_ROOT_HASH);
        assert_eq!(trie.record_count(), 0);
    }

    #[test]
    fn short_values_embed_leaves_inline() {
        // Keys sharing 31 bytes put leaves deep enough that their RLP is under 32 bytes.
        let mut trie = MemoryTrie::default();
        let k = |last: u8| B256::from_slice(&[[7u8; 31].as_slice(), &[last]].concat());
        let changes = (0..40u8).map(|i| (k(i), Some(vec![i + 1]))).collect();
        assert_eq!(trie.apply(changes), trie.root_from_scratch());
        assert_eq!(
            trie.apply(vec![(k(3), None), (k(200), Some(vec![9]))]),
            trie.root_from_scratch()
        );
    }

    #[test]
    fn proofs_verify_against_root() {
        let mut trie = MemoryTrie::default();
        let changes =
            (0..300u64).map(|i| (key(i), Some(vec![0x42; 1 + (i % 50) as usize]))).collect();
        let root = trie.apply(changes);
        for i in [0u64, 17, 299, 1000, 5000] {
            let nodes = proof(&trie, TrieId::Accounts, trie.root(), key(i)).unwrap();
            let expected = (i < 300).then(|| vec![0x42; 1 + (i % 50) as usize]);
            alloy_trie::proof::verify_proof(root, Nibbles::unpack(key(i)), expected, &nodes)
                .unwrap_or_else(|e| panic!("proof of key {i}: {e}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The incremental root equals a from-scratch root after every batch of a random
        /// sequence of inserts, updates and deletes over a small key space (so keys collide).
        #[test]
        fn incremental_root_matches_from_scratch(
            batches in prop::collection::vec(
                prop::collection::vec((0u64..300, prop::option::weighted(0.7, 1u8..=255)), 0..120),
                1..8,
            )
        ) {
            let mut trie = MemoryTrie::default();
            for batch in batches {
                let changes = batch
                    .into_iter()
                    .map(|(k, v)| (key(k), v.map(|b| vec![b; 1 + (b % 40) as usize])))
                    .collect();
                let root = trie.apply(changes);
                prop_assert_eq!(root, trie.root_from_scratch());
            }
        }
    }
}
