//! The derivation tool's errors. A [`Divergence`] is not an error of the tool: it is its
//! finding that the posted chain differs from the re-executed one.

use alloy_primitives::{Address, B256};

/// What went wrong running the tool.
#[derive(Debug, thiserror::Error)]
pub enum DerivationError {
    /// L1 did not answer or answered unexpectedly.
    #[error("L1: {0}")]
    L1(String),
    /// The replica or scratch store failed.
    #[error("store: {0}")]
    Store(#[from] sequencer::store::StoreError),
    /// Re-execution failed for a reason other than the batch itself (state unreadable).
    #[error("re-execution: {0}")]
    Build(#[from] sequencer::builder::BuildError),
    /// The given genesis is not the one the contract was deployed with.
    #[error(
        "the genesis given has block hash {} and state root {}, the Rollup contract was deployed for {} (root {}): pass the sequencer's genesis (--dev or --genesis FILE)",
        .0.ours, .0.our_root, .0.contract, .0.contract_root
    )]
    WrongGenesis(Box<GenesisMismatch>),
    /// No batch has this index.
    #[error("no batch {index}: the contract holds {count}")]
    NoSuchBatch {
        /// The index asked for.
        index: u64,
        /// How many there are.
        count: u64,
    },
    /// The replica's progress file cannot be read or written.
    #[error("progress file {path}: {reason}")]
    Progress {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The first batch a scan found does not continue the chain held so far: the batches in
    /// between committed before the first L1 block scanned.
    #[error(
        "batch {batch} starts at L2 block {first_block}, but the chain derived so far ends at L2 block {head}: the batches in between precede --l1.from-block {from_block} (pass the Rollup contract's deployment block, or an earlier one)"
    )]
    BatchesPrecedeFromBlock {
        /// The first L1 block scanned.
        from_block: u64,
        /// The batch found first.
        batch: u64,
        /// Its first L2 block.
        first_block: u64,
        /// The last L2 block held.
        head: u64,
    },
    /// A frame landed where the batcher history read from L1 names no batcher (the contract
    /// never announced one: it is not a `Rollup`).
    #[error(
        "no batcher is known at L1 block {l1_block}: the Rollup contract announced none from L1 block {from_block} on"
    )]
    UnknownBatcher {
        /// The L1 block of the frame.
        l1_block: u64,
        /// Where the history was read from.
        from_block: u64,
    },
    /// `verify` was asked to report from beyond the last block it would check.
    #[error(
        "nothing to verify from L2 block {from}: verification ends at L2 block {target} (the contract has committed L2 block {committed})"
    )]
    EmptyRange {
        /// The first block asked about.
        from: u64,
        /// The last block verification would check.
        target: u64,
        /// The contract's latest block.
        committed: u64,
    },
    /// `verify` read every batch log up to the L1 head and still fell short of its target.
    #[error(
        "verified up to L2 block {verified} only, short of L2 block {target}: the contract had committed L2 block {committed} at L1 block {l1_head}, but the batches logged in L1 blocks {from_block}..={l1_head} end at L2 block {verified}"
    )]
    Incomplete {
        /// The last L2 block verified (or held by the store).
        verified: u64,
        /// The block verification had to reach.
        target: u64,
        /// The contract's latest block at `l1_head`.
        committed: u64,
        /// The first L1 block scanned.
        from_block: u64,
        /// The last L1 block scanned.
        l1_head: u64,
    },
    /// The posted chain differs from the re-executed one.
    #[error(transparent)]
    Diverged(Box<Divergence>),
}

impl From<Divergence> for DerivationError {
    fn from(divergence: Divergence) -> Self {
        Self::Diverged(Box::new(divergence))
    }
}

/// The genesis given and the one the contract holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenesisMismatch {
    /// Hash of the given genesis.
    pub ours: B256,
    /// Its state root.
    pub our_root: B256,
    /// The contract's genesis hash.
    pub contract: B256,
    /// The contract's genesis state root.
    pub contract_root: B256,
}

impl From<batcher::BatcherError> for DerivationError {
    fn from(e: batcher::BatcherError) -> Self {
        Self::L1(e.to_string())
    }
}

/// Shorthand.
pub type DerivationResult<T> = Result<T, DerivationError>;

/// Where the chain posted on L1 and the chain re-executed from it part ways: the first
/// failing L2 block (or batch) and what differs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Divergence {
    /// The batch's data does not decode.
    #[error("batch {batch} (L2 blocks {first}..={last}): undecodable data: {reason}")]
    Undecodable {
        /// The batch index.
        batch: u64,
        /// Its first block as the contract recorded it.
        first: u64,
        /// Its last block.
        last: u64,
        /// The decoder's error.
        reason: String,
    },
    /// The batch's data cannot be read back from L1 at all.
    #[error("batch {batch}: unreadable on L1: {reason}")]
    Unreadable {
        /// The batch index.
        batch: u64,
        /// Why.
        reason: String,
    },
    /// A frame came from an account that was not the batcher when it landed.
    #[error("batch {batch}: frame {tx} was sent by {sender}, but the batcher then was {batcher}")]
    Unauthenticated {
        /// The batch index.
        batch: u64,
        /// The L1 transaction.
        tx: B256,
        /// Its sender.
        sender: Address,
        /// The registered batcher at that point.
        batcher: Address,
    },
    /// The decoded blocks are not the range the contract committed.
    #[error(
        "batch {batch}: the contract committed L2 blocks {first}..={last}, the data carries {data_first}..={data_last}"
    )]
    RangeMismatch {
        /// The batch index.
        batch: u64,
        /// First block per the contract.
        first: u64,
        /// Last block per the contract.
        last: u64,
        /// First block in the data.
        data_first: u64,
        /// Last block in the data.
        data_last: u64,
    },
    /// The batch does not extend the chain re-executed so far.
    #[error(
        "L2 block {block}: the batch builds on parent {posted}, the re-executed chain has {computed}"
    )]
    ParentHash {
        /// The first block of the batch.
        block: u64,
        /// The parent hash the batch carries.
        posted: B256,
        /// The hash of the re-executed parent.
        computed: B256,
    },
    /// A block is not valid on top of its parent.
    #[error("L2 block {block}: invalid block: {reason}")]
    InvalidBlock {
        /// The block.
        block: u64,
        /// Why.
        reason: String,
    },
    /// A transaction of the batch cannot be included where the batch puts it.
    #[error("L2 block {block}: transaction {index} ({hash}) is invalid there: {reason}")]
    InvalidTransaction {
        /// The block.
        block: u64,
        /// Its index in the block.
        index: usize,
        /// Its hash.
        hash: B256,
        /// Why.
        reason: String,
    },
    /// The posted state root differs from the re-executed one.
    #[error("L2 block {block}: state root differs: posted {posted}, re-executed {computed}")]
    StateRoot {
        /// The block (the last of its batch).
        block: u64,
        /// Posted on L1.
        posted: B256,
        /// Re-executed.
        computed: B256,
    },
    /// The posted block hash differs from the re-executed one while the state root matches:
    /// a header field other than the state root differs (receipts, transactions, logs bloom,
    /// gas used, …).
    #[error(
        "L2 block {block}: block hash differs (state root matches, so receipts, transactions or another header field differ): posted {posted}, re-executed {computed} (receipts root {receipts_root}, gas used {gas_used})"
    )]
    BlockHash {
        /// The block (the last of its batch).
        block: u64,
        /// Posted on L1.
        posted: B256,
        /// Re-executed.
        computed: B256,
        /// The re-executed receipts root, to compare with the sequencer's header.
        receipts_root: B256,
        /// The re-executed gas used.
        gas_used: u64,
    },
}

impl Divergence {
    /// The first L2 block the divergence concerns, when it concerns one.
    pub const fn block(&self) -> Option<u64> {
        match self {
            Self::Undecodable { first, .. } | Self::RangeMismatch { first, .. } => Some(*first),
            Self::ParentHash { block, .. }
            | Self::InvalidBlock { block, .. }
            | Self::InvalidTransaction { block, .. }
            | Self::StateRoot { block, .. }
            | Self::BlockHash { block, .. } => Some(*block),
            Self::Unreadable { .. } | Self::Unauthenticated { .. } => None,
        }
    }
}
