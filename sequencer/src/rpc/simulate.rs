//! `eth_simulateV1`: a chain of made-up blocks on top of a real one, each with its own block
//! and state overrides and a list of calls, answered as the blocks (with hashes, roots and
//! receipts-derived fields) and each call's result. Wallets use it to preview what a
//! sequence of transactions would do; viem's `simulateCalls` and `simulateBlocks` call it.
//!
//! Follows geth: block numbers and timestamps must increase (a gap in numbers is filled with
//! empty blocks), at most 256 blocks past the base, state overrides apply before a block's
//! calls and stay for the blocks after it, and without `validation` the base fee is zero
//! unless overridden. One difference: a block's default timestamp is its parent's plus one
//! second (this chain's sub-second blocks share or advance by seconds), where geth adds
//! twelve. The whole request's calls share one gas budget, the node's `--rpc.gas-cap`, and
//! one deadline (5 s, geth's `--rpc.evmtimeout`); its state roots are hashed on a thread of
//! their own, within a budget of changed keys, so that no request can take the cores the
//! producer seals blocks with.
//! Execution is in [`executor::simulate_block`]; this module plans the blocks, carries the
//! state between them and seals their headers.

use std::{collections::BTreeMap, sync::Arc, time::Instant};

use alloy::{
    consensus::{Header, proofs},
    eips::{BlockId, BlockNumberOrTag},
    rpc::types::{
        Block, BlockOverrides, Log, TransactionRequest,
        simulate::{MAX_SIMULATE_BLOCKS, SimBlock, SimCallResult, SimulateError, SimulatePayload},
        state::StateOverride,
    },
};
use alloy_primitives::{B256, Bytes, U256};

use super::{
    convert,
    error::{RpcError, RpcResult},
    eth::EthRpc,
    overrides::override_diff,
};
use crate::{
    builder::{logs_bloom, transactions_root},
    chain::{BlockAttributes, PendingHeader},
    executor::{self, BlockEnv, CodeCache, SIMULATION_TIMEOUT, SimOptions},
    state::{AccountInfo, DiffState, StateDiff, StateError, StateReader},
    store::StoredBlock,
};

/// How far a block's default timestamp is after its parent's, in seconds.
const TIMESTAMP_INCREMENT: u64 = 1;

/// Most changed keys the state roots of one request may hash, summed over its blocks (each
/// root covers every change since the base block): about a second of hashing on two cores.
const MAX_ROOT_KEYS: usize = 250_000;

/// The threads simulations hash their state roots on: one, apart from rayon's global pool, so
/// that requests cannot crowd out the producer sealing real blocks there.
fn root_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "simulate-root".into())
            .build()
            .expect("a one-thread pool starts")
    })
}

/// A block of the simulation, its number and timestamp settled.
struct PlannedBlock {
    number: u64,
    timestamp: u64,
    overrides: BlockOverrides,
    state_overrides: Option<StateOverride>,
    calls: Vec<TransactionRequest>,
}

impl EthRpc {
    /// The body of `eth_simulateV1`.
    pub(crate) fn simulate_blocking(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<alloy::rpc::types::simulate::SimulatedBlock<Block>>> {
        if payload.block_state_calls.is_empty() {
            return Err(RpcError::InvalidParams("empty input".into()));
        }
        let block = block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
        let (base_state, number) = self.state(Some(block))?;
        let base = self.header(number)?.ok_or(RpcError::HeaderNotFound)?;
        let planned = plan(&base, payload.block_state_calls)?;
        let deadline = Instant::now() + SIMULATION_TIMEOUT;
        let options = SimOptions {
            validation: payload.validation,
            trace_transfers: payload.trace_transfers,
            deadline: Some(deadline),
        };
        // The state-root work a request may cause, in changed keys hashed: each changed block's
        // root covers every change since the base.
        let mut root_budget = MAX_ROOT_KEYS;
        let spec = &self.node.spec;
        // Code that callers make up (overrides, creations) stays in this request's own cache.
        let codes = Arc::new(CodeCache::default());
        let mut gas_budget = self.node.config.rpc.gas_cap;
        let mut changes = StateDiff::default();
        let mut hashes = BTreeMap::new();
        let (mut parent, mut parent_hash) = (base.clone(), base.hash_slow());
        let mut out = Vec::with_capacity(planned.len());
        for block in planned {
            let overrides = &block.overrides;
            if Instant::now() > deadline {
                return Err(executor::SimulateError::Timeout(SIMULATION_TIMEOUT).into());
            }
            if overrides.blob_base_fee.is_some() || overrides.beacon_root.is_some() {
                return Err(RpcError::InvalidParams(
                    "blobBaseFee and beaconRoot overrides are not supported by this chain".into(),
                ));
            }
            for (number, hash) in overrides.block_hash.iter().flatten() {
                hashes.insert(*number, *hash);
            }
            let overridden = block.state_overrides.as_ref().is_some_and(|o| !o.is_empty());
            if let Some(state_overrides) = block.state_overrides {
                let diff =
                    override_diff(&DiffState::new(base_state.as_ref(), &changes), state_overrides)?;
                changes.extend(diff);
            }
            let base_fee = match overrides.base_fee {
                // Below 2^63, so the base fee of the block after it (at most 9/8 of it) fits.
                Some(fee) => {
                    u64::try_from(fee).ok().filter(|fee| *fee < 1 << 63).ok_or_else(|| {
                        RpcError::InvalidParams(format!("baseFeePerGas {fee} exceeds 2^63"))
                    })?
                }
                None if options.validation => spec.next_base_fee(&parent),
                None => 0,
            };
            let pending = PendingHeader {
                parent_hash,
                attributes: BlockAttributes {
                    number: block.number,
                    timestamp: block.timestamp,
                    beneficiary: overrides.coinbase.unwrap_or(parent.beneficiary),
                    extra_data: Bytes::new(),
                },
                gas_limit: overrides.gas_limit.unwrap_or(parent.gas_limit),
                base_fee,
                prevrandao: overrides.random.unwrap_or(parent_hash),
            };
            let mut env = BlockEnv::for_pending(spec, &pending);
            env.difficulty = overrides.difficulty.unwrap_or_default();
            let state = SimState {
                inner: DiffState::new(base_state.as_ref(), &changes),
                base: number,
                hashes: &hashes,
            };
            let execution = executor::simulate_block(
                &state,
                &codes,
                &env,
                &block.calls,
                options,
                &mut gas_budget,
            )?;
            // The root over all changes so far; a block that changed nothing (a gap filler,
            // calls that only read) keeps its parent's.
            let changed = !execution.diff.accounts.is_empty() || overridden;
            changes.extend(execution.diff);
            let state_root = if changed {
                root_budget = root_budget.checked_sub(changes.touched_keys()).ok_or_else(|| {
                    RpcError::Simulate {
                        code: CLIENT_LIMIT_EXCEEDED,
                        message: format!(
                            "the state roots of these blocks would hash more than {MAX_ROOT_KEYS} changed keys; simulate fewer blocks or smaller overrides"
                        ),
                    }
                })?;
                root_pool().install(|| self.node.store.prepare(&base_state, &changes))?.state_root
            } else {
                parent.state_root
            };
            let transactions: Vec<_> = execution.calls.iter().map(|c| c.tx.clone()).collect();
            let mut header = pending.seal(
                spec,
                state_root,
                transactions_root(&transactions),
                proofs::calculate_receipt_root(&execution.receipts),
                logs_bloom(&execution.receipts),
                execution.gas_used,
            );
            header.difficulty = env.difficulty;
            let hash = header.hash_slow();
            hashes.insert(header.number, hash);
            let calls = call_results(&header, hash, &execution.calls);
            let stored = StoredBlock { header, hash, transactions, receipts: execution.receipts };
            out.push(alloy::rpc::types::simulate::SimulatedBlock {
                inner: convert::block(&stored, payload.return_full_transactions),
                calls,
            });
            (parent, parent_hash) = (stored.header, hash);
        }
        Ok(out)
    }
}

/// Settles each block's number and timestamp (defaults, order, the 256-block limit) and fills
/// gaps in the numbers with empty blocks.
fn plan(base: &Header, blocks: Vec<SimBlock>) -> RpcResult<Vec<PlannedBlock>> {
    let mut planned = Vec::with_capacity(blocks.len());
    let (mut number, mut timestamp) = (base.number, base.timestamp);
    for block in blocks {
        let overrides = block.block_overrides.unwrap_or_default();
        let next = match overrides.number {
            Some(n) => u64::try_from(n).map_err(|_| RpcError::Simulate {
                code: BLOCK_NUMBER_INVALID,
                message: format!("block number {n} exceeds 64 bits"),
            })?,
            None => number + 1,
        };
        if next <= number {
            return Err(RpcError::Simulate {
                code: BLOCK_NUMBER_INVALID,
                message: format!("block numbers must be in order: {next} <= {number}"),
            });
        }
        if next - base.number > MAX_SIMULATE_BLOCKS {
            return Err(RpcError::Simulate {
                code: CLIENT_LIMIT_EXCEEDED,
                message: "too many blocks".into(),
            });
        }
        let step = |timestamp: u64| {
            timestamp.checked_add(TIMESTAMP_INCREMENT).ok_or_else(|| RpcError::Simulate {
                code: BLOCK_TIMESTAMP_INVALID,
                message: format!("block timestamp {timestamp} leaves no room for a later block"),
            })
        };
        for gap in number + 1..next {
            timestamp = step(timestamp)?;
            planned.push(PlannedBlock {
                number: gap,
                timestamp,
                overrides: BlockOverrides::default(),
                state_overrides: None,
                calls: Vec::new(),
            });
        }
        let time = match overrides.time {
            Some(time) => time,
            None => step(timestamp)?,
        };
        if time <= timestamp {
            return Err(RpcError::Simulate {
                code: BLOCK_TIMESTAMP_INVALID,
                message: format!("block timestamps must be in order: {time} <= {timestamp}"),
            });
        }
        (number, timestamp) = (next, time);
        planned.push(PlannedBlock {
            number,
            timestamp,
            overrides,
            state_overrides: block.state_overrides,
            calls: block.calls,
        });
    }
    Ok(planned)
}

/// geth's code for block numbers out of order.
pub(crate) const BLOCK_NUMBER_INVALID: i32 = -38020;
/// geth's code for block timestamps out of order.
pub(crate) const BLOCK_TIMESTAMP_INVALID: i32 = -38021;
/// geth's code for a simulation beyond the node's limits.
pub(crate) const CLIENT_LIMIT_EXCEEDED: i32 = -38026;

/// Each call's result as the caller sees it, its logs placed in the sealed block.
fn call_results(
    header: &Header,
    hash: B256,
    calls: &[executor::SimulatedCall],
) -> Vec<SimCallResult> {
    let mut log_index = 0u64;
    calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let logs = call
                .logs
                .iter()
                .map(|inner| {
                    log_index += 1;
                    Log {
                        inner: inner.clone(),
                        block_hash: Some(hash),
                        block_number: Some(header.number),
                        block_timestamp: Some(header.timestamp),
                        transaction_hash: Some(*call.tx.tx_hash()),
                        transaction_index: Some(index as u64),
                        log_index: Some(log_index - 1),
                        removed: false,
                    }
                })
                .collect();
            let error = call.error.as_ref().map(|message| {
                let reverted = call.result.status == executor::TxStatus::Revert;
                SimulateError {
                    code: if reverted {
                        SimulateError::EXECUTION_REVERTED_CODE
                    } else {
                        SimulateError::VM_EXECUTION_ERROR_CODE
                    },
                    message: if reverted {
                        RpcError::Reverted(call.result.output.clone()).to_string()
                    } else {
                        message.clone()
                    },
                    data: reverted.then(|| call.result.output.clone()),
                }
            });
            SimCallResult {
                return_data: call.result.output.clone(),
                logs,
                gas_used: call.result.gas_used,
                max_used_gas: None,
                status: call.result.status == executor::TxStatus::Success,
                error,
            }
        })
        .collect()
}

/// The state a simulated block runs on: the base block's state with the simulation's changes
/// so far, and the hashes of the simulated blocks (and of overridden ones) for `BLOCKHASH`.
#[derive(Debug)]
struct SimState<'a> {
    inner: DiffState<'a>,
    base: u64,
    hashes: &'a BTreeMap<u64, B256>,
}

impl StateReader for SimState<'_> {
    fn account(
        &self,
        address: alloy_primitives::Address,
    ) -> Result<Option<AccountInfo>, StateError> {
        self.inner.account(address)
    }

    fn storage(&self, address: alloy_primitives::Address, slot: U256) -> Result<U256, StateError> {
        self.inner.storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        self.inner.code(code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        if let Some(hash) = self.hashes.get(&number) {
            return Ok(Some(*hash));
        }
        if number <= self.base { self.inner.block_hash(number) } else { Ok(None) }
    }
}
