//! The `batcher` binary: parses flags, sets up logging, runs the batcher until Ctrl-C (or,
//! with `batcher deploy`, deploys the Rollup contract).

mod cli;
mod deploy;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc, as the sequencer: batches are built from many short-lived allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sequencer::logging::stderr_colours())
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(cli::Command::Deploy(args)) = cli.command {
        return match runtime.block_on(deploy::run(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(batcher::run(config, stopped));
        tokio::select! {
            result = tokio::signal::ctrl_c() => {
                if let Err(e) = result {
                    eprintln!("error: cannot wait for Ctrl-C: {e}");
                }
                let _ = stop.send(true);
            }
            _ = async { while !task.is_finished() { tokio::time::sleep(std::time::Duration::from_millis(200)).await } } => {}
        }
        match task.await {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: the batcher task failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
