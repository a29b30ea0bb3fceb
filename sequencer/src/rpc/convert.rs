//! Stored blocks, transactions and receipts as the RPC types wallets parse.

use alloy::{
    consensus::{
        ReceiptEnvelope, Sealed, Transaction as _, TxEnvelope,
        transaction::{Recovered, TransactionInfo},
    },
    rpc::types::{
        Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt, Withdrawals,
    },
};
use alloy_primitives::U256;
use alloy_rlp::Encodable;

use crate::store::StoredBlock;

/// The RPC block, with full transactions or their hashes.
pub(crate) fn block(stored: &StoredBlock, full: bool) -> Block {
    let size = block_size(stored);
    let header = Header::from_consensus(
        Sealed::new_unchecked(stored.header.clone(), stored.hash),
        None,
        Some(U256::from(size)),
    );
    let transactions = if full {
        BlockTransactions::Full(
            stored
                .transactions
                .iter()
                .enumerate()
                .map(|(i, tx)| transaction(stored, i, tx))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(stored.transactions.iter().map(|tx| *tx.tx_hash()).collect())
    };
    let withdrawals = stored.header.withdrawals_root.map(|_| Withdrawals::default());
    Block { header, uncles: Vec::new(), transactions, withdrawals }
}

/// RLP size of the block (header, transactions, no ommers, empty withdrawals when present).
fn block_size(stored: &StoredBlock) -> usize {
    consensus_block(stored).length()
}

/// The block as consensus encodes it: header, transactions, no ommers, and the empty
/// withdrawals list when its header commits to one.
pub(crate) fn consensus_block(stored: &StoredBlock) -> alloy::consensus::Block<TxEnvelope> {
    let body = alloy::consensus::BlockBody {
        transactions: stored
            .transactions
            .iter()
            .map(|t| t.inner().clone())
            .collect::<Vec<TxEnvelope>>(),
        ommers: Vec::new(),
        withdrawals: stored.header.withdrawals_root.map(|_| Default::default()),
    };
    alloy::consensus::Block { header: stored.header.clone(), body }
}

/// The RPC header of a block whose hash is `hash` (no size: geth's `eth_getHeaderBy*`).
pub(crate) fn header(header: alloy::consensus::Header, hash: alloy_primitives::B256) -> Header {
    Header::from_consensus(Sealed::new_unchecked(header, hash), None, None)
}

/// The RPC transaction at `index` of a stored block.
pub(crate) fn transaction(
    stored: &StoredBlock,
    index: usize,
    tx: &Recovered<TxEnvelope>,
) -> Transaction {
    Transaction::from_transaction(
        tx.clone(),
        TransactionInfo {
            hash: Some(*tx.tx_hash()),
            index: Some(index as u64),
            block_hash: Some(stored.hash),
            block_number: Some(stored.header.number),
            base_fee: stored.header.base_fee_per_gas,
            block_timestamp: Some(stored.header.timestamp),
        },
    )
}

/// A transaction still in the pool (no block fields).
pub(crate) fn pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction::from_transaction(
        tx.clone(),
        TransactionInfo { hash: Some(*tx.tx_hash()), ..Default::default() },
    )
}

/// All receipts of a stored block, with per-transaction gas, log indices and contract addresses.
pub(crate) fn receipts(stored: &StoredBlock) -> Vec<TransactionReceipt> {
    let mut out = Vec::with_capacity(stored.receipts.len());
    let mut log_index = 0u64;
    let mut previous_cumulative = 0u64;
    for (i, (tx, receipt)) in stored.transactions.iter().zip(&stored.receipts).enumerate() {
        let cumulative = receipt.cumulative_gas_used();
        out.push(receipt_at(stored, i, tx, receipt, cumulative - previous_cumulative, log_index));
        previous_cumulative = cumulative;
        log_index += receipt.logs().len() as u64;
    }
    out
}

/// The receipt of the transaction at `index`.
pub(crate) fn receipt(stored: &StoredBlock, index: usize) -> Option<TransactionReceipt> {
    let log_index = stored.receipts.get(..index)?.iter().map(|r| r.logs().len() as u64).sum();
    receipt_with_first_log(stored, index, log_index)
}

/// [`receipt`] when the block-wide index of the transaction's first log is known already.
pub(crate) fn receipt_with_first_log(
    stored: &StoredBlock,
    index: usize,
    log_index: u64,
) -> Option<TransactionReceipt> {
    let tx = stored.transactions.get(index)?;
    let receipt = stored.receipts.get(index)?;
    let previous = if index == 0 { 0 } else { stored.receipts[index - 1].cumulative_gas_used() };
    Some(receipt_at(
        stored,
        index,
        tx,
        receipt,
        receipt.cumulative_gas_used() - previous,
        log_index,
    ))
}

fn receipt_at(
    stored: &StoredBlock,
    index: usize,
    tx: &Recovered<TxEnvelope>,
    receipt: &ReceiptEnvelope,
    gas_used: u64,
    first_log_index: u64,
) -> TransactionReceipt {
    let hash = *tx.tx_hash();
    let mut next_log = first_log_index;
    let inner = receipt.clone().map_logs(|log| {
        let rpc = Log {
            inner: log,
            block_hash: Some(stored.hash),
            block_number: Some(stored.header.number),
            block_timestamp: Some(stored.header.timestamp),
            transaction_hash: Some(hash),
            transaction_index: Some(index as u64),
            log_index: Some(next_log),
            removed: false,
        };
        next_log += 1;
        rpc
    });
    let contract_address = tx.kind().is_create().then(|| tx.signer().create(tx.nonce()));
    TransactionReceipt {
        inner,
        transaction_hash: hash,
        transaction_index: Some(index as u64),
        block_hash: Some(stored.hash),
        block_number: Some(stored.header.number),
        gas_used,
        effective_gas_price: tx.effective_gas_price(stored.header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.signer(),
        to: tx.to(),
        contract_address,
    }
}

/// The logs of a stored block, as RPC logs, in block order.
pub(crate) fn logs(stored: &StoredBlock) -> impl Iterator<Item = Log> + '_ {
    receipts(stored).into_iter().flat_map(|r| r.inner.into_logs())
}
