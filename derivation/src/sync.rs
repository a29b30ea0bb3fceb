//! `sync`: build a replica datadir (the sequencer's own on-disk format) from L1 alone and keep
//! it following L1, so `sequencer --replica` serves the derived chain.
//!
//! Only batches with `confirmations` L1 blocks on top are applied. Each applied batch is
//! remembered with the hash of the L1 block it committed in ([`SyncState`], next to the
//! database); when that block is no longer canonical, an L1 reorg removed the batch, and the
//! replica unwinds its L2 blocks ([`Store::unwind_to`]) and derives again from there. The last
//! L1 block scanned is remembered with its hash too: when it is no longer canonical, a reorg
//! may have moved a batch into a block scanned before the batch landed there, and the scan
//! goes back to the block after the last applied batch. The store is the truth about what is
//! applied: the state file only maps applied batches to L1 blocks, and a crash between the two
//! is repaired on the next start (the store's blocks are checked against the batches instead of
//! being re-executed).

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
    source::{L1Source, check_first_batch},
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

/// An L1 block as it was when it was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedBlock {
    /// Its number.
    pub number: u64,
    /// Its hash then.
    pub hash: B256,
}

/// What the replica remembers besides its store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The newest applied batches, oldest first.
    pub applied: Vec<AppliedBatch>,
    /// The next L1 block to scan.
    pub next_l1_block: u64,
    /// The last L1 block scanned (`next_l1_block - 1`), to notice an L1 reorg that replaced
    /// it. `None` before the first scan, after a rewind, and in files written before it was
    /// kept.
    #[serde(default)]
    pub scan_tip: Option<ScannedBlock>,
}

impl SyncState {
    fn path(datadir: &Path) -> PathBuf {
        datadir.join("derivation-sync.json")
    }

    /// Fits a loaded state to a store whose head is `head`, for a scan that starts at L1 block
    /// `from_block`: the scan goes on where it stopped only if the file explains the store
    /// exactly (the first step then checks the block it stopped at is still canonical);
    /// otherwise it starts again after the last applied batch the store holds, or at
    /// `from_block` when there is none.
    fn resume(&mut self, head: u64, from_block: u64) {
        let remembered = self.applied.len();
        // Batches the store does not hold (the store was replaced or unwound) are forgotten.
        self.applied.retain(|batch| batch.last_block <= head);
        let explained = self.applied.len() == remembered
            && self.applied.last().is_some_and(|last| last.last_block == head);
        let next = self.next_l1_block;
        let at_tip = self.scan_tip.is_some_and(|tip| tip.number.checked_add(1) == Some(next));
        if explained && at_tip {
            return;
        }
        self.scan_tip = None;
        self.next_l1_block = match self.applied.last() {
            // After the last applied batch, or from where the window it landed in started
            // (after a crash between applying it and finishing that window).
            Some(last) if next > 0 => next.min(last.l1_block + 1),
            Some(last) => last.l1_block + 1,
            // Nothing applied: whatever was scanned is scanned again (the store may hold blocks
            // this file does not explain, checked as their batches are found; the file may
            // come from a store since replaced, or from a scan that started at another block).
            None => from_block,
        };
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
    /// L1 blocks a batch needs on top before its blocks count as `finalized` (the batcher's
    /// `--finality-depth`).
    pub finality_depth: u64,
    /// Keep following L1 after catching up.
    pub follow: bool,
    /// Time between polls of L1 when following.
    pub poll: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self { confirmations: 1, finality_depth: 8, follow: false, poll: Duration::from_secs(1) }
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
        state.resume(replayer.store().head_number(), source.from_block);
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
        let result = self.apply_confirmed(l1_head).await;
        self.record_l1_heads(l1_head)?;
        result
    }

    /// Records in the store what a replica answers for `safe` (every derived block: its batch
    /// is on L1 with the confirmations asked for) and `finalized` (the blocks of batches with
    /// [`SyncOptions::finality_depth`] L1 blocks on top at `l1_head`).
    fn record_l1_heads(&self, l1_head: u64) -> DerivationResult<()> {
        let store = self.replayer.store();
        let head = store.head_number();
        let depth = self.options.finality_depth.max(self.options.confirmations).max(1);
        let final_l1 = l1_head.saturating_sub(depth - 1);
        let recorded = store.l1_heads()?;
        let finalized = self
            .state
            .applied
            .iter()
            .rev()
            .find(|batch| batch.l1_block <= final_l1)
            .map(|batch| batch.last_block)
            // Older batches than those remembered: what was recorded before still holds.
            .or(recorded.map(|(_, finalized)| finalized))
            .unwrap_or(0)
            .min(head);
        if recorded != Some((head, finalized)) {
            store.set_l1_heads(head, finalized)?;
        }
        Ok(())
    }

    /// Applies the batches confirmed at `l1_head` not applied yet.
    async fn apply_confirmed(&mut self, l1_head: u64) -> DerivationResult<()> {
        let confirmed = l1_head.saturating_sub(self.options.confirmations.saturating_sub(1));
        while self.state.next_l1_block <= confirmed {
            let start = self.state.next_l1_block;
            let end = confirmed.min(start.saturating_add(self.source.window.saturating_sub(1)));
            // The window's last block is read before its logs: if a reorg replaces it in
            // between, the hash kept is the replaced one, and the next round scans again.
            let Some(end_hash) = self.source.block_hash(end).await? else {
                return Ok(()); // L1 got shorter since its head was read: next round
            };
            let found = self.source.batches(start, end).await?;
            for batch in found {
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(divergence @ Divergence::Unauthenticated { .. }) => {
                        warn!(target: "derivation::sync", %divergence, "ignoring a batch from an account that was not the batcher");
                        continue;
                    }
                    Err(divergence) => return Err(divergence.into()),
                };
                if self.state.applied.is_empty() {
                    // The scan started at `from_block`: the chain must not need batches before.
                    check_first_batch(&batch, self.store().head_number(), self.source.from_block)?;
                }
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
                // A window scanned again (after a crash before it was finished, or a reorg of
                // blocks scanned after it) finds batches remembered already: checked above
                // against the store, and not remembered twice.
                if self.state.applied.last().is_some_and(|last| last.index >= batch.index) {
                    continue;
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
            self.state.scan_tip = Some(ScannedBlock { number: end, hash: end_hash });
            self.state.save(&self.datadir)?;
        }
        Ok(())
    }

    /// Unwinds the batches whose L1 block is no longer canonical, and scans again the blocks
    /// after the last batch kept when the last block scanned is no longer canonical.
    async fn undo_reorged(&mut self) -> DerivationResult<()> {
        let mut keep = self.state.applied.len();
        while keep > 0 {
            let batch = self.state.applied[keep - 1];
            if self.source.block_hash(batch.l1_block).await? == Some(batch.l1_block_hash) {
                break;
            }
            keep -= 1;
        }
        let (target, next_l1) = match keep {
            0 => (0, self.source.from_block),
            n => (self.state.applied[n - 1].last_block, self.state.applied[n - 1].l1_block + 1),
        };
        if keep == self.state.applied.len() {
            let Some(tip) = self.state.scan_tip else { return Ok(()) };
            if self.source.block_hash(tip.number).await? == Some(tip.hash) {
                return Ok(());
            }
            // No applied batch is gone, but blocks scanned since may hold batches now.
            warn!(
                target: "derivation::sync",
                scanned_to = tip.number,
                rescan_from = next_l1,
                "an L1 reorg replaced scanned blocks; scanning them again"
            );
            self.state.next_l1_block = self.state.next_l1_block.min(next_l1);
            self.state.scan_tip = None;
            return self.state.save(&self.datadir);
        }
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
        self.state.scan_tip = None;
        self.state.save(&self.datadir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: u64 = 10;

    fn batch(index: u64, last_block: u64, l1_block: u64) -> AppliedBatch {
        AppliedBatch { index, last_block, l1_block, l1_block_hash: B256::repeat_byte(1) }
    }

    fn tip(number: u64) -> Option<ScannedBlock> {
        Some(ScannedBlock { number, hash: B256::repeat_byte(2) })
    }

    /// A state that applied batches 0 and 1 (L2 blocks up to 8, L1 blocks 20 and 30) and
    /// scanned up to L1 block 99.
    fn scanned() -> SyncState {
        SyncState {
            applied: vec![batch(0, 4, 20), batch(1, 8, 30)],
            next_l1_block: 100,
            scan_tip: tip(99),
        }
    }

    #[test]
    fn reads_a_state_file_written_before_the_scan_tip_was_kept() {
        let old = r#"{"applied":[{"index":0,"last_block":4,"l1_block":20,"l1_block_hash":"0x0101010101010101010101010101010101010101010101010101010101010101"}],"next_l1_block":31}"#;
        let state: SyncState = serde_json::from_str(old).unwrap();
        assert_eq!(state.applied, vec![batch(0, 4, 20)]);
        assert_eq!((state.next_l1_block, state.scan_tip), (31, None));
        let dir = tempfile::tempdir().unwrap();
        scanned().save(dir.path()).unwrap();
        assert_eq!(SyncState::load(dir.path()).unwrap(), scanned());
    }

    #[test]
    fn resumes_where_it_stopped_when_the_file_explains_the_store() {
        let mut state = scanned();
        state.resume(8, FROM);
        assert_eq!(state, scanned());
    }

    #[test]
    fn scans_again_after_the_last_applied_batch_without_a_scan_tip() {
        let mut state = SyncState { scan_tip: None, ..scanned() };
        state.resume(8, FROM);
        assert_eq!((state.next_l1_block, state.scan_tip), (31, None));
    }

    #[test]
    fn scans_again_after_the_last_batch_the_store_holds() {
        let mut state = scanned();
        state.resume(6, FROM);
        assert_eq!(state.applied, vec![batch(0, 4, 20)]);
        assert_eq!((state.next_l1_block, state.scan_tip), (21, None));
        // The store holds blocks the file does not explain: they are checked again.
        let mut state = scanned();
        state.resume(9, FROM);
        assert_eq!((state.next_l1_block, state.scan_tip), (31, None));
    }

    #[test]
    fn scans_again_from_the_first_block_when_the_store_holds_no_applied_batch() {
        // The store was replaced by one at the genesis: nothing it holds was applied.
        let mut state = scanned();
        state.resume(0, FROM);
        assert!(state.applied.is_empty());
        assert_eq!((state.next_l1_block, state.scan_tip), (FROM, None));
        // Nothing was ever applied: the scan may have started elsewhere, so it starts again.
        let mut state = SyncState { applied: Vec::new(), next_l1_block: 100, scan_tip: tip(99) };
        state.resume(0, FROM);
        assert_eq!((state.next_l1_block, state.scan_tip), (FROM, None));
        // The store holds blocks and the file explains none of them.
        let mut state = SyncState { applied: Vec::new(), next_l1_block: 100, scan_tip: None };
        state.resume(5, FROM);
        assert_eq!(state.next_l1_block, FROM);
    }

    #[test]
    fn scans_again_the_window_a_crash_interrupted() {
        // Batch 1 (L1 block 30) was applied in the window 25..=34, and the tool stopped before
        // that window finished: it is scanned again (block 30 may hold another batch).
        let mut state = SyncState { next_l1_block: 25, scan_tip: None, ..scanned() };
        state.resume(8, FROM);
        assert_eq!(state.next_l1_block, 25);
    }
}
