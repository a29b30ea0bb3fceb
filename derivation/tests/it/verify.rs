//! `verify`, `batches` and `inspect`: an honest chain passes; a wrong state root fails at
//! exactly its block; corrupted data is reported, never a crash — through the library and
//! through the real binary.

use std::{process::Command, time::Duration};

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

use crate::common::{honest_data, mixed_traffic, post_batch};

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
    let source = L1Source::new(&stack.anvil.url(), stack.rollup).unwrap();
    let replayer =
        open_replayer(&source, &Genesis::dev(), StoreLocation::Scratch, exec).await.unwrap();
    verify(&source, &replayer, VerifyRange::default(), |_| {}).await
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
