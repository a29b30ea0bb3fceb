//! The batcher's loop: follow the sequencer, batch what L1 has not committed, send it, watch
//! it until it is confirmed, and recover from every L1 fault by asking the contract.
//!
//! Architecture invariant: the contract decides what is committed. The batcher only ever
//! sends the range right after the contract's latest block, at most one batch (its frames) at
//! a time, and remembers in-flight transactions only to watch, rebroadcast or replace them
//! under the same nonce. So a restart, an L1 outage, a stuck or reverted transaction, or a
//! reorg that drops a posted batch never skips a range (the contract's latest block does not
//! move past it) and never duplicates one (the contract rejects overlaps).

use std::{
    collections::VecDeque,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;
use tracing::{info, warn};

use crate::{
    batch::{Batch, EncodeOptions},
    config::BatcherConfig,
    error::{BatcherError, BatcherResult},
    l1::{L1, SendOutcome, previous_hashes},
    progress::{InFlight, Progress},
    source::{L2Block, L2Source},
};

/// Most L2 blocks fetched per step (the rest waits for the next step).
const FETCH_PER_STEP: u64 = 512;
/// Longest wait between retries of a failing step.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A running batcher.
#[derive(Debug)]
pub struct BatcherHandle {
    task: tokio::task::JoinHandle<BatcherResult<()>>,
    stop: watch::Sender<bool>,
}

impl BatcherHandle {
    /// Stops the batcher after its current step and waits for it.
    ///
    /// # Errors
    /// The error that ended the batcher early, if one did.
    pub async fn stop(self) -> BatcherResult<()> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or(Ok(()))
    }

    /// Kills the batcher wherever it is, as a crash would (tests of crash recovery).
    pub fn kill(self) {
        self.task.abort();
    }

    /// Whether it stopped (on its own: a fatal error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Starts the batcher on the current tokio runtime.
pub fn spawn(config: BatcherConfig) -> BatcherHandle {
    let (stop, stopped) = watch::channel(false);
    BatcherHandle { task: tokio::spawn(run(config, stopped)), stop }
}

/// Runs the batcher until `stop` turns true or a fatal error.
///
/// # Errors
/// Only errors that retrying cannot fix (wrong key, wrong chain, a diverged sequencer, an
/// unreadable progress file).
pub async fn run(config: BatcherConfig, mut stop: watch::Receiver<bool>) -> BatcherResult<()> {
    let mut service = Service::new(config)?;
    let mut backoff = service.config.poll_interval;
    loop {
        match service.step().await {
            Ok(()) => backoff = service.config.poll_interval,
            Err(e) if e.is_retryable() => {
                warn!(target: "batcher", error = %e, retry_in_ms = backoff.as_millis() as u64, "step failed; retrying");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// An unposted L2 block and when the batcher first saw it.
#[derive(Debug)]
struct Cached {
    block: L2Block,
    seen: Instant,
}

struct Service {
    config: BatcherConfig,
    l1: Option<L1>,
    l2: L2Source,
    progress: Progress,
    /// Blocks after the contract's latest, in order.
    cache: VecDeque<Cached>,
    /// Compressed bytes per raw byte, learned from the last batch.
    ratio: f64,
    throttled: bool,
    /// The `(safe, finalized)` last told to the sequencer.
    reported: Told<(u64, u64)>,
    /// The block size cap last told to the sequencer.
    capped: Told<Option<u64>>,
}

/// How often the sequencer is told again what it was told: it keeps L1 heads across
/// restarts but not the block size cap, and a report sent while it was down is lost. (A
/// batcher that restarts tells both at once, lifting a cap its predecessor left.)
const RETELL_INTERVAL: Duration = Duration::from_secs(5);

/// What was last told to the sequencer, and when.
#[derive(Debug, Default)]
struct Told<T> {
    last: Option<(T, Instant)>,
}

impl<T: PartialEq> Told<T> {
    /// Whether `value` should be sent: it changed, or [`RETELL_INTERVAL`] has passed.
    fn due(&self, value: &T) -> bool {
        self.last.as_ref().is_none_or(|(last, at)| last != value || at.elapsed() >= RETELL_INTERVAL)
    }

    fn sent(&mut self, value: T) {
        self.last = Some((value, Instant::now()));
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Service {
    fn new(config: BatcherConfig) -> BatcherResult<Self> {
        let progress = Progress::load(&config.datadir)?;
        let l2 = L2Source::new(&config.l2_rpc, config.l2_admin.as_deref())?;
        Ok(Self {
            config,
            l1: None,
            l2,
            progress,
            cache: VecDeque::new(),
            ratio: 0.6,
            throttled: false,
            reported: Told::default(),
            capped: Told::default(),
        })
    }

    /// Connects to L1 and checks the contract is ours, once.
    async fn l1(&mut self) -> BatcherResult<L1> {
        if let Some(l1) = &self.l1 {
            return Ok(l1.clone());
        }
        let l1 =
            L1::connect(&self.config.l1_rpc, self.config.rollup, self.config.key.clone()).await?;
        let (batcher, contract_chain) = l1.contract_setup().await?;
        if batcher != l1.address() {
            return Err(BatcherError::NotBatcher { expected: batcher, ours: l1.address() });
        }
        let sequencer_chain = self.l2.chain_id().await?;
        if contract_chain != sequencer_chain {
            return Err(BatcherError::WrongChain {
                contract: contract_chain,
                sequencer: sequencer_chain,
            });
        }
        info!(target: "batcher", batcher = %batcher, rollup = %self.config.rollup, chain = sequencer_chain, "batcher connected");
        self.l1 = Some(l1.clone());
        Ok(l1)
    }

    fn save(&self) -> BatcherResult<()> {
        self.progress.save(&self.config.datadir)
    }

    async fn step(&mut self) -> BatcherResult<()> {
        let l1 = self.l1().await?;
        let l1_head = l1.head().await?;
        if !self.progress.in_flight.is_empty() {
            self.watch_in_flight(&l1, l1_head).await?;
        }
        let committed = l1.committed(None).await?;
        self.reconcile(&l1, l1_head, committed).await?;
        self.fetch(committed).await?;
        self.back_pressure().await?;
        if self.progress.in_flight.is_empty() {
            self.post(&l1, committed).await?;
        }
        Ok(())
    }

    /// Records what L1 has committed with enough confirmations, and tells the sequencer.
    async fn reconcile(&mut self, l1: &L1, l1_head: u64, committed: u64) -> BatcherResult<()> {
        // A transaction in the newest block has one confirmation.
        let at_depth = |confirmations: u64| async move {
            if confirmations <= 1 {
                return committed;
            }
            // Below the contract's deployment the call fails: nothing was committed yet.
            l1.committed(Some(l1_head.saturating_sub(confirmations - 1)))
                .await
                .unwrap_or(0)
                .min(committed)
        };
        let confirmed = at_depth(self.config.confirmations).await;
        let finalized = at_depth(self.config.finality_depth.max(self.config.confirmations)).await;
        if confirmed < self.progress.posted {
            warn!(
                target: "batcher",
                posted = self.progress.posted,
                now_committed = confirmed,
                "L1 reorg undid posted L2 blocks; they will be posted again"
            );
        }
        if confirmed != self.progress.posted {
            self.progress.posted = confirmed;
            self.save()?;
        }
        if self.reported.due(&(confirmed, finalized)) {
            self.l2.set_l1_heads(confirmed, finalized).await?;
            self.reported.sent((confirmed, finalized));
        }
        Ok(())
    }

    /// Keeps the cache of unposted blocks in step with the contract and the sequencer.
    async fn fetch(&mut self, committed: u64) -> BatcherResult<()> {
        while self.cache.front().is_some_and(|c| c.block.block.number <= committed) {
            self.cache.pop_front();
        }
        if self.cache.front().is_some_and(|c| c.block.block.number != committed + 1) {
            // L1 went back (a reorg): the cache no longer starts where posting resumes.
            self.cache.clear();
        }
        let next = self.cache.back().map_or(committed + 1, |c| c.block.block.number + 1);
        let head = self.l2.head().await?;
        for number in next..=head.min(next + FETCH_PER_STEP - 1) {
            let Some(block) = self.l2.block(number).await? else { break };
            if let Some(previous) = self.cache.back()
                && block.parent_hash != previous.block.hash
            {
                return Err(BatcherError::Rpc {
                    endpoint: "L2",
                    reason: format!("block {number} does not extend block {}", number - 1),
                });
            }
            self.cache.push_back(Cached { block, seen: Instant::now() });
        }
        Ok(())
    }

    /// Throttles the sequencer's blocks while unposted data piles up, and lifts the throttle
    /// once it has drained to half.
    async fn back_pressure(&mut self) -> BatcherResult<()> {
        let pending: usize = self.cache.iter().map(|c| c.block.raw_bytes).sum();
        if !self.throttled && pending > self.config.max_pending_bytes {
            self.throttled = true;
            warn!(target: "batcher", pending_bytes = pending, cap = self.config.throttled_block_bytes, "L1 is behind: throttling L2 block size");
        } else if self.throttled && pending < self.config.max_pending_bytes / 2 {
            self.throttled = false;
            info!(target: "batcher", pending_bytes = pending, "L1 caught up: block size throttle lifted");
        }
        let cap = self.throttled.then_some(self.config.throttled_block_bytes as u64);
        if self.capped.due(&cap) {
            self.l2.set_max_block_bytes(cap).await?;
            self.capped.sent(cap);
        }
        Ok(())
    }

    fn estimate(&self, raw: usize) -> usize {
        (raw as f64 * self.ratio) as usize
    }

    /// Posts the next batch when enough data has piled up or the oldest block has waited long
    /// enough.
    async fn post(&mut self, l1: &L1, committed: u64) -> BatcherResult<()> {
        let Some(oldest) = self.cache.front() else { return Ok(()) };
        let max_batch = self.config.max_frames * self.config.max_frame_bytes;
        let (mut count, mut raw) = (0usize, 0usize);
        for cached in &self.cache {
            let size = cached.block.raw_bytes + 64;
            if count > 0 && self.estimate(raw + size) > max_batch {
                break;
            }
            raw += size;
            count += 1;
            if self.estimate(raw) >= self.config.target_batch_bytes {
                break;
            }
        }
        let full = self.estimate(raw) >= self.config.target_batch_bytes || count < self.cache.len();
        if !full && oldest.seen.elapsed() < self.config.max_batch_age {
            return Ok(());
        }
        let anchor = oldest.block.parent_hash;
        let expected = l1.committed_hash(committed).await?;
        if anchor != expected {
            return Err(BatcherError::Diverged { number: committed + 1, found: anchor, expected });
        }
        let options =
            EncodeOptions { zstd_level: self.config.compression_level, ..EncodeOptions::default() };
        let (encoded, count) = loop {
            let batch = Batch {
                parent_hash: anchor,
                blocks: self.cache.iter().take(count).map(|c| c.block.block.clone()).collect(),
            };
            let encoded = tokio::task::spawn_blocking(move || batch.encode(&options))
                .await
                .map_err(|e| BatcherError::Rpc { endpoint: "encoder", reason: e.to_string() })??;
            if encoded.len() <= max_batch || count == 1 {
                break (encoded, count);
            }
            count /= 2;
        };
        let blocks: Vec<&L2Block> = self.cache.iter().take(count).map(|c| &c.block).collect();
        let raw: usize = blocks.iter().map(|b| b.raw_bytes).sum();
        self.ratio = (encoded.len() as f64 / raw.max(1) as f64).clamp(0.05, 2.0);
        let txs: usize = blocks.iter().map(|b| b.block.transactions.len()).sum();
        let (first, last) = (blocks[0].block.number, blocks[count - 1]);
        let frames: Vec<&[u8]> = encoded.chunks(self.config.max_frame_bytes).collect();
        let frame_count = u16::try_from(frames.len()).map_err(|_| BatcherError::Rpc {
            endpoint: "encoder",
            reason: format!("batch of {} bytes needs more than 65535 frames", encoded.len()),
        })?;
        // Frames a lost attempt left pending (its later frames reverted, or went to a reorg)
        // make the contract refuse `submitBatch`: a one-frame batch then replaces them.
        let calldata = if frame_count == 1 && l1.pending_frames().await? > 0 {
            L1::frame_calldata
        } else {
            L1::calldata
        };
        // Each frame names the running hash over the frames before it, so that frames of
        // another encoding of this range (a second batcher with the same key) cannot chain in.
        let previous = previous_hashes(frames.iter().copied());
        let nonce = l1.pending_nonce().await?;
        let (max_fee, tip) = l1.fees().await?;
        let sent_at = now_secs();
        for (i, (frame, previous_hash)) in frames.iter().zip(previous).enumerate() {
            let input = calldata(
                first,
                last.block.number,
                last.state_root,
                last.hash,
                i as u16,
                frame_count,
                previous_hash,
                frame.to_vec().into(),
            );
            let (hash, raw_tx) = l1.sign(nonce + i as u64, input, max_fee, tip);
            self.progress.in_flight.push(InFlight {
                nonce: nonce + i as u64,
                hashes: vec![hash],
                raw: raw_tx,
                first,
                last: last.block.number,
                frame: i as u16,
                frames: frame_count,
                max_fee,
                tip,
                sent_at,
                txs: txs as u64,
                raw_bytes: raw as u64,
                compressed_bytes: encoded.len() as u64,
            });
        }
        // Persisted before sending: a crash right after sending finds them on restart.
        self.save()?;
        for tx in &self.progress.in_flight {
            match l1.send(&tx.raw).await? {
                SendOutcome::Accepted => {}
                outcome => {
                    warn!(target: "batcher", nonce = tx.nonce, ?outcome, "frame not accepted; will retry")
                }
            }
        }
        info!(
            target: "batcher",
            l2_first = first,
            l2_last = last.block.number,
            txs,
            raw_bytes = raw,
            compressed_bytes = encoded.len(),
            frames = frame_count,
            nonce,
            "sent batch"
        );
        Ok(())
    }

    /// Follows the in-flight frames: done when all are mined and confirmed, replaced with
    /// higher fees when stuck, dropped (the contract decides what comes next) when one
    /// reverted or its nonce went to another transaction.
    async fn watch_in_flight(&mut self, l1: &L1, l1_head: u64) -> BatcherResult<()> {
        let now = now_secs();
        let mined_nonce = l1.mined_nonce().await?;
        let first_nonce = self.progress.in_flight[0].nonce;
        if mined_nonce < first_nonce && l1.pending_nonce().await? <= first_nonce {
            // Our transactions before these were mined once, and a reorg dropped them: these
            // can never be mined. The contract says what to post now.
            warn!(
                target: "batcher",
                mined_nonce,
                in_flight_nonce = first_nonce,
                "earlier batch transactions were dropped by an L1 reorg; posting again from the contract's view"
            );
            self.progress.in_flight.clear();
            return self.save();
        }
        let (mut all_confirmed, mut failed, mut gas_used) = (true, false, 0u64);
        let mut changed = false;
        for i in 0..self.progress.in_flight.len() {
            let tx = &self.progress.in_flight[i];
            let mut mined = None;
            for hash in tx.hashes.iter().rev() {
                if let Some(outcome) = l1.mined(*hash).await? {
                    mined = Some(outcome);
                    break;
                }
            }
            match mined {
                Some(outcome) if !outcome.success => {
                    warn!(target: "batcher", nonce = tx.nonce, l2_first = tx.first, frame = tx.frame, "frame reverted on L1 (the range is likely committed already); reconciling");
                    failed = true;
                }
                Some(outcome) => {
                    gas_used += outcome.gas_used;
                    if l1_head + 1 < outcome.block + self.config.confirmations {
                        all_confirmed = false;
                    }
                }
                None if tx.nonce < mined_nonce => {
                    warn!(target: "batcher", nonce = tx.nonce, "nonce used by another transaction; reconciling");
                    failed = true;
                }
                None => {
                    all_confirmed = false;
                    if now >= tx.sent_at + self.config.resubmit_after.as_secs() {
                        self.replace(l1, i, now).await?;
                        changed = true;
                    } else {
                        // The node may have lost it (a restart, a reorg): sending again is harmless.
                        let _ = l1.send(&tx.raw).await?;
                    }
                }
            }
        }
        if failed {
            self.progress.in_flight.clear();
            self.save()?;
            // A frame reverts for good when the contract's owner has given the batcher role to
            // another key: stop instead of paying for reverts forever.
            let (batcher, _) = l1.contract_setup().await?;
            if batcher != l1.address() {
                return Err(BatcherError::NotBatcher { expected: batcher, ours: l1.address() });
            }
        } else if all_confirmed {
            let first = &self.progress.in_flight[0];
            info!(
                target: "batcher",
                l2_first = first.first,
                l2_last = first.last,
                txs = first.txs,
                raw_bytes = first.raw_bytes,
                compressed_bytes = first.compressed_bytes,
                bytes_per_tx =
                    %format_args!("{:.1}", first.compressed_bytes as f64 / first.txs.max(1) as f64),
                frames = first.frames,
                l1_gas_used = gas_used,
                l1_gas_per_tx = (gas_used as f64 / first.txs.max(1) as f64).round() as u64,
                l1_tx = %first.hashes.last().copied().unwrap_or_default(),
                "posted batch"
            );
            self.progress.in_flight.clear();
            self.save()?;
        } else if changed {
            self.save()?;
        }
        Ok(())
    }

    /// Re-signs in-flight transaction `i` with the same nonce and fees raised by at least the
    /// configured bump (and at least today's fees), and sends it.
    async fn replace(&mut self, l1: &L1, i: usize, now: u64) -> BatcherResult<()> {
        let (market_fee, market_tip) = l1.fees().await?;
        let bump = |old: u128| {
            old.saturating_mul(100 + self.config.fee_bump_percent).div_ceil(100).max(old + 1)
        };
        let tx = &self.progress.in_flight[i];
        let max_fee = bump(tx.max_fee).max(market_fee);
        let tip = bump(tx.tip).max(market_tip).min(max_fee);
        let limit = market_fee.saturating_mul(self.config.fee_limit_multiplier);
        if max_fee > limit {
            warn!(
                target: "batcher",
                nonce = tx.nonce,
                max_fee,
                limit,
                "frame stuck, but a replacement would exceed the fee limit; waiting for it"
            );
            let raw = tx.raw.clone();
            let _ = l1.send(&raw).await?;
            self.progress.in_flight[i].sent_at = now;
            return Ok(());
        }
        let input = decode_input(&tx.raw);
        let (hash, raw) = l1.sign(tx.nonce, input, max_fee, tip);
        let tx = &mut self.progress.in_flight[i];
        tx.hashes.push(hash);
        tx.raw = raw;
        tx.max_fee = max_fee;
        tx.tip = tip;
        tx.sent_at = now;
        let (nonce, raw) = (tx.nonce, tx.raw.clone());
        self.save()?;
        let outcome = l1.send(&raw).await?;
        warn!(target: "batcher", nonce, max_fee, tip, ?outcome, "frame stuck: resubmitted with higher fees");
        Ok(())
    }
}

/// The calldata of a signed transaction this batcher sent.
fn decode_input(raw: &[u8]) -> Vec<u8> {
    use alloy::{consensus::Transaction as _, eips::eip2718::Decodable2718};
    alloy::consensus::TxEnvelope::decode_2718_exact(raw)
        .map(|tx| tx.input().to_vec())
        .unwrap_or_default()
}
