//! Replays the 68 mainnet blocks of the test corpus through both executors and prints, per
//! block, the median sequential and parallel execution times and their ratio, then the average
//! over blocks with at least 100 transactions.
//!
//! Two parallel runs per block. "Replay": the transactions alone, as `derivation verify` sees
//! them — mainnet blocks declare almost no access lists, so the executor works from senders
//! and recipients and falls back to one sequential run when contract calls it cannot predict
//! carry much of the block. "Sealing": each transaction first pre-executed against the
//! pre-block state, as the txpool does at admission (off the sealing path; its time on all
//! cores is printed apart), so the executor has exact access sets and reusable results.
//!
//! `cargo bench -p sequencer --bench mainnet` (honours `RAYON_NUM_THREADS`; `BLOCK=<number>`
//! replays that block alone and prints both runs' `ExecStats`)

#![allow(missing_docs)] // a benchmark binary
#![allow(clippy::disallowed_macros)] // it prints its table

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rayon::prelude::*;
use sequencer::{
    executor::{BlockExecutor, ParallelExecutor, SequentialExecutor, infer_batch},
    test_utils::{mainnet::load_blocks, with_hints},
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
        "| block | fork | txs | Mgas | sequential | replay | speedup | groups | re-executed | \
         admission inference | sealing | speedup | groups | re-executed |"
    );
    println!(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let (mut big, mut all) = (Speedups::default(), Speedups::default());
    let only: Option<u64> = std::env::var("BLOCK").ok().and_then(|b| b.parse().ok());
    for block in blocks.iter().filter(|b| only.is_none_or(|n| b.number() == n)) {
        let (expected, _) = sequential.execute(&block.state, &block.env, &block.txs).unwrap();
        let inferring = Instant::now();
        let codes = Arc::default();
        let hints =
            infer_batch(&block.state, &codes, &block.env, block.txs.par_iter().map(|tx| &tx.tx));
        let inference = inferring.elapsed();
        let hinted = with_hints(&block.txs, hints);
        let (mut seq, mut replay, mut sealing) = (Vec::new(), Vec::new(), Vec::new());
        let (mut replay_stats, mut sealing_stats) = (None, None);
        for _ in 0..RUNS {
            let started = Instant::now();
            let out = sequential.execute(&block.state, &block.env, &block.txs).unwrap();
            seq.push(started.elapsed());
            drop(out);
            for (txs, times, stats) in [
                (&block.txs, &mut replay, &mut replay_stats),
                (&hinted, &mut sealing, &mut sealing_stats),
            ] {
                let started = Instant::now();
                let (out, s) = parallel.execute(&block.state, &block.env, txs).unwrap();
                times.push(started.elapsed());
                assert_eq!(out, expected, "block {}: parallel differs", block.number());
                *stats = Some(s);
            }
        }
        let (seq, replay, sealing) = (median(seq), median(replay), median(sealing));
        let ratio = |par: Duration| seq.as_secs_f64() / par.as_secs_f64();
        let groups = |s: &sequencer::executor::ExecStats| {
            if s.sequential_fallback { "seq".to_string() } else { s.groups.to_string() }
        };
        let (replay_stats, sealing_stats) =
            (replay_stats.expect("runs"), sealing_stats.expect("runs"));
        println!(
            "| {} | {:?} | {} | {:.1} | {seq:.2?} | {replay:.2?} | {:.2}× | {} | {} | {inference:.2?} | {sealing:.2?} | {:.2}× | {} | {} |",
            block.number(),
            block.env.hardfork,
            block.txs.len(),
            block.header.gas_used as f64 / 1e6,
            ratio(replay),
            groups(&replay_stats),
            replay_stats.reexecuted,
            ratio(sealing),
            groups(&sealing_stats),
            sealing_stats.reexecuted,
        );
        if only.is_some() {
            println!("replay: {replay_stats:?}\nsealing: {sealing_stats:?}");
        }
        all.push(ratio(replay), ratio(sealing));
        if block.txs.len() >= 100 {
            big.push(ratio(replay), ratio(sealing));
        }
    }
    println!();
    big.print("blocks with >= 100 transactions");
    all.print("all blocks");
}

/// Speedups of the two parallel runs over a set of blocks.
#[derive(Default)]
struct Speedups {
    replay: Vec<f64>,
    sealing: Vec<f64>,
}

impl Speedups {
    fn push(&mut self, replay: f64, sealing: f64) {
        self.replay.push(replay);
        self.sealing.push(sealing);
    }

    fn print(&self, what: &str) {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{what} ({} blocks): replay average {:.2}×, minimum {:.2}×; sealing with admission hints average {:.2}×, minimum {:.2}×",
            self.replay.len(),
            mean(&self.replay),
            min(&self.replay),
            mean(&self.sealing),
            min(&self.sealing),
        );
    }
}
