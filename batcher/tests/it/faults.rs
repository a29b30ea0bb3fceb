//! The L1 faults the batcher must survive without losing or duplicating a range, each against
//! a real anvil: an outage, a stuck transaction, a reorg that drops a posted batch, a revert
//! because the range is already committed, a kill between send and confirmation, frames a
//! lost attempt left pending, a frame of another encoding of the same range (a second batcher
//! with the same key), and the owner handing the batcher role to another key.

use std::time::Duration;

use alloy::{
    consensus::Transaction as _, providers::Provider, rpc::types::TransactionRequest,
    sol_types::SolError,
};
use alloy_primitives::{B256, Bytes, U256};
use batcher::{
    BatcherError,
    l1::{L1, Rollup, data_commitment, previous_hashes},
    progress::Progress,
};
use sequencer::test_utils::dev_signer;

use batcher::test_utils::stack::{BATCHER, SENDER, Stack, wait_for};

async fn in_flight(stack: &Stack) -> Progress {
    Progress::load(stack.batcher_dir.path()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_outage_is_waited_out() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(20).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;

    stack.anvil.stop().await;
    // L2 goes on while L1 is away; the batcher keeps retrying.
    let mut head = 0;
    for _ in 0..3 {
        head = stack.send_transfers(15).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(!batcher.is_finished(), "an L1 outage is not fatal");
    stack.anvil.restart().await;

    stack.wait_committed(head, Duration::from_secs(60)).await;
    stack.assert_l1_matches_l2().await;
    batcher.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_transaction_is_replaced_with_higher_fees() {
    let mut stack = Stack::start().await;
    stack.anvil.set_automine(false).await;
    // The fees the batcher starts from: nothing is mined, so the base fee stays put.
    let l1 = L1::connect(&stack.anvil.url(), stack.rollup, dev_signer(BATCHER)).await.unwrap();
    let (original_fee, original_tip) = l1.fees().await.unwrap();
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(20).await;

    // Nothing is mined: after `resubmit_after` the batcher replaces its transaction.
    let dir = stack.batcher_dir.path().to_path_buf();
    wait_for("a replacement", Duration::from_secs(20), || {
        let dir = dir.clone();
        async move {
            Progress::load(&dir).unwrap().in_flight.first().is_some_and(|tx| tx.hashes.len() >= 2)
        }
    })
    .await;
    let progress = in_flight(&stack).await;
    let tx = &progress.in_flight[0];
    assert_eq!(stack.anvil.pending_count().await, 1, "the replacement took the original's place");

    stack.anvil.set_automine(true).await;
    stack.anvil.mine(1).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    let posted = stack.assert_l1_matches_l2().await;
    // The transaction that landed is a replacement, priced at least 10% over the original.
    assert!(tx.hashes[1..].contains(&posted[0].l1_tx), "a replacement committed the batch");
    let landed = stack.l1().get_transaction_by_hash(posted[0].l1_tx).await.unwrap().unwrap();
    assert!(landed.max_fee_per_gas() >= original_fee * 110 / 100, "fee bumped by at least 10%");
    assert!(landed.max_priority_fee_per_gas().unwrap_or_default() >= original_tip * 110 / 100);
    batcher.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_that_drops_a_posted_batch_is_detected_and_reposted() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(20).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    wait_for("progress to record the range as posted", Duration::from_secs(10), || async {
        in_flight(&stack).await.posted == head
    })
    .await;
    batcher.stop().await.unwrap();

    // Every L1 block since the contract's deployment is replaced by an empty one.
    let l1_head = stack.l1().get_block_number().await.unwrap();
    let deployed_at = 1;
    stack.anvil.reorg(l1_head - deployed_at).await;
    assert_eq!(stack.committed().await, 0, "the reorg dropped the batch");

    // A restarted batcher trusts the contract over its progress file and posts the range again;
    // one that keeps running does the same when a reorg happens under it.
    let batcher = stack.spawn_batcher();
    stack.wait_committed(head, Duration::from_secs(30)).await;
    let head = stack.send_transfers(10).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    let l1_head = stack.l1().get_block_number().await.unwrap();
    stack.anvil.reorg(l1_head - deployed_at).await;
    let head = stack.send_transfers(5).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    stack.assert_l1_matches_l2().await;
    batcher.stop().await.unwrap();
    // A transaction sent after the dropped ones may still land and revert harmlessly.
    assert!(stack.batcher_reverts().await <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_because_the_range_is_committed_is_reconciled() {
    let mut stack = Stack::start().await;
    stack.anvil.set_automine(false).await;
    let first = stack.spawn_batcher();
    let head = stack.send_transfers(20).await;
    wait_for("the first batcher's transaction", Duration::from_secs(20), || async {
        stack.anvil.pending_count().await >= 1
    })
    .await;
    // The first batcher dies and its progress is lost: a second one, knowing nothing, posts
    // the same range with the next nonce.
    first.kill();
    std::fs::remove_dir_all(stack.batcher_dir.path()).unwrap();
    let second = stack.spawn_batcher();
    wait_for("the second batcher's transaction", Duration::from_secs(20), || async {
        stack.anvil.pending_count().await >= 2
    })
    .await;

    // Both land: the first commits the range, the second reverts and must not stop.
    stack.anvil.set_automine(true).await;
    stack.anvil.mine(1).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    assert_eq!(stack.batcher_reverts().await, 1);
    let head = stack.send_transfers(10).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    stack.assert_l1_matches_l2().await;
    assert!(!second.is_finished());
    second.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_between_send_and_confirmation_neither_skips_nor_duplicates() {
    let mut stack = Stack::start().await;
    stack.anvil.set_automine(false).await;
    let first = stack.spawn_batcher();
    let head = stack.send_transfers(20).await;
    wait_for("a transaction in flight", Duration::from_secs(20), || async {
        stack.anvil.pending_count().await >= 1 && !in_flight(&stack).await.in_flight.is_empty()
    })
    .await;
    first.kill();

    // The restarted batcher finds its transaction in the progress file and watches it instead
    // of sending a competing one.
    let second = stack.spawn_batcher();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.anvil.pending_count().await, 1, "no second transaction");
    stack.anvil.set_automine(true).await;
    stack.anvil.mine(1).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    let head = stack.send_transfers(10).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    let posted = stack.assert_l1_matches_l2().await;
    second.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
    // Every transaction the batcher key sent committed a batch: nothing was sent twice.
    let sent = stack.l1().get_transaction_count(dev_signer(BATCHER).address()).await.unwrap();
    assert_eq!(sent, posted.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_a_lost_attempt_left_pending_are_replaced() {
    let mut stack = Stack::start().await;
    let head = stack.send_transfers(20).await;
    // Frame 0 of a two-frame batch whose second frame never came (a crash, a reorg, a nonce
    // taken): the contract holds it pending and refuses `submitBatch` until it is replaced.
    let input = L1::frame_calldata(
        1,
        head,
        B256::repeat_byte(1),
        B256::repeat_byte(2),
        0,
        2,
        B256::ZERO,
        Bytes::from_static(b"half a batch"),
    );
    assert!(stack.send_as_batcher(input).await, "the contract took the stranded frame");
    let l1 = L1::connect(&stack.anvil.url(), stack.rollup, dev_signer(BATCHER)).await.unwrap();
    assert_eq!(l1.pending_frames().await.unwrap(), 1);

    // The batcher's one-frame batch goes as frame 0 of 1, replacing the stranded frames.
    let batcher = stack.spawn_batcher();
    stack.wait_committed(head, Duration::from_secs(30)).await;
    stack.assert_l1_matches_l2().await;
    assert_eq!(l1.pending_frames().await.unwrap(), 0);
    batcher.stop().await.unwrap();
    assert_eq!(stack.batcher_reverts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_another_encoding_of_the_range_reverts() {
    let stack = Stack::start().await;
    // Two batchers with the same key post blocks 1..=5 in two frames each, encoded with other
    // settings: same header, same frame indexes, other bytes.
    let a: [&[u8]; 2] = [b"attempt a: frame 0", b"attempt a: frame 1"];
    let b: [&[u8]; 2] = [b"attempt b: frame 0, larger frames", b"attempt b: frame 1"];
    let (chain_a, chain_b) = (previous_hashes(a), previous_hashes(b));
    assert_eq!(chain_a[0], B256::ZERO);
    let frame = |attempt: [&[u8]; 2], chain: &[B256], i: usize| {
        L1::frame_calldata(
            1,
            5,
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            i as u16,
            2,
            chain[i],
            Bytes::copy_from_slice(attempt[i]),
        )
    };
    assert!(stack.send_as_batcher(frame(a, &chain_a, 0)).await, "a's frame 0 opens the batch");

    // b's frame 1, chained to b's frame 0, does not extend a's: the contract says so...
    let stray = frame(b, &chain_b, 1);
    let call = TransactionRequest::default()
        .from(dev_signer(BATCHER).address())
        .to(stack.rollup)
        .input(stray.clone().into());
    let error = stack.l1().call(call).await.expect_err("b's frame 1 reverts");
    let revert = error.as_error_resp().and_then(|e| e.as_revert_data()).expect("revert data");
    let mismatch = Rollup::FrameChainMismatch::abi_decode(&revert).expect("FrameChainMismatch");
    assert_eq!((mismatch.expected, mismatch.got), (chain_a[1], chain_b[1]));
    // ...and a mined transaction of it reverts instead of committing a mix of a and b.
    assert!(!stack.send_as_batcher(stray).await, "b's frame 1 is refused");
    let l1 = L1::connect(&stack.anvil.url(), stack.rollup, dev_signer(BATCHER)).await.unwrap();
    assert_eq!(l1.pending_frames().await.unwrap(), 1, "a's batch still waits for its frame 1");
    assert_eq!(stack.committed().await, 0);

    assert!(stack.send_as_batcher(frame(a, &chain_a, 1)).await, "a's frame 1 completes a");
    let batch = Rollup::new(stack.rollup, stack.l1()).getBatch(U256::ZERO).call().await.unwrap();
    assert_eq!(batch.dataCommitment, data_commitment(a));
    assert_eq!(stack.batcher_reverts().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batcher_the_owner_replaced_stops_instead_of_reverting_forever() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(10).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;

    let successor = dev_signer(SENDER + 1).address();
    stack.set_batcher(successor).await;
    stack.send_transfers(10).await;
    wait_for("the old batcher to stop", Duration::from_secs(30), || async {
        batcher.is_finished()
    })
    .await;
    match batcher.stop().await {
        Err(BatcherError::NotBatcher { expected, .. }) => assert_eq!(expected, successor),
        other => panic!("expected NotBatcher, got {other:?}"),
    }
    assert_eq!(stack.batcher_reverts().await, 1, "one revert, not a loop of them");
}
