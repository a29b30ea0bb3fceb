//! Turns a block's [`StateDiff`] into its state root and the exact writes that persist it.
//!
//! [`prepare`] only reads (the parent state, through a [`StateView`]) and can run while RPC
//! readers use the same state; storage tries of different accounts are updated in parallel,
//! then the account trie (itself parallel across subtries). [`apply`] writes the result inside
//! the block's write transaction, recording each flat key's previous value as history (trie
//! records are not versioned: [`unwind`] and older views rebuild them from the flat history).

use std::sync::atomic::{AtomicBool, Ordering};

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles};
use rayon::prelude::*;
use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::{
    StateView, StoreError, codec,
    tables::{self, Kind},
    view::RevertedTries,
};
use crate::{
    state::StateDiff,
    trie::{self, Change, ChildRef, Record, RecordCache, TrieId, TrieUpdate},
};

/// A block's state changes, resolved to hashed keys, new trie records and the state root.
#[derive(Debug, Default)]
pub struct PreparedState {
    /// The state root after the block.
    pub state_root: B256,
    accounts: Vec<Change>,
    /// Accounts whose whole storage (flat entries and trie) goes before `storage` applies.
    storage_wipes: Vec<B256>,
    storage: Vec<([u8; 64], Option<Vec<u8>>)>,
    account_trie: TrieUpdate,
    storage_tries: Vec<(B256, TrieUpdate)>,
    codes: Vec<(B256, Bytes)>,
}

/// Computes the state root after applying `diff` to the state `parent`, and the writes.
///
/// # Errors
/// When the parent state cannot be read or is inconsistent.
pub(super) fn prepare(parent: &StateView, diff: &StateDiff) -> Result<PreparedState, StoreError> {
    /// One account's part of the work, done on any thread.
    struct AccountWork {
        hashed: B256,
        wipe: bool,
        storage: Vec<Change>,
        update: Option<TrieUpdate>,
        leaf: Option<Vec<u8>>,
    }
    // Hash the keys, update the storage trie and encode the account leaf of every changed
    // account, in parallel across accounts.
    // A parent older than the head rebuilds its tries on first use: once, here, rather than
    // from every thread below.
    parent.reverted_tries()?;
    let changes: Vec<_> = diff.accounts.iter().collect();
    let work: Vec<AccountWork> = changes
        .par_iter()
        .map(|(address, change)| {
            let hashed = keccak256(address);
            let wipe = change.storage_cleared || change.info.is_none();
            let Some(info) = change.info else {
                return Ok(AccountWork {
                    hashed,
                    wipe,
                    storage: Vec::new(),
                    update: None,
                    leaf: None,
                });
            };
            let mut storage: Vec<Change> = change
                .storage
                .iter()
                .map(|(slot, value)| {
                    let leaf = (!value.is_zero()).then(|| codec::encode_storage_value(*value));
                    (keccak256(slot.to_be_bytes::<32>()), leaf)
                })
                .collect();
            storage.sort_unstable_by_key(|a| a.0);
            let update = if storage.is_empty() && !wipe {
                None
            } else {
                let trie_id = TrieId::Storage(hashed);
                let root = if wipe { ChildRef::Empty } else { parent.trie_root(trie_id)? };
                Some(trie::update(parent, trie_id, &root, &storage)?)
            };
            let storage_root = match &update {
                Some(update) => update.root.root_hash(),
                None => parent.account_with_root(&hashed)?.map_or(EMPTY_ROOT_HASH, |a| a.1),
            };
            let leaf = Some(codec::encode_account(&info, storage_root));
            Ok(AccountWork { hashed, wipe, storage, update, leaf })
        })
        .collect::<Result<_, StoreError>>()?;

    let mut prepared = PreparedState::default();
    let mut account_changes = Vec::with_capacity(work.len());
    for w in work {
        if w.wipe {
            prepared.storage_wipes.push(w.hashed);
        }
        account_changes.push((w.hashed, w.leaf));
        for (slot, value) in w.storage {
            prepared.storage.push((tables::storage_key(&w.hashed, &slot), value));
        }
        if let Some(update) = w.update {
            prepared.storage_tries.push((w.hashed, update));
        }
    }
    account_changes.par_sort_unstable_by_key(|a| a.0);
    let account_root = parent.trie_root(TrieId::Accounts)?;
    prepared.account_trie =
        trie::update(parent, TrieId::Accounts, &account_root, &account_changes)?;
    prepared.state_root = prepared.account_trie.root.root_hash();
    prepared.accounts = account_changes;
    prepared.codes = diff.codes.iter().map(|(h, c)| (*h, c.clone())).collect();
    Ok(prepared)
}

/// Writes a versioned table entry and, once per key and block, its previous value as history.
struct VersionedWriter<'t> {
    history: Table<'t, &'static [u8], &'static [u8]>,
    block: u64,
    record_history: bool,
}

impl VersionedWriter<'_> {
    fn put(
        &mut self,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
        kind: Kind,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let old = match value {
            Some(value) => table.insert(key, value)?.map(|g| g.value().to_vec()),
            None => table.remove(key)?.map(|g| g.value().to_vec()),
        };
        if old.as_deref() == value {
            return Ok(());
        }
        self.remember(kind, key, old.as_deref())
    }

    /// Records `old` as the value `key` had before the block, unless the block already
    /// recorded one (a key wiped and then written again): the first is the one before the block.
    fn remember(&mut self, kind: Kind, key: &[u8], old: Option<&[u8]>) -> Result<(), StoreError> {
        if !self.record_history {
            return Ok(());
        }
        let mut buf = [0u8; tables::MAX_HISTORY_KEY_LEN];
        let hk = tables::history_key(&mut buf, self.block, kind, key);
        let value = tables::history_value(old);
        let earlier = self.history.insert(hk, value.as_slice())?.map(|g| g.value().to_vec());
        if let Some(earlier) = earlier {
            self.history.insert(hk, earlier.as_slice())?;
        }
        Ok(())
    }

    /// Removes every entry whose key starts with `prefix`, recording each as history.
    fn wipe_prefix(
        &mut self,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
        kind: Kind,
        prefix: &[u8],
    ) -> Result<(), StoreError> {
        for (key, old) in remove_prefix(table, prefix)? {
            self.remember(kind, &key, Some(&old))?;
        }
        Ok(())
    }
}

/// Key-value pairs taken out of a table.
type Removed = Vec<(Vec<u8>, Vec<u8>)>;

/// Removes every entry of `table` whose key starts with `prefix`; returns them.
fn remove_prefix(
    table: &mut Table<'_, &'static [u8], &'static [u8]>,
    prefix: &[u8],
) -> Result<Removed, StoreError> {
    let mut end = prefix.to_vec();
    end.extend_from_slice(&[0xff; 40]);
    take_range(table, prefix, &end)
}

/// Removes every entry of `table` with a key in `start..end`; returns them.
fn take_range(
    table: &mut Table<'_, &'static [u8], &'static [u8]>,
    start: &[u8],
    end: &[u8],
) -> Result<Removed, StoreError> {
    Ok(table
        .extract_from_if(start..end, |_, _| true)?
        .map(|entry| entry.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
        .collect::<Result<_, _>>()?)
}

/// Puts `value` at `key`, or removes the key, recording no history: for trie records (and
/// root references), which are not versioned, and for restoring a flat value on unwind.
fn put_record(
    table: &mut Table<'_, &'static [u8], &'static [u8]>,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    match value {
        Some(value) => table.insert(key, value)?,
        None => table.remove(key)?,
    };
    Ok(())
}

/// Writes `prepared` as the state after `block` inside `txn`. History is recorded for every
/// block but the genesis block.
pub(super) fn apply(
    txn: &WriteTransaction,
    block: u64,
    prepared: &PreparedState,
) -> Result<(), StoreError> {
    let mut writer = VersionedWriter {
        history: txn.open_table(tables::HISTORY)?,
        block,
        record_history: block > 0,
    };
    let mut accounts = txn.open_table(tables::ACCOUNTS)?;
    let mut storage = txn.open_table(tables::STORAGE)?;
    let mut account_trie = txn.open_table(tables::ACCOUNT_TRIE)?;
    let mut storage_trie = txn.open_table(tables::STORAGE_TRIE)?;
    let mut code = txn.open_table(tables::CODE)?;

    for owner in &prepared.storage_wipes {
        writer.wipe_prefix(&mut storage, Kind::Storage, owner.as_slice())?;
        remove_prefix(&mut storage_trie, owner.as_slice())?;
    }
    for (key, value) in &prepared.storage {
        writer.put(&mut storage, Kind::Storage, key, value.as_deref())?;
    }
    for (hashed, value) in &prepared.accounts {
        writer.put(&mut accounts, Kind::Account, hashed.as_slice(), value.as_deref())?;
    }
    let storage_tries = prepared.storage_tries.iter().map(|(owner, update)| {
        let records = update.records.iter().map(|(path, r)| (path, r.as_ref().map(|r| &r.record)));
        (TrieId::Storage(*owner), &update.root, records)
    });
    for (id, root, records) in storage_tries {
        write_trie(&mut account_trie, &mut storage_trie, id, root, records)?;
    }
    let records = prepared.account_trie.records.iter();
    let records = records.map(|(path, r)| (path, r.as_ref().map(|r| &r.record)));
    write_trie(
        &mut account_trie,
        &mut storage_trie,
        TrieId::Accounts,
        &prepared.account_trie.root,
        records,
    )?;
    for (hash, bytes) in &prepared.codes {
        if code.get(hash.as_slice())?.is_none() {
            code.insert(hash.as_slice(), bytes.as_ref())?;
        }
    }
    Ok(())
}

/// Writes what stands at the root of trie `id` and the records at changed paths (`None`
/// removes the record there).
fn write_trie<'r>(
    account_trie: &mut Table<'_, &'static [u8], &'static [u8]>,
    storage_trie: &mut Table<'_, &'static [u8], &'static [u8]>,
    id: TrieId,
    root: &ChildRef,
    records: impl Iterator<Item = (&'r Nibbles, Option<&'r Box<Record>>)>,
) -> Result<(), StoreError> {
    let root = (!root.is_empty()).then(|| trie::encode_root(root));
    match id {
        TrieId::Accounts => {
            for (path, record) in records {
                let bytes = record.map(|record| record.encode());
                put_record(account_trie, &tables::path_key(path), bytes.as_deref())?;
            }
            // The account trie always has its root reference, even when empty.
            let root = root.unwrap_or_else(|| trie::encode_root(&ChildRef::Empty));
            put_record(account_trie, &tables::ROOT_PATH_KEY, Some(&root))
        }
        TrieId::Storage(owner) => {
            for (path, record) in records {
                let key = tables::storage_trie_key(&owner, &tables::path_key(path));
                let bytes = record.map(|record| record.encode());
                put_record(storage_trie, &key, bytes.as_deref())?;
            }
            let root_key = tables::storage_trie_key(&owner, &tables::ROOT_PATH_KEY);
            put_record(storage_trie, &root_key, root.as_deref())
        }
    }
}

/// Puts the trie records a committed block wrote into `cache`, and drops the ones it deleted.
/// (The records of a wiped storage trie stay until evicted: no reference leads to them any
/// more, so they are never served.)
pub(super) fn cache_records(cache: &RecordCache, prepared: &PreparedState) {
    let tries = prepared
        .storage_tries
        .iter()
        .map(|(owner, update)| (TrieId::Storage(*owner), update))
        .chain([(TrieId::Accounts, &prepared.account_trie)]);
    for (trie, update) in tries {
        for (path, written) in &update.records {
            match written {
                Some(written) => {
                    cache.insert(trie, *path, written.node.clone(), &written.record);
                }
                None => cache.remove(trie, path),
            }
        }
    }
}

/// Offers every stored record to `cache`, account trie first, until the cache is full or
/// `cancel` is set.
pub(super) fn warm_cache(
    cache: &RecordCache,
    txn: &ReadTransaction,
    cancel: &AtomicBool,
) -> Result<(), StoreError> {
    let mut buf = Vec::with_capacity(600);
    let mut offer = |trie: TrieId, path_key: &[u8], bytes: &[u8]| {
        if cancel.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let Some(path) = tables::path_from_key(path_key) else {
            return Ok(true); // the root pseudo-path: a reference, not a record
        };
        let record = Record::decode(bytes)?;
        let node = record.node_ref(&mut buf);
        Ok::<_, StoreError>(cache.offer(trie, path, node, &record))
    };
    for entry in txn.open_table(tables::ACCOUNT_TRIE)?.iter()? {
        let (key, value) = entry?;
        if !offer(TrieId::Accounts, key.value(), value.value())? {
            return Ok(());
        }
    }
    for entry in txn.open_table(tables::STORAGE_TRIE)?.iter()? {
        let (key, value) = entry?;
        let (owner, path_key) = key.value().split_at_checked(32).ok_or(StoreError::Corrupt {
            what: "storage trie",
            reason: "key shorter than an owner".into(),
        })?;
        if !offer(TrieId::Storage(B256::from_slice(owner)), path_key, value.value())? {
            return Ok(());
        }
    }
    Ok(())
}

/// Returns every flat key block `number` wrote to the value it had before the block, and
/// deletes that block's history. The tries are not touched: the caller writes the reverted
/// tries of the state it unwinds to ([`write_reverted_tries`]).
pub(super) fn unwind(txn: &WriteTransaction, number: u64) -> Result<(), StoreError> {
    let mut history = txn.open_table(tables::HISTORY)?;
    let (start, end) = tables::history_range(number, number);
    let entries = take_range(&mut history, &start, &end)?;
    let mut accounts = txn.open_table(tables::ACCOUNTS)?;
    let mut storage = txn.open_table(tables::STORAGE)?;
    let corrupt = |reason: String| StoreError::Corrupt { what: "history", reason };
    for (history_key, old) in &entries {
        let (kind, key) = match tables::parse_history_key(history_key) {
            Some((block, kind, key)) if block == number => (kind, key),
            _ => return Err(corrupt(format!("malformed key in block {number}"))),
        };
        let old = tables::parse_history_value(old)
            .ok_or_else(|| corrupt("malformed previous value".into()))?;
        let table = match kind {
            Kind::Account => &mut accounts,
            Kind::Storage => &mut storage,
        };
        put_record(table, key, old)?;
    }
    Ok(())
}

/// Writes `reverted` (the tries of an older state where they differ from the stored ones) over
/// the stored tries, so that they are the older state's again.
pub(super) fn write_reverted_tries(
    txn: &WriteTransaction,
    reverted: &RevertedTries,
) -> Result<(), StoreError> {
    let mut account_trie = txn.open_table(tables::ACCOUNT_TRIE)?;
    let mut storage_trie = txn.open_table(tables::STORAGE_TRIE)?;
    for (id, (root, records)) in &reverted.tries {
        let records = records.iter().map(|(path, record)| (path, record.as_ref()));
        write_trie(&mut account_trie, &mut storage_trie, *id, root, records)?;
    }
    Ok(())
}

/// Deletes the history written by blocks `from..=upto`.
pub(super) fn prune_history(
    txn: &WriteTransaction,
    from: u64,
    upto: u64,
) -> Result<(), StoreError> {
    if from > upto {
        return Ok(());
    }
    let mut history = txn.open_table(tables::HISTORY)?;
    let (start, end) = tables::history_range(from, upto);
    history.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    Ok(())
}
