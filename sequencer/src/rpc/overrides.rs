//! `eth_call` state overrides: a [`StateReader`] that answers from the overrides first and from
//! the real state otherwise.

use std::collections::HashMap;

use alloy::rpc::types::{
    BlockOverrides,
    state::{AccountOverride, StateOverride},
};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::KECCAK_EMPTY;

use super::error::RpcError;
use crate::{
    executor::BlockEnv,
    state::{AccountDiff, AccountInfo, StateDiff, StateError, StateReader},
};

/// A state with some accounts replaced or patched.
#[derive(Debug)]
pub(crate) struct OverriddenState<'a> {
    base: &'a dyn StateReader,
    accounts: HashMap<Address, AccountOverride>,
    codes: HashMap<B256, Bytes>,
}

impl<'a> OverriddenState<'a> {
    /// Wraps `base` with `overrides`.
    ///
    /// # Errors
    /// For overrides this node does not support (moving precompiles) or contradictory ones.
    pub(crate) fn new(
        base: &'a dyn StateReader,
        overrides: StateOverride,
    ) -> Result<Self, RpcError> {
        let mut codes = HashMap::new();
        for (address, account) in &overrides {
            if account.move_precompile_to.is_some() {
                return Err(RpcError::Unsupported(
                    "movePrecompileToAddress is not supported".into(),
                ));
            }
            check_storage_override(*address, account)?;
            if let Some(code) = &account.code {
                codes.insert(keccak256(code), code.clone());
            }
        }
        Ok(Self { base, accounts: overrides.into_iter().collect(), codes })
    }
}

impl StateReader for OverriddenState<'_> {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        let base = self.base.account(address)?;
        let Some(over) = self.accounts.get(&address) else { return Ok(base) };
        Ok(Some(overridden_account(base, over)))
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StateError> {
        if let Some(over) = self.accounts.get(&address) {
            let key = B256::from(slot);
            if let Some(state) = &over.state {
                return Ok(state.get(&key).map(|v| U256::from_be_bytes(v.0)).unwrap_or_default());
            }
            if let Some(value) = over.state_diff.as_ref().and_then(|diff| diff.get(&key)) {
                return Ok(U256::from_be_bytes(value.0));
            }
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StateError> {
        match self.codes.get(&code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(number)
    }
}

/// `base` (absent: a fresh account) with the balance, nonce and code `over` sets.
fn overridden_account(base: Option<AccountInfo>, over: &AccountOverride) -> AccountInfo {
    let mut info = base.unwrap_or_default();
    if let Some(balance) = over.balance {
        info.balance = balance;
    }
    if let Some(nonce) = over.nonce {
        info.nonce = nonce;
    }
    if let Some(code) = &over.code {
        info.code_hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(code) };
    }
    info
}

/// Refuses an override that both replaces (`state`) and patches (`stateDiff`) the storage.
fn check_storage_override(address: Address, over: &AccountOverride) -> Result<(), RpcError> {
    if over.state.is_some() && over.state_diff.is_some() {
        return Err(RpcError::InvalidParams(format!(
            "account {address} has both 'state' and 'stateDiff'"
        )));
    }
    Ok(())
}

/// `overrides` as a state diff on top of `state`: what `eth_simulateV1` applies before a
/// block's calls and keeps for the blocks after it. `state` replaces an account's whole
/// storage; `stateDiff` patches slots.
///
/// # Errors
/// For overrides this node does not support (moving precompiles), contradictory ones, or when
/// `state` cannot be read.
pub(crate) fn override_diff(
    state: &dyn StateReader,
    overrides: StateOverride,
) -> Result<StateDiff, RpcError> {
    let mut diff = StateDiff::default();
    for (address, over) in overrides {
        if over.move_precompile_to.is_some() {
            return Err(RpcError::InvalidParams("movePrecompileToAddress is not supported".into()));
        }
        check_storage_override(address, &over)?;
        let info = overridden_account(state.account(address)?, &over);
        if let Some(code) = over.code.filter(|code| !code.is_empty()) {
            diff.codes.insert(info.code_hash, code);
        }
        let mut storage_cleared = over.state.is_some();
        let storage: std::collections::BTreeMap<U256, U256> = over
            .state
            .into_iter()
            .chain(over.state_diff)
            .flatten()
            .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)))
            .collect();
        // An override that leaves an account empty (EIP-161) leaves no account in the trie.
        let info = (!info.is_empty() || storage.values().any(|v| !v.is_zero())).then_some(info);
        storage_cleared |= info.is_none();
        diff.accounts.insert(address, AccountDiff { info, storage_cleared, storage });
    }
    Ok(diff)
}

/// Applies the block overrides of `eth_call`, `eth_estimateGas` and `debug_traceCall` to the
/// environment the call runs in.
///
/// # Errors
/// For fields this node does not override, or numbers beyond 64 bits.
pub(crate) fn apply_block_overrides(
    env: &mut BlockEnv,
    overrides: &BlockOverrides,
) -> Result<(), RpcError> {
    if overrides.block_hash.is_some()
        || overrides.blob_base_fee.is_some()
        || overrides.beacon_root.is_some()
    {
        return Err(RpcError::InvalidParams(
            "blockOverrides: blockHash, blobBaseFee and beaconRoot are not supported (number, time, gasLimit, feeRecipient, prevRandao, baseFeePerGas and difficulty are)".into(),
        ));
    }
    let too_large = |field: &str| {
        RpcError::InvalidParams(format!("blockOverrides: {field} does not fit 64 bits"))
    };
    if let Some(number) = overrides.number {
        env.number = u64::try_from(number).map_err(|_| too_large("number"))?;
    }
    if let Some(base_fee) = overrides.base_fee {
        env.base_fee = u64::try_from(base_fee).map_err(|_| too_large("baseFeePerGas"))?;
    }
    if let Some(time) = overrides.time {
        env.timestamp = time;
    }
    if let Some(gas_limit) = overrides.gas_limit {
        env.gas_limit = gas_limit;
    }
    if let Some(coinbase) = overrides.coinbase {
        env.beneficiary = coinbase;
    }
    if let Some(random) = overrides.random {
        env.prevrandao = random;
    }
    if let Some(difficulty) = overrides.difficulty {
        env.difficulty = difficulty;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alloy::rpc::types::state::AccountOverride;
    use alloy_primitives::{B256, address};

    use super::*;
    use crate::state::{DiffState, MemoryState};

    #[test]
    fn an_override_diff_replaces_or_patches_storage_and_drops_emptied_accounts() {
        let (replaced, patched, emptied, fresh) = (
            address!("0x2000000000000000000000000000000000000001"),
            address!("0x2000000000000000000000000000000000000002"),
            address!("0x2000000000000000000000000000000000000003"),
            address!("0x2000000000000000000000000000000000000004"),
        );
        let mut base = MemoryState::default();
        for address in [replaced, patched, emptied] {
            base.accounts.insert(address, AccountInfo::with_balance(U256::from(9)));
            base.storage.insert((address, U256::from(1)), U256::from(11));
            base.storage.insert((address, U256::from(2)), U256::from(22));
        }
        let slot = |n: u64| B256::from(U256::from(n));
        let mut overrides = StateOverride::default();
        overrides.insert(
            replaced,
            AccountOverride {
                state: Some([(slot(2), slot(5))].into_iter().collect()),
                ..Default::default()
            },
        );
        overrides.insert(
            patched,
            AccountOverride {
                state_diff: Some([(slot(2), slot(5))].into_iter().collect()),
                nonce: Some(3),
                ..Default::default()
            },
        );
        overrides.insert(
            emptied,
            AccountOverride {
                balance: Some(U256::ZERO),
                state: Some(Default::default()),
                ..Default::default()
            },
        );
        overrides.insert(
            fresh,
            AccountOverride { code: Some(Bytes::from_static(&[0x00])), ..Default::default() },
        );
        let diff = override_diff(&base, overrides).unwrap();
        let after = DiffState::new(&base, &diff);
        let read = |address, n: u64| after.storage(address, U256::from(n)).unwrap();
        assert_eq!((read(replaced, 1), read(replaced, 2)), (U256::ZERO, U256::from(5)));
        assert_eq!((read(patched, 1), read(patched, 2)), (U256::from(11), U256::from(5)));
        assert_eq!(after.account(patched).unwrap().unwrap().nonce, 3);
        assert_eq!(after.account(patched).unwrap().unwrap().balance, U256::from(9));
        // Balance, nonce and storage all gone, and no code: no account (EIP-161).
        assert_eq!(after.account(emptied).unwrap(), None);
        assert_eq!(read(emptied, 1), U256::ZERO);
        let code_hash = after.account(fresh).unwrap().unwrap().code_hash;
        assert_eq!(after.code(code_hash).unwrap(), Some(Bytes::from_static(&[0x00])));
    }
}
