//! Decoded trie records kept in memory, so that a block's state root does not read and decode
//! from the database the same upper-trie branches every block.
//!
//! An entry is keyed by (trie, path) and carries the reference its parent holds to it (the
//! node's hash, or its RLP when shorter than 32 bytes). A lookup names the reference it
//! expects — the caller always has it, from the parent it just walked through — and an entry
//! whose reference differs is a miss. A record is a function of its path and its reference (the
//! reference fixes the node's bytes, the path fixes the full keys of its leaves), so the cache
//! can never return a record that is not the one asked for: it needs no invalidation when a
//! block is unwound, when a replica's writer moves on, or when a view of an older block reads
//! through it. Stale entries only cost a miss.
//!
//! The cache is split into shards, each behind its own lock, so that the trie walks running on
//! rayon threads rarely meet. Each shard holds a bounded number of entries and evicts the
//! oldest inserted first.

use std::{
    collections::{HashMap, VecDeque},
    hash::{BuildHasher, BuildHasherDefault, Hasher},
    sync::atomic::{AtomicU64, Ordering},
};

use alloy_primitives::map::DefaultHashBuilder;
use alloy_trie::{Nibbles, nodes::RlpNode};
use parking_lot::RwLock;

use super::{Record, TrieId};

/// Number of independently locked shards.
const SHARDS: usize = 64;

/// Memory one entry takes, counted for the capacity: the entry (record, key, reference) and
/// its slots in the index and the eviction queue.
const ENTRY_BYTES: usize = size_of::<Entry>() + 4 * size_of::<u64>();

type Key = (TrieId, Nibbles);

/// What a cache holds and how it has served, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Records held.
    pub records: usize,
    /// Memory they take (the record, its key and the bookkeeping: ≈ 1.3 kB each).
    pub bytes: usize,
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that had to read the store (absent, evicted, or stale).
    pub misses: u64,
}

/// A bounded, thread-safe map from (trie, path) to the decoded record there.
pub struct RecordCache {
    shards: Box<[Shard]>,
    hasher: DefaultHashBuilder,
    per_shard: usize,
}

#[derive(Debug, Default)]
struct Shard {
    state: RwLock<ShardState>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// One shard's entries, indexed by the 64-bit hash of their key. The index holds only the
/// hash and a pointer, so it stays small enough for the CPU's caches, and a lookup touches
/// main memory once, for the entry itself; two keys sharing a hash share a slot (the entry's
/// own key decides whether it answers).
#[derive(Debug, Default)]
struct ShardState {
    entries: HashMap<u64, Box<Entry>, BuildHasherDefault<PrehashedKey>>,
    /// Key hashes in insertion order with the serial they were inserted under; a key
    /// re-inserted later appears again, and its older position is skipped at eviction.
    order: VecDeque<(u64, u64)>,
    next_serial: u64,
}

#[derive(Debug)]
struct Entry {
    key: Key,
    node: RlpNode,
    serial: u64,
    record: Record,
}

/// The index's hasher: its keys are already hashes.
#[derive(Debug, Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

impl std::fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("stats", &self.stats())
            .finish()
    }
}

impl RecordCache {
    /// A cache holding at most `capacity_bytes` worth of records (≈ 1.3 kB each); zero
    /// disables it.
    pub fn new(capacity_bytes: usize) -> Self {
        let per_shard = capacity_bytes / ENTRY_BYTES / SHARDS;
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: DefaultHashBuilder::default(),
            per_shard,
        }
    }

    /// The key's hash and its shard.
    fn locate(&self, key: &Key) -> (u64, &Shard) {
        let hash = self.hasher.hash_one(key);
        (hash, &self.shards[(hash >> 58) as usize % SHARDS])
    }

    /// A copy of the record at `path` of `trie` if it is the one `node` refers to.
    pub fn get(&self, trie: TrieId, path: &Nibbles, node: &RlpNode) -> Option<Box<Record>> {
        if self.per_shard == 0 {
            return None;
        }
        let key = (trie, *path);
        let (hash, shard) = self.locate(&key);
        let found = {
            let state = shard.state.read();
            state
                .entries
                .get(&hash)
                .filter(|entry| entry.key == key && entry.node == *node)
                .map(|entry| Box::new(entry.record.clone()))
        };
        let counter = if found.is_some() { &shard.hits } else { &shard.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a copy of `record`, which `node` refers to, at `path` of `trie`, replacing what
    /// was there; evicts the oldest entries of its shard when full.
    pub fn insert(&self, trie: TrieId, path: Nibbles, node: RlpNode, record: &Record) {
        if self.per_shard == 0 {
            return;
        }
        let key = (trie, path);
        let (hash, shard) = self.locate(&key);
        let mut state = shard.state.write();
        state.put(hash, key, node, record);
        while state.entries.len() > self.per_shard {
            state.evict_oldest();
        }
    }

    /// Stores a copy of `record` unless its shard is full or already holds an entry at this
    /// path; returns false when the shard was full. For warming the cache without displacing
    /// what blocks have put there.
    pub fn offer(&self, trie: TrieId, path: Nibbles, node: RlpNode, record: &Record) -> bool {
        let key = (trie, path);
        let (hash, shard) = self.locate(&key);
        let mut state = shard.state.write();
        if state.entries.len() >= self.per_shard {
            return false;
        }
        if !state.entries.contains_key(&hash) {
            state.put(hash, key, node, record);
        }
        true
    }

    /// Forgets the record at `path` of `trie` (the trie no longer has one there).
    pub fn remove(&self, trie: TrieId, path: &Nibbles) {
        let key = (trie, *path);
        let (hash, shard) = self.locate(&key);
        let mut state = shard.state.write();
        if state.entries.get(&hash).is_some_and(|entry| entry.key == key) {
            state.entries.remove(&hash);
        }
    }

    /// What the cache holds and its hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for shard in &self.shards {
            stats.records += shard.state.read().entries.len();
            stats.hits += shard.hits.load(Ordering::Relaxed);
            stats.misses += shard.misses.load(Ordering::Relaxed);
        }
        stats.bytes = stats.records * ENTRY_BYTES;
        stats
    }
}

impl ShardState {
    fn put(&mut self, hash: u64, key: Key, node: RlpNode, record: &Record) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.entries.insert(hash, Box::new(Entry { key, node, serial, record: record.clone() }));
        self.order.push_back((hash, serial));
        // Re-inserted keys leave dead positions behind; drop them before they outnumber the
        // live ones, so the queue stays proportional to the entries.
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(hash, serial)| entries.get(hash).is_some_and(|e| e.serial == *serial));
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((hash, serial)) = self.order.pop_front() {
            if self.entries.get(&hash).is_some_and(|e| e.serial == serial) {
                self.entries.remove(&hash);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;
    use crate::trie::ChildRef;

    fn record(tag: u8) -> (RlpNode, Box<Record>) {
        let mut record = Box::<Record>::default();
        record.children[usize::from(tag % 16)] =
            ChildRef::Node(RlpNode::word_rlp(&B256::repeat_byte(tag)));
        record.children[15 - usize::from(tag % 16)] =
            ChildRef::Node(RlpNode::word_rlp(&B256::repeat_byte(!tag)));
        (record.node_ref(&mut Vec::new()), record)
    }

    fn path(i: u64) -> Nibbles {
        Nibbles::unpack(i.to_be_bytes())
    }

    #[test]
    fn serves_a_record_only_for_the_reference_it_was_stored_under() {
        let cache = RecordCache::new(1 << 20);
        let (node, rec) = record(1);
        let (other_node, _) = record(2);
        cache.insert(TrieId::Accounts, path(1), node.clone(), &rec);
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &node), Some(rec));
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &other_node), None, "stale reference");
        assert_eq!(cache.get(TrieId::Accounts, &path(2), &node), None, "other path");
        let storage = TrieId::Storage(B256::repeat_byte(9));
        assert_eq!(cache.get(storage, &path(1), &node), None, "other trie");
        let stats = cache.stats();
        assert_eq!((stats.records, stats.hits, stats.misses), (1, 1, 3));
    }

    #[test]
    fn replacing_and_removing_entries() {
        let cache = RecordCache::new(1 << 20);
        let (first, rec1) = record(1);
        let (second, rec2) = record(2);
        cache.insert(TrieId::Accounts, path(1), first.clone(), &rec1);
        cache.insert(TrieId::Accounts, path(1), second.clone(), &rec2);
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &first), None);
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &second), Some(rec2.clone()));
        // Warming does not displace what is there.
        let (third, rec3) = record(3);
        assert!(cache.offer(TrieId::Accounts, path(1), third, &rec3));
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &second), Some(rec2));
        cache.remove(TrieId::Accounts, &path(1));
        assert_eq!(cache.stats().records, 0);
    }

    #[test]
    fn stays_within_capacity_and_keeps_the_newest() {
        let per_shard = 4;
        let cache = RecordCache::new(per_shard * SHARDS * ENTRY_BYTES);
        let (node, rec) = record(5);
        for round in 0..3 {
            for i in 0..2_000 {
                cache.insert(TrieId::Accounts, path(i), node.clone(), &rec);
            }
            let stats = cache.stats();
            assert!(stats.records <= per_shard * SHARDS, "round {round}: {stats:?}");
            for shard in &cache.shards {
                let state = shard.state.read();
                assert!(state.order.len() <= 2 * state.entries.len() + 64);
            }
        }
        // The last key inserted into each shard survives.
        assert!(cache.get(TrieId::Accounts, &path(1_999), &node).is_some());
        // 2,000 keys over 64 shards of 4 fill every shard: warming adds nothing more.
        assert!(!cache.offer(TrieId::Accounts, path(5_000), node, &rec));
    }

    #[test]
    fn zero_capacity_holds_nothing() {
        let cache = RecordCache::new(0);
        let (node, rec) = record(1);
        cache.insert(TrieId::Accounts, path(1), node.clone(), &rec);
        assert!(!cache.offer(TrieId::Accounts, path(1), node.clone(), &rec));
        assert_eq!(cache.get(TrieId::Accounts, &path(1), &node), None);
    }
}
