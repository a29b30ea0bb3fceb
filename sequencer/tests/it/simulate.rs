//! `eth_simulateV1` over real HTTP: calls that see each other's effects, blocks sealed as a
//! real block would be (the same state and receipts roots as the block that later includes
//! the same transaction), overrides, ether-transfer logs, and geth's error codes.

use alloy::{
    eips::BlockNumberOrTag,
    providers::Provider,
    rpc::types::{
        Block, BlockOverrides, TransactionRequest,
        simulate::{SimBlock, SimulatePayload, SimulatedBlock},
        state::{AccountOverride, StateOverride},
    },
};
use alloy_primitives::{Address, B256, Bytes, U256, address, bytes};
use sequencer::{
    executor::{TRANSFER_LOG_ADDRESS, TRANSFER_TOPIC},
    genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID},
    test_utils::{dev_signer, raw, sign, transfer},
};
use serde_json::{Value, json};

use crate::node::{TestNode, send_raw};

const RECIPIENT: Address = address!("00000000000000000000000000000000000051a1");
/// Returns `blockhash(calldata[0..32])`.
const BLOCKHASH_CODE: Bytes = bytes!("6000354060005260206000f3");
/// Reverts with the word 0xaa.
const REVERT_CODE: Bytes = bytes!("60aa60005260206000fd");
/// Returns storage slot 0.
const SLOAD_CODE: Bytes = bytes!("60005460005260206000f3");
/// Forwards its value to the address in calldata[0..32], then emits an empty `LOG0`.
const FORWARD_CODE: Bytes = bytes!("6000600060006000346000355af15060006000a000");
const CONTRACT: Address = address!("000000000000000000000000000000000000c0de");

/// A JSON-RPC error's (code, message).
type Rejection = (i64, String);

async fn simulate(node: &TestNode, params: Value) -> Result<Vec<SimulatedBlock<Block>>, Rejection> {
    node.provider().raw_request("eth_simulateV1".into(), params).await.map_err(|e| {
        let e = e.as_error_resp().expect("an error response");
        (e.code, e.message.to_string())
    })
}

fn dev(i: usize) -> Address {
    DEV_ACCOUNTS[i].0
}

fn call(from: Address, to: Address) -> TransactionRequest {
    TransactionRequest::default().from(from).to(to)
}

fn payload(blocks: Vec<SimBlock>) -> SimulatePayload {
    SimulatePayload { block_state_calls: blocks, ..Default::default() }
}

fn code_override(address: Address, code: Bytes) -> StateOverride {
    let mut overrides = StateOverride::default();
    overrides.insert(address, AccountOverride { code: Some(code), ..Default::default() });
    overrides
}

#[tokio::test]
async fn calls_see_earlier_calls_and_blocks_chain_from_the_base() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    let before = provider.get_balance(RECIPIENT).await.unwrap();
    // Two transfers in block 1, then a gap (blocks 2 and 3 are filled in), then block 4 whose
    // call reads the hash of simulated block 1 through BLOCKHASH.
    let first = SimBlock::default()
        .call(call(dev(0), RECIPIENT).value(U256::from(5)))
        .call(call(dev(0), RECIPIENT).value(U256::from(6)));
    let fourth = SimBlock::default()
        .with_block_overrides(BlockOverrides {
            number: Some(U256::from(head.header.number + 4)),
            ..Default::default()
        })
        .with_state_overrides(code_override(CONTRACT, BLOCKHASH_CODE))
        .call(
            call(dev(1), CONTRACT)
                .input(B256::from(U256::from(head.header.number + 1)).0.to_vec().into()),
        );
    let blocks = simulate(&node, json!([payload(vec![first, fourth]), "latest"])).await.unwrap();
    assert_eq!(blocks.len(), 4);
    let mut parent = head.header.hash;
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(block.inner.header.number, head.header.number + 1 + i as u64);
        assert_eq!(block.inner.header.parent_hash, parent);
        assert!(block.inner.header.timestamp > head.header.timestamp + i as u64);
        // The hash is the header's: what a real block with these fields would have.
        assert_eq!(block.inner.header.inner.hash_slow(), block.inner.header.hash);
        parent = block.inner.header.hash;
    }
    let calls = &blocks[0].calls;
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.status && c.gas_used == 21_000 && c.error.is_none()));
    assert_eq!(blocks[0].inner.header.gas_used, 42_000);
    // The two transfers are the block's transactions, nonces in order.
    let hashes = blocks[0].inner.transactions.hashes().collect::<Vec<_>>();
    assert_eq!(hashes.len(), 2);
    assert!(blocks[1].calls.is_empty() && blocks[2].calls.is_empty());
    assert_eq!(blocks[3].calls[0].return_data, Bytes::from(blocks[0].inner.header.hash.0.to_vec()));
    // Nothing was committed.
    assert_eq!(provider.get_balance(RECIPIENT).await.unwrap(), before);
    assert_eq!(
        provider.get_block_number().await.unwrap(),
        head.header.number,
        "a simulation seals no block"
    );
}

#[tokio::test]
async fn a_simulated_block_has_the_roots_of_the_real_block_with_the_same_transaction() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let head = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    let nonce = provider.get_transaction_count(dev(2)).await.unwrap();
    let tx = transfer(DEV_CHAIN_ID, nonce, RECIPIENT, U256::from(1_000));
    let request = TransactionRequest::default()
        .from(dev(2))
        .to(RECIPIENT)
        .value(U256::from(1_000))
        .nonce(nonce)
        .gas_limit(tx.gas_limit)
        .max_fee_per_gas(tx.max_fee_per_gas)
        .max_priority_fee_per_gas(tx.max_priority_fee_per_gas);
    let block = SimBlock::default()
        .with_block_overrides(BlockOverrides {
            coinbase: Some(head.header.beneficiary),
            ..Default::default()
        })
        .call(request);
    let simulated = simulate(
        &node,
        json!([
            SimulatePayload { validation: true, ..payload(vec![block]) },
            format!("{:#x}", head.header.number)
        ]),
    )
    .await
    .unwrap();
    let receipt = send_raw(&provider, &raw(&sign(&dev_signer(2), tx))).await;
    let real =
        provider.get_block_by_number(receipt.block_number.unwrap().into()).await.unwrap().unwrap();
    assert_eq!(real.header.number, head.header.number + 1);
    let simulated = &simulated[0].inner.header;
    assert_eq!(simulated.state_root, real.header.state_root);
    assert_eq!(simulated.receipts_root, real.header.receipts_root);
    assert_eq!(simulated.logs_bloom, real.header.logs_bloom);
    assert_eq!(simulated.gas_used, real.header.gas_used);
    assert_eq!(simulated.base_fee_per_gas, real.header.base_fee_per_gas);
}

#[tokio::test]
async fn overrides_reverts_and_transfer_logs() {
    let node = TestNode::start().await;
    // A fresh account funded by a balance override sends through a forwarding contract, with
    // a storage override read by a second contract, and a call that reverts.
    let rich = address!("00000000000000000000000000000000000a11ce");
    let reader = address!("000000000000000000000000000000000000beef");
    let reverter = address!("000000000000000000000000000000000000dead");
    let mut overrides = code_override(CONTRACT, FORWARD_CODE);
    overrides.insert(
        rich,
        AccountOverride { balance: Some(U256::from(1_000_000)), ..Default::default() },
    );
    overrides.insert(
        reader,
        AccountOverride {
            code: Some(SLOAD_CODE),
            state: Some([(B256::ZERO, B256::with_last_byte(42))].into_iter().collect()),
            ..Default::default()
        },
    );
    overrides.insert(reverter, AccountOverride { code: Some(REVERT_CODE), ..Default::default() });
    let block = SimBlock::default()
        .with_state_overrides(overrides)
        .call(
            call(rich, CONTRACT)
                .value(U256::from(700))
                .input(RECIPIENT.into_word().0.to_vec().into()),
        )
        .call(call(rich, reader))
        .call(call(rich, reverter).value(U256::from(1)));
    let blocks = simulate(
        &node,
        json!([SimulatePayload { trace_transfers: true, ..payload(vec![block]) }, "latest"]),
    )
    .await
    .unwrap();
    let calls = &blocks[0].calls;
    // The forward: the caller's value into the contract, the contract's CALL on to the
    // recipient, then the contract's own LOG0, in the order they happened.
    let forward = &calls[0];
    assert!(forward.status, "{forward:?}");
    let transfer_log = |i: usize, from: Address, to: Address, value: u64| {
        let log = &forward.logs[i];
        assert_eq!(log.address(), TRANSFER_LOG_ADDRESS);
        assert_eq!(log.topics(), [TRANSFER_TOPIC, from.into_word(), to.into_word()]);
        assert_eq!(log.data().data, Bytes::from(U256::from(value).to_be_bytes_vec()));
    };
    assert_eq!(forward.logs.len(), 3);
    transfer_log(0, rich, CONTRACT, 700);
    transfer_log(1, CONTRACT, RECIPIENT, 700);
    assert_eq!(forward.logs[2].address(), CONTRACT);
    assert_eq!(forward.logs.iter().map(|l| l.log_index.unwrap()).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(forward.logs.iter().all(|l| l.block_hash == Some(blocks[0].inner.header.hash)));
    // Only the real log is in the receipt: the block's bloom has the contract, not 0xEeee….
    let bloom = blocks[0].inner.header.logs_bloom;
    assert!(bloom.contains_input(alloy_primitives::BloomInput::Raw(CONTRACT.as_slice())));
    assert!(
        !bloom.contains_input(alloy_primitives::BloomInput::Raw(TRANSFER_LOG_ADDRESS.as_slice()))
    );
    // The storage override is what the reader sees.
    assert_eq!(calls[1].return_data, Bytes::from(B256::with_last_byte(42).0.to_vec()));
    // The revert: status 0, geth's code 3 with the revert data, and no transfer log.
    let reverted = &calls[2];
    assert!(!reverted.status);
    let error = reverted.error.as_ref().unwrap();
    assert_eq!(error.code, 3);
    assert_eq!(error.message, "execution reverted");
    let word = Bytes::from(B256::with_last_byte(0xaa).0.to_vec());
    assert_eq!(error.data.as_ref(), Some(&word));
    assert_eq!(reverted.return_data, word);
    assert!(reverted.logs.is_empty());
}

#[tokio::test]
async fn refusals_carry_geths_codes() {
    let node = TestNode::start().await;
    let provider = node.provider();
    let latest = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    let head = latest.header.number;
    let transfer = || call(dev(0), RECIPIENT).value(U256::from(1));
    let one = |block: SimBlock| json!([payload(vec![block]), "latest"]);
    let at =
        |number: u64| BlockOverrides { number: Some(U256::from(number)), ..Default::default() };
    let code = |result: Result<_, Rejection>| result.unwrap_err().0;

    // Blocks out of order, timestamps out of order, too far ahead.
    let blocks = vec![
        SimBlock::default().with_block_overrides(at(head + 2)),
        SimBlock::default().with_block_overrides(at(head + 2)),
    ];
    assert_eq!(code(simulate(&node, json!([payload(blocks), "latest"])).await), -38020);
    let past = BlockOverrides { time: Some(latest.header.timestamp), ..Default::default() };
    assert_eq!(
        code(simulate(&node, one(SimBlock::default().with_block_overrides(past))).await),
        -38021
    );
    let far = SimBlock::default().with_block_overrides(at(head + 257));
    assert_eq!(code(simulate(&node, one(far)).await), -38026);
    assert_eq!(code(simulate(&node, json!([payload(vec![]), "latest"])).await), -32602);
    // The last possible timestamp leaves no room for the block after it.
    let last = BlockOverrides { time: Some(u64::MAX), ..Default::default() };
    let blocks = vec![SimBlock::default().with_block_overrides(last), SimBlock::default()];
    assert_eq!(code(simulate(&node, json!([payload(blocks), "latest"])).await), -38021);
    // Two kinds of fee, or another chain's id: invalid params, as geth answers.
    let mixed = transfer().gas_price(1).max_fee_per_gas(2);
    assert_eq!(code(simulate(&node, one(SimBlock::default().call(mixed))).await), -32602);
    let foreign = TransactionRequest { chain_id: Some(1), ..transfer() };
    assert_eq!(code(simulate(&node, one(SimBlock::default().call(foreign))).await), -32602);

    // A call that does not fit the block's gas limit.
    let limit = BlockOverrides { gas_limit: Some(30_000), ..Default::default() };
    let block = SimBlock::default()
        .with_block_overrides(limit)
        .call(transfer().gas_limit(21_000))
        .call(transfer().gas_limit(21_000));
    assert_eq!(code(simulate(&node, one(block)).await), -38015);

    // With validation: a nonce below the sender's, and more value than the sender has.
    let validating = |block: SimBlock| {
        json!([SimulatePayload { validation: true, ..payload(vec![block]) }, "latest"])
    };
    let priced = || transfer().max_fee_per_gas(10_000_000_000).max_priority_fee_per_gas(0);
    let stale = SimBlock::default().call(priced().nonce(0)).call(priced().nonce(0));
    let (code_, message) = simulate(&node, validating(stale)).await.unwrap_err();
    assert_eq!(code_, -38010, "{message}");
    assert!(message.starts_with("nonce too low"), "{message}");
    let broke = SimBlock::default().call(priced().from(RECIPIENT));
    assert_eq!(code(simulate(&node, validating(broke)).await), -38014);
    // Without validation the same call runs (nothing to pay, no nonce check) and succeeds.
    let free = SimBlock::default().call(call(RECIPIENT, dev(0)));
    let blocks = simulate(&node, one(free)).await.unwrap();
    assert!(blocks[0].calls[0].status);
}

#[test]
fn the_transfer_topic_is_the_erc20_event() {
    assert_eq!(TRANSFER_TOPIC, alloy_primitives::keccak256("Transfer(address,address,uint256)"));
}
