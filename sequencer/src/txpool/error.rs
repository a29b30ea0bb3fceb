//! Why the txpool refuses a transaction, in the words wallets already understand (geth's).

use alloy_primitives::{Address, U256};

/// A transaction rejected at admission. Messages are geth's, so wallets and libraries that
/// match on them keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The bytes are not a valid EIP-2718 transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// A blob (EIP-4844) transaction: this rollup has no blob space.
    #[error("transaction type not supported: blob transactions (type 3) are not accepted")]
    BlobNotSupported,
    /// A transaction type this chain does not know.
    #[error("transaction type not supported: type {0}")]
    UnsupportedType(u8),
    /// A legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    NotReplayProtected,
    /// Signed for another chain.
    #[error("invalid chain id for signer")]
    WrongChainId {
        /// This chain.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The signature does not recover (or has a high `s`, EIP-2).
    #[error("invalid sender")]
    InvalidSender,
    /// Larger than the pool accepts.
    #[error("oversized data")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// Nonce below the sender's next nonce.
    #[error("nonce too low: next nonce {next}, tx nonce {got}")]
    NonceTooLow {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// Nonce too far ahead of the sender's next nonce to be queued.
    #[error(
        "nonce too high: next nonce {next}, tx nonce {got}, at most {max_ahead} ahead is queued"
    )]
    NonceTooHigh {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
        /// How far ahead the pool queues.
        max_ahead: u64,
    },
    /// The sender cannot pay `gas * maxFee + value`.
    #[error(
        "insufficient funds for gas * price + value: address {address} have {have} want {want}"
    )]
    InsufficientFunds {
        /// The sender.
        address: Address,
        /// Its balance.
        have: U256,
        /// What the transaction may cost.
        want: U256,
    },
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGasTooLow {
        /// The gas limit.
        gas: u64,
        /// The intrinsic gas.
        needed: u64,
    },
    /// Gas limit below the EIP-7623 calldata floor.
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas {
        /// The gas limit.
        gas: u64,
        /// The floor.
        needed: u64,
    },
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit {
        /// The gas limit.
        gas: u64,
        /// The block gas limit.
        block: u64,
    },
    /// Gas limit above the EIP-7825 per-transaction cap.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh {
        /// The gas limit.
        gas: u64,
        /// The cap.
        cap: u64,
    },
    /// Contract creation code above the EIP-3860 limit.
    #[error("max initcode size exceeded: code size {size}, limit {max}")]
    InitcodeTooLarge {
        /// The size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Max fee below the node's minimum.
    #[error("transaction underpriced: gas price {fee} below minimum {min}")]
    Underpriced {
        /// The max fee per gas offered.
        fee: u128,
        /// The minimum.
        min: u128,
    },
    /// Priority fee above the max fee.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap times gas limit does not fit in 128 bits: the EVM computes fees in 128 bits, and
    /// no account can pay such a transaction anyway.
    #[error("max fee per gas times gas limit exceeds 2^128-1")]
    FeeCapTooHigh,
    /// An EIP-7702 transaction with no authorizations.
    #[error("EIP-7702 transaction with empty auth list")]
    EmptyAuthorizationList,
    /// A same-nonce replacement without the required fee bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool is full and this transaction pays too little to evict another (or the node's
    /// admission queue is full).
    #[error("txpool is full")]
    PoolFull,
    /// The sender already has as many transactions pooled (or queued behind a nonce gap) as
    /// one sender may.
    #[error("account limit exceeded: at most {max} transactions of one sender are pooled")]
    AccountLimit {
        /// The limit that was reached.
        max: usize,
    },
}

impl PoolError {
    /// The JSON-RPC error code: geth answers every transaction rejection with -32000
    /// ("invalid input"); malformed bytes are invalid params.
    pub const fn code(&self) -> i32 {
        match self {
            Self::Decode(_) => -32602,
            _ => -32000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_geth() {
        let cases = [
            (PoolError::NonceTooLow { next: 5, got: 3 }, "nonce too low: next nonce 5, tx nonce 3"),
            (PoolError::WrongChainId { expected: 1, got: 2 }, "invalid chain id for signer"),
            (PoolError::InvalidSender, "invalid sender"),
            (PoolError::Oversized { size: 200_000, max: 131_072 }, "oversized data"),
            (PoolError::ReplacementUnderpriced, "replacement transaction underpriced"),
            (PoolError::AlreadyKnown, "already known"),
            (PoolError::PoolFull, "txpool is full"),
            (PoolError::TipAboveFeeCap, "max priority fee per gas higher than max fee per gas"),
            (PoolError::ExceedsBlockGasLimit { gas: 2, block: 1 }, "exceeds block gas limit"),
        ];
        for (err, msg) in cases {
            assert_eq!(err.to_string(), msg);
            assert_eq!(err.code(), -32000);
        }
        let funds = PoolError::InsufficientFunds {
            address: Address::ZERO,
            have: U256::from(1),
            want: U256::from(2),
        };
        assert!(funds.to_string().starts_with("insufficient funds for gas * price + value: "));
        let low = PoolError::IntrinsicGasTooLow { gas: 1, needed: 21_000 };
        assert!(low.to_string().starts_with("intrinsic gas too low"));
        assert!(
            PoolError::Underpriced { fee: 1, min: 2 }
                .to_string()
                .starts_with("transaction underpriced")
        );
        assert!(
            PoolError::BlobNotSupported.to_string().starts_with("transaction type not supported")
        );
        assert_eq!(PoolError::Decode("x".into()).code(), -32602);
    }
}
