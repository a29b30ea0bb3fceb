//! L1 gas per L2 transaction: batches of the sequencer's workloads, encoded as the batcher
//! encodes them (columnar, zstd at the default level), posted to the real `Rollup` contract
//! on a real anvil (Osaka rules: EIP-7623 calldata floor), in frames of at most
//! [`DEFAULT_MAX_FRAME_BYTES`] as the batcher sends them. Reports the `gasUsed` of the L1
//! transactions, per L2 transaction.
//!
//! Run: `cargo bench -p batcher --bench l1_cost` (needs anvil: `bash scripts/setup-tools.sh`).

#![allow(clippy::disallowed_macros)] // it prints its table

use alloy::{network::EthereumWallet, providers::ProviderBuilder};
use alloy_primitives::B256;
use batcher::{
    DEFAULT_MAX_FRAME_BYTES,
    batch::EncodeOptions,
    l1::{
        L1, SendOutcome,
        contract::{RollupParams, deploy},
        previous_hashes,
    },
    test_utils::{Anvil, workload_batch},
};
use sequencer::test_utils::{
    dev_signer,
    workload::{self, AccessLists, WorkloadConfig},
};

#[tokio::main]
async fn main() {
    let anvil = Anvil::spawn().await;
    let deployer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(dev_signer(0)))
        .connect_http(anvil.url().parse().unwrap());
    let rollup = deploy(
        &deployer,
        &RollupParams {
            owner: dev_signer(0).address(),
            batcher: dev_signer(1).address(),
            l2_chain_id: workload::CHAIN_ID,
            genesis_hash: B256::ZERO,
            genesis_state_root: B256::ZERO,
        },
        None,
        |_| {},
    )
    .await
    .map(|deployed| deployed.rollup)
    .expect("deploys");
    let l1 = L1::connect(&anvil.url(), rollup, dev_signer(1)).await.expect("connects");

    println!("# L1 cost per L2 transaction (anvil, Osaka rules)\n");
    println!(
        "| workload | L2 txs | batch bytes | frames | L1 gas | L1 gas per L2 tx | bytes per L2 tx |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut committed = 0u64;
    for txs in [1_000usize, 10_000] {
        let config = WorkloadConfig {
            txs,
            accounts: txs,
            access_lists: AccessLists::None,
            ..WorkloadConfig::default()
        };
        let workloads = [
            ("ETH transfers", workload::eth_transfers(config)),
            ("ERC-20 transfers", workload::erc20_transfers(config)),
            ("mixed (50% counter calls)", workload::mixed(config, 50)),
        ];
        for (name, workload) in workloads {
            let batch = workload_batch(&workload);
            let data = batch.encode(&EncodeOptions::default()).expect("encodes");
            let blocks = batch.blocks.len() as u64;
            let (first, last) = (committed + 1, committed + blocks);
            let frames: Vec<&[u8]> = data.chunks(DEFAULT_MAX_FRAME_BYTES).collect();
            let previous = previous_hashes(frames.iter().copied());
            let mut gas = 0u64;
            let nonce = l1.pending_nonce().await.expect("nonce");
            let (max_fee, tip) = l1.fees().await.expect("fees");
            for (i, frame) in frames.iter().enumerate() {
                let input = L1::calldata(
                    first,
                    last,
                    B256::repeat_byte(1),
                    B256::repeat_byte(2),
                    i as u16,
                    frames.len() as u16,
                    previous[i],
                    frame.to_vec().into(),
                );
                let (hash, raw) = l1.sign(nonce + i as u64, input, max_fee, tip);
                assert_eq!(l1.send(&raw).await.expect("sends"), SendOutcome::Accepted);
                let mined = loop {
                    if let Some(mined) = l1.mined(hash).await.expect("receipt") {
                        break mined;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                };
                assert!(mined.success, "frame {i} of {name} reverted");
                gas += mined.gas_used;
            }
            committed = last;
            println!(
                "| {name} | {txs} | {} | {} | {gas} | {:.0} | {:.1} |",
                data.len(),
                frames.len(),
                gas as f64 / txs as f64,
                data.len() as f64 / txs as f64
            );
        }
    }
}
