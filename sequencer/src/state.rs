//! The state model shared by the executor, the store and the RPC: accounts, the
//! [`StateReader`] seam the executor reads through, and the [`StateDiff`] a block produces.
//!
//! These types are ours, not revm's, so the executor backend can change without touching the
//! store, the block builder or the derivation tool.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::KECCAK_EMPTY;

/// An account as execution sees it (the storage root is the store's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountInfo {
    /// Number of transactions sent (or contracts created, for a contract).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code; `KECCAK_EMPTY` for an account without code.
    pub code_hash: B256,
}

impl Default for AccountInfo {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY }
    }
}

impl AccountInfo {
    /// An account holding only a balance.
    pub fn with_balance(balance: U256) -> Self {
        Self { balance, ..Self::default() }
    }

    /// Whether the account is empty in the EIP-161 sense (no nonce, balance or code).
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK_EMPTY
    }
}

/// The change to one account in a block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountDiff {
    /// The account after the block; `None` when it no longer exists (destroyed, or touched
    /// while empty, per EIP-161).
    pub info: Option<AccountInfo>,
    /// The account's previous storage is gone before `storage` applies (it was destroyed, or
    /// created anew at this address).
    pub storage_cleared: bool,
    /// Changed slots and their new values; zero means the slot is cleared.
    pub storage: BTreeMap<U256, U256>,
}

/// Everything a block (or the genesis allocation) changes in the state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDiff {
    /// Changed accounts, sorted by address so the diff is deterministic.
    pub accounts: BTreeMap<Address, AccountDiff>,
    /// Code first deployed by this block, by hash.
    pub codes: BTreeMap<B256, Bytes>,
}

impl StateDiff {
    /// Number of changed accounts plus changed slots: the size the state root work scales with.
    pub fn touched_keys(&self) -> usize {
        self.accounts.values().map(|a| 1 + a.storage.len()).sum()
    }

    /// Folds `later` (the next changes) into `self`, as if both were applied in order.
    pub fn extend(&mut self, later: Self) {
        self.codes.extend(later.codes);
        for (address, diff) in later.accounts {
            let entry = self.accounts.entry(address).or_default();
            entry.info = diff.info;
            // A deleted account's storage goes with it: were it to come back later (a value
            // transfer to the address), it must come back empty.
            if diff.storage_cleared || diff.info.is_none() {
                entry.storage_cleared = true;
                entry.storage.clear();
            }
            entry.storage.extend(diff.storage);
        }
    }
}

/// Errors reading state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The underlying store failed.
    #[error("state store: {0}")]
    Store(String),
    /// The requested historical state is no longer kept.
    #[error(
        "state of block {block} is no longer available (history kept: blocks {oldest} to {head})"
    )]
    Pruned {
        /// The requested block.
        block: u64,
        /// The oldest block whose state is kept.
        oldest: u64,
        /// The newest block.
        head: u64,
    },
}

/// Read access to one state (a block's post-state): what the executor runs against.
///
/// Implementations must be cheap to call from many threads at once.
pub trait StateReader: Sync + std::fmt::Debug {
    /// The account at `address`, or `None` if it does not exist.
    ///
    /// # Errors
    /// When the store fails.
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError>;

    /// The value of `slot` in `address`'s storage (zero when unset).
    ///
    /// # Errors
    /// When the store fails.
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError>;

    /// The code with hash `code_hash`, if known.
    ///
    /// # Errors
    /// When the store fails.
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError>;

    /// The hash of block `number`, if it is an ancestor within reach (for `BLOCKHASH`).
    ///
    /// # Errors
    /// When the store fails.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError>;
}

impl<T: StateReader + ?Sized> StateReader for &T {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        (**self).account(address)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        (**self).block_hash(number)
    }
}

impl<T: StateReader + ?Sized + Send> StateReader for std::sync::Arc<T> {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        (**self).account(address)
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        (**self).block_hash(number)
    }
}

/// A state held in memory: for tests, benchmarks and replaying fixture blocks.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    /// Accounts by address.
    pub accounts: alloy_primitives::map::HashMap<Address, AccountInfo>,
    /// Storage by (address, slot); absent means zero.
    pub storage: alloy_primitives::map::HashMap<(Address, U256), U256>,
    /// Code by hash.
    pub codes: alloy_primitives::map::HashMap<B256, Bytes>,
    /// Block hashes by number, for `BLOCKHASH`.
    pub block_hashes: alloy_primitives::map::HashMap<u64, B256>,
}

impl MemoryState {
    /// Inserts an account with code, returning its code hash.
    pub fn insert_contract(&mut self, address: Address, code: Bytes, balance: U256) -> B256 {
        let code_hash = alloy_primitives::keccak256(&code);
        self.codes.insert(code_hash, code);
        self.accounts.insert(address, AccountInfo { nonce: 1, balance, code_hash });
        code_hash
    }

    /// Applies a block's diff, as the store would.
    pub fn apply(&mut self, diff: &StateDiff) {
        self.codes.extend(diff.codes.iter().map(|(h, c)| (*h, c.clone())));
        for (address, change) in &diff.accounts {
            if change.storage_cleared || change.info.is_none() {
                self.storage.retain(|(a, _), _| a != address);
            }
            for (slot, value) in &change.storage {
                if value.is_zero() {
                    self.storage.remove(&(*address, *slot));
                } else {
                    self.storage.insert((*address, *slot), *value);
                }
            }
            match change.info {
                Some(info) => self.accounts.insert(*address, info),
                None => self.accounts.remove(address),
            };
        }
    }
}

impl StateReader for MemoryState {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.accounts.get(&address).copied())
    }
    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        Ok(self.storage.get(&(address, slot)).copied().unwrap_or_default())
    }
    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.codes.get(&code_hash).cloned())
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        Ok(self.block_hashes.get(&number).copied())
    }
}

/// A state with a diff applied on top, read through without copying either: the state after
/// some transactions of a block, for tracing a call at a position inside it.
#[derive(Debug, Clone, Copy)]
pub struct DiffState<'a> {
    base: &'a dyn StateReader,
    diff: &'a StateDiff,
}

impl<'a> DiffState<'a> {
    /// `diff` applied to `base`.
    pub fn new(base: &'a dyn StateReader, diff: &'a StateDiff) -> Self {
        Self { base, diff }
    }
}

impl StateReader for DiffState<'_> {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        match self.diff.accounts.get(&address) {
            Some(change) => Ok(change.info),
            None => self.base.account(address),
        }
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        let Some(change) = self.diff.accounts.get(&address) else {
            return self.base.storage(address, slot);
        };
        if let Some(value) = change.storage.get(&slot) {
            return Ok(*value);
        }
        if change.storage_cleared || change.info.is_none() {
            return Ok(U256::ZERO);
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        match self.diff.codes.get(&code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256};

    use super::*;

    #[test]
    fn an_account_deleted_then_recreated_comes_back_without_its_storage() {
        let account = address!("0x1000000000000000000000000000000000000009");
        let mut base = MemoryState::default();
        base.accounts.insert(account, AccountInfo::with_balance(U256::from(1)));
        base.storage.insert((account, U256::from(1)), U256::from(10));
        let mut diff = StateDiff::default();
        diff.accounts.insert(
            account,
            AccountDiff { storage: [(U256::from(2), U256::from(20))].into(), ..Default::default() },
        );
        // Deleted (info None, storage not marked cleared), then funded again by a transfer.
        diff.extend(StateDiff {
            accounts: [(account, AccountDiff::default())].into(),
            ..Default::default()
        });
        let funded = AccountDiff {
            info: Some(AccountInfo::with_balance(U256::from(5))),
            ..Default::default()
        };
        diff.extend(StateDiff { accounts: [(account, funded)].into(), ..Default::default() });
        let after = DiffState::new(&base, &diff);
        assert_eq!(after.storage(account, U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(after.storage(account, U256::from(2)).unwrap(), U256::ZERO);
        assert!(diff.accounts[&account].storage_cleared);
    }

    #[test]
    fn a_diff_state_reads_as_the_diff_applied() {
        let (kept, changed, destroyed, cleared, created) = (
            address!("0x1000000000000000000000000000000000000001"),
            address!("0x1000000000000000000000000000000000000002"),
            address!("0x1000000000000000000000000000000000000003"),
            address!("0x1000000000000000000000000000000000000004"),
            address!("0x1000000000000000000000000000000000000005"),
        );
        let mut base = MemoryState::default();
        for (i, address) in [kept, changed, destroyed, cleared].into_iter().enumerate() {
            base.accounts.insert(address, AccountInfo::with_balance(U256::from(i + 1)));
            base.storage.insert((address, U256::from(1)), U256::from(10 + i));
            base.storage.insert((address, U256::from(2)), U256::from(20 + i));
        }
        let code = Bytes::from_static(&[0x60, 0x00]);
        let code_hash = alloy_primitives::keccak256(&code);
        let mut diff = StateDiff::default();
        diff.codes.insert(code_hash, code.clone());
        diff.accounts.insert(
            changed,
            AccountDiff {
                info: Some(AccountInfo::with_balance(U256::from(99))),
                storage_cleared: false,
                storage: [(U256::from(1), U256::ZERO), (U256::from(3), U256::from(7))].into(),
            },
        );
        diff.accounts.insert(destroyed, AccountDiff { info: None, ..Default::default() });
        diff.accounts.insert(
            cleared,
            AccountDiff {
                info: Some(AccountInfo { nonce: 1, balance: U256::ZERO, code_hash }),
                storage_cleared: true,
                storage: [(U256::from(2), U256::from(5))].into(),
            },
        );
        diff.accounts.insert(
            created,
            AccountDiff {
                info: Some(AccountInfo::with_balance(U256::from(1))),
                storage_cleared: true,
                storage: [(U256::from(1), U256::from(1))].into(),
            },
        );
        let layered = DiffState::new(&base, &diff);
        let mut applied = base.clone();
        applied.apply(&diff);
        for address in [kept, changed, destroyed, cleared, created] {
            assert_eq!(layered.account(address).unwrap(), applied.account(address).unwrap());
            for slot in 0..4 {
                let slot = U256::from(slot);
                assert_eq!(
                    layered.storage(address, slot).unwrap(),
                    applied.storage(address, slot).unwrap(),
                    "{address} slot {slot}"
                );
            }
        }
        assert_eq!(layered.code(code_hash).unwrap(), Some(code));
        let missing = b256!("0x00000000000000000000000000000000000000000000000000000000000000aa");
        assert_eq!(layered.code(missing).unwrap(), None);
    }
}
