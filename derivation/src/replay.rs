//! Re-executing posted batches on top of a store, with the sequencer's own block builder, and
//! checking each against what the contract recorded.
//!
//! Every block of a batch is rebuilt through [`sequencer::builder::build_block`] — the code
//! path that sealed it — from the genesis (or the replica's head) on. A batch is accepted only
//! if its data decodes, it carries exactly the committed range, it extends the re-executed
//! chain (its parent hash), every transaction is included where the batch puts it, and the
//! state root and block hash of its last block equal the posted ones. Accepted blocks are
//! committed to the store, so the store is always a prefix of the verified chain.

use std::{sync::Arc, time::Instant};

use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy_primitives::B256;
use batcher::{
    batch::{Batch, BatchBlock},
    l1::PostedBatch,
};
use rayon::prelude::*;
use sequencer::{
    builder::{Parent, build_block},
    chain::{BlockAttributes, ChainSpec},
    executor::{BlockExecutor, ExecTx},
    store::Store,
};
use tracing::{error, warn};

use crate::error::{DerivationResult, Divergence};

/// What re-executing one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchReport {
    /// The batch index.
    pub index: u64,
    /// First L2 block re-executed (blocks the store already held are skipped).
    pub first: u64,
    /// Last L2 block.
    pub last: u64,
    /// Blocks re-executed.
    pub blocks: u64,
    /// Transactions re-executed.
    pub txs: u64,
    /// Gas they used.
    pub gas: u64,
    /// Time spent recovering senders.
    pub recover_micros: u64,
    /// Time spent building (executing and hashing) blocks and committing them.
    pub build_micros: u64,
}

/// Re-executes batches on a store.
#[derive(Debug)]
pub struct Replayer {
    spec: ChainSpec,
    store: Arc<Store>,
    executor: Arc<dyn BlockExecutor>,
}

impl Replayer {
    /// A replayer extending `store` (which holds the genesis, or a verified prefix).
    pub fn new(spec: ChainSpec, store: Arc<Store>, executor: Arc<dyn BlockExecutor>) -> Self {
        Self { spec, store, executor }
    }

    /// The store.
    pub const fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Decodes `posted`, re-executes what the store does not hold yet, checks it, and commits
    /// it. Blocks the store already holds are checked against the batch instead.
    ///
    /// # Errors
    /// [`crate::DerivationError::Diverged`] when the batch is not the chain it claims to be;
    /// other errors when the store fails.
    pub fn apply(&self, posted: &PostedBatch) -> DerivationResult<BatchReport> {
        let batch = Batch::decode(&posted.data, self.spec.chain_id).map_err(|e| {
            Divergence::Undecodable {
                batch: posted.index,
                first: posted.first_block,
                last: posted.last_block,
                reason: e.to_string(),
            }
        })?;
        self.apply_decoded(posted, &batch)
    }

    /// [`Self::apply`] for a batch already decoded.
    ///
    /// # Errors
    /// As [`Self::apply`].
    pub fn apply_decoded(
        &self,
        posted: &PostedBatch,
        batch: &Batch,
    ) -> DerivationResult<BatchReport> {
        let (data_first, data_last) = (
            batch.blocks.first().map_or(0, |b| b.number),
            batch.blocks.last().map_or(0, |b| b.number),
        );
        if data_first != posted.first_block || data_last != posted.last_block {
            return Err(Divergence::RangeMismatch {
                batch: posted.index,
                first: posted.first_block,
                last: posted.last_block,
                data_first,
                data_last,
            }
            .into());
        }
        // Block 0 is the genesis: no batch carries it (the contract refuses such a range, but
        // the logs of whatever answers at its address are input like any other).
        let Some(parent) = data_first.checked_sub(1) else {
            return Err(Divergence::InvalidBlock {
                block: data_first,
                reason: "L2 block 0 is the genesis: no batch can carry it".into(),
            }
            .into());
        };
        let head = self.store.head_number();
        let mut report = BatchReport {
            index: posted.index,
            first: head.max(parent) + 1,
            last: data_last,
            ..Default::default()
        };
        if data_first > head + 1 {
            return Err(Divergence::InvalidBlock {
                block: data_first,
                reason: format!(
                    "the re-executed chain ends at block {head}: blocks in between are missing"
                ),
            }
            .into());
        }
        let local_parent = self.store.blocks()?.hash(parent)?.unwrap_or_default();
        if batch.parent_hash != local_parent {
            return Err(Divergence::ParentHash {
                block: data_first,
                posted: batch.parent_hash,
                computed: local_parent,
            }
            .into());
        }
        if data_last <= head {
            // Re-executed before (a resumed replica): the posted hash must match what we hold.
            let held = self.store.blocks()?.hash(data_last)?.unwrap_or_default();
            check_hash(posted, data_last, held, None)?;
            return Ok(report);
        }

        let started = Instant::now();
        let fresh: Vec<_> = batch.blocks.iter().filter(|b| b.number > head).collect();
        let recovered: Vec<Vec<ExecTx>> = fresh
            .par_iter()
            .map(|block| {
                block
                    .transactions
                    .par_iter()
                    .enumerate()
                    .map(|(index, tx)| {
                        let sender =
                            tx.recover_signer().map_err(|e| Divergence::InvalidTransaction {
                                block: block.number,
                                index,
                                hash: *tx.tx_hash(),
                                reason: format!("signature does not recover: {e}"),
                            })?;
                        Ok(ExecTx::from(Recovered::new_unchecked(tx.clone(), sender)))
                    })
                    .collect::<Result<Vec<_>, Divergence>>()
            })
            .collect::<Result<_, _>>()?;
        report.recover_micros = started.elapsed().as_micros() as u64;

        let started = Instant::now();
        // Only the batch's last block carries a posted root and hash: blocks before it are
        // committed as they are built, and taken back out if the batch then fails its check, so
        // the store stays a prefix of the verified chain.
        if let Err(e) = self.build_and_commit(posted, fresh, recovered, &mut report) {
            if self.store.head_number() > head {
                match self.store.unwind_to(head) {
                    Ok(()) => {
                        warn!(target: "derivation", batch = posted.index, kept = head, "batch failed its check: its blocks were taken back out")
                    }
                    Err(unwind) => {
                        error!(target: "derivation", batch = posted.index, error = %unwind, "batch failed its check and its blocks could not be taken back out")
                    }
                }
            }
            return Err(e);
        }
        report.build_micros = started.elapsed().as_micros() as u64;
        Ok(report)
    }

    /// Builds the fresh blocks of `posted` in order, commits each, and checks the last against
    /// the posted state root and hash.
    fn build_and_commit(
        &self,
        posted: &PostedBatch,
        fresh: Vec<&BatchBlock>,
        recovered: Vec<Vec<ExecTx>>,
        report: &mut BatchReport,
    ) -> DerivationResult<()> {
        for (block, txs) in fresh.into_iter().zip(recovered) {
            let head = self.store.head();
            let (parent_header, parent_hash) = (&head.0, head.1);
            if block.timestamp <= parent_header.timestamp {
                return Err(Divergence::InvalidBlock {
                    block: block.number,
                    reason: format!(
                        "timestamp {} is not after its parent's {}",
                        block.timestamp, parent_header.timestamp
                    ),
                }
                .into());
            }
            let state = self.store.latest()?;
            let attributes = BlockAttributes {
                number: block.number,
                timestamp: block.timestamp,
                beneficiary: block.beneficiary,
                extra_data: block.extra_data.clone(),
            };
            let built = build_block(
                &self.spec,
                &self.store,
                Parent { header: parent_header, hash: parent_hash, state: &state },
                attributes,
                &txs,
                self.executor.as_ref(),
            )?;
            if let Some(skipped) = built.execution.skipped.first() {
                return Err(Divergence::InvalidTransaction {
                    block: block.number,
                    index: skipped.index,
                    hash: *txs[skipped.index].tx.tx_hash(),
                    reason: format!("{:?}", skipped.reason),
                }
                .into());
            }
            if block.number == posted.last_block {
                if built.block.header.state_root != posted.state_root {
                    return Err(Divergence::StateRoot {
                        block: block.number,
                        posted: posted.state_root,
                        computed: built.block.header.state_root,
                    }
                    .into());
                }
                check_hash(posted, block.number, built.block.hash, Some(&built.block.header))?;
            }
            report.blocks += 1;
            report.txs += txs.len() as u64;
            report.gas += built.block.header.gas_used;
            self.store.commit_block(&built.block, &built.state)?;
        }
        Ok(())
    }
}

fn check_hash(
    posted: &PostedBatch,
    block: u64,
    computed: B256,
    header: Option<&alloy::consensus::Header>,
) -> Result<(), Divergence> {
    if computed == posted.block_hash {
        return Ok(());
    }
    Err(Divergence::BlockHash {
        block,
        posted: posted.block_hash,
        computed,
        receipts_root: header.map(|h| h.receipts_root).unwrap_or_default(),
        gas_used: header.map(|h| h.gas_used).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use batcher::batch::EncodeOptions;
    use sequencer::{
        executor::SequentialExecutor,
        genesis::Genesis,
        store::{GenesisBlock, StoreConfig},
    };

    use super::*;
    use crate::DerivationError;

    fn replayer() -> Replayer {
        let genesis = Genesis::dev();
        let block = GenesisBlock::new(&genesis).unwrap();
        let store = Store::in_memory(&block, StoreConfig::default()).unwrap();
        Replayer::new(
            ChainSpec::from_genesis(&genesis),
            Arc::new(store),
            Arc::new(SequentialExecutor::default()),
        )
    }

    /// A batch the contract says carries `first..=last`, with `data`.
    fn posted(first: u64, last: u64, data: Vec<u8>) -> PostedBatch {
        PostedBatch {
            index: 0,
            first_block: first,
            last_block: last,
            state_root: B256::ZERO,
            block_hash: B256::ZERO,
            data_commitment: B256::ZERO,
            l1_block: 1,
            l1_block_hash: B256::ZERO,
            l1_tx: B256::ZERO,
            frame_count: 1,
            frames: Vec::new(),
            data,
        }
    }

    #[test]
    fn rejects_a_batch_that_carries_the_genesis() {
        let replayer = replayer();
        let batch = Batch {
            parent_hash: B256::ZERO,
            blocks: vec![BatchBlock {
                number: 0,
                timestamp: 1,
                beneficiary: alloy_primitives::Address::ZERO,
                extra_data: alloy_primitives::Bytes::new(),
                transactions: Vec::new(),
            }],
        };
        let data = batch.encode(&EncodeOptions::default()).unwrap();
        match replayer.apply(&posted(0, 0, data)) {
            Err(DerivationError::Diverged(divergence)) => {
                assert!(
                    matches!(*divergence, Divergence::InvalidBlock { block: 0, .. }),
                    "{divergence}"
                );
            }
            other => panic!("expected an invalid block 0, got {other:?}"),
        }
        assert_eq!(replayer.store().head_number(), 0);
    }
}
