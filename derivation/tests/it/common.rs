//! Helpers shared by the derivation tests.

use std::path::Path;

use alloy::primitives::{B256, Bytes, U256};
use batcher::{
    batch::{Batch, EncodeOptions},
    l1::L1,
    test_utils::stack::{SENDER, Stack},
};
use derivation::{
    StoreLocation, open_replayer,
    source::L1Source,
    sync::{SyncOptions, Syncer},
};
use sequencer::{
    genesis::{DEV_CHAIN_ID, Genesis},
    node::ExecMode,
    test_utils::{deploy_storage_contract, dev_signer, set_storage, sign},
};

/// Deploys the test storage contract on L2 and sets it a few times (receipts with logs,
/// storage writes, a creation), then sends transfers; returns the L2 head and the count of
/// transactions sent.
pub(crate) async fn mixed_traffic(stack: &mut Stack) -> (u64, u64) {
    let signer = dev_signer(SENDER);
    let deploy_nonce = stack.next_nonce();
    let contract = signer.address().create(deploy_nonce);
    let mut txs = vec![sign(&signer, deploy_storage_contract(DEV_CHAIN_ID, deploy_nonce))];
    for value in 1..=3u64 {
        let nonce = stack.next_nonce();
        txs.push(sign(&signer, set_storage(DEV_CHAIN_ID, nonce, contract, U256::from(value))));
    }
    let sent = txs.len() as u64;
    stack.send_and_wait(txs).await;
    let mut total = sent;
    let mut head = 0;
    for round in 0..3 {
        head = stack.send_transfers(5 + round).await;
        total += 5 + round as u64;
    }
    (head, total)
}

/// Posts `data` as the batch for L2 blocks `first..=last` with the batcher key, as a faulty or
/// malicious batcher would, and waits for it to land.
pub(crate) async fn post_batch(
    stack: &Stack,
    first: u64,
    last: u64,
    state_root: B256,
    block_hash: B256,
    data: Vec<u8>,
) {
    let input =
        L1::calldata(first, last, state_root, block_hash, 0, 1, B256::ZERO, Bytes::from(data));
    assert!(stack.send_as_batcher(input).await, "the contract accepted the batch");
}

/// The honest batch data of the sealed blocks `first..=last`.
pub(crate) fn honest_data(stack: &Stack, first: u64, last: u64) -> (Vec<u8>, B256, B256) {
    let blocks = stack.node.store().blocks().unwrap();
    let sealed: Vec<_> = (first..=last).map(|n| blocks.block(n).unwrap().unwrap()).collect();
    let data = Batch::from_blocks(&sealed).unwrap().encode(&EncodeOptions::default()).unwrap();
    let last = sealed.last().unwrap();
    (data, last.header.state_root, last.hash)
}

/// A syncer of the replica in `dir` scanning L1 from `from_block`, stepped by the test.
pub(crate) async fn syncer(stack: &Stack, dir: &Path, from_block: u64) -> Syncer {
    let mut source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    source.from_block = from_block;
    let replayer =
        open_replayer(&source, &Genesis::dev(), StoreLocation::Datadir(dir), ExecMode::Parallel)
            .await
            .unwrap();
    Syncer::new(source, replayer, dir.to_path_buf(), SyncOptions::default()).unwrap()
}
