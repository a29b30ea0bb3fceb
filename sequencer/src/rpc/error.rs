//! The one place where the node's failures become JSON-RPC error objects, with the codes and
//! messages wallets and libraries expect from geth.

use std::time::Duration;

use alloy::sol_types::{Panic, Revert, SolError};
use alloy_primitives::{B256, Bytes, hex};
use jsonrpsee::types::ErrorObjectOwned;

use crate::{
    executor::{CallError, SimulateError, TraceError},
    state::StateError,
    store::StoreError,
    txpool::PoolError,
};

/// Geth's code for a reverted `eth_call`/`eth_estimateGas` (the revert data is in `data`).
pub const REVERT_CODE: i32 = 3;
/// Generic server-side failure (geth's "invalid input" / execution error code).
pub const SERVER_ERROR_CODE: i32 = -32000;
/// Invalid method parameters.
pub const INVALID_PARAMS_CODE: i32 = -32602;
/// Internal error.
pub const INTERNAL_ERROR_CODE: i32 = -32603;
/// A request exceeds a limit of this node (EIP-1474 "limit exceeded").
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;
/// `eth_sendRawTransactionSync` (or `eth_sendTransactionSync`) accepted the transaction but saw
/// no receipt in time (EIP-7966).
pub const TX_SYNC_TIMEOUT_CODE: i32 = 4;

/// Everything an RPC method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The txpool refused a transaction.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A call or estimate reverted.
    #[error("execution reverted{}", revert_reason(.0).map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted(Bytes),
    /// A call failed otherwise (halt, invalid request, gas allowance).
    #[error("{0}")]
    CallFailed(String),
    /// Parameters are malformed.
    #[error("{0}")]
    InvalidParams(String),
    /// The block a state query names does not exist.
    #[error("header not found")]
    HeaderNotFound,
    /// The block a `debug_getRaw*` or `debug_trace*` call names does not exist.
    #[error("block not found")]
    BlockNotFound,
    /// `debug_traceTransaction` names no transaction of the chain.
    #[error("transaction not found")]
    TransactionNotFound,
    /// A trace would pass one of the node's bounds (steps, recorded bytes).
    #[error("{0}")]
    TraceTooLarge(String),
    /// A range ends after the head (`eth_feeHistory`'s newest block).
    #[error("request beyond head block: requested {requested}, head {head}")]
    BeyondHead {
        /// The block asked for.
        requested: u64,
        /// The head.
        head: u64,
    },
    /// The state of the block is outside the history this node keeps.
    #[error(
        "historical state not available: block {block} is older than the {kept} blocks this node keeps (oldest: {oldest})"
    )]
    StateNotAvailable {
        /// The block asked for.
        block: u64,
        /// The oldest available.
        oldest: u64,
        /// How many blocks are kept.
        kept: u64,
    },
    /// `eth_getLogs` asked for too many blocks.
    #[error("query exceeds max block range {max}")]
    BlockRangeTooLarge {
        /// The allowed range.
        max: u64,
    },
    /// `eth_getLogs` matched too many logs.
    #[error("query returned more than {max} results")]
    TooManyLogs {
        /// The allowed count.
        max: usize,
    },
    /// `eth_new*Filter` while the node holds as many filters as it keeps.
    #[error(
        "too many filters installed (at most {max}): uninstall some or wait for them to expire"
    )]
    TooManyFilters {
        /// The most filters installed at once.
        max: usize,
    },
    /// The filter id is unknown (never created, uninstalled or expired).
    #[error("filter not found")]
    FilterNotFound,
    /// `eth_unsubscribe` of a subscription this connection does not hold (geth's message).
    #[error("subscription not found")]
    SubscriptionNotFound,
    /// A feature this node does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// A signing method names an account the node holds no key for (geth's message).
    #[error("unknown account")]
    UnknownAccount,
    /// This node serves reads only (a replica).
    #[error("this node is a read-only replica: send transactions to the sequencer")]
    ReadOnly,
    /// `eth_sendRawTransactionSync` or `eth_sendTransactionSync` accepted the transaction,
    /// which no block included within the wait (geth's message; the hash goes in `data`).
    #[error(
        "The transaction was added to the transaction pool but wasn't processed in {}",
        go_duration(*.timeout)
    )]
    TxSyncTimeout {
        /// The accepted transaction.
        hash: B256,
        /// How long the call waited.
        timeout: Duration,
    },
    /// `eth_simulateV1` stopped: a call is not executable, or the blocks are out of order or
    /// beyond the limits (geth's codes, -38010 to -38026).
    #[error("{message}")]
    Simulate {
        /// The JSON-RPC code.
        code: i32,
        /// geth's message.
        message: String,
    },
    /// A storage failure on the node.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A duration as Go prints it (geth's messages carry Go durations): "300ms", "20s", "1.5s",
/// "1m0s". Millisecond precision, which is all a caller can ask for.
fn go_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        return if ms == 0 { "0s".into() } else { format!("{ms}ms") };
    }
    let (hours, minutes, seconds, fraction) =
        (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if hours > 0 {
        out += &format!("{hours}h");
    }
    if hours > 0 || minutes > 0 {
        out += &format!("{minutes}m");
    }
    out += &seconds.to_string();
    if fraction > 0 {
        out += ".";
        out += format!("{fraction:03}").trim_end_matches('0');
    }
    out + "s"
}

/// The decoded reason of revert data (`Error(string)` or `Panic(uint256)`), if any.
fn revert_reason(data: &Bytes) -> Option<String> {
    if let Ok(revert) = Revert::abi_decode(data) {
        return Some(revert.reason);
    }
    Panic::abi_decode(data).ok().map(|p| format!("panic: {p}"))
}

impl RpcError {
    /// The JSON-RPC error code.
    pub const fn code(&self) -> i32 {
        match self {
            Self::Pool(e) => e.code(),
            Self::Reverted(_) => REVERT_CODE,
            Self::InvalidParams(_) => INVALID_PARAMS_CODE,
            Self::BlockRangeTooLarge { .. }
            | Self::TooManyLogs { .. }
            | Self::TooManyFilters { .. }
            | Self::TraceTooLarge(_) => LIMIT_EXCEEDED_CODE,
            Self::Unsupported(_) => -32601,
            Self::TxSyncTimeout { .. } => TX_SYNC_TIMEOUT_CODE,
            Self::Simulate { code, .. } => *code,
            Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::CallFailed(_)
            | Self::HeaderNotFound
            | Self::BlockNotFound
            | Self::TransactionNotFound
            | Self::BeyondHead { .. }
            | Self::StateNotAvailable { .. }
            | Self::FilterNotFound
            | Self::SubscriptionNotFound
            | Self::UnknownAccount
            | Self::ReadOnly => SERVER_ERROR_CODE,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(err: RpcError) -> Self {
        let code = err.code();
        let message = err.to_string();
        match err {
            RpcError::Reverted(data) => {
                Self::owned(code, message, Some(hex::encode_prefixed(data)))
            }
            RpcError::TxSyncTimeout { hash, .. } => Self::owned(code, message, Some(hash)),
            _ => Self::owned(code, message, None::<()>),
        }
    }
}

impl From<CallError> for RpcError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Reverted { output } => Self::Reverted(output),
            CallError::State(e) => e.into(),
            other => Self::CallFailed(other.to_string()),
        }
    }
}

impl From<SimulateError> for RpcError {
    fn from(err: SimulateError) -> Self {
        if let SimulateError::State(e) = err {
            return e.into();
        }
        let code = match &err {
            SimulateError::NonceTooLow(_) => -38010,
            SimulateError::NonceTooHigh(_) => -38011,
            SimulateError::FeeCapTooLow(_) => -38012,
            SimulateError::IntrinsicGas(_) => -38013,
            SimulateError::InsufficientFunds(_) => -38014,
            SimulateError::BlockGasLimitReached { .. } => -38015,
            SimulateError::InitCodeTooLarge(_) => -38025,
            SimulateError::GasCapSpent(_) => -38026,
            SimulateError::Timeout(_) => -32016,
            SimulateError::Invalid(_) | SimulateError::State(_) => INVALID_PARAMS_CODE,
        };
        Self::Simulate { code, message: err.to_string() }
    }
}

impl From<TraceError> for RpcError {
    fn from(err: TraceError) -> Self {
        match err {
            TraceError::State(e) => e.into(),
            e @ (TraceError::TooManySteps(_) | TraceError::TooLarge(_)) => {
                Self::TraceTooLarge(e.to_string())
            }
            e @ TraceError::Replay { .. } => Self::Internal(e.to_string()),
            e @ (TraceError::Tracer(_) | TraceError::Timeout | TraceError::Invalid(_)) => {
                Self::CallFailed(e.to_string())
            }
        }
    }
}

impl From<StateError> for RpcError {
    fn from(err: StateError) -> Self {
        match err {
            StateError::Pruned { block, oldest, head } => {
                Self::StateNotAvailable { block, oldest, kept: head - oldest }
            }
            StateError::Store(e) => Self::Internal(e),
        }
    }
}

impl From<StoreError> for RpcError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::StateUnavailable { block, oldest, head } => {
                Self::StateNotAvailable { block, oldest, kept: head - oldest }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Shorthand for RPC method results.
pub type RpcResult<T> = Result<T, RpcError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn object(err: RpcError) -> ErrorObjectOwned {
        err.into()
    }

    #[test]
    fn revert_carries_data_and_reason() {
        let data: Bytes = Revert::from("not enough").abi_encode().into();
        let obj = object(RpcError::Reverted(data.clone()));
        assert_eq!(obj.code(), 3);
        assert_eq!(obj.message(), "execution reverted: not enough");
        assert_eq!(obj.data().unwrap().get(), format!("\"{}\"", hex::encode_prefixed(&data)));
        assert_eq!(object(RpcError::Reverted(Bytes::new())).message(), "execution reverted");
    }

    #[test]
    fn every_variant_has_its_code() {
        let cases = [
            (RpcError::Pool(PoolError::AlreadyKnown), -32000, "already known"),
            (RpcError::Pool(PoolError::Decode("x".into())), -32602, "rlp: x"),
            (RpcError::CallFailed("out of gas".into()), -32000, "out of gas"),
            (RpcError::InvalidParams("bad".into()), -32602, "bad"),
            (RpcError::HeaderNotFound, -32000, "header not found"),
            (RpcError::BlockNotFound, -32000, "block not found"),
            (RpcError::BlockRangeTooLarge { max: 10 }, -32005, "query exceeds max block range 10"),
            (RpcError::TooManyLogs { max: 5 }, -32005, "query returned more than 5 results"),
            (RpcError::FilterNotFound, -32000, "filter not found"),
            (RpcError::Unsupported("x".into()), -32601, "x"),
            (RpcError::Internal("disk".into()), -32603, "internal error: disk"),
        ];
        for (err, code, message) in cases {
            let obj = object(err);
            assert_eq!((obj.code(), obj.message()), (code, message));
        }
        let pruned = object(RpcError::StateNotAvailable { block: 1, oldest: 10, kept: 128 });
        assert_eq!(pruned.code(), -32000);
        assert!(pruned.message().starts_with("historical state not available"));
        assert!(object(RpcError::ReadOnly).message().contains("read-only"));
    }

    #[test]
    fn sync_send_timeout_reads_as_geth_writes_it() {
        let hash = B256::repeat_byte(0xab);
        let obj = object(RpcError::TxSyncTimeout { hash, timeout: Duration::from_secs(20) });
        assert_eq!(obj.code(), 4);
        assert_eq!(
            obj.message(),
            "The transaction was added to the transaction pool but wasn't processed in 20s"
        );
        assert_eq!(obj.data().unwrap().get(), format!("\"{hash}\""));
        let cases = [
            (0, "0s"),
            (300, "300ms"),
            (1_500, "1.5s"),
            (2_050, "2.05s"),
            (60_000, "1m0s"),
            (90_500, "1m30.5s"),
            (3_600_000, "1h0m0s"),
        ];
        for (ms, text) in cases {
            assert_eq!(go_duration(Duration::from_millis(ms)), text);
        }
    }
}
