//! The batcher's errors, each saying whether retrying can help.

use alloy_primitives::Address;

/// Errors of the batcher.
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// An L1 or L2 endpoint did not answer (or answered with a transport error): retry later.
    #[error("{endpoint} unreachable: {reason}")]
    Unreachable {
        /// Which endpoint (`L1`, `L2`, `L2 admin`).
        endpoint: &'static str,
        /// The error.
        reason: String,
    },
    /// An endpoint answered, but not as expected (a bad block, a failed call): retry later.
    #[error("{endpoint}: {reason}")]
    Rpc {
        /// Which endpoint.
        endpoint: &'static str,
        /// The error.
        reason: String,
    },
    /// The configured key is not the contract's batcher: nothing to retry.
    #[error("the Rollup contract's batcher is {expected}, not this key's address {ours}")]
    NotBatcher {
        /// The contract's batcher.
        expected: Address,
        /// Our address.
        ours: Address,
    },
    /// The contract was deployed for another chain.
    #[error("the Rollup contract is for chain {contract}, the sequencer serves chain {sequencer}")]
    WrongChain {
        /// The contract's L2 chain id.
        contract: u64,
        /// The sequencer's chain id.
        sequencer: u64,
    },
    /// The sequencer's blocks do not continue what L1 holds (a different chain or genesis).
    #[error("L2 block {number} has parent {found}, but L1 committed block hash {expected}")]
    Diverged {
        /// The L2 block.
        number: u64,
        /// Its parent hash on L2.
        found: alloy_primitives::B256,
        /// What L1 holds for the parent.
        expected: alloy_primitives::B256,
    },
    /// A batch on L1 could not be read back: its data is missing or does not match its
    /// commitment.
    #[error("L1 batch {batch}: {reason}")]
    Posted {
        /// The batch index (`u64::MAX` when not even that could be read).
        batch: u64,
        /// What is wrong.
        reason: String,
    },
    /// A batch could not be encoded.
    #[error(transparent)]
    Batch(#[from] crate::batch::BatchError),
    /// Progress could not be read or written.
    #[error("progress file {path}: {reason}")]
    Progress {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl BatcherError {
    /// Whether the same operation may succeed later (the loop retries these).
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Rpc { .. })
    }
}

/// Shorthand.
pub type BatcherResult<T> = Result<T, BatcherError>;
