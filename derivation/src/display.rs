//! What `batches` and `inspect` show: one summary per batch, and a batch's decoded blocks and
//! transactions, as serializable rows (for `--json`) with a human-readable rendering.

use std::fmt::Write as _;

use alloy::{
    consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable},
    eips::eip2718::Encodable2718,
};
use alloy_primitives::{Address, B256, Bytes, U256, utils::format_ether};
use batcher::{batch::Batch, l1::PostedBatch};
use serde::Serialize;

use crate::error::Divergence;

/// One batch found on L1.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRow {
    /// Index in the contract.
    pub index: u64,
    /// L1 block it committed in.
    pub l1_block: Option<u64>,
    /// L1 transaction that committed it.
    pub l1_tx: Option<B256>,
    /// L1 transactions that carried it.
    pub frames: Option<u16>,
    /// First L2 block.
    pub first_block: Option<u64>,
    /// Last L2 block.
    pub last_block: Option<u64>,
    /// L2 transactions.
    pub transactions: Option<usize>,
    /// Bytes posted (compressed).
    pub compressed_bytes: Option<usize>,
    /// Bytes of its transactions as EIP-2718.
    pub raw_bytes: Option<usize>,
    /// compressed / raw.
    pub ratio: Option<f64>,
    /// Posted state root after the last block.
    pub state_root: Option<B256>,
    /// Why it cannot be read or decoded, if it cannot.
    pub error: Option<String>,
}

impl BatchRow {
    /// The row of a batch read from L1, decoding it with `chain_id`.
    pub fn new(found: &Result<PostedBatch, Divergence>, chain_id: u64) -> Self {
        let posted = match found {
            Ok(posted) => posted,
            Err(divergence) => {
                let index = match divergence {
                    Divergence::Unreadable { batch, .. }
                    | Divergence::Unauthenticated { batch, .. } => *batch,
                    _ => u64::MAX,
                };
                return Self {
                    index,
                    l1_block: None,
                    l1_tx: None,
                    frames: None,
                    first_block: None,
                    last_block: None,
                    transactions: None,
                    compressed_bytes: None,
                    raw_bytes: None,
                    ratio: None,
                    state_root: None,
                    error: Some(divergence.to_string()),
                };
            }
        };
        let decoded = Batch::decode(&posted.data, chain_id);
        let (transactions, raw_bytes, error) = match &decoded {
            Ok(batch) => {
                let raw: usize = batch
                    .blocks
                    .iter()
                    .flat_map(|b| &b.transactions)
                    .map(Encodable2718::encode_2718_len)
                    .sum();
                (Some(batch.transaction_count()), Some(raw), None)
            }
            Err(e) => (None, None, Some(format!("undecodable: {e}"))),
        };
        Self {
            index: posted.index,
            l1_block: Some(posted.l1_block),
            l1_tx: Some(posted.l1_tx),
            frames: Some(posted.frame_count),
            first_block: Some(posted.first_block),
            last_block: Some(posted.last_block),
            transactions,
            compressed_bytes: Some(posted.data.len()),
            raw_bytes,
            ratio: raw_bytes
                .filter(|raw| *raw > 0)
                .map(|raw| posted.data.len() as f64 / raw as f64),
            state_root: Some(posted.state_root),
            error,
        }
    }
}

fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The `batches` table.
pub fn batches_table(rows: &[BatchRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>6}  {:>9}  {:<14}  {:>6}  {:<15}  {:>6}  {:>10}  {:>10}  {:>5}  state root",
        "batch", "L1 block", "L1 tx", "frames", "L2 blocks", "txs", "compressed", "raw", "ratio"
    );
    for row in rows {
        let blocks = match (row.first_block, row.last_block) {
            (Some(first), Some(last)) => format!("{first}-{last}"),
            _ => "-".into(),
        };
        let tx = row.l1_tx.map_or_else(|| "-".into(), |h| short(&h));
        let _ = write!(
            out,
            "{:>6}  {:>9}  {:<14}  {:>6}  {:<15}  {:>6}  {:>10}  {:>10}  {:>5}  {}",
            row.index,
            opt(row.l1_block),
            tx,
            opt(row.frames),
            blocks,
            opt(row.transactions),
            opt(row.compressed_bytes),
            opt(row.raw_bytes),
            row.ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
            opt(row.state_root),
        );
        if let Some(error) = &row.error {
            let _ = write!(out, "  ERROR: {error}");
        }
        out.push('\n');
    }
    out
}

fn short(hash: &B256) -> String {
    let hex = hash.to_string();
    format!("{}…{}", &hex[..8], &hex[hex.len() - 4..])
}

/// A transaction of an inspected batch.
#[derive(Debug, Clone, Serialize)]
pub struct TxRow {
    /// Its hash.
    pub hash: B256,
    /// EIP-2718 type.
    #[serde(rename = "type")]
    pub tx_type: u8,
    /// Recovered sender (`None` if the signature does not recover).
    pub from: Option<Address>,
    /// Recipient (`None` for a creation).
    pub to: Option<Address>,
    /// Value in wei.
    pub value: U256,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas: u64,
    /// Max fee per gas (gas price for legacy and EIP-2930).
    pub max_fee_per_gas: u128,
    /// Calldata length.
    pub input_bytes: usize,
}

impl TxRow {
    fn new(tx: &TxEnvelope) -> Self {
        Self {
            hash: *tx.tx_hash(),
            tx_type: tx.tx_type() as u8,
            from: tx.recover_signer().ok(),
            to: tx.to(),
            value: tx.value(),
            nonce: tx.nonce(),
            gas: tx.gas_limit(),
            max_fee_per_gas: tx.max_fee_per_gas(),
            input_bytes: tx.input().len(),
        }
    }
}

/// A block of an inspected batch.
#[derive(Debug, Clone, Serialize)]
pub struct BlockRow {
    /// Number.
    pub number: u64,
    /// Timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient.
    pub beneficiary: Address,
    /// Extra data.
    pub extra_data: Bytes,
    /// Transactions.
    pub transactions: Vec<TxRow>,
}

/// An inspected batch.
#[derive(Debug, Clone, Serialize)]
pub struct Inspected {
    /// Its summary.
    #[serde(flatten)]
    pub summary: BatchRow,
    /// Parent hash of the first block.
    pub parent_hash: Option<B256>,
    /// Posted block hash of the last block.
    pub block_hash: Option<B256>,
    /// Decoded blocks.
    pub blocks: Vec<BlockRow>,
}

impl Inspected {
    /// Decodes `found` for display.
    pub fn new(found: &Result<PostedBatch, Divergence>, chain_id: u64) -> Self {
        let summary = BatchRow::new(found, chain_id);
        let decoded = found.as_ref().ok().and_then(|p| Batch::decode(&p.data, chain_id).ok());
        let blocks = decoded.as_ref().map_or_else(Vec::new, |batch| {
            batch
                .blocks
                .iter()
                .map(|block| BlockRow {
                    number: block.number,
                    timestamp: block.timestamp,
                    beneficiary: block.beneficiary,
                    extra_data: block.extra_data.clone(),
                    transactions: block.transactions.iter().map(TxRow::new).collect(),
                })
                .collect()
        });
        Self {
            summary,
            parent_hash: decoded.map(|b| b.parent_hash),
            block_hash: found.as_ref().ok().map(|p| p.block_hash),
            blocks,
        }
    }

    /// The human-readable rendering.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let s = &self.summary;
        let _ = writeln!(
            out,
            "batch {}: L2 blocks {}..={}, {} transactions, {} bytes posted in {} frame(s)",
            s.index,
            opt(s.first_block),
            opt(s.last_block),
            opt(s.transactions),
            opt(s.compressed_bytes),
            opt(s.frames),
        );
        let _ = writeln!(out, "  L1 block {}, transaction {}", opt(s.l1_block), opt(s.l1_tx));
        let _ = writeln!(out, "  posted state root {}", opt(s.state_root));
        let _ = writeln!(out, "  posted block hash {}", opt(self.block_hash));
        let _ = writeln!(out, "  parent hash       {}", opt(self.parent_hash));
        if let Some(error) = &s.error {
            let _ = writeln!(out, "  ERROR: {error}");
        }
        for block in &self.blocks {
            let _ = writeln!(
                out,
                "\nblock {}  timestamp {}  beneficiary {}  {} transaction(s){}",
                block.number,
                block.timestamp,
                block.beneficiary,
                block.transactions.len(),
                if block.extra_data.is_empty() {
                    String::new()
                } else {
                    format!("  extra {}", block.extra_data)
                },
            );
            for tx in &block.transactions {
                let _ = writeln!(
                    out,
                    "  {}  type {}  from {}  to {}  value {} ETH  nonce {}  gas {}{}",
                    tx.hash,
                    tx.tx_type,
                    opt(tx.from),
                    tx.to.map_or_else(|| "(create)".into(), |a| a.to_string()),
                    format_ether(tx.value),
                    tx.nonce,
                    tx.gas,
                    if tx.input_bytes > 0 {
                        format!("  input {} bytes", tx.input_bytes)
                    } else {
                        String::new()
                    },
                );
            }
        }
        out
    }
}
