//! Test helpers of this crate and the crates above it: a real anvil, found in the project's
//! toolchain folder (or `ANVIL_BIN`) and started on a free port with its state in a temporary
//! file, so it can be stopped and restarted on the same port and state, with its mining and
//! reorg controls; and the sequencer's workloads as batches.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::providers::{Provider, ProviderBuilder};
use alloy_primitives::{B256, Bytes};
use sequencer::test_utils::workload::{self, Workload};

use crate::batch::{Batch, BatchBlock};
pub use crate::toolchain::anvil_binary;

pub mod stack;

/// A workload's transactions as a batch of blocks of 100 transactions (numbered from 1), the
/// shape the batch-size measurements use.
pub fn workload_batch(workload: &Workload) -> Batch {
    let blocks = workload
        .txs
        .chunks(100)
        .zip(1u64..)
        .map(|(txs, number)| BatchBlock {
            number,
            timestamp: workload.env.timestamp + number,
            beneficiary: workload::BENEFICIARY,
            extra_data: Bytes::new(),
            transactions: txs.iter().map(|tx| tx.tx.inner().clone()).collect(),
        })
        .collect();
    Batch { parent_hash: B256::repeat_byte(0x11), blocks }
}

/// A running anvil.
#[derive(Debug)]
pub struct Anvil {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl Anvil {
    /// Starts anvil on a free port (chain id 31337, the test-mnemonic accounts funded).
    ///
    /// # Panics
    /// If anvil cannot be found or does not start (a test environment problem).
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts anvil with extra command-line arguments.
    ///
    /// # Panics
    /// If anvil cannot be found or does not start.
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let port = free_port();
        let mut anvil = Self {
            child: None,
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        anvil.start().await;
        anvil
    }

    async fn start(&mut self) {
        let binary = anvil_binary().unwrap_or_else(|e| panic!("{e}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("anvil.log"))
            .expect("anvil log");
        let child = Command::new(binary)
            .args(["--port", &self.port.to_string(), "--host", "127.0.0.1"])
            .arg("--state")
            .arg(self.dir.path().join("state.json"))
            .args(["--state-interval", "1"])
            .args(&self.extra)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("anvil starts");
        self.child = Some(child);
        let provider = ProviderBuilder::new().connect_http(self.url().parse().expect("url"));
        for _ in 0..200 {
            if provider.get_chain_id().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("anvil did not answer on port {}", self.port);
    }

    /// Its HTTP URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Stops it gracefully (its state is written to disk); the URL stops answering.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            for _ in 0..200 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the state it had when stopped.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    async fn call(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        let provider = ProviderBuilder::new().connect_http(self.url().parse().expect("url"));
        provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Turns automatic mining of each transaction on or off.
    pub async fn set_automine(&self, on: bool) {
        self.call("evm_setAutomine", serde_json::json!([on])).await;
    }

    /// Mines `blocks` blocks now.
    pub async fn mine(&self, blocks: u64) {
        self.call("anvil_mine", serde_json::json!([format!("{blocks:#x}")])).await;
    }

    /// Replaces the last `depth` blocks with empty ones (their transactions are dropped).
    pub async fn reorg(&self, depth: u64) {
        self.call("anvil_reorg", serde_json::json!([depth, []])).await;
    }

    /// The transactions waiting in its pool.
    pub async fn pending_count(&self) -> u64 {
        let status = self.call("txpool_status", serde_json::json!([])).await;
        let pending = status["pending"].as_str().unwrap_or("0x0").trim_start_matches("0x");
        u64::from_str_radix(pending, 16).unwrap_or(0)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A command running the `batcher` binary at `path` that sees only the flags a test gives it:
/// every `BATCHER_*` variable of the environment the tests run in is removed.
pub fn batcher_command(path: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut command = std::process::Command::new(path);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("BATCHER_") {
            command.env_remove(name);
        }
    }
    command
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
