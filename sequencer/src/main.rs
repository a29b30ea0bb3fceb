//! The `sequencer` binary: parses flags, sets up logging, starts the node, stops on Ctrl-C.

mod cli;

/// mimalloc: block building allocates and frees many small maps on several threads at once,
/// where it measurably beats the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use sequencer::genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sequencer::logging::stderr_colours())
        .init();
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dev = config.genesis.chain_id == DEV_CHAIN_ID;
    runtime.block_on(async move {
        let node = match sequencer::node::spawn(config).await {
            Ok(node) => node,
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                return ExitCode::FAILURE;
            }
        };
        print_banner(&node, dev);
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {e}");
        }
        eprintln!("stopping…");
        node.stop().await;
        ExitCode::SUCCESS
    })
}

#[allow(clippy::disallowed_macros)] // the banner is the binary's user interface
fn print_banner(node: &sequencer::node::NodeHandle, dev: bool) {
    println!("JSON-RPC (HTTP): {}", node.http_url());
    println!("JSON-RPC (WS):   {}", node.ws_url());
    println!("chain id:        {}", node.chain_spec().chain_id);
    if node.store().is_read_only() {
        println!("read-only replica of the chain derived from L1 (transactions are refused)");
        return;
    }
    if dev {
        println!("dev accounts (10,000 ETH each):");
        for (i, (address, key)) in DEV_ACCOUNTS.iter().enumerate() {
            println!("  ({i}) {address}  key {key}");
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    out
}
