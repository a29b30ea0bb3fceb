//! Helpers for tests and benchmarks: dev signers, transaction signing, small hand-assembled
//! contracts and seeded workloads (over the workload contracts of [`crate::contracts`]).

pub mod mainnet;
pub mod workload;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::Recovered},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};

use crate::genesis::DEV_ACCOUNTS;

/// The block after `store`'s head that carries `prepared`'s state and no transactions: what
/// tests and benchmarks of the store commit when they need blocks but not execution.
pub fn state_only_block(
    store: &crate::store::Store,
    prepared: &crate::store::PreparedState,
) -> crate::store::StoredBlock {
    let head = store.head();
    let header = alloy::consensus::Header {
        number: head.0.number + 1,
        parent_hash: head.1,
        state_root: prepared.state_root,
        ..Default::default()
    };
    let hash = header.hash_slow();
    crate::store::StoredBlock { header, hash, transactions: vec![], receipts: vec![] }
}

/// `txs` with the txpool's pre-execution results attached, as admission attaches them
/// (`hints` in the same order, e.g. from [`crate::executor::infer_batch`]).
pub fn with_hints(
    txs: &[crate::executor::ExecTx],
    hints: Vec<Option<crate::executor::Inference>>,
) -> Vec<crate::executor::ExecTx> {
    txs.iter()
        .zip(hints)
        .map(|(tx, hint)| crate::executor::ExecTx {
            hint: hint.map(std::sync::Arc::new),
            ..tx.clone()
        })
        .collect()
}

/// The signer of dev account `i` (0..10).
///
/// # Panics
/// If `i` is 10 or more.
pub fn dev_signer(i: usize) -> PrivateKeySigner {
    DEV_ACCOUNTS[i].1.parse().expect("dev keys are valid")
}

/// Signs `tx` with `signer`.
///
/// # Panics
/// If signing fails (it cannot for a local key).
pub fn sign<T: SignableTransaction<alloy_primitives::Signature>>(
    signer: &PrivateKeySigner,
    mut tx: T,
) -> TxEnvelope
where
    TxEnvelope: From<alloy::consensus::Signed<T>>,
{
    let signature = signer.sign_transaction_sync(&mut tx).expect("local signing");
    TxEnvelope::from(tx.into_signed(signature))
}

/// Signs `tx` and returns it with its sender, as the txpool would after recovery.
pub fn sign_recovered<T: SignableTransaction<alloy_primitives::Signature>>(
    signer: &PrivateKeySigner,
    tx: T,
) -> Recovered<TxEnvelope>
where
    TxEnvelope: From<alloy::consensus::Signed<T>>,
{
    Recovered::new_unchecked(sign(signer, tx), signer.address())
}

/// EIP-2718 bytes of a signed transaction.
pub fn raw(tx: &TxEnvelope) -> Bytes {
    tx.encoded_2718().into()
}

/// An EIP-1559 ETH transfer.
pub fn transfer(chain_id: u64, nonce: u64, to: Address, value: U256) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: TxKind::Call(to),
        value,
        ..Default::default()
    }
}

/// Init code of a tiny storage contract. Called with empty calldata it returns slot 0; called
/// with any 4-byte selector and a word, it stores the word in slot 0 and emits
/// `Set(uint256)` with the word as data.
pub fn storage_contract_init() -> Bytes {
    let topic = keccak256("Set(uint256)");
    let mut runtime = vec![
        0x36, 0x60, 0x0f, 0x57, // CALLDATASIZE PUSH1 set JUMPI
        0x60, 0x00, 0x54, 0x60, 0x00, 0x52, // SLOAD(0) MSTORE(0)
        0x60, 0x20, 0x60, 0x00, 0xf3, // RETURN(0, 32)
        0x5b, // set: JUMPDEST
        0x60, 0x04, 0x35, 0x80, // CALLDATALOAD(4) DUP1
        0x60, 0x00, 0x55, // SSTORE(0, v)
        0x60, 0x00, 0x52, // MSTORE(0, v)
        0x7f, // PUSH32 topic
    ];
    runtime.extend_from_slice(topic.as_slice());
    runtime.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1, 0x00]); // LOG1(0, 32, topic) STOP
    let len = runtime.len() as u8;
    let mut init = vec![0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3];
    init.extend_from_slice(&runtime);
    init.into()
}

/// The topic of the storage contract's `Set(uint256)` event.
pub fn storage_contract_event() -> alloy_primitives::B256 {
    keccak256("Set(uint256)")
}

/// Calldata storing `value` in the storage contract.
pub fn storage_contract_set(value: U256) -> Bytes {
    let mut data = vec![0x60, 0xfe, 0x47, 0xb1]; // any selector
    data.extend_from_slice(&value.to_be_bytes::<32>());
    data.into()
}

/// An EIP-1559 transaction deploying the storage contract ([`storage_contract_init`]).
pub fn deploy_storage_contract(chain_id: u64, nonce: u64) -> TxEip1559 {
    TxEip1559 {
        gas_limit: 300_000,
        to: TxKind::Create,
        input: storage_contract_init(),
        ..transfer(chain_id, nonce, Address::ZERO, U256::ZERO)
    }
}

/// An EIP-1559 call storing `value` in the storage contract at `contract`.
pub fn set_storage(chain_id: u64, nonce: u64, contract: Address, value: U256) -> TxEip1559 {
    TxEip1559 {
        gas_limit: 100_000,
        input: storage_contract_set(value),
        ..transfer(chain_id, nonce, contract, U256::ZERO)
    }
}

/// Init code of a contract whose runtime always reverts with `Error("nope")`.
pub fn reverting_contract_init() -> Bytes {
    // Runtime: store the ABI-encoded Error(string) in memory and REVERT with it.
    let reason = alloy::sol_types::Revert::from("nope");
    let data = alloy::sol_types::SolError::abi_encode(&reason);
    let mut runtime = Vec::new();
    for (i, chunk) in data.chunks(32).enumerate() {
        let mut word = [0u8; 32];
        word[..chunk.len()].copy_from_slice(chunk);
        runtime.push(0x7f);
        runtime.extend_from_slice(&word);
        runtime.extend_from_slice(&[0x60, (i * 32) as u8, 0x52]); // MSTORE(i*32, word)
    }
    runtime.extend_from_slice(&[0x60, data.len() as u8, 0x60, 0x00, 0xfd]); // REVERT(0, len)
    let len = runtime.len() as u8;
    let mut init = vec![0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3];
    init.extend_from_slice(&runtime);
    init.into()
}
