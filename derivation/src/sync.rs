//! `sync`: build a replica datadir (the sequencer's own on-disk format) from L1 alone and keep
//! it following L1, so `sequencer --replica` serves the derived chain.
//!
//! Only batches with `confirmations` L1 blocks on top are applied. Each applied batch is
//! remembered with the hash of the L1 block it committed in ([`SyncState`], next to the
//! database); when that block is no longer canonical, an L1 reorg removed the batch, and the
//! replica unwinds its L2 blocks ([`Store::unwind_to`]) and derives again from there. The
//! store is the truth about what is applied: the state file only maps applied batches to L1
//! blocks, and a crash between the two is repaired on the next start (the store's blocks are
//! checked against the batches instead of being re-executed).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::B256;
use sequencer::store::Store;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{
    error::{DerivationError, DerivationResult, Divergence},
    replay::Replayer,
    source::L1Source,
};

/// Applied batches remembered for reorg detection (deeper reorgs than this are not expected).
const REMEMBERED_BATCHES: usize = 1_024;

/// A batch applied to the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedBatch {
    /// Its index.
    pub index: u64,
    /// Its last L2 block.
    pub last_block: u64,
    /// The L1 block it committed in.
    pub l1_block: u64,
    /// That block's hash when it was applied.
    pub l1_block_hash: B256,
}

/// What the replica remembers besides its store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The newest applied batches, oldest first.
    pub applied: Vec<AppliedBatch>,
    /// The next L1 block to scan.
    pub next_l1_block: u64,
}

impl SyncState {
    fn path(datadir: &Path) -> PathBuf {
        datadir.join("derivation-sync.json")
    }

    /// Loads the state of `datadir` (empty when there is none yet).
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn load(datadir: &Path) -> DerivationResult<Self> {
        let path = Self::path(datadir);
        let error =
            |reason: String| DerivationError::Progress { path: path.display().to_string(), reason };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| error(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(error(e.to_string())),
        }
    }

    /// Writes the state atomically (temporary file, then rename).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, datadir: &Path) -> DerivationResult<()> {
        let path = Self::path(datadir);
        let error =
            |reason: String| DerivationError::Progress { path: path.display().to_string(), reason };
        let temporary = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| error(e.to_string()))?;
        std::fs::write(&temporary, bytes).map_err(|e| error(e.to_string()))?;
        std::fs::rename(&temporary, &path).map_err(|e| error(e.to_string()))
    }
}

/// Settings of a sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// L1 blocks a batch needs on top (1: included) before it is applied.
    pub confirmations: u64,
    /// Keep following L1 after catching up.
    pub follow: bool,
    /// Time between polls of L1 when following.
    pub poll: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { confirmations: 1, follow: false, poll: Duration::from_secs(1) }
    }
}

/// Derives a replica from L1.
#[derive(Debug)]
pub struct Syncer {
    source: L1Source,
    replayer: Replayer,
    datadir: PathBuf,
    state: SyncState,
    options: SyncOptions,
}

impl Syncer {
    /// A syncer writing the replica in `datadir` (its store already open in `replayer`).
    ///
    /// # Errors
    /// When the state file cannot be read.
    pub fn new(
        source: L1Source,
        replayer: Replayer,
        datadir: PathBuf,
        options: SyncOptions,
    ) -> DerivationResult<Self> {
        let mut state = SyncState::load(&datadir)?;
        let head = replayer.store().head_number();
        // Batches the store does not hold (the store was replaced or unwound) are forgotten.
        state.applied.retain(|batch| batch.last_block <= head);
        if state.next_l1_block == 0 {
            state.next_l1_block = source.from_block;
        }
        if let Some(last) = state.applied.last() {
            state.next_l1_block = state.next_l1_block.min(last.l1_block + 1);
        } else if head > 0 {
            // The store holds blocks this file does not explain: scan again, checking them.
            state.next_l1_block = source.from_block;
        }
        Ok(Self { source, replayer, datadir, state, options })
    }

    /// The replica's store.
    pub fn store(&self) -> &Store {
        self.replayer.store()
    }

    /// Syncs until caught up, then (with `follow`) keeps following until `stop` resolves.
    ///
    /// # Errors
    /// A divergence (the replica must not serve a chain that does not re-execute), a reorg
    /// deeper than the store's history, or an L1 error when not following (when following, L1
    /// errors are retried).
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> DerivationResult<()> {
        tokio::pin!(stop);
        loop {
            match self.step().await {
                Ok(()) => {}
                Err(DerivationError::L1(reason)) if self.options.follow => {
                    warn!(target: "derivation::sync", %reason, "L1 unavailable; retrying");
                }
                Err(e) => return Err(e),
            }
            if !self.options.follow {
                return Ok(());
            }
            tokio::select! {
                () = tokio::time::sleep(self.options.poll) => {}
                () = &mut stop => return Ok(()),
            }
        }
    }

    /// One round: undo what an L1 reorg removed, then apply the confirmed batches not applied
    /// yet.
    ///
    /// # Errors
    /// As [`Self::run`].
    pub async fn step(&mut self) -> DerivationResult<()> {
        self.undo_reorged().await?;
        let l1_head = self.source.head().await?;
        let confirmed = l1_head.saturating_sub(self.options.confirmations.saturating_sub(1));
        while self.state.next_l1_block <= confirmed {
            let end = confirmed.min(self.state.next_l1_block + self.source.window - 1);
            let found = self.source.batches(self.state.next_l1_block, end).await?;
            for batch in found {
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(divergence @ Divergence::Unauthenticated { .. }) => {
                        warn!(target: "derivation::sync", %divergence, "ignoring a batch from an account that was not the batcher");
                        continue;
                    }
                    Err(divergence) => return Err(divergence.into()),
                };
                let report = tokio::task::block_in_place(|| self.replayer.apply(&batch))?;
                if report.blocks > 0 {
                    info!(
                        target: "derivation::sync",
                        batch = batch.index,
                        l2_first = report.first,
                        l2_last = report.last,
                        txs = report.txs,
                        l1_block = batch.l1_block,
                        "applied batch"
                    );
                }
                self.state.applied.push(AppliedBatch {
                    index: batch.index,
                    last_block: batch.last_block,
                    l1_block: batch.l1_block,
                    l1_block_hash: batch.l1_block_hash,
                });
                if self.state.applied.len() > REMEMBERED_BATCHES {
                    self.state.applied.remove(0);
                }
                self.state.save(&self.datadir)?;
            }
            self.state.next_l1_block = end + 1;
            self.state.save(&self.datadir)?;
        }
        Ok(())
    }

    /// Unwinds the batches whose L1 block is no longer canonical.
    async fn undo_reorged(&mut self) -> DerivationResult<()> {
        let mut keep = self.state.applied.len();
        while keep > 0 {
            let batch = self.state.applied[keep - 1];
            if self.source.block_hash(batch.l1_block).await? == Some(batch.l1_block_hash) {
                break;
            }
            keep -= 1;
        }
        if keep == self.state.applied.len() {
            return Ok(());
        }
        let (target, next_l1) = match keep {
            0 => (0, self.source.from_block),
            n => (self.state.applied[n - 1].last_block, self.state.applied[n - 1].l1_block + 1),
        };
        let removed = &self.state.applied[keep..];
        warn!(
            target: "derivation::sync",
            batches = removed.len(),
            first_batch = removed[0].index,
            l2_back_to = target,
            "an L1 reorg removed applied batches; unwinding their L2 blocks"
        );
        tokio::task::block_in_place(|| self.replayer.store().unwind_to(target))?;
        self.state.applied.truncate(keep);
        self.state.next_l1_block = next_l1;
        self.state.save(&self.datadir)?;
        Ok(())
    }
}
