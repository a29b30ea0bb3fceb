//! An executed transaction as a block records it: our result type, its receipt (cumulative gas
//! filled in later, in block order) and the fee it owes the block's beneficiary.

use alloy::consensus::{ReceiptEnvelope, Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::U256;
use revm::context::result::ExecutionResult;

use super::{BlockEnv, TxResult, evm};
use crate::chain::Hardfork;

/// An executed transaction's result, receipt and fee.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) result: TxResult,
    pub(crate) receipt: ReceiptEnvelope,
    pub(crate) fee: U256,
}

/// The fee the beneficiary receives for `tx` using `gas_used` under `env`.
pub(crate) fn fee(tx: &Recovered<TxEnvelope>, env: &BlockEnv, gas_used: u64) -> U256 {
    let price = tx.effective_gas_price(Some(env.base_fee));
    let tip = if env.hardfork >= Hardfork::London {
        price.saturating_sub(u128::from(env.base_fee))
    } else {
        price
    };
    // In 128 bits, as revm's `reward_beneficiary` computes it (the txpool refuses
    // transactions whose fee could overflow it, so this is the exact product).
    U256::from(tip.wrapping_mul(u128::from(gas_used)))
}

/// The result, receipt (cumulative gas zero for now) and fee of an executed transaction.
pub(crate) fn done(tx: &Recovered<TxEnvelope>, env: &BlockEnv, outcome: ExecutionResult) -> Done {
    ran(tx, env, outcome).into_done(tx)
}

/// An executed transaction's result and fee, without its receipt: what a pre-execution keeps,
/// since most are never reused by a block and the receipt's logs bloom costs a keccak per log
/// address and topic.
#[derive(Debug, Clone)]
pub(crate) struct Ran {
    pub(crate) result: TxResult,
    pub(crate) fee: U256,
}

impl Ran {
    /// Its [`Done`], receipt built.
    pub(crate) fn into_done(self, tx: &Recovered<TxEnvelope>) -> Done {
        let receipt = evm::receipt(tx.inner(), &self.result, 0);
        Done { result: self.result, receipt, fee: self.fee }
    }
}

/// The result and fee of an executed transaction.
pub(crate) fn ran(tx: &Recovered<TxEnvelope>, env: &BlockEnv, outcome: ExecutionResult) -> Ran {
    let result = evm::tx_result(outcome);
    Ran { fee: fee(tx, env, result.gas_used), result }
}
