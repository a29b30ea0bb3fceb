//! The node's persistent state and history in redb: accounts, storage, code, the tries, block
//! headers, bodies, receipts and the transaction index.
//!
//! Architecture invariant: a block, its receipts, its state and its trie records are written in
//! one redb transaction and committed durably before the head pointer moves; readers only see
//! blocks up to the head, so nothing the RPC serves can be lost by a crash.
//!
//! The state of the most recent [`StoreConfig::history_blocks`] blocks stays readable: every
//! write to the flat state records the key's previous value under the block's number (one
//! sorted run per block, see `tables::HISTORY`), a view of an older block looks keys up in the
//! newer blocks' history, and blocks older than the window have their history pruned as one
//! range. Trie records have no history: a view of an older block that needs its tries (a
//! proof) and an unwind rebuild them from the flat history, at a cost that grows with what
//! changed since that block (≈ 58 ms for one block of 15,000 changed keys, see BENCHMARKS.md).

mod codec;
mod commit;
mod tables;
mod view;

use std::{path::Path, sync::Arc};

use alloy::consensus::{Header, ReceiptEnvelope, TxEnvelope, transaction::Recovered};
use alloy_primitives::B256;
use parking_lot::RwLock;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};

pub use commit::PreparedState;
pub use view::{StateView, StorageProof};

use crate::{
    state::StateDiff,
    trie::{CacheStats, RecordCache, TrieError},
};

use tables::meta;

/// Default number of recent blocks whose state stays readable.
pub const DEFAULT_HISTORY_BLOCKS: u64 = 128;

/// Default memory for decoded trie records: the whole account and storage tries of a
/// 1,000,000-account state (≈ 546,000 records, ≈ 660 MiB) fit.
pub const DEFAULT_TRIE_CACHE_BYTES: usize = 1 << 30;

/// Store settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// How many recent blocks' states stay readable (`eth_call`, `eth_getBalance`,
    /// `eth_getProof` at a block number); at least 128 is kept by default.
    pub history_blocks: u64,
    /// redb's page cache size in bytes.
    pub cache_bytes: usize,
    /// Memory for decoded trie records kept between blocks (see [`crate::trie::RecordCache`]);
    /// zero reads every record from redb.
    pub trie_cache_bytes: usize,
    /// Let read-only replicas in other processes open the datadir while this store writes it
    /// ([`Store::open_read_only`]). Costs a file-lock call per read transaction, so only the
    /// derivation tool's replica datadir turns it on.
    pub shared_with_readers: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            history_blocks: DEFAULT_HISTORY_BLOCKS,
            cache_bytes: 512 << 20,
            trie_cache_bytes: DEFAULT_TRIE_CACHE_BYTES,
            shared_with_readers: false,
        }
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// Stored bytes did not parse.
    #[error("corrupt {what} in the store: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it did not parse.
        reason: String,
    },
    /// The trie structure is inconsistent with the flat state.
    #[error(transparent)]
    Trie(#[from] TrieError),
    /// The datadir belongs to another chain or another genesis.
    #[error(
        "datadir was created for genesis {stored} (chain {stored_chain}), not {expected} (chain {expected_chain}); use another --datadir"
    )]
    GenesisMismatch {
        /// Genesis hash in the datadir.
        stored: B256,
        /// Chain id in the datadir.
        stored_chain: u64,
        /// Genesis hash of the configured genesis.
        expected: B256,
        /// Configured chain id.
        expected_chain: u64,
    },
    /// The datadir uses another storage layout.
    #[error(
        "datadir has storage schema {found}, this build uses {expected}: start with a new \
         datadir, or run the build that wrote it"
    )]
    Schema {
        /// Found.
        found: u64,
        /// Expected.
        expected: u64,
    },
    /// A block was committed out of order.
    #[error("block {got} does not extend the head {head}")]
    NotNextBlock {
        /// The head.
        head: u64,
        /// The block given.
        got: u64,
    },
    /// A write was attempted on a store opened read-only.
    #[error("the store is open read-only (a replica): it cannot be written")]
    ReadOnly,
    /// A read-only open found no chain in the datadir.
    #[error("no chain in {path} yet (a replica's datadir is written by `derivation sync`)")]
    NoChain {
        /// The database file.
        path: String,
    },
    /// The state of a block outside the kept history was asked for.
    #[error("state of block {block} is not available (kept: blocks {oldest} to {head})")]
    StateUnavailable {
        /// The block asked for.
        block: u64,
        /// Oldest block whose state is kept.
        oldest: u64,
        /// The head.
        head: u64,
    },
}

macro_rules! redb_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Db(e.into())
            }
        }
    )*};
}
redb_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<StoreError> for crate::state::StateError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StateUnavailable { block, oldest, head } => {
                Self::Pruned { block, oldest, head }
            }
            other => Self::Store(other.to_string()),
        }
    }
}

/// A block as it is persisted: header, hash, transactions with senders, receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The header.
    pub header: Header,
    /// keccak of the RLP header.
    pub hash: B256,
    /// The transactions with their recovered senders.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// One receipt per transaction.
    pub receipts: Vec<ReceiptEnvelope>,
}

/// Where a transaction is: block number and index in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Block number.
    pub block: u64,
    /// Index in the block.
    pub index: u32,
}

/// The database, writable or opened read-only by a replica.
enum Db {
    Writable(Database),
    ReadOnly(redb::ReadOnlyDatabase),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Writable(db) => f.debug_tuple("Writable").field(db).finish(),
            Self::ReadOnly(_) => f.write_str("ReadOnly"),
        }
    }
}

impl Db {
    fn begin_read(&self) -> Result<ReadTransaction, redb::TransactionError> {
        match self {
            Self::Writable(db) => db.begin_read(),
            Self::ReadOnly(db) => db.begin_read(),
        }
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        match self {
            Self::Writable(db) => Ok(db.begin_write()?),
            Self::ReadOnly(_) => Err(StoreError::ReadOnly),
        }
    }
}

/// The embedded database holding state and history.
#[derive(Debug)]
pub struct Store {
    db: Db,
    config: StoreConfig,
    /// The newest committed header; readers never look past it.
    head: RwLock<Arc<(Header, B256)>>,
    /// Decoded trie records shared by every view: filled by commits, reads at the head and
    /// [`Store::warm_trie_cache`].
    trie_cache: Arc<RecordCache>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, initialising it with `genesis` when new.
    ///
    /// # Errors
    /// When the database cannot be opened, or was created for another genesis.
    pub fn open(
        dir: &Path,
        genesis: &GenesisBlock,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Db(redb::StorageError::Io(e).into()))?;
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .set_concurrency_mode(concurrency(&config))
            .create(dir.join("state.redb"))?;
        Self::init(Db::Writable(db), genesis, config)
    }

    /// Opens the store in `dir` read-only, as a replica following a writer in another process
    /// (one opened with [`StoreConfig::shared_with_readers`]); [`Store::refresh`] picks up its
    /// new blocks.
    ///
    /// # Errors
    /// When the datadir holds no chain, another genesis, or cannot be read.
    pub fn open_read_only(
        dir: &Path,
        genesis: &GenesisBlock,
        config: StoreConfig,
    ) -> Result<Self, StoreError> {
        let path = dir.join("state.redb");
        if !path.exists() {
            return Err(StoreError::NoChain { path: path.display().to_string() });
        }
        let config = StoreConfig { shared_with_readers: true, ..config };
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .set_concurrency_mode(concurrency(&config))
            .open_read_only(&path)?;
        let store = Self::init(Db::ReadOnly(db), genesis, config);
        match store {
            Err(StoreError::ReadOnly) => {
                Err(StoreError::NoChain { path: path.display().to_string() })
            }
            other => other,
        }
    }

    /// A store held in memory (tests, benchmarks, the derivation tool's scratch state).
    ///
    /// # Errors
    /// When initialisation fails.
    pub fn in_memory(genesis: &GenesisBlock, config: StoreConfig) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(config.cache_bytes)
            .create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::init(Db::Writable(db), genesis, config)
    }

    fn init(db: Db, genesis: &GenesisBlock, config: StoreConfig) -> Result<Self, StoreError> {
        let existing = {
            let txn = db.begin_read()?;
            match txn.open_table(tables::META) {
                Ok(meta) => read_u64(&meta, meta::HEAD)?,
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let (header, hash) = match existing {
            Some(head) => {
                let txn = db.begin_read()?;
                let meta_table = txn.open_table(tables::META)?;
                let schema = read_u64(&meta_table, meta::SCHEMA)?.unwrap_or(0);
                if schema != tables::SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        found: schema,
                        expected: tables::SCHEMA_VERSION,
                    });
                }
                let stored = meta_table
                    .get(meta::GENESIS_HASH)?
                    .map(|v| B256::from_slice(v.value()))
                    .unwrap_or_default();
                let stored_chain = read_u64(&meta_table, meta::CHAIN_ID)?.unwrap_or_default();
                if stored != genesis.hash || stored_chain != genesis.chain_id {
                    return Err(StoreError::GenesisMismatch {
                        stored,
                        stored_chain,
                        expected: genesis.hash,
                        expected_chain: genesis.chain_id,
                    });
                }
                let header = read_header(&txn, head)?.ok_or(StoreError::Corrupt {
                    what: "head",
                    reason: format!("header {head} missing"),
                })?;
                let hash = header.hash_slow();
                (header, hash)
            }
            None => {
                let txn = db.begin_write()?;
                commit::apply(&txn, 0, &genesis.prepared)?;
                let block = StoredBlock {
                    header: genesis.header.clone(),
                    hash: genesis.hash,
                    transactions: vec![],
                    receipts: vec![],
                };
                write_block(&txn, &block)?;
                {
                    let mut meta_table = txn.open_table(tables::META)?;
                    meta_table.insert(meta::GENESIS_HASH, genesis.hash.as_slice())?;
                    meta_table.insert(meta::CHAIN_ID, genesis.chain_id.to_be_bytes().as_slice())?;
                    meta_table
                        .insert(meta::SCHEMA, tables::SCHEMA_VERSION.to_be_bytes().as_slice())?;
                    meta_table.insert(meta::PRUNED, 0u64.to_be_bytes().as_slice())?;
                }
                // Create every table so that read transactions can open them.
                txn.open_table(tables::HISTORY)?;
                txn.open_table(tables::TX_INDEX)?;
                txn.commit()?;
                (genesis.header.clone(), genesis.hash)
            }
        };
        let trie_cache = Arc::new(RecordCache::new(config.trie_cache_bytes));
        Ok(Self { db, config, head: RwLock::new(Arc::new((header, hash))), trie_cache })
    }

    /// The store settings.
    pub const fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Whether this store was opened read-only (a replica).
    pub const fn is_read_only(&self) -> bool {
        matches!(self.db, Db::ReadOnly(_))
    }

    /// Re-reads the head from the database, for a replica whose writer is another process.
    /// Returns the new head number when it changed (it may also have moved back: an unwind).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn refresh(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(head) = read_u64(&txn.open_table(tables::META)?, meta::HEAD)? else {
            return Ok(None);
        };
        let current = self.head();
        let canonical = txn.open_table(tables::CANONICAL)?;
        let hash = canonical.get(head)?.map(|h| B256::from_slice(h.value()));
        if head == current.0.number && hash == Some(current.1) {
            return Ok(None);
        }
        let header = read_header(&txn, head)?.ok_or(StoreError::Corrupt {
            what: "head",
            reason: format!("header {head} missing"),
        })?;
        let hash = hash.unwrap_or_else(|| header.hash_slow());
        *self.head.write() = Arc::new((header, hash));
        Ok(Some(head))
    }

    /// Removes the blocks after `target` and returns the state to what it was after `target`
    /// (an L1 reorg undid the batches that carried them), in one transaction. Only blocks
    /// whose history is kept can be unwound.
    ///
    /// The tries are rebuilt from the flat history (none of their records is versioned) and
    /// must give `target`'s state root before anything is committed.
    ///
    /// # Errors
    /// [`StoreError::StateUnavailable`] when `target` is older than the kept history;
    /// [`StoreError::Corrupt`] when the rebuilt tries do not give `target`'s state root; a
    /// database error. Nothing is changed then.
    pub fn unwind_to(&self, target: u64) -> Result<(), StoreError> {
        let head = self.head_number();
        if target >= head {
            return Ok(());
        }
        // The tries at `target`, rebuilt from the flat history (the store keeps no trie
        // history), read before the write begins: this is the only writer, so they stay valid.
        let view = self.state_at(target)?;
        let reverted = view.reverted_tries()?.ok_or(StoreError::Corrupt {
            what: "head",
            reason: format!("block {target} is the head"),
        })?;
        let txn = self.db.begin_write()?;
        let meta_table = txn.open_table(tables::META)?;
        let pruned = read_u64(&meta_table, meta::PRUNED)?.unwrap_or(0);
        if target < pruned {
            return Err(StoreError::StateUnavailable { block: target, oldest: pruned, head });
        }
        if read_u64(&meta_table, meta::HEAD)? != Some(view.head()) || view.head() != head {
            return Err(StoreError::Corrupt {
                what: "head",
                reason: "a block was committed while unwinding".into(),
            });
        }
        drop(meta_table);
        for number in (target + 1..=head).rev() {
            commit::unwind(&txn, number)?;
            remove_block(&txn, number)?;
        }
        commit::write_reverted_tries(&txn, reverted)?;
        txn.open_table(tables::META)?.insert(meta::HEAD, target.to_be_bytes().as_slice())?;
        let header = {
            let table = txn.open_table(tables::HEADERS)?;
            let bytes = table.get(target)?.ok_or(StoreError::Corrupt {
                what: "header",
                reason: format!("header {target} missing"),
            })?;
            codec::decode_header(bytes.value())?
        };
        // The rebuilt account trie must give the unwound-to block's state root.
        let root = view.trie_root(crate::trie::TrieId::Accounts)?.root_hash();
        if root != header.state_root {
            return Err(StoreError::Corrupt {
                what: "state",
                reason: format!(
                    "tries rebuilt for block {target} give root {root}, its header has {}",
                    header.state_root
                ),
            });
        }
        drop(view);
        txn.commit()?;
        let hash = header.hash_slow();
        *self.head.write() = Arc::new((header, hash));
        Ok(())
    }

    /// The L2 heights last recorded as posted to L1 (`safe`) and final there (`finalized`),
    /// if any were.
    ///
    /// # Errors
    /// When the database cannot be read or holds a malformed record.
    pub fn l1_heads(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let txn = self.db.begin_read()?;
        let meta_table = txn.open_table(tables::META)?;
        let Some(value) = meta_table.get(meta::L1_HEADS)? else { return Ok(None) };
        let bytes: [u8; 16] = value.value().try_into().map_err(|_| StoreError::Corrupt {
            what: "metadata",
            reason: format!("{} is not 16 bytes", meta::L1_HEADS),
        })?;
        let (safe, finalized) = bytes.split_at(8);
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8 bytes"));
        Ok(Some((word(safe), word(finalized))))
    }

    /// Records the L2 heights posted to L1 (`safe`) and final there (`finalized`), so a
    /// restarted node (or a replica reading this datadir) answers those tags as reported.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] on a replica's store; a database error.
    pub fn set_l1_heads(&self, safe: u64, finalized: u64) -> Result<(), StoreError> {
        let mut record = [0u8; 16];
        record[..8].copy_from_slice(&safe.to_be_bytes());
        record[8..].copy_from_slice(&finalized.to_be_bytes());
        let txn = self.db.begin_write()?;
        txn.open_table(tables::META)?.insert(meta::L1_HEADS, record.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The newest committed header and its hash.
    pub fn head(&self) -> Arc<(Header, B256)> {
        self.head.read().clone()
    }

    /// The newest committed block number.
    pub fn head_number(&self) -> u64 {
        self.head.read().0.number
    }

    /// A view of the state after the head block.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn latest(&self) -> Result<StateView, StoreError> {
        let txn = self.db.begin_read()?;
        let head = self.txn_head(&txn)?;
        StateView::open(&txn, head, head, self.trie_cache.clone())
    }

    /// The head block as `txn` sees it: a block committed after [`Self::head_number`] was read
    /// is already in a newer transaction's flat tables, so a view must take its head from there.
    fn txn_head(&self, txn: &ReadTransaction) -> Result<u64, StoreError> {
        Ok(read_u64(&txn.open_table(tables::META)?, meta::HEAD)?.unwrap_or(self.head_number()))
    }

    /// A view of the state after block `number`, if it is within the kept history.
    ///
    /// # Errors
    /// [`StoreError::StateUnavailable`] for a block outside the history, or a database error.
    pub fn state_at(&self, number: u64) -> Result<StateView, StoreError> {
        let txn = self.db.begin_read()?;
        let head = self.txn_head(&txn)?;
        let oldest = self.oldest_state(&txn)?;
        if number > head || number < oldest {
            return Err(StoreError::StateUnavailable { block: number, oldest, head });
        }
        StateView::open(&txn, number, head, self.trie_cache.clone())
    }

    /// The oldest block whose state is still readable.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn oldest_state_block(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        self.oldest_state(&txn)
    }

    fn oldest_state(&self, txn: &ReadTransaction) -> Result<u64, StoreError> {
        Ok(read_u64(&txn.open_table(tables::META)?, meta::PRUNED)?.unwrap_or(0))
    }

    /// Computes the state root and writes of `diff` applied to `parent`.
    ///
    /// # Errors
    /// When the parent state cannot be read.
    pub fn prepare(
        &self,
        parent: &StateView,
        diff: &StateDiff,
    ) -> Result<PreparedState, StoreError> {
        commit::prepare(parent, diff)
    }

    /// Durably commits the next block with its state, then moves the head to it.
    ///
    /// # Errors
    /// [`StoreError::NotNextBlock`] if `block` does not extend the head, or a database error
    /// (in which case nothing was written).
    pub fn commit_block(
        &self,
        block: &StoredBlock,
        state: &PreparedState,
    ) -> Result<(), StoreError> {
        let number = block.header.number;
        let head = self.head_number();
        if number != head + 1 {
            return Err(StoreError::NotNextBlock { head, got: number });
        }
        let started = std::time::Instant::now();
        let txn = self.db.begin_write()?;
        commit::apply(&txn, number, state)?;
        let applied = started.elapsed();
        write_block(&txn, block)?;
        let written = started.elapsed();
        let keep = self.config.history_blocks.max(1);
        if number > keep {
            let meta_table = txn.open_table(tables::META)?;
            let pruned = read_u64(&meta_table, meta::PRUNED)?.unwrap_or(0);
            drop(meta_table);
            let upto = number - keep;
            if upto > pruned {
                commit::prune_history(&txn, pruned + 1, upto)?;
                txn.open_table(tables::META)?
                    .insert(meta::PRUNED, upto.to_be_bytes().as_slice())?;
            }
        }
        let pruned = started.elapsed();
        txn.commit()?;
        let committed = started.elapsed();
        *self.head.write() = Arc::new((block.header.clone(), block.hash));
        commit::cache_records(&self.trie_cache, state);
        tracing::debug!(
            target: "sequencer::store",
            number,
            state_ms = crate::metrics::log_ms(applied),
            block_ms = crate::metrics::log_ms(written - applied),
            prune_ms = crate::metrics::log_ms(pruned - written),
            durable_commit_ms = crate::metrics::log_ms(committed - pruned),
            cache_ms = crate::metrics::log_ms(started.elapsed() - committed),
            "block committed"
        );
        Ok(())
    }

    /// Loads the stored trie records into the trie cache until it is full (account trie
    /// first) or `cancel` is set, so that the first blocks after start-up do not read them one
    /// by one; the node runs it on a thread of its own. Records that blocks have cached
    /// meanwhile are kept.
    ///
    /// # Errors
    /// When the database cannot be read or holds a corrupt record.
    pub fn warm_trie_cache(
        &self,
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<CacheStats, StoreError> {
        let txn = self.db.begin_read()?;
        commit::warm_cache(&self.trie_cache, &txn, cancel)?;
        Ok(self.trie_cache.stats())
    }

    /// What the trie cache holds and how often it answered.
    pub fn trie_cache_stats(&self) -> CacheStats {
        self.trie_cache.stats()
    }

    /// Bytes stored per table (keys, values and b-tree metadata), for capacity planning.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn table_sizes(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        let mut sizes = Vec::new();
        for (name, table) in [
            ("accounts", tables::ACCOUNTS),
            ("storage", tables::STORAGE),
            ("code", tables::CODE),
            ("account_trie", tables::ACCOUNT_TRIE),
            ("storage_trie", tables::STORAGE_TRIE),
            ("history", tables::HISTORY),
        ] {
            let stats = txn.open_table(table)?.stats()?;
            sizes.push((name, stats.stored_bytes() + stats.metadata_bytes()));
        }
        Ok(sizes)
    }

    /// Opens a read transaction for block and transaction lookups.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn blocks(&self) -> Result<BlockReader, StoreError> {
        // The head the node serves, but no further than this transaction's own: a commit
        // moves the served head just after its transaction, so a reader that began before
        // the commit and read the head after it would name a block it cannot see.
        let txn = self.db.begin_read()?;
        let head = self.txn_head(&txn)?.min(self.head_number());
        Ok(BlockReader { txn, head })
    }
}

/// Reads blocks, receipts and the transaction index (up to the head at opening).
#[derive(Debug)]
pub struct BlockReader {
    txn: ReadTransaction,
    head: u64,
}

impl BlockReader {
    /// The head block number this reader sees.
    pub const fn head(&self) -> u64 {
        self.head
    }

    /// The header of block `number`.
    ///
    /// # Errors
    /// On database errors.
    pub fn header(&self, number: u64) -> Result<Option<Header>, StoreError> {
        if number > self.head {
            return Ok(None);
        }
        read_header(&self.txn, number)
    }

    /// The hash of block `number`.
    ///
    /// # Errors
    /// On database errors.
    pub fn hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        if number > self.head {
            return Ok(None);
        }
        let table = self.txn.open_table(tables::CANONICAL)?;
        Ok(table.get(number)?.map(|h| B256::from_slice(h.value())))
    }

    /// The number of the block with hash `hash`.
    ///
    /// # Errors
    /// On database errors.
    pub fn number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let table = self.txn.open_table(tables::BLOCK_NUMBERS)?;
        Ok(table.get(hash.as_slice())?.map(|n| n.value()).filter(|n| *n <= self.head))
    }

    /// The transactions of block `number`.
    ///
    /// # Errors
    /// On database errors.
    pub fn transactions(
        &self,
        number: u64,
    ) -> Result<Option<Vec<Recovered<TxEnvelope>>>, StoreError> {
        self.first_transactions(number, usize::MAX)
    }

    /// The first `max` transactions of block `number` (decoding no more than those).
    ///
    /// # Errors
    /// On database errors or a corrupt body.
    pub fn first_transactions(
        &self,
        number: u64,
        max: usize,
    ) -> Result<Option<Vec<Recovered<TxEnvelope>>>, StoreError> {
        if number > self.head {
            return Ok(None);
        }
        let table = self.txn.open_table(tables::BODIES)?;
        table.get(number)?.map(|b| codec::decode_body_prefix(b.value(), max)).transpose()
    }

    /// The receipts of block `number`.
    ///
    /// # Errors
    /// On database errors.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, StoreError> {
        if number > self.head {
            return Ok(None);
        }
        let table = self.txn.open_table(tables::RECEIPTS)?;
        table.get(number)?.map(|b| codec::decode_receipts(b.value())).transpose()
    }

    /// The whole block `number`.
    ///
    /// # Errors
    /// On database errors.
    pub fn block(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some(header) = self.header(number)? else { return Ok(None) };
        let hash = self.hash(number)?.unwrap_or_else(|| header.hash_slow());
        Ok(Some(StoredBlock {
            header,
            hash,
            transactions: self.transactions(number)?.unwrap_or_default(),
            receipts: self.receipts(number)?.unwrap_or_default(),
        }))
    }

    /// Where transaction `hash` was included.
    ///
    /// # Errors
    /// On database errors.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>, StoreError> {
        let table = self.txn.open_table(tables::TX_INDEX)?;
        let Some(value) = table.get(hash.as_slice())? else { return Ok(None) };
        let bytes = value.value();
        if bytes.len() != 12 {
            return Err(StoreError::Corrupt { what: "tx index", reason: "length".into() });
        }
        let block = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let index = u32::from_be_bytes(bytes[8..].try_into().expect("4 bytes"));
        Ok((block <= self.head).then_some(TxLocation { block, index }))
    }
}

/// The genesis block with its state already resolved: what [`Store::open`] writes to a new
/// datadir and checks an existing one against.
#[derive(Debug)]
pub struct GenesisBlock {
    /// Chain id.
    pub chain_id: u64,
    /// The genesis header (its state root included).
    pub header: Header,
    /// The header's hash.
    pub hash: B256,
    prepared: PreparedState,
}

impl GenesisBlock {
    /// Resolves the genesis allocation into its state root and header, in memory.
    ///
    /// # Errors
    /// Only on internal store errors.
    pub fn new(genesis: &crate::genesis::Genesis) -> Result<Self, StoreError> {
        let scratch =
            Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        {
            let txn = scratch.begin_write()?;
            for table in [
                tables::ACCOUNTS,
                tables::STORAGE,
                tables::CODE,
                tables::ACCOUNT_TRIE,
                tables::STORAGE_TRIE,
                tables::HISTORY,
            ] {
                txn.open_table(table)?;
            }
            txn.open_table(tables::CANONICAL)?;
            txn.commit()?;
        }
        let empty = StateView::open(&scratch.begin_read()?, 0, 0, Arc::new(RecordCache::new(0)))?;
        let prepared = commit::prepare(&empty, &genesis.state_diff())?;
        let header = crate::chain::genesis_header(genesis, prepared.state_root);
        let hash = header.hash_slow();
        Ok(Self { chain_id: genesis.chain_id, header, hash, prepared })
    }

    /// The genesis state root.
    pub const fn state_root(&self) -> B256 {
        self.prepared.state_root
    }
}

fn read_u64(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    let Some(value) = table.get(key)? else { return Ok(None) };
    let bytes: [u8; 8] = value.value().try_into().map_err(|_| StoreError::Corrupt {
        what: "metadata",
        reason: format!("{key} is not 8 bytes"),
    })?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

fn read_header(txn: &ReadTransaction, number: u64) -> Result<Option<Header>, StoreError> {
    let table = txn.open_table(tables::HEADERS)?;
    table.get(number)?.map(|h| codec::decode_header(h.value())).transpose()
}

fn concurrency(config: &StoreConfig) -> redb::ConcurrencyMode {
    if config.shared_with_readers {
        redb::ConcurrencyMode::SingleWriter
    } else {
        redb::ConcurrencyMode::ExclusiveWriter
    }
}

/// Deletes block `number`'s header, body, receipts and index entries (not its state).
fn remove_block(txn: &redb::WriteTransaction, number: u64) -> Result<(), StoreError> {
    let body = txn.open_table(tables::BODIES)?.remove(number)?.map(|b| b.value().to_vec());
    if let Some(body) = body {
        let mut index = txn.open_table(tables::TX_INDEX)?;
        for tx in codec::decode_body(&body)? {
            index.remove(tx.tx_hash().as_slice())?;
        }
    }
    txn.open_table(tables::HEADERS)?.remove(number)?;
    txn.open_table(tables::RECEIPTS)?.remove(number)?;
    let hash = txn.open_table(tables::CANONICAL)?.remove(number)?.map(|h| h.value().to_vec());
    if let Some(hash) = hash {
        txn.open_table(tables::BLOCK_NUMBERS)?.remove(hash.as_slice())?;
    }
    Ok(())
}

fn write_block(txn: &redb::WriteTransaction, block: &StoredBlock) -> Result<(), StoreError> {
    let number = block.header.number;
    txn.open_table(tables::HEADERS)?
        .insert(number, codec::encode_header(&block.header).as_slice())?;
    txn.open_table(tables::CANONICAL)?.insert(number, block.hash.as_slice())?;
    txn.open_table(tables::BLOCK_NUMBERS)?.insert(block.hash.as_slice(), number)?;
    txn.open_table(tables::BODIES)?
        .insert(number, codec::encode_body(&block.transactions).as_slice())?;
    txn.open_table(tables::RECEIPTS)?
        .insert(number, codec::encode_receipts(&block.receipts).as_slice())?;
    let mut index = txn.open_table(tables::TX_INDEX)?;
    for (i, tx) in block.transactions.iter().enumerate() {
        let mut location = [0u8; 12];
        location[..8].copy_from_slice(&number.to_be_bytes());
        location[8..].copy_from_slice(&(i as u32).to_be_bytes());
        index.insert(tx.tx_hash().as_slice(), location.as_slice())?;
    }
    {
        let mut meta_table = txn.open_table(tables::META)?;
        meta_table.insert(meta::HEAD, number.to_be_bytes().as_slice())?;
    }
    Ok(())
}

/// Convenience for tests: the balance of an account in a view.
#[cfg(any(test, feature = "test-utils"))]
pub fn balance_of(view: &StateView, address: alloy_primitives::Address) -> alloy_primitives::U256 {
    use crate::state::StateReader;
    view.account(address).expect("readable").map(|a| a.balance).unwrap_or_default()
}
