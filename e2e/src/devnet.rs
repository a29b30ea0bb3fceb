//! The local devnet: anvil as L1 (with room for far more batch data than the demo produces),
//! the `Rollup` contract deployed for the `--dev` chain, the sequencer and the batcher in this
//! process, and `devnet.json` describing it all for scripts and tools.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{
    network::EthereumWallet,
    providers::{Provider, ProviderBuilder, RootProvider},
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{Address, B256};
use batcher::{
    BatcherConfig, BatcherHandle,
    l1::contract::{RollupParams, deploy},
    toolchain::anvil_binary,
};
use sequencer::{
    genesis::{DEV_ACCOUNTS, Genesis},
    node::{BlockTime, NodeConfig, NodeHandle},
    store::GenesisBlock,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// Index of the dev key that owns the contract on L1.
pub const OWNER_KEY: usize = 0;
/// Index of the dev key the contract accepts batches from (funded on anvil).
pub const BATCHER_KEY: usize = 1;

/// Settings of the devnet.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// Where everything is kept (L1 state, L2 datadir, batcher progress, `devnet.json`).
    pub datadir: PathBuf,
    /// L1 (anvil) port.
    pub l1_port: u16,
    /// L2 JSON-RPC port.
    pub l2_port: u16,
    /// Resume the devnet in `datadir` instead of starting fresh.
    pub keep: bool,
    /// L2 block time.
    pub block_time: BlockTime,
    /// L1 block time in seconds.
    pub l1_block_time: u64,
    /// L1 block gas limit.
    pub l1_gas_limit: u64,
}

impl DevnetConfig {
    /// The defaults of the `devnet` binary.
    pub fn new(datadir: PathBuf) -> Self {
        Self {
            datadir,
            l1_port: 8545,
            l2_port: sequencer::node::DEFAULT_HTTP_PORT,
            keep: false,
            block_time: BlockTime::Interval(Duration::from_secs(1)),
            l1_block_time: 1,
            l1_gas_limit: 300_000_000,
        }
    }
}

/// A funded development key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevKey {
    /// Its address.
    pub address: Address,
    /// Its private key.
    pub private_key: String,
}

/// The genesis the L2 runs (what `derivation` and a replica need).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisInfo {
    /// How to name it on a command line.
    pub flag: String,
    /// The genesis block hash.
    pub hash: B256,
    /// The genesis state root.
    pub state_root: B256,
}

/// Everything a script needs to use the devnet: `<datadir>/devnet.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DevnetInfo {
    /// L1 JSON-RPC.
    pub l1_rpc: String,
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 JSON-RPC (HTTP).
    pub l2_rpc: String,
    /// L2 JSON-RPC (WebSocket).
    pub l2_ws: String,
    /// L2 chain id.
    pub chain_id: u64,
    /// The `Rollup` contract on L1.
    pub rollup: Address,
    /// The L1 block the contract was deployed in: where readers of its logs start
    /// (`derivation --l1.from-block`). 0 in a `devnet.json` written before this field existed.
    #[serde(default)]
    pub rollup_l1_block: u64,
    /// The batcher's L1 address.
    pub batcher: Address,
    /// Funded keys (on L2; the same keys are funded on the L1 anvil).
    pub dev_keys: Vec<DevKey>,
    /// The L2 genesis.
    pub genesis: GenesisInfo,
    /// The devnet's directory.
    pub datadir: PathBuf,
}

impl DevnetInfo {
    /// Where it is written.
    pub fn path(datadir: &Path) -> PathBuf {
        datadir.join("devnet.json")
    }

    /// Reads it from a devnet's directory.
    ///
    /// # Errors
    /// When the file is missing or malformed.
    pub fn load(datadir: &Path) -> Result<Self, DevnetError> {
        let path = Self::path(datadir);
        let bytes = std::fs::read(&path)
            .map_err(|e| DevnetError::Io(format!("{}: {e}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| DevnetError::Io(format!("{}: {e}", path.display())))
    }
}

/// Why the devnet could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A file or directory could not be used.
    #[error("{0}")]
    Io(String),
    /// anvil is missing or did not start.
    #[error("L1 (anvil): {0}")]
    L1(String),
    /// A port the devnet needs is taken.
    #[error("{0}")]
    PortInUse(String),
    /// Deploying the contract failed.
    #[error("deploying Rollup: {0}")]
    Deploy(String),
    /// The sequencer did not start.
    #[error("sequencer: {0}")]
    Sequencer(#[from] sequencer::node::NodeError),
    /// The genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(#[from] sequencer::store::StoreError),
}

/// A running devnet.
#[derive(Debug)]
pub struct Devnet {
    anvil: Child,
    sequencer: NodeHandle,
    batcher: BatcherHandle,
    /// What it is.
    pub info: DevnetInfo,
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> DevnetError + '_ {
    move |e| DevnetError::Io(format!("{context}: {e}"))
}

/// Fails when something already listens on `port`: anvil would fail to bind while the devnet
/// went on with whatever answers there (often the anvil of a devnet that was killed), and a
/// sequencer's error would come only after L1 was set up.
fn check_port_free(port: u16, what: &str, flag: &str) -> Result<(), DevnetError> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) => Err(DevnetError::PortInUse(format!(
            "{what} port {port} is not free ({e}): is another devnet (or its anvil) still \
             running? Stop it, or choose another port with {flag}"
        ))),
    }
}

/// Starts anvil on `port` with its state in `dir`, and waits until it answers.
fn start_anvil(config: &DevnetConfig, dir: &Path) -> Result<Child, DevnetError> {
    std::fs::create_dir_all(dir).map_err(io("creating the L1 directory"))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("anvil.log"))
        .map_err(io("opening anvil.log"))?;
    let binary = anvil_binary().map_err(DevnetError::L1)?;
    // Its own process group: a Ctrl-C or hangup in the terminal reaches only the devnet, which
    // stops anvil last, with SIGTERM, so that it saves its state for --keep.
    Command::new(binary)
        .process_group(0)
        .args(["--host", "127.0.0.1", "--port", &config.l1_port.to_string()])
        .args(["--block-time", &config.l1_block_time.to_string()])
        .args(["--gas-limit", &config.l1_gas_limit.to_string()])
        .arg("--state")
        .arg(dir.join("state.json"))
        .args(["--state-interval", "5"])
        .stdout(log.try_clone().map_err(io("anvil.log"))?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| DevnetError::L1(format!("cannot start anvil: {e}")))
}

async fn wait_for_l1(l1: &RootProvider, anvil: &mut Child, port: u16) -> Result<u64, DevnetError> {
    for _ in 0..400 {
        if let Ok(chain) = l1.get_chain_id().await {
            return Ok(chain);
        }
        if let Ok(Some(status)) = anvil.try_wait() {
            return Err(DevnetError::L1(format!(
                "anvil exited ({status}); is port {port} in use? See its log in the devnet directory"
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(DevnetError::L1(format!("anvil did not answer on port {port}")))
}

impl Devnet {
    /// Starts L1, deploys (or, with `keep`, finds) the contract, and starts the sequencer and
    /// the batcher; writes `devnet.json`.
    ///
    /// # Errors
    /// When a part cannot start.
    pub async fn start(config: DevnetConfig) -> Result<Self, DevnetError> {
        if config.l1_port == config.l2_port {
            return Err(DevnetError::PortInUse(format!(
                "--l1.port and --l2.port are both {}: give them different ports",
                config.l1_port
            )));
        }
        check_port_free(config.l1_port, "the L1", "--l1.port")?;
        check_port_free(config.l2_port, "the L2", "--l2.port")?;
        let dir = &config.datadir;
        let previous = if config.keep { DevnetInfo::load(dir).ok() } else { None };
        if !config.keep && dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io("clearing the devnet directory"))?;
        }
        std::fs::create_dir_all(dir).map_err(io("creating the devnet directory"))?;

        let mut anvil = start_anvil(&config, &dir.join("l1"))?;
        let l1_rpc = format!("http://127.0.0.1:{}", config.l1_port);
        let l1: RootProvider =
            ProviderBuilder::default().connect_http(l1_rpc.parse().expect("a valid URL"));
        let l1_chain_id = match wait_for_l1(&l1, &mut anvil, config.l1_port).await {
            Ok(chain) => chain,
            Err(e) => {
                let _ = anvil.kill();
                return Err(e);
            }
        };
        info!(target: "devnet", url = %l1_rpc, chain = l1_chain_id, "L1 (anvil) up");

        let genesis = Genesis::dev();
        let genesis_block = GenesisBlock::new(&genesis)?;
        let owner: PrivateKeySigner =
            DEV_ACCOUNTS[OWNER_KEY].1.parse().expect("dev keys are valid");
        let batcher_key: PrivateKeySigner =
            DEV_ACCOUNTS[BATCHER_KEY].1.parse().expect("dev keys are valid");
        let kept = match &previous {
            Some(info) if !l1.get_code_at(info.rollup).await.unwrap_or_default().is_empty() => {
                Some((info.rollup, info.rollup_l1_block))
            }
            Some(_) => {
                warn!(target: "devnet", "the kept L1 state has no Rollup contract; deploying a new one");
                None
            }
            None => None,
        };
        let (rollup, rollup_l1_block) = match kept {
            Some(kept) => kept,
            None => {
                let deployer = ProviderBuilder::new()
                    .wallet(EthereumWallet::from(owner.clone()))
                    .connect_http(l1_rpc.parse().expect("a valid URL"));
                let deployed = deploy(
                    &deployer,
                    &RollupParams {
                        owner: owner.address(),
                        batcher: batcher_key.address(),
                        l2_chain_id: genesis.chain_id,
                        genesis_hash: genesis_block.hash,
                        genesis_state_root: genesis_block.state_root(),
                    },
                    None,
                    |_| {},
                )
                .await
                .map(|deployed| (deployed.rollup, deployed.l1_block));
                match deployed {
                    Ok(deployed) => deployed,
                    Err(e) => {
                        let _ = anvil.kill();
                        return Err(DevnetError::Deploy(e.to_string()));
                    }
                }
            }
        };
        info!(target: "devnet", %rollup, l1_block = rollup_l1_block, "Rollup contract ready");

        let mut node_config = NodeConfig::dev(dir.join("l2"));
        node_config.http_port = config.l2_port;
        node_config.block_time = config.block_time;
        node_config.admin_addr = Some("127.0.0.1:0".parse().expect("an address"));
        let sequencer = match sequencer::node::spawn(node_config).await {
            Ok(node) => node,
            Err(e) => {
                let _ = anvil.kill();
                return Err(e.into());
            }
        };
        let mut batcher_config = BatcherConfig::new(
            l1_rpc.clone(),
            sequencer.http_url(),
            rollup,
            batcher_key.clone(),
            dir.join("batcher"),
        );
        batcher_config.l2_admin = sequencer.admin_addr().map(|addr| format!("http://{addr}"));
        let batcher = batcher::spawn(batcher_config);

        let info = DevnetInfo {
            l1_rpc,
            l1_chain_id,
            l2_rpc: sequencer.http_url(),
            l2_ws: sequencer.ws_url(),
            chain_id: genesis.chain_id,
            rollup,
            rollup_l1_block,
            batcher: batcher_key.address(),
            dev_keys: DEV_ACCOUNTS
                .iter()
                .map(|(address, key)| DevKey { address: *address, private_key: (*key).to_string() })
                .collect(),
            genesis: GenesisInfo {
                flag: "--dev".into(),
                hash: genesis_block.hash,
                state_root: genesis_block.state_root(),
            },
            datadir: dir.clone(),
        };
        let json = serde_json::to_vec_pretty(&info).map_err(|e| DevnetError::Io(e.to_string()))?;
        std::fs::write(DevnetInfo::path(dir), json).map_err(io("writing devnet.json"))?;
        Ok(Self { anvil, sequencer, batcher, info })
    }

    /// Whether the batcher stopped on its own (a fatal error).
    pub fn batcher_failed(&self) -> bool {
        self.batcher.is_finished()
    }

    /// Stops the batcher, the sequencer and anvil (which writes its state), in that order.
    pub async fn stop(mut self) {
        if let Err(e) = self.batcher.stop().await {
            warn!(target: "devnet", error = %e, "the batcher had stopped with an error");
        }
        self.sequencer.stop().await;
        let _ = Command::new("kill").args(["-TERM", &self.anvil.id().to_string()]).status();
        for _ in 0..200 {
            if self.anvil.try_wait().ok().flatten().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = self.anvil.kill();
        let _ = self.anvil.wait();
    }
}
