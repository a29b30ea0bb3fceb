//! Reading posted batches back from L1, as anyone can: the contract's `BatchCommitted` logs say
//! which ranges committed, and the transactions that emitted them (and, for a batch sent in
//! frames, its `FrameSubmitted` logs) carry the data. The derivation tool and the batcher's
//! tests read through this one module, so "what the batcher wrote" and "what a verifier reads"
//! cannot drift apart.
//!
//! Every batch read is checked against its commitment: each frame against the `frameHash` its
//! log announced, and the frames together against the `dataCommitment` the contract stored. A
//! batch is read only if the batcher called the contract directly (the transaction's input is
//! the `submitBatch`/`submitFrame` call), which is what this crate's batcher does.

use alloy::{
    consensus::Transaction as _,
    providers::{Provider, ProviderBuilder, RootProvider},
    rpc::types::{Filter, Log},
    sol_types::{SolCall, SolEvent},
};
use alloy_primitives::{Address, B256, U256};

use super::contract::{Rollup, data_commitment};
use crate::error::{BatcherError, BatcherResult};

/// L1 blocks per `eth_getLogs` request when searching backwards for a batch's frames (public
/// endpoints limit the range of one request).
const FRAME_SEARCH_WINDOW: u64 = 1_024;

/// A batch committed on L1, with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedBatch {
    /// Its index in the contract (0 = first batch after genesis).
    pub index: u64,
    /// First L2 block.
    pub first_block: u64,
    /// Last L2 block.
    pub last_block: u64,
    /// L2 state root after the last block, as posted.
    pub state_root: B256,
    /// L2 block hash of the last block, as posted.
    pub block_hash: B256,
    /// The contract's commitment to the data (kind in its first byte).
    pub data_commitment: B256,
    /// L1 block in which it committed.
    pub l1_block: u64,
    /// Hash of that L1 block (to notice an L1 reorg that replaced it).
    pub l1_block_hash: B256,
    /// The L1 transaction that committed it (its last frame).
    pub l1_tx: B256,
    /// L1 transactions that carried its data.
    pub frame_count: u16,
    /// Where each frame came from, in frame order (the last one is the commit).
    pub frames: Vec<FrameOrigin>,
    /// The batch data (frames concatenated): a [`crate::batch::Batch`] encoding.
    pub data: Vec<u8>,
}

/// The L1 transaction that carried one frame of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOrigin {
    /// The transaction.
    pub tx: B256,
    /// Its sender.
    pub sender: Address,
    /// The L1 block it is in.
    pub l1_block: u64,
    /// The index of its `FrameSubmitted`/`BatchCommitted` log in that block.
    pub log_index: u64,
}

/// Reads batches of one `Rollup` contract.
#[derive(Debug, Clone)]
pub struct BatchReader {
    provider: RootProvider,
    rollup: Address,
}

fn unreachable(e: impl std::fmt::Display) -> BatcherError {
    BatcherError::Unreachable { endpoint: "L1", reason: e.to_string() }
}

fn malformed(index: u64, reason: impl Into<String>) -> BatcherError {
    BatcherError::Posted { batch: index, reason: reason.into() }
}

impl BatchReader {
    /// A reader over the L1 endpoint at `url`.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn new(url: &str, rollup: Address) -> BatcherResult<Self> {
        let parsed = url.parse().map_err(|e| BatcherError::Rpc {
            endpoint: "L1",
            reason: format!("bad URL {url}: {e}"),
        })?;
        Ok(Self { provider: ProviderBuilder::default().connect_http(parsed), rollup })
    }

    /// The provider it reads through.
    pub const fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The contract it reads.
    pub const fn rollup(&self) -> Address {
        self.rollup
    }

    /// The batches that committed in L1 blocks `from..=to`, in commit order, each with its
    /// data or the reason it cannot be read ([`BatcherError::Posted`]: data missing, not a
    /// direct call, or not matching its commitment).
    ///
    /// # Errors
    /// [`BatcherError::Unreachable`] when L1 does not answer.
    pub async fn batches(
        &self,
        from: u64,
        to: u64,
    ) -> BatcherResult<Vec<BatcherResult<PostedBatch>>> {
        let filter = Filter::new()
            .address(self.rollup)
            .event_signature(Rollup::BatchCommitted::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(unreachable)?;
        let mut batches = Vec::with_capacity(logs.len());
        for log in logs {
            match self.batch(&log).await {
                Err(e @ BatcherError::Unreachable { .. }) => return Err(e),
                other => batches.push(other),
            }
        }
        Ok(batches)
    }

    async fn batch(&self, log: &Log) -> BatcherResult<PostedBatch> {
        let event = Rollup::BatchCommitted::decode_log(&log.inner)
            .map_err(|e| malformed(u64::MAX, format!("undecodable BatchCommitted log: {e}")))?
            .data;
        let index = u64::try_from(event.batchIndex).unwrap_or(u64::MAX);
        let (Some(l1_block), Some(l1_block_hash), Some(l1_tx), Some(log_index)) =
            (log.block_number, log.block_hash, log.transaction_hash, log.log_index)
        else {
            return Err(malformed(index, "log without block or transaction (pending?)"));
        };
        let located = if event.frameCount <= 1 {
            vec![(FrameLog { tx: l1_tx, l1_block, log_index }, None)]
        } else {
            self.frames(index, event.frameCount, l1_block, log_index).await?
        };
        let mut frames = Vec::with_capacity(located.len());
        let mut origins = Vec::with_capacity(located.len());
        for (log, hash) in located {
            let (data, sender) = self.frame_data(index, log.tx, hash).await?;
            frames.push(data);
            origins.push(FrameOrigin {
                tx: log.tx,
                sender,
                l1_block: log.l1_block,
                log_index: log.log_index,
            });
        }
        let commitment = data_commitment(frames.iter().map(Vec::as_slice));
        if commitment != event.dataCommitment {
            return Err(malformed(
                index,
                format!(
                    "data hashes to commitment {commitment}, the contract holds {}",
                    event.dataCommitment
                ),
            ));
        }
        Ok(PostedBatch {
            index,
            first_block: event.firstBlock,
            last_block: event.lastBlock,
            state_root: event.stateRoot,
            block_hash: event.blockHash,
            data_commitment: event.dataCommitment,
            l1_block,
            l1_block_hash,
            l1_tx,
            frame_count: event.frameCount.max(1),
            frames: origins,
            data: frames.concat(),
        })
    }

    /// The frames of multi-frame batch `index`: the `count` `FrameSubmitted` logs of that
    /// index ending at the commit (log `commit_log` of L1 block `commit_block`), searched
    /// backwards. Frames of a discarded attempt lie before the final frame 0 and are skipped.
    async fn frames(
        &self,
        index: u64,
        count: u16,
        commit_block: u64,
        commit_log: u64,
    ) -> BatcherResult<Vec<(FrameLog, Option<B256>)>> {
        // Newest first while searching.
        let mut found: Vec<(FrameLog, Option<B256>)> = Vec::with_capacity(usize::from(count));
        let mut to = commit_block;
        'search: loop {
            let from = to.saturating_sub(FRAME_SEARCH_WINDOW - 1);
            let filter = Filter::new()
                .address(self.rollup)
                .event_signature(Rollup::FrameSubmitted::SIGNATURE_HASH)
                .topic1(B256::from(U256::from(index)))
                .from_block(from)
                .to_block(to);
            let logs = self.provider.get_logs(&filter).await.map_err(unreachable)?;
            for log in logs.iter().rev() {
                if log.block_number == Some(commit_block)
                    && log.log_index.is_some_and(|i| i > commit_log)
                {
                    continue;
                }
                let frame = Rollup::FrameSubmitted::decode_log(&log.inner)
                    .map_err(|e| malformed(index, format!("undecodable FrameSubmitted log: {e}")))?
                    .data;
                let expected = count - 1 - found.len() as u16;
                if frame.frameIndex != expected || frame.frameCount != count {
                    return Err(malformed(
                        index,
                        format!(
                            "expected frame {expected} of {count} before the commit, found frame {} of {}",
                            frame.frameIndex, frame.frameCount
                        ),
                    ));
                }
                let (Some(tx), Some(l1_block), Some(log_index)) =
                    (log.transaction_hash, log.block_number, log.log_index)
                else {
                    return Err(malformed(index, "frame log without transaction"));
                };
                found.push((FrameLog { tx, l1_block, log_index }, Some(frame.frameHash)));
                if found.len() == usize::from(count) {
                    break 'search;
                }
            }
            if from == 0 {
                return Err(malformed(
                    index,
                    format!("only {} of {count} frames found on L1", found.len()),
                ));
            }
            to = from - 1;
        }
        found.reverse();
        Ok(found)
    }

    /// The data argument of the `submitBatch` or `submitFrame` call in transaction `tx`,
    /// checked against the frame hash its log announced, and the transaction's sender.
    async fn frame_data(
        &self,
        index: u64,
        tx: B256,
        frame_hash: Option<B256>,
    ) -> BatcherResult<(Vec<u8>, Address)> {
        let transaction = self
            .provider
            .get_transaction_by_hash(tx)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| malformed(index, format!("L1 transaction {tx} not found")))?;
        if transaction.to() != Some(self.rollup) {
            return Err(malformed(
                index,
                format!("L1 transaction {tx} does not call the contract directly"),
            ));
        }
        let input = transaction.input();
        let data = if let Ok(call) = Rollup::submitBatchCall::abi_decode(input) {
            call.data
        } else if let Ok(call) = Rollup::submitFrameCall::abi_decode(input) {
            call.data
        } else if let Ok(call) = super::contract::unchained::submitFrameCall::abi_decode(input) {
            // A deployment from before frames were chained.
            call.data
        } else {
            return Err(malformed(
                index,
                format!("L1 transaction {tx} is not a submitBatch or submitFrame call"),
            ));
        };
        if let Some(expected) = frame_hash {
            let hash = alloy_primitives::keccak256(&data);
            if hash != expected {
                return Err(malformed(
                    index,
                    format!("frame in {tx} hashes to {hash}, its log says {expected}"),
                ));
            }
        }
        Ok((data.to_vec(), transaction.inner.signer()))
    }
}

/// Where a frame's log is.
#[derive(Debug, Clone, Copy)]
struct FrameLog {
    tx: B256,
    l1_block: u64,
    log_index: u64,
}
