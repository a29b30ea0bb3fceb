//! A consistent read-only view of the state after one block, over one redb read transaction.
//!
//! The view at the head reads the flat tables directly. A view at an older block first looks
//! the key up in the history of each later block, oldest first: the value a key had before its
//! first later change is its value at the viewed block. That is one point lookup per block
//! between the view and the head (at most the kept window, 128 blocks by default), the price of
//! a history that each block appends in one sorted run instead of scattering it.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, nodes::RlpNode};
use redb::{ReadOnlyTable, ReadTransaction};

use super::{
    StoreError, codec,
    tables::{self, Kind},
};
use crate::{
    state::{AccountInfo, StateError, StateReader},
    trie::{self, ChildRef, Record, RecordCache, TrieError, TrieId, TrieReader},
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
        })
    }

    /// The block whose post-state this view shows.
    pub const fn block(&self) -> u64 {
        self.block
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
                return Ok(match old.value() {
                    [1, old @ ..] => Some(parse(old)),
                    _ => None,
                });
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
        let bytes = match trie {
            TrieId::Accounts => self.versioned(
                &self.account_trie,
                Kind::AccountTrie,
                &tables::ROOT_PATH_KEY,
                <[u8]>::to_vec,
            )?,
            TrieId::Storage(owner) => self.versioned(
                &self.storage_trie,
                Kind::StorageTrie,
                &tables::storage_trie_key(&owner, &tables::ROOT_PATH_KEY),
                <[u8]>::to_vec,
            )?,
        };
        match bytes {
            None => Ok(ChildRef::Empty),
            Some(bytes) => Ok(trie::decode_root(&bytes)?),
        }
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
        if let Some(record) = self.trie_cache.get(trie, path, node) {
            return Ok(Some(record));
        }
        let path_key = tables::path_key(path);
        // Decoded straight from the stored bytes: no copy of the record on the way.
        let record = match trie {
            TrieId::Accounts => {
                self.versioned(&self.account_trie, Kind::AccountTrie, &path_key, Record::decode)
            }
            TrieId::Storage(owner) => self.versioned(
                &self.storage_trie,
                Kind::StorageTrie,
                &tables::storage_trie_key(&owner, &path_key),
                Record::decode,
            ),
        }
        .map_err(|e| TrieError::Store(e.to_string()))?
        .transpose()?;
        // Keep what the head's trie holds; an older view's records would only displace them.
        if let Some(record) = &record
            && self.block == self.head
        {
            self.trie_cache.insert(trie, *path, node.clone(), record);
        }
        Ok(record)
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
