//! Building a block: execute transactions on the parent state, compute the state root from the
//! execution's diff, and seal an Ethereum header over the results.
//!
//! The block producer and the derivation tool both build blocks through [`build_block`], so a
//! verifier re-executing a batch follows exactly the code path that sealed it.

use std::time::{Duration, Instant};

use alloy::{
    consensus::{Header, ReceiptEnvelope, TxEnvelope, proofs, transaction::Recovered},
    eips::eip2718::Encodable2718,
};
use alloy_primitives::{B256, Bloom};
use alloy_trie::root::ordered_trie_root_with_encoder;

use crate::{
    chain::{BlockAttributes, ChainSpec, PendingHeader},
    executor::{BlockEnv, BlockExecution, BlockExecutor, ExecError, ExecStats, ExecTx},
    store::{PreparedState, StateView, Store, StoreError, StoredBlock},
};

/// A block ready to commit, with what produced it.
#[derive(Debug)]
pub struct BuiltBlock {
    /// The sealed block.
    pub block: StoredBlock,
    /// Its state writes and root, for [`Store::commit_block`].
    pub state: PreparedState,
    /// The execution (skipped transactions included), for the txpool and logs; its receipts
    /// have moved into `block`.
    pub execution: BlockExecution,
    /// Execution statistics.
    pub stats: ExecStats,
    /// Time spent executing.
    pub exec_time: Duration,
    /// Time spent computing the state root.
    pub root_time: Duration,
}

/// Errors building a block.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Execution failed (state unreadable).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The block a new block builds on.
#[derive(Debug, Clone, Copy)]
pub struct Parent<'a> {
    /// Its header.
    pub header: &'a Header,
    /// Its hash.
    pub hash: B256,
    /// The state after it.
    pub state: &'a StateView,
}

/// Builds the child of `parent` from `txs`, in order, leaving out those that do not fit or are
/// invalid.
///
/// # Errors
/// When the parent state cannot be read.
pub fn build_block(
    spec: &ChainSpec,
    store: &Store,
    parent: Parent<'_>,
    attributes: BlockAttributes,
    txs: &[ExecTx],
    executor: &dyn BlockExecutor,
) -> Result<BuiltBlock, BuildError> {
    let parent_state = parent.state;
    let pending = PendingHeader::child_of(spec, parent.header, parent.hash, attributes);
    let env = BlockEnv::for_pending(spec, &pending);
    let started = Instant::now();
    let (mut execution, stats) = executor.execute(parent_state, &env, txs)?;
    let exec_time = started.elapsed();
    // The state root and the two ordered roots are independent: hash them at once, so the
    // block's critical path is the longest of them, not their sum.
    let transactions: Vec<_> = execution.included.iter().map(|&i| txs[i].tx.clone()).collect();
    let (prepared, (transactions_root, receipts_root)) = rayon::join(
        || {
            let started = Instant::now();
            store.prepare(parent_state, &execution.diff).map(|state| (state, started.elapsed()))
        },
        || {
            rayon::join(
                || transactions_root(&transactions),
                || proofs::calculate_receipt_root(&execution.receipts),
            )
        },
    );
    let (state, root_time) = prepared?;
    let header = pending.seal(
        spec,
        state.state_root,
        transactions_root,
        receipts_root,
        logs_bloom(&execution.receipts),
        execution.gas_used,
    );
    let hash = header.hash_slow();
    let receipts = std::mem::take(&mut execution.receipts);
    let block = StoredBlock { header, hash, transactions, receipts };
    Ok(BuiltBlock { block, state, execution, stats, exec_time, root_time })
}

/// The header's transactions root: the ordered trie of the transactions' EIP-2718 encodings.
pub fn transactions_root(transactions: &[Recovered<TxEnvelope>]) -> B256 {
    ordered_trie_root_with_encoder(transactions, |tx, buf| tx.inner().encode_2718(buf))
}

/// The header's logs bloom: the union of the receipts' blooms.
pub fn logs_bloom(receipts: &[ReceiptEnvelope]) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for receipt in receipts {
        bloom.accrue_bloom(receipt.logs_bloom());
    }
    bloom
}
