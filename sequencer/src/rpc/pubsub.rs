//! `eth_subscribe`: new heads, logs and pending transactions pushed over WebSocket as blocks
//! are committed and transactions admitted.

use std::sync::Arc;

use alloy::{
    consensus::Sealed,
    rpc::types::{
        Filter, Header,
        pubsub::{Params, SubscriptionKind},
    },
};
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink,
    core::{SubscriptionResult, async_trait},
    types::ErrorObjectOwned,
};
use serde::Serialize;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{api::EthPubSubApiServer, convert, filters::Filters};
use crate::node::Node;

/// The pub/sub API implementation.
#[derive(Debug, Clone)]
pub(crate) struct PubSub {
    node: Arc<Node>,
}

impl PubSub {
    pub(crate) const fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

async fn send(sink: &SubscriptionSink, item: &impl Serialize) -> bool {
    match serde_json::value::to_raw_value(item) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(_) => false,
    }
}

/// Receives the next item, skipping over what a slow subscriber missed; `None` once closed.
async fn next<T: Clone>(rx: &mut Receiver<T>, sink: &SubscriptionSink) -> Option<T> {
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Ok(item) => return Some(item),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            },
            () = sink.closed() => return None,
        }
    }
}

#[async_trait]
impl EthPubSubApiServer for PubSub {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<Params>,
    ) -> SubscriptionResult {
        match kind {
            SubscriptionKind::NewHeads => {
                let mut blocks = self.node.blocks.subscribe();
                let sink = pending.accept().await?;
                while let Some(block) = next(&mut blocks, &sink).await {
                    let sealed = Sealed::new_unchecked(block.header.clone(), block.hash);
                    let header = Header::from_consensus(sealed, None, None);
                    if !send(&sink, &header).await {
                        break;
                    }
                }
            }
            SubscriptionKind::Logs => {
                let filter = match params {
                    Some(Params::Logs(filter)) => *filter,
                    None => Filter::default(),
                    Some(_) => {
                        pending.reject(invalid("logs subscription takes a filter object")).await;
                        return Ok(());
                    }
                };
                let mut blocks = self.node.blocks.subscribe();
                let sink = pending.accept().await?;
                'blocks: while let Some(block) = next(&mut blocks, &sink).await {
                    if !filter.matches_bloom(block.header.logs_bloom) {
                        continue;
                    }
                    for log in convert::logs(&block).filter(|log| filter.matches(&log.inner)) {
                        if !send(&sink, &log).await {
                            break 'blocks;
                        }
                    }
                }
            }
            SubscriptionKind::NewPendingTransactions => {
                let full = match params {
                    None | Some(Params::None) => false,
                    Some(Params::Bool(full)) => full,
                    Some(_) => {
                        pending
                            .reject(invalid("newPendingTransactions takes an optional boolean"))
                            .await;
                        return Ok(());
                    }
                };
                let mut txs = self.node.pending_txs.subscribe();
                let sink = pending.accept().await?;
                while let Some(tx) = next(&mut txs, &sink).await {
                    let sent = if full {
                        send(&sink, &convert::pending_transaction(&tx.tx)).await
                    } else {
                        send(&sink, &tx.hash).await
                    };
                    if !sent {
                        break;
                    }
                }
            }
            other => {
                pending.reject(invalid(&format!("unsupported subscription: {other:?}"))).await;
            }
        }
        Ok(())
    }
}

fn invalid(message: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(super::error::INVALID_PARAMS_CODE, message, None::<()>)
}

/// Feeds pending-transaction hashes to the polling filters that want them.
pub(crate) async fn feed_pending_filters(
    node: Arc<Node>,
    filters: Arc<Filters>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut txs = node.pending_txs.subscribe();
    drop(node);
    loop {
        let received = tokio::select! {
            received = txs.recv() => received,
            _ = stop.changed() => return,
        };
        match received {
            Ok(tx) => {
                filters.on_pending(tx.hash);
            }
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}
