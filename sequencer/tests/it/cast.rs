//! Foundry's `cast` works against the node unchanged, `cast send --sync` included.

use std::{path::PathBuf, process::Command};

use sequencer::{
    genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID},
    node::NodeConfig,
};

use crate::node::TestNode;

/// `cast` from the project's toolchain folder (or `CAST_BIN`).
fn cast_bin() -> PathBuf {
    if let Ok(path) = std::env::var("CAST_BIN") {
        return path.into();
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/cast");
    assert!(
        path.exists(),
        "cast not found at {}: run `bash scripts/setup-tools.sh` first",
        path.display()
    );
    path
}

async fn cast(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || Command::new(cast_bin()).args(&args).output())
        .await
        .unwrap()
        .expect("cast runs");
    assert!(output.status.success(), "cast failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn cast_chain_id_balance_send_receipt() {
    let node = TestNode::start_with(|_: &mut NodeConfig| {}).await;
    let url = node.handle.http_url();
    let rpc = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--rpc-url".to_string(), url.clone()]);
        all
    };
    assert_eq!(cast(rpc(&["chain-id"])).await, DEV_CHAIN_ID.to_string());
    let (from, key) = DEV_ACCOUNTS[8];
    assert_eq!(cast(rpc(&["balance", &from.to_string()])).await, "10000000000000000000000");

    let to = "0x000000000000000000000000000000000000bEEF";
    let sent = cast(rpc(&["send", "--private-key", key, to, "--value", "1ether", "--json"])).await;
    let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1");
    let hash = receipt["transactionHash"].as_str().unwrap().to_string();
    assert_eq!(cast(rpc(&["balance", to])).await, "1000000000000000000");
    let status = cast(rpc(&["receipt", &hash, "status"])).await;
    assert!(matches!(status.as_str(), "true" | "1" | "1 (success)"), "{status}");

    // `cast send --sync`: one eth_sendRawTransactionSync call instead of send-then-poll.
    let sent =
        cast(rpc(&["send", "--sync", "--private-key", key, to, "--value", "1ether", "--json"]))
            .await;
    let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(cast(rpc(&["balance", to])).await, "2000000000000000000");

    // `cast send --unlocked`: eth_sendTransaction, the node signing for a dev account.
    let (unlocked, _) = DEV_ACCOUNTS[7];
    let sent = cast(rpc(&[
        "send",
        "--unlocked",
        "--from",
        &unlocked.to_string(),
        to,
        "--value",
        "1ether",
        "--json",
    ]))
    .await;
    let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["from"], unlocked.to_string().to_lowercase());
    assert_eq!(cast(rpc(&["balance", to])).await, "3000000000000000000");
    node.handle.stop().await;
}
