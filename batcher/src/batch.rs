//! The batch wire format: how a contiguous range of sealed L2 blocks is written to L1 and read
//! back. This module is the single source of truth for it; the batcher encodes with it and the
//! derivation tool decodes with it.
//!
//! # What a batch carries
//!
//! Everything a verifier needs to re-execute the range and rebuild every block and block hash
//! exactly, and nothing it can derive:
//!
//! - the **parent hash** of the first block: the anchor the verifier checks against the block
//!   it already has;
//! - the **number** of the first block (the others follow: blocks are contiguous);
//! - per block, the header fields the sequencer chooses
//!   ([`BlockAttributes`](sequencer::chain::BlockAttributes)): **timestamp**, **beneficiary**
//!   and **extra data**;
//! - per block, its **transactions**, from which the decoder rebuilds the exact EIP-2718 bytes
//!   (and so the hashes) the block was sealed with. Types: legacy with EIP-155, EIP-2930,
//!   EIP-1559 and EIP-7702; never blob transactions (type 3).
//!
//! Not carried, because [`PendingHeader`](sequencer::chain::PendingHeader) derives it from the
//! parent and the chain spec or re-execution recomputes it: the parent hash of every later
//! block, base fee, gas limit, `prevrandao` (= the parent hash), state, transactions and
//! receipts roots, logs bloom, gas used, and the fixed post-merge, Cancun and Prague fields.
//! Senders are recovered from the signatures.
//!
//! # Encoding
//!
//! ```text
//! batch = version (1 byte) || zstd frame (payload)
//! ```
//!
//! | version | layout | |
//! | --- | --- | --- |
//! | `0x01` | [`Layout::Rlp`] | an RLP list of blocks, each transaction as its EIP-2718 bytes |
//! | `0x02` | [`Layout::Columnar`] | block fields, then transaction fields as columns (default) |
//!
//! Any other version byte is rejected. After it comes exactly one zstd frame, nothing after it,
//! and the frame must declare its content size (zstd's one-shot compression always does); a
//! declared size over [`MAX_DECOMPRESSED_BYTES`] is rejected before anything is allocated, and
//! zstd itself rejects a frame whose content does not match its declared size. The level is
//! the encoder's choice ([`EncodeOptions::zstd_level`]); the decoder does not need it.
//!
//! ## Version 2: columnar
//!
//! In the spirit of OP span batches: like fields of all transactions sit together, so zstd
//! finds the redundancy (equal fees, gas limits, selectors, access-list addresses) that
//! per-transaction RLP scatters, and the chain id and legacy `v` are not repeated. Notation:
//! `varint` is unsigned LEB128 (seven bits a byte, least significant first), minimal, at most
//! 64 bits unless marked 128; `u256` is one length byte `L` ≤ 32 then `L` big-endian bytes
//! without a leading zero (zero is the single byte `00`); `bitmap(n)` is ⌈n/8⌉ bytes, bit `i`
//! being bit `i % 8` (least significant first) of byte `i / 8`, padding bits zero; `rlp` is
//! canonical RLP; a `dictionary` of a per-block value is a varint `k` (1 to `B`), the `k`
//! distinct values in order of first use, then, only if `k > 1`, one varint index per block.
//! `B` is the number of blocks, `N` the number of transactions.
//!
//! | field | encoding |
//! | --- | --- |
//! | parent hash | 32 bytes |
//! | chain id | varint: the chain id of every transaction, `0` exactly when `N = 0` |
//! | first block number | varint |
//! | block count `B` | varint, 1 to [`MAX_BLOCKS_PER_BATCH`] |
//! | timestamps | varint first timestamp, then `B − 1` varint deltas, each ≥ 1 |
//! | beneficiaries | dictionary of 20-byte addresses |
//! | extra data | dictionary of (varint length ≤ 32, bytes) |
//! | transaction counts | `B` × varint, `N` = their sum ≤ [`MAX_TXS_PER_BATCH`] |
//! | types | `N` bytes: `00` legacy, `01` EIP-2930, `02` EIP-1559, `04` EIP-7702 |
//! | nonces | `N` × varint |
//! | gas limits | `N` × varint |
//! | creations | `bitmap(N)`: set for a contract creation (never for type 4) |
//! | to | 20 bytes per transaction that is not a creation |
//! | values | `N` × u256 |
//! | gas prices | varint (128) per type 0 and 1 transaction |
//! | max fees per gas | varint (128) per type 2 and 4 transaction |
//! | max priority fees per gas | varint (128) per type 2 and 4 transaction |
//! | calldata lengths | `N` × varint |
//! | calldata | the calldata of all transactions, concatenated |
//! | access lists | rlp (EIP-2930 access list) per type 1, 2 and 4 transaction |
//! | authorization lists | rlp (list of signed authorizations) per type 4 transaction |
//! | y parities | `bitmap(N)` |
//! | signatures | `N` × 64 bytes: `r` then `s`, big-endian |
//!
//! The payload ends there; trailing bytes are an error. Each transaction is rebuilt with the
//! batch's chain id (legacy: `v = 35 + 2 × chain id + y parity`, EIP-155).
//!
//! ## Version 1: RLP
//!
//! `rlp([parent_hash, first_number, [[timestamp, beneficiary, extra_data, [tx, …]], …]])`,
//! each `tx` an RLP string holding the transaction's EIP-2718 bytes, which must decode to a
//! transaction of an allowed type signed for the chain and re-encode to exactly those bytes.
//! It is the plain baseline the columnar layout is measured against, kept because it is small.
//!
//! ## Checks and limits
//!
//! Encoding and decoding enforce the same rules, so every encodable batch decodes to itself,
//! every decodable payload has exactly one batch, and that batch encodes back to the same
//! payload (varints, lengths and RLP must be minimal; dictionaries canonical):
//!
//! - at least one block, at most [`MAX_BLOCKS_PER_BATCH`] (262,144) blocks and
//!   [`MAX_TXS_PER_BATCH`] (1,048,576) transactions, a payload of at most
//!   [`MAX_DECOMPRESSED_BYTES`] (64 MiB);
//! - block numbers consecutive (and within `u64`), timestamps strictly increasing, extra data
//!   at most [`MAX_EXTRA_DATA_BYTES`] (32) bytes;
//! - transactions of types 0 (with EIP-155), 1, 2 or 4, all signed for the same chain id,
//!   which the decoder is given and checks.
//!
//! Signatures are carried as they are, not verified: recovering senders is the verifier's job.
//! Decoding is total (hostile bytes give an error naming the field, block and transaction,
//! never a panic) and bounded: counts are checked against the bytes left before anything is
//! allocated for them.
//!
//! ## Size
//!
//! Measured by `default_layout_is_smallest_on_workloads` in this module's tests, on batches of
//! 1,000 transactions in ten blocks from `sequencer::test_utils::workload`, at zstd level 9
//! ([`DEFAULT_ZSTD_LEVEL`]):
//!
//! | workload | EIP-2718 | columnar raw | columnar zstd | RLP zstd |
//! | --- | --- | --- | --- | --- |
//! | ETH transfers | 113.0 B/tx | 102.3 B/tx | 84.4 B/tx | 87.8 B/tx |
//! | ERC-20 transfers | 273.0 B/tx | 260.3 B/tx | 153.0 B/tx | 156.9 B/tx |
//! | mixed (half counter calls) | 160.5 B/tx | 149.3 B/tx | 92.9 B/tx | 95.3 B/tx |
//!
//! A worked example: a batch of 1,000 ERC-20 transfers is 273,000 bytes of EIP-2718
//! transactions, 260,330 bytes of columnar payload and 153,036 bytes compressed, ≈ 153 bytes
//! a transaction. Of those, 64 are the signature's `r` and `s` (plus a bit of y parity), 20
//! the recipient in the calldata and 64 the two storage keys of the access list, all
//! incompressible; everything else (type, nonce, gas, fees, the token address, the selector,
//! the amount, the block fields) costs about 5 bytes. ETH transfers come to within a byte of
//! their incompressible 84 (signature and recipient). Levels 3 and 19 differ from level 9 by
//! under 1% in size, while level 19 takes 3 to 16 times as long to compress.

mod columnar;
mod error;
mod rlp;
mod wire;

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes};
use sequencer::store::StoredBlock;

pub use error::{BatchError, BatchResult, Location, TxError, WireError};

/// Largest payload a batch may decompress to (64 MiB): the zip-bomb guard. A frame declaring a
/// larger size is rejected before anything is allocated.
pub const MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

// A block's transactions take about their own size in a payload: the sequencer's cap on a
// block's transaction bytes keeps any single block well inside one batch.
const _: () = assert!(sequencer::chain::MAX_BLOCK_TX_BYTES <= MAX_DECOMPRESSED_BYTES / 2);
/// Most blocks one batch may carry (three days of one-second blocks).
pub const MAX_BLOCKS_PER_BATCH: usize = 1 << 18;
/// Most transactions one batch may carry.
pub const MAX_TXS_PER_BATCH: usize = 1 << 20;
/// Longest extra data a block may have (the Ethereum header rule the sequencer enforces).
pub const MAX_EXTRA_DATA_BYTES: usize = 32;
/// The zstd level of [`EncodeOptions::default`].
pub const DEFAULT_ZSTD_LEVEL: i32 = 9;

/// One block of a batch: the header fields the sequencer chose, and its transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBlock {
    /// Block number.
    pub number: u64,
    /// Timestamp in seconds.
    pub timestamp: u64,
    /// Receiver of the priority fees.
    pub beneficiary: Address,
    /// Header extra data (at most [`MAX_EXTRA_DATA_BYTES`]).
    pub extra_data: Bytes,
    /// The transactions, in block order.
    pub transactions: Vec<TxEnvelope>,
}

/// A contiguous, non-empty range of blocks and the hash of the parent of the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Hash of the block before `blocks[0]`: the anchor a verifier checks.
    pub parent_hash: B256,
    /// The blocks, numbered consecutively.
    pub blocks: Vec<BatchBlock>,
}

/// How a batch payload is laid out before compression; the version byte names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Version 1: an RLP list of blocks, each with its EIP-2718 transactions as byte strings.
    Rlp,
    /// Version 2: block fields, then each transaction field as a column across the batch.
    Columnar,
}

impl Layout {
    /// The version byte of the layout.
    pub const fn version(self) -> u8 {
        match self {
            Self::Rlp => 1,
            Self::Columnar => 2,
        }
    }

    /// The layout of a version byte, if it names one.
    pub const fn from_version(version: u8) -> Option<Self> {
        match version {
            1 => Some(Self::Rlp),
            2 => Some(Self::Columnar),
            _ => None,
        }
    }
}

/// How [`Batch::encode`] writes a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// zstd compression level (1 to 22).
    pub zstd_level: i32,
    /// The payload layout.
    pub layout: Layout,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self { zstd_level: DEFAULT_ZSTD_LEVEL, layout: Layout::Columnar }
    }
}

/// Sizes of one encoding of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedSize {
    /// Payload bytes before compression.
    pub raw: usize,
    /// Bytes of the encoded batch: version byte and zstd frame.
    pub encoded: usize,
}

impl Batch {
    /// The batch of `blocks`, which must be a non-empty, contiguous, hash-linked range; the
    /// parent hash of the first block becomes the batch's anchor.
    ///
    /// # Errors
    /// When the blocks are not linked by number and parent hash, or do not satisfy what
    /// [`Batch::encode`] checks.
    pub fn from_blocks(blocks: &[StoredBlock]) -> BatchResult<Self> {
        let first = blocks.first().ok_or(BatchError::NoBlocks)?;
        for pair in blocks.windows(2) {
            let [parent, child] = pair else { continue };
            if child.header.parent_hash != parent.hash {
                return Err(BatchError::BrokenLink {
                    number: child.header.number,
                    expected: parent.hash,
                    got: child.header.parent_hash,
                });
            }
        }
        let batch = Self {
            parent_hash: first.header.parent_hash,
            blocks: blocks
                .iter()
                .map(|block| BatchBlock {
                    number: block.header.number,
                    timestamp: block.header.timestamp,
                    beneficiary: block.header.beneficiary,
                    extra_data: block.header.extra_data.clone(),
                    transactions: block.transactions.iter().map(|tx| tx.inner().clone()).collect(),
                })
                .collect(),
        };
        batch.validate(None)?;
        Ok(batch)
    }

    /// Transactions in all blocks.
    pub fn transaction_count(&self) -> usize {
        self.blocks.iter().map(|block| block.transactions.len()).sum()
    }

    /// Number of the first block (0 for a batch without blocks).
    fn first_number(&self) -> u64 {
        self.blocks.first().map_or(0, |block| block.number)
    }

    /// Encodes the batch: the layout's version byte, then one zstd frame of its payload.
    ///
    /// # Errors
    /// When the batch is empty, too large for the limits, not contiguous, has a timestamp
    /// that does not increase or too long extra data, or holds a transaction the sequencer
    /// cannot have included (blob type, no EIP-155, chain ids that differ).
    ///
    /// # Examples
    /// ```
    /// use alloy::{
    ///     consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    ///     network::TxSignerSync,
    ///     signers::local::PrivateKeySigner,
    /// };
    /// use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
    /// use batcher::batch::{Batch, BatchBlock, EncodeOptions};
    ///
    /// let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x01))?;
    /// let mut tx = TxEip1559 {
    ///     chain_id: 42069,
    ///     gas_limit: 21_000,
    ///     max_fee_per_gas: 2_000_000_000,
    ///     to: TxKind::Call(Address::repeat_byte(0x22)),
    ///     value: U256::from(1_000),
    ///     ..Default::default()
    /// };
    /// let signature = signer.sign_transaction_sync(&mut tx)?;
    /// let transfer = TxEnvelope::from(tx.into_signed(signature));
    ///
    /// let batch = Batch {
    ///     parent_hash: B256::repeat_byte(0x11),
    ///     blocks: vec![BatchBlock {
    ///         number: 7,
    ///         timestamp: 1_700_000_000,
    ///         beneficiary: Address::repeat_byte(0xbe),
    ///         extra_data: Bytes::new(),
    ///         transactions: vec![transfer],
    ///     }],
    /// };
    /// let bytes = batch.encode(&EncodeOptions::default())?;
    /// assert_eq!(bytes[0], 2); // the columnar layout
    ///
    /// let decoded = Batch::decode(&bytes, 42069)?;
    /// assert_eq!(decoded, batch); // transactions, hashes included
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, options: &EncodeOptions) -> BatchResult<Vec<u8>> {
        self.encode_with_size(options).map(|(bytes, _)| bytes)
    }

    /// The raw (uncompressed payload) and encoded sizes of the batch with `options`.
    ///
    /// # Errors
    /// As [`Batch::encode`].
    pub fn encoded_size(&self, options: &EncodeOptions) -> BatchResult<EncodedSize> {
        self.encode_with_size(options).map(|(_, size)| size)
    }

    fn encode_with_size(&self, options: &EncodeOptions) -> BatchResult<(Vec<u8>, EncodedSize)> {
        let payload = self.payload(options.layout)?;
        let mut out = vec![options.layout.version()];
        let frame =
            zstd::bulk::compress(&payload, options.zstd_level).map_err(BatchError::Compress)?;
        out.extend_from_slice(&frame);
        let size = EncodedSize { raw: payload.len(), encoded: out.len() };
        Ok((out, size))
    }

    /// Decodes a batch whose transactions are signed for `chain_id`.
    ///
    /// Decoding is total: any input gives `Ok` or `Err`, never a panic, and allocates at most
    /// [`MAX_DECOMPRESSED_BYTES`] plus what the decoded batch holds. A decoded batch satisfies
    /// every check of [`Batch::encode`], and every transaction re-encodes to exactly the
    /// EIP-2718 bytes (and hash) it was included with.
    ///
    /// # Errors
    /// When the version is unknown, the frame is not a single zstd frame that declares a size
    /// within the limit, or the payload is malformed or holds a block or transaction the
    /// sequencer cannot have produced (the error says which block and transaction).
    ///
    /// # Examples
    /// ```
    /// use batcher::batch::{Batch, BatchError};
    ///
    /// assert!(matches!(Batch::decode(&[], 1), Err(BatchError::Empty)));
    /// assert!(matches!(Batch::decode(&[0x7f, 0, 0], 1), Err(BatchError::UnknownVersion(0x7f))));
    /// ```
    pub fn decode(bytes: &[u8], chain_id: u64) -> BatchResult<Self> {
        let (&version, frame) = bytes.split_first().ok_or(BatchError::Empty)?;
        let layout = Layout::from_version(version).ok_or(BatchError::UnknownVersion(version))?;
        let payload = decompress(frame)?;
        Self::from_payload(layout, &payload, chain_id)
    }

    /// The uncompressed payload in `layout`, after checking the batch.
    fn payload(&self, layout: Layout) -> BatchResult<Vec<u8>> {
        let chain_id = self.validate(None)?;
        let payload = match layout {
            Layout::Rlp => rlp::encode(self),
            Layout::Columnar => columnar::encode(self, chain_id)?,
        };
        if payload.len() > MAX_DECOMPRESSED_BYTES {
            return Err(BatchError::TooLarge {
                size: payload.len() as u64,
                max: MAX_DECOMPRESSED_BYTES,
            });
        }
        Ok(payload)
    }

    /// Parses an uncompressed payload and checks the result.
    fn from_payload(layout: Layout, payload: &[u8], chain_id: u64) -> BatchResult<Self> {
        let batch = match layout {
            Layout::Rlp => rlp::decode(payload, chain_id)?,
            Layout::Columnar => columnar::decode(payload, chain_id)?,
        };
        batch.validate(Some(chain_id))?;
        Ok(batch)
    }

    /// Checks everything the format requires of a batch, and returns the chain id its
    /// transactions are signed for (`None` if it has none). With `chain_id`, every transaction
    /// must be signed for it; without, they must all agree.
    fn validate(&self, chain_id: Option<u64>) -> BatchResult<Option<u64>> {
        let first = self.blocks.first().ok_or(BatchError::NoBlocks)?;
        if self.blocks.len() > MAX_BLOCKS_PER_BATCH {
            return Err(BatchError::TooManyBlocks {
                count: self.blocks.len() as u64,
                max: MAX_BLOCKS_PER_BATCH,
            });
        }
        let txs = self.transaction_count();
        if txs > MAX_TXS_PER_BATCH {
            return Err(BatchError::TooManyTransactions {
                count: txs as u64,
                max: MAX_TXS_PER_BATCH,
            });
        }
        let mut expected_chain = chain_id;
        let mut previous: Option<&BatchBlock> = None;
        for (position, block) in self.blocks.iter().enumerate() {
            if let Some(parent) = previous {
                let expected = parent.number.checked_add(1).ok_or(BatchError::NumberOverflow {
                    first: first.number,
                    count: self.blocks.len() as u64,
                })?;
                if block.number != expected {
                    return Err(BatchError::NotContiguous {
                        position,
                        expected,
                        got: block.number,
                    });
                }
                if block.timestamp <= parent.timestamp {
                    return Err(BatchError::TimestampNotIncreasing {
                        number: block.number,
                        timestamp: block.timestamp,
                        parent: parent.timestamp,
                    });
                }
            }
            if block.extra_data.len() > MAX_EXTRA_DATA_BYTES {
                return Err(BatchError::ExtraDataTooLong {
                    number: block.number,
                    len: block.extra_data.len(),
                    max: MAX_EXTRA_DATA_BYTES,
                });
            }
            for (index, tx) in block.transactions.iter().enumerate() {
                let at = |reason| BatchError::Transaction { block: block.number, index, reason };
                let got = tx_chain_id(tx).map_err(at)?;
                match expected_chain {
                    _ if got == 0 => return Err(at(TxError::ZeroChainId)),
                    Some(expected) if expected != got => {
                        return Err(at(TxError::WrongChainId { expected, got }));
                    }
                    Some(_) => {}
                    None => expected_chain = Some(got),
                }
            }
            previous = Some(block);
        }
        Ok(expected_chain.filter(|_| txs > 0))
    }
}

/// The chain id a transaction is signed for, if it is of a type this chain includes.
fn tx_chain_id(tx: &TxEnvelope) -> Result<u64, TxError> {
    if matches!(tx, TxEnvelope::Eip4844(_)) {
        return Err(TxError::Blob);
    }
    tx.chain_id().ok_or(TxError::NotEip155)
}

/// Decompresses the single zstd frame `frame`, which must declare its content size, within
/// [`MAX_DECOMPRESSED_BYTES`].
fn decompress(frame: &[u8]) -> BatchResult<Vec<u8>> {
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) => size,
        Ok(None) => return Err(BatchError::Frame("the frame does not declare its content size")),
        Err(_) => return Err(BatchError::Frame("not a zstd frame")),
    };
    if size > MAX_DECOMPRESSED_BYTES as u64 {
        return Err(BatchError::TooLarge { size, max: MAX_DECOMPRESSED_BYTES });
    }
    match zstd::zstd_safe::find_frame_compressed_size(frame) {
        Ok(len) if len == frame.len() => {}
        Ok(_) => return Err(BatchError::Frame("bytes follow the frame")),
        Err(_) => return Err(BatchError::Frame("the frame is truncated or corrupt")),
    }
    // The declared size bounds the buffer; zstd fails rather than write past its capacity,
    // and fails if the frame's content does not match the size it declares.
    let mut payload = Vec::with_capacity(size as usize);
    zstd::bulk::Decompressor::new()
        .and_then(|mut decompressor| decompressor.decompress_to_buffer(frame, &mut payload))
        .map_err(BatchError::Decompress)?;
    Ok(payload)
}

#[cfg(test)]
mod tests;
