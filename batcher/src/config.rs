//! The batcher's settings, with the defaults of its binary.

use std::{path::PathBuf, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::Address;

/// Largest calldata of one L1 transaction: under geth's 128 KiB transaction size limit with
/// room for the ABI encoding and the rest of the transaction.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 120_000;

/// Everything the batcher needs.
#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// L1 JSON-RPC endpoint.
    pub l1_rpc: String,
    /// The sequencer's JSON-RPC endpoint (blocks are read from it).
    pub l2_rpc: String,
    /// The sequencer's admin endpoint (back-pressure and L1 heads); optional.
    pub l2_admin: Option<String>,
    /// The `Rollup` contract on L1.
    pub rollup: Address,
    /// The key the contract accepts batches from.
    pub key: PrivateKeySigner,
    /// Where progress is persisted.
    pub datadir: PathBuf,
    /// Compressed bytes a batch aims for before it is posted (may span several frames).
    pub target_batch_bytes: usize,
    /// Most compressed bytes per L1 transaction (one frame).
    pub max_frame_bytes: usize,
    /// Most frames one batch may span.
    pub max_frames: usize,
    /// Post what is there once the oldest unposted block has waited this long.
    pub max_batch_age: Duration,
    /// L1 blocks on top of a batch's inclusion before it counts as posted (`safe`).
    pub confirmations: u64,
    /// L1 blocks on top before a posted batch counts as `finalized`.
    pub finality_depth: u64,
    /// Resubmit a transaction with higher fees when it is not included after this long.
    pub resubmit_after: Duration,
    /// Fee increase of a resubmission, in percent (at least 10, as geth requires).
    pub fee_bump_percent: u128,
    /// A replacement's max fee never exceeds this multiple of the market's max fee (a stuck
    /// transaction does not escalate its price without bound).
    pub fee_limit_multiplier: u128,
    /// zstd level of batches.
    pub compression_level: i32,
    /// Unposted raw L2 bytes above which the sequencer's blocks are throttled.
    pub max_pending_bytes: usize,
    /// The block size cap (encoded transaction bytes) applied while throttled.
    pub throttled_block_bytes: usize,
    /// Time between polls of L1 and L2.
    pub poll_interval: Duration,
}

impl BatcherConfig {
    /// Defaults around the given endpoints, contract, key and datadir.
    pub fn new(
        l1_rpc: String,
        l2_rpc: String,
        rollup: Address,
        key: PrivateKeySigner,
        datadir: PathBuf,
    ) -> Self {
        Self {
            l1_rpc,
            l2_rpc,
            l2_admin: None,
            rollup,
            key,
            datadir,
            target_batch_bytes: 100_000,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_frames: 8,
            max_batch_age: Duration::from_secs(2),
            confirmations: 1,
            finality_depth: 8,
            resubmit_after: Duration::from_secs(12),
            fee_bump_percent: 15,
            fee_limit_multiplier: 5,
            compression_level: crate::batch::DEFAULT_ZSTD_LEVEL,
            max_pending_bytes: 16 << 20,
            throttled_block_bytes: 128 << 10,
            poll_interval: Duration::from_millis(200),
        }
    }
}
