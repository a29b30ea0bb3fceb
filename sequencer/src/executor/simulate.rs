//! The execution half of `eth_simulateV1`: a made-up block's calls (unsigned transaction
//! requests) run one after another, each committed before the next, so that a wallet can
//! preview a sequence of transactions (an approval, then the swap that spends it) before
//! signing any of them.
//!
//! The rules are geth's for simulations. Without `validation` a call runs as `eth_call` does
//! (no nonce check, fee cap below the base fee allowed, free unless it names a price), but its
//! effects stay for the calls after it; with `validation` it must be a transaction a block
//! would accept (nonce, base fee, funds). A call's nonce defaults to its sender's nonce at that
//! point and its gas to what is left of the block's gas limit. Calls from contracts are always
//! allowed. A call that is not executable at all fails the whole request, as in geth: its
//! error (nonce too low, insufficient funds, …) is the request's answer.
//!
//! With `trace_transfers`, every movement of ether (a call's value, a creation's endowment, a
//! self-destruct's balance) appears among the call's logs as an ERC-20 `Transfer` log of the
//! address `0xEeee…EEeE`, in the order it happened, as geth reports them (one difference: a
//! `CALLCODE` with value moves nothing, so it logs nothing).

use std::{sync::Arc, time::Instant};

use alloy::{
    consensus::{
        ReceiptEnvelope, SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope,
        TxLegacy, transaction::Recovered,
    },
    rpc::types::TransactionRequest,
};
use alloy_primitives::{Address, B256, Log, LogData, Signature, TxKind, U256, address, b256};
use revm::{
    Context, Database, ExecuteCommitEvm, InspectCommitEvm, Inspector, MainBuilder, MainContext,
    context::{
        TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    context_interface::ContextTr,
    interpreter::{CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome},
};

use super::{
    BlockEnv, TRANSFER_GAS, TxResult,
    call::{halt_message, request_tx_env},
    evm::{self, CodeCache, StateDb},
    overlay::Overlay,
};
use crate::{
    chain::{Hardfork, TX_GAS_LIMIT_CAP},
    state::{StateDiff, StateError, StateReader},
};

/// The address geth gives the ether-transfer logs of `traceTransfers`.
pub const TRANSFER_LOG_ADDRESS: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");
/// `keccak256("Transfer(address,address,uint256)")`, the topic of those logs.
pub const TRANSFER_TOPIC: B256 =
    b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// How calls are run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimOptions {
    /// Enforce the rules a block enforces (nonce, base fee, funds for the fee).
    pub validation: bool,
    /// Report ether transfers as logs.
    pub trace_transfers: bool,
    /// When the whole simulation must have ended (checked before each call).
    pub deadline: Option<Instant>,
}

/// One executed call.
#[derive(Debug, Clone)]
pub struct SimulatedCall {
    /// The call as the block's transaction: the request with its defaults filled in, with an
    /// empty signature and its sender attached.
    pub tx: Recovered<TxEnvelope>,
    /// How it ended, its gas and its output (revert data when it reverted).
    pub result: TxResult,
    /// The logs the caller sees: the receipt's, with ether transfers among them when traced.
    pub logs: Vec<Log>,
    /// geth's message for a failed call (`execution reverted`, `out of gas`, …).
    pub error: Option<String>,
}

/// A simulated block's execution.
#[derive(Debug, Clone, Default)]
pub struct SimulatedExecution {
    /// One entry per call, in order.
    pub calls: Vec<SimulatedCall>,
    /// One receipt per call.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Gas used by the block.
    pub gas_used: u64,
    /// The block's state changes.
    pub diff: StateDiff,
}

/// Why a simulation stopped: the request's error (a failed call is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The call's nonce is below its sender's.
    #[error("{0}")]
    NonceTooLow(String),
    /// The call's nonce is above its sender's.
    #[error("{0}")]
    NonceTooHigh(String),
    /// The call's fee cap is below the block's base fee.
    #[error("{0}")]
    FeeCapTooLow(String),
    /// The call's gas does not cover its intrinsic cost.
    #[error("{0}")]
    IntrinsicGas(String),
    /// The sender cannot pay for the call's gas and value.
    #[error("{0}")]
    InsufficientFunds(String),
    /// The creation's init code exceeds the limit.
    #[error("{0}")]
    InitCodeTooLarge(String),
    /// The call's gas does not fit what is left of the block's gas limit.
    #[error("block gas limit reached: {used} + {gas} > {limit}")]
    BlockGasLimitReached {
        /// Gas used by the block's earlier calls.
        used: u64,
        /// The call's gas limit.
        gas: u64,
        /// The block's gas limit.
        limit: u64,
    },
    /// The whole simulation has used the gas the node allows one request.
    #[error("the simulation used the node's gas cap ({0}); simulate fewer or cheaper calls")]
    GasCapSpent(u64),
    /// The simulation ran past its deadline.
    #[error("execution aborted (timeout = {0:?})")]
    Timeout(std::time::Duration),
    /// Any other reason the call is not a valid transaction.
    #[error("{0}")]
    Invalid(String),
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs `calls` in order on `state` in block `env`, each seeing the effects of those before it.
/// `gas_budget` is what the whole request may still spend; each call's gas is taken from it.
///
/// # Errors
/// See [`SimulateError`]: the first call that is not executable stops the simulation.
pub fn simulate_block(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    calls: &[TransactionRequest],
    options: SimOptions,
    gas_budget: &mut u64,
) -> Result<SimulatedExecution, SimulateError> {
    let mut overlay = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
    let mut out = SimulatedExecution::default();
    let mut cfg = evm::cfg_env(env);
    // Calls from contracts are allowed in both modes (geth skips the EOA check always).
    cfg.disable_eip3607 = true;
    if !options.validation {
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        cfg.tx_gas_limit_cap = Some(u64::MAX);
    }
    for request in calls {
        if let Some(deadline) = options.deadline
            && Instant::now() > deadline
        {
            return Err(SimulateError::Timeout(SIMULATION_TIMEOUT));
        }
        check_request(request, env)?;
        let from = request.from.unwrap_or_default();
        let nonce = match request.nonce {
            Some(nonce) => nonce,
            None => overlay.basic(from).map_err(|e| e.0)?.map_or(0, |a| a.nonce),
        };
        let left = env.gas_limit - out.gas_used;
        let gas = match request.gas {
            Some(gas) if gas > left => {
                return Err(SimulateError::BlockGasLimitReached {
                    used: out.gas_used,
                    gas,
                    limit: env.gas_limit,
                });
            }
            Some(gas) => gas,
            None if options.validation && env.hardfork >= Hardfork::Osaka => {
                left.min(TX_GAS_LIMIT_CAP)
            }
            None => left,
        };
        if *gas_budget < TRANSFER_GAS {
            return Err(SimulateError::GasCapSpent(*gas_budget));
        }
        let gas = gas.min(*gas_budget);
        let request = TransactionRequest { nonce: Some(nonce), ..request.clone() };
        let mut tx_env = request_tx_env(&request, env, gas, None);
        if request.gas_price.is_none() && tx_env.tx_type < 2 {
            // No fee named: an EIP-1559 call that pays nothing, as geth makes it.
            tx_env.tx_type = 2;
            tx_env.gas_priority_fee = Some(0);
        }
        let tx = Recovered::new_unchecked(envelope(&tx_env, &request), from);
        let (outcome, traced) = if options.trace_transfers {
            let mut vm = Context::mainnet()
                .with_cfg(cfg.clone())
                .with_block(evm::block_env(env))
                .with_db(&mut overlay)
                .build_mainnet_with_inspector(TransferLogger::default());
            let outcome = vm.inspect_tx_commit(tx_env);
            (outcome, Some(std::mem::take(&mut vm.inspector.logs)))
        } else {
            let mut vm = Context::mainnet()
                .with_cfg(cfg.clone())
                .with_block(evm::block_env(env))
                .with_db(&mut overlay)
                .build_mainnet();
            (vm.transact_commit(tx_env), None)
        };
        let result = match outcome {
            Ok(result) => result,
            Err(EVMError::Transaction(invalid)) => return Err(invalid_call(&invalid, from)),
            Err(EVMError::Database(e)) => return Err(SimulateError::State(e.0)),
            Err(other) => return Err(SimulateError::Invalid(other.to_string())),
        };
        let error = match &result {
            ExecutionResult::Success { .. } => None,
            ExecutionResult::Revert { .. } => Some("execution reverted".to_string()),
            ExecutionResult::Halt { reason, .. } => Some(halt_message(reason)),
        };
        let result = evm::tx_result(result);
        *gas_budget = gas_budget.saturating_sub(result.gas_used);
        out.gas_used += result.gas_used;
        out.receipts.push(evm::receipt(tx.inner(), &result, out.gas_used));
        let logs = traced.unwrap_or_else(|| result.logs.clone());
        out.calls.push(SimulatedCall { tx, result, logs, error });
    }
    out.diff = overlay.into_diff();
    Ok(out)
}

/// How long one simulation may run (geth's `--rpc.evmtimeout` default).
pub const SIMULATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// geth's checks of a call's fields that revm would not make: one kind of fee, the chain's id.
fn check_request(request: &TransactionRequest, env: &BlockEnv) -> Result<(), SimulateError> {
    if request.gas_price.is_some()
        && (request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some())
    {
        return Err(SimulateError::Invalid(
            "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".into(),
        ));
    }
    match request.chain_id {
        Some(id) if id != env.chain_id => Err(SimulateError::Invalid(format!(
            "chainId does not match node's (have={id}, want={})",
            env.chain_id
        ))),
        _ => Ok(()),
    }
}

/// The request's error for a call revm refuses, in geth's words.
fn invalid_call(invalid: &InvalidTransaction, from: Address) -> SimulateError {
    use InvalidTransaction as E;
    let message = evm::invalid_tx_message(invalid, from);
    match invalid {
        E::NonceTooLow { .. } => SimulateError::NonceTooLow(message),
        E::NonceTooHigh { .. } => SimulateError::NonceTooHigh(message),
        E::GasPriceLessThanBasefee => SimulateError::FeeCapTooLow(message),
        E::CallGasCostMoreThanGasLimit { .. } | E::GasFloorMoreThanGasLimit { .. } => {
            SimulateError::IntrinsicGas(message)
        }
        E::LackOfFundForMaxFee { .. } => SimulateError::InsufficientFunds(message),
        E::CreateInitCodeSizeLimit => SimulateError::InitCodeTooLarge(message),
        _ => SimulateError::Invalid(message),
    }
}

/// The transaction a call stands for, with an empty signature (it was never signed).
fn envelope(tx: &TxEnv, request: &TransactionRequest) -> TxEnvelope {
    let signature = Signature::new(U256::ZERO, U256::ZERO, false);
    let input = tx.data.clone();
    match tx.tx_type {
        0 => TxLegacy {
            chain_id: tx.chain_id,
            nonce: tx.nonce,
            gas_price: tx.gas_price,
            gas_limit: tx.gas_limit,
            to: tx.kind,
            value: tx.value,
            input,
        }
        .into_signed(signature)
        .into(),
        1 => TxEip2930 {
            chain_id: tx.chain_id.unwrap_or_default(),
            nonce: tx.nonce,
            gas_price: tx.gas_price,
            gas_limit: tx.gas_limit,
            to: tx.kind,
            value: tx.value,
            access_list: tx.access_list.clone(),
            input,
        }
        .into_signed(signature)
        .into(),
        4 if matches!(tx.kind, TxKind::Call(_)) => TxEip7702 {
            chain_id: tx.chain_id.unwrap_or_default(),
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.gas_price,
            max_priority_fee_per_gas: tx.gas_priority_fee.unwrap_or_default(),
            to: tx.kind.to().copied().unwrap_or_default(),
            value: tx.value,
            access_list: tx.access_list.clone(),
            authorization_list: request.authorization_list.clone().unwrap_or_default(),
            input,
        }
        .into_signed(signature)
        .into(),
        _ => TxEip1559 {
            chain_id: tx.chain_id.unwrap_or_default(),
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.gas_price,
            max_priority_fee_per_gas: tx.gas_priority_fee.unwrap_or_default(),
            to: tx.kind,
            value: tx.value,
            access_list: tx.access_list.clone(),
            input,
        }
        .into_signed(signature)
        .into(),
    }
}

/// Collects a call's logs with its ether transfers among them, dropping those of frames that
/// failed (their logs and transfers never happened).
#[derive(Debug, Default)]
struct TransferLogger {
    logs: Vec<Log>,
    /// For each open frame, how many logs there were when it was entered.
    frames: Vec<usize>,
}

impl TransferLogger {
    fn transfer(&mut self, from: Address, to: Address, value: U256) {
        let data = LogData::new_unchecked(
            vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
            value.to_be_bytes_vec().into(),
        );
        self.logs.push(Log { address: TRANSFER_LOG_ADDRESS, data });
    }

    fn exit(&mut self, succeeded: bool) -> Option<usize> {
        let start = self.frames.pop()?;
        if !succeeded {
            self.logs.truncate(start);
        }
        Some(start)
    }
}

impl<CTX: ContextTr> Inspector<CTX> for TransferLogger {
    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.logs.push(log);
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.frames.push(self.logs.len());
        // A CALLCODE's value stays with the caller; only a CALL moves ether to another account.
        if inputs.scheme == CallScheme::Call
            && let Some(value) = inputs.transfer_value().filter(|v| !v.is_zero())
        {
            self.transfer(inputs.caller, inputs.target_address, value);
        }
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.exit(outcome.result.is_ok());
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.frames.push(self.logs.len());
        if !inputs.value().is_zero() {
            // The new address is known when the creation ends; filled in then.
            self.transfer(inputs.caller(), Address::ZERO, inputs.value());
        }
        None
    }

    fn create_end(
        &mut self,
        _context: &mut CTX,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        let Some(start) = self.exit(outcome.result.is_ok()) else { return };
        if outcome.result.is_ok()
            && !inputs.value().is_zero()
            && let (Some(created), Some(log)) = (outcome.address, self.logs.get_mut(start))
        {
            let mut topics = log.data.topics().to_vec();
            topics[2] = created.into_word();
            log.data = LogData::new_unchecked(topics, log.data.data.clone());
        }
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if !value.is_zero() {
            self.transfer(contract, target, value);
        }
    }
}
