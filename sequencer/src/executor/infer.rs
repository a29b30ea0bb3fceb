//! Pre-execution of a transaction at admission, against the latest state and the environment
//! of the block it is expected to land in (as `eth_createAccessList` would run it).
//!
//! It yields the exact keys the transaction reads and writes — the access set the partition
//! needs when the transaction declares none — and its result. At block time, the parallel
//! executor reuses that result without running the EVM again when the block's environment is
//! the one it was computed for and every value it read is still the same.
//!
//! A sender's later transactions pre-execute on top of the changes of its earlier ones
//! ([`infer_chains`]): against the latest state alone they would see the sender's old nonce
//! and balances, and none of their results could be reused in a block that runs them after
//! their predecessors — which is every block that holds more than one transaction of a sender.

use std::sync::Arc;

use alloy::consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use rayon::prelude::*;
use revm::{
    Context, MainBuilder, MainContext,
    context::{ContextTr, result::EVMError},
};

use super::{
    BlockEnv, CodeCache,
    access::Access,
    evm::{self, DbError, StateDb},
    handler::transact_without_reward,
    outcome::{self, Ran},
    overlay::{Changes, Observed, Overlay, ReadLog, StateKey, changes_of},
};
use crate::state::StateReader;

/// What pre-executing a transaction revealed.
#[derive(Debug, Clone)]
pub struct Inference {
    /// Every key it read (not written) and every key it wrote (written).
    pub(crate) keys: Vec<Access>,
    /// The environment it ran in.
    pub(crate) env: BlockEnv,
    /// What it read, and the values it saw.
    pub(crate) reads: ReadLog,
    /// Its result and fee (the fee is credited to the beneficiary by the block; the receipt is
    /// built if a block reuses the result).
    pub(crate) ran: Ran,
    /// Its state changes.
    pub(crate) changes: Changes,
    /// Whether the sender's nonce was the transaction's: only then is the result reusable.
    pub(crate) reusable: bool,
}

impl Inference {
    /// Number of keys the transaction touches.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// Whether pre-executing `tx` can tell more than its sender and recipient already do: plain
/// value transfers (no calldata, the bare transfer gas) touch exactly those two accounts; a
/// recipient with code is caught by execution-time validation.
pub fn worth_inferring(tx: &TxEnvelope) -> bool {
    super::access::may_run_code(tx)
}

/// The EVM pre-execution runs on: it owns its overlay, so one can be reused for many
/// transactions.
type InferEvm<'a> = revm::handler::MainnetEvm<revm::handler::MainnetContext<Overlay<'a>>>;

fn infer_evm<'a>(
    state: &'a dyn StateReader,
    codes: &'a Arc<CodeCache>,
    env: &BlockEnv,
) -> InferEvm<'a> {
    let mut cfg = evm::cfg_env(env);
    // Later transactions of a sender run ahead of its state nonce: still learn their keys.
    cfg.disable_nonce_check = true;
    Context::mainnet()
        .with_cfg(cfg)
        .with_block(evm::block_env(env))
        .with_db(Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork)))
        .build_mainnet()
}

/// Pre-executes `tx` on `state` in the block environment `env`.
///
/// Returns `None` when the transaction is not executable there (its result would say
/// nothing), or the state cannot be read.
pub fn infer(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    tx: &Recovered<TxEnvelope>,
) -> Option<Inference> {
    infer_with(&mut infer_evm(state, codes, env), env, &[], tx)
}

/// Pre-executes many transactions on all cores, each against `state` alone (not after one
/// another), reusing one EVM per worker thread.
pub fn infer_batch<'t>(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: impl IndexedParallelIterator<Item = &'t Recovered<TxEnvelope>>,
) -> Vec<Option<Inference>> {
    txs.map_init(|| infer_evm(state, codes, env), |vm, tx| infer_with(vm, env, &[], tx)).collect()
}

/// One sender's transactions to pre-execute one after another, in nonce order, each on top of
/// the changes of those before it: first `before` (pre-executions of the sender's pooled
/// transactions just below `txs`), then the earlier ones of `txs`.
#[derive(Debug)]
pub struct Chain<'t> {
    /// Pre-executions the chain starts from, in nonce order; each one chains onto the state
    /// and environment being pre-executed against (see [`Inference::chains_onto`]).
    pub before: Vec<Arc<Inference>>,
    /// The sender's transactions, consecutive nonces following `before`'s.
    pub txs: Vec<&'t Recovered<TxEnvelope>>,
}

/// Pre-executes each chain's transactions in order (chains in parallel on all cores), each
/// transaction on `state` plus the changes of the chain's transactions before it. A chain is
/// cut where a transaction cannot run or did not see its own nonce: the rest of it run on
/// `state` alone (their results only tell their keys). Each link re-applies the changes of
/// all those before it: the caller keeps chains short.
pub fn infer_chains(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    chains: &[Chain<'_>],
) -> Vec<Vec<Option<Arc<Inference>>>> {
    chains
        .par_iter()
        .map_init(
            || infer_evm(state, codes, env),
            |vm, chain| {
                let mut before = chain.before.clone();
                chain
                    .txs
                    .iter()
                    .map(|tx| {
                        let inference = infer_with(vm, env, &before, tx).map(Arc::new);
                        match &inference {
                            Some(done) if done.reusable => before.push(done.clone()),
                            _ => before.clear(),
                        }
                        inference
                    })
                    .collect()
            },
        )
        .collect()
}

impl Inference {
    /// Whether a later transaction of the same sender, pre-executed in `env`, can start from
    /// this one's changes: it saw its own nonce (so it ran on its predecessors' changes, or
    /// had none) in that same environment.
    pub fn chains_onto(&self, env: &BlockEnv) -> bool {
        self.reusable && self.env == *env
    }
}

fn infer_with(
    vm: &mut InferEvm<'_>,
    env: &BlockEnv,
    before: &[Arc<Inference>],
    tx: &Recovered<TxEnvelope>,
) -> Option<Inference> {
    vm.db_mut().reset();
    for earlier in before {
        vm.db_mut().apply_changes(&earlier.changes).ok()?;
    }
    vm.db_mut().start_log();
    let result = transact_without_reward::<_, EVMError<DbError>>(vm, evm::tx_env(tx));
    let reads = vm.db_mut().take_log();
    let (outcome, state) = result.ok()?;
    let sender = tx.signer();
    // Run with the nonce check off, so only a run that saw the sender at the transaction's
    // own nonce is what the block would run (and never at the last nonce, which the block
    // refuses: the sender's nonce cannot be bumped past it).
    let reusable = tx.nonce() != u64::MAX
        && reads.iter().any(|(key, seen)| {
            *key == StateKey::Account(sender)
                && matches!(seen, Observed::Account(Some(a)) if a.nonce == tx.nonce())
        });
    let mut keys: Vec<Access> = reads.iter().map(|(key, _)| (*key, false)).collect();
    for (address, account) in &state {
        if !account.is_touched() {
            continue;
        }
        let original = account.original_info();
        if account.is_created()
            || account.is_selfdestructed()
            || original.balance != account.info.balance
            || original.nonce != account.info.nonce
            || original.code_hash != account.info.code_hash
        {
            keys.push((StateKey::Account(*address), true));
        }
        for (slot, value) in &account.storage {
            if value.is_changed() {
                keys.push((StateKey::Slot(*address, *slot), true));
            }
        }
    }
    let ran = outcome::ran(tx, env, outcome);
    let changes = changes_of(&state, evm::spec_id(env.hardfork));
    Some(Inference { keys, env: env.clone(), reads, ran, changes, reusable })
}
