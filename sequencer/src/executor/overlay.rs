//! The state a sequence of transactions runs on: the pre-block state plus the writes of the
//! transactions committed so far, recording which keys were read from the pre-block state.
//!
//! Every executor commits each transaction's result here, as revm's own databases do, so the
//! sequential reference and each parallel group share one definition of "the state after
//! these transactions" and of the resulting [`StateDiff`]. The recorded base reads are what
//! the parallel executor validates against other groups' writes.

use std::collections::BTreeMap;

use alloy_primitives::{
    Address, B256, U256,
    map::{HashMap, HashSet},
};
use revm::{
    Database, DatabaseCommit, DatabaseRef,
    bytecode::Bytecode,
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::{AccountInfo as RevmAccount, EvmState},
};

use super::evm::{DbError, StateDb};
use crate::state::{AccountDiff, AccountInfo, StateDiff, StateReader};

/// A key of the state, the unit of conflict detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum StateKey {
    /// An account's nonce, balance and code (and its existence).
    Account(Address),
    /// One storage slot.
    Slot(Address, U256),
}

#[derive(Debug, Clone)]
struct Slot {
    /// The pre-block value, when it was read from the base.
    base: Option<U256>,
    value: U256,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The account before the block (`None`: did not exist).
    base: Option<AccountInfo>,
    /// The account now (`None`: does not exist).
    info: Option<AccountInfo>,
    /// Its code, when known.
    code: Option<Bytecode>,
    /// Its pre-block storage was wiped during the block (created anew or destroyed).
    wiped: bool,
    storage: HashMap<U256, Slot>,
}

/// A value a transaction observed when it read a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    /// The account (nonce, balance, code hash), or its absence.
    Account(Option<AccountInfo>),
    /// A storage value.
    Slot(U256),
}

/// Every key a transaction read, with the value it saw: if the same keys hold the same values
/// again, executing it again gives the same result.
pub(crate) type ReadLog = Vec<(StateKey, Observed)>;

/// Pre-block state plus committed writes.
#[derive(Debug)]
pub(crate) struct Overlay<'a> {
    base: StateDb<'a, dyn StateReader + 'a>,
    spec: SpecId,
    accounts: HashMap<Address, Entry>,
    codes: HashMap<B256, Bytecode>,
    /// Keys whose value came from the pre-block state.
    reads: HashSet<StateKey>,
    /// Keys changed.
    writes: HashSet<StateKey>,
    /// Reads of the transaction running now, when logging.
    log: Option<ReadLog>,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: StateDb<'a, dyn StateReader + 'a>, spec: SpecId) -> Self {
        Self {
            base,
            spec,
            accounts: HashMap::default(),
            codes: HashMap::default(),
            reads: HashSet::default(),
            writes: HashSet::default(),
            log: None,
        }
    }

    /// Forgets everything but the base state, keeping allocated capacity (for reuse on an
    /// unrelated transaction).
    pub(crate) fn reset(&mut self) {
        self.accounts.clear();
        self.codes.clear();
        self.reads.clear();
        self.writes.clear();
        self.log = None;
    }

    /// Starts logging every key read (and the value seen) until [`Self::take_log`].
    pub(crate) fn start_log(&mut self) {
        self.log = Some(Vec::new());
    }

    /// The reads logged since [`Self::start_log`]; stops logging.
    pub(crate) fn take_log(&mut self) -> ReadLog {
        self.log.take().unwrap_or_default()
    }

    /// Keys read from the pre-block state.
    pub(crate) const fn reads(&self) -> &HashSet<StateKey> {
        &self.reads
    }

    /// Keys changed.
    pub(crate) const fn writes(&self) -> &HashSet<StateKey> {
        &self.writes
    }

    /// The current value of `key`.
    pub(crate) fn observe(&mut self, key: StateKey) -> Result<Observed, DbError> {
        Ok(match key {
            StateKey::Account(address) => Observed::Account(self.entry(address)?.info),
            StateKey::Slot(address, slot) => Observed::Slot(self.slot(address, slot)?),
        })
    }

    /// Whether every read in `log` would see the same value now.
    pub(crate) fn matches(&mut self, log: &ReadLog) -> Result<bool, DbError> {
        for (key, seen) in log {
            if self.observe(*key)? != *seen {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Commits one transaction's state changes as revm reports them.
    pub(crate) fn apply_state(&mut self, state: &EvmState) -> Result<(), DbError> {
        self.apply_changes(&changes_of(state, self.spec))
    }

    /// Credits each of `amounts` to `address` in turn, as [`Self::credit`] does: as one
    /// credit of their sum unless the balance would overflow on the way (then one by one, so
    /// the credits that fit land, as they do when each transaction pays its own).
    pub(crate) fn credit_each(
        &mut self,
        address: Address,
        amounts: &[U256],
    ) -> Result<(), DbError> {
        let balance = self.entry(address)?.info.map_or(U256::ZERO, |info| info.balance);
        let total = amounts.iter().try_fold(U256::ZERO, |sum, amount| sum.checked_add(*amount));
        if let Some(total) = total.filter(|total| balance.checked_add(*total).is_some()) {
            return self.credit(address, total);
        }
        for amount in amounts {
            self.credit(address, *amount)?;
        }
        Ok(())
    }

    /// Credits `amount` to `address` as the fee payment to a block's beneficiary does:
    /// creating the account if needed, and deleting it if it is left empty from Spurious
    /// Dragon on (a touched empty account). A credit that would overflow the balance leaves
    /// it unchanged, as revm's does.
    pub(crate) fn credit(&mut self, address: Address, amount: U256) -> Result<(), DbError> {
        let spec = self.spec;
        let entry = self.entry(address)?;
        let mut info = entry.info.unwrap_or_default();
        info.balance = info.balance.checked_add(amount).unwrap_or(info.balance);
        if spec.is_enabled_in(SpecId::SPURIOUS_DRAGON) && info.is_empty() {
            if entry.info.is_some() {
                entry.info = None;
                entry.wiped = true;
                entry.storage.clear();
                self.writes.insert(StateKey::Account(address));
            }
        } else if entry.info != Some(info) {
            entry.info = Some(info);
            self.writes.insert(StateKey::Account(address));
        }
        Ok(())
    }

    fn slot(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        let base_state = self.base.state;
        let entry = self.entry(address)?;
        if let Some(slot) = entry.storage.get(&index) {
            return Ok(slot.value);
        }
        if entry.wiped || entry.base.is_none() {
            // Storage of an account created or destroyed in this block (or that did not exist
            // before it) starts empty: nothing to read from the base.
            return Ok(U256::ZERO);
        }
        let value = base_state.storage(address, index)?;
        entry.storage.insert(index, Slot { base: Some(value), value });
        self.reads.insert(StateKey::Slot(address, index));
        Ok(value)
    }

    fn entry(&mut self, address: Address) -> Result<&mut Entry, DbError> {
        if !self.accounts.contains_key(&address) {
            let base = self.base.state.account(address)?;
            self.reads.insert(StateKey::Account(address));
            self.accounts.insert(
                address,
                Entry { base, info: base, code: None, wiped: false, storage: HashMap::default() },
            );
        }
        Ok(self.accounts.get_mut(&address).expect("inserted above"))
    }

    /// Commits one transaction's changes.
    pub(crate) fn apply_changes(&mut self, changes: &Changes) -> Result<(), DbError> {
        for change in changes {
            self.apply(change)?;
        }
        Ok(())
    }

    fn apply(&mut self, change: &AccountChange) -> Result<(), DbError> {
        let address = change.address;
        if let Some(code) = &change.code
            && let Some(info) = change.info
            && !self.codes.contains_key(&info.code_hash)
        {
            self.codes.insert(info.code_hash, code.clone());
        }
        let mut writes = Vec::new();
        let entry = self.entry(address)?;
        match change.info {
            None => {
                if entry.info.is_some() || !entry.storage.is_empty() {
                    writes.push(StateKey::Account(address));
                }
                entry.info = None;
                entry.wiped = true;
                entry.storage.clear();
            }
            Some(new) => {
                if change.created {
                    entry.wiped = true;
                    entry.storage.clear();
                    writes.push(StateKey::Account(address));
                }
                if entry.info != Some(new) {
                    writes.push(StateKey::Account(address));
                    entry.info = Some(new);
                }
                if change.code.is_some() {
                    entry.code = change.code.clone();
                }
                for (key, value) in &change.storage {
                    let base = entry.storage.get(key).and_then(|s| s.base);
                    entry.storage.insert(*key, Slot { base, value: *value });
                    writes.push(StateKey::Slot(address, *key));
                }
            }
        }
        self.writes.extend(writes);
        Ok(())
    }

    /// The state changes relative to the pre-block state, in canonical form: an account only
    /// if it changed, a slot only if its value changed.
    pub(crate) fn into_diff(self) -> StateDiff {
        let mut diff = StateDiff::default();
        for (address, entry) in self.accounts {
            let Some(info) = entry.info else {
                if entry.base.is_some() {
                    let cleared =
                        AccountDiff { info: None, storage_cleared: true, storage: BTreeMap::new() };
                    diff.accounts.insert(address, cleared);
                }
                continue;
            };
            let storage: BTreeMap<U256, U256> = entry
                .storage
                .iter()
                .filter(|(_, slot)| {
                    if entry.wiped { !slot.value.is_zero() } else { slot.base != Some(slot.value) }
                })
                .map(|(k, slot)| (*k, slot.value))
                .collect();
            let storage_cleared = entry.wiped && entry.base.is_some();
            if entry.base == Some(info) && storage.is_empty() && !storage_cleared {
                continue;
            }
            if info.code_hash != KECCAK_EMPTY
                && entry.base.map(|b| b.code_hash) != Some(info.code_hash)
                && let Some(code) = entry.code.as_ref().or_else(|| self.codes.get(&info.code_hash))
            {
                diff.codes.insert(info.code_hash, code.original_bytes());
            }
            diff.accounts
                .insert(address, AccountDiff { info: Some(info), storage_cleared, storage });
        }
        diff
    }
}

impl Database for Overlay<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<RevmAccount>, DbError> {
        let entry = self.entry(address)?;
        let info = entry.info;
        let code = entry.code.clone();
        if let Some(log) = &mut self.log {
            log.push((StateKey::Account(address), Observed::Account(info)));
        }
        let Some(info) = info else { return Ok(None) };
        let code = if info.code_hash == KECCAK_EMPTY { Some(Bytecode::default()) } else { code };
        Ok(Some(RevmAccount {
            balance: info.balance,
            nonce: info.nonce,
            code_hash: info.code_hash,
            code,
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        self.base.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        let value = self.slot(address, index)?;
        if let Some(log) = &mut self.log {
            log.push((StateKey::Slot(address, index), Observed::Slot(value)));
        }
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        self.base.block_hash_ref(number)
    }
}

impl DatabaseCommit for Overlay<'_> {
    fn commit(&mut self, changes: EvmState) {
        // Every touched account was loaded through `basic` first, so this cannot read the
        // base; an error here would be a store failure mid-commit.
        if let Err(e) = self.apply_state(&changes) {
            tracing::error!(target: "sequencer::executor", error = %e, "commit failed");
        }
    }
}

/// One account's change by one transaction: what committing it needs, without revm's
/// bookkeeping (so a transaction's result can be kept cheaply until its block is merged).
#[derive(Debug, Clone)]
pub(crate) struct AccountChange {
    pub(crate) address: Address,
    /// The account after the transaction; `None` when it no longer exists.
    pub(crate) info: Option<AccountInfo>,
    /// Destroyed by `SELFDESTRUCT` (rather than removed for being empty).
    pub(crate) destroyed: bool,
    /// Created by the transaction: its previous storage is gone.
    pub(crate) created: bool,
    /// Its code, when it has any.
    pub(crate) code: Option<Bytecode>,
    /// Slots written, with their new values.
    pub(crate) storage: Vec<(U256, U256)>,
}

/// A transaction's state changes.
pub(crate) type Changes = Vec<AccountChange>;

/// The changes in revm's post-transaction state under `spec` (touched accounts only; an
/// account destroyed, or left empty from Spurious Dragon on, no longer exists).
pub(crate) fn changes_of(state: &EvmState, spec: SpecId) -> Changes {
    state
        .iter()
        .filter(|(_, account)| account.is_touched())
        .map(|(address, account)| {
            let destroyed = account.is_selfdestructed();
            let gone = destroyed || account.state_clear_aware_is_empty(spec);
            let created = account.is_created();
            let info = &account.info;
            let storage = if gone {
                Vec::new()
            } else {
                account
                    .storage
                    .iter()
                    .filter(|(_, slot)| created || slot.present_value != slot.original_value)
                    .map(|(key, slot)| (*key, slot.present_value))
                    .collect()
            };
            AccountChange {
                address: *address,
                info: (!gone).then_some(AccountInfo {
                    nonce: info.nonce,
                    balance: info.balance,
                    code_hash: info.code_hash,
                }),
                destroyed,
                created,
                code: info.code.clone().filter(|_| info.code_hash != KECCAK_EMPTY),
                storage,
            }
        })
        .collect()
}
