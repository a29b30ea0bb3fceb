//! L1 as the derivation tool sees it: the `Rollup` contract's batches, read in bounded log
//! windows, each authenticated against the batcher the contract had registered when its frames
//! landed (the `BatcherChanged` history), plus the contract's views. A scan may start after the
//! contract's deployment: the batcher then in office is read from the contract's `batcher()`
//! view at the block before, since the constructor's `BatcherChanged` log is out of reach.
//!
//! The contract itself only accepts frames from its batcher, so an honest L1 never shows an
//! unauthenticated batch; the check is defence in depth for a reader that trusts nothing but
//! the logs. Unreadable or unauthenticated batches are returned as [`Divergence`]s: the tool
//! reports them, warns, and never panics on them.

use alloy::{
    eips::{BlockId, BlockNumberOrTag},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use std::sync::{Arc, Mutex, PoisonError};

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
    /// First L1 block to scan (0, the contract's deployment block, or a later one: batches
    /// committed before it are not seen).
    pub from_block: u64,
    /// L1 blocks per log request.
    pub window: u64,
    /// The batcher in office before a scan's first block, as read from the contract: (that
    /// block, the batcher). Read once: a pruning L1 node soon forgets the state of old blocks.
    batcher_before: Arc<Mutex<Option<(u64, Address)>>>,
    /// The batcher history read by the last scan, extended by the next ones.
    known_batchers: Arc<Mutex<Option<KnownBatchers>>>,
}

/// A batcher history read for L1 blocks `from..=to`, when block `to` had hash `to_hash`.
#[derive(Debug, Clone)]
struct KnownBatchers {
    from: u64,
    to: u64,
    to_hash: B256,
    history: BatcherHistory,
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
            batcher_before: Arc::default(),
            known_batchers: Arc::default(),
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

    /// The last L2 block the contract had committed at the end of L1 block `l1_block`.
    ///
    /// # Errors
    /// When L1 does not answer (or no longer holds the state of that block).
    pub async fn committed_at(&self, l1_block: u64) -> DerivationResult<u64> {
        self.contract().latestBlock().block(BlockId::number(l1_block)).call().await.map_err(l1)
    }

    /// The batcher history of L1 blocks `from..=to`: each `BatcherChanged` log, and the
    /// batcher before the first one. When `from` is after the contract's deployment (the
    /// constructor's `BatcherChanged` is not in the range), that batcher is the contract's
    /// `batcher()` view at the end of block `from - 1`.
    ///
    /// The history read is kept and extended by later calls with the same `from` (a sync that
    /// follows L1 asks for `from..=head` at every batch), so each L1 block's logs are read
    /// once, not once per batch after it. It is trusted only while the last block it covers is
    /// still canonical (checked by hash at each call, which vouches for every block before it);
    /// after an L1 reorg it is read again from `from`.
    async fn batchers(&self, from: u64, to: u64) -> DerivationResult<BatcherHistory> {
        // Read before anything it vouches for: if a reorg lands after this, the hash kept is
        // the replaced one, and the next call reads the history again.
        let to_hash = self.block_hash(to).await?;
        let known = self
            .known_batchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|known| known.from == from);
        if let Some(mut known) = known
            && self.block_hash(known.to).await? == Some(known.to_hash)
        {
            if to <= known.to {
                // Changes after `to` precede no frame of the range: `at` ignores them.
                return Ok(known.history);
            }
            if let Some(to_hash) = to_hash {
                self.read_batcher_changes(known.to + 1, to, &mut known.history).await?;
                (known.to, known.to_hash) = (to, to_hash);
                *self.known_batchers.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(known.clone());
                return Ok(known.history);
            }
        }
        let mut history = BatcherHistory::default();
        let deployed_in_range = self.read_batcher_changes(from, to, &mut history).await?;
        if !deployed_in_range && from > 0 {
            history.initial = Some(self.batcher_before(from).await?);
        }
        if let Some(to_hash) = to_hash {
            *self.known_batchers.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(KnownBatchers { from, to, to_hash, history: history.clone() });
        }
        Ok(history)
    }

    /// Appends the `BatcherChanged` logs of L1 blocks `from..=to` to `history`; returns whether
    /// the constructor's (the first batcher, from the zero address) came first among them.
    async fn read_batcher_changes(
        &self,
        from: u64,
        to: u64,
        history: &mut BatcherHistory,
    ) -> DerivationResult<bool> {
        let mut deployed_in_range = false;
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(self.window.saturating_sub(1)));
            let filter = Filter::new()
                .address(self.reader.rollup())
                .event_signature(Rollup::BatcherChanged::SIGNATURE_HASH)
                .from_block(start)
                .to_block(end);
            for log in self.reader.provider().get_logs(&filter).await.map_err(l1)? {
                let Ok(event) = Rollup::BatcherChanged::decode_log(&log.inner) else { continue };
                // The constructor announces the first batcher, from the zero address.
                if history.changes.is_empty() && event.data.previousBatcher == Address::ZERO {
                    deployed_in_range = true;
                }
                history.changes.push((
                    log.block_number.unwrap_or_default(),
                    log.log_index.unwrap_or_default(),
                    event.data.newBatcher,
                ));
            }
            start = end + 1;
        }
        Ok(deployed_in_range)
    }

    /// The batcher in office at the end of L1 block `from - 1` (`from > 0`), read from the
    /// contract once per `from`.
    async fn batcher_before(&self, from: u64) -> DerivationResult<Address> {
        let before = from - 1;
        let cached = *self.batcher_before.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((block, batcher)) = cached
            && block == before
        {
            return Ok(batcher);
        }
        let batcher = self
            .contract()
            .batcher()
            .block(BlockId::number(before))
            .call()
            .await
            .map_err(|e| {
                DerivationError::L1(format!(
                    "reading the Rollup's batcher at L1 block {before} (the scan starts after its deployment; an earlier --l1.from-block, or an archive node, avoids this read): {e}"
                ))
            })?;
        *self.batcher_before.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((before, batcher));
        Ok(batcher)
    }

    /// Every batch that committed in L1 blocks `from..=to`, in order, each readable and
    /// authenticated or the reason it is not.
    ///
    /// # Errors
    /// When L1 does not answer; [`DerivationError::UnknownBatcher`] when the contract's logs
    /// name no batcher for a frame.
    pub async fn batches(&self, from: u64, to: u64) -> DerivationResult<Vec<FoundBatch>> {
        let mut read = Vec::new();
        let mut start = from.max(self.from_block);
        while start <= to {
            let end = to.min(start.saturating_add(self.window.saturating_sub(1)));
            read.extend(self.reader.batches(start, end).await?);
            start = end + 1;
        }
        // Frames of a multi-frame batch may have landed before the scan's first block.
        let earliest = read
            .iter()
            .filter_map(|found| found.as_ref().ok())
            .flat_map(|batch| batch.frames.iter().map(|frame| frame.l1_block))
            .min();
        let history = match earliest {
            Some(earliest) => self.batchers(earliest.min(self.from_block), to).await?,
            None => BatcherHistory::default(),
        };
        read.into_iter()
            .map(|found| match found {
                Ok(batch) => authenticate(batch, &history, self.from_block),
                Err(batcher::BatcherError::Posted { batch, reason }) => {
                    Ok(Err(Divergence::Unreadable { batch, reason }))
                }
                Err(other) => Err(other.into()),
            })
            .collect()
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

/// Who the batcher was, over a range of L1 blocks.
#[derive(Debug, Clone, Default)]
struct BatcherHistory {
    /// The batcher before the first change (`None`: unknown, the range starts at the
    /// contract's deployment or at block 0).
    initial: Option<Address>,
    /// Each change: (L1 block, log index, new batcher), in order.
    changes: Vec<(u64, u64, Address)>,
}

impl BatcherHistory {
    /// The batcher registered just before log `log` of L1 block `block`.
    fn at(&self, block: u64, log: u64) -> Option<Address> {
        self.changes
            .iter()
            .take_while(|(b, l, _)| (*b, *l) < (block, log))
            .last()
            .map(|(_, _, batcher)| *batcher)
            .or(self.initial)
    }
}

/// Checks every frame of `batch` came from the batcher registered when it landed.
fn authenticate(
    batch: PostedBatch,
    history: &BatcherHistory,
    from_block: u64,
) -> DerivationResult<FoundBatch> {
    for frame in &batch.frames {
        let batcher = history
            .at(frame.l1_block, frame.log_index)
            .ok_or(DerivationError::UnknownBatcher { l1_block: frame.l1_block, from_block })?;
        if frame.sender != batcher {
            return Ok(Err(Divergence::Unauthenticated {
                batch: batch.index,
                tx: frame.tx,
                sender: frame.sender,
                batcher,
            }));
        }
    }
    Ok(Ok(batch))
}

/// Checks that `batch`, the first one a scan from L1 block `from_block` found, continues the
/// chain held so far (which ends at L2 block `head`): when it starts later, the batches in
/// between committed before `from_block` and the scan cannot see them.
///
/// # Errors
/// [`DerivationError::BatchesPrecedeFromBlock`].
pub(crate) const fn check_first_batch(
    batch: &PostedBatch,
    head: u64,
    from_block: u64,
) -> DerivationResult<()> {
    if batch.first_block > head.saturating_add(1) {
        return Err(DerivationError::BatchesPrecedeFromBlock {
            from_block,
            batch: batch.index,
            first_block: batch.first_block,
            head,
        });
    }
    Ok(())
}
