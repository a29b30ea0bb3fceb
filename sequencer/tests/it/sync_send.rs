//! `eth_sendRawTransactionSync` (EIP-7966) over real HTTP, as alloy's provider and a raw
//! JSON-RPC caller use it: the receipt in one round trip, the caller's and the node's timeouts,
//! and the errors geth gives; and `eth_sendTransactionSync`, its node-signed twin.

use std::time::Duration;

use alloy::{consensus::TxEip1559, providers::Provider, rpc::types::TransactionReceipt};
use alloy_primitives::{Address, B256, U256, address, hex};
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{deploy_storage_contract, dev_signer, raw, sign, storage_contract_set, transfer},
};
use serde_json::{Value, json};

use crate::node::{TestNode, http_post};

const RECIPIENT: Address = address!("00000000000000000000000000000000000051c5");

/// The node's default wait and its ceiling, short so the timeouts below take little time.
const DEFAULT_WAIT: Duration = Duration::from_millis(300);
const MAX_WAIT: Duration = Duration::from_millis(600);

/// A JSON-RPC error's (code, message, data).
type Rejection = (i64, String, Option<String>);

async fn sync_send(node: &TestNode, params: Value) -> Result<TransactionReceipt, Rejection> {
    node.provider().raw_request("eth_sendRawTransactionSync".into(), params).await.map_err(|e| {
        let e = e.as_error_resp().expect("an error response");
        let data = e.data.as_ref().map(|d| serde_json::from_str::<String>(d.get()).unwrap());
        (e.code, e.message.to_string(), data)
    })
}

/// Starts `eth_sendRawTransactionSync` of `raw` (30 s wait) on a connection of its own and
/// returns once the node has pooled the transaction `hash`, so a transaction sent next cannot
/// overtake its admission; the handle yields the receipt the call answers with.
async fn start_sync_send(
    node: &TestNode,
    raw: String,
    hash: B256,
) -> tokio::task::JoinHandle<TransactionReceipt> {
    let provider = node.provider();
    let waiting = tokio::spawn(async move {
        provider
            .raw_request("eth_sendRawTransactionSync".into(), json!([raw, 30_000]))
            .await
            .unwrap()
    });
    let provider = node.provider();
    while provider.get_transaction_by_hash(hash).await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waiting
}

fn transfer_raw(signer: usize, nonce: u64) -> (String, B256) {
    let tx = sign(&dev_signer(signer), transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(7)));
    (hex::encode_prefixed(raw(&tx)), *tx.tx_hash())
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_with_the_receipt_or_times_out_as_geth_does() {
    let node = TestNode::start_with(|config| {
        config.rpc.tx_sync_timeout = DEFAULT_WAIT;
        config.rpc.tx_sync_max_timeout = MAX_WAIT;
    })
    .await;
    let provider = node.provider();

    // alloy's own client method: the receipt, the one eth_getTransactionReceipt serves.
    let (first, first_hash) = transfer_raw(3, 0);
    let receipt = provider.send_raw_transaction_sync(&hex::decode(&first).unwrap()).await.unwrap();
    assert_eq!(receipt.transaction_hash, first_hash);
    assert!(receipt.status());
    let block = receipt.block_number.expect("a mined receipt");
    assert_eq!(provider.get_transaction_receipt(first_hash).await.unwrap(), Some(receipt));
    assert!(provider.get_block_number().await.unwrap() >= block);

    // The timeout as a hex quantity and as a plain number, as viem and geth's callers send it.
    let (second, second_hash) = transfer_raw(3, 1);
    let receipt = sync_send(&node, json!([second, "0x2710"])).await.unwrap();
    assert_eq!(receipt.transaction_hash, second_hash);
    let (third, third_hash) = transfer_raw(3, 2);
    assert_eq!(
        sync_send(&node, json!([third, 10_000])).await.unwrap().transaction_hash,
        third_hash
    );

    // Refused transactions fail at once, with eth_sendRawTransaction's errors.
    let refused = sync_send(&node, json!([first])).await.unwrap_err();
    assert_eq!(
        (refused.0, refused.1.as_str()),
        (-32000, "nonce too low: next nonce 3, tx nonce 0")
    );
    let garbage = sync_send(&node, json!(["0x02c0"])).await.unwrap_err();
    assert_eq!(garbage.0, -32602, "{garbage:?}");

    // Behind a nonce gap nothing can include it: code 4 once the wait is over, the hash in
    // `data` (where alloy's callers find it), and the transaction stays in the pool.
    let (gapped, gapped_hash) = transfer_raw(3, 4);
    let started = std::time::Instant::now();
    let timeout = sync_send(&node, json!([gapped, 100])).await.unwrap_err();
    assert_eq!(
        timeout,
        (
            4,
            "The transaction was added to the transaction pool but wasn't processed in 100ms"
                .into(),
            Some(gapped_hash.to_string()),
        )
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    let pooled = provider.get_transaction_by_hash(gapped_hash).await.unwrap().expect("pooled");
    assert_eq!(pooled.block_number, None);
    // Via alloy's client, which reads the hash out of the error.
    let (gapped_too, gapped_too_hash) = transfer_raw(3, 5);
    let err = provider.send_raw_transaction_sync(&hex::decode(&gapped_too).unwrap()).await;
    assert_eq!(err.unwrap_err().tx_hash_data(), Some(gapped_too_hash));

    // No timeout, or 0, waits the node's default; more than its ceiling waits the ceiling.
    let (a, _) = transfer_raw(4, 1);
    let (b, _) = transfer_raw(4, 2);
    let (c, _) = transfer_raw(4, 3);
    let in_default =
        "The transaction was added to the transaction pool but wasn't processed in 300ms";
    assert_eq!(sync_send(&node, json!([a])).await.unwrap_err().1, in_default);
    assert_eq!(sync_send(&node, json!([b, 0])).await.unwrap_err().1, in_default);
    assert_eq!(
        sync_send(&node, json!([c, 3_600_000])).await.unwrap_err().1,
        "The transaction was added to the transaction pool but wasn't processed in 600ms"
    );

    // A caller waiting behind a gap hears of its block the moment the gap is filled: the
    // transaction cannot be in a block before the call begins waiting, so this is the watch,
    // not the look-up in the store.
    let (after_gap, after_gap_hash) = transfer_raw(5, 1);
    let waiting = start_sync_send(&node, after_gap, after_gap_hash).await;
    let (filler, _) = transfer_raw(5, 0);
    sync_send(&node, json!([filler])).await.unwrap();
    let receipt = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("answered once the gap is filled")
        .unwrap();
    assert_eq!(receipt.transaction_hash, after_gap_hash);
    assert_eq!(provider.get_transaction_receipt(after_gap_hash).await.unwrap(), Some(receipt));

    // A receipt handed over from the committed block is eth_getTransactionReceipt's, log
    // indices included: a logging call waits behind a gap that another logging call of the
    // same block fills, so its first log is the block's second.
    let logger = dev_signer(2);
    let storage = logger.address().create(0);
    let deploy = raw(&sign(&logger, deploy_storage_contract(DEV_CHAIN_ID, 0)));
    provider.send_raw_transaction_sync(&deploy).await.unwrap();
    let set = |nonce: u64, value: u64| {
        let tx = TxEip1559 {
            gas_limit: 100_000,
            input: storage_contract_set(U256::from(value)),
            ..transfer(DEV_CHAIN_ID, nonce, storage, U256::ZERO)
        };
        let tx = sign(&logger, tx);
        (hex::encode_prefixed(raw(&tx)), *tx.tx_hash())
    };
    let ((second_set, second_hash), (first_set, _)) = (set(2, 22), set(1, 11));
    let waiting = start_sync_send(&node, second_set, second_hash).await;
    let _ = provider.send_raw_transaction(&hex::decode(first_set).unwrap()).await.unwrap();
    let receipt = tokio::time::timeout(Duration::from_secs(30), waiting).await.unwrap().unwrap();
    let stored = provider.get_transaction_receipt(receipt.transaction_hash).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&receipt));
    let first_log = receipt.inner.logs()[0].log_index;
    let block_logs = provider
        .get_block_receipts(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap()
        .iter()
        .flat_map(|r| r.inner.logs().to_vec())
        .count();
    assert_eq!(block_logs, 2, "both sets in one block");
    assert_eq!(first_log, Some(1));

    // A JSON-RPC batch of synchronous sends: each call is answered on its own terms, the
    // included one with its receipt, the one behind a gap with code 4, in the batch's order.
    let (included, included_hash) = transfer_raw(6, 0);
    let (behind_gap, behind_gap_hash) = transfer_raw(6, 2);
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransactionSync", "params": [included, 10_000]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransactionSync", "params": [behind_gap, 200]},
    ]);
    let (status, body) = http_post(&node, batch.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[0]["result"]["transactionHash"], json!(included_hash));
    assert_eq!(answers[0]["result"]["status"], "0x1");
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(answers[1]["error"]["code"], 4);
    assert_eq!(answers[1]["error"]["data"], json!(behind_gap_hash));

    // Callers sending at once each get their own receipt.
    let calls: Vec<_> = (7..10)
        .map(|signer| {
            let (tx, hash) = transfer_raw(signer, 0);
            let provider = node.provider();
            tokio::spawn(async move {
                let receipt =
                    provider.send_raw_transaction_sync(&hex::decode(tx).unwrap()).await.unwrap();
                (hash, receipt.transaction_hash)
            })
        })
        .collect();
    for call in calls {
        let (sent, answered) = call.await.unwrap();
        assert_eq!(sent, answered);
    }
    node.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_refuses_it() {
    let writer = TestNode::start_with(|config| {
        config.store.shared_with_readers = true;
    })
    .await;
    let replica = TestNode::start_with(|config| {
        config.datadir = writer.datadir();
        config.replica = true;
    })
    .await;
    let (tx, _) = transfer_raw(3, 0);
    let refused = sync_send(&replica, json!([tx])).await.unwrap_err();
    assert_eq!(refused.0, -32000);
    assert!(refused.1.contains("read-only replica"), "{refused:?}");
    replica.handle.stop().await;
    writer.handle.stop().await;
}

/// `eth_sendTransactionSync`: the node fills and signs for its dev account, as
/// `eth_sendTransaction` does, and answers with the receipt, as the raw method does.
#[tokio::test(flavor = "multi_thread")]
async fn the_node_signed_variant_answers_with_the_receipt() {
    let node = TestNode::start_with(|config| {
        config.rpc.tx_sync_timeout = DEFAULT_WAIT;
        config.rpc.tx_sync_max_timeout = MAX_WAIT;
    })
    .await;
    let provider = node.provider();
    let from = dev_signer(4).address();
    let request = alloy::rpc::types::TransactionRequest::default()
        .from(from)
        .to(RECIPIENT)
        .value(U256::from(9));
    // alloy's provider, with no wallet of its own, asks the node to sign and wait.
    let receipt = provider.send_transaction_sync(request.clone()).await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, from);
    let stored = provider.get_transaction_receipt(receipt.transaction_hash).await.unwrap();
    assert_eq!(stored, Some(receipt));

    // The caller's timeout, and what a nonce gap gives: code 4 with the hash in `data`.
    let gapped = request.clone().nonce(5);
    let error = provider
        .raw_request::<_, TransactionReceipt>("eth_sendTransactionSync".into(), json!([gapped, 50]))
        .await
        .unwrap_err();
    let error = error.as_error_resp().expect("an error response");
    assert_eq!(error.code, 4, "{error:?}");
    let hash: B256 = serde_json::from_str(error.data.as_ref().unwrap().get()).unwrap();
    assert!(provider.get_transaction_by_hash(hash).await.unwrap().is_some(), "still pooled");

    // An account the node holds no key for: eth_sendTransaction's refusal, at once.
    let stranger = request.from(RECIPIENT);
    let error = provider
        .raw_request::<_, TransactionReceipt>("eth_sendTransactionSync".into(), json!([stranger]))
        .await
        .unwrap_err();
    assert_eq!(error.as_error_resp().expect("an error response").code, -32000, "{error:?}");
    node.handle.stop().await;
}
