//! The `derivation` binary: `batches`, `inspect`, `verify` and `sync` over an L1 endpoint and a
//! `Rollup` address. Exit status: 0 when everything checked out, 1 when a check failed (a
//! divergence) or the tool could not run, 2 for usage errors.

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;
use derivation::{
    DerivationError, StoreLocation,
    display::{BatchRow, Inspected, batches_table},
    open_replayer,
    source::L1Source,
    sync::{SyncOptions, Syncer},
    verify::{VerifyRange, verify},
};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

/// mimalloc, as the sequencer: re-execution allocates like block production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(rollup) = cli.l1.rollup else {
        eprintln!(
            "error: --rollup <ADDRESS> (or DERIVATION_ROLLUP) is required: the Rollup contract on L1"
        );
        return ExitCode::from(2);
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(sequencer::logging::stderr_colours())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, rollup)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::disallowed_macros)] // the binary's output
async fn run(cli: Cli, rollup: alloy_primitives::Address) -> Result<ExitCode, DerivationError> {
    let mut source = L1Source::new(&cli.l1.rpc_url, rollup)?;
    source.from_block = cli.l1.from_block;
    source.window = cli.l1.max_logs_range.max(1);
    match cli.command {
        Command::Batches { json } => {
            let chain_id = source.genesis().await?.0;
            let head = source.head().await?;
            let rows: Vec<BatchRow> =
                source.batches(0, head).await?.iter().map(|b| BatchRow::new(b, chain_id)).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
            } else if rows.is_empty() {
                println!("no batches committed yet");
            } else {
                print!("{}", batches_table(&rows));
            }
            Ok(if rows.iter().any(|r| r.error.is_some()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Inspect { index, json } => {
            let chain_id = source.genesis().await?.0;
            let found = source.batch(index).await?;
            let inspected = Inspected::new(&found, chain_id);
            if json {
                println!("{}", serde_json::to_string_pretty(&inspected).unwrap_or_default());
            } else {
                print!("{}", inspected.render());
            }
            Ok(if inspected.summary.error.is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Verify { chain, from, to, exec, datadir } => {
            let genesis = chain.genesis().map_err(DerivationError::L1)?;
            let location =
                datadir.as_deref().map_or(StoreLocation::Scratch, StoreLocation::Datadir);
            let replayer = open_replayer(&source, &genesis, location, exec.into()).await?;
            let mut bar = progress::Bar::new("verifying");
            let result = verify(&source, &replayer, VerifyRange { from, to }, |p| {
                bar.update(p.block, p.target, &format!("{} batches, {} txs", p.batches, p.txs));
            })
            .await;
            bar.finish();
            match result {
                Ok(summary) => {
                    let seconds = summary.elapsed.as_secs_f64().max(1e-9);
                    if summary.batches == 0 {
                        println!("nothing to verify: no batch ends in the requested range");
                    } else {
                        println!(
                            "verified L2 blocks {}..={} ({} batches): every posted state root and block hash matches",
                            summary.first_block, summary.last_block, summary.batches
                        );
                    }
                    if summary.held > 0 {
                        println!(
                            "{} of them held by the datadir already: checked against its blocks, not re-executed",
                            summary.held
                        );
                    }
                    println!(
                        "re-executed {} blocks, {} transactions, {:.1} Mgas in {:.2} s: {:.0} blocks/s, {:.0} tx/s (recovery {:.2} s, building {:.2} s, L1 reads {:.2} s)",
                        summary.blocks,
                        summary.txs,
                        summary.gas as f64 / 1e6,
                        seconds,
                        summary.blocks as f64 / seconds,
                        summary.txs as f64 / seconds,
                        summary.recover.as_secs_f64(),
                        summary.build.as_secs_f64(),
                        summary.fetch.as_secs_f64(),
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(DerivationError::Diverged(divergence)) => {
                    println!("VERIFICATION FAILED");
                    match divergence.block() {
                        Some(block) => println!("first divergent L2 block: {block}"),
                        None => println!("at a batch that cannot be read"),
                    }
                    println!("{divergence}");
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(other),
            }
        }
        Command::Sync { chain, datadir, follow, confirmations, finality_depth, poll_ms, exec } => {
            let genesis = chain.genesis().map_err(DerivationError::L1)?;
            let replayer =
                open_replayer(&source, &genesis, StoreLocation::Datadir(&datadir), exec.into())
                    .await?;
            let options = SyncOptions {
                confirmations: confirmations.max(1),
                finality_depth,
                follow,
                poll: std::time::Duration::from_millis(poll_ms),
            };
            let mut syncer = Syncer::new(source, replayer, datadir.clone(), options)?;
            let started = syncer.store().head_number();
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let result = syncer.run(stop).await;
            let head = syncer.store().head_number();
            match result {
                Ok(()) => {
                    println!("replica at L2 block {head} (was {started}) in {}", datadir.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(DerivationError::Diverged(divergence)) => {
                    println!(
                        "SYNC STOPPED: the posted chain does not re-execute; the replica stays at L2 block {head}"
                    );
                    println!("{divergence}");
                    Ok(ExitCode::FAILURE)
                }
                Err(other) => Err(other),
            }
        }
    }
}
