//! Tracing for the `debug_trace*` methods: a block's transactions, or a call, run again under
//! one of geth's tracers (the struct logger, `callTracer`, `prestateTracer`, `4byteTracer`,
//! `flatCallTracer`, `muxTracer`, `noopTracer`).
//!
//! A block is replayed transaction after transaction over its parent's state, as the
//! sequential executor runs it: the parallel executor's result always equals that run, so the
//! trace shows what the block did whatever executor sealed it. Transactions before the one
//! asked for run without an inspector (at full speed); each traced one runs with it.
//!
//! Traces are bounded, since anyone who can reach the RPC can ask for them: a deadline per
//! request (geth's tracer `timeout`, capped by the node), a most number of struct-log steps
//! (each one holds a copy of the stack), and a most number of bytes of memory snapshots and
//! call inputs a trace may record. Past a bound the trace stops with an error naming it; no
//! partial trace is handed out as if it were whole.

use std::{
    cell::{Cell, RefCell},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{TxEnvelope, transaction::Recovered},
    rpc::types::{
        TransactionRequest,
        trace::geth::{GethDebugTracerType, GethDebugTracingOptions, GethTrace},
    },
};
use alloy_primitives::{
    Address, B256, U256,
    map::{HashMap, HashSet},
};
use revm::{
    Context, Database, DatabaseCommit, DatabaseRef, ExecuteCommitEvm, InspectEvm, Inspector,
    MainBuilder, MainContext,
    bytecode::{Bytecode, opcode},
    context::{ContextError, ContextTr, TxEnv, result::EVMError},
    interpreter::{
        CallInputs, CallOutcome, CreateInputs, CreateOutcome, Interpreter,
        interpreter_types::{InputsTr, Jumps, LoopControl, MemoryTr, ReturnData},
    },
    state::AccountInfo as RevmAccount,
};
use revm_inspectors::tracing::{
    DebugInspector, DebugInspectorError, TraceLimitBehavior, TraceLimits, TransactionContext,
};

use super::{
    BlockEnv,
    call::{call_cfg, request_tx_env},
    evm::{self, CodeCache, DbError, StateDb},
    overlay::Overlay,
};
use crate::state::{StateDiff, StateError, StateReader};

/// The bounds every trace request runs within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceBounds {
    /// The longest one request may run, all its transactions together (a caller's `timeout`
    /// bounds each transaction, as in geth).
    pub timeout: Duration,
    /// The most steps the struct logger records per transaction (a caller's `limit` may lower
    /// it).
    pub max_steps: u64,
    /// The most bytes one request may record: struct-log stacks, memory, storage and return
    /// data as the answer will carry them, and call inputs.
    pub max_recorded_bytes: usize,
}

impl Default for TraceBounds {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), max_steps: 500_000, max_recorded_bytes: 256 << 20 }
    }
}

/// geth's default tracer timeout (per transaction), used when a request names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes charged for each struct-log step besides what it copies (its fields, as JSON).
const STEP_BYTES: usize = 96;

/// Why a trace was not produced.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The tracer or its configuration is not one this node runs.
    #[error("{0}")]
    Tracer(String),
    /// The transaction's or the request's deadline passed (geth's words).
    #[error("execution timeout")]
    Timeout,
    /// The struct logger would record more steps than the node allows.
    #[error(
        "trace exceeds {0} steps: set the tracer's \"limit\" to record fewer, or trace with another tracer (e.g. callTracer)"
    )]
    TooManySteps(u64),
    /// The trace would record more bytes than the node allows.
    #[error(
        "trace exceeds {0} recorded bytes: disable the struct logger's memory, stack, storage or return data capture, trace fewer transactions, or use another tracer"
    )]
    TooLarge(usize),
    /// The call is not executable (insufficient funds, fee cap below base fee, …).
    #[error("{0}")]
    Invalid(String),
    /// A stored transaction did not replay (the stored chain and its state disagree).
    #[error("transaction {index} of the block could not be replayed: {reason}")]
    Replay {
        /// Its index in the block.
        index: usize,
        /// What revm said.
        reason: String,
    },
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// One traced transaction of a block: its hash and its trace, or why it has none.
pub type TxTrace = (B256, Result<GethTrace, TraceError>);

/// What the struct logger copies at each step, so the [`Guard`] can charge it.
#[derive(Debug, Clone, Copy)]
struct Copies {
    stack: bool,
    memory: bool,
    storage: bool,
    return_data: bool,
}

/// A tracer ready to run: the options, checked, with the request's deadline and byte budget.
#[derive(Debug)]
pub struct Tracer {
    opts: GethDebugTracingOptions,
    /// Each transaction's time (the caller's `timeout`, geth's default 5 s).
    per_tx: Duration,
    /// When the whole request must be done.
    deadline: Instant,
    /// Steps after which the struct logger stops with an error (none: the caller's own
    /// `limit` already keeps it within the node's bound, or another tracer runs).
    max_steps: Option<u64>,
    /// What the struct logger copies per step (none: another tracer runs).
    copies: Option<Copies>,
    max_recorded_bytes: usize,
    /// Bytes the request may still record.
    bytes_left: Cell<usize>,
}

impl Tracer {
    /// Checks `opts` against what this node runs and starts the request's clock.
    ///
    /// # Errors
    /// [`TraceError::Tracer`] for an unknown tracer (JavaScript tracers included), a
    /// configuration the tracer does not take, or an unreadable `timeout`.
    pub fn new(opts: GethDebugTracingOptions, bounds: &TraceBounds) -> Result<Self, TraceError> {
        let per_tx = match opts.timeout.as_deref() {
            None | Some("") => DEFAULT_TIMEOUT,
            Some(text) => parse_duration(text).ok_or_else(|| {
                TraceError::Tracer(format!(
                    "invalid timeout {text:?} (expected e.g. \"5s\", \"500ms\")"
                ))
            })?,
        };
        let struct_logger = opts.tracer.as_ref().is_none_or(|t| t.as_str().is_empty());
        let config = &opts.config;
        let within_bound = config.limit.is_some_and(|limit| limit > 0 && limit <= bounds.max_steps);
        let now = Instant::now();
        let tracer = Self {
            per_tx,
            deadline: now.checked_add(bounds.timeout).unwrap_or(now + Duration::from_secs(86_400)),
            max_steps: (struct_logger && !within_bound).then_some(bounds.max_steps),
            copies: struct_logger.then(|| Copies {
                stack: !config.disable_stack.unwrap_or_default(),
                memory: config.is_memory_enabled(),
                storage: !config.disable_storage.unwrap_or_default(),
                return_data: config.is_return_data_enabled(),
            }),
            max_recorded_bytes: bounds.max_recorded_bytes,
            bytes_left: Cell::new(bounds.max_recorded_bytes),
            opts,
        };
        tracer.inspector()?;
        Ok(tracer)
    }

    /// A fresh inspector for one transaction, with what is left of the request's budgets.
    fn inspector(&self) -> Result<(DebugInspector, Guard), TraceError> {
        let mut inspector = DebugInspector::new(self.opts.clone()).map_err(|e| match e {
            DebugInspectorError::JsTracerNotEnabled => {
                let name = self.opts.tracer.as_ref().map(GethDebugTracerType::as_str);
                let name: String = name.unwrap_or_default().chars().take(40).collect();
                TraceError::Tracer(format!(
                    "tracer {name:?} not found: this node runs no JavaScript tracers (built in: callTracer, prestateTracer, 4byteTracer, flatCallTracer, muxTracer, noopTracer, or none for the struct logger)"
                ))
            }
            other => TraceError::Tracer(other.to_string()),
        })?;
        let bytes_left = self.bytes_left.get();
        // The recorders' own budget stops them before they copy what the guard cannot see
        // coming (a call's input is copied before the guard's `call` hook returns).
        let limits = TraceLimits::default()
            .set_max_recorded_bytes(Some(bytes_left))
            .set_behavior(TraceLimitBehavior::Halt);
        match &mut inspector {
            DebugInspector::CallTracer(recorder, _)
            | DebugInspector::PreStateTracer(recorder, _)
            | DebugInspector::FlatCallTracer(recorder)
            | DebugInspector::Erc7562Tracer(recorder, _)
            | DebugInspector::Default(recorder, _) => {
                *recorder = std::mem::take(recorder).with_limits(limits);
            }
            _ => {}
        }
        let now = Instant::now();
        let guard = Guard {
            deadline: now.checked_add(self.per_tx).map_or(self.deadline, |d| d.min(self.deadline)),
            max_steps: self.max_steps,
            copies: self.copies,
            steps: 0,
            bytes_left,
            slots: HashMap::default(),
            stop: None,
        };
        Ok((inspector, guard))
    }

    /// Whether the request's deadline has passed.
    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn check_deadline(&self) -> Result<(), TraceError> {
        if self.expired() { Err(TraceError::Timeout) } else { Ok(()) }
    }
}

/// What made the [`Guard`] stop a transaction.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Timeout,
    Steps(u64),
    Bytes,
}

/// An inspector beside the tracer that stops execution at the deadline, past the step bound,
/// or when what the trace records (as the answer will carry it) passes the byte budget.
#[derive(Debug)]
struct Guard {
    deadline: Instant,
    max_steps: Option<u64>,
    copies: Option<Copies>,
    steps: u64,
    bytes_left: usize,
    /// Distinct storage slots seen per contract: the struct logger repeats them all at each
    /// `SLOAD` and `SSTORE` of that contract.
    slots: HashMap<Address, HashSet<U256>>,
    stop: Option<Stop>,
}

impl Guard {
    fn charge(&mut self, bytes: usize) -> Result<(), Stop> {
        self.bytes_left = self.bytes_left.checked_sub(bytes).ok_or(Stop::Bytes)?;
        Ok(())
    }

    fn check_step(&mut self, interp: &Interpreter) -> Result<(), Stop> {
        self.steps += 1;
        if let Some(max) = self.max_steps
            && self.steps > max
        {
            return Err(Stop::Steps(max));
        }
        if self.steps.is_multiple_of(1024) && Instant::now() >= self.deadline {
            return Err(Stop::Timeout);
        }
        let Some(copies) = self.copies else { return Ok(()) };
        let mut bytes = STEP_BYTES;
        if copies.stack {
            bytes += interp.stack.len() * 70; // each word as a JSON hex string
        }
        if copies.memory {
            bytes += interp.memory.size() * 2 + interp.memory.size() / 32 * 6;
        }
        if copies.return_data {
            bytes += interp.return_data.buffer().len() * 2;
        }
        let op = interp.bytecode.opcode();
        if copies.storage
            && (op == opcode::SLOAD || op == opcode::SSTORE)
            && let Some(slot) = interp.stack.data().last()
        {
            let slots = self.slots.entry(interp.input.target_address()).or_default();
            slots.insert(*slot);
            bytes += slots.len() * 140;
        }
        self.charge(bytes)
    }
}

impl<CTX: ContextTr> Inspector<CTX> for Guard {
    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if interp.bytecode.is_end() {
            return; // halted already (before its first step, or by the tracer's own budget)
        }
        if self.stop.is_none() {
            if context.error().is_err() {
                return; // the tracer's budget is stopping the run, and halts each frame itself
            }
            let Err(stop) = self.check_step(interp) else { return };
            self.stop = Some(stop);
            *context.error() = Err(ContextError::Custom("trace stopped".into()));
        }
        // Stopped: halt every frame that still runs (a call entered after the stop included),
        // and the error set above ends the transaction when the frame returns.
        interp.halt_fatal();
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if self.stop.is_none() && self.charge(inputs.input.len() * 2).is_err() {
            self.stop = Some(Stop::Bytes);
            *context.error() = Err(ContextError::Custom("trace stopped".into()));
        }
        None
    }

    fn create(&mut self, context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        if self.stop.is_none() && self.charge(inputs.init_code().len() * 2).is_err() {
            self.stop = Some(Stop::Bytes);
            *context.error() = Err(ContextError::Custom("trace stopped".into()));
        }
        None
    }
}

/// Traces block transactions: replays `txs` (a block's, in order) over `parent` (the state
/// before the block) in `env`, tracing those `traced` selects. Returns one entry per traced
/// transaction; a transaction whose trace hit a bound carries the error, and once the
/// request's deadline or byte budget is spent so does every later one (without running).
///
/// # Errors
/// When the state cannot be read, a transaction does not replay, or the request's deadline
/// passes before the first traced transaction.
pub fn trace_transactions(
    parent: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    block_hash: B256,
    txs: &[Recovered<TxEnvelope>],
    traced: impl Fn(usize) -> bool,
    tracer: &Tracer,
) -> Result<Vec<TxTrace>, TraceError> {
    let spec = evm::spec_id(env.hardfork);
    let mut overlay = Overlay::new(StateDb { state: parent, codes }, spec);
    let Some(last) = (0..txs.len()).rev().find(|i| traced(*i)) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    // Set once the request can trace nothing more: its deadline passed or its bytes are spent.
    let mut spent: Option<fn(&Tracer) -> TraceError> = None;
    for (index, tx) in txs[..=last].iter().enumerate() {
        let hash = *tx.inner().hash();
        if !traced(index) {
            tracer.check_deadline()?;
            replay(&mut overlay, env, evm::tx_env(tx), index)?;
            continue;
        }
        if let Some(error) = spent {
            out.push((hash, Err(error(tracer))));
            continue;
        }
        let context = TransactionContext {
            block_hash: Some(block_hash),
            tx_index: Some(index),
            tx_hash: Some(hash),
        };
        let tx_env = evm::tx_env(tx);
        match trace_one(&mut overlay, env, tx_env.clone(), Some(context), tracer, None) {
            Ok(trace) => out.push((hash, Ok(trace))),
            Err(TraceError::Invalid(reason)) => return Err(TraceError::Replay { index, reason }),
            Err(
                e @ (TraceError::Timeout | TraceError::TooManySteps(_) | TraceError::TooLarge(_)),
            ) => {
                if tracer.expired() {
                    spent = Some(|_| TraceError::Timeout);
                } else if matches!(e, TraceError::TooLarge(_)) {
                    spent = Some(|tracer| TraceError::TooLarge(tracer.max_recorded_bytes));
                }
                out.push((hash, Err(e)));
                // The stopped run was not committed: run it again, untraced, so the later
                // transactions see its effects.
                if spent.is_none() && index < last {
                    replay(&mut overlay, env, tx_env, index)?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Traces a call (`debug_traceCall`) on `state` in block `env`, with eth_call's rules: no
/// nonce check, no base fee unless the request sets fees, gas capped by `gas_cap`.
///
/// # Errors
/// A bound, an invalid request, or a state read failure.
pub fn trace_call(
    state: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    request: &TransactionRequest,
    gas_cap: u64,
    tracer: &Tracer,
) -> Result<GethTrace, TraceError> {
    let mut overlay = Overlay::new(StateDb { state, codes }, evm::spec_id(env.hardfork));
    let gas = request.gas.unwrap_or(gas_cap).min(gas_cap);
    let cfg = call_cfg(env, request, false);
    let tx_env = request_tx_env(request, env, gas, None);
    trace_one(&mut overlay, env, tx_env, None, tracer, Some(cfg))
}

/// The changes `txs` (the first transactions of the block `env` describes) make to `parent`:
/// the state a `debug_traceCall` with a transaction index runs on. Checks the request's
/// deadline between transactions.
///
/// # Errors
/// The deadline, a state read failure, or a transaction that does not replay.
pub fn replay_transactions(
    parent: &dyn StateReader,
    codes: &Arc<CodeCache>,
    env: &BlockEnv,
    txs: &[Recovered<TxEnvelope>],
    tracer: &Tracer,
) -> Result<StateDiff, TraceError> {
    let mut overlay = Overlay::new(StateDb { state: parent, codes }, evm::spec_id(env.hardfork));
    for (index, tx) in txs.iter().enumerate() {
        tracer.check_deadline()?;
        replay(&mut overlay, env, evm::tx_env(tx), index)?;
    }
    Ok(overlay.into_diff())
}

/// Runs `tx_env` over `overlay` untraced and commits it.
fn replay(
    overlay: &mut Overlay<'_>,
    env: &BlockEnv,
    tx_env: TxEnv,
    index: usize,
) -> Result<(), TraceError> {
    let mut vm = evm::block_evm(overlay, env);
    match vm.transact_commit(tx_env) {
        Ok(_) => Ok(()),
        Err(EVMError::Database(e)) => Err(TraceError::State(e.0)),
        Err(other) => Err(TraceError::Replay { index, reason: other.to_string() }),
    }
}

/// Runs `tx_env` over `overlay` under the tracer, commits its effects, and returns its trace.
/// `cfg` is a call's configuration (none: a block transaction, run with the block's rules).
fn trace_one(
    overlay: &mut Overlay<'_>,
    env: &BlockEnv,
    tx_env: TxEnv,
    context: Option<TransactionContext>,
    tracer: &Tracer,
    cfg: Option<revm::context::CfgEnv>,
) -> Result<GethTrace, TraceError> {
    let inspector = tracer.inspector()?;
    let block_env = evm::block_env(env);
    let cfg = cfg.unwrap_or_else(|| evm::cfg_env(env));
    let (outcome, (mut inspector, guard)) = {
        let mut vm = Context::mainnet()
            .with_cfg(cfg)
            .with_block(block_env.clone())
            .with_db(&mut *overlay)
            .build_mainnet_with_inspector(inspector);
        let outcome = vm.inspect_tx(tx_env.clone());
        (outcome, vm.inspector)
    };
    tracer.bytes_left.set(guard.bytes_left);
    let result = match outcome {
        Ok(result) => result,
        Err(EVMError::Custom(_)) => {
            return Err(match guard.stop {
                Some(Stop::Steps(max)) => TraceError::TooManySteps(max),
                Some(Stop::Timeout) => TraceError::Timeout,
                // The guard's estimate, or the recorders' own budget.
                Some(Stop::Bytes) | None => {
                    tracer.bytes_left.set(0);
                    TraceError::TooLarge(tracer.max_recorded_bytes)
                }
            });
        }
        Err(EVMError::Database(e)) => return Err(TraceError::State(e.0)),
        Err(EVMError::Transaction(invalid)) => {
            return Err(TraceError::Invalid(evm::invalid_tx_message(&invalid, tx_env.caller)));
        }
        Err(other) => return Err(TraceError::Invalid(other.to_string())),
    };
    let trace = {
        let mut before = PreTx(RefCell::new(&mut *overlay));
        inspector.get_result(context, &tx_env, &block_env, &result, &mut before).map_err(|e| {
            match e {
                DebugInspectorError::Database(e) => TraceError::State(e.0),
                other => TraceError::Tracer(other.to_string()),
            }
        })?
    };
    overlay.commit(result.state);
    Ok(trace)
}

/// The state before the traced transaction, read-only, as the prestate tracer reads it.
struct PreTx<'r, 'a>(RefCell<&'r mut Overlay<'a>>);

impl DatabaseRef for PreTx<'_, '_> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<RevmAccount>, DbError> {
        self.0.borrow_mut().basic(address)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        self.0.borrow_mut().code_by_hash(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        self.0.borrow_mut().storage(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        self.0.borrow_mut().block_hash(number)
    }
}

/// A Go duration as geth's tracer `timeout` takes it ("300ms", "5s", "1m30s", "1.5s").
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_geth_takes_them() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn unknown_tracers_are_refused_with_the_built_in_list() {
        let opts = GethDebugTracingOptions {
            tracer: Some(GethDebugTracerType::JsTracer("{result: function() {}}".into())),
            ..Default::default()
        };
        let err = Tracer::new(opts, &TraceBounds::default()).unwrap_err();
        assert!(err.to_string().contains("callTracer"), "{err}");
    }

    #[test]
    fn the_struct_logger_is_bounded_unless_its_limit_already_is() {
        let bounds = TraceBounds { max_steps: 100, ..TraceBounds::default() };
        let logger = |limit| {
            let mut opts = GethDebugTracingOptions::default();
            opts.config.limit = limit;
            Tracer::new(opts, &bounds).unwrap().max_steps
        };
        assert_eq!(logger(None), Some(100));
        assert_eq!(logger(Some(0)), Some(100));
        assert_eq!(logger(Some(50)), None);
        assert_eq!(logger(Some(500)), Some(100));
        let calls = GethDebugTracingOptions::call_tracer(Default::default());
        assert_eq!(Tracer::new(calls, &bounds).unwrap().max_steps, None);
    }
}
