//! A consistent read-only view of the state after one block, over one redb read transaction.
//!
//! The view at the head reads the flat tables directly. A view at an older block first looks
//! the key up in the history of each later block, oldest first: the value a key had before its
//! first later change is its value at the viewed block. That is one point lookup per block
//! between the view and the head (at most the kept window, 128 blocks by default), the price of
//! a history that each block appends in one sorted run instead of scattering it.
//!
//! The history keeps flat values only, not trie records (a branch record is up to 16 child
//! hashes: records were ≈ 80% of the history's bytes). An older view that needs its tries (a
//! proof, a root) rebuilds them once, in memory: it takes every key changed after the viewed
//! block back to its value then and applies those changes to the head's tries, which yields
//! exactly the records that differ at the viewed block ([`RevertedTries`]); every other record
//! is the head's. Unwinding the store uses the same reverted tries.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, OnceLock},
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, nodes::RlpNode};
use rayon::prelude::*;
use redb::{ReadOnlyTable, ReadTransaction};

use super::{
    StoreError, codec,
    tables::{self, Kind},
};
use crate::{
    state::{AccountInfo, StateError, StateReader},
    trie::{self, Change, ChildRef, Record, RecordCache, TrieError, TrieId, TrieReader},
};

type BytesTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// A storage slot's value and its proof nodes.
pub type StorageProof = (U256, Vec<Bytes>);

/// The state after block [`StateView::block`], readable from many threads.
#[derive(Debug)]
pub struct StateView {
    accounts: BytesTable,
    storage: BytesTable,
    code: BytesTable,
    account_trie: BytesTable,
    storage_trie: BytesTable,
    history: BytesTable,
    canonical: ReadOnlyTable<u64, &'static [u8]>,
    block: u64,
    head: u64,
    trie_cache: Arc<RecordCache>,
    /// The tries at [`Self::block`] where they differ from the head's; built on first use by
    /// a view of an older block.
    reverted: OnceLock<Result<RevertedTries, String>>,
}

/// The tries of an older block where they differ from the head's: per trie that differs, what
/// stood at its root and the records that stood at changed paths (`None`: no record there).
#[derive(Debug, Default)]
pub(crate) struct RevertedTries {
    pub(crate) tries: HashMap<TrieId, (ChildRef, RevertedRecords)>,
}

/// A trie's records at an older block, by path, where they differ from the head's.
pub(crate) type RevertedRecords = HashMap<Nibbles, Option<Box<Record>>>;

/// Flat values at an older block, by hashed key (`None`: absent then).
type ValuesAt = BTreeMap<B256, Option<Vec<u8>>>;

/// The head's tries, whatever block the view shows: what [`RevertedTries`] are built on.
struct HeadTries<'v>(&'v StateView);

impl TrieReader for HeadTries<'_> {
    fn record(
        &self,
        trie: TrieId,
        path: &Nibbles,
        node: &RlpNode,
    ) -> Result<Option<Box<Record>>, TrieError> {
        self.0.head_record(trie, path, node, true)
    }

    fn leaf_value(&self, trie: TrieId, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        // A leaf that the reverted keys do not include has one value at the head and at the
        // viewed block.
        self.0.leaf_value(trie, key)
    }
}

impl StateView {
    pub(super) fn open(
        txn: &ReadTransaction,
        block: u64,
        head: u64,
        trie_cache: Arc<RecordCache>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            accounts: txn.open_table(tables::ACCOUNTS)?,
            storage: txn.open_table(tables::STORAGE)?,
            code: txn.open_table(tables::CODE)?,
            account_trie: txn.open_table(tables::ACCOUNT_TRIE)?,
            storage_trie: txn.open_table(tables::STORAGE_TRIE)?,
            history: txn.open_table(tables::HISTORY)?,
            canonical: txn.open_table(tables::CANONICAL)?,
            block,
            head,
            trie_cache,
            reverted: OnceLock::new(),
        })
    }

    /// The block whose post-state this view shows.
    pub const fn block(&self) -> u64 {
        self.block
    }

    /// The head block of the snapshot this view reads.
    pub(crate) const fn head(&self) -> u64 {
        self.head
    }

    /// Reads `key` of a versioned table as of [`Self::block`].
    fn versioned<R>(
        &self,
        table: &BytesTable,
        kind: Kind,
        key: &[u8],
        parse: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StoreError> {
        // The value before the key's first change after the viewed block, if it changed since.
        let mut buf = [0u8; tables::MAX_HISTORY_KEY_LEN];
        for block in self.block + 1..=self.head {
            if let Some(old) = self.history.get(tables::history_key(&mut buf, block, kind, key))? {
                return Ok(tables::parse_history_value(old.value()).flatten().map(parse));
            }
        }
        Ok(table.get(key)?.map(|v| parse(v.value())))
    }

    /// The account and its storage root, by hashed address.
    pub fn account_with_root(
        &self,
        hashed: &B256,
    ) -> Result<Option<(AccountInfo, B256)>, StoreError> {
        self.versioned(&self.accounts, Kind::Account, hashed.as_slice(), codec::decode_account)?
            .transpose()
    }

    /// The storage root of an account (the empty root when it has none or does not exist).
    pub fn storage_root(&self, address: Address) -> Result<B256, StoreError> {
        Ok(self.account_with_root(&keccak256(address))?.map_or(EMPTY_ROOT_HASH, |(_, r)| r))
    }

    /// What stands at the root of a trie.
    pub fn trie_root(&self, trie: TrieId) -> Result<ChildRef, StoreError> {
        if let Some((root, _)) = self.reverted_tries()?.and_then(|r| r.tries.get(&trie)) {
            return Ok(root.clone());
        }
        self.head_trie_root(trie)
    }

    /// What stands at the root of a trie at the head.
    fn head_trie_root(&self, trie: TrieId) -> Result<ChildRef, StoreError> {
        let bytes = match trie {
            TrieId::Accounts => self.account_trie.get(tables::ROOT_PATH_KEY.as_slice())?,
            TrieId::Storage(owner) => self
                .storage_trie
                .get(tables::storage_trie_key(&owner, &tables::ROOT_PATH_KEY).as_slice())?,
        };
        match bytes {
            None => Ok(ChildRef::Empty),
            Some(bytes) => Ok(trie::decode_root(bytes.value())?),
        }
    }

    /// For a view of an older block, its tries where they differ from the head's (built on
    /// first use); `None` at the head.
    ///
    /// Built without holding a lock: the build runs on rayon, and a thread waiting inside it
    /// may take up other work on this view, which must not block on the build. Callers that
    /// read the tries from many threads call this first, so that only one thread builds.
    ///
    /// # Errors
    /// When the history or the head's tries cannot be read.
    pub(crate) fn reverted_tries(&self) -> Result<Option<&RevertedTries>, StoreError> {
        if self.block >= self.head {
            return Ok(None);
        }
        if self.reverted.get().is_none() {
            let built = self.revert_tries().map_err(|e| e.to_string());
            let _ = self.reverted.set(built);
        }
        match self.reverted.get() {
            Some(Ok(reverted)) => Ok(Some(reverted)),
            Some(Err(e)) => Err(TrieError::Store(e.clone()).into()),
            None => Err(TrieError::Store("reverted tries were not kept".into()).into()),
        }
    }

    /// Takes every key changed after the viewed block back to its value then, and applies
    /// those changes to the head's tries (storage tries on all cores, then the account trie).
    fn revert_tries(&self) -> Result<RevertedTries, StoreError> {
        let (accounts, storage) = self.values_at_block()?;
        let head = HeadTries(self);
        let storage: Vec<(B256, Vec<Change>)> = storage
            .into_iter()
            .map(|(owner, slots)| (owner, slots.into_iter().collect()))
            .collect();
        let storage_tries: Vec<(TrieId, trie::TrieUpdate)> = storage
            .par_iter()
            .map(|(owner, changes)| {
                let id = TrieId::Storage(*owner);
                let update = trie::update(&head, id, &self.head_trie_root(id)?, changes)?;
                Ok((id, update))
            })
            .collect::<Result<_, StoreError>>()?;
        let changes: Vec<Change> = accounts.into_iter().collect();
        let root = self.head_trie_root(TrieId::Accounts)?;
        let account_trie = trie::update(&head, TrieId::Accounts, &root, &changes)?;
        let tries = storage_tries
            .into_iter()
            .chain([(TrieId::Accounts, account_trie)])
            .map(|(id, update)| {
                let records =
                    update.records.into_iter().map(|(path, r)| (path, r.map(|r| r.record)));
                (id, (update.root, records.collect()))
            })
            .collect();
        Ok(RevertedTries { tries })
    }

    /// The value at the viewed block of every flat key changed after it, by hashed key: the
    /// oldest history entry of each (accounts; storage by owner).
    fn values_at_block(&self) -> Result<(ValuesAt, HashMap<B256, ValuesAt>), StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { what: "history", reason };
        let mut accounts = BTreeMap::new();
        let mut storage: HashMap<B256, ValuesAt> = HashMap::new();
        let (start, end) = tables::history_range(self.block + 1, self.head);
        for entry in self.history.range(start.as_slice()..end.as_slice())? {
            let (key, value) = entry?;
            let (block, kind, key) = tables::parse_history_key(key.value())
                .ok_or_else(|| corrupt(format!("malformed key after block {}", self.block)))?;
            let old = tables::parse_history_value(value.value())
                .ok_or_else(|| corrupt(format!("malformed previous value in block {block}")))?
                .map(<[u8]>::to_vec);
            // Blocks in ascending order: the first entry of a key is its value at the view.
            match kind {
                Kind::Account => {
                    accounts.entry(B256::from_slice(key)).or_insert(old);
                }
                Kind::Storage => {
                    let (owner, slot) = key.split_at(32);
                    storage
                        .entry(B256::from_slice(owner))
                        .or_default()
                        .entry(B256::from_slice(slot))
                        .or_insert(old);
                }
            }
        }
        Ok((accounts, storage))
    }

    /// The record at `path` of the head's trie, through the trie cache; `remember` puts a
    /// record read from the store into the cache (only for a `node` read from the head's own
    /// records, so that the cache never holds a record under another block's reference).
    fn head_record(
        &self,
        trie: TrieId,
        path: &Nibbles,
        node: &RlpNode,
        remember: bool,
    ) -> Result<Option<Box<Record>>, TrieError> {
        if let Some(record) = self.trie_cache.get(trie, path, node) {
            return Ok(Some(record));
        }
        let path_key = tables::path_key(path);
        let stored = match trie {
            TrieId::Accounts => self.account_trie.get(path_key.as_slice()),
            TrieId::Storage(owner) => {
                self.storage_trie.get(tables::storage_trie_key(&owner, &path_key).as_slice())
            }
        }
        .map_err(|e| TrieError::Store(e.to_string()))?;
        let Some(stored) = stored else { return Ok(None) };
        // Decoded straight from the stored bytes: no copy of the record on the way.
        let record = Record::decode(stored.value())?;
        if remember {
            self.trie_cache.insert(trie, *path, node.clone(), &record);
        }
        Ok(Some(record))
    }

    /// The EIP-1186 account proof and one storage proof per slot, against this view's state.
    ///
    /// Returns the account proof nodes and, per slot, (value, proof nodes).
    pub fn proofs(
        &self,
        address: Address,
        slots: &[B256],
    ) -> Result<(Vec<Bytes>, Vec<StorageProof>), StoreError> {
        let hashed = keccak256(address);
        let root = self.trie_root(TrieId::Accounts)?;
        let account_proof = trie::proof(self, TrieId::Accounts, &root, hashed)?;
        let storage_root = self.trie_root(TrieId::Storage(hashed))?;
        let mut storage = Vec::with_capacity(slots.len());
        for slot in slots {
            let value = self.read_storage(address, U256::from_be_bytes(slot.0))?;
            let nodes = trie::proof(self, TrieId::Storage(hashed), &storage_root, keccak256(slot))?;
            storage.push((value, nodes));
        }
        Ok((account_proof, storage))
    }

    fn read_account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        Ok(self.account_with_root(&keccak256(address))?.map(|(info, _)| info))
    }

    fn read_storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        let key = tables::storage_key(&keccak256(address), &keccak256(slot.to_be_bytes::<32>()));
        self.versioned(&self.storage, Kind::Storage, &key, codec::decode_storage_value)?
            .transpose()
            .map(Option::unwrap_or_default)
    }
}

impl StateReader for StateView {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.read_account(address)?)
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        Ok(self.read_storage(address, slot)?)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        let code = self.code.get(code_hash.as_slice()).map_err(StoreError::from)?;
        Ok(code.map(|c| Bytes::copy_from_slice(c.value())))
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        if number > self.block {
            return Ok(None);
        }
        let hash = self.canonical.get(number).map_err(StoreError::from)?;
        Ok(hash.map(|h| B256::from_slice(h.value())))
    }
}

impl TrieReader for StateView {
    fn record(
        &self,
        trie: TrieId,
        path: &Nibbles,
        node: &RlpNode,
    ) -> Result<Option<Box<Record>>, TrieError> {
        let reverted = self.reverted_tries().map_err(|e| TrieError::Store(e.to_string()))?;
        if let Some(record) = reverted.and_then(|r| r.tries.get(&trie)?.1.get(path)) {
            return Ok(record.clone());
        }
        // Elsewhere an older block's records are the head's; only the head's view fills the
        // cache (an older view's reads would only displace what the next block needs).
        self.head_record(trie, path, node, reverted.is_none())
    }

    fn leaf_value(&self, trie: TrieId, key: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        match trie {
            TrieId::Accounts => {
                self.versioned(&self.accounts, Kind::Account, key.as_slice(), <[u8]>::to_vec)
            }
            TrieId::Storage(owner) => self.versioned(
                &self.storage,
                Kind::Storage,
                &tables::storage_key(&owner, key),
                <[u8]>::to_vec,
            ),
        }
        .map_err(|e| TrieError::Store(e.to_string()))
    }
}
