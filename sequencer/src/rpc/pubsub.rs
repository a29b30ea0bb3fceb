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
use crate::{node::Node, store::StoredBlock};

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

/// Receives the next item, skipping over what a slow subscriber missed (pending transactions;
/// blocks are read back by [`BlockFeed`]); `None` once closed.
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

/// The most missed blocks read back for one subscriber. A subscriber further behind (a stalled
/// client) has its subscription ended with an error and must subscribe again, so it cannot
/// make the node read blocks without bound.
const MAX_READ_BACK: u64 = 1_024;

/// The committed blocks in order for one subscriber. The broadcast keeps the newest 1,024; a
/// subscriber slower than that (a client reading a logs subscription of busy blocks slowly)
/// would miss some, so the blocks it missed are read back from the store before the next one
/// it receives: newHeads and logs subscribers see every block, late rather than never.
struct BlockFeed {
    /// Reads a committed block back by number.
    read: Box<dyn Fn(u64) -> Option<StoredBlock> + Send + Sync>,
    /// The number after the last block handed out.
    next: Option<u64>,
    /// Blocks still to read back from the store.
    missed: std::ops::Range<u64>,
    /// The block received, when it is handed out as broadcast.
    held: Option<Arc<StoredBlock>>,
}

impl BlockFeed {
    fn new(read: impl Fn(u64) -> Option<StoredBlock> + Send + Sync + 'static) -> Self {
        Self { read: Box::new(read), next: None, missed: 0..0, held: None }
    }

    fn of(node: &Node) -> Self {
        let store = node.store.clone();
        Self::new(move |number| store.blocks().ok()?.block(number).ok()?)
    }

    /// Takes a block from the broadcast. After a gap, the blocks missed and this one are read
    /// from the store instead: what it holds is one chain, even where a replica's writer
    /// replaced blocks since they were broadcast. Returns how far behind the subscriber is
    /// when that is more than [`MAX_READ_BACK`] blocks.
    fn receive(&mut self, block: Arc<StoredBlock>) -> Result<(), u64> {
        let number = block.header.number;
        match self.next {
            Some(expected) if number > expected => {
                let behind = number - expected;
                if behind > MAX_READ_BACK {
                    return Err(behind);
                }
                self.missed = expected..number + 1;
            }
            _ => self.held = Some(block),
        }
        Ok(())
    }

    /// The next block to hand out, if one is ready. A block the store does not answer for
    /// (cannot happen: bodies are kept) is skipped rather than ending the subscription.
    fn ready(&mut self) -> Option<Arc<StoredBlock>> {
        let block = self
            .missed
            .by_ref()
            .find_map(|number| (self.read)(number).map(Arc::new))
            .or_else(|| self.held.take())?;
        self.next = Some(block.header.number + 1);
        Some(block)
    }

    /// The next block; `None` once the node or the subscriber closed; an error when the
    /// subscriber fell too far behind.
    async fn next(
        &mut self,
        rx: &mut Receiver<Arc<StoredBlock>>,
        sink: &SubscriptionSink,
    ) -> Result<Option<Arc<StoredBlock>>, String> {
        loop {
            let reading_back = !self.missed.is_empty();
            if let Some(block) = self.ready() {
                if reading_back {
                    // Store reads on an async worker: let other tasks run between them.
                    tokio::task::yield_now().await;
                }
                return Ok(Some(block));
            }
            let Some(block) = next(rx, sink).await else { return Ok(None) };
            if let Err(behind) = self.receive(block) {
                return Err(format!(
                    "subscriber fell {behind} blocks behind (at most {MAX_READ_BACK} are replayed): subscribe again"
                ));
            }
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
                let (mut feed, mut blocks) =
                    (BlockFeed::of(&self.node), self.node.blocks.subscribe());
                let sink = pending.accept().await?;
                while let Some(block) = feed.next(&mut blocks, &sink).await? {
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
                let (mut feed, mut blocks) =
                    (BlockFeed::of(&self.node), self.node.blocks.subscribe());
                let sink = pending.accept().await?;
                'blocks: while let Some(block) = feed.next(&mut blocks, &sink).await? {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> StoredBlock {
        StoredBlock {
            header: alloy::consensus::Header { number, ..Default::default() },
            hash: alloy_primitives::B256::with_last_byte(number as u8),
            transactions: Vec::new(),
            receipts: Vec::new(),
        }
    }

    fn numbers(feed: &mut BlockFeed) -> Vec<u64> {
        std::iter::from_fn(|| feed.ready()).map(|b| b.header.number).collect()
    }

    #[test]
    fn a_subscriber_that_lagged_gets_the_blocks_it_missed_from_the_store() {
        let mut feed = BlockFeed::new(|number| (number != 8).then(|| block(number)));
        feed.receive(Arc::new(block(3))).unwrap();
        assert_eq!(numbers(&mut feed), vec![3], "the first block starts the feed");
        feed.receive(Arc::new(block(4))).unwrap();
        assert_eq!(numbers(&mut feed), vec![4]);
        // The broadcast dropped 5 and 6 for this subscriber: read back, in order, and 7 with
        // them from the store.
        feed.receive(Arc::new(block(7))).unwrap();
        assert_eq!(numbers(&mut feed), vec![5, 6, 7]);
        // One the store cannot answer for is skipped, not an end.
        feed.receive(Arc::new(block(9))).unwrap();
        assert_eq!(numbers(&mut feed), vec![9]);
        // A replacement at a height already handed out (a replica's writer replaced blocks) is
        // handed out as it comes.
        feed.receive(Arc::new(block(9))).unwrap();
        assert_eq!(numbers(&mut feed), vec![9]);
        // Too far behind: the subscription ends rather than read without bound.
        let far = 10 + MAX_READ_BACK + 1;
        assert_eq!(feed.receive(Arc::new(block(far))), Err(MAX_READ_BACK + 1));
        assert_eq!(feed.receive(Arc::new(block(10 + MAX_READ_BACK))), Ok(()));
        assert_eq!(numbers(&mut feed).len() as u64, MAX_READ_BACK + 1);
    }
}
