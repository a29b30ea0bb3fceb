//! The node driven like a wallet drives it: alloy's provider with a local signer over real
//! HTTP, raw JSON-RPC for malformed input, and WebSocket subscriptions.

use std::{path::PathBuf, time::Duration};

use alloy::{
    consensus::{TxEip1559, TxEip2930, TxEip7702, TxLegacy},
    eips::{
        BlockNumberOrTag,
        eip2930::{AccessList, AccessListItem},
        eip7702::Authorization,
    },
    network::{EthereumWallet, TransactionBuilder},
    providers::{Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionReceipt, TransactionRequest},
    signers::SignerSync,
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
};
use sequencer::{
    genesis::{DEV_BALANCE, DEV_CHAIN_ID, Genesis},
    node::{NodeConfig, NodeHandle, spawn},
    test_utils::{
        deploy_storage_contract, dev_signer, raw, reverting_contract_init, set_storage, sign,
        storage_contract_event, storage_contract_init, storage_contract_set, transfer,
    },
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RECIPIENT: Address = address!("00000000000000000000000000000000000c0ffe");

pub(crate) struct TestNode {
    pub(crate) handle: NodeHandle,
    dir: tempfile::TempDir,
}

impl TestNode {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(configure: impl FnOnce(&mut NodeConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::for_tests(dir.path().to_path_buf());
        configure(&mut config);
        Self { handle: spawn(config).await.unwrap(), dir }
    }

    /// Stops the node and starts a new one on the same datadir.
    pub(crate) async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`Self::restart`] with a changed configuration.
    pub(crate) async fn restart_with(self, configure: impl FnOnce(&mut NodeConfig)) -> Self {
        let Self { handle, dir } = self;
        handle.stop().await;
        let mut config = NodeConfig::for_tests(dir.path().to_path_buf());
        configure(&mut config);
        let handle = spawn(config).await.unwrap();
        Self { handle, dir }
    }

    pub(crate) fn provider(&self) -> impl Provider + use<> {
        ProviderBuilder::new().connect_http(self.handle.http_url().parse().unwrap())
    }

    fn wallet(&self, i: usize) -> impl Provider + use<> {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(dev_signer(i)))
            .connect_http(self.handle.http_url().parse().unwrap())
    }

    /// A WebSocket client of the node.
    async fn ws(&self) -> jsonrpsee_ws_client::WsClient {
        jsonrpsee_ws_client::WsClientBuilder::default().build(self.handle.ws_url()).await.unwrap()
    }

    #[allow(dead_code)] // used by other test modules
    pub(crate) fn datadir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// `eth_subscribe("newHeads")` over `ws`.
async fn subscribe_new_heads(
    ws: &jsonrpsee_ws_client::WsClient,
) -> Result<jsonrpsee::core::client::Subscription<serde_json::Value>, jsonrpsee::core::client::Error>
{
    ws.subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe").await
}

pub(crate) async fn send_raw(provider: &impl Provider, raw: &[u8]) -> TransactionReceipt {
    tokio::time::timeout(Duration::from_secs(30), async {
        provider.send_raw_transaction(raw).await.unwrap().get_receipt().await.unwrap()
    })
    .await
    .expect("receipt within 30 s")
}

/// Posts `body` to the node and returns (HTTP status, body).
pub(crate) async fn http_post(node: &TestNode, body: &[u8]) -> (u16, String) {
    http_post_to(node.handle.rpc_addr(), body).await
}

/// [`http_post`] to an address (for tasks that do not borrow the node).
async fn http_post_to(addr: std::net::SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_chain_basics() {
    let node = TestNode::start().await;
    let provider = node.provider();
    assert_eq!(provider.get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    assert_eq!(provider.get_block_number().await.unwrap(), 0);
    assert_eq!(provider.get_net_version().await.unwrap(), DEV_CHAIN_ID);
    assert!(provider.get_client_version().await.unwrap().starts_with("rollup-sequencer/"));
    assert_eq!(provider.get_balance(dev_signer(3).address()).await.unwrap(), DEV_BALANCE);
    let genesis = provider.get_block_by_number(BlockNumberOrTag::Earliest).await.unwrap().unwrap();
    let expected = sequencer::store::GenesisBlock::new(&Genesis::dev()).unwrap();
    assert_eq!(genesis.header.hash, expected.hash);
    assert_eq!(genesis.header.state_root, expected.state_root());
    let listening: bool = provider.raw_request("net_listening".into(), ()).await.unwrap();
    assert!(listening);
    let syncing: bool = provider.raw_request("eth_syncing".into(), ()).await.unwrap();
    assert!(!syncing);
    let sha: B256 = provider.raw_request("web3_sha3".into(), ("0x68656c6c6f",)).await.unwrap();
    assert_eq!(sha, alloy_primitives::keccak256("hello"));
    assert!(provider.get_block_by_number(BlockNumberOrTag::Number(99)).await.unwrap().is_none());
    assert!(provider.get_transaction_receipt(B256::repeat_byte(7)).await.unwrap().is_none());

    // The methods a wallet or explorer probes, answered as geth answers them on a chain
    // without uncles or blobs.
    let coinbase: Address = provider.raw_request("eth_coinbase".into(), ()).await.unwrap();
    assert_eq!(coinbase, Genesis::dev().coinbase);
    assert_eq!(provider.get_blob_base_fee().await.unwrap(), 1);
    let uncles: Option<U256> = provider
        .raw_request("eth_getUncleCountByBlockHash".into(), (expected.hash,))
        .await
        .unwrap();
    assert_eq!(uncles, Some(U256::ZERO));
    let unknown: Option<U256> = provider
        .raw_request("eth_getUncleCountByBlockHash".into(), (B256::repeat_byte(9),))
        .await
        .unwrap();
    assert_eq!(unknown, None);
    let uncle: Option<serde_json::Value> = provider
        .raw_request("eth_getUncleByBlockHashAndIndex".into(), (expected.hash, "0x0"))
        .await
        .unwrap();
    assert_eq!(uncle, None);
    let uncle: Option<serde_json::Value> = provider
        .raw_request("eth_getUncleByBlockNumberAndIndex".into(), ("latest", "0x0"))
        .await
        .unwrap();
    assert_eq!(uncle, None);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn includes_every_transaction_type() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(1);
    let one = U256::from(1_000_000_000u64);

    let legacy = TxLegacy {
        chain_id: Some(DEV_CHAIN_ID),
        nonce: 0,
        gas_price: 2_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: one,
        input: Bytes::new(),
    };
    let receipt = send_raw(&provider, &raw(&sign(&signer, legacy))).await;
    assert!(receipt.status());
    assert_eq!(receipt.inner.tx_type() as u8, 0);

    let access = TxEip2930 {
        chain_id: DEV_CHAIN_ID,
        nonce: 1,
        gas_price: 2_000_000_000,
        gas_limit: 30_000,
        to: TxKind::Call(RECIPIENT),
        value: one,
        access_list: AccessList(vec![AccessListItem {
            address: RECIPIENT,
            storage_keys: vec![B256::ZERO],
        }]),
        input: Bytes::new(),
    };
    let receipt = send_raw(&provider, &raw(&sign(&signer, access))).await;
    assert!(receipt.status());
    assert_eq!(receipt.gas_used, 21_000 + 2_400 + 1_900);

    let receipt =
        send_raw(&provider, &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 2, RECIPIENT, one)))).await;
    assert!(receipt.status());
    assert_eq!(receipt.inner.tx_type() as u8, 2);

    // EIP-7702: account 2 delegates its code to the storage contract, then is called.
    let deployer = node.wallet(0);
    let deploy = TransactionRequest::default().with_deploy_code(storage_contract_init());
    let deployed = deployer.send_transaction(deploy).await.unwrap().get_receipt().await.unwrap();
    let target = deployed.contract_address.unwrap();
    let authority = dev_signer(2);
    let authorization =
        Authorization { chain_id: U256::from(DEV_CHAIN_ID), address: target, nonce: 0 };
    let signature = authority.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let delegation = TxEip7702 {
        chain_id: DEV_CHAIN_ID,
        nonce: 3,
        gas_limit: 100_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000,
        to: authority.address(),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: vec![authorization.into_signed(signature)],
        input: storage_contract_set(U256::from(7)),
    };
    let receipt = send_raw(&provider, &raw(&sign(&signer, delegation))).await;
    assert!(receipt.status());
    assert_eq!(receipt.inner.tx_type() as u8, 4);
    let code = provider.get_code_at(authority.address()).await.unwrap();
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
    assert_eq!(&code[3..], target.as_slice());
    let slot = provider.get_storage_at(authority.address(), U256::ZERO).await.unwrap();
    assert_eq!(slot, U256::from(7));

    assert_eq!(provider.get_balance(RECIPIENT).await.unwrap(), one * U256::from(3));
    assert_eq!(provider.get_transaction_count(signer.address()).await.unwrap(), 4);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_contract_reads_writes_and_filters_logs() {
    let node = TestNode::start().await;
    let wallet = node.wallet(0);
    let deploy = TransactionRequest::default().with_deploy_code(storage_contract_init());
    let receipt = wallet.send_transaction(deploy).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let contract = receipt.contract_address.expect("creation receipt has the address");
    assert!(!wallet.get_code_at(contract).await.unwrap().is_empty());

    let get = TransactionRequest::default().with_to(contract);
    assert_eq!(
        wallet.call(get.clone()).await.unwrap(),
        Bytes::from(U256::ZERO.to_be_bytes::<32>())
    );

    let filter_id = wallet.new_filter(&Filter::new().address(contract)).await.unwrap();
    let set = TransactionRequest::default()
        .with_to(contract)
        .with_input(storage_contract_set(U256::from(42)));
    let receipt = wallet.send_transaction(set).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs().len(), 1);
    let log = &receipt.inner.logs()[0];
    assert_eq!(log.topics()[0], storage_contract_event());
    assert_eq!(log.log_index, Some(0));
    assert_eq!(log.transaction_hash, Some(receipt.transaction_hash));

    assert_eq!(wallet.call(get).await.unwrap(), Bytes::from(U256::from(42).to_be_bytes::<32>()));
    assert_eq!(wallet.get_storage_at(contract, U256::ZERO).await.unwrap(), U256::from(42));

    let logs = wallet
        .get_logs(
            &Filter::new()
                .address(contract)
                .event_signature(storage_contract_event())
                .from_block(0u64),
        )
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    let changes: Vec<alloy::rpc::types::Log> = wallet.get_filter_changes(filter_id).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].block_number, receipt.block_number);
    let again: Vec<alloy::rpc::types::Log> = wallet.get_filter_changes(filter_id).await.unwrap();
    assert!(again.is_empty(), "a filter reports each log once");

    // Receipts of the whole block, and the block with full transactions.
    let block_number = receipt.block_number.unwrap();
    let receipts = wallet.get_block_receipts(block_number.into()).await.unwrap().unwrap();
    assert_eq!(receipts.len(), 1);
    let block = wallet.get_block_by_number(block_number.into()).full().await.unwrap().unwrap();
    assert_eq!(block.transactions.len(), 1);
    assert_eq!(block.header.receipts_root, block.header.receipts_root);

    // A reverting call answers code 3 with the revert data, like geth.
    let deploy = TransactionRequest::default().with_deploy_code(reverting_contract_init());
    let reverter = wallet
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();
    let err = wallet.call(TransactionRequest::default().with_to(reverter)).await.unwrap_err();
    let payload = err.as_error_resp().expect("an RPC error");
    assert_eq!(payload.code, 3);
    assert_eq!(payload.message, "execution reverted: nope");
    assert!(payload.data.is_some());
    let err =
        wallet.estimate_gas(TransactionRequest::default().with_to(reverter)).await.unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().code, 3);
    node.handle.stop().await;
}

/// Sends a raw transaction that must be rejected and returns (code, message).
async fn rejection(node: &TestNode, raw: &[u8]) -> (i64, String) {
    let err = node.provider().send_raw_transaction(raw).await.expect_err("rejected");
    let payload = err.as_error_resp().expect("an RPC error").clone();
    (payload.code, payload.message.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn rejects_bad_transactions_and_keeps_serving() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(4);
    let receipt = send_raw(
        &provider,
        &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))),
    )
    .await;
    assert!(receipt.status());

    let (code, message) =
        rejection(&node, &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))))
            .await;
    assert_eq!((code, message.as_str()), (-32000, "nonce too low: next nonce 1, tx nonce 0"));

    let (_, message) =
        rejection(&node, &raw(&sign(&signer, transfer(1, 1, RECIPIENT, U256::from(1))))).await;
    assert_eq!(message, "invalid chain id for signer");
    let legacy_other_chain = TxLegacy {
        chain_id: Some(1),
        nonce: 1,
        gas_price: 2_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        ..Default::default()
    };
    let (_, message) = rejection(&node, &raw(&sign(&signer, legacy_other_chain))).await;
    assert_eq!(message, "invalid chain id for signer");

    let poor = alloy::signers::local::PrivateKeySigner::random();
    let (_, message) =
        rejection(&node, &raw(&sign(&poor, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))))
            .await;
    assert!(
        message.starts_with("insufficient funds for gas * price + value: address "),
        "{message}"
    );

    let low_gas =
        TxEip1559 { gas_limit: 20_000, ..transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::from(1)) };
    let (_, message) = rejection(&node, &raw(&sign(&signer, low_gas))).await;
    assert!(message.starts_with("intrinsic gas too low"), "{message}");

    let free = TxEip1559 {
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        ..transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::from(1))
    };
    let (_, message) = rejection(&node, &raw(&sign(&signer, free))).await;
    assert!(message.starts_with("transaction underpriced"), "{message}");

    let huge = TxEip1559 {
        gas_limit: 16_000_000,
        input: vec![1u8; 140_000].into(),
        ..transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::ZERO)
    };
    let (_, message) = rejection(&node, &raw(&sign(&signer, huge))).await;
    assert_eq!(message, "oversized data");

    // A queued transaction (nonce 2) and its underpriced replacement.
    let queued = transfer(DEV_CHAIN_ID, 2, RECIPIENT, U256::from(1));
    let _queued =
        provider.send_raw_transaction(&raw(&sign(&signer, queued.clone()))).await.unwrap();
    let cheaper = TxEip1559 { value: U256::from(2), ..queued };
    let (_, message) = rejection(&node, &raw(&sign(&signer, cheaper))).await;
    assert_eq!(message, "replacement transaction underpriced");

    // A signature that recovers to no one.
    let mut bytes =
        raw(&sign(&signer, transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::from(1)))).to_vec();
    let len = bytes.len();
    bytes[len - 33..len - 1].fill(0xff); // s = 0xff…: above the curve order
    let (_, message) = rejection(&node, &bytes).await;
    assert!(message == "invalid sender" || message.starts_with("rlp:"), "{message}");

    let (_, message) = rejection(&node, &[0x03, 0xc0]).await;
    assert!(message.starts_with("transaction type not supported"), "{message}");
    let (code, _) = rejection(&node, &[0x02, 0x01, 0x02]).await;
    assert_eq!(code, -32602);

    // Malformed requests at the protocol level.
    let (status, body) = http_post(&node, b"{not json").await;
    assert!(body.contains("-32700"), "{status} {body}");
    let (_, body) =
        http_post(&node, br#"{"jsonrpc":"2.0","id":1,"method":"eth_noSuchMethod","params":[]}"#)
            .await;
    assert!(body.contains("-32601"), "{body}");
    let (_, body) = http_post(
        &node,
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x12"]}"#,
    )
    .await;
    assert!(body.contains("-32602"), "{body}");
    let (_, body) = http_post(
        &node,
        br#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]"#,
    )
    .await;
    assert!(body.contains(r#""id":1"#) && body.contains(r#""id":2"#), "batch: {body}");

    // Still serving, and the nonce did not move past the one included transaction.
    assert_eq!(provider.get_transaction_count(signer.address()).await.unwrap(), 1);
    assert_eq!(provider.get_transaction_count(signer.address()).pending().await.unwrap(), 1);
    assert_eq!(provider.get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_resumes_the_same_chain() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(5);
    let mut receipts = Vec::new();
    for nonce in 0..3 {
        let tx = transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(100 + nonce));
        receipts.push(send_raw(&provider, &raw(&sign(&signer, tx))).await);
    }
    let head = provider.get_block_number().await.unwrap();
    let block = provider.get_block_by_number(head.into()).full().await.unwrap().unwrap();
    let balance = provider.get_balance(signer.address()).await.unwrap();

    let node = node.restart().await;
    let provider = node.provider();
    assert_eq!(provider.get_block_number().await.unwrap(), head);
    assert_eq!(provider.get_block_by_number(head.into()).full().await.unwrap().unwrap(), block);
    assert_eq!(provider.get_balance(signer.address()).await.unwrap(), balance);
    for receipt in &receipts {
        let again =
            provider.get_transaction_receipt(receipt.transaction_hash).await.unwrap().unwrap();
        assert_eq!(&again, receipt);
    }
    // The chain continues from there.
    let receipt = send_raw(
        &provider,
        &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 3, RECIPIENT, U256::from(1)))),
    )
    .await;
    assert_eq!(receipt.block_number, Some(head + 1));
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_recent_history_and_refuses_pruned_state() {
    let node = TestNode::start_with(|config| config.store.history_blocks = 4).await;
    let provider = node.provider();
    let signer = dev_signer(6);
    // The balance after each block that included one of the transfers (the block timer may
    // seal empty blocks in between on a busy machine).
    let mut balances = std::collections::BTreeMap::from([(
        0,
        provider.get_balance(signer.address()).await.unwrap(),
    )]);
    for nonce in 0..8 {
        let receipt = send_raw(
            &provider,
            &raw(&sign(&signer, transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(1)))),
        )
        .await;
        let block = receipt.block_number.unwrap();
        balances.insert(block, provider.get_balance(signer.address()).await.unwrap());
    }
    let head = provider.get_block_number().await.unwrap();
    assert!(head >= 8, "one block per transfer at least, head {head}");
    for block in head - 4..=head {
        let balance = provider.get_balance(signer.address()).number(block).await.unwrap();
        let expected = balances.range(..=block).next_back().unwrap().1;
        assert_eq!(&balance, expected, "balance at block {block}");
    }
    let err = provider.get_balance(signer.address()).number(1).await.unwrap_err();
    let message = err.as_error_resp().unwrap().message.to_string();
    assert!(message.starts_with("historical state not available"), "{message}");
    let err = provider.get_balance(signer.address()).number(head + 5).await.unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().message, "header not found");
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_subscriptions_push_heads_logs_and_pending() {
    let node = TestNode::start().await;
    let ws = node.ws().await;
    let mut heads = subscribe_new_heads(&ws).await.unwrap();
    let mut pending = ws
        .subscribe::<B256, _>(
            "eth_subscribe",
            rpc_params!["newPendingTransactions"],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let mut logs = ws
        .subscribe::<serde_json::Value, _>(
            "eth_subscribe",
            rpc_params!["logs", serde_json::json!({})],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let chain_id: String = ws.request("eth_chainId", rpc_params![]).await.unwrap();
    assert_eq!(chain_id, format!("{DEV_CHAIN_ID:#x}"));

    let wallet = node.wallet(7);
    let deploy = TransactionRequest::default().with_deploy_code(storage_contract_init());
    let receipt = wallet.send_transaction(deploy).await.unwrap().get_receipt().await.unwrap();
    let contract = receipt.contract_address.unwrap();
    let set = TransactionRequest::default()
        .with_to(contract)
        .with_input(storage_contract_set(U256::from(5)));
    let pending_tx = wallet.send_transaction(set).await.unwrap();
    let hash = *pending_tx.tx_hash();
    pending_tx.get_receipt().await.unwrap();

    let within = Duration::from_secs(10);
    let head = tokio::time::timeout(within, heads.next()).await.unwrap().unwrap().unwrap();
    assert!(head["number"].as_str().unwrap().starts_with("0x"));
    assert!(head["stateRoot"].is_string());
    let mut seen = Vec::new();
    while !seen.contains(&hash) {
        seen.push(tokio::time::timeout(within, pending.next()).await.unwrap().unwrap().unwrap());
    }
    let log = tokio::time::timeout(within, logs.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(log["address"].as_str().unwrap().to_lowercase(), format!("{contract:#x}"));

    // A transaction behind a nonce gap is announced once the gap fills, as geth does.
    let provider = node.provider();
    let signer = dev_signer(2);
    let gapped = sign(&signer, transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::from(1)));
    let filler = sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)));
    let _ = provider.send_raw_transaction(&raw(&gapped)).await.unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(300), pending.next()).await;
    assert!(quiet.is_err(), "a queued transaction is not announced: {quiet:?}");
    send_raw(&provider, &raw(&filler)).await;
    let mut announced = Vec::new();
    while announced.len() < 2 {
        announced
            .push(tokio::time::timeout(within, pending.next()).await.unwrap().unwrap().unwrap());
    }
    assert_eq!(announced, [*filler.tx_hash(), *gapped.tx_hash()]);

    node.handle.stop().await;
}

/// Over plain HTTP there is nothing to push on: geth's answers, alone and inside a batch, while
/// the same port's WebSocket connections subscribe as usual.
#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_over_plain_http_get_geths_answers() {
    let node = TestNode::start().await;
    for method in ["eth_subscribe", "eth_unsubscribe"] {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":["newHeads"]}}"#);
        let (_, body) = http_post(&node, body.as_bytes()).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let expected = match method {
            "eth_subscribe" => (-32601, "notifications not supported"),
            _ => (-32000, "subscription not found"),
        };
        assert_eq!(answer["error"]["code"], expected.0, "{method}: {body}");
        assert_eq!(answer["error"]["message"], expected.1, "{method}: {body}");
    }
    let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]},
        {"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}]"#;
    let (_, body) = http_post(&node, batch).await;
    let answers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answers[0]["error"]["message"], "notifications not supported", "{body}");
    assert_eq!(answers[1]["result"], format!("{DEV_CHAIN_ID:#x}"), "{body}");
    let ws = node.ws().await;
    let heads = subscribe_new_heads(&ws).await;
    assert!(heads.is_ok(), "{heads:?}");
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_of_raw_transactions_is_admitted_in_order() {
    // Far more consecutive nonces than a sender may have queued behind a gap (64): admitted
    // in arrival order, none of them is ever seen behind a gap.
    const COUNT: u64 = 400;
    let node = TestNode::start().await;
    let signer = dev_signer(9);
    let txs: Vec<_> = (0..COUNT)
        .map(|nonce| sign(&signer, transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(1))))
        .collect();
    let batch: Vec<serde_json::Value> = txs
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw(tx)]})
        })
        .collect();
    let (status, body) = http_post(&node, serde_json::to_string(&batch).unwrap().as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let responses: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(responses.len(), COUNT as usize);
    for (i, (response, tx)) in responses.iter().zip(&txs).enumerate() {
        assert_eq!(response["id"], i);
        assert_eq!(response["result"].as_str().unwrap(), format!("{:#x}", tx.tx_hash()));
    }
    let provider = node.provider();
    let last = *txs.last().unwrap().tx_hash();
    tokio::time::timeout(Duration::from_secs(30), async {
        while provider.get_transaction_receipt(last).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("all included");
    assert_eq!(provider.get_transaction_count(signer.address()).await.unwrap(), COUNT);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflight_and_oversized_bodies() {
    let node = TestNode::start_with(|config| {
        config.cors_domains = vec!["*".into()];
        config.rpc.max_request_bytes = 4096;
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(node.handle.rpc_addr()).await.unwrap();
    stream
        .write_all(
            b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://dapp.example\r\n\
              Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.to_lowercase().contains("access-control-allow-origin: *"), "{response}");

    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "ab".repeat(5000)
    );
    let (status, _) = http_post(&node, big.as_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(node.provider().get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    node.handle.stop().await;
}

/// `--http.api`: a namespace left out answers as an unknown method, and `rpc_modules` lists what
/// is served.
#[tokio::test(flavor = "multi_thread")]
async fn http_api_serves_only_the_named_namespaces() {
    use sequencer::rpc::namespaces::{Namespace, Namespaces};
    let call = |method: &str, params: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#)
    };
    let account = dev_signer(0).address();
    let hidden = [
        ("txpool_status", "[]".to_string()),
        ("debug_getRawHeader", r#"["latest"]"#.to_string()),
        ("personal_sign", format!(r#"["0x00","{account}"]"#)),
    ];

    let node = TestNode::start().await;
    let (_, body) = http_post(&node, call("rpc_modules", "[]").as_bytes()).await;
    let modules: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        modules["result"],
        serde_json::json!({"eth": "1.0", "net": "1.0", "web3": "1.0", "txpool": "1.0", "debug": "1.0", "personal": "1.0", "rpc": "1.0"})
    );
    for (method, params) in &hidden {
        let (_, body) = http_post(&node, call(method, params).as_bytes()).await;
        assert!(body.contains(r#""result""#), "{method} served by default: {body}");
    }
    node.handle.stop().await;

    let node = TestNode::start_with(|config| {
        config.rpc.namespaces = Namespaces::new([Namespace::Eth, Namespace::Net, Namespace::Web3]);
    })
    .await;
    let (_, body) = http_post(&node, call("rpc_modules", "[]").as_bytes()).await;
    let modules: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        modules["result"],
        serde_json::json!({"eth": "1.0", "net": "1.0", "web3": "1.0", "rpc": "1.0"})
    );
    for (method, params) in &hidden {
        let (_, body) = http_post(&node, call(method, params).as_bytes()).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["error"]["code"], -32601, "{method}: {body}");
        assert_eq!(answer["error"]["message"], "Method not found", "{method}: {body}");
    }
    // What wallets use still works, over WebSocket too.
    assert_eq!(node.provider().get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    let (_, body) = http_post(&node, call("net_version", "[]").as_bytes()).await;
    assert!(body.contains(&format!(r#""result":"{DEV_CHAIN_ID}""#)), "{body}");
    let ws = node.ws().await;
    let accounts: Vec<Address> = ws.request("eth_accounts", rpc_params![]).await.unwrap();
    assert_eq!(accounts.len(), 10);
    let hidden: Result<serde_json::Value, _> = ws.request("txpool_status", rpc_params![]).await;
    assert!(hidden.is_err());
    node.handle.stop().await;

    // Without `eth`, none of what the eth traits register is left: signing, the v3 alias,
    // subscriptions.
    let node = TestNode::start_with(|config| {
        config.rpc.namespaces = Namespaces::new([Namespace::Net]);
    })
    .await;
    for (method, params) in [
        ("eth_chainId", "[]".to_string()),
        ("eth_accounts", "[]".to_string()),
        ("eth_signTypedData_v3", format!(r#"["{account}",{{}}]"#)),
    ] {
        let (_, body) = http_post(&node, call(method, &params).as_bytes()).await;
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["error"]["code"], -32601, "{method}: {body}");
    }
    let ws = node.ws().await;
    let heads = subscribe_new_heads(&ws).await;
    assert!(heads.is_err(), "eth_subscribe without eth");
    let version: String = ws.request("net_version", rpc_params![]).await.unwrap();
    assert_eq!(version, DEV_CHAIN_ID.to_string());
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_prometheus_metrics() {
    let node =
        TestNode::start_with(|config| config.metrics_addr = Some("127.0.0.1:0".parse().unwrap()))
            .await;
    let provider = node.provider();
    send_raw(
        &provider,
        &raw(&sign(&dev_signer(2), transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))),
    )
    .await;
    let mut stream =
        tokio::net::TcpStream::connect(node.handle.metrics_addr().unwrap()).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("\nsequencer_blocks_total 1\n"), "{text}");
    assert!(text.contains("\nsequencer_transactions_total 1\n"), "{text}");
    assert!(text.contains("sequencer_exec_groups_total"), "{text}");
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_port_throttles_blocks_and_sets_l1_heads() {
    let node =
        TestNode::start_with(|config| config.admin_addr = Some("127.0.0.1:0".parse().unwrap()))
            .await;
    let admin = jsonrpsee_http_client::HttpClientBuilder::default()
        .build(format!("http://{}", node.handle.admin_addr().unwrap()))
        .unwrap();
    let provider = node.provider();
    for nonce in 0..3 {
        send_raw(
            &provider,
            &raw(&sign(&dev_signer(3), transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(1)))),
        )
        .await;
    }
    let ok: bool = admin.request("sequencer_setL1Heads", rpc_params!["0x2", "0x1"]).await.unwrap();
    assert!(ok);
    let safe = provider.get_block_by_number(BlockNumberOrTag::Safe).await.unwrap().unwrap();
    let finalized =
        provider.get_block_by_number(BlockNumberOrTag::Finalized).await.unwrap().unwrap();
    assert_eq!((safe.header.number, finalized.header.number), (2, 1));

    // A restarted node answers them as last reported, not with its head.
    let node = node.restart().await;
    let provider = node.provider();
    assert!(provider.get_block_number().await.unwrap() > 2);
    let safe = provider.get_block_by_number(BlockNumberOrTag::Safe).await.unwrap().unwrap();
    let finalized =
        provider.get_block_by_number(BlockNumberOrTag::Finalized).await.unwrap().unwrap();
    assert_eq!((safe.header.number, finalized.header.number), (2, 1));
    let node =
        node.restart_with(|config| config.admin_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let admin = jsonrpsee_http_client::HttpClientBuilder::default()
        .build(format!("http://{}", node.handle.admin_addr().unwrap()))
        .unwrap();
    let provider = node.provider();

    // A cap below one transaction's size leaves pending transactions out of blocks.
    let ok: bool = admin.request("sequencer_setMaxBlockBytes", rpc_params!["0x10"]).await.unwrap();
    assert!(ok);
    let hash = *provider
        .send_raw_transaction(&raw(&sign(
            &dev_signer(3),
            transfer(DEV_CHAIN_ID, 3, RECIPIENT, U256::from(1)),
        )))
        .await
        .unwrap()
        .tx_hash();
    let head = provider.get_block_number().await.unwrap();
    assert!(provider.get_transaction_receipt(hash).await.unwrap().is_none());
    let ok: bool = admin
        .request("sequencer_setMaxBlockBytes", rpc_params![serde_json::Value::Null])
        .await
        .unwrap();
    assert!(ok);
    // The next block (triggered by a new arrival) takes it.
    let receipt = send_raw(
        &provider,
        &raw(&sign(&dev_signer(4), transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))),
    )
    .await;
    assert!(receipt.block_number.unwrap() > head);
    assert!(provider.get_transaction_receipt(hash).await.unwrap().is_some());
    // The public port does not serve admin methods.
    let err = provider
        .raw_request::<_, bool>("sequencer_setMaxBlockBytes".into(), ("0x1",))
        .await
        .unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().code, -32601);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unwinding_returns_the_store_to_an_earlier_block_exactly() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(6);
    let contract = signer.address().create(0);
    let deploy = deploy_storage_contract(DEV_CHAIN_ID, 0);
    send_raw(&provider, &raw(&sign(&signer, deploy))).await;
    let kept = provider.get_block_number().await.unwrap();
    let kept_block = provider.get_block_by_number(kept.into()).full().await.unwrap().unwrap();
    let kept_balance = provider.get_balance(signer.address()).await.unwrap();
    let mut later = Vec::new();
    for nonce in 1..4 {
        let set = set_storage(DEV_CHAIN_ID, nonce, contract, U256::from(nonce));
        later.push(send_raw(&provider, &raw(&sign(&signer, set))).await.transaction_hash);
    }
    let head = provider.get_block_number().await.unwrap();
    assert!(head > kept);
    let datadir = node.datadir();
    node.handle.stop().await;

    let genesis = sequencer::store::GenesisBlock::new(&Genesis::dev()).unwrap();
    let store = sequencer::store::Store::open(&datadir, &genesis, Default::default()).unwrap();
    store.unwind_to(kept).unwrap();
    assert_eq!(store.head_number(), kept);
    assert_eq!(store.head().1, kept_block.header.hash);
    let state = store.latest().unwrap();
    // The recomputed root of the unwound state is the kept block's: tries and flat state agree.
    let root = state.trie_root(sequencer::trie::TrieId::Accounts).unwrap().root_hash();
    assert_eq!(root, kept_block.header.state_root);
    assert_eq!(sequencer::store::balance_of(&state, signer.address()), kept_balance);
    let blocks = store.blocks().unwrap();
    assert!(blocks.header(kept + 1).unwrap().is_none());
    for hash in &later {
        assert!(
            blocks.tx_location(hash).unwrap().is_none(),
            "the index forgets unwound transactions"
        );
    }
    drop((blocks, state, store));

    // The node resumes from the kept block and the chain continues.
    let node = TestNode::start_with(|config| config.datadir = datadir.clone()).await;
    let provider = node.provider();
    assert_eq!(provider.get_block_number().await.unwrap(), kept);
    assert!(provider.get_transaction_receipt(later[0]).await.unwrap().is_none());
    let value: U256 = provider.get_storage_at(contract, U256::ZERO).await.unwrap();
    assert_eq!(value, U256::ZERO, "the unwound writes are gone");
    let receipt = send_raw(
        &provider,
        &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 1, RECIPIENT, U256::from(1)))),
    )
    .await;
    assert_eq!(receipt.block_number, Some(kept + 1));
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_store_follows_a_writer_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = sequencer::store::GenesisBlock::new(&Genesis::dev()).unwrap();
    let missing = sequencer::store::Store::open_read_only(dir.path(), &genesis, Default::default());
    assert!(matches!(missing, Err(sequencer::store::StoreError::NoChain { .. })));

    let shared = sequencer::store::StoreConfig { shared_with_readers: true, ..Default::default() };
    let node = TestNode::start_with(|config| {
        config.datadir = dir.path().to_path_buf();
        config.store = shared.clone();
    })
    .await;
    let reader =
        sequencer::store::Store::open_read_only(dir.path(), &genesis, Default::default()).unwrap();
    assert_eq!(reader.head_number(), 0);
    let provider = node.provider();
    let signer = dev_signer(7);
    send_raw(&provider, &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(5)))))
        .await;
    let head = provider.get_block_number().await.unwrap();
    assert_eq!(reader.refresh().unwrap(), Some(head));
    assert_eq!(reader.refresh().unwrap(), None, "nothing new");
    assert_eq!(
        reader.blocks().unwrap().hash(head).unwrap(),
        node.handle.store().blocks().unwrap().hash(head).unwrap()
    );
    assert!(matches!(reader.unwind_to(0), Err(sequencer::store::StoreError::ReadOnly)));
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_get_proof_verifies_against_the_block_state_root() {
    use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};

    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(8);
    let contract = signer.address().create(0);
    let deploy = deploy_storage_contract(DEV_CHAIN_ID, 0);
    send_raw(&provider, &raw(&sign(&signer, deploy))).await;
    let set = set_storage(DEV_CHAIN_ID, 1, contract, U256::from(42));
    let receipt = send_raw(&provider, &raw(&sign(&signer, set))).await;
    let written = receipt.block_number.unwrap();
    // One more block, so the proofs at `written` are of a historical state.
    send_raw(&provider, &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 2, RECIPIENT, U256::from(1)))))
        .await;

    for block in [written, provider.get_block_number().await.unwrap()] {
        let header = provider.get_block_by_number(block.into()).await.unwrap().unwrap().header;
        for (address, slots) in [
            (contract, vec![B256::ZERO, B256::with_last_byte(1)]),
            (signer.address(), vec![]),
            (Address::repeat_byte(0x77), vec![B256::ZERO]), // absent: a proof of absence
        ] {
            let proof =
                provider.get_proof(address, slots.clone()).block_id(block.into()).await.unwrap();
            let expected = (proof.nonce != 0
                || !proof.balance.is_zero()
                || proof.code_hash != alloy_trie::KECCAK_EMPTY)
                .then(|| {
                    alloy_rlp::encode(TrieAccount::new(
                        proof.nonce,
                        proof.balance,
                        proof.storage_hash,
                        proof.code_hash,
                    ))
                });
            verify_proof(
                header.state_root,
                Nibbles::unpack(alloy_primitives::keccak256(address)),
                expected,
                &proof.account_proof,
            )
            .unwrap_or_else(|e| panic!("account proof of {address} at block {block}: {e:?}"));
            for (slot, storage) in slots.iter().zip(&proof.storage_proof) {
                let value = storage.value;
                let encoded = (!value.is_zero()).then(|| alloy_rlp::encode(value));
                verify_proof(
                    proof.storage_hash,
                    Nibbles::unpack(alloy_primitives::keccak256(slot)),
                    encoded,
                    &storage.proof,
                )
                .unwrap_or_else(|e| {
                    panic!("storage proof of {address}/{slot} at block {block}: {e:?}")
                });
            }
        }
        let proof =
            provider.get_proof(contract, vec![B256::ZERO]).block_id(block.into()).await.unwrap();
        assert_eq!(proof.storage_proof[0].value, U256::from(42), "the written slot");
    }
    // At most 1,024 storage keys per call, as geth: each is a walk down the storage trie.
    let too_many = provider.get_proof(contract, vec![B256::ZERO; 1_025]).await.unwrap_err();
    let too_many = too_many.as_error_resp().unwrap();
    assert_eq!(too_many.code, -32602);
    assert_eq!(too_many.message, "too many storage keys requested (max 1024, got 1025)");
    assert_eq!(
        provider.get_proof(contract, vec![B256::ZERO; 1_024]).await.unwrap().storage_proof.len(),
        1_024
    );
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fee_history_answers_like_geth_and_refuses_what_geth_refuses() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(5);
    send_raw(&provider, &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))))
        .await;

    let history =
        provider.get_fee_history(2, BlockNumberOrTag::Latest, &[25.0, 75.0]).await.unwrap();
    assert_eq!(history.oldest_block, 0);
    assert_eq!(history.base_fee_per_gas.len(), 3, "one per block and the next block's");
    assert_eq!(history.gas_used_ratio.len(), 2);
    let rewards = history.reward.expect("rewards asked for");
    assert_eq!(rewards.len(), 2);
    assert!(rewards.iter().all(|r| r.len() == 2));
    let history = provider.get_fee_history(2, BlockNumberOrTag::Latest, &[]).await.unwrap();
    assert!(history.reward.is_none(), "no percentiles, no rewards");
    let history = provider.get_fee_history(0, BlockNumberOrTag::Latest, &[]).await.unwrap();
    assert_eq!((history.oldest_block, history.base_fee_per_gas.len()), (0, 0));

    let refusal = |count: u64, newest: BlockNumberOrTag, percentiles: Vec<f64>| {
        let provider = node.provider();
        async move {
            let err =
                provider.get_fee_history(count, newest, &percentiles).await.expect_err("refused");
            let payload = err.as_error_resp().expect("an RPC error").clone();
            (payload.code, payload.message.to_string())
        }
    };
    // One entry per percentile per block: the count is what bounds the response.
    let (code, message) = refusal(1, BlockNumberOrTag::Latest, vec![1.0; 101]).await;
    assert_eq!(code, -32602);
    assert!(message.contains("over the query limit 100"), "{message}");
    let (_, message) = refusal(1, BlockNumberOrTag::Latest, vec![50.0, 50.0]).await;
    assert!(message.starts_with("invalid reward percentile"), "{message}");
    let (_, message) = refusal(1, BlockNumberOrTag::Latest, vec![101.0]).await;
    assert!(message.starts_with("invalid reward percentile"), "{message}");
    let (code, message) = refusal(1, BlockNumberOrTag::Number(99), vec![]).await;
    assert_eq!(
        (code, message.as_str()),
        (-32000, "request beyond head block: requested 99, head 1")
    );
    node.handle.stop().await;
}

/// Init code that loops until its gas runs out: `JUMPDEST PUSH1 0 JUMP`.
const GAS_BURNER: &str = "0x5b600056";

#[tokio::test(flavor = "multi_thread")]
async fn expensive_calls_wait_their_turn_while_blocks_keep_coming() {
    let node = TestNode::start_with(|config| {
        config.rpc.max_concurrent_calls = 1;
        config.rpc.gas_cap = 5_000_000;
    })
    .await;
    // Four connections, each a batch of calls that burn the whole gas cap: they queue for the
    // one permit on blocking threads instead of holding the async workers.
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{{"input":"{GAS_BURNER}"}}]}}"#
    );
    let batch = format!("[{}]", vec![call; 5].join(","));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let (addr, batch) = (node.handle.rpc_addr(), batch.clone());
            tokio::spawn(async move { http_post_to(addr, batch.as_bytes()).await })
        })
        .collect();
    // Meanwhile the node answers, admits and seals.
    let provider = node.provider();
    let signer = dev_signer(6);
    let receipt = send_raw(
        &provider,
        &raw(&sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)))),
    )
    .await;
    assert!(receipt.status());
    assert!(provider.get_block_number().await.unwrap() >= 1);
    for burner in burners {
        let (status, response) = burner.await.unwrap();
        assert_eq!(status, 200, "{response}");
        assert_eq!(response.matches("out of gas").count(), 5, "{response}");
    }
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn estimates_and_failed_creations_read_as_geth_answers_them() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(7);
    let from = signer.address();

    // A plain transfer is exactly 21,000, not the search's approximation of it.
    let transfer_request =
        TransactionRequest::default().with_from(from).with_to(RECIPIENT).with_value(U256::from(1));
    assert_eq!(provider.estimate_gas(transfer_request).await.unwrap(), 21_000);

    // A sender who cannot pay hears why, in geth's words.
    let message = |err: alloy::transports::RpcError<alloy::transports::TransportErrorKind>| {
        err.as_error_resp().expect("an RPC error").message.to_string()
    };
    let poor = Address::repeat_byte(0x42);
    let broke = TransactionRequest::default()
        .with_from(poor)
        .with_to(RECIPIENT)
        .with_value(U256::from(1))
        .with_gas_price(1_000_000_000);
    assert_eq!(
        message(provider.estimate_gas(broke).await.unwrap_err()),
        "insufficient funds for transfer"
    );
    let no_gas_money = TransactionRequest::default()
        .with_from(poor)
        .with_to(RECIPIENT)
        .with_max_fee_per_gas(1_000_000_000)
        .with_max_priority_fee_per_gas(1);
    assert_eq!(
        message(provider.estimate_gas(no_gas_money).await.unwrap_err()),
        "gas required exceeds allowance (0)"
    );

    // No Osaka transaction may carry more than 2^24 gas, so no estimate searches past it.
    let endless = TransactionRequest::default()
        .with_from(from)
        .with_deploy_code(Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56])); // JUMPDEST; JUMP(0)
    assert_eq!(
        message(provider.estimate_gas(endless).await.unwrap_err()),
        "gas required exceeds allowance (16777216)"
    );

    // A creation whose init code reverts still names the address it would have created.
    let failed = TxEip1559 {
        to: TxKind::Create,
        input: Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd]), // REVERT(0, 0)
        gas_limit: 100_000,
        value: U256::ZERO,
        ..transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::ZERO)
    };
    let receipt = send_raw(&provider, &raw(&sign(&signer, failed))).await;
    assert!(!receipt.status());
    assert_eq!(receipt.contract_address, Some(from.create(0)));
    node.handle.stop().await;
}

/// A log filter polled while every transaction seals a block of its own reports each log
/// exactly once. A poll marked blocks up to the head it read as reported, then queried logs up
/// to the head of that moment: a block sealed in between came back at the next poll again
/// (a stress test of that window: without the fix it failed 7 of 8 runs).
#[tokio::test(flavor = "multi_thread")]
async fn a_log_filter_polled_while_blocks_seal_reports_each_log_once() {
    const CALLS: u64 = 400;
    let node = TestNode::start().await; // on-demand blocks: a call seals one at once
    let provider = node.provider();
    let signer = dev_signer(9);
    let created =
        send_raw(&provider, &raw(&sign(&signer, deploy_storage_contract(DEV_CHAIN_ID, 0)))).await;
    let contract = created.contract_address.unwrap();
    let filter = provider.new_filter(&Filter::new().address(contract)).await.unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (provider, done) = (node.provider(), done.clone());
        tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            loop {
                // The last poll, after the last receipt, takes what is left.
                let last = done.load(std::sync::atomic::Ordering::Acquire);
                let logs: Vec<alloy::rpc::types::Log> =
                    provider.get_filter_changes(filter).await.unwrap();
                for log in logs {
                    let key = (log.transaction_hash.unwrap(), log.log_index.unwrap());
                    assert!(seen.insert(key), "log {key:?} reported twice");
                }
                if last {
                    return seen.len();
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut last = None;
    for nonce in 1..=CALLS {
        let call = set_storage(DEV_CHAIN_ID, nonce, contract, U256::from(nonce));
        last = Some(provider.send_raw_transaction(&raw(&sign(&signer, call))).await.unwrap());
    }
    let receipt = tokio::time::timeout(Duration::from_secs(30), last.unwrap().get_receipt())
        .await
        .expect("receipt within 30 s")
        .unwrap();
    assert!(receipt.status());
    done.store(true, std::sync::atomic::Ordering::Release);
    assert_eq!(poller.await.unwrap() as u64, CALLS);
    assert!(provider.get_block_number().await.unwrap() > 2, "blocks sealed while sending");
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_chain_has_the_create2_deployer_foundry_expects() {
    use sequencer::genesis::CREATE2_DEPLOYER;
    let node = TestNode::start().await;
    let wallet = node.wallet(6);
    let salt = B256::repeat_byte(0x5a);
    let init = storage_contract_init();
    let expected = CREATE2_DEPLOYER.create2_from_code(salt, &init);
    let request = TransactionRequest::default()
        .with_to(CREATE2_DEPLOYER)
        .with_input([salt.as_slice(), init.as_ref()].concat());

    // The factory answers with the address it creates, as `forge script` reads it.
    let answer = wallet.call(request.clone()).await.unwrap();
    assert_eq!(answer.as_ref(), expected.as_slice());
    let receipt = tokio::time::timeout(Duration::from_secs(30), async {
        wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap()
    })
    .await
    .expect("receipt within 30 s");
    assert!(receipt.status());
    assert!(!wallet.get_code_at(expected).await.unwrap().is_empty());
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_chain_has_multicall3_that_alloy_batches_reads_through() {
    use alloy::providers::bindings::IMulticall3;
    use sequencer::genesis::{MULTICALL3, multicall3_code};
    let node = TestNode::start().await;
    let wallet = node.wallet(7);
    let holder = sequencer::genesis::DEV_ACCOUNTS[3].0;

    // Reads batched into one `eth_call` to the canonical address, as alloy does by default
    // (alloy calls at `pending`; genesis keeps the answers fixed).
    let (chain_id, balance, number) = wallet
        .multicall()
        .block(BlockNumberOrTag::Number(0).into())
        .get_chain_id()
        .get_eth_balance(holder)
        .get_block_number()
        .aggregate()
        .await
        .unwrap();
    assert_eq!(chain_id, U256::from(DEV_CHAIN_ID));
    assert_eq!(balance, DEV_BALANCE);
    assert_eq!(number, U256::ZERO);

    // The genesis code is what the canonical creation code deploys.
    let created = tokio::time::timeout(Duration::from_secs(30), async {
        let request = TransactionRequest::default().with_deploy_code(IMulticall3::BYTECODE.clone());
        wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap()
    })
    .await
    .expect("receipt within 30 s");
    let deployed = created.contract_address.expect("a creation names its address");
    assert_eq!(wallet.get_code_at(deployed).await.unwrap(), multicall3_code());
    assert_eq!(wallet.get_code_at(MULTICALL3).await.unwrap(), multicall3_code());
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_serves_blocks_its_writer_replaced_at_the_same_height() {
    use sequencer::{
        builder::{Parent, build_block},
        chain::{BlockAttributes, ChainSpec},
        executor::{ExecTx, SequentialExecutor},
        store::{GenesisBlock, Store, StoreConfig},
    };
    let dir = tempfile::tempdir().unwrap();
    let genesis = Genesis::dev();
    let spec = ChainSpec::from_genesis(&genesis);
    let shared = StoreConfig { shared_with_readers: true, ..Default::default() };
    let writer = Store::open(dir.path(), &GenesisBlock::new(&genesis).unwrap(), shared).unwrap();
    let signer = dev_signer(5);
    // The writer (as `derivation sync` does) commits a block paying RECIPIENT `value` wei.
    let commit = |nonce: u64, value: u64| {
        let head = writer.head();
        let state = writer.latest().unwrap();
        let tx = sign(&signer, transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(value)));
        let txs = [ExecTx {
            tx: alloy::consensus::transaction::Recovered::new_unchecked(tx, signer.address()),
            hint: None,
        }];
        let attributes = BlockAttributes {
            number: head.0.number + 1,
            timestamp: head.0.timestamp + 1,
            beneficiary: Address::ZERO,
            extra_data: Bytes::new(),
        };
        let parent = Parent { header: &head.0, hash: head.1, state: &state };
        let built =
            build_block(&spec, &writer, parent, attributes, &txs, &SequentialExecutor::default())
                .unwrap();
        writer.commit_block(&built.block, &built.state).unwrap();
        built.block.hash
    };
    commit(0, 1);
    commit(1, 2);
    writer.set_l1_heads(2, 1).unwrap();

    let replica = TestNode::start_with(|config| {
        config.datadir = dir.path().to_path_buf();
        config.replica = true;
    })
    .await;
    let provider = replica.provider();
    assert_eq!(provider.get_balance(RECIPIENT).await.unwrap(), U256::from(3));
    // The replica answers `safe` and `finalized` as its writer recorded them.
    let finalized =
        provider.get_block_by_number(BlockNumberOrTag::Finalized).await.unwrap().unwrap();
    assert_eq!(finalized.header.number, 1);

    // An L1 reorg: the writer replaces block 2 with another block 2.
    writer.unwind_to(1).unwrap();
    let replacement = commit(1, 7);
    let served = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap();
            let balance = provider.get_balance(RECIPIENT).await.unwrap();
            if head.is_some_and(|b| b.header.hash == replacement) && balance == U256::from(8) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "the replica serves the replacement block's state");
    replica.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_answers_pass_the_response_limit_is_refused_whole() {
    let node = TestNode::start_with(|config| config.rpc.max_response_bytes = 2_000).await;
    let batch = |calls: usize| {
        let calls: Vec<serde_json::Value> = (0..calls)
            .map(|i| serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "web3_clientVersion", "params": []}))
            .collect();
        serde_json::to_string(&calls).unwrap()
    };
    let (status, body) = http_post(&node, batch(5).as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let answers: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(answers.len(), 5);
    assert_eq!(answers[4]["id"], 4);

    let (_, body) = http_post(&node, batch(200).as_bytes()).await;
    let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["error"]["code"], -32011, "{body}");
    // The node goes on serving.
    assert_eq!(node.provider().get_chain_id().await.unwrap(), DEV_CHAIN_ID);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn txpool_namespace_shows_pending_and_queued_as_geth_does() {
    use alloy::consensus::Transaction as _;
    let node = TestNode::start().await;
    node.handle.set_max_block_bytes(Some(16)); // nothing fits: what arrives stays pooled
    let provider = node.provider();
    let signer = dev_signer(4);
    let sender = signer.address();
    let pending = sign(&signer, transfer(DEV_CHAIN_ID, 0, RECIPIENT, U256::from(1)));
    let queued = sign(&signer, transfer(DEV_CHAIN_ID, 2, RECIPIENT, U256::from(2)));
    for tx in [&pending, &queued] {
        let _ = provider.send_raw_transaction(&raw(tx)).await.unwrap();
    }

    let status: serde_json::Value = provider.raw_request("txpool_status".into(), ()).await.unwrap();
    assert_eq!(status, serde_json::json!({"pending": "0x1", "queued": "0x1"}));
    let content: serde_json::Value =
        provider.raw_request("txpool_content".into(), ()).await.unwrap();
    let key = format!("{sender:#x}");
    let tx_hash = |tx: &serde_json::Value| tx["hash"].as_str().unwrap().to_string();
    assert_eq!(tx_hash(&content["pending"][&key]["0"]), format!("{:#x}", pending.tx_hash()));
    assert_eq!(tx_hash(&content["queued"][&key]["2"]), format!("{:#x}", queued.tx_hash()));
    assert!(content["pending"][&key]["0"]["blockHash"].is_null());
    let from: serde_json::Value =
        provider.raw_request("txpool_contentFrom".into(), (sender,)).await.unwrap();
    assert_eq!(from["pending"]["0"], content["pending"][&key]["0"]);
    assert_eq!(from["queued"]["2"], content["queued"][&key]["2"]);
    let nobody: serde_json::Value =
        provider.raw_request("txpool_contentFrom".into(), (RECIPIENT,)).await.unwrap();
    assert_eq!(nobody, serde_json::json!({"pending": {}, "queued": {}}));
    let inspect: serde_json::Value =
        provider.raw_request("txpool_inspect".into(), ()).await.unwrap();
    assert_eq!(
        inspect["pending"][&key]["0"],
        format!(
            "{}: 1 wei + {} gas × {} wei",
            RECIPIENT.to_checksum(None),
            pending.gas_limit(),
            pending.max_fee_per_gas()
        )
    );
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_consensus_encodings_of_headers_blocks_receipts_and_transactions() {
    use alloy::{
        consensus::{Block, ReceiptEnvelope, TxEnvelope, proofs::calculate_receipt_root},
        eips::eip2718::Decodable2718,
        rpc::types::Header,
    };
    use alloy_rlp::Decodable;

    let node = TestNode::start().await;
    let provider = node.provider();
    let signer = dev_signer(1);
    let contract = signer.address().create(0);
    let deploy = raw(&sign(&signer, deploy_storage_contract(DEV_CHAIN_ID, 0)));
    send_raw(&provider, &deploy).await;
    let set = raw(&sign(&signer, set_storage(DEV_CHAIN_ID, 1, contract, U256::from(42))));
    let receipt = send_raw(&provider, &set).await;
    let (number, hash) = (receipt.block_number.unwrap(), receipt.block_hash.unwrap());
    let index = receipt.transaction_index.unwrap();
    let block = provider.get_block_by_number(number.into()).await.unwrap().unwrap();
    let request = |method: &'static str, params: serde_json::Value| {
        let provider = &provider;
        async move { provider.raw_request::<_, serde_json::Value>(method.into(), params).await }
    };

    // Transactions: the bytes that were sent, from the chain by hash or position, or from
    // the pool while waiting (a gapped nonce stays there).
    let by_hash: Bytes = provider
        .raw_request("eth_getRawTransactionByHash".into(), (receipt.transaction_hash,))
        .await
        .unwrap();
    assert_eq!(by_hash, set);
    let debug: Bytes = provider
        .raw_request("debug_getRawTransaction".into(), (receipt.transaction_hash,))
        .await
        .unwrap();
    assert_eq!(debug, set);
    let by_number: Bytes = provider
        .raw_request(
            "eth_getRawTransactionByBlockNumberAndIndex".into(),
            (U256::from(number), U256::from(index)),
        )
        .await
        .unwrap();
    assert_eq!(by_number, set);
    let by_block_hash: Bytes = provider
        .raw_request("eth_getRawTransactionByBlockHashAndIndex".into(), (hash, U256::from(index)))
        .await
        .unwrap();
    assert_eq!(by_block_hash, set);
    let past_end =
        request("eth_getRawTransactionByBlockHashAndIndex", serde_json::json!([hash, "0x63"]))
            .await
            .unwrap();
    assert!(past_end.is_null());
    let unknown = request("eth_getRawTransactionByHash", serde_json::json!([B256::repeat_byte(5)]))
        .await
        .unwrap();
    assert!(unknown.is_null());
    let gapped = raw(&sign(&signer, transfer(DEV_CHAIN_ID, 9, RECIPIENT, U256::from(1))));
    let gapped_hash = provider.send_raw_transaction(&gapped).await.unwrap().tx_hash().to_owned();
    let pooled: Bytes =
        provider.raw_request("eth_getRawTransactionByHash".into(), (gapped_hash,)).await.unwrap();
    assert_eq!(pooled, gapped);

    // Headers: the block's header fields, by number or hash; its RLP hashes to the block hash.
    let header: Header =
        provider.raw_request("eth_getHeaderByNumber".into(), (U256::from(number),)).await.unwrap();
    assert_eq!(header, block.header.clone().with_size(None));
    let header: Header = provider.raw_request("eth_getHeaderByHash".into(), (hash,)).await.unwrap();
    assert_eq!(header.hash, hash);
    assert!(
        request("eth_getHeaderByNumber", serde_json::json!(["0x999"])).await.unwrap().is_null()
    );
    let raw_header: Bytes =
        provider.raw_request("debug_getRawHeader".into(), (U256::from(number),)).await.unwrap();
    assert_eq!(alloy_primitives::keccak256(&raw_header), hash);

    // The block: decodes to this header and the transactions sent, at the size reported.
    let raw_block: Bytes = provider.raw_request("debug_getRawBlock".into(), (hash,)).await.unwrap();
    assert_eq!(Some(U256::from(raw_block.len())), block.header.size);
    let decoded = Block::<TxEnvelope>::decode(&mut raw_block.as_ref()).unwrap();
    assert_eq!(decoded.header.hash_slow(), hash);
    let sent = TxEnvelope::decode_2718_exact(&set).unwrap();
    assert_eq!(decoded.body.transactions[index as usize], sent);

    // Receipts: they decode, and their trie is the header's receipts root.
    let raw_receipts: Vec<Bytes> =
        provider.raw_request("debug_getRawReceipts".into(), ("latest",)).await.unwrap();
    let receipts: Vec<ReceiptEnvelope> =
        raw_receipts.iter().map(|r| ReceiptEnvelope::decode_2718_exact(r).unwrap()).collect();
    assert_eq!(calculate_receipt_root(&receipts), header.receipts_root);
    assert_eq!(receipts[index as usize].logs().len(), 1);

    // A block that does not exist is an error, as geth reports it.
    let missing = request("debug_getRawBlock", serde_json::json!(["0x999"])).await.unwrap_err();
    let missing = missing.as_error_resp().unwrap();
    assert_eq!((missing.code, missing.message.as_ref()), (-32000, "block not found"));
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_call_and_estimate_gas_apply_block_overrides() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let target = address!("00000000000000000000000000000000000f00d6");
    // Returns NUMBER, TIMESTAMP, COINBASE, BASEFEE and GASLIMIT as five words.
    let env = "0x436000524260205241604052486060524560805260a06000f3";
    let call = serde_json::json!({ "to": target });
    let code = serde_json::json!({ target.to_string(): { "code": env } });
    let coinbase = address!("00000000000000000000000000000000000c0b1e");
    let blocks = serde_json::json!({
        "number": "0x1234", "time": "0x5678", "feeRecipient": coinbase,
        "baseFeePerGas": "0x9", "gasLimit": "0x7654321"
    });
    let result: Bytes =
        provider.raw_request("eth_call".into(), (&call, "latest", &code, &blocks)).await.unwrap();
    let words: Vec<U256> = result.chunks(32).map(U256::from_be_slice).collect();
    let coinbase_word = U256::from_be_slice(coinbase.as_slice());
    let expected = [U256::from(0x1234), U256::from(0x5678), coinbase_word, U256::from(9)];
    assert_eq!(words[..4], expected);
    assert_eq!(words[4], U256::from(0x7654321));
    // Without block overrides the call sees the latest block.
    let head = provider.get_block_number().await.unwrap();
    let result: Bytes =
        provider.raw_request("eth_call".into(), (&call, "latest", &code)).await.unwrap();
    assert_eq!(U256::from_be_slice(&result[..32]), U256::from(head));
    let gas: U256 = provider
        .raw_request("eth_estimateGas".into(), (&call, "latest", &code, &blocks))
        .await
        .unwrap();
    assert!(gas > U256::from(21_000), "{gas}");
    // Unsupported fields are refused, not ignored.
    let refused = provider
        .raw_request::<_, Bytes>(
            "eth_call".into(),
            (&call, "latest", &code, serde_json::json!({ "blobBaseFee": "0x1" })),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.as_error_resp().unwrap().code, -32602);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_call_and_estimate_gas_apply_state_overrides() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let target = address!("00000000000000000000000000000000000f00d5");
    // Returns storage slot 0; returns its own balance.
    let sload = "0x60005460005260206000f3";
    let selfbalance = "0x4760005260206000f3";
    let slot0 = format!("0x{}", "00".repeat(32));
    let call = serde_json::json!({ "to": target });
    let word = |n: u64| format!("0x{:064x}", n);

    let result: Bytes = provider
        .raw_request(
            "eth_call".into(),
            (
                &call,
                "latest",
                serde_json::json!({ target.to_string(): { "code": sload, "stateDiff": { &slot0: word(7) } } }),
            ),
        )
        .await
        .unwrap();
    assert_eq!(U256::from_be_slice(&result), U256::from(7));
    let result: Bytes = provider
        .raw_request(
            "eth_call".into(),
            (
                &call,
                "latest",
                serde_json::json!({ target.to_string(): { "code": selfbalance, "balance": "0x1234" } }),
            ),
        )
        .await
        .unwrap();
    assert_eq!(U256::from_be_slice(&result), U256::from(0x1234));
    let gas: U256 = provider
        .raw_request(
            "eth_estimateGas".into(),
            (&call, "latest", serde_json::json!({ target.to_string(): { "code": sload } })),
        )
        .await
        .unwrap();
    assert!(gas > U256::from(21_000) && gas < U256::from(30_000), "{gas}");
    // Without overrides the address has no code: the call returns nothing.
    let result: Bytes = provider.raw_request("eth_call".into(), (&call, "latest")).await.unwrap();
    assert!(result.is_empty());

    let both = provider
        .raw_request::<_, Bytes>(
            "eth_call".into(),
            (
                &call,
                "latest",
                serde_json::json!({ target.to_string(): { "state": {}, "stateDiff": {} } }),
            ),
        )
        .await
        .unwrap_err();
    let both = both.as_error_resp().unwrap();
    assert_eq!(both.code, -32602, "{}", both.message);
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_access_list_answers_as_geth_does() {
    let node = TestNode::start().await;
    let wallet = node.wallet(0);
    let from = dev_signer(0).address();
    let deploy = |runtime_or_init: Bytes| {
        let wallet = &wallet;
        async move {
            let request = TransactionRequest::default().with_deploy_code(runtime_or_init);
            let receipt =
                wallet.send_transaction(request).await.unwrap().get_receipt().await.unwrap();
            receipt.contract_address.unwrap()
        }
    };
    let store = deploy(storage_contract_init()).await;
    // Reads RECIPIENT's balance: PUSH20 RECIPIENT BALANCE POP STOP.
    let mut runtime = vec![0x73];
    runtime.extend_from_slice(RECIPIENT.as_slice());
    runtime.extend_from_slice(&[0x31, 0x50, 0x00]);
    let mut init = vec![0x60, runtime.len() as u8, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00];
    init.push(0xf3);
    init.extend_from_slice(&runtime);
    let reader = deploy(init.into()).await;

    // The recipient's slots are listed (with the recipient), as geth's tracer lists them.
    let set = TransactionRequest::default()
        .from(from)
        .to(store)
        .input(storage_contract_set(U256::from(5)).into());
    let answer = wallet.create_access_list(&set).await.unwrap();
    let expected =
        AccessList(vec![AccessListItem { address: store, storage_keys: vec![B256::ZERO] }]);
    assert_eq!(answer.access_list, expected);
    assert!(answer.error.is_none());
    // Its gasUsed is what the transaction uses with that list.
    let with_list = set.clone().access_list(answer.access_list.clone()).gas_limit(100_000);
    let receipt = wallet.send_transaction(with_list).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    assert_eq!(U256::from(receipt.gas_used), answer.gas_used);

    // Accounts touched without their storage are listed with no keys.
    let read = TransactionRequest::default().from(from).to(reader);
    let answer = wallet.create_access_list(&read).await.unwrap();
    let expected = AccessList(vec![AccessListItem { address: RECIPIENT, storage_keys: vec![] }]);
    assert_eq!(answer.access_list, expected);

    // A creation that writes no storage needs no list: the new address is warm anyway.
    let create = TransactionRequest::default().from(from).with_deploy_code(storage_contract_init());
    let answer = wallet.create_access_list(&create).await.unwrap();
    assert_eq!(answer.access_list, AccessList::default());
    // One whose constructor writes a slot lists it (PUSH1 1 PUSH1 0 SSTORE STOP), as geth does.
    let writes = TransactionRequest::default()
        .from(from)
        .with_deploy_code(Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55, 0x00]));
    let answer = wallet.create_access_list(&writes).await.unwrap();
    let nonce = wallet.get_transaction_count(from).await.unwrap();
    let expected = AccessList(vec![AccessListItem {
        address: from.create(nonce),
        storage_keys: vec![B256::ZERO],
    }]);
    assert_eq!(answer.access_list, expected);
    node.handle.stop().await;
}
