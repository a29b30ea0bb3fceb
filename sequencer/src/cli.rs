//! Command-line flags of the `sequencer` binary, turned into a [`NodeConfig`].

use std::{net::IpAddr, path::PathBuf, time::Duration};

use alloy_primitives::{Address, Bytes};
use clap::Parser;
use sequencer::{
    genesis::Genesis,
    node::{BlockTime, DEFAULT_HTTP_PORT, ExecMode, NodeConfig},
    rpc::{
        RpcConfig,
        namespaces::{Namespace, Namespaces},
    },
    store::{DEFAULT_HISTORY_BLOCKS, DEFAULT_TRIE_CACHE_BYTES, StoreConfig},
    txpool::PoolConfig,
};

/// Default data directory.
const DEFAULT_DATADIR: &str = "sequencer-data";

/// A layer-2 sequencer: Ethereum JSON-RPC for wallets, a txpool, parallel block execution and
/// an embedded database. Start a development chain with `sequencer --dev`.
#[derive(Debug, Parser)]
#[command(name = "sequencer", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Use the built-in development genesis: chain id 42069 and the ten accounts of the
    /// `test test … junk` mnemonic (the keys anvil funds), 10,000 ETH each, and at their
    /// canonical addresses the CREATE2 deployer `forge script` uses and Multicall3. The node also
    /// signs for those ten accounts (`eth_accounts`, `eth_sendTransaction`, `eth_sign`,
    /// `personal_sign`, `eth_signTypedData_v4`), as anvil and hardhat do.
    #[arg(long, conflicts_with = "genesis", help_heading = "Chain")]
    dev: bool,

    /// A geth-style genesis JSON file (config.chainId, alloc, gasLimit, baseFeePerGas, …).
    #[arg(long, value_name = "FILE", env = "SEQUENCER_GENESIS", help_heading = "Chain")]
    genesis: Option<PathBuf>,

    /// Where the database lives; restarting with the same directory resumes the chain.
    #[arg(long, value_name = "DIR", env = "SEQUENCER_DATADIR", default_value = DEFAULT_DATADIR, help_heading = "Chain")]
    datadir: PathBuf,

    /// Serve a datadir written by `derivation sync` read-only: the chain as derived from L1,
    /// followed as it grows. No blocks are produced; transactions are refused. Give the same
    /// `--dev`/`--genesis` as the sync.
    #[arg(long, env = "SEQUENCER_REPLICA", help_heading = "Chain")]
    replica: bool,

    /// How many recent blocks' states stay queryable (eth_call, eth_getBalance, eth_getProof
    /// at a block number); older blocks answer with an error.
    #[arg(long = "state.history", value_name = "BLOCKS", env = "SEQUENCER_STATE_HISTORY", default_value_t = DEFAULT_HISTORY_BLOCKS, help_heading = "Chain")]
    state_history: u64,

    /// Memory, in MiB, for decoded state-trie branches kept between blocks, so that computing
    /// a block's state root does not read them from the database again. Filled at start-up
    /// (in the background) and by every block; 0 turns it off.
    #[arg(long = "state.trie-cache", value_name = "MIB", env = "SEQUENCER_STATE_TRIE_CACHE", default_value_t = DEFAULT_TRIE_CACHE_BYTES >> 20, help_heading = "Chain")]
    state_trie_cache: usize,

    /// Address the JSON-RPC server (HTTP and WebSocket) listens on. The default exposes
    /// nothing beyond this machine; use 0.0.0.0 to serve others.
    #[arg(
        long = "http.addr",
        value_name = "IP",
        env = "SEQUENCER_HTTP_ADDR",
        default_value = "127.0.0.1",
        help_heading = "RPC"
    )]
    http_addr: IpAddr,

    /// Port of the JSON-RPC server (HTTP and WebSocket share it).
    #[arg(long = "http.port", value_name = "PORT", env = "SEQUENCER_HTTP_PORT", default_value_t = DEFAULT_HTTP_PORT, help_heading = "RPC")]
    http_port: u16,

    /// Comma-separated origins browsers may call from (CORS), or `*` for any.
    #[arg(
        long = "http.corsdomain",
        value_name = "ORIGINS",
        env = "SEQUENCER_HTTP_CORSDOMAIN",
        value_delimiter = ',',
        help_heading = "RPC"
    )]
    http_corsdomain: Vec<String>,

    /// Comma-separated namespaces served over HTTP and WebSocket: eth, net, web3, txpool,
    /// debug, personal (another name is an error). The others' methods answer "method not
    /// found". A public endpoint may want `eth,net,web3`: txpool dumps the pool's content,
    /// debug runs traces for anyone.
    #[arg(
        long = "http.api",
        value_name = "NAMESPACES",
        env = "SEQUENCER_HTTP_API",
        value_delimiter = ',',
        default_value = "eth,net,web3,txpool,debug,personal",
        help_heading = "RPC"
    )]
    http_api: Vec<Namespace>,

    /// Gas limit of eth_call, the ceiling of eth_estimateGas, and the gas all calls of one
    /// eth_simulateV1 request may use together.
    #[arg(long = "rpc.gas-cap", value_name = "GAS", env = "SEQUENCER_RPC_GAS_CAP", default_value_t = RpcConfig::default().gas_cap, help_heading = "RPC")]
    rpc_gas_cap: u64,

    /// Most calls whose cost the caller controls (eth_call, eth_estimateGas, eth_simulateV1,
    /// eth_createAccessList, eth_getLogs and log filters, eth_feeHistory, eth_getProof,
    /// debug_trace*) that run at once; the rest wait. Default: the number of CPUs.
    #[arg(long = "rpc.max-concurrent-calls", value_name = "N", env = "SEQUENCER_RPC_MAX_CONCURRENT_CALLS", default_value_t = RpcConfig::default().max_concurrent_calls, help_heading = "RPC")]
    rpc_max_concurrent_calls: usize,

    /// The longest one debug_trace* request may run, in seconds, all its transactions
    /// together (the caller's tracer "timeout", default 5s as in geth, bounds each
    /// transaction). Past it the request fails with "execution timeout". Traces share the
    /// --rpc.max-concurrent-calls permits.
    #[arg(long = "rpc.trace-timeout", value_name = "SECS", env = "SEQUENCER_RPC_TRACE_TIMEOUT", default_value_t = RpcConfig::default().trace.timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400), help_heading = "RPC")]
    rpc_trace_timeout: u64,

    /// Most steps the struct logger (debug_trace* without a named tracer) records per
    /// transaction, each with a copy of the stack; a trace that would record more fails, unless
    /// the caller's own "limit" is lower.
    #[arg(long = "rpc.trace-max-steps", value_name = "STEPS", env = "SEQUENCER_RPC_TRACE_MAX_STEPS", default_value_t = RpcConfig::default().trace.max_steps, value_parser = clap::value_parser!(u64).range(1..), help_heading = "RPC")]
    rpc_trace_max_steps: u64,

    /// How long eth_sendRawTransactionSync (and eth_sendTransactionSync) waits for the receipt
    /// when the caller names no timeout: `500ms`, `20s`, or plain seconds. Past it the call
    /// fails with code 4 and the transaction's hash (the transaction stays in the pool).
    #[arg(long = "rpc.txsync-timeout", value_name = "TIME", env = "SEQUENCER_RPC_TXSYNC_TIMEOUT", default_value = "20s", value_parser = parse_wait, help_heading = "RPC")]
    rpc_txsync_timeout: Duration,

    /// The longest wait a caller of eth_send(Raw)TransactionSync may ask for; longer requests
    /// wait this long. Same forms as --rpc.txsync-timeout, and at least that.
    #[arg(long = "rpc.txsync-max-timeout", value_name = "TIME", env = "SEQUENCER_RPC_TXSYNC_MAX_TIMEOUT", default_value = "60s", value_parser = parse_wait, help_heading = "RPC")]
    rpc_txsync_max_timeout: Duration,

    /// Most blocks one eth_getLogs request may scan.
    #[arg(long = "rpc.max-logs-range", value_name = "BLOCKS", env = "SEQUENCER_RPC_MAX_LOGS_RANGE", default_value_t = RpcConfig::default().max_logs_range, help_heading = "RPC")]
    rpc_max_logs_range: u64,

    /// Largest request body in bytes.
    #[arg(long = "rpc.max-request-bytes", value_name = "BYTES", env = "SEQUENCER_RPC_MAX_REQUEST_BYTES", default_value_t = RpcConfig::default().max_request_bytes, help_heading = "RPC")]
    rpc_max_request_bytes: u32,

    /// Most simultaneous RPC connections.
    #[arg(long = "rpc.max-connections", value_name = "N", env = "SEQUENCER_RPC_MAX_CONNECTIONS", default_value_t = RpcConfig::default().max_connections, help_heading = "RPC")]
    rpc_max_connections: u32,

    /// Most calls in one batch request.
    #[arg(long = "rpc.max-batch", value_name = "N", env = "SEQUENCER_RPC_MAX_BATCH", default_value_t = RpcConfig::default().max_batch, help_heading = "RPC")]
    rpc_max_batch: u32,

    /// Serve Prometheus metrics (blocks, transactions, gas, executor groups, conflicts,
    /// timings) on this address, e.g. `127.0.0.1:9001`.
    #[arg(long, value_name = "ADDR:PORT", env = "SEQUENCER_METRICS", help_heading = "RPC")]
    metrics: Option<std::net::SocketAddr>,

    /// Serve the admin RPC (batcher back-pressure `sequencer_setMaxBlockBytes`, L1 progress
    /// `sequencer_setL1Heads`) on this address, e.g. `127.0.0.1:9546`. Keep it private.
    #[arg(
        long = "admin.addr",
        value_name = "ADDR:PORT",
        env = "SEQUENCER_ADMIN_ADDR",
        help_heading = "RPC"
    )]
    admin_addr: Option<std::net::SocketAddr>,

    /// Time between blocks, e.g. `1s` or `250ms`; `instant` seals as soon as transactions
    /// arrive (handy for tests and demos).
    #[arg(long = "block-time", value_name = "TIME", env = "SEQUENCER_BLOCK_TIME", default_value = "1s", value_parser = parse_block_time, help_heading = "Blocks")]
    block_time: BlockTime,

    /// Receiver of priority fees; defaults to the genesis coinbase.
    #[arg(
        long = "block.fee-recipient",
        value_name = "ADDRESS",
        env = "SEQUENCER_FEE_RECIPIENT",
        help_heading = "Blocks"
    )]
    fee_recipient: Option<Address>,

    /// Extra data written into every block header (hex, at most 32 bytes).
    #[arg(
        long = "block.extra-data",
        value_name = "HEX",
        env = "SEQUENCER_EXTRA_DATA",
        default_value = "0x",
        help_heading = "Blocks"
    )]
    extra_data: Bytes,

    /// Most transactions in one block.
    #[arg(
        long = "block.max-txs",
        value_name = "N",
        env = "SEQUENCER_BLOCK_MAX_TXS",
        default_value_t = 100_000,
        help_heading = "Blocks"
    )]
    max_block_txs: usize,

    /// Block executor: `parallel` (access-set partitioning on all cores) or `sequential`.
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        env = "SEQUENCER_EXEC",
        default_value = "parallel",
        help_heading = "Blocks"
    )]
    exec: ExecArg,

    /// Most transactions the pool holds; the cheapest is evicted for a better-paying executable
    /// one.
    #[arg(long = "txpool.max-txs", value_name = "N", env = "SEQUENCER_TXPOOL_MAX_TXS", default_value_t = PoolConfig::default().max_txs, help_heading = "Txpool")]
    txpool_max_txs: usize,

    /// Most transactions of one sender in the pool.
    #[arg(long = "txpool.max-per-sender", value_name = "N", env = "SEQUENCER_TXPOOL_MAX_PER_SENDER", default_value_t = PoolConfig::default().max_per_sender, help_heading = "Txpool")]
    txpool_max_per_sender: usize,

    /// Most not-yet-executable (nonce-gapped) transactions of one sender.
    #[arg(long = "txpool.max-queued-per-sender", value_name = "N", env = "SEQUENCER_TXPOOL_MAX_QUEUED", default_value_t = PoolConfig::default().max_queued_per_sender, help_heading = "Txpool")]
    txpool_max_queued: usize,

    /// Most not-yet-executable (nonce-gapped) transactions in the pool, all senders together.
    /// A queued transaction never evicts another: when this or the pool is full it is refused.
    #[arg(long = "txpool.max-queued-total", value_name = "N", env = "SEQUENCER_TXPOOL_MAX_QUEUED_TOTAL", default_value_t = PoolConfig::default().max_queued, help_heading = "Txpool")]
    txpool_max_queued_total: usize,

    /// Seconds a queued (nonce-gapped) transaction may wait for the gap to fill before the
    /// pool drops it (geth's `--txpool.lifetime`, 3 hours).
    #[arg(long = "txpool.lifetime", value_name = "SECONDS", env = "SEQUENCER_TXPOOL_LIFETIME", default_value_t = PoolConfig::default().queued_lifetime.as_secs(), help_heading = "Txpool")]
    txpool_lifetime: u64,

    /// Fee increase (percent) a same-nonce replacement must offer.
    #[arg(long = "txpool.price-bump", value_name = "PERCENT", env = "SEQUENCER_TXPOOL_PRICE_BUMP", default_value_t = PoolConfig::default().price_bump_percent, help_heading = "Txpool")]
    txpool_price_bump: u128,

    /// Lowest max fee per gas (wei) the pool admits.
    #[arg(
        long = "txpool.min-fee",
        value_name = "WEI",
        env = "SEQUENCER_TXPOOL_MIN_FEE",
        default_value_t = 1,
        help_heading = "Txpool"
    )]
    txpool_min_fee: u128,
}

/// The executor choice on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExecArg {
    Parallel,
    Sequential,
}

/// A time on the command line: `250ms`, `2s`, or plain seconds.
fn parse_time(text: &str) -> Result<Duration, String> {
    let (number, unit_ms) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1000)
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text}: expected a time such as 250ms, 2s or 2"))
}

fn parse_block_time(text: &str) -> Result<BlockTime, String> {
    if matches!(text, "instant" | "on-demand") {
        return Ok(BlockTime::OnDemand);
    }
    let interval = parse_time(text)?;
    if interval.is_zero() {
        return Ok(BlockTime::OnDemand);
    }
    Ok(BlockTime::Interval(interval))
}

/// A wait: a [`parse_time`] that is not zero.
fn parse_wait(text: &str) -> Result<Duration, String> {
    let wait = parse_time(text)?;
    if wait.is_zero() {
        return Err(format!("{text}: must be longer than zero"));
    }
    Ok(wait)
}

impl Cli {
    /// The node configuration these flags describe.
    pub(crate) fn into_config(self) -> Result<NodeConfig, String> {
        let genesis =
            Genesis::from_flags(self.genesis.as_deref(), self.dev).map_err(|e| e.to_string())?;
        if self.rpc_txsync_timeout > self.rpc_txsync_max_timeout {
            return Err(format!(
                "--rpc.txsync-timeout ({:?}) is longer than --rpc.txsync-max-timeout ({:?})",
                self.rpc_txsync_timeout, self.rpc_txsync_max_timeout
            ));
        }
        if self.extra_data.len() > 32 {
            return Err(format!(
                "--block.extra-data is {} bytes; at most 32",
                self.extra_data.len()
            ));
        }
        Ok(NodeConfig {
            datadir: self.datadir,
            genesis,
            http_addr: self.http_addr,
            http_port: self.http_port,
            cors_domains: self.http_corsdomain,
            block_time: self.block_time,
            fee_recipient: self.fee_recipient,
            extra_data: self.extra_data,
            max_block_txs: self.max_block_txs,
            pool: PoolConfig {
                max_txs: self.txpool_max_txs,
                max_per_sender: self.txpool_max_per_sender,
                max_queued_per_sender: self.txpool_max_queued,
                price_bump_percent: self.txpool_price_bump,
                max_queued: self.txpool_max_queued_total,
                queued_lifetime: std::time::Duration::from_secs(self.txpool_lifetime),
                ..PoolConfig::default()
            },
            min_fee: self.txpool_min_fee,
            store: StoreConfig {
                history_blocks: self.state_history,
                trie_cache_bytes: self.state_trie_cache.saturating_mul(1 << 20),
                ..StoreConfig::default()
            },
            exec: match self.exec {
                ExecArg::Parallel => ExecMode::Parallel,
                ExecArg::Sequential => ExecMode::Sequential,
            },
            rpc: RpcConfig {
                max_request_bytes: self.rpc_max_request_bytes,
                max_connections: self.rpc_max_connections,
                max_batch: self.rpc_max_batch,
                max_logs_range: self.rpc_max_logs_range,
                gas_cap: self.rpc_gas_cap,
                max_concurrent_calls: self.rpc_max_concurrent_calls,
                namespaces: Namespaces::new(self.http_api),
                trace: sequencer::executor::TraceBounds {
                    timeout: Duration::from_secs(self.rpc_trace_timeout),
                    max_steps: self.rpc_trace_max_steps,
                    ..RpcConfig::default().trace
                },
                tx_sync_timeout: self.rpc_txsync_timeout,
                tx_sync_max_timeout: self.rpc_txsync_max_timeout,
                ..RpcConfig::default()
            },
            metrics_addr: self.metrics,
            admin_addr: self.admin_addr,
            replica: self.replica,
            unlocked: if self.dev && !self.replica {
                sequencer::genesis::dev_keys()
            } else {
                Vec::new()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_exist_once() {
        let cli = Cli::parse_from(["sequencer", "--dev"]);
        assert_eq!(cli.into_config().unwrap(), NodeConfig::dev(DEFAULT_DATADIR.into()));
    }

    #[test]
    fn block_time_forms() {
        assert_eq!(parse_block_time("250ms"), Ok(BlockTime::Interval(Duration::from_millis(250))));
        assert_eq!(parse_block_time("2s"), Ok(BlockTime::Interval(Duration::from_secs(2))));
        assert_eq!(parse_block_time("instant"), Ok(BlockTime::OnDemand));
        assert!(parse_block_time("soon").is_err());
        assert!(parse_block_time("99999999999999999s").is_err(), "overflow is an error");
    }

    #[test]
    fn sync_send_waits_are_positive_and_ordered() {
        assert_eq!(parse_wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_wait("3"), Ok(Duration::from_secs(3)));
        assert!(parse_wait("0s").is_err());
        let config =
            |args: &[&str]| Cli::parse_from([&["sequencer", "--dev"], args].concat()).into_config();
        let rpc = config(&["--rpc.txsync-timeout", "2s"]).unwrap().rpc;
        assert_eq!(
            (rpc.tx_sync_timeout, rpc.tx_sync_max_timeout),
            (Duration::from_secs(2), Duration::from_secs(60))
        );
        assert!(config(&["--rpc.txsync-timeout", "90s"]).is_err(), "default above the maximum");
    }

    #[test]
    fn http_api_names_the_served_namespaces() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["sequencer", "--dev"], args].concat());
        let served = |args: &[&str]| parse(args).unwrap().into_config().unwrap().rpc.namespaces;
        assert_eq!(served(&[]), Namespaces::default());
        assert_eq!(served(&["--http.api", "web3,ETH,net"]).to_string(), "eth,net,web3");
        assert!(parse(&["--http.api", "eth,admin"]).is_err());
        assert!(parse(&["--http.api", ""]).is_err());
    }

    #[test]
    fn a_chain_must_be_chosen() {
        assert!(Cli::parse_from(["sequencer"]).into_config().is_err());
    }
}
