//! Applies a sorted batch of key changes to a stored trie, rehashing only the touched paths.
//!
//! The walk descends from the root along the changed keys, loading the records on those paths.
//! Untouched children keep their stored references, so the cost is proportional to the number
//! of changed keys times the trie depth, never to the size of the trie. Subtrees with many
//! changes are processed in parallel (rayon), each with its own write set.

use alloy_primitives::{B256, map::HashMap};
use alloy_trie::{Nibbles, nodes::RlpNode};
use rayon::prelude::*;

use super::{Change, ChildRef, NodeRecord, Record, TrieError, TrieId, TrieReader, TrieUpdate};

/// Below this many changes a subtree is processed on the current thread.
const PARALLEL_MIN_CHANGES: usize = 512;

/// Applies `changes` (sorted by key, unique keys) to the trie `id` whose root is `root`.
pub(super) fn update<R: TrieReader + ?Sized>(
    reader: &R,
    id: TrieId,
    root: &ChildRef,
    changes: &[Change],
) -> Result<TrieUpdate, TrieError> {
    debug_assert!(changes.windows(2).all(|w| w[0].0 < w[1].0), "changes must be sorted and unique");
    let mut updater = Updater::new(reader, id, changes);
    let root = updater.update_child(Nibbles::new(), root.clone(), changes)?;
    let records = updater.writes.into_iter().collect();
    Ok(TrieUpdate { root, records })
}

/// One walk over a subtree; parallel subtrees each get their own.
struct Updater<'a, R: ?Sized> {
    reader: &'a R,
    id: TrieId,
    /// Every change of this update, for looking up new leaf values.
    all_changes: &'a [Change],
    /// Records written (`Some`) or deleted (`None`) by this walk, by path.
    writes: HashMap<Nibbles, Option<NodeRecord>>,
    buf: Vec<u8>,
}

impl<'a, R: TrieReader + ?Sized> Updater<'a, R> {
    fn new(reader: &'a R, id: TrieId, all_changes: &'a [Change]) -> Self {
        Self { reader, id, all_changes, writes: HashMap::default(), buf: Vec::with_capacity(600) }
    }

    /// Returns what stands at `path` after applying `changes` (all prefixed by `path`).
    fn update_child(
        &mut self,
        path: Nibbles,
        current: ChildRef,
        changes: &[Change],
    ) -> Result<ChildRef, TrieError> {
        if changes.is_empty() {
            return Ok(current);
        }
        match current {
            ChildRef::Empty => {
                let entries: Vec<(B256, &[u8])> = inserts(changes).collect();
                self.build(path, &entries)
            }
            ChildRef::Leaf { key, node } => {
                let touched = changes.binary_search_by(|c| c.0.cmp(&key)).is_ok();
                let mut entries: Vec<(B256, &[u8])> = inserts(changes).collect();
                if !touched && entries.is_empty() {
                    // Only deletions of keys that are not here.
                    return Ok(ChildRef::Leaf { key, node });
                }
                let kept;
                if !touched {
                    kept = self.leaf_value(&key)?;
                    let at = entries.partition_point(|(k, _)| *k < key);
                    entries.insert(at, (key, &kept));
                }
                self.build(path, &entries)
            }
            ChildRef::Node(node) => {
                let record = self.load(&path, &node)?;
                self.update_record(path, record, changes)
            }
        }
    }

    /// Applies `changes` below the record `record` stored at `path`.
    fn update_record(
        &mut self,
        path: Nibbles,
        mut record: Box<Record>,
        changes: &[Change],
    ) -> Result<ChildRef, TrieError> {
        let depth = path.len();
        // Keys are sorted, so the shortest agreement with the extension is at one of the ends.
        let agree = |key: &B256| {
            let nibbles = Nibbles::unpack(key);
            nibbles.slice(depth..depth + record.ext.len()).common_prefix_length(&record.ext)
        };
        let first = changes.first().expect("update_child skips empty change sets");
        let last = changes.last().expect("update_child skips empty change sets");
        let split = agree(&first.0).min(agree(&last.0));
        if split < record.ext.len() {
            // A change leaves the extension part-way: cut it at `split` into an upper record
            // whose only child (for now) is the lower part, then insert below as usual.
            let children = std::mem::take(&mut record.children);
            let lower = Box::new(Record { ext: record.ext.slice(split + 1..), children });
            let lower_path = path.join(&record.ext.slice(..split + 1));
            let lower_ref = self.write(lower_path, lower);
            let mut upper =
                Box::new(Record { ext: record.ext.slice(..split), ..Default::default() });
            upper.children[record.ext.get_unchecked(split) as usize] = ChildRef::Node(lower_ref);
            record = upper;
        }

        let full = path.join(&record.ext);
        let groups = group_by_nibble(changes, full.len());
        if changes.len() >= PARALLEL_MIN_CHANGES && groups.len() > 1 {
            let results: Vec<_> = groups
                .par_iter()
                .map(|&(nibble, sub)| {
                    let mut child = Updater::new(self.reader, self.id, self.all_changes);
                    let mut child_path = full;
                    child_path.push(nibble);
                    let current = record.children[nibble as usize].clone();
                    let new = child.update_child(child_path, current, sub)?;
                    Ok((nibble, new, child.writes))
                })
                .collect::<Result<_, TrieError>>()?;
            for (nibble, new, writes) in results {
                record.children[nibble as usize] = new;
                self.writes.extend(writes);
            }
        } else {
            for (nibble, sub) in groups {
                let mut child_path = full;
                child_path.push(nibble);
                let current = std::mem::take(&mut record.children[nibble as usize]);
                record.children[nibble as usize] = self.update_child(child_path, current, sub)?;
            }
        }
        self.normalize(path, record)
    }

    /// Stores `record` at `path`, or replaces it by what a valid trie has there when fewer
    /// than two children remain (nothing, the lone leaf moved up, or the lone child record
    /// merged behind a longer extension).
    fn normalize(&mut self, path: Nibbles, record: Box<Record>) -> Result<ChildRef, TrieError> {
        let mut present = record.children.iter().enumerate().filter(|(_, c)| !c.is_empty());
        let only = match (present.next(), present.next()) {
            (None, _) => {
                self.writes.insert(path, None);
                return Ok(ChildRef::Empty);
            }
            (Some((nibble, child)), None) => (nibble as u8, child.clone()),
            (Some(_), Some(_)) => return Ok(ChildRef::Node(self.write(path, record))),
        };
        match only {
            (_, ChildRef::Leaf { key, .. }) => {
                self.writes.insert(path, None);
                let value = self.leaf_value(&key)?;
                Ok(ChildRef::leaf(key, path.len(), &value, &mut self.buf))
            }
            (nibble, ChildRef::Node(node)) => {
                let mut child_path = path.join(&record.ext);
                child_path.push(nibble);
                let child = self.load(&child_path, &node)?;
                self.writes.insert(child_path, None);
                let mut ext = record.ext;
                ext.push(nibble);
                let merged =
                    Box::new(Record { ext: ext.join(&child.ext), children: child.children });
                Ok(ChildRef::Node(self.write(path, merged)))
            }
            (_, ChildRef::Empty) => unreachable!("filtered out above"),
        }
    }

    /// Builds a fresh subtree at `path` holding exactly `entries` (sorted by key).
    fn build(&mut self, path: Nibbles, entries: &[(B256, &[u8])]) -> Result<ChildRef, TrieError> {
        match entries {
            [] => Ok(ChildRef::Empty),
            [(key, value)] => Ok(ChildRef::leaf(*key, path.len(), value, &mut self.buf)),
            [first, .., last] => {
                let first_nibbles = Nibbles::unpack(first.0);
                let shared = first_nibbles.common_prefix_length(&Nibbles::unpack(last.0));
                let mut record = Box::new(Record {
                    ext: first_nibbles.slice(path.len()..shared),
                    ..Default::default()
                });
                let full = first_nibbles.slice(..shared);
                let mut start = 0;
                while start < entries.len() {
                    let nibble = Nibbles::unpack(entries[start].0).get_unchecked(shared);
                    let end = start
                        + entries[start..]
                            .iter()
                            .take_while(|(k, _)| Nibbles::unpack(k).get_unchecked(shared) == nibble)
                            .count();
                    let mut child_path = full;
                    child_path.push(nibble);
                    record.children[nibble as usize] =
                        self.build(child_path, &entries[start..end])?;
                    start = end;
                }
                Ok(ChildRef::Node(self.write(path, record)))
            }
        }
    }

    /// Records that `record` now stands at `path`; returns the reference its parent holds.
    fn write(&mut self, path: Nibbles, record: Box<Record>) -> RlpNode {
        let node = record.node_ref(&mut self.buf);
        self.writes.insert(path, Some(NodeRecord { node: node.clone(), record }));
        node
    }

    /// The record at `path`, which its parent refers to by `node`: as this walk left it, or
    /// as stored.
    fn load(&self, path: &Nibbles, node: &RlpNode) -> Result<Box<Record>, TrieError> {
        match self.writes.get(path) {
            Some(Some(written)) => Ok(written.record.clone()),
            Some(None) => Err(TrieError::MissingRecord { trie: self.id, path: *path }),
            None => self
                .reader
                .record(self.id, path, node)?
                .ok_or(TrieError::MissingRecord { trie: self.id, path: *path }),
        }
    }

    /// The current value of leaf `key`: from this update's changes, else from the flat state.
    fn leaf_value(&self, key: &B256) -> Result<Vec<u8>, TrieError> {
        if let Ok(at) = self.all_changes.binary_search_by(|c| c.0.cmp(key))
            && let Some(value) = &self.all_changes[at].1
        {
            return Ok(value.clone());
        }
        self.reader
            .leaf_value(self.id, key)?
            .ok_or(TrieError::MissingLeaf { trie: self.id, key: *key })
    }
}

/// The insertions among `changes`, as (key, value).
fn inserts(changes: &[Change]) -> impl Iterator<Item = (B256, &[u8])> {
    changes.iter().filter_map(|(key, value)| value.as_deref().map(|v| (*key, v)))
}

/// Splits sorted `changes` into runs sharing the nibble at `depth`.
fn group_by_nibble(changes: &[Change], depth: usize) -> Vec<(u8, &[Change])> {
    let mut groups = Vec::with_capacity(16);
    let mut start = 0;
    while start < changes.len() {
        let nibble = Nibbles::unpack(changes[start].0).get_unchecked(depth);
        let len = changes[start..]
            .iter()
            .take_while(|c| Nibbles::unpack(c.0).get_unchecked(depth) == nibble)
            .count();
        groups.push((nibble, &changes[start..start + len]));
        start += len;
    }
    groups
}
