//! viem and ethers, the two libraries most dapps and wallets are built on, work against the node
//! unchanged: each runs a script (`tests/fixtures/js-clients/`) that does what a dapp does —
//! reads the chain, sends every transaction type, deploys and calls a contract, decodes events
//! and reverts, maps rejections to its own error codes, watches over WebSocket, and lets the
//! node sign. The scripts print one line per step; a failure names the step.
//!
//! The libraries are installed with the L1 toolchain (`scripts/setup-tools.sh`, pinned
//! versions) into `.tools/npm`; `node` must be on PATH, as the README assumes.

use std::{path::PathBuf, process::Stdio, time::Duration};

use sequencer::{
    genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID},
    node::{BlockTime, NodeConfig},
};

use crate::node::TestNode;

/// The folder the scripts load their packages from (viem, ethers, solc).
fn node_modules() -> PathBuf {
    let path = crate::tools_dir().join("npm/node_modules");
    for package in ["viem", "ethers", "solc"] {
        assert!(
            path.join(package).join("package.json").exists(),
            "{package} not found in {}: run `bash scripts/setup-tools.sh` first",
            path.display()
        );
    }
    path
}

/// Runs `script` with node against a fresh `--dev` node sealing every 100 ms; panics with the
/// script's output unless every step passed.
async fn run_script(script: &str) {
    let node = TestNode::start_with(|config: &mut NodeConfig| {
        config.block_time = BlockTime::Interval(Duration::from_millis(100));
    })
    .await;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/js-clients");
    // One account signs locally, another through the node: their nonces never race.
    let (_, key) = DEV_ACCOUNTS[5];
    let (unlocked, _) = DEV_ACCOUNTS[6];
    // Output goes to files, so a script killed at the time limit still shows its last step.
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = tokio::process::Command::new("node")
        .arg(fixtures.join(script))
        .current_dir(&fixtures)
        .env("NODE_PATH", node_modules())
        .env("RPC_URL", node.handle.http_url())
        .env("WS_URL", node.handle.ws_url())
        .env("CHAIN_ID", DEV_CHAIN_ID.to_string())
        .env("DEV_KEY", key)
        .env("UNLOCKED_ACCOUNT", unlocked.to_string())
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("node runs (Node.js must be on PATH): {e}"));
    let status = tokio::time::timeout(Duration::from_secs(180), child.wait()).await;
    let (stdout, stderr) = (
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    );
    let Ok(status) = status else {
        panic!("{script} did not finish within 180 s:\n{stdout}\n{stderr}");
    };
    let status = status.unwrap();
    assert!(
        status.success() && stdout.contains("steps passed"),
        "{script} failed ({status}):\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn viem_dapp_session() {
    run_script("viem.cjs").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ethers_dapp_session() {
    run_script("ethers.cjs").await;
}
