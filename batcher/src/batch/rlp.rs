//! Layout version 1: the batch as one RLP list, each transaction as its EIP-2718 bytes. It is
//! the plain baseline the columnar layout is measured against, and costs little to keep.

use alloy::{
    consensus::TxEnvelope,
    eips::eip2718::{Decodable2718, Eip2718Error, Encodable2718},
    rlp::{Decodable, Encodable, Header},
};
use alloy_primitives::{Address, B256, Bytes};

use super::{
    Batch, BatchBlock, BatchError, BatchResult, Location, MAX_BLOCKS_PER_BATCH,
    MAX_EXTRA_DATA_BYTES, MAX_TXS_PER_BATCH, TxError, WireError,
};

/// `rlp([parent_hash, first_number, [[timestamp, beneficiary, extra_data, [tx, …]], …]])`,
/// every `tx` an RLP string holding the transaction's EIP-2718 bytes.
pub(super) fn encode(batch: &Batch) -> Vec<u8> {
    let mut blocks = Vec::new();
    for block in &batch.blocks {
        let txs: Vec<Vec<u8>> =
            block.transactions.iter().map(Encodable2718::encoded_2718).collect();
        let txs_len: usize = txs.iter().map(|tx| tx.as_slice().length()).sum();
        let txs_header = Header { list: true, payload_length: txs_len };
        let fields_len = block.timestamp.length()
            + block.beneficiary.length()
            + block.extra_data.length()
            + txs_header.length_with_payload();
        Header { list: true, payload_length: fields_len }.encode(&mut blocks);
        block.timestamp.encode(&mut blocks);
        block.beneficiary.encode(&mut blocks);
        block.extra_data.encode(&mut blocks);
        txs_header.encode(&mut blocks);
        for tx in &txs {
            tx.as_slice().encode(&mut blocks);
        }
    }
    let blocks_header = Header { list: true, payload_length: blocks.len() };
    let first = batch.first_number();
    let outer_len =
        batch.parent_hash.length() + first.length() + blocks_header.length_with_payload();
    let mut out = Vec::with_capacity(outer_len + 9);
    Header { list: true, payload_length: outer_len }.encode(&mut out);
    batch.parent_hash.encode(&mut out);
    first.encode(&mut out);
    blocks_header.encode(&mut out);
    out.extend_from_slice(&blocks);
    out
}

/// Parses a version-1 payload; transactions must be canonical EIP-2718 encodings of the
/// types this chain includes, signed for `chain_id`.
pub(super) fn decode(payload: &[u8], chain_id: u64) -> BatchResult<Batch> {
    let mut buf = payload;
    let mut outer = list(&mut buf, "batch list", Location::Batch)?;
    if !buf.is_empty() {
        return Err(BatchError::TrailingBytes(buf.len()));
    }
    let parent_hash: B256 = item(&mut outer, "parent hash", Location::Batch)?;
    let first: u64 = item(&mut outer, "first block number", Location::Batch)?;
    let mut blocks_buf = list(&mut outer, "block list", Location::Batch)?;
    if !outer.is_empty() {
        return Err(malformed(
            "batch list",
            Location::Batch,
            alloy::rlp::Error::ListLengthMismatch { expected: 0, got: outer.len() },
        ));
    }
    let mut blocks = Vec::new();
    let mut total_txs = 0usize;
    let mut number = first;
    while !blocks_buf.is_empty() {
        if blocks.len() == MAX_BLOCKS_PER_BATCH {
            return Err(BatchError::TooManyBlocks {
                count: blocks.len() as u64 + 1,
                max: MAX_BLOCKS_PER_BATCH,
            });
        }
        if !blocks.is_empty() {
            number = number
                .checked_add(1)
                .ok_or(BatchError::NumberOverflow { first, count: blocks.len() as u64 + 1 })?;
        }
        let at = Location::Block(number);
        let mut fields = list(&mut blocks_buf, "block", at)?;
        let timestamp: u64 = item(&mut fields, "timestamp", at)?;
        let beneficiary: Address = item(&mut fields, "beneficiary", at)?;
        let extra_data: Bytes = item(&mut fields, "extra data", at)?;
        if extra_data.len() > MAX_EXTRA_DATA_BYTES {
            return Err(BatchError::ExtraDataTooLong {
                number,
                len: extra_data.len(),
                max: MAX_EXTRA_DATA_BYTES,
            });
        }
        let mut txs_buf = list(&mut fields, "transaction list", at)?;
        if !fields.is_empty() {
            return Err(BatchError::Malformed {
                field: "block",
                at,
                reason: WireError::OutOfRange("more than four fields"),
            });
        }
        let mut transactions = Vec::new();
        while !txs_buf.is_empty() {
            if total_txs == MAX_TXS_PER_BATCH {
                return Err(BatchError::TooManyTransactions {
                    count: total_txs as u64 + 1,
                    max: MAX_TXS_PER_BATCH,
                });
            }
            let index = transactions.len();
            let at = Location::Tx { block: number, index };
            let bytes = Header::decode_bytes(&mut txs_buf, false)
                .map_err(|e| malformed("transaction", at, e))?;
            let tx = decode_tx(bytes, chain_id).map_err(|reason| BatchError::Transaction {
                block: number,
                index,
                reason,
            })?;
            transactions.push(tx);
            total_txs += 1;
        }
        blocks.push(BatchBlock { number, timestamp, beneficiary, extra_data, transactions });
    }
    Ok(Batch { parent_hash, blocks })
}

/// One transaction from its EIP-2718 bytes, which must be exactly what it re-encodes to.
fn decode_tx(bytes: &[u8], chain_id: u64) -> Result<TxEnvelope, TxError> {
    match bytes.first() {
        Some(0x01 | 0x02 | 0x04 | 0xc0..) => {}
        Some(0x03) => return Err(TxError::Blob),
        Some(&ty) => return Err(TxError::UnknownType(ty)),
        None => return Err(TxError::Rlp(alloy::rlp::Error::InputTooShort)),
    }
    let tx = TxEnvelope::decode_2718_exact(bytes).map_err(|e| match e {
        Eip2718Error::RlpError(e) => TxError::Rlp(e),
        Eip2718Error::UnexpectedType(ty) => TxError::UnknownType(ty),
        _ => TxError::Rlp(alloy::rlp::Error::Custom("invalid EIP-2718 envelope")),
    })?;
    let got = super::tx_chain_id(&tx)?;
    if got != chain_id {
        return Err(TxError::WrongChainId { expected: chain_id, got });
    }
    if tx.encoded_2718() != bytes {
        return Err(TxError::NotCanonical);
    }
    Ok(tx)
}

fn list<'a>(buf: &mut &'a [u8], field: &'static str, at: Location) -> BatchResult<&'a [u8]> {
    Header::decode_bytes(buf, true).map_err(|e| malformed(field, at, e))
}

fn item<T: Decodable>(buf: &mut &[u8], field: &'static str, at: Location) -> BatchResult<T> {
    T::decode(buf).map_err(|e| malformed(field, at, e))
}

fn malformed(field: &'static str, at: Location, e: alloy::rlp::Error) -> BatchError {
    BatchError::Malformed { field, at, reason: WireError::Rlp(e) }
}
