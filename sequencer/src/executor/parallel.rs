//! Parallel block execution by access-set partitioning, always equal to sequential execution.
//!
//! 1. **Partition.** Each transaction's access set ([`access`](super::access)) is unioned over
//!    conflicting keys: transactions sharing a written key land in one group, in block order.
//! 2. **Schedule.** Groups are packed into a few *chunks* per core, largest group (by gas
//!    limit) first onto the least-loaded chunk, so one heavy group does not leave a core idle
//!    at the end and a block of ten thousand one-transaction groups does not pay ten thousand
//!    setups. A chunk runs its transactions in block order on its own overlay (pre-block state
//!    plus its own writes) on rayon.
//! 3. **Execute with recording.** Every state read goes through the overlay, which logs each
//!    key a transaction read with the value it saw (accounts for `BALANCE`, `EXTCODE*`, calls,
//!    `SELFDESTRUCT` targets, `CREATE` collisions and 7702 authorities; slots for `SLOAD` and
//!    `SSTORE`). `BLOCKHASH`, code and precompiles read nothing that changes within a block.
//!    The beneficiary is not paid per transaction (that would make every pair conflict).
//!    A transaction the txpool pre-executed for this very block environment is not run again
//!    if every value it read is unchanged: its recorded result is applied.
//! 4. **Validate.** If no chunk read or wrote a key another chunk wrote, no chunk touched the
//!    beneficiary and no transaction crossed the block gas limit, the chunks' results are
//!    exactly the sequential result: merge them and credit the fees. Otherwise one in-order
//!    pass walks the block on a single overlay: a transaction whose logged reads still see the
//!    same values has its recorded changes applied; any other is executed again right there.
//!    Fees are credited after every transaction, so a transaction that reads the beneficiary
//!    sees exactly what it would sequentially, and the gas-limit rule is applied exactly as
//!    sequential execution applies it. Only transactions that really depended on another
//!    chunk are re-run; the worst case is one extra sequential pass, never a wrong result.
//!
//! This is finer than merging whole conflicting groups and re-running them: a wrong access
//! list costs the re-execution of the transactions it misplaced, not of their groups.
//!
//! When parallelism cannot pay — small blocks, one thread, or one group holding nearly all the
//! gas — the block runs sequentially.

use std::sync::Arc;

use alloy::consensus::Transaction as _;
use alloy_primitives::{U256, map::HashMap};
use rayon::prelude::*;
use revm::{
    Context, MainBuilder, MainContext,
    context::{
        ContextTr,
        result::{EVMError, ExecutionResult},
    },
    state::EvmState,
};

use super::{
    BlockEnv, BlockExecution, BlockExecutor, ExecError, ExecStats, ExecTx, SkipReason, SkippedTx,
    access,
    evm::{self, CodeCache, DbError, StateDb},
    handler::transact_without_reward,
    overlay::{Overlay, ReadLog, StateKey},
    sequential,
};
use crate::{
    chain::Hardfork,
    state::{StateDiff, StateReader},
};

/// When the parallel executor runs a block in parallel, and how it splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Blocks with fewer transactions run sequentially.
    pub min_txs: usize,
    /// A group holding at least this share of the block's gas (percent) makes the block one
    /// chain of dependent transactions: it runs sequentially. Above 100 never falls back.
    pub max_group_share_percent: u64,
    /// Chunks per rayon thread: enough to balance uneven groups, few enough to keep the
    /// per-chunk setup cheap.
    pub chunks_per_thread: usize,
    /// Ignore access sets and deal transactions to chunks round-robin, as if every hint were
    /// wrong: the repair path alone then makes the result right (for tests and benchmarks).
    pub ignore_access_sets: bool,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            min_txs: 8,
            max_group_share_percent: 90,
            chunks_per_thread: 4,
            ignore_access_sets: false,
        }
    }
}

impl ParallelConfig {
    /// Always run in parallel, whatever the block (for tests of the parallel machinery).
    pub const fn always() -> Self {
        Self {
            min_txs: 0,
            max_group_share_percent: 101,
            chunks_per_thread: 4,
            ignore_access_sets: false,
        }
    }
}

/// Executes independent groups of transactions concurrently; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct ParallelExecutor {
    codes: Arc<CodeCache>,
    config: ParallelConfig,
}

impl ParallelExecutor {
    /// An executor sharing `codes` (analysed contract code) with others.
    pub fn with_code_cache(codes: Arc<CodeCache>) -> Self {
        Self { codes, config: ParallelConfig::default() }
    }

    /// An executor with the given thresholds.
    pub fn with_config(config: ParallelConfig) -> Self {
        Self { codes: Arc::default(), config }
    }
}

/// One transaction's optimistic run.
#[derive(Debug)]
struct Run {
    index: usize,
    /// The result, or why the transaction was not executable.
    outcome: Result<ExecutionResult, SkipReason>,
    state: EvmState,
    reads: ReadLog,
}

/// One chunk's runs and its overlay's key sets.
struct ChunkOutput<'a> {
    runs: Vec<Run>,
    overlay: Overlay<'a>,
}

impl BlockExecutor for ParallelExecutor {
    fn name(&self) -> &'static str {
        "parallel"
    }

    fn execute(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[ExecTx],
    ) -> Result<(BlockExecution, ExecStats), ExecError> {
        let config = self.config;
        let threads = rayon::current_num_threads();
        if txs.len() < config.min_txs.max(2) || threads < 2 {
            return sequential_fallback(state, &self.codes, env, txs, 1, txs.len());
        }
        let groups = if config.ignore_access_sets {
            (0..txs.len()).map(|i| vec![i]).collect()
        } else {
            let sets: Vec<_> = txs.par_iter().map(access::access_set).collect();
            access::partition(&sets)
        };
        let weight = |group: &Vec<usize>| group.iter().map(|&i| txs[i].tx.gas_limit()).sum::<u64>();
        let total: u64 = txs.iter().map(|t| t.tx.gas_limit()).sum();
        let largest = groups.iter().map(Vec::len).max().unwrap_or(0);
        let heaviest = groups.iter().map(weight).max().unwrap_or(0);
        let dominated = heaviest * 100 >= total * config.max_group_share_percent;
        if groups.len() < 2 && config.max_group_share_percent <= 100 || dominated {
            return sequential_fallback(state, &self.codes, env, txs, groups.len(), largest);
        }
        let chunks = if config.ignore_access_sets {
            let count = (threads * config.chunks_per_thread).min(txs.len());
            (0..count).map(|c| (c..txs.len()).step_by(count).collect()).collect()
        } else {
            schedule(&groups, weight, threads * config.chunks_per_thread)
        };
        let outputs: Vec<ChunkOutput<'_>> = chunks
            .par_iter()
            .map(|chunk| run_chunk(state, &self.codes, env, txs, chunk))
            .collect::<Result<_, _>>()?;
        let mut stats =
            ExecStats { groups: groups.len(), largest_group: largest, ..Default::default() };
        let mut runs: Vec<Run> = Vec::with_capacity(txs.len());
        let mut overlays = Vec::with_capacity(outputs.len());
        for output in outputs {
            runs.extend(output.runs);
            overlays.push(output.overlay);
        }
        runs.sort_unstable_by_key(|r| r.index);

        let out = if chunks_independent(&overlays, env, &runs, txs) {
            merge_independent(state, &self.codes, env, txs, runs, overlays)?
        } else {
            drop(overlays);
            let (out, reexecuted) = validate_in_order(state, &self.codes, env, txs, runs)?;
            stats.conflicts = reexecuted;
            stats.reexecuted = reexecuted;
            out
        };
        Ok((out, stats))
    }
}

fn sequential_fallback(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    groups: usize,
    largest_group: usize,
) -> Result<(BlockExecution, ExecStats), ExecError> {
    let out = sequential::execute_in_order(state, codes, env, txs)?;
    Ok((out, ExecStats { groups, largest_group, sequential_fallback: true, ..Default::default() }))
}

/// Packs groups into at most `chunks` chunks, heaviest group first onto the lightest chunk;
/// each chunk's transactions in block order.
fn schedule(
    groups: &[Vec<usize>],
    weight: impl Fn(&Vec<usize>) -> u64,
    chunks: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_unstable_by_key(|&g| std::cmp::Reverse(weight(&groups[g])));
    let count = chunks.min(groups.len()).max(1);
    let mut loads = std::collections::BinaryHeap::new();
    for chunk in 0..count {
        loads.push(std::cmp::Reverse((0u64, chunk)));
    }
    let mut out = vec![Vec::new(); count];
    for g in order {
        let std::cmp::Reverse((load, chunk)) = loads.pop().expect("count >= 1");
        out[chunk].extend_from_slice(&groups[g]);
        loads.push(std::cmp::Reverse((load + weight(&groups[g]).max(1), chunk)));
    }
    for chunk in &mut out {
        chunk.sort_unstable();
    }
    out
}

/// Runs one chunk's transactions in order on its own overlay, without fee payments.
fn run_chunk<'a>(
    state: &'a dyn StateReader,
    codes: &'a Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    chunk: &[usize],
) -> Result<ChunkOutput<'a>, ExecError> {
    let mut overlay = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
    let mut runs = Vec::with_capacity(chunk.len());
    {
        let mut vm = Context::mainnet()
            .with_cfg(evm::cfg_env(env))
            .with_block(evm::block_env(env))
            .with_db(&mut overlay)
            .build_mainnet();
        for &index in chunk {
            let tx = &txs[index];
            if let Some(hint) = tx.hint.as_ref().filter(|h| h.reusable && h.env == *env)
                && vm.db_mut().matches(&hint.reads).map_err(|e| ExecError::State(e.0))?
            {
                vm.db_mut().apply_state(&hint.state).map_err(|e| ExecError::State(e.0))?;
                runs.push(Run {
                    index,
                    outcome: Ok(hint.outcome.clone()),
                    state: hint.state.clone(),
                    reads: hint.reads.clone(),
                });
                continue;
            }
            vm.db_mut().start_log();
            let result =
                transact_without_reward::<_, EVMError<DbError>>(&mut vm, evm::tx_env(&tx.tx));
            let reads = vm.db_mut().take_log();
            let run = match result {
                Ok((outcome, state)) => {
                    vm.db_mut().apply_state(&state).map_err(|e| ExecError::State(e.0))?;
                    Run { index, outcome: Ok(outcome), state, reads }
                }
                Err(EVMError::Transaction(invalid)) => Run {
                    index,
                    outcome: Err(evm::skip_reason(&invalid, tx.tx.signer())),
                    state: EvmState::default(),
                    reads,
                },
                Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                Err(other) => return Err(ExecError::Environment(other.to_string())),
            };
            runs.push(run);
        }
    }
    Ok(ChunkOutput { runs, overlay })
}

/// Whether the chunks' results compose without any re-execution: no chunk read or wrote a key
/// another wrote, no chunk touched the beneficiary, and the block gas limit never binds.
fn chunks_independent(
    overlays: &[Overlay<'_>],
    env: &BlockEnv,
    runs: &[Run],
    txs: &[ExecTx],
) -> bool {
    let beneficiary = StateKey::Account(env.beneficiary);
    let mut writer: HashMap<StateKey, usize> = HashMap::default();
    for (chunk, overlay) in overlays.iter().enumerate() {
        for key in overlay.writes() {
            if writer.insert(*key, chunk).is_some() || *key == beneficiary {
                return false;
            }
        }
    }
    let reads_clean = overlays.par_iter().enumerate().all(|(chunk, overlay)| {
        !overlay.reads().contains(&beneficiary)
            && overlay.reads().iter().all(|key| writer.get(key).is_none_or(|w| *w == chunk))
    });
    if !reads_clean {
        return false;
    }
    // Sequential execution checks the remaining gas before anything else, for every
    // transaction: if it would ever bind, only the in-order pass reproduces its decisions.
    let mut gas = 0u64;
    for run in runs {
        if gas + txs[run.index].tx.gas_limit() > env.gas_limit {
            return false;
        }
        if let Ok(outcome) = &run.outcome {
            gas += outcome.tx_gas_used();
        }
    }
    true
}

/// The fee the beneficiary receives for a transaction that used `gas_used`.
fn fee(tx: &ExecTx, env: &BlockEnv, gas_used: u64) -> U256 {
    let price = tx.tx.effective_gas_price(Some(env.base_fee));
    let tip = if env.hardfork >= Hardfork::London {
        price.saturating_sub(u128::from(env.base_fee))
    } else {
        price
    };
    U256::from(tip) * U256::from(gas_used)
}

/// Assembles receipts and results in block order.
fn record(out: &mut BlockExecution, tx: &ExecTx, index: usize, outcome: ExecutionResult) {
    let result = evm::tx_result(outcome);
    out.gas_used += result.gas_used;
    out.receipts.push(evm::receipt(tx.tx.inner(), &result, out.gas_used));
    out.results.push(result);
    out.included.push(index);
}

/// Composes independent chunks: their diffs are disjoint but for read-only accounts.
fn merge_independent(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    runs: Vec<Run>,
    overlays: Vec<Overlay<'_>>,
) -> Result<BlockExecution, ExecError> {
    let mut out = BlockExecution::default();
    let mut fees = U256::ZERO;
    for run in runs {
        let tx = &txs[run.index];
        match run.outcome {
            Ok(outcome) => {
                fees += fee(tx, env, outcome.tx_gas_used());
                record(&mut out, tx, run.index, outcome);
            }
            Err(reason) => out.skipped.push(SkippedTx { index: run.index, reason }),
        }
    }
    let diffs: Vec<StateDiff> = overlays.into_par_iter().map(Overlay::into_diff).collect();
    let mut diff = StateDiff::default();
    for part in diffs {
        diff.codes.extend(part.codes);
        for (address, change) in part.accounts {
            match diff.accounts.entry(address) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(change);
                }
                std::collections::btree_map::Entry::Occupied(mut existing) => {
                    // Only slot writes of one account can come from two chunks (its account
                    // fields were read by both, never written, or validation would have failed).
                    existing.get_mut().storage.extend(change.storage);
                }
            }
        }
    }
    if !out.included.is_empty() {
        let mut beneficiary = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
        beneficiary.credit(env.beneficiary, fees).map_err(|e| ExecError::State(e.0))?;
        if let Some(change) = beneficiary.into_diff().accounts.remove(&env.beneficiary) {
            diff.accounts.insert(env.beneficiary, change);
        } else {
            diff.accounts.remove(&env.beneficiary);
        }
    }
    out.diff = diff;
    Ok(out)
}

/// Walks the block in order on one overlay, keeping every optimistic run whose reads still see
/// the same values and executing the others again; credits fees after each transaction.
/// Returns the execution and the number of re-executed transactions.
fn validate_in_order(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    runs: Vec<Run>,
) -> Result<(BlockExecution, usize), ExecError> {
    let mut overlay = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
    let mut out = BlockExecution::default();
    let mut reexecuted = 0;
    {
        let mut vm = Context::mainnet()
            .with_cfg(evm::cfg_env(env))
            .with_block(evm::block_env(env))
            .with_db(&mut overlay)
            .build_mainnet();
        for run in runs {
            let tx = &txs[run.index];
            if out.gas_used + tx.tx.gas_limit() > env.gas_limit {
                out.skipped
                    .push(SkippedTx { index: run.index, reason: SkipReason::GasLimitReached });
                continue;
            }
            let still_valid = vm.db_mut().matches(&run.reads).map_err(|e| ExecError::State(e.0))?;
            let (outcome, changes) = if still_valid {
                (run.outcome, run.state)
            } else {
                reexecuted += 1;
                match transact_without_reward::<_, EVMError<DbError>>(&mut vm, evm::tx_env(&tx.tx))
                {
                    Ok((outcome, changes)) => (Ok(outcome), changes),
                    Err(EVMError::Transaction(invalid)) => {
                        (Err(evm::skip_reason(&invalid, tx.tx.signer())), EvmState::default())
                    }
                    Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                    Err(other) => return Err(ExecError::Environment(other.to_string())),
                }
            };
            match outcome {
                Ok(outcome) => {
                    let mut changes = changes;
                    let paid = fee(tx, env, outcome.tx_gas_used());
                    let db = vm.db_mut();
                    // Sequential execution pays the beneficiary inside the transaction, before
                    // empty touched accounts are removed: fold the fee into the transaction's
                    // own changes when they include the beneficiary.
                    if let Some(account) = changes.get_mut(&env.beneficiary) {
                        account.info.balance += paid;
                        account.mark_touch();
                        db.apply_state(&changes).map_err(|e| ExecError::State(e.0))?;
                    } else {
                        db.apply_state(&changes).map_err(|e| ExecError::State(e.0))?;
                        db.credit(env.beneficiary, paid).map_err(|e| ExecError::State(e.0))?;
                    }
                    record(&mut out, tx, run.index, outcome);
                }
                Err(reason) => out.skipped.push(SkippedTx { index: run.index, reason }),
            }
        }
    }
    out.diff = overlay.into_diff();
    Ok((out, reexecuted))
}
