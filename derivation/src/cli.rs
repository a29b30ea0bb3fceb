//! Command-line flags of the `derivation` binary.

use std::path::PathBuf;

use alloy_primitives::Address;
use clap::{Args, Parser, Subcommand, ValueEnum};
use sequencer::{genesis::Genesis, node::ExecMode};

/// Sees and checks the L2 chain from L1 alone: lists and inspects the batches the Rollup
/// contract committed, re-executes them and compares every posted state root, and keeps a
/// replica datadir that `sequencer --replica` serves.
#[derive(Debug, Parser)]
#[command(name = "derivation", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) l1: L1Args,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the chain's batches are.
#[derive(Debug, Args)]
pub(crate) struct L1Args {
    /// L1 JSON-RPC endpoint.
    #[arg(
        long = "l1.rpc-url",
        value_name = "URL",
        env = "DERIVATION_L1_RPC_URL",
        global = true,
        default_value = "http://127.0.0.1:8545"
    )]
    pub(crate) rpc_url: String,

    /// Address of the Rollup contract on L1 (required).
    #[arg(long, value_name = "ADDRESS", env = "DERIVATION_ROLLUP", global = true)]
    pub(crate) rollup: Option<Address>,

    /// First L1 block to scan for batches (the contract's deployment block saves requests
    /// on a long chain).
    #[arg(
        long = "l1.from-block",
        value_name = "BLOCK",
        env = "DERIVATION_L1_FROM_BLOCK",
        global = true,
        default_value_t = 0
    )]
    pub(crate) from_block: u64,

    /// Most L1 blocks per eth_getLogs request (public endpoints cap the range).
    #[arg(long = "l1.max-logs-range", value_name = "BLOCKS", env = "DERIVATION_L1_MAX_LOGS_RANGE", global = true, default_value_t = derivation::source::DEFAULT_LOG_WINDOW)]
    pub(crate) max_logs_range: u64,
}

/// Which chain the batches belong to: the genesis the sequencer was started with.
#[derive(Debug, Clone, Args)]
pub(crate) struct ChainArgs {
    /// The sequencer's built-in development genesis (`sequencer --dev`).
    #[arg(long, conflicts_with = "genesis")]
    pub(crate) dev: bool,

    /// The geth-style genesis file the sequencer was started with.
    #[arg(long, value_name = "FILE", env = "DERIVATION_GENESIS")]
    pub(crate) genesis: Option<PathBuf>,
}

impl ChainArgs {
    pub(crate) fn genesis(&self) -> Result<Genesis, String> {
        Genesis::from_flags(self.genesis.as_deref(), self.dev).map_err(|e| e.to_string())
    }
}

/// Block executor for re-execution.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ExecArg {
    /// Parallel execution by access-set partitioning (the sequencer's default).
    Parallel,
    /// One transaction after another.
    Sequential,
}

impl From<ExecArg> for ExecMode {
    fn from(arg: ExecArg) -> Self {
        match arg {
            ExecArg::Parallel => Self::Parallel,
            ExecArg::Sequential => Self::Sequential,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// One row per batch: index, L1 block and transaction, L2 range, transactions, compressed
    /// and raw bytes, ratio, posted state root.
    Batches {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The decoded blocks of one batch and their transactions (hash, from, to, value, nonce,
    /// gas, type).
    Inspect {
        /// The batch index (0 is the first batch after genesis).
        index: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-execute every posted block from the genesis with the sequencer's executor and check
    /// every posted state root and block hash. Exits 1 at the first divergence, naming the
    /// L2 block and what differs.
    Verify {
        #[command(flatten)]
        chain: ChainArgs,
        /// Report from this L2 block on (earlier blocks are re-executed to rebuild the state,
        /// unless --datadir already holds them).
        #[arg(long, value_name = "BLOCK", default_value_t = 0)]
        from: u64,
        /// Stop after the batch that holds this L2 block (default: the contract's latest).
        #[arg(long, value_name = "BLOCK")]
        to: Option<u64>,
        /// Block executor.
        #[arg(long, value_enum, default_value_t = ExecArg::Parallel)]
        exec: ExecArg,
        /// Keep the re-executed chain in this datadir (resumed on the next run) instead of in
        /// memory. Blocks it already holds are checked against the posted batches (their data
        /// and the hash of each batch's last block), not re-executed.
        #[arg(long, value_name = "DIR")]
        datadir: Option<PathBuf>,
    },
    /// Build a replica datadir from L1 alone (the sequencer's on-disk format), and with
    /// --follow keep it in step with L1, undoing batches an L1 reorg removes. Serve it with
    /// `sequencer --replica --datadir DIR`.
    Sync {
        #[command(flatten)]
        chain: ChainArgs,
        /// The replica's datadir.
        #[arg(long, value_name = "DIR", env = "DERIVATION_DATADIR")]
        datadir: PathBuf,
        /// Keep following L1 until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// L1 blocks on top of a batch before it is applied (1: as soon as it is included).
        #[arg(long = "l1.confirmations", value_name = "BLOCKS", default_value_t = 1)]
        confirmations: u64,
        /// L1 blocks on top of a batch before the replica reports its blocks as `finalized`
        /// (the batcher's `--finality-depth`); every derived block is `safe`.
        #[arg(long = "l1.finality-depth", value_name = "BLOCKS", default_value_t = 8)]
        finality_depth: u64,
        /// Time between polls of L1 when following.
        #[arg(long = "poll-interval", value_name = "MILLISECONDS", default_value_t = 1_000)]
        poll_ms: u64,
        /// Block executor.
        #[arg(long, value_enum, default_value_t = ExecArg::Parallel)]
        exec: ExecArg,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_before_and_after_the_command() {
        let cli = Cli::parse_from([
            "derivation",
            "--l1.rpc-url",
            "http://l1",
            "verify",
            "--dev",
            "--to",
            "9",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ]);
        assert_eq!(cli.l1.rpc_url, "http://l1");
        assert!(matches!(cli.command, Command::Verify { to: Some(9), .. }));
        let cli = Cli::parse_from([
            "derivation",
            "inspect",
            "3",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ]);
        assert!(matches!(cli.command, Command::Inspect { index: 3, json: false }));
    }

    #[test]
    fn verify_needs_a_genesis() {
        let cli = Cli::parse_from([
            "derivation",
            "verify",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ]);
        let Command::Verify { chain, .. } = cli.command else { unreachable!() };
        assert!(chain.genesis().unwrap_err().contains("--dev"));
    }
}
