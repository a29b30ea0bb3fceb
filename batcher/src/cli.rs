//! Command-line flags of the `batcher` binary.

use std::{path::PathBuf, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use alloy_primitives::Address;
use batcher::{BatcherConfig, DEFAULT_MAX_FRAME_BYTES};
use clap::{Args, Parser, Subcommand};
use sequencer::genesis::Genesis;

/// Posts the sequencer's sealed blocks to the L1 Rollup contract, in compressed batches, and
/// keeps posting through L1 outages, stuck transactions and reorgs. `batcher deploy` deploys
/// that contract for a chain first.
#[derive(Debug, Parser)]
#[command(
    name = "batcher",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub(crate) struct Cli {
    /// What to do instead of posting.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    /// L1 JSON-RPC endpoint.
    #[arg(
        long = "l1.rpc-url",
        value_name = "URL",
        env = "BATCHER_L1_RPC_URL",
        required = true,
        help_heading = "L1"
    )]
    l1_rpc_url: Option<String>,

    /// Address of the Rollup contract on L1 (`batcher deploy` prints it).
    #[arg(
        long,
        value_name = "ADDRESS",
        env = "BATCHER_ROLLUP",
        required = true,
        help_heading = "L1"
    )]
    rollup: Option<Address>,

    /// Private key of the batcher (the address the contract accepts batches from).
    #[arg(
        long = "batcher.key",
        value_name = "HEX",
        env = "BATCHER_KEY",
        hide_env_values = true,
        required = true,
        help_heading = "L1"
    )]
    key: Option<String>,

    /// L1 blocks on top of a batch before it counts as posted (the L2 `safe` tag).
    #[arg(
        long = "l1.confirmations",
        value_name = "BLOCKS",
        env = "BATCHER_L1_CONFIRMATIONS",
        default_value_t = 1,
        help_heading = "L1"
    )]
    confirmations: u64,

    /// L1 blocks on top before a posted batch counts as final (the L2 `finalized` tag).
    #[arg(
        long = "l1.finality-depth",
        value_name = "BLOCKS",
        env = "BATCHER_L1_FINALITY_DEPTH",
        default_value_t = 8,
        help_heading = "L1"
    )]
    finality_depth: u64,

    /// Resubmit a transaction with higher fees when it is not included after this long.
    #[arg(
        long = "l1.resubmit-after",
        value_name = "SECONDS",
        env = "BATCHER_L1_RESUBMIT_AFTER",
        default_value_t = 12,
        help_heading = "L1"
    )]
    resubmit_after: u64,

    /// Fee increase of a resubmission, in percent (geth requires at least 10).
    #[arg(long = "l1.fee-bump", value_name = "PERCENT", env = "BATCHER_L1_FEE_BUMP", default_value_t = 15, value_parser = parse_fee_bump, help_heading = "L1")]
    fee_bump: u128,

    /// A replacement's max fee stays under this multiple of the market's max fee.
    #[arg(long = "l1.fee-limit-multiplier", value_name = "N", env = "BATCHER_L1_FEE_LIMIT_MULTIPLIER", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..), help_heading = "L1")]
    fee_limit_multiplier: u64,

    /// The sequencer's JSON-RPC endpoint, where sealed blocks are read.
    #[arg(
        long = "l2.rpc-url",
        value_name = "URL",
        env = "BATCHER_L2_RPC_URL",
        default_value = "http://127.0.0.1:9545",
        help_heading = "L2"
    )]
    l2_rpc_url: String,

    /// The sequencer's admin endpoint (`--admin.addr`): back-pressure and safe/finalized tags.
    #[arg(
        long = "l2.admin-url",
        value_name = "URL",
        env = "BATCHER_L2_ADMIN_URL",
        help_heading = "L2"
    )]
    l2_admin_url: Option<String>,

    /// Compressed bytes a batch aims for before it is posted.
    #[arg(
        long = "batch.target-bytes",
        value_name = "BYTES",
        env = "BATCHER_TARGET_BYTES",
        default_value_t = 100_000,
        help_heading = "Batches"
    )]
    target_bytes: usize,

    /// Most batch bytes per L1 transaction (one frame); keep transactions under 128 KiB.
    #[arg(long = "batch.max-frame-bytes", value_name = "BYTES", env = "BATCHER_MAX_FRAME_BYTES", default_value_t = DEFAULT_MAX_FRAME_BYTES, help_heading = "Batches")]
    max_frame_bytes: usize,

    /// Most frames (L1 transactions) one batch spans.
    #[arg(
        long = "batch.max-frames",
        value_name = "N",
        env = "BATCHER_MAX_FRAMES",
        default_value_t = 8,
        help_heading = "Batches"
    )]
    max_frames: usize,

    /// Post what is there once the oldest unposted block has waited this long.
    #[arg(
        long = "batch.max-age",
        value_name = "MILLISECONDS",
        env = "BATCHER_MAX_AGE",
        default_value_t = 2_000,
        help_heading = "Batches"
    )]
    max_age_ms: u64,

    /// zstd level of batches (measured: 9 gives nearly all of 19's gain at a fraction of the CPU).
    #[arg(long = "compression.level", value_name = "LEVEL", env = "BATCHER_COMPRESSION_LEVEL", default_value_t = batcher::batch::DEFAULT_ZSTD_LEVEL, help_heading = "Batches")]
    compression_level: i32,

    /// Unposted L2 bytes above which the sequencer's blocks are throttled.
    #[arg(long = "throttle.max-pending-bytes", value_name = "BYTES", env = "BATCHER_MAX_PENDING_BYTES", default_value_t = 16 << 20, help_heading = "Back-pressure")]
    max_pending_bytes: usize,

    /// Block size cap (encoded transaction bytes) while throttled.
    #[arg(long = "throttle.block-bytes", value_name = "BYTES", env = "BATCHER_THROTTLED_BLOCK_BYTES", default_value_t = 128 << 10, help_heading = "Back-pressure")]
    throttled_block_bytes: usize,

    /// Where progress (in-flight transactions) is persisted.
    #[arg(long, value_name = "DIR", env = "BATCHER_DATADIR", default_value = "batcher-data")]
    datadir: PathBuf,

    /// Time between polls of L1 and L2.
    #[arg(
        long = "poll-interval",
        value_name = "MILLISECONDS",
        env = "BATCHER_POLL_INTERVAL",
        default_value_t = 200
    )]
    poll_ms: u64,
}

/// The batcher's other jobs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Deploy the Rollup contract on L1 for an L2 chain, and print its address.
    ///
    /// The chain id, genesis block hash and state root the contract starts from are computed
    /// from the genesis the sequencer is started with (`--dev` or `--genesis FILE`). Prints
    /// the contract's address, the L1 block to read its events from, and the batcher and
    /// derivation commands for it.
    Deploy(DeployArgs),
}

/// Flags of `batcher deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// L1 JSON-RPC endpoint.
    #[arg(long = "l1.rpc-url", value_name = "URL", env = "BATCHER_L1_RPC_URL")]
    pub(crate) l1_rpc_url: String,

    /// Private key of the account that pays for the deployment (and owns the contract unless
    /// --owner says otherwise).
    #[arg(
        long = "deployer.key",
        value_name = "HEX",
        env = "BATCHER_DEPLOYER_KEY",
        hide_env_values = true
    )]
    pub(crate) deployer_key: String,

    /// The account whose batches the contract will accept: the address of the key the
    /// batcher runs with (`--batcher.key`). The owner can change it later.
    #[arg(long = "batcher.address", value_name = "ADDRESS", env = "BATCHER_ADDRESS")]
    pub(crate) batcher: Address,

    /// The contract's owner, who may change the batcher and hand ownership on. Default: the
    /// deployer.
    #[arg(long, value_name = "ADDRESS", env = "BATCHER_OWNER")]
    pub(crate) owner: Option<Address>,

    /// The sequencer's built-in development genesis (`sequencer --dev`).
    #[arg(long, conflicts_with = "genesis")]
    pub(crate) dev: bool,

    /// The geth-style genesis file the sequencer is started with (`sequencer --genesis`).
    #[arg(long, value_name = "FILE", env = "BATCHER_GENESIS")]
    pub(crate) genesis: Option<PathBuf>,

    /// How long to wait for the deployment to be mined, in seconds (at most a week); 0 waits as
    /// long as it takes. Past it the command fails naming the transaction, which may still be
    /// mined: look it up before deploying again.
    #[arg(long, value_name = "SECS", env = "BATCHER_DEPLOY_TIMEOUT", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=604_800))]
    pub(crate) timeout: u64,

    /// Print the deployment as JSON (rollup, transaction, l1_chain_id, l1_block, gas_used, owner,
    /// batcher, l2_chain_id, genesis_hash, genesis_state_root) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

impl DeployArgs {
    /// The chain these flags name.
    pub(crate) fn genesis(&self) -> Result<Genesis, String> {
        Genesis::from_flags(self.genesis.as_deref(), self.dev).map_err(|e| e.to_string())
    }

    /// The longest wait for the deployment's receipt (`None`: no limit).
    pub(crate) fn receipt_timeout(&self) -> Option<Duration> {
        (self.timeout > 0).then(|| Duration::from_secs(self.timeout))
    }
}

impl Cli {
    pub(crate) fn into_config(self) -> Result<BatcherConfig, String> {
        // clap requires the three when no subcommand is given.
        let (Some(l1_rpc_url), Some(rollup), Some(key)) = (self.l1_rpc_url, self.rollup, self.key)
        else {
            return Err("--l1.rpc-url, --rollup and --batcher.key are required".into());
        };
        let key: PrivateKeySigner =
            key.trim().parse().map_err(|e| format!("--batcher.key: {e}"))?;
        if self.max_frame_bytes == 0 || self.max_frame_bytes > MAX_FRAME_BYTES_LIMIT {
            return Err(format!(
                "--batch.max-frame-bytes must be between 1 and {MAX_FRAME_BYTES_LIMIT}: L1 nodes (geth) refuse \
                 transactions over 128 KiB, and the call and signature take the rest"
            ));
        }
        let mut config = BatcherConfig::new(l1_rpc_url, self.l2_rpc_url, rollup, key, self.datadir);
        config.l2_admin = self.l2_admin_url;
        config.confirmations = self.confirmations;
        config.finality_depth = self.finality_depth;
        config.resubmit_after = Duration::from_secs(self.resubmit_after);
        config.fee_bump_percent = self.fee_bump;
        config.fee_limit_multiplier = u128::from(self.fee_limit_multiplier);
        config.target_batch_bytes = self.target_bytes;
        config.max_frame_bytes = self.max_frame_bytes;
        config.max_frames = self.max_frames.max(1);
        config.max_batch_age = Duration::from_millis(self.max_age_ms);
        config.compression_level = self.compression_level;
        config.max_pending_bytes = self.max_pending_bytes;
        config.throttled_block_bytes = self.throttled_block_bytes;
        config.poll_interval = Duration::from_millis(self.poll_ms);
        Ok(config)
    }
}

/// Largest frame that still fits a 128 KiB L1 transaction with its ABI encoding and envelope.
const MAX_FRAME_BYTES_LIMIT: usize = 130_000;

/// A fee bump in percent: at least 10, as geth requires of a replacement.
fn parse_fee_bump(value: &str) -> Result<u128, String> {
    let percent: u128 = value.parse().map_err(|e| format!("{e}"))?;
    if percent < 10 {
        return Err("at least 10 (geth rejects replacements priced less than 10% higher)".into());
    }
    Ok(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_library() {
        let cli = Cli::parse_from([
            "batcher",
            "--l1.rpc-url",
            "http://l1",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--batcher.key",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        ]);
        let config = cli.into_config().unwrap();
        let defaults = BatcherConfig::new(
            "http://l1".into(),
            "http://127.0.0.1:9545".into(),
            config.rollup,
            config.key.clone(),
            "batcher-data".into(),
        );
        assert_eq!(format!("{config:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn deploy_is_a_subcommand_that_needs_none_of_the_posting_flags() {
        let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
        let batcher = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        let deploy = ["deploy", "--l1.rpc-url", "x", "--deployer.key", key];
        let parsed = Cli::try_parse_from(
            [&["batcher"], &deploy[..], &["--batcher.address", batcher, "--dev"]].concat(),
        )
        .unwrap();
        let Some(Command::Deploy(args)) = parsed.command else { panic!("not deploy") };
        assert!(args.dev && args.owner.is_none() && !args.json);
        assert_eq!(args.receipt_timeout(), Some(Duration::from_secs(300)));
        let unlimited = Cli::try_parse_from(
            [&["batcher"], &deploy[..], &["--batcher.address", batcher, "--dev", "--timeout", "0"]]
                .concat(),
        )
        .unwrap();
        let Some(Command::Deploy(args)) = unlimited.command else { panic!("not deploy") };
        assert_eq!(args.receipt_timeout(), None);
        let beyond = [&["batcher"], &deploy[..], &["--batcher.address", batcher, "--dev"]].concat();
        assert!(Cli::try_parse_from([&beyond[..], &["--timeout", "604801"]].concat()).is_err());
        // Posting still needs its three flags, and they do not mix with the subcommand.
        assert!(Cli::try_parse_from(["batcher"]).is_err());
        assert!(
            Cli::try_parse_from(
                [&["batcher", "--rollup", batcher], &deploy[..], &["--batcher.address", batcher]]
                    .concat()
            )
            .is_err()
        );
        assert!(Cli::try_parse_from([&["batcher"], &deploy[..]].concat()).is_err(), "no address");
    }

    #[test]
    fn a_fee_bump_below_ten_percent_is_refused() {
        let parsed = Cli::try_parse_from([
            "batcher",
            "--l1.rpc-url",
            "x",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--batcher.key",
            "0x01",
            "--l1.fee-bump",
            "5",
        ]);
        assert!(parsed.is_err());
    }

    #[test]
    fn a_frame_over_an_l1_transaction_is_refused() {
        let cli = Cli::parse_from([
            "batcher",
            "--l1.rpc-url",
            "x",
            "--rollup",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--batcher.key",
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
            "--batch.max-frame-bytes",
            "200000",
        ]);
        assert!(cli.into_config().unwrap_err().contains("128 KiB"));
    }
}
