//! The durable block commit in steady state: an on-disk store of 200,000 accounts and a token
//! contract with 100,000 slots, past the history window (128 blocks, so every commit also
//! prunes the oldest block's history), committing blocks that each change 10,000 accounts and
//! 5,000 of the token's slots (what ≈ 5,000 token transfers write). Times `commit_block` alone
//! (state and trie writes, history, pruning, the fsync'd commit; the root is computed before),
//! and reads of 100 accounts through a view 64 blocks behind the head, which is what the
//! history layout trades against, and the first proof of a view 1 and 16 blocks back, which
//! rebuilds that block's tries from the flat history.
//!
//! `cargo bench -p sequencer --bench block_commit`

#![allow(missing_docs)] // criterion_group! generates undocumented functions
#![allow(clippy::disallowed_macros)] // it prints its measurements

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sequencer::{
    genesis::{Genesis, GenesisAccount},
    state::{AccountDiff, StateDiff, StateReader},
    store::{GenesisBlock, PreparedState, Store, StoreConfig, StoredBlock},
    test_utils::state_only_block,
};

/// The allocator the node runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNTS: u64 = 200_000;
const TOKEN_SLOTS: u64 = 100_000;
const CHANGED_ACCOUNTS: usize = 10_000;
const CHANGED_SLOTS: usize = 5_000;
/// Blocks committed before timing: past the default history window, so pruning runs.
const WARM_UP_BLOCKS: u64 = 140;

fn address(i: u64) -> Address {
    Address::from_slice(&keccak256(i.to_be_bytes())[12..])
}

fn token() -> Address {
    Address::repeat_byte(0x70)
}

fn genesis() -> Genesis {
    let mut genesis = Genesis::dev();
    genesis.alloc.clear();
    for i in 0..ACCOUNTS {
        genesis.alloc.insert(
            address(i),
            GenesisAccount { balance: U256::from(i + 1), ..Default::default() },
        );
    }
    genesis.alloc.insert(
        token(),
        GenesisAccount {
            code: Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x00]),
            storage: (0..TOKEN_SLOTS).map(|s| (U256::from(s), U256::from(s + 1))).collect(),
            ..Default::default()
        },
    );
    genesis
}

/// The next block's changes: random accounts get a new balance and nonce, random token
/// slots a new value.
fn next_diff(store: &Store, rng: &mut StdRng) -> StateDiff {
    let view = store.latest().unwrap();
    let mut diff = StateDiff::default();
    while diff.accounts.len() < CHANGED_ACCOUNTS {
        let address = address(rng.random_range(0..ACCOUNTS));
        let mut info = view.account(address).unwrap().unwrap_or_default();
        info.nonce += 1;
        info.balance = U256::from(rng.random::<u64>());
        diff.accounts.insert(address, AccountDiff { info: Some(info), ..Default::default() });
    }
    let token_info = view.account(token()).unwrap().unwrap_or_default();
    let storage = (0..CHANGED_SLOTS)
        .map(|_| (U256::from(rng.random_range(0..TOKEN_SLOTS)), U256::from(rng.random::<u64>())))
        .collect();
    diff.accounts
        .insert(token(), AccountDiff { info: Some(token_info), storage_cleared: false, storage });
    diff
}

/// The next block's writes, ready to commit.
fn next_block(store: &Store, rng: &mut StdRng) -> (StoredBlock, PreparedState) {
    let diff = next_diff(store, rng);
    let prepared = store.prepare(&store.latest().unwrap(), &diff).unwrap();
    (state_only_block(store, &prepared), prepared)
}

fn block_commit(c: &mut Criterion) {
    let started = Instant::now();
    let block = GenesisBlock::new(&genesis()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &block, StoreConfig::default()).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..WARM_UP_BLOCKS {
        let (block, prepared) = next_block(&store, &mut rng);
        store.commit_block(&block, &prepared).unwrap();
    }
    eprintln!(
        "setup: {ACCOUNTS} accounts, {TOKEN_SLOTS} token slots, {WARM_UP_BLOCKS} blocks committed \
         in {:.1?}; oldest readable state: block {}",
        started.elapsed(),
        store.oldest_state_block().unwrap()
    );

    let mut group = c.benchmark_group("block_commit");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("commit_10k_accounts_5k_slots_pruning", |b| {
        b.iter_batched(
            || next_block(&store, &mut rng),
            |(block, prepared)| store.commit_block(&block, &prepared).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let head = store.head_number();
    let view = store.state_at(head - 64).unwrap();
    let readers: Vec<Address> = (0..100).map(|_| address(rng.random_range(0..ACCOUNTS))).collect();
    group.bench_function("read_100_accounts_64_blocks_back", |b| {
        b.iter(|| readers.iter().filter(|a| view.account(**a).unwrap().is_some()).count())
    });
    // The store keeps no trie history: an older view rebuilds its tries from the flat history
    // on its first proof (a fresh view each iteration, so each pays the rebuild).
    group.sample_size(10);
    for back in [1, 16] {
        group.bench_function(format!("first_proof_{back}_blocks_back"), |b| {
            b.iter(|| {
                let view = store.state_at(head - back).unwrap();
                view.proofs(token(), &[B256::ZERO]).unwrap()
            })
        });
    }
    group.finish();
    for (table, bytes) in store.table_sizes().unwrap() {
        eprintln!("  table {table}: {:.1} MiB", bytes as f64 / (1 << 20) as f64);
    }
}

criterion_group!(benches, block_commit);
criterion_main!(benches);
