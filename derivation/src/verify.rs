//! `verify`: re-execute every posted batch from the genesis and compare each posted state
//! root and block hash with the re-executed one, stopping at the first divergence.

use std::time::{Duration, Instant};

use crate::{
    error::{DerivationError, DerivationResult},
    replay::{BatchReport, Replayer},
    source::{L1Source, check_first_batch},
};

/// Which L2 blocks to check.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyRange {
    /// Report from this L2 block on (earlier blocks are still re-executed, and checked, to
    /// rebuild the state, unless the store already holds them).
    pub from: u64,
    /// Stop after the batch holding this L2 block (`None`: the contract's latest block).
    pub to: Option<u64>,
}

/// Where verification is, for progress output.
#[derive(Debug, Clone, Copy)]
pub struct VerifyProgress {
    /// Last L2 block re-executed and checked.
    pub block: u64,
    /// The L2 block verification runs to.
    pub target: u64,
    /// Batches checked so far.
    pub batches: u64,
    /// Transactions re-executed so far.
    pub txs: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// What a successful verification checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifySummary {
    /// Batches checked.
    pub batches: u64,
    /// Of which: batches whose blocks the datadir already held, checked against the hash of
    /// their last block there instead of being re-executed.
    pub held: u64,
    /// First and last L2 block reported on.
    pub first_block: u64,
    /// Last L2 block verified.
    pub last_block: u64,
    /// Blocks re-executed.
    pub blocks: u64,
    /// Transactions re-executed.
    pub txs: u64,
    /// Gas they used.
    pub gas: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Of which: sender recovery.
    pub recover: Duration,
    /// Of which: building blocks (execution, state roots, commits).
    pub build: Duration,
    /// Of which: reading batches from L1.
    pub fetch: Duration,
}

impl VerifySummary {
    fn add(&mut self, report: &BatchReport, range: VerifyRange) {
        self.batches += 1;
        if report.blocks == 0 {
            self.held += 1;
        }
        if report.last >= range.from {
            self.blocks += report.blocks;
            self.txs += report.txs;
            self.gas += report.gas;
        }
        self.last_block = report.last;
        self.recover += Duration::from_micros(report.recover_micros);
        self.build += Duration::from_micros(report.build_micros);
    }
}

/// Verifies every batch the contract committed (within `range`), calling `progress` after
/// each batch.
///
/// Batches whose blocks the replayer's store already holds (a datadir verified before, or any
/// other datadir of this chain) are checked, not skipped: their data must decode and extend the
/// held chain, and the held hash of their last block must equal the posted one — so a datadir
/// of another chain fails at its first differing batch instead of passing unread. Held batches
/// that end before `range.from` are the store's own earlier work and are not read again.
///
/// # Errors
/// [`DerivationError::Diverged`] at the first batch that differs from its re-execution (or
/// cannot be read, decoded or authenticated); [`DerivationError::EmptyRange`] when `range`
/// starts beyond its end or the contract's latest block; [`DerivationError::Incomplete`] when
/// the batches found on L1 stop short of the target; [`DerivationError::BatchesPrecedeFromBlock`]
/// when the scan starts after batches the chain needs; L1 and store errors.
pub async fn verify(
    source: &L1Source,
    replayer: &Replayer,
    range: VerifyRange,
    mut progress: impl FnMut(&VerifyProgress),
) -> DerivationResult<VerifySummary> {
    let started = Instant::now();
    // The target and the logs scanned are read at the same L1 block, so a batch that commits
    // meanwhile cannot put the target beyond what the logs hold.
    let l1_head = source.head().await?;
    let latest = source.committed_at(l1_head).await?;
    let target = range.to.map_or(latest, |to| to.min(latest));
    if range.from > target {
        return Err(DerivationError::EmptyRange { from: range.from, target, committed: latest });
    }
    let mut summary = VerifySummary { first_block: range.from.max(1), ..Default::default() };
    let mut next_l1 = source.from_block;
    let mut first = true;
    while next_l1 <= l1_head && summary.last_block < target {
        let end = l1_head.min(next_l1.saturating_add(source.window.saturating_sub(1)));
        let fetching = Instant::now();
        let found = source.batches(next_l1, end).await?;
        summary.fetch += fetching.elapsed();
        for batch in found {
            let batch = batch.map_err(DerivationError::from)?;
            if first {
                check_first_batch(&batch, replayer.store().head_number(), source.from_block)?;
                first = false;
            }
            if batch.last_block <= replayer.store().head_number() && batch.last_block < range.from {
                // Held by the store already and not asked about.
                summary.last_block = batch.last_block;
                continue;
            }
            let report = tokio::task::block_in_place(|| replayer.apply(&batch))?;
            summary.add(&report, range);
            progress(&VerifyProgress {
                block: report.last,
                target,
                batches: summary.batches,
                txs: summary.txs,
                elapsed: started.elapsed(),
            });
            if report.last >= target {
                break;
            }
        }
        next_l1 = end + 1;
    }
    if summary.last_block < target {
        return Err(DerivationError::Incomplete {
            verified: summary.last_block,
            target,
            committed: latest,
            from_block: source.from_block,
            l1_head,
        });
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}
