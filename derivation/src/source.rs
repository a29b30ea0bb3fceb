//! L1 as the derivation tool sees it: the `Rollup` contract's batches, read in bounded log
//! windows, each authenticated against the batcher the contract had registered when its frames
//! landed (the `BatcherChanged` history), plus the contract's views.
//!
//! The contract itself only accepts frames from its batcher, so an honest L1 never shows an
//! unauthenticated batch; the check is defence in depth for a reader that trusts nothing but
//! the logs. Unreadable or unauthenticated batches are returned as [`Divergence`]s: the tool
//! reports them, warns, and never panics on them.

use alloy::{eips::BlockNumberOrTag, providers::Provider, rpc::types::Filter, sol_types::SolEvent};
use alloy_primitives::{Address, B256};
use batcher::l1::{BatchReader, PostedBatch, Rollup};

use crate::error::{DerivationError, DerivationResult, Divergence};

/// Default L1 blocks per `eth_getLogs` request (public endpoints cap the range).
pub const DEFAULT_LOG_WINDOW: u64 = 10_000;

/// A batch as found on L1: readable and authenticated, or why not.
pub type FoundBatch = Result<PostedBatch, Divergence>;

/// The contract's batches and views.
#[derive(Debug, Clone)]
pub struct L1Source {
    reader: BatchReader,
    /// First L1 block to scan (the contract's deployment block, or 0).
    pub from_block: u64,
    /// L1 blocks per log request.
    pub window: u64,
}

fn l1(e: impl std::fmt::Display) -> DerivationError {
    DerivationError::L1(e.to_string())
}

impl L1Source {
    /// A source reading contract `rollup` through `url`.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn new(url: &str, rollup: Address) -> DerivationResult<Self> {
        Ok(Self {
            reader: BatchReader::new(url, rollup)?,
            from_block: 0,
            window: DEFAULT_LOG_WINDOW,
        })
    }

    fn contract(&self) -> Rollup::RollupInstance<&alloy::providers::RootProvider> {
        Rollup::new(self.reader.rollup(), self.reader.provider())
    }

    /// The newest L1 block number.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn head(&self) -> DerivationResult<u64> {
        self.reader.provider().get_block_number().await.map_err(l1)
    }

    /// The hash of L1 block `number`, if it exists.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn block_hash(&self, number: u64) -> DerivationResult<Option<B256>> {
        let block = self
            .reader
            .provider()
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(l1)?;
        Ok(block.map(|b| b.header.hash))
    }

    /// The contract's L2 chain id, genesis block hash and genesis state root.
    ///
    /// # Errors
    /// When L1 does not answer or no `Rollup` is at the address.
    pub async fn genesis(&self) -> DerivationResult<(u64, B256, B256)> {
        let contract = self.contract();
        let chain = contract.l2ChainId().call().await.map_err(|e| {
            DerivationError::L1(format!(
                "no Rollup contract answers at {}: {e}",
                self.reader.rollup()
            ))
        })?;
        let hash = contract.genesisBlockHash().call().await.map_err(l1)?;
        let root = contract.genesisStateRoot().call().await.map_err(l1)?;
        Ok((chain, hash, root))
    }

    /// The last L2 block the contract has committed, and its batch count.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn committed(&self) -> DerivationResult<(u64, u64)> {
        let contract = self.contract();
        let latest = contract.latestBlock().call().await.map_err(l1)?;
        let count = contract.batchCount().call().await.map_err(l1)?;
        Ok((latest, u64::try_from(count).unwrap_or(u64::MAX)))
    }

    /// The L1 block in which batch `index` committed.
    ///
    /// # Errors
    /// [`DerivationError::NoSuchBatch`] beyond the last batch.
    pub async fn batch_l1_block(&self, index: u64) -> DerivationResult<u64> {
        let (_, count) = self.committed().await?;
        if index >= count {
            return Err(DerivationError::NoSuchBatch { index, count });
        }
        let batch = self
            .contract()
            .getBatch(alloy_primitives::U256::from(index))
            .call()
            .await
            .map_err(l1)?;
        Ok(batch.l1Block)
    }

    /// The batcher history: (L1 block, log index, new batcher), in order.
    async fn batchers(&self, to: u64) -> DerivationResult<Vec<(u64, u64, Address)>> {
        let mut out = Vec::new();
        let mut from = self.from_block;
        while from <= to {
            let end = to.min(from + self.window - 1);
            let filter = Filter::new()
                .address(self.reader.rollup())
                .event_signature(Rollup::BatcherChanged::SIGNATURE_HASH)
                .from_block(from)
                .to_block(end);
            for log in self.reader.provider().get_logs(&filter).await.map_err(l1)? {
                let Ok(event) = Rollup::BatcherChanged::decode_log(&log.inner) else { continue };
                out.push((
                    log.block_number.unwrap_or_default(),
                    log.log_index.unwrap_or_default(),
                    event.data.newBatcher,
                ));
            }
            from = end + 1;
        }
        Ok(out)
    }

    /// Every batch that committed in L1 blocks `from..=to`, in order, each readable and
    /// authenticated or the reason it is not.
    ///
    /// # Errors
    /// When L1 does not answer.
    pub async fn batches(&self, from: u64, to: u64) -> DerivationResult<Vec<FoundBatch>> {
        let batchers = self.batchers(to).await?;
        let batcher_at = |block: u64, log: u64| {
            batchers
                .iter()
                .take_while(|(b, l, _)| (*b, *l) < (block, log))
                .last()
                .map(|(_, _, batcher)| *batcher)
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        let mut start = from.max(self.from_block);
        while start <= to {
            let end = to.min(start + self.window - 1);
            for found in self.reader.batches(start, end).await? {
                out.push(match found {
                    Ok(batch) => authenticate(batch, batcher_at),
                    Err(batcher::BatcherError::Posted { batch, reason }) => {
                        Err(Divergence::Unreadable { batch, reason })
                    }
                    Err(other) => return Err(other.into()),
                });
            }
            start = end + 1;
        }
        Ok(out)
    }

    /// Batch `index`, read from the L1 block it committed in.
    ///
    /// # Errors
    /// [`DerivationError::NoSuchBatch`] beyond the last batch; L1 errors.
    pub async fn batch(&self, index: u64) -> DerivationResult<FoundBatch> {
        let block = self.batch_l1_block(index).await?;
        let found = self.batches(block, block).await?;
        found
            .into_iter()
            .find(|b| match b {
                Ok(batch) => batch.index == index,
                Err(Divergence::Unreadable { batch, .. }) => *batch == index,
                Err(_) => false,
            })
            .ok_or_else(|| {
                DerivationError::L1(format!("batch {index} not found in L1 block {block}"))
            })
    }
}

/// Checks every frame of `batch` came from the batcher registered when it landed.
fn authenticate(batch: PostedBatch, batcher_at: impl Fn(u64, u64) -> Address) -> FoundBatch {
    for frame in &batch.frames {
        let batcher = batcher_at(frame.l1_block, frame.log_index);
        if frame.sender != batcher {
            return Err(Divergence::Unauthenticated {
                batch: batch.index,
                tx: frame.tx,
                sender: frame.sender,
                batcher,
            });
        }
    }
    Ok(batch)
}
