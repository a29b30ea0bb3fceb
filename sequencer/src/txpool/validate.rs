//! Admission checks that need no state: decoding, type, chain id, signature, size, gas and fee
//! rules of the chain's hardfork. Sender recovery happens here, once per transaction.

use alloy::{
    consensus::{
        Transaction as _, TxEnvelope, transaction::Recovered, transaction::SignerRecoverable,
    },
    eips::eip2718::Decodable2718,
};
use alloy_primitives::{B256, TxKind};

use super::PoolError;
use crate::chain::{Hardfork, TX_GAS_LIMIT_CAP};

/// Largest accepted encoded transaction: 128 KiB, as geth.
pub const MAX_TX_BYTES: usize = 128 * 1024;

/// EIP-3860: the largest contract creation code.
pub const MAX_INITCODE_SIZE: usize = 2 * 24_576;

/// The rules admission checks a transaction against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRules {
    /// This chain's id.
    pub chain_id: u64,
    /// The hardfork blocks run under.
    pub hardfork: Hardfork,
    /// The block gas limit.
    pub block_gas_limit: u64,
    /// The lowest max fee per gas accepted.
    pub min_fee: u128,
    /// The largest encoded transaction accepted.
    pub max_tx_bytes: usize,
}

/// A transaction that passed the stateless checks, with its sender recovered.
#[derive(Debug, Clone)]
pub struct CheckedTx {
    /// The transaction and its sender.
    pub tx: Recovered<TxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Its EIP-2718 encoded size.
    pub size: usize,
    /// Its pre-execution against the latest state, when one was run (contract calls).
    pub inference: Option<std::sync::Arc<crate::executor::Inference>>,
}

/// Equal transactions are equal checked transactions: the inference is derived data.
impl PartialEq for CheckedTx {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.tx.signer() == other.tx.signer() && self.size == other.size
    }
}

impl Eq for CheckedTx {}

/// Decodes `raw` and runs every stateless check, recovering the sender.
///
/// # Errors
/// The first rule the transaction breaks.
pub fn check_raw(raw: &[u8], rules: &ValidationRules) -> Result<CheckedTx, PoolError> {
    if raw.len() > rules.max_tx_bytes {
        return Err(PoolError::Oversized { size: raw.len(), max: rules.max_tx_bytes });
    }
    match raw.first() {
        None => return Err(PoolError::Decode("empty transaction".into())),
        Some(3) => return Err(PoolError::BlobNotSupported),
        Some(&ty) if (5..0x80).contains(&ty) => return Err(PoolError::UnsupportedType(ty)),
        _ => {}
    }
    let tx = TxEnvelope::decode_2718_exact(raw).map_err(|e| PoolError::Decode(e.to_string()))?;
    check_decoded(tx, raw.len(), rules)
}

/// Runs the stateless checks on a decoded transaction of encoded size `size`.
///
/// # Errors
/// The first rule the transaction breaks.
pub fn check_decoded(
    tx: TxEnvelope,
    size: usize,
    rules: &ValidationRules,
) -> Result<CheckedTx, PoolError> {
    if tx.is_eip4844() {
        return Err(PoolError::BlobNotSupported);
    }
    match tx.chain_id() {
        None => return Err(PoolError::NotReplayProtected),
        Some(id) if id != rules.chain_id => {
            return Err(PoolError::WrongChainId { expected: rules.chain_id, got: id });
        }
        Some(_) => {}
    }
    let gas = tx.gas_limit();
    if gas > rules.block_gas_limit {
        return Err(PoolError::ExceedsBlockGasLimit { gas, block: rules.block_gas_limit });
    }
    if rules.hardfork >= Hardfork::Osaka && gas > TX_GAS_LIMIT_CAP {
        return Err(PoolError::GasLimitTooHigh { gas, cap: TX_GAS_LIMIT_CAP });
    }
    let is_create = tx.kind() == TxKind::Create;
    if is_create && rules.hardfork >= Hardfork::Shanghai && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(PoolError::InitcodeTooLarge { size: tx.input().len(), max: MAX_INITCODE_SIZE });
    }
    if tx.is_eip7702() && tx.authorization_list().is_none_or(<[_]>::is_empty) {
        return Err(PoolError::EmptyAuthorizationList);
    }
    let gas_cost = intrinsic_gas(&tx, rules.hardfork);
    if gas < gas_cost.intrinsic {
        return Err(PoolError::IntrinsicGasTooLow { gas, needed: gas_cost.intrinsic });
    }
    if gas < gas_cost.floor {
        return Err(PoolError::FloorDataGas { gas, needed: gas_cost.floor });
    }
    let max_fee = tx.max_fee_per_gas();
    if max_fee < rules.min_fee {
        return Err(PoolError::Underpriced { fee: max_fee, min: rules.min_fee });
    }
    if tx.max_priority_fee_per_gas().is_some_and(|tip| tip > max_fee) {
        return Err(PoolError::TipAboveFeeCap);
    }
    if max_fee.checked_mul(u128::from(gas)).is_none() {
        return Err(PoolError::FeeCapTooHigh);
    }
    let hash = *tx.tx_hash();
    let sender = tx.recover_signer().map_err(|_| PoolError::InvalidSender)?;
    Ok(CheckedTx { tx: Recovered::new_unchecked(tx, sender), hash, size, inference: None })
}

/// The gas a transaction pays before executing anything, and the EIP-7623 floor its gas limit
/// must also cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntrinsicGas {
    /// Base cost, calldata, access list, creation and authorizations.
    pub intrinsic: u64,
    /// EIP-7623 minimum (zero before Prague).
    pub floor: u64,
}

/// The intrinsic gas of `tx` under `fork` (Istanbul calldata prices and later).
pub fn intrinsic_gas(tx: &TxEnvelope, fork: Hardfork) -> IntrinsicGas {
    let input = tx.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let non_zeros = input.len() as u64 - zeros;
    let mut gas = 21_000 + zeros * 4 + non_zeros * 16;
    if tx.kind() == TxKind::Create {
        gas += 32_000;
        if fork >= Hardfork::Shanghai {
            gas += 2 * (input.len() as u64).div_ceil(32);
        }
    }
    if let Some(list) = tx.access_list() {
        let slots: usize = list.iter().map(|item| item.storage_keys.len()).sum();
        gas += 2_400 * list.len() as u64 + 1_900 * slots as u64;
    }
    if let Some(auths) = tx.authorization_list() {
        gas += 25_000 * auths.len() as u64;
    }
    let floor = if fork >= Hardfork::Prague { 21_000 + 10 * (zeros + 4 * non_zeros) } else { 0 };
    IntrinsicGas { intrinsic: gas, floor }
}

#[cfg(test)]
mod tests {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxLegacy},
        eips::eip2718::Encodable2718,
        network::TxSignerSync,
        signers::local::PrivateKeySigner,
    };
    use alloy_primitives::{Address, U256};

    use super::*;
    use crate::genesis::DEV_ACCOUNTS;

    fn rules() -> ValidationRules {
        ValidationRules {
            chain_id: 7,
            hardfork: Hardfork::Osaka,
            block_gas_limit: 30_000_000,
            min_fee: 1,
            max_tx_bytes: MAX_TX_BYTES,
        }
    }

    fn signer() -> PrivateKeySigner {
        DEV_ACCOUNTS[0].1.parse().unwrap()
    }

    fn eip1559(chain_id: u64, gas_limit: u64) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id,
            nonce: 0,
            gas_limit,
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    #[test]
    fn accepts_a_valid_transfer_and_recovers_the_sender() {
        let checked = check_raw(&eip1559(7, 21_000), &rules()).unwrap();
        assert_eq!(checked.tx.signer(), DEV_ACCOUNTS[0].0);
    }

    #[test]
    fn rejects_wrong_chain_for_every_type_including_legacy() {
        assert_eq!(
            check_raw(&eip1559(8, 21_000), &rules()),
            Err(PoolError::WrongChainId { expected: 7, got: 8 })
        );
        let mut legacy = TxLegacy {
            chain_id: Some(8),
            gas_limit: 21_000,
            gas_price: 10,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut legacy).unwrap();
        let raw = TxEnvelope::from(legacy.clone().into_signed(sig)).encoded_2718();
        assert_eq!(check_raw(&raw, &rules()), Err(PoolError::WrongChainId { expected: 7, got: 8 }));
        legacy.chain_id = None;
        let sig = signer().sign_transaction_sync(&mut legacy).unwrap();
        let raw = TxEnvelope::from(legacy.into_signed(sig)).encoded_2718();
        assert_eq!(check_raw(&raw, &rules()), Err(PoolError::NotReplayProtected));
    }

    #[test]
    fn rejects_low_intrinsic_gas_blobs_and_garbage() {
        assert_eq!(
            check_raw(&eip1559(7, 20_000), &rules()),
            Err(PoolError::IntrinsicGasTooLow { gas: 20_000, needed: 21_000 })
        );
        assert_eq!(check_raw(&[3, 0xc0], &rules()), Err(PoolError::BlobNotSupported));
        assert!(matches!(check_raw(&[2, 1, 2], &rules()), Err(PoolError::Decode(_))));
        assert!(matches!(check_raw(&[], &rules()), Err(PoolError::Decode(_))));
        let big = vec![0u8; MAX_TX_BYTES + 1];
        assert!(matches!(check_raw(&big, &rules()), Err(PoolError::Oversized { .. })));
    }

    #[test]
    fn rejects_a_fee_cap_whose_fee_overflows_128_bits() {
        let sign = |max_fee_per_gas: u128| {
            let mut tx = TxEip1559 {
                chain_id: 7,
                gas_limit: 21_000,
                max_fee_per_gas,
                max_priority_fee_per_gas: max_fee_per_gas,
                to: TxKind::Call(Address::ZERO),
                ..Default::default()
            };
            let sig = signer().sign_transaction_sync(&mut tx).unwrap();
            TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
        };
        assert_eq!(check_raw(&sign(1 << 114), &rules()), Err(PoolError::FeeCapTooHigh));
        assert!(check_raw(&sign(u128::MAX / 21_000), &rules()).is_ok());
    }

    #[test]
    fn intrinsic_gas_counts_calldata_and_floor() {
        let tx = TxEip1559 {
            input: vec![0, 1, 0, 2].into(),
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut tx.clone()).unwrap();
        let env = TxEnvelope::from(tx.into_signed(sig));
        let gas = intrinsic_gas(&env, Hardfork::Prague);
        assert_eq!(gas.intrinsic, 21_000 + 2 * 4 + 2 * 16);
        assert_eq!(gas.floor, 21_000 + 10 * (2 + 4 * 2));
    }
}
