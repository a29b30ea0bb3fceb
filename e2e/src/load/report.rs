//! What a load run measured, for people (a table) and machines (`--json`).

use std::{collections::HashMap, fmt::Write as _};

use serde::Serialize;

use super::plan::Workload;

/// The outcome of a load run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The endpoint.
    pub rpc_url: String,
    /// The workload.
    pub workload: Option<Workload>,
    /// Accounts the load was spread over.
    pub accounts: u64,
    /// Whether transactions declared access lists.
    pub access_lists: bool,
    /// Transactions sent.
    pub txs: u64,
    /// Transactions the endpoint accepted.
    pub accepted: u64,
    /// Transactions it refused.
    pub failed: u64,
    /// Refusals by error message.
    pub failures: HashMap<String, u64>,
    /// Accepted transactions seen in a block.
    pub included: u64,
    /// Accepted transactions never seen in a block (before the stall timeout).
    pub lost: u64,
    /// Blocks that included load transactions.
    pub blocks: u64,
    /// Gas those blocks used.
    pub gas: u64,
    /// First send to the last accepted answer, seconds.
    pub ingest_seconds: f64,
    /// First send to the last inclusion seen, seconds.
    pub inclusion_seconds: f64,
    /// Accepted transactions per second of sending.
    pub ingest_tps: f64,
    /// Included transactions per second, first send to last inclusion.
    pub inclusion_tps: f64,
    /// Gas per second over the same span.
    pub gas_per_second: f64,
    /// Whether transactions went with `eth_sendRawTransactionSync`.
    pub sync: bool,
    /// Synchronous sends answered with the endpoint's timeout (accepted, not yet included).
    pub sync_timeouts: u64,
    /// Median send-to-inclusion time, milliseconds (with `sync`: send to the receipt's
    /// answer).
    pub p50_ms: f64,
    /// 99th percentile of the same, milliseconds.
    pub p99_ms: f64,
    /// Cores of the machine running the load tool.
    pub cores: u64,
    /// `inclusion_tps` / `cores` (meaningful when the endpoint runs on the same machine).
    pub inclusion_tps_per_core: f64,
}

/// The `p`-th percentile of sorted `values` (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    /// The human-readable summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let workload =
            self.workload.map_or_else(|| "?".into(), |w| format!("{w:?}").to_lowercase());
        let _ = writeln!(
            out,
            "{} — workload {workload}{}, {} transactions over {} accounts",
            self.rpc_url,
            if self.access_lists { " with access lists" } else { "" },
            self.txs,
            self.accounts
        );
        let _ = writeln!(out, "  accepted        {} ({} refused)", self.accepted, self.failed);
        if self.sync_timeouts > 0 {
            let _ = writeln!(
                out,
                "    {} answered with the endpoint's timeout before inclusion",
                self.sync_timeouts
            );
        }
        let mut failures: Vec<_> = self.failures.iter().collect();
        failures.sort_by(|a, b| b.1.cmp(a.1));
        for (message, count) in failures {
            let _ = writeln!(out, "    {count} × {message}");
        }
        let _ = writeln!(
            out,
            "  included        {} in {} blocks ({} never included)",
            self.included, self.blocks, self.lost
        );
        let _ = writeln!(
            out,
            "  ingest rate     {:.0} tx/s ({:.2} s)",
            self.ingest_tps, self.ingest_seconds
        );
        let _ = writeln!(
            out,
            "  inclusion TPS   {:.0} tx/s, first send to last inclusion ({:.2} s); {:.0} tx/s per core on {} cores",
            self.inclusion_tps, self.inclusion_seconds, self.inclusion_tps_per_core, self.cores
        );
        let _ = writeln!(out, "  gas             {:.1} Mgas/s", self.gas_per_second / 1e6);
        let _ = writeln!(
            out,
            "  {}  p50 {:.0} ms, p99 {:.0} ms",
            if self.sync {
                "time to receipt (eth_sendRawTransactionSync answered)"
            } else {
                "time to inclusion"
            },
            self.p50_ms,
            self.p99_ms
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
