//! Byte layouts of stored values: accounts, storage values, block bodies and receipts.
//!
//! Accounts and storage values are stored exactly as their trie leaves encode them, so the
//! trie reads its leaf values straight from the flat state.

use alloy::{
    consensus::{ReceiptEnvelope, TxEnvelope, transaction::Recovered},
    eips::eip2718::{Decodable2718, Encodable2718},
};
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{Decodable, Encodable};
use alloy_trie::TrieAccount;

use super::StoreError;
use crate::state::AccountInfo;

/// RLP of the trie account: the stored value and the account trie's leaf value.
pub(crate) fn encode_account(info: &AccountInfo, storage_root: B256) -> Vec<u8> {
    alloy_rlp::encode(TrieAccount::new(info.nonce, info.balance, storage_root, info.code_hash))
}

/// Parses a stored account into what execution needs and its storage root.
pub(crate) fn decode_account(mut bytes: &[u8]) -> Result<(AccountInfo, B256), StoreError> {
    let account = TrieAccount::decode(&mut bytes).map_err(|e| corrupt("account", e))?;
    let info = AccountInfo {
        nonce: account.nonce,
        balance: account.balance,
        code_hash: account.code_hash,
    };
    Ok((info, account.storage_root))
}

/// RLP of a storage value (never called for zero: zero slots are deleted).
pub(crate) fn encode_storage_value(value: U256) -> Vec<u8> {
    alloy_rlp::encode(value)
}

/// Parses a stored storage value.
pub(crate) fn decode_storage_value(mut bytes: &[u8]) -> Result<U256, StoreError> {
    U256::decode(&mut bytes).map_err(|e| corrupt("storage value", e))
}

/// `count u32 | (sender 20 | len u32 | EIP-2718 tx)*`.
pub(crate) fn encode_body(transactions: &[Recovered<TxEnvelope>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + transactions.len() * 160);
    out.extend_from_slice(&(transactions.len() as u32).to_be_bytes());
    for tx in transactions {
        out.extend_from_slice(tx.signer().as_slice());
        let len = tx.inner().encode_2718_len();
        out.extend_from_slice(&(len as u32).to_be_bytes());
        tx.inner().encode_2718(&mut out);
    }
    out
}

/// Parses a stored body; senders come from the store, not from signature recovery.
pub(crate) fn decode_body(bytes: &[u8]) -> Result<Vec<Recovered<TxEnvelope>>, StoreError> {
    decode_body_prefix(bytes, usize::MAX)
}

/// The first `max` transactions of a stored body (all of them when it holds fewer).
pub(crate) fn decode_body_prefix(
    bytes: &[u8],
    max: usize,
) -> Result<Vec<Recovered<TxEnvelope>>, StoreError> {
    let mut rd = Cursor(bytes);
    let count = (rd.u32()? as usize).min(max);
    let mut txs = Vec::with_capacity(count.min(bytes.len() / 24));
    for _ in 0..count {
        let sender = Address::from_slice(rd.take(20)?);
        let len = rd.u32()? as usize;
        let tx = TxEnvelope::decode_2718_exact(rd.take(len)?).map_err(|e| corrupt("body", e))?;
        txs.push(Recovered::new_unchecked(tx, sender));
    }
    Ok(txs)
}

/// `count u32 | (len u32 | EIP-2718 receipt)*`.
pub(crate) fn encode_receipts(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + receipts.len() * 300);
    out.extend_from_slice(&(receipts.len() as u32).to_be_bytes());
    for receipt in receipts {
        out.extend_from_slice(&(receipt.encode_2718_len() as u32).to_be_bytes());
        receipt.encode_2718(&mut out);
    }
    out
}

/// Parses stored receipts.
pub(crate) fn decode_receipts(bytes: &[u8]) -> Result<Vec<ReceiptEnvelope>, StoreError> {
    let mut rd = Cursor(bytes);
    let count = rd.u32()? as usize;
    let mut receipts = Vec::with_capacity(count.min(bytes.len() / 8));
    for _ in 0..count {
        let len = rd.u32()? as usize;
        let receipt =
            ReceiptEnvelope::decode_2718_exact(rd.take(len)?).map_err(|e| corrupt("receipt", e))?;
        receipts.push(receipt);
    }
    Ok(receipts)
}

/// RLP of a header.
pub(crate) fn encode_header(header: &alloy::consensus::Header) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.length());
    header.encode(&mut out);
    out
}

/// Parses a stored header.
pub(crate) fn decode_header(mut bytes: &[u8]) -> Result<alloy::consensus::Header, StoreError> {
    alloy::consensus::Header::decode(&mut bytes).map_err(|e| corrupt("header", e))
}

fn corrupt(what: &'static str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, reason: err.to_string() }
}

/// A bounds-checked reader.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(StoreError::Corrupt { what: "block data", reason: "truncated".into() });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
}
