//! The incremental state root, through the real store: after every block of a random sequence
//! of state diffs it equals a from-scratch Merkle-Patricia root of the whole state, survives a
//! reopen, and answers EIP-1186 proofs that an independent verifier accepts.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, TrieAccount, proof::verify_proof};
use proptest::prelude::*;
use sequencer::{
    genesis::{Genesis, GenesisAccount},
    state::{AccountDiff, AccountInfo, MemoryState, StateDiff, StateReader},
    store::{GenesisBlock, StateView, Store, StoreConfig, StoreError},
    test_utils::state_only_block,
    trie::TrieId,
};

/// The state root of `state` computed from scratch with alloy-trie.
fn root_from_scratch(state: &MemoryState) -> B256 {
    let mut storage: BTreeMap<Address, Vec<(B256, U256)>> = BTreeMap::new();
    for ((address, slot), value) in &state.storage {
        storage.entry(*address).or_default().push((B256::from(*slot), *value));
    }
    let accounts = state.accounts.iter().map(|(address, info)| {
        let root = storage.get(address).map_or(EMPTY_ROOT_HASH, |slots| {
            alloy_trie::root::storage_root_unhashed(slots.iter().copied())
        });
        (*address, TrieAccount::new(info.nonce, info.balance, root, info.code_hash))
    });
    alloy_trie::root::state_root_unhashed(accounts)
}

/// Commits `diff` as the next block and returns the new state root.
fn commit(store: &Store, diff: &StateDiff) -> B256 {
    let parent = store.latest().unwrap();
    let prepared = store.prepare(&parent, diff).unwrap();
    store.commit_block(&state_only_block(store, &prepared), &prepared).unwrap();
    prepared.state_root
}

fn genesis(accounts: &[Address]) -> Genesis {
    let mut genesis = Genesis::dev();
    genesis.alloc = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut account =
                GenesisAccount { balance: U256::from(1000 + i), ..Default::default() };
            if i % 3 == 0 {
                account.nonce = 1;
                account.code = Bytes::from(vec![0x60, i as u8, 0x00]);
                account.storage = (0..4u64).map(|s| (U256::from(s), U256::from(s + 1))).collect();
            }
            (*a, account)
        })
        .collect();
    genesis
}

/// One random change to one account.
#[derive(Debug, Clone)]
enum Change {
    /// Balance and nonce change, and some slots set or cleared.
    Update { balance: u64, slots: Vec<(u8, u8)> },
    /// Destroyed (self-destruct, or deleted as empty).
    Delete,
    /// Created anew (storage wiped first), with some slots.
    Recreate { slots: Vec<(u8, u8)> },
    /// Every slot cleared, account kept.
    EmptyStorage,
    /// Created and destroyed within the block: nothing is left.
    CreateAndDestroy,
}

fn change() -> impl Strategy<Value = Change> {
    let slots = prop::collection::vec((0u8..8, 0u8..4), 0..5);
    prop_oneof![
        4 => (any::<u64>(), slots.clone()).prop_map(|(balance, slots)| Change::Update { balance, slots }),
        1 => Just(Change::Delete),
        1 => slots.prop_map(|slots| Change::Recreate { slots }),
        1 => Just(Change::EmptyStorage),
        1 => Just(Change::CreateAndDestroy),
    ]
}

/// Builds the block diff for `changes` against `state`, and applies it to `state`.
fn diff_of(state: &mut MemoryState, changes: &[(Address, Change)]) -> StateDiff {
    let mut diff = StateDiff::default();
    for (address, change) in changes {
        let current = state.account(*address).unwrap();
        let entry = match change {
            Change::Update { balance, slots } => AccountDiff {
                info: Some(AccountInfo {
                    nonce: current.map_or(0, |a| a.nonce) + 1,
                    balance: U256::from(*balance),
                    code_hash: current.map_or(KECCAK_EMPTY, |a| a.code_hash),
                }),
                storage_cleared: false,
                storage: slots.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect(),
            },
            Change::Delete => {
                AccountDiff { info: None, storage_cleared: true, storage: BTreeMap::new() }
            }
            Change::Recreate { slots } => AccountDiff {
                info: Some(AccountInfo {
                    nonce: 1,
                    balance: U256::from(5),
                    code_hash: keccak256([1u8]),
                }),
                storage_cleared: true,
                storage: slots
                    .iter()
                    .filter(|(_, v)| *v != 0)
                    .map(|(k, v)| (U256::from(*k), U256::from(*v)))
                    .collect(),
            },
            Change::EmptyStorage => AccountDiff {
                info: current.or(Some(AccountInfo::with_balance(U256::from(1)))),
                storage_cleared: true,
                storage: BTreeMap::new(),
            },
            // Created and destroyed within the block: the store sees a deletion of an account
            // that never existed, which must change nothing.
            Change::CreateAndDestroy if current.is_none() => {
                AccountDiff { info: None, storage_cleared: true, storage: BTreeMap::new() }
            }
            Change::CreateAndDestroy => continue,
        };
        diff.accounts.insert(*address, entry);
    }
    state.apply(&diff);
    diff
}

fn memory_of(genesis: &Genesis) -> MemoryState {
    sequencer::test_utils::workload::memory_state(genesis)
}

proptest! {
    #![proptest_config(crate::proptest_config(32, 0x7e1e))]

    /// After every block the incremental root equals the from-scratch root.
    #[test]
    fn incremental_root_equals_full_recomputation_after_every_block(
        blocks in prop::collection::vec(prop::collection::vec((0usize..40, change()), 1..20), 1..8),
    ) {
        let addresses: Vec<Address> = (0..40u8).map(|i| Address::repeat_byte(i + 1)).collect();
        let genesis = genesis(&addresses[..20]);
        let store = Store::in_memory(&GenesisBlock::new(&genesis).unwrap(), StoreConfig::default()).unwrap();
        let mut state = memory_of(&genesis);
        prop_assert_eq!(store.head().0.state_root, root_from_scratch(&state));
        for block in blocks {
            let mut seen = std::collections::HashSet::new();
            let changes: Vec<_> = block
                .into_iter()
                .filter(|(i, _)| seen.insert(*i))
                .map(|(i, c)| (addresses[i], c))
                .collect();
            let diff = diff_of(&mut state, &changes);
            let root = commit(&store, &diff);
            prop_assert_eq!(root, root_from_scratch(&state));
        }
    }
}

/// Trie caches of three sizes: the default, one so small that every block evicts, none.
fn cache_configs() -> [StoreConfig; 3] {
    [
        StoreConfig::default(),
        StoreConfig { trie_cache_bytes: 100 << 10, ..StoreConfig::default() },
        StoreConfig { trie_cache_bytes: 0, ..StoreConfig::default() },
    ]
}

proptest! {
    #![proptest_config(crate::proptest_config(12, 0xca5e))]

    /// Blocks, an unwind to an earlier block, and other blocks on top of it: every root equals
    /// the from-scratch root, whatever the trie cache holds from the unwound blocks or has
    /// evicted, every earlier block's state, root and proofs read back through the history
    /// (its tries rebuilt from the flat values), and proofs at the head verify.
    #[test]
    fn roots_stay_right_through_unwinds_and_cache_evictions(
        first in prop::collection::vec(prop::collection::vec((0usize..40, change()), 1..20), 1..6),
        then in prop::collection::vec(prop::collection::vec((0usize..40, change()), 1..20), 1..6),
        back in 0usize..6,
    ) {
        let addresses: Vec<Address> = (0..40u8).map(|i| Address::repeat_byte(i + 1)).collect();
        let genesis = genesis(&addresses[..20]);
        let block = GenesisBlock::new(&genesis).unwrap();
        let distinct = |block: &[(usize, Change)]| {
            let mut seen = std::collections::HashSet::new();
            block
                .iter()
                .filter(|(i, _)| seen.insert(*i))
                .map(|(i, c)| (addresses[*i], c.clone()))
                .collect::<Vec<_>>()
        };
        for config in cache_configs() {
            let store = Store::in_memory(&block, config.clone()).unwrap();
            let mut states = vec![memory_of(&genesis)];
            for changes in &first {
                let mut state = states.last().unwrap().clone();
                let diff = diff_of(&mut state, &distinct(changes));
                prop_assert_eq!(commit(&store, &diff), root_from_scratch(&state));
                states.push(state);
            }
            // Every earlier block's state reads back through the history, and its tries,
            // rebuilt from that history, give its root and proofs that verify.
            for (block, expected) in states.iter().enumerate() {
                let view = store.state_at(block as u64).unwrap();
                let root = root_from_scratch(expected);
                prop_assert_eq!(view.trie_root(TrieId::Accounts).unwrap().root_hash(), root);
                for address in [addresses[1], addresses[22]] {
                    assert_proofs_verify(&view, root, expected, address, &[U256::ZERO, U256::from(5)]);
                }
                for address in &addresses {
                    prop_assert_eq!(view.account(*address).unwrap(), expected.account(*address).unwrap());
                    for slot in 0..8u64 {
                        let slot = U256::from(slot);
                        prop_assert_eq!(
                            view.storage(*address, slot).unwrap(),
                            expected.storage(*address, slot).unwrap(),
                            "block {} of {}", block, states.len() - 1
                        );
                    }
                }
            }
            let target = back.min(states.len() - 1);
            store.unwind_to(target as u64).unwrap();
            let mut state = states[target].clone();
            prop_assert_eq!(store.head().0.state_root, root_from_scratch(&state));
            for changes in &then {
                let diff = diff_of(&mut state, &distinct(changes));
                let root = commit(&store, &diff);
                prop_assert_eq!(root, root_from_scratch(&state), "cache {}", config.trie_cache_bytes);
            }
            let view = store.latest().unwrap();
            let root = store.head().0.state_root;
            for address in [addresses[0], addresses[3], addresses[25], Address::repeat_byte(0xee)] {
                assert_proofs_verify(&view, root, &state, address, &[U256::ZERO, U256::from(2)]);
            }
        }
    }
}

/// Account and storage proofs of `view` verify against `root` with alloy-trie's verifier.
fn assert_proofs_verify(
    view: &StateView,
    root: B256,
    state: &MemoryState,
    address: Address,
    slots: &[U256],
) {
    let keys: Vec<B256> = slots.iter().map(|s| B256::from(*s)).collect();
    let (account_proof, storage) = view.proofs(address, &keys).unwrap();
    let account = state.account(address).unwrap();
    let storage_root = {
        let slots: Vec<_> = state
            .storage
            .iter()
            .filter(|((a, _), _)| *a == address)
            .map(|((_, s), v)| (B256::from(*s), *v))
            .collect();
        alloy_trie::root::storage_root_unhashed(slots)
    };
    let expected = account.map(|a| {
        alloy_rlp::encode(TrieAccount::new(a.nonce, a.balance, storage_root, a.code_hash))
    });
    verify_proof(root, Nibbles::unpack(keccak256(address)), expected, &account_proof).unwrap();
    for (slot, (value, proof)) in slots.iter().zip(storage) {
        let expected = state.storage(address, *slot).unwrap();
        assert_eq!(value, expected);
        let encoded = (!expected.is_zero()).then(|| alloy_rlp::encode(expected));
        verify_proof(
            storage_root,
            Nibbles::unpack(keccak256(slot.to_be_bytes::<32>())),
            encoded,
            &proof,
        )
        .unwrap();
    }
}

#[test]
fn proofs_verify_at_the_head_and_at_recent_blocks() {
    let addresses: Vec<Address> = (0..60u8).map(|i| Address::repeat_byte(i + 1)).collect();
    let genesis = genesis(&addresses[..30]);
    let store =
        Store::in_memory(&GenesisBlock::new(&genesis).unwrap(), StoreConfig::default()).unwrap();
    let mut state = memory_of(&genesis);
    let mut history = vec![(state.clone(), store.head().0.state_root)];
    for round in 0..5u64 {
        let changes: Vec<_> = (0..12)
            .map(|i| {
                let change = if (i + round) % 5 == 0 {
                    Change::Delete
                } else {
                    Change::Update {
                        balance: round * 100 + i,
                        slots: vec![(i as u8 % 8, (round % 3) as u8)],
                    }
                };
                (addresses[((i * 7 + round * 3) % 60) as usize], change)
            })
            .collect();
        let diff = diff_of(&mut state, &changes);
        let root = commit(&store, &diff);
        history.push((state.clone(), root));
    }
    let slots = [U256::ZERO, U256::from(1), U256::from(3), U256::from(7)];
    for (block, (state, root)) in history.iter().enumerate() {
        let view = store.state_at(block as u64).unwrap();
        for address in
            [addresses[0], addresses[3], addresses[10], addresses[45], Address::repeat_byte(0xee)]
        {
            assert_proofs_verify(&view, *root, state, address, &slots);
        }
    }
}

#[test]
fn a_datadir_of_another_storage_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let block = GenesisBlock::new(&genesis(&[Address::repeat_byte(1)])).unwrap();
    drop(Store::open(dir.path(), &block, StoreConfig::default()).unwrap());
    // Rewrite the schema the datadir records to the one before the tries lost their history.
    let meta: redb::TableDefinition<'_, &str, &[u8]> = redb::TableDefinition::new("meta");
    let db = redb::Database::open(dir.path().join("state.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(meta).unwrap().insert("schema", 2u64.to_be_bytes().as_slice()).unwrap();
    txn.commit().unwrap();
    drop(db);
    let error = Store::open(dir.path(), &block, StoreConfig::default()).unwrap_err();
    assert!(matches!(error, StoreError::Schema { found: 2, expected: 3 }), "{error}");
    assert!(error.to_string().contains("start with a new datadir"), "{error}");
}

#[test]
fn reopened_store_keeps_a_root_that_matches_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let addresses: Vec<Address> = (0..50u8).map(|i| Address::repeat_byte(i + 1)).collect();
    let genesis = genesis(&addresses[..25]);
    let block = GenesisBlock::new(&genesis).unwrap();
    let mut state = memory_of(&genesis);
    let root = {
        let store = Store::open(dir.path(), &block, StoreConfig::default()).unwrap();
        let changes: Vec<_> = (0..30)
            .map(|i| {
                (
                    addresses[i],
                    if i % 4 == 0 {
                        Change::EmptyStorage
                    } else {
                        Change::Update { balance: i as u64, slots: vec![(1, 2)] }
                    },
                )
            })
            .collect();
        let diff = diff_of(&mut state, &changes);
        commit(&store, &diff)
    };
    let store = Store::open(dir.path(), &block, StoreConfig::default()).unwrap();
    assert_eq!(store.head().0.state_root, root);
    // Start-up loads the stored tries into the trie cache, as the node does.
    let loaded = store.warm_trie_cache(&std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert!(loaded.records > 0, "{loaded:?}");
    assert_eq!(root, root_from_scratch(&state));
    // The stored tries keep working from where they were.
    let diff =
        diff_of(&mut state, &[(addresses[40], Change::Update { balance: 9, slots: vec![(3, 3)] })]);
    assert_eq!(commit(&store, &diff), root_from_scratch(&state));
}
