//! A wallet session, end to end: ETH and ERC-20 transactions of every type through the
//! sequencer's RPC, sealed, posted to L1, verified from L1 alone, and served identically by a
//! replica built from L1.

use std::time::Duration;

use alloy::{
    consensus::TxEip7702,
    eips::{
        BlockNumberOrTag,
        eip2930::{AccessList, AccessListItem},
        eip7702::Authorization,
    },
    network::{EthereumWallet, TransactionBuilder},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::SignerSync,
    sol_types::SolCall,
};
use alloy_primitives::{Address, B256, Bytes, U256, address};
use e2e::processes::{Process, binary};
use sequencer::contracts::TestToken;
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{dev_signer, raw, sign},
};

use crate::cluster::{Cluster, os, wait_until};

const FRIEND: Address = address!("00000000000000000000000000000000000f1e2d");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_session_settles_on_l1_and_verifies_from_l1_alone() {
    let cluster = Cluster::start().await;
    let me = dev_signer(3);
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(me.clone()))
        .connect_http(cluster.l2_url.parse().unwrap());
    let one_gwei = 1_000_000_000u128;

    // ETH: legacy, EIP-2930, EIP-1559 (the wallet fills nonce, gas and fees).
    let legacy = TransactionRequest::default()
        .with_to(FRIEND)
        .with_value(U256::from(1))
        .with_gas_price(2 * one_gwei);
    let access = TransactionRequest::default()
        .with_to(FRIEND)
        .with_value(U256::from(2))
        .with_gas_price(2 * one_gwei)
        .with_access_list(AccessList(vec![AccessListItem {
            address: FRIEND,
            storage_keys: vec![B256::ZERO],
        }]));
    let dynamic = TransactionRequest::default().with_to(FRIEND).with_value(U256::from(3));
    let mut types = Vec::new();
    for request in [legacy, access, dynamic] {
        let receipt = wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
        types.push(receipt.inner.tx_type() as u8);
    }
    assert_eq!(types, vec![0, 1, 2]);
    assert_eq!(wallet.get_balance(FRIEND).await.unwrap(), U256::from(6));

    // ERC-20: deploy, mint, and transfer with each type.
    let deploy = TransactionRequest::default().with_deploy_code(TestToken::BYTECODE.clone());
    let token = wallet
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();
    let call = |input: Vec<u8>| {
        TransactionRequest::default().with_to(token).with_input(Bytes::from(input))
    };
    let mint = TestToken::mintCall { to: me.address(), amount: U256::from(1_000_000) }.abi_encode();
    assert!(
        wallet.send_transaction(call(mint)).await.unwrap().get_receipt().await.unwrap().status()
    );
    let transfer = |amount: u64| {
        TestToken::transferCall { to: FRIEND, amount: U256::from(amount) }.abi_encode()
    };
    for request in [
        call(transfer(10)).with_gas_price(2 * one_gwei),
        call(transfer(20)).with_gas_price(2 * one_gwei).with_access_list(AccessList(vec![
            AccessListItem { address: token, storage_keys: vec![] },
        ])),
        call(transfer(30)),
    ] {
        let receipt = wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status());
        assert_eq!(receipt.inner.logs().len(), 1, "a Transfer event");
    }
    let balance = TestToken::balanceOfCall::new((FRIEND,)).abi_encode();
    let answer = wallet.call(call(balance)).await.unwrap();
    assert_eq!(U256::from_be_slice(&answer), U256::from(60));

    // EIP-7702: an account delegates its code to the token contract, then is called.
    let authority = dev_signer(8);
    let authorization =
        Authorization { chain_id: U256::from(DEV_CHAIN_ID), address: token, nonce: 0 };
    let signature = authority.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let nonce = wallet.get_transaction_count(me.address()).await.unwrap();
    let delegation = TxEip7702 {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10 * one_gwei,
        max_priority_fee_per_gas: one_gwei,
        to: authority.address(),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: vec![authorization.into_signed(signature)],
        input: TestToken::mintCall { to: FRIEND, amount: U256::from(5) }.abi_encode().into(),
    };
    let pending = wallet.send_raw_transaction(&raw(&sign(&me, delegation))).await.unwrap();
    let receipt = pending.get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.tx_type() as u8, 4);
    let code = wallet.get_code_at(authority.address()).await.unwrap();
    assert_eq!(&code[3..], token.as_slice(), "the authority delegates to the token");

    // Everything lands on L1 and the contract holds the sequencer's hashes and roots.
    let head = wallet.get_block_number().await.unwrap();
    cluster.wait_committed(head, Duration::from_secs(60)).await;
    cluster.assert_contract_matches_sequencer().await;
    let l2 = cluster.l2();
    wait_until("the safe tag to reach the head", Duration::from_secs(20), || async {
        l2.get_block_by_number(BlockNumberOrTag::Safe)
            .await
            .ok()
            .flatten()
            .is_some_and(|b| b.header.number >= head)
    })
    .await;

    // From L1 alone: every posted root re-executes, and a replica answers like the sequencer.
    let (code, out) = cluster.derivation(&["verify", "--dev", "--to", &head.to_string()]);
    assert_eq!(code, 0, "{out}");
    let replica_dir = cluster.path("replica");
    let (code, out) =
        cluster.derivation(&["sync", "--dev", "--datadir", replica_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let port = batcher::test_utils::free_port();
    let replica = Process::start(
        "replica",
        binary("sequencer").unwrap(),
        os(&[
            "--dev",
            "--replica",
            "--datadir",
            replica_dir.to_str().unwrap(),
            "--http.port",
            &port.to_string(),
        ]),
        cluster.path("replica.log"),
    )
    .unwrap();
    let replica_rpc: alloy::providers::RootProvider = ProviderBuilder::default()
        .connect_http(format!("http://127.0.0.1:{port}").parse().unwrap());
    wait_until("the replica", Duration::from_secs(30), || async {
        replica_rpc.get_block_number().await.is_ok()
    })
    .await;
    let synced = replica_rpc.get_block_number().await.unwrap();
    assert!(synced >= head, "the replica holds every posted block ({synced} < {head})");
    for number in 0..=head {
        let tag = BlockNumberOrTag::Number(number);
        let ours: serde_json::Value =
            l2.raw_request("eth_getBlockByNumber".into(), (tag, true)).await.unwrap();
        let theirs: serde_json::Value =
            replica_rpc.raw_request("eth_getBlockByNumber".into(), (tag, true)).await.unwrap();
        assert_eq!(ours, theirs, "block {number}");
        let ours: serde_json::Value =
            l2.raw_request("eth_getBlockReceipts".into(), (tag,)).await.unwrap();
        let theirs: serde_json::Value =
            replica_rpc.raw_request("eth_getBlockReceipts".into(), (tag,)).await.unwrap();
        assert_eq!(ours, theirs, "receipts of block {number}");
    }
    for account in [me.address(), FRIEND, authority.address(), token] {
        let at = head.into();
        assert_eq!(
            l2.get_balance(account).block_id(at).await.unwrap(),
            replica_rpc.get_balance(account).block_id(at).await.unwrap()
        );
        assert_eq!(
            l2.get_code_at(account).block_id(at).await.unwrap(),
            replica_rpc.get_code_at(account).block_id(at).await.unwrap()
        );
    }
    drop(replica);
}
