//! Layout version 2: block fields, then every transaction field as a column across the whole
//! batch, in the spirit of OP span batches. Like values sit next to each other, so zstd finds
//! the redundancy that per-transaction RLP scatters; the chain id and the legacy `v` are not
//! carried at all. The field order is specified in the parent module's docs.

use std::{collections::HashSet, hash::Hash};

use alloy::{
    consensus::{Signed, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy},
    eips::{eip2930::AccessList, eip7702::SignedAuthorization},
    rlp::Encodable,
};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};

use super::{
    Batch, BatchBlock, BatchError, BatchResult, Location, MAX_BLOCKS_PER_BATCH,
    MAX_EXTRA_DATA_BYTES, MAX_TXS_PER_BATCH, TxError, WireError,
    wire::{Reader, put_bitmap, put_u256, put_varint},
};

/// The fewest payload bytes a transaction takes (type, nonce, gas limit, value, calldata
/// length, r and s): bounds the transaction count before anything is allocated.
const MIN_TX_BYTES: usize = 5 + 64;

/// The fields of one transaction, whatever its type.
struct TxFields<'a> {
    ty: u8,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    value: U256,
    /// Gas price (types 0 and 1).
    gas_price: Option<u128>,
    /// Max fee and priority fee (types 2 and 4).
    fees: Option<(u128, u128)>,
    input: &'a Bytes,
    /// Types 1, 2 and 4.
    access_list: Option<&'a AccessList>,
    /// Type 4.
    authorizations: Option<&'a Vec<SignedAuthorization>>,
    signature: &'a Signature,
}

impl<'a> TxFields<'a> {
    fn of(tx: &'a TxEnvelope) -> Result<Self, TxError> {
        Ok(match tx {
            TxEnvelope::Legacy(signed) => {
                let tx = signed.tx();
                Self {
                    ty: 0,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    to: tx.to,
                    value: tx.value,
                    gas_price: Some(tx.gas_price),
                    fees: None,
                    input: &tx.input,
                    access_list: None,
                    authorizations: None,
                    signature: signed.signature(),
                }
            }
            TxEnvelope::Eip2930(signed) => {
                let tx = signed.tx();
                Self {
                    ty: 1,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    to: tx.to,
                    value: tx.value,
                    gas_price: Some(tx.gas_price),
                    fees: None,
                    input: &tx.input,
                    access_list: Some(&tx.access_list),
                    authorizations: None,
                    signature: signed.signature(),
                }
            }
            TxEnvelope::Eip1559(signed) => {
                let tx = signed.tx();
                Self {
                    ty: 2,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    to: tx.to,
                    value: tx.value,
                    gas_price: None,
                    fees: Some((tx.max_fee_per_gas, tx.max_priority_fee_per_gas)),
                    input: &tx.input,
                    access_list: Some(&tx.access_list),
                    authorizations: None,
                    signature: signed.signature(),
                }
            }
            TxEnvelope::Eip7702(signed) => {
                let tx = signed.tx();
                Self {
                    ty: 4,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    to: TxKind::Call(tx.to),
                    value: tx.value,
                    gas_price: None,
                    fees: Some((tx.max_fee_per_gas, tx.max_priority_fee_per_gas)),
                    input: &tx.input,
                    access_list: Some(&tx.access_list),
                    authorizations: Some(&tx.authorization_list),
                    signature: signed.signature(),
                }
            }
            TxEnvelope::Eip4844(_) => return Err(TxError::Blob),
        })
    }
}

/// The columns of the transactions, filled in one pass and concatenated in format order.
#[derive(Default)]
struct Columns {
    types: Vec<u8>,
    nonces: Vec<u8>,
    gas_limits: Vec<u8>,
    creations: Vec<bool>,
    to: Vec<u8>,
    values: Vec<u8>,
    gas_prices: Vec<u8>,
    max_fees: Vec<u8>,
    priority_fees: Vec<u8>,
    input_lengths: Vec<u8>,
    inputs: Vec<u8>,
    access_lists: Vec<u8>,
    authorizations: Vec<u8>,
    y_parities: Vec<bool>,
    signatures: Vec<u8>,
}

impl Columns {
    fn push(&mut self, tx: &TxFields<'_>) {
        self.types.push(tx.ty);
        put_varint(&mut self.nonces, tx.nonce.into());
        put_varint(&mut self.gas_limits, tx.gas_limit.into());
        self.creations.push(tx.to.is_create());
        if let TxKind::Call(to) = tx.to {
            self.to.extend_from_slice(to.as_slice());
        }
        put_u256(&mut self.values, tx.value);
        if let Some(gas_price) = tx.gas_price {
            put_varint(&mut self.gas_prices, gas_price);
        }
        if let Some((max_fee, priority_fee)) = tx.fees {
            put_varint(&mut self.max_fees, max_fee);
            put_varint(&mut self.priority_fees, priority_fee);
        }
        put_varint(&mut self.input_lengths, tx.input.len() as u128);
        self.inputs.extend_from_slice(tx.input);
        if let Some(list) = tx.access_list {
            list.encode(&mut self.access_lists);
        }
        if let Some(list) = tx.authorizations {
            list.encode(&mut self.authorizations);
        }
        self.y_parities.push(tx.signature.v());
        self.signatures.extend_from_slice(&tx.signature.r().to_be_bytes::<32>());
        self.signatures.extend_from_slice(&tx.signature.s().to_be_bytes::<32>());
    }

    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.nonces);
        out.extend_from_slice(&self.gas_limits);
        put_bitmap(out, self.creations.into_iter());
        out.extend_from_slice(&self.to);
        out.extend_from_slice(&self.values);
        out.extend_from_slice(&self.gas_prices);
        out.extend_from_slice(&self.max_fees);
        out.extend_from_slice(&self.priority_fees);
        out.extend_from_slice(&self.input_lengths);
        out.extend_from_slice(&self.inputs);
        out.extend_from_slice(&self.access_lists);
        out.extend_from_slice(&self.authorizations);
        put_bitmap(out, self.y_parities.into_iter());
        out.extend_from_slice(&self.signatures);
    }
}

/// Writes the payload of a batch that passed `Batch::validate`; `chain_id` is the one its
/// transactions are signed for (`None` when it has none).
pub(super) fn encode(batch: &Batch, chain_id: Option<u64>) -> BatchResult<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(batch.parent_hash.as_slice());
    put_varint(&mut out, chain_id.unwrap_or(0).into());
    put_varint(&mut out, batch.first_number().into());
    put_varint(&mut out, batch.blocks.len() as u128);
    let mut previous = None;
    for block in &batch.blocks {
        let delta = previous.map_or(block.timestamp, |parent| block.timestamp.wrapping_sub(parent));
        put_varint(&mut out, delta.into());
        previous = Some(block.timestamp);
    }
    put_dictionary(&mut out, batch.blocks.iter().map(|b| &b.beneficiary), |out, address| {
        out.extend_from_slice(address.as_slice());
    });
    put_dictionary(&mut out, batch.blocks.iter().map(|b| &b.extra_data), |out, extra| {
        put_varint(out, extra.len() as u128);
        out.extend_from_slice(extra);
    });
    for block in &batch.blocks {
        put_varint(&mut out, block.transactions.len() as u128);
    }
    let mut columns = Columns::default();
    for block in &batch.blocks {
        for (index, tx) in block.transactions.iter().enumerate() {
            let fields = TxFields::of(tx).map_err(|reason| BatchError::Transaction {
                block: block.number,
                index,
                reason,
            })?;
            columns.push(&fields);
        }
    }
    columns.write(&mut out);
    Ok(out)
}

/// Writes a value per block as a dictionary of the distinct values in order of first use,
/// then, if there is more than one, each block's index into it.
fn put_dictionary<'a, T: Eq + Hash + 'a>(
    out: &mut Vec<u8>,
    values: impl Iterator<Item = &'a T>,
    put: impl Fn(&mut Vec<u8>, &T),
) {
    let mut distinct: Vec<&T> = Vec::new();
    let mut indices = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for value in values {
        let index = *seen.entry(value).or_insert_with(|| {
            distinct.push(value);
            distinct.len() - 1
        });
        indices.push(index);
    }
    put_varint(out, distinct.len() as u128);
    for value in &distinct {
        put(out, value);
    }
    if distinct.len() > 1 {
        for index in indices {
            put_varint(out, index as u128);
        }
    }
}

/// Reads what [`put_dictionary`] wrote for `blocks` blocks: the value of each block. The
/// dictionary must be distinct values in order of first use, each used.
fn read_dictionary<T: Eq + Hash + Clone>(
    r: &mut Reader<'_>,
    blocks: usize,
    field: &'static str,
    mut read: impl FnMut(&mut Reader<'_>) -> Result<T, WireError>,
) -> BatchResult<Vec<T>> {
    let bad = |reason| BatchError::Malformed { field, at: Location::Batch, reason };
    let count = r.varint_max(blocks).map_err(bad)?;
    if count == 0 {
        return Err(bad(WireError::OutOfRange("empty dictionary")));
    }
    let mut distinct = Vec::with_capacity(count);
    for _ in 0..count {
        distinct.push(read(r).map_err(bad)?);
    }
    if distinct.iter().collect::<HashSet<_>>().len() != count {
        return Err(bad(WireError::OutOfRange("repeated dictionary entry")));
    }
    if let [only] = distinct.as_slice() {
        return Ok(vec![only.clone(); blocks]);
    }
    let mut values = Vec::with_capacity(blocks);
    let mut next_new = 0;
    for _ in 0..blocks {
        // An index is one already used or the next new entry, so first uses come in order.
        let index = r.varint_max(next_new).map_err(bad)?;
        let value = distinct
            .get(index)
            .ok_or_else(|| bad(WireError::OutOfRange("index past the dictionary")))?;
        next_new = next_new.max(index + 1);
        values.push(value.clone());
    }
    if next_new != count {
        return Err(bad(WireError::OutOfRange("unused dictionary entry")));
    }
    Ok(values)
}

/// Maps a transaction's position in the batch to its block and index.
struct Positions {
    first: u64,
    counts: Vec<usize>,
}

impl Positions {
    fn at(&self, k: usize) -> Location {
        let mut index = k;
        for (offset, &count) in self.counts.iter().enumerate() {
            if index < count {
                return Location::Tx { block: self.first.saturating_add(offset as u64), index };
            }
            index -= count;
        }
        Location::Batch
    }

    /// The error for a malformed `field` of transaction `k`, located only when it happens.
    fn malformed(
        &self,
        field: &'static str,
        k: usize,
    ) -> impl FnOnce(WireError) -> BatchError + '_ {
        move |reason| BatchError::Malformed { field, at: self.at(k), reason }
    }

    fn invalid(&self, k: usize, reason: TxError) -> BatchError {
        match self.at(k) {
            Location::Tx { block, index } => BatchError::Transaction { block, index, reason },
            _ => BatchError::Transaction { block: self.first, index: k, reason },
        }
    }
}

/// Parses a version-2 payload whose transactions are signed for `chain_id`.
pub(super) fn decode(payload: &[u8], chain_id: u64) -> BatchResult<Batch> {
    let r = &mut Reader::new(payload);
    let header = |field| move |reason| BatchError::Malformed { field, at: Location::Batch, reason };
    let parent_hash = B256::new(r.array().map_err(header("parent hash"))?);
    let batch_chain = r.varint().map_err(header("chain id"))?;
    let first = r.varint().map_err(header("first block number"))?;
    let blocks = r.varint().map_err(header("block count"))?;
    if blocks == 0 {
        return Err(BatchError::NoBlocks);
    }
    let too_many = || BatchError::TooManyBlocks { count: blocks, max: MAX_BLOCKS_PER_BATCH };
    let blocks = usize::try_from(blocks).map_err(|_| too_many())?;
    if blocks > MAX_BLOCKS_PER_BATCH {
        return Err(too_many());
    }
    // Each block takes at least a timestamp and a transaction count byte.
    if blocks.saturating_mul(2) > r.remaining() {
        return Err(header("block count")(WireError::Truncated));
    }
    if first.checked_add(blocks as u64 - 1).is_none() {
        return Err(BatchError::NumberOverflow { first, count: blocks as u64 });
    }

    let mut timestamps = Vec::with_capacity(blocks);
    for offset in 0..blocks {
        let number = first + offset as u64;
        let bad = |reason| BatchError::Malformed {
            field: "timestamp",
            at: Location::Block(number),
            reason,
        };
        let value = r.varint().map_err(bad)?;
        let timestamp = match timestamps.last() {
            None => value,
            Some(&parent) if value == 0 => {
                return Err(BatchError::TimestampNotIncreasing {
                    number,
                    timestamp: parent,
                    parent,
                });
            }
            Some(&parent) => {
                u64::checked_add(parent, value).ok_or_else(|| bad(WireError::Overflow))?
            }
        };
        timestamps.push(timestamp);
    }
    let beneficiaries =
        read_dictionary(r, blocks, "beneficiaries", |r| r.array().map(Address::new))?;
    let extra_data = read_dictionary(r, blocks, "extra data", |r| {
        let len = r.varint_max(MAX_EXTRA_DATA_BYTES)?;
        r.bytes(len).map(Bytes::copy_from_slice)
    })?;

    let mut counts = Vec::with_capacity(blocks);
    let mut total = 0usize;
    for offset in 0..blocks {
        let bad = |reason| BatchError::Malformed {
            field: "transaction count",
            at: Location::Block(first + offset as u64),
            reason,
        };
        let count = r.varint_max(MAX_TXS_PER_BATCH).map_err(bad)?;
        total += count;
        if total > MAX_TXS_PER_BATCH {
            return Err(BatchError::TooManyTransactions {
                count: total as u64,
                max: MAX_TXS_PER_BATCH,
            });
        }
        counts.push(count);
    }
    if total.saturating_mul(MIN_TX_BYTES) > r.remaining() {
        return Err(header("transaction columns")(WireError::Truncated));
    }
    let positions = Positions { first, counts };
    match (batch_chain, total) {
        (0, 0) => {}
        (0, _) | (_, 0) => {
            return Err(header("chain id")(WireError::OutOfRange(
                "must be zero exactly when the batch has no transactions",
            )));
        }
        (got, _) if got != chain_id => {
            return Err(positions.invalid(0, TxError::WrongChainId { expected: chain_id, got }));
        }
        _ => {}
    }
    let transactions = decode_transactions(r, &positions, total, chain_id)?;
    if r.remaining() != 0 {
        return Err(BatchError::TrailingBytes(r.remaining()));
    }

    let mut transactions = transactions.into_iter();
    let blocks = timestamps
        .into_iter()
        .zip(beneficiaries)
        .zip(extra_data)
        .zip(&positions.counts)
        .zip(first..)
        .map(|((((timestamp, beneficiary), extra_data), &count), number)| BatchBlock {
            number,
            timestamp,
            beneficiary,
            extra_data,
            transactions: transactions.by_ref().take(count).collect(),
        })
        .collect();
    Ok(Batch { parent_hash, blocks })
}

/// Reads the transaction columns of `total` transactions and assembles the transactions.
fn decode_transactions(
    r: &mut Reader<'_>,
    at: &Positions,
    total: usize,
    chain_id: u64,
) -> BatchResult<Vec<TxEnvelope>> {
    let types = r.bytes(total).map_err(at.malformed("transaction types", 0))?;
    let (mut legacy_fees, mut dynamic_fees, mut access_lists, mut authorizations) = (0, 0, 0, 0);
    for (k, &ty) in types.iter().enumerate() {
        match ty {
            0 => legacy_fees += 1,
            1 => (legacy_fees, access_lists) = (legacy_fees + 1, access_lists + 1),
            2 => (dynamic_fees, access_lists) = (dynamic_fees + 1, access_lists + 1),
            4 => {
                (dynamic_fees, access_lists, authorizations) =
                    (dynamic_fees + 1, access_lists + 1, authorizations + 1);
            }
            3 => return Err(at.invalid(k, TxError::Blob)),
            other => return Err(at.invalid(k, TxError::UnknownType(other))),
        }
    }
    let mut nonces = Vec::with_capacity(total);
    for k in 0..total {
        nonces.push(r.varint().map_err(at.malformed("nonce", k))?);
    }
    let mut gas_limits = Vec::with_capacity(total);
    for k in 0..total {
        gas_limits.push(r.varint().map_err(at.malformed("gas limit", k))?);
    }
    let creations = r.bitmap(total).map_err(at.malformed("creation bitmap", 0))?;
    let mut calls = 0;
    for (k, &ty) in types.iter().enumerate() {
        if !creations.get(k) {
            calls += 1;
        } else if ty == 4 {
            return Err(at.invalid(k, TxError::Eip7702Create));
        }
    }
    let to_column = r.bytes(calls * 20).map_err(at.malformed("to addresses", 0))?;
    let mut values = Vec::with_capacity(total);
    for k in 0..total {
        values.push(r.u256().map_err(at.malformed("value", k))?);
    }
    let mut gas_prices = Vec::with_capacity(legacy_fees);
    let mut max_fees = Vec::with_capacity(dynamic_fees);
    let mut priority_fees = Vec::with_capacity(dynamic_fees);
    let with_type = |wanted: &'static [u8]| {
        types.iter().enumerate().filter(move |(_, ty)| wanted.contains(ty)).map(|(k, _)| k)
    };
    for k in with_type(&[0, 1]) {
        gas_prices.push(r.varint128().map_err(at.malformed("gas price", k))?);
    }
    for k in with_type(&[2, 4]) {
        max_fees.push(r.varint128().map_err(at.malformed("max fee per gas", k))?);
    }
    for k in with_type(&[2, 4]) {
        priority_fees.push(r.varint128().map_err(at.malformed("priority fee per gas", k))?);
    }
    let mut input_lengths = Vec::with_capacity(total);
    let mut inputs_len = 0usize;
    for k in 0..total {
        let len = r.varint_max(r.remaining()).map_err(at.malformed("calldata length", k))?;
        inputs_len = inputs_len.saturating_add(len);
        input_lengths.push(len);
    }
    let mut inputs = Reader::new(r.bytes(inputs_len).map_err(at.malformed("calldata", 0))?);
    let mut lists = Vec::with_capacity(access_lists);
    for k in with_type(&[1, 2, 4]) {
        lists.push(r.rlp::<AccessList>().map_err(at.malformed("access list", k))?);
    }
    let mut auths = Vec::with_capacity(authorizations);
    for k in with_type(&[4]) {
        auths.push(
            r.rlp::<Vec<SignedAuthorization>>().map_err(at.malformed("authorization list", k))?,
        );
    }
    let y_parities = r.bitmap(total).map_err(at.malformed("y parity bitmap", 0))?;
    let mut signatures = Reader::new(r.bytes(total * 64).map_err(at.malformed("signatures", 0))?);
    let mut to_column = Reader::new(to_column);

    let mut gas_prices = gas_prices.into_iter();
    let mut max_fees = max_fees.into_iter().zip(priority_fees);
    let mut lists = lists.into_iter();
    let mut auths = auths.into_iter();
    let mut transactions = Vec::with_capacity(total);
    let per_tx = types.iter().zip(nonces).zip(gas_limits).zip(values).zip(input_lengths);
    for (k, ((((&ty, nonce), gas_limit), value), input_len)) in per_tx.enumerate() {
        let to = if creations.get(k) {
            TxKind::Create
        } else {
            TxKind::Call(Address::new(to_column.array().map_err(at.malformed("to", k))?))
        };
        let input =
            Bytes::copy_from_slice(inputs.bytes(input_len).map_err(at.malformed("calldata", k))?);
        let r_s = signatures.array::<64>().map_err(at.malformed("signature", k))?;
        let (r_bytes, s_bytes) = r_s.split_at(32);
        let signature = Signature::new(
            U256::from_be_slice(r_bytes),
            U256::from_be_slice(s_bytes),
            y_parities.get(k),
        );
        // The column counts were derived from `types`, so each iterator has an item for
        // every transaction of its types.
        let missing = || at.malformed("transaction columns", k)(WireError::Truncated);
        let tx = match ty {
            0 => TxEnvelope::from(Signed::new_unhashed(
                TxLegacy {
                    chain_id: Some(chain_id),
                    nonce,
                    gas_price: gas_prices.next().ok_or_else(missing)?,
                    gas_limit,
                    to,
                    value,
                    input,
                },
                signature,
            )),
            1 => TxEnvelope::from(Signed::new_unhashed(
                TxEip2930 {
                    chain_id,
                    nonce,
                    gas_price: gas_prices.next().ok_or_else(missing)?,
                    gas_limit,
                    to,
                    value,
                    access_list: lists.next().ok_or_else(missing)?,
                    input,
                },
                signature,
            )),
            2 => {
                let (max_fee_per_gas, max_priority_fee_per_gas) =
                    max_fees.next().ok_or_else(missing)?;
                TxEnvelope::from(Signed::new_unhashed(
                    TxEip1559 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to,
                        value,
                        access_list: lists.next().ok_or_else(missing)?,
                        input,
                    },
                    signature,
                ))
            }
            _ => {
                let (max_fee_per_gas, max_priority_fee_per_gas) =
                    max_fees.next().ok_or_else(missing)?;
                let TxKind::Call(to) = to else {
                    return Err(at.invalid(k, TxError::Eip7702Create));
                };
                TxEnvelope::from(Signed::new_unhashed(
                    TxEip7702 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to,
                        value,
                        access_list: lists.next().ok_or_else(missing)?,
                        authorization_list: auths.next().ok_or_else(missing)?,
                        input,
                    },
                    signature,
                ))
            }
        };
        transactions.push(tx);
    }
    Ok(transactions)
}
