//! Real mainnet blocks, Frontier to Cancun, replayed through both executors at their own
//! hardforks: gas used, logs bloom, receipts root (from Byzantium on) and transactions root
//! equal the headers', and parallel equals sequential.

use alloy::consensus::proofs;
use alloy_primitives::Bloom;
use sequencer::{
    chain::Hardfork,
    executor::{BlockExecutor, ParallelConfig, ParallelExecutor, SequentialExecutor},
    test_utils::mainnet::load_blocks,
};

#[test]
fn mainnet_blocks_replay_to_their_headers_with_both_executors() {
    let blocks = load_blocks();
    assert_eq!(blocks.len(), 68);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let mut transactions = 0;
    for block in &blocks {
        let number = block.number();
        let (seq, _) =
            SequentialExecutor::default().execute(&block.state, &block.env, &block.txs).unwrap();
        assert!(seq.skipped.is_empty(), "block {number}: skipped {:?}", seq.skipped);
        assert_eq!(seq.gas_used, block.header.gas_used, "block {number}: gas used");
        let mut bloom = Bloom::ZERO;
        for receipt in &seq.receipts {
            bloom.accrue_bloom(receipt.logs_bloom());
        }
        assert_eq!(bloom, block.header.logs_bloom, "block {number}: logs bloom");
        if block.env.hardfork >= Hardfork::Byzantium {
            assert_eq!(
                proofs::calculate_receipt_root(&seq.receipts),
                block.header.receipts_root,
                "block {number}: receipts root"
            );
        }
        let envelopes: Vec<_> = block.txs.iter().map(|t| t.tx.inner().clone()).collect();
        assert_eq!(
            proofs::calculate_transaction_root(&envelopes),
            block.header.transactions_root,
            "block {number}: tx root"
        );
        assert_eq!(block.header.hash_slow(), block.hash, "block {number}: header hash");

        for config in [ParallelConfig::default(), ParallelConfig::always()] {
            let executor = ParallelExecutor::with_config(config);
            let (par, _) =
                pool.install(|| executor.execute(&block.state, &block.env, &block.txs).unwrap());
            assert_eq!(par.results, seq.results, "block {number}: results ({config:?})");
            assert_eq!(par.receipts, seq.receipts, "block {number}: receipts ({config:?})");
            assert_eq!(par.diff, seq.diff, "block {number}: state diff ({config:?})");
        }
        transactions += block.txs.len();
    }
    assert_eq!(transactions, 17_517);
}
