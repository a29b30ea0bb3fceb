//! `eth_call` state overrides: a [`StateReader`] that answers from the overrides first and from
//! the real state otherwise.

use std::collections::HashMap;

use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::KECCAK_EMPTY;

use super::error::RpcError;
use crate::state::{AccountInfo, StateError, StateReader};

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
            if account.state.is_some() && account.state_diff.is_some() {
                return Err(RpcError::InvalidParams(format!(
                    "account {address} has both 'state' and 'stateDiff'"
                )));
            }
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
        Ok(Some(info))
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
