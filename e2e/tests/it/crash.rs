//! Crash safety: the sequencer and the batcher are killed with SIGKILL at random points under
//! load (ten times each, seeded) and restarted on the same datadirs. Every receipt ever served
//! is still served unchanged, the chain goes on, the batcher posts without gap or duplicate,
//! and the chain verifies from L1.

use std::time::Duration;

use alloy::providers::Provider;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sequencer::{
    genesis::DEV_CHAIN_ID,
    test_utils::{dev_signer, raw, sign, transfer},
};

use crate::{cluster::Cluster, traffic::Traffic};

const KILLS: usize = 10;

fn seed() -> u64 {
    std::env::var("E2E_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_121)
}

/// After the kills: all served receipts unchanged, the chain continues, L1 holds the chain
/// without gaps and it verifies.
async fn check_after_crashes(cluster: &Cluster, traffic: Traffic) {
    let receipts = traffic.stop().await.lock().receipts.clone();
    assert!(receipts.len() > 50, "the load went through ({} receipts)", receipts.len());
    let l2 = cluster.l2();
    for (hash, served) in &receipts {
        let again: serde_json::Value =
            l2.raw_request("eth_getTransactionReceipt".into(), (hash,)).await.unwrap();
        assert_eq!(&again, served, "the receipt of {hash} changed after the crashes");
    }
    let signer = dev_signer(9);
    let nonce = l2.get_transaction_count(signer.address()).pending().await.unwrap();
    let tx = sign(
        &signer,
        transfer(
            DEV_CHAIN_ID,
            nonce,
            alloy_primitives::Address::repeat_byte(0x99),
            alloy_primitives::U256::from(1),
        ),
    );
    let receipt = l2.send_raw_transaction(&raw(&tx)).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "the chain goes on");

    let head = l2.get_block_number().await.unwrap();
    cluster.wait_committed(head, Duration::from_secs(120)).await;
    cluster.assert_contract_matches_sequencer().await;
    let (code, out) = cluster.derivation(&["verify", "--dev", "--to", &head.to_string()]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sequencer_killed_under_load_keeps_every_served_receipt() {
    let mut cluster = Cluster::start().await;
    let traffic = Traffic::start(&cluster.l2_url, 4..8, 10);
    let mut rng = StdRng::seed_from_u64(seed());
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1_200))).await;
        cluster.sequencer.kill_hard();
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        cluster.sequencer.restart().unwrap();
        cluster.wait_l2().await;
        eprintln!(
            "sequencer kill {} of {KILLS}: back at block {}",
            kill + 1,
            cluster.l2().get_block_number().await.unwrap()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    check_after_crashes(&cluster, traffic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batcher_killed_under_load_posts_without_gap_or_duplicate() {
    let mut cluster = Cluster::start().await;
    let traffic = Traffic::start(&cluster.l2_url, 4..8, 10);
    let mut rng = StdRng::seed_from_u64(seed() + 1);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..1_000))).await;
        cluster.batcher.kill_hard();
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        cluster.batcher.restart().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    check_after_crashes(&cluster, traffic).await;
    assert_eq!(cluster.batcher_reverts().await, 0, "no batch was sent twice");
}
