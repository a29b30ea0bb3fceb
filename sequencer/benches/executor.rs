//! Parallel vs sequential execution on seeded 10,000-transaction blocks over a 100,000-account
//! in-memory state. Each workload is one benchmark group holding both executors, so their
//! ratio comes from one run. After timing, each bench checks that both executors produced the
//! same block. Honours `RAYON_NUM_THREADS`.
//!
//! `cargo bench -p sequencer --bench executor`

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::{hint::black_box, sync::Arc, time::Duration};

/// The allocator the node runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use sequencer::{
    executor::{BlockExecutor, CodeCache, ParallelExecutor, SequentialExecutor, infer_batch},
    test_utils::{
        with_hints,
        workload::{self, AccessLists, Workload, WorkloadConfig},
    },
};

const TXS: usize = 10_000;
const ACCOUNTS: usize = 100_000;

fn config(access_lists: AccessLists) -> WorkloadConfig {
    WorkloadConfig { txs: TXS, accounts: ACCOUNTS, access_lists, seed: 42 }
}

/// How the parallel side runs a workload.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One executor for every run, as the node keeps one.
    Plain,
    /// The txpool's pre-execution of every transaction (on all cores, as admission does) is
    /// timed on the parallel side too.
    InferFirst,
    /// A fresh executor each run, so it cannot learn from earlier runs which contracts'
    /// callers conflict: every run takes the repair path.
    Unlearned,
}

/// Times both executors on `work`, sharing one analysed-code cache.
fn bench_workload(c: &mut Criterion, name: &str, work: &Workload, mode: Mode) {
    let state = work.state();
    let codes = Arc::new(CodeCache::default());
    let sequential = SequentialExecutor::with_code_cache(codes.clone());
    let learned = ParallelExecutor::with_code_cache(codes.clone());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(work.txs.len() as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(8));
    let first = std::time::Instant::now();
    let run_parallel = || {
        let fresh;
        let parallel = if mode == Mode::Unlearned {
            fresh = ParallelExecutor::with_code_cache(codes.clone());
            &fresh
        } else {
            &learned
        };
        if mode == Mode::InferFirst {
            let hints =
                infer_batch(&state, &codes, &work.env, work.txs.par_iter().map(|tx| &tx.tx));
            let hinted = with_hints(&work.txs, hints);
            parallel.execute(&state, &work.env, &hinted).unwrap()
        } else {
            parallel.execute(&state, &work.env, &work.txs).unwrap()
        }
    };
    let (_, cold) = run_parallel();
    eprintln!("{name}: first (cold) parallel run {:?}: {cold:?}", first.elapsed());
    group.bench_function(BenchmarkId::new("sequential", work.txs.len()), |b| {
        b.iter(|| black_box(sequential.execute(&state, &work.env, &work.txs).unwrap()));
    });
    group.bench_function(BenchmarkId::new("parallel", work.txs.len()), |b| {
        b.iter(|| black_box(run_parallel()))
    });
    group.finish();

    let (expected, _) = sequential.execute(&state, &work.env, &work.txs).unwrap();
    let (got, stats) = run_parallel();
    assert_eq!(got, expected, "{name}: parallel differs from sequential");
    assert_eq!(got.included.len(), work.txs.len(), "{name}: every transaction is included");
    eprintln!(
        "{name}: {stats:?}, gas {} ({} per tx)",
        got.gas_used,
        got.gas_used / got.included.len() as u64
    );
}

/// The machine's own ceiling: the same independent CPU work (keccak chains) on one thread and
/// on all of rayon's, so the executor's ratios can be read against what the cores can give.
fn machine_ceiling(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let chain = |seed: u64, n: u64| {
        let mut x = alloy_primitives::B256::from(alloy_primitives::U256::from(seed));
        for _ in 0..n {
            x = alloy_primitives::keccak256(x);
        }
        x
    };
    let work = 400_000 / threads as u64;
    let mut group = c.benchmark_group("0_machine_ceiling");
    group.sample_size(10);
    group.throughput(Throughput::Elements(work * threads as u64));
    group.bench_function("sequential", |b| {
        b.iter(|| (0..threads as u64).map(|s| chain(s, work)).collect::<Vec<_>>())
    });
    group.bench_function("parallel", |b| {
        b.iter(|| (0..threads as u64).into_par_iter().map(|s| chain(s, work)).collect::<Vec<_>>())
    });
    group.finish();
}

fn executor(c: &mut Criterion) {
    machine_ceiling(c);
    let correct = config(AccessLists::Correct);
    bench_workload(c, "1_eth_transfers", &workload::eth_transfers(correct), Mode::Plain);
    bench_workload(c, "2_erc20_transfers", &workload::erc20_transfers(correct), Mode::Plain);
    bench_workload(c, "3_hot_counter", &workload::hot_counter(correct), Mode::Plain);
    bench_workload(c, "4_mixed_80_20", &workload::mixed(correct, 20), Mode::Plain);
    bench_workload(
        c,
        "5_erc20_inferred",
        &workload::erc20_transfers(config(AccessLists::None)),
        Mode::InferFirst,
    );
    bench_workload(
        c,
        "6_wrong_access_lists",
        &workload::mixed(config(AccessLists::Wrong), 20),
        Mode::Unlearned,
    );
    // One pool per swap: 10,000 independent pools.
    bench_workload(c, "7_amm_swaps", &workload::amm_swaps(correct, TXS), Mode::Plain);
}

criterion_group!(benches, executor);
criterion_main!(benches);
