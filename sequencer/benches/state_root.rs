//! The incremental state root at scale: an on-disk store of 1,000,000 accounts (100,000 of
//! them with 10 storage slots), and a block touching 10,000 accounts and 20,000 slots. One
//! benchmark group times the incremental root (reading the stored tries) against a full
//! recomputation over the same post-block state (alloy-trie's `HashBuilder` fed from memory,
//! storage roots on all cores), and checks both give the same root. Also prints the start-up
//! time of the 1,000,000-account datadir and the stored size of each table.
//!
//! `cargo bench -p sequencer --bench state_root`

#![allow(missing_docs)] // criterion_group! generates undocumented functions
#![allow(clippy::disallowed_macros)] // it prints its measurements

use std::{
    collections::BTreeMap,
    sync::atomic::AtomicBool,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, HashBuilder, KECCAK_EMPTY, Nibbles, TrieAccount};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::index::sample};
use rayon::prelude::*;
use sequencer::{
    genesis::{Genesis, GenesisAccount},
    state::{AccountDiff, AccountInfo, StateDiff},
    store::{GenesisBlock, Store, StoreConfig},
};

/// The allocator the node runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNTS: u64 = 1_000_000;
const WITH_STORAGE: u64 = 100_000;
const SLOTS: u64 = 10;
const TOUCHED_ACCOUNTS: usize = 10_000;
const TOUCHED_SLOTS: usize = 20_000;

fn address(i: u64) -> Address {
    Address::from_slice(&keccak256(i.to_be_bytes())[12..])
}

/// The in-memory model of the state: (info, storage) by address.
type Model = BTreeMap<Address, (AccountInfo, BTreeMap<U256, U256>)>;

fn genesis() -> (Genesis, Model) {
    let mut genesis = Genesis::dev();
    genesis.alloc.clear();
    let mut model = Model::new();
    let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x00]);
    for i in 0..ACCOUNTS {
        let mut account =
            GenesisAccount { balance: U256::from(i + 1), nonce: i % 7, ..Default::default() };
        if i < WITH_STORAGE {
            account.code = code.clone();
            account.storage =
                (0..SLOTS).map(|s| (U256::from(s), U256::from(i * SLOTS + s + 1))).collect();
        }
        let code_hash =
            if account.code.is_empty() { KECCAK_EMPTY } else { keccak256(&account.code) };
        let info = AccountInfo { nonce: account.nonce, balance: account.balance, code_hash };
        model.insert(address(i), (info, account.storage.clone()));
        genesis.alloc.insert(address(i), account);
    }
    (genesis, model)
}

/// A block touching 10,000 accounts: half of them contracts with 4 slots written each.
fn block_diff(model: &Model) -> StateDiff {
    let mut rng = StdRng::seed_from_u64(11);
    let mut diff = StateDiff::default();
    let contracts = sample(&mut rng, WITH_STORAGE as usize, TOUCHED_ACCOUNTS / 2);
    let plain = sample(&mut rng, (ACCOUNTS - WITH_STORAGE) as usize, TOUCHED_ACCOUNTS / 2);
    let per_contract = TOUCHED_SLOTS / (TOUCHED_ACCOUNTS / 2);
    for i in contracts.iter() {
        let address = address(i as u64);
        let mut info = model[&address].0;
        info.balance += U256::from(1);
        let storage = (0..per_contract)
            .map(|_| {
                (
                    U256::from(rng.random_range(0..SLOTS * 2)),
                    U256::from(rng.random_range(0..1_000u64)),
                )
            })
            .collect();
        diff.accounts
            .insert(address, AccountDiff { info: Some(info), storage_cleared: false, storage });
    }
    for i in plain.iter() {
        let address = address(WITH_STORAGE + i as u64);
        let mut info = model[&address].0;
        info.nonce += 1;
        info.balance -= U256::from(1);
        diff.accounts.insert(address, AccountDiff { info: Some(info), ..Default::default() });
    }
    diff
}

/// The state root of `model` from scratch: storage roots on all cores, then the account trie.
fn full_root(model: &Model) -> B256 {
    let mut accounts: Vec<(B256, Vec<u8>)> = model
        .par_iter()
        .map(|(address, (info, storage))| {
            let root = if storage.is_empty() {
                EMPTY_ROOT_HASH
            } else {
                let mut leaves: Vec<(B256, Vec<u8>)> = storage
                    .iter()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(k, v)| (keccak256(k.to_be_bytes::<32>()), alloy_rlp::encode(v)))
                    .collect();
                leaves.sort_unstable_by_key(|leaf| leaf.0);
                let mut builder = HashBuilder::default();
                for (key, value) in &leaves {
                    builder.add_leaf(Nibbles::unpack(key), value);
                }
                builder.root()
            };
            let account = TrieAccount::new(info.nonce, info.balance, root, info.code_hash);
            (keccak256(address), alloy_rlp::encode(account))
        })
        .collect();
    accounts.par_sort_unstable_by_key(|leaf| leaf.0);
    let mut builder = HashBuilder::default();
    for (key, value) in &accounts {
        builder.add_leaf(Nibbles::unpack(key), value);
    }
    builder.root()
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn state_root(c: &mut Criterion) {
    let started = Instant::now();
    let (genesis, mut model) = genesis();
    let block = GenesisBlock::new(&genesis).unwrap();
    drop(genesis);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &block, StoreConfig::default()).unwrap();
    eprintln!(
        "setup: {ACCOUNTS} accounts written in {:.1?}; RSS {:.0} MiB",
        started.elapsed(),
        rss_mib()
    );
    for (table, bytes) in store.table_sizes().unwrap() {
        eprintln!("  table {table}: {:.1} MiB", bytes as f64 / (1 << 20) as f64);
    }
    drop(store);
    let uncached = StoreConfig { trie_cache_bytes: 0, ..StoreConfig::default() };
    let reopened = Instant::now();
    let store = Store::open(dir.path(), &block, uncached).unwrap();
    eprintln!(
        "start-up of the 1,000,000-account datadir: {:.1?} (head {})",
        reopened.elapsed(),
        store.head_number()
    );

    let diff = block_diff(&model);
    let view = store.latest().unwrap();
    let incremental = store.prepare(&view, &diff).unwrap().state_root;
    let rss_before = rss_mib();
    for (address, change) in &diff.accounts {
        let entry = model.get_mut(address).expect("existing account");
        entry.0 = change.info.expect("kept");
        for (slot, value) in &change.storage {
            if value.is_zero() {
                entry.1.remove(slot);
            } else {
                entry.1.insert(*slot, *value);
            }
        }
    }
    assert_eq!(full_root(&model), incremental, "incremental and full roots differ");
    eprintln!("touched keys: {}; RSS {rss_before:.0} MiB", diff.touched_keys());

    let mut group = c.benchmark_group("state_root_1m_accounts");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("incremental_uncached", |b| {
        b.iter(|| store.prepare(&view, &diff).unwrap().state_root)
    });
    drop((view, store));

    // The node's configuration: the trie cache, loaded at start-up as the node does (it does
    // so in the background), so the timed blocks find what any block would find, not only
    // the paths an earlier iteration of the same block left behind.
    let store = Store::open(dir.path(), &block, StoreConfig::default()).unwrap();
    drop(block);
    let loading = Instant::now();
    let loaded = store.warm_trie_cache(&AtomicBool::new(false)).unwrap();
    eprintln!(
        "trie cache loaded: {} records, {:.0} MiB, in {:.1?}; RSS {:.0} MiB",
        loaded.records,
        loaded.bytes as f64 / (1 << 20) as f64,
        loading.elapsed(),
        rss_mib()
    );
    let view = store.latest().unwrap();
    assert_eq!(store.prepare(&view, &diff).unwrap().state_root, incremental);
    group.bench_function("incremental", |b| {
        b.iter(|| store.prepare(&view, &diff).unwrap().state_root)
    });
    let served = store.trie_cache_stats();
    eprintln!(
        "trie cache after the timed blocks: {} records, {} hits, {} misses",
        served.records, served.hits, served.misses
    );
    group.bench_function("full_recomputation", |b| b.iter(|| full_root(&model)));
    group.finish();
}

criterion_group!(benches, state_root);
criterion_main!(benches);
