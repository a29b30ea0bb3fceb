//! The one place where the node's failures become JSON-RPC error objects, with the codes and
//! messages wallets and libraries expect from geth.

use alloy::sol_types::{Panic, Revert, SolError};
use alloy_primitives::{Bytes, hex};
use jsonrpsee::types::ErrorObjectOwned;

use crate::{
    executor::{CallError, TraceError},
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
    /// A feature this node does not offer.
    #[error("{0}")]
    Unsupported(String),
    /// This node serves reads only (a replica).
    #[error("this node is a read-only replica: send transactions to the sequencer")]
    ReadOnly,
    /// A storage failure on the node.
    #[error("internal error: {0}")]
    Internal(String),
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
            Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::CallFailed(_)
            | Self::HeaderNotFound
            | Self::BlockNotFound
            | Self::TransactionNotFound
            | Self::BeyondHead { .. }
            | Self::StateNotAvailable { .. }
            | Self::FilterNotFound
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
}
