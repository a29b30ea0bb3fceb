//! What can be wrong with a batch: a range of blocks that cannot be encoded, or bytes that are
//! not a batch. Every variant says where (block number, transaction index, field).

use std::fmt;

use alloy_primitives::B256;

/// Result of batch encoding and decoding.
pub type BatchResult<T> = Result<T, BatchError>;

/// Why a batch cannot be built, encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The batch holds no block.
    #[error("batch has no blocks")]
    NoBlocks,
    /// More blocks than [`MAX_BLOCKS_PER_BATCH`](super::MAX_BLOCKS_PER_BATCH).
    #[error("batch has {count} blocks, at most {max} are allowed")]
    TooManyBlocks {
        /// Blocks in the batch.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// More transactions than [`MAX_TXS_PER_BATCH`](super::MAX_TXS_PER_BATCH).
    #[error("batch has {count} transactions, at most {max} are allowed")]
    TooManyTransactions {
        /// Transactions in the batch.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// Block numbers are not consecutive.
    #[error("block at position {position} has number {got}, expected {expected}")]
    NotContiguous {
        /// Position of the block in the batch.
        position: usize,
        /// The number that would continue the range.
        expected: u64,
        /// The number found.
        got: u64,
    },
    /// The block numbers of the batch run past `u64::MAX`.
    #[error("block numbers overflow: {count} blocks from block {first}")]
    NumberOverflow {
        /// First block number.
        first: u64,
        /// Blocks in the batch.
        count: u64,
    },
    /// A block's parent hash is not the hash of the block before it.
    #[error("block {number} has parent hash {got}, but block {} has hash {expected}", number - 1)]
    BrokenLink {
        /// The block whose parent hash is wrong.
        number: u64,
        /// Hash of the previous block.
        expected: B256,
        /// Parent hash in the block's header.
        got: B256,
    },
    /// A block's timestamp is not after its parent's.
    #[error("block {number} has timestamp {timestamp}, not after its parent's {parent}")]
    TimestampNotIncreasing {
        /// The block.
        number: u64,
        /// Its timestamp.
        timestamp: u64,
        /// The parent's timestamp.
        parent: u64,
    },
    /// A block's extra data is longer than [`MAX_EXTRA_DATA_BYTES`](super::MAX_EXTRA_DATA_BYTES).
    #[error("block {number} has {len} bytes of extra data, at most {max} are allowed")]
    ExtraDataTooLong {
        /// The block.
        number: u64,
        /// Length of its extra data.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A transaction the sequencer would never have included.
    #[error("block {block}, transaction {index}: {reason}")]
    Transaction {
        /// Block number.
        block: u64,
        /// Index of the transaction in its block.
        index: usize,
        /// What is wrong with it.
        reason: TxError,
    },
    /// zstd failed to compress.
    #[error("zstd compression failed: {0}")]
    Compress(std::io::Error),
    /// The input is empty: not even a version byte.
    #[error("batch data is empty")]
    Empty,
    /// The version byte names no known layout.
    #[error("unknown batch version {0}")]
    UnknownVersion(u8),
    /// The bytes after the version byte are not exactly one zstd frame.
    #[error("invalid zstd frame: {0}")]
    Frame(&'static str),
    /// The zstd frame declares a payload larger than
    /// [`MAX_DECOMPRESSED_BYTES`](super::MAX_DECOMPRESSED_BYTES).
    #[error("payload of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared decompressed size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// zstd rejected the frame while decompressing.
    #[error("zstd decompression failed: {0}")]
    Decompress(std::io::Error),
    /// A field of the decompressed payload is malformed.
    #[error("malformed {field} ({at}): {reason}")]
    Malformed {
        /// The field being read.
        field: &'static str,
        /// Where in the batch.
        at: Location,
        /// What is wrong.
        reason: WireError,
    },
    /// Bytes are left over after the last field of the payload.
    #[error("{0} bytes after the end of the payload")]
    TrailingBytes(usize),
}

/// Where in a batch a malformed field was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A batch-wide field.
    Batch,
    /// A field of the block with this number.
    Block(u64),
    /// A field of transaction `index` of block `block`.
    Tx {
        /// Block number.
        block: u64,
        /// Index in the block.
        index: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Batch => f.write_str("batch header"),
            Self::Block(number) => write!(f, "block {number}"),
            Self::Tx { block, index } => write!(f, "block {block}, transaction {index}"),
        }
    }
}

/// How a payload field fails to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The payload ends inside the field.
    #[error("payload ends inside it")]
    Truncated,
    /// A varint has more bytes than its value needs, or a big-endian integer a leading zero.
    #[error("not minimally encoded")]
    NotMinimal,
    /// A varint does not fit the field's integer type.
    #[error("value overflows")]
    Overflow,
    /// The value is outside the field's range.
    #[error("{0}")]
    OutOfRange(&'static str),
    /// Invalid RLP.
    #[error("rlp: {0}")]
    Rlp(alloy::rlp::Error),
}

/// Why a transaction is not one the sequencer could have included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// A blob (EIP-4844, type 3) transaction: this chain has no blob space.
    #[error("blob transactions (type 3) are not allowed")]
    Blob,
    /// A transaction type this chain does not know.
    #[error("unknown transaction type {0:#04x}")]
    UnknownType(u8),
    /// A legacy transaction without EIP-155 replay protection.
    #[error("legacy transaction without EIP-155 replay protection")]
    NotEip155,
    /// The transaction is signed for another chain.
    #[error("chain id {got}, expected {expected}")]
    WrongChainId {
        /// The chain id of the batch.
        expected: u64,
        /// The transaction's chain id.
        got: u64,
    },
    /// Chain id 0, which no EIP-155 chain uses (the columnar layout reserves it for batches
    /// without transactions).
    #[error("chain id 0 is not allowed")]
    ZeroChainId,
    /// An EIP-7702 transaction marked as a contract creation.
    #[error("an EIP-7702 transaction cannot create a contract")]
    Eip7702Create,
    /// The EIP-2718 bytes do not decode.
    #[error("invalid EIP-2718 encoding: {0}")]
    Rlp(alloy::rlp::Error),
    /// The EIP-2718 bytes decode, but re-encode differently.
    #[error("EIP-2718 bytes are not canonical")]
    NotCanonical,
}
