//! Installed filters for `eth_newFilter` / `eth_getFilterChanges`: each remembers where its last
//! poll ended. Filters not polled for [`FILTER_TIMEOUT`] are removed, as geth does.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use alloy::rpc::types::Filter;
use alloy_primitives::{B256, U256};
use parking_lot::Mutex;

/// Filters unpolled for this long are dropped.
pub(crate) const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

/// Most filters installed at once (each holds memory until it expires).
pub(crate) const MAX_FILTERS: usize = 10_000;

/// Most recent pending transaction hashes kept for the pending-transaction filters, all of
/// them together: a filter polled less often than this many arrivals misses the oldest.
const MAX_PENDING_BUFFER: usize = 10_000;

/// What a filter watches.
#[derive(Debug, Clone)]
pub(crate) enum FilterKind {
    /// Logs matching a filter, from a block on.
    Logs(Box<Filter>),
    /// New block hashes.
    Blocks,
    /// New pending transaction hashes.
    PendingTransactions,
}

#[derive(Debug)]
struct Installed {
    kind: FilterKind,
    /// The next block number to report.
    next_block: u64,
    /// The arrival number of the next pending transaction to report.
    next_pending: u64,
    last_poll: Instant,
}

/// All installed filters.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    inner: Mutex<FiltersInner>,
}

#[derive(Debug, Default)]
struct FiltersInner {
    filters: HashMap<U256, Installed>,
    next_id: u64,
    /// How many of `filters` watch pending transactions.
    pending_filters: usize,
    /// The most recent pending transaction hashes, shared by every pending filter (each keeps
    /// only its position), so memory does not grow with the number of filters.
    pending: VecDeque<B256>,
    /// The arrival number of `pending[0]`.
    first_pending: u64,
}

/// A filter's state taken for one poll.
#[derive(Debug)]
pub(crate) struct Poll {
    /// What it watches.
    pub(crate) kind: FilterKind,
    /// First block not yet reported.
    pub(crate) from_block: u64,
    /// For a pending-transaction filter: the hashes that arrived since its last poll.
    pub(crate) pending: Vec<B256>,
}

impl Filters {
    /// Installs a filter reporting from `next_block` on; returns its id, or `None` when
    /// [`MAX_FILTERS`] are installed.
    pub(crate) fn install(&self, kind: FilterKind, next_block: u64) -> Option<U256> {
        let mut inner = self.inner.lock();
        inner.expire();
        if inner.filters.len() >= MAX_FILTERS {
            return None;
        }
        inner.next_id += 1;
        // Ids are not guessable from each other: mix the counter with a per-process key.
        let id = U256::from_be_bytes(
            alloy_primitives::keccak256(
                [inner.next_id.to_be_bytes(), process_key().to_be_bytes()].concat(),
            )
            .0,
        ) >> 128;
        if matches!(kind, FilterKind::PendingTransactions) {
            inner.pending_filters += 1;
        }
        let next_pending = inner.next_pending();
        let installed = Installed { kind, next_block, next_pending, last_poll: Instant::now() };
        inner.filters.insert(id, installed);
        Some(id)
    }

    /// Removes a filter; false if unknown.
    pub(crate) fn uninstall(&self, id: U256) -> bool {
        let mut inner = self.inner.lock();
        let Some(removed) = inner.filters.remove(&id) else { return false };
        if matches!(removed.kind, FilterKind::PendingTransactions) {
            inner.pending_filters -= 1;
        }
        true
    }

    /// Takes a filter's changes window: returns its kind, the first unreported block and the
    /// pending transactions not yet reported, and marks blocks up to `head` and those
    /// transactions as reported.
    pub(crate) fn poll(&self, id: U256, head: u64) -> Option<Poll> {
        let mut inner = self.inner.lock();
        inner.expire();
        let (first_pending, next_pending) = (inner.first_pending, inner.next_pending());
        let installed = inner.filters.get_mut(&id)?;
        installed.last_poll = Instant::now();
        let from_block = installed.next_block;
        installed.next_block = installed.next_block.max(head + 1);
        let kind = installed.kind.clone();
        let skip = installed.next_pending.saturating_sub(first_pending) as usize;
        installed.next_pending = next_pending;
        let pending = if matches!(kind, FilterKind::PendingTransactions) {
            inner.pending.iter().skip(skip).copied().collect()
        } else {
            Vec::new()
        };
        Some(Poll { kind, from_block, pending })
    }

    /// Reports blocks from `from_block` on again at the next poll: the query of a poll that
    /// took them failed (too many logs), and its client must not lose them.
    pub(crate) fn rewind(&self, id: U256, from_block: u64) {
        if let Some(installed) = self.inner.lock().filters.get_mut(&id) {
            installed.next_block = installed.next_block.min(from_block);
        }
    }

    /// The log filter of `id`, if it is one.
    pub(crate) fn log_filter(&self, id: U256) -> Option<Option<Filter>> {
        let mut inner = self.inner.lock();
        inner.expire();
        let installed = inner.filters.get_mut(&id)?;
        installed.last_poll = Instant::now();
        Some(match &installed.kind {
            FilterKind::Logs(filter) => Some((**filter).clone()),
            _ => None,
        })
    }

    /// Records a new pending transaction for the pending-transaction filters (nothing when
    /// none is installed).
    pub(crate) fn on_pending(&self, hash: B256) {
        let mut inner = self.inner.lock();
        if inner.pending_filters == 0 {
            return;
        }
        if inner.pending.len() >= MAX_PENDING_BUFFER {
            inner.pending.pop_front();
            inner.first_pending += 1;
        }
        inner.pending.push_back(hash);
    }
}

impl FiltersInner {
    fn expire(&mut self) {
        let now = Instant::now();
        self.filters.retain(|_, f| now.duration_since(f.last_poll) < FILTER_TIMEOUT);
        self.pending_filters = self
            .filters
            .values()
            .filter(|f| matches!(f.kind, FilterKind::PendingTransactions))
            .count();
        if self.pending_filters == 0 {
            self.first_pending += self.pending.len() as u64;
            self.pending.clear();
        }
    }

    /// The arrival number the next pending transaction will get.
    fn next_pending(&self) -> u64 {
        self.first_pending + self.pending.len() as u64
    }
}

fn process_key() -> u64 {
    use std::sync::OnceLock;
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ u64::from(std::process::id()).rotate_left(32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_filter_reports_each_block_once() {
        let filters = Filters::default();
        let id = filters.install(FilterKind::Blocks, 5).unwrap();
        let poll = filters.poll(id, 7).unwrap();
        assert_eq!(poll.from_block, 5);
        assert_eq!(filters.poll(id, 7).unwrap().from_block, 8);
        assert!(filters.uninstall(id));
        assert!(filters.poll(id, 7).is_none());
    }

    #[test]
    fn pending_filters_report_each_arrival_once_from_one_shared_buffer() {
        let filters = Filters::default();
        filters.on_pending(B256::repeat_byte(9)); // before any filter: kept by none
        let first = filters.install(FilterKind::PendingTransactions, 0).unwrap();
        filters.on_pending(B256::repeat_byte(1));
        let second = filters.install(FilterKind::PendingTransactions, 0).unwrap();
        filters.on_pending(B256::repeat_byte(2));
        assert_eq!(
            filters.poll(first, 0).unwrap().pending,
            [B256::repeat_byte(1), B256::repeat_byte(2)]
        );
        assert!(filters.poll(first, 0).unwrap().pending.is_empty());
        assert_eq!(filters.poll(second, 0).unwrap().pending, [B256::repeat_byte(2)]);
        // A filter polled too rarely misses the oldest, never more than the buffer holds.
        for i in 0..MAX_PENDING_BUFFER + 5 {
            filters.on_pending(B256::from(U256::from(i)));
        }
        let pending = filters.poll(first, 0).unwrap().pending;
        assert_eq!(pending.len(), MAX_PENDING_BUFFER);
        assert_eq!(pending[0], B256::from(U256::from(5)));
        assert!(filters.uninstall(first) && filters.uninstall(second));
        filters.on_pending(B256::repeat_byte(3));
        assert_eq!(filters.inner.lock().pending.len(), MAX_PENDING_BUFFER, "nobody listens");
    }
}
