//! Block execution: one interface ([`BlockExecutor`]), a sequential reference implementation and
//! a parallel one, with the same inputs and the same output type so tests compare them with
//! `assert_eq!`.
//!
//! The API is ours, not revm's: a block environment with our [`Hardfork`], alloy transactions
//! with their recovered senders, and results as receipts plus a [`StateDiff`]. revm stays inside
//! this module and can be swapped without touching callers.
//!
//! Inclusion rule (shared by every implementation, and the same as geth's): transactions are
//! taken in the given order; one whose gas limit exceeds the block's remaining gas, or that is
//! invalid against the state left by the transactions before it (nonce, balance, fee cap below
//! the base fee), is skipped and reported, and the block goes on with the next.

mod access;
mod call;
mod collisions;
mod evm;
mod handler;
mod infer;
mod outcome;
mod overlay;
mod parallel;
mod sequential;
mod simulate;
mod trace;

use alloy::consensus::{Header, ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, Log, U256};

pub use call::{CallError, call, create_access_list, estimate_gas};
pub use evm::CodeCache;
pub use infer::{Chain, Inference, infer, infer_batch, infer_chains, worth_inferring};
pub use parallel::{ParallelConfig, ParallelExecutor};
pub use sequential::SequentialExecutor;
pub use simulate::{
    SIMULATION_TIMEOUT, SimOptions, SimulateError, SimulatedCall, SimulatedExecution,
    TRANSFER_LOG_ADDRESS, TRANSFER_TOPIC, simulate_block,
};
pub use trace::{
    TraceBounds, TraceError, Tracer, TxTrace, replay_transactions, trace_call, trace_transactions,
};

use crate::{
    chain::{ChainSpec, Hardfork, PendingHeader},
    state::{StateDiff, StateError, StateReader},
};

/// The intrinsic gas of a plain value transfer, the cheapest transaction: a call without
/// calldata given more expects the recipient's code to run, and a budget below it runs nothing.
pub(crate) const TRANSFER_GAS: u64 = 21_000;

/// The environment every transaction of a block sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEnv {
    /// Block number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Receiver of priority fees (`COINBASE`).
    pub beneficiary: Address,
    /// Block gas limit.
    pub gas_limit: u64,
    /// EIP-1559 base fee.
    pub base_fee: u64,
    /// `PREVRANDAO` (from Paris on).
    pub prevrandao: B256,
    /// `DIFFICULTY` (before Paris).
    pub difficulty: U256,
    /// Chain id.
    pub chain_id: u64,
    /// The rules the block runs under.
    pub hardfork: Hardfork,
    /// EIP-4844 excess blob gas (from Cancun on; zero on this chain).
    pub excess_blob_gas: u64,
}

impl BlockEnv {
    /// The environment of a block this chain is about to build.
    pub fn for_pending(spec: &ChainSpec, pending: &PendingHeader) -> Self {
        Self {
            number: pending.attributes.number,
            timestamp: pending.attributes.timestamp,
            beneficiary: pending.attributes.beneficiary,
            gas_limit: pending.gas_limit,
            base_fee: pending.base_fee,
            prevrandao: pending.prevrandao,
            difficulty: U256::ZERO,
            chain_id: spec.chain_id,
            hardfork: spec.hardfork,
            excess_blob_gas: 0,
        }
    }

    /// The environment of an existing block with header `header` under `hardfork`.
    pub fn from_header(header: &Header, chain_id: u64, hardfork: Hardfork) -> Self {
        Self {
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or(0),
            prevrandao: header.mix_hash,
            difficulty: header.difficulty,
            chain_id,
            hardfork,
            excess_blob_gas: header.excess_blob_gas.unwrap_or(0),
        }
    }
}

/// A transaction to execute: the transaction, its sender, and what is known about its accesses.
#[derive(Debug, Clone)]
pub struct ExecTx {
    /// The transaction and its recovered sender.
    pub tx: Recovered<TxEnvelope>,
    /// Its pre-execution at admission, if the txpool ran one.
    pub hint: Option<std::sync::Arc<Inference>>,
}

impl SkipReason {
    /// Whether the transaction may fit a later block unchanged.
    pub const fn is_transient(&self) -> bool {
        !matches!(self, Self::Invalid(_))
    }
}

impl From<Recovered<TxEnvelope>> for ExecTx {
    fn from(tx: Recovered<TxEnvelope>) -> Self {
        Self { tx, hint: None }
    }
}

/// How an included transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// Ran to completion.
    Success,
    /// Reverted (`REVERT`); state changes undone, gas charged.
    Revert,
    /// Halted (out of gas, invalid opcode, …); all gas charged.
    Halt(String),
}

/// The result of one included transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxResult {
    /// How it ended.
    pub status: TxStatus,
    /// Gas used (after refunds and the EIP-7623 floor).
    pub gas_used: u64,
    /// Logs emitted (empty unless it succeeded).
    pub logs: Vec<Log>,
    /// Return data, or revert data.
    pub output: Bytes,
    /// The created contract, for a successful creation.
    pub contract_address: Option<Address>,
}

/// Why a transaction was left out of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Its gas limit exceeds the gas left in the block.
    GasLimitReached,
    /// Its nonce is ahead of the sender's (an earlier transaction of the sender was left out).
    NonceGap,
    /// Its fee cap is below the block's base fee.
    FeeCapBelowBaseFee,
    /// It can never be included as it is (nonce too low, insufficient funds, …).
    Invalid(String),
}

/// A transaction left out of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTx {
    /// Its index in the input.
    pub index: usize,
    /// Why.
    pub reason: SkipReason,
}

/// Everything a block's execution produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockExecution {
    /// Indices (into the input) of the included transactions, in block order.
    pub included: Vec<usize>,
    /// The transactions left out, and why.
    pub skipped: Vec<SkippedTx>,
    /// One result per included transaction.
    pub results: Vec<TxResult>,
    /// One receipt per included transaction (cumulative gas, logs, bloom).
    pub receipts: Vec<ReceiptEnvelope>,
    /// Total gas used.
    pub gas_used: u64,
    /// The state changes.
    pub diff: StateDiff,
}

impl BlockExecution {
    /// An empty execution with room for `txs` transactions (receipts are large: growing the
    /// vectors on a ten-thousand-transaction block would copy megabytes).
    pub fn with_capacity(txs: usize) -> Self {
        Self {
            included: Vec::with_capacity(txs),
            results: Vec::with_capacity(txs),
            receipts: Vec::with_capacity(txs),
            ..Default::default()
        }
    }
}

/// How an execution went, for logs and metrics (not part of the result).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Groups executed concurrently (1 for sequential execution).
    pub groups: usize,
    /// Transactions in the largest group.
    pub largest_group: usize,
    /// Conflicts found by validation and repaired: groups that read or wrote a key another
    /// group wrote (or, where validation goes transaction by transaction because the gas
    /// limit or the beneficiary is involved, transactions that read a stale value).
    pub conflicts: usize,
    /// Transactions executed again because of conflicts.
    pub reexecuted: usize,
    /// Transactions whose result from pre-execution at admission was reused: every value it
    /// read was unchanged when the block ran, so the EVM did not run them again.
    pub reused: usize,
    /// Transactions not run in the parallel phase because calls to their contract kept
    /// colliding there: executed once, when the conflicts were settled.
    pub deferred: usize,
    /// Whether the block fell back to sequential execution.
    pub sequential_fallback: bool,
    /// Time spent computing access sets and partitioning.
    pub partition_time: std::time::Duration,
    /// Time spent executing chunks concurrently.
    pub parallel_time: std::time::Duration,
    /// Time spent validating and merging (including re-executions).
    pub merge_time: std::time::Duration,
}

/// Errors that stop a block (as opposed to a skipped transaction).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Reading the parent state failed.
    #[error("state read failed during execution: {0}")]
    State(#[from] StateError),
    /// The block environment is unusable (a bug in the caller).
    #[error("invalid block environment: {0}")]
    Environment(String),
}

/// Executes a block's transactions against a parent state.
pub trait BlockExecutor: Send + Sync + std::fmt::Debug {
    /// A short name for logs (`sequential`, `parallel`).
    fn name(&self) -> &'static str;

    /// Executes `txs` in order on `state` under `env`, skipping those that do not fit or are
    /// invalid (see the module docs).
    ///
    /// # Errors
    /// Only when the state cannot be read or the environment is unusable; invalid transactions
    /// are skipped, not errors.
    fn execute(
        &self,
        state: &dyn StateReader,
        env: &BlockEnv,
        txs: &[ExecTx],
    ) -> Result<(BlockExecution, ExecStats), ExecError>;
}
