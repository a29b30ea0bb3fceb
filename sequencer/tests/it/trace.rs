//! The `debug_trace*` methods over real HTTP, read as a geth user reads them: call trees,
//! pre-states, struct logs, for transactions inside a block (replayed after the ones before
//! them) and for calls, with the node's bounds reported as errors.

use alloy::{consensus::TxEip1559, providers::Provider};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{
        deploy_storage_contract, dev_signer, raw, sign, storage_contract_event,
        storage_contract_set, transfer,
    },
};
use serde_json::{Value, json};

use crate::node::{TestNode, send_raw};

/// Init code of a contract that forwards its calldata to `target` (a `CALL` with all its gas)
/// and stops.
fn forwarder_init(target: Address) -> Bytes {
    let mut runtime = vec![
        0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // CALLDATACOPY(0, 0, CALLDATASIZE)
        0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00, // ret 0 0, args 0 CDS, value 0
        0x73, // PUSH20 target
    ];
    runtime.extend_from_slice(target.as_slice());
    runtime.extend_from_slice(&[0x5a, 0xf1, 0x00]); // GAS CALL STOP
    let len = u8::try_from(runtime.len()).unwrap();
    let mut init = vec![0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3];
    init.extend_from_slice(&runtime);
    init.into()
}

/// Steps the struct logger may record on the test node: more than a forwarded `set` takes (29),
/// far fewer than a loop burning 100,000 gas.
const MAX_STEPS: u64 = 40;

/// Bytes one trace request may record on the test node: ample for the sets' struct logs, not
/// for one with a copy of 64 KiB of memory at each step.
const MAX_BYTES: usize = 64 << 10;

async fn rpc(node: &TestNode, method: &'static str, params: Value) -> Result<Value, (i64, String)> {
    node.provider().raw_request::<_, Value>(method.into(), params).await.map_err(|e| {
        let e = e.as_error_resp().expect("an error response");
        (e.code, e.message.to_string())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_transactions_blocks_and_calls_as_geth_does() {
    let node = TestNode::start_with(|config| {
        config.rpc.trace.max_steps = MAX_STEPS;
        config.rpc.trace.max_recorded_bytes = MAX_BYTES;
    })
    .await;
    let provider = node.provider();
    let signer = dev_signer(2);
    let storage = signer.address().create(0);
    let forwarder = signer.address().create(1);
    send_raw(&provider, &raw(&sign(&signer, deploy_storage_contract(DEV_CHAIN_ID, 0)))).await;
    let deploy_forwarder = TxEip1559 {
        gas_limit: 300_000,
        to: TxKind::Create,
        input: forwarder_init(storage),
        ..transfer(DEV_CHAIN_ID, 1, Address::ZERO, U256::ZERO)
    };
    send_raw(&provider, &raw(&sign(&signer, deploy_forwarder))).await;

    // Two `set`s through the forwarder in one block: 43 waits behind a nonce gap until 42
    // arrives, so both become pending together.
    let set = |nonce, value| {
        let tx = TxEip1559 {
            gas_limit: 100_000,
            input: storage_contract_set(U256::from(value)),
            ..transfer(DEV_CHAIN_ID, nonce, forwarder, U256::ZERO)
        };
        raw(&sign(&signer, tx))
    };
    let second = provider.send_raw_transaction(&set(3, 43)).await.unwrap();
    let first = send_raw(&provider, &set(2, 42)).await;
    let second = second.get_receipt().await.unwrap();
    assert_eq!(first.block_hash, second.block_hash, "both sets in one block");
    assert_eq!((first.transaction_index, second.transaction_index), (Some(0), Some(1)));
    let (block, hash) = (second.block_number.unwrap(), second.transaction_hash);

    // callTracer: the wallet's call into the forwarder, the forwarder's call into storage
    // with the calldata sent, its log, and the receipt's gas.
    let calls = rpc(
        &node,
        "debug_traceTransaction",
        json!([hash, { "tracer": "callTracer", "tracerConfig": { "withLog": true } }]),
    )
    .await
    .unwrap();
    assert_eq!(calls["type"], "CALL");
    assert_eq!(calls["from"], format!("{:#x}", signer.address()));
    assert_eq!(calls["to"], format!("{forwarder:#x}"));
    assert_eq!(calls["gasUsed"], format!("{:#x}", second.gas_used));
    let inner = &calls["calls"][0];
    assert_eq!(
        (inner["type"].as_str(), inner["to"].as_str()),
        (Some("CALL"), Some(format!("{storage:#x}").as_str()))
    );
    assert_eq!(inner["input"], storage_contract_set(U256::from(43)).to_string());
    assert_eq!(inner["logs"][0]["topics"][0], storage_contract_event().to_string());
    let top = rpc(
        &node,
        "debug_traceTransaction",
        json!([hash, { "tracer": "callTracer", "tracerConfig": { "onlyTopCall": true } }]),
    )
    .await
    .unwrap();
    assert!(top.get("calls").is_none_or(Value::is_null), "{top}");

    // prestateTracer: the slot as the first set of the block left it, which only a replay of
    // that transaction before this one shows; diffMode shows the write.
    let slot0 = format!("0x{}", "00".repeat(32));
    let word = |n: u64| format!("0x{n:064x}");
    let pre = rpc(&node, "debug_traceTransaction", json!([hash, { "tracer": "prestateTracer" }]))
        .await
        .unwrap();
    assert_eq!(pre[format!("{storage:#x}")]["storage"][&slot0], word(42), "{pre}");
    let diff = rpc(
        &node,
        "debug_traceTransaction",
        json!([hash, { "tracer": "prestateTracer", "tracerConfig": { "diffMode": true } }]),
    )
    .await
    .unwrap();
    assert_eq!(diff["pre"][format!("{storage:#x}")]["storage"][&slot0], word(42), "{diff}");
    assert_eq!(diff["post"][format!("{storage:#x}")]["storage"][&slot0], word(43), "{diff}");

    // The struct logger: every step, ending as the receipt says; `limit` keeps the first few.
    let logs = rpc(&node, "debug_traceTransaction", json!([hash])).await.unwrap();
    assert_eq!(logs["failed"], false);
    assert_eq!(logs["gas"], second.gas_used);
    let steps = logs["structLogs"].as_array().unwrap();
    assert_eq!(steps[0]["op"], "CALLDATASIZE");
    assert!(steps.iter().any(|s| s["op"] == "SSTORE" && s["depth"] == 2), "{logs}");
    let few = rpc(&node, "debug_traceTransaction", json!([hash, { "limit": 5 }])).await.unwrap();
    assert_eq!(few["structLogs"].as_array().unwrap().len(), 5);

    // Whole blocks, by number and by hash, one entry per transaction.
    let by_number = rpc(
        &node,
        "debug_traceBlockByNumber",
        json!([format!("{block:#x}"), { "tracer": "callTracer" }]),
    )
    .await
    .unwrap();
    let entries = by_number.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["txHash"], first.transaction_hash.to_string());
    assert_eq!(entries[1]["txHash"], hash.to_string());
    assert_eq!(
        entries[1]["result"],
        calls
            .as_object()
            .map(|c| {
                let mut c = c.clone();
                c["calls"][0].as_object_mut().unwrap().remove("logs");
                Value::Object(c)
            })
            .unwrap()
    );
    let by_hash = rpc(
        &node,
        "debug_traceBlockByHash",
        json!([second.block_hash.unwrap(), { "tracer": "callTracer" }]),
    )
    .await
    .unwrap();
    assert_eq!(by_hash, by_number);
    let four_bytes =
        rpc(&node, "debug_traceBlockByNumber", json!(["latest", { "tracer": "4byteTracer" }]))
            .await
            .unwrap();
    assert_eq!(four_bytes[1]["result"]["0x60fe47b1-32"], 2, "{four_bytes}");

    // traceCall: at the latest state, inside the block after its first transaction (txIndex),
    // and with state and block overrides.
    let read = json!({ "from": signer.address(), "to": storage });
    let value_at = |params: Value| {
        let node = &node;
        async move {
            let trace = rpc(node, "debug_traceCall", params).await.unwrap();
            U256::from_str_radix(
                trace["returnValue"].as_str().unwrap().trim_start_matches("0x"),
                16,
            )
            .unwrap()
        }
    };
    assert_eq!(value_at(json!([read, "latest"])).await, U256::from(43));
    assert_eq!(
        value_at(json!([read, format!("{block:#x}"), { "txIndex": "0x1" }])).await,
        U256::from(42)
    );
    assert_eq!(
        value_at(json!([read, format!("{block:#x}"), { "txIndex": "0x0" }])).await,
        U256::ZERO
    );
    let overridden = json!({ storage.to_string(): { "stateDiff": { &slot0: word(7) } } });
    assert_eq!(
        value_at(json!([read, "latest", { "stateOverrides": overridden }])).await,
        U256::from(7)
    );
    let number_code = json!({ storage.to_string(): { "code": "0x4360005260206000f3" } });
    let numbered = json!([read, "latest", { "stateOverrides": number_code, "blockOverrides": { "number": "0x1234" } }]);
    assert_eq!(value_at(numbered).await, U256::from(0x1234));
    let nested = rpc(
        &node,
        "debug_traceCall",
        json!([{ "from": signer.address(), "to": forwarder, "data": storage_contract_set(U256::from(7)) }, "latest", { "tracer": "callTracer" }]),
    )
    .await
    .unwrap();
    assert_eq!(nested["calls"][0]["to"], format!("{storage:#x}"));
    // The call left nothing behind.
    assert_eq!(value_at(json!([read, "latest"])).await, U256::from(43));

    // What the node refuses, and how.
    let unknown =
        rpc(&node, "debug_traceTransaction", json!([alloy_primitives::B256::repeat_byte(7)])).await;
    assert_eq!(unknown.unwrap_err(), (-32000, "transaction not found".to_string()));
    let js = rpc(
        &node,
        "debug_traceTransaction",
        json!([hash, { "tracer": "{ result: function() { return 1 } }" }]),
    )
    .await;
    let (code, message) = js.unwrap_err();
    assert_eq!(code, -32000);
    assert!(message.contains("callTracer"), "{message}");
    let burner = json!({ storage.to_string(): { "code": "0x5b600056" } });
    let burn = json!({ "from": signer.address(), "to": storage, "gas": "0x186a0" });
    let (code, message) =
        rpc(&node, "debug_traceCall", json!([burn, "latest", { "stateOverrides": burner }]))
            .await
            .unwrap_err();
    assert_eq!(code, -32005, "{message}");
    assert!(message.contains(&format!("exceeds {MAX_STEPS} steps")), "{message}");
    // Stopped inside a nested call: the forwarder's call into the burning code.
    let nested_burn = json!({ "from": signer.address(), "to": forwarder, "gas": "0x186a0" });
    let (code, message) =
        rpc(&node, "debug_traceCall", json!([nested_burn, "latest", { "stateOverrides": burner }]))
            .await
            .unwrap_err();
    assert_eq!(code, -32005, "{message}");
    let burn_long = json!({ "from": signer.address(), "to": storage, "gas": "0x2faf080" });
    let timed_out = rpc(
        &node,
        "debug_traceCall",
        json!([burn_long, "latest", { "tracer": "callTracer", "timeout": "1ms", "stateOverrides": burner }]),
    )
    .await;
    assert_eq!(timed_out.unwrap_err(), (-32000, "execution timeout".to_string()));
    let memory = json!({ storage.to_string(): { "code": "0x620100005100" } }); // MLOAD(65536)
    let (code, message) = rpc(
        &node,
        "debug_traceCall",
        json!([read, "latest", { "enableMemory": true, "stateOverrides": memory }]),
    )
    .await
    .unwrap_err();
    assert_eq!(code, -32005, "{message}");
    assert!(message.contains(&format!("exceeds {MAX_BYTES} recorded bytes")), "{message}");
    let beyond =
        rpc(&node, "debug_traceCall", json!([read, format!("{block:#x}"), { "txIndex": "0x2" }]))
            .await
            .unwrap_err();
    assert_eq!(beyond, (-32000, format!("transaction index 2 out of range for block {block:#x}")));
    let genesis = rpc(&node, "debug_traceBlockByNumber", json!(["0x0"])).await.unwrap_err();
    assert_eq!(genesis, (-32000, "genesis is not traceable".to_string()));
    let missing = rpc(&node, "debug_traceBlockByNumber", json!(["0x999"])).await.unwrap_err();
    assert_eq!(missing, (-32000, "block not found".to_string()));
    node.handle.stop().await;
}
