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
    cell::RefCell,
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
use alloy_primitives::{Address, B256, U256};
use revm::{
    Context, Database, DatabaseCommit, DatabaseRef, ExecuteCommitEvm, InspectEvm, Inspector,
    MainBuilder, MainContext,
    bytecode::Bytecode,
    context::{ContextError, ContextTr, TxEnv, result::EVMError},
    interpreter::Interpreter,
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
use crate::state::{StateError, StateReader};

/// The bounds every trace runs within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceBounds {
    /// The longest a trace request may run; a caller's `timeout` may only shorten it.
    pub timeout: Duration,
    /// The most steps the struct logger records (a caller's `limit` may lower it).
    pub max_steps: u64,
    /// The most bytes of memory snapshots, return data and call inputs one trace records.
    pub max_recorded_bytes: usize,
}

impl Default for TraceBounds {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(10), max_steps: 500_000, max_recorded_bytes: 256 << 20 }
    }
}

/// geth's default tracer timeout, used when a request names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a trace was not produced.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The tracer or its configuration is not one this node runs.
    #[error("{0}")]
    Tracer(String),
    /// The request's deadline passed (geth's words).
    #[error("execution timeout")]
    Timeout,
    /// The struct logger would record more steps than the node allows.
    #[error(
        "trace exceeds {0} steps: set the tracer's \"limit\" to record fewer, or disable the struct logger's stack and use another tracer"
    )]
    TooManySteps(u64),
    /// The trace would record more bytes than the node allows.
    #[error(
        "trace exceeds {0} recorded bytes: disable memory or return data capture, or trace with another tracer"
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

/// A tracer ready to run: the options, checked, with the request's deadline.
#[derive(Debug)]
pub struct Tracer {
    opts: GethDebugTracingOptions,
    deadline: Instant,
    /// Steps after which the struct logger stops with an error (none: the caller's own
    /// `limit` already keeps it within the node's bound, or another tracer runs).
    max_steps: Option<u64>,
    max_recorded_bytes: usize,
}

impl Tracer {
    /// Checks `opts` against what this node runs and starts the request's clock.
    ///
    /// # Errors
    /// [`TraceError::Tracer`] for an unknown tracer (JavaScript tracers included), a
    /// configuration the tracer does not take, or an unreadable `timeout`.
    pub fn new(opts: GethDebugTracingOptions, bounds: &TraceBounds) -> Result<Self, TraceError> {
        let timeout = match opts.timeout.as_deref() {
            None | Some("") => DEFAULT_TIMEOUT,
            Some(text) => parse_duration(text).ok_or_else(|| {
                TraceError::Tracer(format!(
                    "invalid timeout {text:?} (expected e.g. \"5s\", \"500ms\")"
                ))
            })?,
        };
        let struct_logger = opts.tracer.as_ref().is_none_or(|t| t.as_str().is_empty());
        let within_bound =
            opts.config.limit.is_some_and(|limit| limit > 0 && limit <= bounds.max_steps);
        let tracer = Self {
            deadline: Instant::now() + timeout.min(bounds.timeout),
            max_steps: (struct_logger && !within_bound).then_some(bounds.max_steps),
            max_recorded_bytes: bounds.max_recorded_bytes,
            opts,
        };
        tracer.inspector()?;
        Ok(tracer)
    }

    /// A fresh inspector for one transaction.
    fn inspector(&self) -> Result<(DebugInspector, Guard), TraceError> {
        let mut inspector = DebugInspector::new(self.opts.clone()).map_err(|e| match e {
            DebugInspectorError::JsTracerNotEnabled => TraceError::Tracer(format!(
                "tracer {:?} not found: this node runs no JavaScript tracers (built in: callTracer, prestateTracer, 4byteTracer, flatCallTracer, muxTracer, noopTracer, or none for the struct logger)",
                self.opts.tracer.as_ref().map(GethDebugTracerType::as_str).unwrap_or_default()
            )),
            other => TraceError::Tracer(other.to_string()),
        })?;
        let limits = TraceLimits::default()
            .set_max_recorded_bytes(Some(self.max_recorded_bytes))
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
        let guard =
            Guard { deadline: self.deadline, max_steps: self.max_steps, steps: 0, stop: None };
        Ok((inspector, guard))
    }

    fn check_deadline(&self) -> Result<(), TraceError> {
        if Instant::now() >= self.deadline { Err(TraceError::Timeout) } else { Ok(()) }
    }
}

/// What made the [`Guard`] stop a transaction.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Timeout,
    Steps(u64),
}

/// An inspector beside the tracer that stops execution at the deadline or past the step bound.
#[derive(Debug)]
struct Guard {
    deadline: Instant,
    max_steps: Option<u64>,
    steps: u64,
    stop: Option<Stop>,
}

impl<CTX: ContextTr> Inspector<CTX> for Guard {
    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        self.steps += 1;
        let stop = if self.max_steps.is_some_and(|max| self.steps > max) {
            Some(Stop::Steps(self.max_steps.unwrap_or_default()))
        } else if self.steps.is_multiple_of(1024) && Instant::now() >= self.deadline {
            Some(Stop::Timeout)
        } else {
            None
        };
        if let Some(stop) = stop {
            self.stop = Some(stop);
            *context.error() = Err(ContextError::Custom("trace stopped".into()));
            interp.halt_fatal();
        }
    }
}

/// Traces block transactions: replays `txs` (a block's, in order) over `parent` (the state
/// before the block) in `env`, tracing those `traced` selects. Returns one entry per traced
/// transaction; a transaction whose trace hit a bound carries the error and, once the
/// deadline has passed, so does every later one.
///
/// # Errors
/// When the state cannot be read or a transaction does not replay.
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
    let last = (0..txs.len()).rev().find(|i| traced(*i));
    let mut out = Vec::new();
    let mut timed_out = false;
    for (index, tx) in txs.iter().enumerate() {
        if last.is_none_or(|last| index > last) {
            break;
        }
        let tx_env = evm::tx_env(tx);
        let hash = *tx.inner().hash();
        if !traced(index) {
            replay(&mut overlay, env, tx_env, index)?;
            continue;
        }
        if timed_out || tracer.check_deadline().is_err() {
            timed_out = true;
            out.push((hash, Err(TraceError::Timeout)));
            continue;
        }
        let context = TransactionContext {
            block_hash: Some(block_hash),
            tx_index: Some(index),
            tx_hash: Some(hash),
        };
        match trace_one(&mut overlay, env, tx_env.clone(), Some(context), tracer, None) {
            Ok(trace) => out.push((hash, Ok(trace))),
            Err(TraceError::Invalid(reason)) => return Err(TraceError::Replay { index, reason }),
            Err(
                e @ (TraceError::Timeout | TraceError::TooManySteps(_) | TraceError::TooLarge(_)),
            ) => {
                timed_out = matches!(e, TraceError::Timeout);
                out.push((hash, Err(e)));
                // The stopped run was not committed: run it again, untraced, so the later
                // transactions see its effects.
                replay(&mut overlay, env, tx_env, index)?;
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
    let from = request.from.unwrap_or_default();
    let cfg = call_cfg(env, request, false);
    let tx_env = request_tx_env(request, env, gas, None);
    trace_one(&mut overlay, env, tx_env, None, tracer, Some((cfg, from)))
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
/// `call` carries a call's configuration and sender (a block transaction runs with the
/// block's rules).
fn trace_one(
    overlay: &mut Overlay<'_>,
    env: &BlockEnv,
    tx_env: TxEnv,
    context: Option<TransactionContext>,
    tracer: &Tracer,
    call: Option<(revm::context::CfgEnv, Address)>,
) -> Result<GethTrace, TraceError> {
    let inspector = tracer.inspector()?;
    let block_env = evm::block_env(env);
    let (cfg, from) = match call {
        Some((cfg, from)) => (cfg, Some(from)),
        None => (evm::cfg_env(env), None),
    };
    let (outcome, (mut inspector, guard)) = {
        let mut vm = Context::mainnet()
            .with_cfg(cfg)
            .with_block(block_env.clone())
            .with_db(&mut *overlay)
            .build_mainnet_with_inspector(inspector);
        let outcome = vm.inspect_tx(tx_env.clone());
        (outcome, vm.inspector)
    };
    let result = match outcome {
        Ok(result) => result,
        Err(EVMError::Custom(_)) if guard.stop.is_some() => {
            return Err(match guard.stop {
                Some(Stop::Steps(max)) => TraceError::TooManySteps(max),
                _ => TraceError::Timeout,
            });
        }
        Err(EVMError::Custom(_)) => return Err(TraceError::TooLarge(tracer.max_recorded_bytes)),
        Err(EVMError::Database(e)) => return Err(TraceError::State(e.0)),
        Err(EVMError::Transaction(invalid)) => {
            return Err(TraceError::Invalid(evm::invalid_tx_message(
                &invalid,
                from.unwrap_or(tx_env.caller),
            )));
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
