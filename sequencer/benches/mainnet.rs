//! Replays the 68 mainnet blocks of the test corpus through both executors and prints, per
//! block, the median sequential and parallel execution times and their ratio, then the average
//! over blocks with at least 100 transactions. Mainnet blocks declare almost no access lists
//! and no admission step precedes a replay, so the parallel executor works from senders and
//! recipients alone and repairs what it mispredicts.
//!
//! `cargo bench -p sequencer --bench mainnet` (honours `RAYON_NUM_THREADS`)

#![allow(missing_docs)] // a benchmark binary
#![allow(clippy::disallowed_macros)] // it prints its table

use std::time::{Duration, Instant};

use sequencer::{
    executor::{BlockExecutor, ParallelExecutor, SequentialExecutor},
    test_utils::mainnet::load_blocks,
};

/// The allocator the node runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RUNS: usize = 9;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--no-run") {
        return;
    }
    let blocks = load_blocks();
    let sequential = SequentialExecutor::default();
    let parallel = ParallelExecutor::default();
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "| block | fork | txs | Mgas | sequential | parallel | speedup | groups | re-executed |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (mut big_speedups, mut all_speedups) = (Vec::new(), Vec::new());
    for block in &blocks {
        let (expected, _) = sequential.execute(&block.state, &block.env, &block.txs).unwrap();
        let (mut seq, mut par) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
        let mut stats = None;
        for _ in 0..RUNS {
            let started = Instant::now();
            let out = sequential.execute(&block.state, &block.env, &block.txs).unwrap();
            seq.push(started.elapsed());
            drop(out);
            let started = Instant::now();
            let (out, s) = parallel.execute(&block.state, &block.env, &block.txs).unwrap();
            par.push(started.elapsed());
            assert_eq!(out, expected, "block {}: parallel differs", block.number());
            stats = Some(s);
        }
        let (seq, par) = (median(seq), median(par));
        let speedup = seq.as_secs_f64() / par.as_secs_f64();
        let stats = stats.expect("runs");
        println!(
            "| {} | {:?} | {} | {:.1} | {:.2?} | {:.2?} | {:.2}× | {} | {} |",
            block.number(),
            block.env.hardfork,
            block.txs.len(),
            block.header.gas_used as f64 / 1e6,
            seq,
            par,
            speedup,
            if stats.sequential_fallback { "seq".to_string() } else { stats.groups.to_string() },
            stats.reexecuted,
        );
        all_speedups.push(speedup);
        if block.txs.len() >= 100 {
            big_speedups.push(speedup);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!();
    println!(
        "blocks with >= 100 transactions: {} blocks, average speedup {:.2}×, minimum {:.2}×",
        big_speedups.len(),
        mean(&big_speedups),
        min(&big_speedups)
    );
    println!("all blocks: average {:.2}×, minimum {:.2}×", mean(&all_speedups), min(&all_speedups));
}
