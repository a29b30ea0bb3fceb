//! Integration tests of the sequencer: genesis roots, the node over real HTTP and WebSocket
//! JSON-RPC, persistence across restarts, tracing, synchronous sends, and Foundry's `cast` and
//! `forge script` against the node, and dapp sessions with viem and ethers.

mod foundry;
mod genesis;
mod js_clients;
mod mainnet;
mod node;
mod parallel;
mod signing;
mod simulate;
mod state_root;
mod sync_send;
mod trace;

/// The project's toolchain folder (`.tools/` at the repository root), where
/// `scripts/setup-tools.sh` installs Foundry, solcjs, viem and ethers.
fn tools_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools")
}

/// The property tests' configuration: `cases` cases from the fixed `seed`, so that CI runs the
/// same blocks every time. `PROPTEST_CASES` and `PROPTEST_RNG_SEED` (proptest's own variables)
/// override them for a longer or different soak, e.g.
/// `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=7 cargo test -p sequencer --test it parallel::`.
fn proptest_config(cases: u32, seed: u64) -> proptest::test_runner::Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    proptest::test_runner::Config {
        cases: env("PROPTEST_CASES").map_or(cases, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        rng_seed: proptest::test_runner::RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(seed)),
        ..proptest::test_runner::Config::default()
    }
}
