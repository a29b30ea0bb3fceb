//! Verification speed: L2 transactions per second re-executed from L1 by `verify`, against the
//! sequencer's own sealing speed on the same blocks.
//!
//! A sequencer (in this process, parallel executor, a block every 250 ms) seals 21,000 ETH
//! transfers sent by seven accounts over JSON-RPC; the batcher posts them to anvil; then `verify` re-executes the whole
//! chain from L1 with each executor. The sequencer's figure is its execution and state-root
//! time from its metrics (sender recovery happened at admission, off the sealing path);
//! verification's includes reading the batches from L1, recovering every sender, executing,
//! computing roots and committing to its scratch store.
//!
//! Run: `cargo bench -p derivation --bench verify` (needs anvil: `bash scripts/setup-tools.sh`).

#![allow(clippy::disallowed_macros)] // it prints its table

use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy_primitives::{Address, U256};
use batcher::test_utils::stack::Stack;
use derivation::{
    StoreLocation, open_replayer,
    source::L1Source,
    verify::{VerifyRange, verify},
};
use futures::future::join_all;
use sequencer::{
    genesis::{DEV_CHAIN_ID, Genesis},
    node::{BlockTime, ExecMode},
    test_utils::{dev_signer, raw, sign, transfer},
};

/// The allocator the binaries run with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SENDERS: std::ops::Range<usize> = 3..10;
const PER_SENDER: u64 = 3_000;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // Blocks every 250 ms, as a loaded sequencer seals them (hundreds of transactions each).
    let stack = Stack::start_configured(&[], |config| {
        config.block_time = BlockTime::Interval(Duration::from_millis(250));
    })
    .await;
    let batcher = stack.spawn_batcher();
    let l2: RootProvider =
        ProviderBuilder::default().connect_http(stack.node.http_url().parse().unwrap());

    eprintln!("sending {} transfers…", SENDERS.len() as u64 * PER_SENDER);
    let started = Instant::now();
    let sends = SENDERS.map(|i| {
        let l2 = l2.clone();
        async move {
            let signer = dev_signer(i);
            let mut last = None;
            for nonce in 0..PER_SENDER {
                let to = Address::with_last_byte((nonce % 250) as u8 + 1);
                let tx = sign(&signer, transfer(DEV_CHAIN_ID, nonce, to, U256::from(1 + nonce)));
                last = Some(*l2.send_raw_transaction(&raw(&tx)).await.expect("accepted").tx_hash());
            }
            last.expect("sent")
        }
    });
    let last_hashes = join_all(sends).await;
    for hash in last_hashes {
        while l2.get_transaction_receipt(hash).await.ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let head = stack.node.store().head_number();
    eprintln!("sealed {head} blocks in {:.1?}; waiting for the batcher…", started.elapsed());
    stack.wait_committed(head, Duration::from_secs(300)).await;
    batcher.stop().await.expect("batcher stops");

    let sealing = stack.node.node().metrics().sealing_totals();
    let seal_time = (sealing.exec + sealing.root).as_secs_f64();
    println!(
        "# Verification speed vs sealing speed ({} blocks, {} transactions)\n",
        sealing.blocks, sealing.transactions
    );
    println!("| who | time | transactions/s | blocks/s | breakdown |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| sequencer sealing (parallel executor) | {seal_time:.2} s | {:.0} | {:.0} | execution {:.2} s, state roots {:.2} s |",
        sealing.transactions as f64 / seal_time,
        sealing.blocks as f64 / seal_time,
        sealing.exec.as_secs_f64(),
        sealing.root.as_secs_f64(),
    );
    let source = L1Source::new(&stack.anvil.url(), stack.rollup).expect("source");
    // A first, unreported pass warms the allocator and the page cache for both.
    let warm =
        open_replayer(&source, &Genesis::dev(), StoreLocation::Scratch, ExecMode::Sequential)
            .await
            .expect("replayer");
    verify(&source, &warm, VerifyRange::default(), |_| {}).await.expect("verifies");
    drop(warm);
    for (name, exec) in [("parallel", ExecMode::Parallel), ("sequential", ExecMode::Sequential)] {
        let replayer = open_replayer(&source, &Genesis::dev(), StoreLocation::Scratch, exec)
            .await
            .expect("replayer");
        let summary =
            verify(&source, &replayer, VerifyRange::default(), |_| {}).await.expect("verifies");
        // The sequencer may have sealed (empty) blocks after `head` was read; the
        // batcher posts those too, so verification covers at least `head`.
        assert!(summary.last_block >= head, "verified up to {} of {head}", summary.last_block);
        let seconds = summary.elapsed.as_secs_f64();
        println!(
            "| `derivation verify --exec {name}` | {seconds:.2} s | {:.0} | {:.0} | L1 reads {:.2} s, sender recovery {:.2} s, building and committing {:.2} s |",
            summary.txs as f64 / seconds,
            summary.blocks as f64 / seconds,
            summary.fetch.as_secs_f64(),
            summary.recover.as_secs_f64(),
            summary.build.as_secs_f64(),
        );
    }
}
