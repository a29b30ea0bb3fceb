//! What each transaction is expected to touch, and the partition of a block into groups of
//! transactions that may depend on each other.
//!
//! A transaction's access set is its sender (written), its recipient, the EIP-2930 list it
//! declares, the authorities of its EIP-7702 authorizations (written), the address it creates,
//! and — when the txpool pre-executed it — the exact keys that pre-execution read and wrote.
//! Declared lists say nothing about writes, so they are guessed: declared slots are written,
//! declared accounts read. The recipient is written when value moves, and also when the call
//! may run its code (calldata, or more gas than a bare transfer) and nothing better is known
//! (a call usually writes its target's storage; without a hint, grouping callers of one
//! contract beats discovering their conflicts after the fact).
//! Access sets are hints: validation after execution, not these sets, guarantees correctness.

use alloy::consensus::Transaction as _;
use std::hash::BuildHasher;

use alloy_primitives::{
    Address,
    map::{DefaultHashBuilder, HashMap},
};
use rayon::prelude::*;

use super::{ExecTx, TRANSFER_GAS, overlay::StateKey};

/// Blocks with fewer transactions build access sets and partitions on the calling thread:
/// below this, handing work to rayon costs more than it saves.
pub(crate) const PARALLEL_FROM: usize = 1_024;

/// One access: the key and whether it is (expected to be) written.
pub(crate) type Access = (StateKey, bool);

/// Contracts whose callers recently turned out to conflict although their access sets said
/// otherwise: without an exact hint, a call to one of them is taken to write it, which groups
/// its callers. Bounded, and forgotten after [`HotContracts::MEMORY_BLOCKS`] quiet blocks.
#[derive(Debug, Default)]
pub(crate) struct HotContracts {
    /// Contract → block count at which it last caused a re-execution.
    last_seen: HashMap<Address, u64>,
    blocks: u64,
}

impl HotContracts {
    /// Blocks a contract stays hot without causing another re-execution.
    const MEMORY_BLOCKS: u64 = 64;
    /// Most contracts remembered.
    const CAPACITY: usize = 1024;

    /// Whether calls to `contract` should be grouped.
    pub(crate) fn contains(&self, contract: &Address) -> bool {
        self.last_seen.contains_key(contract)
    }

    /// Records one executed block and the contracts whose callers had to be re-executed.
    pub(crate) fn record_block(&mut self, conflicted: impl IntoIterator<Item = Address>) {
        self.blocks += 1;
        for contract in conflicted {
            if self.last_seen.len() < Self::CAPACITY || self.last_seen.contains_key(&contract) {
                self.last_seen.insert(contract, self.blocks);
            }
        }
        let horizon = self.blocks.saturating_sub(Self::MEMORY_BLOCKS);
        self.last_seen.retain(|_, seen| *seen > horizon);
    }
}

/// Whether `tx` may run contract code: a creation, a call with calldata or with authorizations,
/// or a call without calldata whose gas limit leaves room for the recipient's fallback (value
/// sent to a forwarder, a "claim" contract triggered by an empty call). Plain transfers with
/// exactly the transfer gas touch only sender and recipient.
pub(crate) fn may_run_code(tx: &impl alloy::consensus::Transaction) -> bool {
    tx.kind().is_create()
        || !tx.input().is_empty()
        || tx.authorization_list().is_some()
        || tx.gas_limit() > TRANSFER_GAS
}

/// The expected accesses of `tx`, given the contracts currently known to be hot.
pub(crate) fn access_set(tx: &ExecTx, hot: &HotContracts) -> Vec<Access> {
    let inner = tx.tx.inner();
    let sender = tx.tx.signer();
    let mut set = vec![(StateKey::Account(sender), true)];
    let declared = inner.access_list().filter(|l| !l.is_empty());
    if let Some(hint) = &tx.hint {
        set.extend(hint.keys.iter().copied());
    }
    match inner.kind() {
        alloy_primitives::TxKind::Call(to) => {
            let calls = may_run_code(inner);
            let unknown = tx.hint.is_none() && (declared.is_none() || hot.contains(&to));
            let write = !inner.value().is_zero() || (unknown && calls);
            set.push((StateKey::Account(to), write));
        }
        alloy_primitives::TxKind::Create => {
            set.push((StateKey::Account(sender.create(inner.nonce())), true));
        }
    }
    if let Some(list) = declared {
        for item in list.iter() {
            set.push((StateKey::Account(item.address), false));
            for slot in &item.storage_keys {
                set.push((StateKey::Slot(item.address, (*slot).into()), true));
            }
        }
    }
    if let Some(authorizations) = inner.authorization_list() {
        for authority in authorizations.iter().filter_map(|a| a.recover_authority().ok()) {
            set.push((StateKey::Account(authority), true));
        }
    }
    set
}

/// Groups transactions so that two transactions whose sets conflict (one writes a key the
/// other reads or writes) share a group; returns each transaction's group id, ids numbered in
/// order of each group's first transaction.
///
/// Every access becomes a (key hash, transaction, write) entry; sorting by hash (in parallel)
/// lines up the accesses of each key, and a key with any writer unites all its accessors. Two
/// keys sharing a 64-bit hash would only merge groups needlessly, never split a real conflict.
pub(crate) fn partition(sets: &[Vec<Access>]) -> Vec<u32> {
    let hasher = DefaultHashBuilder::default();
    fn entries_of<'a>(
        hasher: &'a DefaultHashBuilder,
        (tx, set): (usize, &'a Vec<Access>),
    ) -> impl Iterator<Item = (u64, u32, bool)> + 'a {
        set.iter().map(move |(key, write)| (hasher.hash_one(key), tx as u32, *write))
    }
    let entry = |item| entries_of(&hasher, item);
    let mut entries: Vec<(u64, u32, bool)>;
    if sets.len() < PARALLEL_FROM {
        entries = sets.iter().enumerate().flat_map(entry).collect();
        entries.sort_unstable_by_key(|entry| entry.0);
    } else {
        entries = sets.par_iter().enumerate().flat_map_iter(entry).collect();
        entries.par_sort_unstable_by_key(|entry| entry.0);
    }
    let mut groups = UnionFind::new(sets.len());
    for run in entries.chunk_by(|a, b| a.0 == b.0) {
        if run.len() > 1 && run.iter().any(|entry| entry.2) {
            for entry in &run[1..] {
                groups.union(run[0].1 as usize, entry.1 as usize);
            }
        }
    }
    let mut id_of_root = vec![u32::MAX; sets.len()];
    let mut next = 0;
    (0..sets.len())
        .map(|tx| {
            let root = groups.find(tx);
            if id_of_root[root] == u32::MAX {
                id_of_root[root] = next;
                next += 1;
            }
            id_of_root[root]
        })
        .collect()
}

/// Disjoint sets over transaction indices (path halving, union by size).
struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self { parent: (0..n).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Address, U256};

    use super::*;

    fn account(i: u8) -> StateKey {
        StateKey::Account(Address::with_last_byte(i))
    }

    #[test]
    fn readers_of_one_key_stay_apart_until_a_writer_joins_them() {
        let token = account(9);
        let sets = vec![
            vec![(account(1), true), (token, false)],
            vec![(account(2), true), (token, false)],
            vec![
                (account(3), true),
                (StateKey::Slot(Address::with_last_byte(9), U256::from(1)), true),
            ],
        ];
        assert_eq!(partition(&sets), vec![0, 1, 2]);
        let mut with_writer = sets;
        with_writer.push(vec![(account(4), true), (token, true)]);
        assert_eq!(partition(&with_writer), vec![0, 0, 1, 0]);
    }

    #[test]
    fn writers_of_one_key_share_a_group_in_block_order() {
        let hot = StateKey::Slot(Address::with_last_byte(7), U256::ZERO);
        let sets: Vec<_> = (0..5).map(|i| vec![(account(i), true), (hot, i % 2 == 0)]).collect();
        assert_eq!(partition(&sets), vec![0; 5]);
    }
}
