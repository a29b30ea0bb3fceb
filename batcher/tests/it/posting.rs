//! The happy path: batches land in order, in one transaction or in frames, decode to exactly
//! the sealed blocks, and the sequencer learns what is safe; and back-pressure.

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    providers::{Provider, ProviderBuilder, RootProvider},
};

use batcher::test_utils::stack::{Stack, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_land_in_order_and_decode_to_the_sealed_blocks() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let mut head = 0;
    for round in 0..6 {
        head = stack.send_transfers(10 + round * 7).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stack.wait_committed(head, Duration::from_secs(60)).await;
    let posted = stack.assert_l1_matches_l2().await;
    assert!(!posted.is_empty());
    assert!(posted.iter().all(|b| b.frame_count == 1), "small batches fit one transaction");

    // The batcher reports what is posted: the sequencer's `safe` tag follows L1.
    let l2: RootProvider =
        ProviderBuilder::default().connect_http(stack.node.http_url().parse().unwrap());
    wait_for("safe tag at the committed head", Duration::from_secs(10), || async {
        l2.get_block_by_number(BlockNumberOrTag::Safe)
            .await
            .ok()
            .flatten()
            .is_some_and(|b: alloy::rpc::types::Block| b.header.number == head)
    })
    .await;
    batcher.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_larger_than_one_transaction_lands_in_frames() {
    let mut stack = Stack::start().await;
    let mut config = stack.batcher_config();
    // ~100 bytes per compressed transfer: 300 transfers make several 2 kB frames.
    config.max_frame_bytes = 2_000;
    config.max_frames = 32;
    config.target_batch_bytes = 20_000;
    config.max_batch_age = Duration::from_secs(1);
    let head = stack.send_transfers(300).await;
    let batcher = batcher::spawn(config);
    stack.wait_committed(head, Duration::from_secs(60)).await;
    let posted = stack.assert_l1_matches_l2().await;
    assert!(
        posted.iter().any(|b| b.frame_count > 1),
        "frames: {:?}",
        posted.iter().map(|b| b.frame_count).collect::<Vec<_>>()
    );
    batcher.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_caps_block_size_while_l1_lags_and_lifts_after() {
    let mut stack = Stack::start().await;
    let mut config = stack.batcher_config();
    config.max_pending_bytes = 5_000;
    config.throttled_block_bytes = 1_200;
    stack.anvil.set_automine(false).await;
    let batcher = batcher::spawn(config);

    // L1 takes nothing: unposted bytes pile up until the batcher throttles the sequencer.
    stack.send_transfers(60).await;
    wait_for("the throttle", Duration::from_secs(20), || async {
        stack.node.max_block_bytes() == Some(1_200)
    })
    .await;
    // A restarted sequencer has forgotten the cap: the batcher tells it again.
    stack.node.set_max_block_bytes(None);
    wait_for("the throttle told again", Duration::from_secs(20), || async {
        stack.node.max_block_bytes() == Some(1_200)
    })
    .await;
    let before = stack.node.store().head_number();
    let head = stack.send_transfers(40).await;
    for number in before + 1..=head {
        let block = stack.node.store().blocks().unwrap().block(number).unwrap().unwrap();
        let bytes: usize = block
            .transactions
            .iter()
            .map(|tx| alloy::eips::eip2718::Encodable2718::encode_2718_len(tx.inner()))
            .sum();
        assert!(bytes <= 1_200, "block {number} carries {bytes} bytes while throttled");
    }
    assert!(head > before + 2, "40 transfers under a 1.2 kB cap take several blocks");

    // L1 resumes: the backlog drains and the cap is lifted.
    stack.anvil.set_automine(true).await;
    stack.anvil.mine(1).await;
    stack.wait_committed(head, Duration::from_secs(60)).await;
    wait_for("the throttle lifted", Duration::from_secs(20), || async {
        stack.node.max_block_bytes().is_none()
    })
    .await;
    stack.assert_l1_matches_l2().await;
    batcher.stop().await.unwrap();
}
