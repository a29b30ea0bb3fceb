//! The `txpool_` namespace: what waits in the pool, in geth's format, for operators and
//! explorers that watch a node's backlog.

use std::{collections::BTreeMap, sync::Arc};

use alloy::consensus::Transaction as _;
use alloy_primitives::{Address, U64};
use jsonrpsee::core::RpcResult;

use super::{
    api::{TxpoolApiServer, TxpoolContent, TxpoolContentFrom, TxpoolStatus},
    convert,
};
use crate::{node::Node, txpool::PooledTx};

/// The `txpool_` API implementation.
#[derive(Debug, Clone)]
pub(crate) struct TxpoolRpc {
    pub(crate) node: Arc<Node>,
}

/// Transactions by nonce, written in decimal as geth keys them.
fn by_nonce<T>(txs: &[Arc<PooledTx>], show: impl Fn(&PooledTx) -> T) -> BTreeMap<String, T> {
    txs.iter().map(|tx| (tx.nonce().to_string(), show(tx))).collect()
}

/// geth's one-line summary of a transaction.
fn summary(pooled: &PooledTx) -> String {
    let tx = pooled.tx.inner();
    let costs =
        format!("{} wei + {} gas × {} wei", tx.value(), tx.gas_limit(), tx.max_fee_per_gas());
    match tx.to() {
        Some(to) => format!("{}: {costs}", to.to_checksum(None)),
        None => format!("contract creation: {costs}"),
    }
}

impl TxpoolRpc {
    fn content_with<T>(&self, show: impl Fn(&PooledTx) -> T + Copy) -> TxpoolContent<T> {
        // The pool lock is held only to take the senders' transactions.
        let senders = self.node.pool.lock().content(None);
        let mut content = TxpoolContent { pending: BTreeMap::new(), queued: BTreeMap::new() };
        for sender in senders {
            if !sender.pending.is_empty() {
                content.pending.insert(sender.sender, by_nonce(&sender.pending, show));
            }
            if !sender.queued.is_empty() {
                content.queued.insert(sender.sender, by_nonce(&sender.queued, show));
            }
        }
        content
    }
}

impl TxpoolApiServer for TxpoolRpc {
    fn status(&self) -> RpcResult<TxpoolStatus> {
        let (pending, queued) = self.node.pool.lock().counts();
        Ok(TxpoolStatus { pending: U64::from(pending), queued: U64::from(queued) })
    }

    fn content(&self) -> RpcResult<TxpoolContent<alloy::rpc::types::Transaction>> {
        Ok(self.content_with(|tx| convert::pending_transaction(&tx.tx)))
    }

    fn content_from(&self, sender: Address) -> RpcResult<TxpoolContentFrom> {
        let content = self.node.pool.lock().content(Some(&sender));
        let show = |tx: &PooledTx| convert::pending_transaction(&tx.tx);
        Ok(content.first().map_or_else(
            || TxpoolContentFrom { pending: BTreeMap::new(), queued: BTreeMap::new() },
            |sender| TxpoolContentFrom {
                pending: by_nonce(&sender.pending, show),
                queued: by_nonce(&sender.queued, show),
            },
        ))
    }

    fn inspect(&self) -> RpcResult<TxpoolContent<String>> {
        Ok(self.content_with(summary))
    }
}
