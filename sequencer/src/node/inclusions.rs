//! Callers waiting for a transaction's block, so `eth_sendRawTransactionSync` (EIP-7966) and
//! `eth_sendTransactionSync` can answer with the receipt the moment that block is committed
//! instead of having the wallet poll.
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

/// Where a committed block included a transaction.
#[derive(Debug, Clone)]
pub(crate) struct Included {
    /// The block.
    pub(crate) block: Arc<StoredBlock>,
    /// The transaction's index in it.
    pub(crate) index: usize,
    /// The block-wide index of the transaction's first log, counted on the way, so a caller
    /// builds its receipt without walking the block's receipts again.
    pub(crate) first_log_index: u64,
}

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
        let mut first_log_index = 0;
        for (index, (tx, receipt)) in block.transactions.iter().zip(&block.receipts).enumerate() {
            if let Some(watchers) = waiting.remove(tx.tx_hash()) {
                let included = Included { block: block.clone(), index, first_log_index };
                for (_, sender) in watchers {
                    // A watcher that already gave up has dropped its receiver: nothing to tell.
                    let _ = sender.send(included.clone());
                }
                if waiting.is_empty() {
                    break;
                }
            }
            first_log_index += receipt.logs().len() as u64;
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

    /// The block that included the transaction, if one was handed over already (for a last
    /// look once the wait is over).
    pub(crate) fn try_included(&mut self) -> Option<Included> {
        self.included.try_recv().ok()
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
        // Each transaction's receipt carries as many logs as its nonce.
        let receipts = nonces
            .iter()
            .map(|&nonce| {
                let mut receipt = alloy::consensus::ReceiptWithBloom::<
                    alloy::consensus::Receipt<alloy_primitives::Log>,
                >::default();
                receipt.receipt.logs = vec![alloy_primitives::Log::default(); nonce as usize];
                ReceiptEnvelope::Eip1559(receipt)
            })
            .collect();
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

        let mut third = inclusions.watch(*block.transactions[2].tx_hash());
        inclusions.on_block(&block);
        let got = settled(second.included()).await.expect("woken by its block");
        assert!(Arc::ptr_eq(&got.block, &block));
        assert_eq!((got.index, got.first_log_index), (1, 0));
        assert_eq!(settled(twice.included()).await.map(|i| i.index), Some(1));
        // Its first log follows the 0 + 1 logs of the two transactions before it.
        assert_eq!(third.try_included().map(|i| (i.index, i.first_log_index)), Some((2, 1)));
        assert!(settled(other.included()).await.is_none(), "not woken by another block");
        assert!(other.try_included().is_none());
        assert_eq!(inclusions.waiting(), 1);

        inclusions.on_block(&later);
        assert_eq!(settled(other.included()).await.map(|i| i.index), Some(0));
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
