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

/// Most pending transaction hashes buffered per filter between polls.
const MAX_PENDING_BUFFER: usize = 10_000;

/// What a filter watches.
#[derive(Debug, Clone)]
pub(crate) enum FilterKind {
    /// Logs matching a filter, from a block on.
    Logs(Box<Filter>),
    /// New block hashes.
    Blocks,
    /// New pending transaction hashes.
    PendingTransactions(VecDeque<B256>),
}

#[derive(Debug)]
struct Installed {
    kind: FilterKind,
    /// The next block number to report.
    next_block: u64,
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
}

/// A filter's state taken for one poll.
#[derive(Debug)]
pub(crate) struct Poll {
    /// What it watches (with the buffered hashes for a pending filter).
    pub(crate) kind: FilterKind,
    /// First block not yet reported.
    pub(crate) from_block: u64,
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
        inner.filters.insert(id, Installed { kind, next_block, last_poll: Instant::now() });
        Some(id)
    }

    /// Removes a filter; false if unknown.
    pub(crate) fn uninstall(&self, id: U256) -> bool {
        self.inner.lock().filters.remove(&id).is_some()
    }

    /// Takes a filter's changes window: returns its kind (draining buffered hashes) and the
    /// first unreported block, and marks blocks up to `head` as reported.
    pub(crate) fn poll(&self, id: U256, head: u64) -> Option<Poll> {
        let mut inner = self.inner.lock();
        inner.expire();
        let installed = inner.filters.get_mut(&id)?;
        installed.last_poll = Instant::now();
        let from_block = installed.next_block;
        installed.next_block = installed.next_block.max(head + 1);
        let kind = match &mut installed.kind {
            FilterKind::PendingTransactions(buffer) => {
                FilterKind::PendingTransactions(std::mem::take(buffer))
            }
            other => other.clone(),
        };
        Some(Poll { kind, from_block })
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

    /// Buffers a new pending transaction for every pending-transaction filter.
    pub(crate) fn on_pending(&self, hash: B256) {
        let mut inner = self.inner.lock();
        for installed in inner.filters.values_mut() {
            if let FilterKind::PendingTransactions(buffer) = &mut installed.kind {
                if buffer.len() >= MAX_PENDING_BUFFER {
                    buffer.pop_front();
                }
                buffer.push_back(hash);
            }
        }
    }

    /// Whether any pending-transaction filter is installed.
    pub(crate) fn wants_pending(&self) -> bool {
        self.inner
            .lock()
            .filters
            .values()
            .any(|f| matches!(f.kind, FilterKind::PendingTransactions(_)))
    }
}

impl FiltersInner {
    fn expire(&mut self) {
        let now = Instant::now();
        self.filters.retain(|_, f| now.duration_since(f.last_poll) < FILTER_TIMEOUT);
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
    fn pending_filter_drains_its_buffer() {
        let filters = Filters::default();
        let id = filters.install(FilterKind::PendingTransactions(VecDeque::new()), 0).unwrap();
        filters.on_pending(B256::repeat_byte(1));
        let FilterKind::PendingTransactions(hashes) = filters.poll(id, 0).unwrap().kind else {
            panic!("pending filter")
        };
        assert_eq!(hashes.len(), 1);
        let FilterKind::PendingTransactions(hashes) = filters.poll(id, 0).unwrap().kind else {
            panic!("pending filter")
        };
        assert!(hashes.is_empty());
    }
}
