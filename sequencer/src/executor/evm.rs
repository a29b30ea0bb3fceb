//! The only place that speaks revm: maps our block environment, transactions and state reads
//! into revm's types and revm's results back into ours.

use std::sync::Arc;

use alloy::consensus::{Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, U256, map::HashMap};
use parking_lot::RwLock;
use revm::{
    DatabaseRef,
    bytecode::Bytecode,
    context::{BlockEnv as RevmBlockEnv, CfgEnv, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, either::Either},
    database_interface::DBErrorMarker,
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::AccountInfo as RevmAccount,
};

use super::BlockEnv;
use crate::{
    chain::Hardfork,
    state::{StateError, StateReader},
};

/// The revm spec of a hardfork.
pub(crate) const fn spec_id(fork: Hardfork) -> SpecId {
    match fork {
        Hardfork::Frontier => SpecId::FRONTIER,
        Hardfork::Homestead => SpecId::HOMESTEAD,
        Hardfork::Tangerine => SpecId::TANGERINE,
        Hardfork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        Hardfork::Byzantium => SpecId::BYZANTIUM,
        Hardfork::Petersburg => SpecId::PETERSBURG,
        Hardfork::Istanbul | Hardfork::MuirGlacier => SpecId::ISTANBUL,
        Hardfork::Berlin => SpecId::BERLIN,
        Hardfork::London | Hardfork::ArrowGlacier | Hardfork::GrayGlacier => SpecId::LONDON,
        Hardfork::Paris => SpecId::MERGE,
        Hardfork::Shanghai => SpecId::SHANGHAI,
        Hardfork::Cancun => SpecId::CANCUN,
        Hardfork::Prague => SpecId::PRAGUE,
        Hardfork::Osaka => SpecId::OSAKA,
    }
}

/// The EVM a block's transactions run on, one after another, over `overlay`.
pub(crate) type BlockEvm<'o, 'a> =
    revm::handler::MainnetEvm<revm::handler::MainnetContext<&'o mut super::overlay::Overlay<'a>>>;

/// Builds the [`BlockEvm`] for block `env` over `overlay`.
pub(crate) fn block_evm<'o, 'a>(
    overlay: &'o mut super::overlay::Overlay<'a>,
    env: &BlockEnv,
) -> BlockEvm<'o, 'a> {
    use revm::{Context, MainBuilder, MainContext};
    Context::mainnet()
        .with_cfg(cfg_env(env))
        .with_block(block_env(env))
        .with_db(overlay)
        .build_mainnet()
}

/// The revm configuration for blocks of `env`.
pub(crate) fn cfg_env(env: &BlockEnv) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(spec_id(env.hardfork));
    cfg.set_spec_and_mainnet_gas_params(spec_id(env.hardfork));
    cfg.chain_id = env.chain_id;
    cfg
}

/// The revm block environment of `env`.
pub(crate) fn block_env(env: &BlockEnv) -> RevmBlockEnv {
    let mut block = RevmBlockEnv {
        number: U256::from(env.number),
        beneficiary: env.beneficiary,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: env.difficulty,
        prevrandao: (env.hardfork >= Hardfork::Paris).then_some(env.prevrandao),
        ..Default::default()
    };
    if env.hardfork >= Hardfork::Cancun {
        let fraction = if env.hardfork >= Hardfork::Prague {
            revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
        } else {
            revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
        };
        block.blob_excess_gas_and_price =
            Some(BlobExcessGasAndPrice::new(env.excess_blob_gas, fraction));
    } else {
        block.blob_excess_gas_and_price = None;
    }
    block
}

/// The revm transaction of a recovered transaction.
pub(crate) fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let inner = tx.inner();
    let mut env = TxEnv {
        tx_type: inner.tx_type() as u8,
        caller: tx.signer(),
        gas_limit: inner.gas_limit(),
        gas_price: inner.max_fee_per_gas(),
        kind: inner.kind(),
        value: inner.value(),
        data: inner.input().clone(),
        nonce: inner.nonce(),
        chain_id: inner.chain_id(),
        access_list: inner.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: inner.max_priority_fee_per_gas(),
        ..Default::default()
    };
    if let Some(auths) = inner.authorization_list() {
        env.authorization_list =
            auths.iter().cloned().map(|a| Either::Right(a.into_recovered())).collect();
    }
    if let TxEnvelope::Eip4844(blob) = inner {
        env.blob_hashes = blob.tx().tx().blob_versioned_hashes.clone();
        env.max_fee_per_blob_gas = blob.tx().tx().max_fee_per_blob_gas;
    }
    env
}

/// A state read failure inside revm.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct DbError(#[from] pub(crate) StateError);

impl DBErrorMarker for DbError {}

/// Analysed contract code by hash, shared by every execution so hot contracts are analysed once.
#[derive(Debug, Default)]
pub struct CodeCache {
    codes: RwLock<HashMap<B256, Bytecode>>,
}

impl CodeCache {
    /// Most contracts kept; past this the cache starts over (cheap, and bounded memory).
    const MAX_ENTRIES: usize = 20_000;

    fn get(&self, hash: &B256) -> Option<Bytecode> {
        self.codes.read().get(hash).cloned()
    }

    fn insert(&self, hash: B256, code: Bytecode) {
        let mut codes = self.codes.write();
        if codes.len() >= Self::MAX_ENTRIES {
            codes.clear();
        }
        codes.insert(hash, code);
    }
}

/// Adapts a [`StateReader`] to revm's `DatabaseRef`, analysing code through the [`CodeCache`].
#[derive(Debug)]
pub(crate) struct StateDb<'a, S: ?Sized> {
    pub(crate) state: &'a S,
    pub(crate) codes: &'a Arc<CodeCache>,
}

impl<S: ?Sized> Clone for StateDb<'_, S> {
    fn clone(&self) -> Self {
        Self { state: self.state, codes: self.codes }
    }
}

impl<S: StateReader + ?Sized> DatabaseRef for StateDb<'_, S> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<RevmAccount>, DbError> {
        let Some(account) = self.state.account(address)? else { return Ok(None) };
        let code = if account.code_hash == KECCAK_EMPTY {
            Some(Bytecode::default())
        } else {
            self.codes.get(&account.code_hash)
        };
        Ok(Some(RevmAccount {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            code,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code);
        }
        let raw = self.state.code(code_hash)?.unwrap_or_default();
        let code = analyse(raw);
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self.state.storage(address, index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        Ok(self.state.block_hash(number)?.unwrap_or_default())
    }
}

/// Analyses raw code for revm (EIP-7702 delegation designators included).
pub(crate) fn analyse(raw: Bytes) -> Bytecode {
    Bytecode::new_raw_checked(raw.clone()).unwrap_or_else(|_| Bytecode::new_legacy(raw))
}

/// Our result type from revm's.
pub(crate) fn tx_result(result: revm::context::result::ExecutionResult) -> super::TxResult {
    use revm::context::result::ExecutionResult;
    let gas_used = result.tx_gas_used();
    let contract_address = result.created_address();
    match result {
        ExecutionResult::Success { logs, output, .. } => super::TxResult {
            status: super::TxStatus::Success,
            gas_used,
            logs,
            output: output.into_data(),
            contract_address,
        },
        ExecutionResult::Revert { output, .. } => super::TxResult {
            status: super::TxStatus::Revert,
            gas_used,
            logs: Vec::new(),
            output,
            contract_address: None,
        },
        ExecutionResult::Halt { reason, .. } => super::TxResult {
            status: super::TxStatus::Halt(format!("{reason:?}")),
            gas_used,
            logs: Vec::new(),
            output: Bytes::new(),
            contract_address: None,
        },
    }
}

/// The receipt of an included transaction.
pub(crate) fn receipt(
    tx: &TxEnvelope,
    result: &super::TxResult,
    cumulative_gas_used: u64,
) -> alloy::consensus::ReceiptEnvelope {
    let receipt = alloy::consensus::Receipt {
        status: (result.status == super::TxStatus::Success).into(),
        cumulative_gas_used,
        logs: result.logs.clone(),
    };
    alloy::consensus::ReceiptEnvelope::from_typed(tx.tx_type(), receipt.with_bloom())
}

/// geth's wording of a transaction revm refuses to execute.
pub(crate) fn invalid_tx_message(
    err: &revm::context::result::InvalidTransaction,
    from: Address,
) -> String {
    use revm::context::result::InvalidTransaction as E;
    match err {
        E::NonceTooLow { tx, state } => format!("nonce too low: next nonce {state}, tx nonce {tx}"),
        E::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        E::LackOfFundForMaxFee { fee, balance } => format!(
            "insufficient funds for gas * price + value: address {from} have {balance} want {fee}"
        ),
        E::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        E::GasFloorMoreThanGasLimit { gas_floor, gas_limit } => format!(
            "insufficient gas for floor data gas cost: gas {gas_limit}, minimum needed {gas_floor}"
        ),
        E::GasPriceLessThanBasefee => "max fee per gas less than block base fee".into(),
        E::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".into()
        }
        E::RejectCallerWithCode => format!("sender not an eoa: address {from}"),
        E::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        E::TxGasLimitGreaterThanCap { gas_limit, cap } => {
            format!("transaction gas limit too high (cap: {cap}, tx: {gas_limit})")
        }
        E::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        E::InvalidChainId | E::MissingChainId => "invalid chain id for signer".into(),
        other => other.to_string(),
    }
}

/// Why a block leaves out a transaction revm refuses.
pub(crate) fn skip_reason(
    err: &revm::context::result::InvalidTransaction,
    from: Address,
) -> super::SkipReason {
    use revm::context::result::InvalidTransaction as E;
    match err {
        E::NonceTooHigh { .. } => super::SkipReason::NonceGap,
        E::GasPriceLessThanBasefee => super::SkipReason::FeeCapBelowBaseFee,
        other => super::SkipReason::Invalid(invalid_tx_message(other, from)),
    }
}
