//! What a load run sends: deterministic accounts, the setup that funds them (and deploys the
//! contract the workload calls), and the workload's transactions, all signed before timing
//! starts so the endpoint, not the signer, is measured.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{
        eip2718::Encodable2718,
        eip2930::{AccessList, AccessListItem},
    },
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use rayon::prelude::*;
use serde::Serialize;

use sequencer::contracts::{
    COUNTER_BY_CALLER_SLOT, COUNTER_COUNT_SLOT, Counter, TOKEN_BALANCES_SLOT, TestToken,
    mapping_slot,
};

/// The workloads of the load tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Independent ETH transfers to fresh addresses.
    Eth,
    /// ERC-20 transfers (a token deployed first) to fresh addresses.
    Erc20,
    /// Every transaction increments one shared counter contract.
    Hot,
    /// 80% ETH transfers, 20% counter increments, interleaved.
    Mixed,
}

/// Gas limits per kind of transaction.
const TRANSFER_GAS: u64 = 21_000;
const TOKEN_GAS: u64 = 60_000;
const COUNTER_GAS: u64 = 80_000;
/// The least ETH each load account starts with.
const MIN_ACCOUNT_FUNDS: u128 = 1_000_000_000_000_000_000; // 1 ETH

/// What each load account is funded with: enough for all its transactions at once at their
/// gas limit × fee cap (a pool may hold them all together only if the balance covers them, as
/// geth's and ours require), with a 10% margin, and at least [`MIN_ACCOUNT_FUNDS`].
fn account_funds(config: &PlanConfig) -> U256 {
    let per_account = config.txs.div_ceil(config.accounts.max(1)) as u128;
    let most_gas = u128::from(TRANSFER_GAS.max(TOKEN_GAS).max(COUNTER_GAS));
    let each = most_gas.saturating_mul(config.fees.max_fee).saturating_add(1);
    let all = per_account.saturating_mul(each);
    U256::from(all.saturating_add(all / 10).max(MIN_ACCOUNT_FUNDS))
}

/// Fees every transaction of the run offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// Max fee per gas.
    pub max_fee: u128,
    /// Max priority fee per gas.
    pub tip: u128,
}

/// The load's parameters.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// Chain id of the endpoint.
    pub chain_id: u64,
    /// The workload.
    pub workload: Workload,
    /// Transactions to send.
    pub txs: usize,
    /// Accounts they are spread over.
    pub accounts: usize,
    /// Declare exact EIP-2930 access lists.
    pub access_lists: bool,
    /// Seed of the accounts and recipients.
    pub seed: u64,
    /// Fees.
    pub fees: Fees,
}

/// One signed transaction ready to send.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Its hash.
    pub hash: B256,
    /// Its EIP-2718 bytes.
    pub raw: Bytes,
    /// The index of its sender among the load accounts (`usize::MAX` for the funder).
    pub sender: usize,
}

/// The setup and the load, signed.
#[derive(Debug)]
pub struct Plan {
    /// The load accounts.
    pub accounts: Vec<Address>,
    /// The contract the workload calls, if any.
    pub contract: Option<Address>,
    /// Funding (and deployment) transactions from the funder, in nonce order.
    pub setup: Vec<Signed>,
    /// The load, each account's transactions in nonce order.
    pub load: Vec<Signed>,
}

/// The `i`-th load account of `seed`.
pub fn account_key(seed: u64, i: usize) -> PrivateKeySigner {
    let mut preimage = b"rollup-load-account".to_vec();
    preimage.extend_from_slice(&seed.to_be_bytes());
    preimage.extend_from_slice(&(i as u64).to_be_bytes());
    PrivateKeySigner::from_bytes(&keccak256(preimage)).expect("a keccak output is a valid key")
}

/// A fresh recipient (never a load account).
fn recipient(seed: u64, j: usize) -> Address {
    let mut preimage = b"rollup-load-recipient".to_vec();
    preimage.extend_from_slice(&seed.to_be_bytes());
    preimage.extend_from_slice(&(j as u64).to_be_bytes());
    Address::from_slice(&keccak256(preimage)[12..])
}

fn sign(signer: &PrivateKeySigner, mut tx: TxEip1559, sender: usize) -> Signed {
    let signature = signer.sign_transaction_sync(&mut tx).expect("local keys sign");
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Signed { hash: *envelope.tx_hash(), raw: envelope.encoded_2718().into(), sender }
}

fn call(
    config: &PlanConfig,
    nonce: u64,
    to: TxKind,
    gas_limit: u64,
    input: Bytes,
    value: U256,
) -> TxEip1559 {
    TxEip1559 {
        chain_id: config.chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: config.fees.max_fee,
        max_priority_fee_per_gas: config.fees.tip,
        to,
        value,
        input,
        access_list: AccessList::default(),
    }
}

/// Signs the setup (from `funder`, starting at `funder_nonce`) and the load.
pub fn plan(config: &PlanConfig, funder: &PrivateKeySigner, funder_nonce: u64) -> Plan {
    let keys: Vec<PrivateKeySigner> =
        (0..config.accounts).into_par_iter().map(|i| account_key(config.seed, i)).collect();
    let accounts: Vec<Address> = keys.iter().map(PrivateKeySigner::address).collect();
    let mut nonce = funder_nonce;
    let mut setup = Vec::new();
    let contract = match config.workload {
        Workload::Eth => None,
        Workload::Erc20 | Workload::Hot | Workload::Mixed => {
            let code = match config.workload {
                Workload::Erc20 => TestToken::BYTECODE.clone(),
                _ => Counter::BYTECODE.clone(),
            };
            let address = funder.address().create(nonce);
            setup.push(sign(
                funder,
                call(config, nonce, TxKind::Create, 2_000_000, code, U256::ZERO),
                usize::MAX,
            ));
            nonce += 1;
            Some(address)
        }
    };
    let funds = account_funds(config);
    for account in &accounts {
        let fund = call(config, nonce, TxKind::Call(*account), TRANSFER_GAS, Bytes::new(), funds);
        setup.push(sign(funder, fund, usize::MAX));
        nonce += 1;
        if let (Workload::Erc20, Some(token)) = (config.workload, contract) {
            let mint = TestToken::mintCall { to: *account, amount: U256::from(10u128.pow(24)) }
                .abi_encode();
            setup.push(sign(
                funder,
                call(config, nonce, TxKind::Call(token), 100_000, mint.into(), U256::ZERO),
                usize::MAX,
            ));
            nonce += 1;
        }
    }

    // Transaction i is sent by account i % accounts, with that account's next nonce.
    let load = (0..config.txs)
        .into_par_iter()
        .map(|i| {
            let sender = i % config.accounts;
            let nonce = (i / config.accounts) as u64;
            let key = &keys[sender];
            let to = recipient(config.seed, i);
            let hot = match config.workload {
                Workload::Hot => true,
                Workload::Mixed => i % 5 == 4,
                Workload::Eth | Workload::Erc20 => false,
            };
            let mut tx = if hot {
                let counter = contract.expect("deployed");
                let mut tx = call(
                    config,
                    nonce,
                    TxKind::Call(counter),
                    COUNTER_GAS,
                    Counter::incrementCall {}.abi_encode().into(),
                    U256::ZERO,
                );
                if config.access_lists {
                    tx.access_list = AccessList(vec![AccessListItem {
                        address: counter,
                        storage_keys: vec![
                            B256::from(U256::from(COUNTER_COUNT_SLOT)),
                            mapping_slot(key.address(), COUNTER_BY_CALLER_SLOT).into(),
                        ],
                    }]);
                }
                tx
            } else if config.workload == Workload::Erc20 {
                let token = contract.expect("deployed");
                let amount = U256::from(1 + i % 1_000);
                let input = TestToken::transferCall { to, amount }.abi_encode();
                let mut tx =
                    call(config, nonce, TxKind::Call(token), TOKEN_GAS, input.into(), U256::ZERO);
                if config.access_lists {
                    tx.access_list = AccessList(vec![AccessListItem {
                        address: token,
                        storage_keys: vec![
                            mapping_slot(key.address(), TOKEN_BALANCES_SLOT).into(),
                            mapping_slot(to, TOKEN_BALANCES_SLOT).into(),
                        ],
                    }]);
                }
                tx
            } else {
                call(config, nonce, TxKind::Call(to), TRANSFER_GAS, Bytes::new(), U256::from(1))
            };
            tx.chain_id = config.chain_id;
            sign(key, tx, sender)
        })
        .collect();
    Plan { accounts, contract, setup, load }
}
