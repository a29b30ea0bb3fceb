//! `verify`, `batches` and `inspect`: an honest chain passes; a wrong state root fails at
//! exactly its block; corrupted data is reported, never a crash — through the library and
//! through the real binary.

use std::{process::Command, time::Duration};

use alloy::providers::Provider;
use alloy_primitives::B256;
use batcher::test_utils::stack::Stack;
use derivation::{
    DerivationError, Divergence, StoreLocation,
    display::BatchRow,
    open_replayer,
    source::L1Source,
    verify::{VerifyRange, verify},
};
use sequencer::{genesis::Genesis, node::ExecMode};

use crate::common::{honest_data, mixed_traffic, post_batch, syncer};

fn derivation(stack: &Stack, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_derivation"))
        .args(["--l1.rpc-url", &stack.anvil.url(), "--rollup", &stack.rollup.to_string()])
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "derivation {args:?} panicked: {stderr}");
    (output.status.code().unwrap_or(-1), stdout)
}

async fn verify_all(
    stack: &Stack,
    exec: ExecMode,
) -> Result<derivation::verify::VerifySummary, DerivationError> {
    verify_with(stack, exec, 0, VerifyRange::default()).await
}

/// Verifies `range` in a scratch store, scanning L1 from `from_block`.
async fn verify_with(
    stack: &Stack,
    exec: ExecMode,
    from_block: u64,
    range: VerifyRange,
) -> Result<derivation::verify::VerifySummary, DerivationError> {
    let mut source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    source.from_block = from_block;
    let replayer =
        open_replayer(&source, &Genesis::dev(), StoreLocation::Scratch, exec).await.unwrap();
    verify(&source, &replayer, range, |_| {}).await
}

/// A stack whose batcher committed at least two batches, in different L1 blocks, and
/// stopped; returns the contract's latest block.
async fn two_batches() -> (Stack, u64) {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let first = stack.send_transfers(5).await;
    stack.wait_committed(first, Duration::from_secs(30)).await;
    let second = stack.send_transfers(5).await;
    stack.wait_committed(second, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    let committed = stack.committed().await;
    (stack, committed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_chain_verifies_with_both_executors() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let (head, sent) = mixed_traffic(&mut stack).await;
    stack.wait_committed(head, Duration::from_secs(60)).await;
    batcher.stop().await.unwrap();

    for exec in [ExecMode::Parallel, ExecMode::Sequential] {
        let summary = verify_all(&stack, exec).await.unwrap();
        assert_eq!(summary.last_block, head);
        assert_eq!(summary.blocks, head);
        assert_eq!(summary.txs, sent);
    }

    let (code, out) = derivation(&stack, &["verify", "--dev"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every posted state root and block hash matches"), "{out}");
    let (code, out) = derivation(&stack, &["batches"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("state root") && !out.contains("ERROR"), "{out}");
    let (code, out) = derivation(&stack, &["batches", "--json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let txs: u64 = rows.iter().map(|r| r["transactions"].as_u64().unwrap()).sum();
    assert_eq!(txs, sent);
    let (code, out) = derivation(&stack, &["inspect", "0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("batch 0: L2 blocks 1..=") && out.contains("(create)"), "{out}");
    let (code, out) = derivation(&stack, &["inspect", "0", "--json"]);
    assert_eq!(code, 0);
    let inspected: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inspected["blocks"][0]["number"], 1);
    let (code, _) = derivation(&stack, &["inspect", "999"]);
    assert_eq!(code, 1, "a batch that does not exist is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_root_fails_verification_at_exactly_that_block() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let sent = stack.send_transfers(10).await;
    stack.wait_committed(sent, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    // The batcher may have committed an empty block sealed after the transfers too: the
    // forged range starts after whatever the contract holds.
    let honest = stack.committed().await;

    // The next range, with its real data and block hash but a made-up state root.
    let last = stack.send_transfers(6).await;
    let (data, root, hash) = honest_data(&stack, honest + 1, last);
    let wrong = B256::repeat_byte(0xee);
    post_batch(&stack, honest + 1, last, wrong, hash, data).await;

    let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    let replayer =
        open_replayer(&source, &Genesis::dev(), StoreLocation::Scratch, ExecMode::Parallel)
            .await
            .unwrap();
    match verify(&source, &replayer, VerifyRange::default(), |_| {}).await {
        Err(DerivationError::Diverged(divergence)) => {
            assert_eq!(
                *divergence,
                Divergence::StateRoot { block: last, posted: wrong, computed: root }
            );
        }
        other => panic!("expected a state root divergence, got {other:?}"),
    }
    // The forged batch's earlier blocks were built and committed before its last one failed
    // the check: they are taken back out, so the store holds only the verified chain.
    assert!(last > honest + 1, "the forged batch spans several blocks");
    assert_eq!(replayer.store().head_number(), honest);
    let (code, out) = derivation(&stack, &["verify", "--dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("first divergent L2 block: {last}")), "{out}");
    assert!(out.contains("state root differs"), "{out}");
    // The honest prefix still verifies.
    let (code, out) = derivation(&stack, &["verify", "--dev", "--to", &honest.to_string()]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_batch_data_is_reported_not_a_crash() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let sent = stack.send_transfers(8).await;
    stack.wait_committed(sent, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    // The batcher may have committed an empty block sealed after the transfers too: the
    // forged range starts after whatever the contract holds.
    let honest = stack.committed().await;

    let last = stack.send_transfers(4).await;
    let (mut data, root, hash) = honest_data(&stack, honest + 1, last);
    // Flip bytes in the middle of the compressed payload.
    let middle = data.len() / 2;
    for byte in &mut data[middle..middle + 8] {
        *byte ^= 0x5a;
    }
    post_batch(&stack, honest + 1, last, root, hash, data).await;
    // And a batch that is not even our format.
    let after = stack.send_transfers(2).await;
    post_batch(&stack, last + 1, after, root, hash, b"definitely not a batch".to_vec()).await;

    // Flipped bytes inside a zstd frame may still decompress, into different transactions:
    // whatever they became, verification fails inside that batch's range.
    let failed_at = match verify_all(&stack, ExecMode::Parallel).await {
        Err(DerivationError::Diverged(divergence)) => divergence.block().expect("a block"),
        other => panic!("expected a divergence, got {other:?}"),
    };
    assert!((honest + 1..=last).contains(&failed_at), "failed at {failed_at}");
    let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    let head = source.head().await.unwrap();
    let rows: Vec<BatchRow> = source
        .batches(0, head)
        .await
        .unwrap()
        .iter()
        .map(|b| BatchRow::new(b, sequencer::genesis::DEV_CHAIN_ID))
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].error.is_none());
    assert!(rows[2].error.as_deref().is_some_and(|e| e.contains("undecodable")), "{rows:?}");

    let (code, out) = derivation(&stack, &["verify", "--dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VERIFICATION FAILED"), "{out}");
    assert!(out.contains(&format!("first divergent L2 block: {failed_at}")), "{out}");
    let (code, out) = derivation(&stack, &["batches"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ERROR"), "{out}");
    let (code, out) = derivation(&stack, &["inspect", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("undecodable"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_from_after_the_deployment_still_knows_the_batcher() {
    let (stack, committed) = two_batches().await;
    let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    // Batch 0 lands after the deployment: the constructor's BatcherChanged is not scanned.
    let from = source.batch_l1_block(0).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut syncer = syncer(&stack, dir.path(), from).await;
    syncer.step().await.unwrap();
    assert_eq!(syncer.store().head_number(), committed, "no batch is skipped");
    let summary = verify_with(&stack, ExecMode::Parallel, from, VerifyRange::default())
        .await
        .expect("the batches authenticate against the batcher read at the block before");
    assert_eq!(summary.last_block, committed);

    let (code, out) =
        derivation(&stack, &["--l1.from-block", &from.to_string(), "verify", "--dev"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every posted state root and block hash matches"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_before_the_first_l1_block_scanned_are_an_error_not_a_divergence() {
    let (stack, _) = two_batches().await;
    let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    let from = source.batch_l1_block(1).await.unwrap();
    let first_block = match source.batch(1).await.unwrap() {
        Ok(batch) => batch.first_block,
        Err(divergence) => panic!("batch 1 reads back: {divergence}"),
    };
    let expected = |result: Result<(), DerivationError>| match result {
        Err(DerivationError::BatchesPrecedeFromBlock {
            from_block,
            batch,
            first_block: at,
            head,
        }) => {
            assert_eq!((from_block, batch, at, head), (from, 1, first_block, 0));
        }
        other => panic!("expected batches before --l1.from-block, got {other:?}"),
    };

    expected(verify_with(&stack, ExecMode::Parallel, from, VerifyRange::default()).await.map(drop));
    let dir = tempfile::tempdir().unwrap();
    let mut syncer = syncer(&stack, dir.path(), from).await;
    expected(syncer.step().await);
    assert_eq!(syncer.store().head_number(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_unless_it_reaches_its_target() {
    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let head = stack.send_transfers(6).await;
    stack.wait_committed(head, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    let committed = stack.committed().await;

    // Scanning from past every batch finds none: nothing was verified, which is no success.
    let past = stack.l1().get_block_number().await.unwrap() + 1;
    match verify_with(&stack, ExecMode::Parallel, past, VerifyRange::default()).await {
        Err(DerivationError::Incomplete { verified, target, committed: at, .. }) => {
            assert_eq!((verified, target, at), (0, committed, committed));
        }
        other => panic!("expected an incomplete verification, got {other:?}"),
    }
    let (code, out) =
        derivation(&stack, &["--l1.from-block", &past.to_string(), "verify", "--dev"]);
    assert_eq!(code, 1, "{out}");

    // Reporting from beyond the last committed block (or beyond --to) is a usage error.
    let beyond = VerifyRange { from: committed + 1, to: None };
    match verify_with(&stack, ExecMode::Parallel, 0, beyond).await {
        Err(DerivationError::EmptyRange { from, target, committed: at }) => {
            assert_eq!((from, target, at), (committed + 1, committed, committed));
        }
        other => panic!("expected an empty range, got {other:?}"),
    }
    let (code, out) = derivation(&stack, &["verify", "--dev", "--from", "3", "--to", "2"]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = derivation(&stack, &["verify", "--dev", "--from", "2", "--to", "2"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datadir_is_checked_against_the_posted_chain_not_trusted() {
    let (ours, committed) = two_batches().await;
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().to_str().unwrap();

    // The first run re-executes into the datadir; the second finds every block held and
    // checks each batch against it instead of passing without reading anything.
    let (code, out) = derivation(&ours, &["verify", "--dev", "--datadir", datadir]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("held by the datadir"), "{out}");
    let (code, out) = derivation(&ours, &["verify", "--dev", "--datadir", datadir]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("verified L2 blocks 1..={committed}")), "{out}");
    assert!(out.contains("held by the datadir already"), "{out}");

    // Another chain from the same genesis (its own L1 and sequencer, blocks sealed at other
    // times): the datadir of ours holds its block numbers with other hashes.
    let mut theirs = Stack::start().await;
    let batcher = theirs.spawn_batcher();
    let head = theirs.send_transfers(2).await;
    theirs.wait_committed(head, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    assert!(theirs.committed().await <= committed, "the datadir holds all of their blocks");
    let (code, out) = derivation(&theirs, &["verify", "--dev", "--datadir", datadir]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("VERIFICATION FAILED"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_authenticates_a_rotated_batcher_it_learns_of_between_steps() {
    use sequencer::test_utils::dev_signer;

    let mut stack = Stack::start().await;
    let batcher = stack.spawn_batcher();
    let first = stack.send_transfers(3).await;
    stack.wait_committed(first, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut syncer = syncer(&stack, dir.path(), 0).await;
    syncer.step().await.unwrap();
    assert_eq!(syncer.store().head_number(), first);

    // The owner hands the role to another key, whose batcher posts the next batches: the
    // history the syncer read up to its last step must be extended with the change.
    let successor = dev_signer(4);
    stack.set_batcher(successor.address()).await;
    let batcher_dir = tempfile::tempdir().unwrap();
    let mut config = stack.batcher_config();
    config.key = successor;
    config.datadir = batcher_dir.path().to_path_buf();
    let batcher = batcher::spawn(config);
    let second = stack.send_transfers(3).await;
    stack.wait_committed(second, Duration::from_secs(30)).await;
    batcher.stop().await.unwrap();

    syncer.step().await.unwrap();
    assert_eq!(syncer.store().head_number(), second, "the successor's batches authenticate");
    let summary = verify_all(&stack, ExecMode::Parallel).await.unwrap();
    assert_eq!(summary.last_block, second);
}
