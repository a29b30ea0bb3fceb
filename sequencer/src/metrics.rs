//! Node metrics in Prometheus' text format, served on `--metrics ADDR` when enabled.
//!
//! The figures are the ones the per-block log prints, accumulated: counters of blocks,
//! transactions, gas and executor work, and the latest block's timings. Base units only
//! (seconds, bytes, totals); rates are the scraper's business.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{builder::BuiltBlock, node::Node};

/// `elapsed` in milliseconds to two decimals, for log fields: `ms=0.88`, not
/// `ms=0.8795689999999999`.
pub(crate) fn log_ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e5).round() / 1e2
}

/// Counters and gauges of the node.
#[derive(Debug, Default)]
pub struct Metrics {
    blocks_total: AtomicU64,
    transactions_total: AtomicU64,
    gas_total: AtomicU64,
    skipped_transactions_total: AtomicU64,
    exec_groups_total: AtomicU64,
    exec_conflicts_total: AtomicU64,
    exec_reexecuted_total: AtomicU64,
    exec_reused_total: AtomicU64,
    exec_deferred_total: AtomicU64,
    exec_sequential_fallbacks_total: AtomicU64,
    block_exec_seconds_total_micros: AtomicU64,
    block_parallel_seconds_total_micros: AtomicU64,
    block_root_seconds_total_micros: AtomicU64,
    last_block_exec_micros: AtomicU64,
    last_block_groups: AtomicU64,
    last_block_largest_group: AtomicU64,
}

/// Totals since start: what was sealed and the time it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SealingTotals {
    /// Blocks sealed.
    pub blocks: u64,
    /// Transactions included.
    pub transactions: u64,
    /// Gas used.
    pub gas: u64,
    /// Time executing blocks.
    pub exec: std::time::Duration,
    /// Time computing state roots.
    pub root: std::time::Duration,
    /// Transactions whose result from pre-execution at admission was reused.
    pub reused: u64,
}

impl Metrics {
    /// What was sealed so far and how long execution and state roots took.
    pub fn sealing_totals(&self) -> SealingTotals {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SealingTotals {
            blocks: get(&self.blocks_total),
            transactions: get(&self.transactions_total),
            gas: get(&self.gas_total),
            exec: std::time::Duration::from_micros(get(&self.block_exec_seconds_total_micros)),
            root: std::time::Duration::from_micros(get(&self.block_root_seconds_total_micros)),
            reused: get(&self.exec_reused_total),
        }
    }

    /// Records a sealed block.
    pub fn record_block(&self, built: &BuiltBlock) {
        let add = |counter: &AtomicU64, value: u64| counter.fetch_add(value, Ordering::Relaxed);
        add(&self.blocks_total, 1);
        add(&self.transactions_total, built.block.transactions.len() as u64);
        add(&self.gas_total, built.block.header.gas_used);
        add(&self.skipped_transactions_total, built.execution.skipped.len() as u64);
        add(&self.exec_groups_total, built.stats.groups as u64);
        add(&self.exec_conflicts_total, built.stats.conflicts as u64);
        add(&self.exec_reexecuted_total, built.stats.reexecuted as u64);
        add(&self.exec_reused_total, built.stats.reused as u64);
        add(&self.exec_deferred_total, built.stats.deferred as u64);
        add(&self.exec_sequential_fallbacks_total, u64::from(built.stats.sequential_fallback));
        add(&self.block_exec_seconds_total_micros, built.exec_time.as_micros() as u64);
        add(
            &self.block_parallel_seconds_total_micros,
            built.stats.parallel_time.as_micros() as u64,
        );
        add(&self.block_root_seconds_total_micros, built.root_time.as_micros() as u64);
        self.last_block_exec_micros.store(built.exec_time.as_micros() as u64, Ordering::Relaxed);
        self.last_block_groups.store(built.stats.groups as u64, Ordering::Relaxed);
        self.last_block_largest_group.store(built.stats.largest_group as u64, Ordering::Relaxed);
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self, head: u64, pool: (usize, usize)) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let seconds = |c: &AtomicU64| get(c) as f64 / 1e6;
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric(
            "sequencer_head_block",
            "gauge",
            "Number of the newest sealed block.",
            head.to_string(),
        );
        metric(
            "sequencer_blocks_total",
            "counter",
            "Blocks sealed.",
            get(&self.blocks_total).to_string(),
        );
        metric(
            "sequencer_transactions_total",
            "counter",
            "Transactions included.",
            get(&self.transactions_total).to_string(),
        );
        metric(
            "sequencer_gas_total",
            "counter",
            "Gas used by included transactions.",
            get(&self.gas_total).to_string(),
        );
        metric(
            "sequencer_skipped_transactions_total",
            "counter",
            "Candidate transactions left out of blocks.",
            get(&self.skipped_transactions_total).to_string(),
        );
        metric(
            "sequencer_txpool_pending",
            "gauge",
            "Executable transactions in the pool.",
            pool.0.to_string(),
        );
        metric(
            "sequencer_txpool_queued",
            "gauge",
            "Nonce-gapped transactions in the pool.",
            pool.1.to_string(),
        );
        metric(
            "sequencer_exec_groups_total",
            "counter",
            "Independent groups the parallel executor formed.",
            get(&self.exec_groups_total).to_string(),
        );
        metric(
            "sequencer_exec_conflicts_total",
            "counter",
            "Conflicting groups (or stale transactions) found by validation and repaired.",
            get(&self.exec_conflicts_total).to_string(),
        );
        metric(
            "sequencer_exec_reexecuted_total",
            "counter",
            "Transactions executed again to repair conflicts.",
            get(&self.exec_reexecuted_total).to_string(),
        );
        metric(
            "sequencer_exec_reused_total",
            "counter",
            "Transactions whose result from pre-execution at admission was reused.",
            get(&self.exec_reused_total).to_string(),
        );
        metric(
            "sequencer_exec_deferred_total",
            "counter",
            "Transactions left out of the parallel phase because calls to their contract kept colliding there, and run once when conflicts were settled.",
            get(&self.exec_deferred_total).to_string(),
        );
        metric(
            "sequencer_exec_sequential_fallbacks_total",
            "counter",
            "Blocks executed sequentially because parallelism could not pay.",
            get(&self.exec_sequential_fallbacks_total).to_string(),
        );
        metric(
            "sequencer_block_exec_seconds_total",
            "counter",
            "Time executing blocks.",
            seconds(&self.block_exec_seconds_total_micros).to_string(),
        );
        metric(
            "sequencer_block_parallel_seconds_total",
            "counter",
            "Time in the concurrent phase of parallel execution.",
            seconds(&self.block_parallel_seconds_total_micros).to_string(),
        );
        metric(
            "sequencer_block_state_root_seconds_total",
            "counter",
            "Time computing state roots.",
            seconds(&self.block_root_seconds_total_micros).to_string(),
        );
        metric(
            "sequencer_last_block_exec_seconds",
            "gauge",
            "Execution time of the newest block.",
            seconds(&self.last_block_exec_micros).to_string(),
        );
        metric(
            "sequencer_last_block_groups",
            "gauge",
            "Groups of the newest block.",
            get(&self.last_block_groups).to_string(),
        );
        metric(
            "sequencer_last_block_largest_group",
            "gauge",
            "Transactions in the largest group of the newest block.",
            get(&self.last_block_largest_group).to_string(),
        );
        out
    }
}

/// Serves `GET /metrics` (any path, in fact) on `addr` until the node stops.
pub(crate) async fn serve(
    node: std::sync::Weak<Node>,
    listener: tokio::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((mut stream, _)) = accepted else { continue };
        let Some(node) = node.upgrade() else { return };
        let body = node.metrics.render(node.store.head_number(), node.pool.lock().counts());
        drop(node);
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Binds the metrics listener.
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::log_ms;

    #[test]
    fn log_durations_are_milliseconds_to_two_decimals() {
        assert_eq!(log_ms(Duration::from_nanos(879_569)).to_string(), "0.88");
        assert_eq!(log_ms(Duration::from_nanos(36_000)).to_string(), "0.04");
        assert_eq!(log_ms(Duration::from_micros(242_256)).to_string(), "242.26");
        assert_eq!(log_ms(Duration::ZERO).to_string(), "0");
    }
}
