//! The `load` binary: pre-signs a workload, sends it to `--rpc-url` as fast as the endpoint
//! accepts it, waits for every receipt, and reports ingest rate, inclusion TPS, gas per
//! second, refusals by error and p50/p99 time to inclusion (`--json` for machines).

use std::{
    io::{IsTerminal, Write},
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use clap::Parser;
use e2e::load::{self, Counters, LoadConfig, SendConfig, Workload};

/// mimalloc, as the node: signing and sending allocate on many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Load tool: pre-signs N transactions over K funded accounts and sends them to any Ethereum
/// JSON-RPC endpoint (the sequencer, anvil, any node) as fast as it accepts them, then reports
/// inclusion throughput and latency.
#[derive(Debug, Parser)]
#[command(name = "load", version, about, long_about = None)]
struct Cli {
    /// The endpoint to load.
    #[arg(
        long = "rpc-url",
        value_name = "URL",
        env = "LOAD_RPC_URL",
        default_value = "http://127.0.0.1:9545"
    )]
    rpc_url: String,

    /// What the transactions do: eth (transfers to fresh addresses), erc20 (token transfers;
    /// deploys the token first), hot (all increment one counter contract), mixed (80% eth,
    /// 20% hot).
    #[arg(long, value_enum, default_value_t = Workload::Eth)]
    workload: Workload,

    /// Transactions to send.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20_000)]
    txs: usize,

    /// Accounts they are spread over (funded by --funder-key before timing starts).
    #[arg(long, short = 'k', value_name = "K", default_value_t = 1_000)]
    accounts: usize,

    /// Declare exact EIP-2930 access lists on contract calls.
    #[arg(long)]
    access_lists: bool,

    /// Requests in flight at once (each on its own connection).
    #[arg(long, value_name = "C", default_value_t = 4)]
    connections: usize,

    /// Transactions per batched JSON-RPC request.
    #[arg(long, value_name = "B", default_value_t = 250)]
    batch: usize,

    /// A funded key that pays for the accounts (default: the first key of the test mnemonic,
    /// funded on anvil and on `sequencer --dev`).
    #[arg(
        long = "funder-key",
        value_name = "HEX",
        env = "LOAD_FUNDER_KEY",
        hide_env_values = true,
        default_value = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    )]
    funder_key: String,

    /// Seed of the accounts and recipients (the same seed signs the same transactions).
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Send with eth_sendRawTransactionSync (EIP-7966) instead of eth_sendRawTransaction:
    /// each batch is answered with its receipts once included, so a connection sends its next
    /// batch only then (use many connections and small batches to model wallets), and the
    /// reported time to receipt is what the caller waited.
    #[arg(long)]
    sync: bool,

    /// Stop waiting for inclusions after this many seconds without progress.
    #[arg(long = "stall-timeout", value_name = "SECONDS", default_value_t = 60)]
    stall_timeout: u64,

    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[allow(clippy::disallowed_macros)] // the binary's output
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let funder: PrivateKeySigner = match cli.funder_key.trim().parse() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: --funder-key: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = LoadConfig {
        rpc_url: cli.rpc_url,
        workload: cli.workload,
        txs: cli.txs,
        accounts: cli.accounts,
        access_lists: cli.access_lists,
        seed: cli.seed,
        funder,
        send: SendConfig {
            connections: cli.connections,
            batch: cli.batch,
            stall_timeout: Duration::from_secs(cli.stall_timeout),
            sync: cli.sync,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let counters = Arc::new(Counters::default());
    let result = runtime.block_on(async {
        eprintln!(
            "signing {} {:?} transactions over {} accounts…",
            config.txs, config.workload, config.accounts
        );
        let progress = {
            let counters = counters.clone();
            let total = config.txs as u64;
            tokio::spawn(async move {
                let terminal = std::io::stderr().is_terminal();
                let started = Instant::now();
                loop {
                    tokio::time::sleep(if terminal {
                        Duration::from_millis(200)
                    } else {
                        Duration::from_secs(5)
                    })
                    .await;
                    let (sent, failed, included) = (
                        counters.sent.load(Ordering::Relaxed),
                        counters.failed.load(Ordering::Relaxed),
                        counters.included.load(Ordering::Relaxed),
                    );
                    if sent == 0 {
                        continue;
                    }
                    let line = format!(
                        "sent {sent}/{total} ({failed} refused), included {included}, {:.1}s",
                        started.elapsed().as_secs_f64()
                    );
                    if terminal {
                        eprint!("\r{line}   ");
                    } else {
                        eprintln!("{line}");
                    }
                    let _ = std::io::stderr().flush();
                    if included + failed >= total {
                        if terminal {
                            eprintln!();
                        }
                        return;
                    }
                }
            })
        };
        let report = load::run(&config, counters.clone(), |plan| {
            eprintln!("setup done ({} setup transactions); sending…", plan.setup.len());
        })
        .await;
        progress.abort();
        report
    });
    match result {
        Ok(report) => {
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                eprintln!();
                print!("{}", report.render());
            }
            if report.lost > 0 {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
