//! Seeded workloads over large in-memory states: independent transfers, ERC-20 transfers, a
//! contended counter, a mix, and swaps on many AMM pools. Contracts and balances are placed
//! directly in the genesis allocation (code and storage), so a state of 100,000 accounts costs
//! no setup transactions.

use std::collections::BTreeMap;

use alloy::{
    consensus::TxEip1559,
    eips::eip2930::{AccessList, AccessListItem},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rayon::prelude::*;

use super::sign_recovered;
use crate::{
    chain::Hardfork,
    contracts::{
        COUNTER_BY_CALLER_SLOT, COUNTER_COUNT_SLOT, Counter, PAIR_BALANCE_SLOTS, Pair,
        TOKEN_BALANCES_SLOT, TestToken, mapping_slot,
    },
    executor::{BlockEnv, ExecTx},
    genesis::{Genesis, GenesisAccount},
    state::{AccountInfo, MemoryState},
};

/// Chain id of the workloads.
pub const CHAIN_ID: u64 = 1_337_777;
/// Base fee of the workloads' block.
pub const BASE_FEE: u64 = 1_000_000_000;
/// The ERC-20 of the workloads.
pub const TOKEN: Address = Address::new([0x70; 20]);
/// The contended counter.
pub const COUNTER: Address = Address::new([0xc0; 20]);
/// The beneficiary of the workloads' block.
pub const BENEFICIARY: Address = Address::new([0xbe; 20]);

/// How transactions declare access lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLists {
    /// The exact accounts and slots they touch.
    Correct,
    /// None.
    None,
    /// Deliberately wrong: unrelated slots of the contract they call.
    Wrong,
}

/// What the workload generators take.
#[derive(Debug, Clone, Copy)]
pub struct WorkloadConfig {
    /// Transactions in the block.
    pub txs: usize,
    /// Accounts in the state (senders included).
    pub accounts: usize,
    /// Access lists of the contract calls.
    pub access_lists: AccessLists,
    /// RNG seed.
    pub seed: u64,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self { txs: 10_000, accounts: 100_000, access_lists: AccessLists::Correct, seed: 7 }
    }
}

/// A genesis, the environment of the block after it, and the block's transactions.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The state before the block.
    pub genesis: Genesis,
    /// The block environment.
    pub env: BlockEnv,
    /// The block's transactions, signed.
    pub txs: Vec<ExecTx>,
}

impl Workload {
    /// The pre-block state, in memory.
    pub fn state(&self) -> MemoryState {
        memory_state(&self.genesis)
    }

    /// Total gas limit of the transactions.
    pub fn gas_limit(&self) -> u64 {
        use alloy::consensus::Transaction as _;
        self.txs.iter().map(|t| t.tx.gas_limit()).sum()
    }
}

/// The state of a genesis allocation, in memory.
pub fn memory_state(genesis: &Genesis) -> MemoryState {
    let mut state = MemoryState::default();
    for (address, account) in &genesis.alloc {
        let code_hash = if account.code.is_empty() {
            alloy_trie::KECCAK_EMPTY
        } else {
            let hash = keccak256(&account.code);
            state.codes.insert(hash, account.code.clone());
            hash
        };
        state.accounts.insert(
            *address,
            AccountInfo { nonce: account.nonce, balance: account.balance, code_hash },
        );
        for (slot, value) in &account.storage {
            state.storage.insert((*address, *slot), *value);
        }
    }
    state
}

/// A deterministic test key for account `i`.
pub fn account_key(i: u64) -> PrivateKeySigner {
    let secret = keccak256([b"rollup-workload-account".as_slice(), &i.to_be_bytes()].concat());
    PrivateKeySigner::from_bytes(&secret).expect("a keccak output is a valid key")
}

/// `n` deterministic keys, derived in parallel.
pub fn account_keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n as u64).into_par_iter().map(account_key).collect()
}

/// The address of AMM pool `i`.
pub fn pool_address(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xaa;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::new(bytes)
}

fn one_ether() -> U256 {
    U256::from(10u64).pow(U256::from(18))
}

/// The genesis shared by the workloads: `senders` funded signers plus filler accounts up to
/// `accounts`, the token (every sender holds tokens), the counter, and no pools.
fn base_genesis(senders: &[PrivateKeySigner], accounts: usize, rng: &mut StdRng) -> Genesis {
    let mut genesis = Genesis::dev();
    genesis.chain_id = CHAIN_ID;
    genesis.gas_limit = 30_000_000_000;
    genesis.base_fee_per_gas = BASE_FEE;
    genesis.alloc.clear();
    let mut token_storage = BTreeMap::new();
    for signer in senders {
        let account =
            GenesisAccount { balance: one_ether() * U256::from(100), ..Default::default() };
        genesis.alloc.insert(signer.address(), account);
        token_storage.insert(
            mapping_slot(signer.address(), TOKEN_BALANCES_SLOT),
            one_ether() * U256::from(1000),
        );
    }
    while genesis.alloc.len() < accounts {
        let address = Address::from(rng.random::<[u8; 20]>());
        genesis.alloc.insert(
            address,
            GenesisAccount {
                balance: U256::from(rng.random_range(1..1_000_000u64)),
                ..Default::default()
            },
        );
    }
    token_storage.insert(U256::ZERO, one_ether() * U256::from(1000) * U256::from(senders.len()));
    genesis.alloc.insert(
        TOKEN,
        GenesisAccount {
            nonce: 1,
            code: TestToken::DEPLOYED_BYTECODE.clone(),
            storage: token_storage,
            ..Default::default()
        },
    );
    genesis.alloc.insert(
        COUNTER,
        GenesisAccount { nonce: 1, code: Counter::DEPLOYED_BYTECODE.clone(), ..Default::default() },
    );
    genesis
}

/// The block environment of the block after `genesis`.
pub fn block_env(genesis: &Genesis) -> BlockEnv {
    BlockEnv {
        number: 1,
        timestamp: genesis.timestamp + 1,
        beneficiary: BENEFICIARY,
        gas_limit: genesis.gas_limit,
        base_fee: BASE_FEE,
        prevrandao: B256::repeat_byte(0x11),
        difficulty: U256::ZERO,
        chain_id: CHAIN_ID,
        hardfork: Hardfork::LATEST,
        excess_blob_gas: 0,
    }
}

/// An EIP-1559 call from `signer`.
pub fn call_tx(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    input: Bytes,
    gas_limit: u64,
    access_list: AccessList,
) -> ExecTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2 * u128::from(BASE_FEE),
        max_priority_fee_per_gas: 1_000_000 + u128::from(nonce % 7),
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list,
        input,
    };
    ExecTx::from(sign_recovered(signer, tx))
}

/// An ETH transfer from `signer`.
pub fn transfer_tx(signer: &PrivateKeySigner, nonce: u64, to: Address, value: U256) -> ExecTx {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * u128::from(BASE_FEE),
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(to),
        value,
        ..Default::default()
    };
    ExecTx::from(sign_recovered(signer, tx))
}

fn list(config: &WorkloadConfig, rng: &mut StdRng, address: Address, slots: &[U256]) -> AccessList {
    match config.access_lists {
        AccessLists::None => AccessList::default(),
        AccessLists::Correct => AccessList(vec![AccessListItem {
            address,
            storage_keys: slots.iter().map(|s| B256::from(*s)).collect(),
        }]),
        AccessLists::Wrong => AccessList(vec![AccessListItem {
            address,
            storage_keys: vec![B256::from(rng.random::<[u8; 32]>())],
        }]),
    }
}

/// Fresh recipient addresses (never in the state).
fn recipients(n: usize, rng: &mut StdRng) -> Vec<Address> {
    (0..n).map(|_| Address::from(rng.random::<[u8; 20]>())).collect()
}

/// (1) Independent ETH transfers: distinct senders, fresh recipients.
pub fn eth_transfers(config: WorkloadConfig) -> Workload {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let senders = account_keys(config.txs);
    let genesis = base_genesis(&senders, config.accounts, &mut rng);
    let to = recipients(config.txs, &mut rng);
    let txs = senders
        .par_iter()
        .zip(to)
        .map(|(s, to)| transfer_tx(s, 0, to, U256::from(1_000)))
        .collect();
    Workload { env: block_env(&genesis), genesis, txs }
}

fn token_transfer(
    config: &WorkloadConfig,
    rng: &mut StdRng,
    signer: &PrivateKeySigner,
    to: Address,
) -> (Bytes, AccessList) {
    let input = TestToken::transferCall { to, amount: U256::from(rng.random_range(1..1_000u64)) }
        .abi_encode();
    let slots = [
        mapping_slot(signer.address(), TOKEN_BALANCES_SLOT),
        mapping_slot(to, TOKEN_BALANCES_SLOT),
    ];
    (input.into(), list(config, rng, TOKEN, &slots))
}

/// (2) ERC-20 transfers between distinct pairs (and (5) with `AccessLists::None`).
pub fn erc20_transfers(config: WorkloadConfig) -> Workload {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let senders = account_keys(config.txs);
    let genesis = base_genesis(&senders, config.accounts, &mut rng);
    let calls: Vec<_> = senders
        .iter()
        .zip(recipients(config.txs, &mut rng))
        .map(|(s, to)| token_transfer(&config, &mut rng, s, to))
        .collect();
    let txs = senders
        .par_iter()
        .zip(calls)
        .map(|(s, (input, al))| call_tx(s, 0, TOKEN, input, 60_000, al))
        .collect();
    Workload { env: block_env(&genesis), genesis, txs }
}

fn counter_call(
    config: &WorkloadConfig,
    rng: &mut StdRng,
    signer: &PrivateKeySigner,
) -> (Bytes, AccessList) {
    let slots =
        [U256::from(COUNTER_COUNT_SLOT), mapping_slot(signer.address(), COUNTER_BY_CALLER_SLOT)];
    (Counter::incrementCall {}.abi_encode().into(), list(config, rng, COUNTER, &slots))
}

/// (3) Every transaction increments one shared counter.
pub fn hot_counter(config: WorkloadConfig) -> Workload {
    mixed(config, 100)
}

/// (4) `hot_percent`% counter increments, the rest independent ETH transfers, shuffled.
pub fn mixed(config: WorkloadConfig, hot_percent: u32) -> Workload {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let senders = account_keys(config.txs);
    let genesis = base_genesis(&senders, config.accounts, &mut rng);
    let mut hot: Vec<bool> = (0..config.txs)
        .map(|i| (i as u64 * 100) < u64::from(hot_percent) * config.txs as u64)
        .collect();
    hot.shuffle(&mut rng);
    let to = recipients(config.txs, &mut rng);
    let plans: Vec<Option<(Bytes, AccessList)>> = senders
        .iter()
        .zip(&hot)
        .map(|(s, &hot)| hot.then(|| counter_call(&config, &mut rng, s)))
        .collect();
    let txs = senders
        .par_iter()
        .zip(plans)
        .zip(to)
        .map(|((s, plan), to)| match plan {
            Some((input, al)) => call_tx(s, 0, COUNTER, input, 80_000, al),
            None => transfer_tx(s, 0, to, U256::from(1_000)),
        })
        .collect();
    Workload { env: block_env(&genesis), genesis, txs }
}

/// (7) Swaps on `pools` constant-product pools, each transaction on a pool of its own when
/// `pools >= txs` (independent), with the pools' storage placed in the genesis.
pub fn amm_swaps(config: WorkloadConfig, pools: usize) -> Workload {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let senders = account_keys(config.txs);
    let mut genesis = base_genesis(&senders, config.accounts.saturating_sub(pools), &mut rng);
    let reserve = U256::from(10u64).pow(U256::from(24));
    let packed = reserve | (reserve << 112) | (U256::from(genesis.timestamp) << 224);
    let mut per_pool: Vec<BTreeMap<U256, U256>> =
        (0..pools).map(|_| BTreeMap::from([(U256::ZERO, packed)])).collect();
    let mut plans = Vec::with_capacity(config.txs);
    for (i, signer) in senders.iter().enumerate() {
        let pool = i % pools;
        let (slot0, slot1) = PAIR_BALANCE_SLOTS;
        let funds = one_ether() * U256::from(10);
        per_pool[pool].insert(mapping_slot(signer.address(), slot0), funds);
        per_pool[pool].insert(mapping_slot(signer.address(), slot1), funds);
        let zero_for_one = rng.random::<bool>();
        let amount = one_ether() / U256::from(rng.random_range(2..100u64));
        let input: Bytes =
            Pair::swapCall { amountIn: amount, zeroForOne: zero_for_one, minOut: U256::ZERO }
                .abi_encode()
                .into();
        let own = mapping_slot(signer.address(), if zero_for_one { slot0 } else { slot1 });
        let other = mapping_slot(signer.address(), if zero_for_one { slot1 } else { slot0 });
        let slots = [U256::ZERO, U256::from(1), U256::from(2), U256::from(3), own, other];
        plans.push((
            pool_address(pool as u64),
            input,
            list(&config, &mut rng, pool_address(pool as u64), &slots),
        ));
    }
    for (i, storage) in per_pool.into_iter().enumerate() {
        genesis.alloc.insert(
            pool_address(i as u64),
            GenesisAccount {
                nonce: 1,
                code: Pair::DEPLOYED_BYTECODE.clone(),
                storage,
                ..Default::default()
            },
        );
    }
    let txs = senders
        .par_iter()
        .zip(plans)
        .map(|(s, (pool, input, al))| call_tx(s, 0, pool, input, 200_000, al))
        .collect();
    Workload { env: block_env(&genesis), genesis, txs }
}
