//! What each transaction is expected to touch, and the partition of a block into groups of
//! transactions that may depend on each other.
//!
//! A transaction's access set is its sender (written), its recipient, the EIP-2930 list it
//! declares, the authorities of its EIP-7702 authorizations (written), the address it creates,
//! and — when the txpool pre-executed it — the exact keys that pre-execution read and wrote.
//! Declared lists say nothing about writes, so they are guessed: declared slots are written,
//! declared accounts read. The recipient is written when value moves, and also when calldata
//! calls it and nothing better is known (a call usually writes its target's storage; without
//! a hint, grouping callers of one contract beats discovering their conflicts after the fact).
//! Access sets are hints: validation after execution, not these sets, guarantees correctness.

use alloy::consensus::Transaction as _;
use alloy_primitives::map::HashMap;

use super::{ExecTx, overlay::StateKey};

/// One access: the key and whether it is (expected to be) written.
pub(crate) type Access = (StateKey, bool);

/// The expected accesses of `tx`.
pub(crate) fn access_set(tx: &ExecTx) -> Vec<Access> {
    let inner = tx.tx.inner();
    let sender = tx.tx.signer();
    let mut set = vec![(StateKey::Account(sender), true)];
    let declared = inner.access_list().filter(|l| !l.is_empty());
    if let Some(hint) = &tx.hint {
        set.extend(hint.keys.iter().copied());
    }
    match inner.kind() {
        alloy_primitives::TxKind::Call(to) => {
            let unknown = tx.hint.is_none() && declared.is_none();
            let write = !inner.value().is_zero() || (unknown && !inner.input().is_empty());
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
/// other reads or writes) share a group. Groups keep block order inside and are returned in
/// order of their first transaction.
pub(crate) fn partition(sets: &[Vec<Access>]) -> Vec<Vec<usize>> {
    #[derive(Default)]
    struct KeyState {
        /// A transaction already joined to every accessor of the key (valid once written).
        representative: usize,
        written: bool,
        /// Readers seen before the first writer.
        readers: Vec<usize>,
    }
    let mut groups = UnionFind::new(sets.len());
    let mut keys: HashMap<StateKey, KeyState> = HashMap::default();
    for (tx, set) in sets.iter().enumerate() {
        for &(key, write) in set {
            let state = keys.entry(key).or_default();
            match (state.written, write) {
                (true, _) => groups.union(state.representative, tx),
                (false, true) => {
                    for reader in state.readers.drain(..) {
                        groups.union(reader, tx);
                    }
                    state.written = true;
                    state.representative = tx;
                }
                (false, false) => state.readers.push(tx),
            }
        }
    }
    let mut by_root: HashMap<usize, usize> = HashMap::default();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for tx in 0..sets.len() {
        let root = groups.find(tx);
        let group = *by_root.entry(root).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[group].push(tx);
    }
    out
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
        assert_eq!(partition(&sets), vec![vec![0], vec![1], vec![2]]);
        let mut with_writer = sets;
        with_writer.push(vec![(account(4), true), (token, true)]);
        assert_eq!(partition(&with_writer), vec![vec![0, 1, 3], vec![2]]);
    }

    #[test]
    fn writers_of_one_key_share_a_group_in_block_order() {
        let hot = StateKey::Slot(Address::with_last_byte(7), U256::ZERO);
        let sets: Vec<_> = (0..5).map(|i| vec![(account(i), true), (hot, i % 2 == 0)]).collect();
        assert_eq!(partition(&sets), vec![vec![0, 1, 2, 3, 4]]);
    }
}
