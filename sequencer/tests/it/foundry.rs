//! Foundry's `cast` and `forge script` work against the node unchanged: `cast send --sync` and
//! `--unlocked`, and a script that deploys with CREATE and CREATE2 and calls what it deployed.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use sequencer::{
    genesis::{DEV_ACCOUNTS, DEV_CHAIN_ID},
    node::NodeConfig,
};

use crate::node::TestNode;

/// A tool from the project's toolchain folder (`cast`, `forge`, `solc`), or the path in
/// `<TOOL>_BIN`.
fn tool_bin(name: &str) -> PathBuf {
    if let Ok(path) = std::env::var(format!("{}_BIN", name.to_ascii_uppercase())) {
        return path.into();
    }
    let path = crate::tools_dir().join("bin").join(name);
    assert!(
        path.exists(),
        "{name} not found at {}: run `bash scripts/setup-tools.sh` first",
        path.display()
    );
    path
}

/// Runs a tool in `dir` with extra environment variables; returns its trimmed stdout.
async fn run_tool(
    name: &str,
    dir: Option<&Path>,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> String {
    let (bin, dir) = (tool_bin(name), dir.map(Path::to_path_buf));
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(bin);
        command.args(&args).envs(env);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command.output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{name} runs: {e}"));
    assert!(
        output.status.success(),
        "{name} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

async fn cast(args: Vec<String>) -> String {
    run_tool("cast", None, args, Vec::new()).await
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

    // `cast send --unlocked`: eth_sendTransaction, the node signing for a dev account; with
    // `--sync`, eth_sendTransactionSync, the receipt in the same call.
    let (unlocked, _) = DEV_ACCOUNTS[7];
    let from = unlocked.to_string();
    for sync in [&[][..], &["--sync"]] {
        let args =
            [&["send", "--unlocked", "--from", &from], sync, &[to, "--value", "1ether", "--json"]];
        let sent = cast(rpc(&args.concat())).await;
        let receipt: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(receipt["status"], "0x1", "{sync:?}");
        assert_eq!(receipt["from"], from.to_lowercase(), "{sync:?}");
    }
    assert_eq!(cast(rpc(&["balance", to])).await, "4000000000000000000");
    node.handle.stop().await;
}

/// `forge script --broadcast` of `tests/fixtures/forge-script`: a CREATE, a call, a CREATE2
/// through the deterministic deployer and a call to it, signed by forge with a key, then by the
/// node for a dev account (`--unlocked --sender`).
#[tokio::test(flavor = "multi_thread")]
async fn forge_script_deploys_and_calls_with_create_and_create2() {
    let node = TestNode::start_with(|_: &mut NodeConfig| {}).await;
    let url = node.handle.http_url();
    let project = tempfile::tempdir().unwrap();
    copy_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forge-script"),
        project.path(),
    );
    let solc = tool_bin("solc").to_string_lossy().into_owned();

    let (key_account, key) = DEV_ACCOUNTS[6];
    let (unlocked_account, _) = DEV_ACCOUNTS[5];
    let unlocked_sender = unlocked_account.to_string();
    let runs = [
        (key_account, "1", vec!["--private-key", key]),
        (unlocked_account, "2", vec!["--unlocked", "--sender", &unlocked_sender]),
    ];
    for (sender, salt, signing) in runs {
        let mut args = vec!["script", "script/Deploy.s.sol", "--rpc-url", &url, "--broadcast"];
        args.extend(signing.iter().copied());
        let env = vec![
            ("FOUNDRY_SOLC".to_string(), solc.clone()),
            ("SALT".to_string(), salt.to_string()),
        ];
        let args = args.into_iter().map(String::from).collect();
        run_tool("forge", Some(project.path()), args, env).await;

        // forge's own record of the run: four transactions, each with a successful receipt.
        let record =
            project.path().join(format!("broadcast/Deploy.s.sol/{DEV_CHAIN_ID}/run-latest.json"));
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
        let txs = record["transactions"].as_array().unwrap();
        let kinds: Vec<&str> =
            txs.iter().map(|tx| tx["transactionType"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["CREATE", "CALL", "CREATE2", "CALL"], "{record:#}");
        let receipts = record["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 4, "{record:#}");
        for receipt in receipts {
            assert_eq!(receipt["status"], "0x1", "{receipt:#}");
            assert_eq!(receipt["from"], sender.to_string().to_lowercase());
        }

        // The node's state: both contracts hold what the calls wrote.
        let expected = ["hello from forge script", "salted and greeted"];
        for (tx, greeting) in [&txs[0], &txs[2]].into_iter().zip(expected) {
            let address = tx["contractAddress"].as_str().unwrap().to_string();
            let read = cast(vec![
                "call".into(),
                address,
                "greeting()(string)".into(),
                "--rpc-url".into(),
                url.clone(),
            ])
            .await;
            assert_eq!(read.trim_matches('"'), greeting);
        }
    }
    node.handle.stop().await;
}

/// Copies a directory tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
