//! The transaction pool: validated transactions waiting for a block.
//!
//! Each sender has a nonce-ordered queue. The run of transactions whose nonces follow the
//! sender's next nonce without a gap is *pending* (executable); the rest is *queued* until the
//! gap fills. Block building takes pending transactions in fee priority while keeping each
//! sender's nonce order. Senders are recovered once, at admission ([`check_raw`]), and kept
//! with the transaction.
//!
//! Limits: a pool-wide cap (the cheapest transaction is evicted for a better-paying executable
//! one), a per-sender cap, caps on queued (gapped) transactions per sender and pool-wide, and on
//! how far ahead of the next nonce a transaction may be. A queued transaction leaves the pool
//! after [`PoolConfig::queued_lifetime`], and never evicts another to get in, so transactions
//! that cannot execute cannot crowd out those that can. A transaction with the nonce of a pooled
//! one replaces it only when both its fee cap and its tip are at least
//! [`PoolConfig::price_bump_percent`] higher.
//!
//! Funds: a sender's pooled transactions together may cost at most its balance (each at its
//! gas limit × fee cap + value, as geth counts it), so every transaction the pool hands to a
//! block is affordable when its turn comes. A block that lowers a balance by other means (an
//! EIP-7702 delegate spending it) makes the pool drop the sender's unaffordable tail.

mod error;
mod validate;

use std::{
    collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};

pub use error::PoolError;
pub use validate::{
    CheckedTx, IntrinsicGas, MAX_INITCODE_SIZE, MAX_TX_BYTES, ValidationRules, check_decoded,
    check_raw, intrinsic_gas,
};

use crate::state::AccountInfo;

/// Pool limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most transactions in the pool.
    pub max_txs: usize,
    /// Most transactions of one sender.
    pub max_per_sender: usize,
    /// Most queued (not yet executable) transactions of one sender.
    pub max_queued_per_sender: usize,
    /// How far beyond the sender's next nonce a transaction may be.
    pub max_nonce_ahead: u64,
    /// Fee increase, in percent, a same-nonce replacement must offer.
    pub price_bump_percent: u128,
    /// Most queued transactions in the pool (all senders).
    pub max_queued: usize,
    /// How long a queued transaction may wait for its nonce gap to fill.
    pub queued_lifetime: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_per_sender: 16_384,
            max_queued_per_sender: 64,
            max_nonce_ahead: 16_384,
            price_bump_percent: 10,
            max_queued: 50_000,
            queued_lifetime: Duration::from_secs(3 * 60 * 60),
        }
    }
}

/// A transaction in the pool.
#[derive(Debug, Clone)]
pub struct PooledTx {
    /// The transaction and its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Its encoded size.
    pub size: usize,
    /// Its pre-execution at admission, handed to the executor as a hint.
    pub inference: Option<Arc<crate::executor::Inference>>,
    /// Arrival order, to break fee ties first-come first-served.
    seq: u64,
    /// When it arrived.
    arrived: Instant,
    /// The most it may cost its sender: gas limit × fee cap + value.
    cost: U256,
}

impl PooledTx {
    /// The sender.
    pub fn sender(&self) -> Address {
        self.tx.signer()
    }

    /// The nonce.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The tip this transaction pays per gas at `base_fee`, or `None` if its fee cap is below.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
}

/// The most `tx` may cost its sender: gas limit × fee cap + value; `None` past 2^256 (no
/// balance covers it, and 256-bit arithmetic would wrap it to a small number).
fn max_cost(tx: &TxEnvelope) -> Option<U256> {
    U256::from(tx.gas_limit())
        .checked_mul(U256::from(tx.max_fee_per_gas()))?
        .checked_add(tx.value())
}

/// What [`TxPool::add`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The new transaction's hash.
    pub hash: B256,
    /// The hash of a same-nonce transaction it replaced.
    pub replaced: Option<B256>,
    /// Whether it is executable now (no nonce gap before it).
    pub pending: bool,
    /// The sender's queued transactions it made executable (it filled their gap), in nonce
    /// order.
    pub promoted: Vec<B256>,
    /// Transactions evicted to make room, and the sender's transactions above its nonce
    /// (queued: it filled a gap before them, or one remains) that its balance cannot cover
    /// together with it and those before them.
    pub evicted: Vec<B256>,
}

/// One sender's pooled transactions, for [`TxPool::content`].
#[derive(Debug, Clone)]
pub struct SenderContent {
    /// The sender.
    pub sender: Address,
    /// Its executable transactions, in nonce order.
    pub pending: Vec<Arc<PooledTx>>,
    /// Its transactions behind a nonce gap, in nonce order.
    pub queued: Vec<Arc<PooledTx>>,
}

/// A sender's next nonce and balance after a block, for [`TxPool::on_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderUpdate {
    /// The sender.
    pub sender: Address,
    /// Its next nonce.
    pub nonce: u64,
    /// Its balance.
    pub balance: U256,
}

#[derive(Debug, Default)]
struct SenderQueue {
    /// The sender's next nonce in the latest state.
    state_nonce: u64,
    /// The nonce after the gap-free run starting at `state_nonce`.
    pending_end: u64,
    txs: BTreeMap<u64, Arc<PooledTx>>,
    /// What the pooled transactions may cost together.
    spent: U256,
}

impl SenderQueue {
    fn advance_pending(&mut self) {
        self.pending_end = self.pending_end.max(self.state_nonce);
        while self.txs.contains_key(&self.pending_end) {
            self.pending_end += 1;
        }
    }

    fn queued(&self) -> usize {
        self.txs.len() - (self.pending_end - self.state_nonce) as usize
    }

    /// What the sender's pooled transactions below `nonce` may cost together: all of them
    /// would execute before a transaction with that nonce.
    fn spent_below(&self, nonce: u64) -> U256 {
        match self.txs.last_key_value() {
            Some((&last, _)) if last >= nonce => self
                .txs
                .range(..nonce)
                .fold(U256::ZERO, |total, (_, tx)| total.saturating_add(tx.cost)),
            _ => self.spent,
        }
    }

    /// Takes out the transactions `balance` cannot cover: from the first whose cost, added to
    /// the costs of those before it, exceeds it. `spent` is what those in the queue cost
    /// together.
    fn split_unaffordable(&mut self, spent: U256, balance: U256) -> Vec<Arc<PooledTx>> {
        if spent <= balance {
            return Vec::new();
        }
        let mut total = U256::ZERO;
        let first = self.txs.iter().find_map(|(&nonce, tx)| {
            total = total.saturating_add(tx.cost);
            (total > balance).then_some(nonce)
        });
        let Some(first) = first else { return Vec::new() };
        self.pending_end = self.pending_end.min(first);
        self.txs.split_off(&first).into_values().collect()
    }
}

/// The pool. Not synchronised: the node wraps it in a mutex.
#[derive(Debug, Default)]
pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, Arc<PooledTx>>,
    /// (max fee, arrival, hash): the eviction order, cheapest first.
    by_fee: BTreeSet<(u128, u64, B256)>,
    next_seq: u64,
    /// Queued transactions, all senders (kept in step with each [`SenderQueue::queued`]).
    queued: usize,
    /// When queued transactions were last checked for expiry.
    last_expiry: Option<Instant>,
}

/// How often the pool looks for queued transactions past their lifetime.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self { config, ..Default::default() }
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Number of pending (executable) and queued transactions.
    pub fn counts(&self) -> (usize, usize) {
        (self.len() - self.queued, self.queued)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<Arc<PooledTx>> {
        self.by_hash.get(hash).cloned()
    }

    /// The sender's next nonce counting its pending transactions, if the pool tracks it.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(|q| q.pending_end)
    }

    /// The pre-executions of `sender`'s pooled transactions from its next nonce in the latest
    /// state up to (not including) `nonce`, in nonce order — empty when there are none, `None`
    /// unless every one of them is pooled with a pre-execution (or when `nonce` is already
    /// used). A transaction with that nonce pre-executes on top of their changes.
    pub fn inferences_below(
        &self,
        sender: &Address,
        nonce: u64,
    ) -> Option<Vec<Arc<crate::executor::Inference>>> {
        let Some(queue) = self.senders.get(sender) else { return Some(Vec::new()) };
        if nonce < queue.state_nonce {
            return None;
        }
        (queue.state_nonce..nonce).map(|n| queue.txs.get(&n)?.inference.clone()).collect()
    }

    /// The sender's next nonce: its account's, or the pool's record of it when a block has
    /// moved it on and the caller's state is older.
    fn next_nonce(&self, sender: &Address, account: &AccountInfo) -> u64 {
        account.nonce.max(self.senders.get(sender).map_or(0, |q| q.state_nonce))
    }

    /// Whether `checked` would be admitted against the sender's `account` (absent: empty),
    /// leaving the pool-wide size limit aside: known, nonce, funds, replacement price and the
    /// sender's share. Returns the pooled transaction it would replace. Admission asks this
    /// before pre-executing a call, so a transaction the pool refuses costs no EVM run.
    ///
    /// # Errors
    /// Why the pool refuses it.
    pub fn check_admissible(
        &self,
        checked: &CheckedTx,
        account: &AccountInfo,
    ) -> Result<Option<Arc<PooledTx>>, PoolError> {
        if self.by_hash.contains_key(&checked.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = checked.tx.signer();
        let tx = checked.tx.inner();
        let nonce = tx.nonce();
        let next = self.next_nonce(&sender, account);
        if nonce < next {
            return Err(PoolError::NonceTooLow { next, got: nonce });
        }
        if nonce - next >= self.config.max_nonce_ahead {
            return Err(PoolError::NonceTooHigh {
                next,
                got: nonce,
                max_ahead: self.config.max_nonce_ahead,
            });
        }
        let queue = self.senders.get(&sender);
        let existing = queue.and_then(|q| q.txs.get(&nonce)).cloned();
        // Together with what the sender has pooled before it. A replacement counts all the
        // sender's others (it frees only what the one it replaces would cost), as geth does; a
        // new nonce counts those below it only: the sender's later ones are queued behind a
        // gap it fills, and leave if the balance cannot cover them too.
        let spent = match (queue, &existing) {
            (None, _) => U256::ZERO,
            (Some(queue), Some(old)) => queue.spent - old.cost,
            (Some(queue), None) => queue.spent_below(nonce),
        };
        let want = max_cost(tx).map_or(U256::MAX, |cost| spent.saturating_add(cost));
        if account.balance < want {
            return Err(PoolError::InsufficientFunds {
                address: sender,
                have: account.balance,
                want,
            });
        }

        if let Some(old) = &existing {
            if !self.is_sufficient_bump(old, tx) {
                return Err(PoolError::ReplacementUnderpriced);
            }
        } else {
            let count = queue.map_or(0, |q| q.txs.len());
            if count >= self.config.max_per_sender {
                return Err(PoolError::AccountLimit { max: self.config.max_per_sender });
            }
            let pending_end = queue.map_or(next, |q| q.pending_end.max(next));
            let queued = queue.map_or(0, SenderQueue::queued);
            if nonce > pending_end {
                if queued >= self.config.max_queued_per_sender {
                    return Err(PoolError::AccountLimit { max: self.config.max_queued_per_sender });
                }
                // A transaction that cannot execute yet never displaces others.
                if self.queued >= self.config.max_queued || self.len() >= self.config.max_txs {
                    return Err(PoolError::PoolFull);
                }
            }
        }
        Ok(existing)
    }

    /// Admits a checked transaction given its sender's account in the latest state.
    ///
    /// # Errors
    /// Nonce too low or too far ahead, insufficient funds, an underpriced replacement, a full
    /// pool, or a duplicate.
    pub fn add(
        &mut self,
        checked: CheckedTx,
        account: Option<AccountInfo>,
    ) -> Result<AddOutcome, PoolError> {
        self.expire_queued_every_interval();
        let account = account.unwrap_or_default();
        let sender = checked.tx.signer();
        if self.senders.get(&sender).is_some_and(|q| q.state_nonce < account.nonce) {
            // The account is newer than the pool's record of it: catch up first, so no pooled
            // transaction is left below the sender's next nonce.
            let (nonce, balance) = (account.nonce, account.balance);
            self.on_block([SenderUpdate { sender, nonce, balance }]);
        }
        let existing = self.check_admissible(&checked, &account)?;
        let tx = checked.tx.inner();
        let nonce = tx.nonce();
        let next = self.next_nonce(&sender, &account);

        let mut evicted = Vec::new();
        if existing.is_none() && self.by_hash.len() >= self.config.max_txs {
            let cheapest = *self.by_fee.first().expect("a full pool is not empty");
            if cheapest.0 >= tx.max_fee_per_gas() || self.by_hash[&cheapest.2].sender() == sender {
                return Err(PoolError::PoolFull);
            }
            self.remove(&cheapest.2);
            evicted.push(cheapest.2);
        }

        let pooled = Arc::new(PooledTx {
            hash: checked.hash,
            size: checked.size,
            inference: checked.inference,
            seq: self.next_seq,
            arrived: Instant::now(),
            cost: max_cost(checked.tx.inner()).unwrap_or(U256::MAX),
            tx: checked.tx,
        });
        self.next_seq += 1;
        let replaced = existing.map(|old| {
            self.remove(&old.hash);
            old.hash
        });
        self.by_fee.insert((pooled.tx.max_fee_per_gas(), pooled.seq, pooled.hash));
        self.by_hash.insert(pooled.hash, pooled.clone());
        let queue = self.senders.entry(sender).or_default();
        let queued_before = queue.queued();
        queue.state_nonce = queue.state_nonce.max(next);
        let pending_before = queue.pending_end.max(queue.state_nonce);
        queue.spent += pooled.cost;
        queue.txs.insert(nonce, pooled);
        queue.advance_pending();
        self.queued = self.queued + queue.queued() - queued_before;
        if replaced.is_none() {
            // It was checked against the sender's transactions below it: those above it (all
            // queued, behind the gap it filled or one still open) must still be covered with
            // it, or leave.
            let balance = account.balance;
            let dropped =
                self.edit_sender(sender, |queue| queue.split_unaffordable(queue.spent, balance));
            evicted.extend(dropped.iter().map(|tx| tx.hash));
        }
        let queue = &self.senders[&sender];
        let pending = nonce < queue.pending_end;
        // A replacement takes its predecessor's place and fills no gap.
        let promoted = if replaced.is_some() {
            Vec::new()
        } else {
            (pending_before..queue.pending_end)
                .filter(|n| *n != nonce)
                .filter_map(|n| queue.txs.get(&n).map(|tx| tx.hash))
                .collect()
        };
        Ok(AddOutcome { hash: checked.hash, replaced, pending, evicted, promoted })
    }

    fn is_sufficient_bump(&self, old: &PooledTx, new: &TxEnvelope) -> bool {
        let bump = |old: u128| old.saturating_mul(100 + self.config.price_bump_percent) / 100;
        let old_tx = old.tx.inner();
        let old_tip = old_tx.max_priority_fee_per_gas().unwrap_or(old_tx.max_fee_per_gas());
        let new_tip = new.max_priority_fee_per_gas().unwrap_or(new.max_fee_per_gas());
        new.max_fee_per_gas() >= bump(old_tx.max_fee_per_gas()) && new_tip >= bump(old_tip)
    }

    /// Removes a transaction (and makes its sender's later ones queued).
    pub fn remove(&mut self, hash: &B256) -> Option<Arc<PooledTx>> {
        let pooled = self.by_hash.get(hash)?.clone();
        let sender = pooled.sender();
        let nonce = pooled.nonce();
        self.edit_sender(sender, |queue| {
            if nonce < queue.pending_end {
                queue.pending_end = nonce;
            }
            vec![queue.txs.remove(&nonce).expect("pooled by hash, pooled by sender")]
        });
        Some(pooled)
    }

    /// Runs `edit` on `sender`'s queue, then takes the transactions it returns out of the
    /// indexes, and keeps the queued count and the sender's spending in step.
    fn edit_sender(
        &mut self,
        sender: Address,
        edit: impl FnOnce(&mut SenderQueue) -> Vec<Arc<PooledTx>>,
    ) -> Vec<Arc<PooledTx>> {
        let Some(queue) = self.senders.get_mut(&sender) else { return Vec::new() };
        let queued_before = queue.queued();
        let removed = edit(queue);
        for tx in &removed {
            queue.spent -= tx.cost;
            self.by_hash.remove(&tx.hash);
            self.by_fee.remove(&(tx.tx.max_fee_per_gas(), tx.seq, tx.hash));
        }
        self.queued = self.queued + queue.queued() - queued_before;
        if queue.txs.is_empty() {
            self.senders.remove(&sender);
        }
        removed
    }

    /// Updates senders after a block: each listed sender's next nonce and balance are now as
    /// given. Their transactions below the nonce (included, or replaced by the included one)
    /// leave the pool, and so do those the balance no longer covers: from the first whose
    /// cost, added to the costs of the sender's transactions before it, exceeds the balance.
    /// Returns the hashes of those dropped for want of funds.
    pub fn on_block(&mut self, updates: impl IntoIterator<Item = SenderUpdate>) -> Vec<B256> {
        self.expire_queued_every_interval();
        let mut unaffordable = Vec::new();
        for SenderUpdate { sender, nonce, balance } in updates {
            let mut included = 0;
            let removed = self.edit_sender(sender, |queue| {
                queue.state_nonce = queue.state_nonce.max(nonce);
                let mut removed: Vec<Arc<PooledTx>> = Vec::new();
                while let Some(entry) = queue.txs.first_entry() {
                    if *entry.key() >= queue.state_nonce {
                        break;
                    }
                    removed.push(entry.remove());
                }
                included = removed.len();
                // `spent` counts the included ones until `edit_sender` takes them out.
                let left = queue.spent - removed.iter().map(|tx| tx.cost).sum::<U256>();
                removed.extend(queue.split_unaffordable(left, balance));
                queue.advance_pending();
                removed
            });
            unaffordable.extend(removed[included..].iter().map(|tx| tx.hash));
        }
        unaffordable
    }

    /// Drops the queued transactions that have waited longer than
    /// [`PoolConfig::queued_lifetime`] at `now`; returns their hashes.
    pub fn expire_queued(&mut self, now: Instant) -> Vec<B256> {
        self.last_expiry = Some(now);
        let Some(cutoff) = now.checked_sub(self.config.queued_lifetime) else { return Vec::new() };
        let waiting: Vec<Address> =
            self.senders.iter().filter(|(_, q)| q.queued() > 0).map(|(a, _)| *a).collect();
        let mut expired = Vec::new();
        for sender in waiting {
            let removed = self.edit_sender(sender, |queue| {
                let stale: Vec<u64> = queue
                    .txs
                    .range(queue.pending_end..)
                    .filter(|(_, tx)| tx.arrived < cutoff)
                    .map(|(nonce, _)| *nonce)
                    .collect();
                stale.iter().filter_map(|nonce| queue.txs.remove(nonce)).collect()
            });
            expired.extend(removed.iter().map(|tx| tx.hash));
        }
        expired
    }

    /// [`Self::expire_queued`], at most once per [`EXPIRY_INTERVAL`].
    fn expire_queued_every_interval(&mut self) {
        let now = Instant::now();
        if self.last_expiry.is_some_and(|last| now.duration_since(last) < EXPIRY_INTERVAL) {
            return;
        }
        let expired = self.expire_queued(now);
        if !expired.is_empty() {
            tracing::info!(
                target: "sequencer::txpool",
                dropped = expired.len(),
                "dropped queued transactions whose nonce gap did not fill in time"
            );
        }
    }

    /// Pending transactions in block order: highest effective tip first, each sender's in
    /// nonce order, skipping senders whose next transaction's fee cap is below `base_fee`.
    /// Stops after `max_count` transactions or once their gas limits sum past `max_gas`, or
    /// their sizes past `max_bytes`.
    pub fn best(
        &self,
        base_fee: u64,
        max_count: usize,
        max_gas: u64,
        max_bytes: usize,
    ) -> Vec<Arc<PooledTx>> {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct Candidate {
            tip: u128,
            /// Earlier arrival wins ties.
            arrival: std::cmp::Reverse<u64>,
            sender: Address,
            nonce: u64,
        }
        let mut heap = BinaryHeap::with_capacity(self.senders.len());
        let candidate = |tx: &PooledTx| {
            tx.effective_tip(base_fee).map(|tip| Candidate {
                tip,
                arrival: std::cmp::Reverse(tx.seq),
                sender: tx.sender(),
                nonce: tx.nonce(),
            })
        };
        for queue in self.senders.values() {
            if queue.pending_end > queue.state_nonce
                && let Some(c) = candidate(&queue.txs[&queue.state_nonce])
            {
                heap.push(c);
            }
        }
        let (mut out, mut gas, mut bytes) = (Vec::new(), 0u64, 0usize);
        while let Some(best) = heap.pop() {
            let queue = &self.senders[&best.sender];
            let tx = &queue.txs[&best.nonce];
            if out.len() >= max_count || gas >= max_gas || bytes + tx.size > max_bytes {
                break;
            }
            gas = gas.saturating_add(tx.tx.gas_limit());
            bytes += tx.size;
            out.push(tx.clone());
            let next = best.nonce + 1;
            if next < queue.pending_end
                && let Some(c) = candidate(&queue.txs[&next])
            {
                heap.push(c);
            }
        }
        out
    }

    /// Every pooled transaction, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<PooledTx>> {
        self.by_hash.values()
    }

    /// The pooled transactions of `sender` (or of every sender), each sender's split into
    /// pending and queued, in nonce order (for `txpool_content`).
    pub fn content(&self, sender: Option<&Address>) -> Vec<SenderContent> {
        let describe = |(address, queue): (&Address, &SenderQueue)| {
            let (pending, queued) =
                queue.txs.values().cloned().partition(|tx| tx.nonce() < queue.pending_end);
            SenderContent { sender: *address, pending, queued }
        };
        match sender {
            Some(sender) => self.senders.get_key_value(sender).map(describe).into_iter().collect(),
            None => self.senders.iter().map(describe).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559},
        network::TxSignerSync,
        signers::local::PrivateKeySigner,
    };
    use alloy_primitives::TxKind;

    use super::*;
    use crate::genesis::DEV_ACCOUNTS;

    fn signed(key: usize, nonce: u64, max_fee: u128, tip: u128) -> CheckedTx {
        signed_with(key, nonce, max_fee, tip, U256::ZERO)
    }

    fn signed_with(key: usize, nonce: u64, max_fee: u128, tip: u128, value: U256) -> CheckedTx {
        let signer: PrivateKeySigner = DEV_ACCOUNTS[key].1.parse().unwrap();
        let mut tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::ZERO),
            value,
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        let env = TxEnvelope::from(tx.into_signed(sig));
        CheckedTx {
            hash: *env.tx_hash(),
            size: 110,
            tx: Recovered::new_unchecked(env, signer.address()),
            inference: None,
        }
    }

    fn rich() -> Option<AccountInfo> {
        Some(AccountInfo::with_balance(U256::from(10u64).pow(U256::from(20))))
    }

    #[test]
    fn a_chain_below_a_nonce_needs_every_predecessor_pre_executed() {
        let mut pool = TxPool::new(PoolConfig::default());
        let sender = signed(0, 0, 10, 1).tx.signer();
        let unknown = signed(1, 0, 10, 1).tx.signer();
        assert_eq!(pool.inferences_below(&unknown, 3).map(|v| v.len()), Some(0), "no predecessors");
        pool.add(signed(0, 0, 10, 1), rich()).unwrap();
        pool.add(signed(0, 1, 10, 1), rich()).unwrap();
        assert_eq!(pool.inferences_below(&sender, 0).map(|v| v.len()), Some(0), "first nonce");
        assert!(pool.inferences_below(&sender, 2).is_none(), "pooled without a pre-execution");
        pool.on_block([update(sender, 1)]);
        assert!(pool.inferences_below(&sender, 0).is_none(), "nonce already used");
    }

    #[test]
    fn pending_and_queued_follow_nonce_gaps() {
        let mut pool = TxPool::new(PoolConfig::default());
        assert!(pool.add(signed(0, 0, 10, 1), rich()).unwrap().pending);
        assert!(!pool.add(signed(0, 2, 10, 1), rich()).unwrap().pending);
        assert_eq!(pool.counts(), (1, 1));
        let filled = pool.add(signed(0, 1, 10, 1), rich()).unwrap();
        assert!(filled.pending);
        assert_eq!(filled.promoted, vec![signed(0, 2, 10, 1).hash], "the gap it filled");
        assert_eq!(pool.counts(), (3, 0));
        assert_eq!(pool.pending_nonce(&DEV_ACCOUNTS[0].0), Some(3));
    }

    #[test]
    fn rejects_nonce_too_low_and_insufficient_funds() {
        let mut pool = TxPool::new(PoolConfig::default());
        let account = AccountInfo { nonce: 5, ..rich().unwrap() };
        assert_eq!(
            pool.add(signed(0, 3, 10, 1), Some(account)),
            Err(PoolError::NonceTooLow { next: 5, got: 3 })
        );
        let poor = AccountInfo::with_balance(U256::from(1));
        assert!(matches!(
            pool.add(signed(0, 0, 10, 1), Some(poor)),
            Err(PoolError::InsufficientFunds { .. })
        ));
        assert!(pool.is_empty());
    }

    #[test]
    fn replacement_needs_ten_percent_bump() {
        let mut pool = TxPool::new(PoolConfig::default());
        let first = pool.add(signed(0, 0, 100, 10), rich()).unwrap().hash;
        assert_eq!(pool.add(signed(0, 0, 109, 11), rich()), Err(PoolError::ReplacementUnderpriced));
        pool.add(signed(0, 1, 100, 10), rich()).unwrap();
        let outcome = pool.add(signed(0, 0, 110, 11), rich()).unwrap();
        assert_eq!(outcome.replaced, Some(first));
        assert!(outcome.promoted.is_empty(), "nonce 1 was executable already");
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn best_orders_by_tip_and_keeps_nonce_order() {
        let mut pool = TxPool::new(PoolConfig::default());
        pool.add(signed(0, 0, 100, 1), rich()).unwrap();
        pool.add(signed(0, 1, 100, 50), rich()).unwrap();
        pool.add(signed(1, 0, 100, 10), rich()).unwrap();
        let order: Vec<_> = pool
            .best(0, 10, u64::MAX, usize::MAX)
            .iter()
            .map(|t| (t.sender(), t.nonce()))
            .collect();
        assert_eq!(
            order,
            vec![(DEV_ACCOUNTS[1].0, 0), (DEV_ACCOUNTS[0].0, 0), (DEV_ACCOUNTS[0].0, 1)]
        );
        // A base fee above a sender's fee cap skips that sender.
        assert!(pool.best(101, 10, u64::MAX, usize::MAX).is_empty());
    }

    #[test]
    fn full_pool_evicts_the_cheapest_for_a_better_payer() {
        let mut pool = TxPool::new(PoolConfig { max_txs: 2, ..PoolConfig::default() });
        let cheap = pool.add(signed(0, 0, 10, 1), rich()).unwrap().hash;
        pool.add(signed(1, 0, 20, 1), rich()).unwrap();
        assert_eq!(pool.add(signed(2, 0, 5, 1), rich()), Err(PoolError::PoolFull));
        let outcome = pool.add(signed(2, 0, 50, 1), rich()).unwrap();
        assert_eq!(outcome.evicted, vec![cheap]);
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn queued_transactions_are_bounded_per_sender() {
        let mut pool =
            TxPool::new(PoolConfig { max_queued_per_sender: 2, ..PoolConfig::default() });
        pool.add(signed(0, 5, 10, 1), rich()).unwrap();
        pool.add(signed(0, 6, 10, 1), rich()).unwrap();
        assert_eq!(pool.add(signed(0, 9, 10, 1), rich()), Err(PoolError::AccountLimit { max: 2 }));
    }

    #[test]
    fn on_block_drops_included_and_promotes() {
        let mut pool = TxPool::new(PoolConfig::default());
        pool.add(signed(0, 0, 10, 1), rich()).unwrap();
        pool.add(signed(0, 1, 10, 1), rich()).unwrap();
        pool.on_block([update(DEV_ACCOUNTS[0].0, 1)]);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.pending_nonce(&DEV_ACCOUNTS[0].0), Some(2));
        pool.on_block([update(DEV_ACCOUNTS[0].0, 2)]);
        assert!(pool.is_empty());
    }

    /// A sender's new nonce after a block, its balance still ample.
    fn update(sender: Address, nonce: u64) -> SenderUpdate {
        SenderUpdate { sender, nonce, balance: rich().unwrap().balance }
    }

    /// Funds for `n` of [`signed`]'s transactions at fee cap `max_fee`.
    fn funds_for(n: u64, max_fee: u128) -> Option<AccountInfo> {
        Some(AccountInfo::with_balance(U256::from(21_000 * n) * U256::from(max_fee)))
    }

    #[test]
    fn a_senders_pooled_transactions_together_cost_at_most_its_balance() {
        let mut pool = TxPool::new(PoolConfig::default());
        pool.add(signed(0, 0, 10, 1), funds_for(2, 10)).unwrap();
        pool.add(signed(0, 1, 10, 1), funds_for(2, 10)).unwrap();
        // Each alone is affordable; a third on top of the two is not (geth's overdraft rule).
        assert_eq!(
            pool.add(signed(0, 2, 10, 1), funds_for(2, 10)),
            Err(PoolError::InsufficientFunds {
                address: DEV_ACCOUNTS[0].0,
                have: U256::from(420_000),
                want: U256::from(630_000),
            })
        );
        // A value whose cost passes 2^256 is no way around it.
        let wrapping = signed_with(0, 2, 10, 1, U256::MAX - U256::from(21_000 * 10 - 1));
        assert!(matches!(
            pool.add(wrapping, funds_for(3, 10)),
            Err(PoolError::InsufficientFunds { want: U256::MAX, .. })
        ));
        // A replacement frees what the replaced one would have cost.
        assert!(matches!(
            pool.add(signed(0, 1, 20, 2), funds_for(2, 10)),
            Err(PoolError::InsufficientFunds { .. })
        ));
        let replacement =
            pool.add(signed(0, 1, 11, 2), Some(AccountInfo::with_balance(U256::from(441_000))));
        assert!(replacement.unwrap().promoted.is_empty(), "a replacement fills no gap");
        assert_eq!(pool.counts(), (2, 0));
    }

    #[test]
    fn a_gap_filled_late_is_admitted_and_the_queued_it_cannot_cover_leave() {
        let mut pool = TxPool::new(PoolConfig::default());
        let sender = DEV_ACCOUNTS[0].0;
        // Nonces 1 and 2 arrive first and wait behind the gap; each is covered by the balance
        // with those below it.
        pool.add(signed(0, 1, 10, 1), funds_for(2, 10)).unwrap();
        let third = pool.add(signed(0, 2, 10, 1), funds_for(2, 10)).unwrap().hash;
        assert_eq!(pool.counts(), (0, 2));
        // Nonce 0 executes first, so the queued ones behind it do not count against it (geth
        // does not count them either). It makes nonce 1 executable; nonce 2 is no longer
        // covered and leaves, instead of nonce 0 being refused.
        let filled = pool.add(signed(0, 0, 10, 1), funds_for(2, 10)).unwrap();
        assert!(filled.pending);
        assert_eq!(filled.promoted.len(), 1);
        assert_eq!(filled.evicted, vec![third]);
        assert_eq!(pool.counts(), (2, 0));
        assert_eq!(pool.pending_nonce(&sender), Some(2));
        // Appending still counts everything pooled below.
        assert!(matches!(
            pool.add(signed(0, 2, 10, 1), funds_for(2, 10)),
            Err(PoolError::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn a_block_that_lowers_a_balance_drops_the_unaffordable_tail() {
        let mut pool = TxPool::new(PoolConfig::default());
        let sender = DEV_ACCOUNTS[0].0;
        for nonce in 0..4 {
            pool.add(signed(0, nonce, 10, 1), rich()).unwrap();
        }
        // The block included nonce 0; a delegate then spent all but enough for two more.
        let dropped = pool.on_block([SenderUpdate {
            sender,
            nonce: 1,
            balance: U256::from(2 * 210_000 + 5),
        }]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.pending_nonce(&sender), Some(3));
        assert_eq!(pool.counts(), (2, 0));
        // Nothing affordable is left behind: the freed funds admit a new nonce 3.
        pool.add(signed(0, 3, 10, 1), Some(AccountInfo::with_balance(U256::from(630_000))))
            .unwrap();
    }

    #[test]
    fn queued_transactions_never_displace_others_and_are_capped_pool_wide() {
        let config = PoolConfig { max_txs: 3, max_queued: 1, ..PoolConfig::default() };
        let mut pool = TxPool::new(config);
        pool.add(signed(0, 0, 10, 1), rich()).unwrap();
        pool.add(signed(1, 5, 10, 1), rich()).unwrap();
        // The pool-wide queued cap holds, whatever the fee.
        assert_eq!(pool.add(signed(2, 5, 1_000, 1), rich()), Err(PoolError::PoolFull));
        pool.add(signed(2, 0, 10, 1), rich()).unwrap();
        assert_eq!(pool.counts(), (2, 1));
        // Full: a gapped newcomer cannot evict, an executable better payer can.
        let config = PoolConfig { max_txs: 3, ..PoolConfig::default() };
        let mut pool = TxPool::new(config);
        let cheap = pool.add(signed(0, 0, 5, 1), rich()).unwrap().hash;
        pool.add(signed(1, 0, 10, 1), rich()).unwrap();
        pool.add(signed(2, 0, 10, 1), rich()).unwrap();
        assert_eq!(pool.add(signed(3, 1, 1_000, 1), rich()), Err(PoolError::PoolFull));
        assert_eq!(pool.add(signed(3, 0, 1_000, 1), rich()).unwrap().evicted, vec![cheap]);
    }

    #[test]
    fn queued_transactions_expire_after_their_lifetime() {
        let lifetime = Duration::from_secs(60);
        let mut pool =
            TxPool::new(PoolConfig { queued_lifetime: lifetime, ..PoolConfig::default() });
        pool.add(signed(0, 0, 10, 1), rich()).unwrap();
        let gapped = pool.add(signed(0, 2, 10, 1), rich()).unwrap().hash;
        let other = pool.add(signed(1, 3, 10, 1), rich()).unwrap().hash;
        assert!(pool.expire_queued(Instant::now()).is_empty());
        let mut expired = pool.expire_queued(Instant::now() + lifetime + Duration::from_secs(1));
        expired.sort();
        let mut want = vec![gapped, other];
        want.sort();
        assert_eq!(expired, want);
        assert_eq!(pool.counts(), (1, 0), "the executable one stays");
    }

    #[test]
    fn queued_count_stays_in_step_with_the_queues() {
        // A fixed pseudo-random walk through adds, removals, blocks and expiry.
        let mut pool = TxPool::new(PoolConfig { max_txs: 40, ..PoolConfig::default() });
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut nonces = [0u64; 4];
        for _ in 0..2_000 {
            let key = next(4) as usize;
            match next(10) {
                0..=5 => {
                    let nonce = nonces[key] + next(6);
                    // Now and then the account read is newer than the pool's record.
                    if next(8) == 0 {
                        nonces[key] += 1;
                    }
                    // Now and then a balance that covers only a few transactions.
                    let balance = match next(3) {
                        0 => U256::from(next(8) * 1_000_000),
                        _ => rich().unwrap().balance,
                    };
                    let account = AccountInfo::with_balance(balance);
                    let account = AccountInfo { nonce: nonces[key], ..account };
                    let _ =
                        pool.add(signed(key, nonce, 10 + u128::from(next(50)), 1), Some(account));
                }
                6 | 7 => {
                    let hashes: Vec<B256> = pool.all().map(|tx| tx.hash).collect();
                    if !hashes.is_empty() {
                        pool.remove(&hashes[next(hashes.len() as u64) as usize]);
                    }
                }
                8 => {
                    nonces[key] += next(3);
                    let balance = U256::from(next(8) * 210_000);
                    let sender = DEV_ACCOUNTS[key].0;
                    pool.on_block([SenderUpdate { sender, nonce: nonces[key], balance }]);
                }
                _ => {
                    pool.expire_queued(Instant::now());
                }
            }
            let queued: usize = pool.senders.values().map(SenderQueue::queued).sum();
            let spent: U256 = pool.all().map(|tx| tx.cost).sum();
            let tracked: U256 = pool.senders.values().map(|q| q.spent).sum();
            assert_eq!(pool.counts().1, queued);
            assert_eq!(spent, tracked);
            assert_eq!(pool.by_fee.len(), pool.len());
            for queue in pool.senders.values() {
                assert!(queue.txs.keys().all(|nonce| *nonce >= queue.state_nonce));
                assert!((queue.state_nonce..queue.pending_end).all(|n| queue.txs.contains_key(&n)));
                assert!(!queue.txs.contains_key(&queue.pending_end));
            }
        }
    }
}
