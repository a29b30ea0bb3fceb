//! Executing a transaction request outside any block: `eth_call`, `eth_estimateGas` and
//! `eth_createAccessList`, with geth's semantics (no nonce check, calls from contracts allowed,
//! no base fee unless the request sets fees, gas capped by the node).

use std::{collections::BTreeSet, sync::Arc};

use alloy::{
    eips::eip2930::{AccessList, AccessListItem},
    rpc::types::TransactionRequest,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{
        CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, HaltReason, OutOfGasError},
    },
    context_interface::either::Either,
    precompile::{PrecompileSpecId, Precompiles},
    primitives::{KECCAK_EMPTY, eip7702::PER_EMPTY_ACCOUNT_COST},
    state::EvmState,
};

use super::{
    BlockEnv, TRANSFER_GAS, TxResult,
    evm::{self, CodeCache, StateDb},
};
use crate::{
    chain::{Hardfork, TX_GAS_LIMIT_CAP},
    state::{StateError, StateReader},
};

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call reverted; `output` is the revert data.
    #[error("execution reverted")]
    Reverted {
        /// Revert data.
        output: Bytes,
    },
    /// The call halted (out of gas, invalid opcode, …).
    #[error("{0}")]
    Halted(String),
    /// The request is not executable (insufficient funds, fee cap below base fee, …).
    #[error("{0}")]
    Invalid(String),
    /// Even the largest gas the estimate may use is not enough.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs `request` on `state` in block `env` and returns its result; a revert or halt is an error.
///
/// # Errors
/// See [`CallError`].
pub fn call(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    request: &TransactionRequest,
    gas_cap: u64,
) -> Result<TxResult, CallError> {
    let gas = request.gas.unwrap_or(gas_cap).min(gas_cap);
    let (result, _) = run(state, codes, env, request, gas, None, false)?;
    into_call_result(result)
}

/// The smallest gas limit with which `request` succeeds, found by binary search as geth does.
///
/// # Errors
/// A revert at the highest allowed gas (with its data), a halt other than out-of-gas, or
/// [`CallError::GasRequiredExceedsAllowance`].
pub fn estimate_gas(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    request: &TransactionRequest,
    gas_cap: u64,
) -> Result<u64, CallError> {
    let mut hi = request.gas.unwrap_or(env.gas_limit).min(gas_cap);
    // From Osaka no transaction may carry more than 2^24 gas (EIP-7825), so no estimate
    // exceeds it either; geth caps its search the same way.
    if env.hardfork >= Hardfork::Osaka {
        hi = hi.min(TX_GAS_LIMIT_CAP);
    }
    // A sender paying for gas can afford only so much of it (geth's rule and words).
    let price = request.gas_price.or(request.max_fee_per_gas).unwrap_or(0);
    let mut capped_by_funds = false;
    if price > 0 {
        let from = request.from.unwrap_or_default();
        let balance = state.account(from)?.map(|a| a.balance).unwrap_or_default();
        let value = request.value.unwrap_or_default();
        if !value.is_zero() && value >= balance {
            return Err(CallError::Invalid("insufficient funds for transfer".into()));
        }
        let allowance = u64::try_from((balance - value) / U256::from(price)).unwrap_or(u64::MAX);
        capped_by_funds = allowance < hi;
        hi = hi.min(allowance);
    }
    // A plain transfer to an account without code: try exactly the intrinsic 21,000 first, as
    // geth does (a wallet shows 21,000 for a transfer, not the search's approximation).
    if let Some(TxKind::Call(to)) = request.to
        && request.input.input().is_none_or(|input| input.is_empty())
        && state.account(to)?.is_none_or(|account| account.code_hash == KECCAK_EMPTY)
        && hi >= TRANSFER_GAS
        && matches!(run(state, codes, env, request, TRANSFER_GAS, None, false), Ok((r, _)) if r.is_success())
    {
        return Ok(TRANSFER_GAS);
    }
    let (first, _) = match run(state, codes, env, request, hi, None, false) {
        // Below the intrinsic gas only because the sender cannot pay for more.
        Err(CallError::Invalid(_)) if capped_by_funds => {
            return Err(CallError::GasRequiredExceedsAllowance(hi));
        }
        other => other?,
    };
    let used = match first {
        ExecutionResult::Success { .. } => first.tx_gas_used(),
        ExecutionResult::Revert { output, .. } => return Err(CallError::Reverted { output }),
        ExecutionResult::Halt { reason: HaltReason::OutOfGas(_), .. } => {
            return Err(CallError::GasRequiredExceedsAllowance(hi));
        }
        ExecutionResult::Halt { reason, .. } => {
            return Err(CallError::Halted(halt_message(&reason)));
        }
    };
    let succeeds = |gas: u64| -> Result<bool, CallError> {
        match run(state, codes, env, request, gas, None, false) {
            Ok((result, _)) => Ok(result.is_success()),
            Err(CallError::Invalid(_)) => Ok(false), // e.g. below intrinsic gas
            Err(e) => Err(e),
        }
    };
    let mut lo = used.saturating_sub(1);
    // Most calls need little more than they used (refunds, the 63/64 rule): try that first.
    let optimistic = (used + 2_300).saturating_mul(64) / 63;
    if optimistic < hi && succeeds(optimistic)? {
        hi = optimistic;
    }
    while lo + 1 < hi {
        // Stop within 1.5% of the answer, like geth: a little extra gas is harmless.
        if (hi - lo) * 1000 / hi < 15 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        if succeeds(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// The access list `request` uses, the gas it uses with that list, and its error if it fails.
///
/// As geth builds it: every storage slot the call reads or writes, with its account, and every
/// other account it touches except those warm anyway — the sender, the recipient (or the
/// created contract), precompiles and EIP-7702 authorities. So an ERC-20 transfer's list is
/// the token with the two balance slots.
///
/// # Errors
/// When the request is invalid or the state cannot be read.
pub fn create_access_list(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    request: &TransactionRequest,
    gas_cap: u64,
) -> Result<(AccessList, u64, Option<String>), CallError> {
    let gas = request.gas.unwrap_or(gas_cap).min(gas_cap);
    let from = request.from.unwrap_or_default();
    let mut excluded: BTreeSet<Address> = precompiles(env).into_iter().collect();
    excluded.insert(from);
    match request.to {
        Some(TxKind::Call(to)) => {
            excluded.insert(to);
        }
        // The address the creation gets: the sender's nonce in the state, as revm uses it.
        _ => {
            let nonce = state.account(from)?.map_or(0, |a| a.nonce);
            excluded.insert(from.create(nonce));
        }
    }
    // The authorities of authorizations that can apply (this chain or any, a nonce that
    // does not overflow), as geth counts them; geth refuses more than the gas can process.
    let authorizations = request.authorization_list.as_deref().unwrap_or_default();
    if authorizations.len() as u64 > gas / PER_EMPTY_ACCOUNT_COST {
        return Err(CallError::Invalid("insufficient gas to process all authorizations".into()));
    }
    for authorization in authorizations {
        let chain = authorization.chain_id();
        if (chain.is_zero() || *chain == U256::from(env.chain_id))
            && authorization.nonce() < u64::MAX
            && let Ok(authority) = authorization.recover_authority()
        {
            excluded.insert(authority);
        }
    }
    let mut list = request.access_list.clone().unwrap_or_default();
    // Applying a list changes gas, never which keys are touched; a few rounds settle it.
    for _ in 0..4 {
        let (result, touched) = run(state, codes, env, request, gas, Some(&list), true)?;
        let next = touched_list(&touched, &excluded);
        if next == list {
            let error = match &result {
                ExecutionResult::Success { .. } => None,
                ExecutionResult::Revert { .. } => Some("execution reverted".to_string()),
                ExecutionResult::Halt { reason, .. } => Some(halt_message(reason)),
            };
            return Ok((list, result.tx_gas_used(), error));
        }
        list = next;
    }
    let (result, _) = run(state, codes, env, request, gas, Some(&list), true)?;
    Ok((list, result.tx_gas_used(), None))
}

/// The accounts and slots in a post-execution state, as an access list: an `excluded`
/// account is listed only for its slots.
pub(crate) fn touched_list(state: &EvmState, excluded: &BTreeSet<Address>) -> AccessList {
    let mut items: Vec<AccessListItem> = state
        .iter()
        .filter(|(address, account)| !account.storage.is_empty() || !excluded.contains(*address))
        .map(|(address, account)| {
            let mut keys: Vec<B256> = account.storage.keys().map(|k| B256::from(*k)).collect();
            keys.sort_unstable();
            AccessListItem { address: *address, storage_keys: keys }
        })
        .collect();
    items.sort_unstable_by_key(|a| a.address);
    AccessList(items)
}

/// The precompile addresses of the block's hardfork.
pub(crate) fn precompiles(env: &BlockEnv) -> Vec<Address> {
    let spec = PrecompileSpecId::from_spec_id(evm::spec_id(env.hardfork));
    Precompiles::new(spec).addresses().copied().collect()
}

fn into_call_result(result: ExecutionResult) -> Result<TxResult, CallError> {
    match result {
        ExecutionResult::Revert { output, .. } => Err(CallError::Reverted { output }),
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halted(halt_message(&reason))),
        success => Ok(evm::tx_result(success)),
    }
}

/// geth's wording of an EVM halt.
pub(crate) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Precompile) => "out of gas: precompile".into(),
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        HaltReason::StackOverflow => "stack limit reached 1024".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::NonceOverflow => "nonce uint64 overflow".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".into()
        }
        HaltReason::PrecompileError | HaltReason::PrecompileErrorWithContext(_) => {
            "precompile error".into()
        }
        other => format!("{other:?}"),
    }
}

/// The revm configuration calls run with: geth's `eth_call` rules (no nonce check, calls from
/// contracts allowed, no block gas limit, no base fee unless the request sets fees), and no
/// fee charged at all when `skip_fees`.
pub(crate) fn call_cfg(env: &BlockEnv, request: &TransactionRequest, skip_fees: bool) -> CfgEnv {
    let mut cfg = evm::cfg_env(env);
    cfg.disable_nonce_check = true;
    cfg.disable_eip3607 = true;
    cfg.disable_block_gas_limit = true;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    let pays = request.gas_price.is_some_and(|p| p > 0)
        || request.max_fee_per_gas.is_some_and(|p| p > 0)
        || request.max_priority_fee_per_gas.is_some_and(|p| p > 0);
    cfg.disable_base_fee = !pays;
    cfg.disable_fee_charge = skip_fees;
    cfg
}

/// The revm transaction of a request with gas limit `gas`.
pub(crate) fn request_tx_env(
    request: &TransactionRequest,
    env: &BlockEnv,
    gas: u64,
    list: Option<&AccessList>,
) -> TxEnv {
    let access_list = list.cloned().or_else(|| request.access_list.clone()).unwrap_or_default();
    let authorizations = request.authorization_list.clone().unwrap_or_default();
    let (tx_type, gas_price, tip) = if !authorizations.is_empty() {
        (
            4,
            request.max_fee_per_gas.unwrap_or(0),
            Some(request.max_priority_fee_per_gas.unwrap_or(0)),
        )
    } else if let Some(price) = request.gas_price {
        (if access_list.is_empty() { 0 } else { 1 }, price, None)
    } else if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
        let tip = request.max_priority_fee_per_gas.unwrap_or(0);
        (2, request.max_fee_per_gas.unwrap_or(u128::from(env.base_fee) + tip), Some(tip))
    } else {
        (if access_list.is_empty() { 0 } else { 1 }, 0, None)
    };
    TxEnv {
        tx_type,
        caller: request.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price,
        kind: request.to.unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: request.input.input().cloned().unwrap_or_default(),
        nonce: request.nonce.unwrap_or_default(),
        chain_id: Some(env.chain_id),
        access_list,
        gas_priority_fee: tip,
        authorization_list: authorizations
            .into_iter()
            .map(|a| Either::Right(a.into_recovered()))
            .collect(),
        ..Default::default()
    }
}

/// Executes a request without committing; returns its result and the touched state.
fn run(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    request: &TransactionRequest,
    gas: u64,
    list: Option<&AccessList>,
    skip_fees: bool,
) -> Result<(ExecutionResult, EvmState), CallError> {
    let mut vm = Context::mainnet()
        .with_cfg(call_cfg(env, request, skip_fees))
        .with_block(evm::block_env(env))
        .with_ref_db(StateDb { state, codes })
        .build_mainnet();
    match vm.transact(request_tx_env(request, env, gas, list)) {
        Ok(out) => Ok((out.result, out.state)),
        Err(EVMError::Transaction(invalid)) => Err(CallError::Invalid(evm::invalid_tx_message(
            &invalid,
            request.from.unwrap_or_default(),
        ))),
        Err(EVMError::Database(e)) => Err(CallError::State(e.0)),
        Err(other) => Err(CallError::Invalid(other.to_string())),
    }
}
