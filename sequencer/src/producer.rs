//! The block producer: seals a block every block time (or as soon as transactions arrive),
//! commits it durably, then publishes it.
//!
//! Architecture invariant: a block is committed to the store before anything (RPC readers,
//! subscriptions, the batcher) learns of it, so no client can see a block a crash takes back.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use tokio::sync::watch;
use tracing::{error, info};

use crate::{
    builder::{BuildError, Parent, build_block},
    chain::MAX_BLOCK_TX_BYTES,
    executor::ExecTx,
    metrics::log_ms,
    node::{BlockTime, Node},
    txpool::SenderUpdate,
};

/// Runs until `stop` turns true.
pub(crate) async fn run(node: Arc<Node>, mut stop: watch::Receiver<bool>) {
    let mut next_tick = tokio::time::Instant::now();
    let mut last_included = 0;
    loop {
        match node.config.block_time {
            BlockTime::Interval(interval) => {
                next_tick += interval;
                tokio::select! {
                    () = tokio::time::sleep_until(next_tick) => {}
                    _ = stop.changed() => return,
                }
                // A block that took longer than the interval is not followed by a burst.
                next_tick = next_tick.max(tokio::time::Instant::now() - interval);
            }
            BlockTime::OnDemand => {
                // Build again at once while the last block took transactions and more wait;
                // otherwise (nothing pending, or nothing includable) wait for a new arrival.
                let has_pending = node.pool.lock().counts().0 > 0;
                if !has_pending || last_included == 0 {
                    tokio::select! {
                        () = node.tx_arrived.notified() => {}
                        _ = stop.changed() => return,
                    }
                    // The wake-up of a transaction an earlier block already took: nothing to
                    // seal, and an empty block would only race whoever waits for the head.
                    if node.pool.lock().counts().0 == 0 {
                        last_included = 0;
                        continue;
                    }
                }
            }
        }
        if *stop.borrow() {
            return;
        }
        let worker = node.clone();
        match tokio::task::spawn_blocking(move || produce_block(&worker)).await {
            Ok(Ok(included)) => last_included = included,
            Ok(Err(e)) => {
                error!(target: "sequencer::producer", error = %e, "block production failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        }
    }
}

/// Builds, commits and publishes the next block; returns how many transactions it included.
pub(crate) fn produce_block(node: &Node) -> Result<usize, BuildError> {
    let started = Instant::now();
    let head = node.store.head();
    let (parent, parent_hash) = (&head.0, head.1);
    // The block planned when the parent was committed: admission pre-executed transactions in
    // its environment, so their results can be reused.
    let next = node.plan_child_of(parent.number)?;
    let parent_state = next.parent_state.clone();
    let attributes = next.attributes.clone();
    let candidates = node.pool.lock().best(
        next.env.base_fee,
        node.config.max_block_txs,
        node.spec.gas_limit.saturating_mul(2),
        node.max_block_bytes.load(Ordering::Acquire).min(MAX_BLOCK_TX_BYTES),
    );
    let txs: Vec<ExecTx> =
        candidates.iter().map(|p| ExecTx { tx: p.tx.clone(), hint: p.inference.clone() }).collect();
    let parent = Parent { header: parent, hash: parent_hash, state: &parent_state };
    let built =
        build_block(&node.spec, &node.store, parent, attributes, &txs, node.executor.as_ref())?;
    node.store.commit_block(&built.block, &built.state)?;

    let drop: Vec<_> = built
        .execution
        .skipped
        .iter()
        .filter(|s| !s.reason.is_transient())
        .map(|s| candidates[s.index].hash)
        .collect();
    let senders = built
        .execution
        .diff
        .accounts
        .iter()
        .filter_map(|(address, diff)| {
            diff.info.map(|info| SenderUpdate {
                sender: *address,
                nonce: info.nonce,
                balance: info.balance,
            })
        })
        .collect();
    let header = &built.block.header;
    info!(
        target: "sequencer::producer",
        number = header.number,
        txs = built.block.transactions.len(),
        gas = header.gas_used,
        skipped = built.execution.skipped.len(),
        groups = built.stats.groups,
        largest_group = built.stats.largest_group,
        conflicts_repaired = built.stats.conflicts,
        deferred = built.stats.deferred,
        reused = built.stats.reused,
        sequential = built.stats.sequential_fallback,
        exec_ms = log_ms(built.exec_time),
        parallel_ms = log_ms(built.stats.parallel_time),
        root_ms = log_ms(built.root_time),
        ms = log_ms(started.elapsed()),
        hash = %built.block.hash,
        "sealed block"
    );
    let included = built.block.transactions.len();
    node.metrics.record_block(&built);
    node.on_committed(Arc::new(built.block), senders, &drop);
    Ok(included)
}
