//! Spots, while a block's chunks run, calls that collide although their access sets said they
//! would not, so the parallel executor can stop running them optimistically.
//!
//! A call nothing predicted exactly (no txpool pre-execution, only a declared access list or
//! none) reports the keys it wrote. A key written by two groups is a collision, charged to the
//! contract the call went to. Once a contract has collided
//! [`ParallelConfig::defer_after_collisions`](super::ParallelConfig::defer_after_collisions)
//! times, its remaining calls are deferred: the settling pass would run each of them again
//! anyway. The watch only steers work; whatever it misses or gets wrong, validation catches.

use std::sync::{
    OnceLock,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use alloy::consensus::Transaction as _;
use alloy_primitives::{Address, map::HashMap};

use super::{ExecTx, access};

/// Watches one block's parallel phase; shared by its chunks.
#[derive(Debug)]
pub(crate) struct CollisionWatch {
    /// Collisions after which a contract's calls are deferred (0: never).
    defer_after: u32,
    /// Sized for the block's transactions; allocated by the first watched write.
    capacity: usize,
    writers: OnceLock<FirstWriters>,
    /// Collisions per contract so far in this block.
    collisions: parking_lot::Mutex<HashMap<Address, u32>>,
    /// Contracts whose calls are deferred.
    deferred: parking_lot::RwLock<Vec<Address>>,
    /// Whether `deferred` is non-empty: the check made per call stays one load until then.
    any_deferred: AtomicBool,
}

impl CollisionWatch {
    /// A watch for a block of `txs` transactions deferring after `defer_after` collisions.
    pub(crate) fn new(defer_after: u32, txs: usize) -> Self {
        Self {
            defer_after,
            // About three written keys per transaction (a token transfer's sender and two
            // balances): about half full.
            capacity: (txs * 6).clamp(1 << 10, 1 << 20).next_power_of_two(),
            writers: OnceLock::new(),
            collisions: parking_lot::Mutex::default(),
            deferred: parking_lot::RwLock::default(),
            any_deferred: AtomicBool::new(false),
        }
    }

    /// The contract `tx` calls, when the watch covers it: no exact hint, and it may run code.
    pub(crate) fn watched(&self, tx: &ExecTx) -> Option<Address> {
        if self.defer_after == 0 || tx.hint.is_some() {
            return None;
        }
        let inner = tx.tx.inner();
        inner.to().filter(|_| access::may_run_code(inner))
    }

    /// Whether calls to `contract` are deferred.
    pub(crate) fn is_deferred(&self, contract: &Address) -> bool {
        self.any_deferred.load(Ordering::Acquire) && self.deferred.read().contains(contract)
    }

    /// Records that a call to `contract` from `group` wrote the keys hashed as `written`.
    pub(crate) fn wrote(&self, contract: Address, group: u32, written: &[u64]) {
        let writers = self.writers.get_or_init(|| FirstWriters::new(self.capacity));
        let collided = written.iter().filter(|&&hash| writers.claim(hash, group)).count();
        if collided == 0 {
            return;
        }
        let mut collisions = self.collisions.lock();
        let count = collisions.entry(contract).or_default();
        let before = *count;
        *count = count.saturating_add(u32::try_from(collided).unwrap_or(u32::MAX));
        if before < self.defer_after && *count >= self.defer_after {
            self.deferred.write().push(contract);
            self.any_deferred.store(true, Ordering::Release);
        }
    }
}

/// Key hash → the group that wrote the key first: an open-addressing table of atomics, so
/// chunks record writes without locks. Each slot holds the hash's upper half (made non-zero)
/// and the group; a crowded neighbourhood forgets keys rather than grow.
#[derive(Debug)]
struct FirstWriters {
    slots: Box<[AtomicU64]>,
    mask: usize,
}

impl FirstWriters {
    /// Slots tried after the home slot.
    const PROBES: usize = 8;

    /// `capacity` must be a power of two.
    fn new(capacity: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        Self { slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(), mask: capacity - 1 }
    }

    /// Records `group` as a writer of the key hashed `hash`; true when another group wrote it
    /// first.
    fn claim(&self, hash: u64, group: u32) -> bool {
        let tag = (hash >> 32) | 1;
        let entry = (tag << 32) | u64::from(group);
        let mut at = hash as usize & self.mask;
        for _ in 0..=Self::PROBES {
            let slot = &self.slots[at];
            let mut current = slot.load(Ordering::Relaxed);
            if current == 0 {
                match slot.compare_exchange(0, entry, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return false,
                    Err(now) => current = now,
                }
            }
            if current >> 32 == tag {
                return current as u32 != group;
            }
            at = (at + 1) & self.mask;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_collides_only_when_another_group_wrote_it() {
        let writers = FirstWriters::new(1024);
        assert!(!writers.claim(0xdead_beef_0000_0001, 3));
        assert!(!writers.claim(0xdead_beef_0000_0001, 3), "the same group again");
        assert!(writers.claim(0xdead_beef_0000_0001, 4));
        // Same home slot, other key: no collision.
        assert!(!writers.claim(0x1234_5678_0000_0001, 4));
        assert!(writers.claim(0x1234_5678_0000_0001, 5));
    }

    #[test]
    fn a_crowded_table_forgets_rather_than_reports() {
        let writers = FirstWriters::new(16);
        // Fill every slot with distinct keys of group 0.
        for i in 0..16u64 {
            assert!(!writers.claim((i + 1) << 32 | i, 0));
        }
        // A new key finds no room: not reported, whoever writes it.
        assert!(!writers.claim(0xffff_0000_0000_0000, 1));
        assert!(!writers.claim(0xffff_0000_0000_0000, 2));
    }

    #[test]
    fn calls_are_deferred_after_enough_collisions() {
        let contract = Address::new([0xc0; 20]);
        let other = Address::new([0xc1; 20]);
        let watch = CollisionWatch::new(3, 100);
        watch.wrote(contract, 0, &[1 << 40, 2 << 40]);
        watch.wrote(contract, 1, &[1 << 40]);
        watch.wrote(other, 2, &[3 << 40]);
        assert!(!watch.is_deferred(&contract), "one collision");
        watch.wrote(contract, 2, &[1 << 40, 2 << 40]);
        assert!(watch.is_deferred(&contract), "three collisions");
        assert!(!watch.is_deferred(&other), "no collision of its own");
    }
}
