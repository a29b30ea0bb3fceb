//! The `devnet` binary: a local rollup in one command — anvil as L1, the Rollup contract, the
//! sequencer and the batcher — with endpoints, keys and example commands printed, and
//! `<datadir>/devnet.json` written for scripts. Ctrl-C stops everything.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use e2e::devnet::{Devnet, DevnetConfig};
use sequencer::node::BlockTime;
use tracing_subscriber::EnvFilter;

/// mimalloc, as the sequencer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A local rollup devnet: anvil as L1 with the Rollup contract, the sequencer (`--dev` chain)
/// and the batcher posting its blocks. Starts fresh each time unless --keep.
#[derive(Debug, Parser)]
#[command(name = "devnet", version, about, long_about = None)]
struct Cli {
    /// Where the devnet keeps its state (L1 state, L2 datadir, batcher progress, devnet.json).
    #[arg(long, value_name = "DIR", env = "DEVNET_DATADIR", default_value = ".devnet")]
    datadir: PathBuf,

    /// L1 (anvil) JSON-RPC port.
    #[arg(long = "l1.port", value_name = "PORT", env = "DEVNET_L1_PORT", default_value_t = 8545)]
    l1_port: u16,

    /// L2 (sequencer) JSON-RPC port, HTTP and WebSocket.
    #[arg(long = "l2.port", value_name = "PORT", env = "DEVNET_L2_PORT", default_value_t = 9545)]
    l2_port: u16,

    /// Resume the devnet in --datadir (chain, L1 state, contract) instead of starting fresh.
    #[arg(long)]
    keep: bool,

    /// L2 block time in milliseconds.
    #[arg(long = "block-time", value_name = "MS", default_value_t = 1_000)]
    block_time_ms: u64,

    /// L1 block time in seconds.
    #[arg(long = "l1.block-time", value_name = "SECONDS", default_value_t = 1)]
    l1_block_time: u64,

    /// L1 block gas limit: with 40 gas per batch byte, 300,000,000 carries ~7.5 MB of batches
    /// per L1 block, ~88,000 L2 transfers per second at 1-second L1 blocks.
    #[arg(long = "l1.gas-limit", value_name = "GAS", default_value_t = 300_000_000)]
    l1_gas_limit: u64,
}

#[allow(clippy::disallowed_macros)] // the banner is the binary's user interface
fn print_banner(devnet: &Devnet) {
    let info = &devnet.info;
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    let derivation = exe_dir.join("derivation");
    let cast = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/cast");
    let cast = std::fs::canonicalize(&cast).unwrap_or(cast);
    println!();
    println!("devnet up ({}):", info.datadir.display());
    println!("  L2 JSON-RPC   {}   (WebSocket {})", info.l2_rpc, info.l2_ws);
    println!("  L2 chain id   {}", info.chain_id);
    println!("  L1 JSON-RPC   {}   (anvil, chain id {})", info.l1_rpc, info.l1_chain_id);
    println!("  Rollup        {}   (deployed in L1 block {})", info.rollup, info.rollup_l1_block);
    println!("  batcher       {}", info.batcher);
    println!("  devnet.json   {}", e2e::devnet::DevnetInfo::path(&info.datadir).display());
    println!();
    println!(
        "funded dev keys (10,000 ETH each on L2 and on L1; the L2 node also signs for them: \
         eth_sendTransaction, `cast send --unlocked --from <address>`):"
    );
    for (i, key) in info.dev_keys.iter().enumerate() {
        println!("  ({i}) {}  {}", key.address, key.private_key);
    }
    println!();
    println!("try it:");
    println!(
        "  {} send --rpc-url {} --private-key {} 0x000000000000000000000000000000000000bEEF --value 1ether",
        cast.display(),
        info.l2_rpc,
        info.dev_keys[2].private_key
    );
    println!(
        "  {} balance --rpc-url {} 0x000000000000000000000000000000000000bEEF",
        cast.display(),
        info.l2_rpc
    );
    for command in ["batches", "verify --dev"] {
        println!(
            "  {} --l1.rpc-url {} --rollup {} --l1.from-block {} {command}",
            derivation.display(),
            info.l1_rpc,
            info.rollup,
            info.rollup_l1_block
        );
    }
    println!(
        "  {} --rpc-url {} --workload eth -n 20000",
        exe_dir.join("load").display(),
        info.l2_rpc
    );
    println!();
    // The banner's last line: scripts (and the devnet test) wait for it.
    println!("Ctrl-C stops the devnet; run again to start fresh, or with --keep to resume.");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sequencer::logging::stderr_colours())
        .init();
    let config = DevnetConfig {
        datadir: cli.datadir,
        l1_port: cli.l1_port,
        l2_port: cli.l2_port,
        keep: cli.keep,
        block_time: if cli.block_time_ms == 0 {
            BlockTime::OnDemand
        } else {
            BlockTime::Interval(Duration::from_millis(cli.block_time_ms))
        },
        l1_block_time: cli.l1_block_time.max(1),
        l1_gas_limit: cli.l1_gas_limit,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // Ctrl-C, SIGTERM (kill, a service manager) and SIGHUP (the terminal closed) all stop
        // it the same way: batcher, sequencer, then anvil, which saves its state for --keep.
        // Listening starts before the devnet does, so a signal during start-up stops it once
        // it is up instead of leaving anvil behind.
        use tokio::signal::unix::{SignalKind, signal};
        let signals = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        );
        let (mut interrupt, mut terminate, mut hangup) = match signals {
            (Ok(interrupt), Ok(terminate), Ok(hangup)) => (interrupt, terminate, hangup),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                eprintln!("error: cannot listen for signals: {e}");
                return ExitCode::FAILURE;
            }
        };
        let devnet = match Devnet::start(config).await {
            Ok(devnet) => devnet,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        print_banner(&devnet);
        let mut failed = false;
        loop {
            tokio::select! {
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
                _ = hangup.recv() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if devnet.batcher_failed() {
                        eprintln!("error: the batcher stopped; see the log above");
                        failed = true;
                        break;
                    }
                }
            }
        }
        eprintln!("stopping the devnet…");
        devnet.stop().await;
        if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
    })
}
