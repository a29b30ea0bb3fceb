//! The parallel executor always gives the sequential answer: random blocks (seeded property
//! test) and one hand-written block per tricky case, compared field by field, with equal
//! post-state roots.

use std::{collections::BTreeMap, sync::Arc};

use alloy::{
    consensus::{Transaction as _, TxEip1559},
    eips::eip2930::{AccessList, AccessListItem},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use proptest::prelude::*;
use rayon::prelude::*;
use sequencer::{
    contracts::{Counter, Factory, PAIR_BALANCE_SLOTS, Pair, Probe, TestToken, mapping_slot},
    executor::{
        BlockEnv, BlockExecutor, Chain, CodeCache, ExecStats, ExecTx, Inference, ParallelConfig,
        ParallelExecutor, SequentialExecutor, infer, infer_batch, infer_chains,
    },
    genesis::{Genesis, GenesisAccount},
    state::{MemoryState, StateReader},
    store::{GenesisBlock, Store, StoreConfig},
    test_utils::{
        sign_recovered, storage_contract_init,
        workload::{
            self, AccessLists, BENEFICIARY, CHAIN_ID, COUNTER, TOKEN, WorkloadConfig, account_key,
            memory_state, pool_address,
        },
    },
};

const SENDERS: usize = 10;
const PROBE: Address = Address::new([0x9b; 20]);
const FACTORY: Address = Address::new([0xfa; 20]);
const POOLS: u64 = 2;

/// The state every random block starts from: funded senders holding tokens and pool
/// balances, the counter, two pools, the probe and the factory.
fn genesis() -> (Genesis, Vec<PrivateKeySigner>) {
    let mut genesis = workload::erc20_transfers(WorkloadConfig {
        txs: SENDERS,
        accounts: SENDERS + 5,
        ..Default::default()
    })
    .genesis;
    let signers: Vec<_> = (0..SENDERS as u64).map(account_key).collect();
    let reserve = U256::from(10u64).pow(U256::from(24));
    for pool in 0..POOLS {
        let mut storage = BTreeMap::from([(U256::ZERO, reserve | (reserve << 112))]);
        for signer in &signers {
            let funds = U256::from(10u64).pow(U256::from(20));
            storage.insert(mapping_slot(signer.address(), PAIR_BALANCE_SLOTS.0), funds);
            storage.insert(mapping_slot(signer.address(), PAIR_BALANCE_SLOTS.1), funds);
        }
        let code = Pair::DEPLOYED_BYTECODE.clone();
        genesis.alloc.insert(
            pool_address(pool),
            GenesisAccount { nonce: 1, code, storage, ..Default::default() },
        );
    }
    for (address, code) in
        [(PROBE, Probe::DEPLOYED_BYTECODE.clone()), (FACTORY, Factory::DEPLOYED_BYTECODE.clone())]
    {
        genesis.alloc.insert(address, GenesisAccount { nonce: 1, code, ..Default::default() });
    }
    // An existing but empty account, to be the beneficiary in some blocks (EIP-161 deletion).
    genesis.alloc.insert(Address::new([0xee; 20]), GenesisAccount::default());
    (genesis, signers)
}

/// How a transaction declares its accesses.
#[derive(Debug, Clone, Copy)]
enum Lists {
    None,
    Correct,
    Partial,
    Wrong,
    /// No list, but the txpool's pre-execution as a hint (possibly stale within the block).
    Hint,
    /// No list, but the hint admission gives a sender's run of calls: each pre-executed on
    /// top of the sender's earlier ones in the block, in two batches (the second chained onto
    /// the first's results), cut at nonce gaps and replacements.
    Chained,
}

/// One random transaction.
#[derive(Debug, Clone)]
struct Spec {
    sender: usize,
    /// Added to the sender's expected nonce: 0 normally, 1 leaves a gap, a wrap reuses one.
    nonce_skew: u8,
    kind: u8,
    arg: u64,
    value: u64,
    lists: Lists,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..SENDERS,
        prop::sample::select(vec![0u8, 0, 0, 0, 0, 0, 0, 0, 1, 255]),
        0u8..16,
        any::<u64>(),
        prop::sample::select(vec![0u64, 0, 1, 1_000_000_000, u64::MAX]),
        prop::sample::select(vec![
            Lists::None,
            Lists::Correct,
            Lists::Partial,
            Lists::Wrong,
            Lists::Hint,
            Lists::Chained,
        ]),
    )
        .prop_map(|(sender, nonce_skew, kind, arg, value, lists)| Spec {
            sender,
            nonce_skew,
            kind,
            arg,
            value,
            lists,
        })
}

/// Builds the call (target, input, gas, value) of a spec.
fn call_of(
    spec: &Spec,
    signers: &[PrivateKeySigner],
    beneficiary: Address,
) -> (TxKind, Bytes, u64, U256) {
    let other =
        signers[(spec.sender + 1 + (spec.arg as usize % (SENDERS - 1))) % SENDERS].address();
    let small = U256::from(spec.arg % 1000);
    let value = U256::from(spec.value);
    match spec.kind {
        0 => (TxKind::Call(other), Bytes::new(), 21_000, value),
        1 => (TxKind::Call(beneficiary), Bytes::new(), 21_000, value),
        2 => (
            TxKind::Call(Address::with_last_byte((spec.arg % 5) as u8 + 1)),
            Bytes::new(),
            30_000,
            value,
        ),
        3 => {
            let amount = if spec.arg.is_multiple_of(5) { U256::MAX } else { small };
            (
                TxKind::Call(TOKEN),
                TestToken::transferCall { to: other, amount }.abi_encode().into(),
                80_000,
                U256::ZERO,
            )
        }
        4 => (
            TxKind::Call(COUNTER),
            Counter::incrementCall {}.abi_encode().into(),
            80_000,
            U256::ZERO,
        ),
        5 => {
            let amount = if spec.arg.is_multiple_of(7) {
                U256::from(10u64).pow(U256::from(30))
            } else {
                small + U256::from(1)
            };
            let input = Pair::swapCall {
                amountIn: amount,
                zeroForOne: spec.arg.is_multiple_of(2),
                minOut: U256::ZERO,
            }
            .abi_encode();
            (TxKind::Call(pool_address(spec.arg % POOLS)), input.into(), 200_000, U256::ZERO)
        }
        6 => (
            TxKind::Call(FACTORY),
            Factory::createCall { value: U256::from(spec.arg % 3) }.abi_encode().into(),
            400_000,
            value.min(U256::from(1000)),
        ),
        7 => {
            let salt = B256::with_last_byte((spec.arg % 3) as u8);
            let input = Factory::create2Call { salt, value: U256::from(spec.arg % 2) }.abi_encode();
            (TxKind::Call(FACTORY), input.into(), 400_000, U256::ZERO)
        }
        8 => {
            let to = if spec.arg.is_multiple_of(2) { beneficiary } else { other };
            let input = Factory::createAndDestroyCall { value: U256::from(1), to }.abi_encode();
            (TxKind::Call(FACTORY), input.into(), 400_000, value.min(U256::from(5000)))
        }
        9 => (
            TxKind::Call(PROBE),
            Probe::readCoinbaseCall {}.abi_encode().into(),
            80_000,
            U256::ZERO,
        ),
        10 => (
            TxKind::Call(PROBE),
            Probe::payCoinbaseCall {}.abi_encode().into(),
            80_000,
            value.min(U256::from(10u64.pow(15))),
        ),
        11 => {
            let data: Bytes = spec.arg.to_be_bytes().repeat(1 + (spec.arg % 5) as usize).into();
            (
                TxKind::Call(PROBE),
                Probe::precompilesCall { data }.abi_encode().into(),
                200_000,
                U256::ZERO,
            )
        }
        12 => {
            // Enough rounds to run out of gas sometimes.
            let rounds = U256::from(spec.arg % 400);
            (
                TxKind::Call(PROBE),
                Probe::burnCall { rounds }.abi_encode().into(),
                60_000,
                U256::ZERO,
            )
        }
        13 => (
            TxKind::Call(PROBE),
            Probe::failCall { why: "no".into() }.abi_encode().into(),
            50_000,
            U256::ZERO,
        ),
        14 => {
            let input = Probe::writeCall {
                key: U256::from(spec.arg % 4 + 10),
                value: U256::from(spec.arg),
            }
            .abi_encode();
            (TxKind::Call(PROBE), input.into(), 60_000, U256::ZERO)
        }
        _ => {
            // A direct creation: a working contract, or init code that reverts.
            let init = if spec.arg.is_multiple_of(2) {
                storage_contract_init()
            } else {
                Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd])
            };
            (TxKind::Create, init, 200_000, U256::ZERO)
        }
    }
}

/// Signs the specs into a block, tracking each sender's nonce, with the access lists asked for.
fn build_block(
    specs: &[Spec],
    signers: &[PrivateKeySigner],
    nonces: &mut [u64],
    state: &dyn StateReader,
    env: &BlockEnv,
) -> Vec<ExecTx> {
    let codes = Arc::new(CodeCache::default());
    let mut txs: Vec<ExecTx> = specs
        .iter()
        .map(|spec| {
            let (to, input, gas, value) = call_of(spec, signers, env.beneficiary);
            let nonce = nonces[spec.sender].wrapping_add(u64::from(spec.nonce_skew))
                % (nonces[spec.sender] + 2);
            nonces[spec.sender] = nonces[spec.sender].max(nonce + 1);
            let mut tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce,
                gas_limit: gas,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1 + spec.arg as u128 % 50_000_000,
                to,
                value,
                access_list: AccessList::default(),
                input,
            };
            let signer = &signers[spec.sender];
            let unsigned = ExecTx::from(sign_recovered(signer, tx.clone()));
            let inferred = infer(state, &codes, env, &unsigned.tx);
            match spec.lists {
                Lists::None | Lists::Chained => unsigned,
                Lists::Hint => ExecTx { hint: inferred.map(Arc::new), ..unsigned },
                Lists::Correct | Lists::Partial | Lists::Wrong => {
                    tx.access_list = match (spec.lists, &tx.to) {
                        (Lists::Wrong, TxKind::Call(to)) => AccessList(vec![AccessListItem {
                            address: *to,
                            storage_keys: vec![B256::repeat_byte(spec.arg as u8)],
                        }]),
                        _ => {
                            let mut list = declared(&unsigned, state, env);
                            if matches!(spec.lists, Lists::Partial) {
                                list.0.truncate(list.0.len() / 2);
                            }
                            list
                        }
                    };
                    ExecTx::from(sign_recovered(signer, tx))
                }
            }
        })
        .collect();
    chain_hints(&mut txs, specs, state, &codes, env);
    txs
}

/// Gives the `Lists::Chained` transactions of each sender the hints admission would: runs of
/// consecutive nonces (in block order) pre-executed as chains, the first half of each run in
/// one batch and the rest in a later one that starts from the first half's results.
fn chain_hints(
    txs: &mut [ExecTx],
    specs: &[Spec],
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
) {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut open: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        if !matches!(spec.lists, Lists::Chained) {
            continue;
        }
        let follows = open.get(&spec.sender).is_some_and(|&run| {
            let last = *runs[run].last().expect("runs are never empty");
            txs[i].tx.nonce() == txs[last].tx.nonce() + 1
        });
        if follows {
            runs[open[&spec.sender]].push(i);
        } else {
            open.insert(spec.sender, runs.len());
            runs.push(vec![i]);
        }
    }
    let halves: Vec<(&[usize], &[usize])> =
        runs.iter().map(|run| run.split_at(run.len().div_ceil(2))).collect();
    let first_batch: Vec<Chain<'_>> = halves
        .iter()
        .map(|(first, _)| Chain {
            before: Vec::new(),
            txs: first.iter().map(|&i| &txs[i].tx).collect(),
        })
        .collect();
    let first = infer_chains(state, codes, env, &first_batch);
    let second_batch: Vec<Chain<'_>> = halves
        .iter()
        .zip(&first)
        .map(|((_, second), before)| {
            // As admission does: start from the earlier results only if all of them chain on.
            let before = before
                .iter()
                .map(|hint| hint.clone().filter(|hint| hint.chains_onto(env)))
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default();
            Chain { before, txs: second.iter().map(|&i| &txs[i].tx).collect() }
        })
        .collect();
    let second = infer_chains(state, codes, env, &second_batch);
    let hints: Vec<(usize, Option<Arc<Inference>>)> = halves
        .iter()
        .zip(first.into_iter().zip(second))
        .flat_map(|((a, b), (ha, hb))| {
            a.iter().chain(b.iter()).copied().zip(ha.into_iter().chain(hb))
        })
        .collect();
    for (i, hint) in hints {
        txs[i].hint = hint;
    }
}

/// The access list `eth_createAccessList` would give for the transaction.
fn declared(tx: &ExecTx, state: &dyn StateReader, env: &BlockEnv) -> AccessList {
    let request = alloy::rpc::types::TransactionRequest::from_transaction_with_sender(
        tx.tx.inner().clone(),
        tx.tx.signer(),
    );
    sequencer::executor::create_access_list(
        state,
        &Arc::new(CodeCache::default()),
        env,
        &request,
        30_000_000,
    )
    .map(|(list, _, _)| list)
    .unwrap_or_default()
}

/// Runs both executors (the parallel one as configured for production, forced to run in
/// parallel, and dealing transactions round-robin as if every access set were wrong) on a
/// 4-thread pool and checks equal outputs and post-state roots. Returns the production stats.
fn assert_equivalent(
    genesis: &Genesis,
    state: &MemoryState,
    env: &BlockEnv,
    txs: &[ExecTx],
) -> ExecStats {
    let round_robin = ParallelConfig { ignore_access_sets: true, ..ParallelConfig::always() };
    let mut stats = None;
    for config in [ParallelConfig::default(), ParallelConfig::always(), round_robin] {
        let (_, s) = assert_equivalent_with(config, genesis, state, env, txs);
        stats.get_or_insert(s);
    }
    stats.expect("three runs")
}

fn assert_equivalent_with(
    config: ParallelConfig,
    genesis: &Genesis,
    state: &MemoryState,
    env: &BlockEnv,
    txs: &[ExecTx],
) -> (ParallelConfig, ExecStats) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let (seq, _) = SequentialExecutor::default().execute(state, env, txs).unwrap();
    let (par, stats) =
        pool.install(|| ParallelExecutor::with_config(config).execute(state, env, txs).unwrap());
    assert_eq!(par.included, seq.included, "included");
    assert_eq!(par.skipped, seq.skipped, "skipped");
    assert_eq!(par.results, seq.results, "results");
    assert_eq!(par.receipts, seq.receipts, "receipts");
    assert_eq!(par.gas_used, seq.gas_used, "gas used");
    assert_eq!(par.diff, seq.diff, "state diff");
    let store =
        Store::in_memory(&GenesisBlock::new(genesis).unwrap(), StoreConfig::default()).unwrap();
    let view = store.latest().unwrap();
    let seq_root = store.prepare(&view, &seq.diff).unwrap().state_root;
    let par_root = store.prepare(&view, &par.diff).unwrap().state_root;
    assert_eq!(par_root, seq_root, "post-state root");
    (config, stats)
}

/// Executes `blocks` in a row (each on the state the previous left) and checks each.
fn check_blocks(blocks: &[Vec<Spec>], beneficiary: Address, gas_limit: u64) {
    let (genesis, signers) = genesis();
    check_blocks_from(&genesis, &signers, blocks, beneficiary, gas_limit);
}

/// [`check_blocks`] from a given genesis.
fn check_blocks_from(
    genesis: &Genesis,
    signers: &[PrivateKeySigner],
    blocks: &[Vec<Spec>],
    beneficiary: Address,
    gas_limit: u64,
) {
    let mut state = memory_state(genesis);
    let mut env = workload::block_env(genesis);
    env.beneficiary = beneficiary;
    env.gas_limit = gas_limit;
    let mut nonces = vec![0u64; SENDERS];
    for specs in blocks {
        let txs = build_block(specs, signers, &mut nonces, &state, &env);
        assert_equivalent(genesis, &state, &env, &txs);
        let (seq, _) = SequentialExecutor::default().execute(&state, &env, &txs).unwrap();
        state.apply(&seq.diff);
        for (sender, nonce) in nonces.iter_mut().enumerate() {
            *nonce = state.account(signers[sender].address()).unwrap().map_or(0, |a| a.nonce);
        }
        env.number += 1;
        env.timestamp += 1;
    }
}

proptest! {
    #![proptest_config(crate::proptest_config(48, 0x5eed))]

    #[test]
    fn parallel_matches_sequential_on_random_blocks(
        blocks in prop::collection::vec(prop::collection::vec(spec(), 8..48), 1..3),
        beneficiary in prop::sample::select(vec![BENEFICIARY, Address::new([0xee; 20]), account_key(0).address()]),
        gas_limit in prop::sample::select(vec![30_000_000u64, 30_000_000, 600_000]),
    ) {
        check_blocks(&blocks, beneficiary, gas_limit);
    }
}

fn specs(kind: u8, n: usize, lists: Lists) -> Vec<Spec> {
    (0..n)
        .map(|i| Spec {
            sender: i % SENDERS,
            nonce_skew: 0,
            kind,
            arg: i as u64 * 7919,
            value: 1,
            lists,
        })
        .collect()
}

#[test]
fn parallel_matches_sequential_on_independent_transfers() {
    // 400 transfers (8.4 Mgas): enough work for the executor to go parallel.
    let work =
        workload::eth_transfers(WorkloadConfig { txs: 400, accounts: 1_000, ..Default::default() });
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert!(stats.groups > 200 && !stats.sequential_fallback, "{stats:?}");
}

#[test]
fn parallel_matches_sequential_on_erc20_transfers_between_distinct_pairs() {
    let work = workload::erc20_transfers(WorkloadConfig {
        txs: 200,
        accounts: 1_000,
        ..Default::default()
    });
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert!(stats.groups > 100 && stats.reexecuted == 0, "{stats:?}");
}

#[test]
fn parallel_matches_sequential_on_a_contended_counter() {
    let work =
        workload::hot_counter(WorkloadConfig { txs: 100, accounts: 500, ..Default::default() });
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert!(stats.sequential_fallback, "one group holds everything: {stats:?}");
}

/// `txs` transactions, a fifth of them calls to one hot counter, under wrong access lists
/// that scatter those calls over every group.
fn misplaced_counter_calls(txs: usize, accounts: usize) -> workload::Workload {
    let config =
        WorkloadConfig { txs, accounts, access_lists: AccessLists::Wrong, ..Default::default() };
    workload::mixed(config, 20)
}

#[test]
fn parallel_matches_sequential_when_access_lists_are_wrong() {
    let work = misplaced_counter_calls(200, 1_000);
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert!(stats.reexecuted > 0, "misplaced counter calls are repaired: {stats:?}");
    // Conflicts count the groups that collided (the first of them in block order read
    // nothing stale, and is not run again).
    assert!(stats.conflicts > 0, "{stats:?}");
}

#[test]
fn parallel_defers_calls_to_a_contract_that_keeps_colliding() {
    // 1,000 transactions, 200 of them calls to one counter behind wrong access lists: once
    // its calls have collided a few times, the chunks leave the rest to the settling pass,
    // which runs each of them once.
    let work = misplaced_counter_calls(1_000, 2_000);
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert!(!stats.sequential_fallback, "{stats:?}");
    assert!(stats.deferred > 100, "most counter calls wait for the settling pass: {stats:?}");
    assert!(stats.deferred + stats.reexecuted <= 200, "each call runs at most twice: {stats:?}");
    // Without deferral every misplaced call but the first runs twice.
    let never = ParallelConfig { defer_after_collisions: 0, ..ParallelConfig::default() };
    let (_, plain) =
        assert_equivalent_with(never, &work.genesis, &work.state(), &work.env, &work.txs);
    assert_eq!(plain.deferred, 0, "{plain:?}");
    assert!(plain.reexecuted > stats.reexecuted, "{plain:?} vs {stats:?}");
}

#[test]
fn parallel_matches_sequential_with_missing_access_lists() {
    let config = WorkloadConfig {
        txs: 200,
        accounts: 1_000,
        access_lists: AccessLists::None,
        ..Default::default()
    };
    let work = workload::erc20_transfers(config);
    assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
}

#[test]
fn parallel_matches_sequential_on_amm_swaps() {
    let work = workload::amm_swaps(
        WorkloadConfig { txs: 100, accounts: 1_000, ..Default::default() },
        100,
    );
    let stats = assert_equivalent(&work.genesis, &work.state(), &work.env, &work.txs);
    assert_eq!(stats.reexecuted, 0, "{stats:?}");
}

#[test]
fn parallel_matches_sequential_when_txs_read_the_beneficiary() {
    let mut block = specs(0, 20, Lists::Correct);
    block.extend(specs(9, 10, Lists::Correct));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_txs_pay_the_beneficiary() {
    let mut block = specs(1, 10, Lists::None);
    block.extend(specs(10, 10, Lists::Hint));
    block.extend(specs(0, 10, Lists::Correct));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_the_beneficiary_sends_transactions() {
    let mut block = specs(0, 20, Lists::Correct);
    block.extend(specs(3, 10, Lists::None));
    check_blocks(&[block], account_key(0).address(), 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_fees_overflow_the_beneficiary_balance() {
    // A beneficiary so rich that the block's fees overflow its balance part way through: a
    // credit that would overflow is dropped, transaction by transaction, as revm drops it.
    let (mut genesis, signers) = genesis();
    let rich = Address::new([0xbe; 20]);
    let headroom = U256::from(15_000_000_000u64);
    genesis
        .alloc
        .insert(rich, GenesisAccount { balance: U256::MAX - headroom, ..Default::default() });
    check_blocks_from(&genesis, &signers, &[specs(0, 20, Lists::Correct)], rich, 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_an_empty_beneficiary_is_touched() {
    check_blocks(&[specs(13, 12, Lists::None)], Address::new([0xee; 20]), 30_000_000);
}

#[test]
fn parallel_matches_sequential_on_create_and_create2_collisions() {
    let mut block = specs(6, 12, Lists::None);
    block.extend(specs(7, 12, Lists::Hint));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_a_repaired_write_restores_a_slot() {
    // Two groups write the probe's slot 10 (to 8, then back to its pre-block 0) beside
    // independent transfers: repair must leave the probe out of the diff, as sequential does.
    let write =
        |sender, arg| Spec { sender, nonce_skew: 0, kind: 14, arg, value: 0, lists: Lists::None };
    let mut block = vec![write(0, 8)];
    block.extend(specs(0, 6, Lists::Correct).into_iter().skip(2));
    block.push(write(1, 0));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_on_reverting_creations() {
    let block: Vec<_> = (0..16)
        .map(|i| Spec {
            sender: i % SENDERS,
            nonce_skew: 0,
            kind: 15,
            arg: 2 * i as u64 + 1,
            value: 0,
            lists: Lists::None,
        })
        .collect();
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_on_selfdestruct_in_the_creating_transaction() {
    check_blocks(&[specs(8, 16, Lists::Hint)], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_when_the_block_gas_limit_binds() {
    let block = specs(5, 30, Lists::Correct);
    check_blocks(&[block], BENEFICIARY, 700_000);
}

#[test]
fn parallel_matches_sequential_with_many_transactions_from_one_sender_and_nonce_gaps() {
    let mut block: Vec<_> = (0..30)
        .map(|i| Spec { sender: 0, nonce_skew: 0, kind: 4, arg: i, value: 1, lists: Lists::Hint })
        .collect();
    block[10].nonce_skew = 1; // a gap: the rest of the sender's transactions are not executable
    block.extend(specs(0, 10, Lists::None));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_matches_sequential_on_precompiles_out_of_gas_and_reverts() {
    let mut block = specs(11, 10, Lists::Hint);
    block.extend(specs(12, 10, Lists::None));
    block.extend(specs(13, 10, Lists::Correct));
    check_blocks(&[block], BENEFICIARY, 30_000_000);
}

#[test]
fn parallel_repairs_stale_inference() {
    // Hints computed against the genesis state, executed after a block that changed the
    // counter and the senders: every recorded read is stale, so nothing may be reused as is.
    let (genesis, signers) = genesis();
    let before = memory_state(&genesis);
    let env = workload::block_env(&genesis);
    let mut nonces = vec![0u64; SENDERS];
    let first = build_block(&specs(4, 10, Lists::None), &signers, &mut nonces, &before, &env);
    let (executed, _) = SequentialExecutor::default().execute(&before, &env, &first).unwrap();
    let mut after = before.clone();
    after.apply(&executed.diff);
    let mut next = specs(4, 10, Lists::Hint);
    next.extend(specs(3, 10, Lists::Hint));
    let mut stale_nonces = nonces.clone();
    let stale = build_block(&next, &signers, &mut stale_nonces, &before, &env);
    assert!(stale.iter().any(|t| t.hint.is_some()));
    assert_equivalent(&genesis, &after, &env, &stale);
}

#[test]
fn chained_pre_executions_of_a_senders_transactions_are_all_reused() {
    // Eight token transfers per sender. Pre-executed each against the pre-block state, only a
    // sender's first one saw its own nonce; pre-executed one after another, each on top of the
    // changes of the sender's earlier ones (in two steps: the second half starts from the
    // first half's results, as admission does for a sender's pooled transactions), every
    // result is the one the block computes, and the block reuses them all.
    const PER_SENDER: u64 = 8;
    let (genesis, signers) = genesis();
    let state = memory_state(&genesis);
    let env = workload::block_env(&genesis);
    // Each sender pays its own recipient: the senders' transactions are independent.
    let block: Vec<ExecTx> = signers
        .iter()
        .enumerate()
        .flat_map(|(sender, signer)| {
            (0..PER_SENDER).map(move |nonce| {
                let to = Address::repeat_byte(0x40 + sender as u8);
                let amount = U256::from(nonce + 1);
                let tx = TxEip1559 {
                    chain_id: CHAIN_ID,
                    nonce,
                    gas_limit: 80_000,
                    max_fee_per_gas: 3_000_000_000,
                    max_priority_fee_per_gas: 1,
                    to: TxKind::Call(TOKEN),
                    value: U256::ZERO,
                    access_list: AccessList::default(),
                    input: TestToken::transferCall { to, amount }.abi_encode().into(),
                };
                ExecTx::from(sign_recovered(signer, tx))
            })
        })
        .collect();
    let codes = Arc::new(CodeCache::default());
    let config = ParallelConfig::always();

    let alone = infer_batch(&state, &codes, &env, block.par_iter().map(|t| &t.tx));
    let hinted: Vec<ExecTx> = block
        .iter()
        .zip(alone)
        .map(|(tx, hint)| ExecTx { hint: hint.map(Arc::new), ..tx.clone() })
        .collect();
    let (_, stats) = assert_equivalent_with(config, &genesis, &state, &env, &hinted);
    assert_eq!(stats.reused, SENDERS, "{stats:?}");

    let half = PER_SENDER as usize / 2;
    let senders: Vec<&[ExecTx]> = block.chunks(PER_SENDER as usize).collect();
    let first_halves: Vec<Chain<'_>> = senders
        .iter()
        .map(|txs| Chain { before: Vec::new(), txs: txs[..half].iter().map(|t| &t.tx).collect() })
        .collect();
    let first = infer_chains(&state, &codes, &env, &first_halves);
    let second_halves: Vec<Chain<'_>> = senders
        .iter()
        .zip(&first)
        .map(|(txs, before)| Chain {
            before: before.iter().map(|h| h.clone().expect("executable")).collect(),
            txs: txs[half..].iter().map(|t| &t.tx).collect(),
        })
        .collect();
    let second = infer_chains(&state, &codes, &env, &second_halves);
    let hints = first.into_iter().zip(second).flat_map(|(a, b)| a.into_iter().chain(b));
    let chained: Vec<ExecTx> =
        block.iter().zip(hints).map(|(tx, hint)| ExecTx { hint, ..tx.clone() }).collect();
    let (_, stats) = assert_equivalent_with(config, &genesis, &state, &env, &chained);
    assert_eq!(stats.reused, block.len(), "{stats:?}");
}

#[test]
fn parallel_reports_the_gas_limit_before_a_nonce_gap_like_sequential() {
    // The last transaction is both over the remaining block gas and nonce-gapped: sequential
    // execution checks the gas first.
    let mut block = specs(5, 12, Lists::Correct);
    block.push(Spec { sender: 3, nonce_skew: 1, kind: 5, arg: 1, value: 0, lists: Lists::None });
    check_blocks(&[block], BENEFICIARY, 1_000_000);
}
