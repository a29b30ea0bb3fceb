//! The whole stack as real processes: anvil as L1 with the `Rollup` contract, the `sequencer`
//! and `batcher` binaries on free ports with their own datadirs, and the `derivation` binary
//! for checks, with typed clients and crash controls (SIGKILL and restart).

use std::{
    ffi::OsString,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use alloy::providers::{Provider, ProviderBuilder, RootProvider};
use alloy_primitives::Address;
use batcher::{
    l1::Rollup,
    test_utils::{Anvil, batcher_command, free_port, stack},
};
use e2e::processes::{Process, binary};
use sequencer::{genesis::Genesis, store::GenesisBlock, test_utils::dev_signer};

/// The dev key that owns the contract.
const OWNER: usize = 0;
/// The dev key the contract accepts batches from.
pub(crate) const BATCHER: usize = 1;

pub(crate) struct Cluster {
    pub(crate) anvil: Anvil,
    pub(crate) rollup: Address,
    pub(crate) sequencer: Process,
    pub(crate) batcher: Process,
    pub(crate) l2_url: String,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

impl Cluster {
    /// anvil (automining), the contract, a sequencer sealing every 200 ms and a batcher.
    pub(crate) async fn start() -> Self {
        let anvil = Anvil::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        // Deployed as an operator deploys it: `batcher deploy`, which computes the genesis.
        let deploy = batcher_command(binary("batcher").unwrap_or_else(|e| panic!("{e}")))
            .args(["deploy", "--dev", "--json", "--l1.rpc-url", &anvil.url()])
            .args(["--deployer.key", sequencer::genesis::DEV_ACCOUNTS[OWNER].1])
            .args(["--batcher.address", &dev_signer(BATCHER).address().to_string()])
            .output()
            .unwrap();
        assert!(deploy.status.success(), "{}", String::from_utf8_lossy(&deploy.stderr));
        let deployed: serde_json::Value = serde_json::from_slice(&deploy.stdout).unwrap();
        let rollup: Address = deployed["rollup"].as_str().unwrap().parse().unwrap();
        let genesis = GenesisBlock::new(&Genesis::dev()).unwrap();
        assert_eq!(deployed["genesis_hash"], genesis.hash.to_string());

        let (l2_port, admin_port) = (free_port(), free_port());
        let l2_url = format!("http://127.0.0.1:{l2_port}");
        let datadir = dir.path().join("l2");
        let sequencer = Process::start(
            "sequencer",
            binary("sequencer").unwrap_or_else(|e| panic!("{e}")),
            vec![
                "--dev".into(),
                "--datadir".into(),
                datadir.into_os_string(),
                "--http.port".into(),
                l2_port.to_string().into(),
                "--admin.addr".into(),
                format!("127.0.0.1:{admin_port}").into(),
                "--block-time".into(),
                "200ms".into(),
            ],
            dir.path().join("sequencer.log"),
        )
        .unwrap();
        let batcher = Process::start(
            "batcher",
            binary("batcher").unwrap_or_else(|e| panic!("{e}")),
            vec![
                "--l1.rpc-url".into(),
                anvil.url().into(),
                "--rollup".into(),
                rollup.to_string().into(),
                "--batcher.key".into(),
                sequencer::genesis::DEV_ACCOUNTS[BATCHER].1.into(),
                "--l2.rpc-url".into(),
                l2_url.clone().into(),
                "--l2.admin-url".into(),
                format!("http://127.0.0.1:{admin_port}").into(),
                "--datadir".into(),
                dir.path().join("batcher").into_os_string(),
                "--batch.max-age".into(),
                "300".into(),
                "--poll-interval".into(),
                "50".into(),
                "--l1.resubmit-after".into(),
                "3".into(),
            ],
            dir.path().join("batcher.log"),
        )
        .unwrap();
        let cluster = Self { anvil, rollup, sequencer, batcher, l2_url, dir };
        cluster.wait_l2().await;
        cluster
    }

    /// An L2 client.
    pub(crate) fn l2(&self) -> RootProvider {
        ProviderBuilder::default().connect_http(self.l2_url.parse().unwrap())
    }

    /// An L1 client.
    pub(crate) fn l1(&self) -> RootProvider {
        ProviderBuilder::default().connect_http(self.anvil.url().parse().unwrap())
    }

    /// Waits until the sequencer answers (after a start or restart).
    pub(crate) async fn wait_l2(&self) {
        let l2 = self.l2();
        let started = Instant::now();
        while l2.get_block_number().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sequencer did not come up:\n{}",
                self.sequencer.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the contract committed `l2_block`.
    pub(crate) async fn wait_committed(&self, l2_block: u64, timeout: Duration) {
        wait_committed(&self.l1(), self.rollup, l2_block, timeout, &self.batcher).await;
    }

    /// Runs the derivation binary against this cluster's L1; returns the exit code and output.
    pub(crate) fn derivation(&self, args: &[&str]) -> (i32, String) {
        derivation(&self.anvil.url(), self.rollup, args)
    }

    /// A directory inside the cluster's.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Transactions the batcher key sent that reverted on L1.
    pub(crate) async fn batcher_reverts(&self) -> usize {
        stack::batcher_reverts(&self.l1()).await
    }

    /// The contract's block hash and state root at every batch boundary equal the sequencer's.
    pub(crate) async fn assert_contract_matches_sequencer(&self) {
        let contract = Rollup::new(self.rollup, self.l1());
        let count: u64 = contract.batchCount().call().await.unwrap().try_into().unwrap();
        assert!(count > 0, "no batch landed");
        let l2 = self.l2();
        for index in 0..count {
            let batch =
                contract.getBatch(alloy_primitives::U256::from(index)).call().await.unwrap();
            let block =
                l2.get_block_by_number(batch.lastBlock.into()).await.unwrap().expect("sealed");
            assert_eq!(batch.blockHash, block.header.hash, "batch {index} block hash");
            assert_eq!(batch.stateRoot, block.header.state_root, "batch {index} state root");
        }
    }
}

/// Waits until the `Rollup` at `rollup` on `l1` has committed `l2_block`; past `timeout`,
/// fails with the tail of `poster`'s log (the process that posts batches).
pub(crate) async fn wait_committed(
    l1: &RootProvider,
    rollup: Address,
    l2_block: u64,
    timeout: Duration,
    poster: &Process,
) {
    let contract = Rollup::new(rollup, l1);
    let started = Instant::now();
    while contract.latestBlock().call().await.unwrap() < l2_block {
        assert!(
            started.elapsed() < timeout,
            "block {l2_block} not committed within {timeout:?}; {} log:\n{}",
            poster.name(),
            poster.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the derivation binary against the `Rollup` at `rollup` on the L1 at `l1_url`; returns
/// the exit code and output.
pub(crate) fn derivation(l1_url: &str, rollup: Address, args: &[&str]) -> (i32, String) {
    let output = Command::new(binary("derivation").unwrap_or_else(|e| panic!("{e}")))
        .args(["--l1.rpc-url", l1_url, "--rollup", &rollup.to_string()])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!text.contains("panicked"), "derivation {args:?} panicked:\n{text}");
    (output.status.code().unwrap_or(-1), text)
}

/// Polls `check` until it holds, or fails after `timeout` with `what`.
pub(crate) async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
