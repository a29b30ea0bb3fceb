//! Parallel block execution by access-set partitioning, always equal to sequential execution.
//!
//! 1. **Partition.** Each transaction's access set ([`access`](super::access)) is unioned over
//!    conflicting keys: transactions sharing a written key land in one group, in block order.
//! 2. **Schedule.** Groups are packed into a few *chunks* per core, largest group (by expected
//!    gas: what the txpool's pre-execution used, else the gas limit) first onto the
//!    least-loaded chunk, so one heavy group does not leave a core idle
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
//! 4. **Validate.** Every key each transaction read or wrote is tagged with its group. If no
//!    group read or wrote a key another group wrote, no chunk touched the beneficiary and no
//!    transaction crossed the block gas limit, the chunks' results are exactly the sequential
//!    result: merge them and credit the fees.
//! 5. **Repair.** When groups conflict (but the beneficiary and the gas limit stay out of it),
//!    only the conflicting groups' transactions are settled, in block order on one overlay: a
//!    transaction whose logged reads still see the same values has its recorded changes
//!    applied; any other is executed again right there. Meanwhile, on the other cores, the
//!    conflicting transactions' optimistic writes are taken back out of their chunks' diffs,
//!    which leaves the clean groups' changes. The clean groups share no written key with
//!    anyone, so their results stand, provided the settled transactions (whose re-runs may
//!    take other paths) touched no key a clean group wrote, wrote no key one read, and left
//!    the beneficiary alone; that is checked, and if it fails the block runs sequentially.
//!    When the beneficiary is touched or the gas limit binds, one in-order pass walks the
//!    whole block the same way, crediting fees after every transaction, so a transaction that
//!    reads the beneficiary sees exactly what it would sequentially and the gas-limit rule is
//!    applied exactly as sequential execution applies it. Only transactions that really
//!    depended on another group are re-run; the worst case is one extra sequential pass,
//!    never a wrong result.
//!
//! **Collisions during the parallel phase** ([`collisions`](super::collisions)). A call
//! nothing predicted exactly (no txpool pre-execution: a declared access list or none) reports
//! the keys it wrote. When calls to one contract keep writing keys another group wrote (16
//! times in a block by default, see [`ParallelConfig::defer_after_collisions`]: a hot contract
//! behind wrong access lists), the chunks stop running its calls optimistically and leave them
//! to the settling pass: each then runs once, in order, instead of once on the parallel cores
//! and again when settled. A deferred transaction's group counts as conflicting, and what it
//! turns out to touch is checked against the clean groups like any re-run.
//!
//! Validating groups rather than chunks matters when a wrong access list scatters calls to one
//! hot contract over every chunk: only those calls (and their groups) are settled, not every
//! transaction of every chunk. Groups keep the unit that was predicted independent: two
//! transactions of one sender, run in order in one group, are no conflict.
//!
//! When parallelism cannot pay — small or cheap blocks, one thread, one group holding most of
//! the gas, or contract calls nothing predicts carrying much of it — the block runs
//! sequentially (see [`ParallelConfig`]).

use std::sync::Arc;

use std::{borrow::Cow, collections::BTreeMap, hash::BuildHasher};

use alloy::consensus::Transaction as _;
use alloy_primitives::{
    Address, B256, Bytes,
    map::{DefaultHashBuilder, HashMap},
};
use rayon::prelude::*;
use revm::{
    context::{ContextTr, result::EVMError},
    primitives::hardfork::SpecId,
};

use super::{
    BlockEnv, BlockExecution, BlockExecutor, ExecError, ExecStats, ExecTx, Inference, SkipReason,
    SkippedTx, access,
    collisions::CollisionWatch,
    evm::{self, CodeCache, DbError, StateDb},
    handler::transact_without_reward,
    outcome::{Done, done},
    overlay::{Changes, Observed, Overlay, ReadLog, StateKey, changes_of},
    sequential,
};
use crate::state::{AccountDiff, StateDiff, StateReader};

/// When the parallel executor runs a block in parallel, and how it splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelConfig {
    /// Blocks with fewer transactions run sequentially.
    pub min_txs: usize,
    /// Blocks expected to use less gas run sequentially: splitting, dispatching and merging a
    /// block costs a fixed ≈ 0.1–0.3 ms on two cores, more than parallelism saves on a block
    /// that runs in well under a millisecond. Expected gas is what the txpool's pre-execution
    /// used, else the gas limit.
    pub min_gas: u64,
    /// A group holding at least this share of the block's gas (percent) makes the block one
    /// chain of dependent transactions: it runs sequentially. Above 100 never falls back.
    pub max_group_share_percent: u64,
    /// A block in which contract calls with no known access set (no txpool pre-execution, no
    /// declared access list) carry more than this share of the gas (percent) runs
    /// sequentially: nothing predicts their conflicts, and on few cores discovering them after
    /// the fact costs more than parallelism gains (measured on mainnet blocks, see
    /// BENCHMARKS.md). Above 100 never falls back.
    pub max_unpredictable_percent: u64,
    /// Chunks per rayon thread: enough to balance uneven groups, few enough to keep the
    /// per-chunk setup cheap.
    pub chunks_per_thread: usize,
    /// How many times calls to one contract that nothing predicted exactly may write a key
    /// another group wrote, during one block's parallel phase, before its remaining calls are
    /// left to the settling pass (see the module docs). A few accidental collisions (two
    /// senders paying one recipient of a token) must not send all of a token's calls to one
    /// core; a hot spot behind wrong access lists collides on nearly every call. 0 never
    /// defers.
    pub defer_after_collisions: u32,
    /// Ignore access sets and deal transactions to chunks round-robin, as if every hint were
    /// wrong: the repair path alone then makes the result right (for tests and benchmarks).
    pub ignore_access_sets: bool,
}

impl Default for ParallelConfig {
    fn default() -> Self {
        Self {
            min_txs: 8,
            min_gas: 5_000_000,
            max_group_share_percent: 60,
            max_unpredictable_percent: 25,
            chunks_per_thread: 4,
            defer_after_collisions: 16,
            ignore_access_sets: false,
        }
    }
}

impl ParallelConfig {
    /// Always run in parallel, whatever the block, and defer a contract's calls from its
    /// first collision on (for tests of the parallel machinery).
    pub const fn always() -> Self {
        Self {
            min_txs: 0,
            min_gas: 0,
            max_group_share_percent: 101,
            max_unpredictable_percent: 101,
            chunks_per_thread: 4,
            defer_after_collisions: 1,
            ignore_access_sets: false,
        }
    }
}

/// Executes independent groups of transactions concurrently; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct ParallelExecutor {
    codes: Arc<CodeCache>,
    config: ParallelConfig,
    hot: Arc<parking_lot::RwLock<access::HotContracts>>,
}

impl ParallelExecutor {
    /// An executor sharing `codes` (analysed contract code) with others.
    pub fn with_code_cache(codes: Arc<CodeCache>) -> Self {
        Self { codes, config: ParallelConfig::default(), hot: Arc::default() }
    }

    /// An executor with the given thresholds.
    pub fn with_config(config: ParallelConfig) -> Self {
        Self { codes: Arc::default(), config, hot: Arc::default() }
    }
}

/// One transaction's optimistic outcome: its result, or why it was not executable. Boxed: a
/// result with its receipt is about half a kilobyte, and outcomes move from the chunks into
/// block order on the sequential tail of the block.
type Outcome = Result<Box<Done>, SkipReason>;

/// What replaying an optimistic run in order needs: its state changes and logged reads,
/// owned, or those of the pre-execution it reused.
#[derive(Debug)]
enum Replay {
    Ran {
        changes: Changes,
        reads: ReadLog,
    },
    Reused(Arc<Inference>),
    /// Not run optimistically (see [`CollisionWatch`]): the settling pass runs it.
    Deferred,
}

/// The reads and changes of a transaction that has not run.
static NOTHING_READ: ReadLog = Vec::new();
static NOTHING_CHANGED: Changes = Vec::new();

impl Replay {
    fn reads(&self) -> &ReadLog {
        match self {
            Self::Ran { reads, .. } => reads,
            Self::Reused(hint) => &hint.reads,
            Self::Deferred => &NOTHING_READ,
        }
    }

    fn changes(&self) -> &Changes {
        match self {
            Self::Ran { changes, .. } => changes,
            Self::Reused(hint) => &hint.changes,
            Self::Deferred => &NOTHING_CHANGED,
        }
    }

    const fn is_deferred(&self) -> bool {
        matches!(self, Self::Deferred)
    }
}

/// Everything one chunk produced, computed inside the chunk's own task.
struct ChunkOutput {
    /// (transaction index, outcome, replay data), in block order.
    runs: Vec<(usize, Outcome, Replay)>,
    /// The chunk's state changes, sorted by address.
    diff: Vec<(Address, AccountDiff)>,
    /// Code the chunk deployed.
    codes: BTreeMap<B256, Bytes>,
    /// (key hash, group, written) for every key each of the chunk's transactions read or wrote.
    keys: Vec<(u64, u32, bool)>,
    /// Whether the chunk read or wrote the beneficiary.
    touched_beneficiary: bool,
    /// Transactions whose pre-executed result was reused.
    reused: usize,
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
        let started = std::time::Instant::now();
        let threads = rayon::current_num_threads();
        if txs.len() < config.min_txs.max(2)
            || threads < 2
            || expected_gas(txs) < config.min_gas
            || !config.ignore_access_sets && unpredictable(txs, config.max_unpredictable_percent)
        {
            return sequential_fallback(state, &self.codes, env, txs, 1, txs.len());
        }
        let group_of: Vec<u32> = if config.ignore_access_sets {
            (0..txs.len() as u32).collect()
        } else {
            let hot = self.hot.read();
            let sets: Vec<_> = if txs.len() < access::PARALLEL_FROM {
                txs.iter().map(|tx| access::access_set(tx, &hot)).collect()
            } else {
                txs.par_iter().map(|tx| access::access_set(tx, &hot)).collect()
            };
            access::partition(&sets)
        };
        let group_count = group_of.iter().max().map_or(0, |g| *g as usize + 1);
        let mut weights = vec![0u64; group_count];
        let mut sizes = vec![0usize; group_count];
        for (tx, &group) in txs.iter().zip(&group_of) {
            // A group's weight is its expected work.
            weights[group as usize] += expected_gas_of(tx);
            sizes[group as usize] += 1;
        }
        let total: u64 = weights.iter().sum();
        let largest = sizes.iter().copied().max().unwrap_or(0);
        let heaviest = weights.iter().copied().max().unwrap_or(0);
        let dominated = heaviest * 100 >= total * config.max_group_share_percent;
        if group_count < 2 && config.max_group_share_percent <= 100 || dominated {
            return sequential_fallback(state, &self.codes, env, txs, group_count, largest);
        }
        let chunk_count = (threads * config.chunks_per_thread).min(group_count);
        let chunk_of_group = if config.ignore_access_sets {
            (0..group_count).map(|g| g % chunk_count).collect()
        } else {
            schedule(&weights, chunk_count)
        };
        let mut chunks: Vec<Vec<usize>> =
            vec![Vec::with_capacity(txs.len() / chunk_count + 1); chunk_count];
        let mut chunk_of_tx = Vec::with_capacity(txs.len());
        for (tx, &group) in group_of.iter().enumerate() {
            let chunk = chunk_of_group[group as usize];
            chunks[chunk].push(tx);
            chunk_of_tx.push(chunk);
        }
        let partitioned = std::time::Instant::now();
        let hasher = DefaultHashBuilder::default();
        let watch = CollisionWatch::new(config.defer_after_collisions, txs.len());
        let outputs: Vec<ChunkOutput> = chunks
            .par_iter()
            .map(|chunk| run_chunk(state, &self.codes, env, txs, chunk, &group_of, &hasher, &watch))
            .collect::<Result<_, _>>()?;
        drop(watch);
        let executed = std::time::Instant::now();
        let mut stats = ExecStats {
            groups: group_count,
            largest_group: largest,
            reused: outputs.iter().map(|o| o.reused).sum(),
            partition_time: partitioned - started,
            parallel_time: executed - partitioned,
            ..Default::default()
        };

        let touched_beneficiary = outputs.iter().any(|o| o.touched_beneficiary);
        let mut keys = Vec::with_capacity(outputs.iter().map(|o| o.keys.len()).sum());
        let mut diffs = Vec::with_capacity(outputs.len());
        let mut codes = Vec::with_capacity(outputs.len());
        let mut runs = Vec::with_capacity(outputs.len());
        for output in outputs {
            keys.extend(output.keys);
            diffs.push(output.diff);
            codes.push(output.codes);
            runs.push(output.runs);
        }
        let (outcomes, replays) = in_block_order(runs, &chunk_of_tx);
        // In block order.
        let deferred: Vec<usize> = (0..txs.len()).filter(|&i| replays[i].is_deferred()).collect();
        let conflicted =
            (!touched_beneficiary && gas_limit_never_binds(env, txs, &outcomes)).then(|| {
                let deferred_groups: Vec<u32> = deferred.iter().map(|&i| group_of[i]).collect();
                conflicted_groups(keys, group_count, &deferred_groups)
            });
        // Transactions run again, and the conflicts that made them: conflicting groups, or,
        // when validation goes transaction by transaction, transactions that read a stale value.
        let (out, reexecuted, conflicts) = match conflicted {
            Some(conflicted) if !conflicted.any() => {
                // The replay data is not needed: free it off the critical path.
                rayon::spawn(move || drop(replays));
                let diff = merge_diffs(diffs, codes);
                (finish(state, &self.codes, env, outcomes, diff)?, Vec::new(), 0)
            }
            Some(conflicted) => {
                let conflicting_groups = conflicted.count();
                let dirty: Vec<usize> =
                    (0..txs.len()).filter(|&i| conflicted.groups[group_of[i] as usize]).collect();
                let mut outcomes = outcomes;
                // While the conflicting groups are settled on one thread, the clean groups'
                // changes are gathered on the others: taking the dirty transactions'
                // optimistic writes back out of their chunks' diffs leaves exactly those.
                let (repaired, clean) = rayon::join(
                    || {
                        repair_groups(
                            state,
                            &self.codes,
                            env,
                            txs,
                            &dirty,
                            &mut outcomes,
                            &replays,
                            &conflicted.clean_keys,
                            &hasher,
                        )
                    },
                    || {
                        let mut undo = vec![Vec::new(); chunk_count];
                        for &i in &dirty {
                            let replay = &replays[i];
                            undo[chunk_of_tx[i]]
                                .extend(written_keys(replay.changes(), replay.reads()));
                        }
                        let kept: Vec<_> = diffs
                            .into_par_iter()
                            .zip(codes)
                            .zip(undo)
                            .map(|((mut diff, mut codes), undo)| {
                                take_back(state, &mut diff, &mut codes, &undo)?;
                                Ok((diff, codes))
                            })
                            .collect::<Result<_, ExecError>>()?;
                        let (diffs, codes) = kept.into_iter().unzip();
                        Ok::<_, ExecError>(merge_diffs(diffs, codes))
                    },
                );
                let clean = clean?;
                rayon::spawn(move || drop(replays));
                match repaired? {
                    Some((settled, reexecuted)) if gas_limit_never_binds(env, txs, &outcomes) => {
                        let mut diff = clean;
                        absorb(&mut diff, settled);
                        let out = finish(state, &self.codes, env, outcomes, diff)?;
                        (out, reexecuted, conflicting_groups)
                    }
                    // A repaired transaction reached into a clean group's keys or the
                    // beneficiary, or the gas limit now binds: run the block in order.
                    _ => {
                        let out = sequential::execute_in_order(state, &self.codes, env, txs)?;
                        stats.sequential_fallback = true;
                        let ran_before =
                            dirty.into_iter().filter(|i| deferred.binary_search(i).is_err());
                        (out, ran_before.collect(), conflicting_groups)
                    }
                }
            }
            None => {
                drop(diffs);
                let (out, reexecuted) =
                    validate_in_order(state, &self.codes, env, txs, outcomes, replays)?;
                let stale = reexecuted.len();
                (out, reexecuted, stale)
            }
        };
        stats.conflicts = conflicts;
        stats.reexecuted = reexecuted.len();
        stats.deferred = deferred.len();
        // Learn which contracts' callers conflict, to group them in the next blocks.
        let contracts = reexecuted.into_iter().chain(deferred).filter_map(|i| {
            let tx = txs[i].tx.inner();
            (txs[i].hint.is_none() && access::may_run_code(tx)).then(|| tx.to()).flatten()
        });
        self.hot.write().record_block(contracts);
        stats.merge_time = executed.elapsed();
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

/// The gas `txs` are expected to use: what pre-execution used where the txpool ran one, else
/// the gas limit.
fn expected_gas(txs: &[ExecTx]) -> u64 {
    txs.iter().map(expected_gas_of).sum()
}

fn expected_gas_of(tx: &ExecTx) -> u64 {
    tx.hint.as_ref().map_or(tx.tx.gas_limit(), |hint| hint.ran.result.gas_used)
}

/// Whether transactions that may run contract code ([`access::may_run_code`]) and whose
/// accesses nothing predicts carry at least `percent`% of the block's gas limit. One cheap pass, before any access set is built.
fn unpredictable(txs: &[ExecTx], percent: u64) -> bool {
    if percent > 100 {
        return false;
    }
    let (mut unknown, mut total) = (0u64, 0u64);
    for tx in txs {
        let inner = tx.tx.inner();
        let gas = inner.gas_limit();
        total += gas;
        let declared = inner.access_list().is_some_and(|list| !list.is_empty());
        if tx.hint.is_none() && !declared && access::may_run_code(inner) {
            unknown += gas;
        }
    }
    u128::from(unknown) * 100 >= u128::from(total) * u128::from(percent) && unknown > 0
}

/// Assigns each group (by weight) to one of `chunks` chunks, heaviest group first onto the
/// lightest chunk (longest-processing-time scheduling).
fn schedule(weights: &[u64], chunks: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_unstable_by_key(|&g| std::cmp::Reverse(weights[g]));
    let mut loads = std::collections::BinaryHeap::new();
    for chunk in 0..chunks.max(1) {
        loads.push(std::cmp::Reverse((0u64, chunk)));
    }
    let mut chunk_of = vec![0; weights.len()];
    for g in order {
        let std::cmp::Reverse((load, chunk)) = loads.pop().expect("at least one chunk");
        chunk_of[g] = chunk;
        loads.push(std::cmp::Reverse((load + weights[g].max(1), chunk)));
    }
    chunk_of
}

/// The chunks' runs in block order: each chunk holds its transactions in block order, so the
/// next run of the chunk that transaction `i` went to is transaction `i`'s.
fn in_block_order(
    runs: Vec<Vec<(usize, Outcome, Replay)>>,
    chunk_of_tx: &[usize],
) -> (Vec<Outcome>, Vec<Replay>) {
    let mut runs: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
    let mut outcomes = Vec::with_capacity(chunk_of_tx.len());
    let mut replays = Vec::with_capacity(chunk_of_tx.len());
    for (index, &chunk) in chunk_of_tx.iter().enumerate() {
        let (ran, outcome, replay) = runs[chunk].next().expect("a chunk runs each of its txs");
        debug_assert_eq!(ran, index, "chunks run their transactions in block order");
        outcomes.push(outcome);
        replays.push(replay);
    }
    (outcomes, replays)
}

/// Merges lists each sorted by `key` into one sorted sequence.
fn merge_sorted<T, K: Ord + Copy>(lists: Vec<Vec<T>>, key: impl Fn(&T) -> K) -> Vec<T> {
    let total = lists.iter().map(Vec::len).sum();
    let mut iters: Vec<std::iter::Peekable<std::vec::IntoIter<T>>> =
        lists.into_iter().map(|l| l.into_iter().peekable()).collect();
    let mut heap = std::collections::BinaryHeap::with_capacity(iters.len());
    for (i, iter) in iters.iter_mut().enumerate() {
        if let Some(first) = iter.peek() {
            heap.push(std::cmp::Reverse((key(first), i)));
        }
    }
    let mut out = Vec::with_capacity(total);
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        let item = iters[i].next().expect("peeked");
        out.push(item);
        if let Some(next) = iters[i].peek() {
            heap.push(std::cmp::Reverse((key(next), i)));
        }
    }
    out
}

/// Runs one chunk's transactions in order on its own overlay, without fee payments, and
/// prepares in the same task what validation needs: receipts, and every key each transaction
/// read or wrote, tagged with its group. Calls `watch` defers are left to the settling pass.
#[allow(clippy::too_many_arguments)]
fn run_chunk(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    chunk: &[usize],
    group_of: &[u32],
    hasher: &DefaultHashBuilder,
    watch: &CollisionWatch,
) -> Result<ChunkOutput, ExecError> {
    let spec = evm::spec_id(env.hardfork);
    let mut overlay = Overlay::new(StateDb { state, codes }, spec);
    let mut runs: Vec<(usize, Outcome, Replay)> = Vec::with_capacity(chunk.len());
    let mut reused = 0;
    let mut keys = Vec::with_capacity(chunk.len() * 6);
    let mut written = Vec::new();
    let mut written_hashes = Vec::new();
    // Tags every key the run read or wrote with its group; reports a watched call's writes.
    let mut record_keys = |index: usize, replay: &Replay, watched: Option<Address>| {
        let group = group_of[index];
        written.clear();
        written.extend(written_keys(replay.changes(), replay.reads()));
        written_hashes.clear();
        written_hashes.extend(written.iter().map(|key| hasher.hash_one(key)));
        keys.extend(written_hashes.iter().map(|&hash| (hash, group, true)));
        keys.extend(
            replay
                .reads()
                .iter()
                .filter(|(key, _)| !written.contains(key))
                .map(|(key, _)| (hasher.hash_one(key), group, false)),
        );
        if let Some(contract) = watched {
            watch.wrote(contract, group, &written_hashes);
        }
    };
    {
        let mut vm = evm::block_evm(&mut overlay, env);
        for &index in chunk {
            let tx = &txs[index];
            let watched = watch.watched(tx);
            if let Some(contract) = watched
                && watch.is_deferred(&contract)
            {
                runs.push((index, Err(SkipReason::GasLimitReached), Replay::Deferred));
                continue;
            }
            if let Some(hint) = tx.hint.as_ref().filter(|h| h.reusable && h.env == *env)
                && vm.db_mut().matches(&hint.reads).map_err(|e| ExecError::State(e.0))?
            {
                vm.db_mut().apply_changes(&hint.changes).map_err(|e| ExecError::State(e.0))?;
                let done = Box::new(hint.ran.clone().into_done(&tx.tx));
                let replay = Replay::Reused(hint.clone());
                reused += 1;
                record_keys(index, &replay, None);
                runs.push((index, Ok(done), replay));
                continue;
            }
            vm.db_mut().start_log();
            let result =
                transact_without_reward::<_, EVMError<DbError>>(&mut vm, evm::tx_env(&tx.tx));
            let reads = vm.db_mut().take_log();
            let run = match result {
                Ok((outcome, state)) => {
                    // Keep the compact changes, not revm's state: it is freed right here.
                    let changes = changes_of(&state, spec);
                    drop(state);
                    vm.db_mut().apply_changes(&changes).map_err(|e| ExecError::State(e.0))?;
                    let done = Box::new(done(&tx.tx, env, outcome));
                    (index, Ok(done), Replay::Ran { changes, reads })
                }
                Err(EVMError::Transaction(invalid)) => {
                    let reason = evm::skip_reason(&invalid, tx.tx.signer());
                    (index, Err(reason), Replay::Ran { changes: Changes::new(), reads })
                }
                Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                Err(other) => return Err(ExecError::Environment(other.to_string())),
            };
            record_keys(index, &run.2, watched);
            runs.push(run);
        }
    }
    let beneficiary = StateKey::Account(env.beneficiary);
    let touched_beneficiary =
        overlay.reads().contains(&beneficiary) || overlay.writes().contains(&beneficiary);
    let diff = overlay.into_diff();
    Ok(ChunkOutput {
        runs,
        diff: diff.accounts.into_iter().collect(),
        codes: diff.codes,
        keys,
        touched_beneficiary,
        reused,
    })
}

/// The keys `changes` wrote, given the reads of the same run: an account's own fields where
/// they differ from what the transaction first saw of them (or it was created or destroyed),
/// and every slot it stored.
fn written_keys<'c>(
    changes: &'c Changes,
    reads: &'c ReadLog,
) -> impl Iterator<Item = StateKey> + 'c {
    changes.iter().flat_map(move |change| {
        let address = change.address;
        let seen = reads.iter().find_map(|(key, seen)| match (key, seen) {
            (StateKey::Account(read), Observed::Account(info)) if *read == address => Some(*info),
            _ => None,
        });
        let account_written = change.created || change.destroyed || seen != Some(change.info);
        account_written
            .then_some(StateKey::Account(address))
            .into_iter()
            .chain(change.storage.iter().map(move |(slot, _)| StateKey::Slot(address, *slot)))
    })
}

/// Takes the writes to `keys` back out of one chunk's `diff` (sorted by address) and `codes`,
/// as if the transactions that made them had not run. An account's own fields take its whole
/// entry with them: the caller takes back every transaction that touched such an account
/// (whoever writes a slot loaded the account first). A slot returns to its pre-block value,
/// and an account left with nothing changed leaves the diff, as from a fresh run.
fn take_back(
    state: &dyn StateReader,
    diff: &mut Vec<(Address, AccountDiff)>,
    codes: &mut BTreeMap<B256, Bytes>,
    keys: &[StateKey],
) -> Result<(), ExecError> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut gone = vec![false; diff.len()];
    let mut emptied = Vec::new();
    for key in keys {
        let (StateKey::Account(address) | StateKey::Slot(address, _)) = key;
        let Ok(at) = diff.binary_search_by_key(address, |(a, _)| *a) else { continue };
        match key {
            StateKey::Account(_) => gone[at] = true,
            StateKey::Slot(_, slot) => {
                let change = &mut diff[at].1;
                if change.storage.remove(slot).is_some()
                    && change.storage.is_empty()
                    && !change.storage_cleared
                {
                    emptied.push(at);
                }
            }
        }
    }
    for at in emptied {
        let (address, change) = &diff[at];
        if state.account(*address)? == change.info {
            gone[at] = true;
        }
    }
    let mut gone = gone.into_iter();
    diff.retain(|_| !gone.next().unwrap_or(false));
    if !codes.is_empty() {
        // Code stays only where an account left in the diff was given it in this block (an
        // account that kept the same code from before does not keep a deployment alive).
        let mut deployed = std::collections::HashSet::new();
        for (address, change) in diff.iter() {
            let Some(info) = change.info else { continue };
            if codes.contains_key(&info.code_hash)
                && state.account(*address)?.map(|a| a.code_hash) != Some(info.code_hash)
            {
                deployed.insert(info.code_hash);
            }
        }
        codes.retain(|hash, _| deployed.contains(hash));
    }
    Ok(())
}

/// The chunks' state changes and deployed code, merged. The chunks' diffs are disjoint but for
/// accounts whose slots two chunks wrote (without either touching the account's own fields).
fn merge_diffs(
    diffs: Vec<Vec<(Address, AccountDiff)>>,
    codes: Vec<BTreeMap<B256, Bytes>>,
) -> StateDiff {
    // Each chunk's diff is sorted by address: merge them.
    let accounts = merge_sorted(diffs, |(address, _)| *address);
    let mut merged: Vec<(Address, AccountDiff)> = Vec::with_capacity(accounts.len());
    for (address, change) in accounts {
        match merged.last_mut() {
            Some((last, existing)) if *last == address => add_slots(existing, change),
            _ => merged.push((address, change)),
        }
    }
    StateDiff {
        accounts: merged.into_iter().collect(),
        codes: codes.into_iter().flatten().collect(),
    }
}

/// Adds `other`'s changes to `diff`, where the two share no key (see [`add_slots`]).
fn absorb(diff: &mut StateDiff, other: StateDiff) {
    for (address, change) in other.accounts {
        match diff.accounts.entry(address) {
            std::collections::btree_map::Entry::Occupied(mut existing) => {
                add_slots(existing.get_mut(), change);
            }
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(change);
            }
        }
    }
    diff.codes.extend(other.codes);
}

/// Combines two changes of one account from diffs that share no key: then neither touched the
/// account's own fields, and each only wrote its own slots. A linear merge of the two sorted
/// slot maps, not one insertion per slot.
fn add_slots(existing: &mut AccountDiff, mut other: AccountDiff) {
    existing.storage.append(&mut other.storage);
}

/// Whether sequential execution's gas check (made before anything else, for every
/// transaction) never binds: if it would, only the in-order pass reproduces its decisions.
fn gas_limit_never_binds(env: &BlockEnv, txs: &[ExecTx], outcomes: &[Outcome]) -> bool {
    let mut gas = 0u64;
    for (tx, outcome) in txs.iter().zip(outcomes) {
        if gas + tx.tx.gas_limit() > env.gas_limit {
            return false;
        }
        if let Ok(done) = outcome {
            gas += done.result.gas_used;
        }
    }
    true
}

/// Which groups read or wrote a key another group wrote, and every key (hash) the other,
/// clean groups touched.
struct Conflicts {
    /// Per group: whether it conflicts with another.
    groups: Vec<bool>,
    /// (key hash, written) for every key a clean group read or wrote (empty when no group
    /// conflicts: then it is not needed).
    clean_keys: HashMap<u64, bool>,
}

impl Conflicts {
    /// Whether any group conflicts (if not, the groups are independent).
    fn any(&self) -> bool {
        self.groups.contains(&true)
    }

    /// How many groups conflict.
    fn count(&self) -> usize {
        self.groups.iter().filter(|&&conflicting| conflicting).count()
    }
}

/// Finds the conflicting groups: those that deferred a transaction, and those that read or
/// wrote a key another group wrote. Sorting the (key hash, group, written) entries lines up
/// each key's accesses; a hash collision between two keys can only report a conflict that is
/// not there (and take a slower path), never hide one.
fn conflicted_groups(
    mut keys: Vec<(u64, u32, bool)>,
    group_count: usize,
    deferred_groups: &[u32],
) -> Conflicts {
    keys.par_sort_unstable_by_key(|entry| entry.0);
    let conflicting = |run: &[(u64, u32, bool)]| {
        run.len() > 1 && run.iter().any(|e| e.2) && run.iter().any(|e| e.1 != run[0].1)
    };
    let mut conflicts =
        Conflicts { groups: vec![false; group_count], clean_keys: HashMap::default() };
    for &group in deferred_groups {
        conflicts.groups[group as usize] = true;
    }
    if !deferred_groups.is_empty() || keys.par_chunk_by(|a, b| a.0 == b.0).any(conflicting) {
        for run in keys.chunk_by(|a, b| a.0 == b.0).filter(|run| conflicting(run)) {
            for entry in run {
                conflicts.groups[entry.1 as usize] = true;
            }
        }
        for &(hash, group, written) in &keys {
            if !conflicts.groups[group as usize] {
                *conflicts.clean_keys.entry(hash).or_default() |= written;
            }
        }
    }
    rayon::spawn(move || drop(keys));
    conflicts
}

/// Appends an included transaction in block order, setting its receipt's cumulative gas.
fn record(out: &mut BlockExecution, index: usize, done: Box<Done>) {
    let Done { result, mut receipt, .. } = *done;
    out.gas_used += result.gas_used;
    if let Some(with_bloom) = receipt.as_receipt_with_bloom_mut() {
        with_bloom.receipt.cumulative_gas_used = out.gas_used;
    }
    out.receipts.push(receipt);
    out.results.push(result);
    out.included.push(index);
}

/// The block from its transactions' final outcomes (in block order) and the state changes
/// they made without fees: the fees are credited to the beneficiary.
fn finish(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    outcomes: Vec<Outcome>,
    mut diff: StateDiff,
) -> Result<BlockExecution, ExecError> {
    let mut out = BlockExecution::with_capacity(outcomes.len());
    let mut fees = Vec::with_capacity(outcomes.len());
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(done) => {
                fees.push(done.fee);
                record(&mut out, index, done);
            }
            Err(reason) => out.skipped.push(SkippedTx { index, reason }),
        }
    }
    if !out.included.is_empty() {
        let mut beneficiary = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
        beneficiary.credit_each(env.beneficiary, &fees).map_err(|e| ExecError::State(e.0))?;
        match beneficiary.into_diff().accounts.remove(&env.beneficiary) {
            Some(change) => diff.accounts.insert(env.beneficiary, change),
            None => diff.accounts.remove(&env.beneficiary),
        };
    }
    out.diff = diff;
    Ok(out)
}

/// Settles the transactions of conflicting groups (`dirty`, in block order) on one overlay
/// over the pre-block state, without fees: each optimistic run whose reads still see the same
/// values is kept, any other is executed again. Replaces their outcomes in `outcomes`.
///
/// No clean group wrote a key a conflicting group touched, so this overlay holds every value
/// the optimistic runs read. The result composes with the clean groups' only if the settled
/// transactions (whose re-runs may take other paths) touched none of the keys a clean group
/// wrote, wrote none a clean group read, and left the beneficiary alone: then returns their
/// diff and the re-executed indices, else `None`. `clean_keys` are hashed by `hasher`.
#[allow(clippy::too_many_arguments)]
fn repair_groups(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    dirty: &[usize],
    outcomes: &mut [Outcome],
    replays: &[Replay],
    clean_keys: &HashMap<u64, bool>,
    hasher: &DefaultHashBuilder,
) -> Result<Option<(StateDiff, Vec<usize>)>, ExecError> {
    let spec = evm::spec_id(env.hardfork);
    let mut overlay = Overlay::new(StateDb { state, codes }, spec);
    let mut reexecuted = Vec::new();
    {
        let mut vm = evm::block_evm(&mut overlay, env);
        for &index in dirty {
            let optimistic =
                std::mem::replace(&mut outcomes[index], Err(SkipReason::GasLimitReached));
            let (outcome, changes, ran_again) =
                settle(&mut vm, env, &txs[index], optimistic, &replays[index])?;
            if ran_again {
                reexecuted.push(index);
            }
            vm.db_mut().apply_changes(&changes).map_err(|e| ExecError::State(e.0))?;
            outcomes[index] = outcome;
        }
    }
    // Hashed with the chunks' own hasher: its seed is per instance.
    let beneficiary = StateKey::Account(env.beneficiary);
    let reaches_clean = overlay
        .writes()
        .iter()
        .any(|key| clean_keys.contains_key(&hasher.hash_one(key)))
        || overlay.reads().iter().any(|key| clean_keys.get(&hasher.hash_one(key)) == Some(&true));
    if reaches_clean
        || overlay.reads().contains(&beneficiary)
        || overlay.writes().contains(&beneficiary)
    {
        return Ok(None);
    }
    Ok(Some((overlay.into_diff(), reexecuted)))
}

/// Keeps `outcome` if every value its run read is unchanged on `vm`'s state, else executes
/// `tx` (again) there; a deferred transaction always runs. Returns the outcome, its changes
/// (not yet applied: the optimistic run's, borrowed, when it is kept) and whether it ran a
/// second time (a deferred transaction's only run does not count).
fn settle<'r>(
    vm: &mut evm::BlockEvm<'_, '_>,
    env: &BlockEnv,
    tx: &ExecTx,
    outcome: Outcome,
    replay: &'r Replay,
) -> Result<(Outcome, Cow<'r, Changes>, bool), ExecError> {
    let deferred = replay.is_deferred();
    if !deferred && vm.db_mut().matches(replay.reads()).map_err(|e| ExecError::State(e.0))? {
        return Ok((outcome, Cow::Borrowed(replay.changes()), false));
    }
    let again = !deferred;
    let spec = evm::spec_id(env.hardfork);
    Ok(match transact_without_reward::<_, EVMError<DbError>>(vm, evm::tx_env(&tx.tx)) {
        Ok((outcome, state)) => {
            (Ok(Box::new(done(&tx.tx, env, outcome))), Cow::Owned(changes_of(&state, spec)), again)
        }
        Err(EVMError::Transaction(invalid)) => {
            (Err(evm::skip_reason(&invalid, tx.tx.signer())), Cow::Owned(Changes::new()), again)
        }
        Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
        Err(other) => return Err(ExecError::Environment(other.to_string())),
    })
}

/// Walks the block in order on one overlay, keeping every optimistic run whose reads still see
/// the same values and executing the others again; credits fees after each transaction.
/// Returns the execution and the indices of the re-executed transactions.
fn validate_in_order(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[ExecTx],
    outcomes: Vec<Outcome>,
    replays: Vec<Replay>,
) -> Result<(BlockExecution, Vec<usize>), ExecError> {
    let spec = evm::spec_id(env.hardfork);
    let mut overlay = Overlay::new(StateDb { state, codes }, spec);
    let mut out = BlockExecution::with_capacity(txs.len());
    let mut reexecuted = Vec::new();
    {
        let mut vm = evm::block_evm(&mut overlay, env);
        for (index, ((tx, outcome), replay)) in txs.iter().zip(outcomes).zip(&replays).enumerate() {
            if out.gas_used + tx.tx.gas_limit() > env.gas_limit {
                out.skipped.push(SkippedTx { index, reason: SkipReason::GasLimitReached });
                continue;
            }
            let (outcome, changes, ran_again) = settle(&mut vm, env, tx, outcome, replay)?;
            if ran_again {
                reexecuted.push(index);
            }
            match outcome {
                Ok(done) => {
                    let mut changes = changes;
                    let db = vm.db_mut();
                    // Sequential execution pays the beneficiary inside the transaction, before
                    // empty touched accounts are removed: fold the fee into the transaction's
                    // own change of the beneficiary when it has one.
                    match changes.iter().position(|c| c.address == env.beneficiary) {
                        Some(at) => {
                            let change = &mut changes.to_mut()[at];
                            if !change.destroyed {
                                let mut info = change.info.unwrap_or_default();
                                // Unchanged on overflow, as revm's credit.
                                info.balance =
                                    info.balance.checked_add(done.fee).unwrap_or(info.balance);
                                let empty =
                                    spec.is_enabled_in(SpecId::SPURIOUS_DRAGON) && info.is_empty();
                                change.info = (!empty).then_some(info);
                            }
                            db.apply_changes(&changes).map_err(|e| ExecError::State(e.0))?;
                        }
                        None => {
                            db.apply_changes(&changes).map_err(|e| ExecError::State(e.0))?;
                            db.credit(env.beneficiary, done.fee)
                                .map_err(|e| ExecError::State(e.0))?;
                        }
                    }
                    record(&mut out, index, done);
                }
                Err(reason) => out.skipped.push(SkippedTx { index, reason }),
            }
        }
    }
    out.diff = overlay.into_diff();
    Ok((out, reexecuted))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;
    use revm::primitives::KECCAK_EMPTY;

    use super::*;
    use crate::state::{AccountInfo, MemoryState};

    const CONTRACT: Address = Address::new([0xc0; 20]);
    const OTHER: Address = Address::new([0x0b; 20]);

    fn info(balance: u64, code_hash: B256) -> AccountInfo {
        AccountInfo { nonce: 1, balance: U256::from(balance), code_hash }
    }

    fn change(info: AccountInfo, slots: &[(u64, u64)]) -> AccountDiff {
        AccountDiff {
            info: Some(info),
            storage_cleared: false,
            storage: slots.iter().map(|(k, v)| (U256::from(*k), U256::from(*v))).collect(),
        }
    }

    #[test]
    fn taking_back_an_accounts_fields_drops_its_entry_and_orphaned_code() {
        let code = Bytes::from_static(&[0x60, 0x00]);
        let hash = alloy_primitives::keccak256(&code);
        let mut diff = vec![
            (OTHER, change(info(1, KECCAK_EMPTY), &[])),
            (CONTRACT, change(info(0, hash), &[(1, 2)])),
        ];
        let mut codes = BTreeMap::from([(hash, code)]);
        take_back(&MemoryState::default(), &mut diff, &mut codes, &[StateKey::Account(CONTRACT)])
            .unwrap();
        assert_eq!(diff, vec![(OTHER, change(info(1, KECCAK_EMPTY), &[]))]);
        assert!(codes.is_empty(), "no account left deploys the code");
    }

    #[test]
    fn taking_back_the_only_changed_slot_of_an_unchanged_account_drops_it() {
        let mut state = MemoryState::default();
        let hash = state.insert_contract(CONTRACT, Bytes::from_static(&[0x00]), U256::ZERO);
        let unchanged = info(0, hash);
        let mut diff = vec![(CONTRACT, change(unchanged, &[(5, 7)]))];
        let key = StateKey::Slot(CONTRACT, U256::from(5));
        take_back(&state, &mut diff, &mut BTreeMap::new(), &[key]).unwrap();
        assert!(diff.is_empty(), "nothing of the contract changed any more");
    }

    #[test]
    fn taking_back_a_slot_keeps_the_accounts_other_changes() {
        let mut state = MemoryState::default();
        let hash = state.insert_contract(CONTRACT, Bytes::from_static(&[0x00]), U256::ZERO);
        let funded = info(9, hash);
        let mut diff = vec![(CONTRACT, change(funded, &[(5, 7), (6, 8)]))];
        let key = StateKey::Slot(CONTRACT, U256::from(5));
        take_back(&state, &mut diff, &mut BTreeMap::new(), &[key]).unwrap();
        assert_eq!(diff, vec![(CONTRACT, change(funded, &[(6, 8)]))]);
        // Its last changed slot gone, the balance change keeps the account in the diff.
        let key = StateKey::Slot(CONTRACT, U256::from(6));
        take_back(&state, &mut diff, &mut BTreeMap::new(), &[key]).unwrap();
        assert_eq!(diff, vec![(CONTRACT, change(funded, &[]))]);
    }
}
