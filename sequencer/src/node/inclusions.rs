//! Callers waiting for a transaction's block, so `eth_sendRawTransactionSync` (EIP-7966) can
//! answer with the receipt the moment that block is committed instead of having the wallet poll.
//!
//! A caller registers the transaction's hash and gets an [`InclusionWatch`]; the node hands
//! every committed block to [`Inclusions::on_block`], which looks up the block's transactions
//! in the waiting map. That costs one map lookup per transaction while anybody waits, and one
//! lock and an emptiness check per block otherwise: the walk is per block, not per waiter, so a
//! thousand callers waiting on a 10,000-transaction block cost what one does. A watch that is
//! given up (its timeout passed, or the caller went away and the request future was dropped)
//! removes itself when dropped.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use alloy_primitives::B256;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::store::StoredBlock;

/// The committed block that included a transaction, and the transaction's index in it.
pub(crate) type Included = (Arc<StoredBlock>, usize);

/// One waiting caller: its watch's id and where to send the block.
type Waiter = (u64, oneshot::Sender<Included>);

/// The waiting callers, by transaction hash.
#[derive(Debug, Default)]
pub(crate) struct Inclusions {
    waiting: Mutex<HashMap<B256, Vec<Waiter>>>,
    next_id: AtomicU64,
}

impl Inclusions {
    /// Starts waiting for the block that includes `hash`. Register before looking in the store:
    /// a block committed before that look-up is found there, and any later one is handed to
    /// [`Self::on_block`] after this registration, so no block falls between the two.
    pub(crate) fn watch(self: &Arc<Self>, hash: B256) -> InclusionWatch {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, included) = oneshot::channel();
        self.waiting.lock().entry(hash).or_default().push((id, sender));
        InclusionWatch { inclusions: self.clone(), hash, id, included }
    }

    /// Wakes the callers waiting for a transaction of `block`, which is committed.
    pub(crate) fn on_block(&self, block: &Arc<StoredBlock>) {
        let mut waiting = self.waiting.lock();
        if waiting.is_empty() {
            return;
        }
        for (index, tx) in block.transactions.iter().enumerate() {
            if let Some(watchers) = waiting.remove(tx.tx_hash()) {
                for (_, sender) in watchers {
                    // A watcher that already gave up has dropped its receiver: nothing to tell.
                    let _ = sender.send((block.clone(), index));
                }
                if waiting.is_empty() {
                    break;
                }
            }
        }
    }

    /// How many callers wait.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.lock().values().map(Vec::len).sum()
    }
}

/// One caller's wait for one transaction; stops waiting when dropped.
#[derive(Debug)]
pub(crate) struct InclusionWatch {
    inclusions: Arc<Inclusions>,
    hash: B256,
    id: u64,
    included: oneshot::Receiver<Included>,
}

impl InclusionWatch {
    /// The block that included the transaction, once committed. Pending forever when it never
    /// is (dropped from the pool, replaced): callers bound the wait with a timeout.
    pub(crate) async fn included(&mut self) -> Included {
        match (&mut self.included).await {
            Ok(included) => included,
            // The sender only goes away with this watch's entry, which `on_block` removes
            // after sending and `drop` removes with the receiver: unreachable, but never
            // worth a panic.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for InclusionWatch {
    fn drop(&mut self) {
        let mut waiting = self.inclusions.waiting.lock();
        if let Entry::Occupied(mut entry) = waiting.entry(self.hash) {
            entry.get_mut().retain(|(id, _)| *id != self.id);
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alloy::consensus::{Header, ReceiptEnvelope, transaction::Recovered};
    use alloy_primitives::{Address, U256};

    use super::*;
    use crate::test_utils::{dev_signer, sign, transfer};

    fn block_of(nonces: &[u64]) -> Arc<StoredBlock> {
        let signer = dev_signer(0);
        let transactions: Vec<_> = nonces
            .iter()
            .map(|&nonce| {
                let tx = sign(&signer, transfer(1, nonce, Address::ZERO, U256::from(1)));
                Recovered::new_unchecked(tx, signer.address())
            })
            .collect();
        let receipts = vec![ReceiptEnvelope::Eip1559(Default::default()); nonces.len()];
        Arc::new(StoredBlock {
            header: Header::default(),
            hash: B256::ZERO,
            transactions,
            receipts,
        })
    }

    async fn settled<F: Future>(future: F) -> Option<F::Output> {
        tokio::time::timeout(Duration::from_millis(50), future).await.ok()
    }

    #[tokio::test]
    async fn a_watch_hears_of_its_block_and_only_of_its_block() {
        let inclusions = Arc::new(Inclusions::default());
        let block = block_of(&[0, 1, 2]);
        let later = block_of(&[3]);
        let mut second = inclusions.watch(*block.transactions[1].tx_hash());
        let mut twice = inclusions.watch(*block.transactions[1].tx_hash());
        let mut other = inclusions.watch(*later.transactions[0].tx_hash());
        assert_eq!(inclusions.waiting(), 3);

        inclusions.on_block(&block);
        let (got, index) = settled(second.included()).await.expect("woken by its block");
        assert!(Arc::ptr_eq(&got, &block));
        assert_eq!(index, 1);
        assert_eq!(settled(twice.included()).await.map(|(_, i)| i), Some(1));
        assert!(settled(other.included()).await.is_none(), "not woken by another block");
        assert_eq!(inclusions.waiting(), 1);

        inclusions.on_block(&later);
        assert_eq!(settled(other.included()).await.map(|(_, i)| i), Some(0));
        assert_eq!(inclusions.waiting(), 0);
    }

    #[tokio::test]
    async fn a_watch_given_up_leaves_nothing_behind() {
        let inclusions = Arc::new(Inclusions::default());
        let block = block_of(&[0]);
        let hash = *block.transactions[0].tx_hash();
        let kept = inclusions.watch(hash);
        drop(inclusions.watch(hash));
        assert_eq!(inclusions.waiting(), 1, "only the dropped watch is gone");
        drop(kept);
        assert_eq!(inclusions.waiting(), 0);
        assert!(inclusions.waiting.lock().is_empty(), "no empty entry is left for the hash");
        inclusions.on_block(&block); // nobody to wake: no panic
    }
}
